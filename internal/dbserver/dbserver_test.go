package dbserver

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Each kind of server keeps a committed row across a crash and a start, and refuses connections
// while it is down.
func TestCrashAndStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts database servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Run("postgres", func(t *testing.T) {
		s := Postgres(t, Options{MaxConnections: 10})
		exec := func(stmt string) (int, error) {
			conn, err := pgx.Connect(ctx, s.DSN("postgres"))
			if err != nil {
				return 0, err
			}
			defer conn.Close(ctx)
			var n int
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return 0, err
			}
			err = conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
			return n, err
		}
		crashAndStart(t, s, exec, "CREATE TABLE t (k int PRIMARY KEY); INSERT INTO t VALUES (1)")
	})
	t.Run("mariadb", func(t *testing.T) {
		s := MariaDB(t, Options{MaxConnections: 10})
		exec := func(stmt string) (int, error) {
			db, err := sql.Open("mysql", s.DSN("")+"?multiStatements=true")
			if err != nil {
				return 0, err
			}
			defer db.Close()
			var n int
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return 0, err
			}
			err = db.QueryRowContext(ctx, "SELECT count(*) FROM d.t").Scan(&n)
			return n, err
		}
		crashAndStart(t, s, exec, "CREATE DATABASE d; CREATE TABLE d.t (k int PRIMARY KEY); INSERT INTO d.t VALUES (1)")
	})
}

func crashAndStart(t *testing.T, s *Server, exec func(string) (int, error), setup string) {
	if n, err := exec(setup); err != nil || n != 1 {
		t.Fatalf("setup: %d rows, %v", n, err)
	}
	s.Crash()
	if s.Running() {
		t.Fatal("running after Crash")
	}
	if _, err := exec("SELECT 1"); err == nil {
		t.Fatal("the crashed server answered")
	}
	s.Start()
	if n, err := exec("SELECT 1"); err != nil || n != 1 {
		t.Fatalf("after the crash: %d rows, %v", n, err)
	}
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// TestConnectTimeout: a server that accepts TCP and never answers fails Open within
// OpenOptions.ConnectTimeout, and gives the gate's slot back.
func TestConnectTimeout(t *testing.T) {
	gate := dialect.NewConnGate(4)
	start := time.Now()
	_, err := Dialect{}.Open(context.Background(), "postgres://mirror:secret@"+testenv.BlackHole(t)+"/crm_Cust1?sslmode=disable",
		dialect.OpenOptions{Tenant: "Cust1", ConnectTimeout: 200 * time.Millisecond, Gate: gate})
	if !errors.Is(err, dialect.ErrConnectTimeout) || time.Since(start) > 3*time.Second {
		t.Fatalf("Open against a server that never answers: %v after %v, want ErrConnectTimeout after 200ms", err, time.Since(start))
	}
	if st := gate.Stats(); st.Open != 0 {
		t.Fatalf("gate %+v after a failed Open", st)
	}
}

func TestServer(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://mirror:secret@db.example.com:5433/crm_Cust1?sslmode=require": "postgres://db.example.com:5433",
		"postgres://other@db.example.com/crm":                                    "postgres://db.example.com:5432",
		"host=/var/run/postgresql dbname=crm user=mirror":                        "postgres:///var/run/postgresql:5432",
		"postgres://mirror@a.example.com,b.example.com:5433/crm":                 "postgres://a.example.com:5432,b.example.com:5433",
	} {
		got, err := Dialect{}.Server(dsn)
		if err != nil || got != want {
			t.Errorf("Server(%q) = %q, %v; want %q", dsn, got, err, want)
		}
	}
}

// TestMissingErrors: the SQLSTATEs by which PostgreSQL says that the mirror's database, schema or a
// table does not exist are dialect.ErrMissing, and no other is.
func TestMissingErrors(t *testing.T) {
	for code, missing := range map[string]bool{"3D000": true, "3F000": true, "42P01": true, "23505": false, "42703": false} {
		err := markMissing(fmt.Errorf("postgres: %w", &pgconn.PgError{Code: code}))
		if errors.Is(err, dialect.ErrMissing) != missing {
			t.Errorf("SQLSTATE %s: ErrMissing is %v, want %v", code, errors.Is(err, dialect.ErrMissing), missing)
		}
	}
}

// TestLiveIdleConnectionsReaped: a pool's idle connections close after OpenOptions.IdleTimeout on a
// timer, with nothing else happening in the pool.
func TestLiveIdleConnectionsReaped(t *testing.T) {
	gate := dialect.NewConnGate(10)
	st, err := Dialect{}.Open(context.Background(), testenv.Postgres(t), dialect.OpenOptions{Tenant: "idle", IdleTimeout: 200 * time.Millisecond, Gate: gate})
	must(t, err)
	defer st.Close()
	tx1, tx2 := begin(t, st), begin(t, st)
	must(t, tx1.Rollback(context.Background()))
	must(t, tx2.Rollback(context.Background()))
	if open := gate.Stats().Open; open != 2 {
		t.Fatalf("%d connections open after two transactions, want 2 idle", open)
	}
	deadline := time.Now().Add(3 * time.Second)
	for gate.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections still open well after the idle timeout", gate.Stats().Open)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The pool connects again when needed.
	must(t, begin(t, st).Rollback(context.Background()))
}

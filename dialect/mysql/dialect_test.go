package mysql

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// TestConnectTimeout: a server that accepts TCP and never answers fails Open within
// OpenOptions.ConnectTimeout (the driver's own timeout bounds only the dial), and gives the gate's
// slot back.
func TestConnectTimeout(t *testing.T) {
	gate := dialect.NewConnGate(4)
	start := time.Now()
	_, err := Dialect{}.Open(context.Background(), "mirror:secret@tcp("+testenv.BlackHole(t)+")/crm_Cust1",
		dialect.OpenOptions{Tenant: "Cust1", ConnectTimeout: 200 * time.Millisecond, Gate: gate})
	if !errors.Is(err, dialect.ErrConnectTimeout) || time.Since(start) > 3*time.Second {
		t.Fatalf("Open against a server that never answers: %v after %v, want ErrConnectTimeout after 200ms", err, time.Since(start))
	}
	deadline := time.Now().Add(3 * time.Second)
	for gate.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("gate %+v: the cut connection kept its slot", gate.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServer(t *testing.T) {
	for dsn, want := range map[string]string{
		"mirror:secret@tcp(db.example.com:3306)/crm_Cust1": "mysql://tcp(db.example.com:3306)",
		"other@tcp(db.example.com)/crm":                    "mysql://tcp(db.example.com:3306)",
		"mirror@unix(/run/mysqld/mysqld.sock)/crm":         "mysql://unix(/run/mysqld/mysqld.sock)",
	} {
		got, err := Dialect{}.Server(dsn)
		if err != nil || got != want {
			t.Errorf("Server(%q) = %q, %v; want %q", dsn, got, err, want)
		}
	}
}

// TestMissingErrors: the errors by which MySQL says that the mirror's database or a table does not
// exist are dialect.ErrMissing, and no other error is.
func TestMissingErrors(t *testing.T) {
	for number, missing := range map[uint16]bool{1049: true, 1146: true, 1062: false, 1054: false} {
		err := mapError(fmt.Errorf("mysql: %w", &mysql.MySQLError{Number: number, Message: "x"}))
		if errors.Is(err, dialect.ErrMissing) != missing {
			t.Errorf("error %d: ErrMissing is %v, want %v", number, errors.Is(err, dialect.ErrMissing), missing)
		}
	}
}

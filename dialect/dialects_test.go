package dialect_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	_ "github.com/mirrorsink/mirrorsink/dialect/mysql"
	_ "github.com/mirrorsink/mirrorsink/dialect/postgres"
	_ "github.com/mirrorsink/mirrorsink/dialect/sqlite"
	_ "github.com/mirrorsink/mirrorsink/dialect/sqlserver"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// TestConnectTimeout: against a server that accepts TCP and never answers, every dialect with a
// server fails Open within OpenOptions.ConnectTimeout, and gives the gate's slot back. (The drivers'
// own timeouts bound only the dial: go-sql-driver's "timeout", go-mssqldb's "dial timeout".)
func TestConnectTimeout(t *testing.T) {
	for name, dsn := range map[string]string{
		"postgres":  "postgres://mirror:secret@%s/crm_Cust1?sslmode=disable",
		"mysql":     "mirror:secret@tcp(%s)/crm_Cust1",
		"sqlserver": "sqlserver://sa:secret@%s?database=crm_Cust1",
	} {
		t.Run(name, func(t *testing.T) {
			d, err := dialect.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			gate := dialect.NewConnGate(4)
			start := time.Now()
			_, err = d.Open(context.Background(), strings.Replace(dsn, "%s", testenv.BlackHole(t), 1),
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
		})
	}
}

// TestServer: two DSNs of the same server give the same name, whatever their database and login;
// SQLite has no server.
func TestServer(t *testing.T) {
	for _, c := range []struct{ dialect, dsn, want string }{
		{"postgres", "postgres://mirror:secret@db.example.com:5433/crm_Cust1?sslmode=require", "postgres://db.example.com:5433"},
		{"postgres", "postgres://other@db.example.com:5433/crm", "postgres://db.example.com:5433"},
		{"postgres", "postgres://other@db.example.com/crm", "postgres://db.example.com:5432"},
		{"postgres", "host=/var/run/postgresql dbname=crm user=mirror", "postgres:///var/run/postgresql:5432"},
		{"postgres", "postgres://mirror@a.example.com,b.example.com:5433/crm", "postgres://a.example.com:5432,b.example.com:5433"},
		{"mysql", "mirror:secret@tcp(db.example.com:3306)/crm_Cust1", "mysql://tcp(db.example.com:3306)"},
		{"mysql", "other@tcp(db.example.com)/crm", "mysql://tcp(db.example.com:3306)"},
		{"mysql", "mirror@unix(/run/mysqld/mysqld.sock)/crm", "mysql://unix(/run/mysqld/mysqld.sock)"},
		{"sqlserver", "sqlserver://sa:secret@db.example.com:1433?database=crm_Cust1", "sqlserver://db.example.com:1433"},
		{"sqlserver", "sqlserver://other:x@db.example.com?database=other", "sqlserver://db.example.com:1433"},
		{"sqlserver", "sqlserver://sa:secret@db.example.com/SQL2019?database=crm", `sqlserver://db.example.com\SQL2019`},
		{"sqlserver", "sqlserver://sa:secret@db.example.com:1500/SQL2019", "sqlserver://db.example.com:1500"},
		{"sqlite", "/var/lib/mirrorsink/Cust1.db", ""},
	} {
		d, err := dialect.Lookup(c.dialect)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := d.Server(c.dsn); err != nil || got != c.want {
			t.Errorf("%s: Server(%q) = %q, %v; want %q", c.dialect, c.dsn, got, err, c.want)
		}
	}
}

// TestTarget: Target names the server, as Server does, and the database or file, for an operator's
// messages; never the user, the password or the DSN's options, in any of the DSN forms.
func TestTarget(t *testing.T) {
	for _, c := range []struct{ dialect, dsn, want string }{
		{"postgres", "postgres://mirror:s3cret@db.example.com:5433/crm_Cust1?sslmode=require&password=s3cret", "postgres://db.example.com:5433/crm_Cust1"},
		{"postgres", "host=db.example.com user=mirror password=s3cret dbname=crm_Cust1", "postgres://db.example.com:5432/crm_Cust1"},
		{"mysql", "mirror:s3cret@tcp(db.example.com:3306)/crm_Cust1?tls=skip-verify", "mysql://tcp(db.example.com:3306)/crm_Cust1"},
		{"sqlserver", "sqlserver://sa:s3cret@db.example.com:1433?database=crm_Cust1", "sqlserver://db.example.com:1433/crm_Cust1"},
		{"sqlserver", "server=db.example.com;user id=sa;password=s3cret;database=crm_Cust1", "sqlserver://db.example.com:1433/crm_Cust1"},
		{"sqlserver", "sqlserver://sa:s3cret@db.example.com/SQL2019", `sqlserver://db.example.com\SQL2019`},
		{"sqlite", "/var/lib/mirrorsink/Cust1.db?_pragma=cache_size(-1)", "/var/lib/mirrorsink/Cust1.db"},
		{"sqlite", "file:/var/lib/mirrorsink/Cust%201.db?vfs=unix", "/var/lib/mirrorsink/Cust 1.db"},
		{"sqlite", ":memory:", ":memory:"},
	} {
		d, err := dialect.Lookup(c.dialect)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Target(c.dsn)
		if err != nil || got != c.want || strings.Contains(got, "s3cret") {
			t.Errorf("%s: Target(%q) = %q, %v; want %q", c.dialect, c.dsn, got, err, c.want)
		}
	}
}

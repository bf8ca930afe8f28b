package sqlserver

import (
	"context"
	"errors"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// TestConnectTimeout: a server that accepts TCP and never answers fails Open within
// OpenOptions.ConnectTimeout. go-mssqldb bounds only the dial by itself, so the login would otherwise
// wait as long as the caller.
func TestConnectTimeout(t *testing.T) {
	hole := testenv.BlackHole(t)
	gate := dialect.NewConnGate(4)
	start := time.Now()
	_, err := Dialect{}.Open(context.Background(), "sqlserver://sa:secret@"+hole+"?database=crm_Cust1",
		dialect.OpenOptions{Tenant: "Cust1", ConnectTimeout: 200 * time.Millisecond, Gate: gate})
	if !errors.Is(err, dialect.ErrConnectTimeout) || time.Since(start) > 3*time.Second {
		t.Fatalf("Open against a server that never answers: %v after %v, want ErrConnectTimeout after 200ms", err, time.Since(start))
	}
	deadline := time.Now().Add(3 * time.Second)
	for gate.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("gate %+v: the cut login kept its slot", gate.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServer(t *testing.T) {
	for dsn, want := range map[string]string{
		"sqlserver://sa:secret@db.example.com:1433?database=crm_Cust1": "sqlserver://db.example.com:1433",
		"sqlserver://sa:secret@db.example.com?database=other":          "sqlserver://db.example.com:1433",
		"sqlserver://sa:secret@db.example.com/SQL2019?database=crm":    `sqlserver://db.example.com\SQL2019`,
		"sqlserver://sa:secret@db.example.com:1500/SQL2019":            "sqlserver://db.example.com:1500",
	} {
		got, err := Dialect{}.Server(dsn)
		if err != nil || got != want {
			t.Errorf("Server(%q) = %q, %v; want %q", dsn, got, err, want)
		}
	}
}

// TestMissingErrors: the errors by which SQL Server says that the mirror's database, schema or a table
// does not exist are dialect.ErrMissing, and no other error is.
func TestMissingErrors(t *testing.T) {
	for number, missing := range map[int32]bool{4060: true, 911: true, 208: true, 2760: true, 2627: false, 1205: false} {
		err := mapError(mssql.Error{Number: number, Message: "x"})
		if errors.Is(err, dialect.ErrMissing) != missing {
			t.Errorf("error %d: ErrMissing is %v, want %v", number, errors.Is(err, dialect.ErrMissing), missing)
		}
	}
}

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

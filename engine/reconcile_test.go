package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
)

// failingAlter is the SQLite dialect with one fault injected: Tables().Alter makes part of its change
// (it creates a table) and then fails and dooms its transaction, as SQL Server does after some errors:
// a later Commit fails and rolls back.
type failingAlter struct{ dialect.Dialect }

func (failingAlter) Name() string { return "sqlite-failing-alter" }

func (d failingAlter) Open(ctx context.Context, dsn string, opts dialect.OpenOptions) (dialect.Store, error) {
	st, err := d.Dialect.Open(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	return failingStore{st}, nil
}

type failingStore struct{ dialect.Store }

func (s failingStore) Begin(ctx context.Context) (dialect.Tx, error) {
	tx, err := s.Store.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &failingTx{Tx: tx}, nil
}

type failingTx struct {
	dialect.Tx
	doomed bool
}

func (t *failingTx) Tables() dialect.TableEditor { return failingEditor{t.Tx.Tables(), t} }

func (t *failingTx) Commit(ctx context.Context, d dialect.Durability) error {
	if t.doomed {
		_ = t.Tx.Rollback(ctx)
		return errors.New("the transaction was doomed by an earlier error and has been rolled back")
	}
	return t.Tx.Commit(ctx, d)
}

type failingEditor struct {
	dialect.TableEditor
	tx *failingTx
}

func (e failingEditor) Alter(ctx context.Context, _ dialect.Table, _ []dialect.Change) ([]dialect.LostObject, error) {
	if err := e.tx.RunStatement(ctx, "CREATE TABLE half_done (x int)"); err != nil {
		return nil, err
	}
	e.tx.doomed = true
	return nil, errors.New("the server refused the change")
}

func init() {
	d, err := dialect.Lookup("sqlite")
	if err != nil {
		panic(err)
	}
	dialect.Register(failingAlter{d})
}

// TestFailedAlterRollsBackBeforeTheRecreate: when an in-place change fails, nothing of its transaction
// is committed (not the part of the change the database made, and not a commit of a transaction the
// server doomed, which would fail every cycle); the table is recreated in a transaction of its own
// and answers -1.
func TestFailedAlterRollsBackBeforeTheRecreate(t *testing.T) {
	e, dir := newEngine(t, func(o *engine.Options) { o.Default.Dialect = "sqlite-failing-alter" })
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust1"}
	if _, err := e.TableSchema(ctx, call, []contract.TableSchema{table("contact")}); err != nil {
		t.Fatal(err)
	}
	loadOne(t, e, call, table("contact"), 500)
	widened := table("contact")
	widened.Columns[1].Type = "nvarchar(20)"
	lsns, err := e.TableSchema(ctx, call, []contract.TableSchema{widened})
	if err != nil {
		t.Fatalf("a change that fails in place: %v, want the table recreated", err)
	}
	if len(lsns) != 1 || lsns[0].LSN != -1 {
		t.Fatalf("a recreated table answered %v, want -1", lsns)
	}
	if got := lsnsOf(t, e, "Cust1"); got["contact"] != -1 {
		t.Fatalf("the metadata after the recreate: %v, want contact at -1", got)
	}
	// What the failed change did in its transaction was rolled back with it.
	if exists, err := mirrorTx(t, dir, "Cust1").Tables().Exists(ctx, "half_done"); err != nil || exists {
		t.Fatalf("the part of the failed change was committed (exists %v, err %v)", exists, err)
	}
}

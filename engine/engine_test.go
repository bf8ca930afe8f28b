package engine_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	_ "github.com/mirrorsink/mirrorsink/dialect/sqlite"
	"github.com/mirrorsink/mirrorsink/engine"
)

// These tests use the embedded SQLite dialect; the engine suite (engine/enginetest, run by e2e) runs the
// engine against every dialect.

func newEngine(t testing.TB, mutate func(*engine.Options)) (*engine.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	opts := engine.Options{
		Default: &engine.Route{Dialect: "sqlite", DSN: filepath.Join(dir, "{ctx}.db")},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&opts)
	}
	e, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, dir
}

// mirrorTx opens a transaction on a tenant's SQLite mirror in dir, outside the engine, to look at it;
// it is rolled back when the test ends.
func mirrorTx(t *testing.T, dir, tenant string) dialect.Tx {
	t.Helper()
	ctx := context.Background()
	d, err := dialect.Lookup("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	store, err := d.Open(ctx, filepath.Join(dir, tenant+".db"), dialect.OpenOptions{Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tx, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(ctx) })
	return tx
}

func TestOptionsValidated(t *testing.T) {
	for _, opts := range []engine.Options{
		{Tenants: map[string]engine.Route{"bad;name": {Dialect: "sqlite", DSN: "x"}}},
		{Tenants: map[string]engine.Route{"Cust1": {Dialect: "oracle", DSN: "x"}}},
		{Default: &engine.Route{Dialect: "sqlite"}},
	} {
		if _, err := engine.New(opts); err == nil {
			t.Errorf("%+v accepted", opts)
		}
	}
}

func TestRoutingAndPause(t *testing.T) {
	e, _ := newEngine(t, func(o *engine.Options) {
		o.Tenants = map[string]engine.Route{"Paused1": {Dialect: "sqlite", DSN: o.Default.DSN, Paused: true}}
		o.Default = nil
	})
	ctx := context.Background()
	res, err := e.Authenticate(ctx, contract.Call{Tenant: "Paused1"})
	if err != nil || !res.DoNotReplicate {
		t.Fatalf("a paused tenant: %+v, %v", res, err)
	}
	if _, err := e.Authenticate(ctx, contract.Call{Tenant: "Stranger"}); !errors.Is(err, contract.ErrUnknownTenant) {
		t.Fatalf("an unrouted tenant: %v", err)
	}
	if _, err := e.Authenticate(ctx, contract.Call{Tenant: "x;drop"}); !errors.Is(err, contract.ErrUnknownTenant) {
		t.Fatalf("a malformed tenant: %v", err)
	}
}

// rows is a minimal contract.Rows for one batch.
type rows struct {
	data [][]string
	ops  []contract.Operation
	i    int
	cur  contract.Row
}

func (r *rows) Next() bool {
	if r.i >= len(r.data) {
		return false
	}
	r.cur = contract.Row{Op: r.ops[r.i]}
	for _, v := range r.data[r.i] {
		r.cur.Values = append(r.cur.Values, contract.Value{Text: []byte(v)})
	}
	r.i++
	return true
}
func (r *rows) Row() contract.Row { return r.cur }
func (r *rows) Err() error        { return nil }
func (r *rows) Reset() error      { r.i = 0; return nil }
func (r *rows) Len() int          { return len(r.data) }
func (r *rows) Counts() (i, u, d int) {
	for _, op := range r.ops {
		switch op {
		case contract.Insert:
			i++
		case contract.Update:
			u++
		default:
			d++
		}
	}
	return
}

type batches []*contract.Batch

func (b *batches) Next(context.Context) (*contract.Batch, error) {
	if len(*b) == 0 {
		return nil, io.EOF
	}
	next := (*b)[0]
	*b = (*b)[1:]
	return next, nil
}

func TestKeyOverrideAndHooks(t *testing.T) {
	e, dir := newEngine(t, func(o *engine.Options) {
		o.Keys = map[string][]string{"link": {"b", "a"}}
		o.Hooks = engine.Hooks{
			AfterWipe:  []engine.Hook{{Statements: []string{"CREATE TABLE IF NOT EXISTS wiped (name TEXT)", "INSERT INTO wiped SELECT 'x' FROM {table} LIMIT 0"}}},
			AfterCycle: []engine.Hook{{Statements: []string{"CREATE TABLE IF NOT EXISTS cycles_seen (n INTEGER)", "INSERT INTO cycles_seen VALUES (1)", "THIS IS NOT SQL"}}},
		}
	})
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust1"}
	link := contract.TableSchema{Name: "link", Columns: []contract.Column{
		{Name: "a", Type: "int"}, {Name: "b", Type: "int"}, {Name: "note", Type: "nvarchar(10)", IsNullable: true},
	}}
	if _, err := e.TableSchema(ctx, call, []contract.TableSchema{link}); err != nil {
		t.Fatal(err)
	}
	if err := e.Wipe(ctx, call, "link"); err != nil {
		t.Fatal(err)
	}
	load := &batches{{Table: link, LSN: 5, Rows: &rows{
		data: [][]string{{"[I:1]", "[I:1]", "x"}, {"[I:1]", "[I:2]", "y"}, {"[I:2]", "[I:1]", "z"}},
		ops:  []contract.Operation{contract.Insert, contract.Insert, contract.Insert},
	}}}
	if err := e.RowData(ctx, call, load); err != nil {
		t.Fatalf("rows that differ in one key column are distinct under a composite key: %v", err)
	}
	// A delete carrying only the key: the key columns in key order (b, a).
	del := &batches{{Table: link, LSN: 6, Rows: &rows{data: [][]string{{"[I:2]", "[I:1]"}}, ops: []contract.Operation{contract.Delete}}}}
	if err := e.RowData(ctx, call, del); err != nil {
		t.Fatal(err)
	}
	st, err := e.Status(ctx, "Cust1")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tables) != 1 || st.Tables[0].Rows != 2 || st.Tables[0].LSN != 6 {
		t.Fatalf("status %+v", st.Tables)
	}
	// A failing hook does not fail the call; the statements before it in its transaction roll back.
	if err := e.ReplicationCompleted(ctx, call, nil); err != nil {
		t.Fatalf("a failing hook failed the call: %v", err)
	}
	tx := mirrorTx(t, dir, "Cust1")
	if ok, _ := tx.Tables().Exists(ctx, "wiped"); !ok {
		t.Error("the after-wipe hook did not run")
	}
	if ok, _ := tx.Tables().Exists(ctx, "cycles_seen"); ok {
		t.Error("a failed after-cycle hook was partly committed")
	}
}

func TestBadRequests(t *testing.T) {
	e, _ := newEngine(t, nil)
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust1"}
	ok := contract.TableSchema{Name: "t", Columns: []contract.Column{{Name: "id", Type: "int"}}}
	for _, tc := range []struct {
		tables []contract.TableSchema
		want   string
	}{
		{[]contract.TableSchema{ok, ok}, "appears twice"},
		{[]contract.TableSchema{{Name: "Cust1_mirroring", Columns: ok.Columns}}, "metadata"},
		{[]contract.TableSchema{{Name: "u", Columns: []contract.Column{{Name: "id", Type: "varchar2(5)"}}}}, `"id"`},
	} {
		if _, err := e.TableSchema(ctx, call, tc.tables); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want it to say %q", tc.tables, err, tc.want)
		}
	}
	unknown := &batches{{Table: ok, LSN: 1, Rows: &rows{data: [][]string{{"[I:1]"}}, ops: []contract.Operation{contract.Insert}}}}
	if err := e.RowData(ctx, call, unknown); err == nil || !strings.Contains(err.Error(), "TableSchema must come first") {
		t.Fatalf("RowData for an unknown table: %v", err)
	}
}

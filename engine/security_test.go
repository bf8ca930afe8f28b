package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// TestPausedTenantIsNotWritten: Authenticate asks SuperOffice to skip the cycle, and a caller that
// goes on anyway gets every writing call refused, with nothing written.
func TestPausedTenantIsNotWritten(t *testing.T) {
	e, dir := newEngine(t, func(o *engine.Options) {
		o.Tenants = map[string]engine.Route{"Paused1": {Dialect: "sqlite", DSN: o.Default.DSN, Paused: true}}
	})
	ctx := context.Background()
	call := contract.Call{Tenant: "Paused1"}
	tbl := contract.TableSchema{Name: "contact", Columns: []contract.Column{{Name: "id", Type: "int"}}}
	one := &batches{{Table: tbl, LSN: 5, Rows: &rows{data: [][]string{{"[I:1]"}}, ops: []contract.Operation{contract.Insert}}}}
	for name, call := range map[string]func() error{
		"TableSchema":          func() error { _, err := e.TableSchema(ctx, call, []contract.TableSchema{tbl}); return err },
		"Wipe":                 func() error { return e.Wipe(ctx, call, "contact") },
		"RowData":              func() error { return e.RowData(ctx, call, one) },
		"ReplicationCompleted": func() error { return e.ReplicationCompleted(ctx, call, nil) },
	} {
		err := call()
		if !errors.Is(err, engine.ErrPaused) || !strings.Contains(err.Error(), "paused") {
			t.Errorf("%s for a paused tenant: %v, want a refusal that says the tenant is paused", name, err)
		}
	}
	// Not even the mirror's file was created.
	if matches, _ := filepath.Glob(filepath.Join(dir, "Paused1.db*")); len(matches) != 0 {
		t.Fatalf("a paused tenant's mirror was created: %v", matches)
	}
}

// TestHookLiteralPlaceholder: {table} is an identifier and {table_literal} a string literal, so that a
// crafted table name cannot inject SQL into a hook that puts the name in a value.
func TestHookLiteralPlaceholder(t *testing.T) {
	hostile := `x'); DROP TABLE "victim"; --`
	e, dir := newEngine(t, func(o *engine.Options) {
		o.Hooks = engine.Hooks{AfterWipe: []engine.Hook{{Statements: []string{
			"CREATE TABLE IF NOT EXISTS wiped (name TEXT, n INTEGER)",
			"INSERT INTO wiped (name, n) SELECT {table_literal}, COUNT(*) FROM {table}",
		}}}}
	})
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust1"}
	tables := []contract.TableSchema{
		{Name: hostile, Columns: []contract.Column{{Name: "id", Type: "int"}}},
		{Name: "victim", Columns: []contract.Column{{Name: "id", Type: "int"}}},
	}
	if _, err := e.TableSchema(ctx, call, tables); err != nil {
		t.Fatal(err)
	}
	if err := e.Wipe(ctx, call, hostile); err != nil {
		t.Fatal(err)
	}
	tx := mirrorTx(t, dir, "Cust1")
	if ok, _ := tx.Tables().Exists(ctx, "victim"); !ok {
		t.Fatal("the hook's table name was injected: victim was dropped")
	}
	var got []string
	err := tx.Tables().Read(ctx, dialect.Table{Name: "wiped", Columns: []typemap.Column{{Name: "name", Type: typemap.Type{Kind: typemap.NVarChar, Length: typemap.Max}, Nullable: true}}}, func(v []any) error {
		got = append(got, v[0].(string))
		return nil
	})
	if err != nil || len(got) != 1 || got[0] != hostile {
		t.Fatalf("the hook recorded %q (err %v), want the table's name as a value", got, err)
	}
}

// TestNamesAreCheckedBeforeStateIsKept: a Wipe with a huge table name is refused as a name the mirror
// cannot hold, and leaves no per-name lock behind.
func TestNamesAreCheckedBeforeStateIsKept(t *testing.T) {
	e, _ := newEngine(t, nil)
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust1"}
	if _, err := e.TableSchema(ctx, call, []contract.TableSchema{{Name: "t", Columns: []contract.Column{{Name: "id", Type: "int"}}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		name := strings.Repeat(string(rune('a'+i%26)), 120<<10)
		err := e.Wipe(ctx, call, name)
		if !errors.Is(err, dialect.ErrBadName) {
			t.Fatalf("Wipe of a 120 KB name: %v, want ErrBadName", err)
		}
		if len(err.Error()) > 400 {
			t.Fatalf("the refusal repeats the huge name: %d bytes", len(err.Error()))
		}
	}
	// Names the mirror can hold, but that it does not know, do not stay either.
	for i := range 50 {
		if err := e.Wipe(ctx, call, strings.Repeat("n", 10+i)); err == nil {
			t.Fatal("Wipe of an unknown table succeeded")
		}
	}
	if n := e.LockedNames(); n != 0 {
		t.Fatalf("%d per-name locks kept after the calls ended", n)
	}
}

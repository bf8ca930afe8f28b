package engine_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
)

// These tests throw parts of a SQLite mirror away while the engine has it open; e2e does the same to
// every dialect through the real service.

// dropTable drops a table of the tenant's SQLite mirror through a Store of its own, as an operator would.
func dropTable(t *testing.T, dir, tenant, table string) {
	t.Helper()
	ctx := context.Background()
	d, _ := dialect.Lookup("sqlite")
	store, err := d.Open(ctx, filepath.Join(dir, tenant+".db"), dialect.OpenOptions{Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tx, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Tables().Drop(ctx, table); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx, dialect.Durable); err != nil {
		t.Fatal(err)
	}
}

// schemaLSNs runs TableSchema for the tables and returns their answers.
func schemaLSNs(t *testing.T, e *engine.Engine, call contract.Call, tables ...contract.TableSchema) map[string]int64 {
	t.Helper()
	lsns, err := e.TableSchema(context.Background(), call, tables)
	if err != nil {
		t.Fatalf("TableSchema: %v", err)
	}
	out := map[string]int64{}
	for _, l := range lsns {
		out[l.Table] = l.LSN
	}
	return out
}

// TestMirrorThrownAway: a mirror thrown away while the engine has it open is rebuilt on the next call,
// and TableSchema answers -1 for what was lost; before, the open mirror was cached with its state and
// every later call failed (or, on SQLite, went on writing into the deleted file).
func TestMirrorThrownAway(t *testing.T) {
	call := contract.Call{Tenant: "Cust1"}
	for name, throwAway := range map[string]func(t *testing.T, dir string){
		"one mirrored table": func(t *testing.T, dir string) { dropTable(t, dir, "Cust1", "contact") },
		"the metadata table": func(t *testing.T, dir string) { dropTable(t, dir, "Cust1", "Cust1_mirroring") },
		// Its -wal and -shm files stay: SQLite would replay them into the new file.
		"the database file": func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "Cust1.db")); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			e, dir := newEngine(t, nil)
			schemaLSNs(t, e, call, table("contact"), table("person"))
			loadOne(t, e, call, table("contact"), 500)
			loadOne(t, e, call, table("person"), 600)
			throwAway(t, dir)
			got := schemaLSNs(t, e, call, table("contact"), table("person"))
			if got["contact"] != -1 {
				t.Fatalf("after throwing away %s: contact answers %d, want -1", name, got["contact"])
			}
			if name == "one mirrored table" && got["person"] != 600 {
				t.Fatalf("person lost nothing but answers %d, want 600", got["person"])
			}
			// The rebuilt mirror takes a repopulation and keeps it.
			loadOne(t, e, call, table("contact"), 700)
			if got := lsnsOf(t, e, "Cust1"); got["contact"] != 700 {
				t.Fatalf("after the repopulation: %v", got)
			}
			if w := e.Metrics().SchemaWork(); name != "one mirrored table" && w.Created+w.Recreated < 4 {
				t.Errorf("schema work %+v: the lost tables were not created again", w)
			}
		})
	}
}

// TestMirrorFileReplaced: a SQLite mirror restored from an older copy (the file replaced while open)
// answers the copy's LSNs; the open connection would otherwise have gone on with the replaced file.
func TestMirrorFileReplaced(t *testing.T) {
	e, dir := newEngine(t, nil)
	call := contract.Call{Tenant: "Cust1"}
	schemaLSNs(t, e, call, table("contact"))
	loadOne(t, e, call, table("contact"), 500)
	// A self-contained copy, as `sqlite3 Cust1.db ".backup backup.db"` makes.
	backup := filepath.Join(dir, "backup.db")
	db, err := sql.Open("sqlite", filepath.Join(dir, "Cust1.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("VACUUM INTO ?", backup); err != nil {
		t.Fatal(err)
	}
	db.Close()
	loadOne(t, e, call, table("contact"), 900)
	if err := os.Rename(backup, filepath.Join(dir, "Cust1.db")); err != nil {
		t.Fatal(err)
	}
	if got := schemaLSNs(t, e, call, table("contact")); got["contact"] != 500 {
		t.Fatalf("the restored mirror answers %v, want its own LSN 500", got)
	}
}

// TestIdleTenantClosed: a tenant without calls is closed after IdleTenantTimeout, and opened again by
// its next call; before, tenants were never closed.
func TestIdleTenantClosed(t *testing.T) {
	e, _ := newEngine(t, func(o *engine.Options) { o.IdleTenantTimeout = 50 * time.Millisecond })
	call := contract.Call{Tenant: "Cust1"}
	schemaLSNs(t, e, call, table("contact"))
	deadline := time.Now().Add(5 * time.Second)
	for e.OpenTenants() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d tenants still open a while after the idle timeout", e.OpenTenants())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := schemaLSNs(t, e, call, table("contact")); got["contact"] != -1 {
		t.Fatalf("after reopening: %v", got)
	}
	var b strings.Builder
	if err := e.Metrics().WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mirrorsink_tenants_closed_idle_total 1\n", "mirrorsink_tenants_open 1\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}

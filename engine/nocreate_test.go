package engine_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/engine"
)

// TestLooksCreateNoMirror: Status, Failures, Summary, Resync and Resume of a tenant without a mirror
// (a mistyped name) fail with ErrNoMirror, naming the tenant and where its mirror would be, and
// create nothing: no file, no folder, and no open mirror kept in the engine. Before, each of them
// opened the mirror as a writing call does, which created an empty database with mirrorsink's tables.
func TestLooksCreateNoMirror(t *testing.T) {
	e, dir := newEngine(t, func(o *engine.Options) {
		o.Default.DSN = filepath.Join(filepath.Dir(o.Default.DSN), "mirrors", "{ctx}.db")
	})
	ctx := context.Background()
	want := `tenant "typo" has no mirror at ` + filepath.Join(dir, "mirrors", "typo.db")
	nothingLeft := func(look string) {
		t.Helper()
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
			t.Fatalf("%s of a tenant without a mirror left %v behind (%v)", look, entries, err)
		}
		if n := e.OpenTenants(); n != 0 {
			t.Fatalf("%s of a tenant without a mirror keeps %d mirrors open", look, n)
		}
	}
	for name, look := range map[string]func() error{
		"Status":   func() error { _, err := e.Status(ctx, "typo"); return err },
		"Failures": func() error { _, err := e.Failures(ctx, "typo", 10); return err },
		"Resync":   func() error { _, err := e.Resync(ctx, "typo", ""); return err },
		"Resume":   func() error { _, err := e.Resume(ctx, "typo"); return err },
	} {
		if err := look(); !errors.Is(err, engine.ErrNoMirror) || err.Error() != want {
			t.Errorf("%s of a tenant without a mirror: %v, want ErrNoMirror saying %q", name, err, want)
		}
		nothingLeft(name)
	}
	if s := e.Summary(ctx, "typo"); s.NoMirror != want || s.Unavailable != "" {
		t.Errorf("Summary of a tenant without a mirror: %+v, want NoMirror %q", s, want)
	}
	nothingLeft("Summary")

	// A writing call creates the mirror as before, and the looks then read it.
	call := contract.Call{Tenant: "typo"}
	schemaLSNs(t, e, call, table("contact"))
	if st, err := e.Status(ctx, "typo"); err != nil || len(st.Tables) != 1 {
		t.Fatalf("status of the mirror a call created: %+v, %v", st, err)
	}
}

// TestLookFindsNoMirrorInAForeignDatabase: a database that exists without mirrorsink's own tables (made
// for something else, or whose tables were dropped) mirrors no tenant: a look says so and leaves it as
// it was, where migrating would have created mirrorsink's tables in it.
func TestLookFindsNoMirrorInAForeignDatabase(t *testing.T) {
	e, dir := newEngine(t, nil)
	path := filepath.Join(dir, "Other.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE notes (id INTEGER)"); err != nil {
		t.Fatal(err)
	}
	_, err = e.Status(context.Background(), "Other")
	if want := `tenant "Other" has no mirror at ` + path + ` (mirrorsink's own tables are not there)`; !errors.Is(err, engine.ErrNoMirror) || err.Error() != want {
		t.Fatalf("status of a database without mirrorsink's tables: %v, want %q", err, want)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the database holds %d tables after the look (%v), want its own 1", n, err)
	}
}

// TestPauseBeforeTheFirstCycle: pause creates the mirror of a tenant that has none yet, as the docs
// promise (an operator may pause a new tenant before its first cycle); resume and status then read it.
func TestPauseBeforeTheFirstCycle(t *testing.T) {
	e, dir := newEngine(t, nil)
	ctx := context.Background()
	if err := e.Pause(ctx, "Fresh", "ops", "not yet"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Fresh.db")); err != nil {
		t.Fatalf("pause did not create the mirror that holds it: %v", err)
	}
	if res, err := e.Authenticate(ctx, contract.Call{Tenant: "Fresh"}); err != nil || !res.DoNotReplicate {
		t.Fatalf("Authenticate of the paused new tenant: %+v, %v", res, err)
	}
	if st, err := e.Status(ctx, "Fresh"); err != nil || st.Paused == nil || st.Paused.By != "ops" {
		t.Fatalf("status of the paused new tenant: %+v, %v", st, err)
	}
	if had, err := e.Resume(ctx, "Fresh"); err != nil || !had {
		t.Fatalf("resume: %v, %v", had, err)
	}
}

package sqlite

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// TestFileDeletedOrReplaced: a Store notices at Begin that its file was deleted or replaced, instead
// of going on with the old one; a new Store of the path opens the new file, without the old file's
// -wal, which SQLite would replay into it.
func TestFileDeletedOrReplaced(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "m.db")
	st, err := Dialect{}.Open(ctx, path, dialect.OpenOptions{Tenant: "t"})
	must(t, err)
	tx := begin(t, st.(*Store))
	_, err = exec(tx, ctx, `CREATE TABLE "old" (id INTEGER)`)
	must(t, err)
	must(t, tx.Commit(ctx, dialect.Durable))
	must(t, os.Remove(path))
	if _, err := st.Begin(ctx); !errors.Is(err, dialect.ErrMissing) {
		t.Fatalf("Begin on a deleted file: %v, want ErrMissing", err)
	}
	must(t, st.Close())
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Fatalf("the deleted file's -wal is still there: %v", err)
	}
	again, err := Dialect{}.Open(ctx, path, dialect.OpenOptions{Tenant: "t"})
	must(t, err)
	defer again.Close()
	tx = begin(t, again.(*Store))
	defer tx.Rollback(ctx)
	if ok, err := tx.Tables().Exists(ctx, "old"); ok || err != nil {
		t.Fatalf("the new file has the old file's table: %v, %v", ok, err)
	}
	if _, err := tx.Tables().Count(ctx, "old"); !errors.Is(err, dialect.ErrMissing) {
		t.Fatalf("counting a table that does not exist: %v, want ErrMissing", err)
	}
}

// TestNoCreateWithAwkwardPaths: an Open with NoCreate opens a file that exists, and refuses one that
// does not without creating it, also where the path holds what a "file:" URI must escape (?, #, %,
// spaces): mode=rw is honoured only in a URI, which the plain path becomes. A plain path's "?" starts
// its parameters, so it is not tried there.
func TestNoCreateWithAwkwardPaths(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"plain.db", "with space & more.db", "hash#percent%20.db", "ümlaut.db"} {
		for _, uri := range []bool{false, true} {
			dir := filepath.Join(t.TempDir(), "a b")
			dsn := filepath.Join(dir, name)
			if uri {
				dir = filepath.Join(t.TempDir(), "a?b c")
				dsn = (&url.URL{Scheme: "file", Path: filepath.Join(dir, name)}).String()
			}
			opts := dialect.OpenOptions{Tenant: "t", NoCreate: true}
			if _, err := (Dialect{}).Open(ctx, dsn, opts); !errors.Is(err, dialect.ErrMissing) {
				t.Fatalf("%s: Open with NoCreate of a missing file: %v, want ErrMissing", dsn, err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("%s: Open with NoCreate created the folder: %v", dsn, err)
			}
			st, err := Dialect{}.Open(ctx, dsn, dialect.OpenOptions{Tenant: "t"})
			must(t, err)
			must(t, st.Close())
			if st, err = (Dialect{}).Open(ctx, dsn, opts); err != nil {
				t.Fatalf("%s: Open with NoCreate of the file that exists: %v", dsn, err)
			}
			tx := begin(t, st.(*Store))
			_, err = exec(tx, ctx, `CREATE TABLE "x" (id INTEGER)`)
			must(t, err)
			must(t, tx.Commit(ctx, dialect.Durable))
			must(t, st.Close())
			entries, err := os.ReadDir(dir)
			must(t, err)
			for _, e := range entries {
				if !strings.HasPrefix(e.Name(), name) {
					t.Errorf("%s: a file of another name beside the mirror: %s", dsn, e.Name())
				}
			}
		}
	}
}

package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

package conformance

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// testNoCreate: an Open with NoCreate of a mirror that does not exist fails with ErrMissing and
// leaves nothing behind (no database, schema, file or folder), every time it is tried; once the
// mirror exists, it opens it as usual and reads mirrorsink's own tables. It is what a read-only look
// (mirrorsink status) relies on not to create a mirror for a mistyped tenant on a shared server.
func testNoCreate(t *testing.T, h *harness) {
	if h.tgt.Exists == nil {
		t.Fatal("the target has no Exists: the suite cannot check that an Open with NoCreate creates nothing")
	}
	open := func(tenant, dsn, schema string, noCreate bool) (dialect.Store, error) {
		return h.d.Open(h.ctx, dsn, dialect.OpenOptions{Tenant: tenant, Schema: schema, NoCreate: noCreate,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}

	// The harness's mirror exists, its own tables migrated.
	st, err := open(h.tenant, h.dsn, h.schema, true)
	if err != nil {
		t.Fatalf("Open with NoCreate of a mirror that exists: %v", err)
	}
	readMeta(t, h, st)
	st.Close()

	tenant := h.tenant + "n"
	dsn, schema := h.tgt.Mirror(t, tenant)
	if h.tgt.Exists(t, dsn, schema) {
		t.Fatal("the fresh mirror exists before anything opened it")
	}
	for try := range 2 {
		st, err := open(tenant, dsn, schema, true)
		if err == nil {
			st.Close()
		}
		if !errors.Is(err, dialect.ErrMissing) {
			t.Fatalf("Open with NoCreate of a mirror that does not exist (try %d): %v, want ErrMissing", try+1, err)
		}
		if h.tgt.Exists(t, dsn, schema) {
			t.Fatalf("Open with NoCreate created the mirror's database, schema or file (try %d)", try+1)
		}
	}

	// Created by an ordinary Open, it opens with NoCreate.
	st, err = open(tenant, dsn, schema, false)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if !h.tgt.Exists(t, dsn, schema) {
		t.Fatal("Exists does not see the mirror that an ordinary Open created")
	}
	if st, err = open(tenant, dsn, schema, true); err != nil {
		t.Fatalf("Open with NoCreate of a mirror that an ordinary Open created: %v", err)
	}
	st.Close()
}

// readMeta reads the metadata of a mirror opened outside the harness, in a transaction rolled back.
func readMeta(t *testing.T, h *harness, st dialect.Store) {
	t.Helper()
	tx, err := st.Begin(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(h.ctx)
	if _, err := tx.Meta().Tables(h.ctx); err != nil {
		t.Fatalf("read the metadata of the mirror opened with NoCreate: %v", err)
	}
}

package conformance

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
)

// testFanIn checks the fan-in contract (dialect/fanin.go) with two tenants' Stores on one mirror: a
// table created through one has the tenant column first; each tenant's Insert, Upsert, Delete,
// Truncate, Count and Read touch its own rows only, with keys that the other tenant has too; a tenant
// with fewer columns leaves the others NULL; the shared metadata tables are each tenant's own through
// Meta, and Shared sees across them. A dialect without the capability must refuse the option.
func testFanIn(t *testing.T, h *harness) {
	if !h.caps.FanIn {
		if st, err := h.openFanIn(h.tenant + "a"); err == nil {
			st.Close()
			t.Fatal("a dialect without the FanIn capability opened a mirror with a tenant column")
		}
		return
	}
	stores, do := h.fanInStores(t, 2)
	// The engine creates a shared table without defaults (dialect/fanin.go).
	cols := simple()
	for i := range cols {
		cols[i].DefaultValue = ""
	}
	full := h.table("shared", append(cols, contract.Column{Name: "extra", Type: "int", IsNullable: true}))
	narrow := h.table("shared", cols)
	do(0, func(tx dialect.Tx) error { return tx.Tables().Create(h.ctx, full) })

	a := h.values(full, nil, append(simpleRow(1, "a1"), Str("[I:7]")), append(simpleRow(2, "a2"), Str("[I:8]")))
	b := h.values(narrow, nil, simpleRow(1, "b1"), simpleRow(3, "b3"))
	do(0, func(tx dialect.Tx) error { _, err := tx.Rows().Insert(h.ctx, full, newSource(a)); return err })
	do(1, func(tx dialect.Tx) error { _, err := tx.Rows().Insert(h.ctx, narrow, newSource(b)); return err })
	read := func(i int, tbl dialect.Table) [][]string {
		var out [][]string
		do(i, func(tx dialect.Tx) error {
			var err error
			out, err = ReadCanonical(h.ctx, tx, tbl, h.caps.Losses())
			return err
		})
		return out
	}
	check := func(i int, tbl dialect.Table, want [][]any) {
		t.Helper()
		got, exp := read(i, tbl), h.canonRows(tbl, want)
		if strings.Join(flatten(got), "|") != strings.Join(flatten(exp), "|") {
			t.Fatalf("tenant %d reads %v, want %v", i, Abbreviate(got), Abbreviate(exp))
		}
	}
	check(0, full, a)
	check(1, narrow, b)
	// B's rows read through the full definition: the column B lacks is NULL.
	bFull := [][]any{append(append([]any{}, b[0]...), nil), append(append([]any{}, b[1]...), nil)}
	check(1, full, bFull)

	// Upsert and delete by keys both tenants have.
	upd := h.values(narrow, nil, simpleRow(1, "b1 again"), simpleRow(4, "b4"))
	do(1, func(tx dialect.Tx) error {
		if _, err := tx.Rows().Upsert(h.ctx, narrow, newSource(upd)); err != nil {
			return err
		}
		_, err := tx.Rows().Delete(h.ctx, narrow, newSource(keys(narrow, b[1:])))
		return err
	})
	check(1, narrow, upd)
	check(0, full, a)
	var n [2]int64
	for i := range stores {
		do(i, func(tx dialect.Tx) error {
			var err error
			n[i], err = tx.Tables().Count(h.ctx, "shared")
			return err
		})
	}
	if n != [2]int64{2, 2} {
		t.Fatalf("each tenant counts %v rows, want 2 each", n)
	}
	// A's wipe leaves B's rows.
	do(0, func(tx dialect.Tx) error { return tx.Tables().Truncate(h.ctx, full) })
	check(0, full, nil)
	check(1, narrow, upd)

	// Metadata: each tenant's own rows and cycles; Shared sees both, and the definition.
	now := time.Date(2026, 5, 18, 10, 40, 43, 0, time.UTC)
	do(0, func(tx dialect.Tx) error {
		if err := tx.Meta().PutTable(h.ctx, dialect.TableMeta{Table: "shared", LSN: 5, SchemaHash: strings.Repeat("a", 64), SchemaJSON: "{}", SchemaChanged: now}); err != nil {
			return err
		}
		if err := tx.Meta().PutShared(h.ctx, dialect.TableMeta{Table: "shared", LSN: -1, SchemaHash: strings.Repeat("c", 64), SchemaJSON: "{}", SchemaChanged: now}); err != nil {
			return err
		}
		return tx.Meta().RecordCycle(h.ctx, dialect.Cycle{ID: 42, Completed: now, Summary: "[]"})
	})
	do(1, func(tx dialect.Tx) error {
		if err := tx.Meta().PutTable(h.ctx, dialect.TableMeta{Table: "shared", LSN: 9, SchemaHash: strings.Repeat("b", 64), SchemaJSON: "{}", SchemaChanged: now,
			StoredIn: "shared@b", Conflict: "a reason"}); err != nil {
			return err
		}
		// The same cycle id as A's: cycles are keyed by tenant.
		return tx.Meta().RecordCycle(h.ctx, dialect.Cycle{ID: 42, Completed: now, Inserts: 3, Summary: "[]"})
	})
	do(0, func(tx dialect.Tx) error {
		mine, err := tx.Meta().Tables(h.ctx)
		if err != nil {
			return err
		}
		if len(mine) != 1 || mine["shared"].LSN != 5 {
			return errors.New("tenant A's metadata rows are not its own")
		}
		if _, err := tx.Meta().ResetLSN(h.ctx, ""); err != nil {
			return err
		}
		sh, err := tx.Meta().Shared(h.ctx, "shared")
		if err != nil {
			return err
		}
		if sh.Mine == nil || sh.Mine.SchemaHash != strings.Repeat("a", 64) || sh.Definition == nil ||
			sh.Definition.SchemaHash != strings.Repeat("c", 64) || len(sh.Others) != 1 ||
			sh.Others[0].StoredIn != "shared@b" || sh.Others[0].SchemaJSON != "{}" || sh.Others[0].Tenants != 1 {
			return fmt.Errorf("Shared does not see the tenant's row, the other tenant's schema and the definition: %+v", sh)
		}
		c, ok, err := tx.Meta().LastCycle(h.ctx)
		if err != nil || !ok || c.Inserts != 0 {
			return errors.New("tenant A's last cycle is not its own")
		}
		return nil
	})
	do(1, func(tx dialect.Tx) error {
		m, ok, err := tx.Meta().Table(h.ctx, "shared")
		if err != nil || !ok || m.LSN != 9 {
			return errors.New("tenant A's ResetLSN reached tenant B's row")
		}
		// DeleteShared takes the definition and the rows of the tenants whose rows are in the table,
		// not B's, whose rows are elsewhere.
		if err := tx.Meta().DeleteShared(h.ctx, "shared"); err != nil {
			return err
		}
		sh, err := tx.Meta().Shared(h.ctx, "shared")
		if err != nil {
			return err
		}
		if sh.Mine == nil || len(sh.Others) != 0 || sh.Definition != nil {
			return fmt.Errorf("DeleteShared left the definition or a row of a tenant whose rows were in the shared table, or took one whose rows are elsewhere: %+v", sh)
		}
		return nil
	})

	// The change journal is shared too: each tenant numbers its own entries from 1, stamps them with
	// its own cycle, reads and prunes its own.
	for i, n := range []int{3, 2} {
		do(i, func(tx dialect.Tx) error {
			b := &dialect.JournalBatch{Table: "shared", At: now}
			for k := range n {
				b.Add(dialect.JournalInsert, []byte(fmt.Sprintf("[%d]", k)))
			}
			first, err := tx.Rows().Journal(h.ctx, b)
			if err == nil && first != 1 {
				err = fmt.Errorf("tenant %d's first entry is %d, want 1", i, first)
			}
			return err
		})
	}
	readJournal := func(i int) []dialect.JournalEntry {
		var out []dialect.JournalEntry
		do(i, func(tx dialect.Tx) error {
			return tx.Meta().ReadJournal(h.ctx, 0, 0, func(e dialect.JournalEntry) error { out = append(out, e); return nil })
		})
		return out
	}
	if a, b := readJournal(0), readJournal(1); len(a) != 3 || len(b) != 2 || a[2].Seq != 3 || b[1].Seq != 2 || a[0].AfterCycle != 42 || b[0].AfterCycle != 42 {
		t.Fatalf("each tenant's journal: A %+v, B %+v", a, b)
	}
	do(1, func(tx dialect.Tx) error {
		_, err := tx.Meta().PruneJournal(h.ctx, dialect.JournalRetention{MaxEntries: 1}, now)
		return err
	})
	if a, b := readJournal(0), readJournal(1); len(a) != 3 || len(b) != 1 {
		t.Fatalf("B's pruning: A has %d entries (want 3), B %d (want 1)", len(a), len(b))
	}
}

// openFanIn opens tenant's Store on the harness's mirror in the fan-in layout (tenant column "tenant").
func (h *harness) openFanIn(tenant string) (dialect.Store, error) {
	return h.d.Open(h.ctx, h.dsn, dialect.OpenOptions{Tenant: tenant, Schema: h.schema, TenantColumn: "tenant",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// fanInStores opens n tenants' Stores on the harness's mirror in the fan-in layout, with the shared
// metadata tables migrated, and returns them with do, which runs fn in a transaction of tenant i's
// Store and commits it, failing the test on an error.
func (h *harness) fanInStores(t *testing.T, n int) ([]dialect.Store, func(i int, fn func(tx dialect.Tx) error)) {
	t.Helper()
	stores := make([]dialect.Store, n)
	for i := range stores {
		tenant := h.tenant + string(rune('a'+i))
		st, err := h.openFanIn(tenant)
		if err != nil {
			t.Fatalf("open tenant %s: %v", tenant, err)
		}
		t.Cleanup(func() { st.Close() })
		stores[i] = st
	}
	do := func(i int, fn func(tx dialect.Tx) error) {
		t.Helper()
		tx, err := stores[i].Begin(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(tx); err != nil {
			tx.Rollback(h.ctx)
			t.Fatal(err)
		}
		if err := tx.Commit(h.ctx, dialect.Durable); err != nil {
			t.Fatal(err)
		}
	}
	for i := range stores {
		do(i, func(tx dialect.Tx) error { return tx.Meta().Migrate(h.ctx, time.Now()) })
	}
	return stores, do
}

func flatten(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Join(r, ","))
	}
	return out
}

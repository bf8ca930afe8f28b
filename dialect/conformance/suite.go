// Package conformance is the one suite every dialect passes against a live server, and the shared
// golden scenarios of their SQL. It imports only package dialect and the pure packages below it: it
// checks the dialect contract itself (the metadata store, table editing, the bulk path, upsert and
// delete, soft delete, atomicity, locks, every type of TYPES.md round-tripped, hostile names), not the engine,
// whose own suite is engine/enginetest.
//
// A dialect's conformance_test.go calls Run with a Target that names a fresh mirror per test; its
// sql_test.go calls Golden with a function that renders a Scenario in its SQL; its types_test.go calls
// EveryKind on its type table.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// Target is one dialect under test.
type Target struct {
	// Dialect is the registered dialect name.
	Dialect string
	// Mirror returns the DSN and schema ("" for none) of a fresh, empty mirror for tenant, and registers
	// its removal with t.Cleanup.
	Mirror func(t *testing.T, tenant string) (dsn, schema string)
	// Exists reports, looking outside the dialect, whether the database, schema or file that Mirror
	// named exists (for a file, its folder too): the suite checks with it that an Open with
	// OpenOptions.NoCreate leaves nothing behind.
	Exists func(t *testing.T, dsn, schema string) bool
}

// Run runs the whole suite against the target.
func Run(t *testing.T, tgt Target) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *harness)
	}{
		{"MetadataStore", testMeta},
		{"PauseAndFailures", testPauseAndFailures},
		{"MetadataAndDataCommitTogether", testMetaAtomic},
		{"CreateExistsCountDrop", testCreateDrop},
		{"EveryTypeRoundTrips", testTypes},
		{"InsertDuplicateKeyKeepsTheTransaction", testDuplicateKey},
		{"LoadWithoutSavepoint", testLoad},
		{"UpsertAndDelete", testUpsertDelete},
		{"KeyOnlyTable", testKeyOnly},
		{"TextKeysDifferingInCaseOrTrailingSpaces", testTextKeys},
		{"KeyColumnNullableAtTheSource", testNullableKey},
		{"PartnersViewAndIndexSurviveChanges", testPartnerObjects},
		{"AlterInPlace", testAlter},
		{"FailedAlterKeepsTheTransaction", testFailedAlter},
		{"Truncate", testTruncate},
		{"ValueErrorsNameColumnAndRow", testValueErrors},
		{"HostileIdentifiers", testHostile},
		{"NamesTheDatabaseCannotHold", testBadNames},
		{"LockExcludesOtherTransactions", testLock},
		{"HookStatementsAndRelaxedCommit", testRunStatement},
		{"FanInTenantsShareATable", testFanIn},
		{"SoftDeleteReviveAndMirroredAt", testSoftDelete},
		{"FanInSoftDelete", testFanInSoftDelete},
		{"NoCreateOpensOnlyWhatExists", testNoCreate},
		{"Journal", testJournal},
		{"JournalCommitsWithTheRows", testJournalAtomic},
		{"JournalOrderUnderConcurrentWriters", testJournalOrder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newHarness(t, &tgt))
		})
	}
}

// harness is one fresh tenant mirror, opened with its metadata tables migrated.
type harness struct {
	t      *testing.T
	ctx    context.Context
	tgt    *Target
	d      dialect.Dialect
	caps   dialect.Capabilities
	tenant string
	dsn    string
	schema string
	store  dialect.Store
}

func newHarness(t *testing.T, tgt *Target) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	name := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
	tenant := fmt.Sprintf("dc%s%d", strings.ReplaceAll(name, "_", ""), rand.IntN(1_000_000))
	if len(tenant) > 40 {
		tenant = tenant[:40]
	}
	d, err := dialect.Lookup(tgt.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, tgt: tgt, d: d, caps: d.Capabilities(), tenant: tenant}
	h.dsn, h.schema = tgt.Mirror(t, tenant)
	h.store = h.open()
	h.do(func(tx dialect.Tx) error { return tx.Meta().Migrate(h.ctx, time.Now()) })
	return h
}

func (h *harness) open() dialect.Store {
	h.t.Helper()
	st, err := h.d.Open(h.ctx, h.dsn, dialect.OpenOptions{Tenant: h.tenant, Schema: h.schema,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		h.t.Fatalf("open the mirror: %v", err)
	}
	h.t.Cleanup(func() { st.Close() })
	return st
}

// try runs fn in a transaction of its own and commits it when fn succeeds.
func (h *harness) try(fn func(tx dialect.Tx) error) error {
	tx, err := h.store.Begin(h.ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(h.ctx); rbErr != nil {
			h.t.Errorf("rollback: %v", rbErr)
		}
		return err
	}
	return tx.Commit(h.ctx, dialect.Durable)
}

// do is try that fails the test on an error.
func (h *harness) do(fn func(tx dialect.Tx) error) {
	h.t.Helper()
	if err := h.try(fn); err != nil {
		h.t.Fatal(err)
	}
}

// table builds a dialect.Table from wire columns.
func (h *harness) table(name string, cols []contract.Column, key ...string) dialect.Table {
	h.t.Helper()
	t, err := MakeTable(name, cols, key...)
	if err != nil {
		h.t.Fatal(err)
	}
	return t
}

func (h *harness) create(t dialect.Table) {
	h.t.Helper()
	h.do(func(tx dialect.Tx) error { return tx.Tables().Create(h.ctx, t) })
}

// alter runs Tables().Alter on a table that has nothing of anyone else's on it, so that nothing may be
// lost.
func (h *harness) alter(tx dialect.Tx, t dialect.Table, changes []dialect.Change) error {
	lost, err := tx.Tables().Alter(h.ctx, t, changes)
	if err == nil && len(lost) > 0 {
		err = fmt.Errorf("alter %s lost %v, though nothing but the table was there", t.Name, lost)
	}
	return err
}

// drop runs Tables().Drop on a table that has nothing of anyone else's on it.
func (h *harness) drop(tx dialect.Tx, name string) error {
	lost, err := tx.Tables().Drop(h.ctx, name)
	if err == nil && len(lost) > 0 {
		err = fmt.Errorf("drop %s lost %v, though nothing but the table was there", name, lost)
	}
	return err
}

// values decodes wire rows for the columns cols of t (nil: all of them, in order).
func (h *harness) values(t dialect.Table, cols []int, rows ...[]*string) [][]any {
	h.t.Helper()
	if cols == nil {
		cols = allColumns(t)
	}
	out := make([][]any, len(rows))
	for i, r := range rows {
		if len(r) != len(cols) {
			h.t.Fatalf("test data: row %d has %d values for %d columns", i+1, len(r), len(cols))
		}
		out[i] = make([]any, len(cols))
		for j, c := range cols {
			if r[j] == nil {
				continue
			}
			v, err := typemap.DecoderFor(t.Columns[c].Type)([]byte(*r[j]))
			if err != nil {
				h.t.Fatalf("test data: %s = %q: %v", t.Columns[c].Name, *r[j], err)
			}
			out[i][j] = v
		}
	}
	return out
}

func allColumns(t dialect.Table) []int {
	cols := make([]int, len(t.Columns))
	for i := range cols {
		cols[i] = i
	}
	return cols
}

// canonRows turns rows of every column of t into sorted canonical text, as the mirror must hold them.
func (h *harness) canonRows(t dialect.Table, rows [][]any) [][]string {
	h.t.Helper()
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, v := range r {
			var err error
			if out[i][j], err = canon.Value(t.Columns[j].Type, v, h.caps.Losses()); err != nil {
				h.t.Fatalf("canonical text of %s: %v", t.Columns[j].Name, err)
			}
		}
	}
	SortRows(out)
	return out
}

// read returns the table's rows as sorted canonical text.
func (h *harness) read(t dialect.Table) [][]string {
	h.t.Helper()
	var out [][]string
	h.do(func(tx dialect.Tx) error {
		var err error
		out, err = ReadCanonical(h.ctx, tx, t, h.caps.Losses())
		return err
	})
	return out
}

// expect fails the test with the first difference between the table's rows and want (rows of every
// column of t).
func (h *harness) expect(t dialect.Table, want [][]any) {
	h.t.Helper()
	got, exp := h.read(t), h.canonRows(t, want)
	if len(got) != len(exp) {
		h.t.Fatalf("%s: %d rows in the mirror, want %d\n got: %v\nwant: %v", t.Name, len(got), len(exp), Abbreviate(got), Abbreviate(exp))
	}
	for i := range exp {
		for j := range exp[i] {
			if got[i][j] != exp[i][j] {
				h.t.Errorf("%s row %d column %s: got %s, want %s", t.Name, i+1, t.Columns[j].Name, Clip(got[i][j]), Clip(exp[i][j]))
			}
		}
	}
}

// source is a dialect.RowSource over rows held in memory.
type source struct {
	rows [][]any
	pos  int
	// onRow, when set, is called before each row is handed out.
	onRow func(i int) error
	err   error
}

func newSource(rows [][]any) *source { return &source{rows: rows, pos: -1} }

func (s *source) Next() bool {
	if s.err != nil || s.pos+1 >= len(s.rows) {
		return false
	}
	s.pos++
	if s.onRow != nil {
		if s.err = s.onRow(s.pos); s.err != nil {
			return false
		}
	}
	return true
}
func (s *source) Values() ([]any, error) { return s.rows[s.pos], nil }
func (s *source) Err() error             { return s.err }

// keys returns the key columns of rows of every column.
func keys(t dialect.Table, rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		for _, k := range t.Key {
			out[i] = append(out[i], r[k])
		}
	}
	return out
}

// simple is a small table used by most tests.
func simple() []contract.Column {
	return []contract.Column{
		{Name: "id", Type: "int"},
		{Name: "name", Type: "nvarchar(50)", IsNullable: true},
		{Name: "amount", Type: "decimal(19,4)", IsNullable: true, DefaultValue: "default ((0))"},
		{Name: "updated", Type: "datetime", DefaultValue: "default (getdate())"},
	}
}

func simpleRow(id int, name string) []*string {
	return []*string{Str(fmt.Sprintf("[I:%d]", id)), Str(name), Str(fmt.Sprintf("[F:%d.25]", id)), Str("[DT:05/18/2020 10:40:43.0000000]")}
}

func simpleRows(from, to int, name string) [][]*string {
	var out [][]*string
	for i := from; i <= to; i++ {
		out = append(out, simpleRow(i, fmt.Sprintf("%s %d", name, i)))
	}
	return out
}

func testMeta(t *testing.T, h *harness) {
	// Migrating again is harmless.
	h.do(func(tx dialect.Tx) error { return tx.Meta().Migrate(h.ctx, time.Now()) })
	changed := time.Date(2026, 5, 18, 10, 40, 43, 123456000, time.UTC)
	applied := changed.Add(time.Hour)
	// A third table whose name differs from contact's in case only: the engine never stores two names
	// the database folds together, so it is used only where the database tells them apart.
	third := "Contact"
	if h.store.Names().Fold(third) == h.store.Names().Fold("contact") {
		third = "Company"
	}
	h.do(func(tx dialect.Tx) error {
		m := tx.Meta()
		all, err := m.Tables(h.ctx)
		if err != nil || len(all) != 0 {
			return fmt.Errorf("a new mirror's metadata: %v, %v", all, err)
		}
		if _, ok, err := m.Table(h.ctx, "contact"); ok || err != nil {
			return fmt.Errorf("Table of an unknown table: ok %v, err %v", ok, err)
		}
		for _, name := range []string{"contact", "person", third} {
			if err := m.PutTable(h.ctx, dialect.TableMeta{Table: name, LSN: -1, SchemaHash: strings.Repeat("a", 64), SchemaJSON: `{"columns":[]}`, SchemaChanged: changed}); err != nil {
				return err
			}
		}
		if err := m.SetLSN(h.ctx, "contact", 500, applied); err != nil {
			return err
		}
		if err := m.SetLSN(h.ctx, "person", dialect.KeepLSN, applied); err != nil {
			return err
		}
		if err := m.SetLSN(h.ctx, "nope", 1, applied); !errors.Is(err, dialect.ErrNoMeta) {
			return fmt.Errorf("SetLSN of a table without a row: %v, want ErrNoMeta", err)
		}
		// PutTable replaces the schema and the LSN, and keeps when the table was last applied.
		return m.PutTable(h.ctx, dialect.TableMeta{Table: "contact", LSN: 500, SchemaHash: strings.Repeat("b", 64), SchemaJSON: `{"columns":[1]}`, SchemaChanged: changed.Add(time.Minute)})
	})
	h.do(func(tx dialect.Tx) error {
		m := tx.Meta()
		all, err := m.Tables(h.ctx)
		if err != nil {
			return err
		}
		if len(all) != 3 {
			return fmt.Errorf("%d metadata rows, want 3: %v", len(all), all)
		}
		c := all["contact"]
		if c.LSN != 500 || c.SchemaHash != strings.Repeat("b", 64) || c.SchemaJSON != `{"columns":[1]}` ||
			!c.SchemaChanged.Equal(changed.Add(time.Minute)) || !c.LastApplied.Equal(applied) {
			return fmt.Errorf("contact's row %+v", c)
		}
		p, ok, err := m.Table(h.ctx, "person")
		if err != nil || !ok || p.LSN != -1 || !p.LastApplied.Equal(applied) || !p.SchemaChanged.Equal(changed) {
			return fmt.Errorf("person's row %+v (ok %v, err %v)", p, ok, err)
		}
		if up, ok, err := m.Table(h.ctx, third); err != nil || !ok || up.LSN != -1 || !up.LastApplied.IsZero() {
			return fmt.Errorf("%s's row %+v (ok %v, err %v)", third, up, ok, err)
		}
		if n, err := m.ResetLSN(h.ctx, "contact"); err != nil || n != 1 {
			return fmt.Errorf("ResetLSN of one table: %d, %v", n, err)
		}
		if err := m.DeleteTable(h.ctx, "person"); err != nil {
			return err
		}
		if err := m.DeleteTable(h.ctx, "person"); err != nil {
			return fmt.Errorf("deleting a missing row: %v", err)
		}
		if n, err := m.ResetLSN(h.ctx, ""); err != nil || n != 2 {
			return fmt.Errorf("ResetLSN of every table: %d, %v", n, err)
		}
		if _, ok, err := m.LastCycle(h.ctx); ok || err != nil {
			return fmt.Errorf("LastCycle of a new mirror: ok %v, err %v", ok, err)
		}
		for i, id := range []int64{10, 30, 20} {
			if err := m.RecordCycle(h.ctx, dialect.Cycle{ID: id, Completed: changed.Add(time.Duration(id) * time.Second), Tables: int64(i + 1), Inserts: id, Updates: 2, Deletes: 3, Summary: `[{"Table":"contact"}]`}); err != nil {
				return err
			}
		}
		cy, ok, err := m.LastCycle(h.ctx)
		if err != nil || !ok || cy.ID != 30 || cy.Tables != 2 || cy.Inserts != 30 || cy.Updates != 2 || cy.Deletes != 3 ||
			cy.Summary != `[{"Table":"contact"}]` || !cy.Completed.Equal(changed.Add(30*time.Second)) {
			return fmt.Errorf("LastCycle %+v (ok %v, err %v)", cy, ok, err)
		}
		return nil
	})
	h.do(func(tx dialect.Tx) error {
		all, err := tx.Meta().Tables(h.ctx)
		if err != nil {
			return err
		}
		if len(all) != 2 || all["contact"].LSN != -1 || all[third].LSN != -1 {
			return fmt.Errorf("after the resets: %+v", all)
		}
		return nil
	})
}

func testMetaAtomic(t *testing.T, h *harness) {
	tbl := h.table("atomic", simple())
	rows := h.values(tbl, nil, simpleRows(1, 3, "a")...)
	// Table, rows and metadata in one transaction that rolls back: nothing of it remains.
	err := h.try(func(tx dialect.Tx) error {
		if err := tx.Tables().Create(h.ctx, tbl); err != nil {
			return err
		}
		if err := tx.Meta().PutTable(h.ctx, dialect.TableMeta{Table: "atomic", LSN: -1, SchemaHash: "h", SchemaJSON: "{}", SchemaChanged: time.Now()}); err != nil {
			return err
		}
		if _, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows)); err != nil {
			return err
		}
		return errors.New("give up")
	})
	if err == nil || err.Error() != "give up" {
		t.Fatalf("the transaction: %v", err)
	}
	h.do(func(tx dialect.Tx) error {
		if _, ok, err := tx.Meta().Table(h.ctx, "atomic"); ok || err != nil {
			return fmt.Errorf("a rolled-back metadata row is there (err %v)", err)
		}
		exists, err := tx.Tables().Exists(h.ctx, "atomic")
		if err != nil {
			return err
		}
		if exists && h.caps.TransactionalDDL {
			return errors.New("a table created in a rolled-back transaction exists, but the dialect says its DDL is transactional")
		}
		if exists {
			return h.drop(tx, "atomic")
		}
		return nil
	})
	// Rows and the LSN together: a batch cancelled half way leaves neither.
	h.create(tbl)
	h.do(func(tx dialect.Tx) error {
		if _, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows)); err != nil {
			return err
		}
		return tx.Meta().PutTable(h.ctx, dialect.TableMeta{Table: "atomic", LSN: 7, SchemaHash: "h", SchemaJSON: "{}", SchemaChanged: time.Now()})
	})
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	more := newSource(h.values(tbl, nil, simpleRows(10, 400, "never")...))
	more.onRow = func(i int) error {
		if i == 150 {
			cancel()
		}
		return nil
	}
	tx, err := h.store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Meta().SetLSN(ctx, "atomic", 8, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Rows().Upsert(ctx, tbl, more)
	if err == nil {
		err = tx.Commit(ctx, dialect.Durable)
	}
	if err == nil {
		t.Fatal("a transaction whose context was cancelled mid-way committed")
	}
	if err := tx.Rollback(h.ctx); err != nil {
		t.Fatalf("rollback after a cancelled load: %v", err)
	}
	h.expect(tbl, rows)
	h.do(func(tx dialect.Tx) error {
		m, _, err := tx.Meta().Table(h.ctx, "atomic")
		if err == nil && m.LSN != 7 {
			err = fmt.Errorf("LSN %d after a cancelled batch, want 7", m.LSN)
		}
		return err
	})
}

func testCreateDrop(t *testing.T, h *harness) {
	tbl := h.table("Created", simple())
	h.create(tbl)
	h.do(func(tx dialect.Tx) error {
		te := tx.Tables()
		for _, name := range []string{"Created", "other"} {
			exists, err := te.Exists(h.ctx, name)
			if err != nil {
				return err
			}
			if exists != (name == "Created") {
				return fmt.Errorf("Exists(%q) = %v", name, exists)
			}
		}
		// The folded spelling is the same table exactly when the dialect says so.
		names := h.store.Names()
		exists, err := te.Exists(h.ctx, "created")
		if err != nil {
			return err
		}
		if same := names.Fold("created") == names.Fold("Created"); exists != same {
			return fmt.Errorf("Exists(\"created\") = %v, but Fold says the names are the same: %v", exists, same)
		}
		if n, err := te.Count(h.ctx, "Created"); err != nil || n != 0 {
			return fmt.Errorf("Count of a new table: %d, %v", n, err)
		}
		return nil
	})
	rows := h.values(tbl, nil, simpleRows(1, 3, "x")...)
	h.do(func(tx dialect.Tx) error {
		n, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows))
		if err == nil && n != 3 {
			err = fmt.Errorf("Insert stored %d rows, want 3", n)
		}
		return err
	})
	h.do(func(tx dialect.Tx) error {
		if n, err := tx.Tables().Count(h.ctx, "Created"); err != nil || n != 3 {
			return fmt.Errorf("Count: %d, %v", n, err)
		}
		if err := tx.Rows().Analyze(h.ctx, tbl); err != nil {
			return fmt.Errorf("Analyze: %w", err)
		}
		if err := h.drop(tx, "Created"); err != nil {
			return err
		}
		return h.drop(tx, "Created")
	})
	h.do(func(tx dialect.Tx) error {
		if exists, err := tx.Tables().Exists(h.ctx, "Created"); err != nil || exists {
			return fmt.Errorf("a dropped table exists (err %v)", err)
		}
		return nil
	})
}

func testTypes(t *testing.T, h *harness) {
	ts := AllTypes()
	tbl := h.table(ts.Name, ts.Columns)
	h.create(tbl)
	rows := h.values(tbl, nil, TypeRows(h.caps.MinYear)...)
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows))
		return err
	})
	h.expect(tbl, rows)
	// The staging path: the same rows as upserts, one of them changed.
	changed := h.values(tbl, nil, TypeRows(h.caps.MinYear)...)
	changed[0][21] = "changed ✓"
	changed[4][1] = false
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Upsert(h.ctx, tbl, newSource(changed))
		return err
	})
	h.expect(tbl, changed)
	if h.caps.MinYear > 1 {
		early := h.values(tbl, nil, TypeRows(1)[1])
		early[0][0] = int64(99)
		err := h.try(func(tx dialect.Tx) error {
			_, err := tx.Rows().Insert(h.ctx, tbl, newSource(early))
			return err
		})
		var ve *dialect.ValueError
		if !errors.As(err, &ve) {
			t.Fatalf("a date before the target's first year (%d): %v, want a ValueError", h.caps.MinYear, err)
		}
		h.expect(tbl, changed)
	}
}

func testDuplicateKey(t *testing.T, h *harness) {
	tbl := h.table("dup", simple())
	h.create(tbl)
	first := h.values(tbl, nil, simpleRows(1, 3, "first")...)
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(first))
		return err
	})
	again := h.values(tbl, nil, simpleRows(3, 5, "again")...)
	h.do(func(tx dialect.Tx) error {
		if err := tx.Meta().PutTable(h.ctx, dialect.TableMeta{Table: "dup", LSN: 3, SchemaHash: "h", SchemaJSON: "{}", SchemaChanged: time.Now()}); err != nil {
			return err
		}
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(again))
		if !errors.Is(err, dialect.ErrDuplicateKey) {
			return fmt.Errorf("Insert of an existing key: %v, want ErrDuplicateKey", err)
		}
		// The transaction goes on: the work before the failed Insert stays, and the rows go through
		// the upsert path instead.
		if n, err := tx.Tables().Count(h.ctx, "dup"); err != nil || n != 3 {
			return fmt.Errorf("after the failed Insert: %d rows, %v", n, err)
		}
		_, err = tx.Rows().Upsert(h.ctx, tbl, newSource(again))
		return err
	})
	h.expect(tbl, append(first[:2:2], again...))
	h.do(func(tx dialect.Tx) error {
		if m, ok, err := tx.Meta().Table(h.ctx, "dup"); err != nil || !ok || m.LSN != 3 {
			return fmt.Errorf("the metadata written before the failed Insert: %+v, %v, %v", m, ok, err)
		}
		// A key twice within one Insert is a duplicate too.
		twice := h.values(tbl, nil, simpleRow(9, "a"), simpleRow(9, "b"))
		if _, err := tx.Rows().Insert(h.ctx, tbl, newSource(twice)); !errors.Is(err, dialect.ErrDuplicateKey) {
			return fmt.Errorf("Insert of a key twice: %v, want ErrDuplicateKey", err)
		}
		return nil
	})
	h.expect(tbl, append(first[:2:2], again...))
}

// testLoad checks a dialect.Loader, where the dialect has one: Load stores rows as Insert does, and
// fails on a duplicate key with ErrDuplicateKey (its caller then rolls the transaction back).
func testLoad(t *testing.T, h *harness) {
	tbl := h.table("loaded", simple())
	h.create(tbl)
	rows := h.values(tbl, nil, simpleRows(1, 50, "loaded")...)
	var isLoader bool
	h.do(func(tx dialect.Tx) error {
		l, ok := tx.Rows().(dialect.Loader)
		if isLoader = ok; !ok {
			return nil
		}
		n, err := l.Load(h.ctx, tbl, newSource(rows))
		if err == nil && n != int64(len(rows)) {
			err = fmt.Errorf("Load stored %d rows of %d", n, len(rows))
		}
		return err
	})
	if !isLoader {
		t.Skip("the dialect's RowWriter is not a dialect.Loader")
	}
	h.expect(tbl, rows)
	again := h.values(tbl, nil, simpleRows(50, 51, "again")...)
	err := h.try(func(tx dialect.Tx) error {
		_, err := tx.Rows().(dialect.Loader).Load(h.ctx, tbl, newSource(again))
		return err
	})
	if !errors.Is(err, dialect.ErrDuplicateKey) {
		t.Fatalf("Load of an existing key: %v, want ErrDuplicateKey", err)
	}
	h.expect(tbl, rows)
}

func testUpsertDelete(t *testing.T, h *harness) {
	tbl := h.table("things", simple())
	h.create(tbl)
	initial := h.values(tbl, nil, simpleRows(1, 50, "row")...)
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(initial))
		return err
	})
	upserts := h.values(tbl, nil, simpleRow(3, "three, updated"), simpleRow(51, "fifty-one"), simpleRow(6, "six"))
	upserts[2][1] = nil // a value becomes NULL
	dels := keys(tbl, h.values(tbl, nil, simpleRow(4, ""), simpleRow(5, ""), simpleRow(999, "")))
	h.do(func(tx dialect.Tx) error {
		n, err := tx.Rows().Upsert(h.ctx, tbl, newSource(upserts))
		if err != nil {
			return err
		}
		if n < 3 {
			return fmt.Errorf("Upsert wrote %d rows, want at least 3", n)
		}
		if n, err = tx.Rows().Delete(h.ctx, tbl, newSource(dels)); err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("Delete removed %d rows, want 2 (one key is unknown)", n)
		}
		return nil
	})
	want := map[int64][]any{}
	for _, r := range append(initial, upserts...) {
		want[r[0].(int64)] = r
	}
	delete(want, 4)
	delete(want, 5)
	var rows [][]any
	for _, r := range want {
		rows = append(rows, r)
	}
	h.expect(tbl, rows)
}

func testKeyOnly(t *testing.T, h *harness) {
	tbl := h.table("EmployeeTerritories", []contract.Column{{Name: "EmployeeID", Type: "int"}, {Name: "TerritoryID", Type: "nvarchar(20)"}}, "EmployeeID", "TerritoryID")
	h.create(tbl)
	w := func(e int, terr string) []*string { return []*string{Str(fmt.Sprint(e)), Str(terr)} }
	initial := h.values(tbl, nil, w(1, "06897"), w(1, "19713"), w(2, "01581"))
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(initial))
		return err
	})
	// An upsert of a key-only table inserts the new keys and leaves the existing ones.
	upserts := h.values(tbl, nil, w(1, "06897"), w(3, "30346"))
	h.do(func(tx dialect.Tx) error {
		if _, err := tx.Rows().Upsert(h.ctx, tbl, newSource(upserts)); err != nil {
			return err
		}
		n, err := tx.Rows().Delete(h.ctx, tbl, newSource(h.values(tbl, nil, w(1, "19713"))))
		if err == nil && n != 1 {
			err = fmt.Errorf("Delete removed %d rows, want 1", n)
		}
		return err
	})
	h.expect(tbl, h.values(tbl, nil, w(1, "06897"), w(2, "01581"), w(3, "30346")))
}

// testTextKeys stores text keys that differ only in case as two keys on every target, and keys that
// differ only in trailing spaces as the target's Capabilities say (SQL Server, the source, pads them:
// no source table holds both).
func testTextKeys(t *testing.T, h *harness) {
	tbl := h.table("codes", []contract.Column{{Name: "code", Type: "nvarchar(10)"}, {Name: "v", Type: "int", IsNullable: true}})
	h.create(tbl)
	w := func(code string, v int) []*string { return []*string{Str(code), Str(fmt.Sprintf("[I:%d]", v))} }
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(h.values(tbl, nil, w("a", 1), w("A", 2))))
		return err
	})
	h.expect(tbl, h.values(tbl, nil, w("a", 1), w("A", 2)))
	h.do(func(tx dialect.Tx) error {
		if _, err := tx.Rows().Upsert(h.ctx, tbl, newSource(h.values(tbl, nil, w("A", 3)))); err != nil {
			return err
		}
		n, err := tx.Rows().Delete(h.ctx, tbl, newSource(keys(tbl, h.values(tbl, nil, w("a", 0)))))
		if err == nil && n != 1 {
			err = fmt.Errorf("Delete of key %q removed %d rows, want 1", "a", n)
		}
		return err
	})
	h.expect(tbl, h.values(tbl, nil, w("A", 3)))

	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(h.values(tbl, nil, w("b", 1))))
		return err
	})
	err := h.try(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(h.values(tbl, nil, w("b ", 2))))
		return err
	})
	if !h.caps.PadsKeys {
		if err != nil {
			t.Fatalf("Insert of key %q beside %q: %v; the target says it keeps them apart", "b ", "b", err)
		}
		h.expect(tbl, h.values(tbl, nil, w("A", 3), w("b", 1), w("b ", 2)))
		return
	}
	if !errors.Is(err, dialect.ErrDuplicateKey) {
		t.Fatalf("Insert of key %q beside %q: %v; the target says they are one key, want ErrDuplicateKey", "b ", "b", err)
	}
	// One key: the upsert updates the stored row, and a delete by either spelling removes it.
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Upsert(h.ctx, tbl, newSource(h.values(tbl, nil, w("b ", 2))))
		return err
	})
	h.expect(tbl, h.values(tbl, nil, w("A", 3), w("b", 2)))
	h.do(func(tx dialect.Tx) error {
		n, err := tx.Rows().Delete(h.ctx, tbl, newSource(keys(tbl, h.values(tbl, nil, w("b ", 0)))))
		if err == nil && n != 1 {
			err = fmt.Errorf("Delete of key %q removed %d rows, want 1", "b ", n)
		}
		return err
	})
	h.expect(tbl, h.values(tbl, nil, w("A", 3)))
}

// testNullableKey creates a table whose key column the source declares nullable (an operator's key
// override may name one): the mirror's key column is NOT NULL, as every database's primary key needs.
func testNullableKey(t *testing.T, h *harness) {
	tbl := h.table("loose", []contract.Column{{Name: "code", Type: "nvarchar(10)", IsNullable: true}, {Name: "v", Type: "int", IsNullable: true}})
	h.create(tbl)
	w := func(code string, v int) []*string { return []*string{Str(code), Str(fmt.Sprintf("[I:%d]", v))} }
	h.do(func(tx dialect.Tx) error {
		if _, err := tx.Rows().Insert(h.ctx, tbl, newSource(h.values(tbl, nil, w("a", 1), w("b", 2)))); err != nil {
			return err
		}
		_, err := tx.Rows().Upsert(h.ctx, tbl, newSource(h.values(tbl, nil, w("b", 3), w("c", 4))))
		return err
	})
	h.expect(tbl, h.values(tbl, nil, w("a", 1), w("b", 3), w("c", 4)))
	err := h.try(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(h.values(tbl, nil, []*string{nil, Str("[I:5]")})))
		return err
	})
	if err == nil {
		t.Fatal("a NULL key was stored")
	}
	h.expect(tbl, h.values(tbl, nil, w("a", 1), w("b", 3), w("c", 4)))
}

// testPartnerObjects puts a view and a unique index of a partner's on a mirrored table, then widens a
// column in place and recreates the table: both survive, nothing is reported lost, and the index
// still holds on the new table. Dropping the table (the source deleted it) succeeds whatever the
// database does with the view.
func testPartnerObjects(t *testing.T, h *harness) {
	names := h.store.Names()
	qt, err := names.Table("contact")
	if err != nil {
		t.Fatal(err)
	}
	qv, err := names.Table("contact_names")
	if err != nil {
		t.Fatal(err)
	}
	tbl := h.table("contact", simple())
	h.create(tbl)
	rows := h.values(tbl, nil, simpleRows(1, 3, "c")...)
	h.do(func(tx dialect.Tx) error {
		if _, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows)); err != nil {
			return err
		}
		return nil
	})
	// The partner's statements use unquoted lower-case names, which every database takes as they are.
	h.do(func(tx dialect.Tx) error {
		return tx.RunStatement(h.ctx, "CREATE VIEW "+qv+" AS SELECT id, name FROM "+qt)
	})
	h.do(func(tx dialect.Tx) error {
		return tx.RunStatement(h.ctx, "CREATE UNIQUE INDEX partner_names ON "+qt+" (name)")
	})
	viewRows := func(want int64) {
		t.Helper()
		h.do(func(tx dialect.Tx) error {
			n, err := tx.Tables().Count(h.ctx, "contact_names")
			if err == nil && n != want {
				err = fmt.Errorf("the partner's view shows %d rows, want %d", n, want)
			}
			return err
		})
	}
	viewRows(3)

	widened := simple()
	widened[1].Type = "nvarchar(100)"
	wt := h.table("contact", widened)
	var lost []dialect.LostObject
	h.do(func(tx dialect.Tx) error {
		var err error
		lost, err = tx.Tables().Alter(h.ctx, wt, []dialect.Change{{Kind: dialect.AlterType, Old: tbl.Columns[1], Column: wt.Columns[1]}})
		return err
	})
	if len(lost) > 0 {
		t.Errorf("widening a column the partner's view reads lost %v", lost)
	}
	viewRows(3)
	h.expect(wt, rows)

	// A recreate (a change no database makes in place): the view and the index are back on the new,
	// empty table.
	recreated := append(widened[:3:3], contract.Column{Name: "updated", Type: "datetime2(3)", IsNullable: true})
	rt := h.table("contact", recreated)
	h.do(func(tx dialect.Tx) error {
		var err error
		lost, err = tx.Tables().Recreate(h.ctx, rt)
		return err
	})
	if len(lost) > 0 {
		t.Errorf("recreating the table lost %v", lost)
	}
	viewRows(0)
	again := h.values(rt, nil, []*string{Str("[I:1]"), Str("one"), nil, nil}, []*string{Str("[I:2]"), Str("two"), nil, nil})
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, rt, newSource(again))
		return err
	})
	viewRows(2)
	err = h.try(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, rt, newSource(h.values(rt, nil, []*string{Str("[I:3]"), Str("one"), nil, nil})))
		return err
	})
	if !errors.Is(err, dialect.ErrDuplicateKey) {
		t.Errorf("a name twice after the recreate: %v; the partner's unique index is gone, want ErrDuplicateKey", err)
	}
	h.expect(rt, again)

	h.do(func(tx dialect.Tx) error {
		_, err := tx.Tables().Drop(h.ctx, "contact")
		return err
	})
	h.do(func(tx dialect.Tx) error {
		if exists, err := tx.Tables().Exists(h.ctx, "contact"); err != nil || exists {
			return fmt.Errorf("the dropped table exists (err %v)", err)
		}
		return nil
	})
}

func testAlter(t *testing.T, h *harness) {
	base := simple()
	tbl := h.table("evolving", base)
	h.create(tbl)
	rows := h.values(tbl, nil, simpleRows(1, 3, "v")...)
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows))
		return err
	})
	col := func(c contract.Column) typemap.Column {
		tc, err := typemap.ParseColumn(c)
		if err != nil {
			t.Fatal(err)
		}
		return tc
	}
	// The new definition: name widened and made NOT NULL, amount with another default, updated
	// nullable, two columns added (one NOT NULL with a default, filled in for the existing rows).
	evolved := append([]contract.Column{}, base...)
	evolved[1] = contract.Column{Name: "name", Type: "nvarchar(100)"}
	evolved[2].DefaultValue = "default ((1))"
	evolved[3].IsNullable = true
	evolved = append(evolved, contract.Column{Name: "note", Type: "nvarchar(max)", IsNullable: true},
		contract.Column{Name: "flag", Type: "int", DefaultValue: "default ((7))"})
	newTbl := h.table("evolving", evolved)
	changes := []dialect.Change{
		{Kind: dialect.AlterType, Old: col(base[1]), Column: col(contract.Column{Name: "name", Type: "nvarchar(100)", IsNullable: true})},
		{Kind: dialect.AlterNullability, Old: col(contract.Column{Name: "name", Type: "nvarchar(100)", IsNullable: true}), Column: col(evolved[1])},
		{Kind: dialect.AlterDefault, Old: col(base[2]), Column: col(evolved[2])},
		{Kind: dialect.AlterNullability, Old: col(base[3]), Column: col(evolved[3])},
		{Kind: dialect.AddColumn, Column: col(evolved[4])},
		{Kind: dialect.AddColumn, Column: col(evolved[5])},
	}
	err := h.try(func(tx dialect.Tx) error { return h.alter(tx, newTbl, changes) })
	if errors.Is(err, dialect.ErrRecreate) {
		t.Skipf("%s cannot make these changes in place (%v); the engine recreates the table", h.d.Name(), err)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]any, len(rows))
	for i, r := range rows {
		want[i] = append(append([]any{}, r...), nil, int64(7))
	}
	h.expect(newTbl, want)
	// The widened column takes what it could not before; the relaxed one takes NULL.
	more := h.values(newTbl, nil, []*string{Str("[I:4]"), Str(strings.Repeat("w", 90)), nil, nil, Str("a note"), Str("[I:1]")})
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Upsert(h.ctx, newTbl, newSource(more))
		return err
	})
	want = append(want, more...)
	h.expect(newTbl, want)

	// Drop a column.
	dropped := append(append([]contract.Column{}, evolved[:4]...), evolved[5])
	dropTbl := h.table("evolving", dropped)
	err = h.try(func(tx dialect.Tx) error {
		return h.alter(tx, dropTbl, []dialect.Change{{Kind: dialect.DropColumn, Old: col(evolved[4])}})
	})
	if err != nil {
		t.Fatalf("drop column: %v", err)
	}
	for i, r := range want {
		want[i] = append(append([]any{}, r[:4]...), r[5])
	}
	h.expect(dropTbl, want)
}

func testFailedAlter(t *testing.T, h *harness) {
	tbl := h.table("strict", simple())
	h.create(tbl)
	rows := h.values(tbl, nil, simpleRow(1, "a"), simpleRow(2, "b"))
	rows[1][1] = nil
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows))
		return err
	})
	notNull := simple()
	notNull[1].IsNullable = false
	newTbl := h.table("strict", notNull)
	old, _ := typemap.ParseColumn(simple()[1])
	now, _ := typemap.ParseColumn(notNull[1])
	h.do(func(tx dialect.Tx) error {
		if err := tx.Meta().PutTable(h.ctx, dialect.TableMeta{Table: "strict", LSN: 9, SchemaHash: "h", SchemaJSON: "{}", SchemaChanged: time.Now()}); err != nil {
			return err
		}
		// NOT NULL over a column that holds a NULL cannot be done in place.
		err := h.alter(tx, newTbl, []dialect.Change{{Kind: dialect.AlterNullability, Old: old, Column: now}})
		if err == nil {
			return errors.New("NOT NULL was set on a column that holds NULL")
		}
		// The transaction goes on, with what was done before the failed change.
		if n, err := tx.Tables().Count(h.ctx, "strict"); err != nil || n != 2 {
			return fmt.Errorf("after the failed change: %d rows, %v", n, err)
		}
		more := h.values(tbl, nil, simpleRow(3, "c"))
		_, err = tx.Rows().Upsert(h.ctx, tbl, newSource(more))
		return err
	})
	h.expect(tbl, append(rows, h.values(tbl, nil, simpleRow(3, "c"))...))
	h.do(func(tx dialect.Tx) error {
		if m, ok, err := tx.Meta().Table(h.ctx, "strict"); err != nil || !ok || m.LSN != 9 {
			return fmt.Errorf("the metadata written before the failed change: %+v, %v, %v", m, ok, err)
		}
		return nil
	})
}

func testTruncate(t *testing.T, h *harness) {
	tbl := h.table("emptied", simple())
	h.create(tbl)
	rows := h.values(tbl, nil, simpleRows(1, 10, "t")...)
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows))
		return err
	})
	h.do(func(tx dialect.Tx) error { return tx.Tables().Truncate(h.ctx, tbl) })
	h.expect(tbl, nil)
	// The structure stays: the same keys load again.
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows[:2]))
		return err
	})
	h.expect(tbl, rows[:2])
}

func testValueErrors(t *testing.T, h *harness) {
	tbl := h.table("fits", simple())
	h.create(tbl)
	good := h.values(tbl, nil, simpleRow(1, "ok"))
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(good))
		return err
	})
	// A value that is not what its column's type decodes to (a string for a decimal): every writer
	// converts values column by column, and must say which column and row it could not convert, on
	// every path, without quoting the value.
	bad := h.values(tbl, nil, simpleRow(2, "ok"), simpleRow(3, "ok"))
	bad[1][2] = "12.5 is not how typemap hands over a decimal"
	for _, path := range []string{"Insert", "Upsert"} {
		err := h.try(func(tx dialect.Tx) error {
			var err error
			if path == "Insert" {
				_, err = tx.Rows().Insert(h.ctx, tbl, newSource(bad))
			} else {
				_, err = tx.Rows().Upsert(h.ctx, tbl, newSource(bad))
			}
			return err
		})
		var ve *dialect.ValueError
		if !errors.As(err, &ve) {
			t.Fatalf("%s of a value of the wrong type: %v, want a *dialect.ValueError", path, err)
		}
		if ve.Column != "amount" || ve.Row != 2 {
			t.Errorf("%s: the ValueError names column %q, row %d; want \"amount\", row 2", path, ve.Column, ve.Row)
		}
		if strings.Contains(err.Error(), "how typemap hands") {
			t.Errorf("%s: the error quotes the value, which is row data: %v", path, err)
		}
	}
	h.expect(tbl, good)
}

func testHostile(t *testing.T, h *harness) {
	n := len(HostileNames)
	for i, name := range HostileNames {
		tbl := h.table(name, []contract.Column{
			{Name: HostileNames[(i+1)%n], Type: "int"},
			{Name: HostileNames[(i+2)%n], Type: "nvarchar(30)", IsNullable: true, DefaultValue: "default (N'it''s')"},
		})
		h.create(tbl)
		rows := h.values(tbl, nil, []*string{Str("[I:1]"), Str(name)}, []*string{Str("[I:2]"), nil})
		h.do(func(tx dialect.Tx) error {
			if _, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows)); err != nil {
				return err
			}
			upd := h.values(tbl, nil, []*string{Str("[I:2]"), Str("'; DROP TABLE x; --")})
			if _, err := tx.Rows().Upsert(h.ctx, tbl, newSource(upd)); err != nil {
				return err
			}
			_, err := tx.Rows().Delete(h.ctx, tbl, newSource(keys(tbl, rows[:1])))
			return err
		})
		h.expect(tbl, h.values(tbl, nil, []*string{Str("[I:2]"), Str("'; DROP TABLE x; --")}))
		if _, err := h.store.Names().Table(name); err != nil {
			t.Errorf("Names().Table(%q): %v", name, err)
		}
	}
}

func testBadNames(t *testing.T, h *harness) {
	names := h.store.Names()
	for _, bad := range []string{"", strings.Repeat("n", 2000), "nul\x00inside", "bad\xffutf8"} {
		if _, err := names.Table(bad); !errors.Is(err, dialect.ErrBadName) {
			t.Errorf("Names().Table(%q): %v, want ErrBadName", Clip(bad), err)
		}
		tbl := dialect.Table{Name: bad, Columns: []typemap.Column{{Name: "id", Type: typemap.Type{Kind: typemap.Int}}}, Key: []int{0}}
		err := h.try(func(tx dialect.Tx) error { return tx.Tables().Create(h.ctx, tbl) })
		if !errors.Is(err, dialect.ErrBadName) {
			t.Errorf("Create of a table named %s: %v, want ErrBadName", Clip(bad), err)
		}
	}
	long := dialect.Table{Name: "ok", Columns: []typemap.Column{{Name: strings.Repeat("c", 2000), Type: typemap.Type{Kind: typemap.Int}}}, Key: []int{0}}
	if err := h.try(func(tx dialect.Tx) error { return tx.Tables().Create(h.ctx, long) }); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("Create with a 2000-character column name: %v, want ErrBadName", err)
	}
	if lit := names.Literal("it's"); !strings.Contains(lit, "it''s") && !strings.Contains(lit, `it\'s`) {
		t.Errorf("Literal(\"it's\") = %s: the quote is not escaped", lit)
	}
}

func testLock(t *testing.T, h *harness) {
	other := h.open()
	first, err := h.store.Begin(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(h.ctx)
	key := "mirrorsink/" + h.tenant + "/contact"
	if err := first.Lock(h.ctx, key); err != nil {
		t.Fatal(err)
	}
	// lockFrom tries to take key in a transaction of other (as another replica would), waiting at most
	// a moment; beganErr is set when not even the transaction could begin (a database that runs one
	// writing transaction per mirror at a time excludes at Begin).
	lockFrom := func(key string) (beganErr, lockErr error) {
		wait, cancel := context.WithTimeout(h.ctx, 1500*time.Millisecond)
		defer cancel()
		tx, err := other.Begin(wait)
		if err != nil {
			return err, nil
		}
		defer tx.Rollback(h.ctx)
		return nil, tx.Lock(wait, key)
	}
	if beganErr, lockErr := lockFrom(key); beganErr == nil && lockErr == nil {
		t.Fatal("a second transaction took a lock that the first holds")
	}
	// Another key is free, unless the database lets only one transaction of the mirror run at a time.
	if beganErr, lockErr := lockFrom("mirrorsink/" + h.tenant + "/person"); beganErr == nil && lockErr != nil {
		t.Fatalf("another key is not free while the first is held: %v", lockErr)
	}
	// Once the first ends, the lock is free again.
	if err := first.Commit(h.ctx, dialect.Durable); err != nil {
		t.Fatal(err)
	}
	if err := first.Rollback(h.ctx); err != nil {
		t.Fatalf("Rollback after Commit: %v", err)
	}
	if beganErr, lockErr := lockFrom(key); beganErr != nil || lockErr != nil {
		t.Fatalf("the lock after its holder committed: %v", errors.Join(beganErr, lockErr))
	}
}

func testRunStatement(t *testing.T, h *harness) {
	tbl := h.table("hooked", simple())
	h.create(tbl)
	rows := h.values(tbl, nil, simpleRows(1, 3, "h")...)
	tx, err := h.store.Begin(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(h.ctx, dialect.Relaxed); err != nil {
		t.Fatalf("a relaxed commit: %v", err)
	}
	h.expect(tbl, rows)
	q, err := h.store.Names().Table("hooked")
	if err != nil {
		t.Fatal(err)
	}
	name := h.store.Names().Literal("h 2")
	h.do(func(tx dialect.Tx) error {
		return tx.RunStatement(h.ctx, "DELETE FROM "+q+" WHERE name = "+name)
	})
	h.expect(tbl, append(rows[:1:1], rows[2]))
	if err := h.try(func(tx dialect.Tx) error { return tx.RunStatement(h.ctx, "THIS IS NOT SQL") }); err == nil {
		t.Fatal("a statement that is not SQL succeeded")
	}
}

// NoLoss turns the result of TableEditor.Alter, Recreate or Drop into an error, for tests of tables
// that carry nothing of anyone else's: any lost object is one.
func NoLoss(lost []dialect.LostObject, err error) error {
	if err == nil && len(lost) > 0 {
		return fmt.Errorf("lost %v, though nothing but the table was there", lost)
	}
	return err
}

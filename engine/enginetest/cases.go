package enginetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
)

func testCreate(t *testing.T, h *harness) {
	a, b := simple("alpha"), simple("beta")
	got := h.schema(a, b)
	if got["alpha"] != -1 || got["beta"] != -1 {
		t.Fatalf("new tables must answer -1, got %v", got)
	}
	// Unchanged schema: same answer, and no DDL at all.
	h.wipe("alpha")
	h.mustRowData(batch(a, 42, simpleRow(contract.Insert, 1, "one")))
	before := h.eng.Metrics().SchemaWork()
	got = h.schema(a, b)
	if after := h.eng.Metrics().SchemaWork(); after != before {
		t.Fatalf("an unchanged schema caused schema work: %+v → %+v", before, after)
	}
	if got["alpha"] != 42 || got["beta"] != -1 {
		t.Fatalf("unchanged schema must answer the stored LSNs, got %v", got)
	}
	h.compare(a, h.want(a, simpleRow(contract.Insert, 1, "one")))
}

// allTypes is a table with one column of every type of TYPES.md.
func allTypes() contract.TableSchema { return conformance.AllTypes() }

// typeRows are inserts of the shared rows of allTypes.
func typeRows(minYear int) []wireRow {
	var out []wireRow
	for _, r := range conformance.TypeRows(minYear) {
		out = append(out, row(contract.Insert, r...))
	}
	return out
}

func testTypes(t *testing.T, h *harness) {
	ts := allTypes()
	if got := h.schema(ts); got[ts.Name] != -1 {
		t.Fatalf("new table: LSN %d", got[ts.Name])
	}
	h.wipe(ts.Name)
	rows := typeRows(h.caps.MinYear)
	// Bulk path: the table is being repopulated (LSN -1) and the batch only inserts.
	h.mustRowData(batch(ts, 7, rows...))
	h.compare(ts, h.want(ts, rows...))
	if got := h.lsn(ts); got != 7 {
		t.Fatalf("LSN after the batch: %d, want 7", got)
	}
	// Staging path: the same rows as updates of a table that is not being repopulated.
	upd := make([]wireRow, len(rows))
	for i, r := range rows {
		upd[i] = wireRow{op: contract.Update, values: r.values}
	}
	upd[0].values = append([]*string(nil), upd[0].values...)
	upd[0].values[21] = str("changed ✓")
	h.mustRowData(batch(ts, 8, upd...))
	h.compare(ts, h.want(ts, upd...))
	if h.caps.MinYear > 1 {
		bad := append([]*string(nil), rows[1].values...)
		bad[0] = str("[I:99]")
		bad[12] = str(fmt.Sprintf("[DT:01/01/%04d 00:00:00.0000000]", h.caps.MinYear-1))
		err := h.rowData(batch(ts, 9, row(contract.Insert, bad...)))
		expectError(t, err, "all_types", "c_date")
		h.compare(ts, h.want(ts, upd...))
	}
}

func testUpsertDelete(t *testing.T, h *harness) {
	ts := simple("things")
	h.schema(ts)
	h.wipe(ts.Name)
	var initial []wireRow
	for i := 1; i <= 50; i++ {
		initial = append(initial, simpleRow(contract.Insert, i, fmt.Sprintf("row %d", i)))
	}
	h.mustRowData(batch(ts, 100, initial...))
	changes := []wireRow{
		simpleRow(contract.Update, 3, "three, updated"),
		simpleRow(contract.Insert, 51, "fifty-one"),
		simpleRow(contract.Update, 52, "an update of an unknown key inserts it"),
		row(contract.Delete, str("[I:4]")),     // key only
		simpleRow(contract.Delete, 5, "row 5"), // every column
		row(contract.Delete, str("[I:999]")),   // unknown key: nothing to do
		simpleRow(contract.Update, 6, "six"),
	}
	h.mustRowData(batch(ts, 101, changes...))
	h.compare(ts, h.want(ts, append(append([]wireRow{}, initial...), changes...)...))
	if got := h.lsn(ts); got != 101 {
		t.Fatalf("LSN %d, want 101", got)
	}
	// A batch without a valid LSN leaves the stored one alone.
	h.mustRowData(batch(ts, 0, simpleRow(contract.Update, 7, "seven")))
	if got := h.lsn(ts); got != 101 {
		t.Fatalf("a batch with LSN 0 changed the stored LSN to %d", got)
	}
	// The same key twice in one batch: the last row wins.
	h.mustRowData(batch(ts, 102, simpleRow(contract.Update, 8, "first"), simpleRow(contract.Update, 8, "last"), simpleRow(contract.Insert, 9, "gone"), row(contract.Delete, str("[I:9]"))))
	all := append(append(append([]wireRow{}, initial...), changes...), simpleRow(contract.Update, 7, "seven"), simpleRow(contract.Update, 8, "last"), row(contract.Delete, str("[I:9]")))
	h.compare(ts, h.want(ts, all...))
}

func testResend(t *testing.T, h *harness) {
	ts := simple("resent")
	h.schema(ts)
	h.wipe(ts.Name)
	first := []wireRow{simpleRow(contract.Insert, 1, "a"), simpleRow(contract.Insert, 2, "b")}
	h.mustRowData(batch(ts, 10, first...))
	second := []wireRow{simpleRow(contract.Update, 1, "a2"), row(contract.Delete, str("[I:2]")), simpleRow(contract.Insert, 3, "c")}
	h.mustRowData(batch(ts, 11, second...))
	want := h.want(ts, append(append([]wireRow{}, first...), second...)...)
	h.compare(ts, want)
	h.mustRowData(batch(ts, 11, second...))
	h.compare(ts, want)
	if got := h.lsn(ts); got != 11 {
		t.Fatalf("LSN %d after a resend, want 11", got)
	}
}

func testBulkFallback(t *testing.T, h *harness) {
	ts := simple("repopulated")
	h.schema(ts)
	h.wipe(ts.Name)
	rows := []wireRow{simpleRow(contract.Insert, 1, "a"), simpleRow(contract.Insert, 2, "b")}
	h.mustRowData(batch(ts, 0, rows...))
	// The same batch again, while the table is still being repopulated (LSN -1): the bulk path meets
	// existing keys and must fall back to upserts, without an error.
	again := []wireRow{simpleRow(contract.Insert, 2, "b2"), simpleRow(contract.Insert, 3, "c")}
	h.mustRowData(batch(ts, 5, again...))
	h.compare(ts, h.want(ts, append(append([]wireRow{}, rows...), again...)...))
	if got := h.lsn(ts); got != 5 {
		t.Fatalf("LSN %d, want 5", got)
	}
}

func testAtomicity(t *testing.T, h *harness) {
	ts := simple("atomic")
	h.schema(ts)
	h.wipe(ts.Name)
	base := []wireRow{simpleRow(contract.Insert, 1, "a"), simpleRow(contract.Insert, 2, "b")}
	h.mustRowData(batch(ts, 20, base...))
	want := h.want(ts, base...)

	// A bad value in the last row of a bulk batch: nothing of the batch, and not its LSN, is committed.
	h.wipe(ts.Name)
	h.mustRowData(batch(ts, 0, base...))
	bad := []wireRow{simpleRow(contract.Insert, 3, "c"), simpleRow(contract.Insert, 4, "d"), row(contract.Insert, str("[I:5]"), str("e"), str("[F:1]"), str("[DT:13/45/2020 00:00:00]"))}
	err := h.rowData(batch(ts, 21, bad...))
	expectError(t, err, `"atomic"`, `"updated"`, "row 3")
	h.compare(ts, want)
	if got := h.lsn(ts); got != -1 {
		t.Fatalf("LSN moved to %d by a failed batch", got)
	}

	// The same through the staging path, with a value too long for its column.
	h.mustRowData(batch(ts, 22, simpleRow(contract.Update, 1, "a")))
	bad = []wireRow{simpleRow(contract.Update, 1, "changed"), simpleRow(contract.Update, 2, strings.Repeat("x", 51))}
	err = h.rowData(batch(ts, 23, bad...))
	expectError(t, err, `"atomic"`, `"name"`, "row 2")
	h.compare(ts, want)
	if got := h.lsn(ts); got != 22 {
		t.Fatalf("LSN %d after a failed batch, want 22", got)
	}

	// The transaction killed mid-batch (the call's context cancelled while rows stream in).
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	var many []wireRow
	for i := 100; i < 400; i++ {
		many = append(many, simpleRow(contract.Update, i, "never"))
	}
	rows := newRows(many)
	rows.onRow = func(i int) {
		if i == 150 {
			cancel()
		}
	}
	err = h.eng.RowData(ctx, h.call(), &memBatches{batches: []*contract.Batch{{Table: ts, LSN: 24, Rows: rows}}})
	if err == nil {
		t.Fatal("a batch whose context was cancelled mid-way succeeded")
	}
	h.compare(ts, want)
	if got := h.lsn(ts); got != 22 {
		t.Fatalf("LSN %d after a killed batch, want 22", got)
	}

	// A batch whose TableInfo does not match the accepted schema fails the call.
	other := simple("atomic")
	other.Columns[1].Type = "int"
	expectError(t, h.rowData(batch(other, 25, simpleRow(contract.Update, 1, "[I:1]"))), `"atomic"`, "name")
	// Only defaults and nullability differ: accepted.
	relaxed := simple("atomic")
	relaxed.Columns[2].DefaultValue = ""
	relaxed.Columns[1].IsNullable = false
	h.mustRowData(batch(relaxed, 26, simpleRow(contract.Update, 1, "a")))
}

func testWipe(t *testing.T, h *harness) {
	ts := simple("wiped")
	h.schema(ts)
	h.wipe(ts.Name)
	h.mustRowData(batch(ts, 30, simpleRow(contract.Insert, 1, "a")))
	h.wipe(ts.Name)
	h.compare(ts, nil)
	if got := h.lsn(ts); got != -1 {
		t.Fatalf("LSN %d after Wipe, want -1", got)
	}
	expectError(t, h.eng.Wipe(h.ctx, h.call(), "no_such_table"), "no_such_table")
}

func testEvolve(t *testing.T, h *harness) {
	ts := simple("evolving")
	h.schema(ts)
	h.wipe(ts.Name)
	rows := []wireRow{simpleRow(contract.Insert, 1, "a"), simpleRow(contract.Insert, 2, "b")}
	h.mustRowData(batch(ts, 40, rows...))

	// In place: add a column, widen one, relax nullability, change a default. The data and the LSN stay.
	evolved := simple("evolving")
	evolved.Columns[1].Type = "nvarchar(100)"
	evolved.Columns[3].IsNullable = true
	evolved.Columns[2].DefaultValue = "default ((1))"
	evolved.Columns = append(evolved.Columns, contract.Column{Name: "note", Type: "nvarchar(max)", IsNullable: true})
	got := h.schema(evolved)
	if got["evolving"] != 40 && got["evolving"] != -1 {
		t.Fatalf("evolve answered %d", got["evolving"])
	}
	inPlace := got["evolving"] == 40
	withNote := func(rs []wireRow, note *string) []wireRow {
		out := make([]wireRow, len(rs))
		for i, r := range rs {
			out[i] = wireRow{op: r.op, values: append(append([]*string{}, r.values...), note)}
		}
		return out
	}
	if inPlace {
		h.compare(evolved, h.want(evolved, withNote(rows, nil)...))
	} else {
		t.Logf("%s recreated the table for an in-place change", h.tgt.Dialect)
		h.wipe("evolving")
		h.mustRowData(batch(evolved, 40, withNote(rows, nil)...))
	}
	more := withNote([]wireRow{simpleRow(contract.Insert, 3, strings.Repeat("w", 90))}, str("a note"))
	h.mustRowData(batch(evolved, 41, more...))
	h.compare(evolved, h.want(evolved, append(withNote(rows, nil), more...)...))

	// Drop a column in place.
	dropped := evolved
	dropped.Columns = append([]contract.Column{}, evolved.Columns[:1]...)
	dropped.Columns = append(dropped.Columns, evolved.Columns[2:]...)
	got = h.schema(dropped)
	if got["evolving"] == 41 {
		var want []wireRow
		for _, r := range append(withNote(rows, nil), more...) {
			want = append(want, wireRow{op: r.op, values: append([]*string{r.values[0]}, r.values[2:]...)})
		}
		h.compare(dropped, h.want(dropped, want...))
	} else if got["evolving"] != -1 {
		t.Fatalf("drop column answered %d", got["evolving"])
	}

	// Incompatible: a text column becomes an int. The table is recreated empty and answers -1.
	incompatible := contract.TableSchema{Name: "evolving", Columns: []contract.Column{{Name: "id", Type: "int"}, {Name: "amount", Type: "int", IsNullable: true}}}
	got = h.schema(incompatible)
	if got["evolving"] != -1 {
		t.Fatalf("an incompatible change answered %d, want -1", got["evolving"])
	}
	h.compare(incompatible, nil)
	h.wipe("evolving")
	h.mustRowData(batch(incompatible, 50, row(contract.Insert, str("[I:1]"), str("[I:7]"))))
	h.compare(incompatible, h.want(incompatible, row(contract.Insert, str("[I:1]"), str("[I:7]"))))
}

func testDroppedTable(t *testing.T, h *harness) {
	keep, gone := simple("kept"), simple("gone")
	h.schema(keep, gone)
	h.wipe("gone")
	h.mustRowData(batch(gone, 3, simpleRow(contract.Insert, 1, "x")))
	h.schema(keep)
	st, err := h.eng.Status(h.ctx, h.tenant)
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range st.Tables {
		if ts.Table == "gone" {
			t.Fatal("a table absent from TableSchema is still in the metadata")
		}
	}
	tx, err := h.store.Begin(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	exists, err := tx.Tables().Exists(h.ctx, "gone")
	tx.Rollback(h.ctx)
	if err != nil || exists {
		t.Fatalf("a table absent from TableSchema still exists (err %v)", err)
	}
	// It comes back new.
	if got := h.schema(keep, gone); got["gone"] != -1 {
		t.Fatalf("re-added table answered %d", got["gone"])
	}
}

func testHostile(t *testing.T, h *harness) {
	var tables []contract.TableSchema
	for i, name := range conformance.HostileNames {
		tables = append(tables, contract.TableSchema{Name: name, Columns: []contract.Column{
			{Name: conformance.HostileNames[(i+1)%len(conformance.HostileNames)], Type: "int"},
			{Name: conformance.HostileNames[(i+2)%len(conformance.HostileNames)], Type: "nvarchar(20)", IsNullable: true, DefaultValue: "default (N'it''s')"},
		}})
	}
	for name, lsn := range h.schema(tables...) {
		if lsn != -1 {
			t.Fatalf("%q answered %d", name, lsn)
		}
	}
	for i, ts := range tables {
		h.wipe(ts.Name)
		rows := []wireRow{row(contract.Insert, str("[I:1]"), str(ts.Name)), row(contract.Insert, str("[I:2]"), nil)}
		h.mustRowData(batch(ts, int64(i+1), rows...))
		h.mustRowData(batch(ts, int64(i+100), row(contract.Update, str("[I:2]"), str("'; DROP TABLE x; --")), row(contract.Delete, str("[I:1]"))))
		h.compare(ts, [][]string{{"2", "'; DROP TABLE x; --"}})
	}
	// A name longer than any target allows is refused with a clear message, never truncated.
	long := simple(strings.Repeat("n", 2000))
	_, err := h.eng.TableSchema(h.ctx, h.call(), append(tables, long))
	expectError(t, err, "nnnn")
	if !errors.Is(err, dialect.ErrBadName) {
		t.Fatalf("the error for an over-long name is not ErrBadName: %v", err)
	}
}

func testStatusResync(t *testing.T, h *harness) {
	ts := simple("watched")
	h.schema(ts)
	h.wipe(ts.Name)
	h.mustRowData(batch(ts, 60, simpleRow(contract.Insert, 1, "a"), simpleRow(contract.Insert, 2, "b")))
	if err := h.eng.ReplicationCompleted(h.ctx, h.call(), []contract.Summary{{Table: "watched", Inserts: 2}}); err != nil {
		t.Fatal(err)
	}
	st, err := h.eng.Status(h.ctx, h.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tables) != 1 || st.Tables[0].LSN != 60 || st.Tables[0].Rows != 2 || st.Tables[0].LastApplied == nil {
		t.Fatalf("status %+v", st.Tables)
	}
	if st.LastCycle == nil || st.LastCycle.Inserts != 2 || st.LastCycle.Tables != 1 {
		t.Fatalf("last cycle %+v", st.LastCycle)
	}
	n, err := h.eng.Resync(h.ctx, h.tenant, "watched")
	if err != nil || n != 1 {
		t.Fatalf("resync: %d, %v", n, err)
	}
	if got := h.lsn(ts); got != -1 {
		t.Fatalf("LSN %d after resync, want -1", got)
	}
	if _, err := h.eng.Resync(h.ctx, h.tenant, "nope"); err == nil {
		t.Fatal("resync of an unknown table succeeded")
	}
}

func testParallel(t *testing.T, h *harness) {
	const n = 6
	var tables []contract.TableSchema
	for i := range n {
		tables = append(tables, simple(fmt.Sprintf("par%d", i)))
	}
	h.schema(tables...)
	for _, ts := range tables {
		h.wipe(ts.Name)
	}
	err := parallelCalls(n*2, func(i int) error {
		ts := tables[i%n]
		var rows []wireRow
		for k := range 200 {
			rows = append(rows, simpleRow(contract.Update, i/n*1000+k, "p"))
		}
		return h.rowData(batch(ts, int64(70+i/n), rows...))
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range tables {
		if got := len(h.read(ts)); got != 400 {
			t.Fatalf("%s: %d rows, want 400", ts.Name, got)
		}
	}
}

// testKeyPrecision sends two keys 100 ns apart in a datetime2(7) key column. A target that keeps
// microseconds stores them as one key: the later row wins, through the bulk path and the staging path
// alike, and the batch does not fail (ON CONFLICT would refuse to touch one row twice).
func testKeyPrecision(t *testing.T, h *harness) {
	ts := contract.TableSchema{Name: "ticks", Columns: []contract.Column{{Name: "at", Type: "datetime2(7)"}, {Name: "v", Type: "nvarchar(10)", IsNullable: true}}}
	h.schema(ts)
	a := row(contract.Insert, str("[DT:05/18/2020 10:40:43.1234560]"), str("first"))
	b := row(contract.Insert, str("[DT:05/18/2020 10:40:43.1234561]"), str("second"))
	for _, op := range []contract.Operation{contract.Insert, contract.Update} {
		h.wipe(ts.Name)
		a.op, b.op = op, op
		h.mustRowData(batch(ts, 5, a, b))
		got := h.read(ts)
		want := 2
		if h.caps.TimeDigits == 6 {
			want = 1
		}
		if len(got) != want {
			t.Fatalf("%s rows: %d in the mirror, want %d: %v", op, len(got), want, got)
		}
		if want == 1 && got[0][1] != "second" {
			t.Fatalf("%s rows: the mirror kept %q, want the later row", op, got[0][1])
		}
	}
}

// testEqualKeysDeleteThenInsert: a batch deletes a key and inserts another that the database may
// compare as the same key (one instant at two offsets: PostgreSQL, MySQL and SQL Server compare the
// instant). The source ends with the inserted row, and so must the mirror: deletes are applied before
// upserts.
func testEqualKeysDeleteThenInsert(t *testing.T, h *harness) {
	ts := contract.TableSchema{Name: "instants", Columns: []contract.Column{{Name: "at", Type: "datetimeoffset(7)"}, {Name: "v", Type: "nvarchar(10)", IsNullable: true}}}
	h.schema(ts)
	h.wipe(ts.Name)
	first := row(contract.Insert, str("[DT:05/18/2020 10:00:00.0000000 +01:00]"), str("first"))
	h.mustRowData(batch(ts, 5, first))
	del := row(contract.Delete, str("[DT:05/18/2020 10:00:00.0000000 +01:00]"))
	again := row(contract.Insert, str("[DT:05/18/2020 11:00:00.0000000 +02:00]"), str("again"))
	h.mustRowData(batch(ts, 6, del, again))
	got := h.read(ts)
	if len(got) != 1 || got[0][1] != "again" {
		t.Fatalf("after deleting a key and inserting the same instant at another offset: %v, want the inserted row", got)
	}
}

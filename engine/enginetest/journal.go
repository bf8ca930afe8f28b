package enginetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/engine"
)

// journaled is an engine with the change journal on, over the harness's mirror, its clock in the
// test's hands.
type journaled struct {
	h   *harness
	eng *engine.Engine
	now time.Time
	// seen is the sequence number of the last entry read.
	seen int64
}

func (h *harness) journaled(keep dialect.JournalRetention) *journaled {
	j := &journaled{h: h, now: time.Date(2026, 5, 18, 10, 0, 0, 0, time.UTC)}
	route := h.route
	route.Journal, route.JournalKeep = true, keep
	j.eng = h.engine(func(o *engine.Options) {
		o.Tenants[h.tenant] = route
		o.Now = func() time.Time { return j.now }
	})
	return j
}

// entry is what a test expects of a journal entry.
type entry struct {
	table string
	op    dialect.JournalOp
	key   string // JSON; "" for a wipe
	lsn   int64
}

func (e entry) String() string { return fmt.Sprintf("%s %c %s lsn %d", e.table, e.op, e.key, e.lsn) }

// expect reads the entries after the last ones read and compares them with want, in order, or as a
// set where unordered (tables reconciled in parallel).
func (j *journaled) expect(what string, unordered bool, want ...entry) []dialect.JournalEntry {
	j.h.t.Helper()
	var got []dialect.JournalEntry
	j.h.inTx(func(tx dialect.Tx) error {
		return tx.Meta().ReadJournal(j.h.ctx, j.seen, 0, func(e dialect.JournalEntry) error {
			got = append(got, e)
			return nil
		})
	})
	describe := func() string {
		var b strings.Builder
		for _, e := range got {
			fmt.Fprintf(&b, "\n  %d %s", e.Seq, entry{e.Table, e.Op, e.Key, e.LSN})
		}
		return b.String()
	}
	if len(got) != len(want) {
		j.h.t.Fatalf("%s: %d journal entries, want %d %v; got:%s", what, len(got), len(want), want, describe())
	}
	used := make([]bool, len(want))
	for i, e := range got {
		if e.Seq != j.seen+int64(i)+1 {
			j.h.t.Fatalf("%s: entry %d has seq %d, want %d (no gaps)", what, i, e.Seq, j.seen+int64(i)+1)
		}
		if !e.At.Equal(j.now) {
			j.h.t.Fatalf("%s: entry %d applied at %s, want %s", what, i, e.At, j.now)
		}
		match := func(w entry) bool {
			return e.Table == w.table && e.Op == w.op && e.LSN == w.lsn &&
				(w.key == "" && e.Key == "" || w.key != "" && conformance.SameJSON(e.Key, w.key))
		}
		found := false
		for k, w := range want {
			if !used[k] && (k == i || unordered) && match(w) {
				used[k], found = true, true
				break
			}
		}
		if !found {
			j.h.t.Fatalf("%s: unexpected entry %d %s; want %v; got:%s", what, e.Seq, entry{e.Table, e.Op, e.Key, e.LSN}, want, describe())
		}
	}
	if len(got) > 0 {
		j.seen = got[len(got)-1].Seq
	}
	return got
}

func (j *journaled) rowData(batches contract.Batches) error {
	return j.eng.RowData(j.h.ctx, j.h.call(), batches)
}

func ins(table string, ids ...int) []entry {
	var out []entry
	for _, id := range ids {
		out = append(out, entry{table, dialect.JournalInsert, fmt.Sprintf("[%d]", id), 0})
	}
	return out
}

// testJournal runs the change journal through every path that changes a mirrored table: tables
// created and dropped, Wipe, a repopulation loaded while it arrives and one read whole, upserts and
// deletes (superseded rows left out, deletes first as applied), a failed batch (nothing journaled),
// a recreate, the cycle's id, and retention by count after a cycle.
func testJournal(t *testing.T, h *harness) {
	j := h.journaled(dialect.JournalRetention{})
	ctx, call := h.ctx, h.call()
	ts, gone := simple("journaled"), simple("gone")
	if _, err := j.eng.TableSchema(ctx, call, []contract.TableSchema{ts, gone}); err != nil {
		t.Fatal(err)
	}
	j.expect("tables created", true, entry{"journaled", dialect.JournalWipe, "", 0}, entry{"gone", dialect.JournalWipe, "", 0})
	if err := j.eng.Wipe(ctx, call, ts.Name); err != nil {
		t.Fatal(err)
	}
	j.expect("wipe", false, entry{"journaled", dialect.JournalWipe, "", 0})

	// The repopulation: a batch loaded while it arrives (the guess after the Wipe), then one read
	// whole through the bulk path.
	streamedBefore, _ := j.eng.Metrics().Streaming()
	if err := j.rowData(&memBatches{batches: []*contract.Batch{batch(ts, 0, inserts(1, 3, "a")...)}}); err != nil {
		t.Fatal(err)
	}
	if streamed, _ := j.eng.Metrics().Streaming(); streamed != streamedBefore+1 {
		t.Fatalf("the batch after the wipe was not loaded while it arrived (%d streamed)", streamed-streamedBefore)
	}
	j.expect("a batch loaded while it arrived", false, ins("journaled", 1, 2, 3)...)
	if err := j.rowData(wholeBatches{&memBatches{batches: []*contract.Batch{batch(ts, 30, inserts(4, 5, "a")...)}}}); err != nil {
		t.Fatal(err)
	}
	want := ins("journaled", 4, 5)
	for i := range want {
		want[i].lsn = 30
	}
	j.expect("a bulk batch read whole", false, want...)

	// Upserts and deletes: deletes first, then inserts and updates in the batch's order; a row
	// superseded in its batch is not journaled.
	changes := []wireRow{
		simpleRow(contract.Update, 2, "two"),
		simpleRow(contract.Delete, 3, "three"),
		simpleRow(contract.Insert, 6, "six"),
		simpleRow(contract.Update, 7, "first"),
		row(contract.Delete, str("[I:4]")),
		simpleRow(contract.Update, 7, "last"),
	}
	if err := j.rowData(wholeBatches{&memBatches{batches: []*contract.Batch{batch(ts, 31, changes...)}}}); err != nil {
		t.Fatal(err)
	}
	j.expect("upserts and deletes", false,
		entry{"journaled", dialect.JournalDelete, "[3]", 31}, entry{"journaled", dialect.JournalDelete, "[4]", 31},
		entry{"journaled", dialect.JournalUpdate, "[2]", 31}, entry{"journaled", dialect.JournalInsert, "[6]", 31},
		entry{"journaled", dialect.JournalUpdate, "[7]", 31})
	all := concat(inserts(1, 5, "a"), changes)
	h.compare(ts, h.want(ts, all...))

	// A batch that fails on a value too long for its column: neither rows nor entries.
	bad := []wireRow{simpleRow(contract.Update, 1, "changed"), row(contract.Delete, str("[I:2]")), simpleRow(contract.Update, 5, strings.Repeat("x", 51))}
	err := j.rowData(wholeBatches{&memBatches{batches: []*contract.Batch{batch(ts, 32, bad...)}}})
	expectError(t, err, `"journaled"`, `"name"`)
	j.expect("a failed batch", false)
	h.compare(ts, h.want(ts, all...))

	// A cycle: later entries name it.
	if err := j.eng.ReplicationCompleted(ctx, call, nil); err != nil {
		t.Fatal(err)
	}
	cycle := j.now.UnixNano()
	j.now = j.now.Add(time.Minute)
	if err := j.rowData(wholeBatches{&memBatches{batches: []*contract.Batch{batch(ts, 33, simpleRow(contract.Update, 1, "after"))}}}); err != nil {
		t.Fatal(err)
	}
	if got := j.expect("after a cycle", false, entry{"journaled", dialect.JournalUpdate, "[1]", 33}); got[0].AfterCycle != cycle {
		t.Fatalf("the entry's cycle is %d, want %d (the cycle recorded before it)", got[0].AfterCycle, cycle)
	}

	// A table the source dropped, one whose rows go for a change of a column's type, one created with
	// a text key.
	retyped := simple("journaled")
	retyped.Columns[2].Type = "nvarchar(20)"
	texts := simple("texts")
	texts.Columns[0].Type = "nvarchar(40)"
	if _, err := j.eng.TableSchema(ctx, call, []contract.TableSchema{retyped, texts}); err != nil {
		t.Fatal(err)
	}
	j.expect("a table dropped, one emptied by a schema change, one created", true, entry{"gone", dialect.JournalWipe, "", 0},
		entry{"journaled", dialect.JournalWipe, "", 0}, entry{"texts", dialect.JournalWipe, "", 0})
	if n, err := h.count(ts.Name); err != nil || n != 0 {
		t.Fatalf("the table emptied by its schema change holds %d rows (%v)", n, err)
	}
	if err := j.eng.Wipe(ctx, call, texts.Name); err != nil {
		t.Fatal(err)
	}
	text := row(contract.Insert, str(`a "quoted" key ✓`), str("x"), str("[F:1]"), str("[DT:05/18/2020 10:40:43.0000000]"))
	if err := j.rowData(wholeBatches{&memBatches{batches: []*contract.Batch{batch(texts, 40, text)}}}); err != nil {
		t.Fatal(err)
	}
	j.expect("a text key", false, entry{"texts", dialect.JournalWipe, "", 0}, entry{"texts", dialect.JournalInsert, `["a \"quoted\" key ✓"]`, 40})

	// Retention by count, applied after a cycle.
	pruning := h.journaled(dialect.JournalRetention{MaxEntries: 2})
	pruning.now = j.now
	if err := pruning.eng.ReplicationCompleted(ctx, call, nil); err != nil {
		t.Fatal(err)
	}
	var left []int64
	h.inTx(func(tx dialect.Tx) error {
		return tx.Meta().ReadJournal(context.WithoutCancel(ctx), 0, 0, func(e dialect.JournalEntry) error {
			left = append(left, e.Seq)
			return nil
		})
	})
	if len(left) != 2 || left[1] != j.seen {
		t.Fatalf("after pruning to 2 entries the journal holds %v, want the last two up to %d", left, j.seen)
	}
}

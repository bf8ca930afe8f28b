package enginetest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/engine"
)

// rowDataStreamed sends one RowData call whose batches the engine may stream, and returns how it read
// them.
func (h *harness) rowDataStreamed(batches ...*contract.Batch) (*memBatches, error) {
	m := &memBatches{batches: batches}
	return m, h.eng.RowData(h.ctx, h.call(), m)
}

// rowDataWhole sends one RowData call whose batches can only be read whole.
func (h *harness) rowDataWhole(batches ...*contract.Batch) error {
	return h.eng.RowData(h.ctx, h.call(), wholeBatches{&memBatches{batches: batches}})
}

func inserts(from, to int, name string) []wireRow {
	var out []wireRow
	for i := from; i <= to; i++ {
		out = append(out, simpleRow(contract.Insert, i, fmt.Sprintf("%s %d", name, i)))
	}
	return out
}

func concat(parts ...[]wireRow) []wireRow {
	var out []wireRow
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// testStreaming: during a repopulation, the engine loads a batch while it arrives, into the table it
// guesses from the tenant's previous calls; when the guess is wrong, or the batch is not what the
// bulk path can load, nothing changes but the time it takes: the outcome and any error are those of
// the batch read whole.
func testStreaming(t *testing.T, h *harness) {
	a, b := simple("streamed"), simple("other")
	h.schema(a, b)
	metrics := h.eng.Metrics()
	expect := func(what string, streamed, missed int64) {
		t.Helper()
		s, m := metrics.Streaming()
		if s != streamed || m != missed {
			t.Fatalf("%s: %d batches streamed and %d guesses missed, want %d and %d", what, s, m, streamed, missed)
		}
	}
	loadedWhileArriving := func(what string, m *memBatches, rows int) {
		t.Helper()
		if len(m.streamed) != 1 || m.streamed[0] != rows {
			t.Fatalf("%s: the engine read %v rows from the stream before asking for the whole batch, want all %d", what, m.streamed, rows)
		}
	}

	// After Wipe, the table's batches are loaded while they arrive, one call after the other.
	h.wipe(a.Name)
	first, second := inserts(1, 40, "first"), inserts(41, 80, "second")
	m, err := h.rowDataStreamed(batch(a, 0, first...))
	if err != nil {
		t.Fatal(err)
	}
	loadedWhileArriving("the first batch after Wipe", m, len(first))
	if m, err = h.rowDataStreamed(batch(a, 0, second...)); err != nil {
		t.Fatal(err)
	}
	loadedWhileArriving("the next batch of the same table", m, len(second))
	expect("two batches of the table being repopulated", 2, 0)
	h.compare(a, h.want(a, concat(first, second)...))

	// Another table's batch: the load into the guessed table is rolled back, the batch applied where
	// it belongs.
	others := inserts(1, 10, "other")
	if _, err := h.rowDataStreamed(batch(b, 0, others...)); err != nil {
		t.Fatal(err)
	}
	expect("a batch of another table", 2, 1)
	h.compare(a, h.want(a, concat(first, second)...))
	h.compare(b, h.want(b, others...))

	// A batch that is not only inserts (the guess is now the other table, which that batch loaded):
	// the load stops at the update, and the batch is applied through the staging path.
	mixed := []wireRow{simpleRow(contract.Insert, 11, "eleven"), simpleRow(contract.Update, 1, "one, changed"), simpleRow(contract.Insert, 12, "twelve")}
	if _, err := h.rowDataStreamed(batch(b, 0, mixed...)); err != nil {
		t.Fatal(err)
	}
	expect("a batch with an update", 2, 2)
	h.compare(b, h.want(b, concat(others, mixed)...))

	// A TableInfo that does not match the accepted schema fails the call as it fails a batch read
	// whole, and nothing of the batch is kept.
	h.wipe(a.Name)
	wrong := simple(a.Name)
	wrong.Columns[1].Type = "int"
	streamedErr := func() error {
		_, err := h.rowDataStreamed(batch(wrong, 0, simpleRow(contract.Insert, 1, "[I:1]")))
		return err
	}()
	wholeErr := h.rowDataWhole(batch(wrong, 0, simpleRow(contract.Insert, 1, "[I:1]")))
	if streamedErr == nil || wholeErr == nil || streamedErr.Error() != wholeErr.Error() {
		t.Fatalf("a TableInfo that does not match: %v streamed, %v read whole; want the same error", streamedErr, wholeErr)
	}
	h.compare(a, nil)

	// So does a value that does not fit its column.
	h.wipe(a.Name)
	bad := []wireRow{simpleRow(contract.Insert, 1, "fits"), simpleRow(contract.Insert, 2, strings.Repeat("x", 51))}
	streamedErr = func() error { _, err := h.rowDataStreamed(batch(a, 0, bad...)); return err }()
	wholeErr = h.rowDataWhole(batch(a, 0, bad...))
	if streamedErr == nil || wholeErr == nil || streamedErr.Error() != wholeErr.Error() {
		t.Fatalf("a value that does not fit: %v streamed, %v read whole; want the same error", streamedErr, wholeErr)
	}
	expectError(t, streamedErr, `"streamed"`, `"name"`, "row 2")
	h.compare(a, nil)

	// Where the target holds less than the wire (MySQL's first year), a value that does not fit it
	// before a value that does not decode: the error is the one of the batch read whole, which decodes
	// a row before it encodes any of it.
	if h.caps.MinYear > 1 {
		ts := allTypes()
		h.schema(a, b, ts)
		h.wipe(ts.Name)
		row := append([]*string(nil), conformance.TypeRows(h.caps.MinYear)[0]...)
		row[12] = str(fmt.Sprintf("[DT:01/01/%04d 00:00:00.0000000]", h.caps.MinYear-1)) // c_date: does not fit
		row[20] = str("[I:1]")                                                           // c_nvarchar: decodes
		row[4] = str("[I:x]")                                                            // c_int: does not decode
		streamedErr = func() error {
			_, err := h.rowDataStreamed(batch(ts, 0, wireRow{op: contract.Insert, values: row}))
			return err
		}()
		wholeErr = h.rowDataWhole(batch(ts, 0, wireRow{op: contract.Insert, values: row}))
		if streamedErr == nil || wholeErr == nil || streamedErr.Error() != wholeErr.Error() {
			t.Fatalf("a value that does not fit before one that does not decode: %v streamed, %v read whole; want the same error", streamedErr, wholeErr)
		}
		expectError(t, streamedErr, `"c_int"`)
		h.schema(a, b)
	}

	// A batch sent again (its keys already loaded): the load fails on the duplicate key, and the
	// batch is applied as upserts.
	h.wipe(a.Name)
	if _, err := h.rowDataStreamed(batch(a, 0, inserts(1, 3, "first")...)); err != nil {
		t.Fatal(err)
	}
	again := []wireRow{simpleRow(contract.Insert, 3, "three again"), simpleRow(contract.Insert, 4, "four")}
	if _, err := h.rowDataStreamed(batch(a, 0, again...)); err != nil {
		t.Fatal(err)
	}
	h.compare(a, h.want(a, concat(inserts(1, 3, "first"), again)...))

	// A request that cannot be decoded to its end fails the call, and nothing of the batch is kept.
	h.wipe(a.Name)
	cut := newRows(inserts(1, 20, "cut"))
	cut.failAt, cut.failErr = 10, errors.New("malformed XML at offset 12345")
	err = h.eng.RowData(h.ctx, h.call(), &memBatches{batches: []*contract.Batch{{Table: a, Rows: cut}}})
	expectError(t, err, "malformed XML")
	h.compare(a, nil)

	// The batch that stores the LSN completes the repopulation; the next batch is not guessed. (A
	// failed call forgets the guess: Wipe again.)
	h.wipe(a.Name)
	last := inserts(1, 5, "last")
	if m, err = h.rowDataStreamed(batch(a, 9, last...)); err != nil {
		t.Fatal(err)
	}
	loadedWhileArriving("the last batch of a repopulation", m, len(last))
	if m, err = h.rowDataStreamed(batch(a, 10, simpleRow(contract.Update, 5, "five, changed"))); err != nil {
		t.Fatal(err)
	}
	if len(m.streamed) != 1 || m.streamed[0] != -1 {
		t.Fatalf("the batch after a completed repopulation was streamed (%v): nothing suggested its table", m.streamed)
	}
	h.compare(a, h.want(a, concat(last, []wireRow{simpleRow(contract.Update, 5, "five, changed")})...))

	// A table that another replica has repopulated meanwhile is not being repopulated any more: the
	// guess does not hold, and the batch goes through the staging path.
	other, err := engine.New(engine.Options{
		Tenants: map[string]engine.Route{h.tenant: h.route},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	h.wipe(a.Name)
	done := inserts(1, 3, "replica")
	if err := other.RowData(h.ctx, h.call(), &memBatches{batches: []*contract.Batch{batch(a, 11, done...)}}); err != nil {
		t.Fatal(err)
	}
	_, missedBefore := metrics.Streaming()
	late := []wireRow{simpleRow(contract.Insert, 3, "late"), simpleRow(contract.Insert, 4, "four")}
	if _, err := h.rowDataStreamed(batch(a, 0, late...)); err != nil {
		t.Fatal(err)
	}
	if _, missed := metrics.Streaming(); missed != missedBefore+1 {
		t.Fatalf("a guess of a table no longer being repopulated did not miss")
	}
	h.compare(a, h.want(a, concat(done, late)...))
	if got := h.lsn(a); got != 11 {
		t.Fatalf("LSN %d, want 11", got)
	}
}

package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// wireSource is a dialect.RawRowSource over wire text held in memory (nil for NULL), decoded for Values
// with the columns' decoders: the engine's form of rows, which the dialect writes with its raw
// encoders.
type wireSource struct {
	cols []typemap.Column
	rows [][]*string
	pos  int
	vals []any
	wire []dialect.WireValue
}

func newWireSource(cols []typemap.Column, rows [][]*string) *wireSource {
	return &wireSource{cols: cols, rows: rows, pos: -1}
}

func (s *wireSource) Next() bool {
	s.pos++
	return s.pos < len(s.rows)
}

func (s *wireSource) Err() error { return nil }

func (s *wireSource) Values() ([]any, error) {
	s.vals = s.vals[:0]
	for i, v := range s.rows[s.pos] {
		if v == nil {
			s.vals = append(s.vals, nil)
			continue
		}
		x, err := typemap.DecoderFor(s.cols[i].Type)([]byte(*v))
		if err != nil {
			return nil, err
		}
		s.vals = append(s.vals, x)
	}
	return s.vals, nil
}

func (s *wireSource) Wire() ([]dialect.WireValue, error) {
	s.wire = s.wire[:0]
	for _, v := range s.rows[s.pos] {
		if v == nil {
			s.wire = append(s.wire, dialect.WireValue{Null: true})
			continue
		}
		s.wire = append(s.wire, dialect.WireValue{Text: []byte(*v)})
	}
	return s.wire, nil
}

// softTimes is the time of step i of the soft-delete tests, with microseconds (what the added columns
// keep), in the wire form the engine hands to a RawRowSource and as a Go value.
func softTimes(i int) (wire *string, value time.Time) {
	value = time.Date(2026, 5, 18, 10, 40, 43, 123456000, time.UTC).Add(time.Duration(i) * time.Hour)
	text, err := typemap.EncodeWire(dialect.AddedTimeType, value)
	if err != nil {
		panic(err)
	}
	return &text, value
}

// withAdded appends the values of the added columns (deletedAt, then mirroredAt; nil for NULL) to each
// row.
func withAdded[T any](rows [][]T, added ...T) [][]T {
	out := make([][]T, len(rows))
	for i, r := range rows {
		out[i] = append(append([]T{}, r...), added...)
	}
	return out
}

// testSoftDelete checks the columns mirrorsink adds (dialect/added.go) on the dialect's own paths: the
// bulk path and the staged upsert write them like any column, from wire text too; SoftDelete marks the
// rows of the keys it is given (set-based, a key not in the table doing nothing), keeps their other
// values, and keeps the first time of a row marked twice; an upsert of a marked key revives it;
// PurgeDeleted removes the marked rows only. A composite text key and a table without the mirrored-at
// column are covered too.
func testSoftDelete(t *testing.T, h *harness) {
	base := h.table("things", simple())
	tbl := base.WithAdded("_deleted_at", "_mirrored_at")
	h.create(tbl)
	t0wire, t0 := softTimes(0)
	_, t1 := softTimes(1)
	_, t2 := softTimes(2)
	t3wire, t3 := softTimes(3)
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, tbl, newWireSource(tbl.Columns, withAdded(simpleRows(1, 6, "row"), nil, t0wire)))
		return err
	})
	rows := withAdded(h.values(base, nil, simpleRows(1, 6, "row")...), nil, any(t0))
	mark := func(at time.Time, want int64, ids ...int) {
		t.Helper()
		var keyRows [][]*string
		for _, id := range ids {
			keyRows = append(keyRows, simpleRow(id, ""))
		}
		h.do(func(tx dialect.Tx) error {
			n, err := tx.Rows().SoftDelete(h.ctx, tbl, newSource(keys(base, h.values(base, nil, keyRows...))), at)
			if err == nil && n != want {
				err = fmt.Errorf("SoftDelete of keys %v marked %d rows, want %d", ids, n, want)
			}
			return err
		})
	}
	set := func(id int, deleted, mirrored any) {
		rows[id-1][len(base.Columns)], rows[id-1][len(base.Columns)+1] = deleted, mirrored
	}
	mark(t1, 2, 2, 3, 999) // an unknown key does nothing
	set(2, t1, t1)
	set(3, t1, t1)
	h.expect(tbl, rows)
	mark(t2, 2, 3, 4, 5) // 3 is marked already and keeps its first time
	set(4, t2, t2)
	set(5, t2, t2)
	h.expect(tbl, rows)

	// An upsert revives: NULL in the soft-delete column, the new values, the new time.
	revived := withAdded([][]*string{simpleRow(2, "two again"), simpleRow(7, "seven")}, nil, t3wire)
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Upsert(h.ctx, tbl, newWireSource(tbl.Columns, revived))
		return err
	})
	rows[1] = withAdded(h.values(base, nil, simpleRow(2, "two again")), nil, any(t3))[0]
	rows = append(rows, withAdded(h.values(base, nil, simpleRow(7, "seven")), nil, any(t3))[0])
	h.expect(tbl, rows)

	h.do(func(tx dialect.Tx) error {
		n, err := tx.Rows().PurgeDeleted(h.ctx, tbl)
		if err == nil && n != 3 {
			err = fmt.Errorf("PurgeDeleted removed %d rows, want 3", n)
		}
		return err
	})
	h.expect(tbl, [][]any{rows[0], rows[1], rows[5], rows[6]})

	// A composite text key, without the mirrored-at column.
	lb := h.table("links", []contract.Column{{Name: "a", Type: "int"}, {Name: "b", Type: "nvarchar(10)"}, {Name: "note", Type: "nvarchar(10)", IsNullable: true}}, "a", "b")
	links := lb.WithAdded("gone", "")
	h.create(links)
	w := func(a int, b, note string) []*string {
		return []*string{Str(fmt.Sprintf("[I:%d]", a)), Str(b), Str(note)}
	}
	lrows := withAdded(h.values(lb, nil, w(1, "x", "n1"), w(1, "X", "n2"), w(2, "x", "n3")), nil)
	h.do(func(tx dialect.Tx) error {
		_, err := tx.Rows().Insert(h.ctx, links, newSource(lrows))
		return err
	})
	h.do(func(tx dialect.Tx) error {
		n, err := tx.Rows().SoftDelete(h.ctx, links, newSource(keys(lb, h.values(lb, nil, w(1, "X", "")))), t1)
		if err == nil && n != 1 {
			err = fmt.Errorf("SoftDelete of a composite key marked %d rows, want 1", n)
		}
		return err
	})
	lrows[1][3] = t1
	h.expect(links, lrows)
}

// testFanInSoftDelete checks SoftDelete and PurgeDeleted in the fan-in layout: a tenant marks and
// purges its own rows only, also where the other tenant has the same key.
func testFanInSoftDelete(t *testing.T, h *harness) {
	if !h.caps.FanIn {
		t.Skip("the dialect does not take the fan-in layout")
	}
	stores, do := h.fanInStores(t, 2)
	cols := simple()
	for i := range cols {
		cols[i].DefaultValue = "" // the engine creates shared tables without defaults
	}
	base := h.table("shared_soft", cols)
	tbl := base.WithAdded("_deleted_at", "_mirrored_at")
	do(0, func(tx dialect.Tx) error { return tx.Tables().Create(h.ctx, tbl) })
	_, t0 := softTimes(0)
	_, t1 := softTimes(1)
	rows := withAdded(h.values(base, nil, simpleRows(1, 3, "row")...), nil, any(t0))
	for i := range stores {
		do(i, func(tx dialect.Tx) error { _, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows)); return err })
	}
	do(0, func(tx dialect.Tx) error {
		n, err := tx.Rows().SoftDelete(h.ctx, tbl, newSource(keys(base, rows[:2])), t1)
		if err == nil && n != 2 {
			err = fmt.Errorf("tenant a marked %d rows, want 2", n)
		}
		return err
	})
	read := func(i int) [][]string {
		var out [][]string
		do(i, func(tx dialect.Tx) error {
			var err error
			out, err = ReadCanonical(h.ctx, tx, tbl, h.caps.Losses())
			return err
		})
		return out
	}
	marked := withAdded(rows[:2]) // copies
	for _, r := range marked {
		r[len(base.Columns)], r[len(base.Columns)+1] = t1, t1
	}
	want := [2][][]any{append(marked, rows[2]), rows}
	for i := range stores {
		if got, exp := read(i), h.canonRows(tbl, want[i]); fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Fatalf("tenant %d reads %v, want %v", i, Abbreviate(got), Abbreviate(exp))
		}
	}
	do(1, func(tx dialect.Tx) error {
		n, err := tx.Rows().PurgeDeleted(h.ctx, tbl)
		if err == nil && n != 0 {
			err = fmt.Errorf("tenant b purged %d rows, which tenant a marked", n)
		}
		return err
	})
	do(0, func(tx dialect.Tx) error {
		n, err := tx.Rows().PurgeDeleted(h.ctx, tbl)
		if err == nil && n != 2 {
			err = fmt.Errorf("tenant a purged %d rows, want 2", n)
		}
		return err
	})
	if got, exp := read(0), h.canonRows(tbl, rows[2:]); fmt.Sprint(got) != fmt.Sprint(exp) {
		t.Fatalf("tenant a reads %v after its purge, want %v", Abbreviate(got), Abbreviate(exp))
	}
	if got, exp := read(1), h.canonRows(tbl, rows); fmt.Sprint(got) != fmt.Sprint(exp) {
		t.Fatalf("tenant b reads %v after a's purge, want %v", Abbreviate(got), Abbreviate(exp))
	}
}

package enginetest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// withRoute returns the harness with an engine of its own on the same mirror, whose route change
// changed: a restart of the service with another configuration.
func (h *harness) withRoute(change func(r *engine.Route)) *harness {
	h.t.Helper()
	route := h.route
	change(&route)
	eng, err := engine.New(engine.Options{
		Tenants: map[string]engine.Route{h.tenant: route},
		Keys:    map[string][]string{linkTable: {"EmployeeID", "TerritoryID"}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { eng.Close() })
	out := *h
	out.route, out.eng = route, eng
	return &out
}

// readAdded reads a table of ts's columns and the added columns named, as canonical text sorted.
func (h *harness) readAdded(ts contract.TableSchema, added ...string) ([][]string, error) {
	tbl := dialect.Table{Name: ts.Name, Key: []int{0}}
	for _, c := range ts.Columns {
		col, err := typemap.ParseColumn(c)
		if err != nil {
			return nil, err
		}
		tbl.Columns = append(tbl.Columns, col)
	}
	for _, name := range added {
		tbl.Columns = append(tbl.Columns, typemap.Column{Name: name, Type: dialect.AddedTimeType, Nullable: true})
	}
	tx, err := h.store.Begin(h.ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(h.ctx))
	return conformance.ReadCanonical(h.ctx, tx, tbl, h.caps.Losses())
}

// testAddedColumns: soft deletes and mirrored_at turned on for a table that has rows add their
// columns in place (the LSN is kept: nothing is sent again; the rows are live, NULL in both); a delete
// then keeps its row, marked, an update writes its time, and a re-insert revives a marked row;
// turning soft deletes off removes the marked rows and drops the column, again keeping the LSN.
func testAddedColumns(t *testing.T, h *harness) {
	ts := simple("kept_things")
	h.schema(ts)
	h.wipe(ts.Name)
	h.mustRowData(batch(ts, 5, simpleRow(contract.Insert, 1, "one"), simpleRow(contract.Insert, 2, "two"), simpleRow(contract.Insert, 3, "three")))

	soft := h.withRoute(func(r *engine.Route) { r.Deletes, r.MirroredAt = engine.SoftDeletes, true })
	if lsn := soft.lsn(ts); lsn != 5 {
		t.Fatalf("turning soft deletes and mirrored_at on answered LSN %d, want 5 (kept)", lsn)
	}
	state := func(h *harness, added ...string) map[string]string {
		t.Helper()
		rows, err := h.readAdded(ts, added...)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rows {
			s := r[1]
			for _, v := range r[len(ts.Columns):] {
				if v == canon.Null {
					s += " -"
				} else {
					s += " set"
				}
			}
			out[r[0]] = s
		}
		return out
	}
	check := func(got map[string]string, want map[string]string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("rows %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("rows %v, want %v", got, want)
			}
		}
	}
	check(state(soft, "_deleted_at", "_mirrored_at"), map[string]string{"1": "one - -", "2": "two - -", "3": "three - -"})
	soft.mustRowData(batch(ts, 6, row(contract.Delete, str("[I:2]")), row(contract.Delete, str("[I:3]")), simpleRow(contract.Update, 1, "one+")))
	check(state(soft, "_deleted_at", "_mirrored_at"), map[string]string{"1": "one+ - set", "2": "two set set", "3": "three set set"})
	soft.mustRowData(batch(ts, 7, simpleRow(contract.Insert, 3, "three again")))
	check(state(soft, "_deleted_at", "_mirrored_at"), map[string]string{"1": "one+ - set", "2": "two set set", "3": "three again - set"})

	hard := h.withRoute(func(r *engine.Route) { r.MirroredAt = true })
	if lsn := hard.lsn(ts); lsn != 7 {
		t.Fatalf("turning soft deletes off answered LSN %d, want 7 (kept)", lsn)
	}
	check(state(hard, "_mirrored_at"), map[string]string{"1": "one+ set", "3": "three again set"})
	if _, err := hard.readAdded(ts, "_deleted_at"); err == nil {
		t.Fatal("the soft-delete column is still there after soft deletes were turned off")
	}
}

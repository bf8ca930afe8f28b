package enginetest

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
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// FanInTarget is one database that takes the fan-in layout.
type FanInTarget struct {
	// Name names the target in subtests ("postgres", "citus", …).
	Name string
	// Dialect is the registered dialect name.
	Dialect string
	// Route returns a fan-in route (engine.FanIn) to a fresh, empty schema (or database) and registers
	// its cleanup with t.
	Route func(t *testing.T) engine.Route
	// Available, when set, runs once before the cases and skips them all when the target's server is
	// not available (testenv).
	Available func(t *testing.T)
}

// RunFanIn runs the cases of several tenants in one fan-in schema: tenants with different schemas of
// one table, a wipe (and a repopulation, a resync, a dropped table) of one tenant leaving the others'
// rows alone, a widening by one tenant, a type conflict that puts one tenant's rows into a table of
// its own (and back), a source column named like the tenant column, and tenants changing one shared
// table at once.
func RunFanIn(t *testing.T, tgt FanInTarget) {
	if tgt.Available != nil {
		tgt.Available(t)
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, []*harness)
	}{
		{"TenantsWithDifferentSchemas", testFanInSchemas},
		{"WipeOfOneTenant", testFanInWipe},
		{"WideningByOneTenant", testFanInWidening},
		{"TypeConflictGoesToATableOfItsOwn", testFanInConflict},
		{"TableDroppedByOneTenant", testFanInDropped},
		{"ColumnNamedLikeTheTenantColumn", testFanInTenantColumnName},
		{"TenantsChangingOneTableAtOnce", testFanInConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newFanIn(t, &tgt, 3))
		})
	}
}

// newFanIn returns n tenants of one fan-in route behind one engine, each with a harness of its own.
func newFanIn(t *testing.T, tgt *FanInTarget, n int) []*harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	route := tgt.Route(t)
	if route.Layout != engine.FanIn {
		t.Fatalf("the target's route has layout %q, want fan_in", route.Layout)
	}
	d, err := dialect.Lookup(tgt.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	tenants := map[string]engine.Route{}
	names := make([]string, n)
	base := rand.IntN(1_000_000)
	for i := range names {
		names[i] = fmt.Sprintf("Fan%c%d", 'A'+i, base)
		tenants[names[i]] = route
	}
	eng, err := engine.New(engine.Options{Tenants: tenants, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	out := make([]*harness, n)
	for i, name := range names {
		h := &harness{t: t, ctx: ctx, tenant: name, route: route, eng: eng, caps: d.Capabilities(),
			tgt: &Target{Dialect: tgt.Dialect, Route: func(*testing.T, string) engine.Route { return route }}}
		if _, err := eng.Authenticate(ctx, h.call()); err != nil {
			t.Fatalf("authenticate %s: %v", name, err)
		}
		dsn, schema := route.Resolve(name)
		if h.store, err = d.Open(ctx, dsn, dialect.OpenOptions{Tenant: name, Schema: schema, TenantColumn: route.TenantColumnName()}); err != nil {
			t.Fatalf("open the mirror of %s for reading: %v", name, err)
		}
		if h.raw, err = d.Open(ctx, dsn, dialect.OpenOptions{Tenant: name, Schema: schema}); err != nil {
			t.Fatalf("open the mirror for reading: %v", err)
		}
		t.Cleanup(func() { h.store.Close(); h.raw.Close() })
		out[i] = h
	}
	return out
}

// sharedRows reads every tenant's rows of a shared table, its tenant column first, as canonical text
// (through the raw store, as a partner's tools read it).
func (h *harness) sharedRows(name string, cols ...contract.Column) [][]string {
	h.t.Helper()
	all := append([]contract.Column{{Name: h.route.TenantColumnName(), Type: "varchar(50)"}}, cols...)
	tbl, err := conformance.MakeTable(name, all)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.readPartner(tbl)
}

// custom is the table as a tenant sees it that has a custom field, and lacks amount and updated.
func custom(name string) contract.TableSchema {
	ts := simple(name)
	ts.Columns = append([]contract.Column{ts.Columns[0], ts.Columns[1]},
		contract.Column{Name: "x_score", Type: "int", IsNullable: true})
	return ts
}

func customRow(op contract.Operation, id int, name string, score int) wireRow {
	return row(op, str(fmt.Sprintf("[I:%d]", id)), str(name), str(fmt.Sprintf("[I:%d]", score)))
}

// load repopulates a table of one tenant: TableSchema, Wipe, one batch.
func (h *harness) load(ts contract.TableSchema, lsn int64, rows ...wireRow) {
	h.t.Helper()
	if got := h.schema(ts)[ts.Name]; got != -1 {
		h.t.Fatalf("%s: a new table of %s answered %d, want -1", ts.Name, h.tenant, got)
	}
	h.wipe(ts.Name)
	h.mustRowData(batch(ts, lsn, rows...))
}

// testFanInSchemas: two tenants send one table with different columns. The shared table holds the
// union; each tenant reads back exactly its rows and columns; a column a tenant lacks is NULL in its
// rows, and a column NOT NULL for one tenant only is nullable. Status, cycles and LSNs are each
// tenant's own.
func testFanInSchemas(t *testing.T, hs []*harness) {
	a, b := hs[0], hs[1]
	plain, extra := simple("contact"), custom("contact")
	aRows := []wireRow{simpleRow(contract.Insert, 1, "a one"), simpleRow(contract.Insert, 2, "a two")}
	bRows := []wireRow{customRow(contract.Insert, 1, "b one", 10), customRow(contract.Insert, 3, "b three", 30)}
	a.load(plain, 40, aRows...)
	b.load(extra, 70, bRows...)
	a.compare(plain, a.want(plain, aRows...))
	b.compare(extra, b.want(extra, bRows...))
	if got := a.schema(plain)["contact"]; got != 40 {
		t.Fatalf("tenant A's LSN %d after B joined the table, want 40", got)
	}
	if got := b.schema(extra)["contact"]; got != 70 {
		t.Fatalf("tenant B's LSN %d, want 70", got)
	}
	// The shared table: every column of both, each tenant's missing ones NULL.
	union := append(append([]contract.Column{}, plain.Columns...), extra.Columns[2])
	shared := a.sharedRows("contact", union...)
	if len(shared) != 4 {
		t.Fatalf("the shared table holds %d rows, want 4: %v", len(shared), shared)
	}
	for _, r := range shared {
		tenantA := r[0] == a.tenant
		if tenantA && r[5] != canon.Null || !tenantA && (r[3] != canon.Null || r[4] != canon.Null) {
			t.Fatalf("a row of the shared table has a value in a column its tenant lacks: %v", r)
		}
	}
	// More rows of B through the staging path leave A's alone, and a key both have is two rows.
	more := []wireRow{customRow(contract.Update, 1, "b one again", 11), row(contract.Delete, str("[I:3]"))}
	b.mustRowData(batch(extra, 71, more...))
	b.compare(extra, b.want(extra, append(append([]wireRow{}, bRows...), more...)...))
	a.compare(plain, a.want(plain, aRows...))
	if err := a.eng.ReplicationCompleted(a.ctx, a.call(), []contract.Summary{{Table: "contact", Inserts: 2}}); err != nil {
		t.Fatal(err)
	}
	stA, err := a.eng.Status(a.ctx, a.tenant)
	if err != nil {
		t.Fatal(err)
	}
	stB, err := b.eng.Status(b.ctx, b.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(stA.Tables) != 1 || stA.Tables[0].Rows != 2 || stA.Tables[0].LSN != 40 || stA.LastCycle == nil {
		t.Fatalf("tenant A's status: %+v", stA)
	}
	if len(stB.Tables) != 1 || stB.Tables[0].Rows != 1 || stB.Tables[0].LSN != 71 || stB.LastCycle != nil {
		t.Fatalf("tenant B's status: %+v (B completed no cycle)", stB)
	}
	// A third tenant's resync marks its own tables only.
	if n, err := a.eng.Resync(a.ctx, a.tenant, ""); err != nil || n != 1 {
		t.Fatalf("resync of A: %d, %v", n, err)
	}
	if got := b.schema(extra)["contact"]; got != 71 {
		t.Fatalf("A's resync moved B's LSN to %d", got)
	}
}

// testFanInWipe: a Wipe, and a repopulation through the bulk path, of one tenant remove and replace its
// rows only.
func testFanInWipe(t *testing.T, hs []*harness) {
	ts := simple("contact")
	rowsOf := func(prefix string, n int) []wireRow {
		var out []wireRow
		for i := 1; i <= n; i++ {
			out = append(out, simpleRow(contract.Insert, i, fmt.Sprintf("%s %d", prefix, i)))
		}
		return out
	}
	for i, h := range hs {
		h.load(ts, int64(10+i), rowsOf(h.tenant, 20+i)...)
	}
	a := hs[0]
	a.wipe(ts.Name)
	a.compare(ts, nil)
	for i, h := range hs[1:] {
		h.compare(ts, h.want(ts, rowsOf(h.tenant, 21+i)...))
		if got := h.lsn(ts); got != int64(11+i) {
			t.Fatalf("tenant %s's LSN %d after another tenant's wipe, want %d", h.tenant, got, 11+i)
		}
	}
	if got := a.lsn(ts); got != -1 {
		t.Fatalf("the wiped tenant's LSN %d, want -1", got)
	}
	// A repopulates through the bulk path (the same keys as the others', which stay theirs).
	again := rowsOf("again", 5)
	a.mustRowData(batch(ts, 99, again...))
	a.compare(ts, a.want(ts, again...))
	if n, _ := a.count(ts.Name); n != 5+21+22 {
		t.Fatalf("the shared table holds %d rows, want %d", n, 5+21+22)
	}
}

// testFanInWidening: a tenant whose column is wider widens the shared column in place; the other
// tenants keep their rows and LSNs, and a tenant with the narrower type keeps writing.
func testFanInWidening(t *testing.T, hs []*harness) {
	a, b := hs[0], hs[1]
	narrow := simple("contact")
	a.load(narrow, 5, simpleRow(contract.Insert, 1, "short"))
	wide := simple("contact")
	wide.Columns[1].Type = "nvarchar(200)"
	long := strings.Repeat("w", 150)
	b.load(wide, 6, simpleRow(contract.Insert, 1, long))
	b.compare(wide, b.want(wide, simpleRow(contract.Insert, 1, long)))
	if got := a.lsn(narrow); got != 5 {
		t.Fatalf("A's LSN %d after B widened the shared column, want 5", got)
	}
	a.mustRowData(batch(narrow, 7, simpleRow(contract.Update, 2, "still fits")))
	a.compare(narrow, a.want(narrow, simpleRow(contract.Insert, 1, "short"), simpleRow(contract.Update, 2, "still fits")))
	// A widens its own column too, less than B: nothing changes in the shared table, and A keeps its LSN.
	mid := simple("contact")
	mid.Columns[1].Type = "nvarchar(100)"
	before := a.eng.Metrics().SchemaWork()
	if got := a.schema(mid)["contact"]; got != 7 {
		t.Fatalf("A widening within the shared column answered %d, want 7", got)
	}
	if after := a.eng.Metrics().SchemaWork(); after.Altered != before.Altered || after.Recreated != before.Recreated {
		t.Fatalf("a widening the shared column already holds changed it: %+v → %+v", before, after)
	}
}

// testFanInConflict: a tenant whose column type neither widens nor fits the shared column's gets a
// table of its own, named for it, with its rows; status says where and why; the other tenants' rows
// and LSNs are untouched. When its schema fits again, its rows move back into the shared table.
func testFanInConflict(t *testing.T, hs []*harness) {
	a, b := hs[0], hs[1]
	ts := simple("contact")
	aRows := []wireRow{simpleRow(contract.Insert, 1, "a"), simpleRow(contract.Insert, 2, "b")}
	a.load(ts, 50, aRows...)
	odd := simple("contact")
	odd.Columns[2] = contract.Column{Name: "amount", Type: "nvarchar(20)", IsNullable: true}
	oddRows := []wireRow{row(contract.Insert, str("[I:1]"), str("x"), str("lots"), str("[DT:05/18/2020 10:40:43.0000000]"))}
	b.load(odd, 60, oddRows...)
	own := "contact@" + b.tenant
	inOwn := odd
	inOwn.Name = own
	b.compare(inOwn, b.want(odd, oddRows...))
	st := b.status("contact")
	if st.StoredIn != own || !strings.Contains(st.Conflict, "amount") || st.Rows != 1 || st.LSN != 60 {
		t.Fatalf("B's status of contact: %+v; want it stored in %s with the conflict named", st, own)
	}
	if n, err := b.count(own); err != nil || n != 1 {
		t.Fatalf("B's own table: %d rows, %v", n, err)
	}
	a.compare(ts, a.want(ts, aRows...))
	if got := a.lsn(ts); got != 50 {
		t.Fatalf("A's LSN %d after B's conflict, want 50", got)
	}
	if n, _ := a.count("contact"); n != 2 {
		t.Fatalf("the shared table holds %d rows, want A's 2", n)
	}
	// B's schema fits again: its rows move back, to be sent again, and its own table goes.
	if got := b.schema(ts)["contact"]; got != -1 {
		t.Fatalf("B moving back into the shared table answered %d, want -1", got)
	}
	b.wipe("contact")
	b.mustRowData(batch(ts, 61, simpleRow(contract.Insert, 1, "back")))
	b.compare(ts, b.want(ts, simpleRow(contract.Insert, 1, "back")))
	if st := b.status("contact"); st.StoredIn != "" || st.Conflict != "" {
		t.Fatalf("B's status after moving back: %+v", st)
	}
	if n, err := b.count(own); err == nil {
		t.Fatalf("B's own table is still there, with %d rows", n)
	}
	a.compare(ts, a.want(ts, aRows...))
	if got := a.lsn(ts); got != 50 {
		t.Fatalf("A's LSN %d after B moved back, want 50", got)
	}
}

// testFanInDropped: a table one tenant's source no longer has loses that tenant's rows only; the
// shared table goes with the last tenant that had it.
func testFanInDropped(t *testing.T, hs []*harness) {
	a, b := hs[0], hs[1]
	contact, company := simple("contact"), simple("company")
	for _, h := range []*harness{a, b} {
		h.schema(contact, company)
		h.wipe("company")
		h.mustRowData(batch(company, 5, simpleRow(contract.Insert, 1, h.tenant)))
	}
	a.schema(contact)
	if n, _ := a.count("company"); n != 1 {
		t.Fatalf("after A dropped company the shared table holds %d rows, want B's 1", n)
	}
	b.compare(company, b.want(company, simpleRow(contract.Insert, 1, b.tenant)))
	b.schema(contact)
	if _, err := b.count("company"); err == nil {
		t.Fatal("the shared table is still there after its last tenant dropped it")
	}
}

// testFanInTenantColumnName: a source column with the tenant column's name is refused for its table
// alone, with a message that says what to do.
func testFanInTenantColumnName(t *testing.T, hs []*harness) {
	a := hs[0]
	bad := simple("clash")
	bad.Columns = append(bad.Columns, contract.Column{Name: strings.ToUpper(a.route.TenantColumnName()), Type: "int", IsNullable: true})
	_, err := a.eng.TableSchema(a.ctx, a.call(), []contract.TableSchema{simple("fine"), bad})
	var te *engine.TableErrors
	if !errors.As(err, &te) || len(te.Tables) != 1 || te.Tables[0] != "clash" {
		t.Fatalf("a column named like the tenant column: %v, want table clash to fail alone", err)
	}
	expectError(t, err, "tenant column", "tenant_column")
	if n, err := a.count("fine"); err != nil || n != 0 {
		t.Fatalf("the other table of the call: %d, %v", n, err)
	}
}

// testFanInConcurrent: every tenant sends its schema of one new table at once, each with a column of
// its own; all succeed, and the shared table has every column.
func testFanInConcurrent(t *testing.T, hs []*harness) {
	schemas := make([]contract.TableSchema, len(hs))
	for i := range hs {
		ts := simple("together")
		ts.Columns = append(ts.Columns, contract.Column{Name: fmt.Sprintf("x_%d", i), Type: "int", IsNullable: true})
		schemas[i] = ts
	}
	err := parallelCalls(len(hs), func(i int) error {
		_, err := hs[i].eng.TableSchema(hs[i].ctx, hs[i].call(), []contract.TableSchema{schemas[i]})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var union []contract.Column
	union = append(union, schemas[0].Columns[:4]...)
	for i := range hs {
		union = append(union, schemas[i].Columns[4])
	}
	for i, h := range hs {
		h.wipe("together")
		h.mustRowData(batch(schemas[i], 3, row(contract.Insert, str("[I:1]"), str(h.tenant), nil, str("[DT:05/18/2020 10:40:43.0000000]"), str(fmt.Sprintf("[I:%d]", i)))))
	}
	shared := hs[0].sharedRows("together", union...)
	if len(shared) != len(hs) {
		t.Fatalf("the shared table holds %v", shared)
	}
	for _, r := range shared {
		set := 0
		for _, v := range r[5:] {
			if v != canon.Null {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("a row has %d of the tenants' own columns set, want its own one: %v", set, r)
		}
	}
}

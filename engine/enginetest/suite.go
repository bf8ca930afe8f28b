// Package enginetest is the engine's suite against every live target: full TableSchema, Wipe, RowData
// and ReplicationCompleted calls built in memory (create, every type of TYPES.md round-tripped,
// evolve, wipe, bulk insert, upsert, delete, resend idempotence, LSN atomicity, hostile identifiers,
// status and resync, parallel tables, events as hooks and webhooks, pause across replicas, the
// failure log, looks that create no mirror, soft deletes and mirrored_at turned on and off), with
// the mirror read back through the dialect and compared value by value as canonical text. The e2e package runs it for each dialect. (Each dialect's own
// contract is checked by dialect/conformance, which knows nothing of the engine.)
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// Target is one route under test.
type Target struct {
	// Dialect is the registered dialect name.
	Dialect string
	// Route returns the route of a fresh, empty mirror for tenant and registers its cleanup with t.
	Route func(t *testing.T, tenant string) engine.Route
}

// Run runs the whole engine suite against the target.
func Run(t *testing.T, tgt Target) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *harness)
	}{
		{"CreateAndUnchangedSchema", testCreate},
		{"EveryTypeRoundTrips", testTypes},
		{"UpsertAndDelete", testUpsertDelete},
		{"ResendIsIdempotent", testResend},
		{"BulkFallbackOnExistingKeys", testBulkFallback},
		{"LSNAtomicity", testAtomicity},
		{"Wipe", testWipe},
		{"Evolve", testEvolve},
		{"DroppedTable", testDroppedTable},
		{"HostileIdentifiers", testHostile},
		{"StatusAndResync", testStatusResync},
		{"ParallelTables", testParallel},
		{"KeysCollidingAtTargetPrecision", testKeyPrecision},
		{"EqualKeysDeleteThenInsert", testEqualKeysDeleteThenInsert},
		{"PartnersViewSurvivesSchemaChanges", testPartnerView},
		{"PartnersObjectBlockingARecreateFailsOnlyItsTable", testBlockedRecreate},
		{"KeyOnlyLinkTableIncrementalCycle", testLinkTable},
		{"TablesNamedLikeSystemObjects", testSystemNames},
		{"EventsAsHooksAndWebhooks", testEvents},
		{"RequiredHookFailsTheCall", testRequiredHook},
		{"PauseAcrossReplicas", testPauseAcrossReplicas},
		{"FailureLog", testFailureLog},
		{"Streaming", testStreaming},
		{"SoftDeletesAndMirroredAtTurnedOnAndOff", testAddedColumns},
		{"LooksCreateNothing", testLooksCreateNothing},
		{"Journal", testJournal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newHarness(t, &tgt))
		})
	}
}

// harness is one fresh tenant mirror with an engine in front of it.
type harness struct {
	t      *testing.T
	tgt    *Target
	ctx    context.Context
	tenant string
	route  engine.Route
	eng    *engine.Engine
	store  dialect.Store
	// raw is the mirror opened as a partner's tools see it: in the fan-in layout, with every tenant's
	// rows of a shared table, and its views and tables of the partner's own.
	raw  dialect.Store
	caps dialect.Capabilities
}

func newHarness(t *testing.T, tgt *Target) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	tenant := fmt.Sprintf("Conf%s%d", strings.ReplaceAll(t.Name()[strings.LastIndex(t.Name(), "/")+1:], "_", ""), rand.IntN(1_000_000))
	if len(tenant) > 40 {
		tenant = tenant[:40]
	}
	route := tgt.Route(t, tenant)
	eng, err := engine.New(engine.Options{
		Tenants: map[string]engine.Route{tenant: route},
		Keys:    map[string][]string{linkTable: {"EmployeeID", "TerritoryID"}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	d, err := dialect.Lookup(tgt.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, tgt: tgt, ctx: ctx, tenant: tenant, route: route, eng: eng, caps: d.Capabilities()}
	// Authenticate opens (and creates) the mirror, as the first call of a cycle does.
	if _, err := eng.Authenticate(ctx, h.call()); err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	dsn, schema := route.Resolve(tenant)
	store, err := d.Open(ctx, dsn, dialect.OpenOptions{Tenant: tenant, Schema: schema, TenantColumn: route.TenantColumnName()})
	if err != nil {
		t.Fatalf("open the mirror for reading: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	h.store, h.raw = store, store
	if route.Layout == engine.FanIn {
		if h.raw, err = d.Open(ctx, dsn, dialect.OpenOptions{Tenant: tenant, Schema: schema}); err != nil {
			t.Fatalf("open the mirror for reading: %v", err)
		}
		t.Cleanup(func() { h.raw.Close() })
	}
	return h
}

// fanIn reports whether the tenant's tables are shared (the fan-in layout).
func (h *harness) fanIn() bool { return h.route.Layout == engine.FanIn }

func (h *harness) call() contract.Call { return contract.Call{Tenant: h.tenant} }

// exec runs statements of a partner's (views, indexes, tables of their own) in the mirror, outside the
// engine, in one transaction.
func (h *harness) exec(stmts ...string) {
	h.t.Helper()
	if err := h.tryExec(stmts...); err != nil {
		h.t.Fatal(err)
	}
}

// tryExec is exec that returns the error.
func (h *harness) tryExec(stmts ...string) error {
	tx, err := h.store.Begin(h.ctx)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if err := tx.RunStatement(h.ctx, s); err != nil {
			tx.Rollback(h.ctx)
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return tx.Commit(h.ctx, dialect.Durable)
}

// quoted returns a table's (or view's) name as statements in the mirror write it.
func (h *harness) quoted(name string) string {
	h.t.Helper()
	q, err := h.store.Names().Table(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return q
}

// count counts the rows of a table or view of the mirror, every tenant's.
func (h *harness) count(name string) (int64, error) {
	tx, err := h.raw.Begin(h.ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(h.ctx)
	return tx.Tables().Count(h.ctx, name)
}

// status returns what the engine's status says of one table.
func (h *harness) status(table string) engine.TableStatus {
	h.t.Helper()
	st, err := h.eng.Status(h.ctx, h.tenant)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, ts := range st.Tables {
		if ts.Table == table {
			return ts
		}
	}
	h.t.Fatalf("status has no table %q", table)
	return engine.TableStatus{}
}

// schema sends TableSchema and returns the LSNs by table.
func (h *harness) schema(tables ...contract.TableSchema) map[string]int64 {
	h.t.Helper()
	lsns, err := h.eng.TableSchema(h.ctx, h.call(), tables)
	if err != nil {
		h.t.Fatalf("TableSchema: %v", err)
	}
	if len(lsns) != len(tables) {
		h.t.Fatalf("TableSchema answered %d tables for %d", len(lsns), len(tables))
	}
	out := map[string]int64{}
	for i, l := range lsns {
		if l.Table != tables[i].Name {
			h.t.Fatalf("TableSchema answer %d is %q, want %q (request order)", i, l.Table, tables[i].Name)
		}
		out[l.Table] = l.LSN
	}
	return out
}

func (h *harness) wipe(table string) {
	h.t.Helper()
	if err := h.eng.Wipe(h.ctx, h.call(), table); err != nil {
		h.t.Fatalf("Wipe %s: %v", table, err)
	}
}

// rowData sends one RowData call with one batch per entry.
func (h *harness) rowData(batches ...*contract.Batch) error {
	return h.eng.RowData(h.ctx, h.call(), &memBatches{batches: batches})
}

func (h *harness) mustRowData(batches ...*contract.Batch) {
	h.t.Helper()
	if err := h.rowData(batches...); err != nil {
		h.t.Fatalf("RowData: %v", err)
	}
}

func batch(ts contract.TableSchema, lsn int64, rows ...wireRow) *contract.Batch {
	return &contract.Batch{Table: ts, LSN: lsn, Rows: newRows(rows)}
}

func row(op contract.Operation, values ...*string) wireRow { return wireRow{op: op, values: values} }

// lsn returns the LSN that TableSchema answers for ts now. It sends TableSchema with ts alone, which
// drops the tenant's other tables: use it in single-table tests only.
func (h *harness) lsn(ts contract.TableSchema) int64 {
	h.t.Helper()
	return h.schema(ts)[ts.Name]
}

// read returns the table's rows as canonical text, ordered by the first column's canonical text
// (numerically where it is an integer).
func (h *harness) read(ts contract.TableSchema) [][]string {
	h.t.Helper()
	tbl := dialect.Table{Name: ts.Name, Key: []int{0}}
	for _, c := range ts.Columns {
		col, err := typemap.ParseColumn(c)
		if err != nil {
			h.t.Fatal(err)
		}
		tbl.Columns = append(tbl.Columns, col)
	}
	return h.readTable(tbl)
}

// want computes the rows the mirror must hold after applying rows (final state by key) to ts.
func (h *harness) want(ts contract.TableSchema, rows ...wireRow) [][]string {
	h.t.Helper()
	cols := make([]typemap.Column, len(ts.Columns))
	for i, c := range ts.Columns {
		col, err := typemap.ParseColumn(c)
		if err != nil {
			h.t.Fatal(err)
		}
		cols[i] = col
	}
	byKey := map[string][]string{}
	var order []string
	for _, r := range rows {
		key := *r.values[0]
		if r.op == contract.Delete {
			delete(byKey, key)
			continue
		}
		line := make([]string, len(cols))
		for i, v := range r.values {
			var x any
			if v != nil {
				var err error
				if x, err = typemap.DecoderFor(cols[i].Type)([]byte(*v)); err != nil {
					h.t.Fatalf("test data: %s = %q: %v", cols[i].Name, *v, err)
				}
			}
			var err error
			if line[i], err = canon.Value(cols[i].Type, x, h.caps.Losses()); err != nil {
				h.t.Fatalf("test data: %s = %q: %v", cols[i].Name, *v, err)
			}
		}
		if _, ok := byKey[key]; !ok {
			order = append(order, key)
		}
		byKey[key] = line
	}
	var out [][]string
	for _, k := range order {
		if line, ok := byKey[k]; ok {
			out = append(out, line)
		}
	}
	conformance.SortRows(out)
	return out
}

// compare fails the test with the first difference between the mirror and the expected rows.
func (h *harness) compare(ts contract.TableSchema, want [][]string) {
	h.t.Helper()
	got := h.read(ts)
	if len(got) != len(want) {
		h.t.Fatalf("%s: %d rows in the mirror, want %d\n got: %v\nwant: %v", ts.Name, len(got), len(want), conformance.Abbreviate(got), conformance.Abbreviate(want))
	}
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				h.t.Errorf("%s row %d column %s: got %s, want %s", ts.Name, i+1, ts.Columns[j].Name, conformance.Clip(got[i][j]), conformance.Clip(want[i][j]))
			}
		}
	}
}

// simple is a small table used by most tests.
func simple(name string) contract.TableSchema {
	return contract.TableSchema{Name: name, Columns: []contract.Column{
		{Name: "id", Type: "int"},
		{Name: "name", Type: "nvarchar(50)", IsNullable: true},
		{Name: "amount", Type: "decimal(19,4)", IsNullable: true, DefaultValue: "default ((0))"},
		{Name: "updated", Type: "datetime", IsNullable: false, DefaultValue: "default (getdate())"},
	}}
}

func simpleRow(op contract.Operation, id int, name string) wireRow {
	return row(op, str(fmt.Sprintf("[I:%d]", id)), str(name), str(fmt.Sprintf("[F:%d.25]", id)), str("[DT:05/18/2020 10:40:43.0000000]"))
}

func expectError(t *testing.T, err error, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got none", contains)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Fatalf("error %q does not say %q", err, c)
		}
	}
}

// parallelCalls runs fn n times at once and returns the first error.
func parallelCalls(n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn(i) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

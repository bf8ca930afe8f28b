package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/engine"
)

func table(name string) contract.TableSchema {
	return contract.TableSchema{Name: name, Columns: []contract.Column{{Name: "id", Type: "int"}, {Name: "v", Type: "nvarchar(10)", IsNullable: true}}}
}

// loadOne stores one row with LSN lsn in a new table.
func loadOne(t *testing.T, e *engine.Engine, call contract.Call, ts contract.TableSchema, lsn int64) {
	t.Helper()
	ctx := context.Background()
	if err := e.Wipe(ctx, call, ts.Name); err != nil {
		t.Fatal(err)
	}
	b := &batches{{Table: ts, LSN: lsn, Rows: &rows{data: [][]string{{"[I:1]", "x"}}, ops: []contract.Operation{contract.Insert}}}}
	if err := e.RowData(ctx, call, b); err != nil {
		t.Fatal(err)
	}
}

func lsnsOf(t *testing.T, e *engine.Engine, tenant string) map[string]int64 {
	t.Helper()
	st, err := e.Status(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, ts := range st.Tables {
		out[ts.Table] = ts.LSN
	}
	return out
}

// TestEmptyTableSchemaDropsNothing: a request without tables is refused; it would otherwise drop every
// mirrored table as deleted at the source.
func TestEmptyTableSchemaDropsNothing(t *testing.T) {
	e, _ := newEngine(t, nil)
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust1"}
	if _, err := e.TableSchema(ctx, call, []contract.TableSchema{table("contact")}); err != nil {
		t.Fatal(err)
	}
	loadOne(t, e, call, table("contact"), 500)
	_, err := e.TableSchema(ctx, call, nil)
	if err == nil || !strings.Contains(err.Error(), "names no tables") {
		t.Fatalf("an empty TableSchema: %v, want a refusal", err)
	}
	if got := lsnsOf(t, e, "Cust1"); got["contact"] != 500 {
		t.Fatalf("after an empty TableSchema: %v, want contact at 500", got)
	}
}

// TestNamesTheDatabaseFoldsTogether: SQLite does not tell "contact" from "CONTACT"; the later is
// refused and the first keeps its rows and its LSN.
func TestNamesTheDatabaseFoldsTogether(t *testing.T) {
	e, _ := newEngine(t, nil)
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust1"}
	if _, err := e.TableSchema(ctx, call, []contract.TableSchema{table("contact")}); err != nil {
		t.Fatal(err)
	}
	loadOne(t, e, call, table("contact"), 500)
	_, err := e.TableSchema(ctx, call, []contract.TableSchema{table("contact"), table("CONTACT")})
	var te *engine.TableErrors
	if !errors.As(err, &te) || len(te.Tables) != 1 || te.Tables[0] != "CONTACT" || !strings.Contains(err.Error(), "case") {
		t.Fatalf("contact and CONTACT: %v, want CONTACT refused as the same name", err)
	}
	st, err := e.Status(ctx, "Cust1")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tables) != 1 || st.Tables[0].Table != "contact" || st.Tables[0].LSN != 500 || st.Tables[0].Rows != 1 {
		t.Fatalf("after the refusal: %+v, want contact unchanged", st.Tables)
	}
	// The source renames the table's case: the mirror's table is the same one, so it is not dropped
	// under the new name's feet; it is recreated, as it has no metadata under the new name.
	lsns, err := e.TableSchema(ctx, call, []contract.TableSchema{table("CONTACT")})
	if err != nil || lsns[0].LSN != -1 {
		t.Fatalf("CONTACT alone: %v, %v", lsns, err)
	}
	if got := lsnsOf(t, e, "Cust1"); len(got) != 1 || got["CONTACT"] != -1 {
		t.Fatalf("after the rename: %v", got)
	}
	loadOne(t, e, call, table("CONTACT"), 7)
}

// TestOneTableFailureIsItsOwn: a table the engine cannot accept fails alone; the others of the same
// call are created, and the call names the failed table.
func TestOneTableFailureIsItsOwn(t *testing.T) {
	e, _ := newEngine(t, nil)
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust1"}
	bad := contract.TableSchema{Name: "broken", Columns: []contract.Column{{Name: "id", Type: "varchar2(5)"}}}
	_, err := e.TableSchema(ctx, call, []contract.TableSchema{table("first"), bad, table("second")})
	var te *engine.TableErrors
	if !errors.As(err, &te) || len(te.Tables) != 1 || te.Tables[0] != "broken" || !strings.Contains(err.Error(), "1 of 3 tables failed") {
		t.Fatalf("a call with one bad table: %v", err)
	}
	got := lsnsOf(t, e, "Cust1")
	if len(got) != 2 || got["first"] != -1 || got["second"] != -1 {
		t.Fatalf("the good tables of the call: %v, want both created", got)
	}
	// The next cycle answers the good ones at once and retries the failed one.
	lsns, err := e.TableSchema(ctx, call, []contract.TableSchema{table("first"), table("broken"), table("second")})
	if err != nil || len(lsns) != 3 || lsns[1].Table != "broken" || lsns[1].LSN != -1 {
		t.Fatalf("the retry: %v, %v", lsns, err)
	}
}

// TestSharedMirrorRoutesRefused: a default route without {ctx} would put every tenant into one mirror,
// where each tenant's TableSchema drops the others' tables.
func TestSharedMirrorRoutesRefused(t *testing.T) {
	dir := t.TempDir()
	for name, opts := range map[string]engine.Options{
		"default without {ctx}": {Default: &engine.Route{Dialect: "sqlite", DSN: dir + "/shared.db"}},
		"two tenants, one mirror": {Tenants: map[string]engine.Route{
			"A": {Dialect: "sqlite", DSN: dir + "/shared.db"}, "B": {Dialect: "sqlite", DSN: dir + "/shared.db"}}},
	} {
		if _, err := engine.New(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, opts := range map[string]engine.Options{
		"default with {ctx}":      {Default: &engine.Route{Dialect: "sqlite", DSN: dir + "/{ctx}.db"}},
		"one tenant, a fixed DSN": {Tenants: map[string]engine.Route{"A": {Dialect: "sqlite", DSN: dir + "/a.db"}}},
	} {
		if _, err := engine.New(opts); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// blockingRows hands out its rows only once released, holding its batch's table meanwhile.
type blockingRows struct {
	rows
	started chan struct{}
	release chan struct{}
}

func (b *blockingRows) Next() bool {
	if b.i == 0 && b.started != nil {
		close(b.started)
		b.started = nil
		<-b.release
	}
	return b.rows.Next()
}

// TestWaitingForATableHonoursTheDeadline: a call that waits for a table another call is applying gives
// up when its own context ends, so that one stalled table cannot hold calls (and their slots) for longer
// than their deadline.
func TestWaitingForATableHonoursTheDeadline(t *testing.T) {
	e, _ := newEngine(t, nil)
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust1"}
	ts := table("contact")
	if _, err := e.TableSchema(ctx, call, []contract.TableSchema{ts}); err != nil {
		t.Fatal(err)
	}
	// The channel is taken before RowData starts: Next sets the field to nil once it has closed it.
	started := make(chan struct{})
	held := &blockingRows{rows: rows{data: [][]string{{"[I:1]", "x"}}, ops: []contract.Operation{contract.Update}},
		started: started, release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- e.RowData(ctx, call, &batches{{Table: ts, LSN: 5, Rows: held}}) }()
	<-started
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.Wipe(short, call, "contact")
	if waited := time.Since(start); err == nil || waited > 2*time.Second {
		t.Fatalf("a Wipe behind a busy table: %v after %s, want its deadline's error within about 200 ms", err, waited)
	}
	close(held.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := e.LockedNames(); n != 0 {
		t.Fatalf("%d per-name locks left", n)
	}
}

// TestNamedTenantCannotTakeADefaultMirror: a named tenant's fixed DSN must not be the mirror that the
// default route gives another tenant.
func TestNamedTenantCannotTakeADefaultMirror(t *testing.T) {
	dir := t.TempDir()
	_, err := engine.New(engine.Options{
		Default: &engine.Route{Dialect: "sqlite", DSN: dir + "/{ctx}.db"},
		Tenants: map[string]engine.Route{"A": {Dialect: "sqlite", DSN: dir + "/Cust7.db"}},
	})
	if err == nil || !strings.Contains(err.Error(), "Cust7") {
		t.Fatalf("a named tenant on Cust7's default mirror: %v", err)
	}
	if _, err := engine.New(engine.Options{
		Default: &engine.Route{Dialect: "sqlite", DSN: dir + "/{ctx}.db"},
		Tenants: map[string]engine.Route{"A": {Dialect: "sqlite", DSN: dir + "/other/a.db"}},
	}); err != nil {
		t.Fatalf("a named tenant with a mirror of its own: %v", err)
	}
}

// TestFanInRoutes: the fan-in layout is the one way for tenants to share a schema; it must not have
// {ctx}, its dialect must take it, and no tenant's mirror of its own may be its shared schema.
func TestFanInRoutes(t *testing.T) {
	dir := t.TempDir()
	pg := func(r engine.Route) *engine.Route {
		r.Dialect = "postgres"
		return &r
	}
	for name, opts := range map[string]engine.Options{
		"fan_in with {ctx}":           {Default: pg(engine.Route{DSN: "postgres://h/db", Schema: "s_{ctx}", Layout: engine.FanIn})},
		"fan_in on SQLite":            {Default: &engine.Route{Dialect: "sqlite", DSN: dir + "/all.db", Layout: engine.FanIn}},
		"a tenant column, per tenant": {Default: pg(engine.Route{DSN: "postgres://h/db_{ctx}", TenantColumn: "t"})},
		"an unknown layout":           {Default: pg(engine.Route{DSN: "postgres://h/db", Layout: "shared"})},
		"a blank tenant column":       {Default: pg(engine.Route{DSN: "postgres://h/db", Layout: engine.FanIn, TenantColumn: " t"})},
		"a tenant of its own on the default fan-in schema": {
			Default: pg(engine.Route{DSN: "postgres://h/db", Schema: "all", Layout: engine.FanIn}),
			Tenants: map[string]engine.Route{"B": *pg(engine.Route{DSN: "postgres://h/db", Schema: "all"})},
		},
		"two tenant columns on one schema": {
			Default: pg(engine.Route{DSN: "postgres://h/db", Schema: "all", Layout: engine.FanIn}),
			Tenants: map[string]engine.Route{"B": *pg(engine.Route{DSN: "postgres://h/db", Schema: "all", Layout: engine.FanIn, TenantColumn: "ctx"})},
		},
		"a tenant of its own on the fan-in schema": {Tenants: map[string]engine.Route{
			"A": *pg(engine.Route{DSN: "postgres://h/db", Schema: "all", Layout: engine.FanIn}),
			"B": *pg(engine.Route{DSN: "postgres://h/db", Schema: "all"}),
		}},
	} {
		if _, err := engine.New(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	e, err := engine.New(engine.Options{
		Default: pg(engine.Route{DSN: "postgres://h/db", Schema: "analytics", Layout: engine.FanIn}),
		Tenants: map[string]engine.Route{
			"A": *pg(engine.Route{DSN: "postgres://h/db", Schema: "analytics", Layout: engine.FanIn}),
			"B": *pg(engine.Route{DSN: "postgres://h/db", Schema: "analytics", Layout: engine.FanIn}),
		},
	})
	if err != nil {
		t.Fatalf("tenants sharing a fan-in schema: %v", err)
	}
	e.Close()
}

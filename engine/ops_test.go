package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// TestHooksAreValidated: a hook that uses a placeholder its event does not have (after_cycle has no
// table), has no statement, or asks for changed_only outside before_table is refused when the engine
// is built, globally and per route.
func TestHooksAreValidated(t *testing.T) {
	route := engine.Route{Dialect: "sqlite", DSN: filepath.Join(t.TempDir(), "{ctx}.db")}
	for _, c := range []struct {
		hooks engine.Hooks
		where string
		want  string
	}{
		{engine.Hooks{AfterCycle: []engine.Hook{{Statements: []string{"ANALYZE {table}"}}}}, "global", "{table} has no value in a after_cycle hook"},
		{engine.Hooks{AfterWipe: []engine.Hook{{Statements: []string{"SELECT {schema_changed}"}}}}, "route", "{schema_changed}"},
		{engine.Hooks{BeforeTable: []engine.Hook{{Statements: []string{"SELECT {cycle_id}"}}}}, "global", "{cycle_id}"},
		{engine.Hooks{AfterWipe: []engine.Hook{{}}}, "global", "at least one statement"},
		{engine.Hooks{AfterWipe: []engine.Hook{{Statements: []string{"  "}}}}, "route", "empty statement"},
		{engine.Hooks{AfterCycle: []engine.Hook{{ChangedOnly: true, Statements: []string{"ANALYZE"}}}}, "global", "changed_only"},
		{engine.Hooks{AfterWipe: []engine.Hook{{Statements: []string{"INSERT INTO log VALUES ('{table}')"}}}}, "global", "inside a quoted string"},
		{engine.Hooks{BeforeTable: []engine.Hook{{Statements: []string{"SELECT 'it''s {table_literal} here'"}}}}, "route", "inside a quoted string"},
	} {
		opts := engine.Options{Tenants: map[string]engine.Route{"Cust1": route}}
		if c.where == "global" {
			opts.Hooks = c.hooks
		} else {
			r := route
			r.Hooks = c.hooks
			opts.Tenants["Cust1"] = r
		}
		_, err := engine.New(opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s hooks %+v: %v, want an error saying %s", c.where, c.hooks, err, c.want)
		}
	}
	// JSON braces and other text in braces are SQL, not placeholders.
	ok := engine.Options{Tenants: map[string]engine.Route{"Cust1": route},
		Hooks: engine.Hooks{AfterCycle: []engine.Hook{{Statements: []string{`SELECT '{"table": 1}', '{1,2}'`}}},
			AfterWipe: []engine.Hook{{Statements: []string{"INSERT INTO log VALUES ({table_literal}, 'it''s wiped')"}}}}}
	if _, err := engine.New(ok); err != nil {
		t.Fatalf("a hook with braces of its own: %v", err)
	}
}

// TestRouteHooksFollowGlobalOnes: a route's hooks run after the global ones, for its tenants only.
func TestRouteHooksFollowGlobalOnes(t *testing.T) {
	dir := t.TempDir()
	logged := func(who string) engine.Hook {
		return engine.Hook{Statements: []string{
			"CREATE TABLE IF NOT EXISTS order_log (who TEXT, n INTEGER)",
			"INSERT INTO order_log SELECT '" + who + "', COUNT(*) FROM order_log",
		}}
	}
	route := engine.Route{Dialect: "sqlite", DSN: filepath.Join(dir, "{ctx}.db")}
	own := route
	own.Hooks = engine.Hooks{AfterCycle: []engine.Hook{logged("route")}}
	e, err := engine.New(engine.Options{
		Tenants: map[string]engine.Route{"Own": own},
		Default: &route,
		Hooks:   engine.Hooks{AfterCycle: []engine.Hook{logged("global")}},
		Logger:  discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	for _, tenant := range []string{"Own", "Other"} {
		if err := e.ReplicationCompleted(ctx, contract.Call{Tenant: tenant}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for tenant, want := range map[string]string{"Own": "global:0 route:1", "Other": "global:0"} {
		if got := readLog(t, dir, tenant); got != want {
			t.Errorf("tenant %s: the hooks ran as %q, want %q", tenant, got, want)
		}
	}
}

func readLog(t *testing.T, dir, tenant string) string {
	t.Helper()
	ctx := context.Background()
	tx := mirrorTx(t, dir, tenant)
	var parts []string
	tbl := dialect.Table{Name: "order_log", Columns: []typemap.Column{
		{Name: "who", Type: typemap.Type{Kind: typemap.NVarChar, Length: typemap.Max}},
		{Name: "n", Type: typemap.Type{Kind: typemap.BigInt}},
	}, Key: []int{1}}
	err := tx.Tables().Read(ctx, tbl, func(v []any) error {
		parts = append(parts, fmt.Sprintf("%v:%v", v[0], v[1]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(parts) // "global" sorts before "route"; the numbers say the order they ran in
	return strings.Join(parts, " ")
}

// TestRouteChecks: a route is checked through an open mirror of it (a named tenant's own, the default
// route's tenant that called last), failing when a call could not open one, unchecked before any
// call: the checks open nothing themselves.
func TestRouteChecks(t *testing.T) {
	dir := t.TempDir()
	e, err := engine.New(engine.Options{
		Tenants: map[string]engine.Route{
			"Good": {Dialect: "sqlite", DSN: filepath.Join(dir, "{ctx}.db")},
			"Bad":  {Dialect: "sqlite", DSN: "/dev/null/cannot/{ctx}.db"},
		},
		Default: &engine.Route{Dialect: "sqlite", DSN: filepath.Join(dir, "d_{ctx}.db")},
		Logger:  discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	summary := func() string {
		var parts []string
		for _, h := range e.CheckRoutes(ctx, 2*time.Second) {
			parts = append(parts, h.Route+"="+h.State+"/"+h.Tenant)
		}
		return strings.Join(parts, " ")
	}
	// Nothing is opened by the checks themselves.
	if got, want := summary(), "tenant Bad=unchecked/ tenant Good=unchecked/ default=unchecked/"; got != want {
		t.Fatalf("route checks before any call: %s, want %s", got, want)
	}
	if e.OpenTenants() != 0 {
		t.Fatalf("the checks opened %d mirrors", e.OpenTenants())
	}
	for _, tenant := range []string{"Good", "Bad", "Someone"} {
		if _, err := e.Authenticate(ctx, contract.Call{Tenant: tenant}); (err != nil) != (tenant == "Bad") {
			t.Fatalf("Authenticate %s: %v", tenant, err)
		}
	}
	if got, want := summary(), "tenant Bad=failing/Bad tenant Good=ok/Good default=ok/Someone"; got != want {
		t.Fatalf("route checks after calls: %s, want %s", got, want)
	}
}

// TestOverview lists the configured tenants and those that called, with pause, lag and last error,
// and counts failed hooks by event and kind in /metrics.
func TestOverview(t *testing.T) {
	clock := time.Date(2026, 5, 18, 10, 0, 0, 0, time.UTC)
	e, _ := newEngine(t, func(o *engine.Options) {
		o.Tenants = map[string]engine.Route{"Named": {Dialect: "sqlite", DSN: o.Default.DSN, Paused: true}}
		o.Hooks = engine.Hooks{AfterWipe: []engine.Hook{{Statements: []string{"NOT SQL"}}}}
		o.Now = func() time.Time { return clock }
	})
	ctx := context.Background()
	call := contract.Call{Tenant: "Caller"}
	if _, err := e.TableSchema(ctx, call, []contract.TableSchema{{Name: "t", Columns: []contract.Column{{Name: "id", Type: "int"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.ReplicationCompleted(ctx, call, []contract.Summary{{Table: "t", Inserts: 3}}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(90 * time.Minute)
	if err := e.Wipe(ctx, call, "t"); err != nil {
		t.Fatalf("a failing hook that is not required failed the call: %v", err)
	}
	if got := e.KnownTenants(); strings.Join(got, ",") != "Caller,Named" {
		t.Fatalf("known tenants %v", got)
	}
	all := e.Overview(ctx, 5*time.Second)
	if len(all) != 2 {
		t.Fatalf("overview %+v", all)
	}
	caller, named := all[0], all[1]
	if caller.LastCycle == nil || caller.LastCycle.Inserts != 3 || caller.Lag != 90*time.Minute || caller.Paused != nil ||
		caller.LastError == nil || caller.LastError.Operation != "hook after_wipe" || caller.Unavailable != "" {
		t.Fatalf("overview of the caller: %+v (last error %+v)", caller, caller.LastError)
	}
	if named.Paused == nil || !named.Paused.Pinned || named.LastCycle != nil || named.Dialect != "sqlite" {
		t.Fatalf("overview of the pinned tenant: %+v", named)
	}
	var m bytes.Buffer
	if err := e.Metrics().WritePrometheus(&m); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`mirrorsink_hook_failures_total{event="after_wipe",kind="sql"} 1`,
		`mirrorsink_hook_failures_total{event="before_table",kind="webhook"} 0`,
	} {
		if !strings.Contains(m.String(), line+"\n") {
			t.Errorf("/metrics lacks %s:\n%s", line, m.String())
		}
	}
}

// TestPinnedPauseOutlivesResume: a pause pinned by the configuration stays when a stored one is
// lifted, and status shows both.
func TestPinnedPauseOutlivesResume(t *testing.T) {
	e, _ := newEngine(t, func(o *engine.Options) {
		o.Tenants = map[string]engine.Route{"Pinned": {Dialect: "sqlite", DSN: o.Default.DSN, Paused: true}}
	})
	ctx := context.Background()
	if err := e.Pause(ctx, "Pinned", "me", "also"); err != nil {
		t.Fatal(err)
	}
	st, err := e.Status(ctx, "Pinned")
	if err != nil || st.Paused == nil || !st.Paused.Pinned || st.Paused.By != "me" {
		t.Fatalf("status: %+v, %v", st.Paused, err)
	}
	if had, err := e.Resume(ctx, "Pinned"); err != nil || !had {
		t.Fatalf("resume: %v, %v", had, err)
	}
	if res, err := e.Authenticate(ctx, contract.Call{Tenant: "Pinned"}); err != nil || !res.DoNotReplicate {
		t.Fatalf("Authenticate of a pinned tenant after resume: %+v, %v", res, err)
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/webhook"
	"github.com/mirrorsink/mirrorsink/internal/webhook/webhooktest"
	"github.com/mirrorsink/mirrorsink/protocol"
	"github.com/mirrorsink/mirrorsink/simulator"
)

// logEvent is a SQL hook that appends an event to the partner's table ev, numbering the events of one
// kind and table. (INSERT … SELECT from the table itself is portable, MySQL included.)
func logEvent(kind, table, changed, recreated, cycle string) engine.Hook {
	return engine.Hook{Statements: []string{
		"INSERT INTO ev (kind, tablename, seq, changed, recreated, cycleid, tenant) SELECT '" + kind + "', " + table +
			", COUNT(*) + 1, " + changed + ", " + recreated + ", " + cycle + ", {ctx_literal} FROM ev WHERE kind = '" + kind + "' AND tablename = " + table,
	}}
}

// TestEventsReachHooksAndWebhooks runs real cycles (the simulator over HTTP) with a SQL hook and a
// webhook on every event, and checks that each event reached both, with the right payload: before_table
// for every table of every cycle (schema_changed on the first), after_wipe for every table the first
// cycle loaded whole, after_cycle with the cycle's id and its per-table summary.
func TestEventsReachHooksAndWebhooks(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		recv := webhooktest.New(t)
		hooks, err := webhook.New(webhook.Options{Endpoints: []webhook.Endpoint{recv.Endpoint()}, RootCAs: recv.RootCAs,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { hooks.Close(context.Background()) })
		svc := startService(t, tg.route(t), func(o *engine.Options) {
			o.Hooks = engine.Hooks{
				BeforeTable: []engine.Hook{logEvent("before_table", "{table_literal}", "{schema_changed}", "{recreated}", "0")},
				AfterWipe:   []engine.Hook{logEvent("after_wipe", "{table_literal}", "0", "0", "0")},
				AfterCycle:  []engine.Hook{logEvent("after_cycle", "'-'", "0", "0", "{cycle_id}")},
			}
			o.Notifier = hooks
		})
		tn := newTenant(t, tg, svc, "crm", 200, 40_000)
		ev := partnerTable(t, svc, tn.name, "ev", []string{"kind", "tablename", "seq"},
			contract.Column{Name: "kind", Type: "nvarchar(20)"}, contract.Column{Name: "tablename", Type: "nvarchar(128)"},
			contract.Column{Name: "seq", Type: "int"}, contract.Column{Name: "changed", Type: "int"},
			contract.Column{Name: "recreated", Type: "int"}, contract.Column{Name: "cycleid", Type: "bigint"},
			contract.Column{Name: "tenant", Type: "nvarchar(60)"})

		first := tn.cycle(t)
		tn.churn(t, 20, 30, 10, 3)
		second := tn.cycle(t)

		// What each event must say, as "kind table changed recreated".
		var want []string
		for i, res := range []simulator.CycleResult{first, second} {
			for _, tr := range res.Tables {
				want = append(want, fmt.Sprintf("before_table %s %d 0", tr.Table, 1-i))
				if tr.Full {
					want = append(want, "after_wipe "+tr.Table+" 0 0")
				}
			}
			want = append(want, "after_cycle - 0 0")
		}
		sort.Strings(want)

		// The SQL hooks, in the mirror.
		rows := readPartner(t, svc, tn.name, ev)
		var gotSQL []string
		cycleIDs := map[string]int64{} // after_cycle's seq → the cycle's id
		for _, r := range rows {
			gotSQL = append(gotSQL, strings.Join([]string{r[0], r[1], r[3], r[4]}, " "))
			if r[6] != tn.name {
				t.Fatalf("the hook's {ctx_literal} is %q, want %q", r[6], tn.name)
			}
			if r[0] == "after_cycle" {
				var id int64
				fmt.Sscan(r[5], &id)
				cycleIDs[r[2]] = id
			}
		}
		sort.Strings(gotSQL)
		if strings.Join(gotSQL, "\n") != strings.Join(want, "\n") {
			t.Fatalf("the SQL hooks saw:\n%s\nwant:\n%s", strings.Join(gotSQL, "\n"), strings.Join(want, "\n"))
		}

		// The webhooks, at the receiver.
		var gotHooks []string
		summaries := map[int64][]engine.TableSummary{}
		for range want {
			a := recv.Next(t)
			b := a.Body
			if !a.Signed || b.Tenant != tn.name || b.ID != a.ID || b.Time.IsZero() || time.Since(b.Time) > time.Minute {
				t.Fatalf("webhook %s (signed %v)", a.Raw, a.Signed)
			}
			switch b.Event {
			case "before_table":
				gotHooks = append(gotHooks, fmt.Sprintf("before_table %s %d %d", b.Table, b2i(*b.SchemaChanged), b2i(*b.Recreated)))
			case "after_wipe":
				gotHooks = append(gotHooks, "after_wipe "+b.Table+" 0 0")
			case "after_cycle":
				gotHooks = append(gotHooks, "after_cycle - 0 0")
				summaries[b.Cycle] = *b.Summary
			}
		}
		sort.Strings(gotHooks)
		if strings.Join(gotHooks, "\n") != strings.Join(want, "\n") {
			t.Fatalf("the webhooks said:\n%s\nwant:\n%s", strings.Join(gotHooks, "\n"), strings.Join(want, "\n"))
		}
		// Each cycle's summary: the webhook's is what the Mirroring Task reported, and the SQL hook got
		// the same cycle's id.
		for seq, res := range map[string]simulator.CycleResult{"1": first, "2": second} {
			got, ok := summaries[cycleIDs[seq]]
			if !ok {
				t.Fatalf("no after_cycle webhook for cycle %d (the SQL hook's cycle %s); webhooks had %v", cycleIDs[seq], seq, summaries)
			}
			var wantSum []engine.TableSummary
			for _, tr := range res.Tables {
				if tr.LSN > 0 {
					wantSum = append(wantSum, engine.TableSummary{Table: tr.Table, Inserts: tr.Inserts, Updates: tr.Updates, Deletes: tr.Deletes})
				}
			}
			bySummaryTable := func(a, b engine.TableSummary) int { return strings.Compare(a.Table, b.Table) }
			slices.SortFunc(got, bySummaryTable)
			slices.SortFunc(wantSum, bySummaryTable)
			if fmt.Sprint(got) != fmt.Sprint(wantSum) || len(got) == 0 {
				t.Fatalf("cycle %s's summary: webhook %v, want %v", seq, got, wantSum)
			}
		}
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// partnerTable opens the tenant's mirror (as its first call would) and creates a table of the
// partner's own in it, through the dialect.
func partnerTable(t *testing.T, svc *service, tenant, name string, key []string, cols ...contract.Column) dialect.Table {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.engine.Authenticate(ctx, contract.Call{Tenant: tenant}); err != nil {
		t.Fatal(err)
	}
	tbl, err := conformance.MakeTable(name, cols, key...)
	if err != nil {
		t.Fatal(err)
	}
	withMirror(t, svc, tenant, func(tx dialect.Tx) error { return tx.Tables().Create(ctx, tbl) })
	return tbl
}

// readPartner reads a partner's table as canonical text.
func readPartner(t *testing.T, svc *service, tenant string, tbl dialect.Table) [][]string {
	t.Helper()
	var out [][]string
	d, _ := dialect.Lookup(svc.route.Dialect)
	withMirror(t, svc, tenant, func(tx dialect.Tx) error {
		var err error
		out, err = conformance.ReadCanonical(context.Background(), tx, tbl, d.Capabilities().Losses())
		return err
	})
	return out
}

// withMirror runs fn in a committed transaction of the tenant's mirror, opened on its own.
func withMirror(t *testing.T, svc *service, tenant string, fn func(tx dialect.Tx) error) {
	t.Helper()
	ctx := context.Background()
	d, err := dialect.Lookup(svc.route.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	dsn, schema := svc.route.Resolve(tenant)
	store, err := d.Open(ctx, dsn, dialect.OpenOptions{Tenant: tenant, Schema: schema, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tx, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback(ctx)
		t.Fatal(err)
	}
	if err := tx.Commit(ctx, dialect.Durable); err != nil {
		t.Fatal(err)
	}
}

// TestPauseAcrossReplicas: two running services on one mirror; the pause command (an engine of its
// own, as on an operator's machine) pauses the tenant, and at once both answer doNotReplicate and
// refuse a write, without a restart; the resume lets the next cycle through either replica.
func TestPauseAcrossReplicas(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		route := tg.route(t)
		a, b := startService(t, route), startService(t, route)
		tn := newTenant(t, tg, a, "crm", 100, 40_000)
		viaB := newDriver(t, b.URL, tn.name, 40_000)
		tn.cycle(t)

		ops, err := engine.New(engine.Options{Default: &route, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer ops.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := ops.Pause(ctx, tn.name, "ops@e2e", "restoring a backup"); err != nil {
			t.Fatal(err)
		}
		tn.churn(t, 10, 10, 5, 11)
		for name, d := range map[string]*simulator.Driver{"a": tn.driver, "b": viaB} {
			res, err := d.Cycle(ctx, tn.src)
			if err != nil || !res.Skipped {
				t.Fatalf("a cycle through replica %s of the paused tenant: %+v, %v; want it skipped", name, res.Summary(), err)
			}
		}
		// A Mirroring Task that writes anyway is refused, and nothing is written.
		client := &protocol.Client{URL: b.URL}
		extra := contract.TableSchema{Name: "not_while_paused", Columns: []contract.Column{{Name: "id", Type: "int"}}}
		r, err := client.TableSchema(ctx, signedToken(t, tn.name), protocol.TableSchemaRequest{Tables: []contract.TableSchema{extra}})
		if err != nil || r.IsSuccessful || !strings.Contains(r.ErrorMessage, "paused") {
			t.Fatalf("TableSchema through replica b while paused: %+v, %v", r, err)
		}
		st, err := b.engine.Status(ctx, tn.name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Paused == nil || st.Paused.By != "ops@e2e" || st.Paused.Reason != "restoring a backup" {
			t.Fatalf("status at replica b: %+v", st.Paused)
		}
		for _, ts := range st.Tables {
			if ts.Table == extra.Name {
				t.Fatal("a paused tenant's TableSchema created a table")
			}
		}

		if had, err := ops.Resume(ctx, tn.name); err != nil || !had {
			t.Fatalf("resume: %v, %v", had, err)
		}
		res, err := viaB.Cycle(ctx, tn.src)
		if err != nil || res.Skipped {
			t.Fatalf("the cycle through replica b after the resume: %+v, %v", res.Summary(), err)
		}
		tn.verify(t)
		tn.churn(t, 10, 10, 5, 12)
		if res := tn.cycle(t); res.Skipped {
			t.Fatal("the cycle through replica a after the resume was skipped")
		}
	})
}

// signedToken is a token "SuperOffice" signed for tenant.
func signedToken(t *testing.T, tenant string) string {
	t.Helper()
	now := time.Now()
	tok, err := protocol.SignTestToken(keys.so, protocol.CertificateThumbprint(keys.cert), protocol.TestTokenClaims{
		Tenant: tenant, Nonce: "N", ClientID: clientID, NotBefore: now.Add(-time.Minute), Expires: now.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

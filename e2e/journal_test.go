package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/simulator"
)

// TestJournalChurn mirrors a tenant with the change journal on through several cycles (the initial
// load, churn, a schema change that drops, creates and retypes tables, a reset) and checks, after
// each, the mirror against its source and the cycle's journal entries against what the source
// changed (simulator.VerifyJournal): each cycle's entries exactly, and the whole journal folded into
// the source's keys.
func TestJournalChurn(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		route := tg.route(t)
		route.Journal = true
		svc := startService(t, route)
		tn := newTenant(t, tg, svc, "crm", 300, 40_000)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var absent []string
		step := func(what string, change func()) {
			t.Helper()
			mark, err := tn.mirror.Mark(ctx)
			if err != nil {
				t.Fatal(err)
			}
			change()
			res := tn.cycle(t, absent...)
			if err := tn.mirror.VerifyJournal(ctx, tn.src, &mark, &res); err != nil {
				t.Fatalf("%s: %v\ncycle: %s", what, err, res.Summary())
			}
			t.Logf("%s: %s; journal verified after entry %d", what, res.Summary(), mark.Seq)
		}
		step("initial load", func() {})
		for round := range 3 {
			step("churn", func() { tn.churn(t, 30, 50, 15, uint64(round+1)) })
		}
		step("schema change", func() {
			sc, err := simulator.SchemaChange(ctx, tn.src, 7)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Dropped != "" {
				absent = append(absent, sc.Dropped)
			}
		})
		step("churn after the schema change", func() { tn.churn(t, 10, 20, 5, 11) })
		step("reset", func() {
			tables, err := tn.src.Tables(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := tn.mirror.Reset(ctx, tables[0].Name); err != nil {
				t.Fatal(err)
			}
		})
	})
}

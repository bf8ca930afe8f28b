package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/simulator"
)

// churnScenario is a run of cycles over tenants of the crm dataset on one service: a first cycle, then
// Cycles times, for each tenant in turn, a churn (inserts, updates, deletes and re-inserts of keys
// deleted before) and a cycle, each cycle verified: the live rows against the source, and, where the
// route adds its columns, the rows kept as deleted and the mirrored-at times (simulator.Tombstones).
// Other features check their own state after each cycle through Check.
type churnScenario struct {
	// Route is where the service mirrors the tenants (with the options under test).
	Route engine.Route
	// Tenants is how many tenants share the service (default 1); in the fan-in layout they share the
	// route's schema.
	Tenants int
	// Rows and BatchBytes size each source and the RowData calls.
	Rows       int64
	BatchBytes int
	// Cycles is how many churn cycles follow the first; Churn what each changes (its seed varies).
	Cycles int
	Churn  simulator.ChurnOptions
	// Check, when set, runs after each cycle's verification; cycle 0 is the first.
	Check func(t *testing.T, tn *tenant, cycle int, res simulator.CycleResult)
}

// churnOutcome is what a churn scenario did, over every tenant and cycle.
type churnOutcome struct {
	simulator.ChurnResult
	// Tombstones is how many rows the mirrors keep as deleted at the end.
	Tombstones int
}

// runChurnScenario runs sc against the target tg.
func runChurnScenario(t *testing.T, tg target, sc churnScenario) churnOutcome {
	t.Helper()
	svc := startService(t, sc.Route)
	if sc.Route.Layout == engine.FanIn {
		tg.drop = func(*testing.T, string) {} // the route's cleanup drops the shared schema
	}
	route := sc.Route
	tenants := make([]*tenant, max(sc.Tenants, 1))
	tombs := make([]*simulator.Tombstones, len(tenants))
	for i := range tenants {
		tenants[i] = newTenant(t, tg, svc, "crm", sc.Rows, sc.BatchBytes)
		tenants[i].mirror.Route = &route
		var err error
		if tombs[i], err = simulator.NewTombstones(route.Dialect); err != nil {
			t.Fatal(err)
		}
	}
	var out churnOutcome
	for cycle := 0; cycle <= sc.Cycles; cycle++ {
		for i, tn := range tenants {
			res := churnCycle(t, tn, tombs[i], route, cycle, sc.Churn, &out.ChurnResult)
			if sc.Check != nil {
				sc.Check(t, tn, cycle, res)
			}
		}
	}
	for _, h := range tombs {
		out.Tombstones += h.Count()
	}
	return out
}

// churnCycle runs one cycle of a churn scenario for one tenant (after a churn, from cycle 1 on, whose
// counts it adds to done) and verifies the mirror.
func churnCycle(t *testing.T, tn *tenant, tombs *simulator.Tombstones, route engine.Route, cycle int, churn simulator.ChurnOptions, done *simulator.ChurnResult) simulator.CycleResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if cycle > 0 {
		churn.Dataset, churn.Seed = "crm", uint64(cycle)*7919
		res, err := simulator.Churn(ctx, tn.src, churn)
		if err != nil {
			t.Fatal(err)
		}
		done.Inserts, done.Updates, done.Deletes, done.Reinserts = done.Inserts+res.Inserts,
			done.Updates+res.Updates, done.Deletes+res.Deletes, done.Reinserts+res.Reinserts
	}
	since := time.Now()
	res, err := tn.driver.Cycle(ctx, tn.src)
	if err != nil {
		t.Fatalf("tenant %s, cycle %d: %v", tn.name, cycle, err)
	}
	until := time.Now()
	tn.verify(t)
	if err := tombs.Record(ctx, tn.src, res); err != nil {
		t.Fatal(err)
	}
	st, err := tn.mirror.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := tombs.Verify(ctx, st, route.AddedColumns, since, until); err != nil {
		t.Fatalf("tenant %s, cycle %d (%s): %v", tn.name, cycle, res.Summary(), err)
	}
	return res
}

// softChurn is the churn scenario with soft deletes and the mirrored-at column on route, with two
// tables overridden (text deletes hard, sale has no mirrored-at column); it checks that no churn
// cycle resent a table whole and that the churns deleted and re-inserted rows, and, where the route
// keeps the change journal, that each cycle's entries are exactly what the source changed
// (simulator.VerifyJournal).
func softChurn(t *testing.T, tg target, route engine.Route, tenants int) {
	t.Helper()
	marks := map[string]simulator.JournalMark{} // by tenant: the journal's end before its next cycle
	route.Deletes, route.MirroredAt = engine.SoftDeletes, true
	noMirroredAt := false
	route.Tables = map[string]engine.TableOptions{
		"text": {Deletes: engine.HardDeletes},
		"sale": {MirroredAt: &noMirroredAt},
	}
	out := runChurnScenario(t, tg, churnScenario{
		Route: route, Tenants: tenants, Rows: 300, BatchBytes: 40_000, Cycles: 4,
		Churn: simulator.ChurnOptions{Inserts: 30, Updates: 40, Deletes: 40, Reinserts: 15},
		Check: func(t *testing.T, tn *tenant, cycle int, res simulator.CycleResult) {
			for _, tr := range res.Tables {
				if cycle > 0 && tr.Full {
					t.Fatalf("tenant %s, cycle %d sent table %s whole (%s); a churn sends changes only", tn.name, cycle, tr.Table, tr.Reason)
				}
			}
			if !route.Journal {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			mark := marks[tn.name]
			if err := tn.mirror.VerifyJournal(ctx, tn.src, &mark, &res); err != nil {
				t.Fatalf("tenant %s, cycle %d (%s): %v", tn.name, cycle, res.Summary(), err)
			}
			next, err := tn.mirror.Mark(ctx)
			if err != nil {
				t.Fatal(err)
			}
			marks[tn.name] = next
		},
	})
	if out.Deletes == 0 || out.Reinserts == 0 || out.Tombstones == 0 {
		t.Fatalf("the churns did %+v and left %d rows kept as deleted; the scenario needs deletes and re-inserts", out.ChurnResult, out.Tombstones)
	}
	t.Logf("churns: %+v; rows kept as deleted at the end: %d", out.ChurnResult, out.Tombstones)
}

// TestSoftDeleteChurn runs cycles of churn with soft deletes and the mirrored-at column on every
// dialect: after every cycle the live rows equal the source's, the rows deleted at the source are kept
// with their last values and _deleted_at set, re-inserted keys are live again with _deleted_at NULL,
// and _mirrored_at moved exactly for the rows the cycle sent.
func TestSoftDeleteChurn(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) { softChurn(t, tg, tg.route(t), 1) })
}

// TestSoftDeleteAndJournalChurn is TestSoftDeleteChurn with the change journal on as well, on every
// dialect: besides the mirror, its tombstones and mirrored-at times, every cycle's journal entries are
// exactly the source's changes (a delete journaled as D although the row stays, marked; a re-insert of
// a deleted key as I), and the whole journal folds into the source's keys.
func TestSoftDeleteAndJournalChurn(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		route := tg.route(t)
		route.Journal = true
		softChurn(t, tg, route, 1)
	})
}

// TestFanInSoftDeleteChurn is TestSoftDeleteAndJournalChurn with two tenants in one fan-in schema, on
// every database that takes the layout: each tenant's deletes mark its own rows only, and each
// tenant's journal holds its own changes only.
func TestFanInSoftDeleteChurn(t *testing.T) {
	for _, tgt := range fanInTargets() {
		t.Run(tgt.Name, func(t *testing.T) {
			if tgt.Available != nil {
				tgt.Available(t)
			}
			route := tgt.Route(t)
			route.Journal = true // the shared journal, keyed by tenant: each tenant's entries are its own
			softChurn(t, target{name: tgt.Dialect}, route, 2)
		})
	}
}

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
)

// Authenticate accepts the tenant (opening its mirror, so that a misconfigured route fails here rather
// than mid-cycle) and asks SuperOffice to skip the cycle when the tenant is paused, by its route or by
// a pause stored in its mirror. A mirror found missing is opened again, and so re-created, within the
// call.
func (e *Engine) Authenticate(ctx context.Context, call contract.Call) (res contract.AuthResult, err error) {
	err = again(func() error {
		res, err = e.authenticate(ctx, call)
		return err
	})
	return res, err
}

func (e *Engine) authenticate(ctx context.Context, call contract.Call) (_ contract.AuthResult, err error) {
	defer func() { e.callFailed(call.Tenant, "Authenticate", "", err) }()
	route, err := e.RouteFor(call.Tenant)
	if err != nil {
		return contract.AuthResult{}, err
	}
	if route.Paused {
		return contract.AuthResult{DoNotReplicate: true}, nil
	}
	t, err := e.tenant(ctx, call.Tenant)
	if err != nil {
		e.noteOpenFailure(ctx, call.Tenant, err)
		return contract.AuthResult{}, err
	}
	defer e.release(t, &err)
	e.noteTenant(call.Tenant)
	p, err := e.storedPause(ctx, t)
	if err != nil {
		return contract.AuthResult{}, err
	}
	return contract.AuthResult{DoNotReplicate: p != nil}, nil
}

// tableSchema creates missing tables, reconciles changed ones, drops tables absent from the request
// and answers every requested table's LSN (-1 where SuperOffice must wipe and resend). A table whose
// metadata matches the request but which is gone from the mirror (dropped by hand) is recreated and
// answers -1.
//
// One table's failure is that table's alone: the other tables of the call are reconciled and
// committed, and the call then fails naming the tables that did not make it, so that the next cycle
// retries just those (the others answer their stored LSN at once).
//
// Once every table is settled and committed, before_table fires for each table that made it, in
// request order (also when others failed: a change must not go unreported because the call failed).
func (e *Engine) tableSchema(ctx context.Context, call contract.Call, tables []contract.TableSchema) (_ []contract.TableLSN, err error) {
	defer func() { e.callFailed(call.Tenant, "TableSchema", "", err) }()
	t, err := e.writable(ctx, call.Tenant)
	if err != nil {
		return nil, err
	}
	defer e.release(t, &err)
	if len(tables) == 0 {
		// Every mirrored table would count as deleted at the source and be dropped: a truncated or
		// broken request must not destroy a mirror.
		return nil, errors.New("the TableSchema request names no tables; it is refused and nothing was changed " +
			"(an empty request would drop every mirrored table)")
	}
	var failed tableFailures
	models := make([]*tableModel, len(tables))
	seen := make(map[string]bool, len(tables))     // exact names requested
	folded := make(map[string]string, len(tables)) // the database's form of each name → the first name with it
	for i, ts := range tables {
		if seen[ts.Name] {
			return nil, fmt.Errorf("table %s appears twice in the request; nothing was changed", shortName(ts.Name))
		}
		// Seen before it is checked: a stored table that the request names is never dropped as
		// missing, even when its name fails a check it passed before.
		seen[ts.Name] = true
		if err := t.checkTableName(ts.Name); err != nil {
			failed.add(ts.Name, err)
			continue
		}
		if t.isOwnTable(ts.Name) {
			failed.add(ts.Name, errors.New("it has the name of one of mirrorsink's own metadata tables"))
			continue
		}
		f := t.names.Fold(ts.Name)
		if first, dup := folded[f]; dup {
			failed.add(ts.Name, fmt.Errorf("the mirror's database does not tell its name from table %q's (names differ only in case); it is refused, and %q is kept", first, first))
			continue
		}
		folded[f] = ts.Name
		if models[i], err = buildModel(ts, e.opts.Keys[ts.Name], t.route.added(ts.Name)); err != nil {
			failed.add(ts.Name, err)
		}
	}

	var stored map[string]dialect.TableMeta
	var lost map[string]bool
	if err := e.metaTx(ctx, t, func(ctx context.Context, tx dialect.Tx) error {
		var err error
		if stored, err = tx.Meta().Tables(ctx); err != nil {
			return err
		}
		lost, err = e.lostTables(ctx, t, tx, stored, models)
		return err
	}); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.name, err)
	}

	answer := make([]contract.TableLSN, 0, len(tables))
	var work []*tableModel
	for _, m := range models {
		if m == nil {
			continue
		}
		if r, ok := stored[m.table.Name]; ok && r.SchemaHash == m.hash && !lost[m.table.Name] {
			answer = append(answer, contract.TableLSN{Table: m.table.Name, LSN: r.LSN})
			continue
		}
		work = append(work, m)
	}
	lsns := make([]int64, len(work))
	errs := e.parallel(ctx, len(work), func(ctx context.Context, k int) error {
		var err error
		lsns[k], err = e.reconcile(ctx, t, work[k])
		return err
	})
	changed := make(map[string]bool, len(work))
	for k, m := range work {
		if errs[k] != nil {
			failed.add(m.table.Name, errs[k])
			continue
		}
		changed[m.table.Name] = true
		answer = append(answer, contract.TableLSN{Table: m.table.Name, LSN: lsns[k]})
	}

	if !e.opts.KeepMissingTables {
		e.dropMissing(ctx, t, stored, seen, folded, &failed)
	}
	byName := make(map[string]int64, len(answer))
	for _, a := range answer {
		byName[a.Table] = a.LSN
	}
	e.beforeTable(ctx, t, tableEvents(t.name, tables, byName, stored, changed, e.now()), &failed)
	if err := failed.err(len(tables)); err != nil {
		return nil, err
	}
	// Answer in request order.
	out := make([]contract.TableLSN, len(tables))
	for i, ts := range tables {
		out[i] = contract.TableLSN{Table: ts.Name, LSN: byName[ts.Name]}
	}
	return out, nil
}

// tableEvents returns the before_table events of a TableSchema call: one per table that made it, in
// request order. A table this call created or changed has SchemaChanged; one that answers -1 after a
// change of a table the mirror had is Recreated, whether it was dropped and created again or was
// waiting for a repopulation already: either way SuperOffice now wipes and resends it.
func tableEvents(tenant string, tables []contract.TableSchema, lsns map[string]int64, stored map[string]dialect.TableMeta, changed map[string]bool, now time.Time) []Event {
	events := make([]Event, 0, len(lsns))
	for _, ts := range tables {
		lsn, ok := lsns[ts.Name]
		if !ok {
			continue
		}
		_, existed := stored[ts.Name]
		ch := changed[ts.Name]
		events = append(events, Event{Kind: BeforeTable, Tenant: tenant, Table: ts.Name, SchemaChanged: ch,
			Recreated: ch && existed && lsn == -1, Time: now})
	}
	return events
}

// dropMissing drops the stored tables that the request no longer names: they were deleted at the
// source. A stored table whose name the database does not tell from a requested one's is the same
// table to the database: only its metadata row goes.
func (e *Engine) dropMissing(ctx context.Context, t *tenant, stored map[string]dialect.TableMeta, seen map[string]bool, folded map[string]string, failed *tableFailures) {
	var gone []string
	for name := range stored {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		_, sameTable := folded[t.names.Fold(name)]
		if t.fanIn != nil {
			e.dropFanIn(ctx, t, stored[name], sameTable, failed)
			continue
		}
		var lost []dialect.LostObject
		err := e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
			if !sameTable {
				err := e.emptying(ctx, t, tx, name, t.dialect.Capabilities().TransactionalDDL, func() error {
					var err error
					if lost, err = tx.Tables().Drop(ctx, name); err != nil {
						return fmt.Errorf("drop table %q: %w", name, err)
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			return tx.Meta().DeleteTable(ctx, name)
		})
		if err != nil {
			failed.add(name, err)
			continue
		}
		e.log.Info("dropped a table that the source no longer has", "tenant", t.name, "table", name)
		e.metrics.tablesDropped.Add(1)
		e.reportLost(t, name, lost)
	}
}

// tableFailures collects the tables of one call that failed, and why.
type tableFailures struct {
	names []string
	errs  []error
}

func (f *tableFailures) add(name string, err error) {
	f.names = append(f.names, name)
	f.errs = append(f.errs, err)
}

// err summarises the failures for SuperOffice (the message names every failed table; the service cuts
// it to its ErrorMessage limit) and for the log; nil when there were none.
func (f *tableFailures) err(total int) error {
	if len(f.names) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d tables failed (the others were applied):", len(f.names), total)
	for i, name := range f.names {
		fmt.Fprintf(&b, " table %s: %v;", shortName(name), f.errs[i])
	}
	return &TableErrors{msg: strings.TrimSuffix(b.String(), ";"), Tables: f.names, errs: f.errs}
}

// TableErrors is a call that failed for some of its tables only.
type TableErrors struct {
	// Tables are the tables that failed.
	Tables []string
	msg    string
	errs   []error
}

func (e *TableErrors) Error() string { return e.msg }

// Unwrap returns each table's error.
func (e *TableErrors) Unwrap() []error { return e.errs }

// parallel runs fn for 0..n-1 on at most SchemaWorkers goroutines and returns each one's error. A
// failure does not stop the others; the call's context does.
func (e *Engine) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) []error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(e.opts.SchemaWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(ctx, i)
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			for ; i < n; i++ {
				errs[i] = ctx.Err()
			}
			break feed
		}
	}
	close(next)
	wg.Wait()
	return errs
}

// errRecreate is how the first transaction of reconcile asks for a recreate: returned from it, it
// rolls back whatever that transaction did, so that nothing of a failed in-place change can be
// committed (and a transaction the server doomed is never asked to commit).
var errRecreate = errors.New("the table must be recreated")

// reconcile brings one table to the requested schema and returns the LSN to answer.
func (e *Engine) reconcile(ctx context.Context, t *tenant, m *tableModel) (int64, error) {
	if t.fanIn != nil {
		return e.reconcileFanIn(ctx, t, m)
	}
	name := m.table.Name
	var (
		lsn     int64 = -1
		reason  string
		altered bool
		lost    []dialect.LostObject
	)
	err := e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
		r, err := t.tableMeta(ctx, tx, name)
		if err != nil {
			return err
		}
		now := e.now()
		if r != nil && r.SchemaHash == m.hash {
			lsn = r.LSN // a concurrent call got here first
			return nil
		}
		exists, err := tx.Tables().Exists(ctx, name)
		if err != nil {
			return fmt.Errorf("table %q: %w", name, err)
		}
		if r == nil {
			if exists {
				// A table without metadata is of unknown shape and content: start it afresh.
				reason = "it exists without metadata"
				return errRecreate
			}
			if err := tx.Tables().Create(ctx, m.table); err != nil {
				return fmt.Errorf("create table %q: %w", name, err)
			}
			e.metrics.tablesCreated.Add(1)
			// A table created anew starts empty: also the one an operator dropped, whose rows the
			// journal still holds.
			if err := e.journalWipe(ctx, t, tx, name); err != nil {
				return err
			}
			return t.writeMeta(ctx, tx, m, -1, now, nil)
		}
		old, err := t.model(r)
		if err != nil || !exists {
			reason = "its stored schema is unreadable or the table is missing"
			return errRecreate
		}
		p := planChanges(old, m)
		if p.recreate {
			reason = p.reason
			return errRecreate
		}
		if err := e.purgeDeleted(ctx, t, tx, name, old, m); err != nil {
			// The table is not as its metadata says (a change that a database without transactional
			// DDL committed half): starting it afresh is what a failed in-place change does too.
			e.log.Warn("removing the rows kept as deleted failed; recreating the table", "tenant", t.name, "table", name, "err", err)
			reason = "the rows kept as deleted could not be removed"
			return errRecreate
		}
		if len(p.changes) > 0 {
			if lost, err = tx.Tables().Alter(ctx, m.table, p.changes); err != nil {
				if !errors.Is(err, dialect.ErrRecreate) {
					e.log.Warn("in-place schema change failed; recreating the table", "tenant", t.name, "table", name, "err", err)
				}
				reason = "the change cannot be made in place"
				return errRecreate
			}
			altered = true
		}
		lsn = r.LSN
		return t.writeMeta(ctx, tx, m, r.LSN, now, lost)
	})
	if !errors.Is(err, errRecreate) {
		if err == nil && altered {
			e.metrics.tablesAltered.Add(1)
			e.reportLost(t, name, lost)
		}
		return lsn, err
	}
	e.log.Info("recreating table", "tenant", t.name, "table", name, "reason", reason)
	if !t.dialect.Capabilities().TransactionalDDL {
		// The database commits DDL by itself: if the recreate stops half way (the table dropped, its
		// successor not created), the metadata must already say that the table's rows are to be sent
		// again, not keep the LSN of rows that are gone.
		if err := e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
			_, err := tx.Meta().ResetLSN(ctx, name)
			return err
		}); err != nil {
			return -1, fmt.Errorf("table %q: mark it for repopulation before recreating it: %w", name, err)
		}
	}
	lost = nil
	err = e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
		err := e.emptying(ctx, t, tx, name, t.dialect.Capabilities().TransactionalDDL, func() error {
			var err error
			if lost, err = tx.Tables().Recreate(ctx, m.table); err != nil {
				return fmt.Errorf("recreate table %q: %w", name, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return t.writeMeta(ctx, tx, m, -1, e.now(), lost)
	})
	if err != nil {
		return -1, err
	}
	e.metrics.tablesRecreated.Add(1)
	e.reportLost(t, name, lost)
	return -1, nil
}

// reportLost logs and counts, once their change has committed, the objects that a change of table
// could not keep (the metadata row, written in the same transaction, records them for status).
func (e *Engine) reportLost(t *tenant, table string, lost []dialect.LostObject) {
	for _, o := range lost {
		e.log.Warn("an object that mirrorsink did not create could not be kept through a change of its table; re-create it if it is still wanted",
			"tenant", t.name, "table", table, "object", o.Object, "reason", o.Reason)
	}
	e.metrics.partnerObjectsFailed.Add(int64(len(lost)))
}

// wipe empties a table, keeping its structure, and sets its LSN to -1 in the same transaction; then
// after_wipe fires.
func (e *Engine) wipe(ctx context.Context, call contract.Call, table string) (err error) {
	defer func() { e.callFailed(call.Tenant, "Wipe", table, err) }()
	t, err := e.writable(ctx, call.Tenant)
	if err != nil {
		return err
	}
	defer e.release(t, &err)
	if err := t.checkTableName(table); err != nil {
		return err
	}
	var m *tableModel
	err = e.inTx(ctx, t, table, dialect.Durable, func(tx dialect.Tx) error {
		r, err := t.tableMeta(ctx, tx, table)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("table %q is not known to the mirror; TableSchema must come first", table)
		}
		if m, err = t.model(r); err != nil {
			return err
		}
		// The LSN goes first: on dialects whose TRUNCATE commits by itself, a failure after it still
		// leaves the table marked for repopulation.
		if err := tx.Meta().SetLSN(ctx, table, -1, e.now()); err != nil {
			return err
		}
		return e.emptying(ctx, t, tx, table, t.dialect.Capabilities().TransactionalTruncate, func() error {
			if err := tx.Tables().Truncate(ctx, m.table); err != nil {
				return fmt.Errorf("truncate %q: %w", table, err)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	e.metrics.wipes.Add(1)
	// The table's rows follow, call after call: load them as they arrive (stream.go).
	t.guess.set(table)
	return e.emit(ctx, t, Event{Kind: AfterWipe, Tenant: t.name, Table: table, Time: e.now()})
}

// replicationCompleted records the cycle; then after_cycle fires, with the cycle's id and summary.
func (e *Engine) replicationCompleted(ctx context.Context, call contract.Call, changed []contract.Summary) (err error) {
	defer func() { e.callFailed(call.Tenant, "ReplicationCompleted", "", err) }()
	t, err := e.writable(ctx, call.Tenant)
	if err != nil {
		return err
	}
	defer e.release(t, &err)
	var ins, upd, del int64
	summary := make([]TableSummary, len(changed))
	for i, s := range changed {
		ins += int64(s.Inserts)
		upd += int64(s.Updates)
		del += int64(s.Deletes)
		summary[i] = TableSummary{Table: s.Table, Inserts: int64(s.Inserts), Updates: int64(s.Updates), Deletes: int64(s.Deletes)}
	}
	summaryJSON, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	now := e.now()
	cycle := dialect.Cycle{ID: now.UnixNano(), Completed: now, Tables: int64(len(changed)),
		Inserts: ins, Updates: upd, Deletes: del, Summary: string(summaryJSON)}
	err = e.metaTx(ctx, t, func(ctx context.Context, tx dialect.Tx) error {
		if err := tx.Meta().RecordCycle(ctx, cycle); err != nil {
			return fmt.Errorf("record the cycle: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.metrics.cycles.Add(1)
	e.pruneJournal(ctx, t)
	return e.emit(ctx, t, Event{Kind: AfterCycle, Tenant: t.name, Cycle: cycle.ID, Summary: summary, Time: now})
}

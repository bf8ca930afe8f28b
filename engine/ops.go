package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
)

// Authenticate accepts the tenant (opening its mirror, so that a misconfigured route fails here rather
// than mid-cycle) and asks SuperOffice to skip the cycle when the tenant is paused.
func (e *Engine) Authenticate(ctx context.Context, call contract.Call) (contract.AuthResult, error) {
	route, err := e.RouteFor(call.Tenant)
	if err != nil {
		return contract.AuthResult{}, err
	}
	if route.Paused {
		return contract.AuthResult{DoNotReplicate: true}, nil
	}
	if _, err := e.tenant(ctx, call.Tenant); err != nil {
		return contract.AuthResult{}, err
	}
	return contract.AuthResult{}, nil
}

// TableSchema creates missing tables, reconciles changed ones, drops tables absent from the request
// and answers every requested table's LSN (-1 where SuperOffice must wipe and resend).
func (e *Engine) TableSchema(ctx context.Context, call contract.Call, tables []contract.TableSchema) ([]contract.TableLSN, error) {
	t, err := e.writable(ctx, call.Tenant)
	if err != nil {
		return nil, err
	}
	models := make([]*tableModel, len(tables))
	seen := make(map[string]bool, len(tables))
	for i, ts := range tables {
		if err := t.checkTableName(ts.Name); err != nil {
			return nil, err
		}
		if seen[ts.Name] {
			return nil, fmt.Errorf("table %q appears twice in the request", ts.Name)
		}
		seen[ts.Name] = true
		if t.isOwnTable(ts.Name) {
			return nil, fmt.Errorf("table %q has the name of mirrorsink's own metadata table", ts.Name)
		}
		if models[i], err = buildModel(ts, e.opts.Keys[ts.Name]); err != nil {
			return nil, err
		}
	}

	var stored map[string]dialect.TableMeta
	if err := e.inTx(ctx, t, "", dialect.Durable, func(tx dialect.Tx) error {
		var err error
		stored, err = tx.Meta().Tables(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.name, err)
	}

	answer := make([]contract.TableLSN, len(tables))
	var work []int
	for i, m := range models {
		if r, ok := stored[m.table.Name]; ok && r.SchemaHash == m.hash {
			answer[i] = contract.TableLSN{Table: m.table.Name, LSN: r.LSN}
			continue
		}
		work = append(work, i)
	}
	if err := e.parallel(ctx, len(work), func(ctx context.Context, k int) error {
		i := work[k]
		lsn, err := e.reconcile(ctx, t, models[i])
		answer[i] = contract.TableLSN{Table: models[i].table.Name, LSN: lsn}
		return err
	}); err != nil {
		return nil, err
	}

	if !e.opts.KeepMissingTables {
		var gone []string
		for name := range stored {
			if !seen[name] {
				gone = append(gone, name)
			}
		}
		sort.Strings(gone)
		for _, name := range gone {
			if err := e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
				if err := tx.Tables().Drop(ctx, name); err != nil {
					return fmt.Errorf("drop table %q: %w", name, err)
				}
				return tx.Meta().DeleteTable(ctx, name)
			}); err != nil {
				return nil, err
			}
			e.log.Info("dropped a table that the source no longer has", "tenant", t.name, "table", name)
			e.metrics.tablesDropped.Add(1)
		}
	}
	return answer, nil
}

// parallel runs fn for 0..n-1 on at most SchemaWorkers goroutines and returns the first error.
func (e *Engine) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	workers := min(e.opts.SchemaWorkers, n)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// reconcile brings one table to the requested schema and returns the LSN to answer.
func (e *Engine) reconcile(ctx context.Context, t *tenant, m *tableModel) (int64, error) {
	name := m.table.Name
	var lsn int64 = -1
	var recreate string
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
				recreate = "it exists without metadata"
				return nil
			}
			if err := tx.Tables().Create(ctx, m.table); err != nil {
				return fmt.Errorf("create table %q: %w", name, err)
			}
			e.metrics.tablesCreated.Add(1)
			return t.writeMeta(ctx, tx, m, -1, now)
		}
		old, err := t.model(r)
		if err != nil || !exists {
			recreate = "its stored schema is unreadable or the table is missing"
			return nil
		}
		p := planChanges(old, m)
		if p.recreate {
			recreate = p.reason
			return nil
		}
		if len(p.changes) > 0 {
			if err := tx.Tables().Alter(ctx, m.table, p.changes); err != nil {
				if !errors.Is(err, dialect.ErrRecreate) {
					e.log.Warn("in-place schema change failed; recreating the table", "tenant", t.name, "table", name, "err", err)
				}
				recreate = "the change cannot be made in place"
				return nil
			}
			e.metrics.tablesAltered.Add(1)
		}
		lsn = r.LSN
		return t.writeMeta(ctx, tx, m, r.LSN, now)
	})
	if err != nil || recreate == "" {
		return lsn, err
	}
	e.log.Info("recreating table", "tenant", t.name, "table", name, "reason", recreate)
	err = e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
		if err := tx.Tables().Drop(ctx, name); err != nil {
			return fmt.Errorf("drop table %q: %w", name, err)
		}
		if err := tx.Tables().Create(ctx, m.table); err != nil {
			return fmt.Errorf("create table %q: %w", name, err)
		}
		return t.writeMeta(ctx, tx, m, -1, e.now())
	})
	if err == nil {
		e.metrics.tablesRecreated.Add(1)
	}
	return -1, err
}

// Wipe empties a table, keeping its structure, and sets its LSN to -1 in the same transaction.
func (e *Engine) Wipe(ctx context.Context, call contract.Call, table string) error {
	t, err := e.writable(ctx, call.Tenant)
	if err != nil {
		return err
	}
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
		if err := tx.Tables().Truncate(ctx, m.table); err != nil {
			return fmt.Errorf("truncate %q: %w", table, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.metrics.wipes.Add(1)
	e.runHooks(ctx, t, e.opts.Hooks.AfterWipe, table)
	return nil
}

// ReplicationCompleted records the cycle and runs the after-cycle hooks.
func (e *Engine) ReplicationCompleted(ctx context.Context, call contract.Call, changed []contract.Summary) error {
	t, err := e.writable(ctx, call.Tenant)
	if err != nil {
		return err
	}
	var ins, upd, del int64
	for _, s := range changed {
		ins += int64(s.Inserts)
		upd += int64(s.Updates)
		del += int64(s.Deletes)
	}
	summary, err := json.Marshal(changed)
	if err != nil {
		return err
	}
	now := e.now()
	err = e.inTx(ctx, t, "", dialect.Durable, func(tx dialect.Tx) error {
		err := tx.Meta().RecordCycle(ctx, dialect.Cycle{ID: now.UnixNano(), Completed: now, Tables: int64(len(changed)),
			Inserts: ins, Updates: upd, Deletes: del, Summary: string(summary)})
		if err != nil {
			return fmt.Errorf("record the cycle: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.metrics.cycles.Add(1)
	e.runHooks(ctx, t, e.opts.Hooks.AfterCycle, "")
	return nil
}

// runHooks runs hook statements in one transaction; failures are logged, not returned.
func (e *Engine) runHooks(ctx context.Context, t *tenant, hooks []string, table string) {
	if len(hooks) == 0 {
		return
	}
	quoted, literal := "", ""
	if table != "" {
		q, err := t.names.Table(table)
		if err != nil {
			e.log.Warn("hook skipped", "tenant", t.name, "table", table, "err", err)
			return
		}
		quoted, literal = q, t.names.Literal(table)
	}
	fill := strings.NewReplacer("{table_literal}", literal, "{table}", quoted)
	err := e.inTx(ctx, t, "", dialect.Durable, func(tx dialect.Tx) error {
		for _, h := range hooks {
			if err := tx.RunStatement(ctx, fill.Replace(h)); err != nil {
				return fmt.Errorf("hook %q: %w", h, err)
			}
		}
		return nil
	})
	if err != nil {
		e.metrics.hookFailures.Add(1)
		e.log.Warn("hook failed", "tenant", t.name, "table", table, "err", err)
	}
}

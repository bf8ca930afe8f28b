package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// TableStatus is what the mirror knows of one table.
type TableStatus struct {
	Table string `json:"table"`
	// LSN is the stored LSN; -1 while the table waits for (or is in) a repopulation.
	LSN int64 `json:"lsn"`
	// Rows is the table's row count (-1 when it could not be counted).
	Rows          int64      `json:"rows"`
	SchemaChanged time.Time  `json:"schemaChanged"`
	LastApplied   *time.Time `json:"lastApplied,omitempty"`
	// LostObjects are the objects that others had put on the table (views, indexes, grants, …) and
	// that its last schema change could not keep: re-create them by hand if they are still wanted.
	LostObjects []dialect.LostObject `json:"lostObjects,omitempty"`
	// StoredIn names, in the fan-in layout, the table of the tenant's own that holds its rows because
	// they cannot share the shared table, and Conflict says why (see FanIn).
	StoredIn string `json:"storedIn,omitempty"`
	Conflict string `json:"conflict,omitempty"`
}

// CycleStatus is one recorded replication cycle.
type CycleStatus struct {
	Completed time.Time `json:"completed"`
	Tables    int64     `json:"tables"`
	Inserts   int64     `json:"inserts"`
	Updates   int64     `json:"updates"`
	Deletes   int64     `json:"deletes"`
}

// TenantStatus is the state of one tenant's mirror.
type TenantStatus struct {
	Tenant    string        `json:"tenant"`
	Dialect   string        `json:"dialect"`
	Tables    []TableStatus `json:"tables"`
	LastCycle *CycleStatus  `json:"lastCycle,omitempty"`
	// Paused is the tenant's pause (by the configuration, or stored in its mirror); nil when it is
	// not paused.
	Paused *PauseStatus `json:"paused,omitempty"`
	// Failures are the newest entries of the tenant's failure log (StatusFailures of them), newest
	// first; Engine.Failures reads more.
	Failures []FailureStatus `json:"failures,omitempty"`
}

// StatusFailures is how many failures Status returns.
const StatusFailures = 10

// Tenants lists the tenants named in the configuration.
func (e *Engine) Tenants() []string {
	names := make([]string, 0, len(e.opts.Tenants))
	for n := range e.opts.Tenants {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// status reads the state of a tenant's mirror: per table the LSN, row count, times and what its last
// schema change could not keep of others' objects, the last cycle, its pause and its newest failures.
func (e *Engine) status(ctx context.Context, tenantName string) (_ TenantStatus, err error) {
	t, err := e.existing(ctx, tenantName)
	if err != nil {
		return TenantStatus{}, err
	}
	defer e.release(t, &err)
	st := TenantStatus{Tenant: t.name, Dialect: t.dialect.Name()}
	if st.Paused, err = e.pauseStatus(ctx, t); err != nil {
		return st, err
	}
	if st.Failures, err = e.Failures(ctx, tenantName, StatusFailures); err != nil {
		return st, err
	}
	err = e.metaTx(ctx, t, func(ctx context.Context, tx dialect.Tx) error {
		meta, err := tx.Meta().Tables(ctx)
		if err != nil {
			return err
		}
		for _, r := range meta {
			ts := TableStatus{Table: r.Table, LSN: r.LSN, SchemaChanged: r.SchemaChanged, Rows: -1, LostObjects: r.LostObjects,
				StoredIn: r.StoredIn, Conflict: r.Conflict}
			if !r.LastApplied.IsZero() {
				at := r.LastApplied
				ts.LastApplied = &at
			}
			if n, err := tx.Tables().Count(ctx, place(r)); err == nil {
				ts.Rows = n
			}
			st.Tables = append(st.Tables, ts)
		}
		sort.Slice(st.Tables, func(i, j int) bool { return st.Tables[i].Table < st.Tables[j].Table })
		c, ok, err := tx.Meta().LastCycle(ctx)
		if err != nil || !ok {
			return err
		}
		st.LastCycle = cycleStatus(c)
		return nil
	})
	return st, err
}

func cycleStatus(c dialect.Cycle) *CycleStatus {
	return &CycleStatus{Completed: c.Completed, Tables: c.Tables, Inserts: c.Inserts, Updates: c.Updates, Deletes: c.Deletes}
}

// pauseStatus is the tenant's pause: pinned by its route, stored in its mirror, or both.
func (e *Engine) pauseStatus(ctx context.Context, t *tenant) (*PauseStatus, error) {
	p, err := e.storedPause(ctx, t)
	if err != nil {
		return nil, err
	}
	if t.route.Paused {
		if p == nil {
			p = &PauseStatus{}
		}
		p.Pinned = true
	}
	return p, nil
}

// TenantSummary is one line of the overview of every tenant: enough to see which needs attention,
// without counting any table's rows.
type TenantSummary struct {
	Tenant  string `json:"tenant"`
	Dialect string `json:"dialect"`
	// LastCycle is the last successful cycle; Lag is how long ago it completed.
	LastCycle *CycleStatus   `json:"lastCycle,omitempty"`
	Lag       time.Duration  `json:"lagNanoseconds,omitempty"`
	Paused    *PauseStatus   `json:"paused,omitempty"`
	LastError *FailureStatus `json:"lastError,omitempty"`
	// Unavailable says why the tenant's mirror could not be read; the other fields are then empty.
	Unavailable string `json:"unavailable,omitempty"`
	// NoMirror says where the tenant's mirror was looked for and not found (ErrNoMirror): a tenant
	// named in the configuration that has not replicated yet. Paused may still say that its route
	// pins a pause; the other fields are empty.
	NoMirror string `json:"noMirror,omitempty"`
}

// Summary reads one tenant's line of the overview. It never creates the tenant's mirror.
func (e *Engine) Summary(ctx context.Context, tenantName string) TenantSummary {
	sum := TenantSummary{Tenant: tenantName}
	r, err := e.RouteFor(tenantName)
	if err == nil {
		sum.Dialect = r.Dialect
	}
	t, err := e.existing(ctx, tenantName)
	if errors.Is(err, ErrNoMirror) {
		sum.NoMirror = err.Error()
		if r.Paused {
			sum.Paused = &PauseStatus{Pinned: true}
		}
		return sum
	}
	if err == nil {
		defer func() { e.release(t, &err) }()
		e.awaitRecordings(ctx, tenantName)
		sum.Paused, err = e.pauseStatus(ctx, t)
	}
	if err == nil {
		err = e.metaTx(ctx, t, func(ctx context.Context, tx dialect.Tx) error {
			if c, ok, err := tx.Meta().LastCycle(ctx); err != nil {
				return err
			} else if ok {
				sum.LastCycle = cycleStatus(c)
				sum.Lag = max(e.now().Sub(c.Completed), 0)
			}
			fs, err := tx.Meta().Failures(ctx, 1)
			if len(fs) > 0 {
				f := failureStatus(fs[0])
				sum.LastError = &f
			}
			return err
		})
	}
	if err != nil {
		sum.Unavailable = err.Error()
	}
	return sum
}

// Overview reads the summary of every known tenant (KnownTenants), a few at a time, each within
// perTenant, so that one tenant whose database does not answer does not hold up the page.
func (e *Engine) Overview(ctx context.Context, perTenant time.Duration) []TenantSummary {
	names := e.KnownTenants()
	out := make([]TenantSummary, len(names))
	e.parallel(ctx, len(names), func(ctx context.Context, i int) error {
		ctx, cancel := context.WithTimeout(ctx, perTenant)
		defer cancel()
		done := make(chan TenantSummary, 1)
		go func() { done <- e.Summary(ctx, names[i]) }()
		select {
		case out[i] = <-done:
		case <-ctx.Done():
			out[i] = TenantSummary{Tenant: names[i], Unavailable: fmt.Sprintf("its mirror did not answer within %s", perTenant)}
		}
		return nil
	})
	for i := range out {
		if out[i].Tenant == "" { // the page's own context ended before this tenant's turn
			out[i] = TenantSummary{Tenant: names[i], Unavailable: "not read: the request ended first"}
		}
	}
	return out
}

// Resync sets the LSN of one table (or, with an empty table, of every table) to -1, so that the next
// cycle wipes and repopulates it. It returns how many tables were marked. Each table is marked under its
// lock, so that a batch in flight cannot overwrite the mark with its own LSN.
func (e *Engine) resync(ctx context.Context, tenantName, table string) (_ int64, err error) {
	t, err := e.existing(ctx, tenantName)
	if err != nil {
		return 0, err
	}
	defer e.release(t, &err)
	tables := []string{table}
	if table == "" {
		var stored map[string]dialect.TableMeta
		if err := e.metaTx(ctx, t, func(ctx context.Context, tx dialect.Tx) error {
			stored, err = tx.Meta().Tables(ctx)
			return err
		}); err != nil {
			return 0, fmt.Errorf("resync: %w", err)
		}
		tables = slices.Sorted(maps.Keys(stored))
	}
	var marked int64
	for _, name := range tables {
		err := e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
			n, err := tx.Meta().ResetLSN(ctx, name)
			if err != nil {
				return fmt.Errorf("resync: %w", err)
			}
			if n == 0 && table != "" {
				return fmt.Errorf("table %q is not known to the mirror of %s", table, tenantName)
			}
			marked += n
			return nil
		})
		if err != nil {
			return marked, err
		}
	}
	return marked, nil
}

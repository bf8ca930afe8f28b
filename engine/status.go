package engine

import (
	"context"
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
}

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
// schema change could not keep of others' objects, and the last cycle.
func (e *Engine) status(ctx context.Context, tenantName string) (_ TenantStatus, err error) {
	t, err := e.tenant(ctx, tenantName)
	if err != nil {
		return TenantStatus{}, err
	}
	defer e.release(t, &err)
	defer e.release(t, &err)
	st := TenantStatus{Tenant: t.name, Dialect: t.dialect.Name()}
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
		st.LastCycle = &CycleStatus{Completed: c.Completed, Tables: c.Tables, Inserts: c.Inserts, Updates: c.Updates, Deletes: c.Deletes}
		return nil
	})
	return st, err
}

// resync sets the LSN of one table (or, with an empty table, of every table) to -1, so that the next
// cycle wipes and repopulates it. It returns how many tables were marked. Each table is marked under its
// lock, so that a batch in flight cannot overwrite the mark with its own LSN.
func (e *Engine) resync(ctx context.Context, tenantName, table string) (_ int64, err error) {
	t, err := e.tenant(ctx, tenantName)
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

package simulator

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
)

// Mirror names a tenant's mirror database, as the service's route for the tenant does.
type Mirror struct {
	Dialect string
	// DSN may hold "{ctx}", replaced by the tenant.
	DSN    string
	Schema string
	Tenant string
	// Route, when set, is the service's route of the tenant, and DSN and Schema are not used: the
	// mirror is where the route places the tenant (its server, its layout).
	Route *engine.Route
}

// route returns the route of the tenant's mirror.
func (m Mirror) route() engine.Route {
	if m.Route != nil {
		return *m.Route
	}
	return engine.Route{Dialect: m.Dialect, DSN: m.DSN, Schema: m.Schema}
}

// Open opens the tenant's mirror through its dialect, for Verify.
func (m Mirror) Open(ctx context.Context) (dialect.Store, error) {
	d, err := dialect.Lookup(m.Dialect)
	if err != nil {
		return nil, err
	}
	r := m.route()
	dsn, schema := r.Resolve(m.Tenant)
	st, err := d.Open(ctx, dsn, dialect.OpenOptions{Tenant: m.Tenant, Schema: schema, MaxConns: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TenantColumn: r.TenantColumnName()})
	if err != nil {
		return nil, fmt.Errorf("open the mirror of %s: %w", m.Tenant, err)
	}
	return st, nil
}

// Verify compares src with this mirror (see Verify), leaving out the rows it keeps as deleted where
// its route keeps soft deletes (see Tombstones for those).
func (m Mirror) Verify(ctx context.Context, src *Source, absent ...string) ([]TableCheck, error) {
	st, err := m.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	r := m.route()
	return VerifyWith(ctx, src, m.Dialect, st, VerifyOptions{Absent: absent, DeletedAt: func(table string) string {
		deletedAt, _ := r.AddedColumns(table)
		return deletedAt
	}})
}

// Reset sets a table's LSN in the mirror's metadata to -1, as an operator does with `mirrorsink
// resync`, so that the next cycle wipes and resends it.
func (m Mirror) Reset(ctx context.Context, table string) error {
	r := m.route()
	r.MaxConns = 2
	eng, err := engine.New(engine.Options{
		Tenants: map[string]engine.Route{m.Tenant: r},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	defer eng.Close()
	_, err = eng.Resync(ctx, m.Tenant, table)
	return err
}

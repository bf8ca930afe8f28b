package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
)

// tenantSlot is one tenant in the engine's table: opened once, by the first call that needs it, while
// later calls for the same tenant wait for that opening (or for their own context), and calls for
// other tenants never wait for it at all. The fields after err are guarded by Engine.mu.
type tenantSlot struct {
	ready chan struct{} // closed when t or err is set
	t     *tenant
	err   error

	// refs counts the calls using t. A slot that is retired (forgotten because its mirror was found
	// missing, closed as idle, or at shutdown) is no longer in the table, and its store closes once refs
	// reaches 0.
	refs    int
	retired bool
	closed  bool
	// idle closes the mirror once it has been unused for IdleTenantTimeout.
	idle *time.Timer
}

// tenant returns the tenant's open mirror, opening it (with mirrorsink's own tables migrated) on first
// use, and creating it when it does not exist: for the calls that write to it. The caller uses it
// until it calls release.
func (e *Engine) tenant(ctx context.Context, name string) (*tenant, error) {
	return e.acquire(ctx, name, true)
}

// existing is tenant for a look that must not create the mirror (status, the status page, failures,
// resync, resume): a mistyped tenant name would otherwise leave an empty database (or schema, or file)
// with mirrorsink's tables on a shared server. A mirror that exists is opened as tenant opens it (its
// own tables migrated, when they are there to migrate) and stays open for later calls; one that does
// not fails with ErrNoMirror, and nothing of it is kept.
func (e *Engine) existing(ctx context.Context, name string) (*tenant, error) {
	return e.acquire(ctx, name, false)
}

// acquire returns the tenant's open mirror, opening it on first use (creating it when create says so);
// the caller uses it until it calls release.
func (e *Engine) acquire(ctx context.Context, name string, create bool) (*tenant, error) {
	for {
		t, err := e.acquireOnce(ctx, name, create)
		if create && errors.Is(err, ErrNoMirror) {
			// The call waited for the opening of a look that does not create, which found no mirror
			// and was forgotten: this call, which creates, opens it afresh.
			continue
		}
		return t, err
	}
}

// acquireOnce is one attempt of acquire: it waits for an opening under way, or opens the mirror
// itself. The engine's mutex is held only to look the slot up, never while a database is contacted.
// A failed opening is forgotten, so that the next call tries again.
func (e *Engine) acquireOnce(ctx context.Context, name string, create bool) (*tenant, error) {
	route, err := e.RouteFor(name)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	slot, ok := e.tenants[name]
	if !ok {
		slot = &tenantSlot{ready: make(chan struct{})}
		e.tenants[name] = slot
	}
	slot.refs++
	if slot.idle != nil {
		slot.idle.Stop()
		slot.idle = nil
	}
	e.mu.Unlock()
	if ok {
		select {
		case <-slot.ready:
			if slot.err != nil {
				e.unref(slot)
				return nil, slot.err
			}
			return slot.t, nil
		case <-ctx.Done():
			e.unref(slot)
			return nil, fmt.Errorf("tenant %s: waiting for its mirror to open: %w", name, ctx.Err())
		}
	}
	// The opening is bounded by its own timeout rather than by this call alone, so that a call that
	// gives up early does not fail the other calls waiting for the same opening. Each connection has
	// ConnectTimeout; the whole opening, which migrates too, has MetaTimeout more.
	openCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.ConnectTimeout+e.opts.MetaTimeout)
	defer cancel()
	// Whatever happens in the opening (a panic too, which the protocol layer recovers), the waiters
	// are released and a failed slot is forgotten.
	defer func() {
		if slot.t == nil && slot.err == nil {
			slot.err = fmt.Errorf("tenant %s: opening its mirror failed", name)
		}
		if slot.err != nil {
			e.mu.Lock()
			if e.tenants[name] == slot {
				delete(e.tenants, name)
			}
			slot.retired = true
			e.mu.Unlock()
			close(slot.ready)
			e.unref(slot)
			return
		}
		slot.t.slot = slot
		e.metrics.tenantsOpen.Add(1)
		close(slot.ready)
	}()
	if slot.t, slot.err = e.open(openCtx, name, route, create); slot.err != nil {
		return nil, slot.err
	}
	return slot.t, nil
}

// release ends a call's use of t. When *errp says that the mirror's database, schema or one of its
// tables is gone (dialect.ErrMissing), the open mirror is forgotten first: the next call opens it
// again, which re-creates what is missing, and no cached state of the lost mirror survives.
func (e *Engine) release(t *tenant, errp *error) {
	if errp != nil && errors.Is(*errp, dialect.ErrMissing) {
		e.forget(t)
	}
	e.unref(t.slot)
}

// unref drops one reference to slot; the last one of a retired slot closes its store, the last one of
// a slot in use starts its idle timer.
func (e *Engine) unref(slot *tenantSlot) {
	e.mu.Lock()
	slot.refs--
	closeNow := slot.refs == 0 && slot.retired && slot.t != nil && !slot.closed
	if closeNow {
		slot.closed = true
	}
	if slot.refs == 0 && !slot.retired && slot.t != nil && e.opts.IdleTenantTimeout > 0 {
		slot.idle = time.AfterFunc(e.opts.IdleTenantTimeout, func() { e.closeIdle(slot) })
	}
	e.mu.Unlock()
	if closeNow {
		e.closeStore(slot.t)
	}
}

// forget takes t out of the engine's table, so that the next call for its tenant opens the mirror
// afresh; calls still using t finish on it, and its store closes after the last of them.
func (e *Engine) forget(t *tenant) {
	e.mu.Lock()
	if e.tenants[t.name] == t.slot {
		delete(e.tenants, t.name)
	}
	first := !t.slot.retired
	t.slot.retired = true
	e.mu.Unlock()
	if first {
		e.metrics.mirrorsReopened.Add(1)
		e.log.Warn("the tenant's mirror database, its schema or one of its tables is gone; it is opened again and re-created",
			"tenant", t.name)
	}
}

// closeIdle closes a tenant's mirror that no call has used for IdleTenantTimeout.
func (e *Engine) closeIdle(slot *tenantSlot) {
	e.mu.Lock()
	t := slot.t
	if slot.refs > 0 || slot.retired || e.tenants[t.name] != slot {
		e.mu.Unlock()
		return
	}
	delete(e.tenants, t.name)
	slot.retired, slot.closed, slot.idle = true, true, nil
	e.mu.Unlock()
	e.metrics.tenantsClosedIdle.Add(1)
	e.log.Debug("closed an idle tenant's mirror", "tenant", t.name, "idle", e.opts.IdleTenantTimeout)
	e.closeStore(t)
}

func (e *Engine) closeStore(t *tenant) {
	e.metrics.tenantsOpen.Add(-1)
	if err := t.store.Close(); err != nil {
		e.log.Warn("closing a tenant's mirror failed", "tenant", t.name, "err", err)
	}
}

// OpenTenants returns how many tenant mirrors are open now (connected, or connecting).
func (e *Engine) OpenTenants() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.tenants)
}

// open connects to a tenant's mirror and migrates mirrorsink's own tables. Without create it creates
// nothing: a mirror whose database, schema, file or own tables are missing fails with ErrNoMirror.
func (e *Engine) open(ctx context.Context, name string, route Route, create bool) (*tenant, error) {
	d, err := dialect.Lookup(route.Dialect)
	if err != nil {
		return nil, err
	}
	dsn, schema := route.Resolve(name)
	server, err := d.Server(dsn)
	if err != nil {
		// The dialect's message may hold the DSN; it goes to the log, never to SuperOffice.
		e.log.Error("cannot read the database server of a tenant's route", "tenant", name, "dialect", route.Dialect, "err", err)
		return nil, fmt.Errorf("the mirror database of tenant %s cannot be opened: its route's dsn cannot be read (see the service log)", name)
	}
	store, err := d.Open(ctx, dsn, dialect.OpenOptions{
		Tenant:         name,
		Schema:         schema,
		MaxConns:       route.MaxConns,
		ConnectTimeout: e.opts.ConnectTimeout,
		IdleTimeout:    e.opts.IdleConnTimeout,
		Gate:           e.gate(server),
		Logger:         e.log.With("tenant", name),
		Events:         e.metrics.events(),
		TenantColumn:   route.TenantColumnName(),
		NoCreate:       !create,
	})
	if !create && errors.Is(err, dialect.ErrMissing) {
		return nil, &noMirrorError{tenant: name, target: where(d, dsn, schema)} // an answer, not a failure to log
	}
	if err != nil {
		e.log.Error("cannot open tenant mirror", "tenant", name, "dialect", route.Dialect, "err", err)
		if errors.Is(err, dialect.ErrConnectTimeout) {
			return nil, fmt.Errorf("the mirror database of tenant %s did not answer within %s (see the service log)", name, e.opts.ConnectTimeout)
		}
		if ctx.Err() != nil {
			// Waiting for a connection slot of a busy server, or for a slow database creation.
			return nil, fmt.Errorf("the mirror database of tenant %s could not be opened within %s (see the service log)", name, e.opts.ConnectTimeout+e.opts.MetaTimeout)
		}
		return nil, fmt.Errorf("the mirror database of tenant %s cannot be opened (see the service log)", name)
	}
	t := &tenant{name: name, route: route, dialect: d, store: store, names: store.Names(), own: dialect.MetaTables(name), models: map[string]*tableModel{}}
	if route.Layout == FanIn {
		t.fanIn, t.own = newFanIn(route, dsn, schema), dialect.SharedMetaTables()
	}
	for _, own := range t.own.All() {
		if _, err := t.names.Table(own); err != nil {
			store.Close()
			return nil, fmt.Errorf("tenant %s: its name is too long for this database: mirrorsink's own table %s cannot be named: %w", name, own, err)
		}
	}
	if !create {
		if err := e.mirrored(ctx, t, where(d, dsn, schema)); err != nil {
			store.Close()
			return nil, err
		}
	}
	if err := e.migrate(ctx, t); err != nil {
		store.Close()
		return nil, err
	}
	return t, nil
}

// ErrNoMirror is returned, wrapped in a message that names the tenant and where its mirror was looked
// for, by a look at a tenant that does not create its mirror (Status, Failures, Resync, Resume, the
// status page's), when the mirror does not exist: its database, schema or file, mirrorsink's own
// tables in it, or in the fan-in layout any row of the tenant's. The tenant's first writing call
// creates it.
var ErrNoMirror = errors.New("the tenant has no mirror")

// noMirrorError says where a tenant's mirror was looked for, and why it is not there when that is not
// plain (the database or file exists, but mirrors nothing of the tenant).
type noMirrorError struct {
	tenant, target, why string
}

func (n *noMirrorError) Error() string {
	msg := fmt.Sprintf("tenant %q has no mirror at %s", n.tenant, n.target)
	if n.why != "" {
		msg += " (" + n.why + ")"
	}
	return msg
}

// Is makes errors.Is(err, ErrNoMirror) true. ErrMissing is not in the chain: again would otherwise run
// the look twice, and release would forget a mirror that was never open.
func (n *noMirrorError) Is(target error) bool { return target == ErrNoMirror }

// where names a tenant's mirror for an operator: its database (or file) as the dialect names it,
// which leaves the login and the DSN's options out (a DSN may hold a password), and its schema.
func where(d dialect.Dialect, dsn, schema string) string {
	target, err := d.Target(dsn)
	if err != nil {
		target = "its route's " + d.Name() + " database (the dsn cannot be read)"
	}
	if schema != "" {
		target += fmt.Sprintf(", schema %q", schema)
	}
	return target
}

// mirrored fails with ErrNoMirror when a mirror opened without creating it mirrors nothing of the
// tenant: its metadata table is missing (a database that exists for something else, or whose tables
// were dropped; migrating would create them), or, in the fan-in layout, whose shared tables exist for
// the other tenants, nothing in them is the tenant's.
func (e *Engine) mirrored(ctx context.Context, t *tenant, target string) error {
	ok := false
	why := "mirrorsink's own tables are not there"
	err := e.metaTx(ctx, t, func(ctx context.Context, tx dialect.Tx) error {
		var err error
		if ok, err = tx.Tables().Exists(ctx, t.own.Meta); err != nil || !ok || t.fanIn == nil {
			return err
		}
		why = "the shared tables hold nothing of it"
		ok, err = holdsTenant(ctx, tx.Meta())
		return err
	})
	if err != nil {
		return fmt.Errorf("tenant %s: %w", t.name, err)
	}
	if !ok {
		return &noMirrorError{tenant: t.name, target: target, why: why}
	}
	return nil
}

// holdsTenant reports whether the fan-in metadata holds anything of the tenant: a table, a cycle, a
// pause or a failure.
func holdsTenant(ctx context.Context, m dialect.MetaStore) (bool, error) {
	tables, err := m.Tables(ctx)
	if err != nil || len(tables) > 0 {
		return len(tables) > 0, err
	}
	if _, ok, err := m.LastCycle(ctx); err != nil || ok {
		return ok, err
	}
	if _, ok, err := m.Pause(ctx); err != nil || ok {
		return ok, err
	}
	fs, err := m.Failures(ctx, 1)
	return len(fs) > 0, err
}

// gate returns the connection gate of a database server, shared by every tenant on it; nil for an
// embedded database.
func (e *Engine) gate(server string) *dialect.ConnGate {
	if server == "" {
		return nil
	}
	e.gatesMu.Lock()
	defer e.gatesMu.Unlock()
	g, ok := e.gates[server]
	if !ok {
		g = dialect.NewConnGate(e.opts.MaxServerConns)
		e.gates[server] = g
	}
	return g
}

// serverStats returns every gate's numbers, by server.
func (e *Engine) serverStats() map[string]dialect.GateStats {
	e.gatesMu.Lock()
	defer e.gatesMu.Unlock()
	out := make(map[string]dialect.GateStats, len(e.gates))
	for server, g := range e.gates {
		out[server] = g.Stats()
	}
	return out
}

// again runs op, and runs it once more when it failed because the tenant's mirror database, its
// schema or one of its tables was gone (op's release has then forgotten the open mirror, so that the
// second run opens it again and re-creates what is missing). op must be safe to run twice: every
// operation but RowData, whose batches are read once, is.
func again(op func() error) error {
	err := op()
	if errors.Is(err, dialect.ErrMissing) {
		err = op()
	}
	return err
}

// TableSchema creates missing tables, reconciles changed ones, drops tables absent from the request
// and answers every requested table's LSN (-1 where SuperOffice must wipe and resend): see
// tableSchema. A mirror whose database, schema or metadata table is gone is opened again, and so
// re-created, within the same call.
func (e *Engine) TableSchema(ctx context.Context, call contract.Call, tables []contract.TableSchema) (lsns []contract.TableLSN, err error) {
	err = again(func() error {
		lsns, err = e.tableSchema(ctx, call, tables)
		return err
	})
	return lsns, err
}

// Wipe empties a table, keeping its structure, and sets its LSN to -1 (see wipe), on a mirror opened
// again if it was found missing.
func (e *Engine) Wipe(ctx context.Context, call contract.Call, table string) error {
	return again(func() error { return e.wipe(ctx, call, table) })
}

// ReplicationCompleted records the cycle and runs the after-cycle hooks (see replicationCompleted),
// on a mirror opened again if it was found missing.
func (e *Engine) ReplicationCompleted(ctx context.Context, call contract.Call, changed []contract.Summary) error {
	return again(func() error { return e.replicationCompleted(ctx, call, changed) })
}

// Status reads the state of a tenant's mirror (see status). It never creates the mirror: one that does
// not exist, or is found missing, fails with ErrNoMirror.
func (e *Engine) Status(ctx context.Context, tenantName string) (st TenantStatus, err error) {
	err = again(func() error {
		st, err = e.status(ctx, tenantName)
		return err
	})
	return st, err
}

// Resync marks one table (or every table) for repopulation (see resync). It never creates the mirror:
// one that does not exist, or is found missing, fails with ErrNoMirror.
func (e *Engine) Resync(ctx context.Context, tenantName, table string) (n int64, err error) {
	err = again(func() error {
		n, err = e.resync(ctx, tenantName, table)
		return err
	})
	return n, err
}

// lostTables returns the requested tables whose metadata row matches the request but whose table is
// gone (dropped by hand), and deletes their metadata rows, which describe nothing now: TableSchema
// creates them again and answers -1 instead of their stored LSN.
func (e *Engine) lostTables(ctx context.Context, t *tenant, tx dialect.Tx, stored map[string]dialect.TableMeta, models []*tableModel) (map[string]bool, error) {
	lost := map[string]bool{}
	for _, m := range models {
		if m == nil {
			continue
		}
		r, ok := stored[m.table.Name]
		if !ok || r.SchemaHash != m.hash {
			continue // reconcile looks at it anyway
		}
		ok, err := tx.Tables().Exists(ctx, place(r))
		if err != nil {
			return nil, fmt.Errorf("table %q: %w", m.table.Name, err)
		}
		if ok {
			continue
		}
		e.log.Warn("a mirrored table is gone from the mirror; it is created again and repopulated", "tenant", t.name, "table", m.table.Name)
		if err := tx.Meta().DeleteTable(ctx, m.table.Name); err != nil {
			return nil, err
		}
		lost[m.table.Name] = true
	}
	return lost, nil
}

// Close closes every open tenant mirror, after waiting for openings under way. It is for shutdown,
// once the server has stopped taking calls.
func (e *Engine) Close() error {
	e.awaitRecordings(context.Background(), "") // failures still being written into the mirrors
	e.mu.Lock()
	slots := e.tenants
	e.tenants = map[string]*tenantSlot{}
	e.mu.Unlock()
	var errs []error
	for name, slot := range slots {
		<-slot.ready
		e.mu.Lock()
		if slot.idle != nil {
			slot.idle.Stop()
			slot.idle = nil
		}
		closeNow := slot.t != nil && !slot.closed
		slot.retired, slot.closed = true, true
		e.mu.Unlock()
		if !closeNow {
			continue
		}
		e.metrics.tenantsOpen.Add(-1)
		if err := slot.t.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// tenantSlot is one tenant in the engine's table: opened once, by the first call that needs it, while
// later calls for the same tenant wait for that opening (or for their own context), and calls for
// other tenants never wait for it at all.
type tenantSlot struct {
	ready chan struct{} // closed when t or err is set
	t     *tenant
	err   error
}

// tenant returns the tenant's open mirror, opening it (with mirrorsink's own tables migrated) on first
// use. The engine's mutex is held only to look the slot up, never while a database is contacted. A
// failed opening is forgotten, so that the next call tries again.
func (e *Engine) tenant(ctx context.Context, name string) (*tenant, error) {
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
	e.mu.Unlock()
	if ok {
		select {
		case <-slot.ready:
			return slot.t, slot.err
		case <-ctx.Done():
			return nil, fmt.Errorf("tenant %s: waiting for its mirror to open: %w", name, ctx.Err())
		}
	}
	// The opening is bounded by its own timeout rather than by this call alone, so that a call that
	// gives up early does not fail the other calls waiting for the same opening.
	openCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.ConnectTimeout)
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
			e.mu.Unlock()
		}
		close(slot.ready)
	}()
	slot.t, slot.err = e.open(openCtx, name, route)
	return slot.t, slot.err
}

// open connects to a tenant's mirror and migrates mirrorsink's own tables.
func (e *Engine) open(ctx context.Context, name string, route Route) (*tenant, error) {
	d, err := dialect.Lookup(route.Dialect)
	if err != nil {
		return nil, err
	}
	dsn, schema := route.Resolve(name)
	store, err := d.Open(ctx, dsn, dialect.OpenOptions{
		Tenant:   name,
		Schema:   schema,
		MaxConns: route.MaxConns,
		Logger:   e.log.With("tenant", name),
		Events:   e.metrics.events(),
	})
	if err != nil {
		// The dialect's message may hold the DSN; it goes to the log, never to SuperOffice.
		e.log.Error("cannot open tenant mirror", "tenant", name, "dialect", route.Dialect, "err", err)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("the mirror database of tenant %s did not answer within %s (see the service log)", name, e.opts.ConnectTimeout)
		}
		return nil, fmt.Errorf("the mirror database of tenant %s cannot be opened (see the service log)", name)
	}
	t := &tenant{name: name, route: route, dialect: d, store: store, names: store.Names(), own: dialect.MetaTables(name), models: map[string]*tableModel{}}
	for _, own := range t.own.All() {
		if _, err := t.names.Table(own); err != nil {
			store.Close()
			return nil, fmt.Errorf("tenant %s: its name is too long for this database: mirrorsink's own table %s cannot be named: %w", name, own, err)
		}
	}
	if err := e.migrate(ctx, t); err != nil {
		store.Close()
		return nil, err
	}
	return t, nil
}

// Close closes every open tenant mirror, after waiting for openings under way. It is for shutdown,
// once the server has stopped taking calls.
func (e *Engine) Close() error {
	e.mu.Lock()
	slots := e.tenants
	e.tenants = map[string]*tenantSlot{}
	e.mu.Unlock()
	var errs []error
	for name, slot := range slots {
		<-slot.ready
		if slot.t == nil {
			continue
		}
		if err := slot.t.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

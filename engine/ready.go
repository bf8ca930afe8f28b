package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Route health states.
const (
	// RouteOK: the route's database answered.
	RouteOK = "ok"
	// RouteFailing: it did not answer, or answered with an error.
	RouteFailing = "failing"
	// RouteUnchecked: no tenant of the route is open in this process to check it through.
	RouteUnchecked = "unchecked"
)

// RouteHealth says whether one route's database answers.
type RouteHealth struct {
	// Route is "tenant NAME" for a named tenant's route, "default" for the default route.
	Route   string `json:"route"`
	Dialect string `json:"dialect"`
	// Tenant is the tenant whose mirror the check went through; empty when unchecked.
	Tenant string `json:"tenant,omitempty"`
	State  string `json:"state"`
	// Error says why a route is failing, or why it is unchecked.
	Error string        `json:"error,omitempty"`
	Took  time.Duration `json:"tookNanoseconds"`
}

// CheckRoutes checks each route's database with one small read of mirrorsink's own tables, each
// within timeout, through one tenant's mirror: a named tenant's own (opened when it is not open yet,
// as its first call would), and for the default route the open tenant of it that called this process
// last. A default route with no tenant open here is unchecked: a readiness probe must not create
// tenants' databases.
func (e *Engine) CheckRoutes(ctx context.Context, timeout time.Duration) []RouteHealth {
	type check struct {
		h      RouteHealth
		tenant string
	}
	var checks []check
	for _, name := range slices.Sorted(maps.Keys(e.opts.Tenants)) {
		checks = append(checks, check{RouteHealth{Route: "tenant " + name, Dialect: e.opts.Tenants[name].Dialect}, name})
	}
	if e.opts.Default != nil {
		checks = append(checks, check{RouteHealth{Route: "default", Dialect: e.opts.Default.Dialect}, e.lastDefaultTenant()})
	}
	out := make([]RouteHealth, len(checks))
	e.parallel(ctx, len(checks), func(ctx context.Context, i int) error {
		c := checks[i]
		if c.tenant == "" {
			c.h.State, c.h.Error = RouteUnchecked, "no tenant of this route is open in this process yet"
			out[i] = c.h
			return nil
		}
		c.h.Tenant = c.tenant
		start := time.Now()
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- e.ping(ctx, c.tenant) }()
		var err error
		select {
		case err = <-done:
		case <-ctx.Done():
			err = fmt.Errorf("no answer within %s", timeout)
		}
		c.h.Took = time.Since(start)
		c.h.State = RouteOK
		if err != nil {
			c.h.State, c.h.Error = RouteFailing, err.Error()
		}
		out[i] = c.h
		return nil
	})
	for i := range out {
		if out[i].State == "" {
			out[i] = checks[i].h
			out[i].State, out[i].Error = RouteFailing, "not checked: the request ended first"
		}
	}
	return out
}

// ping reads the tenant's pause: the smallest read of its mirror.
func (e *Engine) ping(ctx context.Context, name string) error {
	t, err := e.tenant(ctx, name)
	if err != nil {
		return err
	}
	_, err = e.storedPause(ctx, t)
	return err
}

// lastDefaultTenant returns the tenant of the default route that called this process last and is
// still open here; "" when there is none.
func (e *Engine) lastDefaultTenant() string {
	e.ops.knownMu.Lock()
	type seen struct {
		name string
		at   time.Time
	}
	var candidates []seen
	for name, at := range e.ops.known {
		if _, named := e.opts.Tenants[name]; !named {
			candidates = append(candidates, seen{name, at})
		}
	}
	e.ops.knownMu.Unlock()
	slices.SortFunc(candidates, func(a, b seen) int { return b.at.Compare(a.at) })
	for _, c := range candidates {
		if e.openTenant(c.name) != nil {
			return c.name
		}
	}
	return ""
}

package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
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
// within timeout, through one tenant mirror of the route that this process has open: a named
// tenant's own, and for the default route the open tenant of it that called last. A route with no
// mirror open here is failing when a call could not open one (until a call can), else unchecked: a
// readiness probe neither creates a tenant's database nor keeps a mirror open that
// idle_tenant_timeout would close.
func (e *Engine) CheckRoutes(ctx context.Context, timeout time.Duration) []RouteHealth {
	var checks []RouteHealth
	for _, name := range slices.Sorted(maps.Keys(e.opts.Tenants)) {
		checks = append(checks, RouteHealth{Route: "tenant " + name, Dialect: e.opts.Tenants[name].Dialect})
	}
	if e.opts.Default != nil {
		checks = append(checks, RouteHealth{Route: "default", Dialect: e.opts.Default.Dialect})
	}
	e.parallel(ctx, len(checks), func(ctx context.Context, i int) error {
		h := &checks[i]
		name, named := strings.CutPrefix(h.Route, "tenant ")
		var t *tenant
		if named {
			t = e.openTenant(name)
		} else {
			t = e.openDefaultTenant()
		}
		if t == nil {
			h.State, h.Error = RouteUnchecked, "no mirror of this route is open in this process"
			if f, tenant, ok := e.lastOpenFailure(named, name); ok {
				h.Tenant, h.State = tenant, RouteFailing
				h.Error = fmt.Sprintf("its mirror could not be opened at %s: %s", f.at.Format(time.RFC3339), f.err)
			}
			return nil
		}
		h.Tenant = t.name
		start := time.Now()
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			defer e.release(t, nil)         // when the read is over, even after the check gave up on it
			_, err := e.storedPause(ctx, t) // the smallest read of the mirror
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-ctx.Done():
			err = fmt.Errorf("no answer within %s", timeout)
		}
		h.Took = time.Since(start)
		h.State = RouteOK
		if err != nil {
			h.State, h.Error = RouteFailing, err.Error()
		}
		return nil
	})
	for i := range checks {
		if checks[i].State == "" {
			checks[i].State, checks[i].Error = RouteFailing, "not checked: the request ended first"
		}
	}
	return checks
}

// lastOpenFailure returns the newest failure to open a mirror of a route that has none open: the
// named tenant's own, or (named false) that of any tenant of the default route.
func (e *Engine) lastOpenFailure(named bool, name string) (openFailure, string, bool) {
	e.ops.knownMu.Lock()
	defer e.ops.knownMu.Unlock()
	if named {
		f, ok := e.ops.openFailures[name]
		return f, name, ok
	}
	var (
		last   openFailure
		tenant string
	)
	for n, f := range e.ops.openFailures {
		if _, isNamed := e.opts.Tenants[n]; !isNamed && f.at.After(last.at) {
			last, tenant = f, n
		}
	}
	return last, tenant, tenant != ""
}

// openDefaultTenant returns, for use until release, the open mirror of the default route's tenant
// that called this process last; nil when none is open.
func (e *Engine) openDefaultTenant() *tenant {
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
		if t := e.openTenant(c.name); t != nil {
			return t
		}
	}
	return nil
}

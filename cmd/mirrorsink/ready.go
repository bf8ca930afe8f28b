package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mirrorsink/mirrorsink/engine"
)

// readiness answers /readyz from one round of route checks at a time, kept for a short while, so
// that probes from several places do not each query every database.
type readiness struct {
	eng     *engine.Engine
	cache   time.Duration
	timeout time.Duration

	mu      sync.Mutex
	at      time.Time
	last    []engine.RouteHealth
	running chan struct{} // closed when the round under way ends; nil when none is
}

// checks returns the latest round, running a new one when it is older than the cache. Callers that
// arrive while a round runs wait for it instead of starting their own.
func (r *readiness) checks(ctx context.Context) ([]engine.RouteHealth, error) {
	r.mu.Lock()
	if r.last != nil && time.Since(r.at) < r.cache {
		defer r.mu.Unlock()
		return r.last, nil
	}
	wait := r.running
	if wait == nil {
		wait = make(chan struct{})
		r.running = wait
		go r.round(wait)
	}
	r.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, nil
}

// round runs the checks on a context of its own, so that a probe that gives up does not cut the
// round short for the others.
func (r *readiness) round(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout+time.Second)
	defer cancel()
	res := r.eng.CheckRoutes(ctx, r.timeout)
	r.mu.Lock()
	r.last, r.at, r.running = res, time.Now(), nil
	r.mu.Unlock()
	close(done)
}

// ready reports whether the service can serve: not when every route it could check is failing (its
// databases are unreachable from here, and another replica may do better). One failing route among
// others is that route's tenants' problem, and taking this replica out of a load balancer would not
// help them.
func ready(checks []engine.RouteHealth) bool {
	checked, failing := 0, 0
	for _, c := range checks {
		switch c.State {
		case engine.RouteOK:
			checked++
		case engine.RouteFailing:
			checked++
			failing++
		}
	}
	return checked == 0 || failing < checked
}

// handler answers /readyz: 200 or 503, and a line per route. With details (the admin listener) the
// lines say why a route fails; the main listener's do not, since database errors may name hosts.
func (r *readiness) handler(details bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), r.timeout+2*time.Second)
		defer cancel()
		checks, err := r.checks(ctx)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: the checks did not finish in time\n")
			return
		}
		var b strings.Builder
		status := http.StatusOK
		if ready(checks) {
			b.WriteString("ready\n")
		} else {
			status = http.StatusServiceUnavailable
			b.WriteString("not ready: no route's database answers\n")
		}
		for _, c := range checks {
			fmt.Fprintf(&b, "%s %s (%s)", c.State, c.Route, c.Dialect)
			if c.Tenant != "" {
				fmt.Fprintf(&b, " via %s", c.Tenant)
			}
			if c.Took > 0 {
				fmt.Fprintf(&b, " in %s", c.Took.Round(time.Millisecond))
			}
			if details && c.Error != "" {
				fmt.Fprintf(&b, ": %s", c.Error)
			}
			b.WriteByte('\n')
		}
		w.WriteHeader(status)
		w.Write([]byte(b.String()))
	}
}

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/simulator"
)

// cluster is a PostgreSQL cluster of the test's own, standing for one database server of a route.
type cluster struct {
	name, dsn, addr string
}

func startClusters(t *testing.T, names ...string) []cluster {
	t.Helper()
	out := make([]cluster, len(names))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dsn := testenv.PostgresCluster(t, "max_connections = 30")
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			out[i] = cluster{name: name, dsn: dsn, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// placedRoute is a route over the clusters, a database per tenant on each.
func placedRoute(t *testing.T, clusters []cluster) engine.Route {
	t.Helper()
	addrs := map[string]string{}
	for _, c := range clusters {
		addrs[c.name] = c.addr
	}
	servers, err := engine.NamedServers("postgres://postgres@{server}/ms_{ctx}?sslmode=disable", addrs)
	if err != nil {
		t.Fatal(err)
	}
	return engine.Route{Dialect: "postgres", Servers: servers, MaxConns: 2}
}

// connSampler records, for each cluster, the most connections ever open at once to the tenants'
// databases (ms_…), sampled every few milliseconds until stop.
type connSampler struct {
	mu   sync.Mutex
	max  map[string]int
	stop chan struct{}
	done chan struct{}
}

func sampleConnections(t *testing.T, clusters []cluster) *connSampler {
	t.Helper()
	s := &connSampler{max: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	conns := make([]*pgx.Conn, len(clusters))
	for i, c := range clusters {
		conn, err := pgx.Connect(context.Background(), c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = conn
	}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			for i, c := range clusters {
				var n int
				if err := conns[i].QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'ms\\_%'").Scan(&n); err == nil {
					s.mu.Lock()
					s.max[c.name] = max(s.max[c.name], n)
					s.mu.Unlock()
				}
			}
			select {
			case <-s.stop:
				for _, c := range conns {
					c.Close(context.Background())
				}
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *connSampler) finish() map[string]int {
	close(s.stop)
	<-s.done
	return s.max
}

// databasesOn lists the tenants whose mirror database exists on a cluster.
func databasesOn(t *testing.T, c cluster) map[string]bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'ms\\_%'")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(name, "ms_")] = true
	}
	return out
}

// TestTenantsSpreadOverServers: thirty tenants of one route spread over three PostgreSQL servers by
// rendezvous hashing, each server held to max_server_conns; every mirror is where the route places
// it (and nowhere else) and verifies against its source. A fourth server then takes about a quarter of
// the tenants: each of those answers -1 at its new place for every table and is repopulated by the
// normal protocol; the others go on incrementally. Every mirror verifies again.
func TestTenantsSpreadOverServers(t *testing.T) {
	const n, maxServerConns = 30, 6
	clusters := startClusters(t, "pg1", "pg2", "pg3", "pg4")
	three := placedRoute(t, clusters[:3])
	svc := startEngine(t, engine.Options{Default: &three, MaxServerConns: maxServerConns})
	tenants := make([]*tenant, n)
	onClusters := target{name: "postgres", drop: func(*testing.T, string) {}} // the clusters go with the test
	for i := range tenants {
		tenants[i] = newTenant(t, onClusters, svc, "crm", 15, 30_000, "contact", "person", "appointment")
		tenants[i].mirror = simulator.Mirror{Dialect: "postgres", Tenant: tenants[i].name, Route: &three}
	}
	// The cycles run without the verifier, whose connections to the mirrors are the test's own, while
	// the connections are counted; every mirror is verified afterwards.
	sampler := sampleConnections(t, clusters[:3])
	start := time.Now()
	for round := range 2 {
		cycleAll(t, tenants, round, 15, 0)
	}
	peak := sampler.finish()
	for _, tn := range tenants {
		tn.verify(t)
	}
	t.Logf("2 cycles of %d tenants over 3 servers in %v; most connections open at once per server: %v",
		n, time.Since(start).Round(time.Millisecond), peak)
	perServer := map[string]int{}
	for _, tn := range tenants {
		s, _ := three.Place(tn.name)
		perServer[s.Name]++
		for _, c := range clusters[:3] {
			if has := databasesOn(t, c)[tn.name]; has != (c.name == s.Name) {
				t.Fatalf("tenant %s is placed on %s, but %s has its mirror: %v", tn.name, s.Name, c.name, has)
			}
		}
	}
	for _, c := range clusters[:3] {
		if perServer[c.name] == 0 {
			t.Errorf("server %s holds none of %d tenants: %v", c.name, n, perServer)
		}
		if peak[c.name] > maxServerConns {
			t.Errorf("server %s had %d connections open at once, above max_server_conns %d", c.name, peak[c.name], maxServerConns)
		}
	}

	// A fourth server: a new service (a restart with the new configuration) places about a quarter
	// of the tenants on it.
	svc.stop()
	svc.engine.Close()
	four := placedRoute(t, clusters)
	svc = startEngine(t, engine.Options{Default: &four, MaxServerConns: maxServerConns})
	names := make([]string, n)
	for i, tn := range tenants {
		names[i] = tn.name
	}
	moving := map[string]bool{}
	for _, m := range three.Moves(names, four.ServerNames()) {
		if m.Now != m.Then {
			if m.Then != "pg4" {
				t.Fatalf("tenant %s moves from %s to %s, not to the new server", m.Tenant, m.Now, m.Then)
			}
			moving[m.Tenant] = true
		}
	}
	if len(moving) == 0 || len(moving) > n/2 {
		t.Fatalf("%d of %d tenants move to the fourth server, want about a quarter", len(moving), n)
	}
	results := make([]simulator.CycleResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{}, 15)
	for i, tn := range tenants {
		tn.churn(t, 3, 5, 2, uint64(100+i))
		tn.driver = newDriver(t, svc.URL, tn.name, 30_000)
		tn.mirror.Route = &four
		wg.Add(1)
		go func() {
			defer wg.Done()
			gate <- struct{}{}
			defer func() { <-gate }()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			if results[i], errs[i] = tn.driver.Cycle(ctx, tn.src); errs[i] == nil {
				_, errs[i] = tn.mirror.Verify(ctx, tn.src)
			}
			if errs[i] != nil {
				errs[i] = fmt.Errorf("tenant %s: %w", tn.name, errs[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	onFourth := databasesOn(t, clusters[3])
	for i, tn := range tenants {
		for _, tr := range results[i].Tables {
			if tr.Full != moving[tn.name] || moving[tn.name] && tr.MirrorLSN != -1 {
				t.Fatalf("tenant %s (moving %v), table %s after the fourth server came: %+v", tn.name, moving[tn.name], tr.Table, tr)
			}
		}
		if onFourth[tn.name] != moving[tn.name] {
			t.Fatalf("tenant %s (moving %v) has a mirror on the fourth server: %v", tn.name, moving[tn.name], onFourth[tn.name])
		}
	}
	t.Logf("the fourth server took %d of %d tenants, each repopulated there", len(moving), n)
}

package engine_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/engine"

	// PostgreSQL names the servers of a list of DSNs; nothing connects.
	_ "github.com/mirrorsink/mirrorsink/dialect/postgres"
)

// TestPlacementIsStable pins rendezvous hashing: a change of the hash would move tenants between
// servers (and so repopulate them) on an upgrade.
func TestPlacementIsStable(t *testing.T) {
	servers := []string{"pg1", "pg2", "pg3"}
	for tenant, want := range map[string]string{
		"Cust00001": "pg1", "Cust00002": "pg3", "Cust00003": "pg3", "Cust00008": "pg2", "Cust12345": "pg2",
	} {
		if got := engine.PlaceOn(servers, tenant); got != want {
			t.Errorf("tenant %s is placed on %s, want %s: the placement hash changed, which moves tenants", tenant, got, want)
		}
	}
	if got := engine.PlaceOn(nil, "Cust1"); got != "" {
		t.Errorf("no servers: %q", got)
	}
}

func tenantNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Cust%05d", i)
	}
	return out
}

// TestPlacementSpreadsAndMovesOneNth: tenants spread evenly; adding a seventh server to six moves
// about a seventh of them, every one to the new server; removing one moves only its own tenants.
func TestPlacementSpreadsAndMovesOneNth(t *testing.T) {
	tenants := tenantNames(20000)
	six := []string{"pg1", "pg2", "pg3", "pg4", "pg5", "pg6"}
	seven := append(append([]string{}, six...), "pg7")
	count := map[string]int{}
	moved := 0
	for _, tn := range tenants {
		before, after := engine.PlaceOn(six, tn), engine.PlaceOn(seven, tn)
		count[before]++
		if before != after {
			moved++
			if after != "pg7" {
				t.Fatalf("tenant %s moved from %s to %s, not to the new server", tn, before, after)
			}
		}
	}
	mean := float64(len(tenants)) / 6
	for s, n := range count {
		if math.Abs(float64(n)-mean) > 0.06*mean {
			t.Errorf("server %s holds %d tenants, the mean is %.0f", s, n, mean)
		}
	}
	if frac := float64(moved) / float64(len(tenants)); math.Abs(frac-1.0/7) > 0.01 {
		t.Errorf("adding a seventh server moved %.3f of the tenants, want about %.3f", frac, 1.0/7)
	}
	five := []string{"pg1", "pg2", "pg3", "pg5", "pg6"}
	for _, tn := range tenants {
		if before := engine.PlaceOn(six, tn); before != "pg4" && engine.PlaceOn(five, tn) != before {
			t.Fatalf("removing pg4 moved tenant %s, which was on %s", tn, before)
		}
	}
}

// TestRoutePlacesTenantsOnServers: a route with servers gives each tenant the DSN of its server,
// pins win over the hash, and Moves says who moves under another list.
func TestRoutePlacesTenantsOnServers(t *testing.T) {
	servers, err := engine.NamedServers("postgres://u@{server}/crm_{ctx}", map[string]string{"pg1": "db1:5432", "pg2": "db2:5432"})
	if err != nil {
		t.Fatal(err)
	}
	r := engine.Route{Dialect: "postgres", Servers: servers, Pins: map[string]string{"Cust00001": "pg2"}}
	for _, tn := range []string{"Cust00001", "Cust00002", "Cust00003"} {
		s, ok := r.Place(tn)
		dsn, _ := r.Resolve(tn)
		if !ok || dsn != strings.ReplaceAll(s.DSN, "{ctx}", tn) {
			t.Fatalf("tenant %s: placed on %+v, resolved to %s", tn, s, dsn)
		}
	}
	if s, _ := r.Place("Cust00001"); s.Name != "pg2" {
		t.Fatalf("the pinned tenant is on %s", s.Name)
	}
	moves := r.Moves([]string{"Cust00001", "Cust00002", "Cust00003"}, []string{"pg1", "pg2", "pg3"})
	for _, m := range moves {
		if m.Tenant == "Cust00001" && (m.Then != "pg2" || !m.Pinned) {
			t.Fatalf("a pinned tenant moves: %+v", m)
		}
		if m.Now != m.Then && m.Then != "pg3" {
			t.Fatalf("a tenant moves to an old server: %+v", m)
		}
	}
	if _, err := engine.NamedServers("postgres://u@db/crm_{ctx}", map[string]string{"pg1": "x"}); err == nil {
		t.Fatal("named servers without {server} in the dsn")
	}
}

// TestServersRefusedWhenAmbiguous: routes whose servers cannot be told apart, or that would put tenants
// into one mirror, are refused; a list of DSNs is named by the dialect's server names.
func TestServersRefusedWhenAmbiguous(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) engine.Server { return engine.Server{DSN: filepath.Join(dir, name, "{ctx}.db")} }
	for name, r := range map[string]engine.Route{
		"two servers of one name":   {Dialect: "sqlite", Servers: []engine.Server{{Name: "a", DSN: dir + "/a/{ctx}.db"}, {Name: "a", DSN: dir + "/b/{ctx}.db"}}},
		"a dsn beside the servers":  {Dialect: "sqlite", DSN: dir + "/{ctx}.db", Servers: []engine.Server{file("a")}},
		"a server without {ctx}":    {Dialect: "sqlite", Servers: []engine.Server{file("a"), {DSN: dir + "/shared.db"}}},
		"a pin to an unknown one":   {Dialect: "sqlite", Servers: []engine.Server{file("a")}, Pins: map[string]string{"Cust1": "nowhere"}},
		"pins without servers":      {Dialect: "sqlite", DSN: dir + "/{ctx}.db", Pins: map[string]string{"Cust1": "a"}},
		"two DSNs of one server":    {Dialect: "postgres", Servers: []engine.Server{{DSN: "postgres://h:5432/a_{ctx}"}, {DSN: "postgres://u@h:5432/b_{ctx}"}}},
		"a server's dsn unreadable": {Dialect: "postgres", Servers: []engine.Server{{DSN: "postgres://h:99999999/a_{ctx}"}}},
	} {
		if _, err := engine.New(engine.Options{Default: &r}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	e, err := engine.New(engine.Options{Default: &engine.Route{Dialect: "postgres",
		Servers: []engine.Server{{DSN: "postgres://u@db1:5432/crm_{ctx}"}, {DSN: "postgres://u@db2:5433/crm_{ctx}"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d, _ := e.DefaultRoute()
	if got := strings.Join(d.ServerNames(), " "); got != "postgres://db1:5432 postgres://db2:5433" {
		t.Fatalf("a list of DSNs is named %q", got)
	}
}

// TestTenantsOnServersOwnTheirMirrors: with SQLite files standing for servers, each tenant's mirror is
// made where the route places it, and nowhere else.
func TestTenantsOnServersOwnTheirMirrors(t *testing.T) {
	dir := t.TempDir()
	route := engine.Route{Dialect: "sqlite", Servers: []engine.Server{
		{Name: "one", DSN: filepath.Join(dir, "one", "{ctx}.db")}, {Name: "two", DSN: filepath.Join(dir, "two", "{ctx}.db")}}}
	e, _ := newEngine(t, func(o *engine.Options) { o.Default = &route })
	ctx := context.Background()
	for _, tn := range tenantNames(8) {
		call := contract.Call{Tenant: tn}
		if _, err := e.TableSchema(ctx, call, []contract.TableSchema{table("contact")}); err != nil {
			t.Fatal(err)
		}
		s, _ := route.Place(tn)
		if _, err := filepathGlob(filepath.Join(dir, s.Name, tn+".db")); err != nil {
			t.Fatalf("tenant %s placed on %s has no mirror there: %v", tn, s.Name, err)
		}
		other := "one"
		if s.Name == "one" {
			other = "two"
		}
		if _, err := filepathGlob(filepath.Join(dir, other, tn+".db")); err == nil {
			t.Fatalf("tenant %s has a mirror on %s too", tn, other)
		}
	}
}

func filepathGlob(pattern string) (string, error) {
	m, err := filepath.Glob(pattern)
	if err != nil {
		return "", err
	}
	if len(m) == 0 {
		return "", fmt.Errorf("no %s", pattern)
	}
	return m[0], nil
}

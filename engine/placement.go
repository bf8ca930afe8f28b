package engine

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// Server is one database server of a route that spreads its tenants over several (Route.Servers).
type Server struct {
	// Name identifies the server in the placement: a tenant's server is chosen from the hash of the
	// names and the tenant (see Place), so renaming a server moves tenants, while changing how it is
	// reached (its DSN) does not.
	Name string
	// DSN is the template of the server's tenants' DSNs, with "{ctx}" for the tenant where the route
	// gives each tenant a database (or file) of its own.
	DSN string
}

// nameServers names each server that has no name (a route's list of DSNs) as its dialect names the
// DSN's database server ("postgres://db1.example.com:5432"), or by its DSN where the database has no
// server (SQLite: a path). It copies the list, which may be the caller's.
func (r *Route) nameServers() error {
	if len(r.Servers) == 0 {
		return nil
	}
	r.Servers = slices.Clone(r.Servers)
	for i, s := range r.Servers {
		if s.Name != "" {
			continue
		}
		d, err := dialect.Lookup(r.Dialect)
		if err != nil {
			return err
		}
		name, err := d.Server(expand(s.DSN, "x"))
		if err != nil {
			return fmt.Errorf("server %d: %w", i+1, err)
		}
		if name == "" {
			name = s.DSN
		}
		r.Servers[i].Name = name
	}
	return nil
}

// serverPlaceholder stands, in a route's DSN, for the address of the tenant's server (named servers).
const serverPlaceholder = "{server}"

// NamedServers builds the servers of a route whose DSN template holds "{server}": one server per
// entry of addresses (name → what "{server}" becomes, e.g. a host and port), in name order.
func NamedServers(dsn string, addresses map[string]string) ([]Server, error) {
	if !strings.Contains(dsn, serverPlaceholder) {
		return nil, fmt.Errorf("the dsn has no %s for the servers' addresses", serverPlaceholder)
	}
	names := make([]string, 0, len(addresses))
	for name := range addresses {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make([]Server, 0, len(names))
	for _, name := range names {
		out = append(out, Server{Name: name, DSN: strings.ReplaceAll(dsn, serverPlaceholder, addresses[name])})
	}
	return out, nil
}

// placementScore is a server's score for a tenant in rendezvous (highest random weight) hashing: the
// tenant goes to the server with the highest score. Adding a server moves only the tenants for which
// the new server scores highest (about 1/N of them, all to the new server); removing one moves only
// its own tenants. The hash is FNV-1a 64 of the server's name, a NUL and the tenant, then the
// splitmix64 finaliser, which spreads FNV's weak low bits over the whole word. It is part of the
// placement contract: a change would move tenants between servers, so it must never change
// (TestPlacementIsStable pins it).
func placementScore(server, tenant string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(server))
	f.Write([]byte{0})
	f.Write([]byte(tenant))
	h := f.Sum64()
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// PlaceOn returns which of the named servers a tenant's mirror lives on by rendezvous hashing (see
// placementScore); "" when there are none. Ties, which need a 64-bit collision, go to the first name
// in byte order.
func PlaceOn(servers []string, tenant string) string {
	best, bestScore := "", uint64(0)
	for _, s := range servers {
		score := placementScore(s, tenant)
		if best == "" || score > bestScore || score == bestScore && s < best {
			best, bestScore = s, score
		}
	}
	return best
}

// ServerNames returns the names of the route's servers, in order; nil for a route of one DSN.
func (r Route) ServerNames() []string {
	names := make([]string, len(r.Servers))
	for i, s := range r.Servers {
		names[i] = s.Name
	}
	return names
}

// Place returns the server that holds the tenant's mirror: its pin when it has one, else the server
// that rendezvous hashing chooses. ok is false for a route of one DSN (no Servers).
func (r Route) Place(tenant string) (s Server, ok bool) {
	if len(r.Servers) == 0 {
		return Server{}, false
	}
	name, pinned := r.Pins[tenant]
	if !pinned {
		name = PlaceOn(r.ServerNames(), tenant)
	}
	for _, s := range r.Servers {
		if s.Name == name {
			return s, true
		}
	}
	// A pin to a server the route does not have is refused by checkServers; this is not reached.
	return r.Servers[0], true
}

// dsnTemplates returns the route's DSN templates: one per server, or its one DSN.
func (r Route) dsnTemplates() []string {
	if len(r.Servers) == 0 {
		return []string{r.DSN}
	}
	out := make([]string, len(r.Servers))
	for i, s := range r.Servers {
		out[i] = s.DSN
	}
	return out
}

// checkServers checks a route's servers and pins: unique, non-empty names, a DSN each, no DSN of the
// route beside them, and pins only to servers the route has.
func (r Route) checkServers() error {
	if len(r.Servers) == 0 {
		if len(r.Pins) > 0 {
			return errors.New("it pins tenants to servers but lists no servers")
		}
		return nil
	}
	if r.DSN != "" {
		return errors.New("it has both a dsn and servers; with servers, each server has the DSN (named servers fill {server} in the route's dsn)")
	}
	seen := map[string]bool{}
	for i, s := range r.Servers {
		switch {
		case s.Name == "":
			return fmt.Errorf("server %d has no name", i+1)
		case seen[s.Name]:
			return fmt.Errorf("server %s is listed twice; each server needs a name of its own", s.Name)
		case s.DSN == "":
			return fmt.Errorf("server %s has no dsn", s.Name)
		case strings.Contains(s.DSN, serverPlaceholder):
			return fmt.Errorf("server %s: its dsn still holds %s", s.Name, serverPlaceholder)
		}
		seen[s.Name] = true
	}
	for _, tenant := range sortedKeys(r.Pins) {
		if !seen[r.Pins[tenant]] {
			return fmt.Errorf("tenant %s is pinned to server %q, which the route does not list (servers: %s)",
				tenant, r.Pins[tenant], strings.Join(r.ServerNames(), ", "))
		}
	}
	return nil
}

// DefaultRoute returns the route of the tenants the configuration does not name, as the engine
// normalised it (its servers named); ok is false when there is none.
func (e *Engine) DefaultRoute() (r Route, ok bool) {
	if e.opts.Default == nil {
		return Route{}, false
	}
	return *e.opts.Default, true
}

// Move is where a tenant's mirror lives under a route's servers now, and where it would live under
// another list of servers.
type Move struct {
	Tenant string
	// Now and Then name the servers; they differ when the tenant would move.
	Now, Then string
	// Pinned says that a pin keeps the tenant where it is.
	Pinned bool
}

// Moves places each tenant on the route's servers and on the servers named in then (with the route's
// pins, where they name a server of then), in tenant order. A tenant whose Now and Then differ would
// get a new, empty mirror on its new server: TableSchema answers -1 there for every table, and
// SuperOffice repopulates it; its old mirror is left where it was, for the operator to drop.
func (r Route) Moves(tenants []string, then []string) []Move {
	next := Route{Pins: map[string]string{}}
	for _, name := range then {
		next.Servers = append(next.Servers, Server{Name: name})
	}
	for tenant, pin := range r.Pins {
		if slices.Contains(then, pin) {
			next.Pins[tenant] = pin
		}
	}
	out := make([]Move, 0, len(tenants))
	for _, tenant := range slices.Sorted(slices.Values(tenants)) {
		now, _ := r.Place(tenant)
		later, _ := next.Place(tenant)
		_, pinned := next.Pins[tenant]
		out = append(out, Move{Tenant: tenant, Now: now.Name, Then: later.Name, Pinned: pinned})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

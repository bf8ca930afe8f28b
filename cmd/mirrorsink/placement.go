package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/mirrorsink/mirrorsink/engine"
)

func init() {
	register("placement", "show which database server each known tenant's mirror is on, and which would move under another list of servers", runPlacement)
}

func runPlacement(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("placement", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML); default $MIRRORSINK_CONFIG")
	tenantsFile := fs.String("tenants", "", "a file of tenants (ctx), one a line, or - for standard input; they add to those the configuration names and pins")
	servers := fs.String("servers", "", "another list of the route's servers, by name, comma-separated: print which tenants would move")
	routeName := fs.String("route", "", "the route to place: default, or a tenant named in the configuration; default: every route with servers")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mirrorsink placement [--config FILE] [--tenants FILE] [--servers NAME,NAME,…] [--route default|CTX]")
		fmt.Fprintln(stderr, "\nA route with servers places each tenant on one of them by rendezvous hashing of the tenant (ctx) over the")
		fmt.Fprintln(stderr, "servers' names, unless it pins the tenant. Adding a server moves about 1/N of the tenants, each to the new")
		fmt.Fprintln(stderr, "server; a moved tenant gets an empty mirror there, which SuperOffice repopulates at its next cycle, and its")
		fmt.Fprintln(stderr, "old mirror stays where it was, for you to drop. Nothing is connected to: the placement is computed.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	opts := cfg.engineOptions()
	// engine.New names the servers of a list of DSNs and checks every route.
	eng, err := engine.New(opts)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	defer eng.Close()
	routes := map[string]engine.Route{}
	if r, ok := eng.DefaultRoute(); ok && len(r.Servers) > 0 && (*routeName == "" || *routeName == "default") {
		routes["default"] = r
	}
	for _, name := range eng.Tenants() {
		if r, _ := eng.RouteFor(name); len(r.Servers) > 0 && (*routeName == "" || *routeName == name) {
			routes[name] = r
		}
	}
	if len(routes) == 0 {
		return fmt.Errorf("no route with servers to place (route %q)", *routeName)
	}
	named := eng.Tenants()
	var listed []string
	if *tenantsFile != "" {
		if listed, err = readTenants(*tenantsFile); err != nil {
			return err
		}
	}
	var then []string
	if *servers != "" && len(routes) > 1 {
		return fmt.Errorf("--servers: %d routes have servers (%s); say which one with --route", len(routes), strings.Join(slices.Sorted(maps.Keys(routes)), ", "))
	}
	if *servers != "" {
		for _, s := range strings.Split(*servers, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(then, s) {
				then = append(then, s)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(routes)) {
		r := routes[name]
		tenants := []string{name}
		if name == "default" {
			// The default route's tenants: those listed and pinned that the configuration does not name.
			tenants = nil
			for _, t := range append(slices.Collect(maps.Keys(r.Pins)), listed...) {
				if !slices.Contains(named, t) {
					tenants = append(tenants, t)
				}
			}
		}
		printPlacement(stdout, name, r, slices.Compact(slices.Sorted(slices.Values(tenants))), then)
	}
	return nil
}

// printPlacement prints where each tenant of route r lives, and with then where it would live.
func printPlacement(w io.Writer, name string, r engine.Route, tenants, then []string) {
	fmt.Fprintf(w, "route %s: %d servers (%s), %d known tenants\n", name, len(r.Servers), strings.Join(r.ServerNames(), ", "), len(tenants))
	next := then
	if next == nil {
		next = r.ServerNames()
	}
	moves := r.Moves(tenants, next)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if then == nil {
		fmt.Fprintln(tw, "TENANT\tSERVER\t")
	} else {
		fmt.Fprintln(tw, "TENANT\tSERVER\tUNDER --servers\t")
	}
	perServer := map[string]int{}
	moved := 0
	for _, m := range moves {
		pin := ""
		if _, ok := r.Pins[m.Tenant]; ok {
			pin = " (pinned)"
		}
		perServer[m.Now]++
		if then == nil {
			fmt.Fprintf(tw, "%s\t%s%s\t\n", m.Tenant, m.Now, pin)
			continue
		}
		change := m.Then
		if m.Then != m.Now {
			change += "  moves: repopulated there"
			moved++
		}
		fmt.Fprintf(tw, "%s\t%s%s\t%s\t\n", m.Tenant, m.Now, pin, change)
	}
	tw.Flush()
	for _, s := range r.ServerNames() {
		fmt.Fprintf(w, "server %s: %d tenants\n", s, perServer[s])
	}
	if then != nil {
		pct := 0.0
		if len(moves) > 0 {
			pct = 100 * float64(moved) / float64(len(moves))
		}
		fmt.Fprintf(w, "under --servers %s: %d of %d tenants move (%.1f%%)\n", strings.Join(then, ","), moved, len(moves), pct)
	}
	fmt.Fprintln(w)
}

// readTenants reads tenant names, one a line ("-" is standard input); blank lines and lines starting
// with # are skipped.
func readTenants(path string) ([]string, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--tenants: %w", err)
		}
		defer f.Close()
		r = f
	}
	var out []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !validTenant(line) {
			return nil, fmt.Errorf("--tenants: line %d: %q is not a tenant name (^[A-Za-z0-9_]{1,50}$)", n, line)
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

func validTenant(s string) bool {
	if len(s) == 0 || len(s) > 50 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

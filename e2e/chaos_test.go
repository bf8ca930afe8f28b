package e2e

// The fault suite (TestChaos): the real 'mirrorsink serve' binary, simulated Mirroring Tasks and
// private database servers, broken at random moments in four ways:
//
//	kills     serve killed with SIGKILL during initial loads, churn, schema changes and resets
//	restarts  the database server crashed (PostgreSQL: immediate shutdown; MariaDB: SIGKILL) while a
//	          RowData call is being applied or as one is answered, and started again at once or after
//	          a pause, while serve keeps running
//	cuts      the connections between serve and the database cut (RST) by a TCP proxy in the middle
//	          of a COPY (PostgreSQL) or a LOAD DATA LOCAL INFILE (MariaDB)
//	replicas  two serve replicas behind a round-robin TCP proxy with 20 tenants at once, one replica
//	          killed at a random moment of each round
//
// After each fault, every tenant's next cycle must succeed and its mirror must verify equal to its
// source, row by row (simulator.Verify): nothing lost, nothing duplicated, nothing left over. The
// tenants keep a change journal (journal: true), which must agree with the mirror after every fault
// (simulator.VerifyJournal): numbered without a gap, and folded from its start, holding exactly the
// keys of every table; an entry committed without its rows, or rows without their entry, fails it.
//
// `make test` runs a short slice; `make chaos` a long run. The environment sets the counts, and the
// seed that makes a run's choices (kinds of change, data, moments of the faults) again:
//
//	MIRRORSINK_CHAOS_SEED      the seed (default: a new one each run, printed)
//	MIRRORSINK_CHAOS_KILLS     serve kills per dialect (default 3)
//	MIRRORSINK_CHAOS_RESTARTS  database crashes per dialect (default 2)
//	MIRRORSINK_CHAOS_CUTS      connection cuts per dialect (default 2)
//	MIRRORSINK_CHAOS_ROUNDS    rounds of the replicas test per dialect (default 2)
//	MIRRORSINK_CHAOS_TARGETS   dialects, comma-separated (default postgres,mysql,sqlite)
//
// The moments are chosen by the seed but met by a real clock, so a replay meets the same data and the
// same plan, not necessarily the same instruction.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/dbserver"
	"github.com/mirrorsink/mirrorsink/internal/servetest"
	"github.com/mirrorsink/mirrorsink/internal/tcpproxy"
	"github.com/mirrorsink/mirrorsink/protocol"
	"github.com/mirrorsink/mirrorsink/simulator"
)

// chaosConfig is the fault suite's configuration, from the environment.
type chaosConfig struct {
	seed                          uint64
	kills, restarts, cuts, rounds int
	targets                       []string
}

// chaosConfigFromEnv reads the MIRRORSINK_CHAOS_* variables.
func chaosConfigFromEnv(t *testing.T) chaosConfig {
	t.Helper()
	c := chaosConfig{kills: 3, restarts: 2, cuts: 2, rounds: 2, targets: []string{"postgres", "mysql", "sqlite"}}
	count := func(name string, n *int) {
		if v := os.Getenv(name); v != "" {
			k, err := strconv.Atoi(v)
			if err != nil || k < 0 {
				t.Fatalf("%s=%q: want a count", name, v)
			}
			*n = k
		}
	}
	count("MIRRORSINK_CHAOS_KILLS", &c.kills)
	count("MIRRORSINK_CHAOS_RESTARTS", &c.restarts)
	count("MIRRORSINK_CHAOS_CUTS", &c.cuts)
	count("MIRRORSINK_CHAOS_ROUNDS", &c.rounds)
	if v := os.Getenv("MIRRORSINK_CHAOS_TARGETS"); v != "" {
		c.targets = strings.Split(v, ",")
	}
	if v := os.Getenv("MIRRORSINK_CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("MIRRORSINK_CHAOS_SEED=%q: want an unsigned integer", v)
		}
		c.seed = s
	} else {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		c.seed = binary.LittleEndian.Uint64(b[:]) >> 1 // printable as a positive int64 too
	}
	return c
}

// replay is the command that runs the same again.
func (c chaosConfig) replay() string {
	return fmt.Sprintf("make chaos SEED=%d KILLS=%d RESTARTS=%d CUTS=%d ROUNDS=%d TARGETS=%s",
		c.seed, c.kills, c.restarts, c.cuts, c.rounds, strings.Join(c.targets, ","))
}

// TestChaos is the fault suite; see the top of this file.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("builds serve and starts database servers")
	}
	cfg := chaosConfigFromEnv(t)
	t.Logf("chaos: seed %d; per dialect %d kills of serve, %d database crashes, %d connection cuts, %d rounds of two replicas; replay: %s",
		cfg.seed, cfg.kills, cfg.restarts, cfg.cuts, cfg.rounds, cfg.replay())
	testKeys(t)
	bin := servetest.Build(t, t.TempDir())
	tests := []struct {
		name string
		// servers says the test needs a database server (SQLite has none to crash or cut).
		servers bool
		n       int
		run     func(r *chaosRun, n int)
	}{
		{"kills", false, cfg.kills, chaosKills},
		{"restarts", true, cfg.restarts, chaosRestarts},
		{"cuts", true, cfg.cuts, chaosCuts},
		{"replicas", false, cfg.rounds, chaosReplicas},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, dialect := range cfg.targets {
				t.Run(dialect, func(t *testing.T) {
					if tc.n == 0 {
						t.Skip("count 0")
					}
					if tc.servers && dialect == "sqlite" {
						t.Skip("SQLite has no server to crash and no connection to cut")
					}
					r := newChaosRun(t, cfg, bin, dialect, tc.name)
					tc.run(r, tc.n)
					if !t.Failed() {
						t.Logf("chaos %s/%s (seed %d): %s", tc.name, dialect, cfg.seed, r.summary())
					}
				})
			}
		})
	}
}

// chaosRun is one fault test on one dialect: the database, the tenants, the random numbers that
// choose every change and moment, and what happened.
type chaosRun struct {
	t       *testing.T
	cfg     chaosConfig
	bin     string
	dialect string
	rng     *mrand.Rand
	// server is the private database server (nil for SQLite, whose files are in dir).
	server *dbserver.Server
	dir    string
	watch  *callWatch
	// url is where the tenants' drivers call: a serve, or the proxy in front of the replicas.
	url     string
	tenants []*chaosTenant
	// rows and batchBytes size the tenants' data and calls.
	rows       int64
	batchBytes int
	// estCalls estimates how many calls a round makes, to spread the faults over a round's calls.
	estCalls int
	// count is the number of faults, and faults counts them by what was in flight when they came;
	// verified counts the rows compared after the faults.
	count    int
	faults   map[string]int
	failed   int // cycles that a fault failed
	verified int64
	rounds   int
}

// newChaosRun starts the dialect's private database server (or makes SQLite's folder).
func newChaosRun(t *testing.T, cfg chaosConfig, bin, dialect, test string) *chaosRun {
	h := fnv.New64a()
	h.Write([]byte(test + "/" + dialect))
	r := &chaosRun{t: t, cfg: cfg, bin: bin, dialect: dialect, rng: mrand.New(mrand.NewPCG(cfg.seed, h.Sum64())),
		watch: newCallWatch(), rows: 600, batchBytes: 32 << 10, estCalls: 40, faults: map[string]int{}}
	// Room for two replicas' pools of 20 tenants, the verifier's connections and the engine's reset.
	opts := dbserver.Options{MaxConnections: 200}
	switch dialect {
	case "postgres":
		r.server = dbserver.Postgres(t, opts)
	case "mysql":
		r.server = dbserver.MariaDB(t, opts)
	case "sqlite":
		r.dir = t.TempDir()
	default:
		t.Fatalf("chaos: unknown target %q (known: postgres, mysql, sqlite)", dialect)
	}
	return r
}

// route is the route of every tenant, reaching the database through addr (the server's own address,
// or a proxy's in front of it; ignored for SQLite).
func (r *chaosRun) route(addr string) engine.Route {
	switch r.dialect {
	case "postgres":
		return engine.Route{Dialect: "postgres", DSN: "postgres://postgres@" + addr + "/chaos_{ctx}?sslmode=disable", MaxConns: 2}
	case "mysql":
		return engine.Route{Dialect: "mysql", DSN: "root@tcp(" + addr + ")/chaos_{ctx}", MaxConns: 2}
	default:
		return engine.Route{Dialect: "sqlite", DSN: filepath.Join(r.dir, "{ctx}.db")}
	}
}

// directRoute is the route straight to the database, for the verifier.
func (r *chaosRun) directRoute() engine.Route {
	if r.server == nil {
		return r.route("")
	}
	return r.route(r.server.Addr)
}

// serve starts a 'mirrorsink serve' whose tenants all take route.
func (r *chaosRun) serve(route engine.Route) *servetest.Service {
	return servetest.Start(r.t, servetest.Config{
		Binary: r.bin, Dir: r.t.TempDir(), ClientID: clientID, AppKey: keys.app, Certificate: keys.cert,
		Settings: fmt.Sprintf("default:\n  dialect: %q\n  dsn: %q\n  max_conns: %d\n  journal: true\n  journal_keep: all\nlimits:\n  shutdown_period: 2s\nlog:\n  level: warn\n",
			route.Dialect, route.DSN, route.MaxConns),
	})
}

// chaosTenant is a tenant of the fault suite.
type chaosTenant struct {
	*tenant
	dataset string
	// dropped names the tables dropped at the source, which must be gone from the mirror.
	dropped map[string]bool
	// keepAlive says the driver keeps its connections open between calls; without it, every call
	// opens a connection, and so meets the next replica behind a round-robin proxy.
	keepAlive bool
	transport *http.Transport
}

// addTenants makes n tenants; every other one keeps its connections alive.
func (r *chaosRun) addTenants(n int) {
	for i := range n {
		r.tenants = append(r.tenants, r.newTenant(i, i%2 == 0))
	}
}

// newTenant makes tenant number i with a fresh source (its mirror does not exist yet): every third
// one mirrors the dataset of every type, the others the crm one; they send one, two or three tables
// at once.
func (r *chaosRun) newTenant(i int, keepAlive bool) *chaosTenant {
	dataset, rows := "crm", r.rows
	if i%3 == 2 {
		dataset, rows = "types", r.rows/4
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = !keepAlive
	name := tenantName(r.t)
	tn := openTenant(r.t, name, tenantOptions{URL: r.url, Route: r.directRoute(), Dataset: dataset, Rows: rows,
		Seed: r.rng.Uint64(), BatchBytes: r.batchBytes, HTTP: &http.Client{Transport: r.watch.transport(tr)}, Parallel: 1 + i%3})
	return &chaosTenant{tenant: tn, dataset: dataset, dropped: map[string]bool{}, keepAlive: keepAlive, transport: tr}
}

// kinds are the changes a round makes at a tenant before its cycle.
var chaosKinds = []string{"initial", "churn", "churn", "schema", "reset"}

// change makes a change of a random kind for tenant i and describes it: a new tenant (its initial
// load), churn at its source, a schema change at its source, or a reset of one table in its mirror
// (as 'mirrorsink resync' does). In the first round, every tenant's cycle is its initial load.
func (r *chaosRun) change(ctx context.Context, i int, mirrored bool) string {
	tn := r.tenants[i]
	kind := chaosKinds[r.rng.IntN(len(chaosKinds))]
	seed := r.rng.Uint64()
	if !mirrored {
		return tn.name + ": initial load"
	}
	switch kind {
	case "initial":
		r.tenants[i] = r.newTenant(i, tn.keepAlive)
		return fmt.Sprintf("%s: initial load of a new tenant %s", tn.name, r.tenants[i].name)
	case "churn":
		ins, upd, del := 20+r.rng.IntN(60), 20+r.rng.IntN(90), r.rng.IntN(40)
		if _, err := simulator.Churn(ctx, tn.src, simulator.ChurnOptions{Dataset: tn.dataset, Inserts: ins, Updates: upd, Deletes: del, Seed: seed}); err != nil {
			r.t.Fatalf("tenant %s: churn: %v", tn.name, err)
		}
		return fmt.Sprintf("%s: churn %d/%d/%d (seed %d)", tn.name, ins, upd, del, seed)
	case "schema":
		sc, err := simulator.SchemaChange(ctx, tn.src, seed)
		if err != nil {
			r.t.Fatalf("tenant %s: schema change: %v", tn.name, err)
		}
		if sc.Dropped != "" {
			tn.dropped[sc.Dropped] = true
		}
		delete(tn.dropped, sc.Created)
		return fmt.Sprintf("%s: schema change (seed %d): added %s, widened %s, retyped %s, dropped %q, created %s",
			tn.name, seed, sc.Added, sc.Widened, sc.Retyped, sc.Dropped, sc.Created)
	default:
		tables, err := tn.src.Tables(ctx)
		if err != nil {
			r.t.Fatal(err)
		}
		table := tables[r.rng.IntN(len(tables))].Name
		if err := tn.mirror.Reset(ctx, table); err != nil {
			r.t.Fatalf("tenant %s: reset %s: %v", tn.name, table, err)
		}
		return fmt.Sprintf("%s: reset of %s", tn.name, table)
	}
}

// changeAll makes a change for every tenant.
func (r *chaosRun) changeAll(mirrored bool) []string {
	ctx := context.Background()
	var steps []string
	for i := range r.tenants {
		steps = append(steps, r.change(ctx, i, mirrored))
	}
	return steps
}

// eachTenant runs fn for every tenant at once, each with a context bounded by timeout, and returns
// their errors, each naming its tenant.
func (r *chaosRun) eachTenant(timeout time.Duration, fn func(ctx context.Context, tn *chaosTenant) error) []error {
	errs := make([]error, len(r.tenants))
	var wg sync.WaitGroup
	for i, tn := range r.tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if err := fn(ctx, tn); err != nil {
				errs[i] = fmt.Errorf("tenant %s: %w", tn.name, err)
			}
		}()
	}
	wg.Wait()
	return errs
}

// cycleAll runs a cycle of every tenant at once and returns their errors.
func (r *chaosRun) cycleAll() []error {
	return r.eachTenant(3*time.Minute, func(ctx context.Context, tn *chaosTenant) error {
		_, err := tn.driver.Cycle(ctx, tn.src)
		return err
	})
}

// settle is the retried cycle after a fault (described by f): every tenant's cycle must succeed, and
// every mirror must verify equal to its source.
func (r *chaosRun) settle(step string, f fmt.Stringer, steps []string) {
	r.t.Helper()
	for _, tn := range r.tenants {
		// Connections kept alive to a killed serve are dead; SuperOffice's next cycle comes minutes
		// later, on new connections.
		tn.transport.CloseIdleConnections()
	}
	fail := func(what string, errs []error) {
		r.t.Helper()
		r.t.Fatalf("%s: %s:\n%v\nthe fault came %s\nthe round's changes:\n  %s\nreplay: %s",
			step, what, errors.Join(errs...), f, strings.Join(steps, "\n  "), r.cfg.replay())
	}
	if errs := r.cycleAll(); errors.Join(errs...) != nil {
		fail("the retried cycle failed", errs)
	}
	var mu sync.Mutex
	errs := r.eachTenant(2*time.Minute, func(ctx context.Context, tn *chaosTenant) error {
		checks, err := tn.mirror.Verify(ctx, tn.src, tn.absent(ctx)...)
		mu.Lock()
		for _, c := range checks {
			r.verified += c.SourceRows
		}
		mu.Unlock()
		if err != nil {
			return err
		}
		return tn.mirror.VerifyJournal(ctx, tn.src, nil, nil)
	})
	if errors.Join(errs...) != nil {
		fail("the mirror does not verify after the retried cycle", errs)
	}
	r.rounds++
}

// absent lists the tables dropped at the source and not created again since.
func (tn *chaosTenant) absent(ctx context.Context) []string {
	tables, err := tn.src.Tables(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for name := range tn.dropped {
		if !slices.ContainsFunc(tables, func(t simulator.Table) bool { return t.Name == name }) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// plan picks a round's fault: the at-th call of operation op (any when op is empty), spread over the
// calls a round is estimated to make, and either a delay after that call started, within which most
// calls are being carried out, or (one time in three) the moment its answer arrives.
func (r *chaosRun) plan(op string, fire func()) *fault {
	est := r.estCalls
	if op != "" {
		est = max(1, est/2) // RowData calls are about half of a round's
	}
	return &fault{op: op, at: 1 + r.rng.IntN(est), delay: time.Duration(r.rng.IntN(40_000)) * time.Microsecond,
		answered: r.rng.IntN(3) == 0, fire: fire}
}

// String says when the fault came, and what was in flight then.
func (f *fault) String() string {
	call := "call"
	if f.op != "" {
		call = f.op + " call"
	}
	switch {
	case f.moment == "":
		return fmt.Sprintf("%s %d", call, f.at) // not set off (yet)
	case !f.planned:
		return fmt.Sprintf("after the round, which ended before %s %d", call, f.at)
	case f.answered:
		return fmt.Sprintf("at the answer of %s %d (in flight: %s)", call, f.at, f.moment)
	}
	return fmt.Sprintf("%s after %s %d started (in flight: %s)", f.delay.Round(time.Millisecond), call, f.at, f.moment)
}

// round runs every tenant's cycle at once with fault f planned among their calls. Once f has fired,
// heal runs on the test goroutine after pause, while the cycles go on; a fault that the round ended
// before fires after it. It returns the cycles' errors and whether f fired during the round.
func (r *chaosRun) round(f *fault, pause time.Duration, heal func()) (errs []error, fired bool) {
	r.watch.arm(f)
	done := make(chan []error, 1)
	go func() { done <- r.cycleAll() }()
	healed := false
	select {
	case <-f.fired:
		time.Sleep(pause)
		heal()
		healed = true
		errs = <-done
	case errs = <-done:
	}
	fired = r.watch.disarm(f)
	calls := r.watch.calls()
	// A round that ended before its fault gives the count of a round's calls; a fault that came gives
	// a lower bound, which lets later faults reach later calls.
	if fired {
		r.estCalls = max(r.estCalls, f.at+f.at/4)
	} else {
		r.estCalls = max(8, calls)
		f.moment = "after the round"
		f.fire()
	}
	if !healed {
		time.Sleep(pause)
		heal()
	}
	return errs, fired
}

// record counts a fault under each operation that was in flight when it came, and the cycles it
// failed; it returns how many those were.
func (r *chaosRun) record(f *fault, fired bool, errs []error) int {
	r.count++
	switch {
	case !fired:
		r.faults["after the round"]++
	case len(f.ops) == 0:
		r.faults["between calls"]++
	}
	for _, op := range f.ops {
		r.faults[op]++
	}
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	r.failed += n
	return n
}

// summary describes the run.
func (r *chaosRun) summary() string {
	var moments []string
	for m, n := range r.faults {
		moments = append(moments, fmt.Sprintf("%s %d", m, n))
	}
	sort.Strings(moments)
	return fmt.Sprintf("%d faults (what was in flight when they came: %s), %d cycles failed by them; %d retried rounds verified, %d rows compared",
		r.count, strings.Join(moments, ", "), r.failed, r.rounds, r.verified)
}

// faultRounds runs n rounds of a kind of fault: a change for every tenant, a cycle of all of them at
// once with a fault planned among the calls of operation op (any operation when empty), and the
// retried cycles that must verify. next gives each round's fault: what it does, what heals it after
// pause, and what to call it in the log.
func (r *chaosRun) faultRounds(n int, kind, op string, next func() (fire, heal func(), pause time.Duration, what string)) {
	for k := 1; k <= n; k++ {
		steps := r.changeAll(k > 1)
		fire, heal, pause, what := next()
		f := r.plan(op, fire)
		errs, fired := r.round(f, pause, heal)
		failed := r.record(f, fired, errs)
		r.settle(fmt.Sprintf("%s %d/%d", kind, k, n), f, steps)
		r.t.Logf("%s %d/%d: %s %s, down for %s: %d of %d cycles failed; the next cycles succeeded and every mirror verified\n  %s",
			kind, k, n, what, f, pause.Round(time.Millisecond), failed, len(errs), strings.Join(steps, "\n  "))
	}
}

// chaosKills kills serve n times at random moments of rounds in which three tenants (two crm, one
// with every type) load, churn, change schema and get reset, and starts it again after a pause of up
// to a second, as a supervisor would.
func chaosKills(r *chaosRun, n int) {
	svc := r.serve(r.directRoute())
	r.url = svc.URL
	r.addTenants(3)
	r.faultRounds(n, "kill", "", func() (func(), func(), time.Duration, string) {
		return svc.Kill, svc.Restart, time.Duration(r.rng.IntN(1000)) * time.Millisecond, "serve killed"
	})
}

// chaosRestarts crashes the database server n times while a RowData call is being applied, or right
// after one was answered, and starts it again at once or after a pause of up to 3 s; serve keeps
// running throughout.
func chaosRestarts(r *chaosRun, n int) {
	svc := r.serve(r.directRoute())
	r.url = svc.URL
	pid := svc.PID()
	r.addTenants(3)
	r.faultRounds(n, "database crash", "RowData", func() (func(), func(), time.Duration, string) {
		var pause time.Duration
		if r.rng.IntN(2) == 1 {
			pause = time.Duration(200+r.rng.IntN(2800)) * time.Millisecond
		}
		return r.server.Crash, r.server.Start, pause, "the database server crashed"
	})
	if svc.PID() != pid {
		r.t.Fatal("serve was restarted, but the database's crashes must not need that")
	}
}

// chaosCuts cuts the connection between serve and the database n times in the middle of a bulk load
// (COPY … FROM STDIN on PostgreSQL, LOAD DATA LOCAL INFILE on MariaDB), through a TCP proxy that reads
// the client's side of the wire protocol.
func chaosCuts(r *chaosRun, n int) {
	cut := &bulkCut{}
	inspect := func() tcpproxy.Inspector { return newCopyWatch(cut) }
	if r.dialect == "mysql" {
		inspect = func() tcpproxy.Inspector { return newLoadDataWatch(cut) }
	}
	proxy, err := tcpproxy.StartWith(tcpproxy.Options{Targets: []string{r.server.Addr}, Inspect: inspect})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { proxy.Close() })
	svc := r.serve(r.route(proxy.Addr()))
	r.url = svc.URL
	r.addTenants(3)
	for k, attempt := 1, 1; k <= n; attempt++ {
		if attempt > 3*n+3 {
			r.t.Fatalf("only %d of %d rounds met a bulk load long enough to cut", k-1, n)
		}
		steps := r.changeAll(attempt > 1)
		chunk := 1 + r.rng.IntN(3)
		cut.arm(chunk)
		errs := r.cycleAll()
		if !cut.disarm() {
			r.t.Logf("round %d: no bulk load reached data message %d; no cut", attempt, chunk)
			continue
		}
		failed := r.record(&fault{ops: []string{"a bulk load"}}, true, errs)
		r.settle(fmt.Sprintf("cut %d/%d", k, n), cutMoment(chunk), steps)
		r.t.Logf("cut %d/%d at the bulk load's data message %d: %d of %d cycles failed; the next cycles succeeded and every mirror verified\n  %s",
			k, n, chunk, failed, len(errs), strings.Join(steps, "\n  "))
		k++
	}
	if s := proxy.Stats(); s.Cut < int64(n) {
		r.t.Fatalf("the proxy cut %d connections, want %d", s.Cut, n)
	}
}

// cutMoment describes a cut at a bulk load's data message.
type cutMoment int

func (c cutMoment) String() string { return fmt.Sprintf("at data message %d of a bulk load", int(c)) }

// chaosReplicas runs two serve replicas behind a round-robin TCP proxy for 20 tenants that cycle all
// at once, and kills one replica at a random moment of each of n rounds, starting it again after a
// pause of up to 2 s; meanwhile the proxy sends new connections to the replica that is up. Half of
// the drivers open a connection per call, so that one cycle's calls go to both replicas.
func chaosReplicas(r *chaosRun, n int) {
	r.rows = 60
	route := r.directRoute()
	replicas := []*servetest.Service{r.serve(route), r.serve(route)}
	proxy, err := tcpproxy.Start(replicas[0].Addr, replicas[1].Addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { proxy.Close() })
	r.url = "http://" + proxy.Addr() + "/"
	r.addTenants(20)
	r.estCalls = 400
	r.faultRounds(n, "replica round", "", func() (func(), func(), time.Duration, string) {
		victim := replicas[r.rng.IntN(2)]
		return victim.Kill, victim.Restart, time.Duration(r.rng.IntN(2000)) * time.Millisecond, "the replica at " + victim.Addr + " killed"
	})
	s := proxy.Stats()
	if len(s.PerTarget) != 2 || s.PerTarget[0] == 0 || s.PerTarget[1] == 0 {
		r.t.Fatalf("the proxy did not use both replicas: %+v", s)
	}
	r.t.Logf("proxy: %d connections, %v per replica", s.Forwarded, s.PerTarget)
}

// callWatch sees every call of the simulated Mirroring Tasks, so that a fault can be timed to a call
// and its report can say what was in flight.
type callWatch struct {
	mu       sync.Mutex
	started  int            // calls started since the last arm
	inFlight map[string]int // operation → calls sent and not yet answered
	fault    *fault
}

// fault is a planned fault: fire runs when the at-th call of operation op (any operation when op is
// empty) has been in flight for delay, or, with answered set, as soon as that call's answer has
// arrived and before the driver sees it (so before its next call for the same table is sent).
type fault struct {
	op       string
	at       int
	delay    time.Duration
	answered bool
	fire     func()
	seen     int
	// planned says the fault has been set off (under the watch's lock).
	planned bool
	// fired is closed once fire has returned; moment and ops say what was in flight when it ran.
	fired  chan struct{}
	moment string
	ops    []string
}

func newCallWatch() *callWatch { return &callWatch{inFlight: map[string]int{}} }

// arm plans a fault and starts counting the round's calls.
func (w *callWatch) arm(f *fault) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f.fired = make(chan struct{})
	w.fault, w.started = f, 0
}

// calls is how many calls have started since the last arm.
func (w *callWatch) calls() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started
}

// disarm stops counting calls for f; if f had been set off, it waits until it has fired.
func (w *callWatch) disarm(f *fault) (fired bool) {
	w.mu.Lock()
	if w.fault == f {
		w.fault = nil
	}
	planned := f.planned
	w.mu.Unlock()
	if planned {
		<-f.fired
	}
	return planned
}

// setOff runs the fault's fire, noting what is in flight.
func (w *callWatch) setOff(f *fault, answered string) {
	w.mu.Lock()
	for op, n := range w.inFlight {
		if n > 0 {
			f.ops = append(f.ops, op)
		}
	}
	sort.Strings(f.ops)
	f.moment = w.describe(answered)
	w.mu.Unlock()
	f.fire()
	close(f.fired)
}

// describe says which calls are in flight, e.g. "RowData×2, TableSchema"; w.mu is held.
func (w *callWatch) describe(answered string) string {
	var parts []string
	for op, n := range w.inFlight {
		switch {
		case n == 1:
			parts = append(parts, op)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%s×%d", op, n))
		}
	}
	sort.Strings(parts)
	s := strings.Join(parts, ", ")
	if s == "" {
		s = "nothing"
	}
	if answered != "" {
		s += "; a " + answered + " just answered"
	}
	return s
}

// transport returns a RoundTripper that shows every call to the watch.
func (w *callWatch) transport(base http.RoundTripper) http.RoundTripper {
	return watchedTransport{w: w, base: base}
}

type watchedTransport struct {
	w    *callWatch
	base http.RoundTripper
}

func (t watchedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	op := "other"
	if o, ok := protocol.OpFromSOAPAction(req.Header.Get("SOAPAction")); ok {
		op = o.String()
	}
	w := t.w
	var afterAnswer *fault
	w.mu.Lock()
	w.started++
	w.inFlight[op]++
	if f := w.fault; f != nil && !f.planned && (f.op == "" || f.op == op) {
		f.seen++
		if f.seen == f.at {
			f.planned = true
			if f.answered {
				afterAnswer = f
			} else {
				go func() {
					time.Sleep(f.delay)
					w.setOff(f, "")
				}()
			}
		}
	}
	w.mu.Unlock()
	resp, err := t.base.RoundTrip(req)
	w.mu.Lock()
	w.inFlight[op]--
	w.mu.Unlock()
	if afterAnswer != nil {
		w.setOff(afterAnswer, op)
	}
	return resp, err
}

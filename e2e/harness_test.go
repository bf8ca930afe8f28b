// Package e2e runs whole replication cycles over real HTTP on loopback: the simulator's driver (as
// SuperOffice's Mirroring Task) against the real protocol server and the real engine, for every
// dialect that is available, verifying the mirror against the source after every cycle.
package e2e

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/protocol"
	"github.com/mirrorsink/mirrorsink/simulator"

	_ "github.com/mirrorsink/mirrorsink/dialect/mysql"
	_ "github.com/mirrorsink/mirrorsink/dialect/postgres"
	_ "github.com/mirrorsink/mirrorsink/dialect/sqlite"
	_ "github.com/mirrorsink/mirrorsink/dialect/sqlserver"
)

// clientID is the application's client id at "SuperOffice"; tokens are addressed to spn:clientID.
const clientID = "e2e-client"

// keys are the application key pair and the stand-in SuperOffice signing key with its certificate,
// generated once per test binary.
var keys struct {
	once sync.Once
	app  *rsa.PrivateKey
	so   *rsa.PrivateKey
	cert *x509.Certificate
	err  error
}

func testKeys(t *testing.T) {
	t.Helper()
	keys.once.Do(func() {
		if keys.app, keys.err = protocol.GenerateKeyPair(2048); keys.err != nil {
			return
		}
		if keys.so, keys.err = protocol.GenerateKeyPair(2048); keys.err != nil {
			return
		}
		keys.cert, _, keys.err = protocol.SelfSignedCertificate(keys.so, "SuperOffice test federated login", time.Now())
	})
	if keys.err != nil {
		t.Fatal(keys.err)
	}
}

// target is one dialect that the tests mirror into.
type target struct {
	name string
	// route returns the route of the target with "{ctx}" in its DSN; ok is false when the target's
	// server is unavailable (the test is then skipped by testenv).
	route func(t *testing.T) engine.Route
	// drop removes a tenant's mirror database.
	drop func(t *testing.T, tenant string)
	// kill cuts every database connection of a tenant's mirror, as a failing network would.
	kill func(t *testing.T, tenant string)
}

// targets lists every dialect the e2e tests run against. A new dialect needs an entry here.
func targets() []target {
	return []target{
		{
			name: "sqlite",
			route: func(t *testing.T) engine.Route {
				return engine.Route{Dialect: "sqlite", DSN: t.TempDir() + "/{ctx}.db"}
			},
			drop: func(*testing.T, string) {}, // the files go with t.TempDir
		},
		{
			name: "postgres",
			route: func(t *testing.T) engine.Route {
				base := testenv.Postgres(t)
				cfg, err := pgx.ParseConfig(base)
				if err != nil {
					t.Fatal(err)
				}
				u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Host: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))),
					Path: "/e2e_{ctx}", RawQuery: "sslmode=disable"}
				if cfg.Password != "" {
					u.User = url.UserPassword(cfg.User, cfg.Password)
				}
				// Two connections per tenant: twenty tenants at once, and the verifier's connections,
				// must stay well inside the server's max_connections (100 by default), beside the other
				// packages' tests.
				return engine.Route{Dialect: "postgres", DSN: u.String(), MaxConns: 2}
			},
			drop: func(t *testing.T, tenant string) {
				pgAdmin(t, `DROP DATABASE IF EXISTS "e2e_`+tenant+`" WITH (FORCE)`)
			},
			kill: func(t *testing.T, tenant string) {
				pgAdmin(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'e2e_`+tenant+`'`)
			},
		},
		{
			name: "mysql",
			route: func(t *testing.T) engine.Route {
				cfg, err := mysql.ParseDSN(testenv.MySQL(t))
				if err != nil {
					t.Fatal(err)
				}
				cfg.DBName = "e2e_{ctx}" // FormatDSN escapes the braces; the engine reads either spelling
				return engine.Route{Dialect: "mysql", DSN: cfg.FormatDSN(), MaxConns: 2}
			},
			drop: func(t *testing.T, tenant string) {
				mysqlAdmin(t, "DROP DATABASE IF EXISTS `e2e_"+tenant+"`")
			},
		},
		{
			// Only where MIRRORSINK_TEST_SQLSERVER names a server (testenv skips it otherwise): a
			// database per tenant, created by the dialect from master.
			name: "sqlserver",
			route: func(t *testing.T) engine.Route {
				u, err := url.Parse(testenv.SQLServer(t))
				if err != nil {
					t.Fatalf("MIRRORSINK_TEST_SQLSERVER: %v", err)
				}
				q := u.Query()
				q.Set("database", "e2e_{ctx}") // escaped to %7Bctx%7D, which the engine reads as {ctx}
				u.RawQuery = q.Encode()
				return engine.Route{Dialect: "sqlserver", DSN: u.String(), MaxConns: 2}
			},
			drop: func(t *testing.T, tenant string) {
				db := "[e2e_" + tenant + "]"
				sqlserverAdmin(t, "IF DB_ID(N'e2e_"+tenant+"') IS NOT NULL BEGIN ALTER DATABASE "+db+
					" SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE "+db+" END")
			},
		},
	}
}

// sqlserverAdmin runs a statement on the server of MIRRORSINK_TEST_SQLSERVER, from master.
func sqlserverAdmin(t *testing.T, stmt string) {
	t.Helper()
	u, err := url.Parse(testenv.SQLServer(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("database", "master")
	u.RawQuery = q.Encode()
	db, err := sql.Open("sqlserver", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Errorf("%s: %v", stmt, err)
	}
}

func pgAdmin(t *testing.T, stmt string) {
	t.Helper()
	pgExec(t, testenv.Postgres(t), stmt)
}

// pgQueryRow reads one row of a query in the PostgreSQL database of dsn.
func pgQueryRow(t *testing.T, dsn, query string, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, query).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// pgExec runs a statement in the PostgreSQL database of dsn.
func pgExec(t *testing.T, dsn, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Errorf("%s: %v", stmt, err)
	}
}

func mysqlAdmin(t *testing.T, stmt string) {
	t.Helper()
	if _, err := mysqlDB(t).Exec(stmt); err != nil {
		t.Errorf("%s: %v", stmt, err)
	}
}

// mysqlDB returns a pool of the test's MySQL server, closed when the test ends.
func mysqlDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", testenv.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// targetNamed returns the target of a dialect.
func targetNamed(t *testing.T, name string) target {
	t.Helper()
	for _, tg := range targets() {
		if tg.name == name {
			return tg
		}
	}
	t.Fatalf("no e2e target %s", name)
	return target{}
}

// forEachTarget runs fn as a subtest per available dialect.
func forEachTarget(t *testing.T, fn func(t *testing.T, tg target)) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			if _, err := dialect.Lookup(tg.name); err != nil {
				t.Skipf("dialect %s is not registered", tg.name)
			}
			fn(t, tg)
		})
	}
}

// service is a running mirrorsink: the engine behind the real SOAP server on a loopback port.
type service struct {
	URL     string
	engine  *engine.Engine
	route   engine.Route
	http    *http.Server
	ln      net.Listener
	mu      sync.Mutex
	handler http.Handler
}

// startService starts the service for route, serving every tenant; tune may change the engine's
// options.
func startService(t *testing.T, route engine.Route, tune ...func(*engine.Options)) *service {
	t.Helper()
	opts := engine.Options{Default: &route}
	for _, f := range tune {
		f(&opts)
	}
	return startEngine(t, opts)
}

// startEngine starts the service with the engine's options, whose default route serves every tenant
// not named in them.
func startEngine(t *testing.T, opts engine.Options) *service {
	t.Helper()
	testKeys(t)
	route := *opts.Default
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := protocol.NewTokenVerifier(protocol.VerifierConfig{Certificates: []*x509.Certificate{keys.cert}, ClientID: clientID})
	if err != nil {
		t.Fatal(err)
	}
	soap, err := protocol.NewServer(protocol.ServerConfig{Handler: eng, Verifier: verifier, ApplicationKey: keys.app, Build: "mirrorsink e2e"})
	if err != nil {
		t.Fatal(err)
	}
	s := &service{engine: eng, route: route, handler: soap}
	s.listen(t, "127.0.0.1:0")
	t.Cleanup(func() {
		s.stop()
		eng.Close()
	})
	return s
}

// listen serves on addr (again, after stop).
func (s *service) listen(t *testing.T, addr string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.URL = "http://" + ln.Addr().String() + "/mirroring"
	s.http = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
}

// serveHTTP passes a request to the current handler, which a test may wrap.
func (s *service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.handler
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

// wrap replaces the handler with wrap(handler).
func (s *service) wrap(wrap func(http.Handler) http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = wrap(s.handler)
}

// stop closes the listener and every connection at once, cutting calls in flight.
func (s *service) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http != nil {
		s.http.Close()
		s.ln.Close() // Serve may not have taken the listener over yet
		s.http = nil
	}
}

// tenantName returns a unique, lower-case tenant name.
func tenantName(t *testing.T) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "cust" + hex.EncodeToString(b[:])
}

// tenant is one simulated SuperOffice customer: its source, its driver and its mirror.
type tenant struct {
	name   string
	src    *simulator.Source
	driver *simulator.Driver
	mirror simulator.Mirror
}

// newTenant makes a tenant with a generated source of dataset (of some of its tables only, when
// tables are named), and drops its mirror at the end.
func newTenant(t *testing.T, tg target, svc *service, dataset string, rows int64, batchBytes int, tables ...string) *tenant {
	t.Helper()
	name := tenantName(t)
	t.Cleanup(func() { tg.drop(t, name) })
	return openTenant(t, name, tenantOptions{URL: svc.URL, Route: svc.route, Dataset: dataset, Rows: rows, Seed: 1, BatchBytes: batchBytes, Tables: tables})
}

// tenantOptions say how openTenant makes a tenant.
type tenantOptions struct {
	// URL is the service's address; Route is where the service mirrors the tenant.
	URL   string
	Route engine.Route
	// Dataset, Rows and Seed generate the source (simulator.GenerateOptions).
	Dataset string
	Rows    int64
	Seed    uint64
	// BatchBytes is the size of a RowData call.
	BatchBytes int
	// HTTP is the driver's client (nil: its own).
	HTTP *http.Client
	// Parallel is how many tables the driver sends at once (default 3).
	Parallel int
	// Tables, when set, are the only tables of the dataset the source has.
	Tables []string
}

// openTenant makes tenant name with a generated source, and its driver.
func openTenant(t *testing.T, name string, o tenantOptions) *tenant {
	t.Helper()
	ctx := context.Background()
	src, err := simulator.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	minYear := 1
	if o.Route.Dialect == "mysql" {
		minYear = 1000 // TYPES.md: MySQL dates start in year 1000
	}
	if err := simulator.Generate(ctx, src, simulator.GenerateOptions{Dataset: o.Dataset, Rows: o.Rows, Seed: o.Seed, MinYear: minYear, Tables: o.Tables}); err != nil {
		t.Fatal(err)
	}
	d := driverFor(t, simulator.DriverConfig{URL: o.URL, Tenant: name, BatchBytes: o.BatchBytes, Parallel: o.Parallel, HTTP: o.HTTP})
	return &tenant{name: name, src: src, driver: d,
		mirror: simulator.Mirror{Dialect: o.Route.Dialect, DSN: o.Route.DSN, Schema: o.Route.Schema, Tenant: name}}
}

// newDriver returns a driver for tenant that calls the service at url with tokens the service trusts.
func newDriver(t *testing.T, url, tenant string, batchBytes int) *simulator.Driver {
	t.Helper()
	return driverFor(t, simulator.DriverConfig{URL: url, Tenant: tenant, BatchBytes: batchBytes})
}

// driverFor completes c with the keys the service trusts (and three tables at once by default) and
// returns its driver.
func driverFor(t *testing.T, c simulator.DriverConfig) *simulator.Driver {
	t.Helper()
	c.ClientID, c.SigningKey, c.KeyID, c.AppPublicKey = clientID, keys.so, protocol.CertificateThumbprint(keys.cert), &keys.app.PublicKey
	c.Parallel = cmp.Or(c.Parallel, 3)
	d, err := simulator.NewDriver(c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// cycleAll runs one cycle of every tenant, at most parallel tenants at once, each after a churn from
// the second round on, and verifies each mirror, at most verifiers at once (the verifier's connections
// are the test's own, beside the service's; 0 verifies none); it fails the test naming every tenant
// whose cycle or mirror failed.
func cycleAll(t *testing.T, tenants []*tenant, round, parallel, verifiers int) {
	t.Helper()
	if round > 0 {
		for i, tn := range tenants {
			tn.churn(t, 5, 10, 3, uint64(i+round*len(tenants)))
		}
	}
	cycles, verifying := make(chan struct{}, parallel), make(chan struct{}, verifiers)
	var wg sync.WaitGroup
	errs := make([]error, len(tenants))
	for i, tn := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cycles <- struct{}{}
			_, err := tn.driver.Cycle(ctx, tn.src)
			<-cycles
			if err != nil {
				errs[i] = fmt.Errorf("tenant %s: %w", tn.name, err)
				return
			}
			if verifiers == 0 {
				return
			}
			verifying <- struct{}{}
			defer func() { <-verifying }()
			_, errs[i] = tn.mirror.Verify(ctx, tn.src)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
}

// cycle runs one cycle and verifies the mirror.
func (tn *tenant) cycle(t *testing.T, absent ...string) simulator.CycleResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := tn.driver.Cycle(ctx, tn.src)
	if err != nil {
		t.Fatalf("tenant %s: cycle: %v", tn.name, err)
	}
	tn.verify(t, absent...)
	return res
}

func (tn *tenant) verify(t *testing.T, absent ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := tn.mirror.Verify(ctx, tn.src, absent...); err != nil {
		t.Fatalf("tenant %s: %v", tn.name, err)
	}
}

func (tn *tenant) churn(t *testing.T, ins, upd, del int, seed uint64) {
	t.Helper()
	if _, err := simulator.Churn(context.Background(), tn.src, simulator.ChurnOptions{Dataset: "crm", Inserts: ins, Updates: upd, Deletes: del, Seed: seed}); err != nil {
		t.Fatal(err)
	}
}

// tableResult finds a table's result in a cycle.
func tableResult(t *testing.T, res simulator.CycleResult, table string) simulator.TableResult {
	t.Helper()
	for _, tr := range res.Tables {
		if tr.Table == table {
			return tr
		}
	}
	t.Fatalf("no result for table %s in %s", table, fmt.Sprint(res.Tables))
	return simulator.TableResult{}
}

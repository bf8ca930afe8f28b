package main

import (
	"context"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/protocol"
	"github.com/mirrorsink/mirrorsink/simulator"
)

func init() {
	register("simulate", "stand in for SuperOffice's Mirroring Task: run replication cycles from a simulated source", runSimulate)
}

// simulateOptions are the flags of simulate that demo shares.
type simulateOptions struct {
	url, tenant, source, dataset, scenario string
	rows                                   int64
	seed                                   uint64
	inserts, updates, deletes              int
	batchBytes, parallel, cycles, minYear  int
	soKey, soCert, appPublicKey, clientID  string
	verifyDialect, verifyDSN, verifySchema string
	verifyTenantColumn                     string
	verifyDeletedAt                        string
	gzip                                   bool
}

func runSimulate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o simulateOptions
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080/", "the mirroring service's address")
	fs.StringVar(&o.tenant, "tenant", "Cust12345", "the tenant (ctx) the tokens name")
	fs.StringVar(&o.source, "source", "", "source SQLite file; created and populated when missing (default: a temporary source)")
	fs.StringVar(&o.dataset, "dataset", "crm", "dataset of a new source: crm (SuperOffice-like tables) or types (every SQL Server type)")
	fs.Int64Var(&o.rows, "rows", 20000, "size of a new source: rows of the contact table (others proportional), or random rows of alltypes")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of generation and churn (same seed, same data)")
	fs.StringVar(&o.scenario, "scenario", "initial", "initial, churn, schema-change, reset or restore (see below)")
	fs.IntVar(&o.inserts, "inserts", 1000, "rows each churn inserts, spread over the tables")
	fs.IntVar(&o.updates, "updates", 2000, "rows each churn updates")
	fs.IntVar(&o.deletes, "deletes", 500, "rows each churn deletes")
	fs.IntVar(&o.batchBytes, "batch-bytes", simulator.DefaultBatchBytes, "approximate XML size of one RowData call")
	fs.IntVar(&o.parallel, "parallel", 4, "tables sent at once")
	fs.IntVar(&o.cycles, "cycles", 1, "how many times the scenario's step and its cycle run")
	fs.IntVar(&o.minYear, "min-year", 1, "first year of the types dataset's dates (1000 for MySQL/MariaDB mirrors)")
	fs.StringVar(&o.soKey, "superoffice-key", "", "PEM private key that signs the tokens, standing in for SuperOffice's (required); the service must trust its certificate")
	fs.StringVar(&o.soCert, "superoffice-cert", "", "PEM certificate of --superoffice-key; when given, tokens name it by thumbprint (kid)")
	fs.StringVar(&o.appPublicKey, "app-public-key", "", "the application's public key (PEM or RSA XML), to verify Authenticate's signed nonce as SuperOffice does")
	fs.StringVar(&o.clientID, "client-id", "", "the application's client id; tokens are addressed to spn:<id>")
	fs.StringVar(&o.verifyDialect, "verify-dialect", "", "the mirror's dialect (sqlite, postgres): verify the mirror against the source after every cycle")
	fs.StringVar(&o.verifyDSN, "verify-dsn", "", "the mirror's DSN, as in the service's route ({ctx} is replaced by the tenant)")
	fs.StringVar(&o.verifySchema, "verify-schema", "", "the mirror's schema, as in the service's route")
	fs.StringVar(&o.verifyTenantColumn, "verify-tenant-column", "", "the tenant column of a fan-in route (layout: fan_in): verify the tenant's rows of the shared tables")
	fs.StringVar(&o.verifyDeletedAt, "verify-deleted-at", "", "the soft-delete column of a route with deletes: soft (e.g. _deleted_at): the rows the mirror keeps as deleted are not compared")
	fs.BoolVar(&o.gzip, "gzip", false, "gzip the request bodies")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: mirrorsink simulate --superoffice-key FILE [flags]

Plays SuperOffice's Mirroring Task against a running mirrorsink: Authenticate, one TableSchema with every
table, per table Wipe and RowData (tables in parallel), ReplicationCompleted; a fresh signed token per
call. The source is a SQLite file with change tracking: every change bumps an LSN, and a cycle sends each
table's changes since the mirror's LSN, or the whole table when the mirror answers -1, is older than the
table's change history, or is ahead of the source (a restored source).

Scenarios (each starts with a cycle that brings the mirror up to date):
  initial        only that; the --cycles that follow must send nothing
  churn          --inserts/--updates/--deletes rows, then a cycle
  schema-change  add a column, widen an nvarchar, change a column's type, drop a table, add a table
  reset          set a table's mirror LSN to -1 (needs --verify-dialect/--verify-dsn): it is resent whole
  restore        snapshot, churn, cycle, restore the snapshot: the mirror is ahead and is repopulated

Example, against 'mirrorsink serve' configured with client id ID and to trust test.crt:
  mirrorsink simulate --url http://127.0.0.1:8080/ --superoffice-key test.key --superoffice-cert test.crt \
    --client-id ID --source crm.db --rows 100000 --scenario churn --cycles 3 \
    --verify-dialect sqlite --verify-dsn './data/{ctx}.db'

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "simulate: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	if o.soKey == "" {
		fmt.Fprintln(stderr, "simulate: --superoffice-key is required")
		fs.Usage()
		return errUsage
	}
	if (o.verifyDialect == "") != (o.verifyDSN == "") {
		return errors.New("--verify-dialect and --verify-dsn go together")
	}
	key, err := protocol.LoadPrivateKey(o.soKey)
	if err != nil {
		return fmt.Errorf("--superoffice-key: %w", err)
	}
	kid := ""
	if o.soCert != "" {
		certs, err := protocol.LoadCertificates(o.soCert)
		if err != nil {
			return fmt.Errorf("--superoffice-cert: %w", err)
		}
		kid = protocol.CertificateThumbprint(certs[0])
	}
	var appPub *rsa.PublicKey
	if o.appPublicKey != "" {
		raw, err := os.ReadFile(o.appPublicKey)
		if err != nil {
			return fmt.Errorf("--app-public-key: %w", err)
		}
		if appPub, err = protocol.ParsePublicKey(raw); err != nil {
			return fmt.Errorf("--app-public-key %s: %w", o.appPublicKey, err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return simulate(ctx, o, key, kid, appPub, stdout, stderr)
}

// simulate opens (and when new, generates) the source and runs the scenario.
func simulate(ctx context.Context, o simulateOptions, key *rsa.PrivateKey, kid string, appPub *rsa.PublicKey, stdout, stderr io.Writer) error {
	src, err := simulator.Open(ctx, o.source)
	if err != nil {
		return err
	}
	defer src.Close()
	tables, err := src.Tables(ctx)
	if err != nil {
		return err
	}
	if len(tables) == 0 {
		start := time.Now()
		if err := simulator.Generate(ctx, src, simulator.GenerateOptions{Dataset: o.dataset, Rows: o.rows, Seed: o.seed, MinYear: o.minYear}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "generated the %s dataset (--rows %d) in %s: %s\n", o.dataset, o.rows, time.Since(start).Round(time.Millisecond), src.Path())
	} else {
		fmt.Fprintf(stdout, "source %s: %d tables\n", src.Path(), len(tables))
	}
	tty := isTerminal(stderr)
	d, err := simulator.NewDriver(simulator.DriverConfig{
		URL: o.url, Tenant: o.tenant, ClientID: o.clientID, SigningKey: key, KeyID: kid, AppPublicKey: appPub,
		BatchBytes: o.batchBytes, Parallel: o.parallel, Gzip: o.gzip,
		Progress: func(p simulator.Progress) {
			if !tty {
				return
			}
			rate := 0.0
			if p.Elapsed > 0 {
				rate = float64(p.Rows) / p.Elapsed.Seconds()
			}
			fmt.Fprintf(stderr, "\r\033[K  %d/%d tables, %d rows, %.1f MB, %.0f rows/s", p.TablesDone, p.Tables, p.Rows, float64(p.Bytes)/1e6, rate)
			if p.Done {
				fmt.Fprint(stderr, "\r\033[K")
			}
		},
	})
	if err != nil {
		return err
	}
	cfg := simulator.ScenarioConfig{
		Scenario: o.scenario,
		Churn:    simulator.ChurnOptions{Dataset: o.dataset, Inserts: o.inserts, Updates: o.updates, Deletes: o.deletes},
		Cycles:   o.cycles,
		Seed:     o.seed,
		Report: func(step string, res *simulator.CycleResult) {
			if tty {
				fmt.Fprint(stderr, "\r\033[K")
			}
			if res != nil {
				step += ": " + res.Summary()
			}
			fmt.Fprintln(stdout, step)
		},
	}
	if o.verifyDialect != "" {
		m := simulator.Mirror{Dialect: o.verifyDialect, DSN: o.verifyDSN, Schema: o.verifySchema, Tenant: o.tenant}
		if o.verifyTenantColumn != "" || o.verifyDeletedAt != "" {
			r := engine.Route{Dialect: o.verifyDialect, DSN: o.verifyDSN, Schema: o.verifySchema}
			if o.verifyTenantColumn != "" {
				r.Layout, r.TenantColumn = engine.FanIn, o.verifyTenantColumn
			}
			if o.verifyDeletedAt != "" {
				r.Deletes, r.DeletedAtColumn = engine.SoftDeletes, o.verifyDeletedAt
			}
			m.Route = &r
		}
		cfg.Verify = func(ctx context.Context, absent []string) error {
			_, err := m.Verify(ctx, src, absent...)
			return err
		}
		cfg.Reset = m.Reset
	}
	return simulator.RunScenario(ctx, d, src, cfg)
}

// isTerminal reports whether w is a terminal, for progress lines that rewrite themselves.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && !strings.EqualFold(os.Getenv("TERM"), "dumb")
}

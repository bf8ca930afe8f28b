// Command bench measures mirrorsink end to end on this machine and compares it with the raw tools:
// RowData decoding; for a wide CRM table (contact, 32 columns) and a narrow one (sale, 17 columns), an
// initial load through the whole stack (simulator → HTTP on loopback → SOAP → engine → database)
// against the database's own bulk client loading the same rows, an incremental cycle against the
// database's own set-based apply of the same change set, both cycles replayed against the service
// alone with its CPU per row and how much its work and the database's overlapped, and the service's
// peak memory; and an unchanged 400-table TableSchema call.
//
// Run it from the repository root (make bench). It prints the figures and, for a full run, writes them
// to bench/results/latest.txt. Progress goes to stderr. Generated sources and TSV files are cached under
// bench/work/, keyed by rows and seed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// Targets of the figures: a missed target is reported, not an error.
const (
	// targetRatio is the share of the raw tool's rate that a load and an incremental cycle must reach.
	targetRatio    = 0.8
	targetPeakRSS  = 150 // MB
	targetSchemaMs = 200
)

// options are the command line.
type options struct {
	rows       int64
	seed       uint64
	only       string
	tables     []loadTable
	keep       bool
	out        string
	workDir    string
	goTool     string
	pgAddr     string
	mysqlAddr  string
	schemaRuns int
	cpuProfile string
	binary     string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.Int64Var(&o.rows, "rows", 1_000_000, "rows of the contact table loaded through the stack")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated source")
	fs.StringVar(&o.only, "only", "", "run one part: postgres, mysql, decode or schema (default: all)")
	tables := fs.String("tables", "contact,sale", "the tables of the load benchmarks: contact (wide), sale (narrow)")
	fs.BoolVar(&o.keep, "keep", false, "keep the benchmark databases and the run folder afterwards")
	fs.StringVar(&o.out, "out", "", "results file (default: bench/results/latest.txt for a full run with default rows, none otherwise)")
	fs.StringVar(&o.workDir, "work", "bench/work", "folder for the cached sources and TSV files and the run's files")
	fs.StringVar(&o.pgAddr, "pg", "127.0.0.1:5432", "PostgreSQL address (user postgres, trust)")
	fs.StringVar(&o.mysqlAddr, "mysql", "127.0.0.1:3306", "MariaDB/MySQL address (user root, no password)")
	fs.StringVar(&benchDatabase, "database", benchDatabase, "the database the benchmarks create (and drop) on both servers")
	fs.IntVar(&o.schemaRuns, "schema-runs", 7, "timed calls of the unchanged TableSchema")
	fs.StringVar(&o.binary, "binary", "", "serve with this mirrorsink binary instead of building bin/mirrorsink")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (the driver side) to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch o.only {
	case "", "postgres", "mysql", "decode", "schema":
	default:
		fmt.Fprintf(stderr, "bench: --only %q: want postgres, mysql, decode or schema\n", o.only)
		return 2
	}
	for _, name := range strings.Split(*tables, ",") {
		found := false
		for _, lt := range loadTables {
			if lt.name == strings.TrimSpace(name) {
				o.tables, found = append(o.tables, lt), true
			}
		}
		if !found {
			fmt.Fprintf(stderr, "bench: --tables: %q is not one of contact, sale\n", name)
			return 2
		}
	}
	if !regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`).MatchString(benchDatabase) {
		fmt.Fprintf(stderr, "bench: --database %q: want lower-case letters, digits and _\n", benchDatabase)
		return 2
	}
	if o.rows < 10_000 {
		fmt.Fprintln(stderr, "bench: --rows must be at least 10000 (the incremental cycle changes 55000 rows, scaled down below 1M)")
		return 2
	}
	if o.out == "" && o.only == "" && o.rows == 1_000_000 && len(o.tables) == len(loadTables) {
		o.out = filepath.Join("bench", "results", "latest.txt")
	}
	o.goTool = os.Getenv("GO")
	if o.goTool == "" {
		o.goTool = "go"
	}
	if _, err := os.Stat("go.mod"); err != nil {
		fmt.Fprintln(stderr, "bench: run me from the repository root (make bench)")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	b := &bench{opts: o, out: stdout, log: stderr, start: time.Now()}
	err := b.run(ctx)
	b.cleanup()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "bench: interrupted")
		}
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if o.out != "" {
		if err := b.writeResults(o.out); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "bench: results written to %s\n", o.out)
	}
	return 0
}

// bench is one run: its options, its report and what must be undone at the end.
type bench struct {
	opts     options
	out, log io.Writer
	start    time.Time
	lines    []string
	cleanups []func()
	// runDir holds this run's keys, configurations, source copies and service logs.
	runDir string
}

// report prints a result line and keeps it for the results file.
func (b *bench) report(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	b.lines = append(b.lines, line)
	fmt.Fprintln(b.out, line)
}

// progress prints a progress line, with the time since the start, to stderr.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "[%6.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, args...))
}

// defer_ registers fn to run at the end of the run, also after a failure or an interrupt; the last
// registered runs first.
func (b *bench) defer_(fn func()) { b.cleanups = append(b.cleanups, fn) }

func (b *bench) cleanup() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
	b.cleanups = nil
}

func (b *bench) writeResults(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	text := strings.Join(b.lines, "\n") + "\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}

func (b *bench) wants(part string) bool { return b.opts.only == "" || b.opts.only == part }

func (b *bench) run(ctx context.Context) error {
	b.report("mirrorsink bench, %s", time.Now().Format("2006-01-02 15:04:05 MST"))
	for _, l := range machineInfo(ctx, b.opts) {
		b.report("%s", l)
	}
	b.report("contact rows %d, seed %d", b.opts.rows, b.opts.seed)

	if b.wants("decode") {
		if err := b.decode(ctx); err != nil {
			return err
		}
	}
	if b.opts.only == "decode" {
		return nil
	}

	if err := os.MkdirAll(b.opts.workDir, 0o755); err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	runDir, err := os.MkdirTemp(b.opts.workDir, "run-")
	if err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	b.runDir = runDir
	b.defer_(func() {
		if b.opts.keep {
			b.progress("kept %s", runDir)
			return
		}
		os.RemoveAll(runDir)
	})
	binary, err := b.buildService(ctx)
	if err != nil {
		return err
	}
	keys, err := newKeys(runDir)
	if err != nil {
		return err
	}

	if b.wants("postgres") {
		for _, lt := range b.opts.tables {
			if err := b.loadBench(ctx, binary, keys, postgresTarget(b.opts.pgAddr), lt); err != nil {
				return err
			}
		}
	}
	if b.wants("schema") {
		if err := b.schemaBench(ctx, binary, keys, postgresTarget(b.opts.pgAddr)); err != nil {
			return err
		}
	}
	if b.wants("mysql") {
		for _, lt := range b.opts.tables {
			err := b.loadBench(ctx, binary, keys, mysqlTarget(b.opts.mysqlAddr), lt)
			var skip *skipError
			switch {
			case errors.As(err, &skip):
				b.report("mysql %s: skipped (%s)", lt.name, skip.reason)
			case err != nil && b.opts.only != "mysql" && ctx.Err() == nil:
				// The MySQL dialect is young: a failure of it is reported without failing the other figures.
				b.report("mysql %s: skipped (failed: %v)", lt.name, err)
			case err != nil:
				return err
			}
		}
	}
	return nil
}

// skipError says a part cannot run on this machine or build, and why.
type skipError struct{ reason string }

func (e *skipError) Error() string { return "skipped: " + e.reason }

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/simulator"
)

// loadTable is the table loaded through the stack: SuperOffice's largest, most typical table.
const loadTable = "contact"

// loadTenant is the tenant whose mirror the load goes to.
const loadTenant = "BenchLoad"

// cachedSource returns the path of a source holding only the crm contact table with o.rows rows,
// generating it on first use. The file is kept under the work folder keyed by rows and seed, and is
// never changed: each run works on a copy.
func (b *bench) cachedSource(ctx context.Context) (string, error) {
	path := filepath.Join(b.opts.workDir, fmt.Sprintf("%s-%d-%d.db", loadTable, b.opts.rows, b.opts.seed))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp := path + ".tmp"
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("source: %w", err)
		}
	}
	b.progress("generating a source of %d %s rows (once; cached as %s)", b.opts.rows, loadTable, path)
	start := time.Now()
	src, err := simulator.Open(ctx, tmp)
	if err != nil {
		return "", err
	}
	err = simulator.Generate(ctx, src, simulator.GenerateOptions{Dataset: "crm", Rows: b.opts.rows, Seed: b.opts.seed, Tables: []string{loadTable}})
	if cerr := src.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("generate source: %w", err)
	}
	// Closing the last connection checkpoints the write-ahead log into the file, so the file alone is
	// the source.
	if _, err := os.Stat(tmp + "-wal"); err == nil {
		return "", fmt.Errorf("generate source: %s-wal is left after closing the source", tmp)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("generate source: %w", err)
	}
	b.progress("generated in %s", time.Since(start).Round(time.Second))
	return path, nil
}

// cachedTSV returns the path of the contact table's rows in the flavor's bulk format, and the column
// names in file order, writing the file from the pristine source on first use.
func (b *bench) cachedTSV(ctx context.Context, sourcePath string, f tsvFlavor) (string, []string, error) {
	path := strings.TrimSuffix(sourcePath, ".db") + "." + f.String() + ".tsv"
	src, err := simulator.Open(ctx, sourcePath)
	if err != nil {
		return "", nil, err
	}
	defer src.Close()
	t, err := src.Table(ctx, loadTable)
	if err != nil {
		return "", nil, err
	}
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = c.Name
	}
	if _, err := os.Stat(path); err == nil {
		return path, cols, nil
	}
	b.progress("writing the %s rows as %s TSV (once; cached as %s)", loadTable, f, path)
	tmp := path + ".tmp"
	if _, _, err := writeTSV(ctx, src, loadTable, f, tmp); err != nil {
		os.Remove(tmp)
		return "", nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", nil, fmt.Errorf("tsv: %w", err)
	}
	return path, cols, nil
}

// copySource copies the pristine source into the run folder, for a run to change.
func copySource(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("copy source: %w", err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return fmt.Errorf("copy source: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy source: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy source: %w", err)
	}
	return nil
}

// scaled returns n scaled from a 1M-row table to the benchmark's rows.
func (b *bench) scaled(n int64) int64 { return max(n*b.opts.rows/1_000_000, 1) }

// loadBench measures, for one target: the initial load through the whole stack, the raw tool loading
// the same rows, the service's peak memory during the load, and an incremental cycle.
func (b *bench) loadBench(ctx context.Context, binary string, k keys, t target) error {
	name := t.name
	if _, err := t.sql(ctx, "", "SELECT 1"); err != nil {
		return &skipError{reason: fmt.Sprintf("the server does not answer: %v", err)}
	}
	sourcePath, err := b.cachedSource(ctx)
	if err != nil {
		return err
	}
	tsvPath, cols, err := b.cachedTSV(ctx, sourcePath, t.flavor)
	if err != nil {
		return err
	}
	if strings.ContainsAny(tsvPath, `'\`) {
		return fmt.Errorf("%s: the TSV path %q cannot be quoted for the raw tool", name, tsvPath)
	}
	absTSV, err := filepath.Abs(tsvPath)
	if err != nil {
		return err
	}

	if err := t.drop(); err != nil {
		return err
	}
	defer func() {
		if b.opts.keep {
			b.progress("%s: kept database %s", name, benchDatabase)
			return
		}
		if err := t.drop(); err != nil {
			b.progress("%v", err)
		}
	}()
	runSource := filepath.Join(b.runDir, "source-"+name+".db")
	if err := copySource(sourcePath, runSource); err != nil {
		return err
	}
	defer func() {
		for _, s := range []string{"", "-wal", "-shm"} {
			os.Remove(runSource + s)
		}
	}()
	src, err := simulator.Open(ctx, runSource)
	if err != nil {
		return err
	}
	defer src.Close()

	svc, err := b.startService(ctx, binary, k, "serve-"+name, loadTenant, t.dialect, t.dsn)
	if err != nil {
		if strings.Contains(err.Error(), "is not known") {
			return &skipError{reason: fmt.Sprintf("bin/mirrorsink has no %s dialect: cmd/mirrorsink/serve.go does not import dialect/%s", t.dialect, t.dialect)}
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	defer svc.stop()

	rec, err := newRecorder(filepath.Join(b.runDir, "calls-"+name))
	if err != nil {
		return err
	}
	defer os.RemoveAll(rec.dir)
	drv, err := simulator.NewDriver(simulator.DriverConfig{
		URL: svc.url, Tenant: loadTenant, ClientID: clientID,
		SigningKey: k.signKey, KeyID: k.signKeyID, AppPublicKey: &k.appKey.PublicKey,
		Progress: b.cycleProgress(name),
		HTTP:     &http.Client{Transport: rec},
	})
	if err != nil {
		return err
	}

	// 1. The initial load through the whole stack.
	b.progress("%s: initial load of %d %s rows through the stack", name, b.opts.rows, loadTable)
	var load simulator.CycleResult
	loadCPU, err := measureCPU(svc, func() (err error) {
		load, err = drv.Cycle(ctx, src)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: initial cycle: %w (service log: %s)", name, err, svc.logTail())
	}
	rss, err := svc.peakRSS()
	if err != nil {
		return err
	}
	if n, err := t.count(ctx, loadTable); err != nil {
		return err
	} else if n != b.opts.rows || load.Rows != b.opts.rows {
		return fmt.Errorf("%s: the initial cycle sent %d rows and the mirror holds %d, want %d", name, load.Rows, n, b.opts.rows)
	}
	stackRate := load.RowsPerSecond()
	b.report("%s: initial load, whole stack: %d rows in %s = %.0f rows/s (%.1f MB of XML)",
		name, load.Rows, load.Duration.Round(time.Millisecond), stackRate, float64(load.Bytes)/1e6)
	b.report("%s: %s", name, loadCPU)
	b.report("%s: serve peak RSS (VmHWM) during the load: %.1f MB (target < %d MB)%s",
		name, float64(rss)/(1<<20), targetPeakRSS, verdict(float64(rss)/(1<<20) < targetPeakRSS))

	// 2. The raw limit: the same rows, loaded by the server's own client into an identical table.
	rawTable := "raw_" + loadTable
	if _, err := t.sql(ctx, benchDatabase, t.createRaw(rawTable, loadTable)); err != nil {
		return fmt.Errorf("%s: create %s: %w", name, rawTable, err)
	}
	b.progress("%s: raw load of the same rows with %s", name, t.rawTool)
	rawStart := time.Now()
	if err := t.rawLoad(ctx, absTSV, rawTable, cols); err != nil {
		return fmt.Errorf("%s: raw load: %w", name, err)
	}
	rawTime := time.Since(rawStart)
	if n, err := t.count(ctx, rawTable); err != nil {
		return err
	} else if n != b.opts.rows {
		return fmt.Errorf("%s: the raw load left %d rows, want %d", name, n, b.opts.rows)
	}
	// The raw table must hold exactly what the mirror holds, or the comparison is not like for like.
	diff, err := t.sql(ctx, benchDatabase, fmt.Sprintf("SELECT count(*) FROM (SELECT * FROM %s EXCEPT SELECT * FROM %s) AS d",
		t.quote(loadTable), t.quote(rawTable)))
	if err != nil {
		return fmt.Errorf("%s: compare %s with %s: %w", name, loadTable, rawTable, err)
	}
	if strings.TrimSpace(diff) != "0" {
		return fmt.Errorf("%s: %s rows of the mirror differ from the raw load's: the TSV does not render values as the mirror stores them", strings.TrimSpace(diff), name)
	}
	rawRate := float64(b.opts.rows) / rawTime.Seconds()
	ratio := stackRate / rawRate
	b.report("%s: raw limit, %s: %d rows in %s = %.0f rows/s", name, t.rawTool, b.opts.rows, rawTime.Round(time.Millisecond), rawRate)
	b.report("%s: ratio stack/raw %.2f (target >= %.1f)%s", name, ratio, targetRatio, verdict(ratio >= targetRatio))
	if _, err := t.sql(ctx, benchDatabase, "DROP TABLE "+t.quote(rawTable)); err != nil {
		return fmt.Errorf("%s: drop %s: %w", name, rawTable, err)
	}

	// 3. An incremental cycle: updates and deletes spread over the table.
	updates, deletes := b.scaled(50_000), b.scaled(5_000)
	b.progress("%s: churning the source: %d updates, %d deletes", name, updates, deletes)
	churnStart := time.Now()
	churn, err := simulator.Churn(ctx, src, simulator.ChurnOptions{Dataset: "crm", Updates: int(updates), Deletes: int(deletes), Seed: b.opts.seed})
	if err != nil {
		return fmt.Errorf("%s: churn: %w", name, err)
	}
	b.progress("%s: churned in %s; incremental cycle", name, time.Since(churnStart).Round(time.Millisecond))
	liveCalls := len(rec.calls)
	var inc simulator.CycleResult
	incCPU, err := measureCPU(svc, func() (err error) {
		inc, err = drv.Cycle(ctx, src)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: incremental cycle: %w (service log: %s)", name, err, svc.logTail())
	}
	want := int64(churn.Updates + churn.Deletes)
	if inc.Rows != want {
		return fmt.Errorf("%s: the incremental cycle sent %d rows, want %d", name, inc.Rows, want)
	}
	if n, err := t.count(ctx, loadTable); err != nil {
		return err
	} else if n != b.opts.rows-int64(churn.Deletes) {
		return fmt.Errorf("%s: after the incremental cycle the mirror holds %d rows, want %d", name, n, b.opts.rows-int64(churn.Deletes))
	}
	incRate := inc.RowsPerSecond()
	b.report("%s: incremental cycle: %d rows (U %d, D %d) in %s = %.0f rows/s (target >= %d)%s",
		name, inc.Rows, churn.Updates, churn.Deletes, inc.Duration.Round(time.Millisecond), incRate, targetIncremental, verdict(incRate >= targetIncremental))
	b.report("%s: %s", name, incCPU)
	// 4. Both cycles replayed from their recorded requests against a fresh mirror and service: the
	// service's own throughput, with a client that costs next to nothing (see replay.go).
	initialCalls, incCalls := rec.calls[:liveCalls], rec.calls[liveCalls:]
	svc.stop()
	if err := t.drop(); err != nil {
		return err
	}
	svc, err = b.startService(ctx, binary, k, "serve-replay-"+name, loadTenant, t.dialect, t.dsn)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer svc.stop()
	replayTime, replayCPU, err := b.replayChecked(ctx, svc, t, "initial load", initialCalls, b.opts.rows)
	if err != nil {
		return err
	}
	replayRSS, err := svc.peakRSS()
	if err != nil {
		return err
	}
	replayRate := float64(b.opts.rows) / replayTime.Seconds()
	b.report("%s: initial load, service alone (recorded calls replayed): %d rows in %s = %.0f rows/s; ratio to raw %.2f (target >= %.1f)%s",
		name, b.opts.rows, replayTime.Round(time.Millisecond), replayRate, replayRate/rawRate, targetRatio, verdict(replayRate/rawRate >= targetRatio))
	b.report("%s: %s; serve peak RSS %.1f MB", name, replayCPU, float64(replayRSS)/(1<<20))
	incReplay, incReplayCPU, err := b.replayChecked(ctx, svc, t, "incremental cycle", incCalls, b.opts.rows-int64(churn.Deletes))
	if err != nil {
		return err
	}
	incReplayRate := float64(want) / incReplay.Seconds()
	b.report("%s: incremental cycle, service alone (replayed): %d rows in %s = %.0f rows/s (target >= %d)%s",
		name, want, incReplay.Round(time.Millisecond), incReplayRate, targetIncremental, verdict(incReplayRate >= targetIncremental))
	b.report("%s: %s", name, incReplayCPU)
	return nil
}

// replayChecked replays one recorded cycle against svc, measuring wall and CPU time, and checks that
// the mirror's table then holds wantRows rows.
func (b *bench) replayChecked(ctx context.Context, svc *service, t target, what string, calls []recordedCall, wantRows int64) (time.Duration, cpuUse, error) {
	b.progress("%s: replaying the %d recorded calls of the %s", t.name, len(calls), what)
	var took time.Duration
	use, err := measureCPU(svc, func() (err error) {
		took, err = replay(ctx, svc.url, calls)
		return err
	})
	if err != nil {
		return 0, use, fmt.Errorf("%s: %w (service log: %s)", t.name, err, svc.logTail())
	}
	if n, err := t.count(ctx, loadTable); err != nil {
		return 0, use, err
	} else if n != wantRows {
		return 0, use, fmt.Errorf("%s: after the replayed %s the mirror holds %d rows, want %d", t.name, what, n, wantRows)
	}
	return took, use, nil
}

// cpuUse is the CPU time the service and the driver (this process) used during a cycle.
type cpuUse struct {
	wall, service, driver time.Duration
}

func (c cpuUse) String() string {
	return fmt.Sprintf("  CPU during that cycle: serve %.1fs, client (the simulator, or the replay) %.1fs, in %.1fs of wall time",
		c.service.Seconds(), c.driver.Seconds(), c.wall.Seconds())
}

// measureCPU runs fn and measures the CPU time of the service and of this process meanwhile.
func measureCPU(svc *service, fn func() error) (cpuUse, error) {
	var use cpuUse
	s0, err := svc.cpuTime()
	if err != nil {
		return use, err
	}
	d0, err := processCPU(os.Getpid())
	if err != nil {
		return use, err
	}
	start := time.Now()
	if err := fn(); err != nil {
		return use, err
	}
	use.wall = time.Since(start)
	s1, err := svc.cpuTime()
	if err != nil {
		return use, err
	}
	d1, err := processCPU(os.Getpid())
	if err != nil {
		return use, err
	}
	use.service, use.driver = s1-s0, d1-d0
	return use, nil
}

// verdict marks a figure that misses its target.
func verdict(ok bool) string {
	if ok {
		return ": ok"
	}
	return ": MISSED"
}

// cycleProgress prints a cycle's progress about every five seconds.
func (b *bench) cycleProgress(name string) func(simulator.Progress) {
	var last time.Duration
	return func(p simulator.Progress) {
		if p.Done || p.Elapsed-last < 5*time.Second {
			return
		}
		last = p.Elapsed
		b.progress("%s: %d rows, %.0f MB sent in %s (%.0f rows/s)", name, p.Rows, float64(p.Bytes)/1e6,
			p.Elapsed.Round(time.Second), float64(p.Rows)/p.Elapsed.Seconds())
	}
}

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

// loadTable is a table loaded through the stack, from the crm dataset.
type loadTable struct {
	name string
	// share is how many rows the dataset must be generated with (GenerateOptions.Rows) per row of
	// this table: the dataset sizes its tables as shares of the contact table's.
	share int64
}

// loadTables are the tables the load benchmark runs on: SuperOffice's largest, most typical table,
// wide (32 columns), and a narrow one (17 columns).
var loadTables = []loadTable{{name: "contact", share: 1}, {name: "sale", share: 5}}

// loadTenant is the tenant whose mirror the load goes to.
const loadTenant = "BenchLoad"

// cachedSource returns the path of a source holding only the crm table lt with o.rows rows,
// generating it on first use. The file is kept under the work folder keyed by rows and seed, and is
// never changed: each run works on a copy.
func (b *bench) cachedSource(ctx context.Context, lt loadTable) (string, error) {
	path := filepath.Join(b.opts.workDir, fmt.Sprintf("%s-%d-%d.db", lt.name, b.opts.rows, b.opts.seed))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp := path + ".tmp"
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("source: %w", err)
		}
	}
	b.progress("generating a source of %d %s rows (once; cached as %s)", b.opts.rows, lt.name, path)
	start := time.Now()
	src, err := simulator.Open(ctx, tmp)
	if err != nil {
		return "", err
	}
	err = simulator.Generate(ctx, src, simulator.GenerateOptions{Dataset: "crm", Rows: b.opts.rows * lt.share, Seed: b.opts.seed, Tables: []string{lt.name}})
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

// cachedTSV returns the path of the table's rows in the flavor's bulk format, and the column names in
// file order, writing the file from the pristine source on first use.
func (b *bench) cachedTSV(ctx context.Context, sourcePath, loadTable string, f tsvFlavor) (string, []string, error) {
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

// loadBench measures, for one target and one table: the initial load through the whole stack, the raw
// tool loading the same rows, the service's peak memory during the load, an incremental cycle and the
// raw set-based apply of the same change set, and both cycles replayed against the service alone.
func (b *bench) loadBench(ctx context.Context, binary string, k keys, t target, lt loadTable) error {
	table := lt.name
	name := t.name + " " + table
	if _, err := t.sql(ctx, "", "SELECT 1"); err != nil {
		return &skipError{reason: fmt.Sprintf("the server does not answer: %v", err)}
	}
	defer t.sessions.close()
	sourcePath, err := b.cachedSource(ctx, lt)
	if err != nil {
		return err
	}
	tsvPath, cols, err := b.cachedTSV(ctx, sourcePath, table, t.flavor)
	if err != nil {
		return err
	}
	if strings.ContainsAny(tsvPath, `'\`) || strings.ContainsAny(b.runDir, `'\`) {
		return fmt.Errorf("%s: the paths %q and %q cannot be quoted for the raw tool", name, tsvPath, b.runDir)
	}
	absTSV, err := filepath.Abs(tsvPath)
	if err != nil {
		return err
	}
	absRun, err := filepath.Abs(b.runDir)
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
	runSource := filepath.Join(b.runDir, "source-"+t.name+"-"+table+".db")
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

	svc, err := b.startService(ctx, binary, k, "serve-"+t.name+"-"+table, loadTenant, t.dialect, t.dsn, false)
	if err != nil {
		if strings.Contains(err.Error(), "is not known") {
			return &skipError{reason: fmt.Sprintf("bin/mirrorsink has no %s dialect: cmd/mirrorsink/serve.go does not import dialect/%s", t.dialect, t.dialect)}
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	defer svc.stop()

	rec, err := newRecorder(filepath.Join(b.runDir, "calls-"+t.name+"-"+table))
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
	b.progress("%s: initial load of %d rows through the stack", name, b.opts.rows)
	var load simulator.CycleResult
	loadUse, err := measure(ctx, svc, t.sessions, func() (err error) {
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
	if n, err := t.count(ctx, table); err != nil {
		return err
	} else if n != b.opts.rows || load.Rows != b.opts.rows {
		return fmt.Errorf("%s: the initial cycle sent %d rows and the mirror holds %d, want %d", name, load.Rows, n, b.opts.rows)
	}
	stackRate := load.RowsPerSecond()
	b.report("%s: %d columns", name, len(cols))
	b.report("%s: initial load, whole stack: %d rows in %s = %.0f rows/s (%.1f MB of XML)",
		name, load.Rows, load.Duration.Round(time.Millisecond), stackRate, float64(load.Bytes)/1e6)
	b.report("%s: %s", name, loadUse)
	b.report("%s: serve peak RSS (VmHWM) during the load: %.1f MB (target < %d MB)%s",
		name, float64(rss)/(1<<20), targetPeakRSS, verdict(float64(rss)/(1<<20) < targetPeakRSS))

	// 2. The raw limit: the same rows, loaded by the server's own client into an identical table.
	rawTable := "raw_" + table
	if _, err := t.sql(ctx, benchDatabase, t.createRaw(rawTable, table)); err != nil {
		return fmt.Errorf("%s: create %s: %w", name, rawTable, err)
	}
	b.progress("%s: raw load of the same rows with %s", name, t.rawTool)
	rawUse, err := measure(ctx, nil, t.sessions, func() error { return t.rawLoad(ctx, absTSV, rawTable, cols) })
	if err != nil {
		return fmt.Errorf("%s: raw load: %w", name, err)
	}
	rawTime := rawUse.wall
	if err := b.sameRows(ctx, t, name, table, rawTable, b.opts.rows); err != nil {
		return err
	}
	rawRate := float64(b.opts.rows) / rawTime.Seconds()
	ratio := stackRate / rawRate
	b.report("%s: raw limit, %s: %d rows in %s = %.0f rows/s; %s", name, t.rawTool, b.opts.rows, rawTime.Round(time.Millisecond), rawRate, rawUse.databaseCPU())
	b.report("%s: ratio stack/raw %.2f (target >= %.1f)%s", name, ratio, targetRatio, verdict(ratio >= targetRatio))

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
	incUse, err := measure(ctx, svc, t.sessions, func() (err error) {
		inc, err = drv.Cycle(ctx, src)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: incremental cycle: %w (service log: %s)", name, err, svc.logTail())
	}
	want := int64(churn.Updates + churn.Deletes)
	left := b.opts.rows - int64(churn.Deletes)
	if inc.Rows != want {
		return fmt.Errorf("%s: the incremental cycle sent %d rows, want %d", name, inc.Rows, want)
	}
	if n, err := t.count(ctx, table); err != nil {
		return err
	} else if n != left {
		return fmt.Errorf("%s: after the incremental cycle the mirror holds %d rows, want %d", name, n, left)
	}
	incRate := inc.RowsPerSecond()
	b.report("%s: incremental cycle, whole stack: %d rows (U %d, D %d) in %s = %.0f rows/s",
		name, inc.Rows, churn.Updates, churn.Deletes, inc.Duration.Round(time.Millisecond), incRate)
	b.report("%s: %s", name, incUse)

	// 4. Its raw limit: the same change set applied set-based by the raw tool to the raw table, which
	// must then hold what the mirror holds.
	initialCalls, incCalls := rec.calls[:liveCalls], rec.calls[liveCalls:]
	cs, err := writeChangeSet(ctx, incCalls, table, t.flavor, absRun)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if cs.updates+cs.deletes != want {
		return fmt.Errorf("%s: the recorded incremental cycle holds %d changes, want %d", name, cs.updates+cs.deletes, want)
	}
	b.progress("%s: raw set-based apply of the same change set", name)
	applyUse, err := measure(ctx, nil, t.sessions, func() error { return t.rawApply(ctx, absRun, rawTable, cols, cs) })
	if err != nil {
		return fmt.Errorf("%s: raw apply: %w", name, err)
	}
	applyTime := applyUse.wall
	if err := b.sameRows(ctx, t, name, table, rawTable, left); err != nil {
		return err
	}
	applyRate := float64(want) / applyTime.Seconds()
	b.report("%s: raw limit of the incremental cycle, %s: %d rows in %s = %.0f rows/s; %s; ratio stack/raw %.2f",
		name, t.rawApplyTool, want, applyTime.Round(time.Millisecond), applyRate, applyUse.databaseCPU(), incRate/applyRate)

	// 5. Both cycles replayed from their recorded requests against a fresh mirror and service: the
	// service's own throughput, with a client that costs next to nothing (see replay.go).
	if svc, err = b.restart(ctx, svc, binary, k, t, "serve-replay-"+t.name+"-"+table, false); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer svc.stop()
	replayTime, replayUse, err := b.replayChecked(ctx, svc, t, name, table, "initial load", initialCalls, b.opts.rows)
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
	b.report("%s: %s; serve peak RSS %.1f MB", name, replayUse, float64(replayRSS)/(1<<20))
	b.report("%s:   serve CPU per row %.2f µs; %s", name, float64(replayUse.service.Microseconds())/float64(b.opts.rows), replayUse.overlap())
	incReplay, incReplayUse, err := b.replayChecked(ctx, svc, t, name, table, "incremental cycle", incCalls, left)
	if err != nil {
		return err
	}
	incReplayRate := float64(want) / incReplay.Seconds()
	b.report("%s: incremental cycle, service alone (replayed): %d rows in %s = %.0f rows/s; ratio to the raw set-based apply %.2f (target >= %.1f)%s",
		name, want, incReplay.Round(time.Millisecond), incReplayRate, incReplayRate/applyRate, targetRatio, verdict(incReplayRate/applyRate >= targetRatio))
	b.report("%s: %s", name, incReplayUse)
	b.report("%s:   serve CPU per row %.2f µs; %s", name, float64(incReplayUse.service.Microseconds())/float64(want), incReplayUse.overlap())

	// 6. The cost of the change journal: the same two cycles replayed once more against a fresh mirror
	// whose route has journal: true.
	if svc, err = b.restart(ctx, svc, binary, k, t, "serve-journal-"+t.name+"-"+table, true); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer svc.stop()
	jLoad, jLoadUse, err := b.replayChecked(ctx, svc, t, name, table, "initial load with the journal on", initialCalls, b.opts.rows)
	if err != nil {
		return err
	}
	jInc, jIncUse, err := b.replayChecked(ctx, svc, t, name, table, "incremental cycle with the journal on", incCalls, left)
	if err != nil {
		return err
	}
	if n, err := t.count(ctx, journalTable); err != nil {
		return err
	} else if n != b.opts.rows+want+2 {
		return fmt.Errorf("%s: the journal holds %d entries, want %d (W for the table created and for its wipe, the load's rows, the cycle's changes)",
			name, n, b.opts.rows+want+2)
	}
	// CPU time (serve's and the database's) says more than wall time on a machine that is busy with
	// something else.
	b.report("%s: change journal on (replayed): initial load %s = %.0f rows/s, time %.2fx without, CPU %s; incremental cycle %s = %.0f rows/s, time %.2fx without, CPU %s",
		name, jLoad.Round(time.Millisecond), float64(b.opts.rows)/jLoad.Seconds(), jLoad.Seconds()/replayTime.Seconds(), cpuRatios(jLoadUse, replayUse),
		jInc.Round(time.Millisecond), float64(want)/jInc.Seconds(), jInc.Seconds()/incReplay.Seconds(), cpuRatios(jIncUse, incReplayUse))
	return nil
}

// cpuRatios compares the CPU time of a cycle with another's: serve's and the database's together
// (where its sessions were found), then each.
func cpuRatios(u, base usage) string {
	ratio := func(a, b time.Duration) float64 { return a.Seconds() / b.Seconds() }
	if !u.dbKnown || !base.dbKnown {
		return fmt.Sprintf("%.2fx (serve)", ratio(u.service, base.service))
	}
	return fmt.Sprintf("%.2fx (serve %.2fx, database %.2fx)", ratio(u.service+u.db, base.service+base.db),
		ratio(u.service, base.service), ratio(u.db, base.db))
}

// journalTable is the change journal of the benchmark's tenant (dialect.MetaTables).
const journalTable = loadTenant + "_changes"

// restart stops svc, drops the benchmark's mirror and starts another service for the load tenant (with
// the change journal on when journal is set): a fresh mirror for a replay.
func (b *bench) restart(ctx context.Context, svc *service, binary string, k keys, t target, name string, journal bool) (*service, error) {
	svc.stop()
	if err := t.drop(); err != nil {
		return nil, err
	}
	return b.startService(ctx, binary, k, name, loadTenant, t.dialect, t.dsn, journal)
}

// sameRows checks that the raw table holds exactly what the mirror's table holds, rows of them: or
// the comparison with the raw tool is not like for like.
func (b *bench) sameRows(ctx context.Context, t target, name, table, rawTable string, rows int64) error {
	if n, err := t.count(ctx, rawTable); err != nil {
		return err
	} else if n != rows {
		return fmt.Errorf("%s: %s holds %d rows, want %d", name, rawTable, n, rows)
	}
	diff, err := t.sql(ctx, benchDatabase, fmt.Sprintf("SELECT count(*) FROM (SELECT * FROM %s EXCEPT SELECT * FROM %s) AS d",
		t.quote(table), t.quote(rawTable)))
	if err != nil {
		return fmt.Errorf("%s: compare %s with %s: %w", name, table, rawTable, err)
	}
	if strings.TrimSpace(diff) != "0" {
		return fmt.Errorf("%s: %s rows of the mirror differ from %s's: the raw tool's files do not render values as the mirror stores them", name, strings.TrimSpace(diff), rawTable)
	}
	return nil
}

// replayChecked replays one recorded cycle against svc, measuring wall and CPU time, and checks that
// the mirror's table then holds wantRows rows.
func (b *bench) replayChecked(ctx context.Context, svc *service, t target, name, table, what string, calls []recordedCall, wantRows int64) (time.Duration, usage, error) {
	b.progress("%s: replaying the %d recorded calls of the %s", name, len(calls), what)
	var took time.Duration
	use, err := measure(ctx, svc, t.sessions, func() (err error) {
		took, err = replay(ctx, svc.url, calls)
		return err
	})
	if err != nil {
		return 0, use, fmt.Errorf("%s: %w (service log: %s)", name, err, svc.logTail())
	}
	if n, err := t.count(ctx, table); err != nil {
		return 0, use, err
	} else if n != wantRows {
		return 0, use, fmt.Errorf("%s: after the replayed %s the mirror holds %d rows, want %d", name, what, n, wantRows)
	}
	return took, use, nil
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

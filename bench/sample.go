package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The service and the database share the machine's cores, and a RowData call is fast only if they
// work at the same time: the service decoding and encoding rows while the database loads the previous
// ones. So besides the CPU time of each, the bench samples both every sampleEvery and estimates how
// long both were busy at once. The figures come from /proc/<pid>/task/<tid>/schedstat: nanoseconds on
// a CPU, and nanoseconds runnable but waiting for one (which shows how much other work on the machine
// held either back).

// sampleEvery is the sampling interval: short enough to see the calls' phases (a call takes a few
// milliseconds), long enough that reading the counters costs next to nothing.
const sampleEvery = 10 * time.Millisecond

// usage is what the service, the database and this process used while a cycle ran.
type usage struct {
	wall            time.Duration
	service, driver time.Duration
	// db is the CPU time of the database's sessions for the benchmark's mirror; dbKnown says it could
	// be found.
	db      time.Duration
	dbKnown bool
	// Waiting for a CPU while runnable.
	serviceWait, dbWait time.Duration
	// both is the estimated time the service and the database were busy at once: per sample, the
	// smaller of the two's busy fractions.
	both time.Duration
}

func (u usage) String() string {
	s := fmt.Sprintf("  CPU during that cycle: serve %.1fs, client (the simulator, or the replay) %.1fs", u.service.Seconds(), u.driver.Seconds())
	if u.dbKnown {
		s += fmt.Sprintf(", database %.1fs", u.db.Seconds())
	}
	return s + fmt.Sprintf(", in %.1fs of wall time", u.wall.Seconds())
}

// databaseCPU describes the database's CPU time, for a raw tool's run.
func (u usage) databaseCPU() string {
	if !u.dbKnown {
		return "database CPU not measured"
	}
	return fmt.Sprintf("database CPU %.1fs", u.db.Seconds())
}

// overlap describes how the service's and the database's work fell in time.
func (u usage) overlap() string {
	if !u.dbKnown || u.wall <= 0 {
		return "serve and database overlap: not measured (the database's sessions were not found)"
	}
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / u.wall.Seconds() }
	return fmt.Sprintf("serve busy %.0f%% of the wall time, database %.0f%%, both at once %.0f%%; waiting for a CPU: serve %.1fs, database %.1fs",
		pct(u.service), pct(u.db), pct(u.both), u.serviceWait.Seconds(), u.dbWait.Seconds())
}

// sessionFinder finds the database's sessions for the benchmark's mirror: the schedstat files of the
// processes or threads that serve them.
type sessionFinder interface {
	find(ctx context.Context) ([]string, error)
	close()
}

// schedstat reads a schedstat file: time on a CPU and time waiting for one.
func schedstat(path string) (run, wait time.Duration, ok bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0, 0, false
	}
	r, err1 := strconv.ParseInt(f[0], 10, 64)
	w, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return time.Duration(r), time.Duration(w), true
}

// taskStats are the counters of a set of tasks, kept per task so that a task that ends between two
// samples does not make the sum go backwards.
type taskStats struct {
	last      map[string][2]time.Duration
	run, wait time.Duration
}

// update reads the tasks' counters and returns how much they ran and waited since the last update.
func (s *taskStats) update(paths []string) (run, wait time.Duration) {
	if s.last == nil {
		s.last = map[string][2]time.Duration{}
	}
	for _, p := range paths {
		r, w, ok := schedstat(p)
		if !ok {
			continue
		}
		prev, seen := s.last[p]
		s.last[p] = [2]time.Duration{r, w}
		if !seen {
			continue
		}
		run += r - prev[0]
		wait += w - prev[1]
	}
	s.run += run
	s.wait += wait
	return run, wait
}

// threads lists the schedstat files of a process's threads.
func threads(pid int) []string {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, filepath.Join(dir, e.Name(), "schedstat"))
	}
	return out
}

// measure runs fn and measures the usage of the service (none when svc is nil: the raw tools), the
// database (when sessions can find its sessions) and this process meanwhile.
func measure(ctx context.Context, svc *service, sessions sessionFinder, fn func() error) (usage, error) {
	var u usage
	cpuTime := func() (time.Duration, error) {
		if svc == nil {
			return 0, nil
		}
		return svc.cpuTime()
	}
	s0, err := cpuTime()
	if err != nil {
		return u, err
	}
	d0, err := processCPU(os.Getpid())
	if err != nil {
		return u, err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var serve, db taskStats
	var both time.Duration
	dbKnown := false
	wg.Add(1)
	go func() {
		defer wg.Done()
		var servePaths, dbPaths []string
		refresh := func() {
			if svc != nil {
				servePaths = threads(svc.cmd.Process.Pid)
			}
			if sessions != nil {
				if p, err := sessions.find(ctx); err == nil && len(p) > 0 {
					dbPaths, dbKnown = p, true
				}
			}
		}
		refresh()
		serve.update(servePaths)
		db.update(dbPaths)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		start := time.Now()
		last, lastRefresh := start, start
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				if now.Sub(lastRefresh) > 100*time.Millisecond || now.Sub(start) < time.Second {
					// New threads and sessions (a pool growing, a raw tool connecting) are counted from
					// their first sample: look for them at every sample in the first second.
					refresh()
					lastRefresh = now
				}
				sr, _ := serve.update(servePaths)
				dr, _ := db.update(dbPaths)
				if dt := now.Sub(last); dt > 0 {
					both += time.Duration(min(float64(sr), float64(dr), float64(dt)))
				}
				last = now
			}
		}
	}()
	start := time.Now()
	err = fn()
	u.wall = time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		return u, err
	}
	s1, err := cpuTime()
	if err != nil {
		return u, err
	}
	d1, err := processCPU(os.Getpid())
	if err != nil {
		return u, err
	}
	u.service, u.driver = s1-s0, d1-d0
	u.serviceWait, u.db, u.dbWait, u.both, u.dbKnown = serve.wait, db.run, db.wait, both, dbKnown
	return u, nil
}

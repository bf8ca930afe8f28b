package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machineInfo describes the machine and the software the figures depend on. What cannot be found is
// said so rather than failing the run: the figures are still worth having.
func machineInfo(ctx context.Context, o options) []string {
	cpu, mem := "unknown", "unknown"
	if f, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		cpu = procField(f, "model name")
	}
	if f, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, err := strconv.ParseInt(strings.Fields(procField(f, "MemTotal") + " 0")[0], 10, 64); err == nil && kb > 0 {
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	load := "unknown"
	if f, err := os.ReadFile("/proc/loadavg"); err == nil {
		if fields := strings.Fields(string(f)); len(fields) >= 3 {
			load = strings.Join(fields[:3], " ")
		}
	}
	goVersion := runtime.Version()
	if out, err := command(ctx, o.goTool, "env", "GOVERSION"); err == nil {
		goVersion = strings.TrimSpace(out)
	}
	pgHost, pgPort := splitAddr(o.pgAddr)
	pg := "unavailable"
	if out, err := command(ctx, "psql", "-X", "-tA", "-h", pgHost, "-p", pgPort, "-U", "postgres", "-d", "postgres", "-c", "SHOW server_version"); err == nil {
		pg = strings.TrimSpace(out)
	}
	myHost, myPort := splitAddr(o.mysqlAddr)
	my := "unavailable"
	if out, err := command(ctx, "mariadb", "-h", myHost, "-P", myPort, "-u", "root", "-N", "-B", "-e", "SELECT VERSION()"); err == nil {
		my = strings.TrimSpace(out)
	}
	return []string{
		fmt.Sprintf("machine: nproc %d, CPU %s, memory %s, %s/%s, load average at the start %s", runtime.NumCPU(), cpu, mem, runtime.GOOS, runtime.GOARCH, load),
		fmt.Sprintf("software: Go %s, PostgreSQL %s, MariaDB %s", goVersion, pg, my),
	}
}

// procField returns the value of the first "name: value" line of a /proc file.
func procField(data []byte, name string) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// splitAddr splits host:port.
func splitAddr(addr string) (host, port string) {
	host, port, ok := strings.Cut(addr, ":")
	if !ok {
		return addr, ""
	}
	return host, port
}

// command runs a program and returns its standard output; the error carries its standard error.
func command(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(lastLines(stderr.String(), 5)))
	}
	return stdout.String(), nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// decode runs the protocol package's RowData decoding benchmarks and reports their lines.
func (b *bench) decode(ctx context.Context) error {
	b.progress("decode: go test -bench DecodeRowData ./protocol/")
	out, err := command(ctx, b.opts.goTool, "test", "-run", "^$", "-bench", "DecodeRowData", "-benchtime", "3x", "./protocol/")
	if err != nil {
		return fmt.Errorf("decode benchmark: %w", err)
	}
	found := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Benchmark") && strings.Contains(l, "MB/s") {
			b.report("decode: %s", strings.Join(strings.Fields(l), " "))
			found++
		}
	}
	if found == 0 {
		return fmt.Errorf("decode benchmark: no MB/s line in its output:\n%s", lastLines(out, 10))
	}
	return nil
}

// buildService builds bin/mirrorsink, the binary the benchmark serves with.
func (b *bench) buildService(ctx context.Context) (string, error) {
	if b.opts.binary != "" {
		return filepath.Abs(b.opts.binary)
	}
	bin, err := filepath.Abs(filepath.Join("bin", "mirrorsink"))
	if err != nil {
		return "", err
	}
	b.progress("building %s", bin)
	if _, err := command(ctx, b.opts.goTool, "build", "-o", bin, "./cmd/mirrorsink"); err != nil {
		return "", fmt.Errorf("build mirrorsink: %w", err)
	}
	return bin, nil
}

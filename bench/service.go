package main

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mirrorsink/mirrorsink/protocol"
)

// clientID is the application client id the benchmark's service is configured with.
const clientID = "mirrorsink-bench"

// keys are the benchmark's application key pair and its stand-in for SuperOffice's signing key, whose
// self-signed certificate the service trusts.
type keys struct {
	appKey      *rsa.PrivateKey
	appKeyPath  string
	signKey     *rsa.PrivateKey
	signKeyID   string
	certificate string
}

func newKeys(dir string) (keys, error) {
	var k keys
	var err error
	if k.appKey, err = protocol.GenerateKeyPair(2048); err != nil {
		return k, err
	}
	if _, err := protocol.WriteKeyPair(dir, "application", k.appKey); err != nil {
		return k, err
	}
	k.appKeyPath = filepath.Join(dir, "application.private.pem")
	if k.signKey, err = protocol.GenerateKeyPair(2048); err != nil {
		return k, err
	}
	cert, certPEM, err := protocol.SelfSignedCertificate(k.signKey, "mirrorsink bench SuperOffice", time.Now())
	if err != nil {
		return k, err
	}
	k.signKeyID = protocol.CertificateThumbprint(cert)
	k.certificate = filepath.Join(dir, "superoffice-bench.crt")
	if err := os.WriteFile(k.certificate, certPEM, 0o644); err != nil {
		return k, fmt.Errorf("keys: %w", err)
	}
	return k, nil
}

// token signs a token for tenant, as SuperOffice does for each call.
func (k keys) token(tenant string) (string, error) {
	now := time.Now()
	return protocol.SignTestToken(k.signKey, k.signKeyID, protocol.TestTokenClaims{
		Tenant: tenant, Nonce: strconv.FormatInt(now.UnixNano(), 16), ClientID: clientID,
		NotBefore: now.Add(-time.Minute), Expires: now.Add(5 * time.Minute),
	})
}

// service is a running 'mirrorsink serve' subprocess.
type service struct {
	cmd  *exec.Cmd
	url  string
	log  string
	done chan struct{}
	err  error // the process's exit, valid once done is closed
}

// startService writes a configuration routing tenant to the given dialect and DSN (with the change
// journal on when journal is set), starts the binary with it and waits until it answers /healthz. The
// caller must stop it.
func (b *bench) startService(ctx context.Context, binary string, k keys, name, tenant, dialectName, dsn string, journal bool) (*service, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := "127.0.0.1:" + strconv.Itoa(port)
	cfg := fmt.Sprintf(`listen: %q
application:
  client_id: %q
  private_key: %q
superoffice:
  certificates: %q
limits:
  shutdown_period: 10s
tenants:
  %s:
    dialect: %q
    dsn: %q
%slog:
  level: warn
`, listen, clientID, k.appKeyPath, k.certificate, tenant, dialectName, dsn, journalSettings(journal))
	cfgPath := filepath.Join(b.runDir, name+".yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("service config: %w", err)
	}
	logPath := filepath.Join(b.runDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("service log: %w", err)
	}
	args := []string{"serve", "--config", cfgPath}
	if addr := os.Getenv("MIRRORSINK_BENCH_DEBUG_LISTEN"); addr != "" {
		// Lets a profiler attach to the service under load: go tool pprof http://ADDR/debug/pprof/profile
		args = append(args, "--debug-listen", addr)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s serve: %w", binary, err)
	}
	s := &service{cmd: cmd, url: "http://" + listen + "/", log: logPath, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	b.progress("%s: serve started (pid %d, %s)", name, cmd.Process.Pid, s.url)

	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("serve exited before answering (%v): %s", s.err, s.logTail())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("serve did not answer /healthz within 30s: %s", s.logTail())
		}
	}
}

// journalSettings are the route's settings of the change journal: on and never pruned (a prune
// would only add work the comparison does not measure), or nothing.
func journalSettings(on bool) string {
	if !on {
		return ""
	}
	return "    journal: true\n    journal_keep: all\n"
}

// freePort asks the kernel for a free loopback port. Another process could take it before the
// service binds it; the service then fails to start, which is reported.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// logTail is the end of the service's log, for error messages.
func (s *service) logTail() string {
	data, err := os.ReadFile(s.log)
	if err != nil || len(data) == 0 {
		return "(no log output)"
	}
	return strings.TrimSpace(lastLines(string(data), 8))
}

// peakRSS reads the service's peak resident set (VmHWM) in bytes.
func (s *service) peakRSS() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	f := strings.Fields(procField(data, "VmHWM"))
	if len(f) != 2 || f[1] != "kB" {
		return 0, errors.New("peak RSS: no VmHWM in kB in /proc/<pid>/status")
	}
	kb, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	return kb << 10, nil
}

// cpuTime reads the CPU time (user and system) the service has used so far.
func (s *service) cpuTime() (time.Duration, error) {
	return processCPU(s.cmd.Process.Pid)
}

// processCPU reads the CPU time (user and system) of a process from /proc/<pid>/stat.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time: %w", err)
	}
	// The command name in parentheses may hold spaces; the fields after it are fixed.
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, errors.New("cpu time: unexpected /proc/<pid>/stat")
	}
	var ticks int64
	for _, x := range f[11:13] { // utime, stime: fields 14 and 15 of stat(5)
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time: %w", err)
		}
		ticks += n
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// stop asks the service to shut down and kills it if it has not within 15 seconds.
func (s *service) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

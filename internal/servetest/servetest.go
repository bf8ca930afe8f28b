// Package servetest runs the real 'mirrorsink serve' binary for tests: it builds the binary, writes a
// configuration with the test's keys, starts the process on a loopback port, waits until it answers
// /healthz, and can kill it outright (SIGKILL) and start it again on the same address, as a crashed
// and restarted service would be.
package servetest

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/protocol"
)

// Build compiles cmd/mirrorsink of the module the test runs in into dir and returns the binary's path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("servetest: the go command is needed to build serve: %v", err)
	}
	out, err := exec.Command(goTool, "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		t.Fatalf("servetest: not inside the module (go env GOMOD: %q, %v)", out, err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "mirrorsink")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/mirrorsink")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("servetest: go build: %v\n%s", err, out)
	}
	return bin
}

// Config is what a service is started with.
type Config struct {
	// Binary is the mirrorsink binary (see Build).
	Binary string
	// Dir holds the configuration file, the keys and the service's log.
	Dir string
	// ClientID is application.client_id: tokens must be addressed to it.
	ClientID string
	// AppKey is the application's key pair; Certificate is the stand-in SuperOffice certificate that
	// the service trusts.
	AppKey      *rsa.PrivateKey
	Certificate *x509.Certificate
	// Settings is the rest of the YAML configuration (routes, limits, log), written after listen,
	// application and superoffice.
	Settings string
	// Listen is the address to serve on; empty takes a free loopback port, kept across restarts.
	Listen string
}

// Service is a running (or killed) 'mirrorsink serve' process.
type Service struct {
	// Addr is the host:port it listens on; URL is http://Addr/.
	Addr, URL string

	t       testing.TB
	bin     string
	cfgPath string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error // receives the process's exit once
	log    *os.File
}

// Start writes the configuration into cfg.Dir, starts the service and waits until it answers
// /healthz. The process is stopped at the end of the test, and its log is shown when the test failed.
func Start(t testing.TB, cfg Config) *Service {
	t.Helper()
	if _, err := protocol.WriteKeyPair(cfg.Dir, "app", cfg.AppKey); err != nil {
		t.Fatal(err)
	}
	certPath := filepath.Join(cfg.Dir, "superoffice.crt")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cfg.Certificate.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := cfg.Listen
	if addr == "" {
		addr = FreeAddr(t)
	}
	yaml := fmt.Sprintf("listen: %q\napplication:\n  client_id: %q\n  private_key: %q\nsuperoffice:\n  certificates: %q\n%s",
		addr, cfg.ClientID, filepath.Join(cfg.Dir, "app.private.pem"), certPath, cfg.Settings)
	s := &Service{Addr: addr, URL: "http://" + addr + "/", t: t, bin: cfg.Binary,
		cfgPath: filepath.Join(cfg.Dir, "mirrorsink.yaml"), logPath: filepath.Join(cfg.Dir, "serve.log")}
	if err := os.WriteFile(s.cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("serve's log (%s), last lines:\n%s", s.logPath, s.LogTail(40))
		}
	})
	s.Restart()
	return s
}

// FreeAddr returns a loopback address with a port the kernel has just given out and taken back.
// Another process could take it before the service binds it; the service then fails to start, which
// is reported.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Restart starts the process again (the first time: at all) on the same address and waits until it
// answers /healthz. It fails the test if the service is already running or does not come up in 30 s.
func (s *Service) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("servetest: Restart of a service that is running")
	}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	fmt.Fprintf(logFile, "--- servetest: start at %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(s.bin, "serve", "--config", s.cfgPath)
	cmd.Env = append(os.Environ(), "MIRRORSINK_CLIENT_ID=") // the file's client id, whatever the environment says
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		s.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.cmd, s.exited, s.log = cmd, exited, logFile
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(s.URL + "healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			s.cmd = nil
			logFile.Close()
			s.t.Fatalf("servetest: serve exited at start (%v):\n%s", err, s.LogTail(20))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("servetest: serve did not answer /healthz within 30 s:\n%s", s.LogTail(20))
		}
	}
}

// PID is the running process's id (0 when it is not running).
func (s *Service) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill sends SIGKILL, as a crash or the OOM killer would: nothing of the process runs afterwards, no
// deferred function, no rollback, no connection closed politely. It waits until the process is gone.
func (s *Service) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.done()
}

// Stop asks the service to shut down (SIGINT) and kills it if it has not within 10 s.
func (s *Service) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.done()
}

// done forgets the exited process; s.mu is held.
func (s *Service) done() {
	s.log.Close()
	s.cmd, s.exited, s.log = nil, nil, nil
}

// LogTail returns the last n lines of the service's log (every start appends to it).
func (s *Service) LogTail(n int) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(no log)"
		}
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

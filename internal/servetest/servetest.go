// Package servetest runs the real 'mirrorsink serve' binary for tests: it builds the binary, writes a
// configuration with the test's keys, starts the process on a loopback port, waits until it answers
// /healthz, and can kill it outright (SIGKILL) and start it again on the same address, as a crashed
// and restarted service would be.
package servetest

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/internal/subprocess"
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

	t    testing.TB
	proc *subprocess.Process
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
	cfgPath := filepath.Join(cfg.Dir, "mirrorsink.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Service{Addr: addr, URL: "http://" + addr + "/", t: t, proc: &subprocess.Process{
		Program: cfg.Binary, Args: []string{"serve", "--config", cfgPath}, Dir: cfg.Dir,
		Env:     []string{"MIRRORSINK_CLIENT_ID="}, // the file's client id, whatever the environment says
		LogPath: filepath.Join(cfg.Dir, "serve.log"),
	}}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("serve's log (%s), last lines:\n%s", s.proc.LogPath, s.proc.LogTail(40))
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
	err := s.proc.Start(30*time.Second, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"healthz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz: HTTP %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("servetest: serve: %v; its log:\n%s", err, s.proc.LogTail(20))
	}
}

// PID is the running process's id (0 when it is not running).
func (s *Service) PID() int { return s.proc.PID() }

// Kill sends SIGKILL, as a crash or the OOM killer would: nothing of the process runs afterwards, no
// deferred function, no rollback, no connection closed politely. It waits until the process is gone.
func (s *Service) Kill() { s.proc.Stop(os.Kill, time.Minute) }

// Stop asks the service to shut down (SIGINT) and kills it if it has not within 10 s.
func (s *Service) Stop() { s.proc.Stop(os.Interrupt, 10*time.Second) }

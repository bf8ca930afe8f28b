package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mirrorsink/mirrorsink/protocol"
	"github.com/mirrorsink/mirrorsink/simulator"
)

func init() {
	register("demo", "run mirrorsink and a simulated SuperOffice side by side: load, churn and verify a SQLite mirror", runDemo)
}

// demoTenant is the tenant the demo mirrors.
const demoTenant = "Cust12345"

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "./demo-data", "folder for the demo's keys, source and mirror (its previous demo files are replaced)")
	rows := fs.Int64("rows", 20000, "rows of the contact table; the other CRM tables are proportional")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: mirrorsink demo [--dir DIR] [--rows N]

Runs the whole thing on this machine with nothing but Go: starts 'mirrorsink serve' in-process on a
loopback port, mirroring into SQLite under DIR, with a generated application key pair and a generated test
"SuperOffice" signing key whose certificate the service trusts. Then it plays SuperOffice's Mirroring Task
against it: an initial load of a SuperOffice-like CRM database, a cycle of inserts, updates and deletes,
and a verification of the mirror against the source after each cycle.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return demo(ctx, *dir, *rows, *seed, stdout, stderr)
}

func demo(ctx context.Context, dir string, rows int64, seed uint64, stdout, stderr io.Writer) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	dir = abs
	mirrorDir := filepath.Join(dir, "mirror")
	sourcePath := filepath.Join(dir, "source.db")
	// Only the files an earlier demo made are removed: the folder may hold other things.
	old := []string{mirrorDir, sourcePath, sourcePath + "-wal", sourcePath + "-shm", filepath.Join(dir, "superoffice-test.crt"),
		filepath.Join(dir, "superoffice-test.key.pem"), filepath.Join(dir, "mirrorsink.yaml")}
	for _, n := range []string{"application.private.xml", "application.public.xml", "application.private.pem", "application.public.pem"} {
		old = append(old, filepath.Join(dir, n))
	}
	for _, p := range old {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("demo: remove the previous demo's %s: %w", p, err)
		}
	}
	if err := os.MkdirAll(mirrorDir, 0o700); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	fmt.Fprintf(stdout, "mirrorsink demo: everything goes to %s\n", dir)
	appKey, err := protocol.GenerateKeyPair(2048)
	if err != nil {
		return err
	}
	if _, err := protocol.WriteKeyPair(dir, "application", appKey); err != nil {
		return err
	}
	soKey, err := protocol.GenerateKeyPair(2048)
	if err != nil {
		return err
	}
	cert, certPEM, err := protocol.SelfSignedCertificate(soKey, "mirrorsink demo SuperOffice", time.Now())
	if err != nil {
		return err
	}
	certPath := filepath.Join(dir, "superoffice-test.crt")
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// The test signing key is kept so that 'mirrorsink simulate' can drive more cycles later; it signs
	// nothing but tokens for this demo's service.
	soDER, err := x509.MarshalPKCS8PrivateKey(soKey)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	soKeyPath := filepath.Join(dir, "superoffice-test.key.pem")
	if err := os.WriteFile(soKeyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: soDER}), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	cfg := defaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Application.ClientID = "mirrorsink-demo"
	cfg.Application.PrivateKey = filepath.Join(dir, "application.private.pem")
	cfg.SuperOffice.Certificates = certPath
	cfg.Default = &RouteConfig{Dialect: "sqlite", DSN: filepath.Join(mirrorDir, "{ctx}.db")}
	cfg.Log.Level = "warn"
	// A configuration file, so that 'mirrorsink status' and 'serve' can look at the demo's mirror later.
	yaml := fmt.Sprintf("listen: 127.0.0.1:8080\napplication:\n  client_id: mirrorsink-demo\n  private_key: %q\nsuperoffice:\n  certificates: %q\ntenants:\n  %s:\n    dialect: sqlite\n    dsn: %q\n",
		cfg.Application.PrivateKey, certPath, demoTenant, cfg.Default.DSN)
	configPath := filepath.Join(dir, "mirrorsink.yaml")
	if err := os.WriteFile(configPath, []byte(yaml), 0o644); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	svc, err := newService(cfg, newLogger(cfg, stderr))
	if err != nil {
		return err
	}
	defer svc.close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/"
	svcCtx, stopService := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- svc.serve(svcCtx, ln) }()
	stopped := false
	shutdown := func() error {
		if stopped {
			return nil
		}
		stopped = true
		stopService()
		return <-served
	}
	defer shutdown()
	svc.log = slog.New(slog.DiscardHandler)
	fmt.Fprintf(stdout, "mirrorsink serves %s (SQLite mirrors in %s)\n", url, mirrorDir)

	o := simulateOptions{
		url: url, tenant: demoTenant, source: sourcePath, dataset: "crm", scenario: "churn",
		rows: rows, seed: seed, inserts: int(max(rows/20, 10)), updates: int(max(rows/10, 10)), deletes: int(max(rows/50, 5)),
		batchBytes: simulator.DefaultBatchBytes, parallel: 4, cycles: 1, minYear: 1,
		clientID: cfg.Application.ClientID, verifyDialect: "sqlite", verifyDSN: cfg.Default.DSN,
	}
	if err := simulate(ctx, o, soKey, protocol.CertificateThumbprint(cert), &appKey.PublicKey, stdout, stderr); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := shutdown(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("demo: service: %w", err)
	}
	mirror := filepath.Join(mirrorDir, demoTenant+".db")
	fmt.Fprintf(stdout, `
The mirror of tenant %[1]s is %[2]s (the simulated source: %[3]s).
Look at it:
  sqlite3 %[2]s 'SELECT count(*) FROM contact'
  sqlite3 %[2]s 'SELECT tablename, lsn FROM "%[1]s_mirroring"'
  go run ./cmd/mirrorsink status --config %[4]s --tenant %[1]s
Serve it again and drive more cycles against it:
  go run ./cmd/mirrorsink serve --config %[4]s
  go run ./cmd/mirrorsink simulate --url http://127.0.0.1:8080/ --tenant %[1]s --source %[3]s \
    --superoffice-key %[5]s --client-id mirrorsink-demo --scenario churn \
    --verify-dialect sqlite --verify-dsn '%[6]s'
`, demoTenant, mirror, sourcePath, configPath, soKeyPath, cfg.Default.DSN)
	return nil
}

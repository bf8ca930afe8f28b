package main

import (
	"context"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/webhook"
	"github.com/mirrorsink/mirrorsink/protocol"

	// The dialects register themselves with package dialect.
	_ "github.com/mirrorsink/mirrorsink/dialect/mysql"
	_ "github.com/mirrorsink/mirrorsink/dialect/postgres"
	_ "github.com/mirrorsink/mirrorsink/dialect/sqlite"
	_ "github.com/mirrorsink/mirrorsink/dialect/sqlserver"
)

func init() {
	register("serve", "run the mirroring service (SOAP endpoint, /metrics, /healthz, /readyz; the status page on --admin-listen)", runServe)
}

// maxHTTPHeaderBytes bounds a request's HTTP header block (net/http adds 4 KiB of slack).
const maxHTTPHeaderBytes = 16 << 10

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML); default $MIRRORSINK_CONFIG, else SQLite mirrors under ./data")
	clientID := fs.String("client-id", "", "the application's client id at SuperOffice, overriding $MIRRORSINK_CLIENT_ID and application.client_id (required: tokens must be addressed to it)")
	listen := fs.String("listen", "", "listen address, overriding the configuration (e.g. 127.0.0.1:8080)")
	debugListen := fs.String("debug-listen", "", "serve Go's profiler (/debug/pprof/) on this separate address, e.g. 127.0.0.1:6060; never expose it")
	adminListen := fs.String("admin-listen", "", "serve the status page, /metrics, /healthz and /readyz on this separate address, overriding admin.listen (e.g. 127.0.0.1:8081; another than loopback needs admin.token)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mirrorsink serve [--config FILE] [--client-id ID] [--listen ADDR]")
		fmt.Fprintln(stderr, "\nServes SuperOffice's Mirroring Task. The application's client id is required: SuperOffice shows it")
		fmt.Fprintln(stderr, "where the application is registered. Without a configuration it mirrors every tenant into SQLite")
		fmt.Fprintln(stderr, "files under ./data and generates an application key pair there on first start.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := serveConfig(*configPath, *clientID, *listen, *adminListen)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc, err := newService(cfg, log)
	if err != nil {
		return err
	}
	defer svc.close()
	if *debugListen != "" {
		if err := serveDebug(ctx, *debugListen, log); err != nil {
			return err
		}
	}
	if err := svc.listenAdmin(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	return svc.serve(ctx, ln)
}

// serveConfig loads the configuration and applies serve's flags, and the environment's client id
// where no flag gives one; the result is validated.
func serveConfig(path, clientID, listen, adminListen string) (*Config, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	if listen != "" {
		cfg.Listen = listen
	}
	if adminListen != "" {
		cfg.Admin.Listen = adminListen
	}
	if clientID == "" {
		clientID = os.Getenv("MIRRORSINK_CLIENT_ID")
	}
	if clientID != "" {
		cfg.Application.ClientID = clientID
	}
	return cfg, cfg.validate()
}

// serveDebug serves the profiler on its own listener, so that it is never reachable through the
// SOAP endpoint's address.
func serveDebug(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("debug listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("debug listener stopped", "err", err)
		}
	}()
	log.Info("profiler listening", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.Log.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// service is the running mirroring service: the engine behind the SOAP server.
type service struct {
	cfg      *Config
	log      *slog.Logger
	engine   *engine.Engine
	webhooks *webhook.Dispatcher // nil when no webhook is configured
	http     *http.Server
	// admin serves the status page on a listener of its own (adminLn), when one is configured.
	admin   *http.Server
	adminLn net.Listener
}

func newService(cfg *Config, log *slog.Logger) (*service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	key, err := applicationKey(cfg, log)
	if err != nil {
		return nil, err
	}
	certs, err := protocol.LoadCertificates(cfg.SuperOffice.Certificates)
	if err != nil {
		return nil, fmt.Errorf("superoffice certificates: %w", err)
	}
	verifier, err := protocol.NewTokenVerifier(protocol.VerifierConfig{
		Certificates: certs,
		ClientID:     cfg.Application.ClientID,
		Skew:         cfg.SuperOffice.ClockSkew,
		MaxLifetime:  cfg.SuperOffice.MaxTokenLifetime,
	})
	if err != nil {
		return nil, err
	}
	opts := cfg.engineOptions()
	opts.Logger = log
	whOpts, anyWebhook, err := cfg.webhooks()
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	var webhooks *webhook.Dispatcher
	if anyWebhook {
		whOpts.Logger = log
		if webhooks, err = webhook.New(whOpts); err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
		opts.Notifier = webhooks
	}
	eng, err := engine.New(opts)
	if err != nil {
		if webhooks != nil {
			webhooks.Close(context.Background())
		}
		return nil, fmt.Errorf("configuration: %w", err)
	}
	svc := &service{cfg: cfg, log: log, engine: eng, webhooks: webhooks}
	soap, err := protocol.NewServer(protocol.ServerConfig{
		Handler:        eng,
		Verifier:       verifier,
		ApplicationKey: key,
		Build:          "mirrorsink " + version,
		MaxBodyBytes:   cfg.Limits.MaxBodyBytes,
		Decode: protocol.DecodeOptions{
			SpoolMemory:   cfg.Limits.SpoolMemory,
			SpoolDir:      cfg.Limits.SpoolDir,
			MaxValueSize:  int(cfg.Limits.MaxValueBytes),
			MaxHeaderSize: cfg.Limits.MaxHeaderBytes,
		},
		MaxCalls:    cfg.Limits.MaxCalls,
		ReadTimeout: cfg.Limits.ReadTimeout,
		Logger:      log,
		PublicURL:   cfg.PublicURL,
		TrustProxy:  cfg.TrustProxy,
	})
	if err != nil {
		svc.close()
		return nil, err
	}
	status, err := newStatusPage(eng, log)
	if err != nil {
		svc.close()
		return nil, err
	}
	ready := &readiness{eng: eng, cache: cfg.Readiness.Cache, timeout: cfg.Readiness.Timeout}
	mux := http.NewServeMux()
	svc.operatorEndpoints(mux, ready, false)
	if token := expandEnv(cfg.Admin.Token); token != "" {
		status.register(mux, "/status", requireToken(token))
	}
	mux.Handle("/", soap)
	if cfg.Admin.Listen != "" {
		admin := http.NewServeMux()
		svc.operatorEndpoints(admin, ready, true)
		status.register(admin, "/status", requireToken(expandEnv(cfg.Admin.Token)))
		admin.Handle("GET /{$}", http.RedirectHandler("/status", http.StatusFound))
		svc.admin = &http.Server{Handler: admin, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
			WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: maxHTTPHeaderBytes,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	}
	svc.http = &http.Server{
		Handler: mux,
		// Every request has header_timeout, from its first byte, for its HTTP headers and (the SOAP
		// server's part) its envelope up to the token; the SOAP server gives a call whose token it
		// has verified read_timeout for the rest.
		ReadHeaderTimeout: cfg.Limits.HeaderTimeout,
		ReadTimeout:       cfg.Limits.HeaderTimeout,
		WriteTimeout:      cfg.Limits.WriteTimeout,
		// A kept-alive connection that sends nothing holds one of max_connections: it gets no
		// longer than an unauthenticated request would. SuperOffice's next call follows at once.
		IdleTimeout: cfg.Limits.HeaderTimeout,
		// HTTP headers, read before anything is authenticated: SuperOffice sends a few hundred
		// bytes (net/http's default would let each connection send 1 MiB).
		MaxHeaderBytes: maxHTTPHeaderBytes,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return svc, nil
}

// operatorEndpoints serves /metrics, /healthz and /readyz on mux; details says whether /readyz says
// why a route fails (the admin listener) or only that it does (the public one).
func (s *service) operatorEndpoints(mux *http.ServeMux, ready *readiness, details bool) {
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_ = s.engine.Metrics().WritePrometheus(w)
		if s.webhooks != nil {
			_ = s.webhooks.WritePrometheus(w)
		}
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", ready.handler(details))
}

// listenAdmin opens the admin listener, when one is configured; serve then serves it.
func (s *service) listenAdmin() error {
	if s.admin == nil || s.adminLn != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Admin.Listen)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	s.adminLn = ln
	return nil
}

// close releases what the service holds once it no longer serves: the webhook queue is drained (for
// at most the shutdown period), then the tenants' mirrors are closed, since a delivery that fails
// still records its failure in its tenant's mirror.
func (s *service) close() {
	if s.webhooks != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.ShutdownPeriod)
		if err := s.webhooks.Close(ctx); err != nil {
			s.log.Warn("webhook queue at shutdown", "err", err)
		}
		cancel()
	}
	if err := s.engine.Close(); err != nil {
		s.log.Warn("closing the tenants' mirrors", "err", err)
	}
}

// serve answers on ln, at most max_connections connections at a time, until ctx ends, then lets
// running calls finish (up to the shutdown period).
func (s *service) serve(ctx context.Context, ln net.Listener) error {
	ln = newLimitListener(ln, s.cfg.Limits.MaxConnections)
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLS.Cert != "" || s.cfg.TLS.Key != "" {
			errc <- s.http.ServeTLS(ln, s.cfg.TLS.Cert, s.cfg.TLS.Key)
		} else {
			errc <- s.http.Serve(ln)
		}
	}()
	scheme := "http"
	if s.cfg.TLS.Cert != "" {
		scheme = "https"
	}
	s.log.Info("mirrorsink is serving", "url", scheme+"://"+ln.Addr().String()+"/", "version", version)
	if s.adminLn != nil {
		go func() {
			if err := s.admin.Serve(s.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("admin listener stopped", "err", err)
			}
		}()
		s.log.Info("status page", "url", "http://"+s.adminLn.Addr().String()+"/status")
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: letting running calls finish", "within", s.cfg.Limits.ShutdownPeriod)
	if s.admin != nil {
		s.admin.Close()
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.ShutdownPeriod)
	defer cancel()
	if err := s.http.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// applicationKey loads the configured key; without one, it uses (and on first start generates) a key
// pair under ./data, and says where the public half is for SuperOffice's portal.
func applicationKey(cfg *Config, log *slog.Logger) (*rsa.PrivateKey, error) {
	if cfg.Application.PrivateKey != "" {
		key, err := protocol.LoadPrivateKey(expandEnv(cfg.Application.PrivateKey))
		if err != nil {
			return nil, fmt.Errorf("application private key: %w", err)
		}
		return key, nil
	}
	path := filepath.Join(defaultDataDir, "application.private.pem")
	if key, err := protocol.LoadPrivateKey(path); err == nil {
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("application private key %s: %w", path, err)
	}
	key, err := protocol.GenerateKeyPair(2048)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(defaultDataDir, 0o700); err != nil {
		return nil, err
	}
	paths, err := protocol.WriteKeyPair(defaultDataDir, "application", key)
	if err != nil {
		return nil, err
	}
	log.Warn("no application key configured: generated one; register the public key with SuperOffice", "files", paths)
	return key, nil
}

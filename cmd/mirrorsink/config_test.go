package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadBody loads a configuration of one default SQLite route and an application client id, followed
// by body, and validates it.
func loadBody(t *testing.T, body string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("application:\n  client_id: app\ndefault:\n  dialect: sqlite\n  dsn: x.db\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(p)
	if err != nil {
		return nil, err
	}
	return cfg, cfg.validate()
}

func TestDatabasesConfig(t *testing.T) {
	load := func(body string) (*Config, error) { return loadBody(t, body) }
	cfg, err := load("")
	if err != nil {
		t.Fatal(err)
	}
	want := DatabasesConfig{ConnectTimeout: 10 * time.Second, MetaTimeout: 30 * time.Second, MaxServerConns: 40,
		IdleConnTimeout: time.Minute, IdleTenantTimeout: 10 * time.Minute}
	if cfg.Databases != want {
		t.Errorf("defaults %+v, want %+v", cfg.Databases, want)
	}
	cfg, err = load("databases:\n  connect_timeout: 3s\n  meta_timeout: 1m\n  max_server_conns: 12\n  idle_conn_timeout: 20s\n  idle_tenant_timeout: 1h\n")
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.engineOptions()
	if opts.ConnectTimeout != 3*time.Second || opts.MetaTimeout != time.Minute || opts.MaxServerConns != 12 ||
		opts.IdleConnTimeout != 20*time.Second || opts.IdleTenantTimeout != time.Hour {
		t.Errorf("engine options %+v do not carry the databases section", opts)
	}
	for body, want := range map[string]string{
		"databases:\n  max_server_conns: -1\n": "databases.max_server_conns must not be negative",
		"databases:\n  connect_timeout: -1s\n": "databases.connect_timeout must not be negative",
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

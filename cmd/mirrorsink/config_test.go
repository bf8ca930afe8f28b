package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
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

// writeConfig writes a configuration file and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServersConfig: a route's servers as a list of DSNs or as named addresses for {server}, with pins
// and the fan-in layout, reach the engine; contradictory forms are refused by name.
func TestServersConfig(t *testing.T) {
	t.Setenv("PGPASS", "secret")
	cfg, err := loadConfig(writeConfig(t, `
default:
  dialect: postgres
  dsn: "postgres://u:${PGPASS}@{server}/crm_{ctx}"
  servers:
    pg2: db2.example.com:5432
    pg1: db1.example.com:5432
  pins:
    Cust1: pg2
tenants:
  Listed:
    dialect: postgres
    servers:
      - "postgres://u@db1.example.com:5432/x_{ctx}"
      - "postgres://u@db9.example.com:5433/x_{ctx}"
  Shared:
    dialect: postgres
    dsn: "postgres://u@db1.example.com:5432/analytics"
    layout: fan_in
    tenant_column: ctx
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.engineOptions()
	d := opts.Default
	if len(d.Servers) != 2 || d.Servers[0].Name != "pg1" || d.Servers[0].DSN != "postgres://u:secret@db1.example.com:5432/crm_{ctx}" ||
		d.DSN != "" || d.Pins["Cust1"] != "pg2" {
		t.Fatalf("named servers: %+v", d)
	}
	if l := opts.Tenants["Listed"]; len(l.Servers) != 2 || l.Servers[1].DSN != "postgres://u@db9.example.com:5433/x_{ctx}" {
		t.Fatalf("a list of servers: %+v", l)
	}
	if s := opts.Tenants["Shared"]; s.Layout != engine.FanIn || s.TenantColumnName() != "ctx" {
		t.Fatalf("the fan-in layout: %+v", s)
	}
	for body, want := range map[string]string{
		"default:\n  dialect: postgres\n  dsn: \"postgres://h/db_{ctx}\"\n  servers: [\"postgres://a/{ctx}\"]\n": "both a dsn and a list of servers",
		"default:\n  dialect: postgres\n  dsn: \"postgres://h/db_{ctx}\"\n  servers:\n    a: h1\n":               "no {server}",
		"default:\n  dialect: postgres\n  servers: 3\n":                                                          "servers is a list of DSNs",
	} {
		if _, err := loadConfig(writeConfig(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

// TestPlacementCommand: placement prints each known tenant's server, and under --servers which tenants
// move (every one to the new server) and how many.
func TestPlacementCommand(t *testing.T) {
	path := writeConfig(t, `
default:
  dialect: postgres
  dsn: "postgres://u@{server}/crm_{ctx}"
  servers:
    pg1: db1:5432
    pg2: db2:5432
    pg3: db3:5432
  pins:
    Cust00007: pg1
`)
	var tenants strings.Builder
	for i := range 300 {
		fmt.Fprintf(&tenants, "Cust%05d\n", i)
	}
	list := filepath.Join(t.TempDir(), "tenants.txt")
	if err := os.WriteFile(list, []byte("# exported from the partner portal\n"+tenants.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := run([]string{"placement", "--config", path, "--tenants", list, "--servers", "pg1,pg2,pg3,pg4"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	text := out.String()
	if !strings.Contains(text, "route default: 3 servers (pg1, pg2, pg3), 300 known tenants") || !strings.Contains(text, "Cust00007  pg1 (pinned)  pg1") {
		t.Fatalf("output:\n%s", text)
	}
	moved := 0
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "moves:") {
			moved++
			if !strings.Contains(line, "pg4  moves") {
				t.Fatalf("a tenant moves to an old server: %s", line)
			}
		}
	}
	if moved < 55 || moved > 95 || !strings.Contains(text, fmt.Sprintf("under --servers pg1,pg2,pg3,pg4: %d of 300 tenants move", moved)) {
		t.Fatalf("%d tenants move, want about 75:\n%s", moved, text)
	}
	errOut.Reset()
	if code := run([]string{"placement", "--config", path, "--tenants", list, "--route", "Nobody"}, &out, &errOut); code == 0 {
		t.Fatal("a route that does not exist was placed")
	}
}

// TestAddedColumnsConfig: deletes, mirrored_at, their column names and the per-table overrides reach
// the engine's routes; values the engine cannot take fail naming the route and the setting.
func TestAddedColumnsConfig(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, `application:
  client_id: app
default:
  dialect: sqlite
  dsn: "{ctx}.db"
tenants:
  Cust1:
    dialect: sqlite
    dsn: "{ctx}.db"
    deletes: soft
    mirrored_at: true
    deleted_at_column: gone_at
    tables:
      travelagent:
        deletes: hard
      contact:
        mirrored_at: false
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.engineOptions()
	r := opts.Tenants["Cust1"]
	for table, want := range map[string][2]string{
		"person":      {"gone_at", "_mirrored_at"},
		"travelagent": {"", "_mirrored_at"},
		"contact":     {"gone_at", ""},
	} {
		if d, m := r.AddedColumns(table); d != want[0] || m != want[1] {
			t.Errorf("table %s adds (%q, %q), want %q", table, d, m, want)
		}
	}
	if d, m := opts.Default.AddedColumns("person"); d != "" || m != "" {
		t.Errorf("the default route adds (%q, %q), want nothing", d, m)
	}
	if _, err := engine.New(opts); err != nil {
		t.Fatal(err)
	}

	route := "default:\n  dialect: sqlite\n  dsn: \"{ctx}.db\"\n"
	for body, want := range map[string]string{
		route + "  deletes: sof\n":                                                                                    `default route: deletes "sof" is not known (hard or soft)`,
		route + "  tables:\n    contact:\n      deletes: never\n":                                                     `default route: tables: contact: deletes "never" is not known`,
		route + "  deleted_at_column: stamp\n  mirrored_at_column: STAMP\n":                                           `deleted_at_column and mirrored_at_column both name the column "stamp"`,
		route + "  deleted_at_column: \" gone\"\n":                                                                    `deleted_at_column " gone": a name of 1 to 63 bytes`,
		route + "  mirrored_at_column: " + strings.Repeat("m", 64) + "\n":                                             `mirrored_at_column "mmmm`,
		"default:\n  dialect: postgres\n  dsn: \"postgres://h/crm\"\n  layout: fan_in\n  deleted_at_column: Tenant\n": `deleted_at_column "Tenant" is the name of the fan-in layout's tenant column`,
	} {
		cfg, err := loadConfig(writeConfig(t, "application:\n  client_id: app\n"+body))
		if err == nil {
			_, err = engine.New(cfg.engineOptions())
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	// A key the override does not know is refused, as everywhere in the file.
	if _, err := loadConfig(writeConfig(t, route+"  tables:\n    contact:\n      delete: soft\n")); err == nil || !strings.Contains(err.Error(), "field delete not found") {
		t.Errorf("an unknown key of a table override: %v", err)
	}
}

// TestJournalConfig: journal and journal_keep reach the engine, an age or a count, 30 days when
// journal_keep is left out; a retention without the journal, or one that reads as neither, is refused.
func TestJournalConfig(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, `
default:
  dialect: sqlite
  dsn: /tmp/{ctx}.db
  journal: true
tenants:
  ByAge:
    dialect: sqlite
    dsn: /tmp/a_{ctx}.db
    journal: true
    journal_keep: 12h
  ByCount:
    dialect: sqlite
    dsn: /tmp/c_{ctx}.db
    journal: true
    journal_keep: 1000000
  All:
    dialect: sqlite
    dsn: /tmp/all_{ctx}.db
    journal: true
    journal_keep: all
  Off:
    dialect: sqlite
    dsn: /tmp/off_{ctx}.db
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.engineOptions()
	for name, want := range map[string]dialect.JournalRetention{
		"ByAge":   {MaxAge: 12 * time.Hour},
		"ByCount": {MaxEntries: 1_000_000},
		"All":     {},
	} {
		if r := opts.Tenants[name]; !r.Journal || r.JournalKeep != want {
			t.Errorf("%s: journal %v, keep %+v, want on, %+v", name, r.Journal, r.JournalKeep, want)
		}
	}
	if d := opts.Default; !d.Journal || d.JournalKeep != engine.DefaultJournalKeep || d.JournalKeep.MaxAge != 30*24*time.Hour {
		t.Errorf("the default retention: %+v", d)
	}
	if r := opts.Tenants["Off"]; r.Journal || !r.JournalKeep.IsZero() {
		t.Errorf("a route without the journal: %+v", r)
	}
	for body, want := range map[string]string{
		"default:\n  dialect: sqlite\n  dsn: /tmp/{ctx}.db\n  journal_keep: 30d\n":                 "the journal is off",
		"default:\n  dialect: sqlite\n  dsn: /tmp/{ctx}.db\n  journal: true\n  journal_keep: 3w\n": "an age (30d, 12h) or a count",
		"default:\n  dialect: sqlite\n  dsn: /tmp/{ctx}.db\n  journal: true\n  journal_keep: 0\n":  "must be positive",
		"default:\n  dialect: sqlite\n  dsn: /tmp/{ctx}.db\n  journal: true\n  journal_keep: 0d\n": "whole number of days",
	} {
		if _, err := loadConfig(writeConfig(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/webhook"
	"github.com/mirrorsink/mirrorsink/protocol"
)

// Config is the YAML configuration file (docs/CONFIGURATION.md). Values of the form ${NAME} in a DSN or
// a path are taken from the environment, so that secrets stay out of the file.
type Config struct {
	Listen string    `yaml:"listen"`
	TLS    TLSConfig `yaml:"tls"`
	// PublicURL is the service's address as SuperOffice calls it; the WSDL gives it.
	PublicURL string `yaml:"public_url"`
	// TrustProxy lets the WSDL's address follow X-Forwarded-Proto/Host when public_url is not set.
	TrustProxy bool `yaml:"trust_proxy"`

	Application struct {
		// ClientID is the application's client id at SuperOffice; tokens must be addressed to spn:<id>.
		// Required (serve's --client-id or MIRRORSINK_CLIENT_ID may give it instead).
		ClientID string `yaml:"client_id"`
		// PrivateKey is the path of the application's RSA private key (RSA XML or PEM).
		PrivateKey string `yaml:"private_key"`
	} `yaml:"application"`

	SuperOffice struct {
		// Certificates: development, stage, production, or PEM paths, comma-separated.
		Certificates     string        `yaml:"certificates"`
		ClockSkew        time.Duration `yaml:"clock_skew"`
		MaxTokenLifetime time.Duration `yaml:"max_token_lifetime"`
	} `yaml:"superoffice"`

	Limits struct {
		MaxBodyBytes   int64         `yaml:"max_body_bytes"`
		MaxHeaderBytes int           `yaml:"max_header_bytes"`
		MaxValueBytes  int64         `yaml:"max_value_bytes"`
		MaxCalls       int           `yaml:"max_calls"`
		MaxConnections int           `yaml:"max_connections"`
		HeaderTimeout  time.Duration `yaml:"header_timeout"`
		ReadTimeout    time.Duration `yaml:"read_timeout"`
		WriteTimeout   time.Duration `yaml:"write_timeout"`
		SpoolMemory    int64         `yaml:"spool_memory"`
		SpoolDir       string        `yaml:"spool_dir"`
		SchemaWorkers  int           `yaml:"schema_workers"`
		ShutdownPeriod time.Duration `yaml:"shutdown_period"`
	} `yaml:"limits"`

	// Databases bounds the work and the connections against the tenants' database servers
	// (docs/CONFIGURATION.md, Databases).
	Databases DatabasesConfig `yaml:"databases"`

	Tenants           map[string]RouteConfig `yaml:"tenants"`
	Default           *RouteConfig           `yaml:"default"`
	Keys              map[string][]string    `yaml:"keys"`
	KeepMissingTables bool                   `yaml:"keep_missing_tables"`
	// Hooks and Webhooks receive every tenant's events; a route's own come after them.
	Hooks    HooksConfig     `yaml:"hooks"`
	Webhooks []WebhookConfig `yaml:"webhooks"`
	// WebhookDelivery tunes the queue that delivers webhooks after the call.
	WebhookDelivery WebhookDeliveryConfig `yaml:"webhook_delivery"`
	// FailureLog is how many failed calls and hooks each tenant's mirror keeps (default 1,000).
	FailureLog int `yaml:"failure_log"`
	// Admin is the status page's listener and token.
	Admin AdminConfig `yaml:"admin"`
	// Readiness tunes /readyz.
	Readiness struct {
		// Cache is how long one round of checks answers /readyz (default 5 s), so that probes do not
		// hammer the databases.
		Cache time.Duration `yaml:"cache"`
		// Timeout bounds the check of one route (default 2 s).
		Timeout time.Duration `yaml:"timeout"`
	} `yaml:"readiness"`

	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
}

// TLSConfig names a certificate and key; both empty serves plain HTTP (TLS terminated by a proxy).
type TLSConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// DatabasesConfig holds the settings of the connections to the tenants' database servers.
type DatabasesConfig struct {
	// ConnectTimeout bounds each new connection, from the dial to a usable session.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MetaTimeout bounds each transaction that only reads or writes mirrorsink's own tables.
	MetaTimeout time.Duration `yaml:"meta_timeout"`
	// MaxServerConns bounds the connections open to one database server across all its tenants.
	MaxServerConns int `yaml:"max_server_conns"`
	// IdleConnTimeout closes a tenant's connection that no call has used for this long.
	IdleConnTimeout time.Duration `yaml:"idle_conn_timeout"`
	// IdleTenantTimeout closes a tenant's mirror that no call has used for this long.
	IdleTenantTimeout time.Duration `yaml:"idle_tenant_timeout"`
}

// RouteConfig routes a tenant to a database.
type RouteConfig struct {
	Dialect  string `yaml:"dialect"`
	DSN      string `yaml:"dsn"`
	Schema   string `yaml:"schema"`
	MaxConns int    `yaml:"max_conns"`
	Paused   bool   `yaml:"paused"`
	// Hooks and Webhooks are the route's own, run after the global ones.
	Hooks    HooksConfig     `yaml:"hooks"`
	Webhooks []WebhookConfig `yaml:"webhooks"`
	// Servers spreads the route's tenants over several database servers (docs/CONFIGURATION.md,
	// Servers): a list of DSNs, or names mapped to what "{server}" in dsn becomes.
	Servers ServersConfig `yaml:"servers"`
	// Pins keeps tenants on named servers (tenant: server name).
	Pins map[string]string `yaml:"pins"`
	// Layout is per_tenant (the default) or fan_in; TenantColumn names fan_in's tenant column.
	Layout       string `yaml:"layout"`
	TenantColumn string `yaml:"tenant_column"`
	// Deletes is hard (the default) or soft: a deleted row stays, marked in the soft-delete column.
	// MirroredAt adds the column of when mirrorsink last wrote each row. The two column settings name
	// the columns (docs/CONFIGURATION.md, Soft deletes and mirrored_at).
	Deletes          string `yaml:"deletes"`
	MirroredAt       bool   `yaml:"mirrored_at"`
	DeletedAtColumn  string `yaml:"deleted_at_column"`
	MirroredAtColumn string `yaml:"mirrored_at_column"`
	// Tables overrides deletes and mirrored_at for the tables it names.
	Tables map[string]TableConfig `yaml:"tables"`
	// Journal keeps the change journal of the route's tenants (docs/ANALYTICS.md); JournalKeep is its
	// retention: an age (30d, 12h), a count of entries (1000000) or all; default 30d.
	Journal     bool   `yaml:"journal"`
	JournalKeep string `yaml:"journal_keep"`
}

// TableConfig overrides a route's settings for one table; a setting it leaves out is the route's.
type TableConfig struct {
	Deletes    string `yaml:"deletes"`
	MirroredAt *bool  `yaml:"mirrored_at"`
}

// ServersConfig is a route's servers, in either of two forms: a list of DSNs (each server named as
// its host and port), or a map of server names to their address, which replaces "{server}" in the
// route's dsn.
type ServersConfig struct {
	List  []string
	Named map[string]string
}

// UnmarshalYAML reads either form.
func (s *ServersConfig) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		return n.Decode(&s.List)
	case yaml.MappingNode:
		return n.Decode(&s.Named)
	}
	return fmt.Errorf("line %d: servers is a list of DSNs, or server names mapped to their address for {server} in dsn", n.Line)
}

// HooksConfig are SQL hooks by event.
type HooksConfig struct {
	BeforeTable []HookConfig `yaml:"before_table"`
	AfterWipe   []HookConfig `yaml:"after_wipe"`
	AfterCycle  []HookConfig `yaml:"after_cycle"`
}

// HookConfig is one SQL hook: a statement, or a mapping with sql (a statement or a list of them, run
// in one transaction), required and changed_only.
type HookConfig struct {
	SQL         []string
	Required    bool
	ChangedOnly bool
}

// UnmarshalYAML reads either form, refusing unknown keys as the rest of the file does.
func (h *HookConfig) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		h.SQL = []string{n.Value}
		return nil
	case yaml.MappingNode:
	default:
		return fmt.Errorf("line %d: a hook is an SQL statement, or a mapping with sql, required and changed_only", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		var err error
		switch key.Value {
		case "sql":
			if val.Kind == yaml.ScalarNode {
				h.SQL = []string{val.Value}
			} else {
				err = val.Decode(&h.SQL)
			}
		case "required":
			err = val.Decode(&h.Required)
		case "changed_only":
			err = val.Decode(&h.ChangedOnly)
		default:
			return fmt.Errorf("line %d: field %s not found in a hook (sql, required, changed_only)", key.Line, key.Value)
		}
		if err != nil {
			return err
		}
	}
	if len(h.SQL) == 0 {
		return fmt.Errorf("line %d: a hook without sql", n.Line)
	}
	return nil
}

// WebhookConfig is one webhook endpoint.
type WebhookConfig struct {
	URL string `yaml:"url"`
	// Secret keys the HMAC-SHA256 signature; write it as ${NAME} to take it from the environment.
	Secret string `yaml:"secret"`
	// Events are the events the endpoint receives (default all three).
	Events      []string      `yaml:"events"`
	Timeout     time.Duration `yaml:"timeout"`
	Required    bool          `yaml:"required"`
	ChangedOnly bool          `yaml:"changed_only"`
}

// WebhookDeliveryConfig tunes the delivery queue (defaults in package webhook).
type WebhookDeliveryConfig struct {
	Queue      int           `yaml:"queue"`
	Workers    int           `yaml:"workers"`
	Attempts   int           `yaml:"attempts"`
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// CAFile is a PEM file of certificate authorities to trust for webhook endpoints instead of the
	// system's (a partner's private CA).
	CAFile string `yaml:"ca_file"`
}

// AdminConfig is the status page's access.
type AdminConfig struct {
	// Enabled turns the admin listener on, at Listen (default 127.0.0.1:8081).
	Enabled bool `yaml:"enabled"`
	// Listen is the admin listener's address; setting it turns the listener on. An address that is not
	// loopback needs Token.
	Listen string `yaml:"listen"`
	// Token, when set, is required on the admin listener (a bearer token, or the password of HTTP Basic
	// authentication, so that a browser can open the page), and serves the page on the main listener
	// too, at /status.
	Token string `yaml:"token"`
}

// defaultAdminListen is the admin listener's address when it is enabled without one: loopback.
const defaultAdminListen = "127.0.0.1:8081"

// defaultDataDir is where the configuration-less service keeps its SQLite mirrors and its key.
const defaultDataDir = "./data"

// Defaults of the connection limits that only serve applies (the protocol package has the others).
const (
	// defaultMaxConnections leaves room for SuperOffice's kept-alive connections next to
	// protocol.DefaultMaxCalls calls, at about 20 KB each.
	defaultMaxConnections = 256
	// defaultHeaderTimeout is the time a request has, from its first byte, for its HTTP headers and its
	// SOAP envelope up to the token: seconds, since it is all an unauthenticated caller gets.
	defaultHeaderTimeout = 10 * time.Second
)

// defaultConfig is the configuration of a service started without a file: SQLite mirrors under
// ./data for every tenant, SuperOffice's production certificates, and a generated application key.
func defaultConfig() *Config {
	c := &Config{}
	c.applyDefaults()
	c.Default = &RouteConfig{Dialect: "sqlite", DSN: defaultDataDir + "/{ctx}.db"}
	return c
}

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.SuperOffice.Certificates == "" {
		c.SuperOffice.Certificates = "production"
	}
	if c.SuperOffice.ClockSkew == 0 {
		c.SuperOffice.ClockSkew = protocol.DefaultSkew
	}
	if c.SuperOffice.MaxTokenLifetime == 0 {
		c.SuperOffice.MaxTokenLifetime = protocol.DefaultMaxLifetime
	}
	if c.Limits.MaxBodyBytes == 0 {
		c.Limits.MaxBodyBytes = protocol.DefaultMaxBodyBytes
	}
	if c.Limits.MaxHeaderBytes == 0 {
		c.Limits.MaxHeaderBytes = protocol.DefaultMaxHeaderSize
	}
	if c.Limits.MaxValueBytes == 0 {
		c.Limits.MaxValueBytes = c.Limits.MaxBodyBytes
	}
	if c.Limits.MaxCalls == 0 {
		c.Limits.MaxCalls = protocol.DefaultMaxCalls
	}
	if c.Limits.MaxConnections == 0 {
		c.Limits.MaxConnections = defaultMaxConnections
	}
	if c.Limits.HeaderTimeout == 0 {
		c.Limits.HeaderTimeout = defaultHeaderTimeout
	}
	if c.Limits.ReadTimeout == 0 {
		c.Limits.ReadTimeout = protocol.DefaultReadTimeout
	}
	if c.Limits.WriteTimeout == 0 {
		c.Limits.WriteTimeout = 30 * time.Minute
	}
	if c.Limits.ShutdownPeriod == 0 {
		c.Limits.ShutdownPeriod = 5 * time.Minute
	}
	d := &c.Databases
	if d.ConnectTimeout == 0 {
		d.ConnectTimeout = dialect.DefaultConnectTimeout
	}
	if d.MetaTimeout == 0 {
		d.MetaTimeout = engine.DefaultMetaTimeout
	}
	if d.MaxServerConns == 0 {
		d.MaxServerConns = engine.DefaultMaxServerConns
	}
	if d.IdleConnTimeout == 0 {
		d.IdleConnTimeout = dialect.DefaultIdleTimeout
	}
	if d.IdleTenantTimeout == 0 {
		d.IdleTenantTimeout = engine.DefaultIdleTenantTimeout
	}
	if c.Admin.Enabled && c.Admin.Listen == "" {
		c.Admin.Listen = defaultAdminListen
	}
	if c.Readiness.Cache == 0 {
		c.Readiness.Cache = 5 * time.Second
	}
	if c.Readiness.Timeout == 0 {
		c.Readiness.Timeout = 2 * time.Second
	}
}

// errNoClientID explains the one setting serve cannot guess.
var errNoClientID = errors.New("no application client id: set application.client_id in the configuration, " +
	"--client-id or MIRRORSINK_CLIENT_ID to your application's Client ID, which SuperOffice shows where the " +
	"application is registered (its developer portal, dev.superoffice.com). Every token must be addressed to " +
	"it: without it, tokens SuperOffice issued to any other partner's application would be accepted")

// validate checks what applyDefaults cannot supply and the settings that contradict each other.
func (c *Config) validate() error {
	if strings.TrimSpace(c.Application.ClientID) == "" {
		return errNoClientID
	}
	l := c.Limits
	for _, v := range []struct {
		name string
		n    int64
	}{
		{"limits.max_body_bytes", l.MaxBodyBytes}, {"limits.max_header_bytes", int64(l.MaxHeaderBytes)},
		{"limits.max_value_bytes", l.MaxValueBytes}, {"limits.max_calls", int64(l.MaxCalls)},
		{"limits.max_connections", int64(l.MaxConnections)}, {"limits.header_timeout", int64(l.HeaderTimeout)},
		{"limits.read_timeout", int64(l.ReadTimeout)}, {"superoffice.max_token_lifetime", int64(c.SuperOffice.MaxTokenLifetime)},
		{"databases.connect_timeout", int64(c.Databases.ConnectTimeout)}, {"databases.meta_timeout", int64(c.Databases.MetaTimeout)},
		{"databases.max_server_conns", int64(c.Databases.MaxServerConns)}, {"databases.idle_conn_timeout", int64(c.Databases.IdleConnTimeout)},
		{"databases.idle_tenant_timeout", int64(c.Databases.IdleTenantTimeout)},
	} {
		if v.n < 0 {
			return fmt.Errorf("configuration: %s must not be negative", v.name)
		}
	}
	if c.Admin.Listen != "" && expandEnv(c.Admin.Token) == "" {
		host, _, err := net.SplitHostPort(c.Admin.Listen)
		if err != nil {
			return fmt.Errorf("configuration: admin.listen %q: %w", c.Admin.Listen, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("configuration: admin.listen %s is not a loopback address: set admin.token, or listen on 127.0.0.1", c.Admin.Listen)
		}
	}
	if l.MaxValueBytes > l.MaxBodyBytes {
		return fmt.Errorf("configuration: limits.max_value_bytes (%d) exceeds limits.max_body_bytes (%d): no value can be larger than the call that carries it",
			l.MaxValueBytes, l.MaxBodyBytes)
	}
	return c.validateRoutes()
}

// validateRoutes checks what the engine cannot see of the routes' servers: both forms at once, and
// named servers without {server} in the dsn.
func (c *Config) validateRoutes() error {
	check := func(what string, r RouteConfig) error {
		switch {
		case len(r.Servers.List) > 0 && len(r.Servers.Named) > 0:
			return fmt.Errorf("configuration: %s: servers is either a list of DSNs or a map of names", what)
		case len(r.Servers.List) > 0 && r.DSN != "":
			return fmt.Errorf("configuration: %s: it has both a dsn and a list of servers; with a list, each server is a DSN "+
				"(or name the servers and put {server} in dsn)", what)
		case len(r.Servers.Named) > 0 && !strings.Contains(r.DSN, "{server}"):
			return fmt.Errorf("configuration: %s: its servers are named, but its dsn has no {server} for their address", what)
		case r.JournalKeep != "" && !r.Journal:
			return fmt.Errorf("configuration: %s: journal_keep is set, but the journal is off (journal: true turns it on)", what)
		}
		if _, err := r.journalKeep(); err != nil {
			return fmt.Errorf("configuration: %s: %w", what, err)
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(c.Tenants)) {
		if err := check("tenant "+name, c.Tenants[name]); err != nil {
			return err
		}
	}
	if c.Default != nil {
		return check("default route", *c.Default)
	}
	return nil
}

// loadConfig reads the file at path; an empty path (and no MIRRORSINK_CONFIG) gives defaultConfig.
func loadConfig(path string) (*Config, error) {
	if path == "" {
		path = os.Getenv("MIRRORSINK_CONFIG")
	}
	if path == "" {
		return defaultConfig(), nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	c := &Config{}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	c.applyDefaults()
	if len(c.Tenants) == 0 && c.Default == nil {
		return nil, fmt.Errorf("configuration %s: no tenants and no default route: no tenant could be served", path)
	}
	if err := c.validateRoutes(); err != nil {
		return nil, err
	}
	return c, nil
}

// journalKeep is the route's journal retention: journal_keep, or engine.DefaultJournalKeep.
func (r RouteConfig) journalKeep() (dialect.JournalRetention, error) {
	if r.JournalKeep == "" {
		return engine.DefaultJournalKeep, nil
	}
	return engine.ParseJournalKeep(r.JournalKeep)
}

// engineOptions turns the configuration into the engine's options.
func (c *Config) engineOptions() engine.Options {
	route := func(r RouteConfig) engine.Route {
		out := engine.Route{Dialect: r.Dialect, DSN: expandEnv(r.DSN), Schema: r.Schema, MaxConns: r.MaxConns, Paused: r.Paused,
			Hooks: r.Hooks.engine(), Pins: r.Pins, Layout: engine.Layout(r.Layout), TenantColumn: r.TenantColumn,
			Deletes: engine.Deletes(r.Deletes), MirroredAt: r.MirroredAt, DeletedAtColumn: r.DeletedAtColumn, MirroredAtColumn: r.MirroredAtColumn,
			Journal: r.Journal}
		if r.Journal {
			out.JournalKeep, _ = r.journalKeep() // checked by validateRoutes
		}
		if len(r.Tables) > 0 {
			out.Tables = make(map[string]engine.TableOptions, len(r.Tables))
			for name, tc := range r.Tables {
				out.Tables[name] = engine.TableOptions{Deletes: engine.Deletes(tc.Deletes), MirroredAt: tc.MirroredAt}
			}
		}
		for _, dsn := range r.Servers.List {
			out.Servers = append(out.Servers, engine.Server{DSN: expandEnv(dsn)})
		}
		if len(r.Servers.Named) > 0 {
			// A dsn without {server} is refused by validate.
			out.Servers, _ = engine.NamedServers(out.DSN, r.Servers.Named)
			out.DSN = ""
		}
		return out
	}
	opts := engine.Options{
		Tenants:           map[string]engine.Route{},
		Keys:              c.Keys,
		KeepMissingTables: c.KeepMissingTables,
		SchemaWorkers:     c.Limits.SchemaWorkers,
		ConnectTimeout:    c.Databases.ConnectTimeout,
		MetaTimeout:       c.Databases.MetaTimeout,
		MaxServerConns:    c.Databases.MaxServerConns,
		IdleConnTimeout:   c.Databases.IdleConnTimeout,
		IdleTenantTimeout: c.Databases.IdleTenantTimeout,
		Hooks:             c.Hooks.engine(),
		FailureLog:        c.FailureLog,
	}
	for name, r := range c.Tenants {
		opts.Tenants[name] = route(r)
	}
	if c.Default != nil {
		d := route(*c.Default)
		opts.Default = &d
	}
	return opts
}

func (h HooksConfig) engine() engine.Hooks {
	conv := func(hs []HookConfig) []engine.Hook {
		out := make([]engine.Hook, len(hs))
		for i, x := range hs {
			out[i] = engine.Hook{Statements: x.SQL, Required: x.Required, ChangedOnly: x.ChangedOnly}
		}
		return out
	}
	return engine.Hooks{BeforeTable: conv(h.BeforeTable), AfterWipe: conv(h.AfterWipe), AfterCycle: conv(h.AfterCycle)}
}

// webhooks returns the webhook dispatcher's options; ok is false when no endpoint is configured.
func (c *Config) webhooks() (opts webhook.Options, ok bool, err error) {
	conv := func(ws []WebhookConfig) []webhook.Endpoint {
		out := make([]webhook.Endpoint, len(ws))
		for i, w := range ws {
			ep := webhook.Endpoint{URL: expandEnv(w.URL), Secret: expandEnv(w.Secret), Timeout: w.Timeout,
				Required: w.Required, ChangedOnly: w.ChangedOnly}
			for _, ev := range w.Events {
				ep.Events = append(ep.Events, engine.EventKind(ev))
			}
			out[i] = ep
		}
		return out
	}
	d := c.WebhookDelivery
	opts = webhook.Options{
		Endpoints: conv(c.Webhooks), Tenants: map[string][]webhook.Endpoint{},
		Queue: d.Queue, Workers: d.Workers, Attempts: d.Attempts, Backoff: d.Backoff, MaxBackoff: d.MaxBackoff,
		UserAgent: "mirrorsink/" + version,
	}
	n := len(c.Webhooks)
	for name, r := range c.Tenants {
		opts.Tenants[name] = conv(r.Webhooks)
		n += len(r.Webhooks)
	}
	if c.Default != nil {
		opts.Default = conv(c.Default.Webhooks)
		n += len(c.Default.Webhooks)
	}
	if d.CAFile != "" {
		pem, err := os.ReadFile(expandEnv(d.CAFile))
		if err != nil {
			return opts, false, fmt.Errorf("webhook_delivery.ca_file: %w", err)
		}
		opts.RootCAs = x509.NewCertPool()
		if !opts.RootCAs.AppendCertsFromPEM(pem) {
			return opts, false, fmt.Errorf("webhook_delivery.ca_file %s holds no PEM certificate", d.CAFile)
		}
	}
	return opts, n > 0, nil
}

// expandEnv replaces ${NAME} with the environment variable NAME. Unlike os.ExpandEnv it leaves a bare
// $ alone, since passwords in DSNs may contain one.
func expandEnv(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(os.Getenv(s[i+2 : i+j]))
		s = s[i+j+1:]
	}
}

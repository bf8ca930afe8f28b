// Package engine carries out SuperOffice's mirroring rules (PROTOCOL.md) against any dialect: tenant
// routing, the schema model and its hash, reconciliation plans, the metadata table, batch application
// with its LSN in one transaction, locks, hooks and cycle records. It knows nothing about XML (package
// protocol decodes the wire) and nothing about any one SQL dialect (it asks a dialect.Dialect).
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
)

// Route says where a tenant's mirror lives.
type Route struct {
	// Dialect is a registered dialect name: postgres, mysql, sqlserver, sqlite.
	Dialect string
	// DSN is the connection string; "{ctx}" in it is replaced by the tenant, so that each tenant gets a
	// database (or, for SQLite, a file) of its own.
	DSN string
	// Schema, when set, puts the tenant into this schema of the DSN's database instead ("{ctx}" replaced
	// too). Only dialects with schemas accept it.
	Schema string
	// MaxConns bounds the tenant's connection pool (0: the dialect's default).
	MaxConns int
	// Paused tenants are asked to skip their cycles (Authenticate answers doNotReplicate), and every
	// call that would write to their mirror is refused. It pins a pause in the configuration; the
	// pause command stores one in the mirror instead (Engine.Pause).
	Paused bool
	// Hooks are this route's SQL hooks, run after the global ones (Options.Hooks).
	Hooks Hooks
	// Servers, when set, spreads the route's tenants over several database servers (then DSN is
	// empty): each tenant's mirror lives on the server that Place chooses, and each server has a DSN
	// template of its own (see NamedServers for "{server}" in one template).
	Servers []Server
	// Pins keeps tenants on the named servers whatever the hash says (tenant → server name).
	Pins map[string]string
	// Layout is how the route lays out its tenants' mirrors: a mirror per tenant (the default), or
	// FanIn, every tenant in one schema (see fanin.go).
	Layout Layout
	// TenantColumn names the tenant column of the fan-in layout (default DefaultTenantColumn).
	TenantColumn string
	// Deletes is how the route's tables take a row the source deleted: HardDeletes (the default)
	// removes it, SoftDeletes keeps it, marked in the soft-delete column (see added.go).
	Deletes Deletes
	// MirroredAt adds the mirrored-at column to the route's tables: when mirrorsink last wrote each row.
	MirroredAt bool
	// DeletedAtColumn and MirroredAtColumn name the columns mirrorsink adds (defaults
	// DefaultDeletedAtColumn and DefaultMirroredAtColumn).
	DeletedAtColumn, MirroredAtColumn string
	// Tables overrides Deletes and MirroredAt for the tables it names, as the source spells them.
	Tables map[string]TableOptions
	// Journal keeps a change journal of every change applied to the route's tenants' mirrors, in the
	// transactions that apply them (journal.go, docs/ANALYTICS.md). JournalKeep is its retention,
	// applied after each cycle; zero keeps everything.
	Journal     bool
	JournalKeep dialect.JournalRetention
}

// Options configure an Engine.
type Options struct {
	// Tenants routes named tenants.
	Tenants map[string]Route
	// Default routes every tenant not named in Tenants; nil rejects them.
	Default *Route
	// Keys overrides the primary key of tables by name (the default key is the first column).
	Keys map[string][]string
	// KeepMissingTables keeps tables that vanish from the TableSchema request; by default they are
	// dropped, as they were deleted at the source.
	KeepMissingTables bool
	// SchemaWorkers bounds how many tables one TableSchema call creates or changes at once (default 4).
	SchemaWorkers int
	// ConnectTimeout bounds every new connection to a tenant's database, when its mirror opens and
	// whenever its pool grows later (default 10 s); opening a mirror, which also migrates mirrorsink's
	// own tables, has MetaTimeout more. A tenant whose database does not answer fails its own calls
	// within it, and never holds up another tenant's.
	ConnectTimeout time.Duration
	// MetaTimeout bounds each transaction that only reads or writes mirrorsink's own tables (default
	// 30 s), so that a stalled server fails the call instead of holding it.
	MetaTimeout time.Duration
	// MaxServerConns bounds the connections open to one database server (a host and port, or a
	// socket) across every tenant mirrored on it (default 40): a call that needs another connection
	// while the server is at the bound waits, under its own deadline, for one to close; tenants' idle
	// connections are closed for it.
	MaxServerConns int
	// IdleConnTimeout is how long a tenant's pool keeps an unused connection (default 1 minute).
	IdleConnTimeout time.Duration
	// IdleTenantTimeout closes a tenant's mirror after this long without a call (default 10 minutes);
	// the next call opens it again.
	IdleTenantTimeout time.Duration
	// Hooks are the SQL hooks of every tenant (events.go).
	Hooks Hooks
	// Notifier, when set, receives every event after its SQL hooks (the webhooks).
	Notifier Notifier
	// FailureLog is how many failed calls and hooks each tenant's mirror keeps (default 1,000).
	FailureLog int
	Logger     *slog.Logger
	// Now is the clock (tests pin it).
	Now func() time.Time
}

// Engine implements contract.Handler. It is safe for concurrent use: calls for different tenants and
// tables run in parallel, and one (tenant, table) is applied by one call at a time, guarded by a
// process mutex and by the dialect's database lock (so that replicas of mirrorsink exclude each other).
type Engine struct {
	opts    Options
	log     *slog.Logger
	metrics *Metrics

	mu      sync.Mutex
	tenants map[string]*tenantSlot

	gatesMu sync.Mutex
	gates   map[string]*dialect.ConnGate // by database server (dialect.Dialect.Server)

	locksMu sync.Mutex
	locks   map[string]*tableMutex

	ops opsState // pause, failures, known tenants, events (pause.go, failures.go)
}

// tableMutex is the process lock of one (tenant, table): a one-slot channel, so that a waiter can give
// up when its call's context ends. It is removed from the map when no call holds or waits for it, so
// that names sent once do not stay in memory.
type tableMutex struct {
	slot chan struct{}
	refs int
}

var _ contract.Handler = (*Engine)(nil)

// tenant is one open tenant mirror.
type tenant struct {
	name    string
	route   Route
	dialect dialect.Dialect
	store   dialect.Store
	names   dialect.Namer
	own     dialect.MetaTableNames
	slot    *tenantSlot
	// fanIn is set when the tenant shares its schema with the route's other tenants (FanIn).
	fanIn *fanIn

	modelsMu sync.Mutex
	models   map[string]*tableModel // by table and schema hash: parsed stored schemas

	// guess is the table the tenant's next RowData batch is probably for (see stream.go).
	guess tableGuess
}

// migrationsLock is the lock name under which a tenant's own tables are migrated. It cannot clash with
// a table's lock in a harmful way: at worst the two serialise.
const migrationsLock = "#migrations"

// New validates the options and returns an Engine. Tenant mirrors are opened on first use.
func New(opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SchemaWorkers <= 0 {
		opts.SchemaWorkers = 4
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = dialect.DefaultConnectTimeout
	}
	if opts.MetaTimeout <= 0 {
		opts.MetaTimeout = DefaultMetaTimeout
	}
	if opts.MaxServerConns <= 0 {
		opts.MaxServerConns = DefaultMaxServerConns
	}
	if opts.IdleConnTimeout <= 0 {
		opts.IdleConnTimeout = dialect.DefaultIdleTimeout
	}
	if opts.IdleTenantTimeout <= 0 {
		opts.IdleTenantTimeout = DefaultIdleTenantTimeout
	}
	if opts.FailureLog <= 0 {
		opts.FailureLog = DefaultFailureLog
	}
	if err := validateHooks(opts); err != nil {
		return nil, err
	}
	// The servers of a list of DSNs are named as their dialect names their database server.
	opts.Tenants = maps.Clone(opts.Tenants)
	for name, r := range opts.Tenants {
		if err := r.nameServers(); err != nil {
			return nil, fmt.Errorf("tenant %s: %w", name, err)
		}
		opts.Tenants[name] = r
	}
	if opts.Default != nil {
		d := *opts.Default
		if err := d.nameServers(); err != nil {
			return nil, fmt.Errorf("default route: %w", err)
		}
		opts.Default = &d
	}
	check := func(what string, r Route) error {
		d, err := dialect.Lookup(r.Dialect)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if r.DSN == "" && len(r.Servers) == 0 {
			return fmt.Errorf("%s: no dsn", what)
		}
		if err := r.checkServers(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := r.checkLayout(d); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := r.checkAdded(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	for name, r := range opts.Tenants {
		if !contract.ValidTenant(name) {
			return nil, fmt.Errorf("tenant %q: a tenant name matches ^[A-Za-z0-9_]{1,50}$", name)
		}
		if err := check("tenant "+name, r); err != nil {
			return nil, err
		}
	}
	if opts.Default != nil {
		if err := check("default route", *opts.Default); err != nil {
			return nil, err
		}
		if !opts.Default.perTenant() && opts.Default.Layout != FanIn {
			return nil, errors.New("default route: its dsn (or schema) has no {ctx}, so every tenant would share one mirror " +
				"and each tenant's TableSchema would drop the others' tables; put {ctx} in the database name, file name or schema, " +
				"or set layout: fan_in to put every tenant's rows into shared tables with a tenant column")
		}
	}
	// Two named tenants must not share a mirror either, nor a named tenant the mirror that the default
	// route gives another tenant; only fan-in routes share theirs, with each other.
	mirrors := map[[2]string]string{}
	fanIn := map[[2]string]bool{}
	for _, name := range slices.Sorted(maps.Keys(opts.Tenants)) {
		r := opts.Tenants[name]
		dsn, schema := r.Resolve(name)
		key := [2]string{dsn, schema}
		if other, dup := mirrors[key]; dup && !(r.Layout == FanIn && fanIn[key]) {
			return nil, fmt.Errorf("tenants %s and %s: their routes name the same mirror (the same dsn and schema); each tenant needs its own, e.g. with {ctx} in the dsn, "+
				"unless both routes set layout: fan_in", other, name)
		}
		if _, dup := mirrors[key]; !dup {
			mirrors[key], fanIn[key] = name, r.Layout == FanIn
		}
		if d := opts.Default; d != nil && d.Dialect == r.Dialect && d.Layout != FanIn {
			if other, ok := defaultTenantOf(*d, dsn, schema); ok && other != name {
				return nil, fmt.Errorf("tenant %s: its route names the mirror that the default route gives tenant %s; give it a mirror of its own", name, other)
			}
		}
	}
	if err := checkSharedSchemas(opts); err != nil {
		return nil, err
	}
	e := &Engine{
		opts:    opts,
		log:     opts.Logger,
		metrics: newMetrics(),
		tenants: map[string]*tenantSlot{},
		gates:   map[string]*dialect.ConnGate{},
		locks:   map[string]*tableMutex{},
	}
	e.metrics.servers = e.serverStats
	return e, nil
}

// Defaults of Options.
const (
	// DefaultMaxServerConns is Options.MaxServerConns when it is 0: well below PostgreSQL's default
	// max_connections (100) and MySQL's (151), leaving room for a second replica and the partner's own
	// clients.
	DefaultMaxServerConns = 40
	// DefaultMetaTimeout is Options.MetaTimeout when it is 0.
	DefaultMetaTimeout = 30 * time.Second
	// DefaultIdleTenantTimeout is Options.IdleTenantTimeout when it is 0: longer than the usual
	// interval between a tenant's cycles, so that a tenant's mirror stays open between them.
	DefaultIdleTenantTimeout = 10 * time.Minute
)

// Metrics returns the engine's counters.
func (e *Engine) Metrics() *Metrics { return e.metrics }

// RouteFor returns the route of a tenant, or contract.ErrUnknownTenant.
func (e *Engine) RouteFor(name string) (Route, error) {
	if !contract.ValidTenant(name) {
		return Route{}, fmt.Errorf("tenant %q: %w (a tenant name matches ^[A-Za-z0-9_]{1,50}$)", name, contract.ErrUnknownTenant)
	}
	if r, ok := e.opts.Tenants[name]; ok {
		return r, nil
	}
	if e.opts.Default != nil {
		return *e.opts.Default, nil
	}
	return Route{}, fmt.Errorf("tenant %q: %w", name, contract.ErrUnknownTenant)
}

// ErrPaused is returned (wrapped) for a call that would write to the mirror of a paused tenant.
var ErrPaused = errors.New("the tenant is paused by the operator of this mirror; nothing was written")

// writable opens the tenant's mirror for a call that writes to it, refusing a paused tenant; the
// caller releases it.
func (e *Engine) writable(ctx context.Context, name string) (*tenant, error) {
	route, err := e.RouteFor(name)
	if err != nil {
		return nil, err
	}
	if route.Paused {
		return nil, fmt.Errorf("tenant %s: %w", name, ErrPaused)
	}
	t, err := e.tenant(ctx, name)
	if err != nil {
		e.noteOpenFailure(ctx, name, err)
		return nil, err
	}
	e.noteTenant(name)
	if err := e.refuseIfPaused(ctx, t); err != nil {
		e.release(t, &err)
		return nil, err
	}
	return t, nil
}

// ctxSpellings are the spellings of the tenant placeholder: URL builders (net/url, go-sql-driver's
// FormatDSN) escape the braces of "{ctx}", so the escaped forms stand for the tenant too.
var ctxSpellings = []string{"{ctx}", "%7Bctx%7D", "%7bctx%7d"}

// defaultTenantOf reports which tenant the route d would give the mirror (dsn, schema), if any: the
// text that {ctx} stands for where everything around it matches (on any of its servers).
func defaultTenantOf(d Route, dsn, schema string) (string, bool) {
	for _, tmpl := range d.dsnTemplates() {
		tenant, ok := templateTenant(tmpl, d.Schema, dsn, schema)
		if !ok {
			continue
		}
		// With servers, the tenant must also be placed on the server of this template.
		if s, placed := d.Place(tenant); !placed || s.DSN == tmpl {
			return tenant, true
		}
	}
	return "", false
}

// templateTenant reports which tenant the DSN and schema templates give the mirror (dsn, schema).
func templateTenant(dsnTmpl, schemaTmpl, dsn, schema string) (string, bool) {
	const probe = "\x00ctx\x00"
	pd, ps := expand(dsnTmpl, probe), expand(schemaTmpl, probe)
	var tenant string
	match := func(pattern, got string) bool {
		before, after, found := strings.Cut(pattern, probe)
		if !found {
			return pattern == got
		}
		if !strings.HasPrefix(got, before) || !strings.HasSuffix(got, after) || len(got) < len(before)+len(after) {
			return false
		}
		t := got[len(before) : len(got)-len(after)]
		if tenant != "" && t != tenant {
			return false
		}
		tenant = t
		return contract.ValidTenant(t)
	}
	if !match(pd, dsn) || !match(ps, schema) {
		return "", false
	}
	return tenant, tenant != ""
}

// perTenant reports whether the route gives each tenant a mirror of its own ({ctx} in the DSN of
// each of its servers, or in its schema).
func (r Route) perTenant() bool {
	if expand(r.Schema, "a") != expand(r.Schema, "b") {
		return true
	}
	for _, tmpl := range r.dsnTemplates() {
		if expand(tmpl, "a") == expand(tmpl, "b") {
			return false
		}
	}
	return true
}

// Resolve returns the route's DSN and schema for one tenant, the placeholder replaced; with Servers,
// the DSN is that of the server the tenant is placed on.
func (r Route) Resolve(tenant string) (dsn, schema string) {
	tmpl := r.DSN
	if s, ok := r.Place(tenant); ok {
		tmpl = s.DSN
	}
	return expand(tmpl, tenant), expand(r.Schema, tenant)
}

func expand(template, tenant string) string {
	for _, s := range ctxSpellings {
		template = strings.ReplaceAll(template, s, tenant)
	}
	return template
}

// isOwnTable reports whether a source table name is, to the database, one of mirrorsink's own tables.
func (t *tenant) isOwnTable(name string) bool {
	f := t.names.Fold(name)
	for _, own := range t.own.All() {
		if strings.EqualFold(name, own) || f == t.names.Fold(own) {
			return true
		}
	}
	return false
}

// migrate creates or upgrades mirrorsink's own tables, under a lock so that replicas starting together
// do not race.
func (e *Engine) migrate(ctx context.Context, t *tenant) error {
	err := e.inTx(ctx, t, migrationsLock, dialect.Durable, func(tx dialect.Tx) error {
		// Without its metadata table the mirror's state is gone (a new mirror, or one whose table was
		// dropped by hand). The first migration would re-create the table as it first was, while the
		// record of migrations said that the later ones had run: the record and the cycles go too, and
		// every migration runs on the new tables.
		ok, err := tx.Tables().Exists(ctx, t.own.Meta)
		if err != nil {
			return err
		}
		if !ok {
			for _, name := range []string{t.own.Cycles, t.own.Migrations} {
				if _, err := tx.Tables().Drop(ctx, name); err != nil {
					return err
				}
			}
		}
		return tx.Meta().Migrate(ctx, e.now())
	})
	if err != nil {
		return fmt.Errorf("tenant %s: migrate mirrorsink's own tables: %w", t.name, err)
	}
	return nil
}

func (e *Engine) now() time.Time { return e.opts.Now().UTC() }

// lockTable takes the process lock of one (tenant, table) and returns its release; it gives up when ctx
// ends, so that a call waiting behind a stalled one fails within its own deadline.
func (e *Engine) lockTable(ctx context.Context, tenant, table string) (unlock func(), err error) {
	m, forget := e.tableMutex(tenant, table)
	select {
	case m.slot <- struct{}{}:
		return func() { <-m.slot; forget() }, nil
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("table %s: waiting for another call on the same table: %w", shortName(table), ctx.Err())
	}
}

// tryLockTable takes the process lock of one (tenant, table) if no call holds it, and returns its
// release; ok is false (and nothing is held) when another call does.
func (e *Engine) tryLockTable(tenant, table string) (unlock func(), ok bool) {
	m, forget := e.tableMutex(tenant, table)
	select {
	case m.slot <- struct{}{}:
		return func() { <-m.slot; forget() }, true
	default:
		forget()
		return nil, false
	}
}

// tableMutex returns the process lock of one (tenant, table), counting the caller as one of its users
// until it calls forget.
func (e *Engine) tableMutex(tenant, table string) (m *tableMutex, forget func()) {
	key := tenant + "\x00" + table
	e.locksMu.Lock()
	m, ok := e.locks[key]
	if !ok {
		m = &tableMutex{slot: make(chan struct{}, 1)}
		e.locks[key] = m
	}
	m.refs++
	e.locksMu.Unlock()
	return m, func() {
		e.locksMu.Lock()
		if m.refs--; m.refs == 0 {
			delete(e.locks, key)
		}
		e.locksMu.Unlock()
	}
}

// LockedNames returns how many (tenant, table) process locks exist now: held, waited for, or leaked.
// Tests use it to prove that names are not kept. It first lets the failure records under way finish,
// since each holds a lock while it writes.
func (e *Engine) LockedNames() int {
	e.awaitRecordings(context.Background(), "")
	e.locksMu.Lock()
	defer e.locksMu.Unlock()
	return len(e.locks)
}

// checkTableName refuses a table name that the tenant's mirror cannot hold, before any state is kept
// for it. The message does not repeat a huge name in full.
func (t *tenant) checkTableName(name string) error {
	if name == "" {
		return errors.New("a table has no name")
	}
	if _, err := t.names.Table(name); err != nil {
		return fmt.Errorf("table %s: %w", shortName(name), err)
	}
	return nil
}

// shortName quotes a name for a message, cut to 80 bytes on a character boundary.
func shortName(name string) string {
	if len(name) <= 80 {
		return strconv.Quote(name)
	}
	cut := 80
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return strconv.Quote(name[:cut]) + fmt.Sprintf("… (%d bytes)", len(name))
}

// begin starts a transaction, trying again a few times: a pooled connection may have died (a restarted
// server, a cut connection) since it was last used, and the pool discards it on the failed attempt.
func (e *Engine) begin(ctx context.Context, t *tenant) (dialect.Tx, error) {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("tenant %s: begin: %w", t.name, ctx.Err())
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		var tx dialect.Tx
		if tx, err = t.store.Begin(ctx); err == nil {
			return tx, nil
		}
		if ctx.Err() != nil || errors.Is(err, dialect.ErrMissing) || errors.Is(err, dialect.ErrConnectTimeout) {
			// A mirror that is gone, or a server that does not answer, will not be back in a second.
			break
		}
	}
	// The driver's message may name the server, the database and the user: it goes to the log, and
	// SuperOffice learns only that the mirror's database is unavailable.
	e.log.Error("cannot begin a transaction in the tenant's mirror", "tenant", t.name, "err", err)
	return nil, &unavailableError{tenant: t.name, cause: err}
}

// unavailableError is a mirror database that could not be reached. Its message holds no detail of the
// connection; errors.Is and errors.As still see the cause (a dialect's sentinel, a context error).
type unavailableError struct {
	tenant string
	cause  error
}

func (u *unavailableError) Error() string {
	return fmt.Sprintf("tenant %s: the mirror database is unavailable (see the service log)", u.tenant)
}

func (u *unavailableError) Unwrap() error { return u.cause }

// metaTx runs fn in a transaction that only reads or writes mirrorsink's own tables, bounded by
// MetaTimeout.
func (e *Engine) metaTx(ctx context.Context, t *tenant, fn func(ctx context.Context, tx dialect.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, e.opts.MetaTimeout)
	defer cancel()
	return e.inTx(ctx, t, "", dialect.Durable, func(tx dialect.Tx) error { return fn(ctx, tx) })
}

// inTx runs fn in one transaction that holds the lock of table (a table name, or one of the engine's
// own lock names), in this process and in the database; with an empty table it takes no lock. Nothing
// of fn is committed unless it returns nil; the commit has the durability d.
func (e *Engine) inTx(ctx context.Context, t *tenant, table string, d dialect.Durability, fn func(tx dialect.Tx) error) error {
	if table != "" {
		unlock, err := e.lockTable(ctx, t.name, table)
		if err != nil {
			return err
		}
		defer unlock()
	}
	return e.runTx(ctx, t, table, func(tx dialect.Tx) (dialect.Durability, error) { return d, fn(tx) })
}

// runTx is inTx for a caller that holds table's process lock already, and whose fn decides the
// commit's durability.
func (e *Engine) runTx(ctx context.Context, t *tenant, table string, fn func(tx dialect.Tx) (dialect.Durability, error)) (err error) {
	tx, err := e.begin(ctx, t)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil {
				e.log.Warn("rollback failed", "tenant", t.name, "table", table, "err", rbErr)
			}
		}
	}()
	if table != "" {
		if err := tx.Lock(ctx, t.lockKey(table)); err != nil {
			return fmt.Errorf("lock table %q: %w", table, err)
		}
	}
	d, err := fn(tx)
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx, d); err != nil {
		return fmt.Errorf("commit table %q: %w", table, err)
	}
	return nil
}

// lockKey is the database lock of one of the tenant's tables (or of one of the engine's own lock
// names). The tenants of a fan-in schema migrate their shared own tables under one lock.
func (t *tenant) lockKey(table string) string {
	if t.fanIn != nil && table == migrationsLock {
		return t.fanIn.lockKey + migrationsLock
	}
	return "mirrorsink/" + t.name + "/" + table
}

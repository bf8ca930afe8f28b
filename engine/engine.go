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
	"regexp"
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
	// call that would write to their mirror is refused.
	Paused bool
}

// Hooks are SQL statements run in a tenant's mirror after an event. Two placeholders stand for the
// event's table: "{table}" is replaced by the table's quoted (and, where the mirror needs it,
// qualified) identifier, for use where SQL wants a table, and "{table_literal}" by its name as a
// quoted string literal, for use where SQL wants a value (VALUES ('{table}') would be wrong: write
// VALUES ({table_literal})). A failing hook is logged and does not fail the call: the data change it
// follows is already committed.
type Hooks struct {
	AfterWipe  []string
	AfterCycle []string
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
	// ConnectTimeout bounds opening a tenant's mirror: connecting, creating its database and migrating
	// mirrorsink's own tables (default 10 s). A tenant whose database does not answer fails its own
	// calls within it, and never holds up another tenant's.
	ConnectTimeout time.Duration
	// MetaTimeout bounds each transaction that only reads or writes mirrorsink's own tables (default
	// 30 s), so that a stalled server fails the call instead of holding it.
	MetaTimeout time.Duration
	Hooks       Hooks
	Logger      *slog.Logger
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

	locksMu sync.Mutex
	locks   map[string]*tableMutex
}

// tableMutex is the process lock of one (tenant, table); it is removed from the map when no call holds
// or waits for it, so that names sent once do not stay in memory.
type tableMutex struct {
	sync.Mutex
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

	modelsMu sync.Mutex
	models   map[string]*tableModel // by table and schema hash: parsed stored schemas

	// guess is the table the tenant's next RowData batch is probably for (see stream.go).
	guess tableGuess
}

// migrationsLock is the lock name under which a tenant's own tables are migrated. It cannot clash with
// a table's lock in a harmful way: at worst the two serialise.
const migrationsLock = "#migrations"

var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,50}$`)

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
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.MetaTimeout <= 0 {
		opts.MetaTimeout = 30 * time.Second
	}
	check := func(what string, r Route) error {
		if _, err := dialect.Lookup(r.Dialect); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if r.DSN == "" {
			return fmt.Errorf("%s: no dsn", what)
		}
		return nil
	}
	for name, r := range opts.Tenants {
		if !tenantPattern.MatchString(name) {
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
		if !opts.Default.perTenant() {
			return nil, errors.New("default route: its dsn (or schema) has no {ctx}, so every tenant would share one mirror " +
				"and each tenant's TableSchema would drop the others' tables; put {ctx} in the database name, file name or schema")
		}
	}
	// Two named tenants must not share a mirror either.
	mirrors := map[[2]string]string{}
	for _, name := range slices.Sorted(maps.Keys(opts.Tenants)) {
		dsn, schema := opts.Tenants[name].Resolve(name)
		if other, dup := mirrors[[2]string{dsn, schema}]; dup {
			return nil, fmt.Errorf("tenants %s and %s: their routes name the same mirror (the same dsn and schema); each tenant needs its own, e.g. with {ctx} in the dsn", other, name)
		}
		mirrors[[2]string{dsn, schema}] = name
	}
	return &Engine{
		opts:    opts,
		log:     opts.Logger,
		metrics: newMetrics(),
		tenants: map[string]*tenantSlot{},
		locks:   map[string]*tableMutex{},
	}, nil
}

// Metrics returns the engine's counters.
func (e *Engine) Metrics() *Metrics { return e.metrics }

// RouteFor returns the route of a tenant, or contract.ErrUnknownTenant.
func (e *Engine) RouteFor(name string) (Route, error) {
	if !tenantPattern.MatchString(name) {
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

// writable opens the tenant's mirror for a call that writes to it, refusing a paused tenant.
func (e *Engine) writable(ctx context.Context, name string) (*tenant, error) {
	route, err := e.RouteFor(name)
	if err != nil {
		return nil, err
	}
	if route.Paused {
		return nil, fmt.Errorf("tenant %s: %w", name, ErrPaused)
	}
	return e.tenant(ctx, name)
}

// ctxSpellings are the spellings of the tenant placeholder: URL builders (net/url, go-sql-driver's
// FormatDSN) escape the braces of "{ctx}", so the escaped forms stand for the tenant too.
var ctxSpellings = []string{"{ctx}", "%7Bctx%7D", "%7bctx%7d"}

// perTenant reports whether the route gives each tenant a mirror of its own ({ctx} in its DSN or
// schema).
func (r Route) perTenant() bool {
	dsnA, schemaA := r.Resolve("a")
	dsnB, schemaB := r.Resolve("b")
	return dsnA != dsnB || schemaA != schemaB
}

// Resolve returns the route's DSN and schema for one tenant, the placeholder replaced.
func (r Route) Resolve(tenant string) (dsn, schema string) {
	return expand(r.DSN, tenant), expand(r.Schema, tenant)
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
		return tx.Meta().Migrate(ctx, e.now())
	})
	if err != nil {
		return fmt.Errorf("tenant %s: migrate mirrorsink's own tables: %w", t.name, err)
	}
	return nil
}

func (e *Engine) now() time.Time { return e.opts.Now().UTC() }

// lockTable takes the process mutex of one (tenant, table) and returns its release.
func (e *Engine) lockTable(tenant, table string) (unlock func()) {
	key, m := e.tableMutex(tenant, table)
	m.Lock()
	return func() { e.release(key, m, true) }
}

// tryLockTable takes the process mutex of one (tenant, table) if no call holds it, and returns its
// release; ok is false (and nothing is held) when another call does.
func (e *Engine) tryLockTable(tenant, table string) (unlock func(), ok bool) {
	key, m := e.tableMutex(tenant, table)
	if !m.TryLock() {
		e.release(key, m, false)
		return nil, false
	}
	return func() { e.release(key, m, true) }, true
}

// tableMutex returns the process mutex of one (tenant, table), counting the caller as one of its
// users until release.
func (e *Engine) tableMutex(tenant, table string) (string, *tableMutex) {
	key := tenant + "\x00" + table
	e.locksMu.Lock()
	defer e.locksMu.Unlock()
	m, ok := e.locks[key]
	if !ok {
		m = &tableMutex{}
		e.locks[key] = m
	}
	m.refs++
	return key, m
}

// release ends a use of a table mutex (unlocking it when held) and forgets the mutex when nobody
// uses it any more.
func (e *Engine) release(key string, m *tableMutex, held bool) {
	if held {
		m.Unlock()
	}
	e.locksMu.Lock()
	if m.refs--; m.refs == 0 {
		delete(e.locks, key)
	}
	e.locksMu.Unlock()
}

// LockedNames returns how many (tenant, table) process locks exist now: held, waited for, or leaked.
// Tests use it to prove that names are not kept.
func (e *Engine) LockedNames() int {
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
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("tenant %s: begin: %w", t.name, err)
}

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
		defer e.lockTable(t.name, table)()
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
		if err := tx.Lock(ctx, "mirrorsink/"+t.name+"/"+table); err != nil {
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

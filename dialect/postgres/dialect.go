// Package postgres is the PostgreSQL target of mirrorsink (pgx/v5), registered as "postgres".
//
// Storage: a tenant gets a database of its own, created on first use from the server's maintenance
// database, or, with OpenOptions.Schema, a schema of the DSN's database, created on first use (with
// OpenOptions.NoCreate, a missing database or schema fails with dialect.ErrMissing instead). Either
// way every statement names its tables qualified by that schema (without OpenOptions.Schema, the
// schema the DSN's search_path creates tables in, usually public), and a tenant schema is also every
// pooled connection's search_path, for the operator's hook statements. Replicas that open a new
// tenant at once all succeed.
//
// Types (docs/TYPES.md): every session runs in time zone UTC. datetime, datetime2 and smalldatetime
// are stored as naive timestamps, which the zone does not touch; datetimeoffset is stored as
// timestamptz, which keeps the instant but not the original offset (it reads back in UTC). Times are
// rounded half up to the microsecond. char(n) and nchar(n) become PostgreSQL char(n) (bpchar): values
// are blank-padded to n on storage and read back padded, as in SQL Server; trailing blanks are
// insignificant in comparisons and are dropped when a char value is cast to varchar or text. Text
// cannot hold U+0000: it is stored as U+FFFD, logged with table, column and key, and counted through
// OpenOptions.Events. Identifiers longer than 63 bytes are refused, never truncated.
//
// Writes: Rows().Insert sends binary COPY, encoded by the dialect itself (bulk.go, types.go) and
// inside a savepoint, so that a duplicate key leaves the transaction as it was. Upsert and Delete
// copy the rows into a temporary staging table and merge them with one INSERT … ON CONFLICT or
// DELETE … USING. Tables().Alter checks first whether the stored rows allow the changes (ErrRecreate
// when not) and makes them inside a savepoint; Count runs in one too. A failure of any other
// operation aborts the PostgreSQL transaction, and the caller must roll it back. Rows().Analyze runs
// ANALYZE: a table loaded by COPY alone has no statistics, and would be planned as if it were empty.
//
// Concurrency: each Store has a small pool of its own (at most OpenOptions.MaxConns connections, 4 by
// default, of which it keeps at most dialect.MaxIdleConns idle, each closed by a timer after
// OpenOptions.IdleTimeout, as hundreds of tenants' idle connections would add up to the server's
// max_connections). Every new connection, the pool's and those that create the database or schema,
// takes a slot of OpenOptions.Gate first and must be made within OpenOptions.ConnectTimeout (or the
// DSN's shorter connect_timeout); while a caller of another tenant waits for a slot, the pool closes
// its idle connections instead of keeping them. A database, schema or table that does not exist
// (SQLSTATE 3D000, 3F000, 42P01) fails with dialect.ErrMissing. Tx.Lock takes a transaction-scoped
// advisory lock on a 64-bit hash of the key. A Relaxed commit sets synchronous_commit off for its
// transaction.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/sqlmeta"
)

func init() { dialect.Register(Dialect{}) }

var (
	_ dialect.Dialect = Dialect{}
	_ dialect.Store   = (*Store)(nil)
)

// Dialect is the PostgreSQL dialect.Dialect.
type Dialect struct{}

// Name returns "postgres".
func (Dialect) Name() string { return "postgres" }

// Capabilities reports microsecond times, NUL replaced by U+FFFD, no minimum year beyond SQL Server's,
// schemas, and transactional DDL and TRUNCATE.
func (Dialect) Capabilities() dialect.Capabilities {
	return dialect.Capabilities{
		TimeDigits:            6,
		ReplacesNUL:           true,
		MinYear:               1,
		Schemas:               true,
		TransactionalDDL:      true,
		TransactionalTruncate: true,
		FanIn:                 true,
	}
}

// SQLSTATE codes the dialect acts on.
const (
	codeInvalidCatalog    = "3D000" // the database does not exist
	codeInvalidSchema     = "3F000" // the schema does not exist
	codeUndefinedTable    = "42P01"
	codeDuplicateDatabase = "42P04"
	codeUniqueViolation   = "23505"
	codeNotNullViolation  = "23502"
	codeDuplicateSchema   = "42P06"
)

const (
	// maintenanceDatabase is where a tenant's database is created from.
	maintenanceDatabase = "postgres"
	// defaultMaxConns bounds a tenant's pool when OpenOptions.MaxConns is 0.
	defaultMaxConns = 4
)

// Open connects to the tenant's mirror, creating its database or schema when it is missing (with
// opts.NoCreate, failing with dialect.ErrMissing instead).
func (Dialect) Open(ctx context.Context, dsn string, opts dialect.OpenOptions) (dialect.Store, error) {
	cc, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if err := checkName(cc.Database); err != nil {
		return nil, fmt.Errorf("postgres: database name: %w", err)
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	// Naive timestamps do not depend on the zone, but now()-based defaults and timestamptz text do.
	cc.RuntimeParams["timezone"] = "UTC"
	// Statements are described on every execution: a cached description would outlive an ALTER TABLE
	// or a dropped staging table. (Bulk loads encode their own binary COPY and describe nothing.)
	cc.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	// Every connection's socket holds a slot of the server's gate while it is open.
	cc.DialFunc = dialect.Dial
	maxConns := defaultMaxConns
	if opts.MaxConns > 0 {
		maxConns = opts.MaxConns
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	c := connector{gate: opts.Gate, timeout: cmp.Or(opts.ConnectTimeout, dialect.DefaultConnectTimeout)}

	if err := ensureDatabase(ctx, c, cc, !opts.NoCreate); err != nil {
		return nil, err
	}
	var sql SQL
	if opts.Schema != "" {
		if sql, err = NewSQL(opts.Schema); err != nil {
			return nil, err
		}
		if err := ensureSchema(ctx, c, cc, sql, !opts.NoCreate); err != nil {
			return nil, err
		}
		// A startup parameter applies to every connection before any statement runs; pg_temp is still
		// searched first, so staging tables resolve as usual.
		cc.RuntimeParams["search_path"] = sql.qschema
	}
	pool := newConnPool(c, cc, maxConns, cmp.Or(opts.IdleTimeout, dialect.DefaultIdleTimeout))
	conn, err := pool.acquire(ctx)
	if err != nil {
		pool.close()
		return nil, fmt.Errorf("postgres: connect to database %q: %w", cc.Database, markMissing(err))
	}
	if opts.Schema == "" {
		sql, err = resolveSchema(ctx, conn)
	}
	citus := false
	if err == nil && opts.TenantColumn != "" {
		if err = conn.QueryRow(ctx, hasCitus).Scan(&citus); err != nil {
			err = fmt.Errorf("postgres: does the database have the citus extension: %w", err)
		} else {
			sql, err = sql.FanIn(opts.TenantColumn, opts.Tenant, citus)
		}
	}
	pool.release(conn)
	if err != nil {
		pool.close()
		return nil, err
	}
	meta, err := newMeta(sql, opts.Tenant)
	if err != nil {
		pool.close()
		return nil, err
	}
	return &Store{pool: pool, sql: sql, meta: meta, log: logger, events: opts.Events}, nil
}

// parseDSN parses a DSN without ever repeating it: it may hold a password, and pgx redacts it only on
// a best-effort basis.
func parseDSN(dsn string) (*pgx.ConnConfig, error) {
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		if cause := errors.Unwrap(err); cause != nil {
			return nil, fmt.Errorf("postgres: parse DSN: %w", cause)
		}
		return nil, errors.New("postgres: the DSN cannot be parsed")
	}
	return cc, nil
}

// Server names the DSN's server: its host (or socket directory) and port, and those of its fallback
// hosts.
func (Dialect) Server(dsn string) (string, error) {
	cc, err := parseDSN(dsn)
	if err != nil {
		return "", err
	}
	return server(cc), nil
}

// Target names the DSN's server, as Server does, and its database: postgres://host:5432/database.
func (Dialect) Target(dsn string) (string, error) {
	cc, err := parseDSN(dsn)
	if err != nil {
		return "", err
	}
	return server(cc) + "/" + url.PathEscape(cc.Database), nil
}

// server names the server of a parsed DSN (see Server).
func server(cc *pgx.ConnConfig) string {
	hosts := []string{net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))}
	for _, f := range cc.Fallbacks {
		// sslmode=prefer lists each host twice (with and without TLS).
		if h := net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port))); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return "postgres://" + strings.Join(hosts, ",")
}

// connector makes the dialect's connections: each takes a slot of the server's gate and has the
// connect timeout.
type connector struct {
	gate    *dialect.ConnGate
	timeout time.Duration
}

// connect opens one connection with cfg.
func (c connector) connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	var conn *pgx.Conn
	err := c.gate.Connect(ctx, c.timeout, func(ctx context.Context) error {
		var err error
		conn, err = pgx.ConnectConfig(ctx, cfg)
		return err
	})
	if err != nil {
		if conn != nil {
			conn.Close(context.Background())
		}
		return nil, err
	}
	return conn, nil
}

// ensureDatabase connects once to see whether the tenant database exists and, with create, creates it
// from the server's maintenance database when it does not; without, it fails with dialect.ErrMissing.
func ensureDatabase(ctx context.Context, c connector, cc *pgx.ConnConfig, create bool) error {
	conn, err := c.connect(ctx, cc)
	if err == nil {
		return conn.Close(ctx)
	}
	if !hasCode(err, codeInvalidCatalog) {
		return fmt.Errorf("postgres: connect to database %q: %w", cc.Database, err)
	}
	if !create {
		return fmt.Errorf("postgres: database %q does not exist: %w", cc.Database, dialect.ErrMissing)
	}
	stmt, err := createDatabase(cc.Database)
	if err != nil {
		return err
	}
	mc := cc.Copy()
	mc.Database = maintenanceDatabase
	delete(mc.RuntimeParams, "search_path")
	mconn, err := c.connect(ctx, mc)
	if err != nil {
		return fmt.Errorf("postgres: connect to maintenance database to create %q: %w", cc.Database, err)
	}
	defer mconn.Close(ctx)
	_, err = mconn.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol)
	// Two replicas may create the same tenant at once: the loser sees 42P04, or 23505 when both passed
	// the catalog check before either committed.
	if err != nil && !hasCode(err, codeDuplicateDatabase) && !hasCode(err, codeUniqueViolation) {
		return fmt.Errorf("postgres: create database %q: %w", cc.Database, err)
	}
	return nil
}

// ensureSchema creates the tenant's schema unless it exists; without create, a missing schema fails
// with dialect.ErrMissing instead.
func ensureSchema(ctx context.Context, c connector, cc *pgx.ConnConfig, sql SQL, create bool) error {
	conn, err := c.connect(ctx, cc)
	if err != nil {
		return fmt.Errorf("postgres: connect to find or create schema %s: %w", sql.qschema, err)
	}
	defer conn.Close(ctx)
	if !create {
		var exists bool
		if err := conn.QueryRow(ctx, schemaExists, sql.schema).Scan(&exists); err != nil {
			return fmt.Errorf("postgres: does schema %s exist: %w", sql.qschema, err)
		}
		if !exists {
			return fmt.Errorf("postgres: schema %s does not exist: %w", sql.qschema, dialect.ErrMissing)
		}
		return nil
	}
	_, err = conn.Exec(ctx, sql.CreateSchema(), pgx.QueryExecModeSimpleProtocol)
	// IF NOT EXISTS still races in the catalog: a concurrent creator surfaces as 23505 or 42P06.
	if err != nil && !hasCode(err, codeUniqueViolation) && !hasCode(err, codeDuplicateSchema) {
		return fmt.Errorf("postgres: create schema %s: %w", sql.qschema, err)
	}
	return nil
}

// resolveSchema binds the mirror to the schema that the DSN's search_path creates tables in.
func resolveSchema(ctx context.Context, conn *pgx.Conn) (SQL, error) {
	var schema *string
	if err := conn.QueryRow(ctx, currentSchema).Scan(&schema); err != nil {
		return SQL{}, fmt.Errorf("postgres: find the current schema: %w", err)
	}
	if schema == nil {
		return SQL{}, errors.New("postgres: no schema of the DSN's search_path exists to create tables in")
	}
	return NewSQL(*schema)
}

func hasCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && slices.Contains(codes, pe.Code)
}

// markMissing marks with dialect.ErrMissing the errors by which PostgreSQL says that the mirror's
// database, its schema or a table is gone.
func markMissing(err error) error {
	if err != nil && !errors.Is(err, dialect.ErrMissing) && hasCode(err, codeInvalidCatalog, codeInvalidSchema, codeUndefinedTable) {
		return fmt.Errorf("%w: %w", dialect.ErrMissing, err)
	}
	return err
}

// Store is an open tenant mirror: its pool, and what every transaction of it shares.
type Store struct {
	pool   *connPool
	sql    SQL
	meta   *sqlmeta.Store
	log    *slog.Logger
	events *dialect.Events
}

// Names returns the mirror's SQL, which names its tables.
func (s *Store) Names() dialect.Namer { return s.sql }

// Begin starts a transaction on a connection of the pool, waiting for one under ctx.
func (s *Store) Begin(ctx context.Context) (dialect.Tx, error) {
	conn, err := s.pool.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: begin: %w", markMissing(err))
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		s.pool.release(conn)
		return nil, fmt.Errorf("postgres: begin: %w", err)
	}
	if s.sql.fanIn != nil && s.sql.fanIn.citus {
		// A transaction that writes a tenant's shard and then changes (or distributes) a shared table
		// must reach every shard over the connections it already holds.
		if _, err := tx.Exec(ctx, citusSequential, pgx.QueryExecModeSimpleProtocol); err != nil {
			tx.Rollback(ctx)
			s.pool.release(conn)
			return nil, fmt.Errorf("postgres: begin: %w", err)
		}
	}
	return &Tx{x: executor{tx}, conn: conn, st: s}, nil
}

// Close closes the idle connections and makes further Begins fail; transactions still open keep
// their connection until they end.
func (s *Store) Close() error {
	s.pool.close()
	return nil
}

// connPool is a bounded pool of pgx connections. (pgxpool would need github.com/jackc/puddle/v2 and
// golang.org/x/sync in go.mod; a Store only ever needs "a connection for one transaction", which this
// gives.) It keeps at most dialect.MaxIdleConns connections idle between transactions, closes each
// after idleTimeout on a timer, and closes one at once when another tenant's caller waits for a slot
// of the server's gate.
type connPool struct {
	c           connector
	cfg         *pgx.ConnConfig
	sem         chan struct{} // one token per open or opening connection in use
	idleTimeout time.Duration
	unregister  func()

	mu     sync.Mutex
	idle   []idleConn // oldest first
	reaper *time.Timer
	closed bool
}

type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

// pingAfter is how long a connection may sit idle before it is checked on acquire: a server restart
// or an idle timeout would otherwise surface as a failed Begin.
const pingAfter = time.Second

var errPoolClosed = errors.New("postgres: store is closed")

func newConnPool(c connector, cfg *pgx.ConnConfig, maxConns int, idleTimeout time.Duration) *connPool {
	p := &connPool{c: c, cfg: cfg, sem: make(chan struct{}, maxConns), idleTimeout: idleTimeout}
	p.unregister = c.gate.OnShortage(p.shed)
	return p
}

// acquire returns a connection that is the caller's until release.
func (p *connPool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.sem
			return nil, errPoolClosed
		}
		var ic idleConn
		if n := len(p.idle); n > 0 {
			ic = p.idle[n-1]
			p.idle = p.idle[:n-1]
		}
		p.mu.Unlock()
		if ic.conn == nil {
			break
		}
		if time.Since(ic.since) < pingAfter || ic.conn.Ping(ctx) == nil {
			return ic.conn, nil
		}
		ic.conn.Close(context.Background())
	}
	conn, err := p.c.connect(ctx, p.cfg)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return conn, nil
}

// release hands a connection back; one that is broken or still inside a transaction is closed, and so
// is one beyond the idle bound or wanted by another tenant's caller waiting for a slot of the gate.
func (p *connPool) release(conn *pgx.Conn) {
	defer func() { <-p.sem }()
	if conn.IsClosed() || conn.PgConn().TxStatus() != 'I' {
		conn.Close(context.Background())
		return
	}
	p.mu.Lock()
	if p.closed || len(p.idle) >= dialect.MaxIdleConns || p.c.gate.Waiting() {
		p.mu.Unlock()
		conn.Close(context.Background())
		return
	}
	p.idle = append(p.idle, idleConn{conn: conn, since: time.Now()})
	if p.reaper == nil {
		p.reaper = time.AfterFunc(p.idleTimeout, p.reap)
	}
	p.mu.Unlock()
}

// reap closes the connections idle for idleTimeout and runs again when the next one will be.
func (p *connPool) reap() {
	p.mu.Lock()
	p.reaper = nil
	if p.closed {
		p.mu.Unlock()
		return
	}
	now := time.Now()
	var stale []*pgx.Conn
	for len(p.idle) > 0 && now.Sub(p.idle[0].since) >= p.idleTimeout {
		stale = append(stale, p.idle[0].conn)
		p.idle = p.idle[1:]
	}
	if len(p.idle) > 0 {
		p.reaper = time.AfterFunc(p.idleTimeout-now.Sub(p.idle[0].since), p.reap)
	}
	p.mu.Unlock()
	for _, c := range stale {
		c.Close(context.Background())
	}
}

// shed closes the oldest idle connection, for a caller of another Store waiting for a slot of the
// gate, and reports whether there was one.
func (p *connPool) shed() bool {
	p.mu.Lock()
	if len(p.idle) == 0 {
		p.mu.Unlock()
		return false
	}
	c := p.idle[0].conn
	p.idle = p.idle[1:]
	p.mu.Unlock()
	c.Close(context.Background())
	return true
}

// close closes the idle connections; connections in use close when released.
func (p *connPool) close() {
	p.unregister()
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
	p.mu.Unlock()
	for _, ic := range idle {
		ic.conn.Close(context.Background())
	}
}

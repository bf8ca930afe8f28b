// Package sqlserver is the SQL Server target of mirrorsink (github.com/microsoft/go-mssqldb).
//
// A tenant gets a database of its own, created from a connection to master on first use, or, with
// OpenOptions.Schema, a schema of the DSN's database, created on first use (with OpenOptions.NoCreate,
// neither is created: a missing one fails with dialect.ErrMissing); SQL Server has no search_path, so every
// statement names tables in full (SQL.Table).
//
// Types stay native (docs/TYPES.md): nvarchar stays nvarchar, decimal(p,s) and datetime2(p) keep
// their parameters. The exceptions: char, varchar and text become nchar, nvarchar and nvarchar(max),
// as the mirror's code page need not hold the source's characters; rowversion/timestamp becomes
// binary(8), as a rowversion column cannot be written; and the kinds whose wire form is text but whose
// column is not (hierarchyid,
// geography, geometry, sql_variant) stay native yet travel through a text staging column, converted
// in the set-based statement with CAST(… AS hierarchyid), geography::STGeomFromText(…, 4326),
// geometry::STGeomFromText(…, 0) and CAST(… AS sql_variant). A table with such a column therefore
// always loads through the staging table, even on the Insert path. types.go holds these rules, one
// per kind.
//
// Rows load through the TDS bulk copy of go-mssqldb, fed directly (Conn.CreateBulkContext under
// sql.Conn.Raw) on the transaction's own connection; upserts and deletes stage rows in a session
// temporary table (#mirrorsink_stage) and apply them with an UPDATE and an INSERT … WHERE NOT EXISTS,
// or one DELETE, never MERGE. Every value is checked before the copier sees it (the type table's
// encoders), and a panic inside the copier is recovered and reported as an error.
//
// Replicas exclude each other with sp_getapplock locks owned by the transaction; a failed step rolls
// back to a SAVE TRANSACTION savepoint.
//
// A Store's pool holds at most OpenOptions.MaxConns connections (DefaultMaxConns), of which at most
// dialect.MaxIdleConns stay open unused, each for OpenOptions.IdleTimeout. Every new connection, the
// pool's and the one to master that creates the database, takes a slot of OpenOptions.Gate first and
// must have logged in within OpenOptions.ConnectTimeout. A database that cannot be opened (4060, 911),
// an invalid object name (208) and a missing schema (2760) fail with dialect.ErrMissing. Nothing is lost in the mirror: SQL Server holds every source
// value exactly (100 ns times, U+0000 in text, years from 1).
//
// The SQL text is written by the pure type SQL (sql.go), covered by golden tests; the rest of the
// package executes it.
package sqlserver

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/sqlexec"
	"github.com/mirrorsink/mirrorsink/dialect/sqlmeta"
)

// name is the dialect's name in configuration.
const name = "sqlserver"

// DefaultMaxConns bounds a tenant's pool when OpenOptions.MaxConns is 0.
const DefaultMaxConns = 8

// DatabaseOnlineTimeout bounds the wait for a new tenant database to come ONLINE.
const DatabaseOnlineTimeout = 60 * time.Second

func init() { dialect.Register(Dialect{}) }

// Dialect is the SQL Server dialect.
type Dialect struct{}

// Name returns "sqlserver".
func (Dialect) Name() string { return name }

// Capabilities reports that SQL Server loses nothing: it keeps 100 ns, U+0000 and years from 1
// (datetime2, date, datetimeoffset). Tenants may live in schemas, and DDL and TRUNCATE roll back
// with their transaction.
func (Dialect) Capabilities() dialect.Capabilities {
	return dialect.Capabilities{
		TimeDigits:            7,
		MinYear:               1,
		Schemas:               true,
		TransactionalDDL:      true,
		TransactionalTruncate: true,
		PadsKeys:              true,
		FanIn:                 true,
	}
}

// Open connects to the tenant's mirror. Without opts.Schema the DSN's database is the tenant's own:
// it is created from a connection to master when missing, and Open waits until it is ONLINE. With
// opts.Schema the tables live in that schema of the DSN's database, created when missing. Replicas
// that open the same new tenant at once both succeed. With opts.NoCreate nothing is created and master
// is not connected to: the login to a missing database fails (4060), and a missing schema is looked
// up; either fails with dialect.ErrMissing.
//
// The connection's "timezone" setting is forced to UTC: the copier encodes smalldatetime against
// 1900-01-01 in that zone, and mirrored times are naive wall clocks.
func (Dialect) Open(ctx context.Context, dsn string, opts dialect.OpenOptions) (dialect.Store, error) {
	cfg, err := msdsn.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlserver: parse DSN: %w", err)
	}
	cfg.Encoding.Timezone = time.UTC
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	q := SQL{Schema: opts.Schema}
	if opts.TenantColumn != "" {
		if q, err = q.FanIn(opts.TenantColumn, opts.Tenant); err != nil {
			return nil, err
		}
	}
	// The names fail here, before any connection, when the server could not hold them.
	meta, err := newMeta(q, opts.Tenant)
	if err != nil {
		return nil, err
	}
	timeout := cmp.Or(opts.ConnectTimeout, dialect.DefaultConnectTimeout)
	if opts.Schema == "" {
		if cfg.Database == "" {
			return nil, errors.New("sqlserver: the DSN names no database (set database=… or use a schema per tenant)")
		}
		if !opts.NoCreate {
			if err := ensureDatabase(ctx, cfg, opts.Gate, timeout); err != nil {
				return nil, err
			}
		}
	}
	maxConns := opts.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	db, closeDB := sqlexec.OpenDB(connector(cfg, opts.Gate, timeout), maxConns, cmp.Or(opts.IdleTimeout, dialect.DefaultIdleTimeout))
	if err := db.PingContext(ctx); err != nil {
		closeDB()
		return nil, fmt.Errorf("sqlserver: connect to %q: %w", cfg.Database, mapError(err))
	}
	if opts.Schema != "" {
		if err := ensureSchema(ctx, db, opts.Schema, !opts.NoCreate); err != nil {
			closeDB()
			return nil, err
		}
	} else {
		// Every name is qualified all the same: SQL Server resolves a one-part name in the sys schema
		// first, so that a mirrored table named like a system view (sysobjects) would be read as that.
		var schema sql.NullString
		err := db.QueryRowContext(ctx, defaultSchema).Scan(&schema)
		if err == nil && !schema.Valid {
			err = errors.New("the login has none there")
		}
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlserver: default schema in %q: %w", cfg.Database, err)
		}
		q.Schema = schema.String
		if meta, err = newMeta(q, opts.Tenant); err != nil {
			db.Close()
			return nil, err
		}
	}
	var caseSensitive int
	if err := db.QueryRowContext(ctx, caseSensitivity).Scan(&caseSensitive); err != nil {
		closeDB()
		return nil, fmt.Errorf("sqlserver: collation of %q: %w", cfg.Database, err)
	}
	q.CaseSensitive = caseSensitive == 1
	s := &Store{db: db, closeDB: closeDB, sql: q, meta: meta, log: logger, guidConversion: cfg.Encoding.GuidConversion}
	s.exec = &sqlexec.Config{Dialect: name, Savepoint: q.Savepoint, RollbackTo: q.RollbackTo, MapError: mapError}
	return s, nil
}

// connector makes the connections of cfg through the server's gate, each within timeout. go-mssqldb
// bounds only the dial by itself (its "connection timeout" would bound every later read too, a long
// statement's as well); the gate bounds the login, cutting the socket when the time is up.
func connector(cfg msdsn.Config, gate *dialect.ConnGate, timeout time.Duration) sqlexec.Connector {
	c := mssql.NewConnectorConfig(cfg)
	c.Dialer = dialFunc(dialect.Dial)
	return sqlexec.Connector{Inner: c, Gate: gate, Timeout: timeout}
}

// dialFunc is a function as go-mssqldb's Dialer.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// DialContext dials addr.
func (f dialFunc) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}

// Server names the DSN's server: its host and port (1433 unless the DSN says), or its host and named
// instance, whose port the SQL Server Browser gives.
func (Dialect) Server(dsn string) (string, error) {
	cfg, err := msdsn.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("sqlserver: parse DSN: %w", err)
	}
	return server(cfg), nil
}

// Target names the DSN's server, as Server does, and its database: sqlserver://host:1433/database
// (the server alone when the DSN names no database).
func (Dialect) Target(dsn string) (string, error) {
	cfg, err := msdsn.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("sqlserver: parse DSN: %w", err)
	}
	if cfg.Database == "" {
		return server(cfg), nil
	}
	return server(cfg) + "/" + url.PathEscape(cfg.Database), nil
}

// server names the server of a parsed DSN (see Server).
func server(cfg msdsn.Config) string {
	switch {
	case cfg.Port != 0:
		return "sqlserver://" + net.JoinHostPort(cfg.Host, strconv.FormatUint(cfg.Port, 10))
	case cfg.Instance != "":
		return "sqlserver://" + cfg.Host + `\` + cfg.Instance
	}
	return "sqlserver://" + net.JoinHostPort(cfg.Host, "1433")
}

// SQL Server error numbers the dialect acts on.
const (
	errDuplicateKey      = 2627 // violation of a PRIMARY KEY or UNIQUE constraint
	errDuplicateIndexKey = 2601 // duplicate key row in a unique index
	errDatabaseExists    = 1801
	errObjectExists      = 2714
	errCannotOpenDB      = 4060 // the login's database cannot be opened (it does not exist)
	errNoSuchDatabase    = 911  // USE of a database that does not exist
	errInvalidObject     = 208  // invalid object name: the table (or its schema) does not exist
	errNoSuchSchema      = 2760 // the schema does not exist (CREATE TABLE in it)
)

// hasErrorNumber reports whether one of the SQL Server errors in err's chain has one of the numbers.
func hasErrorNumber(err error, numbers ...int32) bool {
	var se mssql.Error
	if !errors.As(err, &se) {
		return false
	}
	all := se.All
	if len(all) == 0 {
		all = []mssql.Error{se}
	}
	for _, e := range all {
		for _, n := range numbers {
			if e.Number == n {
				return true
			}
		}
	}
	return false
}

// mapError marks a duplicate key with dialect.ErrDuplicateKey, and a database, schema or table that
// does not exist with dialect.ErrMissing, keeping the server's error in the chain.
func mapError(err error) error {
	err = withholdValues(err)
	switch {
	case hasErrorNumber(err, errDuplicateKey, errDuplicateIndexKey):
		return fmt.Errorf("%w: %w", dialect.ErrDuplicateKey, err)
	case !errors.Is(err, dialect.ErrMissing) && hasErrorNumber(err, errCannotOpenDB, errNoSuchDatabase, errInvalidObject, errNoSuchSchema):
		return fmt.Errorf("%w: %w", dialect.ErrMissing, err)
	}
	return err
}

// quotedValues match the row data SQL Server quotes in its messages: a duplicate key's value (2627,
// 2601), a truncated value (2628) and a value that failed a conversion (245). The greedy matches run
// to the fixed text after the value, so that a quote inside the value cannot end it early.
var quotedValues = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`The duplicate key value is \(.*\)\.?`), "The duplicate key value is withheld."},
	{regexp.MustCompile(`Truncated value: '.*'\.?`), "Truncated value withheld."},
	{regexp.MustCompile(`(converting the \w+ value )'.*'( to data type)`), "${1}(withheld)${2}"},
}

// withholdValues keeps SQL Server's message, its table, column and constraint names, but withholds
// the values it quotes, which are row data and must reach neither the log nor SuperOffice.
func withholdValues(err error) error {
	var se mssql.Error
	if !errors.As(err, &se) {
		return err
	}
	msg := err.Error()
	redacted := msg
	for _, q := range quotedValues {
		redacted = q.re.ReplaceAllString(redacted, q.with)
	}
	if redacted == msg {
		return err
	}
	return dialect.Redact(err, redacted)
}

// ensureDatabase creates the tenant database from a connection to master and waits until it is
// ONLINE. A replica that created it first is not an error.
func ensureDatabase(ctx context.Context, cfg msdsn.Config, gate *dialect.ConnGate, timeout time.Duration) error {
	dbName := cfg.Database
	create, err := createDatabase(dbName)
	if err != nil {
		return err
	}
	master := cfg
	master.Database = "master"
	db := sql.OpenDB(connector(master, gate, timeout))
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, create, dbName); err != nil && !hasErrorNumber(err, errDatabaseExists) {
		return fmt.Errorf("sqlserver: create database %q: %w", dbName, err)
	}
	deadline := time.Now().Add(DatabaseOnlineTimeout)
	for {
		var state sql.NullString
		if err := db.QueryRowContext(ctx, databaseState, dbName).Scan(&state); err != nil {
			return fmt.Errorf("sqlserver: state of database %q: %w", dbName, err)
		}
		if state.String == "ONLINE" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sqlserver: database %q is %q, not ONLINE, after %s", dbName, state.String, DatabaseOnlineTimeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sqlserver: waiting for database %q: %w", dbName, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ensureSchema creates the tenant schema when missing; a concurrent creator is not an error. Without
// create, a missing schema fails with dialect.ErrMissing instead.
func ensureSchema(ctx context.Context, db *sql.DB, schema string, create bool) error {
	if !create {
		var exists int
		if err := db.QueryRowContext(ctx, schemaExists, schema).Scan(&exists); err != nil {
			return fmt.Errorf("sqlserver: does schema %q exist: %w", schema, mapError(err))
		}
		if exists != 1 {
			return fmt.Errorf("sqlserver: schema %q does not exist: %w", schema, dialect.ErrMissing)
		}
		return nil
	}
	stmt, err := createSchema(schema)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, stmt, schema); err != nil && !hasErrorNumber(err, errObjectExists) {
		return fmt.Errorf("sqlserver: create schema %q: %w", schema, err)
	}
	return nil
}

// Store is an open tenant mirror on SQL Server: its pool (DefaultMaxConns connections unless
// OpenOptions.MaxConns says otherwise, of which dialect.MaxIdleConns stay open unused for
// OpenOptions.IdleTimeout), its names and its metadata store.
type Store struct {
	db             *sql.DB
	closeDB        func() error
	sql            SQL
	meta           *sqlmeta.Store
	exec           *sqlexec.Config
	log            *slog.Logger
	guidConversion bool
}

// Names returns the mirror's SQL, which names its tables schema-qualified.
func (s *Store) Names() dialect.Namer { return s.sql }

// Begin starts a transaction on a connection of its own. The connection is held until the
// transaction ends, so that the bulk copier can run on it, inside the transaction, and so that the
// session's staging table is the transaction's.
func (s *Store) Begin(ctx context.Context) (dialect.Tx, error) {
	x, err := sqlexec.Begin(ctx, s.db, nil, s.exec)
	if err != nil {
		return nil, err
	}
	return &Tx{x: x, store: s}, nil
}

// Close releases the pool.
func (s *Store) Close() error { return s.closeDB() }

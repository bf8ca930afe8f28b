// Package sqlserver is the SQL Server target of mirrorsink (github.com/microsoft/go-mssqldb).
//
// Types stay native (docs/TYPES.md): nvarchar stays nvarchar, decimal(p,s) and datetime2(p) keep
// their parameters. Two exceptions: rowversion/timestamp becomes binary(8), as a rowversion column
// cannot be written; and the kinds whose wire form is text but whose column is not (hierarchyid,
// geography, geometry, sql_variant) stay native yet travel through an nvarchar(max) staging column,
// converted in the set-based statement with hierarchyid::Parse, geography::STGeomFromText(…, 4326),
// geometry::STGeomFromText(…, 0) and CAST(… AS sql_variant). A table with such a column therefore
// always loads through the staging table, even on the BulkInsert path.
//
// Rows load through the TDS bulk copy of go-mssqldb, fed directly (Conn.CreateBulkContext under
// sql.Conn.Raw) on the transaction's own connection. Every value is checked before the copier sees
// it (see encoder), and a panic inside the copier is recovered and reported as an error.
//
// The SQL text is written by the pure type SQL, covered by golden tests; the rest of the package
// executes it.
package sqlserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/Masterminds/squirrel"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// Name is the dialect's name in configuration.
const Name = "sqlserver"

// DefaultMaxConns bounds the pool when OpenOptions.MaxConns is 0.
const DefaultMaxConns = 8

// DatabaseOnlineTimeout bounds the wait for a new tenant database to come ONLINE.
const DatabaseOnlineTimeout = 60 * time.Second

func init() { dialect.Register(Dialect{}) }

// Dialect is the SQL Server dialect.
type Dialect struct{}

// Name returns "sqlserver".
func (Dialect) Name() string { return Name }

// Builder returns squirrel with go-mssqldb's @p1, @p2, … placeholders.
func (Dialect) Builder() squirrel.StatementBuilderType {
	return squirrel.StatementBuilder.PlaceholderFormat(squirrel.AtP)
}

// Quote quotes one identifier with brackets (see QuoteIdent).
func (Dialect) Quote(name string) (string, error) { return QuoteIdent(name) }

// Open connects to the tenant's mirror. Without opts.Schema the DSN's database is the tenant's own:
// it is created from a connection to master when missing, and Open waits until it is ONLINE. With
// opts.Schema the tables live in that schema of the DSN's database, created when missing.
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
	if opts.Schema == "" {
		if cfg.Database == "" {
			return nil, errors.New("sqlserver: the DSN names no database (set database=… or use a schema per tenant)")
		}
		if err := ensureDatabase(ctx, cfg); err != nil {
			return nil, err
		}
	}
	db := sql.OpenDB(mssql.NewConnectorConfig(cfg))
	max := opts.MaxConns
	if max <= 0 {
		max = DefaultMaxConns
	}
	db.SetMaxOpenConns(max)
	db.SetMaxIdleConns(max)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlserver: connect to %q: %w", cfg.Database, err)
	}
	if opts.Schema != "" {
		if err := ensureSchema(ctx, db, opts.Schema); err != nil {
			db.Close()
			return nil, err
		}
	}
	return &Store{db: db, sql: SQL{Schema: opts.Schema}, log: logger, guidConversion: cfg.Encoding.GuidConversion}, nil
}

// SQL Server error numbers the dialect acts on.
const (
	errDuplicateKey      = 2627 // violation of a PRIMARY KEY or UNIQUE constraint
	errDuplicateIndexKey = 2601 // duplicate key row in a unique index
	errDatabaseExists    = 1801
	errObjectExists      = 2714
)

// sqlErrorNumber returns the SQL Server error numbers in err's chain.
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

// mapError turns a duplicate key into dialect.ErrDuplicateKey, keeping the server's message.
func mapError(err error) error {
	if err != nil && hasErrorNumber(err, errDuplicateKey, errDuplicateIndexKey) {
		return fmt.Errorf("%w: %v", dialect.ErrDuplicateKey, err)
	}
	return err
}

// ensureDatabase creates the tenant database from a connection to master and waits until it is
// ONLINE.
func ensureDatabase(ctx context.Context, cfg msdsn.Config) error {
	name := cfg.Database
	create, err := CreateDatabase(name)
	if err != nil {
		return err
	}
	master := cfg
	master.Database = "master"
	db := sql.OpenDB(mssql.NewConnectorConfig(master))
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, create, name); err != nil && !hasErrorNumber(err, errDatabaseExists) {
		return fmt.Errorf("sqlserver: create database %q: %w", name, err)
	}
	deadline := time.Now().Add(DatabaseOnlineTimeout)
	for {
		var state sql.NullString
		if err := db.QueryRowContext(ctx, DatabaseState(), name).Scan(&state); err != nil {
			return fmt.Errorf("sqlserver: state of database %q: %w", name, err)
		}
		if state.String == "ONLINE" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sqlserver: database %q is %q, not ONLINE, after %s", name, state.String, DatabaseOnlineTimeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sqlserver: waiting for database %q: %w", name, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ensureSchema creates the tenant schema when missing; a concurrent creator is not an error.
func ensureSchema(ctx context.Context, db *sql.DB, schema string) error {
	create, err := CreateSchema(schema)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, create, schema); err != nil && !hasErrorNumber(err, errObjectExists) {
		return fmt.Errorf("sqlserver: create schema %q: %w", schema, err)
	}
	return nil
}

// Store is an open tenant mirror on SQL Server.
type Store struct {
	db             *sql.DB
	sql            SQL
	log            *slog.Logger
	guidConversion bool
}

// QuoteTable returns the quoted name of a tenant table, qualified with the tenant schema when the
// store has one. The engine's own statements need it in schema mode: SQL Server has no search_path.
func (s *Store) QuoteTable(name string) (string, error) { return s.sql.Table(name) }

// Begin starts a transaction on a connection of its own. The connection is held (sql.Conn) so that
// the bulk copier can run on it, inside the transaction, through Raw.
func (s *Store) Begin(ctx context.Context) (dialect.Tx, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlserver: get connection: %w", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlserver: begin: %w", err)
	}
	return &Tx{store: s, conn: conn, tx: tx}, nil
}

// Close releases the pool.
func (s *Store) Close() error { return s.db.Close() }

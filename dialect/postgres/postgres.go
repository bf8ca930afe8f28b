// Package postgres is the PostgreSQL target of mirrorsink (pgx/v5). Rows are loaded with binary COPY;
// upserts and deletes go through a temporary staging table and one set-based statement. A tenant gets
// a database of its own (created on first use) or, with OpenOptions.Schema, a schema of the DSN's
// database that every pooled connection has as its search_path.
//
// Every session runs in time zone UTC. datetime/datetime2/smalldatetime are stored as naive
// timestamps, so the zone does not touch them; datetimeoffset is stored as timestamptz, which keeps
// the instant but not the original offset (it reads back in UTC).
//
// char(n)/nchar(n) become PostgreSQL char(n) (bpchar): values are blank-padded to n on storage and
// read back padded, as in SQL Server; trailing blanks are insignificant in comparisons and are dropped
// when a char value is cast to varchar or text.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/Masterminds/squirrel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mirrorsink/mirrorsink/dialect"
)

func init() { dialect.Register(Dialect{}) }

var (
	_ dialect.Dialect = Dialect{}
	_ dialect.Store   = (*Store)(nil)
	_ dialect.Tx      = (*Tx)(nil)
)

// Dialect is the PostgreSQL dialect.Dialect.
type Dialect struct{}

// Name returns "postgres".
func (Dialect) Name() string { return "postgres" }

// Builder returns a squirrel builder with $n placeholders.
func (Dialect) Builder() squirrel.StatementBuilderType {
	return squirrel.StatementBuilder.PlaceholderFormat(squirrel.Dollar)
}

// Quote quotes one identifier (see the package function Quote).
func (Dialect) Quote(name string) (string, error) { return Quote(name) }

// SQLSTATE codes the dialect acts on.
const (
	codeInvalidCatalog    = "3D000"
	codeDuplicateDatabase = "42P04"
	codeUniqueViolation   = "23505"
	codeDuplicateSchema   = "42P06"
	maintenanceDatabase   = "postgres"
	defaultMaxConns       = 4
)

// Open connects to the tenant's mirror, creating its database or schema when it is missing.
func (Dialect) Open(ctx context.Context, dsn string, opts dialect.OpenOptions) (dialect.Store, error) {
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password, and pgx redacts it only on a best-effort basis: report the cause
		// without the DSN itself.
		if cause := errors.Unwrap(err); cause != nil {
			return nil, fmt.Errorf("postgres: parse DSN: %w", cause)
		}
		return nil, errors.New("postgres: the DSN cannot be parsed")
	}
	if err := checkName(cc.Database); err != nil {
		return nil, fmt.Errorf("postgres: database name: %w", err)
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	// Naive timestamps do not depend on the zone, but now()-based defaults and timestamptz text do.
	cc.RuntimeParams["timezone"] = "UTC"
	// The engine's statements are described on every execution: a cached description would outlive an
	// ALTER TABLE or a dropped staging table. (Bulk loads encode their own binary COPY and describe nothing.)
	cc.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	maxConns := defaultMaxConns
	if opts.MaxConns > 0 {
		maxConns = opts.MaxConns
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}

	if err := ensureDatabase(ctx, cc); err != nil {
		return nil, err
	}
	if opts.Schema != "" {
		q, err := Quote(opts.Schema)
		if err != nil {
			return nil, fmt.Errorf("postgres: schema name: %w", err)
		}
		if err := ensureSchema(ctx, cc, q); err != nil {
			return nil, err
		}
		// A startup parameter applies to every connection before any statement runs; pg_temp is still
		// searched first, so staging tables resolve as usual.
		cc.RuntimeParams["search_path"] = q
	}
	pool := newConnPool(cc, maxConns)
	conn, err := pool.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to database %q: %w", cc.Database, err)
	}
	pool.release(conn)
	return &Store{pool: pool, log: logger}, nil
}

// ensureDatabase connects once to see whether the tenant database exists and creates it from the
// server's maintenance database when it does not.
func ensureDatabase(ctx context.Context, cc *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err == nil {
		return conn.Close(ctx)
	}
	if !hasCode(err, codeInvalidCatalog) {
		return fmt.Errorf("postgres: connect to database %q: %w", cc.Database, err)
	}
	mc := cc.Copy()
	mc.Database = maintenanceDatabase
	delete(mc.RuntimeParams, "search_path")
	mconn, err := pgx.ConnectConfig(ctx, mc)
	if err != nil {
		return fmt.Errorf("postgres: connect to maintenance database to create %q: %w", cc.Database, err)
	}
	defer mconn.Close(ctx)
	_, err = mconn.Exec(ctx, "CREATE DATABASE "+quoteUnchecked(cc.Database), pgx.QueryExecModeSimpleProtocol)
	// Two replicas may create the same tenant at once: the loser sees 42P04, or 23505 when both passed
	// the catalog check before either committed.
	if err != nil && !hasCode(err, codeDuplicateDatabase) && !hasCode(err, codeUniqueViolation) {
		return fmt.Errorf("postgres: create database %q: %w", cc.Database, err)
	}
	conn, err = pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("postgres: connect to new database %q: %w", cc.Database, err)
	}
	return conn.Close(ctx)
}

func ensureSchema(ctx context.Context, cc *pgx.ConnConfig, quoted string) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("postgres: connect to create schema %s: %w", quoted, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoted, pgx.QueryExecModeSimpleProtocol)
	// IF NOT EXISTS still races in the catalog: a concurrent creator surfaces as 23505 or 42P06.
	if err != nil && !hasCode(err, codeUniqueViolation) && !hasCode(err, codeDuplicateSchema) {
		return fmt.Errorf("postgres: create schema %s: %w", quoted, err)
	}
	return nil
}

func hasCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// Store is an open tenant mirror.
type Store struct {
	pool *connPool
	log  *slog.Logger
}

// Begin starts a transaction.
func (s *Store) Begin(ctx context.Context) (dialect.Tx, error) {
	conn, err := s.pool.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: begin: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		s.pool.release(conn)
		return nil, fmt.Errorf("postgres: begin: %w", err)
	}
	return &Tx{tx: tx, conn: conn, pool: s.pool, log: s.log}, nil
}

// Close closes the idle connections and makes further Begins fail; transactions still open keep
// their connection until they end.
func (s *Store) Close() error {
	s.pool.close()
	return nil
}

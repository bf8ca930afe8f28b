package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/Masterminds/squirrel"
	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/dialect"
)

func init() { dialect.Register(Dialect{}) }

// Dialect is the MySQL/MariaDB target, registered as "mysql".
type Dialect struct{}

// Name returns "mysql".
func (Dialect) Name() string { return "mysql" }

// Builder returns a squirrel builder with ? placeholders.
func (Dialect) Builder() squirrel.StatementBuilderType {
	return squirrel.StatementBuilder.PlaceholderFormat(squirrel.Question)
}

// Quote quotes one identifier; see the package function Quote.
func (Dialect) Quote(name string) (string, error) { return Quote(name) }

// SQLMode is the sql_mode of every mirror session: strict for all tables, no zero dates, and without
// NO_BACKSLASH_ESCAPES, on which the bulk path's escaping and StringLiteral rely.
const SQLMode = "STRICT_ALL_TABLES,STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

// LockTimeoutParam is the DSN parameter (a Go duration, e.g. "30s") that bounds how long Lock waits.
// It is mirrorsink's, not the server's, and is removed before connecting.
const LockTimeoutParam = "mirrorsinkLockTimeout"

// DefaultLockTimeout is how long Lock waits when the DSN does not say.
const DefaultLockTimeout = 10 * time.Minute

const defaultMaxConns = 4

// config turns the DSN into the driver configuration every mirror session needs, whatever the DSN
// said, and returns the lock timeout.
func config(dsn string) (*mysql.Config, time.Duration, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, 0, fmt.Errorf("mysql: parse DSN: %w", err)
	}
	lockTimeout := DefaultLockTimeout
	if v, ok := cfg.Params[LockTimeoutParam]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, 0, fmt.Errorf("mysql: DSN parameter %s=%q is not a positive duration", LockTimeoutParam, v)
		}
		lockTimeout = d
		delete(cfg.Params, LockTimeoutParam)
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.AllowAllFiles = false
	// Arguments are interpolated client-side: one round trip per statement instead of prepare,
	// execute and close. utf8mb4_bin is not one of the collations where that is unsafe.
	cfg.InterpolateParams = true
	cfg.MultiStatements = false
	// UPDATE reports the rows it matched, not only those it changed, as the other dialects do: the
	// engine's "update, insert when nothing was updated" must not insert a row that exists unchanged.
	cfg.ClientFoundRows = true
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Params["sql_mode"] = "'" + SQLMode + "'"
	// The bulk path reads the load's warnings with SHOW WARNINGS: a server configured to keep none
	// would hide a skipped duplicate or a truncated value.
	cfg.Params["max_error_count"] = "64"
	if err := cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_bin")); err != nil {
		return nil, 0, fmt.Errorf("mysql: DSN: %w", err)
	}
	return cfg, lockTimeout, nil
}

// Open connects to the tenant's database named in the DSN, creating it (utf8mb4, utf8mb4_bin) first
// when missing. opts.Schema is refused: MySQL has no schemas apart from databases.
func (Dialect) Open(ctx context.Context, dsn string, opts dialect.OpenOptions) (dialect.Store, error) {
	if opts.Schema != "" {
		return nil, fmt.Errorf("mysql: schema %q asked for, but MySQL has no schemas apart from databases: name the tenant's database in the DSN instead", opts.Schema)
	}
	cfg, lockTimeout, err := config(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.DBName == "" {
		return nil, errors.New("mysql: the DSN names no database (tcp(host:3306)/<database>)")
	}
	qdb, err := Quote(cfg.DBName)
	if err != nil {
		return nil, fmt.Errorf("mysql: database name: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}

	admin := cfg.Clone()
	admin.DBName = ""
	if err := createDatabase(ctx, admin, qdb); err != nil {
		return nil, err
	}

	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	n := opts.MaxConns
	if n <= 0 {
		n = defaultMaxConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql: connect to database %s: %w", qdb, err)
	}
	var lctn int
	if err := db.QueryRowContext(ctx, "SELECT @@lower_case_table_names").Scan(&lctn); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql: read lower_case_table_names: %w", err)
	}
	return &Store{db: db, logger: logger, lockTimeout: lockTimeout, foldNames: lctn != 0}, nil
}

func createDatabase(ctx context.Context, cfg *mysql.Config, qdb string) error {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+qdb+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		return fmt.Errorf("mysql: create database %s: %w", qdb, err)
	}
	return nil
}

// txOptions: READ COMMITTED takes no gap locks, so that transactions of different tables that update
// and then insert metadata rows in the same index gap do not deadlock, as they do under REPEATABLE
// READ; each table's apply is serialised by Lock anyway. (It needs binlog_format ROW or MIXED, the
// defaults of MySQL 8 and MariaDB.)
var txOptions = &sql.TxOptions{Isolation: sql.LevelReadCommitted}

// Store is an open tenant database.
type Store struct {
	db          *sql.DB
	logger      *slog.Logger
	lockTimeout time.Duration
	foldNames   bool // lower_case_table_names ≠ 0: the server compares table names without case
}

// Begin starts a transaction on a connection that the Tx keeps to its end: GET_LOCK, temporary tables
// and LOAD DATA all belong to the session.
func (s *Store) Begin(ctx context.Context) (dialect.Tx, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("mysql: get connection: %w", err)
	}
	tx, err := conn.BeginTx(ctx, txOptions)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("mysql: begin: %w", err)
	}
	return &Tx{s: s, conn: conn, tx: tx}, nil
}

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the pool, for tests and tools that read the mirror.
func (s *Store) DB() *sql.DB { return s.db }

// Tx is one transaction on one session.
type Tx struct {
	s     *Store
	conn  *sql.Conn
	tx    *sql.Tx
	locks []string
	done  bool
	stage int
}

// Exec runs a statement and returns the rows it affected.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("mysql: exec: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mysql: rows affected: %w", err)
	}
	return n, nil
}

// Query runs a statement that returns rows. It goes through a prepared statement, so that the rows
// arrive in the binary protocol: the text protocol prints FLOAT (real) columns with six significant
// digits, which would misread values that are stored exactly.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (dialect.Rows, error) {
	stmt, err := t.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("mysql: query: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		stmt.Close()
		return nil, fmt.Errorf("mysql: query: %w", err)
	}
	return sqlRows{Rows: rows, stmt: stmt}, nil
}

type sqlRows struct {
	*sql.Rows
	stmt *sql.Stmt
}

func (r sqlRows) Close() {
	_ = r.Rows.Close()
	_ = r.stmt.Close()
}

// Commit commits and then releases the transaction's locks.
func (t *Tx) Commit(ctx context.Context) error {
	if t.done {
		return errors.New("mysql: commit: transaction already ended")
	}
	err := t.tx.Commit()
	if err != nil {
		err = fmt.Errorf("mysql: commit: %w", err)
	}
	return errors.Join(err, t.end(ctx))
}

// Rollback rolls back and releases the locks; after Commit it does nothing.
func (t *Tx) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	err := t.tx.Rollback()
	if err != nil && !errors.Is(err, sql.ErrTxDone) {
		err = fmt.Errorf("mysql: rollback: %w", err)
	} else {
		err = nil
	}
	return errors.Join(err, t.end(ctx))
}

// end releases the session's locks and returns the connection to the pool. When the release fails the
// connection is discarded, so that the server frees the locks with the session.
func (t *Tx) end(ctx context.Context) error {
	t.done = true
	var err error
	for _, name := range t.locks {
		if _, e := t.conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", name); e != nil {
			err = fmt.Errorf("mysql: release lock %s: %w", name, e)
			break
		}
	}
	t.locks = nil
	if err != nil {
		_ = t.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = t.conn.Close()
	return err
}

// Savepoint sets a savepoint.
func (t *Tx) Savepoint(ctx context.Context, name string) error {
	q, err := Quote(name)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT "+q); err != nil {
		return fmt.Errorf("mysql: savepoint %s: %w", q, err)
	}
	return nil
}

// RollbackTo rolls back to a savepoint, keeping the transaction open.
func (t *Tx) RollbackTo(ctx context.Context, name string) error {
	q, err := Quote(name)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+q); err != nil {
		return fmt.Errorf("mysql: rollback to savepoint %s: %w", q, err)
	}
	return nil
}

// ErrLockTimeout is returned (wrapped) when Lock waits longer than the lock timeout.
var ErrLockTimeout = errors.New("lock wait timed out")

// Lock takes GET_LOCK on a name derived from key and holds it until Commit or Rollback.
func (t *Tx) Lock(ctx context.Context, key string) error {
	name := LockName(key)
	wait := t.s.lockTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl))
	}
	// Whole seconds: MySQL's GET_LOCK takes an integer timeout.
	secs := int64(math.Ceil(wait.Seconds()))
	if secs < 0 {
		secs = 0
	}
	var got sql.NullInt64
	if err := t.tx.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, secs).Scan(&got); err != nil {
		return fmt.Errorf("mysql: lock %q: %w", key, err)
	}
	if !got.Valid || got.Int64 != 1 {
		return fmt.Errorf("mysql: lock %q (%s): another transaction held it for %s: %w", key, name, wait.Round(time.Second), ErrLockTimeout)
	}
	t.locks = append(t.locks, name)
	return nil
}

// TableExists reports whether a base table of that name exists in the tenant's database.
func (t *Tx) TableExists(ctx context.Context, name string) (bool, error) {
	rows, err := t.tx.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME = ?", name)
	if err != nil {
		return false, fmt.Errorf("mysql: table exists %q: %w", name, err)
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return false, fmt.Errorf("mysql: table exists %q: %w", name, err)
		}
		// information_schema may compare without case; the server's own rule decides.
		if n == name || (t.s.foldNames && strings.EqualFold(n, name)) {
			found = true
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("mysql: table exists %q: %w", name, err)
	}
	return found, nil
}

func (t *Tx) warn(table string) Warnf {
	return func(format string, args ...any) {
		t.s.logger.Warn("mysql: "+fmt.Sprintf(format, args...), "table", table)
	}
}

// ddl runs a statement that commits implicitly and starts the next transaction at once, so that what
// the engine does after it stays atomic.
func (t *Tx) ddl(ctx context.Context, what, stmt string) error {
	if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("mysql: %s: %w", what, err)
	}
	if _, err := t.tx.ExecContext(ctx, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"); err != nil {
		return fmt.Errorf("mysql: %s: restart transaction: %w", what, err)
	}
	if _, err := t.tx.ExecContext(ctx, "START TRANSACTION"); err != nil {
		return fmt.Errorf("mysql: %s: restart transaction: %w", what, err)
	}
	return nil
}

// CreateTable creates the table with the planned types (row budget applied).
func (t *Tx) CreateTable(ctx context.Context, tb dialect.Table) error {
	p, err := PlanTable(tb, nil)
	if err != nil {
		return err
	}
	stmt, err := CreateTableSQL(tb, p, t.warn(tb.Name))
	if err != nil {
		return err
	}
	return t.ddl(ctx, fmt.Sprintf("create table %q", tb.Name), stmt)
}

// storedOffRow lists the columns of a table that are stored as text/blob now.
func (t *Tx) storedOffRow(ctx context.Context, name string) (map[string]bool, error) {
	rows, err := t.tx.QueryContext(ctx, "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", name)
	if err != nil {
		return nil, fmt.Errorf("mysql: read columns of %q: %w", name, err)
	}
	defer rows.Close()
	off := map[string]bool{}
	for rows.Next() {
		var col, typ string
		if err := rows.Scan(&col, &typ); err != nil {
			return nil, fmt.Errorf("mysql: read columns of %q: %w", name, err)
		}
		switch strings.ToLower(typ) {
		case "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob":
			off[col] = true
		}
	}
	return off, rows.Err()
}

// AlterTable applies the changes in one ALTER TABLE. Columns already stored off the row stay there,
// and columns that the new definition's row budget moves off the row are modified with it.
func (t *Tx) AlterTable(ctx context.Context, tb dialect.Table, changes []dialect.Change) error {
	off, err := t.storedOffRow(ctx, tb.Name)
	if err != nil {
		return err
	}
	p, err := PlanTable(tb, off)
	if err != nil {
		return err
	}
	added := map[string]bool{}
	for _, ch := range changes {
		if ch.Kind == dialect.AddColumn {
			added[ch.Column.Name] = true
		}
	}
	var moveOff []string
	for i, c := range tb.Columns {
		if p.Types[i].Moved && !off[c.Name] && !added[c.Name] {
			moveOff = append(moveOff, c.Name)
		}
	}
	stmt, err := AlterTableSQL(tb, p, changes, moveOff, t.warn(tb.Name))
	if err != nil || stmt == "" {
		return err
	}
	return t.ddl(ctx, fmt.Sprintf("alter table %q", tb.Name), stmt)
}

// DropTable drops the table if it exists.
func (t *Tx) DropTable(ctx context.Context, name string) error {
	stmt, err := DropTableSQL(name)
	if err != nil {
		return err
	}
	return t.ddl(ctx, fmt.Sprintf("drop table %q", name), stmt)
}

// Truncate deletes every row in the transaction (see TruncateSQL for why not TRUNCATE TABLE).
func (t *Tx) Truncate(ctx context.Context, tb dialect.Table) error {
	stmt, err := TruncateSQL(tb.Name)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("mysql: truncate %q: %w", tb.Name, err)
	}
	return nil
}

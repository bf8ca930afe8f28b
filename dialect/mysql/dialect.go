// Package mysql is the MySQL 8 / MariaDB 10.6+ target of mirrorsink, on github.com/go-sql-driver/mysql.
//
// Each tenant gets a database of its own (the DSN names it; Open creates it with utf8mb4_bin on first
// use, or with OpenOptions.NoCreate fails with dialect.ErrMissing when it is missing). MySQL has no schemas apart from databases, so OpenOptions.Schema is refused. Every session runs
// with time_zone '+00:00', a strict sql_mode (SQLMode: STRICT_ALL_TABLES, NO_ZERO_DATE, no
// NO_BACKSLASH_ESCAPES), utf8mb4/utf8mb4_bin and parseTime with UTC, whatever the DSN says.
//
// # Types
//
// Types follow docs/TYPES.md; the type table is in types.go. Two losses are documented there and here:
// times carry microseconds (100 ns values are rounded half up), and datetimeoffset is stored as a
// naive datetime holding the UTC instant, so the original offset is lost. Dates before year 1000 are
// refused with a *dialect.ValueError, because MySQL does not hold them reliably.
//
// InnoDB limits a row to 65,535 bytes (utf8mb4 varchar(n) reserves 4n+2 of them) and the part of a row
// kept on its page to about 8,126 bytes. The planner (planTable) keeps varchar(n) for key columns and
// while both budgets last, and moves the longest other varchar/varbinary columns to
// text/mediumtext/blob, in a deterministic order (length descending, then column position), so that an
// unchanged schema gives unchanged DDL. Key columns must fit InnoDB's 3,072-byte index key limit; a
// longer key is an error.
//
// # Bulk path
//
// Rows travel as tab-separated text through LOAD DATA LOCAL INFILE 'Reader::…', fed by an io.Pipe
// from a goroutine that encodes the RowSource (no temporary files; allowAllFiles stays off). Binary
// columns travel as hex into user variables and are converted with UNHEX. LOAD DATA LOCAL turns
// duplicate keys and bad values into warnings even in strict mode, so every load checks that the
// server raised no warning and stored exactly the rows sent; a duplicate key becomes
// dialect.ErrDuplicateKey and a bad value a *dialect.ValueError. Insert loads straight into the table
// inside a savepoint of its own, which undoes a failed load; loading a staging table and moving it with
// INSERT … SELECT would give the same guarantees for about 1.5 times the time. Upsert and Delete load
// into a temporary staging table that has the table's primary key and apply one set-based statement in
// key order (INSERT … SELECT … ORDER BY key ON DUPLICATE KEY UPDATE c = VALUES(c), which both MySQL 8
// and MariaDB accept; DELETE t FROM t JOIN staging). Measured and rejected: UPDATE t JOIN staging
// followed by INSERT … WHERE NOT EXISTS (slower: MariaDB buffers the multi-table update and
// materialises the self-referencing insert), and DELETE … WHERE key IN (SELECT …) (ten times slower).
// The server must allow LOCAL INFILE (SET GLOBAL local_infile = 1; MySQL 8 ships with it off); the
// driver's allowAllFiles stays off because no file is read.
//
// # Transactions
//
// MySQL commits implicitly before and after DDL: Create, Alter and Drop commit what the transaction
// did so far, and this package starts a new transaction right after them (whether they succeeded or
// not) so that the rest of the Tx stays atomic; Capabilities says that DDL is not transactional. The
// engine orders its metadata writes so that this is safe (DDL first, then data and LSN together).
// Savepoints do not survive such a statement. Alter checks everything it can before it changes
// anything (the columns it changes exist, a column that becomes NOT NULL holds no NULL, the row and
// key budgets), so that a change MySQL would refuse fails without committing. Truncate uses DELETE
// FROM, which is transactional, rather than TRUNCATE TABLE, which would commit implicitly;
// CREATE/DROP TEMPORARY TABLE (the staging tables) do not commit.
//
// Transactions run at READ COMMITTED: under REPEATABLE READ, two tables' transactions that look for a
// missing metadata row and then insert it deadlock on InnoDB gap locks. Statements report the rows
// they matched (CLIENT_FOUND_ROWS), not only those they changed, as the other dialects do. Queries go
// through prepared statements (the binary protocol), because the text protocol prints FLOAT columns
// with six significant digits. A relaxed commit (dialect.Relaxed) is a plain commit: MySQL's
// durability (innodb_flush_log_at_trx_commit) is the server's, not the session's.
//
// # Connections
//
// A Store's pool holds at most OpenOptions.MaxConns sessions (4 by default), of which at most
// dialect.MaxIdleConns stay open unused, each for OpenOptions.IdleTimeout (database/sql closes them on
// a timer). Every new session, the pool's and the one that creates the database, takes a slot of
// OpenOptions.Gate first (its socket holds it until it closes) and must be ready within
// OpenOptions.ConnectTimeout: the driver's own "timeout" bounds only the dial, not a server that
// accepts and never answers. An unknown database (1049) or table (1146) fails with
// dialect.ErrMissing.
//
// Lock uses GET_LOCK, which belongs to the session rather than the transaction: the Tx holds one
// connection for its whole life and releases its locks after Commit or Rollback (a connection whose
// release fails is discarded, which frees its locks on the server).
package mysql

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/sqlexec"
	"github.com/mirrorsink/mirrorsink/dialect/sqlmeta"
)

func init() { dialect.Register(Dialect{}) }

// Dialect is the MySQL/MariaDB target, registered as "mysql".
type Dialect struct{}

// Name returns "mysql".
func (Dialect) Name() string { return "mysql" }

// Capabilities reports microsecond times, dates from year 1000, a database per tenant, DDL that
// commits by itself, a transactional Truncate (DELETE), and text keys compared as SQL Server compares
// them, without trailing spaces (utf8mb4_bin is a PAD SPACE collation).
func (Dialect) Capabilities() dialect.Capabilities {
	return dialect.Capabilities{
		TimeDigits:            6,
		MinYear:               minYear,
		TransactionalTruncate: true,
		PadsKeys:              true,
		FanIn:                 true,
	}
}

// SQLMode is the sql_mode of every mirror session: strict for all tables, no zero dates, and without
// NO_BACKSLASH_ESCAPES, on which the bulk path's escaping and string literals rely.
const SQLMode = "STRICT_ALL_TABLES,STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

// LockTimeoutParam is the DSN parameter (a Go duration, e.g. "30s") that bounds how long Tx.Lock
// waits. It is mirrorsink's, not the server's, and is removed before connecting.
const LockTimeoutParam = "mirrorsinkLockTimeout"

// DefaultLockTimeout is how long Tx.Lock waits when the DSN does not say.
const DefaultLockTimeout = 10 * time.Minute

// defaultMaxConns is the pool size when OpenOptions.MaxConns is 0.
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
	// metadata store's "update, insert when nothing was updated" must not insert a row that exists
	// unchanged.
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
// when missing, unless opts.NoCreate says not to: the connection to a missing database then fails
// with dialect.ErrMissing (1049). opts.Schema is refused: MySQL has no schemas apart from databases.
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
	qdb, err := quote(cfg.DBName)
	if err != nil {
		return nil, fmt.Errorf("mysql: database name: %w", err)
	}
	meta, err := newMeta(opts.Tenant, opts.TenantColumn != "")
	if err != nil {
		return nil, err
	}
	sql := SQL{}
	if opts.TenantColumn != "" {
		if sql, err = sql.FanIn(opts.TenantColumn, opts.Tenant); err != nil {
			return nil, err
		}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}

	// Every connection's socket holds a slot of the server's gate while it is open.
	cfg.DialFunc = dialect.Dial
	timeout := cmp.Or(opts.ConnectTimeout, dialect.DefaultConnectTimeout)
	if !opts.NoCreate {
		admin := cfg.Clone()
		admin.DBName = ""
		if err := execOnce(ctx, admin, opts.Gate, timeout, createDatabase(qdb)); err != nil {
			return nil, fmt.Errorf("mysql: create database %s: %w", qdb, mapError(err))
		}
	}

	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	n := opts.MaxConns
	if n <= 0 {
		n = defaultMaxConns
	}
	db, closeDB := sqlexec.OpenDB(sqlexec.Connector{Inner: conn, Gate: opts.Gate, Timeout: timeout}, n,
		cmp.Or(opts.IdleTimeout, dialect.DefaultIdleTimeout))
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		closeDB()
		return nil, fmt.Errorf("mysql: connect to database %s: %w", qdb, mapError(err))
	}
	var lctn int
	if err := db.QueryRowContext(ctx, "SELECT @@lower_case_table_names").Scan(&lctn); err != nil {
		closeDB()
		return nil, fmt.Errorf("mysql: read lower_case_table_names: %w", err)
	}
	sql.foldNames = lctn != 0
	return &Store{db: db, closeDB: closeDB, sql: sql, meta: meta, log: logger, lockTimeout: lockTimeout}, nil
}

// Server names the DSN's server: its network and address (host:port, or the socket's path).
func (Dialect) Server(dsn string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("mysql: parse DSN: %w", err)
	}
	return server(cfg), nil
}

// Target names the DSN's server, as Server does, and its database: mysql://tcp(host:3306)/database.
func (Dialect) Target(dsn string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("mysql: parse DSN: %w", err)
	}
	return server(cfg) + "/" + url.PathEscape(cfg.DBName), nil
}

// server names the server of a parsed DSN (see Server).
func server(cfg *mysql.Config) string { return "mysql://" + cfg.Net + "(" + cfg.Addr + ")" }

// execOnce runs one statement on a connection of its own (the database's creation, before the
// tenant's pool can connect to it).
func execOnce(ctx context.Context, cfg *mysql.Config, gate *dialect.ConnGate, timeout time.Duration, stmt string) error {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(sqlexec.Connector{Inner: conn, Gate: gate, Timeout: timeout})
	defer db.Close()
	db.SetMaxIdleConns(0)
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// Store is an open tenant database: a pool of sessions configured by config.
type Store struct {
	db          *sql.DB
	closeDB     func() error
	sql         SQL
	meta        *sqlmeta.Store
	log         *slog.Logger
	lockTimeout time.Duration
}

// Names is how this mirror names tables.
func (s *Store) Names() dialect.Namer { return s.sql }

// txOptions: READ COMMITTED takes no gap locks, so that transactions of different tables that update
// and then insert metadata rows in the same index gap do not deadlock, as they do under REPEATABLE
// READ; each table's apply is serialised by Lock anyway. (It needs binlog_format ROW or MIXED, the
// defaults of MySQL 8 and MariaDB.)
var txOptions = &sql.TxOptions{Isolation: sql.LevelReadCommitted}

// execConfig is what the shared executor needs to know of MySQL.
var execConfig = sqlexec.Config{
	Dialect:        "mysql",
	Savepoint:      savepoint,
	RollbackTo:     rollbackTo,
	MapError:       mapError,
	PrepareQueries: true,
	SessionClosed:  func(err error) bool { return errors.Is(err, mysql.ErrInvalidConn) },
}

// Begin starts a transaction on a connection that the Tx keeps to its end: GET_LOCK, temporary tables
// and LOAD DATA all belong to the session.
func (s *Store) Begin(ctx context.Context) (dialect.Tx, error) {
	x, err := sqlexec.Begin(ctx, s.db, txOptions, &execConfig)
	if err != nil {
		return nil, err
	}
	return &Tx{s: s, x: x}, nil
}

// Close closes the pool.
func (s *Store) Close() error { return s.closeDB() }

// Package sqlite is the SQLite target of mirrorsink (modernc.org/sqlite, pure Go), the embedded
// default: each tenant's mirror is one database file. The DSN is a file path or a "file:" URI;
// missing parent directories are created (0700), and a new database file is created readable by its
// owner only (0600; SQLite gives its -wal and -shm files the same mode), as it holds the tenant's CRM
// data. With OpenOptions.NoCreate neither is created: a missing file (or folder) fails with
// dialect.ErrMissing, and the file is opened with SQLite's mode=rw, which never creates one.
// OpenOptions.Schema is refused: a tenant is a file.
//
// A database file deleted or replaced (a restored backup) while a Store has it open is noticed at the
// next Begin, which fails with dialect.ErrMissing instead of going on with the old file; a table that
// does not exist fails with it too. A new Store of that path waits until the old file's pool has
// closed, and that close removes the old file's -wal and -shm files, which SQLite would otherwise
// replay into the new file. (Only this process's connections are known: a file served by several
// processes must not be deleted or replaced while any of them runs.) SQLite has no server: Server
// returns "", and OpenOptions.ConnectTimeout, IdleTimeout and Gate do not apply.
//
// Concurrency: SQLite allows one writer per file, so a Store holds a pool of exactly one connection
// (OpenOptions.MaxConns is ignored), shared by every Store of the same file in the process. Begin
// therefore waits, under its context, until the previous transaction of that file ends: this is the
// process mutex of ARCHITECTURE.md. A goroutine must not hold two transactions of one file, and a
// transaction that is never ended blocks the file. Transactions start with BEGIN IMMEDIATE, so a
// writer in another process waits (busy_timeout, 10 s) at Begin instead of failing with SQLITE_BUSY
// in the middle of a transaction. Lock adds a process-wide keyed mutex per file and key, released
// when the transaction ends. Every connection runs journal_mode=WAL, synchronous=NORMAL,
// foreign_keys=OFF.
//
// Storage (TYPES.md): integers and bit in INTEGER; float and real in REAL (NaN is refused: SQLite
// would store NULL); decimals and money as exact TEXT in typemap.DecimalValue's canonical form
// (declared TEXT, not NUMERIC, so that SQLite never turns them into REAL); date, time, the datetime
// kinds and datetimeoffset as fixed-width text with seven fraction digits (see values.go), so that
// text order is time order; datetimeoffset keeps the value's own offset; uniqueidentifier as
// lower-case text; binary kinds in BLOB. An empty binary value is stored as an empty BLOB, which
// the driver reads back as a nil []byte (SQL NULL reads as a nil interface). Tables keep their rowid
// (no WITHOUT ROWID): wide rows stay out of the key's B-tree, and a single int key is the rowid.
//
// Writes: Insert, Upsert and Delete send multi-row statements of up to 500 rows (within SQLite's 32766
// variables); converting the next rows overlaps SQLite executing the previous statement. Upsert is
// INSERT … ON CONFLICT DO UPDATE without a staging table, which in an embedded database would only copy
// every row twice. Alter uses ALTER TABLE where SQLite can and otherwise rebuilds the table in place
// within the transaction (create, copy, drop, rename). Table names beginning with "sqlite_" are
// SQLite's own and are refused.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/sqlexec"
	"github.com/mirrorsink/mirrorsink/dialect/sqlmeta"
)

// busyTimeoutMillis is how long a connection waits for another process's write lock.
const busyTimeoutMillis = 10000

// Dialect is the SQLite dialect; it is registered as "sqlite".
type Dialect struct{}

func init() { dialect.Register(Dialect{}) }

// Name returns "sqlite".
func (Dialect) Name() string { return "sqlite" }

// Capabilities: SQLite keeps every value exactly (times as text with seven fraction digits), has no
// schemas, and its DDL and DELETE-as-truncate are transactional.
func (Dialect) Capabilities() dialect.Capabilities {
	return dialect.Capabilities{TimeDigits: 7, MinYear: 1, TransactionalDDL: true, TransactionalTruncate: true}
}

// sharedPool is the one connection pool of a database file, shared by its Stores.
type sharedPool struct {
	db   *sql.DB
	refs int
	// file is the file the pool opened. A file deleted, or replaced by another (a restored backup),
	// under the pool is not this one: SQLite's open connection would go on reading and writing the old
	// one.
	file os.FileInfo
	// closed is closed once the last Store of the pool has closed it.
	closed chan struct{}
}

// current reports whether path is still the file the pool opened.
func (p *sharedPool) current(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, p.file)
}

var (
	poolsMu sync.Mutex
	pools   = map[string]*sharedPool{}
)

// target is a parsed DSN.
type target struct {
	// file is the database file path (absolute), or "" for an in-memory database.
	file string
	// driverDSN is what the driver opens.
	driverDSN string
	// query is the driver's parameters, as driverDSN has them.
	query url.Values
}

// existingOnly is the DSN that opens the file only if it exists: SQLite's mode=rw, without which the
// driver opens with SQLITE_OPEN_CREATE. SQLite reads mode only from a "file:" URI (the driver drops
// every parameter of a plain path that it does not interpret itself), so the path becomes one. A DSN
// that says mode=ro keeps it: that creates nothing either.
func (t target) existingOnly() string {
	q := url.Values{}
	for k, v := range t.query {
		q[k] = v
	}
	if q.Get("mode") != "ro" {
		q.Set("mode", "rw")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(t.file), RawQuery: q.Encode()}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path // a Windows path (C:/…), which SQLite's URIs write as file:///C:/…
	}
	return u.String()
}

// parseDSN reads a file path or a "file:" URI, and adds the pragmas and the transaction mode that
// every connection needs.
func parseDSN(dsn string) (target, error) {
	uri := strings.HasPrefix(dsn, "file:")
	rest, rawQuery, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return target{}, fmt.Errorf("sqlite: DSN parameters: %w", err)
	}
	path := rest
	if uri {
		if strings.HasPrefix(path, "//") {
			// file://host/path: SQLite accepts only an empty host or localhost.
			_, p, _ := strings.Cut(path[2:], "/")
			path = "/" + p
		}
		if path, err = url.PathUnescape(path); err != nil {
			return target{}, fmt.Errorf("sqlite: DSN path: %w", err)
		}
	}
	if path == "" {
		return target{}, errors.New("sqlite: the DSN names no database file")
	}
	memory := path == ":memory:" || q.Get("mode") == "memory"
	for _, k := range []string{"_txlock", "_journal_mode", "_journal", "_busy_timeout", "_timeout", "_foreign_keys", "_fk"} {
		// The dialect relies on these; a DSN may not change them.
		q.Del(k)
	}
	pragmas := []string{
		fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis),
		"synchronous(NORMAL)",
		"foreign_keys(0)",
		"temp_store(MEMORY)",
		"cache_size(-32768)",
	}
	if !memory {
		pragmas = append([]string{"journal_mode(WAL)"}, pragmas...)
	}
	// The DSN's own pragmas run after ours, so that a user may tune e.g. cache_size.
	q["_pragma"] = append(pragmas, q["_pragma"]...)
	q.Set("_txlock", "immediate")
	t := target{driverDSN: strings.TrimSuffix(dsn, "?"+rawQuery), query: q}
	if rawQuery == "" {
		t.driverDSN = dsn
	}
	t.driverDSN += "?" + q.Encode()
	if !memory {
		abs, err := filepath.Abs(path)
		if err != nil {
			return target{}, fmt.Errorf("sqlite: database path %q: %w", path, err)
		}
		t.file = abs
	}
	return t, nil
}

// Open opens (creating when missing) the database file that dsn names: a path, or a "file:" URI.
// Parent directories are created. With opts.NoCreate, a missing file fails with dialect.ErrMissing
// instead, and so does an in-memory database, which would be a new, empty one. opts.Schema is not
// supported: SQLite has no schemas, a tenant is a file.
func (Dialect) Open(ctx context.Context, dsn string, opts dialect.OpenOptions) (dialect.Store, error) {
	if opts.Schema != "" {
		return nil, fmt.Errorf("sqlite: schema %q requested, but SQLite has no schemas: give each tenant its own file", opts.Schema)
	}
	if opts.TenantColumn != "" {
		// One file has one writer at a time: every tenant's cycles would queue behind each other's.
		return nil, errors.New("sqlite: the fan-in layout (a tenant column) is not supported: give each tenant its own file, " +
			"or mirror into PostgreSQL, MySQL or SQL Server to share tables between tenants")
	}
	t, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	meta, err := newMeta(opts.Tenant)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	st := &Store{file: t.file, logger: logger, meta: meta}
	if opts.NoCreate {
		if t.file == "" {
			return nil, fmt.Errorf("sqlite: an in-memory database exists only while it is open: %w", dialect.ErrMissing)
		}
		if err := exists(t.file); err != nil {
			return nil, err
		}
		t.driverDSN = t.existingOnly()
	}
	if t.file == "" {
		if st.db, err = openDB(ctx, t.driverDSN); err != nil {
			return nil, err
		}
		return st, nil
	}
	poolsMu.Lock()
	for {
		p := pools[t.file]
		if p == nil {
			break
		}
		if p.current(t.file) {
			p.refs++
			st.db, st.pool = p.db, p
			poolsMu.Unlock()
			return st, nil
		}
		// The file was deleted or replaced under an open pool. A new connection would share the old
		// one's -wal and -shm files, which SQLite finds by name, and mix the two databases: wait until
		// the old pool's last Store has closed it (its connection then removes its -wal file).
		poolsMu.Unlock()
		select {
		case <-p.closed:
		case <-ctx.Done():
			return nil, fmt.Errorf("sqlite: the database file was deleted or replaced; waiting for its previous connection to close: %w", ctx.Err())
		}
		poolsMu.Lock()
	}
	defer poolsMu.Unlock()
	if !opts.NoCreate {
		if err := createPrivate(t.file); err != nil {
			return nil, err
		}
	}
	if st.db, err = openDB(ctx, t.driverDSN); err != nil {
		if opts.NoCreate {
			// Deleted since it was found, and not created again by mode=rw.
			err = errors.Join(err, exists(t.file))
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", t.file, err)
	}
	fi, err := os.Stat(t.file)
	if err != nil {
		st.db.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	st.pool = &sharedPool{db: st.db, refs: 1, file: fi, closed: make(chan struct{})}
	pools[t.file] = st.pool
	return st, nil
}

// removeOrphans removes the -wal and -shm files that a connection to a deleted or replaced database
// file leaves behind: SQLite refuses to checkpoint into a file that has moved, and it finds these
// files by name, so the next connection to the path would replay the old database's log into the new
// file.
func removeOrphans(file string) error {
	var errs []error
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(file + suffix); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Server returns "": an embedded database has no server whose connections could run out.
func (Dialect) Server(string) (string, error) { return "", nil }

// Target names the DSN's database file by its absolute path, or ":memory:"; never the DSN's
// parameters.
func (Dialect) Target(dsn string) (string, error) {
	t, err := parseDSN(dsn)
	if err != nil {
		return "", err
	}
	if t.file == "" {
		return ":memory:", nil
	}
	return t.file, nil
}

// exists fails with dialect.ErrMissing when the database file (or its folder) does not exist.
func exists(file string) error {
	_, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite: database file %s does not exist: %w", file, dialect.ErrMissing)
	}
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// createPrivate creates the database file's directory (0700) and the file itself (0600) when they are
// missing, before SQLite would create the file with the process's default mode. Existing files and
// directories keep the mode their owner gave them.
func createPrivate(file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("sqlite: create directory of %s: %w", file, err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", file, err)
	}
	return f.Close()
}

func openDB(ctx context.Context, driverDSN string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", driverDSN)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// One writer per file: one connection, kept open (an in-memory database lives in it).
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: connect: %w", err)
	}
	return db, nil
}

// Store is an open SQLite mirror.
type Store struct {
	db     *sql.DB
	file   string      // absolute path; "" for an in-memory database
	pool   *sharedPool // nil for an in-memory database
	logger *slog.Logger
	meta   *sqlmeta.Store
	once   sync.Once
}

// Names returns the dialect's SQL writer, which names tables.
func (s *Store) Names() dialect.Namer { return SQL{} }

// execConfig is how sqlexec runs SQLite transactions.
var execConfig = &sqlexec.Config{
	Dialect:    "sqlite",
	Savepoint:  SQL{}.Savepoint,
	RollbackTo: SQL{}.RollbackTo,
	MapError:   mapError,
}

// mapError marks a primary-key or unique violation as dialect.ErrDuplicateKey, and a table that does
// not exist as dialect.ErrMissing. SQLite reports the latter with the generic SQLITE_ERROR code, so
// its message tells it apart.
func mapError(err error) error {
	var e *sqlitedrv.Error
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return fmt.Errorf("%w: %v", dialect.ErrDuplicateKey, err)
	case e.Code() == sqlite3.SQLITE_ERROR && strings.Contains(e.Error(), "no such table") && !errors.Is(err, dialect.ErrMissing):
		return fmt.Errorf("%w: %w", dialect.ErrMissing, err)
	}
	return err
}

// isConstraint reports any constraint violation (NOT NULL, key, …).
func isConstraint(err error) bool {
	var e *sqlitedrv.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// Begin starts a write transaction (BEGIN IMMEDIATE); it waits while another transaction of the same
// file is open in this process.
func (s *Store) Begin(ctx context.Context) (dialect.Tx, error) {
	if s.pool != nil && !s.pool.current(s.file) {
		// The connection would work on a file that is no longer the mirror.
		return nil, fmt.Errorf("sqlite: the database file was deleted or replaced while open: %w", dialect.ErrMissing)
	}
	x, err := sqlexec.Begin(ctx, s.db, nil, execConfig)
	if err != nil {
		return nil, err
	}
	return &Tx{x: x, store: s}, nil
}

// Close releases the Store; the file's pool closes with its last Store.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		if s.file == "" {
			err = s.db.Close()
			return
		}
		poolsMu.Lock()
		defer poolsMu.Unlock()
		p := s.pool
		p.refs--
		if p.refs == 0 {
			if pools[s.file] == p {
				delete(pools, s.file)
			}
			moved := !p.current(s.file)
			err = p.db.Close()
			if moved {
				err = errors.Join(err, removeOrphans(s.file))
			}
			close(p.closed)
		}
	})
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Package sqlite is the SQLite target of mirrorsink (modernc.org/sqlite, pure Go), the embedded
// default: each tenant's mirror is one database file.
//
// Concurrency: SQLite allows one writer per file, so a Store holds a pool of exactly one connection
// (OpenOptions.MaxConns is ignored), shared by every Store of the same file in the process. Begin
// therefore waits, under its context, until the previous transaction of that file ends: this is the
// process mutex of ARCHITECTURE.md. Transactions start with BEGIN IMMEDIATE, so a writer in another
// process waits (busy_timeout) at Begin instead of failing with SQLITE_BUSY in the middle of a
// transaction. Lock adds a process-wide keyed mutex per file and key, released when the transaction
// ends.
//
// Storage: see TYPES.md and values.go. Decimals are TEXT (exact), datetimes are fixed-width text that
// sorts in time order, tables keep their rowid (no WITHOUT ROWID).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/Masterminds/squirrel"

	// The driver registers "sqlite" with database/sql.
	_ "modernc.org/sqlite"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// busyTimeoutMillis is how long a connection waits for another process's write lock.
const busyTimeoutMillis = 10000

// Dialect is the SQLite dialect; it is registered as "sqlite".
type Dialect struct{}

func init() { dialect.Register(Dialect{}) }

// Name returns "sqlite".
func (Dialect) Name() string { return "sqlite" }

// Builder returns squirrel with ? placeholders.
func (Dialect) Builder() squirrel.StatementBuilderType {
	return squirrel.StatementBuilder.PlaceholderFormat(squirrel.Question)
}

// Quote quotes an identifier; see QuoteIdent.
func (Dialect) Quote(name string) (string, error) { return QuoteIdent(name) }

// sharedPool is the one connection pool of a database file, shared by its Stores.
type sharedPool struct {
	db   *sql.DB
	refs int
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
	t := target{driverDSN: strings.TrimSuffix(dsn, "?"+rawQuery)}
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
// Parent directories are created. opts.Schema is not supported: SQLite has no schemas, a tenant is
// a file.
func (Dialect) Open(ctx context.Context, dsn string, opts dialect.OpenOptions) (dialect.Store, error) {
	if opts.Schema != "" {
		return nil, fmt.Errorf("sqlite: schema %q requested, but SQLite has no schemas: give each tenant its own file", opts.Schema)
	}
	t, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if t.file == "" {
		db, err := openDB(ctx, t.driverDSN)
		if err != nil {
			return nil, err
		}
		return &Store{db: db, logger: logger}, nil
	}
	poolsMu.Lock()
	defer poolsMu.Unlock()
	if p := pools[t.file]; p != nil {
		p.refs++
		return &Store{db: p.db, file: t.file, logger: logger}, nil
	}
	if err := os.MkdirAll(filepath.Dir(t.file), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create directory of %s: %w", t.file, err)
	}
	db, err := openDB(ctx, t.driverDSN)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", t.file, err)
	}
	pools[t.file] = &sharedPool{db: db, refs: 1}
	return &Store{db: db, file: t.file, logger: logger}, nil
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
	file   string // absolute path; "" for an in-memory database
	logger *slog.Logger
	once   sync.Once
}

// Begin starts a write transaction (BEGIN IMMEDIATE); it waits while another transaction of the same
// file is open in this process.
func (s *Store) Begin(ctx context.Context) (dialect.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	return &Tx{tx: tx, store: s}, nil
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
		p := pools[s.file]
		if p == nil {
			return
		}
		p.refs--
		if p.refs == 0 {
			delete(pools, s.file)
			err = p.db.Close()
		}
	})
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

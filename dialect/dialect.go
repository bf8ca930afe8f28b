// Package dialect defines what the mirroring engine needs from a target database, and the registry of
// targets. Each target lives in its own package (dialect/postgres, dialect/sqlite, dialect/mysql,
// dialect/sqlserver) and registers itself from an init function; the binary imports them all.
//
// The engine is dialect-neutral: it decides what must happen (create, reconcile, wipe, bulk-load,
// upsert, delete, store the LSN) and a dialect decides how its database does it. Everything a dialect
// writes quotes identifiers through its own quoter: table and column names are data from the wire.
package dialect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/Masterminds/squirrel"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// Table is a mirrored table as the engine asks for it.
type Table struct {
	// Name is the table's name, exactly as the source spells it.
	Name string
	// Columns are the table's columns in source order.
	Columns []typemap.Column
	// Key holds the indexes into Columns of the primary-key columns, in key order (never empty).
	Key []int
}

// KeyColumns returns the key columns in key order.
func (t Table) KeyColumns() []typemap.Column {
	cols := make([]typemap.Column, len(t.Key))
	for i, k := range t.Key {
		cols[i] = t.Columns[k]
	}
	return cols
}

// ChangeKind says what an in-place schema change does to one column.
type ChangeKind uint8

// The in-place changes the engine may ask for.
const (
	// AddColumn appends Change.Column to the table.
	AddColumn ChangeKind = iota + 1
	// DropColumn removes Change.Old.
	DropColumn
	// AlterType changes the column's type from Change.Old.Type to Change.Column.Type; the engine asks
	// only for widenings that keep every stored value (typemap.Widens).
	AlterType
	// AlterNullability sets or drops NOT NULL as Change.Column.Nullable says.
	AlterNullability
	// AlterDefault sets Change.Column.Default, or drops the default when it is nil.
	AlterDefault
)

// Change is one in-place change to one column. Column is the new definition (for AddColumn and the
// Alter kinds); Old is the stored definition (for DropColumn and the Alter kinds).
type Change struct {
	Kind   ChangeKind
	Column typemap.Column
	Old    typemap.Column
}

// RowSource streams typed rows into a bulk loader. Its method set is pgx.CopyFromSource's, so that the
// PostgreSQL dialect can pass it straight to CopyFrom. Values returns one value per column, in the
// order the loader was asked for, as the Go types typemap decodes to (nil for NULL); the slice is
// reused and valid until the next call to Next.
type RowSource interface {
	Next() bool
	Values() ([]any, error)
	Err() error
}

// Errors that a dialect returns (wrapped) so that the engine can act on them.
var (
	// ErrDuplicateKey: a bulk insert met a key that already exists (or appears twice). The engine then
	// rolls back to its savepoint and applies the batch through the upsert path.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrRecreate: this database cannot make the asked change in place; the engine drops and recreates
	// the table and answers -1 so that SuperOffice resends it.
	ErrRecreate = errors.New("change cannot be made in place")
	// ErrNameTooLong: an identifier is longer than the database allows. Never truncate silently.
	ErrNameTooLong = errors.New("identifier too long")
	// ErrValue: a value does not fit its column in this database (out of range, date before what the
	// target holds, …). Wrap it in a *ValueError where the column is known.
	ErrValue = errors.New("value does not fit column")
)

// ValueError says which value of a batch a dialect could not store.
type ValueError struct {
	Column string
	// Row is the 1-based row number within the rows handed to the loader, 0 when unknown.
	Row    int
	Reason string
}

func (e *ValueError) Error() string {
	if e.Row > 0 {
		return fmt.Sprintf("column %q, row %d: %s", e.Column, e.Row, e.Reason)
	}
	return fmt.Sprintf("column %q: %s", e.Column, e.Reason)
}

// Unwrap makes errors.Is(err, ErrValue) true.
func (e *ValueError) Unwrap() error { return ErrValue }

// OpenOptions say where in the server the tenant's mirror lives.
type OpenOptions struct {
	// Schema, when not empty, puts the tenant's tables into this schema of the DSN's database (created
	// when missing) instead of into a database of its own. Only dialects with schemas accept it.
	Schema string
	// MaxConns bounds the connection pool; 0 means the dialect's default.
	MaxConns int
	// Logger receives the dialect's warnings (dropped defaults, replaced NUL characters). Never log
	// row data or secrets; a table, a column and a key are fine. Nil means slog.Default().
	Logger *slog.Logger
}

// NULsReplaced counts U+0000 characters that a dialect whose text type cannot hold them (PostgreSQL)
// replaced with U+FFFD. It is exported as a metric.
var NULsReplaced atomic.Int64

// Dialect is one kind of target database.
type Dialect interface {
	// Name is the name used in configuration: "postgres", "mysql", "sqlserver", "sqlite".
	Name() string
	// Open connects to one tenant's mirror, creating its database (or schema) on first use.
	Open(ctx context.Context, dsn string, opts OpenOptions) (Store, error)
	// Builder returns the squirrel statement builder for this dialect's placeholder format. The engine
	// uses it for its own metadata tables; identifiers in it always come from Quote.
	Builder() squirrel.StatementBuilderType
	// Quote quotes one identifier, or fails with ErrNameTooLong.
	Quote(name string) (string, error)
}

// Store is an open tenant mirror: a connection pool to its database.
type Store interface {
	// Begin starts a transaction on one connection of the pool.
	Begin(ctx context.Context) (Tx, error)
	// Close releases the pool.
	Close() error
}

// Rows is the result of Tx.Query.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Tx is one transaction of a tenant's mirror. Everything the engine does to apply one call for one
// table happens in one Tx; nothing of it is visible until Commit.
type Tx interface {
	// Exec runs a statement (built with Builder and Quote) and returns the rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a statement that returns rows.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// Commit commits; Rollback rolls back (and is a no-op after Commit).
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error

	// Savepoint marks a point that RollbackTo returns to without ending the transaction.
	Savepoint(ctx context.Context, name string) error
	RollbackTo(ctx context.Context, name string) error

	// Lock takes an exclusive lock on key (a tenant and table) that lasts until the transaction ends,
	// so that two mirrorsink replicas never apply the same table at once.
	Lock(ctx context.Context, key string) error

	// TableExists reports whether the table exists in the mirror.
	TableExists(ctx context.Context, name string) (bool, error)
	// CreateTable creates t with its columns, types, NOT NULL, defaults and primary key.
	CreateTable(ctx context.Context, t Table) error
	// AlterTable applies in-place changes to t (whose new definition is given), or returns
	// ErrRecreate without having changed anything.
	AlterTable(ctx context.Context, t Table, changes []Change) error
	// DropTable drops the table if it exists.
	DropTable(ctx context.Context, name string) error
	// Truncate empties t, keeping its structure, indexes and grants.
	Truncate(ctx context.Context, t Table) error

	// BulkInsert loads rows (every column of t, in t.Columns order) through the dialect's bulk path.
	// A key that already exists fails with ErrDuplicateKey. It returns the number of rows stored.
	BulkInsert(ctx context.Context, t Table, rows RowSource) (int64, error)
	// Upsert writes rows (every column of t, in t.Columns order) by key: bulk-load into a staging
	// table, then one set-based statement (or a fixed few) that updates existing keys and inserts new
	// ones. Keys within one call are unique. It returns the number of rows written.
	Upsert(ctx context.Context, t Table, rows RowSource) (int64, error)
	// Delete removes the rows whose keys (the key columns of t, in t.Key order) are in keys, set-based
	// through a staging table. It returns the number of rows deleted.
	Delete(ctx context.Context, t Table, keys RowSource) (int64, error)
}

// TableQuoter is implemented by a Store whose tables need more than Dialect.Quote to be named, such as
// SQL Server with a schema per tenant (it has no search_path, so every name is schema-qualified). The
// engine names its own tables through it when present.
type TableQuoter interface {
	QuoteTable(name string) (string, error)
}

// Analyzer is implemented by a Tx whose database plans queries from statistics that a bulk load
// leaves stale (PostgreSQL). The engine calls it once a table's repopulation is complete, so that the
// next cycle's upserts and deletes, and the partner's own queries, get index plans rather than plans
// made for an empty table.
type Analyzer interface {
	Analyze(ctx context.Context, t Table) error
}

// FastCommitter is implemented by a Tx that can commit without waiting for durability (PostgreSQL
// synchronous_commit = off). The engine asks for it only for batches that store no LSN: a crash that
// loses such a batch loses nothing, as the table's stored LSN has not moved past its rows and
// SuperOffice sends them again; the batch that stores the LSN commits durably, which also makes the
// earlier commits durable, since the database writes its log in order.
type FastCommitter interface {
	SetFastCommit(ctx context.Context) error
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Dialect{}
)

// Register makes a dialect available by its name. It panics on a duplicate name, which is a
// programming error at init time.
func Register(d Dialect) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[d.Name()]; dup {
		panic("dialect: Register called twice for " + d.Name())
	}
	registry[d.Name()] = d
}

// Lookup returns the dialect registered under name.
func Lookup(name string) (Dialect, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	d, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("dialect %q is not known (known: %v)", name, namesLocked())
	}
	return d, nil
}

// Names lists the registered dialects, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

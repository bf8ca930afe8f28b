// Package dialect is the contract between the mirroring engine and a target database, and the registry
// of targets. The engine decides what must happen (create, reconcile, wipe, bulk-load, upsert, delete,
// store the LSN); a dialect decides how its database does it. The engine never writes SQL.
//
// # How to add a dialect
//
// A dialect is one folder under dialect/ with the same file set as the others, so that a reader who
// knows one knows where everything is in all of them:
//
//  1. dialect.go: the package doc (storage, concurrency, losses), the Dialect value registered from
//     init with Register, its Capabilities, and Open: parse the DSN, create the tenant's database or
//     schema on first use (racing replicas must both succeed; with OpenOptions.NoCreate, fail with
//     ErrMissing instead), return a Store. Honour every OpenOptions field, and bound every wait by the
//     context. Connections: every new one (the pool's growth too, and the administrative ones that
//     create the database) goes through OpenOptions.Gate.Connect with OpenOptions.ConnectTimeout and
//     dials through Dial; the pool keeps at most MaxIdleConns idle for OpenOptions.IdleTimeout, closed
//     by a timer, and registers with the gate's OnShortage. Server names the DSN's server, Target its
//     database. Errors: mark with ErrMissing the driver's codes for a database, schema or table that
//     does not exist, at Begin as in every statement. OpenOptions.TenantColumn opens the fan-in
//     layout (fanin.go): carry it out everywhere and say so in Capabilities.FanIn, or refuse it.
//  2. sql.go: the pure SQL part. Quoting (refuse, with ErrBadName, any name the database cannot hold
//     exactly: never truncate), CREATE/ALTER/DROP/TRUNCATE, staging, upsert, delete and lock
//     statements, string literals. Values in, statements and typed Warnings out, no I/O. Golden-tested
//     against the shared scenarios in testdata/scenarios (see conformance.Golden).
//  3. types.go: the type table: one rule per typemap.Kind (DDL type, bulk encoder, staging type, read
//     expression), the single place every other part consults. Its test calls conformance.EveryKind.
//     Each kind also has a raw encoder, which writes a value's wire text (a WireValue of a
//     RawRowSource) straight into the bulk form through typemap's typed parsers, without a Go value in
//     between: it must write exactly what the bulk encoder writes for the decoded value, and fail
//     where decoding or encoding fails, which conformance.RawEncoders checks (call it from a test and
//     from a fuzz target, see conformance.FuzzRawEncoders).
//  4. meta.go: the metadata store (MetaStore) for mirrorsink's own tables, usually dialect/sqlmeta
//     configured with the dialect's placeholders, quoting and time codec; the migrations that create
//     those tables live in the folder's migrations/ and are embedded.
//  5. tx.go: the transaction (Tx): commit with the asked durability, rollback, the database lock, the
//     operator's hook statements, and the table editor (Tables). Dialects on database/sql build on
//     dialect/sqlexec, which holds savepoints and error wrapping once for all of them.
//  6. bulk.go: the row writer (Rows): the bulk path (COPY, LOAD DATA, TDS bulk copy, multi-row
//     INSERT) and the staged upsert and delete, and optionally Load (see Loader). When the RowSource
//     is a RawRowSource, read its rows
//     with Wire and the raw encoders (and a row a raw encoder refuses with Values and the bulk
//     encoders, see RawRowSource); otherwise with Values and the bulk encoders.
//  7. Tests: sql_test.go runs conformance.Golden; conformance_test.go runs conformance.Run against a
//     live server (skipping with a message when none is configured, see internal/testenv).
//  8. Register the folder in cmd/mirrorsink with one blank import. Nothing else outside the folder
//     changes: nothing switches on a dialect's name.
//
// Everything a dialect writes quotes identifiers through its own quoter: table and column names are
// data from the wire. Errors the engine acts on are the sentinels below, wrapped.
package dialect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// Dialect is one kind of target database.
type Dialect interface {
	// Name is the name used in configuration ("postgres", "sqlite", …).
	Name() string
	// Capabilities says what the engine, the simulator's verifier and the tests must know about the
	// database.
	Capabilities() Capabilities
	// Open connects to one tenant's mirror, creating its database (or schema) on first use unless
	// OpenOptions.NoCreate says not to.
	Open(ctx context.Context, dsn string, opts OpenOptions) (Store, error)
	// Server names the database server that dsn connects to (its host and port, or its socket), for
	// one ConnGate shared by every tenant on that server: two DSNs of the same server, with different
	// databases or users, give the same name. It names no user, password or database, and is "" for an
	// embedded database, which has no server whose connections could run out.
	Server(dsn string) (string, error)
	// Target names the database that dsn opens, for an operator's messages ("tenant … has no mirror
	// at …"): the server as Server names it and the database's name, or an embedded database's file.
	// Like Server it names no user and no password, nor any option of the DSN (one may hold a secret).
	Target(dsn string) (string, error)
}

// Capabilities are the facts about a database that code outside its dialect may depend on.
type Capabilities struct {
	// TimeDigits is the number of fraction-of-second digits the database keeps: 7 (SQL Server's 100 ns)
	// or 6 (microseconds; values are rounded half up).
	TimeDigits int
	// ReplacesNUL says that U+0000 in text is stored as U+FFFD (the text type cannot hold it).
	ReplacesNUL bool
	// MinYear is the first year a date or timestamp may have; earlier values do not fit (ErrValue).
	MinYear int
	// Schemas says that OpenOptions.Schema is accepted: tenants may share a database, one schema each.
	Schemas bool
	// TransactionalDDL says that CREATE, ALTER and DROP TABLE roll back with their transaction.
	TransactionalDDL bool
	// TransactionalTruncate says that emptying a table rolls back with its transaction.
	TransactionalTruncate bool
	// PadsKeys says that text keys which differ only in trailing spaces are one key ('a' = 'a '), as
	// SQL Server, the source, compares them (so no source table holds two such keys); without it they
	// are two. Keys that differ in case are two keys on every target.
	PadsKeys bool
	// FanIn says that OpenOptions.TenantColumn is accepted: the fan-in layout (see fanin.go).
	FanIn bool
}

// Losses returns the documented differences (docs/TYPES.md) between a source value and what the
// database gives back, in the form the canonical-value package applies them.
func (c Capabilities) Losses() canon.Losses {
	return canon.Losses{MicroTime: c.TimeDigits == 6, NULReplaced: c.ReplacesNUL}
}

// OpenOptions say where in the server the tenant's mirror lives and how to reach it.
type OpenOptions struct {
	// Tenant is the SuperOffice tenant (ctx) whose mirror this is. It names mirrorsink's own tables
	// (see MetaTableNames) and must match ^[A-Za-z0-9_]{1,50}$.
	Tenant string
	// Schema, when not empty, puts the tenant's tables into this schema of the DSN's database (created
	// when missing) instead of into a database of its own. Only dialects whose Capabilities say Schemas
	// accept it.
	Schema string
	// MaxConns bounds the connection pool; 0 means the dialect's default.
	MaxConns int
	// ConnectTimeout bounds every new connection the Store makes, at Open and whenever its pool grows
	// later, from the dial to a usable session (the wait for a slot of Gate is not part of it); 0 means
	// DefaultConnectTimeout. A DSN's own, shorter connect timeout applies too. A connection not made in
	// time fails with ErrConnectTimeout.
	ConnectTimeout time.Duration
	// IdleTimeout is how long the pool keeps a connection that no transaction uses (at most
	// MaxIdleConns of them); a timer closes it then, whether or not the pool is used again. 0 means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Gate, when not nil, bounds the connections to the DSN's server (see Dialect.Server) together
	// with every other Store given the same gate: each connection of the Store, in use or idle, holds
	// one of its slots while it is open, and the pool's idle connections are closed when a caller of
	// another Store waits for one. Nil bounds nothing.
	Gate *ConnGate
	// Logger receives the dialect's warnings (dropped defaults, replaced NUL characters). Never log
	// row data or secrets (key values are row data); a table, a column and a batch's row number are
	// fine. Nil means slog.Default().
	Logger *slog.Logger
	// Events receives counts of what the dialect did to values, for the engine's metrics; nil drops
	// them.
	Events *Events
	// TenantColumn, when not empty, opens the tenant's mirror in the fan-in layout: the tables of the
	// DSN's database (or of Schema) are shared by every tenant opened there, each row marked with its
	// tenant in this leading column (see fanin.go). Only dialects whose Capabilities say FanIn accept it.
	TenantColumn string
	// NoCreate makes Open fail with ErrMissing where it would create the mirror's database, its
	// schema or its file (and the file's folder), and open a mirror that exists as usual. It is for a
	// read-only look (mirrorsink status, the status page): opening a mistyped tenant's mirror must not
	// leave an empty database on a shared production server. Open never creates mirrorsink's own
	// tables; the engine, opening with NoCreate, does not migrate them into a mirror that lacks them
	// either: a database without them mirrors no tenant.
	NoCreate bool
}

// Events are callbacks through which a dialect reports what an operator should be able to count. Any
// field may be nil, and so may the Events.
type Events struct {
	// OnNULsReplaced is called with the number of U+0000 characters that one write replaced with
	// U+FFFD (see Capabilities.ReplacesNUL).
	OnNULsReplaced func(n int)
}

// NULsReplaced reports n replaced NUL characters; it is safe on a nil Events.
func (e *Events) NULsReplaced(n int) {
	if e != nil && e.OnNULsReplaced != nil && n > 0 {
		e.OnNULsReplaced(n)
	}
}

// Store is an open tenant mirror: a connection pool to its database.
type Store interface {
	// Names is how this mirror names things, for the engine's checks and the operator's hooks.
	Names() Namer
	// Begin starts a transaction on one connection of the pool.
	Begin(ctx context.Context) (Tx, error)
	// Close releases the pool.
	Close() error
}

// Namer names tables and quotes text in one tenant's mirror. It is pure.
type Namer interface {
	// Table returns the table's name quoted, and qualified where the mirror needs it, as a statement in
	// this mirror must write it. A name the database cannot hold exactly fails with ErrBadName.
	Table(name string) (string, error)
	// Literal returns s as a string literal of this database.
	Literal(s string) string
	// Fold returns the form under which the database compares table names: two names with the same
	// Fold are the same table.
	Fold(name string) string
}

// Durability says whether a commit must wait until its changes survive a crash of the database.
type Durability uint8

// The two durabilities of Tx.Commit.
const (
	// Durable commits wait for the database's durability guarantee.
	Durable Durability = iota
	// Relaxed commits may return before their changes are durable, where the database allows it
	// (PostgreSQL synchronous_commit = off). The engine does not ask for it for a batch: a batch's
	// call is answered as done, and a later batch that stores the table's LSN may commit on a new
	// connection to a server that crashed and lost the relaxed commit in between, so its rows would
	// never be sent again (e2e TestAnsweredBatchesSurviveADatabaseCrash).
	Relaxed
)

// Tx is one transaction of a tenant's mirror. Everything the engine does to apply one call for one
// table happens in one Tx; nothing of it is visible until Commit. The operations the engine recovers
// from — Rows().Insert failing with ErrDuplicateKey, Tables().Alter, Tables().Count — leave the
// transaction as it was before them when they fail (dialects use savepoints where the database would
// otherwise abort the whole transaction), so that the engine can try another way; after any other
// failure the engine rolls back.
type Tx interface {
	// Meta is mirrorsink's own tables in this transaction.
	Meta() MetaStore
	// Tables edits and reads the mirrored tables.
	Tables() TableEditor
	// Rows writes rows of the mirrored tables.
	Rows() RowWriter
	// Lock takes an exclusive lock on key (a tenant and table) that lasts until the transaction ends,
	// so that two mirrorsink replicas never apply the same table at once.
	Lock(ctx context.Context, key string) error
	// RunStatement runs one statement an operator configured (a hook), as it is.
	RunStatement(ctx context.Context, statement string) error
	// Commit commits. Rollback rolls back, and is a no-op after Commit.
	Commit(ctx context.Context, d Durability) error
	Rollback(ctx context.Context) error
}

// MetaTableNames are the names of mirrorsink's own tables in a tenant's mirror (PROTOCOL.md, "The
// metadata table").
type MetaTableNames struct {
	// Meta holds one row per mirrored table: LSN, schema hash, the schema it came from, times.
	Meta string
	// Cycles holds one row per completed replication cycle.
	Cycles string
	// Migrations records which migrations of mirrorsink's own tables have been applied.
	Migrations string
	// Pause holds the operator's pause of the tenant, when there is one (at most one row).
	Pause string
	// Failures holds the newest failed calls and hooks (a bounded log).
	Failures string
	// Changes is the change journal (journal.go) and ChangesSeq its counter row. They exist in every
	// mirror; only a route with the journal on writes to them.
	Changes, ChangesSeq string
}

// MetaTables returns the names of mirrorsink's own tables for tenant.
func MetaTables(tenant string) MetaTableNames {
	return MetaTableNames{
		Meta:       tenant + "_mirroring",
		Cycles:     tenant + "_mirroring_cycles",
		Migrations: tenant + "_mirroring_migrations",
		Pause:      tenant + "_mirroring_pause",
		Failures:   tenant + "_mirroring_failures",
		Changes:    tenant + "_changes",
		ChangesSeq: tenant + "_changes_seq",
	}
}

// All returns every name.
func (n MetaTableNames) All() []string {
	return []string{n.Meta, n.Cycles, n.Migrations, n.Pause, n.Failures, n.Changes, n.ChangesSeq}
}

// TableMeta is one row of the metadata table: what the mirror knows of one mirrored table.
type TableMeta struct {
	// Table is the table's name as the source spells it.
	Table string
	// LSN is the stored LSN; -1 while the table waits for (or is in) a repopulation.
	LSN int64
	// SchemaHash identifies the accepted schema (SchemaJSON's SHA-256, hex).
	SchemaHash string
	// SchemaJSON is the accepted schema as the engine stores it.
	SchemaJSON string
	// SchemaChanged is when the table was created or last changed.
	SchemaChanged time.Time
	// LastApplied is when a batch was last applied; zero when none has been.
	LastApplied time.Time
	// LostObjects are what the table's last schema change could not keep of the objects others had
	// put on it (see LostObject); PutTable replaces them, the other writes keep them.
	LostObjects []LostObject
	// StoredIn and Conflict are kept in the fan-in layout only (see SharedTable): the table that
	// holds the tenant's rows when it is not the shared table of the same name, and why not.
	StoredIn, Conflict string
}

// Cycle is one completed replication cycle.
type Cycle struct {
	// ID orders cycles: the newest has the highest.
	ID        int64
	Completed time.Time
	Tables    int64
	Inserts   int64
	Updates   int64
	Deletes   int64
	// Summary is the cycle's per-table summary as JSON.
	Summary string
}

// Pause is an operator's pause of a tenant, stored in its mirror so that every replica sees it.
type Pause struct {
	// By names who paused (a user and host, as the pause command found them, or what it was told).
	By string
	// At is when the tenant was paused.
	At time.Time
	// Reason is the operator's note; it may be empty.
	Reason string
}

// Failure is one failed call or hook, as recorded in the tenant's mirror. It never holds row data.
type Failure struct {
	// ID orders failures: the newest has the highest.
	ID int64
	At time.Time
	// Operation is the call (TableSchema, Wipe, RowData, …) or the hook ("hook after_wipe",
	// "webhook after_cycle") that failed.
	Operation string
	// Table is the table the failure concerns; empty when it concerns none.
	Table string
	// Class sorts failures for an operator: value, bad_name, paused, timeout, hook, …
	Class string
	// Message says what went wrong, without row data.
	Message string
}

// KeepLSN is the lsn argument of MetaStore.SetLSN that records an application without moving the LSN.
const KeepLSN int64 = 0

// MetaStore reads and writes mirrorsink's own tables in one transaction. Its methods are typed: no
// SQL crosses this interface.
type MetaStore interface {
	// Migrate creates or upgrades mirrorsink's own tables. It is idempotent; the engine runs it under
	// a lock so that replicas starting together do not race.
	Migrate(ctx context.Context, now time.Time) error
	// Tables returns every metadata row, by table name.
	Tables(ctx context.Context) (map[string]TableMeta, error)
	// Table returns one table's metadata row; ok is false when it has none.
	Table(ctx context.Context, name string) (m TableMeta, ok bool, err error)
	// PutTable inserts or replaces a table's row, keeping its LastApplied.
	PutTable(ctx context.Context, m TableMeta) error
	// SetLSN records that a batch was applied to table at applied, and stores lsn unless it is KeepLSN.
	// It fails with ErrNoMeta when the table has no row (a concurrent TableSchema dropped it).
	SetLSN(ctx context.Context, table string, lsn int64, applied time.Time) error
	// DeleteTable removes a table's row; a missing row is not an error.
	DeleteTable(ctx context.Context, table string) error
	// ResetLSN sets the LSN of table (of every table when table is "") to -1 and returns how many rows
	// it changed.
	ResetLSN(ctx context.Context, table string) (int64, error)
	// RecordCycle stores a completed cycle.
	RecordCycle(ctx context.Context, c Cycle) error
	// LastCycle returns the newest recorded cycle; ok is false when there is none.
	LastCycle(ctx context.Context) (c Cycle, ok bool, err error)
	// Pause returns the tenant's stored pause; ok is false when the tenant is not paused.
	Pause(ctx context.Context) (p Pause, ok bool, err error)
	// SetPause stores p, replacing an earlier pause.
	SetPause(ctx context.Context, p Pause) error
	// ClearPause removes the pause and reports whether there was one.
	ClearPause(ctx context.Context) (bool, error)
	// RecordFailure stores f and bounds the log: once it holds more than keep + keep/10 failures, the
	// oldest go, down to keep (keep <= 0 keeps all). f.ID must be unique.
	RecordFailure(ctx context.Context, f Failure, keep int) error
	// Failures returns the newest failures, at most limit of them, newest first.
	Failures(ctx context.Context, limit int) ([]Failure, error)
	// Shared reads what the fan-in layout keeps of one table (see SharedTable); in a mirror of one
	// tenant it holds that tenant's row only.
	Shared(ctx context.Context, table string) (SharedTable, error)
	// PutShared inserts or replaces the row that records a shared table's definition (fan-in only).
	PutShared(ctx context.Context, def TableMeta) error
	// DeleteShared removes the row that records the definition of the shared table named table, and
	// the rows of every tenant whose rows that table holds (those whose StoredIn is empty): what a
	// shared table that is gone takes with it (fan-in only).
	DeleteShared(ctx context.Context, table string) error
	// ReadJournal calls fn with the tenant's journal entries whose sequence number is above after, in
	// sequence order, at most limit of them (limit <= 0: all).
	ReadJournal(ctx context.Context, after int64, limit int, fn func(JournalEntry) error) error
	// PruneJournal deletes the tenant's journal entries that r lets go (applied before now - MaxAge,
	// or older than the newest MaxEntries) and returns how many it deleted. It takes no journal lock:
	// it deletes old entries only, which no writer touches.
	PruneJournal(ctx context.Context, r JournalRetention, now time.Time) (int64, error)
}

// TableEditor creates, changes, empties and reads the mirrored tables.
type TableEditor interface {
	// Exists reports whether the table exists in the mirror.
	Exists(ctx context.Context, name string) (bool, error)
	// Create creates t with its columns, types, NOT NULL, defaults and primary key. Key columns are
	// NOT NULL whatever the source says of them, and compare text by its characters, case included.
	Create(ctx context.Context, t Table) error
	// Alter applies in-place changes to a table whose new definition is t. It either applies all of
	// them or fails having changed nothing; ErrRecreate says that the database cannot make them in
	// place (the engine then recreates the table). What others put on the table (see LostObject) is
	// kept where the database allows; Alter returns what it could not keep, and succeeds all the same.
	Alter(ctx context.Context, t Table, changes []Change) ([]LostObject, error)
	// Recreate drops the table if it exists and creates t in its place, empty. What others put on the
	// old table is re-created on the new one where the database allows (views on it, its indexes,
	// triggers and grants, as far as they still fit t); Recreate returns what it could not re-create,
	// and succeeds all the same.
	Recreate(ctx context.Context, t Table) ([]LostObject, error)
	// Drop drops the table if it exists, the source having deleted it. Views that depend on it, which
	// the database would not let it drop otherwise, go with it and are returned.
	Drop(ctx context.Context, name string) ([]LostObject, error)
	// Truncate empties t, keeping its structure, indexes and grants.
	Truncate(ctx context.Context, t Table) error
	// Count returns the table's number of rows.
	Count(ctx context.Context, name string) (int64, error)
	// Read calls fn with every row of t (every column, in t.Columns order). It is how tools and tests
	// read a mirror back (the simulator's verifier, the conformance suites), so it hands plain values
	// that canon.Value understands whatever the driver: nil for NULL, bool, int64, float64, string,
	// []byte, time.Time, typemap.DecimalValue, typemap.TimeOfDay or typemap.UUID. The slice is reused.
	Read(ctx context.Context, t Table, fn func(values []any) error) error
}

// RowWriter writes rows of the mirrored tables.
type RowWriter interface {
	// Insert loads rows (every column of t, in t.Columns order) through the dialect's bulk path. A key
	// that already exists, or appears twice, fails with ErrDuplicateKey (and nothing of the call is
	// kept). It returns the number of rows stored.
	Insert(ctx context.Context, t Table, rows RowSource) (int64, error)
	// Upsert writes rows (every column of t, in t.Columns order) by key: bulk-load into a staging
	// table, then one set-based statement (or a fixed few) that updates existing keys and inserts new
	// ones. Keys within one call are unique. It returns the number of rows written.
	Upsert(ctx context.Context, t Table, rows RowSource) (int64, error)
	// Delete removes the rows whose keys (the key columns of t, in t.Key order) are in keys,
	// set-based. It returns the number of rows deleted.
	Delete(ctx context.Context, t Table, keys RowSource) (int64, error)
	// SoftDelete marks as deleted the rows whose keys (the key columns of t, in t.Key order) are in
	// keys, set-based as Delete: it sets t.DeletedAt (and t.MirroredAt, when the table has it) to at,
	// and leaves every other value as it is (see added.go). A row already marked keeps its first time;
	// a key not in the table does nothing. It returns the number of rows it marked. t.DeletedAt must
	// not be "".
	SoftDelete(ctx context.Context, t Table, keys RowSource, at time.Time) (int64, error)
	// PurgeDeleted removes the rows that t.DeletedAt marks as deleted (of the Store's tenant, in the
	// fan-in layout), set-based, and returns how many it removed: what is left of the soft deletes
	// when a table stops keeping them. t.DeletedAt must not be "".
	PurgeDeleted(ctx context.Context, t Table) (int64, error)
	// Analyze refreshes the planner's statistics of t where the database keeps them and a bulk load
	// leaves them stale; elsewhere it does nothing. The engine calls it once a repopulation completes.
	Analyze(ctx context.Context, t Table) error
	// Journal appends b's changes to the tenant's change journal (journal.go) through the bulk path,
	// in this transaction: it takes the tenant's journal lock, which is held until the transaction
	// ends (so the engine calls it last, just before Commit), numbers the changes on from the
	// journal's last sequence number, in order, and stamps each with the newest cycle's id. It returns
	// the first sequence number given (0 for an empty batch, which writes nothing). A missing counter
	// row fails with ErrJournalCounter.
	Journal(ctx context.Context, b *JournalBatch) (first int64, err error)
}

// Loader is implemented by a RowWriter whose bulk path can skip what Insert's promise costs: Load is
// Insert for a caller that rolls the whole transaction back after any failure, so a failed Load need
// not leave the transaction as it was (no savepoint, one statement less per call). The engine uses it
// for a batch it loads while the batch arrives, whose failure it never recovers from in the same
// transaction.
type Loader interface {
	Load(ctx context.Context, t Table, rows RowSource) (int64, error)
}

// Table is a mirrored table as the engine asks for it.
type Table struct {
	// Name is the table's name, exactly as the source spells it.
	Name string
	// Columns are the table's columns in source order.
	Columns []typemap.Column
	// Key holds the indexes into Columns of the primary-key columns, in key order (never empty).
	Key []int
	// DeletedAt and MirroredAt name the columns of Columns that mirrorsink adds and writes itself after
	// the source's (see added.go); "" when the table has no such column.
	DeletedAt, MirroredAt string
}

// KeyColumns returns the key columns in key order.
func (t Table) KeyColumns() []typemap.Column {
	cols := make([]typemap.Column, len(t.Key))
	for i, k := range t.Key {
		cols[i] = t.Columns[k]
	}
	return cols
}

// Declared returns column i as the mirror declares it: a key column is NOT NULL whatever the source
// says of it (an operator's key override may name a column that is nullable at the source).
func (t Table) Declared(i int) typemap.Column {
	c := t.Columns[i]
	if t.IsKey(i) {
		c.Nullable = false
	}
	return c
}

// IsKey reports whether column i is part of the key.
func (t Table) IsKey(i int) bool {
	for _, k := range t.Key {
		if k == i {
			return true
		}
	}
	return false
}

// LostObject is something that mirrorsink did not create on a mirrored table — a partner's view,
// index, trigger, constraint or grant — that a change of the table could not keep. The change itself
// goes ahead: a mirror must follow its source; the engine logs, counts and records what was lost, so
// that its owner can put it back.
type LostObject struct {
	// Object names it as the database does, e.g. `view "public"."contact_names"`.
	Object string `json:"object"`
	// Reason says why it was lost: the database's error when re-creating it failed, or why the
	// database cannot keep it. It never holds row data.
	Reason string `json:"reason"`
}

// String returns "object: reason".
func (o LostObject) String() string { return o.Object + ": " + o.Reason }

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

// String names the change kind for messages.
func (k ChangeKind) String() string {
	switch k {
	case AddColumn:
		return "add column"
	case DropColumn:
		return "drop column"
	case AlterType:
		return "alter type"
	case AlterNullability:
		return "alter nullability"
	case AlterDefault:
		return "alter default"
	}
	return fmt.Sprintf("change(%d)", uint8(k))
}

// Change is one in-place change to one column. Column is the new definition (for AddColumn and the
// Alter kinds); Old is the stored definition (for DropColumn and the Alter kinds).
type Change struct {
	Kind   ChangeKind
	Column typemap.Column
	Old    typemap.Column
}

// RowSource streams typed rows into a writer. Values returns one value per column, in the order the
// writer was asked for, as the Go types typemap decodes to (nil for NULL); the slice is reused and
// valid until the next call to Next.
type RowSource interface {
	Next() bool
	Values() ([]any, error)
	Err() error
}

// WireValue is one value of a row as the wire carries it: its text (entities resolved: "[I:1]",
// "[DT:05/18/2020 10:40:43.0000000]", plain text, …) or NULL.
type WireValue struct {
	// Text is the wire text; it is valid until the source's next call to Next.
	Text []byte
	// Null says the value is NULL; Text is then empty.
	Null bool
}

// RawRowSource is a RowSource that can hand out its rows as wire text, so that a writer encodes each
// value straight into its database's bulk form with its type table's raw encoders (typemap's typed
// parsers check the text without allocating) instead of decoding it into a Go value and encoding that.
//
// The generic path stays the judge of a row that fails: when a raw encoder refuses a value, the writer
// calls Values for the same row and encodes it with its bulk encoders, and returns the error that
// gives (Values' error, or the first column's encoding error), so that a row fails exactly as it would
// through Values. Only if that unexpectedly succeeds does the writer return the raw encoder's error.
type RawRowSource interface {
	RowSource
	// Wire returns the current row's values in the writer's column order. The slice is reused and
	// valid until the next call to Next. The row is checked as Values checks it except for each
	// value's text: a row with the wrong number of values or a NULL where its column holds none fails
	// with the error Values gives.
	Wire() ([]WireValue, error)
}

// Warning is something a dialect left out or changed while rendering a table, for the log: a default
// the database cannot express, for instance. It never holds row data.
type Warning struct {
	Table  string
	Column string
	Reason string
}

// LogWarnings logs each warning once at warn level.
func LogWarnings(log *slog.Logger, dialectName string, warnings []Warning) {
	for _, w := range warnings {
		log.Warn(dialectName+": "+w.Reason, "table", w.Table, "column", w.Column)
	}
}

// Errors that a dialect returns (wrapped) so that the engine can act on them.
var (
	// ErrDuplicateKey: a bulk insert met a key that already exists (or appears twice). The engine then
	// applies the batch through the upsert path.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrRecreate: this database cannot make the asked change in place; the engine drops and recreates
	// the table and answers -1 so that SuperOffice resends it.
	ErrRecreate = errors.New("change cannot be made in place")
	// ErrBadName: an identifier the database cannot hold exactly (empty, too long, a NUL, invalid
	// UTF-8, a reserved prefix). Never truncate or alter a name silently.
	ErrBadName = errors.New("identifier not representable")
	// ErrValue: a value does not fit its column in this database (out of range, a date before what the
	// target holds, …). Wrap it in a *ValueError where the column is known.
	ErrValue = errors.New("value does not fit column")
	// ErrNoMeta: a table has no row in the metadata table.
	ErrNoMeta = errors.New("table has no metadata row")
	// ErrMissing: the database, schema or table this operation needs does not exist (an operator
	// dropped the tenant's mirror, its schema, mirrorsink's own tables or one mirrored table while the
	// Store was open). Dialects set it from the driver's error codes, never from message text alone
	// where the driver has a code. The engine then forgets the open mirror, opens it again (which
	// re-creates what is missing) and lets TableSchema answer -1 for what was lost.
	ErrMissing = errors.New("the database, schema or table this operation needs does not exist")
)

// Redact returns err with message as its text: for a database error whose own message quotes row data
// (a duplicate key's value, say), which must reach neither the log nor SuperOffice. The original stays
// in the chain for errors.Is and errors.As, but its text is never printed through the result.
func Redact(err error, message string) error {
	if err == nil {
		return nil
	}
	return &redacted{msg: message, err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// ValueError says which value of a batch a dialect could not store.
type ValueError struct {
	Column string
	// Row is the 1-based row number within the rows handed to the writer, 0 when unknown.
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

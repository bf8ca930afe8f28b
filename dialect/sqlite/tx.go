package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/sqlexec"
)

// Tx is one SQLite transaction (BEGIN IMMEDIATE: it holds the file's write lock from the start).
type Tx struct {
	x     *sqlexec.Tx
	store *Store
	q     SQL
	locks []string
}

var (
	_ dialect.Tx          = (*Tx)(nil)
	_ dialect.TableEditor = (*Tx)(nil)
	_ dialect.RowWriter   = (*Tx)(nil)
)

// Meta returns the metadata store in this transaction.
func (x *Tx) Meta() dialect.MetaStore { return x.store.meta.In(x.x) }

// Tables returns the transaction's table editor.
func (x *Tx) Tables() dialect.TableEditor { return x }

// Rows returns the transaction's row writer.
func (x *Tx) Rows() dialect.RowWriter { return x }

// Commit commits and releases the transaction's locks. SQLite's durability is the connection's
// synchronous setting, the same for every commit.
func (x *Tx) Commit(ctx context.Context, _ dialect.Durability) error {
	defer x.releaseLocks()
	return x.x.Commit(ctx)
}

// Rollback rolls back and releases the locks; it is a no-op once the transaction has ended.
func (x *Tx) Rollback(ctx context.Context) error {
	defer x.releaseLocks()
	return x.x.Rollback(ctx)
}

func (x *Tx) releaseLocks() {
	for _, k := range x.locks {
		processLocks.unlock(k)
	}
	x.locks = nil
}

// RunStatement runs an operator's statement.
func (x *Tx) RunStatement(ctx context.Context, statement string) error {
	if _, err := x.x.Exec(ctx, statement); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// Lock takes the process-wide lock of key in this database file until the transaction ends. Another
// process cannot get past Begin while this transaction holds the file's write lock, so a process
// mutex is all that replicas on one file need.
func (x *Tx) Lock(ctx context.Context, key string) error {
	if x.x.Done() {
		return fmt.Errorf("sqlite: lock: %w", sql.ErrTxDone)
	}
	file := x.store.file
	if file == "" {
		file = fmt.Sprintf("memory:%p", x.store.db)
	}
	name := file + "\x00" + key
	for _, held := range x.locks {
		if held == name {
			return nil
		}
	}
	if err := processLocks.lock(ctx, name); err != nil {
		return fmt.Errorf("sqlite: lock %q: %w", key, err)
	}
	x.locks = append(x.locks, name)
	return nil
}

// Exists reports whether the table exists (names match without regard to ASCII case, as in SQLite
// itself).
func (x *Tx) Exists(ctx context.Context, name string) (bool, error) {
	var one int
	found, err := x.x.QueryRow(ctx, TableExistsSQL, []any{name}, &one)
	if err != nil {
		return false, fmt.Errorf("sqlite: does table %q exist: %w", name, err)
	}
	return found, nil
}

// Create creates t.
func (x *Tx) Create(ctx context.Context, t dialect.Table) error {
	stmt, warnings, err := x.q.CreateTable(t)
	if err != nil {
		return err
	}
	if _, err := x.x.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("sqlite: create table %q: %w", t.Name, err)
	}
	dialect.LogWarnings(x.store.logger, "sqlite", warnings)
	return nil
}

// Drop drops the table if it exists, with its indexes and triggers. Views of it stay: SQLite keeps a
// view as its text, which reads a table of that name again once there is one.
func (x *Tx) Drop(ctx context.Context, name string) ([]dialect.LostObject, error) {
	return nil, x.drop(ctx, name)
}

func (x *Tx) drop(ctx context.Context, name string) error {
	stmt, err := x.q.DropTable(name)
	if err != nil {
		return err
	}
	if _, err := x.x.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("sqlite: drop table %q: %w", name, err)
	}
	return nil
}

// Recreate drops the table and creates t in its place, re-creating the indexes and triggers that
// others put on the old one (views of it survive by themselves, see Drop). One that no longer fits the
// new table is returned as lost.
func (x *Tx) Recreate(ctx context.Context, t dialect.Table) ([]dialect.LostObject, error) {
	saved, err := x.keep(ctx, t.Name)
	if err != nil {
		return nil, err
	}
	if err := x.drop(ctx, t.Name); err != nil {
		return nil, err
	}
	if err := x.Create(ctx, t); err != nil {
		return nil, err
	}
	return x.restore(ctx, t.Name, saved)
}

// savedObject is an index or trigger of a table, as sqlite_schema holds it.
type savedObject struct {
	kind, name, sql string
	// columns are the table's columns that an index names (not those its expressions read).
	columns []string
}

// keep saves the indexes and triggers that others put on a table (those SQLite made itself for the
// primary key have no SQL text), with the columns each index names.
func (x *Tx) keep(ctx context.Context, table string) ([]savedObject, error) {
	var out []savedObject
	err := x.x.Query(ctx, TableObjectsSQL, []any{table}, func(scan func(...any) error) error {
		var o savedObject
		if err := scan(&o.kind, &o.name, &o.sql); err != nil {
			return err
		}
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read the indexes and triggers of %q: %w", table, err)
	}
	for i, o := range out {
		if o.kind != "index" {
			continue
		}
		err := x.x.Query(ctx, IndexColumnsSQL, []any{o.name}, func(scan func(...any) error) error {
			var c string
			if err := scan(&c); err != nil {
				return err
			}
			out[i].columns = append(out[i].columns, c)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("sqlite: read the columns of index %q: %w", o.name, err)
		}
	}
	return out, nil
}

// restore re-creates the saved objects of table that no longer exist, each inside a savepoint of its
// own, and returns those that could not be. An index of a column the table no longer has is not
// re-created: SQLite would take the column's quoted name for a string and index that instead.
func (x *Tx) restore(ctx context.Context, table string, saved []savedObject) ([]dialect.LostObject, error) {
	if len(saved) == 0 {
		return nil, nil
	}
	stored, err := x.storedColumns(ctx, table)
	if err != nil {
		return nil, err
	}
	has := map[string]bool{}
	for _, c := range stored {
		has[strings.ToLower(c.name)] = true
	}
	var lost []dialect.LostObject
	for _, o := range saved {
		var one int
		found, err := x.x.QueryRow(ctx, ObjectExistsSQL, []any{o.name}, &one)
		if err != nil {
			return nil, fmt.Errorf("sqlite: does %s %q exist: %w", o.kind, o.name, err)
		}
		if found {
			continue
		}
		object := o.kind + " " + quoteUnchecked(o.name)
		if missing := missingColumn(o.columns, has); missing != "" {
			lost = append(lost, dialect.LostObject{Object: object, Reason: fmt.Sprintf("the table has no column %q any more", missing)})
			continue
		}
		err = x.x.Atomically(ctx, func() error {
			_, err := x.x.Exec(ctx, o.sql)
			return err
		})
		if err != nil {
			lost = append(lost, dialect.LostObject{Object: object, Reason: err.Error()})
		}
	}
	return lost, nil
}

// missingColumn returns the first of columns that has does not hold (by SQLite's case-insensitive
// names), or "".
func missingColumn(columns []string, has map[string]bool) string {
	for _, c := range columns {
		if !has[strings.ToLower(c)] {
			return c
		}
	}
	return ""
}

// Truncate deletes every row of t.
func (x *Tx) Truncate(ctx context.Context, t dialect.Table) error {
	stmt, err := x.q.Truncate(t.Name)
	if err != nil {
		return err
	}
	if _, err := x.x.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("sqlite: truncate %q: %w", t.Name, err)
	}
	return nil
}

// Count returns the table's number of rows.
func (x *Tx) Count(ctx context.Context, name string) (int64, error) {
	stmt, err := x.q.Count(name)
	if err != nil {
		return 0, err
	}
	var n int64
	if _, err := x.x.QueryRow(ctx, stmt, nil, &n); err != nil {
		return 0, fmt.Errorf("sqlite: count %q: %w", name, err)
	}
	return n, nil
}

// Read hands every row of t to fn, each value read back through the type table.
func (x *Tx) Read(ctx context.Context, t dialect.Table, fn func([]any) error) error {
	stmt, err := x.q.Select(t)
	if err != nil {
		return err
	}
	reads := make([]func(any) (any, error), len(t.Columns))
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		r, err := ruleOf(c.Type)
		if err != nil {
			return err
		}
		reads[i], names[i] = r.read, c.Name
	}
	err = x.x.ReadRows(ctx, stmt, names, reads, fn)
	if err != nil {
		return fmt.Errorf("sqlite: read %q: %w", t.Name, err)
	}
	return nil
}

// storedColumns reads a table's columns, in table order.
func (x *Tx) storedColumns(ctx context.Context, table string) ([]storedColumn, error) {
	var cols []storedColumn
	err := x.x.Query(ctx, StoredColumnsSQL, []any{table}, func(scan func(...any) error) error {
		var c storedColumn
		if err := scan(&c.name, &c.pk); err != nil {
			return err
		}
		cols = append(cols, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: columns of %q: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("sqlite: alter table %q: the table does not exist", table)
	}
	return cols, nil
}

// Alter applies the changes in place (see SQL.Alter), inside a savepoint: a failure leaves the table
// and the transaction as they were. NOT NULL over stored NULLs, or any other constraint the stored
// rows break, returns dialect.ErrRecreate.
//
// A rebuild drops the old table, and its indexes and triggers with it: those that others put on it
// are saved first and re-created on the rebuilt table (one that no longer fits is returned as lost).
// Its last step renames the new table to the old name with legacy_alter_table on: SQLite's own
// rename checks every view of the schema, and a view of the table would fail that check while its
// table is being replaced (it reads the new table by name once the rename is done).
func (x *Tx) Alter(ctx context.Context, t dialect.Table, changes []dialect.Change) ([]dialect.LostObject, error) {
	stored, err := x.storedColumns(ctx, t.Name)
	if err != nil {
		return nil, err
	}
	stmts, warnings, err := x.q.Alter(t, stored, changes)
	if err != nil {
		return nil, err
	}
	if len(stmts) == 0 {
		return nil, nil
	}
	saved, err := x.keep(ctx, t.Name)
	if err != nil {
		return nil, err
	}
	if _, err := x.x.Exec(ctx, legacyAlterTable(true)); err != nil {
		return nil, fmt.Errorf("sqlite: alter table %q: %w", t.Name, err)
	}
	err = x.x.Atomically(ctx, func() error {
		for _, stmt := range stmts {
			if _, err := x.x.Exec(ctx, stmt); err != nil {
				if isConstraint(err) {
					return fmt.Errorf("sqlite: alter table %q: the stored rows do not fit the new definition: %v: %w", t.Name, err, dialect.ErrRecreate)
				}
				return fmt.Errorf("sqlite: alter table %q: %w", t.Name, err)
			}
		}
		return nil
	})
	if _, perr := x.x.Exec(context.WithoutCancel(ctx), legacyAlterTable(false)); perr != nil && err == nil {
		err = fmt.Errorf("sqlite: alter table %q: %w", t.Name, perr)
	}
	if err != nil {
		return nil, err
	}
	dialect.LogWarnings(x.store.logger, "sqlite", warnings)
	return x.restore(ctx, t.Name, saved)
}

// keyedMutex is a process-wide set of exclusive locks by name, each a one-slot channel so that a
// waiter can give up when its context ends. Entries are removed when nobody holds or waits for them.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{}
	refs int // holders and waiters
}

var processLocks = &keyedMutex{locks: map[string]*keyLock{}}

// lock blocks until name is free or ctx ends.
func (m *keyedMutex) lock(ctx context.Context, name string) error {
	m.mu.Lock()
	l := m.locks[name]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		m.locks[name] = l
	}
	l.refs++
	m.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		m.release(name, l, false)
		return ctx.Err()
	}
}

// unlock frees name, which the caller holds.
func (m *keyedMutex) unlock(name string) {
	m.mu.Lock()
	l := m.locks[name]
	m.mu.Unlock()
	if l != nil {
		m.release(name, l, true)
	}
}

func (m *keyedMutex) release(name string, l *keyLock, held bool) {
	if held {
		<-l.ch
	}
	m.mu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(m.locks, name)
	}
	m.mu.Unlock()
}

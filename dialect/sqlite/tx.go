package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// Tx is one SQLite transaction (BEGIN IMMEDIATE: it holds the file's write lock from the start).
type Tx struct {
	tx    *sql.Tx
	store *Store
	locks []string
	done  bool
}

var _ dialect.Tx = (*Tx)(nil)

// rows adapts *sql.Rows to dialect.Rows.
type rows struct{ *sql.Rows }

// Close closes the rows; a close error reappears from Err.
func (r rows) Close() { _ = r.Rows.Close() }

// Exec runs one statement and returns the rows it changed.
func (x *Tx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := x.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: exec: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: rows affected: %w", err)
	}
	return n, nil
}

// Query runs a statement that returns rows.
func (x *Tx) Query(ctx context.Context, query string, args ...any) (dialect.Rows, error) {
	r, err := x.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query: %w", err)
	}
	return rows{r}, nil
}

// Commit commits and releases the transaction's locks.
func (x *Tx) Commit(context.Context) error {
	if x.done {
		return errors.New("sqlite: commit: transaction already ended")
	}
	x.done = true
	defer x.releaseLocks()
	if err := x.tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// Rollback rolls back and releases the locks; it is a no-op once the transaction has ended.
func (x *Tx) Rollback(context.Context) error {
	if x.done {
		return nil
	}
	x.done = true
	defer x.releaseLocks()
	if err := x.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("sqlite: rollback: %w", err)
	}
	return nil
}

func (x *Tx) releaseLocks() {
	for _, k := range x.locks {
		processLocks.unlock(k)
	}
	x.locks = nil
}

// Savepoint sets a savepoint.
func (x *Tx) Savepoint(ctx context.Context, name string) error {
	q, err := QuoteIdent(name)
	if err != nil {
		return err
	}
	if _, err := x.tx.ExecContext(ctx, "SAVEPOINT "+q); err != nil {
		return fmt.Errorf("sqlite: savepoint %s: %w", name, err)
	}
	return nil
}

// RollbackTo undoes everything since the savepoint, which stays set.
func (x *Tx) RollbackTo(ctx context.Context, name string) error {
	q, err := QuoteIdent(name)
	if err != nil {
		return err
	}
	if _, err := x.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+q); err != nil {
		return fmt.Errorf("sqlite: rollback to savepoint %s: %w", name, err)
	}
	return nil
}

// Lock takes the process-wide lock of key in this database file until the transaction ends. Another
// process cannot get past Begin while this transaction holds the file's write lock, so a process
// mutex is all that replicas on one file need.
func (x *Tx) Lock(ctx context.Context, key string) error {
	if x.done {
		return errors.New("sqlite: lock: transaction already ended")
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

// TableExists reports whether the table exists (names match without regard to ASCII case, as in
// SQLite itself).
func (x *Tx) TableExists(ctx context.Context, name string) (bool, error) {
	var one int
	err := x.tx.QueryRowContext(ctx, TableExistsSQL, name).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("sqlite: table exists %s: %w", name, err)
	}
	return true, nil
}

func (x *Tx) warn(table string, warnings []string) {
	for _, w := range warnings {
		x.store.logger.Warn("sqlite: "+w, "table", table)
	}
}

// CreateTable creates t.
func (x *Tx) CreateTable(ctx context.Context, t dialect.Table) error {
	stmt, warnings, err := CreateTableSQL(t, t.Name)
	if err != nil {
		return err
	}
	if _, err := x.tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("sqlite: create table %s: %w", t.Name, err)
	}
	x.warn(t.Name, warnings)
	return nil
}

// DropTable drops the table if it exists.
func (x *Tx) DropTable(ctx context.Context, name string) error {
	stmt, err := DropTableSQL(name)
	if err != nil {
		return err
	}
	if _, err := x.tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("sqlite: drop table %s: %w", name, err)
	}
	return nil
}

// Truncate deletes every row of t.
func (x *Tx) Truncate(ctx context.Context, t dialect.Table) error {
	stmt, err := TruncateSQL(t.Name)
	if err != nil {
		return err
	}
	if _, err := x.tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("sqlite: truncate %s: %w", t.Name, err)
	}
	return nil
}

// isDuplicateKey reports a primary-key or unique violation.
func isDuplicateKey(err error) bool {
	var e *sqlitedrv.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// isConstraint reports any constraint violation (NOT NULL, key, …).
func isConstraint(err error) bool {
	var e *sqlitedrv.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// batch is a filled argument buffer of n rows, or the error that ended the pulling.
type batch struct {
	args []any
	n    int
	err  error
}

// puller reads rows from a RowSource and converts them into argument buffers. It runs on its own
// goroutine so that decoding and converting the next rows overlaps SQLite executing the previous
// statement; two buffers alternate between it and the writer.
type puller struct {
	src    dialect.RowSource
	cols   []typemap.Column
	convs  []converter
	rows   int // rows per buffer
	pulled int64
}

func (p *puller) run(free <-chan []any, full chan<- batch, stop <-chan struct{}) {
	defer close(full)
	width := len(p.cols)
	var buf [48]byte
	for {
		var args []any
		select {
		case args = <-free:
		case <-stop:
			return
		}
		n, err := p.fill(args, width, buf[:])
		if n > 0 || err != nil {
			select {
			case full <- batch{args: args, n: n, err: err}:
			case <-stop:
				return
			}
		}
		if n < p.rows || err != nil {
			return
		}
	}
}

// fill converts up to p.rows rows into args; fewer rows mean the source is exhausted.
func (p *puller) fill(args []any, width int, buf []byte) (int, error) {
	n := 0
	for n < p.rows && p.src.Next() {
		vals, err := p.src.Values()
		p.pulled++
		if err != nil {
			return n, fmt.Errorf("row %d: %w", p.pulled, err)
		}
		if len(vals) != width {
			return n, fmt.Errorf("row %d has %d values for %d columns", p.pulled, len(vals), width)
		}
		base := n * width
		for i, v := range vals {
			if v == nil {
				args[base+i] = nil
				continue
			}
			out, reason := p.convs[i](v, buf)
			if reason != "" {
				return n, &dialect.ValueError{Column: p.cols[i].Name, Row: int(p.pulled), Reason: reason}
			}
			args[base+i] = out
		}
		n++
	}
	if n < p.rows {
		if err := p.src.Err(); err != nil {
			return n, fmt.Errorf("row source: %w", err)
		}
	}
	return n, nil
}

// writeRows pulls every row from src, converts the columns cols, and writes them with multi-row
// statements built by build: one prepared statement for full buffers, one more for the last partial
// buffer. It returns the rows pulled and the rows the statements affected. The source is not used
// after writeRows returns.
func (x *Tx) writeRows(ctx context.Context, cols []typemap.Column, src dialect.RowSource,
	build func(rows int) (string, error)) (pulled, affected int64, err error) {
	width := len(cols)
	p := &puller{src: src, cols: cols, convs: make([]converter, width), rows: rowsPerStatement(width)}
	for i, c := range cols {
		p.convs[i] = converterFor(c.Type)
	}
	free := make(chan []any, 2)
	full := make(chan batch, 1)
	stop := make(chan struct{})
	free <- make([]any, p.rows*width)
	free <- make([]any, p.rows*width)
	go p.run(free, full, stop)
	defer func() {
		// Stop the puller and wait until it has let go of the source.
		close(stop)
		for range full {
		}
		pulled = p.pulled
	}()

	var stmt *sql.Stmt
	defer func() {
		if stmt != nil {
			_ = stmt.Close()
		}
	}()
	for b := range full {
		if b.n > 0 {
			var res sql.Result
			if b.n == p.rows {
				if stmt == nil {
					q, err := build(p.rows)
					if err != nil {
						return 0, affected, err
					}
					if stmt, err = x.tx.PrepareContext(ctx, q); err != nil {
						return 0, affected, err
					}
				}
				res, err = stmt.ExecContext(ctx, b.args...)
			} else {
				q, berr := build(b.n)
				if berr != nil {
					return 0, affected, berr
				}
				res, err = x.tx.ExecContext(ctx, q, b.args[:b.n*width]...)
			}
			if err != nil {
				return 0, affected, err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return 0, affected, err
			}
			affected += n
		}
		if b.err != nil {
			return 0, affected, b.err
		}
		free <- b.args
	}
	return 0, affected, nil
}

// BulkInsert inserts rows with multi-row INSERT statements. A key that exists, or repeats within
// rows, fails with dialect.ErrDuplicateKey; the failing statement is undone, earlier ones are not
// (the engine rolls back to its savepoint).
func (x *Tx) BulkInsert(ctx context.Context, t dialect.Table, src dialect.RowSource) (int64, error) {
	if _, err := InsertSQL(t, 1); err != nil {
		return 0, err
	}
	_, n, err := x.writeRows(ctx, t.Columns, src, func(rows int) (string, error) { return InsertSQL(t, rows) })
	if err != nil {
		if isDuplicateKey(err) {
			return n, fmt.Errorf("sqlite: bulk insert into %s: %w: %v", t.Name, dialect.ErrDuplicateKey, err)
		}
		return n, fmt.Errorf("sqlite: bulk insert into %s: %w", t.Name, err)
	}
	return n, nil
}

// Upsert writes rows by key with multi-row INSERT … ON CONFLICT DO UPDATE statements; see UpsertSQL
// for why there is no staging table. It returns the number of rows written (each row is inserted
// or updated).
func (x *Tx) Upsert(ctx context.Context, t dialect.Table, src dialect.RowSource) (int64, error) {
	if _, err := UpsertSQL(t, 1); err != nil {
		return 0, err
	}
	n, _, err := x.writeRows(ctx, t.Columns, src, func(rows int) (string, error) { return UpsertSQL(t, rows) })
	if err != nil {
		return 0, fmt.Errorf("sqlite: upsert into %s: %w", t.Name, err)
	}
	return n, nil
}

// Delete removes the rows with the given keys, a few hundred keys per set-based statement.
func (x *Tx) Delete(ctx context.Context, t dialect.Table, keys dialect.RowSource) (int64, error) {
	if _, err := DeleteSQL(t, 1); err != nil {
		return 0, err
	}
	_, n, err := x.writeRows(ctx, t.KeyColumns(), keys, func(rows int) (string, error) { return DeleteSQL(t, rows) })
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete from %s: %w", t.Name, err)
	}
	return n, nil
}

// storedColumn is one column of an existing table, from pragma_table_info.
type storedColumn struct {
	name string
	pk   int // 1-based position in the primary key, 0 when not in it
}

func (x *Tx) storedColumns(ctx context.Context, table string) ([]storedColumn, error) {
	r, err := x.tx.QueryContext(ctx, `SELECT "name", "pk" FROM pragma_table_info(?) ORDER BY "cid"`, table)
	if err != nil {
		return nil, fmt.Errorf("sqlite: columns of %s: %w", table, err)
	}
	defer r.Close()
	var cols []storedColumn
	for r.Next() {
		var c storedColumn
		if err := r.Scan(&c.name, &c.pk); err != nil {
			return nil, fmt.Errorf("sqlite: columns of %s: %w", table, err)
		}
		cols = append(cols, c)
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: columns of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("sqlite: alter table %s: the table does not exist", table)
	}
	return cols, nil
}

// alterSavepoint brackets AlterTable so that a failure leaves the table as it was.
const alterSavepoint = "mirrorsink_alter"

// AlterTable applies the changes with ALTER TABLE where SQLite can (ADD COLUMN with a constant
// default, DROP COLUMN of a non-key column, a type change that keeps the stored form), and otherwise
// rebuilds the table in place inside the transaction (create, copy, drop, rename), keeping its rows.
// A change that no rebuild can make (a type change without an exact conversion, NOT NULL on a column
// holding NULLs) returns dialect.ErrRecreate with the table unchanged.
func (x *Tx) AlterTable(ctx context.Context, t dialect.Table, changes []dialect.Change) error {
	stored, err := x.storedColumns(ctx, t.Name)
	if err != nil {
		return err
	}
	storedByName := make(map[string]bool, len(stored))
	var storedKey []storedColumn
	for _, c := range stored {
		storedByName[c.name] = true
		if c.pk > 0 {
			storedKey = append(storedKey, c)
		}
	}
	sort.Slice(storedKey, func(i, j int) bool { return storedKey[i].pk < storedKey[j].pk })
	rebuild := len(storedKey) != len(t.Key)
	for i, k := range t.KeyColumns() {
		if !rebuild && storedKey[i].name != k.Name {
			rebuild = true
		}
	}

	var simple, warnings []string
	added := map[string]bool{}
	converted := map[string]string{}
	for _, ch := range changes {
		switch ch.Kind {
		case dialect.AddColumn:
			if storedByName[ch.Column.Name] {
				return fmt.Errorf("sqlite: alter table %s: column %q already exists", t.Name, ch.Column.Name)
			}
			added[ch.Column.Name] = true
			stmt, ok, warn, err := AddColumnSQL(t.Name, ch.Column)
			if err != nil {
				return err
			}
			if warn != "" {
				warnings = append(warnings, warn)
			}
			if !ok {
				rebuild = true
			}
			simple = append(simple, stmt)
		case dialect.DropColumn:
			stmt, err := DropColumnSQL(t.Name, ch.Old.Name)
			if err != nil {
				return err
			}
			simple = append(simple, stmt)
		case dialect.AlterType:
			q, err := QuoteIdent(ch.Old.Name)
			if err != nil {
				return err
			}
			expr, ok := copyExpr(q, ch.Old.Type, ch.Column.Type)
			if !ok {
				return fmt.Errorf("sqlite: alter table %s: %w: no exact conversion of column %q", t.Name, dialect.ErrRecreate, ch.Column.Name)
			}
			if expr != q {
				converted[ch.Column.Name] = expr
				rebuild = true
			}
		case dialect.AlterNullability:
			if ch.Old.Nullable != ch.Column.Nullable {
				rebuild = true
			}
		case dialect.AlterDefault:
			oldExpr, _, _ := ColumnDefault(ch.Old)
			newExpr, _, _ := ColumnDefault(ch.Column)
			if oldExpr != newExpr {
				rebuild = true
			}
		default:
			return fmt.Errorf("sqlite: alter table %s: unknown change kind %d", t.Name, ch.Kind)
		}
	}

	if rebuild {
		var cols, exprs []string
		for _, c := range t.Columns {
			if added[c.Name] || !storedByName[c.Name] {
				continue
			}
			expr, ok := converted[c.Name]
			if !ok {
				expr, _ = QuoteIdent(c.Name) // checked by CreateTableSQL below
			}
			cols = append(cols, c.Name)
			exprs = append(exprs, expr)
		}
		var warn []string
		simple, warn, err = RebuildSQL(t, cols, exprs)
		if err != nil {
			return err
		}
		warnings = warn
	}
	if len(simple) == 0 {
		return nil
	}
	if err := x.Savepoint(ctx, alterSavepoint); err != nil {
		return err
	}
	for _, stmt := range simple {
		if _, err := x.tx.ExecContext(ctx, stmt); err != nil {
			// Undo what ran, whatever the caller's context says.
			undo := context.WithoutCancel(ctx)
			if rerr := x.RollbackTo(undo, alterSavepoint); rerr != nil {
				return fmt.Errorf("sqlite: alter table %s: %w (and undoing it failed: %v)", t.Name, err, rerr)
			}
			_, _ = x.tx.ExecContext(undo, `RELEASE SAVEPOINT "`+alterSavepoint+`"`)
			if isConstraint(err) {
				return fmt.Errorf("sqlite: alter table %s: %w: the stored rows do not fit the new definition: %v", t.Name, dialect.ErrRecreate, err)
			}
			return fmt.Errorf("sqlite: alter table %s: %w", t.Name, err)
		}
	}
	if _, err := x.tx.ExecContext(ctx, `RELEASE SAVEPOINT "`+alterSavepoint+`"`); err != nil {
		return fmt.Errorf("sqlite: alter table %s: release savepoint: %w", t.Name, err)
	}
	x.warn(t.Name, warnings)
	return nil
}

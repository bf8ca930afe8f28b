package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// Tx is one transaction of a tenant's mirror, on a connection it holds until it ends.
type Tx struct {
	x    executor
	conn *pgx.Conn
	st   *Store
	// released says that the connection went back to the pool.
	released bool
	// stageSeq numbers this transaction's staging tables (stagingName), spSeq its savepoints.
	stageSeq uint64
	spSeq    int
}

var _ dialect.Tx = (*Tx)(nil)

// executor runs the statements of one transaction; it is the sqlmeta.Querier of the metadata store.
type executor struct{ tx pgx.Tx }

// Exec runs a statement and returns the rows it affected.
func (x executor) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := x.tx.Exec(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", markMissing(mapError(err, "", nil)))
	}
	return tag.RowsAffected(), nil
}

// Query runs a statement that returns rows and calls each once per row with the row's Scan.
func (x executor) Query(ctx context.Context, query string, args []any, each func(scan func(dest ...any) error) error) error {
	rows, err := x.tx.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: %w", markMissing(err))
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: %w", markMissing(err))
	}
	return nil
}

// simple runs one statement that the dialect generated itself and that takes no arguments. The simple
// protocol sends it in one round trip, where describing it first would take two.
func (x executor) simple(ctx context.Context, sql string) (int64, error) {
	tag, err := x.tx.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return 0, markMissing(err)
	}
	return tag.RowsAffected(), nil
}

// Meta returns mirrorsink's own tables in this transaction.
func (t *Tx) Meta() dialect.MetaStore { return t.st.meta.In(t.x) }

// Tables returns the table editor of this transaction.
func (t *Tx) Tables() dialect.TableEditor { return tableEditor{t} }

// Rows returns the row writer of this transaction.
func (t *Tx) Rows() dialect.RowWriter { return rowWriter{t} }

// Lock takes a transaction-scoped advisory lock on the FNV-1a 64 hash of key. Advisory locks are per
// database, which holds one tenant (or, with schemas, several tenants whose keys name the tenant).
func (t *Tx) Lock(ctx context.Context, key string) error {
	if _, err := t.x.tx.Exec(ctx, lockStatement, lockID(key)); err != nil {
		return fmt.Errorf("postgres: lock %q: %w", key, err)
	}
	return nil
}

// RunStatement runs an operator's statement as it is.
func (t *Tx) RunStatement(ctx context.Context, statement string) error {
	if _, err := t.x.tx.Exec(ctx, statement); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// Commit commits; a Relaxed commit does not wait for its WAL to reach disk.
func (t *Tx) Commit(ctx context.Context, d dialect.Durability) error {
	defer t.release()
	if d == dialect.Relaxed {
		if _, err := t.x.simple(ctx, relaxCommit); err != nil {
			return fmt.Errorf("postgres: commit: synchronous_commit off: %w", err)
		}
	}
	if err := t.x.tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// Rollback rolls back; after Commit, or after the connection broke (the server ends a broken
// session's transaction itself), it does nothing.
func (t *Tx) Rollback(ctx context.Context) error {
	defer t.release()
	if t.released || t.conn.IsClosed() {
		return nil
	}
	if err := t.x.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("postgres: rollback: %w", err)
	}
	return nil
}

// release returns the connection once; the pool closes it if the transaction did not end cleanly.
func (t *Tx) release() {
	if !t.released {
		t.released = true
		t.st.pool.release(t.conn)
	}
}

// runFor runs the statement that render writes for table; what names it in an error.
func (t *Tx) runFor(ctx context.Context, what, table string, render func(table string) (string, error)) error {
	stmt, err := render(table)
	if err != nil {
		return err
	}
	if _, err := t.x.simple(ctx, stmt); err != nil {
		return fmt.Errorf("postgres: %s %s: %w", what, quoteUnchecked(table), err)
	}
	return nil
}

// atomically runs fn inside a savepoint: when fn fails, everything it did is rolled back and the
// transaction stays usable (PostgreSQL would otherwise refuse every further statement of it).
func (t *Tx) atomically(ctx context.Context, fn func() error) error {
	t.spSeq++
	name := "mirrorsink_sp" + strconv.Itoa(t.spSeq)
	if _, err := t.x.simple(ctx, savepoint(name)); err != nil {
		return fmt.Errorf("postgres: savepoint: %w", err)
	}
	if err := fn(); err != nil {
		if _, rbErr := t.x.simple(context.WithoutCancel(ctx), rollbackTo(name)); rbErr != nil {
			return errors.Join(err, fmt.Errorf("postgres: rollback to savepoint: %w", rbErr))
		}
		return err
	}
	return nil
}

// tableEditor is the dialect.TableEditor of a Tx.
type tableEditor struct{ t *Tx }

// Exists reports whether name is a table of the mirror's schema.
func (e tableEditor) Exists(ctx context.Context, name string) (bool, error) {
	query, args, err := e.t.st.sql.TableExists(name)
	if err != nil {
		return false, err
	}
	var ok bool
	if err := e.t.x.tx.QueryRow(ctx, query, args...).Scan(&ok); err != nil {
		return false, fmt.Errorf("postgres: does table %q exist: %w", name, err)
	}
	return ok, nil
}

// Create creates t; defaults PostgreSQL cannot express are dropped with a warning.
func (e tableEditor) Create(ctx context.Context, tbl dialect.Table) error {
	stmt, warns, err := e.t.st.sql.CreateTable(tbl)
	if err != nil {
		return err
	}
	if _, err := e.t.x.simple(ctx, stmt); err != nil {
		return fmt.Errorf("postgres: create %s: %w", quoteUnchecked(tbl.Name), err)
	}
	dialect.LogWarnings(e.t.st.log, "postgres", warns)
	return nil
}

// Alter applies changes in the caller's transaction (PostgreSQL DDL is transactional), inside a
// savepoint so that a failure changes nothing. It first asks whether the stored rows allow them, and
// returns dialect.ErrRecreate before changing anything when they do not: a NOT NULL column added
// without a default to a table that has rows, or NOT NULL set on a column that holds NULL.
func (e tableEditor) Alter(ctx context.Context, tbl dialect.Table, changes []dialect.Change) error {
	type change struct {
		AlterStep
		column string
	}
	steps := make([]change, 0, len(changes))
	var warns []dialect.Warning
	for _, ch := range changes {
		step, w, err := e.t.st.sql.AlterTable(tbl, ch)
		if err != nil {
			return err
		}
		if step.Statement != "" {
			steps = append(steps, change{step, ch.Column.Name})
			warns = append(warns, w...)
		}
	}
	tq := quoteUnchecked(tbl.Name)
	err := e.t.atomically(ctx, func() error {
		for _, step := range steps {
			if step.Probe == "" {
				continue
			}
			var blocked bool
			if err := e.t.x.tx.QueryRow(ctx, step.Probe, pgx.QueryExecModeSimpleProtocol).Scan(&blocked); err != nil {
				return fmt.Errorf("postgres: alter %s: check column %q: %w", tq, step.column, err)
			}
			if blocked {
				return fmt.Errorf("postgres: alter %s: column %q cannot become NOT NULL over the stored rows: %w",
					tq, step.column, dialect.ErrRecreate)
			}
		}
		for _, step := range steps {
			if _, err := e.t.x.simple(ctx, step.Statement); err != nil {
				return fmt.Errorf("postgres: alter %s: %w", tq, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	dialect.LogWarnings(e.t.st.log, "postgres", warns)
	return nil
}

// Drop drops the table if it exists.
func (e tableEditor) Drop(ctx context.Context, name string) error {
	return e.t.runFor(ctx, "drop", name, e.t.st.sql.DropTable)
}

// Truncate empties the table, transactionally.
func (e tableEditor) Truncate(ctx context.Context, tbl dialect.Table) error {
	return e.t.runFor(ctx, "truncate", tbl.Name, e.t.st.sql.TruncateTable)
}

// Count counts the table's rows, inside a savepoint: the engine's status goes on past a table that
// cannot be counted.
func (e tableEditor) Count(ctx context.Context, name string) (int64, error) {
	query, err := e.t.st.sql.CountRows(name)
	if err != nil {
		return 0, err
	}
	var n int64
	err = e.t.atomically(ctx, func() error {
		return e.t.x.tx.QueryRow(ctx, query, pgx.QueryExecModeSimpleProtocol).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: count the rows of %s: %w", quoteUnchecked(name), err)
	}
	return n, nil
}

// Read calls fn with every row of tbl, its values normalised by the type table's read rules.
func (e tableEditor) Read(ctx context.Context, tbl dialect.Table, fn func(values []any) error) error {
	query, err := e.t.st.sql.SelectRows(tbl)
	if err != nil {
		return err
	}
	reads := make([]func(any) (any, error), len(tbl.Columns))
	for i, c := range tbl.Columns {
		r, err := ruleOf(c.Type)
		if err != nil {
			return err
		}
		reads[i] = r.read
	}
	rows, err := e.t.x.tx.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("postgres: read %s: %w", quoteUnchecked(tbl.Name), err)
	}
	defer rows.Close()
	out := make([]any, len(tbl.Columns))
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return fmt.Errorf("postgres: read %s: %w", quoteUnchecked(tbl.Name), err)
		}
		for i, v := range vals {
			if v == nil {
				out[i] = nil
			} else if out[i], err = reads[i](v); err != nil {
				return fmt.Errorf("postgres: read %s, column %q: %w", quoteUnchecked(tbl.Name), tbl.Columns[i].Name, err)
			}
		}
		if err := fn(out); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: read %s: %w", quoteUnchecked(tbl.Name), err)
	}
	return nil
}

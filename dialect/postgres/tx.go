package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// Tx is one transaction of a tenant's mirror.
type Tx struct {
	tx   pgx.Tx
	conn *pgx.Conn
	pool *connPool // nil once the connection went back to the pool
	log  *slog.Logger
	// stageSeq numbers this transaction's staging tables; a staging table is dropped right after use,
	// the number only keeps a failed, rolled-back-to-savepoint attempt from meeting its successor.
	stageSeq uint64
}

var _ dialect.FastCommitter = (*Tx)(nil)

// simple runs one statement that the dialect generated itself. The simple protocol keeps these
// one-off texts (unique staging names, DDL) out of pgx's per-connection statement cache.
func (t *Tx) simple(ctx context.Context, sql string) (int64, error) {
	tag, err := t.tx.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// Exec runs a statement built by the engine.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("postgres: exec: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Query runs a statement that returns rows; pgx.Rows already has dialect.Rows' method set.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (dialect.Rows, error) {
	rows, err := t.tx.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: query: %w", err)
	}
	return rows, nil
}

// Commit commits the transaction.
func (t *Tx) Commit(ctx context.Context) error {
	err := t.tx.Commit(ctx)
	t.release()
	if err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// Rollback rolls back; after Commit it does nothing.
func (t *Tx) Rollback(ctx context.Context) error {
	err := t.tx.Rollback(ctx)
	t.release()
	if err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("postgres: rollback: %w", err)
	}
	return nil
}

// release returns the connection once; the pool closes it if the transaction did not end cleanly.
func (t *Tx) release() {
	if t.pool != nil {
		t.pool.release(t.conn)
		t.pool = nil
	}
}

// Savepoint sets a savepoint.
func (t *Tx) Savepoint(ctx context.Context, name string) error {
	q, err := Quote(name)
	if err != nil {
		return err
	}
	if _, err := t.simple(ctx, "SAVEPOINT "+q); err != nil {
		return fmt.Errorf("postgres: savepoint %s: %w", q, err)
	}
	return nil
}

// RollbackTo returns to a savepoint, which also clears an aborted transaction state.
func (t *Tx) RollbackTo(ctx context.Context, name string) error {
	q, err := Quote(name)
	if err != nil {
		return err
	}
	if _, err := t.simple(ctx, "ROLLBACK TO SAVEPOINT "+q); err != nil {
		return fmt.Errorf("postgres: rollback to savepoint %s: %w", q, err)
	}
	return nil
}

// Lock takes a transaction-scoped advisory lock on the FNV-1a 64 hash of key. Advisory locks are per
// database, which holds one tenant (or, with schemas, several tenants whose keys name the tenant).
func (t *Tx) Lock(ctx context.Context, key string) error {
	if _, err := t.tx.Exec(ctx, LockSQL, LockID(key)); err != nil {
		return fmt.Errorf("postgres: lock %q: %w", key, err)
	}
	return nil
}

// SetFastCommit lets this transaction commit without waiting for its WAL to reach disk.
func (t *Tx) SetFastCommit(ctx context.Context) error {
	if _, err := t.simple(ctx, FastCommitSQL); err != nil {
		return fmt.Errorf("postgres: synchronous_commit off: %w", err)
	}
	return nil
}

// Analyze refreshes the planner's statistics of t (dialect.Analyzer).
func (t *Tx) Analyze(ctx context.Context, table dialect.Table) error {
	q, err := Quote(table.Name)
	if err != nil {
		return err
	}
	if _, err := t.simple(ctx, "ANALYZE "+q); err != nil {
		return fmt.Errorf("postgres: analyze %s: %w", q, err)
	}
	return nil
}

// TableExists reports whether name is a table of the current (tenant) schema.
func (t *Tx) TableExists(ctx context.Context, name string) (bool, error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	var ok bool
	if err := t.tx.QueryRow(ctx, TableExistsSQL, name).Scan(&ok); err != nil {
		return false, fmt.Errorf("postgres: table exists %q: %w", name, err)
	}
	return ok, nil
}

// CreateTable creates t; defaults PostgreSQL cannot express are dropped with a warning.
func (t *Tx) CreateTable(ctx context.Context, tbl dialect.Table) error {
	sql, warns, err := CreateTable(tbl)
	if err != nil {
		return err
	}
	t.warnDefaults(tbl.Name, warns)
	if _, err := t.simple(ctx, sql); err != nil {
		return fmt.Errorf("postgres: create %s: %w", quoteUnchecked(tbl.Name), err)
	}
	return nil
}

func (t *Tx) warnDefaults(table string, warns []Warning) {
	for _, w := range warns {
		t.log.Warn("postgres: default dropped", "table", table, "column", w.Column, "reason", w.Reason)
	}
}

// AlterTable applies changes in the caller's transaction (PostgreSQL DDL is transactional). It first
// checks the changes the data may forbid, and returns dialect.ErrRecreate before changing anything:
// adding a NOT NULL column without a default to a non-empty table, and setting NOT NULL on a column
// that holds NULLs.
func (t *Tx) AlterTable(ctx context.Context, tbl dialect.Table, changes []dialect.Change) error {
	tq, err := Quote(tbl.Name)
	if err != nil {
		return err
	}
	stmts := make([]string, 0, len(changes))
	var warns []Warning
	for _, ch := range changes {
		stmt, dropped, err := AlterStatement(tbl.Name, ch)
		if err != nil {
			return fmt.Errorf("postgres: alter %s: %w", tq, err)
		}
		if dropped != "" {
			warns = append(warns, Warning{Column: ch.Column.Name, Reason: dropped})
		}
		if stmt == "" {
			continue
		}
		if err := t.checkChange(ctx, tq, ch); err != nil {
			return err
		}
		stmts = append(stmts, stmt)
	}
	t.warnDefaults(tbl.Name, warns)
	for _, stmt := range stmts {
		if _, err := t.simple(ctx, stmt); err != nil {
			return fmt.Errorf("postgres: alter %s: %w", tq, err)
		}
	}
	return nil
}

// checkChange returns ErrRecreate when the stored data forbids ch in place.
func (t *Tx) checkChange(ctx context.Context, tq string, ch dialect.Change) error {
	var probe string
	switch {
	case ch.Kind == dialect.AddColumn && !ch.Column.Nullable:
		if expr, _ := DefaultExpr(ch.Column); expr != "" && expr != "NULL" {
			return nil
		}
		probe = "SELECT EXISTS (SELECT 1 FROM " + tq + ")"
	case ch.Kind == dialect.AlterNullability && !ch.Column.Nullable:
		c, err := Quote(ch.Column.Name)
		if err != nil {
			return err
		}
		probe = "SELECT EXISTS (SELECT 1 FROM " + tq + " WHERE " + c + " IS NULL)"
	default:
		return nil
	}
	var blocked bool
	if err := t.tx.QueryRow(ctx, probe, pgx.QueryExecModeSimpleProtocol).Scan(&blocked); err != nil {
		return fmt.Errorf("postgres: alter %s: check column %q: %w", tq, ch.Column.Name, err)
	}
	if blocked {
		return fmt.Errorf("postgres: alter %s: column %q cannot become NOT NULL over existing rows: %w",
			tq, ch.Column.Name, dialect.ErrRecreate)
	}
	return nil
}

// DropTable drops the table if it exists.
func (t *Tx) DropTable(ctx context.Context, name string) error {
	sql, err := DropTable(name)
	if err != nil {
		return err
	}
	if _, err := t.simple(ctx, sql); err != nil {
		return fmt.Errorf("postgres: drop %s: %w", quoteUnchecked(name), err)
	}
	return nil
}

// Truncate empties the table (transactionally).
func (t *Tx) Truncate(ctx context.Context, tbl dialect.Table) error {
	sql, err := TruncateTable(tbl.Name)
	if err != nil {
		return err
	}
	if _, err := t.simple(ctx, sql); err != nil {
		return fmt.Errorf("postgres: truncate %s: %w", quoteUnchecked(tbl.Name), err)
	}
	return nil
}

// BulkInsert loads rows with binary COPY.
func (t *Tx) BulkInsert(ctx context.Context, tbl dialect.Table, rows dialect.RowSource) (int64, error) {
	if _, err := Quote(tbl.Name); err != nil {
		return 0, err
	}
	n, err := t.copyRows(ctx, tbl, pgx.Identifier{tbl.Name}, tbl.Columns, rows)
	if err != nil {
		return n, fmt.Errorf("postgres: bulk insert into %s: %w", quoteUnchecked(tbl.Name), err)
	}
	return n, nil
}

// stage creates the staging table staging for cols and copies rows into it; the caller drops it.
func (t *Tx) stage(ctx context.Context, tbl dialect.Table, staging string, cols []typemap.Column, rows dialect.RowSource) error {
	sql, err := CreateStaging(staging, tbl.Name, cols)
	if err != nil {
		return err
	}
	if _, err := t.simple(ctx, sql); err != nil {
		return fmt.Errorf("create staging table: %w", err)
	}
	_, err = t.copyRows(ctx, tbl, pgx.Identifier{"pg_temp", staging}, cols, rows)
	return err
}

// nextStaging names a staging table unique within the transaction, so that an attempt rolled back
// to a savepoint never meets its successor.
func (t *Tx) nextStaging() string {
	t.stageSeq++
	return stagingName(t.stageSeq)
}

// Upsert stages rows and merges them with INSERT … ON CONFLICT.
func (t *Tx) Upsert(ctx context.Context, tbl dialect.Table, rows dialect.RowSource) (int64, error) {
	staging := t.nextStaging()
	merge, err := Upsert(tbl, staging)
	if err != nil {
		return 0, err
	}
	if err := t.stage(ctx, tbl, staging, tbl.Columns, rows); err != nil {
		return 0, fmt.Errorf("postgres: upsert into %s: %w", quoteUnchecked(tbl.Name), err)
	}
	n, err := t.simple(ctx, merge)
	if err != nil {
		return 0, fmt.Errorf("postgres: upsert into %s: %w", quoteUnchecked(tbl.Name), mapError(err, "", tbl.Columns))
	}
	if _, err := t.simple(ctx, DropStaging(staging)); err != nil {
		return n, fmt.Errorf("postgres: upsert into %s: drop staging table: %w", quoteUnchecked(tbl.Name), err)
	}
	return n, nil
}

// Delete stages the keys and deletes their rows with DELETE … USING.
func (t *Tx) Delete(ctx context.Context, tbl dialect.Table, keys dialect.RowSource) (int64, error) {
	staging := t.nextStaging()
	del, err := Delete(tbl, staging)
	if err != nil {
		return 0, err
	}
	if err := t.stage(ctx, tbl, staging, tbl.KeyColumns(), keys); err != nil {
		return 0, fmt.Errorf("postgres: delete from %s: %w", quoteUnchecked(tbl.Name), err)
	}
	n, err := t.simple(ctx, del)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete from %s: %w", quoteUnchecked(tbl.Name), err)
	}
	if _, err := t.simple(ctx, DropStaging(staging)); err != nil {
		return n, fmt.Errorf("postgres: delete from %s: drop staging table: %w", quoteUnchecked(tbl.Name), err)
	}
	return n, nil
}

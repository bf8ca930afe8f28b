package sqlserver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// Tx is one transaction of a SQL Server mirror, on a connection it holds until Commit or Rollback.
type Tx struct {
	store *Store
	conn  *sql.Conn
	tx    *sql.Tx
	done  bool
}

// Exec runs a statement and returns the rows it affected.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, mapError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlserver: rows affected: %w", err)
	}
	return n, nil
}

// rows adapts *sql.Rows to dialect.Rows.
type rows struct{ *sql.Rows }

func (r rows) Close() { _ = r.Rows.Close() }

// Query runs a statement that returns rows.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (dialect.Rows, error) {
	r, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

// Commit commits and returns the connection to the pool.
func (t *Tx) Commit(ctx context.Context) error {
	if t.done {
		return sql.ErrTxDone
	}
	t.done = true
	err := t.tx.Commit()
	t.conn.Close()
	if err != nil {
		return fmt.Errorf("sqlserver: commit: %w", err)
	}
	return nil
}

// Rollback rolls back; it is a no-op after Commit or Rollback.
func (t *Tx) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.done = true
	err := t.tx.Rollback()
	t.conn.Close()
	if err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("sqlserver: rollback: %w", err)
	}
	return nil
}

// Savepoint marks a savepoint (SAVE TRANSACTION).
func (t *Tx) Savepoint(ctx context.Context, name string) error {
	if _, err := t.tx.ExecContext(ctx, t.store.sql.Savepoint(name)); err != nil {
		return fmt.Errorf("sqlserver: savepoint %q: %w", name, err)
	}
	return nil
}

// RollbackTo rolls back to a savepoint; the transaction stays open.
func (t *Tx) RollbackTo(ctx context.Context, name string) error {
	if _, err := t.tx.ExecContext(ctx, t.store.sql.RollbackTo(name)); err != nil {
		return fmt.Errorf("sqlserver: rollback to savepoint %q: %w", name, err)
	}
	return nil
}

// Lock takes an exclusive application lock on key, owned by the transaction. It waits as long as ctx
// allows (until its deadline, or until it is canceled when it has none).
func (t *Tx) Lock(ctx context.Context, key string) error {
	timeout := int64(-1)
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl).Milliseconds(), 0)
		timeout = min(timeout, math.MaxInt32)
	}
	var rc int
	if err := t.tx.QueryRowContext(ctx, t.store.sql.Lock(), LockResource(key), int32(timeout)).Scan(&rc); err != nil {
		return fmt.Errorf("sqlserver: lock %q: %w", key, err)
	}
	if err := LockResult(rc); err != nil {
		return fmt.Errorf("sqlserver: lock %q: %w", key, err)
	}
	return nil
}

// TableExists reports whether the table exists.
func (t *Tx) TableExists(ctx context.Context, name string) (bool, error) {
	tn, err := t.store.sql.Table(name)
	if err != nil {
		return false, err
	}
	var exists int
	if err := t.tx.QueryRowContext(ctx, t.store.sql.TableExists(), tn).Scan(&exists); err != nil {
		return false, fmt.Errorf("sqlserver: does %s exist: %w", tn, err)
	}
	return exists == 1, nil
}

// warner logs dropped defaults for table.
func (t *Tx) warner(table string) Warner {
	return func(column, why string) {
		t.store.log.Warn("sqlserver: default dropped", "table", table, "column", column, "reason", why)
	}
}

// CreateTable creates t.
func (t *Tx) CreateTable(ctx context.Context, tab dialect.Table) error {
	stmt, err := t.store.sql.CreateTable(tab, t.warner(tab.Name))
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("sqlserver: create %q: %w", tab.Name, err)
	}
	return nil
}

// AlterTable applies the changes in place, or returns dialect.ErrRecreate before changing anything
// when one of them cannot be made: a change to a key column (its primary key depends on it), or a
// NOT NULL column without a default added to a table that has rows.
func (t *Tx) AlterTable(ctx context.Context, tab dialect.Table, changes []dialect.Change) error {
	isKey := map[string]bool{}
	for _, c := range tab.KeyColumns() {
		isKey[c.Name] = true
	}
	warn := t.warner(tab.Name)
	var stmts []string
	needEmpty := false
	for _, ch := range changes {
		var (
			more []string
			err  error
		)
		switch ch.Kind {
		case dialect.AddColumn:
			if _, ok, _ := DefaultExpr(ch.Column); !ch.Column.Nullable && !ok {
				needEmpty = true
			}
			var s string
			s, err = t.store.sql.AddColumn(tab.Name, ch.Column, warn)
			more = []string{s}
		case dialect.DropColumn:
			if isKey[ch.Old.Name] {
				return fmt.Errorf("sqlserver: drop key column %q of %q: %w", ch.Old.Name, tab.Name, dialect.ErrRecreate)
			}
			more, err = t.store.sql.DropColumn(tab.Name, ch.Old.Name)
		case dialect.AlterType, dialect.AlterNullability:
			if isKey[ch.Column.Name] || isKey[ch.Old.Name] {
				return fmt.Errorf("sqlserver: alter key column %q of %q: %w", ch.Column.Name, tab.Name, dialect.ErrRecreate)
			}
			more, err = t.store.sql.AlterColumn(tab.Name, ch.Column, warn)
		case dialect.AlterDefault:
			more, err = t.store.sql.AlterDefault(tab.Name, ch.Column, warn)
		default:
			return fmt.Errorf("sqlserver: change kind %d: %w", ch.Kind, dialect.ErrRecreate)
		}
		if err != nil {
			return fmt.Errorf("sqlserver: alter %q: %w", tab.Name, err)
		}
		stmts = append(stmts, more...)
	}
	if needEmpty {
		q, err := t.store.sql.HasRows(tab.Name)
		if err != nil {
			return err
		}
		var one int
		switch err := t.tx.QueryRowContext(ctx, q).Scan(&one); {
		case err == nil:
			return fmt.Errorf("sqlserver: add NOT NULL column without default to %q, which has rows: %w", tab.Name, dialect.ErrRecreate)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sqlserver: alter %q: %w", tab.Name, err)
		}
	}
	for _, s := range stmts {
		if _, err := t.tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("sqlserver: alter %q: %w", tab.Name, err)
		}
	}
	return nil
}

// DropTable drops the table if it exists.
func (t *Tx) DropTable(ctx context.Context, name string) error {
	stmt, err := t.store.sql.DropTable(name)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("sqlserver: drop %q: %w", name, err)
	}
	return nil
}

// Truncate empties the table (TRUNCATE TABLE is transactional in SQL Server).
func (t *Tx) Truncate(ctx context.Context, tab dialect.Table) error {
	stmt, err := t.store.sql.Truncate(tab.Name)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("sqlserver: truncate %q: %w", tab.Name, err)
	}
	return nil
}

func hasConverted(cols []typemap.Column) bool {
	for _, c := range cols {
		if Converted(c.Type.Kind) {
			return true
		}
	}
	return false
}

// BulkInsert bulk-copies the rows straight into the table (TABLOCK: the engine uses it for tables
// being repopulated). A table with converted columns loads through the staging table instead.
func (t *Tx) BulkInsert(ctx context.Context, tab dialect.Table, src dialect.RowSource) (int64, error) {
	if hasConverted(tab.Columns) {
		n, err := t.viaStaging(ctx, tab, tab.Columns, src, func() (int64, error) {
			move, err := t.store.sql.MoveStaged(tab)
			if err != nil {
				return 0, err
			}
			return t.Exec(ctx, move)
		})
		if err != nil {
			return 0, fmt.Errorf("sqlserver: bulk insert into %q: %w", tab.Name, err)
		}
		return n, nil
	}
	tn, err := t.store.sql.Table(tab.Name)
	if err != nil {
		return 0, err
	}
	n, err := t.load(ctx, tn, tab.Columns, false, src, true)
	if err != nil {
		return 0, fmt.Errorf("sqlserver: bulk insert into %q: %w", tab.Name, err)
	}
	return n, nil
}

// Upsert stages the rows, then updates the keys that exist and inserts the others.
func (t *Tx) Upsert(ctx context.Context, tab dialect.Table, src dialect.RowSource) (int64, error) {
	n, err := t.viaStaging(ctx, tab, tab.Columns, src, func() (int64, error) {
		update, insert, err := t.store.sql.Upsert(tab)
		if err != nil {
			return 0, err
		}
		var updated int64
		if update != "" {
			if updated, err = t.Exec(ctx, update); err != nil {
				return 0, err
			}
		}
		inserted, err := t.Exec(ctx, insert)
		if err != nil {
			return 0, err
		}
		return updated + inserted, nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlserver: upsert into %q: %w", tab.Name, err)
	}
	return n, nil
}

// Delete stages the keys, then deletes the matching rows.
func (t *Tx) Delete(ctx context.Context, tab dialect.Table, keys dialect.RowSource) (int64, error) {
	n, err := t.viaStaging(ctx, tab, tab.KeyColumns(), keys, func() (int64, error) {
		del, err := t.store.sql.Delete(tab)
		if err != nil {
			return 0, err
		}
		return t.Exec(ctx, del)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlserver: delete from %q: %w", tab.Name, err)
	}
	return n, nil
}

// viaStaging creates the staging table with cols, bulk-loads src into it, runs apply, and drops the
// staging table again (also on failure, best effort: a rollback drops it anyway).
func (t *Tx) viaStaging(ctx context.Context, tab dialect.Table, cols []typemap.Column, src dialect.RowSource, apply func() (int64, error)) (int64, error) {
	create, err := t.store.sql.CreateStaging(cols)
	if err != nil {
		return 0, err
	}
	for _, s := range create {
		// No arguments: the batch must not run inside sp_executesql (see CreateStaging).
		if _, err := t.tx.ExecContext(ctx, s); err != nil {
			return 0, fmt.Errorf("create staging table: %w", err)
		}
	}
	drop := func() { _, _ = t.tx.ExecContext(context.WithoutCancel(ctx), t.store.sql.DropStaging()) }
	if _, err := t.load(ctx, stagingName(), cols, true, src, true); err != nil {
		drop()
		return 0, err
	}
	n, err := apply()
	if err != nil {
		drop()
		return 0, err
	}
	if _, err := t.tx.ExecContext(ctx, t.store.sql.DropStaging()); err != nil {
		return 0, fmt.Errorf("drop staging table: %w", err)
	}
	return n, nil
}

// codePages finds the code page of each char/varchar/text column the load writes: the target's own
// columns, or, for the staging table, the database default (its columns are COLLATE
// DATABASE_DEFAULT).
func (t *Tx) codePages(ctx context.Context, target string, cols []typemap.Column, staged bool) (map[string]int, error) {
	need := false
	for _, c := range cols {
		switch c.Type.Kind {
		case typemap.Char, typemap.VarChar, typemap.Text:
			need = true
		}
	}
	if !need {
		return nil, nil
	}
	out := map[string]int{}
	if staged {
		var cp sql.NullInt64
		if err := t.tx.QueryRowContext(ctx, t.store.sql.DatabaseCodePage()).Scan(&cp); err != nil {
			return nil, fmt.Errorf("code page of the database: %w", err)
		}
		for _, c := range cols {
			out[c.Name] = int(cp.Int64)
		}
		return out, nil
	}
	r, err := t.tx.QueryContext(ctx, t.store.sql.CodePages(), target)
	if err != nil {
		return nil, fmt.Errorf("code pages of %s: %w", target, err)
	}
	defer r.Close()
	for r.Next() {
		var name string
		var cp sql.NullInt64
		if err := r.Scan(&name, &cp); err != nil {
			return nil, err
		}
		out[name] = int(cp.Int64)
	}
	return out, r.Err()
}

// load bulk-copies src into target (a quoted name) with cols, on the transaction's connection, and
// checks that the server stored every row sent.
func (t *Tx) load(ctx context.Context, target string, cols []typemap.Column, staged bool, src dialect.RowSource, tablock bool) (int64, error) {
	cps, err := t.codePages(ctx, target, cols, staged)
	if err != nil {
		return 0, err
	}
	encs, err := newEncoders(cols, staged, encoderOptions{CodePage: cps, GUIDConversion: t.store.guidConversion})
	if err != nil {
		return 0, err
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	var stored, sent int64
	var loadErr error
	rawErr := t.conn.Raw(func(dc any) error {
		mc, ok := dc.(*mssql.Conn)
		if !ok {
			return fmt.Errorf("driver connection is a %T, not *mssql.Conn", dc)
		}
		bulk := mc.CreateBulkContext(ctx, target, names)
		bulk.Options = mssql.BulkOptions{KeepNulls: true, Tablock: tablock}
		sent, loadErr = feed(bulk, cols, encs, src)
		// Always end the bulk load, also after a failure: the connection's stream must be complete
		// before the transaction can go on (or roll back).
		n, doneErr := finish(bulk)
		stored = n
		if loadErr == nil {
			loadErr = doneErr
		}
		return nil
	})
	if rawErr != nil {
		return 0, rawErr
	}
	if loadErr != nil {
		return 0, mapError(detachBadConn(loadErr))
	}
	if stored != sent {
		return 0, fmt.Errorf("the server stored %d rows of the %d sent", stored, sent)
	}
	return stored, nil
}

// detachBadConn hides driver.ErrBadConn from database/sql: returned from Raw while a transaction is
// open, it would make sql.Conn close itself and wait for the transaction forever. The transaction's
// next statement or its rollback then meets the broken connection and discards it.
func detachBadConn(err error) error {
	if errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("connection lost during bulk copy: %s", err.Error())
	}
	return err
}

// feed hands every row to the copier, each value checked by its column's encoder. A panic inside
// the copier, a last defence as the encoders rule out the ones known, becomes an error.
func feed(bulk *mssql.Bulk, cols []typemap.Column, encs []encoder, src dialect.RowSource) (sent int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bulk copy failed at row %d: driver panic: %v", sent+1, p)
		}
	}()
	out := make([]any, len(encs))
	for src.Next() {
		row := int(sent) + 1
		vals, err := src.Values()
		if err != nil {
			return sent, fmt.Errorf("row %d: %w", row, err)
		}
		if len(vals) != len(encs) {
			return sent, fmt.Errorf("row %d has %d values for %d columns", row, len(vals), len(encs))
		}
		for i, enc := range encs {
			v, err := enc(vals[i])
			if err != nil {
				var r reason
				if errors.As(err, &r) {
					return sent, &dialect.ValueError{Column: cols[i].Name, Row: row, Reason: string(r)}
				}
				return sent, err
			}
			out[i] = v
		}
		if err := bulk.AddRow(out); err != nil {
			return sent, fmt.Errorf("row %d: %w", row, err)
		}
		sent++
	}
	if err := src.Err(); err != nil {
		return sent, err
	}
	return sent, nil
}

// finish ends the bulk load (a no-op when no row was sent), recovering a driver panic.
func finish(bulk *mssql.Bulk) (n int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bulk copy failed to finish: driver panic: %v", p)
		}
	}()
	return bulk.Done()
}

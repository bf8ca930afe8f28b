package sqlserver

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/sqlexec"
)

// Tx is one transaction of a SQL Server mirror, on a connection it holds until Commit or Rollback.
// It is also the transaction's table editor and row writer.
type Tx struct {
	x     *sqlexec.Tx
	store *Store
}

var (
	_ dialect.Tx          = (*Tx)(nil)
	_ dialect.TableEditor = (*Tx)(nil)
	_ dialect.RowWriter   = (*Tx)(nil)
)

// Meta returns the metadata store in this transaction.
func (t *Tx) Meta() dialect.MetaStore { return t.store.meta.In(t.x) }

// Tables returns the transaction's table editor.
func (t *Tx) Tables() dialect.TableEditor { return t }

// Rows returns the transaction's row writer.
func (t *Tx) Rows() dialect.RowWriter { return t }

// Commit commits and returns the connection to the pool. SQL Server's delayed durability is a
// database setting an operator opts into, so both durabilities commit the same way.
func (t *Tx) Commit(ctx context.Context, _ dialect.Durability) error { return t.x.Commit(ctx) }

// Rollback rolls back; it is a no-op once the transaction has ended.
func (t *Tx) Rollback(ctx context.Context) error { return t.x.Rollback(ctx) }

// RunStatement runs an operator's statement as a batch of its own.
func (t *Tx) RunStatement(ctx context.Context, statement string) error {
	if _, err := t.x.Exec(ctx, statement); err != nil {
		return fmt.Errorf("sqlserver: hook statement: %w", err)
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
	var rc int64
	if _, err := t.x.QueryRow(ctx, t.store.sql.Lock(), []any{lockResource(key), int32(timeout)}, &rc); err != nil {
		return fmt.Errorf("sqlserver: lock %q: %w", key, err)
	}
	if err := lockResult(int(rc)); err != nil {
		return fmt.Errorf("sqlserver: lock %q: %w", key, err)
	}
	return nil
}

// Exists reports whether the table exists.
func (t *Tx) Exists(ctx context.Context, name string) (bool, error) {
	tn, err := t.store.sql.Table(name)
	if err != nil {
		return false, err
	}
	var exists int64
	if _, err := t.x.QueryRow(ctx, t.store.sql.Exists(), []any{tn}, &exists); err != nil {
		return false, fmt.Errorf("sqlserver: does %s exist: %w", tn, err)
	}
	return exists == 1, nil
}

// Create creates the table, logging the defaults SQL Server cannot express.
func (t *Tx) Create(ctx context.Context, tab dialect.Table) error {
	stmt, warnings, err := t.store.sql.CreateTable(tab)
	if err != nil {
		return err
	}
	if _, err := t.x.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("sqlserver: create %q: %w", tab.Name, err)
	}
	dialect.LogWarnings(t.store.log, name, warnings)
	return nil
}

// Alter applies the changes in place, all of them or none (inside a savepoint: SQL Server's DDL is
// transactional). It returns dialect.ErrRecreate, having changed nothing, when one of them cannot be
// made: a change to a key column, or a NOT NULL column without a default added to a table that has
// rows.
func (t *Tx) Alter(ctx context.Context, tab dialect.Table, changes []dialect.Change) ([]dialect.LostObject, error) {
	return nil, t.alter(ctx, tab, changes)
}

func (t *Tx) alter(ctx context.Context, tab dialect.Table, changes []dialect.Change) error {
	stmts, warnings, err := t.store.sql.Alter(tab, changes)
	if err != nil {
		return err
	}
	if requiresEmpty(changes) {
		q, err := t.store.sql.HasRows(tab.Name)
		if err != nil {
			return err
		}
		var one int64
		found, err := t.x.QueryRow(ctx, q, nil, &one)
		if err != nil {
			return fmt.Errorf("sqlserver: alter %q: %w", tab.Name, err)
		}
		if found {
			return fmt.Errorf("sqlserver: add NOT NULL column without default to %q, which has rows: %w", tab.Name, dialect.ErrRecreate)
		}
	}
	err = t.x.Atomically(ctx, func() error {
		for _, s := range stmts {
			if _, err := t.x.Exec(ctx, s); err != nil {
				return fmt.Errorf("sqlserver: alter %q: %w", tab.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	dialect.LogWarnings(t.store.log, name, warnings)
	return nil
}

// Drop drops the table if it exists.
func (t *Tx) Drop(ctx context.Context, tableName string) ([]dialect.LostObject, error) {
	return nil, t.drop(ctx, tableName)
}

// Recreate drops the table and creates tab in its place.
func (t *Tx) Recreate(ctx context.Context, tab dialect.Table) ([]dialect.LostObject, error) {
	if err := t.drop(ctx, tab.Name); err != nil {
		return nil, err
	}
	return nil, t.Create(ctx, tab)
}

func (t *Tx) drop(ctx context.Context, tableName string) error {
	stmt, err := t.store.sql.DropTable(tableName)
	if err != nil {
		return err
	}
	if _, err := t.x.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("sqlserver: drop %q: %w", tableName, err)
	}
	return nil
}

// Truncate empties the table (TRUNCATE TABLE is transactional in SQL Server).
func (t *Tx) Truncate(ctx context.Context, tab dialect.Table) error {
	stmt, err := t.store.sql.Truncate(tab.Name)
	if err != nil {
		return err
	}
	if _, err := t.x.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("sqlserver: truncate %q: %w", tab.Name, err)
	}
	return nil
}

// Count returns the table's number of rows.
func (t *Tx) Count(ctx context.Context, tableName string) (int64, error) {
	stmt, err := t.store.sql.Count(tableName)
	if err != nil {
		return 0, err
	}
	var n int64
	if _, err := t.x.QueryRow(ctx, stmt, nil, &n); err != nil {
		return 0, fmt.Errorf("sqlserver: count %q: %w", tableName, err)
	}
	return n, nil
}

// Read hands every row of tab to fn, each value read through the type table: the text forms of the
// CLR types and sql_variant, exact decimal text, the time of day of a time, text-order UUIDs.
func (t *Tx) Read(ctx context.Context, tab dialect.Table, fn func([]any) error) error {
	stmt, err := t.store.sql.Select(tab)
	if err != nil {
		return err
	}
	reads := make([]func(any) (any, error), len(tab.Columns))
	names := make([]string, len(tab.Columns))
	for i, c := range tab.Columns {
		r, err := ruleOf(c.Type)
		if err != nil {
			return err
		}
		reads[i] = func(v any) (any, error) { return r.scan(v, t.store.guidConversion) }
		names[i] = c.Name
	}
	err = t.x.ReadRows(ctx, stmt, names, reads, fn)
	if err != nil {
		return fmt.Errorf("sqlserver: read %q: %w", tab.Name, err)
	}
	return nil
}

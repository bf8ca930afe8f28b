package sqlserver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

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
// rows. Schema-bound views of the table, which SQL Server would not let a column change, are dropped
// and re-created around the changes (see keep); one that no longer fits is returned as lost.
func (t *Tx) Alter(ctx context.Context, tab dialect.Table, changes []dialect.Change) ([]dialect.LostObject, error) {
	var saved kept
	err := t.x.Atomically(ctx, func() error {
		var err error
		if saved, err = t.keep(ctx, tab.Name, false); err != nil {
			return err
		}
		if err := t.dropViews(ctx, saved); err != nil {
			return err
		}
		return t.alter(ctx, tab, changes)
	})
	if err != nil {
		return nil, err
	}
	return t.restore(ctx, saved), nil
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

// Drop drops the table if it exists, and first the schema-bound views of it, which SQL Server would
// not let it drop otherwise: they are returned as lost. Other views stay, and fail when used.
func (t *Tx) Drop(ctx context.Context, tableName string) ([]dialect.LostObject, error) {
	saved, err := t.keep(ctx, tableName, false)
	if err != nil {
		return nil, err
	}
	if err := t.dropViews(ctx, saved); err != nil {
		return nil, err
	}
	if err := t.drop(ctx, tableName); err != nil {
		return nil, err
	}
	var lost []dialect.LostObject
	for _, v := range saved.views {
		lost = append(lost, dialect.LostObject{Object: "view " + v,
			Reason: "it is schema-bound to a table that the source no longer has, and was dropped with it"})
	}
	return lost, nil
}

// Recreate drops the table and creates tab in its place. What others put on the old table is saved
// first and re-created on the new one (see keep): its schema-bound views, indexes, check constraints,
// triggers and permissions. What no longer fits the new table is returned as lost.
func (t *Tx) Recreate(ctx context.Context, tab dialect.Table) ([]dialect.LostObject, error) {
	saved, err := t.keep(ctx, tab.Name, true)
	if err != nil {
		return nil, err
	}
	if err := t.dropViews(ctx, saved); err != nil {
		return nil, err
	}
	if err := t.drop(ctx, tab.Name); err != nil {
		return nil, err
	}
	if err := t.Create(ctx, tab); err != nil {
		return nil, err
	}
	return t.restore(ctx, saved), nil
}

// kept is what others put on a table, saved before a change that would drop it.
type kept struct {
	// views are the schema-bound views of the table (quoted, qualified), in creation order.
	views []string
	// restores put everything back in order: what belongs to the table, then each view with what
	// belongs to it.
	restores []restoreStep
}

// restoreStep is one statement (with its arguments) that puts back an object.
type restoreStep struct {
	object string // names the object for a dialect.LostObject
	stmt   string
	args   []any
	// of is the index of the step that creates the view this step belongs to, or -1: when that step
	// fails, this one is lost with it.
	of int
	// lost, when set, says why the object cannot be put back at all.
	lost string
}

// keep saves the schema-bound views of the table name with their indexes and permissions, and, with
// whole, what dropping the table itself would take: its indexes other than the primary key (unique
// constraints included), check constraints, triggers and permissions. A table that does not exist
// has nothing saved.
func (t *Tx) keep(ctx context.Context, name string, whole bool) (kept, error) {
	var k kept
	tn, err := t.store.sql.Table(name)
	if err != nil {
		return k, err
	}
	fail := func(what string, err error) (kept, error) {
		return kept{}, fmt.Errorf("sqlserver: read the %s of %s: %w", what, tn, err)
	}
	if whole {
		exists, err := t.Exists(ctx, name)
		if err != nil || !exists {
			return k, err
		}
		steps, err := t.objectSteps(ctx, tn, "table "+tn, true)
		if err != nil {
			return fail("indexes, constraints, triggers and permissions", err)
		}
		k.restores = append(k.restores, steps...)
	}
	type view struct{ schema, name, def string }
	var views []view
	err = t.x.Query(ctx, schemaBoundViews, []any{tn}, func(scan func(...any) error) error {
		var (
			v     view
			depth int64
		)
		if err := scan(&v.schema, &v.name, &v.def, &depth); err != nil {
			return err
		}
		views = append(views, v)
		return nil
	})
	if err != nil {
		return fail("schema-bound views", err)
	}
	for _, v := range views {
		s, err := quote(v.schema)
		if err != nil {
			return kept{}, err
		}
		n, err := quote(v.name)
		if err != nil {
			return kept{}, err
		}
		vn := s + "." + n
		of := len(k.restores)
		k.views = append(k.views, vn)
		k.restores = append(k.restores, restoreStep{object: "view " + vn, stmt: runModule, args: []any{v.def}, of: -1})
		steps, err := t.objectSteps(ctx, vn, "view "+vn, false)
		if err != nil {
			return fail("indexes and permissions of view "+vn, err)
		}
		for _, st := range steps {
			st.of = of
			k.restores = append(k.restores, st)
		}
	}
	return k, nil
}

// objectSteps reads the indexes and permissions of a table or view (on, its quoted name; what names it
// in messages) and, for a table (table), its check constraints and triggers, as restore steps.
func (t *Tx) objectSteps(ctx context.Context, on, what string, table bool) ([]restoreStep, error) {
	var steps []restoreStep
	var indexes []*savedIndex
	byID := map[int64]*savedIndex{}
	err := t.x.Query(ctx, objectIndexes, []any{on}, func(scan func(...any) error) error {
		var (
			id, kind                         int64
			name, filter, column             string
			unique, uniqueKC, desc, included bool
		)
		if err := scan(&id, &name, &kind, &unique, &uniqueKC, &filter, &column, &desc, &included); err != nil {
			return err
		}
		ix := byID[id]
		if ix == nil {
			ix = &savedIndex{name: name, kind: int(kind), unique: unique, uniqueKC: uniqueKC, filter: filter}
			byID[id] = ix
			indexes = append(indexes, ix)
		}
		c, err := quote(column)
		if err != nil {
			return err
		}
		switch {
		case included:
			ix.included = append(ix.included, c)
		case desc:
			ix.keys = append(ix.keys, c+" DESC")
		default:
			ix.keys = append(ix.keys, c+" ASC")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if table {
		err := t.x.Query(ctx, tableChecks, []any{on}, func(scan func(...any) error) error {
			var name, def string
			if err := scan(&name, &def); err != nil {
				return err
			}
			stmt, err := addCheck(on, name, def)
			if err != nil {
				return err
			}
			steps = append(steps, restoreStep{object: "check constraint " + clipName(name) + " on " + on, stmt: stmt, of: -1})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, ix := range indexes {
		object := "index " + clipName(ix.name) + " on " + on
		stmt, ok, err := createIndex(on, *ix)
		if err != nil {
			return nil, err
		}
		if !ok {
			steps = append(steps, restoreStep{object: object, of: -1, lost: "mirrorsink re-creates clustered and nonclustered rowstore indexes only"})
			continue
		}
		steps = append(steps, restoreStep{object: object, stmt: stmt, of: -1})
	}
	if table {
		err := t.x.Query(ctx, tableTriggers, []any{on}, func(scan func(...any) error) error {
			var name, def string
			if err := scan(&name, &def); err != nil {
				return err
			}
			steps = append(steps, restoreStep{object: "trigger " + clipName(name) + " on " + on, stmt: runModule, args: []any{def}, of: -1})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	err = t.x.Query(ctx, objectPermissions, []any{on}, func(scan func(...any) error) error {
		var state, permission, grantee, column string
		if err := scan(&state, &permission, &grantee, &column); err != nil {
			return err
		}
		stmt, err := grantStatement(state, permission, grantee, column, on)
		if err != nil {
			return err
		}
		steps = append(steps, restoreStep{object: fmt.Sprintf("permission %s of %s on %s", permission, clipName(grantee), what), stmt: stmt, of: -1})
		return nil
	})
	return steps, err
}

// dropViews drops the saved views, those that depend on others first.
func (t *Tx) dropViews(ctx context.Context, k kept) error {
	for i := len(k.views) - 1; i >= 0; i-- {
		if _, err := t.x.Exec(ctx, dropView(k.views[i])); err != nil {
			return fmt.Errorf("sqlserver: drop schema-bound view %s, to re-create it after the change: %w", k.views[i], err)
		}
	}
	return nil
}

// restore runs the saved restore steps, each inside a savepoint of its own, and returns what could
// not be put back.
func (t *Tx) restore(ctx context.Context, k kept) []dialect.LostObject {
	var lost []dialect.LostObject
	failed := map[int]string{}
	for i, s := range k.restores {
		if s.lost != "" {
			lost = append(lost, dialect.LostObject{Object: s.object, Reason: s.lost})
			continue
		}
		if s.of >= 0 {
			if view, ok := failed[s.of]; ok {
				lost = append(lost, dialect.LostObject{Object: s.object, Reason: "lost with " + view + ", which could not be re-created"})
				continue
			}
		}
		err := t.x.Atomically(ctx, func() error {
			_, err := t.x.Exec(ctx, s.stmt, s.args...)
			return err
		})
		if err != nil {
			failed[i] = s.object
			lost = append(lost, dialect.LostObject{Object: s.object, Reason: serverMessage(err)})
		}
	}
	return lost
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

// serverMessage is a SQL Server error's message and number, the values it quotes withheld.
func serverMessage(err error) string {
	var se mssql.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (Msg %d)", withholdValues(se).Error(), se.Number)
	}
	return err.Error()
}

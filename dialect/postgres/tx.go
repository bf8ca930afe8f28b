package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
			if errors.Is(err, dialect.ErrDuplicateKey) {
				// The transaction is not as it was: the sentinel must not invite the caller to go on.
				return fmt.Errorf("%v; postgres: rolling back to the savepoint failed: %w", err, rbErr)
			}
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
	dist, err := e.t.st.sql.Distribute(tbl.Name)
	if err != nil {
		return err
	}
	if dist != "" {
		if _, err := e.t.x.simple(ctx, dist); err != nil {
			return fmt.Errorf("postgres: distribute %s on the tenant column: %w", quoteUnchecked(tbl.Name), err)
		}
	}
	dialect.LogWarnings(e.t.st.log, "postgres", warns)
	return nil
}

// Alter applies changes in the caller's transaction (PostgreSQL DDL is transactional), inside a
// savepoint so that a failure changes nothing. It first asks whether the stored rows allow them, and
// returns dialect.ErrRecreate before changing anything when they do not: a NOT NULL column added
// without a default to a table that has rows, or NOT NULL set on a column that holds NULL.
//
// PostgreSQL refuses to change the type of, or drop, a column that a view uses: when the changes
// include such a step, the views that depend on the table are saved, dropped, and re-created after
// it (see keep), each with its options, owner, comments, grants and triggers. One that no longer
// fits the table is returned as lost; the change stands.
func (e tableEditor) Alter(ctx context.Context, tbl dialect.Table, changes []dialect.Change) ([]dialect.LostObject, error) {
	type change struct {
		AlterStep
		column string
	}
	steps := make([]change, 0, len(changes))
	var (
		warns      []dialect.Warning
		blockViews bool
	)
	for _, ch := range changes {
		step, w, err := e.t.st.sql.AlterTable(tbl, ch)
		if err != nil {
			return nil, err
		}
		if step.Statement != "" {
			steps = append(steps, change{step, ch.Column.Name})
			warns = append(warns, w...)
			blockViews = blockViews || ch.Kind == dialect.AlterType || ch.Kind == dialect.DropColumn
		}
	}
	tq := quoteUnchecked(tbl.Name)
	var (
		saved   kept
		dropped []dialect.LostObject
	)
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
		var before map[string]bool
		if blockViews {
			var err error
			if saved, err = e.t.keep(ctx, tbl.Name, false); err != nil {
				return err
			}
			if err := e.t.dropViews(ctx, saved); err != nil {
				return err
			}
			if before, err = e.t.tableObjects(ctx, tbl.Name); err != nil {
				return err
			}
		}
		for _, step := range steps {
			if _, err := e.t.x.simple(ctx, step.Statement); err != nil {
				return fmt.Errorf("postgres: alter %s: %w", tq, err)
			}
		}
		if blockViews {
			// DROP COLUMN takes the indexes, constraints and triggers of the column with it.
			after, err := e.t.tableObjects(ctx, tbl.Name)
			if err != nil {
				return err
			}
			for _, o := range slices.Sorted(maps.Keys(before)) {
				if !after[o] {
					dropped = append(dropped, dialect.LostObject{Object: o, Reason: "it used a column that the source dropped, and went with it"})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	dialect.LogWarnings(e.t.st.log, "postgres", warns)
	return append(dropped, e.t.restore(ctx, saved)...), nil
}

// tableObjects returns the names (as LostObject names them) of the indexes, constraints and triggers
// of a table that are not mirrorsink's.
func (t *Tx) tableObjects(ctx context.Context, table string) (map[string]bool, error) {
	tq, err := t.st.sql.Table(table)
	if err != nil {
		return nil, err
	}
	var oid uint32
	var comment *string
	if err := t.x.tx.QueryRow(ctx, tableOID, t.st.sql.schema, table).Scan(&oid, &comment); err != nil {
		return nil, fmt.Errorf("postgres: find the table %s: %w", tq, err)
	}
	out := map[string]bool{}
	err = t.eachRow(ctx, "read the objects on "+tq, tableObjects, []any{oid}, func(scan func(...any) error) error {
		var kind, schema, name string
		if err := scan(&kind, &schema, &name); err != nil {
			return err
		}
		if kind == "index" {
			out["index "+qualified(schema, name)] = true
		} else {
			out[kind+" "+quoteUnchecked(name)+" on "+tq] = true
		}
		return nil
	})
	return out, err
}

// Recreate drops the table and creates tbl in its place. What others put on the old table is saved
// first and re-created on the new one (see keep): the views that depend on it, its indexes,
// constraints, triggers, comments and grants. What no longer fits the new table is returned as lost.
func (e tableEditor) Recreate(ctx context.Context, tbl dialect.Table) ([]dialect.LostObject, error) {
	saved, err := e.t.keep(ctx, tbl.Name, true)
	if err != nil {
		return nil, err
	}
	if err := e.t.dropViews(ctx, saved); err != nil {
		return nil, err
	}
	if err := e.t.runFor(ctx, "drop", tbl.Name, e.t.st.sql.DropTable); err != nil {
		return nil, err
	}
	if err := e.Create(ctx, tbl); err != nil {
		return nil, err
	}
	return e.t.restore(ctx, saved), nil
}

// Drop drops the table if it exists, and first the views that depend on it (which PostgreSQL would
// not let it drop otherwise): they are returned as lost.
func (e tableEditor) Drop(ctx context.Context, name string) ([]dialect.LostObject, error) {
	saved, err := e.t.keep(ctx, name, false)
	if err != nil {
		return nil, err
	}
	if err := e.t.dropViews(ctx, saved); err != nil {
		return nil, err
	}
	if err := e.t.runFor(ctx, "drop", name, e.t.st.sql.DropTable); err != nil {
		return nil, err
	}
	var lost []dialect.LostObject
	for _, v := range saved.views {
		kind := "v"
		if v.materialized {
			kind = "m"
		}
		lost = append(lost, dialect.LostObject{Object: relationWord(kind) + " " + v.name,
			Reason: "it depends on a table that the source no longer has, and was dropped with it"})
	}
	return lost, nil
}

// kept is what others put on a table, saved before a change that would drop it.
type kept struct {
	// views depend on the table, in creation order.
	views []savedView
	// restores put everything back, in order: what belongs to the table, then each view with what
	// belongs to it.
	restores []restoreStep
}

// savedView is a view that depends on a saved table.
type savedView struct {
	name         string // quoted and qualified
	materialized bool
}

// restoreStep is one statement that puts back an object.
type restoreStep struct {
	object string // names the object for a dialect.LostObject
	stmt   string
	// of is the index of the step that creates the view this step belongs to, or -1: when that step
	// fails, this one is lost with it.
	of int
}

// keep saves what others put on the table name: the views that depend on it (with their options,
// owners, comments, grants, triggers and, for materialized views, indexes), and, with whole, what
// dropping the table itself would take: its comments, grants, constraints other than the primary
// key, indexes that no constraint owns, and triggers. A table that does not exist has nothing saved.
func (t *Tx) keep(ctx context.Context, table string, whole bool) (kept, error) {
	tq, err := t.st.sql.Table(table)
	if err != nil {
		return kept{}, err
	}
	r := &relations{names: map[uint32]string{}, kinds: map[uint32]string{}, owners: map[uint32]string{},
		steps: map[uint32][]restoreStep{}}
	if whole {
		var comment *string
		err := t.x.tx.QueryRow(ctx, tableOID, t.st.sql.schema, table).Scan(&r.table, &comment)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return kept{}, nil
		case err != nil:
			return kept{}, fmt.Errorf("postgres: find the table %s: %w", tq, err)
		}
		r.add(r.table, tq, "r", "")
		if comment != nil {
			r.step(r.table, "comment on table "+tq, commentOn("r", tq, "", *comment))
		}
	}
	var k kept
	err = t.eachRow(ctx, "read the views that depend on "+tq, dependentViews, []any{t.st.sql.schema, table}, func(scan func(...any) error) error {
		var (
			oid                            uint32
			schema, name, kind, def, owner string
			depth                          int
			options                        []string
			comment                        *string
		)
		if err := scan(&oid, &schema, &name, &kind, &depth, &def, &owner, &options, &comment); err != nil {
			return err
		}
		q := qualified(schema, name)
		r.add(oid, q, kind, owner)
		k.views = append(k.views, savedView{name: q, materialized: kind == "m"})
		// The view's CREATE comes first among its steps (see relations.restores).
		r.step(oid, relationWord(kind)+" "+q, createView(q, kind == "m", options, def))
		if comment != nil {
			r.step(oid, "comment on "+relationWord(kind)+" "+q, commentOn(kind, q, "", *comment))
		}
		return nil
	})
	if err != nil {
		return kept{}, err
	}
	if len(r.oids) == 0 {
		return k, nil
	}
	if err := t.keepDetails(ctx, tq, r); err != nil {
		return kept{}, err
	}
	k.restores = r.restores()
	return k, nil
}

// relations are the table and views whose objects keep saves, with their restore steps.
type relations struct {
	oids   []uint32 // the table first (when it is saved), then the views in creation order
	table  uint32   // the table's oid, 0 when only its views are saved
	names  map[uint32]string
	kinds  map[uint32]string // pg_class.relkind
	owners map[uint32]string // of the views that the current user does not own
	steps  map[uint32][]restoreStep
}

func (r *relations) add(oid uint32, name, kind, owner string) {
	r.oids = append(r.oids, oid)
	r.names[oid], r.kinds[oid], r.owners[oid] = name, kind, owner
}

func (r *relations) step(oid uint32, object, stmt string) {
	r.steps[oid] = append(r.steps[oid], restoreStep{object: object, stmt: stmt})
}

// restores orders the steps: relation by relation, each view's steps after its CREATE and lost with
// it, and a view's owner last, once the grants were made by the (new) owner, which PostgreSQL then
// passes on.
func (r *relations) restores() []restoreStep {
	var out []restoreStep
	for _, oid := range r.oids {
		of := -1
		if oid != r.table {
			of = len(out)
		}
		for _, s := range r.steps[oid] {
			s.of = of
			out = append(out, s)
		}
		if o := r.owners[oid]; o != "" {
			out = append(out, restoreStep{object: fmt.Sprintf("owner %s of %s", quoteUnchecked(o), r.names[oid]),
				stmt: ownerTo(r.kinds[oid], r.names[oid], o), of: of})
		}
	}
	return out
}

// keepDetails saves, for the relations of r, the column comments and grants, and the indexes that no
// constraint owns and triggers; for the table, its constraints other than the primary key. tq names
// the table in errors.
func (t *Tx) keepDetails(ctx context.Context, tq string, r *relations) error {
	err := t.eachRow(ctx, "read the column comments of "+tq, columnComments, []any{r.oids}, func(scan func(...any) error) error {
		var (
			oid          uint32
			column, text string
		)
		if err := scan(&oid, &column, &text); err != nil {
			return err
		}
		n := r.names[oid]
		r.step(oid, fmt.Sprintf("comment on column %s.%s", n, quoteUnchecked(column)), commentOn(r.kinds[oid], n, column, text))
		return nil
	})
	if err != nil {
		return err
	}
	err = t.eachRow(ctx, "read the grants on "+tq, relationGrants, []any{r.oids}, func(scan func(...any) error) error {
		var (
			oid                        uint32
			column, privilege, grantee string
			grantable                  bool
		)
		if err := scan(&oid, &column, &privilege, &grantable, &grantee); err != nil {
			return err
		}
		to, on := "PUBLIC", r.names[oid]
		if grantee != "" {
			to = quoteUnchecked(grantee)
		}
		if column != "" {
			on += " (" + quoteUnchecked(column) + ")"
		}
		r.step(oid, fmt.Sprintf("grant of %s on %s to %s", privilege, on, to), grant(privilege, r.names[oid], column, grantee, grantable))
		return nil
	})
	if err != nil {
		return err
	}
	if r.table != 0 {
		err = t.eachRow(ctx, "read the constraints of "+tq, tableConstraints, []any{r.table}, func(scan func(...any) error) error {
			var name, def string
			if err := scan(&name, &def); err != nil {
				return err
			}
			r.step(r.table, fmt.Sprintf("constraint %s on %s", quoteUnchecked(name), tq), addConstraint(tq, name, def))
			return nil
		})
		if err != nil {
			return err
		}
	}
	err = t.eachRow(ctx, "read the indexes on "+tq, relationIndexes, []any{r.oids}, func(scan func(...any) error) error {
		var (
			oid               uint32
			schema, name, def string
		)
		if err := scan(&oid, &schema, &name, &def); err != nil {
			return err
		}
		r.step(oid, "index "+qualified(schema, name), def)
		return nil
	})
	if err != nil {
		return err
	}
	return t.eachRow(ctx, "read the triggers on "+tq, relationTriggers, []any{r.oids}, func(scan func(...any) error) error {
		var (
			oid       uint32
			name, def string
		)
		if err := scan(&oid, &name, &def); err != nil {
			return err
		}
		r.step(oid, fmt.Sprintf("trigger %s on %s", quoteUnchecked(name), r.names[oid]), def)
		return nil
	})
}

// eachRow runs a catalog query and calls fn with each row's Scan; what says what it was for in errors.
func (t *Tx) eachRow(ctx context.Context, what, query string, args []any, fn func(scan func(...any) error) error) error {
	if err := t.x.Query(ctx, query, args, fn); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// relationWord names a kind of relation in messages.
func relationWord(relkind string) string { return strings.ToLower(relationKind(relkind)) }

// dropViews drops the saved views, those that depend on others first.
func (t *Tx) dropViews(ctx context.Context, k kept) error {
	for i := len(k.views) - 1; i >= 0; i-- {
		v := k.views[i]
		if _, err := t.x.simple(ctx, dropView(v.name, v.materialized)); err != nil {
			return fmt.Errorf("postgres: drop view %s, which depends on the table, to re-create it after the change: %w", v.name, err)
		}
	}
	return nil
}

// restore runs the saved restore steps, each in a savepoint of its own, and returns what could not be
// put back. The reason is PostgreSQL's message without its detail, which may quote row data.
func (t *Tx) restore(ctx context.Context, k kept) []dialect.LostObject {
	var lost []dialect.LostObject
	failed := map[int]string{}
	for i, s := range k.restores {
		if s.of >= 0 && s.of != i {
			if view, ok := failed[s.of]; ok {
				failed[i] = view
				lost = append(lost, dialect.LostObject{Object: s.object, Reason: "lost with " + view + ", which could not be re-created"})
				continue
			}
		}
		err := t.atomically(ctx, func() error {
			_, err := t.x.simple(ctx, s.stmt)
			return err
		})
		if err != nil {
			failed[i] = s.object
			lost = append(lost, dialect.LostObject{Object: s.object, Reason: errorMessage(err)})
		}
	}
	return lost
}

// errorMessage is the text of a PostgreSQL error without its DETAIL, which may quote row data.
func errorMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message + " (SQLSTATE " + pe.Code + ")"
	}
	return err.Error()
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

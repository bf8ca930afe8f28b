package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/sqlexec"
)

// Server error numbers the dialect acts on.
const (
	erBadDB               = 1049 // unknown database
	erNoSuchTable         = 1146
	erDupEntry            = 1062
	erNotAllowedCommand   = 1148 // LOCAL INFILE refused (MySQL before 8.0.19, MariaDB)
	erClientLocalDisabled = 2068 // client side refusal (C clients)
	erLocalInfileDisabled = 3948 // MySQL 8: loading local data is disabled
	erMariaLocalDisabled  = 4166 // MariaDB: local infile capability disabled
)

// mapError makes a duplicate key recognisable as dialect.ErrDuplicateKey, and a database or table
// that does not exist as dialect.ErrMissing.
func mapError(err error) error {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return err
	}
	if msg := withholdValues(err.Error()); msg != err.Error() {
		err = dialect.Redact(err, msg)
	}
	switch me.Number {
	case erDupEntry:
		return fmt.Errorf("%w: %w", err, dialect.ErrDuplicateKey)
	case erBadDB, erNoSuchTable:
		if !errors.Is(err, dialect.ErrMissing) {
			return fmt.Errorf("%w: %w", dialect.ErrMissing, err)
		}
	}
	return err
}

// quotedValues match the values MySQL quotes in its messages: a duplicate key's value, and the value
// of an incorrect-value error. The greedy match runs to the fixed text after the value, so that a
// quote inside the value cannot end it early.
var quotedValues = []*regexp.Regexp{
	regexp.MustCompile(`(Duplicate entry )'.*'( for key)`),
	regexp.MustCompile(`(value: )'.*'( for column)`),
}

// withholdValues removes row data from a MySQL message (its key and column names stay).
func withholdValues(msg string) string {
	for _, re := range quotedValues {
		msg = re.ReplaceAllString(msg, "${1}(value withheld)${2}")
	}
	return msg
}

// Tx is one transaction on one session of the tenant's pool.
type Tx struct {
	s *Store
	x *sqlexec.Tx
	// stage numbers the transaction's staging tables.
	stage int
}

// Meta is mirrorsink's own tables in this transaction.
func (t *Tx) Meta() dialect.MetaStore { return t.s.meta.In(t.x) }

// Tables edits and reads the mirrored tables.
func (t *Tx) Tables() dialect.TableEditor { return editor{t} }

// Rows writes rows of the mirrored tables (bulk.go).
func (t *Tx) Rows() dialect.RowWriter { return writer{t} }

// errLockTimeout is returned (wrapped) when Lock waits longer than the lock timeout.
var errLockTimeout = errors.New("lock wait timed out")

// Lock takes GET_LOCK on a name derived from key and holds it until the transaction ends. It waits at
// most the lock timeout (LockTimeoutParam), and no longer than ctx allows.
func (t *Tx) Lock(ctx context.Context, key string) error {
	name := lockName(key)
	wait := t.s.lockTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl))
	}
	// Whole seconds: GET_LOCK takes an integer timeout.
	secs := max(int64(math.Ceil(wait.Seconds())), 0)
	var got sql.NullInt64
	// The text protocol: one round trip, as every batch takes a lock.
	if err := t.x.SQL().QueryRowContext(ctx, lockQuery, name, secs).Scan(&got); err != nil {
		return fmt.Errorf("mysql: lock %q: %w", key, err)
	}
	if !got.Valid || got.Int64 != 1 {
		return fmt.Errorf("mysql: lock %q (%s): another transaction held it for %s: %w", key, name, wait.Round(time.Second), errLockTimeout)
	}
	t.x.OnEnd(func(ctx context.Context, conn *sql.Conn) error {
		if _, err := conn.ExecContext(ctx, unlockStatement, name); err != nil {
			return fmt.Errorf("mysql: release lock %s: %w", name, err)
		}
		return nil
	})
	return nil
}

// RunStatement runs an operator's hook statement as it is.
func (t *Tx) RunStatement(ctx context.Context, statement string) error {
	if _, err := t.x.Exec(ctx, statement); err != nil {
		return fmt.Errorf("mysql: hook statement: %w", err)
	}
	return nil
}

// Commit commits and releases the transaction's locks. A Relaxed commit is a plain one: MySQL's
// durability is the server's setting (innodb_flush_log_at_trx_commit), not the session's.
func (t *Tx) Commit(ctx context.Context, _ dialect.Durability) error { return t.x.Commit(ctx) }

// Rollback rolls back and releases the locks; after Commit it does nothing.
func (t *Tx) Rollback(ctx context.Context) error { return t.x.Rollback(ctx) }

// ddl runs a statement that commits implicitly and starts the next transaction at once, so that what
// the engine does after it stays atomic. It starts it when the statement failed too: MySQL commits
// before it runs a DDL statement, so the session has left its transaction either way.
func (t *Tx) ddl(ctx context.Context, what, stmt string) error {
	var err error
	if _, err = t.x.Exec(ctx, stmt); err != nil {
		err = fmt.Errorf("mysql: %s: %w", what, err)
	}
	for _, s := range restartTransaction {
		if _, rerr := t.x.Exec(ctx, s); rerr != nil {
			return errors.Join(err, fmt.Errorf("mysql: %s: restart the transaction: %w", what, rerr))
		}
	}
	return err
}

// editor is the transaction's dialect.TableEditor.
type editor struct{ t *Tx }

// Exists reports whether a base table of that name exists in the tenant's database, as the server
// compares names.
func (e editor) Exists(ctx context.Context, name string) (bool, error) {
	if _, err := quote(name); err != nil {
		return false, err
	}
	names := e.t.s.sql
	found := false
	err := e.t.x.Query(ctx, existsQuery, []any{name}, func(scan func(...any) error) error {
		var n string
		if err := scan(&n); err != nil {
			return err
		}
		found = found || names.Fold(n) == names.Fold(name)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("mysql: table exists %q: %w", name, err)
	}
	return found, nil
}

// Create creates the table with the planned types, and logs what it left out.
func (e editor) Create(ctx context.Context, t dialect.Table) error {
	stmt, ws, err := e.t.s.sql.CreateTable(t)
	if err != nil {
		return err
	}
	dialect.LogWarnings(e.t.s.log, "mysql", ws)
	return e.t.ddl(ctx, fmt.Sprintf("create table %q", t.Name), stmt)
}

// storedColumn is how a column of a table is stored now.
type storedColumn struct {
	offRow   bool // text or blob
	nullable bool
}

// storedColumns reads the columns of a table as the server has them.
func (t *Tx) storedColumns(ctx context.Context, table string) (map[string]storedColumn, error) {
	names := t.s.sql
	cols := map[string]storedColumn{}
	err := t.x.Query(ctx, columnsQuery, []any{table}, func(scan func(...any) error) error {
		var tbl, col, typ, nullable string
		if err := scan(&tbl, &col, &typ, &nullable); err != nil {
			return err
		}
		// information_schema may compare without case, and two tables may differ only in case.
		if names.Fold(tbl) != names.Fold(table) {
			return nil
		}
		var c storedColumn
		switch strings.ToLower(typ) {
		case "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob":
			c.offRow = true
		}
		c.nullable = nullable == "YES"
		cols[col] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mysql: read the columns of %q: %w", table, err)
	}
	return cols, nil
}

// checkAlter refuses changes that do not match the stored table: MySQL's DDL commits before it runs,
// so a statement that would fail must not be sent.
func checkAlter(t dialect.Table, changes []dialect.Change, stored map[string]storedColumn) error {
	if len(stored) == 0 {
		return fmt.Errorf("mysql: alter %q: the table does not exist", t.Name)
	}
	for _, ch := range changes {
		name := ch.Column.Name
		if ch.Kind == dialect.DropColumn {
			name = ch.Old.Name
		}
		_, exists := stored[name]
		switch {
		case ch.Kind == dialect.AddColumn && exists:
			return fmt.Errorf("mysql: alter %q: column %q to add exists already", t.Name, name)
		case ch.Kind != dialect.AddColumn && !exists:
			return fmt.Errorf("mysql: alter %q: %s: the table has no column %q", t.Name, ch.Kind, name)
		}
	}
	return nil
}

// notYetMade leaves out of a fan-in table's changes those the table shows made already: a column to
// add that it has, one to drop that it lacks. MySQL commits a change before the engine records it,
// and a crash in between must not make the change fail for ever: other tenants' rows are in the
// table, so the engine cannot recreate it instead. (The engine adds a shared table's columns
// nullable and without a default, so a column of the name is the one an earlier attempt added.)
func notYetMade(changes []dialect.Change, stored map[string]storedColumn) []dialect.Change {
	var out []dialect.Change
	for _, ch := range changes {
		switch _, has := stored[ch.Column.Name]; {
		case ch.Kind == dialect.AddColumn && has:
		case ch.Kind == dialect.DropColumn && !hasColumn(stored, ch.Old.Name):
		default:
			out = append(out, ch)
		}
	}
	return out
}

func hasColumn(stored map[string]storedColumn, name string) bool {
	_, ok := stored[name]
	return ok
}

// Alter applies the changes in one ALTER TABLE, after checking that the server will accept it, so
// that a refused change commits nothing. Columns already stored off the row stay there, and columns
// that the new definition's row budget moves off the row are modified with it. ALTER TABLE keeps the
// table's indexes, triggers and grants, and MySQL's views do not stand in its way (a view of a
// dropped column fails when it is next used). Dropping a column drops an index of that column alone:
// that index is returned as lost.
func (e editor) Alter(ctx context.Context, t dialect.Table, changes []dialect.Change) ([]dialect.LostObject, error) {
	dropsColumn := false
	for _, ch := range changes {
		dropsColumn = dropsColumn || ch.Kind == dialect.DropColumn
	}
	if !dropsColumn {
		return nil, e.alter(ctx, t, changes)
	}
	before, err := e.t.keptDefinitions(ctx, t.Name)
	if err != nil {
		return nil, err
	}
	if err := e.alter(ctx, t, changes); err != nil {
		return nil, err
	}
	after, err := e.t.keptDefinitions(ctx, t.Name)
	if err != nil {
		return nil, err
	}
	kept := map[string]bool{}
	for _, d := range after {
		kept[d.object] = true
	}
	var lost []dialect.LostObject
	for _, d := range before {
		if !kept[d.object] {
			lost = append(lost, dialect.LostObject{Object: d.object, Reason: "it used a column that the source dropped, and went with it"})
		}
	}
	return lost, nil
}

func (e editor) alter(ctx context.Context, t dialect.Table, changes []dialect.Change) error {
	stored, err := e.t.storedColumns(ctx, t.Name)
	if err != nil {
		return err
	}
	if e.t.s.sql.fanIn != nil {
		changes = notYetMade(changes, stored)
	}
	if err := checkAlter(t, changes, stored); err != nil {
		return err
	}
	offRow := map[string]bool{}
	for name, c := range stored {
		offRow[name] = c.offRow
	}
	stmt, ws, err := e.t.s.sql.AlterTable(t, changes, offRow)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		if ch.Kind != dialect.AlterType && ch.Kind != dialect.AlterNullability {
			continue
		}
		if ch.Column.Nullable || !stored[ch.Column.Name].nullable {
			continue
		}
		if err := e.noNulls(ctx, t.Name, ch.Column.Name); err != nil {
			return err
		}
	}
	if stmt == "" {
		return nil
	}
	dialect.LogWarnings(e.t.s.log, "mysql", ws)
	return e.t.ddl(ctx, fmt.Sprintf("alter table %q", t.Name), stmt)
}

// noNulls fails with dialect.ErrRecreate when a column that is to become NOT NULL holds a NULL, which
// the strict sql_mode would refuse.
func (e editor) noNulls(ctx context.Context, table, column string) error {
	q, err := e.t.s.sql.HasNull(table, column)
	if err != nil {
		return err
	}
	var one int64
	found, err := e.t.x.QueryRow(ctx, q, nil, &one)
	if err != nil {
		return fmt.Errorf("mysql: alter %q: look for NULL in column %q: %w", table, column, err)
	}
	if found {
		return fmt.Errorf("mysql: alter %q: column %q holds NULL, so it cannot become NOT NULL in place: %w", table, column, dialect.ErrRecreate)
	}
	return nil
}

// Drop drops the table if it exists. Views on it stay, as MySQL keeps a view's text: they fail when
// used until a table of that name exists again.
func (e editor) Drop(ctx context.Context, name string) ([]dialect.LostObject, error) {
	return nil, e.drop(ctx, name)
}

func (e editor) drop(ctx context.Context, name string) error {
	stmt, err := e.t.s.sql.DropTable(name)
	if err != nil {
		return err
	}
	return e.t.ddl(ctx, fmt.Sprintf("drop table %q", name), stmt)
}

// Recreate drops the table and creates t in its place. Views on the table and grants on it survive by
// themselves (MySQL keeps both by name). Its indexes and constraints other than the primary key, and
// its triggers, go with the table: they are read first (SHOW CREATE TABLE, SHOW CREATE TRIGGER) and
// added to the new table, each by a statement of its own; what no longer fits is returned as lost.
// Every one of these statements commits by itself, as all DDL does in MySQL.
func (e editor) Recreate(ctx context.Context, t dialect.Table) ([]dialect.LostObject, error) {
	exists, err := e.Exists(ctx, t.Name)
	if err != nil {
		return nil, err
	}
	var (
		defs     []keptDefinition
		triggers []keptDefinition
	)
	if exists {
		if defs, err = e.t.keptDefinitions(ctx, t.Name); err != nil {
			return nil, err
		}
		if triggers, err = e.t.keptTriggers(ctx, t.Name); err != nil {
			return nil, err
		}
	}
	if err := e.drop(ctx, t.Name); err != nil {
		return nil, err
	}
	if err := e.Create(ctx, t); err != nil {
		return nil, err
	}
	var lost []dialect.LostObject
	for _, d := range append(defs, triggers...) {
		if err := e.t.ddl(ctx, "re-create "+d.object, d.add); err != nil {
			lost = append(lost, dialect.LostObject{Object: d.object, Reason: serverMessage(err)})
		}
	}
	return lost, nil
}

// keptDefinitions reads the indexes and constraints of a table that are not mirrorsink's.
func (t *Tx) keptDefinitions(ctx context.Context, table string) ([]keptDefinition, error) {
	q, err := showCreateTable(table)
	if err != nil {
		return nil, err
	}
	create, err := t.showCreate(ctx, q, "Create Table")
	if err != nil {
		return nil, fmt.Errorf("mysql: read the definition of %q: %w", table, err)
	}
	return keptDefinitions(table, create)
}

// keptTriggers reads the triggers of a table as the statements that created them.
func (t *Tx) keptTriggers(ctx context.Context, table string) ([]keptDefinition, error) {
	var names []string
	err := t.x.Query(ctx, triggersQuery, []any{table}, func(scan func(...any) error) error {
		var n string
		if err := scan(&n); err != nil {
			return err
		}
		names = append(names, n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mysql: read the triggers of %q: %w", table, err)
	}
	var out []keptDefinition
	for _, n := range names {
		q, err := quote(n)
		if err != nil {
			return nil, err
		}
		stmt, err := t.showCreate(ctx, "SHOW CREATE TRIGGER "+q, "SQL Original Statement")
		if err != nil {
			return nil, fmt.Errorf("mysql: read trigger %s of %q: %w", q, table, err)
		}
		out = append(out, keptDefinition{object: "trigger " + q, add: stmt})
	}
	return out, nil
}

// showCreate runs a SHOW CREATE statement through the text protocol (not every one of them can be
// prepared) and returns its column named column.
func (t *Tx) showCreate(ctx context.Context, stmt, column string) (string, error) {
	rows, err := t.x.SQL().QueryContext(ctx, stmt)
	if err != nil {
		return "", t.x.Err(err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return "", err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", t.x.Err(err)
		}
		return "", errors.New("no row")
	}
	values := make([]sql.RawBytes, len(names))
	dest := make([]any, len(names))
	for i := range values {
		dest[i] = &values[i]
	}
	if err := rows.Scan(dest...); err != nil {
		return "", err
	}
	for i, n := range names {
		if n == column {
			return string(values[i]), nil
		}
	}
	return "", fmt.Errorf("no column %q in its result", column)
}

// serverMessage is the server's message of a failed statement (without the statement's context).
func serverMessage(err error) string {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return fmt.Sprintf("%s (error %d)", withholdValues(me.Message), me.Number)
	}
	return err.Error()
}

// Truncate deletes every row in the transaction (see SQL.Truncate for why not TRUNCATE TABLE).
func (e editor) Truncate(ctx context.Context, t dialect.Table) error {
	stmt, err := e.t.s.sql.Truncate(t.Name)
	if err != nil {
		return err
	}
	if _, err := e.t.x.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("mysql: truncate %q: %w", t.Name, err)
	}
	return nil
}

// Count returns the table's number of rows.
func (e editor) Count(ctx context.Context, name string) (int64, error) {
	q, err := e.t.s.sql.Count(name)
	if err != nil {
		return 0, err
	}
	var n int64
	if _, err := e.t.x.QueryRow(ctx, q, nil, &n); err != nil {
		return 0, fmt.Errorf("mysql: count %q: %w", name, err)
	}
	return n, nil
}

// Read hands every row of t to fn, each value normalised by its column's rule (types.go).
func (e editor) Read(ctx context.Context, t dialect.Table, fn func(values []any) error) error {
	q, err := e.t.s.sql.Select(t)
	if err != nil {
		return err
	}
	reads := make([]func(any) (any, error), len(t.Columns))
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		r, err := ruleFor(c.Type)
		if err != nil {
			return fmt.Errorf("mysql: read %q column %q: %w", t.Name, c.Name, err)
		}
		reads[i], names[i] = r.read, c.Name
	}
	err = e.t.x.ReadRows(ctx, q, names, reads, fn)
	if err != nil {
		return fmt.Errorf("mysql: read %q: %w", t.Name, err)
	}
	return nil
}

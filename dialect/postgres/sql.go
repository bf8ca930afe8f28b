package postgres

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// This file is the pure, SQL-writing part of the dialect: every method here returns text and touches
// no connection, so that golden tests pin down exactly what reaches the server.

// MaxIdentifierBytes is PostgreSQL's NAMEDATALEN-1. The server silently truncates longer names, which
// would merge distinct source names, so the dialect refuses them instead (dialect.ErrBadName).
const MaxIdentifierBytes = 63

// SQL writes the statements of one tenant's mirror. Every table it names is qualified by the schema
// that holds the tenant's tables, so that no statement depends on the session's search_path. It
// implements dialect.Namer.
type SQL struct {
	schema  string // as PostgreSQL holds it
	qschema string // quoted
}

var _ dialect.Namer = SQL{}

// NewSQL returns the SQL of a mirror whose tables live in schema.
func NewSQL(schema string) (SQL, error) {
	q, err := quoteIdent(schema)
	if err != nil {
		return SQL{}, fmt.Errorf("postgres: schema name: %w", err)
	}
	return SQL{schema: schema, qschema: q}, nil
}

// checkName refuses a name that PostgreSQL cannot hold exactly.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("postgres: an empty identifier: %w", dialect.ErrBadName)
	case len(name) > MaxIdentifierBytes:
		// Only the part PostgreSQL would have kept: the name may be far longer.
		head := name[:MaxIdentifierBytes]
		for !utf8.ValidString(head) && len(head) > 0 {
			head = head[:len(head)-1]
		}
		return fmt.Errorf("postgres: identifier %q… is too long: %d bytes, PostgreSQL allows %d: %w",
			head, len(name), MaxIdentifierBytes, dialect.ErrBadName)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("postgres: identifier %q contains NUL: %w", name, dialect.ErrBadName)
	case !utf8.ValidString(name):
		return fmt.Errorf("postgres: identifier %q is not valid UTF-8: %w", name, dialect.ErrBadName)
	}
	return nil
}

// quoteIdent returns name as a double-quoted identifier with embedded quotes doubled, or fails with
// dialect.ErrBadName.
func quoteIdent(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	return quoteUnchecked(name), nil
}

func quoteUnchecked(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// quoteColumns quotes every name of cols, joined by ", ".
func quoteColumns(cols []typemap.Column) (string, error) {
	var b strings.Builder
	for i, c := range cols {
		q, err := quoteIdent(c.Name)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(q)
	}
	return b.String(), nil
}

// quoteLiteral renders s as a string literal. NUL cannot live in PostgreSQL text, so it becomes U+FFFD
// here as it does in row data. A backslash switches to the escape-string form (E prefix), whose
// meaning does not depend on the server's standard_conforming_strings.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	s = strings.ReplaceAll(s, "'", "''")
	if strings.Contains(s, `\`) {
		return "E'" + strings.ReplaceAll(s, `\`, `\\`) + "'"
	}
	return "'" + s + "'"
}

// Table returns the table's name quoted and qualified by the mirror's schema.
func (s SQL) Table(name string) (string, error) {
	q, err := quoteIdent(name)
	if err != nil {
		return "", err
	}
	return s.qschema + "." + q, nil
}

// Literal returns v as a string literal.
func (s SQL) Literal(v string) string { return quoteLiteral(v) }

// Fold returns name as it is: quoted identifiers compare byte for byte, so "Contact" and "contact"
// are two tables.
func (s SQL) Fold(name string) string { return name }

// CreateSchema creates the mirror's schema unless it exists.
func (s SQL) CreateSchema() string { return "CREATE SCHEMA IF NOT EXISTS " + s.qschema }

// createDatabase creates a tenant's database; it runs in the server's maintenance database.
func createDatabase(name string) (string, error) {
	q, err := quoteIdent(name)
	if err != nil {
		return "", fmt.Errorf("postgres: database name: %w", err)
	}
	return "CREATE DATABASE " + q, nil
}

// currentSchema asks which schema a session without OpenOptions.Schema creates tables in: the first
// schema of its search_path that exists.
const currentSchema = "SELECT current_schema()"

// defaultExpr renders c's default as an expression of the column's type. It returns "" with no reason
// when c has no default, and "" with a reason when the database cannot express the default (the
// caller drops it and warns; a default never fails a table).
func defaultExpr(c typemap.Column, r rule) (expr, dropped string) {
	d := c.Default
	if d == nil {
		return "", ""
	}
	switch d.Kind {
	case typemap.DefaultNull:
		return "NULL", ""
	case typemap.DefaultNow:
		if r.clock {
			return "LOCALTIMESTAMP", ""
		}
	case typemap.DefaultUTCNow:
		if r.clock {
			return "(now() AT TIME ZONE 'utc')", ""
		}
	case typemap.DefaultNowOffset:
		if r.clock {
			return "now()", ""
		}
	case typemap.DefaultNewID:
		if r.newID {
			return "gen_random_uuid()", ""
		}
	case typemap.DefaultLiteral:
		if e, ok := r.literal(d, r.ddl(c.Type)); ok {
			return e, ""
		}
	case typemap.DefaultUnsupported:
		return "", fmt.Sprintf("dropped default %q: PostgreSQL has no equivalent", d.Raw)
	}
	return "", fmt.Sprintf("dropped default %q: it does not fit column type %s", d.Raw, r.ddl(c.Type))
}

// columnDef renders one column definition: name, type, default, NOT NULL. filled says that the
// default gives existing rows a value (it is neither missing nor NULL); a default left out comes back
// as a warning.
func columnDef(table string, c typemap.Column) (def string, filled bool, warns []dialect.Warning, err error) {
	name, err := quoteIdent(c.Name)
	if err != nil {
		return "", false, nil, err
	}
	r, err := ruleOf(c.Type)
	if err != nil {
		return "", false, nil, fmt.Errorf("column %s: %w", name, err)
	}
	def = name + " " + r.ddl(c.Type)
	expr, dropped := defaultExpr(c, r)
	if expr != "" {
		def += " DEFAULT " + expr
	}
	if !c.Nullable {
		def += " NOT NULL"
	}
	return def, expr != "" && expr != "NULL", dropWarning(table, c.Name, dropped), nil
}

// dropWarning is the warning of a default left out, if there is one.
func dropWarning(table, column, dropped string) []dialect.Warning {
	if dropped == "" {
		return nil
	}
	return []dialect.Warning{{Table: table, Column: column, Reason: dropped}}
}

// CreateTable renders CREATE TABLE for t with its primary key; warnings name the defaults it left out.
func (s SQL) CreateTable(t dialect.Table) (string, []dialect.Warning, error) {
	name, err := s.Table(t.Name)
	if err != nil {
		return "", nil, err
	}
	if len(t.Key) == 0 {
		return "", nil, fmt.Errorf("postgres: create %s: the table has no key", name)
	}
	var (
		b     strings.Builder
		warns []dialect.Warning
	)
	b.WriteString("CREATE TABLE " + name + " (\n")
	for _, c := range t.Columns {
		def, _, w, err := columnDef(t.Name, c)
		if err != nil {
			return "", nil, fmt.Errorf("postgres: create %s: %w", name, err)
		}
		warns = append(warns, w...)
		b.WriteString("  " + def + ",\n")
	}
	key, err := quoteColumns(t.KeyColumns())
	if err != nil {
		return "", nil, fmt.Errorf("postgres: create %s: %w", name, err)
	}
	b.WriteString("  PRIMARY KEY (" + key + ")\n)")
	return b.String(), warns, nil
}

// DropTable renders DROP TABLE IF EXISTS.
func (s SQL) DropTable(table string) (string, error) {
	name, err := s.Table(table)
	if err != nil {
		return "", err
	}
	return "DROP TABLE IF EXISTS " + name, nil
}

// TruncateTable renders TRUNCATE, which is transactional in PostgreSQL.
func (s SQL) TruncateTable(table string) (string, error) {
	name, err := s.Table(table)
	if err != nil {
		return "", err
	}
	return "TRUNCATE TABLE " + name, nil
}

// AlterStep is one in-place change as statements.
type AlterStep struct {
	// Probe, when set, is a query of one boolean that is true when the stored rows forbid the change
	// (a NOT NULL over rows that hold, or would hold, NULL). It runs before any step changes anything.
	Probe string
	// Statement makes the change; it is empty when the change is a no-op in PostgreSQL (nvarchar(max)
	// and ntext are both text).
	Statement string
}

// AlterTable renders one in-place change of table t (whose new definition is given); warnings name a
// default it left out.
func (s SQL) AlterTable(t dialect.Table, ch dialect.Change) (AlterStep, []dialect.Warning, error) {
	tq, err := s.Table(t.Name)
	if err != nil {
		return AlterStep{}, nil, err
	}
	step, warns, err := alterStep(tq, t.Name, ch)
	if err != nil {
		return AlterStep{}, nil, fmt.Errorf("postgres: alter %s: %s: %w", tq, ch.Kind, err)
	}
	return step, warns, nil
}

// alterStep renders ch for the table named table, quoted and qualified as tq.
func alterStep(tq, table string, ch dialect.Change) (AlterStep, []dialect.Warning, error) {
	prefix := "ALTER TABLE " + tq + " "
	col := ch.Column
	if ch.Kind == dialect.DropColumn {
		col = ch.Old
	}
	c, err := quoteIdent(col.Name)
	if err != nil {
		return AlterStep{}, nil, err
	}
	switch ch.Kind {
	case dialect.AddColumn:
		def, filled, warns, err := columnDef(table, col)
		if err != nil {
			return AlterStep{}, nil, err
		}
		step := AlterStep{Statement: prefix + "ADD COLUMN " + def}
		if !col.Nullable && !filled {
			// The existing rows would hold NULL in a NOT NULL column: only an empty table takes it.
			step.Probe = "SELECT EXISTS (SELECT 1 FROM " + tq + ")"
		}
		return step, warns, nil
	case dialect.DropColumn:
		return AlterStep{Statement: prefix + "DROP COLUMN " + c}, nil, nil
	case dialect.AlterType:
		oldT, err := columnType(ch.Old.Type)
		if err != nil {
			return AlterStep{}, nil, err
		}
		newT, err := columnType(col.Type)
		if err != nil || oldT == newT {
			return AlterStep{}, nil, err
		}
		return AlterStep{Statement: prefix + "ALTER COLUMN " + c + " TYPE " + newT + " USING " + c + "::" + newT}, nil, nil
	case dialect.AlterNullability:
		if col.Nullable {
			return AlterStep{Statement: prefix + "ALTER COLUMN " + c + " DROP NOT NULL"}, nil, nil
		}
		return AlterStep{
			Probe:     "SELECT EXISTS (SELECT 1 FROM " + tq + " WHERE " + c + " IS NULL)",
			Statement: prefix + "ALTER COLUMN " + c + " SET NOT NULL",
		}, nil, nil
	case dialect.AlterDefault:
		r, err := ruleOf(col.Type)
		if err != nil {
			return AlterStep{}, nil, err
		}
		expr, dropped := defaultExpr(col, r)
		if expr == "" {
			return AlterStep{Statement: prefix + "ALTER COLUMN " + c + " DROP DEFAULT"}, dropWarning(table, col.Name, dropped), nil
		}
		return AlterStep{Statement: prefix + "ALTER COLUMN " + c + " SET DEFAULT " + expr}, nil, nil
	}
	return AlterStep{}, nil, fmt.Errorf("unknown change kind %s", ch.Kind)
}

// tableExists is the query of whether a table (its exact, unquoted name is $2) exists in the schema
// $1.
const tableExists = `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c ` +
	`JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ` +
	`WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))`

// TableExists renders the query of whether table exists in the mirror, with its arguments.
func (s SQL) TableExists(table string) (query string, args []any, err error) {
	if err := checkName(table); err != nil {
		return "", nil, err
	}
	return tableExists, []any{s.schema, table}, nil
}

// CountRows renders the count of a table's rows.
func (s SQL) CountRows(table string) (string, error) {
	name, err := s.Table(table)
	if err != nil {
		return "", err
	}
	return "SELECT count(*) FROM " + name, nil
}

// tableColumns quotes and qualifies a table's name and quotes cols, a list of its columns.
func (s SQL) tableColumns(table string, cols []typemap.Column) (name, list string, err error) {
	if name, err = s.Table(table); err != nil {
		return "", "", err
	}
	if list, err = quoteColumns(cols); err != nil {
		return "", "", err
	}
	return name, list, nil
}

// SelectRows renders the read of every row of t, its columns in order.
func (s SQL) SelectRows(t dialect.Table) (string, error) {
	name, list, err := s.tableColumns(t.Name, t.Columns)
	if err != nil {
		return "", err
	}
	return "SELECT " + list + " FROM " + name, nil
}

// AnalyzeTable renders the refresh of a table's planner statistics.
func (s SQL) AnalyzeTable(table string) (string, error) {
	name, err := s.Table(table)
	if err != nil {
		return "", err
	}
	return "ANALYZE " + name, nil
}

// copyFrom renders the binary COPY of a column list into target (quoted and qualified).
func copyFrom(target, list string) string {
	return "COPY " + target + " (" + list + ") FROM STDIN BINARY"
}

// CopyRows renders the binary COPY of every column of t into t: the bulk path.
func (s SQL) CopyRows(t dialect.Table) (string, error) {
	name, list, err := s.tableColumns(t.Name, t.Columns)
	if err != nil {
		return "", err
	}
	return copyFrom(name, list), nil
}

// stagingName is the name of a staging table; it lives in pg_temp, so it never meets a tenant table.
// seq numbers the staging tables of one transaction: a staging table is dropped right after use, and
// the number keeps an attempt rolled back to a savepoint from meeting its successor.
func stagingName(seq uint64) string {
	return "mirrorsink_stage_" + strconv.FormatUint(seq, 10)
}

// stagingTable is a staging table's qualified name: pg_temp, so that no schema of the search_path
// can hold a table of the same name.
func stagingTable(staging string) string { return "pg_temp." + quoteUnchecked(staging) }

// CreateStaging renders the creation of a constraint-free temporary table with the names and types of
// cols of t (CREATE TABLE AS … WITH NO DATA copies types but no NOT NULL, default or key), so that
// the COPY encoders of the table serve it too. It is dropped at commit at the latest; the dialect
// drops it right after use, as one transaction may stage several times.
func (s SQL) CreateStaging(staging string, t dialect.Table, cols []typemap.Column) (string, error) {
	name, list, err := s.tableColumns(t.Name, cols)
	if err != nil {
		return "", err
	}
	return "CREATE TEMP TABLE " + quoteUnchecked(staging) + " ON COMMIT DROP AS SELECT " + list +
		" FROM " + name + " WITH NO DATA", nil
}

// CopyStaging renders the binary COPY of cols into a staging table.
func (s SQL) CopyStaging(staging string, cols []typemap.Column) (string, error) {
	list, err := quoteColumns(cols)
	if err != nil {
		return "", err
	}
	return copyFrom(stagingTable(staging), list), nil
}

// DropStaging renders the removal of a staging table.
func (s SQL) DropStaging(staging string) string {
	return "DROP TABLE IF EXISTS " + stagingTable(staging)
}

// Upsert renders the set-based merge of a staging table into t: insert new keys, update existing ones
// (DO NOTHING when every column is part of the key).
//
// The staging rows are fed in key order. A batch's keys are scattered over the table; in key order the
// conflict checks walk the primary-key index, and the updates the heap (which a bulk load filled in
// key order), front to back, instead of jumping about: 50,000 updates of a million-row table took
// about 430 ms instead of 610 ms. Measured and rejected: UPDATE … FROM staging followed by INSERT …
// WHERE NOT EXISTS (the update alone took longer than this whole statement: a nested loop over the
// unsorted staging rows, or, after ANALYZE of the staging table, a hash join that scans the whole
// table), and ANALYZE of the staging table, which ON CONFLICT does not need as it joins nothing.
func (s SQL) Upsert(t dialect.Table, staging string) (string, error) {
	name, list, err := s.tableColumns(t.Name, t.Columns)
	if err != nil {
		return "", err
	}
	key, err := quoteColumns(t.KeyColumns())
	if err != nil {
		return "", err
	}
	var set strings.Builder
	for i, c := range t.Columns {
		if t.IsKey(i) {
			continue
		}
		if set.Len() > 0 {
			set.WriteString(", ")
		}
		q := quoteUnchecked(c.Name)
		set.WriteString(q + " = EXCLUDED." + q)
	}
	action := "DO NOTHING"
	if set.Len() > 0 {
		action = "DO UPDATE SET " + set.String()
	}
	return "INSERT INTO " + name + " (" + list + ") SELECT " + list + " FROM " + stagingTable(staging) +
		" ORDER BY " + key + " ON CONFLICT (" + key + ") " + action, nil
}

// Delete renders the set-based delete of the keys in a staging table.
func (s SQL) Delete(t dialect.Table, staging string) (string, error) {
	name, err := s.Table(t.Name)
	if err != nil {
		return "", err
	}
	var cond strings.Builder
	for i, c := range t.KeyColumns() {
		q, err := quoteIdent(c.Name)
		if err != nil {
			return "", err
		}
		if i > 0 {
			cond.WriteString(" AND ")
		}
		cond.WriteString("t." + q + " = s." + q)
	}
	return "DELETE FROM " + name + " AS t USING " + stagingTable(staging) + " AS s WHERE " + cond.String(), nil
}

// lockStatement takes a transaction-scoped advisory lock; its argument is lockID of the key.
const lockStatement = "SELECT pg_advisory_xact_lock($1)"

// lockID hashes a lock key to the bigint of an advisory lock with FNV-1a 64. Two keys that collide
// only serialise each other needlessly; they never skip a lock.
func lockID(key string) int64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= prime
	}
	return int64(h)
}

// relaxCommit makes the current transaction commit without waiting for its WAL to reach disk
// (dialect.Relaxed).
const relaxCommit = "SET LOCAL synchronous_commit = off"

// savepoint and rollbackTo set a savepoint and return to it, which also clears an aborted
// transaction's state.
func savepoint(name string) string  { return "SAVEPOINT " + quoteUnchecked(name) }
func rollbackTo(name string) string { return "ROLLBACK TO SAVEPOINT " + quoteUnchecked(name) }

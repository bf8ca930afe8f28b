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
	// fanIn is set in the fan-in layout (dialect.OpenOptions.TenantColumn).
	fanIn *fanInSQL
}

// fanInSQL is what the statements of a fan-in mirror add: the tenant column and the tenant's value.
type fanInSQL struct {
	dialect.FanInSQL
	// citus says that the database has the citus extension: shared tables are distributed on the tenant
	// column, colocated with the metadata table, and a delete joins its staging table in a subquery.
	citus bool
	// colocate is the qualified name of the table the shared tables are colocated with, as a literal.
	colocate string
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

// FanIn returns the SQL of tenant's view of a fan-in mirror (see dialect.OpenOptions.TenantColumn):
// every table it creates has column first (the tenant, text compared byte for byte, as the C
// collation does), in its primary key, and its reads and writes touch tenant's rows only. With citus,
// the tables are distributed on the column, colocated with mirrorsink's metadata table.
func (s SQL) FanIn(column, tenant string, citus bool) (SQL, error) {
	q, err := quoteIdent(column)
	if err != nil {
		return SQL{}, fmt.Errorf("postgres: tenant column: %w", err)
	}
	meta, err := s.Table(dialect.SharedMetaTables().Meta)
	if err != nil {
		return SQL{}, err
	}
	s.fanIn = &fanInSQL{FanInSQL: dialect.FanInSQL{Column: column, Quoted: q, Tenant: tenant, Literal: quoteLiteral(tenant)},
		citus: citus, colocate: quoteLiteral(meta)}
	return s, nil
}

// tenantColumnType is the tenant column's type: a tenant name has at most dialect.MaxTenantBytes
// ASCII characters. The C collation compares bytes; the metadata tables' tenant column has the same
// type, which Citus needs to colocate them.
var tenantColumnType = fmt.Sprintf(`varchar(%d) COLLATE "C"`, dialect.MaxTenantBytes)

// tenantColumn is the tenant column as the type table sees it, for the bulk path's encoders.
func (f *fanInSQL) tenantColumn() typemap.Column {
	return dialect.TenantColumn(f.Column, typemap.VarChar)
}

// mine is the condition that limits a statement to the tenant's rows (dialect.FanInSQL.Mine); "" outside
// the fan-in layout.
func (s SQL) mine(prefix string) string {
	if s.fanIn == nil {
		return ""
	}
	return s.fanIn.Mine(prefix)
}

// Distribute renders, on Citus, the distribution of a new fan-in table on the tenant column, colocated
// with mirrorsink's metadata table; "" elsewhere.
func (s SQL) Distribute(table string) (string, error) {
	if s.fanIn == nil || !s.fanIn.citus {
		return "", nil
	}
	name, err := s.Table(table)
	if err != nil {
		return "", err
	}
	return "SELECT create_distributed_table(" + quoteLiteral(name) + ", " + quoteLiteral(s.fanIn.Column) +
		", colocate_with => " + s.fanIn.colocate + ")", nil
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

// schemaExists asks ($1, the schema's name as PostgreSQL holds it) whether a schema exists, for an
// Open with NoCreate, which must not create it.
const schemaExists = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)"

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

// hasCitus asks whether the database has the citus extension (distributed PostgreSQL).
const hasCitus = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')"

// citusSequential makes Citus run a transaction's multi-shard statements over one connection per
// worker: a transaction that has written to a shard may then still change every shard of a table,
// or distribute a new one (Citus refuses the parallel form after such a write).
const citusSequential = "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"

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
	if s.fanIn != nil {
		b.WriteString("  " + s.fanIn.Quoted + " " + tenantColumnType + " NOT NULL,\n")
	}
	for i := range t.Columns {
		def, _, w, err := columnDef(t.Name, t.Declared(i))
		if err != nil {
			return "", nil, fmt.Errorf("postgres: create %s: %w", name, err)
		}
		warns = append(warns, w...)
		b.WriteString("  " + def + ",\n")
	}
	key, err := s.keyList(t)
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

// TruncateTable renders TRUNCATE, which is transactional in PostgreSQL; in the fan-in layout, the
// delete of the tenant's rows.
func (s SQL) TruncateTable(table string) (string, error) {
	name, err := s.Table(table)
	if err != nil {
		return "", err
	}
	if s.fanIn != nil {
		return "DELETE FROM " + name + dialect.Where(s.mine("")), nil
	}
	return "TRUNCATE TABLE " + name, nil
}

// keyList quotes the primary key's columns, the tenant column first in the fan-in layout.
func (s SQL) keyList(t dialect.Table) (string, error) {
	key, err := quoteColumns(t.KeyColumns())
	if err != nil || s.fanIn == nil {
		return key, err
	}
	return s.fanIn.Quoted + ", " + key, nil
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
	return "SELECT count(*) FROM " + name + dialect.Where(s.mine("")), nil
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
	return "SELECT " + list + " FROM " + name + dialect.Where(s.mine("")), nil
}

// AnalyzeTable renders the refresh of a table's planner statistics. A fan-in table is analyzed as a
// whole after any tenant's repopulation, and ANALYZE waits for one that runs already: tenants
// repopulating at once would queue behind each other (twenty tenants' initial loads took 18.7 s
// instead of 6.3 s, most of it waiting for ANALYZE's lock). SKIP_LOCKED leaves it to the ANALYZE
// under way, whose sample already holds most of the rows.
func (s SQL) AnalyzeTable(table string) (string, error) {
	name, err := s.Table(table)
	if err != nil {
		return "", err
	}
	if s.fanIn != nil {
		return "ANALYZE (SKIP_LOCKED) " + name, nil
	}
	return "ANALYZE " + name, nil
}

// copyFrom renders the binary COPY of a column list into target (quoted and qualified).
func copyFrom(target, list string) string {
	return "COPY " + target + " (" + list + ") FROM STDIN BINARY"
}

// CopyRows renders the binary COPY of every column of t into t: the bulk path. In the fan-in layout
// the tenant column comes first (see copyColumns).
func (s SQL) CopyRows(t dialect.Table) (string, error) {
	name, list, err := s.tableColumns(t.Name, t.Columns)
	if err != nil {
		return "", err
	}
	if s.fanIn != nil {
		list = s.fanIn.Quoted + ", " + list
	}
	return copyFrom(name, list), nil
}

// CopyJournal renders the binary COPY of a batch of the change journal: table and cols are the
// journal's name and columns as the metadata store quotes them (sqlmeta.Store.JournalTable and
// JournalColumns).
func (SQL) CopyJournal(table string, cols []string) string {
	return copyFrom(table, strings.Join(cols, ", "))
}

// copyColumns returns the columns that CopyRows writes and the rows to write, which in the fan-in
// layout hold the tenant first: the bulk path's encoders see it as one more varchar column.
func (s SQL) copyColumns(cols []typemap.Column, rows dialect.RowSource) ([]typemap.Column, dialect.RowSource) {
	if s.fanIn == nil {
		return cols, rows
	}
	return append([]typemap.Column{s.fanIn.tenantColumn()}, cols...), dialect.PrependTenant(rows, s.fanIn.Tenant)
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
	into, values, conflict := list, list, key
	if s.fanIn != nil {
		into, values = s.fanIn.Quoted+", "+list, s.fanIn.Literal+", "+list
		conflict = s.fanIn.Quoted + ", " + key
	}
	return "INSERT INTO " + name + " (" + into + ") SELECT " + values + " FROM " + stagingTable(staging) +
		" ORDER BY " + key + " ON CONFLICT (" + conflict + ") " + action, nil
}

// Delete renders the set-based delete of the keys in a staging table.
func (s SQL) Delete(t dialect.Table, staging string) (string, error) {
	name, err := s.Table(t.Name)
	if err != nil {
		return "", err
	}
	if s.fanIn != nil && s.fanIn.citus {
		// Citus plans a join of a distributed table with a local (staging) one only when the local one
		// is a subquery, which it ships to the tenant's shard.
		in, err := s.stagedKeys(t, staging)
		if err != nil {
			return "", err
		}
		return "DELETE FROM " + name + " WHERE " + s.mine("") + " AND " + in, nil
	}
	cond, err := s.keyJoin(t)
	if err != nil {
		return "", err
	}
	return "DELETE FROM " + name + " AS t USING " + stagingTable(staging) + " AS s WHERE " + cond, nil
}

// keyJoin renders the join of the table's rows (t) with the staged keys (s): in the fan-in layout, of
// the tenant's rows only.
func (s SQL) keyJoin(t dialect.Table) (string, error) {
	var cond strings.Builder
	if s.fanIn != nil {
		cond.WriteString(s.mine("t.") + " AND ")
	}
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
	return cond.String(), nil
}

// stagedKeys renders "(keys) IN (SELECT keys FROM staging)", the form Citus plans.
func (s SQL) stagedKeys(t dialect.Table, staging string) (string, error) {
	key, err := quoteColumns(t.KeyColumns())
	if err != nil {
		return "", err
	}
	return "(" + key + ") IN (SELECT " + key + " FROM " + stagingTable(staging) + ")", nil
}

// SoftDelete renders the set-based soft delete of the keys in a staging table (dialect.RowWriter's
// SoftDelete): $1, the time of the delete, goes into t.DeletedAt (and t.MirroredAt) of the rows whose
// DeletedAt is still NULL, so that a row deleted twice keeps the first time.
func (s SQL) SoftDelete(t dialect.Table, staging string) (string, error) {
	name, err := s.Table(t.Name)
	if err != nil {
		return "", err
	}
	deleted, set, err := dialect.SoftDeleteSet(t, quoteIdent, "", "$1")
	if err != nil {
		return "", err
	}
	if s.fanIn != nil && s.fanIn.citus {
		in, err := s.stagedKeys(t, staging)
		if err != nil {
			return "", err
		}
		return "UPDATE " + name + " SET " + set + " WHERE " + s.mine("") + " AND " + in + " AND " + deleted + " IS NULL", nil
	}
	cond, err := s.keyJoin(t)
	if err != nil {
		return "", err
	}
	return "UPDATE " + name + " AS t SET " + set + " FROM " + stagingTable(staging) + " AS s WHERE " + cond +
		" AND t." + deleted + " IS NULL", nil
}

// PurgeDeleted renders the removal of the rows that t.DeletedAt marks as deleted.
func (s SQL) PurgeDeleted(t dialect.Table) (string, error) {
	name, err := s.Table(t.Name)
	if err != nil {
		return "", err
	}
	where, err := dialect.PurgeWhere(t, quoteIdent, s.mine(""))
	return "DELETE FROM " + name + where, err
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

// What others put on a mirrored table.
//
// PostgreSQL refuses to drop a table, or to change the type of (or drop) a column, that a view depends
// on, and a dropped table takes its indexes, constraints, triggers, comments and grants with it. The
// queries below save all of that before such a change, and the functions after them render the
// statements that put it back afterwards; the dialect runs each of those in a savepoint of its own,
// so that one that no longer fits (a view of a dropped column) is reported instead of failing the
// change.

// dependentViews lists the views and materialized views that depend on the table $2 of schema $1,
// directly or through other views, each with the greatest depth at which it depends on it: creating
// them by ascending depth creates every view after those it reads. Columns: oid, schema, name, kind
// ('v' or 'm'), depth, definition, owner ("" when it is the current user, who owns what it creates),
// options (reloptions), comment.
const dependentViews = `WITH RECURSIVE deps(oid, depth) AS (
  SELECT c.oid, 0 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
  UNION
  SELECT r.ev_class, d.depth + 1 FROM deps d
  JOIN pg_catalog.pg_depend dep ON dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dep.refobjid = d.oid
    AND dep.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND dep.deptype = 'n'
  JOIN pg_catalog.pg_rewrite r ON r.oid = dep.objid
  WHERE r.ev_class <> d.oid
)
SELECT v.oid, n.nspname, v.relname, v.relkind::text, max(d.depth),
  pg_catalog.pg_get_viewdef(v.oid),
  CASE WHEN pg_catalog.pg_get_userbyid(v.relowner) = current_user THEN '' ELSE pg_catalog.pg_get_userbyid(v.relowner) END,
  coalesce(v.reloptions, '{}'), pg_catalog.obj_description(v.oid, 'pg_class')
FROM deps d JOIN pg_catalog.pg_class v ON v.oid = d.oid JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace
WHERE d.depth > 0
GROUP BY v.oid, n.nspname, v.relname, v.relkind, v.relowner, v.reloptions
ORDER BY max(d.depth), v.oid`

// tableOID finds the table $2 of schema $1, with its comment.
const tableOID = `SELECT c.oid, pg_catalog.obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`

// columnComments lists the comments on columns of the relations $1 (oid[]): oid, column, comment.
const columnComments = `SELECT a.attrelid, a.attname, d.description FROM pg_catalog.pg_description d
JOIN pg_catalog.pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid
WHERE d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objoid = ANY($1) AND d.objsubid > 0
ORDER BY a.attrelid, a.attnum`

// relationGrants lists the privileges granted on the relations $1 (oid[]) and on their columns to
// anyone but the owner (whose own privileges a new relation has anyway): oid, column ("" for the
// relation), privilege, grantable, grantee ("" for PUBLIC).
const relationGrants = `SELECT c.oid, '', g.privilege_type, g.is_grantable,
  CASE WHEN g.grantee = 0 THEN '' ELSE pg_catalog.pg_get_userbyid(g.grantee) END
FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) g
WHERE c.oid = ANY($1) AND g.grantee <> c.relowner
UNION ALL
SELECT c.oid, a.attname, g.privilege_type, g.is_grantable,
  CASE WHEN g.grantee = 0 THEN '' ELSE pg_catalog.pg_get_userbyid(g.grantee) END
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped,
  pg_catalog.aclexplode(a.attacl) g
WHERE c.oid = ANY($1) AND g.grantee <> c.relowner
ORDER BY 1, 2, 3, 5`

// relationIndexes lists the indexes of the relations $1 (oid[]) that no constraint owns (the primary
// key's is mirrorsink's; a unique or exclusion constraint is re-created with its index): oid, schema,
// name, definition.
const relationIndexes = `SELECT x.indrelid, n.nspname, i.relname, pg_catalog.pg_get_indexdef(i.oid)
FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
WHERE x.indrelid = ANY($1) AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
  WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x'))
ORDER BY x.indrelid, i.oid`

// tableConstraints lists the constraints of the table $1 (oid) other than its primary key: check,
// unique, exclusion and foreign keys that others added. Columns: name, definition.
const tableConstraints = `SELECT conname, pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint
WHERE conrelid = $1 AND contype IN ('c', 'u', 'x', 'f') ORDER BY oid`

// relationTriggers lists the triggers that were created on the relations $1 (oid[]) with CREATE
// TRIGGER (not those that implement constraints): oid, name, definition.
const relationTriggers = `SELECT tgrelid, tgname, pg_catalog.pg_get_triggerdef(oid) FROM pg_catalog.pg_trigger
WHERE tgrelid = ANY($1) AND NOT tgisinternal ORDER BY tgrelid, oid`

// tableObjects lists the indexes (other than those constraints own), constraints (other than the
// primary key) and triggers of the table $1 (oid): kind, schema (of an index), name. Alter compares
// them before and after a change that drops a column, as PostgreSQL drops with a column what uses it.
const tableObjects = `SELECT 'index', n.nspname, i.relname FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
WHERE x.indrelid = $1 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
  WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x'))
UNION ALL
SELECT 'constraint', '', conname FROM pg_catalog.pg_constraint WHERE conrelid = $1 AND contype IN ('c', 'u', 'x', 'f')
UNION ALL
SELECT 'trigger', '', tgname FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal`

// qualified quotes a relation's schema and name, which come from the catalog and so are names
// PostgreSQL holds.
func qualified(schema, name string) string {
	return quoteUnchecked(schema) + "." + quoteUnchecked(name)
}

// viewOption renders one reloption of a view ("check_option=local") for its WITH clause; ok is false
// for one that is not of the plain name=value form PostgreSQL writes.
func viewOption(opt string) (string, bool) {
	name, value, found := strings.Cut(opt, "=")
	if !found || name == "" {
		return "", false
	}
	for _, c := range name {
		if c != '_' && (c < 'a' || c > 'z') {
			return "", false
		}
	}
	return name + "=" + quoteLiteral(value), true
}

// createView renders the re-creation of a saved view (materialized: a materialized view, filled
// again) from its definition as pg_get_viewdef gives it, with its options.
func createView(name string, materialized bool, options []string, definition string) string {
	var with []string
	for _, o := range options {
		if r, ok := viewOption(o); ok {
			with = append(with, r)
		}
	}
	kind := "VIEW "
	if materialized {
		kind = "MATERIALIZED VIEW "
	}
	stmt := "CREATE " + kind + name
	if len(with) > 0 {
		stmt += " WITH (" + strings.Join(with, ", ") + ")"
	}
	stmt += " AS " + strings.TrimSuffix(strings.TrimSpace(definition), ";")
	if materialized {
		stmt += " WITH DATA"
	}
	return stmt
}

// dropView renders the drop of a saved view (without CASCADE: what depends on it was saved too, and
// is dropped first).
func dropView(name string, materialized bool) string {
	if materialized {
		return "DROP MATERIALIZED VIEW " + name
	}
	return "DROP VIEW " + name
}

// relationKind is how ALTER, COMMENT and GRANT name a relation of a pg_class relkind.
func relationKind(relkind string) string {
	switch relkind {
	case "v":
		return "VIEW"
	case "m":
		return "MATERIALIZED VIEW"
	}
	return "TABLE"
}

// commentOn renders COMMENT ON a relation (column "") or one of its columns.
func commentOn(relkind, name, column, text string) string {
	if column != "" {
		return "COMMENT ON COLUMN " + name + "." + quoteUnchecked(column) + " IS " + quoteLiteral(text)
	}
	return "COMMENT ON " + relationKind(relkind) + " " + name + " IS " + quoteLiteral(text)
}

// grant renders the grant of one privilege on a relation (column "") or one of its columns to a role
// ("" for PUBLIC), with the grant option where the saved grant had it.
func grant(privilege, name, column, grantee string, grantable bool) string {
	stmt := "GRANT " + privilege
	if column != "" {
		stmt += " (" + quoteUnchecked(column) + ")"
	}
	to := "PUBLIC"
	if grantee != "" {
		to = quoteUnchecked(grantee)
	}
	stmt += " ON " + name + " TO " + to
	if grantable {
		stmt += " WITH GRANT OPTION"
	}
	return stmt
}

// addConstraint renders the re-creation of a saved constraint from pg_get_constraintdef.
func addConstraint(table, name, definition string) string {
	return "ALTER TABLE " + table + " ADD CONSTRAINT " + quoteUnchecked(name) + " " + definition
}

// ownerTo renders the change of a relation's owner back to the role that owned the saved one.
func ownerTo(relkind, name, owner string) string {
	return "ALTER " + relationKind(relkind) + " " + name + " OWNER TO " + quoteUnchecked(owner)
}

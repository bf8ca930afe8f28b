package sqlserver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// MaxIdentifier is SQL Server's limit on an identifier, in characters (UTF-16 code units: sysname is
// nvarchar(128)).
const MaxIdentifier = 128

// MaxDatabaseName is the limit on a database name that CREATE DATABASE accepts without explicit file
// names: the server appends a suffix to name the log file, which leaves 123 characters.
const MaxDatabaseName = 123

// stagingTable is the name of the session-local temporary table that Upsert, Delete and loads of
// tables with text-converted columns stage rows in. Temporary tables are private to the session, so
// one fixed name suffices.
const stagingTable = "#mirrorsink_stage"

// maxLockResource is sp_getapplock's limit on a resource name, in characters.
const maxLockResource = 255

// SQL writes the T-SQL statements of the dialect for one tenant's mirror. It is pure: every method
// returns text (and warnings) and does no I/O, so that golden tests cover all of it. It is also the
// mirror's dialect.Namer.
type SQL struct {
	// Schema qualifies every table name. Open always sets it: the tenant's schema of a shared
	// database, or else the login's default schema in the tenant's own database (where every mirror
	// created before kept its tables). A one-part name would be looked up in the sys schema first:
	// a mirrored table named sysobjects would be taken for the system view. Only the pure tests
	// leave it empty.
	Schema string
	// CaseSensitive says that the database's collation tells names apart by case. SQL Server's
	// default collations do not, hence the zero value.
	CaseSensitive bool
	// fanIn is set in the fan-in layout (dialect.OpenOptions.TenantColumn).
	fanIn *dialect.FanInSQL
}

// FanIn returns the SQL of tenant's view of a fan-in mirror (see dialect.OpenOptions.TenantColumn):
// every table it creates has column first (nvarchar(50), compared by code point as every key column
// is, and of the type of the N'…' literal that names the tenant, so that no conversion keeps an index
// from being used) and first in its primary key, and its reads and writes touch tenant's rows only.
// Rows go into a shared table through the staging table, never by a bulk copy into the table itself:
// that takes a table lock (TABLOCK), which would hold up every other tenant's writes. The tenant is a
// literal in every statement: those that carry it run as plain batches (see CreateStaging), and a
// tenant name is letters, digits and underscores.
func (s SQL) FanIn(column, tenant string) (SQL, error) {
	q, err := quote(column)
	if err != nil {
		return SQL{}, fmt.Errorf("sqlserver: tenant column: %w", err)
	}
	s.fanIn = &dialect.FanInSQL{Column: column, Quoted: q, Tenant: tenant, Literal: literal(tenant)}
	return s, nil
}

// physical returns t as the database holds it: in the fan-in layout, with the tenant column first
// and first in the key.
func (s SQL) physical(t dialect.Table) dialect.Table {
	if s.fanIn == nil {
		return t
	}
	return t.WithLeadingKey(dialect.TenantColumn(s.fanIn.Column, typemap.NVarChar))
}

// intoMine returns the column list and the value list of an INSERT of names (with their values
// exprs) into the table, the tenant column first in the fan-in layout.
func (s SQL) intoMine(names, exprs []string) (into, values string) {
	into, values = strings.Join(names, ", "), strings.Join(exprs, ", ")
	if s.fanIn != nil {
		into, values = s.fanIn.Quoted+", "+into, s.fanIn.Literal+", "+values
	}
	return into, values
}

var _ dialect.Namer = SQL{}

// utf16Len counts the UTF-16 code units of s, the unit in which SQL Server measures nvarchar
// lengths and identifiers.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// clipName shortens a name quoted in an error message, which a 2000-character name would flood.
func clipName(name string) string {
	if len(name) <= 60 {
		return fmt.Sprintf("%q", name)
	}
	cut := 60
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", name[:cut], len(name))
}

// quote quotes one identifier in brackets, doubling any ']' inside. It refuses, with
// dialect.ErrBadName, an empty name, a NUL character (which no SQL Server identifier may hold),
// invalid UTF-8 and a name longer than MaxIdentifier characters: a name is never truncated.
func quote(name string) (string, error) {
	var why string
	switch {
	case name == "":
		why = "is empty"
	case strings.IndexByte(name, 0) >= 0:
		why = "contains a NUL character"
	case !utf8.ValidString(name):
		why = "is not valid UTF-8"
	case utf16Len(name) > MaxIdentifier:
		why = fmt.Sprintf("has %d characters, more than %d", utf16Len(name), MaxIdentifier)
	default:
		return "[" + strings.ReplaceAll(name, "]", "]]") + "]", nil
	}
	return "", fmt.Errorf("sqlserver: identifier %s %s: %w", clipName(name), why, dialect.ErrBadName)
}

// Quote quotes one identifier (a column, a schema, a database) in brackets, doubling any ']'. It
// refuses, with dialect.ErrBadName, a name SQL Server cannot hold exactly: empty, with a NUL, not
// UTF-8, or longer than MaxIdentifier characters.
func (SQL) Quote(name string) (string, error) { return quote(name) }

// Table returns the quoted name of a table, qualified with the schema when there is one. A name that
// starts with '#' is refused as well: SQL Server would create a temporary table, private to one
// session and gone at its end (and the source, a SQL Server database, cannot hold such a table).
func (s SQL) Table(name string) (string, error) {
	q, err := quote(name)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(name, "#") {
		return "", fmt.Errorf("sqlserver: table name %s starts with '#', which names a temporary table: %w", clipName(name), dialect.ErrBadName)
	}
	if s.Schema == "" {
		return q, nil
	}
	sq, err := quote(s.Schema)
	if err != nil {
		return "", err
	}
	return sq + "." + q, nil
}

// literal renders s as a Unicode string literal, N'…' with every ' doubled.
func literal(s string) string {
	return "N'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Literal renders s as a Unicode string literal, N'…' with every ' doubled.
func (SQL) Literal(s string) string { return literal(s) }

// Fold returns the form under which the database compares table names: without case unless the
// collation is case-sensitive, and without trailing spaces, which SQL Server's comparisons of text
// ignore.
func (s SQL) Fold(name string) string {
	name = strings.TrimRight(name, " ")
	if s.CaseSensitive {
		return name
	}
	return strings.ToLower(name)
}

// quoteColumns quotes the names of cols.
func quoteColumns(cols []typemap.Column) ([]string, error) {
	out := make([]string, len(cols))
	for i, c := range cols {
		q, err := quote(c.Name)
		if err != nil {
			return nil, err
		}
		out[i] = q
	}
	return out, nil
}

// numericLiteral reports whether s is a plain T-SQL numeric constant.
func numericLiteral(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		case (c == 'e' || c == 'E') && digits > 0:
			rest := s[i+1:]
			if rest != "" && (rest[0] == '-' || rest[0] == '+') {
				rest = rest[1:]
			}
			if rest == "" {
				return false
			}
			for j := 0; j < len(rest); j++ {
				if rest[j] < '0' || rest[j] > '9' {
					return false
				}
			}
			return true
		default:
			return false
		}
	}
	return digits > 0
}

// defaultExpr renders the default of column c as a T-SQL expression (without DEFAULT). ok is false
// when the column has no default or the default cannot be expressed; then why says what was dropped
// (empty when there was nothing to drop), for the caller's warning. The functions of the current
// time keep the column's precision: sysdatetime() for the 100 ns types (the type table's
// preciseNow), getdate() for the others.
func defaultExpr(c typemap.Column) (expr string, ok bool, why string) {
	d := c.Default
	if d == nil {
		return "", false, ""
	}
	switch d.Kind {
	case typemap.DefaultLiteral:
		if d.IsString {
			if strings.IndexByte(d.Literal, 0) >= 0 {
				return "", false, "string default contains a NUL character"
			}
			return "(" + literal(d.Literal) + ")", true, ""
		}
		if !numericLiteral(d.Literal) {
			return "", false, fmt.Sprintf("default %q is not a numeric constant", d.Raw)
		}
		return "(" + d.Literal + ")", true, ""
	case typemap.DefaultNull:
		return "(NULL)", true, ""
	case typemap.DefaultNow:
		if types[c.Type.Kind].preciseNow {
			return "(sysdatetime())", true, ""
		}
		return "(getdate())", true, ""
	case typemap.DefaultUTCNow:
		if types[c.Type.Kind].preciseNow {
			return "(sysutcdatetime())", true, ""
		}
		return "(getutcdate())", true, ""
	case typemap.DefaultNowOffset:
		return "(sysdatetimeoffset())", true, ""
	case typemap.DefaultNewID:
		return "(newid())", true, ""
	}
	return "", false, fmt.Sprintf("default %q has no SQL Server translation", d.Raw)
}

// shortHash is the first n hex digits of SHA-256 over the parts, NUL-separated.
func shortHash(n int, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:n]
}

// truncateUTF16 cuts s to at most n UTF-16 code units, at a character boundary.
func truncateUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if units+w > n {
			return s[:i]
		}
		units += w
	}
	return s
}

// constraintName builds prefix_<table>_<column>_<hash>, cutting table and column so that the whole
// fits MaxIdentifier. The hash of the full names keeps it unique within the schema (constraint names
// are schema-scoped objects) even where cutting or an underscore inside a name would collide.
func constraintName(prefix, table, column string) string {
	hash := shortHash(8, prefix, table, column)
	budget := MaxIdentifier - len(prefix) - len(hash) - 2 // separators
	if column != "" {
		budget--
	}
	t, c := table, column
	if utf16Len(t)+utf16Len(c) > budget {
		half := budget / 2
		if utf16Len(c) < half {
			t = truncateUTF16(t, budget-utf16Len(c))
		} else if utf16Len(t) < half {
			c = truncateUTF16(c, budget-utf16Len(t))
		} else {
			t = truncateUTF16(t, half)
			c = truncateUTF16(c, budget-half)
		}
	}
	if column == "" {
		return prefix + "_" + t + "_" + hash
	}
	return prefix + "_" + t + "_" + c + "_" + hash
}

// defaultConstraintName is the deterministic name of the DEFAULT constraint of a column: one that
// AlterDefault and DropColumn can find again, and that fits 128 characters.
func defaultConstraintName(table, column string) string {
	return constraintName("DF", table, column)
}

// primaryKeyName is the deterministic name of a table's primary-key constraint.
func primaryKeyName(table string) string {
	return constraintName("PK", table, "")
}

// columnDef renders "[name] type NULL|NOT NULL [CONSTRAINT [DF…] DEFAULT (…)]". Nullability is always
// explicit: ALTER COLUMN without it resets a column to NULL, and sysname defaults to NOT NULL. A key
// column's text compares by keyCollation.
func columnDef(table string, c typemap.Column, key, withDefault bool) (string, []dialect.Warning, error) {
	name, err := quote(c.Name)
	if err != nil {
		return "", nil, err
	}
	typeOf := columnType
	if key {
		typeOf = keyColumnType
	}
	typ, err := typeOf(c.Type)
	if err != nil {
		return "", nil, fmt.Errorf("sqlserver: column %s: %w", name, err)
	}
	def := name + " " + typ
	if c.Nullable {
		def += " NULL"
	} else {
		def += " NOT NULL"
	}
	if !withDefault {
		return def, nil, nil
	}
	clause, warnings, err := defaultClause(table, c)
	if err != nil {
		return "", nil, err
	}
	if clause != "" {
		def += " " + clause
	}
	return def, warnings, nil
}

// defaultClause renders "CONSTRAINT [DF_…] DEFAULT (…)", or "" (and a warning, when a default was
// dropped) when there is no default to render.
func defaultClause(table string, c typemap.Column) (string, []dialect.Warning, error) {
	expr, ok, why := defaultExpr(c)
	if !ok {
		if why == "" {
			return "", nil, nil
		}
		return "", []dialect.Warning{{Table: table, Column: c.Name, Reason: "default dropped: " + why}}, nil
	}
	cn, err := quote(defaultConstraintName(table, c.Name))
	if err != nil {
		return "", nil, err
	}
	return "CONSTRAINT " + cn + " DEFAULT " + expr, nil, nil
}

// CreateTable renders CREATE TABLE with every column, its type, nullability and named default, and
// a named clustered primary key. The warnings name the defaults that SQL Server cannot express.
func (s SQL) CreateTable(t dialect.Table) (string, []dialect.Warning, error) {
	t = s.physical(t)
	tn, err := s.Table(t.Name)
	if err != nil {
		return "", nil, err
	}
	if len(t.Columns) == 0 || len(t.Key) == 0 {
		return "", nil, fmt.Errorf("sqlserver: table %q needs columns and a key", t.Name)
	}
	var (
		b        strings.Builder
		warnings []dialect.Warning
	)
	b.WriteString("CREATE TABLE " + tn + " (\n")
	for i := range t.Columns {
		def, ws, err := columnDef(t.Name, t.Declared(i), t.IsKey(i), true)
		if err != nil {
			return "", nil, fmt.Errorf("sqlserver: create %s: %w", tn, err)
		}
		warnings = append(warnings, ws...)
		b.WriteString("    " + def + ",\n")
	}
	pk, err := quote(primaryKeyName(t.Name))
	if err != nil {
		return "", nil, err
	}
	keys, err := quoteColumns(t.KeyColumns())
	if err != nil {
		return "", nil, err
	}
	b.WriteString("    CONSTRAINT " + pk + " PRIMARY KEY CLUSTERED (" + strings.Join(keys, ", ") + ")\n)")
	return b.String(), warnings, nil
}

// Exists returns the query, with one parameter (@p1: the name that Table returns), that yields 1
// when the table exists and 0 otherwise.
func (SQL) Exists() string {
	return "SELECT CASE WHEN OBJECT_ID(@p1, N'U') IS NULL THEN 0 ELSE 1 END"
}

// DropTable renders a drop that succeeds when the table is missing. It avoids DROP TABLE IF EXISTS,
// which servers before 2016 lack.
func (s SQL) DropTable(name string) (string, error) {
	tn, err := s.Table(name)
	if err != nil {
		return "", err
	}
	return "IF OBJECT_ID(" + literal(tn) + ", N'U') IS NOT NULL DROP TABLE " + tn, nil
}

// Truncate renders TRUNCATE TABLE, which is transactional in SQL Server; in the fan-in layout, the
// delete of the tenant's rows.
func (s SQL) Truncate(name string) (string, error) {
	tn, err := s.Table(name)
	if err != nil {
		return "", err
	}
	if s.fanIn != nil {
		return "DELETE FROM " + tn + dialect.Where(s.fanIn.Mine("")), nil
	}
	return "TRUNCATE TABLE " + tn, nil
}

// Count renders the count of a table's rows (the tenant's, in the fan-in layout), as a bigint.
func (s SQL) Count(name string) (string, error) {
	tn, err := s.Table(name)
	if err != nil {
		return "", err
	}
	return "SELECT COUNT_BIG(*) FROM " + tn + dialect.Where(s.fanIn.Mine("")), nil
}

// HasRows renders a query that yields one row when the table holds any.
func (s SQL) HasRows(name string) (string, error) {
	tn, err := s.Table(name)
	if err != nil {
		return "", err
	}
	return "SELECT TOP (1) 1 FROM " + tn, nil
}

// Select renders the query that reads every column of t, in t.Columns order, each through the type
// table's read expression (text forms for the CLR types and sql_variant). Columns are named through
// the table's alias, so that a method call on a column can never be taken for a function of a schema.
func (s SQL) Select(t dialect.Table) (string, error) {
	tn, err := s.Table(t.Name)
	if err != nil {
		return "", err
	}
	names, err := quoteColumns(t.Columns)
	if err != nil {
		return "", err
	}
	exprs := make([]string, len(names))
	for i, c := range t.Columns {
		exprs[i] = readExpr(c.Type, "t."+names[i])
	}
	return "SELECT " + strings.Join(exprs, ", ") + " FROM " + tn + " AS t" + dialect.Where(s.fanIn.Mine("t.")), nil
}

// Alter renders the statements of in-place changes to table t (its new definition), in order. A
// change SQL Server cannot make in place fails with dialect.ErrRecreate before any statement is
// rendered: a change to a key column, which its primary key depends on. (Adding a NOT NULL column
// without a default is possible only while the table is empty; requiresEmpty says so, and the
// caller checks.)
func (s SQL) Alter(t dialect.Table, changes []dialect.Change) ([]string, []dialect.Warning, error) {
	isKey := map[string]bool{}
	for _, c := range t.KeyColumns() {
		isKey[c.Name] = true
	}
	var (
		stmts    []string
		warnings []dialect.Warning
	)
	for _, ch := range changes {
		var (
			more []string
			ws   []dialect.Warning
			err  error
		)
		switch ch.Kind {
		case dialect.AddColumn:
			var stmt string
			stmt, ws, err = s.addColumn(t.Name, ch.Column)
			more = []string{stmt}
		case dialect.DropColumn:
			if isKey[ch.Old.Name] {
				return nil, nil, fmt.Errorf("sqlserver: drop key column %q of %q: %w", ch.Old.Name, t.Name, dialect.ErrRecreate)
			}
			more, err = s.dropColumn(t.Name, ch.Old.Name)
		case dialect.AlterType, dialect.AlterNullability:
			if isKey[ch.Column.Name] || isKey[ch.Old.Name] {
				return nil, nil, fmt.Errorf("sqlserver: %s of key column %q of %q: %w", ch.Kind, ch.Column.Name, t.Name, dialect.ErrRecreate)
			}
			more, ws, err = s.alterColumn(t.Name, ch.Column)
		case dialect.AlterDefault:
			more, ws, err = s.alterDefault(t.Name, ch.Column)
		default:
			return nil, nil, fmt.Errorf("sqlserver: %s: %w", ch.Kind, dialect.ErrRecreate)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("sqlserver: alter %q: %w", t.Name, err)
		}
		stmts = append(stmts, more...)
		warnings = append(warnings, ws...)
	}
	return stmts, warnings, nil
}

// requiresEmpty reports whether the changes can be made only while the table has no rows: SQL Server
// cannot add a NOT NULL column without a default (a value for the existing rows) to a table that has
// any.
func requiresEmpty(changes []dialect.Change) bool {
	for _, ch := range changes {
		if ch.Kind != dialect.AddColumn || ch.Column.Nullable {
			continue
		}
		if _, ok, _ := defaultExpr(ch.Column); !ok {
			return true
		}
	}
	return false
}

// addColumn renders ALTER TABLE … ADD with the full column definition and its named default.
func (s SQL) addColumn(table string, c typemap.Column) (string, []dialect.Warning, error) {
	tn, err := s.Table(table)
	if err != nil {
		return "", nil, err
	}
	def, warnings, err := columnDef(table, c, false, true)
	if err != nil {
		return "", nil, err
	}
	return "ALTER TABLE " + tn + " ADD " + def, warnings, nil
}

// dropDefault renders a batch that drops the DEFAULT constraint of a column, whatever its name (ours,
// or one the server generated), and does nothing when there is none. The constraint's name is known
// only on the server, so the ALTER TABLE is built there, in a variable that sp_executesql runs: EXEC
// and sp_executesql take a literal or a variable, never an expression.
func (s SQL) dropDefault(table, column string) (string, error) {
	tn, err := s.Table(table)
	if err != nil {
		return "", err
	}
	if _, err := quote(column); err != nil {
		return "", err
	}
	return "DECLARE @df sysname = (SELECT dc.name FROM sys.default_constraints AS dc" +
		" JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id" +
		" WHERE dc.parent_object_id = OBJECT_ID(" + literal(tn) + ", N'U') AND c.name = " + literal(column) + ");\n" +
		"IF @df IS NOT NULL\nBEGIN\n" +
		"    DECLARE @stmt nvarchar(max) = " + literal("ALTER TABLE "+tn+" DROP CONSTRAINT ") + " + QUOTENAME(@df);\n" +
		"    EXEC sp_executesql @stmt;\nEND", nil
}

// dropColumn renders the statements that drop a column: its default constraint first, which SQL
// Server otherwise refuses to orphan.
func (s SQL) dropColumn(table, column string) ([]string, error) {
	drop, err := s.dropDefault(table, column)
	if err != nil {
		return nil, err
	}
	tn, _ := s.Table(table)
	cn, _ := quote(column)
	return []string{drop, "ALTER TABLE " + tn + " DROP COLUMN " + cn}, nil
}

// alterColumn renders the statements that change a column's type or nullability: ALTER COLUMN with
// the full definition. SQL Server refuses ALTER COLUMN on a column bound to a default (other than
// changing a length), so the default is dropped first and re-created from the new definition.
func (s SQL) alterColumn(table string, c typemap.Column) ([]string, []dialect.Warning, error) {
	drop, err := s.dropDefault(table, c.Name)
	if err != nil {
		return nil, nil, err
	}
	tn, _ := s.Table(table)
	def, _, err := columnDef(table, c, false, false)
	if err != nil {
		return nil, nil, err
	}
	stmts := []string{drop, "ALTER TABLE " + tn + " ALTER COLUMN " + def}
	add, warnings, err := s.addDefault(table, c)
	if err != nil {
		return nil, nil, err
	}
	if add != "" {
		stmts = append(stmts, add)
	}
	return stmts, warnings, nil
}

// addDefault renders ALTER TABLE … ADD CONSTRAINT [DF_…] DEFAULT … FOR [column], or "" when the
// column has no default that SQL Server can express (with a warning when one was dropped).
func (s SQL) addDefault(table string, c typemap.Column) (string, []dialect.Warning, error) {
	tn, err := s.Table(table)
	if err != nil {
		return "", nil, err
	}
	cn, err := quote(c.Name)
	if err != nil {
		return "", nil, err
	}
	clause, warnings, err := defaultClause(table, c)
	if err != nil || clause == "" {
		return "", warnings, err
	}
	return "ALTER TABLE " + tn + " ADD " + clause + " FOR " + cn, warnings, nil
}

// alterDefault renders the statements that replace a column's default with c.Default (or drop it
// when c.Default is nil).
func (s SQL) alterDefault(table string, c typemap.Column) ([]string, []dialect.Warning, error) {
	drop, err := s.dropDefault(table, c.Name)
	if err != nil {
		return nil, nil, err
	}
	stmts := []string{drop}
	add, warnings, err := s.addDefault(table, c)
	if err != nil {
		return nil, nil, err
	}
	if add != "" {
		stmts = append(stmts, add)
	}
	return stmts, warnings, nil
}

// stagingName is the quoted name of the staging table.
func stagingName() string { return "[" + stagingTable + "]" }

// CreateStaging renders the statements that (re)create the staging table with cols: no keys, no
// defaults, every column nullable (the target's constraints apply when rows move), each of the type
// table's staging type, a text column with the collation that collations names for it (the target
// column's). It must run as a plain batch, without parameters: a parameterised statement runs inside
// sp_executesql, and a temporary table created there is dropped when it returns.
func (s SQL) CreateStaging(cols []typemap.Column, collations map[string]string) ([]string, error) {
	var b strings.Builder
	b.WriteString("CREATE TABLE " + stagingName() + " (\n")
	for i, c := range cols {
		name, err := quote(c.Name)
		if err != nil {
			return nil, err
		}
		typ, err := stagingType(c.Type, collations[c.Name])
		if err != nil {
			return nil, fmt.Errorf("sqlserver: staging column %s: %w", name, err)
		}
		b.WriteString("    " + name + " " + typ + " NULL")
		if i < len(cols)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(")")
	return []string{s.DropStaging(), b.String()}, nil
}

// DropStaging renders the drop of the staging table, harmless when it is missing.
func (SQL) DropStaging() string {
	return "IF OBJECT_ID(N'tempdb.." + stagingName() + "', N'U') IS NOT NULL DROP TABLE " + stagingName()
}

// stagedValues returns the quoted names of cols and, for each, the expression that reads its staged
// value (from the staging table aliased as alias) in the column's own type.
func stagedValues(cols []typemap.Column, alias string) (names, exprs []string, err error) {
	if names, err = quoteColumns(cols); err != nil {
		return nil, nil, err
	}
	exprs = make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = fromStaged(c.Type, alias+"."+names[i])
	}
	return names, exprs, nil
}

// keyMatch renders "tgt.[k1] = conv(src.[k1]) AND …" for the key columns of t.
func keyMatch(t dialect.Table, target, staged string) (string, error) {
	names, exprs, err := stagedValues(t.KeyColumns(), staged)
	if err != nil {
		return "", err
	}
	parts := make([]string, len(names))
	for i := range names {
		parts[i] = target + "." + names[i] + " = " + exprs[i]
	}
	return strings.Join(parts, " AND "), nil
}

// MoveStaged renders the INSERT that moves every staged row into the table (Insert into a table
// with text-converted columns): a duplicate key fails it, as it would fail the bulk copy.
func (s SQL) MoveStaged(t dialect.Table) (string, error) {
	tn, err := s.Table(t.Name)
	if err != nil {
		return "", err
	}
	names, exprs, err := stagedValues(t.Columns, "src")
	if err != nil {
		return "", err
	}
	into, values := s.intoMine(names, exprs)
	return "INSERT INTO " + tn + " (" + into + ")\nSELECT " + values + "\nFROM " + stagingName() + " AS src", nil
}

// Upsert renders the set-based statements that apply the staged rows: an UPDATE of the keys that
// exist, then an INSERT of those that do not. Both hold UPDLOCK, HOLDLOCK on the target so that a
// concurrent writer cannot slip a row in between. It deliberately avoids MERGE, which has known
// concurrency defects and which some compatible servers lack. update is "" when every column is a
// key column (there is nothing to update).
func (s SQL) Upsert(t dialect.Table) (update, insert string, err error) {
	tn, err := s.Table(t.Name)
	if err != nil {
		return "", "", err
	}
	match, err := s.keyMatch(t)
	if err != nil {
		return "", "", err
	}
	names, exprs, err := stagedValues(t.Columns, "src")
	if err != nil {
		return "", "", err
	}
	var sets []string
	for i := range t.Columns {
		if !t.IsKey(i) {
			sets = append(sets, "tgt."+names[i]+" = "+exprs[i])
		}
	}
	if len(sets) > 0 {
		update = "UPDATE tgt SET " + strings.Join(sets, ", ") +
			"\nFROM " + tn + " AS tgt WITH (UPDLOCK, HOLDLOCK)\nINNER JOIN " + stagingName() + " AS src ON " + match
	}
	into, values := s.intoMine(names, exprs)
	insert = "INSERT INTO " + tn + " (" + into + ")\nSELECT " + values +
		"\nFROM " + stagingName() + " AS src\nWHERE NOT EXISTS (SELECT 1 FROM " + tn + " AS tgt WITH (UPDLOCK, HOLDLOCK) WHERE " + match + ")"
	return update, insert, nil
}

// keyMatch renders the match of the target's rows (tgt) with the staged keys (src): in the fan-in
// layout, of the tenant's rows only.
func (s SQL) keyMatch(t dialect.Table) (string, error) {
	match, err := keyMatch(t, "tgt", "src")
	if err != nil || s.fanIn == nil {
		return match, err
	}
	return s.fanIn.Mine("tgt.") + " AND " + match, nil
}

// Delete renders the set-based delete of the rows whose keys are staged (the staging table then
// holds the key columns only).
func (s SQL) Delete(t dialect.Table) (string, error) {
	join, err := s.stagedJoin(t)
	if err != nil {
		return "", err
	}
	return "DELETE tgt FROM " + join, nil
}

// stagedJoin renders the join of the table (tgt, locked until the transaction ends) with the staged
// keys (src) that a delete or a soft delete applies.
func (s SQL) stagedJoin(t dialect.Table) (string, error) {
	tn, err := s.Table(t.Name)
	if err != nil {
		return "", err
	}
	match, err := s.keyMatch(t)
	if err != nil {
		return "", err
	}
	return tn + " AS tgt WITH (UPDLOCK, HOLDLOCK)\nINNER JOIN " + stagingName() + " AS src ON " + match, nil
}

// SoftDelete renders the set-based soft delete of the rows whose keys are staged (the staging table
// then holds the key columns only; dialect.RowWriter's SoftDelete): @p1, a datetimeoffset parameter,
// is the time of the delete, which goes into t.DeletedAt (and t.MirroredAt) of the rows whose
// DeletedAt is still NULL, so that a row deleted twice keeps the first time.
func (s SQL) SoftDelete(t dialect.Table) (string, error) {
	join, err := s.stagedJoin(t)
	if err != nil {
		return "", err
	}
	deleted, set, err := dialect.SoftDeleteSet(t, quote, "tgt.", "@p1")
	if err != nil {
		return "", err
	}
	return "UPDATE tgt SET " + set + "\nFROM " + join + "\nWHERE tgt." + deleted + " IS NULL", nil
}

// PurgeDeleted renders the removal of the rows that t.DeletedAt marks as deleted (the tenant's, in the
// fan-in layout).
func (s SQL) PurgeDeleted(t dialect.Table) (string, error) {
	tn, err := s.Table(t.Name)
	if err != nil {
		return "", err
	}
	where, err := dialect.PurgeWhere(t, quote, s.fanIn.Mine(""))
	return "DELETE FROM " + tn + where, err
}

// Lock returns a batch with two parameters (@p1 the resource, @p2 the timeout in milliseconds, -1
// to wait until the context ends) that takes an exclusive application lock owned by the transaction
// and yields sp_getapplock's return code.
func (SQL) Lock() string {
	return "DECLARE @rc int;\nEXEC @rc = sp_getapplock @Resource = @p1, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = @p2;\nSELECT @rc"
}

// lockResource maps a lock key to an sp_getapplock resource name: the key itself when it fits,
// otherwise a prefix of it and a hash of all of it (so that distinct long keys stay distinct).
func lockResource(key string) string {
	if utf16Len(key) <= maxLockResource {
		return key
	}
	return "mirrorsink:" + truncateUTF16(key, 160) + "#" + shortHash(64, key)
}

// lockResult explains a negative return code of sp_getapplock.
func lockResult(rc int) error {
	switch {
	case rc >= 0:
		return nil
	case rc == -1:
		return errors.New("the lock request timed out")
	case rc == -2:
		return errors.New("the lock request was canceled")
	case rc == -3:
		return errors.New("the lock request was chosen as a deadlock victim")
	case rc == -999:
		return errors.New("parameter validation or other call error")
	}
	return fmt.Errorf("sp_getapplock returned %d", rc)
}

// savepointName maps a savepoint name to a regular identifier of at most 32 characters (SQL Server's
// limit on savepoint names), prefixed so that it can never be a reserved word: such a name needs no
// quoting, which SAVE TRANSACTION's grammar then takes without doubt.
func savepointName(name string) string {
	ok := name != "" && len(name) <= 29
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	if ok {
		return "sp_" + name
	}
	return "sph_" + shortHash(28, name)
}

// Savepoint renders SAVE TRANSACTION.
func (SQL) Savepoint(name string) string { return "SAVE TRANSACTION " + savepointName(name) }

// RollbackTo renders ROLLBACK TRANSACTION to a savepoint, which keeps the transaction open.
func (SQL) RollbackTo(name string) string { return "ROLLBACK TRANSACTION " + savepointName(name) }

// createDatabase renders the creation of a tenant database (one parameter, @p1, the name) for a
// connection to master. It cannot run inside a transaction.
func createDatabase(name string) (string, error) {
	q, err := quote(name)
	if err != nil {
		return "", err
	}
	if n := utf16Len(name); n > MaxDatabaseName {
		return "", fmt.Errorf("sqlserver: database name %s has %d characters, more than %d: %w", clipName(name), n, MaxDatabaseName, dialect.ErrBadName)
	}
	return "IF DB_ID(@p1) IS NULL CREATE DATABASE " + q, nil
}

// databaseState is the query (one parameter, @p1, the name) for the state of a database: CREATE
// DATABASE can return before the new database is ONLINE.
const databaseState = "SELECT CONVERT(nvarchar(60), DATABASEPROPERTYEX(@p1, 'Status'))"

// createSchema renders the creation of a tenant schema (one parameter, @p1, the name). CREATE SCHEMA
// must be alone in its batch, hence EXEC of a literal.
func createSchema(name string) (string, error) {
	q, err := quote(name)
	if err != nil {
		return "", err
	}
	return "IF SCHEMA_ID(@p1) IS NULL EXEC(" + literal("CREATE SCHEMA "+q) + ")", nil
}

// schemaExists is the query (one parameter, @p1, the name) that yields 1 when the schema exists and
// 0 when it does not, for an Open with NoCreate, which must not create it.
const schemaExists = "SELECT CASE WHEN SCHEMA_ID(@p1) IS NULL THEN 0 ELSE 1 END"

// defaultSchema is the query for the schema that the session's one-part names would create tables in
// (the login's default schema in the database), which a mirror without OpenOptions.Schema qualifies
// its names with.
const defaultSchema = "SELECT SCHEMA_NAME()"

// caseSensitivity is the query that yields 1 when the database's default collation, under which it
// compares the names of its objects, tells names apart by case, and 0 otherwise.
const caseSensitivity = "SELECT CASE WHEN N'a' = N'A' COLLATE DATABASE_DEFAULT THEN 0 ELSE 1 END"

// textColumns is the query (one parameter, @p1, the name that Table returns) for the text columns of
// a table: name, code page and collation. The bulk copier sends varchar bytes as given, so they must
// be encoded in the column's code page; the Unicode types report unicodeColumn instead, as their
// values travel as UTF-16 whatever the collation's code page.
const textColumns = "SELECT c.name, CASE WHEN TYPE_NAME(c.system_type_id) IN (N'nchar', N'nvarchar', N'ntext') THEN -1" +
	" ELSE CONVERT(int, COLLATIONPROPERTY(c.collation_name, 'CodePage')) END, c.collation_name FROM sys.columns AS c" +
	" WHERE c.object_id = OBJECT_ID(@p1, N'U') AND c.collation_name IS NOT NULL"

// What others put on a mirrored table.
//
// SQL Server refuses to drop a table, or to alter or drop a column of it, that a schema-bound view
// depends on, and a dropped table takes its indexes, constraints, triggers and permissions with it.
// The queries below (each with one parameter, @p1, the name that Table returns) read all of that
// before such a change; the functions after them render the statements that put it back. Views that
// are not schema-bound survive by name, as SQL Server resolves their text when they run.

// schemaBoundViews lists the views bound to the table, directly or through other schema-bound views,
// each with the greatest depth at which it depends on it (creating them by ascending depth creates
// every view after those it reads): schema, name, definition (the CREATE VIEW text), depth.
const schemaBoundViews = `WITH deps (id, depth) AS (
    SELECT d.referencing_id, 1 FROM sys.sql_expression_dependencies AS d
    WHERE d.referenced_id = OBJECT_ID(@p1, N'U') AND d.is_schema_bound_reference = 1
    UNION ALL
    SELECT d.referencing_id, x.depth + 1 FROM deps AS x
    JOIN sys.sql_expression_dependencies AS d ON d.referenced_id = x.id AND d.is_schema_bound_reference = 1
    WHERE x.depth < 32
)
SELECT SCHEMA_NAME(v.schema_id), v.name, m.definition, x.depth
FROM (SELECT id, MAX(depth) AS depth FROM deps GROUP BY id) AS x
JOIN sys.views AS v ON v.object_id = x.id
JOIN sys.sql_modules AS m ON m.object_id = v.object_id
ORDER BY x.depth, v.object_id`

// objectIndexes lists the indexes of a table or view other than its primary key, one row per column:
// index id, name, type (1 clustered, 2 nonclustered, others not re-created), is_unique,
// is_unique_constraint, filter ("" for none), column, is_descending_key, is_included_column.
const objectIndexes = `SELECT i.index_id, i.name, i.type, i.is_unique, i.is_unique_constraint, ISNULL(i.filter_definition, N''),
    c.name, ic.is_descending_key, ic.is_included_column
FROM sys.indexes AS i
JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE i.object_id = OBJECT_ID(@p1) AND i.is_primary_key = 0 AND i.is_hypothetical = 0 AND i.type > 0
ORDER BY i.index_id, ic.is_included_column, ic.key_ordinal, ic.index_column_id`

// tableChecks lists the check constraints of a table: name, definition (in parentheses).
const tableChecks = `SELECT cc.name, cc.definition FROM sys.check_constraints AS cc
WHERE cc.parent_object_id = OBJECT_ID(@p1, N'U') ORDER BY cc.object_id`

// tableTriggers lists the DML triggers of a table: name, definition (the CREATE TRIGGER text).
const tableTriggers = `SELECT tr.name, m.definition FROM sys.triggers AS tr
JOIN sys.sql_modules AS m ON m.object_id = tr.object_id
WHERE tr.parent_id = OBJECT_ID(@p1, N'U') ORDER BY tr.object_id`

// objectPermissions lists the permissions granted or denied on a table or view and on its columns:
// state (G, W: with grant option, D: denied), permission, grantee, column ("" for the object).
const objectPermissions = `SELECT p.state, p.permission_name, USER_NAME(p.grantee_principal_id), ISNULL(COL_NAME(p.major_id, p.minor_id), N'')
FROM sys.database_permissions AS p
WHERE p.class = 1 AND p.major_id = OBJECT_ID(@p1) AND p.state IN ('G', 'W', 'D') AND USER_NAME(p.grantee_principal_id) IS NOT NULL
ORDER BY p.minor_id, p.permission_name, p.grantee_principal_id`

// runModule is the batch (one parameter, @p1, a module's CREATE text as sys.sql_modules holds it)
// that creates the module again: CREATE VIEW and CREATE TRIGGER must begin a batch of their own,
// which sp_executesql gives them.
const runModule = "EXEC sp_executesql @p1"

// savedIndex is an index of a table or view as objectIndexes describes it.
type savedIndex struct {
	name             string
	kind             int // sys.indexes.type
	unique, uniqueKC bool
	filter           string
	keys, included   []string // quoted, keys with ASC or DESC
}

// createIndex renders the re-creation of a saved index on the object on (its quoted name): a unique
// constraint as one, anything else with CREATE INDEX. ok is false for a type other than a rowstore
// clustered or nonclustered index, which is not re-created.
func createIndex(on string, ix savedIndex) (stmt string, ok bool, err error) {
	if ix.kind != 1 && ix.kind != 2 || len(ix.keys) == 0 {
		return "", false, nil
	}
	name, err := quote(ix.name)
	if err != nil {
		return "", false, err
	}
	kind := "NONCLUSTERED"
	if ix.kind == 1 {
		kind = "CLUSTERED"
	}
	keys := " (" + strings.Join(ix.keys, ", ") + ")"
	if ix.uniqueKC {
		return "ALTER TABLE " + on + " ADD CONSTRAINT " + name + " UNIQUE " + kind + keys, true, nil
	}
	stmt = "CREATE "
	if ix.unique {
		stmt += "UNIQUE "
	}
	stmt += kind + " INDEX " + name + " ON " + on + keys
	if len(ix.included) > 0 {
		stmt += " INCLUDE (" + strings.Join(ix.included, ", ") + ")"
	}
	if ix.filter != "" {
		stmt += " WHERE " + ix.filter
	}
	return stmt, true, nil
}

// addCheck renders the re-creation of a saved check constraint.
func addCheck(table, name, definition string) (string, error) {
	n, err := quote(name)
	if err != nil {
		return "", err
	}
	return "ALTER TABLE " + table + " ADD CONSTRAINT " + n + " CHECK " + definition, nil
}

// permissionName matches the permission names of sys.database_permissions (SELECT, VIEW DEFINITION,
// …), so that only such a name is written into a statement.
var permissionName = regexp.MustCompile(`^[A-Z]+( [A-Z]+)*$`)

// grantStatement renders a saved permission on the object on (its quoted name), or on one of its
// columns: state G grants, W grants with the grant option, D denies.
func grantStatement(state, permission, grantee, column, on string) (string, error) {
	if !permissionName.MatchString(permission) {
		return "", fmt.Errorf("sqlserver: permission %q is not a permission's name", permission)
	}
	to, err := quote(grantee)
	if err != nil {
		return "", err
	}
	target := "OBJECT::" + on
	if column != "" {
		c, err := quote(column)
		if err != nil {
			return "", err
		}
		target += " (" + c + ")"
	}
	switch state {
	case "G":
		return "GRANT " + permission + " ON " + target + " TO " + to, nil
	case "W":
		return "GRANT " + permission + " ON " + target + " TO " + to + " WITH GRANT OPTION", nil
	case "D":
		return "DENY " + permission + " ON " + target + " TO " + to, nil
	}
	return "", fmt.Errorf("sqlserver: permission state %q", state)
}

// dropView renders the drop of a saved view.
func dropView(view string) string { return "DROP VIEW " + view }

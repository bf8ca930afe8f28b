package sqlserver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
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

// StagingTable is the name of the session-local temporary table that Upsert, Delete and converted
// bulk loads stage rows in. Temporary tables are private to the session, so one fixed name suffices.
const StagingTable = "#mirrorsink_stage"

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

// QuoteIdent quotes one identifier in brackets, doubling any ']' inside. It refuses an empty name,
// a NUL character (which no SQL Server identifier may hold) and a name longer than MaxIdentifier
// characters (wrapping dialect.ErrNameTooLong): a name is never truncated.
func QuoteIdent(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("sqlserver: empty identifier")
	case strings.IndexByte(name, 0) >= 0:
		return "", fmt.Errorf("sqlserver: identifier %q contains a NUL character", name)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("sqlserver: identifier %q is not valid UTF-8", name)
	case utf16Len(name) > MaxIdentifier:
		return "", fmt.Errorf("sqlserver: %q has %d characters, more than %d: %w", name, utf16Len(name), MaxIdentifier, dialect.ErrNameTooLong)
	}
	return "[" + strings.ReplaceAll(name, "]", "]]") + "]", nil
}

// Literal renders s as a Unicode string literal, N'…' with every ' doubled.
func Literal(s string) string {
	return "N'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// SQL writes the T-SQL statements of the dialect. It is pure: every method returns text and does no
// I/O, so that golden tests cover all of it. Schema, when set, qualifies every table name (SQL Server
// has no search_path); when empty, names are left unqualified and resolve in the login's default
// schema of the tenant's own database.
type SQL struct {
	Schema string
}

// Table returns the quoted, schema-qualified name of a table.
func (s SQL) Table(name string) (string, error) {
	q, err := QuoteIdent(name)
	if err != nil {
		return "", err
	}
	if s.Schema == "" {
		return q, nil
	}
	sq, err := QuoteIdent(s.Schema)
	if err != nil {
		return "", err
	}
	return sq + "." + q, nil
}

// ColumnType renders a typemap.Type as the native SQL Server type (TYPES.md). rowversion/timestamp
// becomes binary(8): a rowversion column is filled by the server and cannot be written, while the
// mirror must hold the source's values.
func ColumnType(t typemap.Type) (string, error) {
	length := func(limit int) (string, error) {
		switch {
		case t.Length == typemap.Max:
			return "max", nil
		case t.Length >= 1 && t.Length <= limit:
			return strconv.Itoa(t.Length), nil
		}
		return "", fmt.Errorf("sqlserver: %s length %d outside 1..%d", t.Kind, t.Length, limit)
	}
	fixed := func(limit int) (string, error) {
		if t.Length < 1 || t.Length > limit {
			return "", fmt.Errorf("sqlserver: %s length %d outside 1..%d", t.Kind, t.Length, limit)
		}
		return strconv.Itoa(t.Length), nil
	}
	fraction := func(name string) (string, error) {
		if t.Precision < 0 || t.Precision > 7 {
			return "", fmt.Errorf("sqlserver: %s precision %d outside 0..7", name, t.Precision)
		}
		return name + "(" + strconv.Itoa(t.Precision) + ")", nil
	}
	switch t.Kind {
	case typemap.Bit:
		return "bit", nil
	case typemap.TinyInt:
		return "tinyint", nil
	case typemap.SmallInt:
		return "smallint", nil
	case typemap.Int:
		return "int", nil
	case typemap.BigInt:
		return "bigint", nil
	case typemap.Decimal:
		if t.Precision < 1 || t.Precision > 38 || t.Scale < 0 || t.Scale > t.Precision {
			return "", fmt.Errorf("sqlserver: decimal(%d,%d) is not a valid decimal type", t.Precision, t.Scale)
		}
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), nil
	case typemap.Money:
		return "money", nil
	case typemap.SmallMoney:
		return "smallmoney", nil
	case typemap.Float:
		return "float", nil
	case typemap.Real:
		return "real", nil
	case typemap.Date:
		return "date", nil
	case typemap.Time:
		return fraction("time")
	case typemap.SmallDateTime:
		return "smalldatetime", nil
	case typemap.DateTime:
		return "datetime", nil
	case typemap.DateTime2:
		return fraction("datetime2")
	case typemap.DateTimeOffset:
		return fraction("datetimeoffset")
	case typemap.Char:
		n, err := fixed(8000)
		return "char(" + n + ")", err
	case typemap.NChar:
		n, err := fixed(4000)
		return "nchar(" + n + ")", err
	case typemap.VarChar:
		n, err := length(8000)
		return "varchar(" + n + ")", err
	case typemap.NVarChar:
		n, err := length(4000)
		return "nvarchar(" + n + ")", err
	case typemap.Text:
		return "text", nil
	case typemap.NText:
		return "ntext", nil
	case typemap.Binary:
		n, err := fixed(8000)
		return "binary(" + n + ")", err
	case typemap.VarBinary:
		n, err := length(8000)
		return "varbinary(" + n + ")", err
	case typemap.Image:
		return "image", nil
	case typemap.RowVersion:
		return "binary(8)", nil
	case typemap.UniqueIdentifier:
		return "uniqueidentifier", nil
	case typemap.XML:
		return "xml", nil
	case typemap.HierarchyID:
		return "hierarchyid", nil
	case typemap.Geography:
		return "geography", nil
	case typemap.Geometry:
		return "geometry", nil
	case typemap.SQLVariant:
		return "sql_variant", nil
	case typemap.SysName:
		return "sysname", nil
	}
	return "", fmt.Errorf("sqlserver: no SQL Server type for kind %d", t.Kind)
}

// Converted reports whether a column of kind k cannot be bulk-copied in its native type and travels
// as text: the bulk copier sends CLR types (hierarchyid, geography, geometry) as their binary
// serialisation, which the wire's text form is not, and it has no encoder for sql_variant. Such
// columns are staged as nvarchar(max) and converted by ConvertExpr in the set-based statement.
func Converted(k typemap.Kind) bool {
	switch k {
	case typemap.HierarchyID, typemap.Geography, typemap.Geometry, typemap.SQLVariant:
		return true
	}
	return false
}

// Geography and geometry WKT carries no SRID: geography takes WGS 84 (4326), SQL Server's default,
// and geometry the planar SRID 0.
const (
	GeographySRID = 4326
	GeometrySRID  = 0
)

// ConvertExpr returns the expression that turns the staged text of column c (the quoted reference
// ref, e.g. src.[c]) into the column's native type: CAST for hierarchyid (which parses the /1/2/
// form) and sql_variant, STGeomFromText for the spatial types. NULL stays NULL without calling the
// CLR method.
func ConvertExpr(c typemap.Column, ref string) string {
	switch c.Type.Kind {
	case typemap.HierarchyID:
		return "CAST(" + ref + " AS hierarchyid)"
	case typemap.Geography:
		return fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE geography::STGeomFromText(%s, %d) END", ref, ref, GeographySRID)
	case typemap.Geometry:
		return fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE geometry::STGeomFromText(%s, %d) END", ref, ref, GeometrySRID)
	case typemap.SQLVariant:
		return "CAST(" + ref + " AS sql_variant)"
	}
	return ref
}

// StagingType is the type of column c in the staging table: the native type, except for the
// converted kinds (nvarchar(max), see Converted) and the deprecated large types, which become their
// (max) equivalents so that the staging table only holds types the bulk copier handles best.
// Character columns take the database's collation explicitly, because a temporary table otherwise
// takes tempdb's, which may differ in code page and then fails every join on a text key.
func StagingType(t typemap.Type) (string, error) {
	switch {
	case Converted(t.Kind):
		return "nvarchar(max) COLLATE DATABASE_DEFAULT", nil
	case t.Kind == typemap.Text:
		return "varchar(max) COLLATE DATABASE_DEFAULT", nil
	case t.Kind == typemap.NText:
		return "nvarchar(max) COLLATE DATABASE_DEFAULT", nil
	case t.Kind == typemap.Image:
		return "varbinary(max)", nil
	case t.Kind == typemap.SysName:
		// sysname is an alias type; spelled out so that a collation can be attached.
		return "nvarchar(128) COLLATE DATABASE_DEFAULT", nil
	}
	ct, err := ColumnType(t)
	if err != nil {
		return "", err
	}
	switch t.Kind {
	case typemap.Char, typemap.VarChar, typemap.NChar, typemap.NVarChar:
		ct += " COLLATE DATABASE_DEFAULT"
	}
	return ct, nil
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

// DefaultExpr renders the default of column c as a T-SQL expression (without DEFAULT). ok is false
// when the column has no default or the default cannot be expressed; then why says what was
// dropped (empty when there was nothing to drop), for the caller's warning.
func DefaultExpr(c typemap.Column) (expr string, ok bool, why string) {
	d := c.Default
	if d == nil {
		return "", false, ""
	}
	precise := false
	switch c.Type.Kind {
	case typemap.DateTime2, typemap.DateTimeOffset, typemap.Time:
		precise = true
	}
	switch d.Kind {
	case typemap.DefaultLiteral:
		if d.IsString {
			if strings.IndexByte(d.Literal, 0) >= 0 {
				return "", false, "string default contains a NUL character"
			}
			return "(" + Literal(d.Literal) + ")", true, ""
		}
		if !numericLiteral(d.Literal) {
			return "", false, fmt.Sprintf("default %q is not a numeric constant", d.Raw)
		}
		return "(" + d.Literal + ")", true, ""
	case typemap.DefaultNull:
		return "(NULL)", true, ""
	case typemap.DefaultNow:
		if precise {
			return "(sysdatetime())", true, ""
		}
		return "(getdate())", true, ""
	case typemap.DefaultUTCNow:
		if precise {
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

// DefaultConstraintName is the deterministic name of the DEFAULT constraint of a column: one that
// AlterDefault and DropColumn can find again, and that fits 128 characters.
func DefaultConstraintName(table, column string) string {
	return constraintName("DF", table, column)
}

// PrimaryKeyName is the deterministic name of a table's primary-key constraint.
func PrimaryKeyName(table string) string {
	return constraintName("PK", table, "")
}

// Warner receives the reasons for defaults that were dropped.
type Warner func(column, why string)

// columnDef renders "[name] type NULL|NOT NULL [CONSTRAINT [DF…] DEFAULT (…)]". Nullability is always
// explicit: ALTER COLUMN without it resets a column to NULL, and sysname defaults to NOT NULL.
func (s SQL) columnDef(table string, c typemap.Column, withDefault bool, warn Warner) (string, error) {
	name, err := QuoteIdent(c.Name)
	if err != nil {
		return "", err
	}
	typ, err := ColumnType(c.Type)
	if err != nil {
		return "", fmt.Errorf("sqlserver: column %s: %w", name, err)
	}
	def := name + " " + typ
	if c.Nullable {
		def += " NULL"
	} else {
		def += " NOT NULL"
	}
	if withDefault {
		d, err := s.defaultClause(table, c, warn)
		if err != nil {
			return "", err
		}
		if d != "" {
			def += " " + d
		}
	}
	return def, nil
}

// defaultClause renders "CONSTRAINT [DF_…] DEFAULT (…)", or "" when there is no default to render.
func (s SQL) defaultClause(table string, c typemap.Column, warn Warner) (string, error) {
	expr, ok, why := DefaultExpr(c)
	if !ok {
		if why != "" && warn != nil {
			warn(c.Name, why)
		}
		return "", nil
	}
	cn, err := QuoteIdent(DefaultConstraintName(table, c.Name))
	if err != nil {
		return "", err
	}
	return "CONSTRAINT " + cn + " DEFAULT " + expr, nil
}

// CreateTable renders CREATE TABLE with every column, its type, nullability and named default, and
// a named clustered primary key.
func (s SQL) CreateTable(t dialect.Table, warn Warner) (string, error) {
	if len(t.Columns) == 0 || len(t.Key) == 0 {
		return "", fmt.Errorf("sqlserver: table %q needs columns and a key", t.Name)
	}
	tn, err := s.Table(t.Name)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("CREATE TABLE " + tn + " (\n")
	for _, c := range t.Columns {
		def, err := s.columnDef(t.Name, c, true, warn)
		if err != nil {
			return "", fmt.Errorf("sqlserver: create %s: %w", tn, err)
		}
		b.WriteString("    " + def + ",\n")
	}
	pk, err := QuoteIdent(PrimaryKeyName(t.Name))
	if err != nil {
		return "", err
	}
	keys, err := quoteColumns(t.KeyColumns())
	if err != nil {
		return "", err
	}
	b.WriteString("    CONSTRAINT " + pk + " PRIMARY KEY CLUSTERED (" + strings.Join(keys, ", ") + ")\n)")
	return b.String(), nil
}

func quoteColumns(cols []typemap.Column) ([]string, error) {
	out := make([]string, len(cols))
	for i, c := range cols {
		q, err := QuoteIdent(c.Name)
		if err != nil {
			return nil, err
		}
		out[i] = q
	}
	return out, nil
}

// TableExists returns a query with one parameter (the quoted, qualified name from Table) that
// yields 1 when the table exists and 0 otherwise.
func (s SQL) TableExists() string {
	return "SELECT CASE WHEN OBJECT_ID(@p1, N'U') IS NULL THEN 0 ELSE 1 END"
}

// DropTable renders a drop that succeeds when the table is missing. It avoids DROP TABLE IF EXISTS,
// which servers before 2016 lack.
func (s SQL) DropTable(name string) (string, error) {
	tn, err := s.Table(name)
	if err != nil {
		return "", err
	}
	return "IF OBJECT_ID(" + Literal(tn) + ", N'U') IS NOT NULL DROP TABLE " + tn, nil
}

// Truncate renders TRUNCATE TABLE, which is transactional in SQL Server.
func (s SQL) Truncate(name string) (string, error) {
	tn, err := s.Table(name)
	if err != nil {
		return "", err
	}
	return "TRUNCATE TABLE " + tn, nil
}

// AddColumn renders ALTER TABLE … ADD with the full column definition and its named default.
func (s SQL) AddColumn(table string, c typemap.Column, warn Warner) (string, error) {
	tn, err := s.Table(table)
	if err != nil {
		return "", err
	}
	def, err := s.columnDef(table, c, true, warn)
	if err != nil {
		return "", err
	}
	return "ALTER TABLE " + tn + " ADD " + def, nil
}

// DropDefault renders a batch that drops the DEFAULT constraint of a column, whatever its name
// (ours, or one the server generated), and does nothing when there is none.
func (s SQL) DropDefault(table, column string) (string, error) {
	tn, err := s.Table(table)
	if err != nil {
		return "", err
	}
	if _, err := QuoteIdent(column); err != nil {
		return "", err
	}
	return "DECLARE @df sysname = (SELECT dc.name FROM sys.default_constraints AS dc" +
		" JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id" +
		" WHERE dc.parent_object_id = OBJECT_ID(" + Literal(tn) + ", N'U') AND c.name = " + Literal(column) + ");\n" +
		"IF @df IS NOT NULL EXEC(N'ALTER TABLE " + strings.ReplaceAll(tn, "'", "''") + " DROP CONSTRAINT ' + QUOTENAME(@df))", nil
}

// DropColumn renders the statements that drop a column: its default constraint first, which SQL
// Server otherwise refuses to orphan.
func (s SQL) DropColumn(table, column string) ([]string, error) {
	drop, err := s.DropDefault(table, column)
	if err != nil {
		return nil, err
	}
	tn, _ := s.Table(table)
	cn, _ := QuoteIdent(column)
	return []string{drop, "ALTER TABLE " + tn + " DROP COLUMN " + cn}, nil
}

// AlterColumn renders the statements that change a column's type or nullability: ALTER COLUMN
// with the full definition. SQL Server refuses ALTER COLUMN on a column bound to a default (other
// than changing a length), so the default is dropped first and re-created from the new definition.
func (s SQL) AlterColumn(table string, c typemap.Column, warn Warner) ([]string, error) {
	drop, err := s.DropDefault(table, c.Name)
	if err != nil {
		return nil, err
	}
	tn, _ := s.Table(table)
	def, err := s.columnDef(table, c, false, nil)
	if err != nil {
		return nil, err
	}
	stmts := []string{drop, "ALTER TABLE " + tn + " ALTER COLUMN " + def}
	add, err := s.AddDefault(table, c, warn)
	if err != nil {
		return nil, err
	}
	if add != "" {
		stmts = append(stmts, add)
	}
	return stmts, nil
}

// AddDefault renders ALTER TABLE … ADD CONSTRAINT [DF_…] DEFAULT … FOR [column], or "" when the
// column has no default that SQL Server can express (warn hears why).
func (s SQL) AddDefault(table string, c typemap.Column, warn Warner) (string, error) {
	tn, err := s.Table(table)
	if err != nil {
		return "", err
	}
	cn, err := QuoteIdent(c.Name)
	if err != nil {
		return "", err
	}
	clause, err := s.defaultClause(table, c, warn)
	if err != nil || clause == "" {
		return "", err
	}
	return "ALTER TABLE " + tn + " ADD " + clause + " FOR " + cn, nil
}

// AlterDefault renders the statements that replace a column's default with c.Default (or drop it
// when c.Default is nil).
func (s SQL) AlterDefault(table string, c typemap.Column, warn Warner) ([]string, error) {
	drop, err := s.DropDefault(table, c.Name)
	if err != nil {
		return nil, err
	}
	stmts := []string{drop}
	add, err := s.AddDefault(table, c, warn)
	if err != nil {
		return nil, err
	}
	if add != "" {
		stmts = append(stmts, add)
	}
	return stmts, nil
}

// HasRows returns a query that yields one row when the table holds any.
func (s SQL) HasRows(table string) (string, error) {
	tn, err := s.Table(table)
	if err != nil {
		return "", err
	}
	return "SELECT TOP (1) 1 FROM " + tn, nil
}

// CreateStaging renders the statements that (re)create the staging table with cols: no keys, no
// defaults, every column nullable (the target's constraints apply when rows move). It must run as a
// plain batch, without parameters: a parameterised statement runs inside sp_executesql, and a
// temporary table created there is dropped when it returns.
func (s SQL) CreateStaging(cols []typemap.Column) ([]string, error) {
	var b strings.Builder
	b.WriteString("CREATE TABLE " + stagingName() + " (\n")
	for i, c := range cols {
		name, err := QuoteIdent(c.Name)
		if err != nil {
			return nil, err
		}
		typ, err := StagingType(c.Type)
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

func stagingName() string {
	q, _ := QuoteIdent(StagingTable)
	return q
}

// DropStaging renders the drop of the staging table, harmless when it is missing.
func (s SQL) DropStaging() string {
	return "IF OBJECT_ID(N'tempdb.." + stagingName() + "', N'U') IS NOT NULL DROP TABLE " + stagingName()
}

// keyMatch renders "a.[k1] = conv(b.[k1]) AND …" for the key columns.
func keyMatch(t dialect.Table, target, staged string) (string, error) {
	parts := make([]string, len(t.Key))
	for i, c := range t.KeyColumns() {
		q, err := QuoteIdent(c.Name)
		if err != nil {
			return "", err
		}
		parts[i] = target + "." + q + " = " + ConvertExpr(c, staged+"."+q)
	}
	return strings.Join(parts, " AND "), nil
}

// selectList renders the staged columns of cols, each converted to its native type.
func selectList(cols []typemap.Column, staged string) ([]string, []string, error) {
	names, err := quoteColumns(cols)
	if err != nil {
		return nil, nil, err
	}
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = ConvertExpr(c, staged+"."+names[i])
	}
	return names, exprs, nil
}

// MoveStaged renders the INSERT that moves every staged row into the table (BulkInsert of a table
// with converted columns): a duplicate key fails it, as it would fail the bulk copy.
func (s SQL) MoveStaged(t dialect.Table) (string, error) {
	tn, err := s.Table(t.Name)
	if err != nil {
		return "", err
	}
	names, exprs, err := selectList(t.Columns, "src")
	if err != nil {
		return "", err
	}
	return "INSERT INTO " + tn + " (" + strings.Join(names, ", ") + ")\nSELECT " + strings.Join(exprs, ", ") +
		"\nFROM " + stagingName() + " AS src", nil
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
	match, err := keyMatch(t, "tgt", "src")
	if err != nil {
		return "", "", err
	}
	names, exprs, err := selectList(t.Columns, "src")
	if err != nil {
		return "", "", err
	}
	isKey := make([]bool, len(t.Columns))
	for _, k := range t.Key {
		isKey[k] = true
	}
	var sets []string
	for i := range t.Columns {
		if !isKey[i] {
			sets = append(sets, "tgt."+names[i]+" = "+exprs[i])
		}
	}
	if len(sets) > 0 {
		update = "UPDATE tgt SET " + strings.Join(sets, ", ") +
			"\nFROM " + tn + " AS tgt WITH (UPDLOCK, HOLDLOCK)\nINNER JOIN " + stagingName() + " AS src ON " + match
	}
	insert = "INSERT INTO " + tn + " (" + strings.Join(names, ", ") + ")\nSELECT " + strings.Join(exprs, ", ") +
		"\nFROM " + stagingName() + " AS src\nWHERE NOT EXISTS (SELECT 1 FROM " + tn + " AS tgt WITH (UPDLOCK, HOLDLOCK) WHERE " + match + ")"
	return update, insert, nil
}

// Delete renders the set-based delete of the rows whose keys are staged (the staging table then
// holds the key columns only).
func (s SQL) Delete(t dialect.Table) (string, error) {
	tn, err := s.Table(t.Name)
	if err != nil {
		return "", err
	}
	match, err := keyMatch(t, "tgt", "src")
	if err != nil {
		return "", err
	}
	return "DELETE tgt FROM " + tn + " AS tgt WITH (UPDLOCK, HOLDLOCK)\nINNER JOIN " + stagingName() + " AS src ON " + match, nil
}

// Lock returns a batch with two parameters (@p1 the resource, @p2 the timeout in milliseconds, -1
// to wait until the context ends) that takes an exclusive application lock owned by the transaction
// and yields sp_getapplock's return code.
func (s SQL) Lock() string {
	return "DECLARE @rc int;\nEXEC @rc = sp_getapplock @Resource = @p1, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = @p2;\nSELECT @rc"
}

// MaxLockResource is sp_getapplock's limit on a resource name, in characters.
const MaxLockResource = 255

// LockResource maps a lock key to an sp_getapplock resource name: the key itself when it fits,
// otherwise a prefix of it and a hash of all of it (so that distinct long keys stay distinct).
func LockResource(key string) string {
	if utf16Len(key) <= MaxLockResource {
		return key
	}
	return "mirrorsink:" + truncateUTF16(key, 160) + "#" + shortHash(64, key)
}

// LockResult explains a negative return code of sp_getapplock.
func LockResult(rc int) error {
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

// SavepointName maps an engine savepoint name to a regular identifier of at most 32 characters
// (SQL Server's limit on savepoint names), prefixed so that it can never be a reserved word: such a
// name needs no quoting, which SAVE TRANSACTION's grammar then takes without doubt.
func SavepointName(name string) string {
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
func (s SQL) Savepoint(name string) string { return "SAVE TRANSACTION " + SavepointName(name) }

// RollbackTo renders ROLLBACK TRANSACTION to a savepoint, which keeps the transaction open.
func (s SQL) RollbackTo(name string) string { return "ROLLBACK TRANSACTION " + SavepointName(name) }

// CreateDatabase renders the creation of a tenant database (one parameter, @p1, the name) for a
// connection to master. It cannot run inside a transaction.
func CreateDatabase(name string) (string, error) {
	q, err := QuoteIdent(name)
	if err != nil {
		return "", err
	}
	if n := utf16Len(name); n > MaxDatabaseName {
		return "", fmt.Errorf("sqlserver: database name %q has %d characters, more than %d: %w", name, n, MaxDatabaseName, dialect.ErrNameTooLong)
	}
	return "IF DB_ID(@p1) IS NULL CREATE DATABASE " + q, nil
}

// DatabaseState returns the query (one parameter, @p1, the name) for the state of a database:
// CREATE DATABASE can return before the new database is ONLINE.
func DatabaseState() string {
	return "SELECT CONVERT(nvarchar(60), DATABASEPROPERTYEX(@p1, 'Status'))"
}

// CreateSchema renders the creation of a tenant schema (one parameter, @p1, the name). CREATE
// SCHEMA must be alone in its batch, hence EXEC.
func CreateSchema(name string) (string, error) {
	q, err := QuoteIdent(name)
	if err != nil {
		return "", err
	}
	return "IF SCHEMA_ID(@p1) IS NULL EXEC(" + Literal("CREATE SCHEMA "+q) + ")", nil
}

// CodePages returns the query (one parameter, @p1, the quoted table name) for the code page of each
// character column of a table: the bulk copier sends varchar bytes as given, so they must be encoded
// in the column's code page.
func (s SQL) CodePages() string {
	return "SELECT c.name, CONVERT(int, COLLATIONPROPERTY(c.collation_name, 'CodePage')) FROM sys.columns AS c" +
		" WHERE c.object_id = OBJECT_ID(@p1, N'U') AND c.collation_name IS NOT NULL"
}

// DatabaseCodePage returns the query for the code page of the database's default collation, which
// the staging table's character columns take.
func (s SQL) DatabaseCodePage() string {
	return "SELECT CONVERT(int, COLLATIONPROPERTY(CONVERT(nvarchar(128), DATABASEPROPERTYEX(DB_NAME(), 'Collation')), 'CodePage'))"
}

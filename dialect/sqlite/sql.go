package sqlite

// This file is the pure, SQL-writing part of the dialect: every function returns text and touches no
// connection, so that golden tests pin down exactly what reaches the database.

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// MaxNameBytes is the longest identifier the dialect accepts. SQLite itself has no identifier limit,
// but a bound keeps a hostile name from producing megabytes of SQL; 1024 bytes hold any SQL Server
// name (128 UTF-16 units are at most 384 bytes of UTF-8) with room to spare.
const MaxNameBytes = 1024

// maxVariables is SQLite's default SQLITE_MAX_VARIABLE_NUMBER since 3.32: the number of ? in one
// statement.
const maxVariables = 32766

// maxRowsPerStatement bounds a multi-row VALUES list. Beyond a few hundred rows a longer statement
// saves nothing measurable and costs parse time and memory.
const maxRowsPerStatement = 500

// SQL writes this dialect's statements. SQLite has no schemas, so it carries no namespace; it is a
// type all the same, so that every dialect's pure part has the same shape. It implements
// dialect.Namer.
type SQL struct{}

var _ dialect.Namer = SQL{}

// Quote quotes one identifier in double quotes, doubling embedded double quotes. It refuses, with
// dialect.ErrBadName, an empty name, a NUL (SQLite's SQL text ends at NUL), invalid UTF-8 and a name
// longer than MaxNameBytes.
func (SQL) Quote(name string) (string, error) {
	switch {
	case name == "":
		return "", fmt.Errorf("sqlite: an empty identifier: %w", dialect.ErrBadName)
	case len(name) > MaxNameBytes:
		return "", fmt.Errorf("sqlite: identifier %q… is %d bytes long, the limit is %d: %w", name[:32], len(name), MaxNameBytes, dialect.ErrBadName)
	case strings.IndexByte(name, 0) >= 0:
		return "", fmt.Errorf("sqlite: identifier %q contains a NUL character: %w", name, dialect.ErrBadName)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("sqlite: identifier %q is not valid UTF-8: %w", name, dialect.ErrBadName)
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`, nil
}

// Table quotes a table name. Names that begin with "sqlite_" are SQLite's own (it refuses to create
// them) and are refused here with a clear error.
func (q SQL) Table(name string) (string, error) {
	if len(name) >= 7 && strings.EqualFold(name[:7], "sqlite_") {
		return "", fmt.Errorf("sqlite: table name %q: names beginning with sqlite_ are reserved for SQLite's own tables: %w", name, dialect.ErrBadName)
	}
	return q.Quote(name)
}

// Literal returns s as a string literal. A NUL, which would end SQLite's SQL text, is written as
// char(0) joined to the rest.
func (SQL) Literal(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return quoteString(s)
	}
	parts := strings.Split(s, "\x00")
	for i, p := range parts {
		parts[i] = quoteString(p)
	}
	return "(" + strings.Join(parts, " || char(0) || ") + ")"
}

// Fold returns the form under which SQLite compares names: ASCII letters without case.
func (SQL) Fold(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, name)
}

// SQL expressions for the current time in the stored text formats. strftime's %f gives milliseconds;
// the padding makes the fixed seven fraction digits that every stored datetime has, so that text
// comparison keeps sorting correctly.
const (
	nowLocalDateTime = "(strftime('%Y-%m-%d %H:%M:%f','now','localtime') || '0000')"
	nowUTCDateTime   = "(strftime('%Y-%m-%d %H:%M:%f','now') || '0000')"
	nowLocalDate     = "(date('now','localtime'))"
	nowUTCDate       = "(date('now'))"
	nowLocalTime     = "(strftime('%H:%M:%f','now','localtime') || '0000')"
	nowUTCTime       = "(strftime('%H:%M:%f','now') || '0000')"
	nowUTCOffset     = "(strftime('%Y-%m-%d %H:%M:%f','now') || '0000+00:00')"
)

// newUUIDExpr builds a random (version 4, variant 1) UUID in its text form, in the case that caseFn
// (lower or upper) gives. random() & 3 picks the variant nibble; abs(random()) would overflow on the
// smallest int64.
func newUUIDExpr(caseFn string) string {
	return "(" + caseFn + "(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || " +
		"substr('89AB', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))))"
}

// columnDefault renders c's default as the text after DEFAULT. It returns "" when the column has no
// default, and ("", warning) when SQLite cannot express it (the caller logs the warning and creates
// the column without a default). constant reports whether the expression is constant, which ALTER
// TABLE ADD COLUMN requires.
func columnDefault(c typemap.Column) (expr string, constant bool, warning string) {
	d := c.Default
	if d == nil {
		return "", true, ""
	}
	st := storageOf(c.Type)
	drop := func(why string) (string, bool, string) {
		return "", true, fmt.Sprintf("default %q dropped: %s", d.Raw, why)
	}
	switch d.Kind {
	case typemap.DefaultNull:
		return "NULL", true, ""
	case typemap.DefaultNow, typemap.DefaultUTCNow, typemap.DefaultNowOffset:
		// sysdatetimeoffset() is local time with the server's offset; SQLite cannot name the local
		// offset, so an offset column gets the same instant in UTC, and a naive column gets the local
		// wall clock (what SQL Server's conversion of sysdatetimeoffset() to datetime2 gives).
		local := d.Kind != typemap.DefaultUTCNow
		switch st {
		case stDateTime:
			if local {
				return nowLocalDateTime, false, ""
			}
			return nowUTCDateTime, false, ""
		case stDate:
			if local {
				return nowLocalDate, false, ""
			}
			return nowUTCDate, false, ""
		case stTime:
			if local {
				return nowLocalTime, false, ""
			}
			return nowUTCTime, false, ""
		case stDateTimeOffset:
			return nowUTCOffset, false, ""
		}
		return drop("a current-time default on a non-time column")
	case typemap.DefaultNewID:
		switch st {
		case stUUID:
			return newUUIDExpr("lower"), false, ""
		case stText:
			// SQL Server converts a uniqueidentifier to upper-case text.
			return newUUIDExpr("upper"), false, ""
		}
		return drop("newid() on a column that is not a uniqueidentifier or text")
	case typemap.DefaultLiteral:
		lit, err := literalDefault(st, c.Type, d)
		if err != nil {
			return drop(err.Error())
		}
		return lit, true, ""
	}
	return drop("not expressible in SQLite")
}

// literalDefault renders a literal default in the column's stored form, so that a defaulted value
// is indistinguishable from one that was sent.
func literalDefault(st storage, t typemap.Type, d *typemap.Default) (string, error) {
	s := strings.TrimSpace(d.Literal)
	switch st {
	case stInteger:
		if t.Kind == typemap.Bit {
			// SQL Server turns any non-zero value (and 'true') into 1.
			switch strings.ToLower(s) {
			case "true":
				return "1", nil
			case "false":
				return "0", nil
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return "", fmt.Errorf("%q is not a bit value", s)
			}
			if f != 0 {
				return "1", nil
			}
			return "0", nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not an integer", s)
		}
		return strconv.FormatInt(n, 10), nil
	case stReal:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not a number", s)
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case stDecimal:
		dec, err := canonicalDecimal(s)
		if err != nil {
			return "", err
		}
		return quoteString(dec), nil
	case stDate, stTime, stDateTime, stDateTimeOffset:
		v, err := parseTimeLiteral(st, s)
		if err != nil {
			return "", err
		}
		return quoteString(v), nil
	case stUUID:
		u, err := parseUUIDText(s)
		if err != nil {
			return "", err
		}
		return quoteString(u), nil
	case stText:
		if strings.IndexByte(d.Literal, 0) >= 0 {
			return "", errors.New("a NUL character cannot appear in SQL text")
		}
		// A number default on a text column is stored as its text, as SQL Server converts it.
		return quoteString(d.Literal), nil
	case stBlob:
		if d.IsString {
			return "", errors.New("a string default on a binary column")
		}
		h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
		if len(h)%2 != 0 || strings.Trim(h, "0123456789abcdefABCDEF") != "" {
			return "", fmt.Errorf("%q is not a binary literal", s)
		}
		return "X'" + strings.ToUpper(h) + "'", nil
	}
	return "", errors.New("unknown column type")
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// canonicalDecimal checks decimal text and writes it in typemap.DecimalValue's canonical form (no
// '+', no leading zeros, no trailing fraction zeros, zero as "0"), so that a defaulted value is the
// same text as a sent one.
func canonicalDecimal(s string) (string, error) {
	neg := false
	body := s
	switch {
	case strings.HasPrefix(body, "-"):
		neg, body = true, body[1:]
	case strings.HasPrefix(body, "+"):
		body = body[1:]
	}
	intPart, frac, _ := strings.Cut(body, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return "", fmt.Errorf("%q is not a decimal", s)
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	frac = strings.TrimRight(frac, "0")
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Layouts of SQL Server date/time literals that appear as column defaults.
var (
	dateTimeLiteralLayouts = []string{
		"2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04",
		"2006-01-02",
		"20060102 15:04:05.999999999",
		"20060102",
	}
	offsetLiteralLayouts = []string{
		"2006-01-02 15:04:05.999999999 -07:00",
		"2006-01-02 15:04:05.999999999-07:00",
		"2006-01-02T15:04:05.999999999Z07:00",
	}
	timeLiteralLayouts = []string{"15:04:05.999999999", "15:04"}
)

func parseTimeLiteral(st storage, s string) (string, error) {
	var layouts []string
	switch st {
	case stTime:
		layouts = timeLiteralLayouts
	case stDateTimeOffset:
		layouts = offsetLiteralLayouts
	default:
		layouts = dateTimeLiteralLayouts
	}
	for _, l := range layouts {
		t, err := time.Parse(l, s)
		if err != nil {
			continue
		}
		var b []byte
		switch st {
		case stDate:
			b, err = appendDate(nil, t)
		case stTime:
			b, err = appendTimeOfDay(nil, int64(t.Hour())*int64(time.Hour)+int64(t.Minute())*int64(time.Minute)+
				int64(t.Second())*int64(time.Second)+int64(t.Nanosecond()))
		case stDateTime:
			b, err = appendDateTime(nil, t)
		case stDateTimeOffset:
			b, err = appendDateTimeOffset(nil, t)
		}
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	// A date-only literal on an offset column is midnight at +00:00, as SQL Server converts it.
	if st == stDateTimeOffset {
		if v, err := parseTimeLiteral(stDateTime, s); err == nil {
			return v + "+00:00", nil
		}
	}
	return "", fmt.Errorf("%q is not a date/time literal", s)
}

// parseUUIDText checks a uniqueidentifier literal (with or without braces) and lower-cases it.
func parseUUIDText(s string) (string, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(s) != 36 {
		return "", fmt.Errorf("%q is not a uniqueidentifier", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", fmt.Errorf("%q is not a uniqueidentifier", s)
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return "", fmt.Errorf("%q is not a uniqueidentifier", s)
		}
	}
	return strings.ToLower(s), nil
}

// columnDef renders one column definition: quoted name, type, NOT NULL and DEFAULT. A default SQLite
// cannot express comes back as a warning.
func (q SQL) columnDef(table string, c typemap.Column, notNull bool) (def string, constantDefault bool, warn []dialect.Warning, err error) {
	name, err := q.Quote(c.Name)
	if err != nil {
		return "", false, nil, err
	}
	typ, err := columnType(c.Type)
	if err != nil {
		return "", false, nil, fmt.Errorf("sqlite: column %q: %w", c.Name, err)
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte(' ')
	b.WriteString(typ)
	if notNull || !c.Nullable {
		b.WriteString(" NOT NULL")
	}
	expr, constant, why := columnDefault(c)
	if expr != "" {
		b.WriteString(" DEFAULT ")
		b.WriteString(expr)
	}
	if why != "" {
		warn = []dialect.Warning{{Table: table, Column: c.Name, Reason: why}}
	}
	return b.String(), constant, warn, nil
}

// CreateTable renders CREATE TABLE for t, with warnings for dropped defaults. Key columns are always
// NOT NULL (SQLite would otherwise accept NULL in a non-integer primary key). The table keeps its
// rowid: WITHOUT ROWID would store wide rows in the key's B-tree, and a single INTEGER key is an alias
// of the rowid anyway.
func (q SQL) CreateTable(t dialect.Table) (string, []dialect.Warning, error) {
	if _, err := q.Table(t.Name); err != nil {
		return "", nil, err
	}
	return q.createAs(t, t.Name)
}

// createAs renders CREATE TABLE for t under the name name (a rebuild builds it under a temporary one).
func (q SQL) createAs(t dialect.Table, name string) (string, []dialect.Warning, error) {
	qt, err := q.Quote(name)
	if err != nil {
		return "", nil, err
	}
	if len(t.Columns) == 0 || len(t.Key) == 0 {
		return "", nil, fmt.Errorf("sqlite: table %q needs columns and a key", t.Name)
	}
	for _, k := range t.Key {
		if k < 0 || k >= len(t.Columns) {
			return "", nil, fmt.Errorf("sqlite: table %q: key index %d out of range", t.Name, k)
		}
	}
	var b strings.Builder
	var warnings []dialect.Warning
	b.WriteString("CREATE TABLE ")
	b.WriteString(qt)
	b.WriteString(" (\n")
	for i, c := range t.Columns {
		def, _, warn, err := q.columnDef(t.Name, c, t.IsKey(i))
		if err != nil {
			return "", nil, err
		}
		warnings = append(warnings, warn...)
		b.WriteString("  ")
		b.WriteString(def)
		b.WriteString(",\n")
	}
	key, err := q.columns(t.KeyColumns())
	if err != nil {
		return "", nil, err
	}
	b.WriteString("  PRIMARY KEY (")
	b.WriteString(key)
	b.WriteString(")\n)")
	return b.String(), warnings, nil
}

// addColumn renders ALTER TABLE … ADD COLUMN. ok is false when SQLite cannot add the column in place
// (a non-constant default, or NOT NULL without a non-null default), so the table must be rebuilt.
func (q SQL) addColumn(table string, c typemap.Column) (stmt string, ok bool, warn []dialect.Warning, err error) {
	qt, err := q.Table(table)
	if err != nil {
		return "", false, nil, err
	}
	def, constant, warn, err := q.columnDef(table, c, false)
	if err != nil {
		return "", false, nil, err
	}
	if !constant {
		return "", false, warn, nil
	}
	if !c.Nullable {
		if expr, _, _ := columnDefault(c); expr == "" || expr == "NULL" {
			return "", false, warn, nil
		}
	}
	return "ALTER TABLE " + qt + " ADD COLUMN " + def, true, warn, nil
}

// storedColumn is one column of an existing table, as pragma_table_info describes it.
type storedColumn struct {
	name string
	pk   int // 1-based position in the primary key, 0 when not in it
}

// StoredColumnsSQL lists a table's columns (name, position in the primary key) in table order; its
// argument is the table's name.
const StoredColumnsSQL = `SELECT "name", "pk" FROM pragma_table_info(?) ORDER BY "cid"`

// Alter renders the in-place changes that bring a table whose columns are stored to its new definition
// t: ALTER TABLE where SQLite can (ADD COLUMN with a constant default, DROP COLUMN of a non-key column,
// a type change that keeps the stored form), and otherwise the statements that rebuild the table in
// place (create under a temporary name, copy, drop, rename), keeping its rows. A change that no
// rebuild can make (a type change without an exact conversion) fails with dialect.ErrRecreate.
func (q SQL) Alter(t dialect.Table, stored []storedColumn, changes []dialect.Change) ([]string, []dialect.Warning, error) {
	storedByName := make(map[string]bool, len(stored))
	var storedKey []storedColumn
	for _, c := range stored {
		storedByName[c.name] = true
		if c.pk > 0 {
			storedKey = append(storedKey, c)
		}
	}
	sort.Slice(storedKey, func(i, j int) bool { return storedKey[i].pk < storedKey[j].pk })
	rebuild := len(storedKey) != len(t.Key)
	for i, k := range t.KeyColumns() {
		if !rebuild && storedKey[i].name != k.Name {
			rebuild = true
		}
	}
	var (
		stmts     []string
		warnings  []dialect.Warning
		added     = map[string]bool{}
		converted = map[string]string{}
	)
	for _, ch := range changes {
		switch ch.Kind {
		case dialect.AddColumn:
			if storedByName[ch.Column.Name] {
				return nil, nil, fmt.Errorf("sqlite: alter table %s: column %q already exists", t.Name, ch.Column.Name)
			}
			added[ch.Column.Name] = true
			stmt, ok, warn, err := q.addColumn(t.Name, ch.Column)
			if err != nil {
				return nil, nil, err
			}
			warnings = append(warnings, warn...)
			if !ok {
				rebuild = true
			}
			stmts = append(stmts, stmt)
		case dialect.DropColumn:
			qt, err := q.Table(t.Name)
			if err != nil {
				return nil, nil, err
			}
			qc, err := q.Quote(ch.Old.Name)
			if err != nil {
				return nil, nil, err
			}
			// SQLite 3.35+ drops a column that is not part of the key in place.
			stmts = append(stmts, "ALTER TABLE "+qt+" DROP COLUMN "+qc)
		case dialect.AlterType:
			qc, err := q.Quote(ch.Old.Name)
			if err != nil {
				return nil, nil, err
			}
			expr, ok := copyExpr(qc, ch.Old.Type, ch.Column.Type)
			if !ok {
				return nil, nil, fmt.Errorf("sqlite: alter table %s: no exact conversion of column %q from %s to %s: %w",
					t.Name, ch.Column.Name, ch.Old.Type, ch.Column.Type, dialect.ErrRecreate)
			}
			if expr != qc {
				converted[ch.Column.Name] = expr
				rebuild = true
			}
		case dialect.AlterNullability:
			if ch.Old.Nullable != ch.Column.Nullable {
				rebuild = true
			}
		case dialect.AlterDefault:
			oldExpr, _, _ := columnDefault(ch.Old)
			newExpr, _, _ := columnDefault(ch.Column)
			if oldExpr != newExpr {
				rebuild = true
			}
		default:
			return nil, nil, fmt.Errorf("sqlite: alter table %s: unknown change kind %s", t.Name, ch.Kind)
		}
	}
	if !rebuild {
		return stmts, warnings, nil
	}
	var cols, exprs []string
	for _, c := range t.Columns {
		if added[c.Name] || !storedByName[c.Name] {
			continue
		}
		expr, ok := converted[c.Name]
		if !ok {
			var err error
			if expr, err = q.Quote(c.Name); err != nil {
				return nil, nil, err
			}
		}
		cols = append(cols, c.Name)
		exprs = append(exprs, expr)
	}
	return q.rebuild(t, cols, exprs)
}

// rebuildTempName is the name a table is built under while Alter rebuilds it; it exists only inside
// the transaction.
const rebuildTempName = "mirrorsink_rebuild"

// rebuild renders the statements that rebuild a table in place as t: create it under rebuildTempName,
// copy the columns copyCols (each new column from the expression that reads its stored value), drop
// the old table, rename. SQLite has no ALTER COLUMN; this is its documented generalized ALTER TABLE
// procedure, run inside the caller's transaction.
func (q SQL) rebuild(t dialect.Table, copyCols []string, copyExprs []string) ([]string, []dialect.Warning, error) {
	create, warnings, err := q.createAs(t, rebuildTempName)
	if err != nil {
		return nil, nil, err
	}
	qt, err := q.Table(t.Name)
	if err != nil {
		return nil, nil, err
	}
	tmp, _ := q.Quote(rebuildTempName)
	stmts := []string{create}
	if len(copyCols) > 0 {
		var b strings.Builder
		b.WriteString("INSERT INTO " + tmp + " (")
		for i, c := range copyCols {
			qc, err := q.Quote(c)
			if err != nil {
				return nil, nil, err
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(qc)
		}
		b.WriteString(") SELECT " + strings.Join(copyExprs, ", ") + " FROM " + qt)
		stmts = append(stmts, b.String())
	}
	stmts = append(stmts, "DROP TABLE "+qt, "ALTER TABLE "+tmp+" RENAME TO "+qt)
	return stmts, warnings, nil
}

// DropTable renders DROP TABLE IF EXISTS.
func (q SQL) DropTable(table string) (string, error) {
	qt, err := q.Table(table)
	if err != nil {
		return "", err
	}
	return "DROP TABLE IF EXISTS " + qt, nil
}

// Truncate renders SQLite's truncate: a DELETE without WHERE, which SQLite executes by dropping and
// re-creating the table's B-trees while keeping the schema.
func (q SQL) Truncate(table string) (string, error) {
	qt, err := q.Table(table)
	if err != nil {
		return "", err
	}
	return "DELETE FROM " + qt, nil
}

// Count renders the row count of a table.
func (q SQL) Count(table string) (string, error) {
	qt, err := q.Table(table)
	if err != nil {
		return "", err
	}
	return "SELECT COUNT(*) FROM " + qt, nil
}

// Select renders the read of every column of t, in order.
func (q SQL) Select(t dialect.Table) (string, error) {
	qt, err := q.Table(t.Name)
	if err != nil {
		return "", err
	}
	cols, err := q.columns(t.Columns)
	if err != nil {
		return "", err
	}
	return "SELECT " + cols + " FROM " + qt, nil
}

// TableObjectsSQL lists the indexes and triggers of a table that have SQL text (not those SQLite made
// for a key): type, name, sql. Its argument is the table's name, matched as SQLite matches names.
const TableObjectsSQL = `SELECT "type", "name", "sql" FROM "main"."sqlite_schema" WHERE "type" IN ('index', 'trigger') ` +
	`AND "tbl_name" = ? COLLATE NOCASE AND "sql" IS NOT NULL ORDER BY "rowid"`

// IndexColumnsSQL lists the table columns that an index (its name is the argument) names, in index
// order; its expressions have no name.
const IndexColumnsSQL = `SELECT "name" FROM pragma_index_info(?) WHERE "name" IS NOT NULL ORDER BY "seqno"`

// ObjectExistsSQL tells whether an object of the schema (a table, index, trigger or view) has the
// name that is its argument.
const ObjectExistsSQL = `SELECT 1 FROM "main"."sqlite_schema" WHERE "name" = ? COLLATE NOCASE`

// legacyAlterTable renders the switch of SQLite's legacy ALTER TABLE behaviour, under which RENAME
// neither checks nor rewrites the views and triggers of the schema.
func legacyAlterTable(on bool) string {
	if on {
		return "PRAGMA legacy_alter_table = ON"
	}
	return "PRAGMA legacy_alter_table = OFF"
}

// TableExistsSQL tells whether a table exists; its argument is the name. SQLite matches table names
// without regard to ASCII case, and so does the query.
const TableExistsSQL = `SELECT 1 FROM "main"."sqlite_schema" WHERE "type" = 'table' AND "name" = ? COLLATE NOCASE`

// rowsPerStatement is how many rows of width columns one multi-row statement carries.
func rowsPerStatement(width int) int {
	return min(maxVariables/max(width, 1), maxRowsPerStatement)
}

// columns quotes the columns' names and joins them with ", ".
func (q SQL) columns(cols []typemap.Column) (string, error) {
	var b strings.Builder
	for i, c := range cols {
		qc, err := q.Quote(c.Name)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(qc)
	}
	return b.String(), nil
}

// valuesList writes rows groups of width placeholders: (?, ?), (?, ?).
func valuesList(b *strings.Builder, rows, width int) {
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < width; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
}

// Insert renders a multi-row INSERT of rows rows of every column of t.
func (q SQL) Insert(t dialect.Table, rows int) (string, error) {
	qt, err := q.Table(t.Name)
	if err != nil {
		return "", err
	}
	cols, err := q.columns(t.Columns)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + qt + " (" + cols + ") VALUES ")
	valuesList(&b, rows, len(t.Columns))
	return b.String(), nil
}

// InsertJournal renders a multi-row INSERT of rows entries of a batch of the change journal into
// table, its columns cols (the journal's name and columns as the metadata store quotes them, in the
// order of dialect.JournalColumns: sqlmeta.Store.JournalTable and JournalColumns). What every entry of
// the batch shares (table name, LSN or NULL, cycle, time) is written as literals; each row binds its
// own number, key and operation. Binding is most of what an insert costs SQLite, and the driver binds
// numbered parameters (?NNN) far more slowly than plain ones.
func (q SQL) InsertJournal(table string, cols []string, rows int, b *dialect.JournalBatch, cycle int64, at string) string {
	lsn := "NULL"
	if b.LSN > 0 {
		lsn = strconv.FormatInt(b.LSN, 10)
	}
	row := "(?, " + q.Literal(b.Table) + ", ?, ?, " + lsn + ", " + strconv.FormatInt(cycle, 10) + ", " + q.Literal(at) + ")"
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	for r := range rows {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(row)
	}
	return sb.String()
}

// journalPerRow is the number of parameters of an InsertJournal row.
const journalPerRow = 3

// journalRowsPerStatement is how many entries one InsertJournal statement takes.
var journalRowsPerStatement = min(maxVariables/journalPerRow, maxRowsPerStatement)

// Upsert renders a multi-row INSERT … ON CONFLICT (key) DO UPDATE that sets every non-key column from
// excluded. It is set-based on its own, so SQLite needs no staging table: the rows are local, and a
// staging table would only copy them twice. A table of key columns only does nothing on conflict.
func (q SQL) Upsert(t dialect.Table, rows int) (string, error) {
	ins, err := q.Insert(t, rows)
	if err != nil {
		return "", err
	}
	keys, err := q.columns(t.KeyColumns())
	if err != nil {
		return "", err
	}
	var set []string
	for i, c := range t.Columns {
		if !t.IsKey(i) {
			qc, _ := q.Quote(c.Name) // checked by Insert
			set = append(set, qc+" = excluded."+qc)
		}
	}
	action := "NOTHING"
	if len(set) > 0 {
		action = "UPDATE SET " + strings.Join(set, ", ")
	}
	return ins + " ON CONFLICT (" + keys + ") DO " + action, nil
}

// Delete renders one set-based DELETE of rows keys: k IN (?, …) for one key column, a row value
// (k1, k2) IN (VALUES (?, ?), …) for a composite key.
func (q SQL) Delete(t dialect.Table, rows int) (string, error) {
	qt, err := q.Table(t.Name)
	if err != nil {
		return "", err
	}
	in, err := q.keysIn(t, rows)
	if err != nil {
		return "", err
	}
	return "DELETE FROM " + qt + " WHERE " + in, nil
}

// keysIn renders the condition that holds for rows keys, bound in order: k IN (?, …) for one key
// column, (k1, k2) IN (VALUES (?, ?), …) for a composite key.
func (q SQL) keysIn(t dialect.Table, rows int) (string, error) {
	keys, err := q.columns(t.KeyColumns())
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if len(t.Key) == 1 {
		b.WriteString(keys + " IN (")
		for r := 0; r < rows; r++ {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
		return b.String(), nil
	}
	b.WriteString("(" + keys + ") IN (VALUES ")
	valuesList(&b, rows, len(t.Key))
	b.WriteByte(')')
	return b.String(), nil
}

// SoftDelete renders one set-based soft delete of rows keys, bound as Delete binds them
// (dialect.RowWriter's SoftDelete): stamp, the time of the delete as the type table stores it, goes
// into t.DeletedAt (and t.MirroredAt) of the rows whose DeletedAt is still NULL, so that a row deleted
// twice keeps the first time. stamp is the dialect's own text of a time, written as a literal so that
// the keys keep their positions.
func (q SQL) SoftDelete(t dialect.Table, rows int, stamp string) (string, error) {
	qt, err := q.Table(t.Name)
	if err != nil {
		return "", err
	}
	deleted, set, err := dialect.SoftDeleteSet(t, q.Quote, "", q.Literal(stamp))
	if err != nil {
		return "", err
	}
	in, err := q.keysIn(t, rows)
	if err != nil {
		return "", err
	}
	return "UPDATE " + qt + " SET " + set + " WHERE " + deleted + " IS NULL AND " + in, nil
}

// PurgeDeleted renders the removal of the rows that t.DeletedAt marks as deleted.
func (q SQL) PurgeDeleted(t dialect.Table) (string, error) {
	qt, err := q.Table(t.Name)
	if err != nil {
		return "", err
	}
	where, err := dialect.PurgeWhere(t, q.Quote, "")
	return "DELETE FROM " + qt + where, err
}

// Savepoint and RollbackTo render the savepoint statements of sqlexec.
func (q SQL) Savepoint(name string) string { return "SAVEPOINT " + quoteUnchecked(name) }

// RollbackTo undoes everything since the savepoint, which stays set.
func (q SQL) RollbackTo(name string) string { return "ROLLBACK TO SAVEPOINT " + quoteUnchecked(name) }

func quoteUnchecked(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

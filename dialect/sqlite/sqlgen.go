package sqlite

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// MaxNameBytes is the longest identifier Quote accepts. SQLite itself has no identifier limit, but a
// bound keeps a hostile name from producing megabytes of SQL; 1024 bytes hold any SQL Server name
// (128 UTF-16 units are at most 384 bytes of UTF-8) with room to spare.
const MaxNameBytes = 1024

// maxVariables is SQLite's default SQLITE_MAX_VARIABLE_NUMBER since 3.32: the number of ? in one
// statement.
const maxVariables = 32766

// maxRowsPerStatement bounds a multi-row VALUES list. Beyond a few hundred rows a longer statement
// saves nothing measurable and costs parse time and memory.
const maxRowsPerStatement = 500

// QuoteIdent quotes one identifier in double quotes, doubling embedded double quotes. It rejects an
// empty name, a NUL (SQLite's SQL text ends at NUL) and a name longer than MaxNameBytes (wrapping
// dialect.ErrNameTooLong).
func QuoteIdent(name string) (string, error) {
	if name == "" {
		return "", errors.New("sqlite: empty identifier")
	}
	if len(name) > MaxNameBytes {
		return "", fmt.Errorf("sqlite: %w: %q… is %d bytes long, the limit is %d", dialect.ErrNameTooLong, name[:32], len(name), MaxNameBytes)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("sqlite: identifier %q contains a NUL character", name)
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`, nil
}

// storage is how one SQL Server type is held in SQLite: the declared type (which sets the column's
// affinity) and, for TEXT, which text format. Two types with the same storage hold the same bytes for
// the same value, so a change between them is a no-op.
type storage uint8

const (
	stInvalid        storage = iota
	stInteger                // INTEGER: bit 0/1 and the integer types
	stReal                   // REAL: float and real
	stDecimal                // TEXT holding exact decimal text
	stDate                   // TEXT YYYY-MM-DD
	stTime                   // TEXT HH:MM:SS.fffffff
	stDateTime               // TEXT YYYY-MM-DD HH:MM:SS.fffffff
	stDateTimeOffset         // TEXT YYYY-MM-DD HH:MM:SS.fffffff+hh:mm
	stUUID                   // TEXT lower-case 8-4-4-4-12
	stText                   // TEXT as received
	stBlob                   // BLOB
)

func storageOf(t typemap.Type) storage {
	switch t.Kind {
	case typemap.Bit, typemap.TinyInt, typemap.SmallInt, typemap.Int, typemap.BigInt:
		return stInteger
	case typemap.Float, typemap.Real:
		return stReal
	case typemap.Decimal, typemap.Money, typemap.SmallMoney:
		return stDecimal
	case typemap.Date:
		return stDate
	case typemap.Time:
		return stTime
	case typemap.SmallDateTime, typemap.DateTime, typemap.DateTime2:
		return stDateTime
	case typemap.DateTimeOffset:
		return stDateTimeOffset
	case typemap.UniqueIdentifier:
		return stUUID
	case typemap.Char, typemap.VarChar, typemap.NChar, typemap.NVarChar, typemap.Text, typemap.NText,
		typemap.XML, typemap.HierarchyID, typemap.Geography, typemap.Geometry, typemap.SQLVariant,
		typemap.SysName:
		return stText
	case typemap.Binary, typemap.VarBinary, typemap.Image, typemap.RowVersion:
		return stBlob
	}
	return stInvalid
}

// ColumnType returns the declared SQLite type of t (TYPES.md). Decimals are declared TEXT, not
// NUMERIC, because NUMERIC affinity would turn "0.10" into the REAL 0.1.
func ColumnType(t typemap.Type) (string, error) {
	switch storageOf(t) {
	case stInteger:
		return "INTEGER", nil
	case stReal:
		return "REAL", nil
	case stBlob:
		return "BLOB", nil
	case stInvalid:
		return "", fmt.Errorf("sqlite: no mapping for type kind %d", t.Kind)
	}
	return "TEXT", nil
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

// ColumnDefault renders c's default as the text after DEFAULT. It returns "" when the column has no
// default, and ("", warning) when SQLite cannot express it (the caller logs the warning and creates
// the column without a default). constant reports whether the expression is constant, which ALTER
// TABLE ADD COLUMN requires.
func ColumnDefault(c typemap.Column) (expr string, constant bool, warning string) {
	d := c.Default
	if d == nil {
		return "", true, ""
	}
	st := storageOf(c.Type)
	drop := func(why string) (string, bool, string) {
		return "", true, fmt.Sprintf("default %q of column %q dropped: %s", d.Raw, c.Name, why)
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

// ColumnDef renders one column definition: quoted name, type, NOT NULL and DEFAULT. A dropped default
// comes back as warning.
func ColumnDef(c typemap.Column, notNull bool) (def string, constantDefault bool, warning string, err error) {
	name, err := QuoteIdent(c.Name)
	if err != nil {
		return "", false, "", err
	}
	typ, err := ColumnType(c.Type)
	if err != nil {
		return "", false, "", fmt.Errorf("sqlite: column %q: %w", c.Name, err)
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte(' ')
	b.WriteString(typ)
	if notNull || !c.Nullable {
		b.WriteString(" NOT NULL")
	}
	expr, constant, warning := ColumnDefault(c)
	if expr != "" {
		b.WriteString(" DEFAULT ")
		b.WriteString(expr)
	}
	return b.String(), constant, warning, nil
}

// CreateTableSQL renders CREATE TABLE for t under the name name (t.Name unless a rebuild uses a
// temporary name), with warnings for dropped defaults. Key columns are always NOT NULL (SQLite would
// otherwise accept NULL in a non-integer primary key). The table keeps its rowid: WITHOUT ROWID would
// store wide rows in the key's B-tree, and a single INTEGER key is an alias of the rowid anyway.
func CreateTableSQL(t dialect.Table, name string) (string, []string, error) {
	qt, err := QuoteIdent(name)
	if err != nil {
		return "", nil, err
	}
	if len(t.Columns) == 0 || len(t.Key) == 0 {
		return "", nil, fmt.Errorf("sqlite: table %q needs columns and a key", t.Name)
	}
	inKey := make(map[int]bool, len(t.Key))
	for _, k := range t.Key {
		if k < 0 || k >= len(t.Columns) {
			return "", nil, fmt.Errorf("sqlite: table %q: key index %d out of range", t.Name, k)
		}
		inKey[k] = true
	}
	var b strings.Builder
	var warnings []string
	b.WriteString("CREATE TABLE ")
	b.WriteString(qt)
	b.WriteString(" (\n")
	for i, c := range t.Columns {
		def, _, warn, err := ColumnDef(c, inKey[i])
		if err != nil {
			return "", nil, err
		}
		if warn != "" {
			warnings = append(warnings, warn)
		}
		b.WriteString("  ")
		b.WriteString(def)
		b.WriteString(",\n")
	}
	b.WriteString("  PRIMARY KEY (")
	for i, k := range t.Key {
		if i > 0 {
			b.WriteString(", ")
		}
		q, _ := QuoteIdent(t.Columns[k].Name) // checked above
		b.WriteString(q)
	}
	b.WriteString(")\n)")
	return b.String(), warnings, nil
}

// AddColumnSQL renders ALTER TABLE … ADD COLUMN. ok is false when SQLite cannot add the column in
// place (a non-constant default, or NOT NULL without a non-null default), so the table must be
// rebuilt.
func AddColumnSQL(table string, c typemap.Column) (stmt string, ok bool, warning string, err error) {
	qt, err := QuoteIdent(table)
	if err != nil {
		return "", false, "", err
	}
	def, constant, warning, err := ColumnDef(c, false)
	if err != nil {
		return "", false, "", err
	}
	if !constant {
		return "", false, warning, nil
	}
	if !c.Nullable {
		expr, _, _ := ColumnDefault(c)
		if expr == "" || expr == "NULL" {
			return "", false, warning, nil
		}
	}
	return "ALTER TABLE " + qt + " ADD COLUMN " + def, true, warning, nil
}

// DropColumnSQL renders ALTER TABLE … DROP COLUMN (SQLite 3.35+; not for key columns).
func DropColumnSQL(table, column string) (string, error) {
	qt, err := QuoteIdent(table)
	if err != nil {
		return "", err
	}
	qc, err := QuoteIdent(column)
	if err != nil {
		return "", err
	}
	return "ALTER TABLE " + qt + " DROP COLUMN " + qc, nil
}

// DropTableSQL renders DROP TABLE IF EXISTS.
func DropTableSQL(table string) (string, error) {
	qt, err := QuoteIdent(table)
	if err != nil {
		return "", err
	}
	return "DROP TABLE IF EXISTS " + qt, nil
}

// TruncateSQL renders SQLite's truncate: a DELETE without WHERE, which SQLite executes by dropping
// and re-creating the table's B-trees while keeping the schema.
func TruncateSQL(table string) (string, error) {
	qt, err := QuoteIdent(table)
	if err != nil {
		return "", err
	}
	return "DELETE FROM " + qt, nil
}

// TableExistsSQL is the query behind TableExists; SQLite matches table names without regard to ASCII
// case, and so does the query.
const TableExistsSQL = `SELECT 1 FROM "main"."sqlite_schema" WHERE "type" = 'table' AND "name" = ? COLLATE NOCASE`

// rowsPerStatement is how many rows of width columns one multi-row statement carries.
func rowsPerStatement(width int) int {
	if width < 1 {
		width = 1
	}
	n := maxVariables / width
	if n > maxRowsPerStatement {
		n = maxRowsPerStatement
	}
	return n
}

// quotedColumns quotes the named columns and joins them with ", ".
func quotedColumns(cols []typemap.Column) (string, error) {
	var b strings.Builder
	for i, c := range cols {
		q, err := QuoteIdent(c.Name)
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

// InsertSQL renders a multi-row INSERT of rows rows of every column of t.
func InsertSQL(t dialect.Table, rows int) (string, error) {
	qt, err := QuoteIdent(t.Name)
	if err != nil {
		return "", err
	}
	cols, err := quotedColumns(t.Columns)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(qt)
	b.WriteString(" (")
	b.WriteString(cols)
	b.WriteString(") VALUES ")
	valuesList(&b, rows, len(t.Columns))
	return b.String(), nil
}

// UpsertSQL renders a multi-row INSERT … ON CONFLICT (key) DO UPDATE that sets every non-key column
// from excluded. It is set-based on its own, so SQLite needs no staging table: the rows are local,
// and a staging table would only copy them twice. A table of key columns only does nothing on
// conflict.
func UpsertSQL(t dialect.Table, rows int) (string, error) {
	ins, err := InsertSQL(t, rows)
	if err != nil {
		return "", err
	}
	keys, err := quotedColumns(t.KeyColumns())
	if err != nil {
		return "", err
	}
	inKey := make(map[int]bool, len(t.Key))
	for _, k := range t.Key {
		inKey[k] = true
	}
	var b strings.Builder
	b.WriteString(ins)
	b.WriteString(" ON CONFLICT (")
	b.WriteString(keys)
	b.WriteString(") DO ")
	first := true
	for i, c := range t.Columns {
		if inKey[i] {
			continue
		}
		q, _ := QuoteIdent(c.Name) // checked by InsertSQL
		if first {
			b.WriteString("UPDATE SET ")
			first = false
		} else {
			b.WriteString(", ")
		}
		b.WriteString(q)
		b.WriteString(" = excluded.")
		b.WriteString(q)
	}
	if first {
		b.WriteString("NOTHING")
	}
	return b.String(), nil
}

// DeleteSQL renders one set-based DELETE of rows keys: k IN (?, …) for one key column, a row value
// (k1, k2) IN (VALUES (?, ?), …) for a composite key.
func DeleteSQL(t dialect.Table, rows int) (string, error) {
	qt, err := QuoteIdent(t.Name)
	if err != nil {
		return "", err
	}
	keys, err := quotedColumns(t.KeyColumns())
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("DELETE FROM ")
	b.WriteString(qt)
	b.WriteString(" WHERE ")
	if len(t.Key) == 1 {
		b.WriteString(keys)
		b.WriteString(" IN (")
		for r := 0; r < rows; r++ {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
		return b.String(), nil
	}
	b.WriteByte('(')
	b.WriteString(keys)
	b.WriteString(") IN (VALUES ")
	valuesList(&b, rows, len(t.Key))
	b.WriteByte(')')
	return b.String(), nil
}

// RebuildTempName is the name a table is built under while AlterTable rebuilds it; it exists only
// inside the transaction.
const RebuildTempName = "mirrorsink_rebuild"

// copyExpr returns the expression that converts a stored value of column old into the storage of
// the new type, or ok=false when there is no exact conversion.
func copyExpr(quoted string, from, to typemap.Type) (string, bool) {
	fs, ts := storageOf(from), storageOf(to)
	switch {
	case fs == ts:
		return quoted, true
	case fs == stInteger && ts == stDecimal:
		return "CAST(" + quoted + " AS TEXT)", true
	case fs == stInteger && ts == stReal:
		return "CAST(" + quoted + " AS REAL)", true
	case fs == stDate && ts == stDateTime:
		return "(" + quoted + " || ' 00:00:00.0000000')", true
	case fs == stDateTime && ts == stDateTimeOffset:
		// SQL Server converts a naive datetime to datetimeoffset at +00:00.
		return "(" + quoted + " || '+00:00')", true
	}
	return "", false
}

// RebuildSQL renders the statements that rebuild a table in place as t: create it under
// RebuildTempName, copy the columns listed in copyCols (the new column and the expression that reads
// the stored value), drop the old table, rename. SQLite has no ALTER COLUMN; this is its documented
// generalized ALTER TABLE procedure, run inside the caller's transaction.
func RebuildSQL(t dialect.Table, copyCols []string, copyExprs []string) ([]string, []string, error) {
	create, warnings, err := CreateTableSQL(t, RebuildTempName)
	if err != nil {
		return nil, nil, err
	}
	qt, err := QuoteIdent(t.Name)
	if err != nil {
		return nil, nil, err
	}
	tmp, _ := QuoteIdent(RebuildTempName)
	stmts := []string{create}
	if len(copyCols) > 0 {
		var b strings.Builder
		b.WriteString("INSERT INTO ")
		b.WriteString(tmp)
		b.WriteString(" (")
		for i, c := range copyCols {
			q, err := QuoteIdent(c)
			if err != nil {
				return nil, nil, err
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(q)
		}
		b.WriteString(") SELECT ")
		b.WriteString(strings.Join(copyExprs, ", "))
		b.WriteString(" FROM ")
		b.WriteString(qt)
		stmts = append(stmts, b.String())
	}
	stmts = append(stmts, "DROP TABLE "+qt, "ALTER TABLE "+tmp+" RENAME TO "+qt)
	return stmts, warnings, nil
}

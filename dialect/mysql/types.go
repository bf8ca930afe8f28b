package mysql

import (
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// rule is how MySQL stores one SQL Server type kind (docs/TYPES.md). Every part of the dialect that
// depends on a column's type asks its rule: the DDL, the defaults, the bulk path and Read, so that
// they cannot disagree. A staging table's column has the same type as the table's (see
// SQL.StagingTable), so the staging type is the DDL type.
type rule struct {
	// column renders the column's DDL type and what it costs in a row, before the row budget
	// (planTable) may move it off the row.
	column func(t typemap.Type) (colType, error)
	// now renders a current-time default for a column of fsp fraction digits; nil where such a
	// default does not fit the kind.
	now func(fsp int) string
	// newID renders newid(); "" where it does not fit the kind.
	newID string
	// literal renders a literal default (as typemap unescaped it) as a MySQL literal of the kind.
	literal func(raw string) (string, error)
	// hex says that the bulk path sends the kind's values as hex, decoded by the load with UNHEX:
	// binary data cannot travel in LOAD DATA's text form as it is.
	hex bool
	// encode appends a non-NULL value in LOAD DATA's text form.
	encode encoder
	// read turns what the driver scans for the kind (binary protocol, parseTime in UTC) into the value
	// that TableEditor.Read hands out.
	read func(v any) (any, error)
}

// rules is the type table: one rule per SQL Server kind.
var rules = map[typemap.Kind]rule{
	typemap.Bit:      {column: fixed("tinyint(1)", 1), literal: litBit, encode: encBool, read: readBool},
	typemap.TinyInt:  {column: fixed("tinyint unsigned", 1), literal: litInt(0, math.MaxUint8), encode: encTinyInt, read: readInt},
	typemap.SmallInt: {column: fixed("smallint", 2), literal: litInt(math.MinInt16, math.MaxInt16), encode: encInt, read: readInt},
	typemap.Int:      {column: fixed("int", 4), literal: litInt(math.MinInt32, math.MaxInt32), encode: encInt, read: readInt},
	typemap.BigInt:   {column: fixed("bigint", 8), literal: litInt(math.MinInt64, math.MaxInt64), encode: encInt, read: readInt},

	typemap.Decimal:    {column: decimalType, literal: litDecimal, encode: encDecimal, read: readDecimal},
	typemap.Money:      {column: fixed("decimal(19,4)", decimalBytes(19, 4)), literal: litDecimal, encode: encDecimal, read: readDecimal},
	typemap.SmallMoney: {column: fixed("decimal(10,4)", decimalBytes(10, 4)), literal: litDecimal, encode: encDecimal, read: readDecimal},
	typemap.Float:      {column: fixed("double", 8), literal: litFloat, encode: encFloat, read: readFloat},
	typemap.Real:       {column: fixed("float", 4), literal: litFloat, encode: encReal, read: readReal},

	typemap.Date: {column: fixed("date", 3), now: nowExpr("(UTC_DATE())"), literal: litDateTime(true, false),
		encode: encDate, read: readDateTime},
	typemap.Time: {column: timeType, now: func(fsp int) string { return fmt.Sprintf("(UTC_TIME(%d))", fsp) },
		literal: litTime, encode: encTime, read: readTimeOfDay},
	typemap.SmallDateTime: {column: fixed("datetime", 5), now: nowExpr("(UTC_TIMESTAMP())"), literal: litDateTime(false, false),
		encode: encDateTime(false), read: readDateTime},
	typemap.DateTime: {column: fixed("datetime(3)", 5+fspBytes[3]), now: nowExpr("(UTC_TIMESTAMP(3))"), literal: litDateTime(false, false),
		encode: encDateTime(false), read: readDateTime},
	typemap.DateTime2: {column: dateTimeType, now: nowTimestamp, literal: litDateTime(false, false),
		encode: encDateTime(false), read: readDateTime},
	// datetimeoffset keeps its instant as a naive UTC datetime; the offset itself is lost (TYPES.md).
	typemap.DateTimeOffset: {column: dateTimeType, now: nowTimestamp, literal: litDateTime(false, true),
		encode: encDateTime(true), read: readDateTime},

	typemap.Char:     {column: charType, literal: litString, encode: encString, read: readString},
	typemap.NChar:    {column: charType, literal: litString, encode: encString, read: readString},
	typemap.VarChar:  {column: varcharType, literal: litString, encode: encString, read: readString},
	typemap.NVarChar: {column: varcharType, literal: litString, encode: encString, read: readString},
	typemap.SysName:  {column: fixedVarchar(128, false), literal: litString, encode: encString, read: readString},
	typemap.Text:     {column: longText, literal: litString, encode: encString, read: readString},
	typemap.NText:    {column: longText, literal: litString, encode: encString, read: readString},
	typemap.XML:      {column: longText, literal: litString, encode: encString, read: readString},
	// Spatial values and sql_variant arrive as text (WKT, the value's text) and stay text.
	typemap.Geography:  {column: longText, literal: litString, encode: encString, read: readString},
	typemap.Geometry:   {column: longText, literal: litString, encode: encString, read: readString},
	typemap.SQLVariant: {column: longText, literal: litString, encode: encString, read: readString},
	// hierarchyid's text form ("/1/2/3.5/") is ASCII and at most about 4,000 characters.
	typemap.HierarchyID: {column: fixedVarchar(4000, true), literal: litString, encode: encString, read: readString},

	typemap.Binary:     {column: binaryType, literal: litBinary, hex: true, encode: encHex, read: readBytes},
	typemap.VarBinary:  {column: varbinaryType, literal: litBinary, hex: true, encode: encHex, read: readBytes},
	typemap.Image:      {column: longBlob, literal: litBinary, hex: true, encode: encHex, read: readBytes},
	typemap.RowVersion: {column: rowVersionType, literal: litBinary, hex: true, encode: encHex, read: readBytes},

	typemap.UniqueIdentifier: {column: fixed("char(36) CHARACTER SET ascii COLLATE ascii_bin", 36), newID: "(UUID())",
		literal: litUUID, encode: encUUID, read: readUUID},
}

// ruleFor returns the rule of t's kind.
func ruleFor(t typemap.Type) (rule, error) {
	r, ok := rules[t.Kind]
	if !ok {
		return rule{}, fmt.Errorf("type %s has no MySQL mapping", t)
	}
	return r, nil
}

// fracDigits is the fraction-of-second digits MySQL keeps of a time or datetime2 of t's precision: at
// most six.
func fracDigits(t typemap.Type) int { return min(max(t.Precision, 0), 6) }

// columnType renders t before the row budget is applied.
func columnType(t typemap.Type) (colType, error) {
	r, err := ruleFor(t)
	if err != nil {
		return colType{}, err
	}
	return r.column(t)
}

// storage is how InnoDB keeps a column, which decides whether the row budget may move it off the row.
type storage uint8

const (
	stFixed   storage = iota // numbers, dates, char(n): always in the row
	stVarChar                // varchar(n), utf8mb4 or ascii: movable to text
	stVarBin                 // varbinary(n): movable to blob
	stLOB                    // text and blob kinds
)

// colType is how one column is stored: its DDL type and what it costs in a row.
type colType struct {
	// sql is the type as DDL writes it, e.g. "varchar(255)" or "text".
	sql string
	// moved says that the row budget moved the column from varchar/varbinary to text/blob.
	moved    bool
	kind     storage
	rowBytes int  // bytes counted towards the 65,535-byte row limit
	maxBytes int  // largest value in bytes (for the in-page and key limits)
	fixedLen bool // InnoDB keeps the full width on the page
	movedSQL string
}

// isLOB reports a text or blob type, whose literal defaults need the expression form.
func (c colType) isLOB() bool { return c.kind == stLOB }

// Limits of InnoDB that planTable works within.
const (
	maxRowBytes = 65535
	// rowBudget leaves a margin below maxRowBytes for the null bitmap and the server's own bookkeeping.
	rowBudget = maxRowBytes - 64
	// inPageBudget stays below the 8,126 bytes that a 16 KiB page holds of one row (innodb_strict_mode
	// refuses a table whose worst-case row exceeds it), with room for the record header.
	inPageBudget = 8000
	// extern is what a column stored off the page keeps in the row (a 20-byte pointer, 2 length bytes).
	extern        = 22
	maxKeyBytes   = 3072
	utf8mb4MaxLen = 4
)

var fspBytes = [7]int{0, 1, 1, 2, 2, 3, 3}
var decDigitBytes = [9]int{0, 1, 1, 2, 2, 3, 3, 4, 4}

func decimalBytes(p, s int) int {
	f := func(d int) int { return d/9*4 + decDigitBytes[d%9] }
	return f(p-s) + f(s)
}

func lenBytes(maxBytes int) int {
	if maxBytes > 255 {
		return 2
	}
	return 1
}

func fixedType(sql string, n int) colType {
	return colType{sql: sql, kind: stFixed, rowBytes: n, maxBytes: n, fixedLen: true}
}

// fixed is a kind whose type does not depend on its parameters.
func fixed(sql string, n int) func(typemap.Type) (colType, error) {
	c := fixedType(sql, n)
	return func(typemap.Type) (colType, error) { return c, nil }
}

func lobType(sql string) colType {
	// A long text or blob keeps a 4-byte length and an 8-byte pointer in the row.
	return colType{sql: sql, kind: stLOB, rowBytes: 4 + 8, maxBytes: 1 << 32}
}

func longText(typemap.Type) (colType, error) { return lobType("longtext"), nil }
func longBlob(typemap.Type) (colType, error) { return lobType("longblob"), nil }

func varchar(n int, ascii bool) colType {
	per, cs, moved := utf8mb4MaxLen, "", "text"
	if ascii {
		per, cs = 1, " CHARACTER SET ascii COLLATE ascii_bin"
	}
	if n*per > 65535 {
		moved = "mediumtext"
	}
	mb := n * per
	return colType{sql: fmt.Sprintf("varchar(%d)%s", n, cs), kind: stVarChar, rowBytes: mb + lenBytes(mb), maxBytes: mb, movedSQL: moved + cs}
}

func fixedVarchar(n int, ascii bool) func(typemap.Type) (colType, error) {
	c := varchar(n, ascii)
	return func(typemap.Type) (colType, error) { return c, nil }
}

func varbinary(n int) colType {
	return colType{sql: fmt.Sprintf("varbinary(%d)", n), kind: stVarBin, rowBytes: n + lenBytes(n), maxBytes: n, movedSQL: "blob"}
}

func decimalType(t typemap.Type) (colType, error) {
	p, s := t.Precision, t.Scale
	if p < 1 || p > 65 || s < 0 || s > 30 || s > p {
		return colType{}, fmt.Errorf("decimal(%d,%d) is outside what MySQL holds (precision 1..65, scale 0..30)", p, s)
	}
	return fixedType(fmt.Sprintf("decimal(%d,%d)", p, s), decimalBytes(p, s)), nil
}

func timeType(t typemap.Type) (colType, error) {
	return fixedType(fmt.Sprintf("time(%d)", fracDigits(t)), 3+fspBytes[fracDigits(t)]), nil
}

func dateTimeType(t typemap.Type) (colType, error) {
	return fixedType(fmt.Sprintf("datetime(%d)", fracDigits(t)), 5+fspBytes[fracDigits(t)]), nil
}

func charType(t typemap.Type) (colType, error) {
	switch {
	case t.Length >= 1 && t.Length <= 255:
		c := fixedType(fmt.Sprintf("char(%d)", t.Length), t.Length*utf8mb4MaxLen)
		// InnoDB stores utf8mb4 char(n) with a variable length, so it is not fixed on the page.
		c.fixedLen = false
		return c, nil
	case t.Length > 255:
		return varchar(t.Length, false), nil
	}
	return colType{}, fmt.Errorf("char length %d is not valid", t.Length)
}

func varcharType(t typemap.Type) (colType, error) {
	switch {
	case t.Length == typemap.Max:
		return lobType("longtext"), nil
	case t.Length < 1:
		return colType{}, fmt.Errorf("varchar length %d is not valid", t.Length)
	}
	return varchar(t.Length, false), nil
}

// binaryType is varbinary, as TYPES.md says: MySQL's binary(n) would pad shorter values with zero
// bytes.
func binaryType(t typemap.Type) (colType, error) {
	if t.Length < 1 {
		return colType{}, fmt.Errorf("binary length %d is not valid", t.Length)
	}
	return varbinary(t.Length), nil
}

func varbinaryType(t typemap.Type) (colType, error) {
	switch {
	case t.Length == typemap.Max:
		return lobType("longblob"), nil
	case t.Length < 1:
		return colType{}, fmt.Errorf("varbinary length %d is not valid", t.Length)
	}
	return varbinary(t.Length), nil
}

// rowVersionType is binary(8): a rowversion always has eight bytes, so nothing is padded.
func rowVersionType(typemap.Type) (colType, error) { return fixedType("binary(8)", 8), nil }

// moveOff turns a varchar/varbinary column into its text/blob form.
func (c *colType) moveOff() {
	c.sql, c.moved, c.kind = c.movedSQL, true, stLOB
	c.rowBytes = 10
	if strings.HasPrefix(c.movedSQL, "mediumtext") {
		c.rowBytes = 11
	}
}

// inPage is what a column keeps on the InnoDB page in the worst case under ROW_FORMAT=DYNAMIC: fixed
// columns all of it, variable columns up to 255 bytes all of it plus a length byte, longer ones may go
// off the page and keep a pointer.
func (c colType) inPage() int {
	switch {
	case c.fixedLen:
		return c.maxBytes
	case c.kind == stLOB || c.maxBytes > 255:
		return extern
	default:
		return c.maxBytes + 1
	}
}

// tablePlan is the storage decision for every column of a table, in column order.
type tablePlan struct {
	types []colType
}

// planTable renders the types of t's columns and applies InnoDB's row budget: it keeps varchar(n)
// for key columns and while both the 65,535-byte row limit and the ~8 KB in-page limit last, and
// moves the longest other varchar/varbinary columns to text/blob, in a deterministic order (length
// descending, then column position) so that an unchanged schema gives unchanged DDL. Columns in
// keepOff are already stored off the row and stay so, which keeps an ALTER from narrowing them. Key
// columns must fit InnoDB's 3,072-byte index key limit; a longer key is an error.
func planTable(t dialect.Table, keepOff map[string]bool) (tablePlan, error) {
	if len(t.Key) == 0 {
		return tablePlan{}, fmt.Errorf("mysql: table %q has no key", t.Name)
	}
	isKey := make(map[int]bool, len(t.Key))
	for _, k := range t.Key {
		if k < 0 || k >= len(t.Columns) {
			return tablePlan{}, fmt.Errorf("mysql: table %q: key index %d out of range", t.Name, k)
		}
		isKey[k] = true
	}
	p := tablePlan{types: make([]colType, len(t.Columns))}
	nullable := 0
	for i, c := range t.Columns {
		ct, err := columnType(c.Type)
		if err != nil {
			return tablePlan{}, fmt.Errorf("mysql: table %q column %q: %w", t.Name, c.Name, err)
		}
		if keepOff[c.Name] && !isKey[i] && (ct.kind == stVarChar || ct.kind == stVarBin) {
			ct.moveOff()
		}
		p.types[i] = ct
		if c.Nullable {
			nullable++
		}
	}
	keyBytes := 0
	for _, k := range t.Key {
		ct := p.types[k]
		if ct.kind == stLOB {
			return tablePlan{}, fmt.Errorf("mysql: table %q: key column %q is %s, which InnoDB cannot index in full", t.Name, t.Columns[k].Name, ct.sql)
		}
		keyBytes += ct.maxBytes
	}
	if keyBytes > maxKeyBytes {
		return tablePlan{}, fmt.Errorf("mysql: table %q: the primary key needs up to %d bytes, InnoDB index keys are limited to %d bytes (a utf8mb4 character takes up to 4)", t.Name, keyBytes, maxKeyBytes)
	}

	// Candidates: movable non-key columns, longest first, then by position, so that the plan depends
	// on the schema alone.
	var cand []int
	for i, ct := range p.types {
		if !isKey[i] && (ct.kind == stVarChar || ct.kind == stVarBin) {
			cand = append(cand, i)
		}
	}
	sort.SliceStable(cand, func(a, b int) bool { return p.types[cand[a]].maxBytes > p.types[cand[b]].maxBytes })

	rowBytes := func() int {
		n := (nullable + 7) / 8
		for _, ct := range p.types {
			n += ct.rowBytes
		}
		return n
	}
	for _, i := range cand {
		if rowBytes() <= rowBudget {
			break
		}
		p.types[i].moveOff()
	}
	pageBytes := func() int {
		// Record header, transaction id and roll pointer, null bitmap, then the columns.
		n := 5 + 13 + (nullable+7)/8
		for i, ct := range p.types {
			if isKey[i] && !ct.fixedLen {
				// Key columns never leave the clustered index record.
				n += ct.maxBytes + lenBytes(ct.maxBytes)
				continue
			}
			n += ct.inPage()
		}
		return n
	}
	for _, i := range cand {
		if pageBytes() <= inPageBudget {
			break
		}
		// Only short columns gain page room when moved: long ones may already go off the page.
		if ct := p.types[i]; ct.kind != stLOB && ct.inPage() > extern {
			p.types[i].moveOff()
		}
	}
	if n := rowBytes(); n > maxRowBytes {
		return tablePlan{}, fmt.Errorf("mysql: table %q needs %d bytes per row even with every movable column as text, InnoDB allows %d", t.Name, n, maxRowBytes)
	}
	return p, nil
}

// Current-time defaults. Mirror sessions run in UTC, so CURRENT_TIMESTAMP is UTC there; the server's
// local time is not the source's, which makes UTC the only stable choice for getdate(),
// getutcdate() and sysdatetimeoffset() alike.

func nowExpr(expr string) func(int) string { return func(int) string { return expr } }

func nowTimestamp(fsp int) string { return fmt.Sprintf("(UTC_TIMESTAMP(%d))", fsp) }

// Literal defaults, typed to the column's kind. Each gets the literal as typemap unescaped it and
// fails with a reason when the text is not a value of the kind.

func litBit(raw string) (string, error) {
	switch s := strings.TrimSpace(raw); s {
	case "0", "1":
		return s, nil
	case "true", "TRUE", "True":
		return "1", nil
	case "false", "FALSE", "False":
		return "0", nil
	default:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not a bit value", raw)
		}
		// SQL Server turns any non-zero value into 1.
		if n != 0 {
			return "1", nil
		}
		return "0", nil
	}
}

// litInt accepts an integer within the column's range: MySQL refuses a table whose default does not
// fit its column.
func litInt(lo, hi int64) func(string) (string, error) {
	return func(raw string) (string, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not an integer", raw)
		}
		if n < lo || n > hi {
			return "", fmt.Errorf("%d is outside the column's range %d..%d", n, lo, hi)
		}
		return strconv.FormatInt(n, 10), nil
	}
}

func litDecimal(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if !isDecimalText(s) {
		return "", fmt.Errorf("%q is not a decimal", raw)
	}
	return s, nil
}

func isDecimalText(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] >= '0' && s[i] <= '9':
			digits++
		case s[i] == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

func litFloat(raw string) (string, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil {
		return "", fmt.Errorf("%q is not a number", raw)
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

var dateLayouts = []string{
	"2006-01-02T15:04:05.9999999Z07:00",
	"2006-01-02 15:04:05.9999999Z07:00",
	"2006-01-02 15:04:05.9999999 -07:00",
	"2006-01-02T15:04:05.9999999",
	"2006-01-02 15:04:05.9999999",
	"2006-01-02",
	"20060102 15:04:05.9999999",
	"20060102",
}

// litDateTime renders a date (dateOnly) or datetime literal; toUTC keeps the instant of a
// datetimeoffset, as its values are stored.
func litDateTime(dateOnly, toUTC bool) func(string) (string, error) {
	return func(raw string) (string, error) {
		s := strings.TrimSpace(raw)
		var tm time.Time
		ok := false
		for _, l := range dateLayouts {
			var err error
			if tm, err = time.Parse(l, s); err == nil {
				ok = true
				break
			}
		}
		if !ok {
			return "", fmt.Errorf("%q is not a date this dialect can read", raw)
		}
		if toUTC {
			tm = tm.UTC()
		}
		if tm.Year() < minYear {
			return "", fmt.Errorf("%q is before year %d", raw, minYear)
		}
		if dateOnly {
			return "'" + tm.Format("2006-01-02") + "'", nil
		}
		return "'" + tm.Format("2006-01-02 15:04:05.999999") + "'", nil
	}
}

func litTime(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	for _, layout := range []string{"15:04:05.9999999", "15:04:05", "15:04"} {
		if tm, err := time.Parse(layout, s); err == nil {
			return "'" + tm.Format("15:04:05.999999") + "'", nil
		}
	}
	return "", fmt.Errorf("%q is not a time", raw)
}

func litUUID(raw string) (string, error) {
	u := strings.ToLower(strings.Trim(strings.TrimSpace(raw), "{}"))
	if len(u) != 36 || u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-' {
		return "", fmt.Errorf("%q is not a uniqueidentifier", raw)
	}
	if _, err := hex.DecodeString(strings.ReplaceAll(u, "-", "")); err != nil {
		return "", fmt.Errorf("%q is not a uniqueidentifier", raw)
	}
	return "'" + u + "'", nil
}

func litBinary(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if _, err := hex.DecodeString(h); err != nil || !strings.HasPrefix(strings.ToLower(s), "0x") {
		return "", fmt.Errorf("%q is not a binary literal", raw)
	}
	return "X'" + strings.ToUpper(h) + "'", nil
}

// litString keeps the text as it is, spaces included.
func litString(raw string) (string, error) { return stringLiteral(raw), nil }

// encoder appends one non-NULL value in LOAD DATA's text form (fields separated by tabs, escaped with
// backslash). It returns a reason when the value cannot be stored.
type encoder func(b []byte, v any) ([]byte, string)

func wrongType(v any, want string) string {
	return fmt.Sprintf("got a %T, want %s", v, want)
}

func encBool(b []byte, v any) ([]byte, string) {
	x, ok := v.(bool)
	if !ok {
		return b, wrongType(v, "bool")
	}
	if x {
		return append(b, '1'), ""
	}
	return append(b, '0'), ""
}

func encInt(b []byte, v any) ([]byte, string) {
	x, ok := v.(int64)
	if !ok {
		return b, wrongType(v, "int64")
	}
	return strconv.AppendInt(b, x, 10), ""
}

func encTinyInt(b []byte, v any) ([]byte, string) {
	x, ok := v.(int64)
	if !ok {
		return b, wrongType(v, "int64")
	}
	if x < 0 || x > 255 {
		return b, fmt.Sprintf("%d is outside tinyint unsigned (0..255)", x)
	}
	return strconv.AppendInt(b, x, 10), ""
}

func encDecimal(b []byte, v any) ([]byte, string) {
	x, ok := v.(typemap.DecimalValue)
	if !ok {
		return b, wrongType(v, "typemap.DecimalValue")
	}
	// Canonical decimal text holds only digits, '-' and '.': nothing to escape.
	return append(b, x...), ""
}

// encReal rounds the value to the float32 that a real holds, and sends the shortest text of that
// float32's exact double: the shortest float32 text (3.4028235e+38) reads back as a double above
// FLT_MAX, which MySQL refuses.
func encReal(b []byte, v any) ([]byte, string) {
	x, ok := v.(float64)
	if !ok {
		return b, wrongType(v, "float64")
	}
	f := float32(x)
	if math.IsNaN(x) || math.IsInf(float64(f), 0) {
		return b, "NaN, infinities and values beyond ±3.4028235e+38 do not fit a real"
	}
	return strconv.AppendFloat(b, float64(f), 'g', -1, 64), ""
}

func encFloat(b []byte, v any) ([]byte, string) {
	x, ok := v.(float64)
	if !ok {
		return b, wrongType(v, "float64")
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return b, "NaN and infinities do not fit a MySQL float column"
	}
	return strconv.AppendFloat(b, x, 'g', -1, 64), ""
}

// minYear is the first year MySQL holds reliably: DATE and DATETIME are documented from 1000-01-01.
const minYear = 1000

func encDate(b []byte, v any) ([]byte, string) {
	x, ok := v.(time.Time)
	if !ok {
		return b, wrongType(v, "time.Time")
	}
	y, m, d := x.Date()
	return appendDate(b, y, m, d)
}

func appendDate(b []byte, y int, m time.Month, d int) ([]byte, string) {
	if y < minYear {
		return b, fmt.Sprintf("a date before year %d, which MySQL does not hold", minYear)
	}
	b = append2(b, int64(y/100))
	b = append2(b, int64(y%100))
	b = append(b, '-')
	b = append2(b, int64(m))
	b = append(b, '-')
	return append2(b, int64(d)), ""
}

func encDateTime(toUTC bool) encoder {
	return func(b []byte, v any) ([]byte, string) {
		x, ok := v.(time.Time)
		if !ok {
			return b, wrongType(v, "time.Time")
		}
		if toUTC {
			x = x.UTC()
		}
		x = typemap.RoundToMicro(x)
		if x.Year() < minYear {
			return b, fmt.Sprintf("a datetime before year %d, which MySQL does not hold", minYear)
		}
		return appendDateTime(b, x), ""
	}
}

// appendDateTime appends "YYYY-MM-DD HH:MM:SS.ffffff" (the year is 1000..9999 here); it is the bulk
// path's hottest formatter, so it avoids time.AppendFormat's layout parsing.
func appendDateTime(b []byte, x time.Time) []byte {
	y, mo, d := x.Date()
	h, mi, s := x.Clock()
	return appendWallClock(b, y, mo, d, h, mi, s, int64(x.Nanosecond()/1000))
}

// appendWallClock appends a wall clock as appendDateTime does.
func appendWallClock(b []byte, y int, mo time.Month, d, h, mi, s int, us int64) []byte {
	b = append2(b, int64(y/100))
	b = append2(b, int64(y%100))
	b = append(b, '-')
	b = append2(b, int64(mo))
	b = append(b, '-')
	b = append2(b, int64(d))
	b = append(b, ' ')
	b = append2(b, int64(h))
	b = append(b, ':')
	b = append2(b, int64(mi))
	b = append(b, ':')
	b = append2(b, int64(s))
	b = append(b, '.')
	return appendMicros(b, us)
}

// appendMicros appends 0..999999 as six digits.
func appendMicros(b []byte, us int64) []byte {
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = byte('0' + us%10)
		us /= 10
	}
	return append(b, d[:]...)
}

func encTime(b []byte, v any) ([]byte, string) {
	x, ok := v.(typemap.TimeOfDay)
	if !ok {
		return b, wrongType(v, "typemap.TimeOfDay")
	}
	return appendTime(b, x)
}

func appendTime(b []byte, x typemap.TimeOfDay) ([]byte, string) {
	us := int64(x.RoundToMicro()) / 1000
	if us < 0 {
		return b, "negative time of day"
	}
	sec := us / 1e6
	b = append2(b, sec/3600)
	b = append(b, ':')
	b = append2(b, sec/60%60)
	b = append(b, ':')
	b = append2(b, sec%60)
	b = append(b, '.')
	return appendMicros(b, us%1e6), ""
}

func append2(b []byte, n int64) []byte {
	if n >= 100 {
		return strconv.AppendInt(b, n, 10)
	}
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

func encHex(b []byte, v any) ([]byte, string) {
	x, ok := v.([]byte)
	if !ok {
		return b, wrongType(v, "[]byte")
	}
	return hex.AppendEncode(b, x), ""
}

func encUUID(b []byte, v any) ([]byte, string) {
	x, ok := v.(typemap.UUID)
	if !ok {
		return b, wrongType(v, "typemap.UUID")
	}
	return appendUUID(b, x), ""
}

func appendUUID(b []byte, x typemap.UUID) []byte {
	var tmp [32]byte
	hex.Encode(tmp[:], x[:])
	b = append(b, tmp[0:8]...)
	b = append(b, '-')
	b = append(b, tmp[8:12]...)
	b = append(b, '-')
	b = append(b, tmp[12:16]...)
	b = append(b, '-')
	b = append(b, tmp[16:20]...)
	b = append(b, '-')
	return append(b, tmp[20:32]...)
}

func encString(b []byte, v any) ([]byte, string) {
	x, ok := v.(string)
	if !ok {
		return b, wrongType(v, "string")
	}
	return appendEscaped(b, x), ""
}

// appendEscaped appends s with LOAD DATA's backslash escapes for the characters that would end a field
// or a line, the escape itself, and NUL.
func appendEscaped[S ~string | ~[]byte](b []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case 0:
			esc = '0'
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\', esc)
		start = i + 1
	}
	return append(b, s[start:]...)
}

// rawEncoder is the raw encoder of a column: it appends the LOAD DATA field of a value's wire text,
// parsed with typemap's typed parsers, exactly as the column's encoder appends the decoded value
// (conformance.RawEncoders checks it). Text that is not a value of the column's type fails with the
// parser's *typemap.ValueError; a value MySQL cannot hold with the encoder's reason. A rawEncoder may
// keep a scratch buffer: it serves one load, in one goroutine.
type rawEncoder func(b, text []byte) ([]byte, error)

// rawEncoders is the type table's raw column: for each kind, the factory of a column's rawEncoder. It
// is kept beside the rules rather than in them so that the two encoders of a kind read side by side.
var rawEncoders = map[typemap.Kind]func(t typemap.Type) rawEncoder{
	typemap.Bit:              func(typemap.Type) rawEncoder { return rawBool },
	typemap.TinyInt:          rawInt,
	typemap.SmallInt:         rawInt,
	typemap.Int:              rawInt,
	typemap.BigInt:           rawInt,
	typemap.Decimal:          rawDecimal,
	typemap.Money:            rawDecimal,
	typemap.SmallMoney:       rawDecimal,
	typemap.Float:            rawFloat(encFloat),
	typemap.Real:             rawFloat(encReal),
	typemap.Date:             rawDate,
	typemap.Time:             rawTime,
	typemap.SmallDateTime:    rawDateTime(false),
	typemap.DateTime:         rawDateTime(false),
	typemap.DateTime2:        rawDateTime(false),
	typemap.DateTimeOffset:   rawDateTime(true),
	typemap.Char:             rawString,
	typemap.NChar:            rawString,
	typemap.VarChar:          rawString,
	typemap.NVarChar:         rawString,
	typemap.SysName:          rawString,
	typemap.Text:             rawString,
	typemap.NText:            rawString,
	typemap.XML:              rawString,
	typemap.Geography:        rawString,
	typemap.Geometry:         rawString,
	typemap.SQLVariant:       rawString,
	typemap.HierarchyID:      rawString,
	typemap.Binary:           rawHex,
	typemap.VarBinary:        rawHex,
	typemap.Image:            rawHex,
	typemap.RowVersion:       rawHex,
	typemap.UniqueIdentifier: func(typemap.Type) rawEncoder { return rawUUID },
}

// rawEncoderFor returns the raw encoder of a column of type t.
func rawEncoderFor(t typemap.Type) (rawEncoder, error) {
	f, ok := rawEncoders[t.Kind]
	if !ok {
		return nil, fmt.Errorf("type %s has no MySQL mapping", t)
	}
	return f(t), nil
}

// fitError is the reason an encoder gives for a value MySQL cannot hold, as an error.
type fitError string

func (e fitError) Error() string { return string(e) }

// reason turns an encoder's reason into the raw encoder's error.
func reason(b []byte, why string) ([]byte, error) {
	if why != "" {
		return b, fitError(why)
	}
	return b, nil
}

func rawBool(b, text []byte) ([]byte, error) {
	x, err := typemap.ParseBit(text)
	if err != nil {
		return b, err
	}
	if x {
		return append(b, '1'), nil
	}
	return append(b, '0'), nil
}

// rawInt serves every integer kind: the parser checks the type's range, tinyint's included.
func rawInt(t typemap.Type) rawEncoder {
	parse := typemap.IntParser(t)
	return func(b, text []byte) ([]byte, error) {
		x, err := parse(text)
		if err != nil {
			return b, err
		}
		return strconv.AppendInt(b, x, 10), nil
	}
}

// rawDecimal appends the canonical decimal text: digits, '-' and '.', nothing to escape.
func rawDecimal(t typemap.Type) rawEncoder {
	parse := typemap.DecimalParser(t)
	return func(b, text []byte) ([]byte, error) { return parse(b, text) }
}

func rawFloat(enc encoder) func(t typemap.Type) rawEncoder {
	return func(t typemap.Type) rawEncoder {
		parse := typemap.FloatParser(t)
		return func(b, text []byte) ([]byte, error) {
			x, err := parse(text)
			if err != nil {
				return b, err
			}
			return reason(enc(b, x))
		}
	}
}

func rawDate(t typemap.Type) rawEncoder {
	parse := typemap.DateTimeParser(t)
	return func(b, text []byte) ([]byte, error) {
		w, err := parse(text)
		if err != nil {
			return b, err
		}
		y, m, d := w.Date()
		return reason(appendDate(b, y, m, d))
	}
}

func rawTime(t typemap.Type) rawEncoder {
	parse := typemap.TimeParser(t)
	return func(b, text []byte) ([]byte, error) {
		x, err := parse(text)
		if err != nil {
			return b, err
		}
		return reason(appendTime(b, x))
	}
}

// lastMicroOf9999 is 9999-12-31 23:59:59 in Unix seconds, where typemap.RoundToMicro clamps.
const lastSecondOf9999 = 253402300799

// rawDateTime writes a date/time's wall clock (toUTC: its instant in UTC), rounded half up to the
// microsecond as typemap.RoundToMicro rounds it.
func rawDateTime(toUTC bool) func(t typemap.Type) rawEncoder {
	return func(t typemap.Type) rawEncoder {
		parse := typemap.DateTimeParser(t)
		return func(b, text []byte) ([]byte, error) {
			w, err := parse(text)
			if err != nil {
				return b, err
			}
			sec := w.Wall
			if toUTC {
				sec = w.Unix()
			}
			us := (int64(w.Nanos) + 500) / 1000
			if us == 1e6 {
				if sec == lastSecondOf9999 {
					us = 999999 // the clamp: rounding up would leave year 9999
				} else {
					sec, us = sec+1, 0
				}
			}
			r := typemap.WallTime{Wall: sec}
			y, mo, d := r.Date()
			h, mi, s := r.Clock()
			if y < minYear {
				return b, fitError(fmt.Sprintf("a datetime before year %d, which MySQL does not hold", minYear))
			}
			return appendWallClock(b, y, mo, d, h, mi, s, us), nil
		}
	}
}

func rawString(t typemap.Type) rawEncoder {
	check := typemap.TextParser(t)
	return func(b, text []byte) ([]byte, error) {
		if err := check(text); err != nil {
			return b, err
		}
		return appendEscaped(b, text), nil
	}
}

// rawHex decodes the value into a scratch buffer of its own and appends it as hex.
func rawHex(t typemap.Type) rawEncoder {
	parse := typemap.BinaryParser(t)
	var scratch []byte
	return func(b, text []byte) ([]byte, error) {
		var err error
		if scratch, err = parse(scratch[:0], text); err != nil {
			return b, err
		}
		return hex.AppendEncode(b, scratch), nil
	}
}

func rawUUID(b, text []byte) ([]byte, error) {
	u, err := typemap.ParseUUID(text)
	if err != nil {
		return b, err
	}
	return appendUUID(b, u), nil
}

// Readers. Read queries through prepared statements, so the driver hands the binary protocol's
// values: int64 for integers, float32 for FLOAT, float64 for DOUBLE, time.Time in UTC for dates and
// datetimes (parseTime), and bytes for everything else (DECIMAL and TIME as text).

func unexpected(v any, what string) error {
	return fmt.Errorf("the driver returned a %T for a %s column", v, what)
}

// readAs hands on a value that the driver already returns in its normalised type T.
func readAs[T any](what string) func(any) (any, error) {
	return func(v any) (any, error) {
		x, ok := v.(T)
		if !ok {
			return nil, unexpected(v, what)
		}
		return x, nil
	}
}

var (
	readInt      = readAs[int64]("integer")
	readFloat    = readAs[float64]("double")
	readDateTime = readAs[time.Time]("date or datetime")
	readBytes    = readAs[[]byte]("binary")
)

func readBool(v any) (any, error) {
	n, ok := v.(int64)
	if !ok {
		return nil, unexpected(v, "tinyint(1)")
	}
	return n != 0, nil
}

func readDecimal(v any) (any, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, unexpected(v, "decimal")
	}
	return typemap.DecimalValue(b), nil
}

func readReal(v any) (any, error) {
	f, ok := v.(float32)
	if !ok {
		return nil, unexpected(v, "float")
	}
	return float64(f), nil
}

// timeText parses MySQL's "HH:MM:SS[.ffffff]" as typemap reads a time(7).
var timeText = typemap.DecoderFor(typemap.Type{Kind: typemap.Time, Precision: 7})

func readTimeOfDay(v any) (any, error) {
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case string:
		b = []byte(x)
	default:
		return nil, unexpected(v, "time")
	}
	tod, err := timeText(b)
	if err != nil {
		return nil, fmt.Errorf("the driver returned a time that is not one: %w", err)
	}
	return tod, nil
}

func readString(v any) (any, error) {
	switch x := v.(type) {
	case []byte:
		return string(x), nil
	case string:
		return x, nil
	}
	return nil, unexpected(v, "text")
}

var uuidText = typemap.DecoderFor(typemap.Type{Kind: typemap.UniqueIdentifier})

func readUUID(v any) (any, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, unexpected(v, "uniqueidentifier")
	}
	u, err := uuidText(b)
	if err != nil {
		return nil, fmt.Errorf("the driver returned a uniqueidentifier that is not one: %w", err)
	}
	return u, nil
}

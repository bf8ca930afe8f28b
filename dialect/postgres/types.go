package postgres

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// This file is the type table (docs/TYPES.md, PostgreSQL column): one rule per SQL Server type kind,
// which every other part of the dialect consults. The DDL type and the binary COPY encoding of a kind
// come from the same rule, so that they cannot disagree; staging tables copy the table's own column
// types (CREATE TABLE … AS … WITH NO DATA), so the same encoders serve them.

// rule is how one SQL Server type kind lives in PostgreSQL.
type rule struct {
	// ddl renders the column type.
	ddl func(t typemap.Type) string
	// encode returns the binary COPY encoder of a column of type t. nul is the column's replacement of
	// U+0000, which only the text kinds need (PostgreSQL text cannot hold it).
	encode func(t typemap.Type, nul func(string) string) encodeFunc
	// read turns what pgx decodes from the column (binary format) into the plain value that
	// dialect.TableEditor.Read hands out.
	read func(v any) (any, error)
	// literal renders a literal default of the column, cast where the literal alone would be text;
	// ddl is the column's type. ok is false when the literal does not fit the column (the default is
	// dropped with a warning).
	literal func(d *typemap.Default, ddl string) (expr string, ok bool)
	// clock says that the current-time defaults (getdate() and the like) fit the column; newID that
	// newid() does.
	clock, newID bool
}

// types is the type table. Staging type: the table's (see above). Read: every type is read as pgx
// decodes its binary format, then normalised.
var types = map[typemap.Kind]rule{
	typemap.Bit:      {ddl: fixed("boolean"), encode: always(encodeBool), read: readAs[bool], literal: boolLiteral},
	typemap.TinyInt:  {ddl: fixed("smallint"), encode: always(encodeInt2), read: readInt, literal: numberLiteral},
	typemap.SmallInt: {ddl: fixed("smallint"), encode: always(encodeInt2), read: readInt, literal: numberLiteral},
	typemap.Int:      {ddl: fixed("integer"), encode: always(encodeInt4), read: readInt, literal: numberLiteral},
	typemap.BigInt:   {ddl: fixed("bigint"), encode: always(encodeInt8), read: readInt, literal: numberLiteral},
	// money and smallmoney are numeric(19,4) and numeric(10,4): NumericPrecisionScale says so.
	typemap.Decimal:    {ddl: numericType, encode: encodeNumericOf, read: readNumeric, literal: numberLiteral},
	typemap.Money:      {ddl: numericType, encode: encodeNumericOf, read: readNumeric, literal: numberLiteral},
	typemap.SmallMoney: {ddl: numericType, encode: encodeNumericOf, read: readNumeric, literal: numberLiteral},
	typemap.Float:      {ddl: fixed("double precision"), encode: always(encodeFloat8), read: readFloat, literal: numberLiteral},
	typemap.Real:       {ddl: fixed("real"), encode: always(encodeFloat4), read: readFloat, literal: numberLiteral},
	typemap.Date:       {ddl: fixed("date"), encode: always(encodeDate), read: readAs[time.Time], literal: dateLiteral, clock: true},
	typemap.Time:       {ddl: withFraction("time"), encode: always(encodeTime), read: readTimeOfDay, literal: timeLiteral, clock: true},
	// datetime and smalldatetime also take a number of days since 1900-01-01 as their default.
	typemap.SmallDateTime:  {ddl: fixed("timestamp(0)"), encode: always(encodeTimestamp), read: readAs[time.Time], literal: timestampLiteral(true), clock: true},
	typemap.DateTime:       {ddl: fixed("timestamp(3)"), encode: always(encodeTimestamp), read: readAs[time.Time], literal: timestampLiteral(true), clock: true},
	typemap.DateTime2:      {ddl: withFraction("timestamp"), encode: always(encodeTimestamp), read: readAs[time.Time], literal: timestampLiteral(false), clock: true},
	typemap.DateTimeOffset: {ddl: withFraction("timestamptz"), encode: always(encodeTimestamptz), read: readInstant, literal: timestamptzLiteral, clock: true},
	// char(n) is PostgreSQL's blank-padded char(n), as in SQL Server (see the package doc).
	typemap.Char:     text(sized("char")),
	typemap.NChar:    text(sized("char")),
	typemap.VarChar:  text(sized("varchar")),
	typemap.NVarChar: text(sized("varchar")),
	typemap.Text:     text(fixed("text")),
	typemap.NText:    text(fixed("text")),
	typemap.SysName:  text(fixed("varchar(128)")),
	// The types PostgreSQL has no equivalent of are kept as their text form (WKT, /1/2/, …).
	typemap.XML:              text(fixed("text")),
	typemap.HierarchyID:      text(fixed("text")),
	typemap.Geography:        text(fixed("text")),
	typemap.Geometry:         text(fixed("text")),
	typemap.SQLVariant:       text(fixed("text")),
	typemap.Binary:           {ddl: fixed("bytea"), encode: always(encodeBytea), read: readAs[[]byte], literal: bytesLiteral},
	typemap.VarBinary:        {ddl: fixed("bytea"), encode: always(encodeBytea), read: readAs[[]byte], literal: bytesLiteral},
	typemap.Image:            {ddl: fixed("bytea"), encode: always(encodeBytea), read: readAs[[]byte], literal: bytesLiteral},
	typemap.RowVersion:       {ddl: fixed("bytea"), encode: always(encodeBytea), read: readAs[[]byte], literal: bytesLiteral},
	typemap.UniqueIdentifier: {ddl: fixed("uuid"), encode: always(encodeUUID), read: readUUID, literal: uuidLiteral, newID: true},
}

// text is the rule of a text kind with the column type ddl: every current-time and newid() default
// fits it, as SQL Server converts them to text.
func text(ddl func(typemap.Type) string) rule {
	return rule{ddl: ddl, encode: encodeTextOf, read: readAs[string], literal: textLiteral, clock: true, newID: true}
}

// ruleOf returns the rule of t's kind.
func ruleOf(t typemap.Type) (rule, error) {
	r, ok := types[t.Kind]
	if !ok {
		return rule{}, fmt.Errorf("postgres: no PostgreSQL type for SQL Server type %s", t.Kind)
	}
	return r, nil
}

// columnType renders t as its PostgreSQL column type.
func columnType(t typemap.Type) (string, error) {
	r, err := ruleOf(t)
	if err != nil {
		return "", err
	}
	return r.ddl(t), nil
}

func fixed(name string) func(typemap.Type) string { return func(typemap.Type) string { return name } }

// withFraction renders name(p) with SQL Server's fractional-second digits capped at PostgreSQL's 6
// (values are rounded half up to the microsecond on the way in: TYPES.md's one lossy conversion).
func withFraction(name string) func(typemap.Type) string {
	return func(t typemap.Type) string { return name + "(" + strconv.Itoa(min(max(t.Precision, 0), 6)) + ")" }
}

// sized renders name(n), or text for (max).
func sized(name string) func(typemap.Type) string {
	return func(t typemap.Type) string {
		if t.Length <= 0 {
			return "text"
		}
		return name + "(" + strconv.Itoa(t.Length) + ")"
	}
}

func numericType(t typemap.Type) string {
	p, s := t.NumericPrecisionScale()
	return "numeric(" + strconv.Itoa(p) + "," + strconv.Itoa(s) + ")"
}

// Literal defaults. Each validates the literal here, so that a malformed one is dropped rather than
// failing CREATE TABLE.

func boolLiteral(d *typemap.Default, _ string) (string, bool) {
	lit := strings.TrimSpace(d.Literal)
	switch strings.ToLower(lit) {
	case "0", "false", "0.0":
		return "false", true
	case "1", "true", "1.0":
		return "true", true
	}
	if isNumberText(lit) {
		// SQL Server converts any non-zero number to 1.
		return "true", true
	}
	return "", false
}

// numberLiteral renders a bare number, which assignment coerces to the column's type; that also
// rounds 1.5 into an integer column as SQL Server does, where a quoted '1.5'::integer would fail the
// table.
func numberLiteral(d *typemap.Default, _ string) (string, bool) {
	lit := strings.TrimSpace(d.Literal)
	if !isNumberText(lit) {
		return "", false
	}
	return strings.TrimPrefix(lit, "+"), true
}

func textLiteral(d *typemap.Default, _ string) (string, bool) { return quoteLiteral(d.Literal), true }

func uuidLiteral(d *typemap.Default, _ string) (string, bool) {
	lit := strings.TrimSpace(d.Literal)
	if !isUUIDText(lit) {
		return "", false
	}
	return "'" + strings.ToLower(lit) + "'::uuid", true
}

// bytesLiteral takes a 0x… number, or a string as its UTF-8 bytes (SQL Server converts varchar to
// binary byte for byte).
func bytesLiteral(d *typemap.Default, _ string) (string, bool) {
	if d.IsString {
		return "convert_to(" + quoteLiteral(d.Literal) + ", 'UTF8')", true
	}
	lit := strings.TrimSpace(d.Literal)
	hex := strings.TrimPrefix(strings.TrimPrefix(lit, "0x"), "0X")
	if len(hex)%2 != 0 || !isHex(hex) {
		return "", false
	}
	return `'\x` + strings.ToLower(hex) + `'::bytea`, true
}

// The temporal literals accept the spellings that SQL Server defaults use and render them in ISO
// form, so that the server's DateStyle cannot change their meaning.

var dateLayouts = []string{
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04",
	"2006-01-02", "20060102 15:04:05.999999999", "20060102",
}

// parseLiteralTime parses a string default with the first of layouts that fits.
func parseLiteralTime(d *typemap.Default, layouts []string) (time.Time, bool) {
	if !d.IsString {
		return time.Time{}, false
	}
	lit := strings.TrimSpace(d.Literal)
	for _, layout := range layouts {
		if ts, err := time.Parse(layout, lit); err == nil {
			return ts, true
		}
	}
	return time.Time{}, false
}

func dateLiteral(d *typemap.Default, _ string) (string, bool) {
	ts, ok := parseLiteralTime(d, dateLayouts)
	if !ok {
		return "", false
	}
	return "'" + ts.Format("2006-01-02") + "'::date", true
}

func timeLiteral(d *typemap.Default, ddl string) (string, bool) {
	ts, ok := parseLiteralTime(d, []string{"15:04:05.999999999", "15:04"})
	if !ok {
		return "", false
	}
	return "'" + ts.Format("15:04:05.999999999") + "'::" + ddl, true
}

// timestampLiteral renders a naive timestamp default; with days it also takes a number of days since
// 1900-01-01, as datetime and smalldatetime do (default (0)).
func timestampLiteral(days bool) func(d *typemap.Default, ddl string) (string, bool) {
	return func(d *typemap.Default, ddl string) (string, bool) {
		if !d.IsString {
			if !days {
				return "", false
			}
			n, err := strconv.Atoi(strings.TrimSpace(d.Literal))
			if err != nil || n < -53690 || n > 2958463 {
				return "", false
			}
			ts := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n)
			return "'" + ts.Format("2006-01-02 15:04:05") + "'::" + ddl, true
		}
		ts, ok := parseLiteralTime(d, dateLayouts)
		if !ok {
			return "", false
		}
		return "'" + ts.Format("2006-01-02 15:04:05.999999999") + "'::" + ddl, true
	}
}

var offsetLayouts = append([]string{
	"2006-01-02 15:04:05.999999999 -07:00", "2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
}, dateLayouts...)

func timestamptzLiteral(d *typemap.Default, ddl string) (string, bool) {
	ts, ok := parseLiteralTime(d, offsetLayouts)
	if !ok {
		return "", false
	}
	return "'" + ts.Format("2006-01-02 15:04:05.999999999-07:00") + "'::" + ddl, true
}

func isNumberText(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func isUUIDText(s string) bool {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isHex(s[i : i+1]) {
			return false
		}
	}
	return true
}

// encodeFunc appends one non-nil value of a column as a binary COPY field: its int32 length and its
// bytes in the binary format of the column's PostgreSQL type. It is chosen once per column and load,
// so the row loop has no type dispatch beyond the assertion each function makes. A value the column
// cannot hold is a *dialect.ValueError without column and row, which the loader fills in.
type encodeFunc func(buf []byte, v any) ([]byte, error)

// rawFunc is the raw encoder of a column: it appends the binary COPY field of a value's wire text,
// parsed with typemap's typed parsers, exactly as the column's encodeFunc appends the decoded value
// (conformance.RawEncoders checks it). Text that is not a value of the column's type fails with the
// parser's *typemap.ValueError; a value the column cannot hold, as the encodeFunc fails. A rawFunc
// may keep a scratch buffer: it serves one load, in one goroutine.
type rawFunc func(buf, text []byte) ([]byte, error)

// always is the encoder factory of a kind whose encoding does not depend on the column.
func always(enc encodeFunc) func(typemap.Type, func(string) string) encodeFunc {
	return func(typemap.Type, func(string) string) encodeFunc { return enc }
}

// rawEncoders is the type table's raw column: for each kind, the factory of a column's rawFunc (nul
// as in rule.encode). It is kept beside the rules rather than in them so that the two encoders of a
// kind read side by side below.
var rawEncoders = map[typemap.Kind]func(t typemap.Type, nul func(string) string) rawFunc{
	typemap.Bit:              func(typemap.Type, func(string) string) rawFunc { return rawBool },
	typemap.TinyInt:          rawInt(appendInt2),
	typemap.SmallInt:         rawInt(appendInt2),
	typemap.Int:              rawInt(appendInt4),
	typemap.BigInt:           rawInt(appendInt8),
	typemap.Decimal:          rawNumeric,
	typemap.Money:            rawNumeric,
	typemap.SmallMoney:       rawNumeric,
	typemap.Float:            rawFloat(appendFloat8),
	typemap.Real:             rawFloat(appendFloat4),
	typemap.Date:             rawWall(func(buf []byte, w typemap.WallTime) ([]byte, error) { return appendDate(buf, w.Wall) }),
	typemap.Time:             rawTime,
	typemap.SmallDateTime:    rawWall(appendTimestamp),
	typemap.DateTime:         rawWall(appendTimestamp),
	typemap.DateTime2:        rawWall(appendTimestamp),
	typemap.DateTimeOffset:   rawWall(appendTimestamptz),
	typemap.Char:             rawText,
	typemap.NChar:            rawText,
	typemap.VarChar:          rawText,
	typemap.NVarChar:         rawText,
	typemap.Text:             rawText,
	typemap.NText:            rawText,
	typemap.SysName:          rawText,
	typemap.XML:              rawText,
	typemap.HierarchyID:      rawText,
	typemap.Geography:        rawText,
	typemap.Geometry:         rawText,
	typemap.SQLVariant:       rawText,
	typemap.Binary:           rawBytea,
	typemap.VarBinary:        rawBytea,
	typemap.Image:            rawBytea,
	typemap.RowVersion:       rawBytea,
	typemap.UniqueIdentifier: func(typemap.Type, func(string) string) rawFunc { return rawUUID },
}

// rawEncoderOf returns the raw encoder of a column of type t.
func rawEncoderOf(t typemap.Type, nul func(string) string) (rawFunc, error) {
	f, ok := rawEncoders[t.Kind]
	if !ok {
		return nil, fmt.Errorf("postgres: no PostgreSQL type for SQL Server type %s", t.Kind)
	}
	return f(t, nul), nil
}

// typeError is a value of another Go type than the column's rule encodes: the column and row are
// filled in by the caller, like any value that does not fit.
func typeError(v any, want string) error {
	return &dialect.ValueError{Reason: fmt.Sprintf("value of Go type %T where %s was expected", v, want)}
}

// appendLen appends a field's int32 length.
func appendLen(buf []byte, n int) []byte { return binary.BigEndian.AppendUint32(buf, uint32(n)) }

func encodeBool(buf []byte, v any) ([]byte, error) {
	b, ok := v.(bool)
	if !ok {
		return buf, typeError(v, "bool")
	}
	return appendBool(buf, b), nil
}

func rawBool(buf, text []byte) ([]byte, error) {
	b, err := typemap.ParseBit(text)
	if err != nil {
		return buf, err
	}
	return appendBool(buf, b), nil
}

func appendBool(buf []byte, b bool) []byte {
	if b {
		return append(buf, 0, 0, 0, 1, 1)
	}
	return append(buf, 0, 0, 0, 1, 0)
}

// The integer encoders check the range of the PostgreSQL column, so that a bad value is a ValueError
// naming the row rather than a wrapped number.

func encodeInt2(buf []byte, v any) ([]byte, error) { return encodeInt(buf, v, appendInt2) }
func encodeInt4(buf []byte, v any) ([]byte, error) { return encodeInt(buf, v, appendInt4) }
func encodeInt8(buf []byte, v any) ([]byte, error) { return encodeInt(buf, v, appendInt8) }

func encodeInt(buf []byte, v any, appendInt func([]byte, int64) ([]byte, error)) ([]byte, error) {
	n, ok := v.(int64)
	if !ok {
		return buf, typeError(v, "int64")
	}
	return appendInt(buf, n)
}

// rawInt is the raw encoder factory of an integer kind written by appendInt.
func rawInt(appendInt func([]byte, int64) ([]byte, error)) func(typemap.Type, func(string) string) rawFunc {
	return func(t typemap.Type, _ func(string) string) rawFunc {
		parse := typemap.IntParser(t)
		return func(buf, text []byte) ([]byte, error) {
			n, err := parse(text)
			if err != nil {
				return buf, err
			}
			return appendInt(buf, n)
		}
	}
}

func appendInt2(buf []byte, n int64) ([]byte, error) {
	if n < math.MinInt16 || n > math.MaxInt16 {
		return buf, &dialect.ValueError{Reason: "out of range for smallint"}
	}
	return binary.BigEndian.AppendUint16(append(buf, 0, 0, 0, 2), uint16(n)), nil
}

func appendInt4(buf []byte, n int64) ([]byte, error) {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return buf, &dialect.ValueError{Reason: "out of range for integer"}
	}
	return binary.BigEndian.AppendUint32(append(buf, 0, 0, 0, 4), uint32(n)), nil
}

func appendInt8(buf []byte, n int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(append(buf, 0, 0, 0, 8), uint64(n)), nil
}

func encodeFloat8(buf []byte, v any) ([]byte, error) { return encodeFloat(buf, v, appendFloat8) }
func encodeFloat4(buf []byte, v any) ([]byte, error) { return encodeFloat(buf, v, appendFloat4) }

func encodeFloat(buf []byte, v any, appendFloat func([]byte, float64) ([]byte, error)) ([]byte, error) {
	f, ok := v.(float64)
	if !ok {
		return buf, typeError(v, "float64")
	}
	return appendFloat(buf, f)
}

// rawFloat is the raw encoder factory of float and real, written by appendFloat.
func rawFloat(appendFloat func([]byte, float64) ([]byte, error)) func(typemap.Type, func(string) string) rawFunc {
	return func(t typemap.Type, _ func(string) string) rawFunc {
		parse := typemap.FloatParser(t)
		return func(buf, text []byte) ([]byte, error) {
			f, err := parse(text)
			if err != nil {
				return buf, err
			}
			return appendFloat(buf, f)
		}
	}
}

func appendFloat8(buf []byte, f float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(append(buf, 0, 0, 0, 8), math.Float64bits(f)), nil
}

// appendFloat4 narrows a real's float64 back to float32, which is exact for values that came from a
// 4-byte real.
func appendFloat4(buf []byte, f float64) ([]byte, error) {
	r := float32(f)
	if math.IsInf(float64(r), 0) && !math.IsInf(f, 0) {
		return buf, &dialect.ValueError{Reason: "out of range for real"}
	}
	return binary.BigEndian.AppendUint32(append(buf, 0, 0, 0, 4), math.Float32bits(r)), nil
}

// Dates and timestamps count from PostgreSQL's epoch, 2000-01-01 (00:00:00 UTC for timestamptz).
const (
	pgEpochUnix   = 946684800 // 2000-01-01 in Unix seconds
	pgEpochDays   = pgEpochUnix / 86400
	secondsPerDay = 86400
	microsPerSec  = 1_000_000
	// maxEpochSeconds keeps microseconds, and an instant two days off a wall clock, within int64;
	// PostgreSQL's own range ends well inside it.
	maxEpochSeconds = math.MaxInt64/microsPerSec - 2*secondsPerDay
	// maxWallMicros is 9999-12-31 23:59:59.999999, where typemap.RoundToMicro clamps.
	maxWallMicros = (253402300799-pgEpochUnix)*microsPerSec + 999999
)

// wallUnix returns t's wall clock in its own location as seconds since 1970-01-01 00:00:00.
func wallUnix(t time.Time) int64 {
	if loc := t.Location(); loc == time.UTC {
		return t.Unix()
	}
	_, off := t.Zone()
	return t.Unix() + int64(off)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// rawWall is the raw encoder factory of the date and date/time kinds, written by appendWall.
func rawWall(appendWall func([]byte, typemap.WallTime) ([]byte, error)) func(typemap.Type, func(string) string) rawFunc {
	return func(t typemap.Type, _ func(string) string) rawFunc {
		parse := typemap.DateTimeParser(t)
		return func(buf, text []byte) ([]byte, error) {
			w, err := parse(text)
			if err != nil {
				return buf, err
			}
			return appendWall(buf, w)
		}
	}
}

// wallOf returns t's wall clock as typemap.DateTimeParser gives it.
func wallOf(t time.Time) typemap.WallTime {
	wall := wallUnix(t)
	return typemap.WallTime{Wall: wall, Nanos: int32(t.Nanosecond()), Offset: int32(wall - t.Unix())}
}

// encodeDate sends the date of the value's wall clock as days since 2000-01-01.
func encodeDate(buf []byte, v any) ([]byte, error) {
	t, ok := v.(time.Time)
	if !ok {
		return buf, typeError(v, "time.Time")
	}
	return appendDate(buf, wallUnix(t))
}

func appendDate(buf []byte, wall int64) ([]byte, error) {
	days := floorDiv(wall, secondsPerDay) - pgEpochDays
	if days < math.MinInt32 || days > math.MaxInt32 {
		return buf, &dialect.ValueError{Reason: "out of range for date"}
	}
	return binary.BigEndian.AppendUint32(append(buf, 0, 0, 0, 4), uint32(days)), nil
}

// encodeTime sends a time of day as microseconds since midnight, rounded half up (TYPES.md).
func encodeTime(buf []byte, v any) ([]byte, error) {
	t, ok := v.(typemap.TimeOfDay)
	if !ok {
		return buf, typeError(v, "typemap.TimeOfDay")
	}
	return appendTime(buf, t), nil
}

func rawTime(t typemap.Type, _ func(string) string) rawFunc {
	parse := typemap.TimeParser(t)
	return func(buf, text []byte) ([]byte, error) {
		tod, err := parse(text)
		if err != nil {
			return buf, err
		}
		return appendTime(buf, tod), nil
	}
}

func appendTime(buf []byte, t typemap.TimeOfDay) []byte {
	return binary.BigEndian.AppendUint64(append(buf, 0, 0, 0, 8), uint64(int64(t.RoundToMicro())/1000))
}

// wallMicros returns a wall clock as microseconds since 2000-01-01 00:00:00, rounded half up as
// typemap.RoundToMicro rounds (including its clamp at the end of year 9999). The server rounds
// further to the column's precision on input.
func wallMicros(w typemap.WallTime) (micros int64, ok bool) {
	sec := w.Wall - pgEpochUnix
	if sec > maxEpochSeconds || sec < -maxEpochSeconds {
		return 0, false
	}
	ns := int64(w.Nanos)
	floor := sec*microsPerSec + ns/1000
	micros = sec*microsPerSec + (ns+500)/1000
	if micros > maxWallMicros && floor <= maxWallMicros {
		micros = maxWallMicros
	}
	return micros, true
}

// encodeTimestamp sends a naive value's wall clock.
func encodeTimestamp(buf []byte, v any) ([]byte, error) {
	t, ok := v.(time.Time)
	if !ok {
		return buf, typeError(v, "time.Time")
	}
	return appendTimestamp(buf, wallOf(t))
}

func appendTimestamp(buf []byte, w typemap.WallTime) ([]byte, error) {
	us, ok := wallMicros(w)
	if !ok {
		return buf, &dialect.ValueError{Reason: "out of range for timestamp"}
	}
	return binary.BigEndian.AppendUint64(append(buf, 0, 0, 0, 8), uint64(us)), nil
}

// encodeTimestamptz sends a datetimeoffset's instant, rounded on its own wall clock.
func encodeTimestamptz(buf []byte, v any) ([]byte, error) {
	t, ok := v.(time.Time)
	if !ok {
		return buf, typeError(v, "time.Time")
	}
	return appendTimestamptz(buf, wallOf(t))
}

func appendTimestamptz(buf []byte, w typemap.WallTime) ([]byte, error) {
	us, ok := wallMicros(w)
	if !ok {
		return buf, &dialect.ValueError{Reason: "out of range for timestamptz"}
	}
	return binary.BigEndian.AppendUint64(append(buf, 0, 0, 0, 8), uint64(us-int64(w.Offset)*microsPerSec)), nil
}

func encodeUUID(buf []byte, v any) ([]byte, error) {
	u, ok := v.(typemap.UUID)
	if !ok {
		return buf, typeError(v, "typemap.UUID")
	}
	return append(append(buf, 0, 0, 0, 16), u[:]...), nil
}

func rawUUID(buf, text []byte) ([]byte, error) {
	u, err := typemap.ParseUUID(text)
	if err != nil {
		return buf, err
	}
	return append(append(buf, 0, 0, 0, 16), u[:]...), nil
}

func encodeBytea(buf []byte, v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return buf, typeError(v, "[]byte")
	}
	if len(b) > math.MaxInt32 {
		return buf, errTooLongBytea
	}
	return append(appendLen(buf, len(b)), b...), nil
}

var errTooLongBytea = &dialect.ValueError{Reason: "too long for bytea"}

// rawBytea decodes the value straight after its length field, which it then fills in.
func rawBytea(t typemap.Type, _ func(string) string) rawFunc {
	parse := typemap.BinaryParser(t)
	return func(buf, text []byte) ([]byte, error) {
		start := len(buf)
		out, err := parse(append(buf, 0, 0, 0, 0), text)
		if err != nil {
			return buf, err
		}
		n := len(out) - start - 4
		if n > math.MaxInt32 {
			return buf, errTooLongBytea
		}
		binary.BigEndian.PutUint32(out[start:], uint32(n))
		return out, nil
	}
}

// encodeTextOf returns the encoder of a text column: a string's UTF-8 bytes (the server checks them
// against the client encoding, UTF8). PostgreSQL text cannot hold U+0000, so a value that holds it
// goes through nul first, which replaces it with U+FFFD and reports it.
func encodeTextOf(_ typemap.Type, nul func(string) string) encodeFunc {
	return func(buf []byte, v any) ([]byte, error) {
		str, ok := v.(string)
		if !ok {
			return buf, typeError(v, "string")
		}
		return appendText(buf, str, nul)
	}
}

func rawText(t typemap.Type, nul func(string) string) rawFunc {
	check := typemap.TextParser(t)
	return func(buf, text []byte) ([]byte, error) {
		if err := check(text); err != nil {
			return buf, err
		}
		return appendText(buf, text, nul)
	}
}

func appendText[S ~string | ~[]byte](buf []byte, str S, nul func(string) string) ([]byte, error) {
	if indexNUL(str) >= 0 {
		return appendText(buf, nul(string(str)), nil)
	}
	if len(str) > math.MaxInt32 {
		return buf, &dialect.ValueError{Reason: "too long for text"}
	}
	return append(appendLen(buf, len(str)), str...), nil
}

// indexNUL returns the index of the first U+0000 in s, or -1.
func indexNUL[S ~string | ~[]byte](s S) int {
	switch s := any(s).(type) {
	case string:
		return strings.IndexByte(s, 0)
	case []byte:
		return bytes.IndexByte(s, 0)
	}
	return strings.IndexByte(string(s), 0)
}

// Limits of numeric's binary form: int16 digit count and weight, and the largest display scale.
const (
	numericMaxGroups = math.MaxInt16
	numericMaxDScale = 0x3FFF
	numericNegative  = 0x4000
)

// encodeNumericOf returns the encoder of a column of the exact decimal kind t, with t's scale.
func encodeNumericOf(t typemap.Type, _ func(string) string) encodeFunc {
	_, scale := t.NumericPrecisionScale()
	return func(buf []byte, v any) ([]byte, error) {
		d, ok := v.(typemap.DecimalValue)
		if !ok {
			return buf, typeError(v, "typemap.DecimalValue")
		}
		return appendNumeric(buf, d, scale)
	}
}

// rawNumeric parses the text into its canonical decimal form in a scratch buffer of its own, and
// encodes that.
func rawNumeric(t typemap.Type, _ func(string) string) rawFunc {
	_, scale := t.NumericPrecisionScale()
	parse := typemap.DecimalParser(t)
	var scratch []byte
	return func(buf, text []byte) ([]byte, error) {
		var err error
		if scratch, err = parse(scratch[:0], text); err != nil {
			return buf, err
		}
		return appendNumeric(buf, scratch, scale)
	}
}

// appendNumeric encodes exact decimal text as numeric's binary form, without floating point: ndigits,
// weight (of the first base-10000 digit), sign and display scale, all int16, then the base-10000
// digits, with leading and trailing zero digits dropped. The display scale is the column's scale, or
// the text's if it has more fraction digits: the server then rounds to the column's scale, as it did
// for pgx's encoding. Precision overflow is the server's to report (numeric field overflow).
func appendNumeric[S ~string | ~[]byte](buf []byte, s S, scale int) ([]byte, error) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	ip, fp := s, s[len(s):]
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			ip, fp = s[:i], s[i+1:]
			break
		}
	}
	if len(ip)+len(fp) == 0 || !isDigits(ip) || !isDigits(fp) {
		return buf, &dialect.ValueError{Reason: "not an exact decimal number"}
	}
	for len(ip) > 0 && ip[0] == '0' {
		ip = ip[1:]
	}
	dscale := max(len(fp), scale, 0)
	// Digit positions are aligned so that the integer part ends on a group boundary: lead zeros pad it
	// on the left, zeros past the text pad the fraction on the right.
	lead := (4 - len(ip)%4) % 4
	intGroups := (lead + len(ip)) / 4
	groups := intGroups + (len(fp)+3)/4
	if groups > numericMaxGroups || dscale > numericMaxDScale {
		return buf, &dialect.ValueError{Reason: "out of range for numeric"}
	}
	weight := intGroups - 1
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	nd, kept := 0, 0 // digits written, and written up to the last nonzero one
	for g := range groups {
		x := 0
		for k := g*4 - lead; k < g*4-lead+4; k++ {
			x *= 10
			switch {
			case k < 0:
			case k < len(ip):
				x += int(ip[k] - '0')
			case k-len(ip) < len(fp):
				x += int(fp[k-len(ip)] - '0')
			}
		}
		if nd == 0 && x == 0 {
			weight--
			continue
		}
		buf = binary.BigEndian.AppendUint16(buf, uint16(x))
		nd++
		if x != 0 {
			kept = nd
		}
	}
	buf = buf[:start+12+2*kept]
	sign := 0
	if kept == 0 {
		weight = 0
	} else if neg {
		sign = numericNegative
	}
	h := buf[start:]
	binary.BigEndian.PutUint32(h[0:], uint32(8+2*kept))
	binary.BigEndian.PutUint16(h[4:], uint16(kept))
	binary.BigEndian.PutUint16(h[6:], uint16(int16(weight)))
	binary.BigEndian.PutUint16(h[8:], uint16(sign))
	binary.BigEndian.PutUint16(h[10:], uint16(dscale))
	return buf, nil
}

func isDigits[S ~string | ~[]byte](s S) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// The read rules normalise what pgx decodes (binary format, scanned into any) into the plain values
// of dialect.TableEditor.Read. NULL never reaches them.

func readError(v any, want string) error {
	return fmt.Errorf("postgres: read a value of Go type %T where pgx decodes %s", v, want)
}

// readAs is the read rule of a type that pgx already decodes to the plain value T.
func readAs[T any](v any) (any, error) {
	if x, ok := v.(T); ok {
		return x, nil
	}
	var want T
	return nil, readError(v, fmt.Sprintf("%T", want))
}

func readInt(v any) (any, error) {
	switch n := v.(type) {
	case int16:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case int64:
		return n, nil
	}
	return nil, readError(v, "an integer")
}

func readFloat(v any) (any, error) {
	switch f := v.(type) {
	case float32:
		return float64(f), nil
	case float64:
		return f, nil
	}
	return nil, readError(v, "a float")
}

// readNumeric renders a numeric exactly, without passing through float64.
func readNumeric(v any) (any, error) {
	n, ok := v.(pgtype.Numeric)
	if !ok {
		return nil, readError(v, "pgtype.Numeric")
	}
	if !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite || n.Int == nil {
		return nil, fmt.Errorf("postgres: a numeric that is not a finite number")
	}
	digits := new(big.Int).Abs(n.Int).String()
	exp := int(n.Exp)
	var s string
	switch {
	case exp >= 0:
		s = digits + strings.Repeat("0", exp)
	case -exp >= len(digits):
		s = "0." + strings.Repeat("0", -exp-len(digits)) + digits
	default:
		s = digits[:len(digits)+exp] + "." + digits[len(digits)+exp:]
	}
	if n.Int.Sign() < 0 {
		s = "-" + s
	}
	return typemap.DecimalValue(canon.Decimal(s)), nil
}

// readInstant gives a timestamptz in UTC: pgx decodes it in the process's local zone, and the offset
// it had at the source is not kept (see the package doc).
func readInstant(v any) (any, error) {
	if t, ok := v.(time.Time); ok {
		return t.UTC(), nil
	}
	return nil, readError(v, "time.Time")
}

func readTimeOfDay(v any) (any, error) {
	if t, ok := v.(pgtype.Time); ok && t.Valid {
		return typemap.TimeOfDay(t.Microseconds * 1000), nil
	}
	return nil, readError(v, "pgtype.Time")
}

func readUUID(v any) (any, error) {
	if u, ok := v.([16]byte); ok {
		return typemap.UUID(u), nil
	}
	return nil, readError(v, "[16]byte")
}

package sqlite

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// This file is the dialect's type table (docs/TYPES.md): for each SQL Server type kind, the one rule
// that every other part consults — how the value is stored (the declared type, and so the column's
// affinity, and the text format), how the bulk path converts a decoded value into what the driver
// binds, and how a stored value reads back.

// storage is how one SQL Server type is held in SQLite: the declared type and, for TEXT, which text
// format. Two types with the same storage hold the same bytes for the same value, so a change between
// them is a no-op.
type storage uint8

const (
	stInvalid        storage = iota
	stInteger                // INTEGER: bit 0/1 and the integer types
	stReal                   // REAL: float and real
	stDecimal                // TEXT holding exact decimal text (declared TEXT: NUMERIC affinity would turn "0.10" into the REAL 0.1)
	stDate                   // TEXT YYYY-MM-DD
	stTime                   // TEXT HH:MM:SS.fffffff
	stDateTime               // TEXT YYYY-MM-DD HH:MM:SS.fffffff
	stDateTimeOffset         // TEXT YYYY-MM-DD HH:MM:SS.fffffff+hh:mm
	stUUID                   // TEXT lower-case 8-4-4-4-12
	stText                   // TEXT as received
	stBlob                   // BLOB
)

// declared is the declared column type of each storage.
var declared = [...]string{
	stInteger: "INTEGER", stReal: "REAL", stDecimal: "TEXT", stDate: "TEXT", stTime: "TEXT", stDateTime: "TEXT",
	stDateTimeOffset: "TEXT", stUUID: "TEXT", stText: "TEXT", stBlob: "BLOB",
}

// rule is the type table's entry of one kind.
type rule struct {
	storage storage
	// convert turns a value as typemap decodes it into what the driver binds (the bulk path).
	convert converter
	// read turns what the driver returns for the column back into the value typemap decodes to.
	read func(v any) (any, error)
}

// converter turns one RowSource value of a column into what the driver binds. A non-empty reason
// says why the value cannot be stored. It is chosen once per column, so the hot loop does one type
// assertion per value; buf is scratch space for text formats.
type converter func(v any, buf []byte) (out any, reason string)

var (
	integerRule = rule{stInteger, convInt, readInt}
	realRule    = rule{stReal, convReal, readReal}
	decimalRule = rule{stDecimal, convDecimal, readDecimal}
	dtRule      = rule{stDateTime, convDateTime, readDateTime}
	textRule    = rule{stText, convText, readText}
	blobRule    = rule{stBlob, convBlob, readBlob}
)

// types is the type table.
var types = map[typemap.Kind]rule{
	typemap.Bit:     {stInteger, convBit, readBit},
	typemap.TinyInt: integerRule, typemap.SmallInt: integerRule, typemap.Int: integerRule, typemap.BigInt: integerRule,
	typemap.Float: realRule, typemap.Real: realRule,
	typemap.Decimal: decimalRule, typemap.Money: decimalRule, typemap.SmallMoney: decimalRule,
	typemap.Date:          {stDate, convDate, readDate},
	typemap.Time:          {stTime, convTime, readTime},
	typemap.SmallDateTime: dtRule, typemap.DateTime: dtRule, typemap.DateTime2: dtRule,
	typemap.DateTimeOffset:   {stDateTimeOffset, convDateTimeOffset, readDateTimeOffset},
	typemap.UniqueIdentifier: {stUUID, convUUID, readText},
	typemap.Char:             textRule, typemap.VarChar: textRule, typemap.NChar: textRule, typemap.NVarChar: textRule,
	typemap.Text: textRule, typemap.NText: textRule, typemap.XML: textRule, typemap.HierarchyID: textRule,
	typemap.Geography: textRule, typemap.Geometry: textRule, typemap.SQLVariant: textRule, typemap.SysName: textRule,
	typemap.Binary: blobRule, typemap.VarBinary: blobRule, typemap.Image: blobRule, typemap.RowVersion: blobRule,
}

// ruleOf returns the rule of t's kind.
func ruleOf(t typemap.Type) (rule, error) {
	r, ok := types[t.Kind]
	if !ok {
		return rule{}, fmt.Errorf("sqlite: no mapping for SQL Server type %s", t.Kind)
	}
	return r, nil
}

// storageOf returns how t is stored (stInvalid for a kind without a rule).
func storageOf(t typemap.Type) storage { return types[t.Kind].storage }

// columnType returns the declared SQLite type of t.
func columnType(t typemap.Type) (string, error) {
	r, err := ruleOf(t)
	if err != nil {
		return "", err
	}
	return declared[r.storage], nil
}

// copyExpr returns the expression that converts a stored value of column quoted from the storage of
// type from into that of type to, or ok=false when there is no exact conversion (AlterTable then asks
// for a recreate).
func copyExpr(quoted string, from, to typemap.Type) (string, bool) {
	fs, ts := storageOf(from), storageOf(to)
	switch {
	case fs == stInvalid || ts == stInvalid:
		return "", false
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

// Text formats of stored times. Every datetime kind (smalldatetime, datetime, datetime2) uses one
// fixed-width format with seven fraction digits, so that text order is time order and a value never
// depends on which kind stored it:
//
//	date            YYYY-MM-DD
//	time            HH:MM:SS.fffffff
//	datetime kinds  YYYY-MM-DD HH:MM:SS.fffffff
//	datetimeoffset  YYYY-MM-DD HH:MM:SS.fffffff+hh:mm (the wall clock at the value's own offset)
const (
	layoutDate           = "2006-01-02"
	layoutTime           = "15:04:05.0000000"
	layoutDateTime       = "2006-01-02 15:04:05.0000000"
	layoutDateTimeOffset = "2006-01-02 15:04:05.0000000-07:00"
)

const tick = 100 * time.Nanosecond

var (
	errYearRange = errors.New("year outside 0001-9999")
	errTimeRange = errors.New("time of day outside 00:00:00-23:59:59.9999999")
)

func append2(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

func append4(b []byte, n int) []byte {
	return append(b, byte('0'+n/1000), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}

func appendDate(b []byte, t time.Time) ([]byte, error) {
	return appendWallDate(b, wallOf(t))
}

// wallOf returns t's wall clock at its own offset as typemap.DateTimeParser gives a value.
func wallOf(t time.Time) typemap.WallTime {
	_, off := t.Zone()
	return typemap.WallTime{Wall: t.Unix() + int64(off), Nanos: int32(t.Nanosecond()), Offset: int32(off), Zoned: t.Location() != time.UTC}
}

// appendWallDate writes the date of a wall clock.
func appendWallDate(b []byte, w typemap.WallTime) ([]byte, error) {
	y, m, d := w.Date()
	if y < 1 || y > 9999 {
		return b, errYearRange
	}
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, int(m))
	b = append(b, '-')
	return append2(b, d), nil
}

// appendClock writes HH:MM:SS.fffffff from its parts; frac is in 100 ns ticks.
func appendClock(b []byte, h, m, s, frac int) []byte {
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, m)
	b = append(b, ':')
	b = append2(b, s)
	b = append(b, '.')
	for div := 1000000; div > 0; div /= 10 {
		b = append(b, byte('0'+frac/div%10))
	}
	return b
}

// appendDateTime writes t's wall clock, rounded half up to SQL Server's 100 ns.
func appendDateTime(b []byte, t time.Time) ([]byte, error) { return appendWallDateTime(b, wallOf(t)) }

// appendWallDateTime writes a wall clock, rounded half up to SQL Server's 100 ns.
func appendWallDateTime(b []byte, w typemap.WallTime) ([]byte, error) {
	if w.Nanos%int32(tick) != 0 {
		w.Nanos = (w.Nanos + int32(tick)/2) / int32(tick) * int32(tick)
		if w.Nanos >= 1e9 {
			w.Wall, w.Nanos = w.Wall+1, w.Nanos-1e9
		}
	}
	b, err := appendWallDate(b, w)
	if err != nil {
		return b, err
	}
	b = append(b, ' ')
	h, m, s := w.Clock()
	return appendClock(b, h, m, s, int(w.Nanos)/int(tick)), nil
}

// appendDateTimeOffset writes t's wall clock at its own offset and the offset.
func appendDateTimeOffset(b []byte, t time.Time) ([]byte, error) {
	return appendWallDateTimeOffset(b, wallOf(t))
}

// appendWallDateTimeOffset writes a wall clock and its offset.
func appendWallDateTimeOffset(b []byte, w typemap.WallTime) ([]byte, error) {
	off := int(w.Offset)
	if off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return b, fmt.Errorf("offset of %d seconds is not whole minutes within ±24h", off)
	}
	b, err := appendWallDateTime(b, w)
	if err != nil {
		return b, err
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	b = append2(b, off/3600)
	b = append(b, ':')
	return append2(b, off/60%60), nil
}

// appendTimeOfDay writes a time of day given in nanoseconds since midnight.
func appendTimeOfDay(b []byte, ns int64) ([]byte, error) {
	if ns%int64(tick) != 0 {
		ns = (ns + int64(tick)/2) / int64(tick) * int64(tick)
	}
	if ns < 0 || ns >= int64(24*time.Hour) {
		return b, errTimeRange
	}
	ticks := ns / int64(tick)
	frac := int(ticks % 10000000)
	secs := int(ticks / 10000000)
	return appendClock(b, secs/3600, secs/60%60, secs%60, frac), nil
}

func wrongType(v any, want string) string { return fmt.Sprintf("got %T, want %s", v, want) }

func convBit(v any, _ []byte) (any, string) {
	switch x := v.(type) {
	case bool:
		if x {
			return int64(1), ""
		}
		return int64(0), ""
	case int64:
		if x == 0 || x == 1 {
			return x, ""
		}
		return nil, fmt.Sprintf("bit value %d is not 0 or 1", x)
	}
	return nil, wrongType(v, "bool")
}

func convInt(v any, _ []byte) (any, string) {
	if x, ok := v.(int64); ok {
		return x, ""
	}
	return nil, wrongType(v, "int64")
}

func convReal(v any, _ []byte) (any, string) {
	x, ok := v.(float64)
	if !ok {
		return nil, wrongType(v, "float64")
	}
	// SQLite stores NaN as NULL, which would silently lose the value.
	if math.IsNaN(x) {
		return nil, "NaN cannot be stored"
	}
	return x, ""
}

// validDecimal accepts the exact decimal text typemap produces: an optional minus sign, digits, and
// an optional fraction.
func validDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	i, f, hasDot := strings.Cut(s, ".")
	return i != "" && allDigits(i) && allDigits(f) && (!hasDot || f != "")
}

func convDecimal(v any, _ []byte) (any, string) {
	x, ok := v.(typemap.DecimalValue)
	if !ok {
		return nil, wrongType(v, "typemap.DecimalValue")
	}
	if !validDecimal(string(x)) {
		return nil, "not exact decimal text"
	}
	return string(x), ""
}

func convDate(v any, buf []byte) (any, string) {
	x, ok := v.(time.Time)
	if !ok {
		return nil, wrongType(v, "time.Time")
	}
	b, err := appendDate(buf[:0], x)
	if err != nil {
		return nil, err.Error()
	}
	return string(b), ""
}

func convDateTime(v any, buf []byte) (any, string) {
	x, ok := v.(time.Time)
	if !ok {
		return nil, wrongType(v, "time.Time")
	}
	b, err := appendDateTime(buf[:0], x)
	if err != nil {
		return nil, err.Error()
	}
	return string(b), ""
}

func convDateTimeOffset(v any, buf []byte) (any, string) {
	x, ok := v.(time.Time)
	if !ok {
		return nil, wrongType(v, "time.Time")
	}
	b, err := appendDateTimeOffset(buf[:0], x)
	if err != nil {
		return nil, err.Error()
	}
	return string(b), ""
}

func convTime(v any, buf []byte) (any, string) {
	x, ok := v.(typemap.TimeOfDay)
	if !ok {
		return nil, wrongType(v, "typemap.TimeOfDay")
	}
	b, err := appendTimeOfDay(buf[:0], int64(x))
	if err != nil {
		return nil, err.Error()
	}
	return string(b), ""
}

func convUUID(v any, _ []byte) (any, string) {
	x, ok := v.(typemap.UUID)
	if !ok {
		return nil, wrongType(v, "typemap.UUID")
	}
	return x.String(), ""
}

func convText(v any, _ []byte) (any, string) {
	if x, ok := v.(string); ok {
		return x, ""
	}
	return nil, wrongType(v, "string")
}

func convBlob(v any, _ []byte) (any, string) {
	x, ok := v.([]byte)
	if !ok {
		return nil, wrongType(v, "[]byte")
	}
	if x == nil {
		// The driver binds a nil slice as NULL; an empty binary value is not NULL.
		return []byte{}, ""
	}
	return x, ""
}

// rawConverter is the raw converter of a column: it turns a value's wire text, parsed with typemap's
// typed parsers, into exactly what the column's converter makes of the decoded value
// (conformance.RawEncoders checks it). Text that is not a value of the column's type fails with the
// parser's *typemap.ValueError; a value SQLite cannot store with the converter's reason. buf is
// scratch space, as for a converter.
type rawConverter func(text, buf []byte) (out any, err error)

// rawConverters is the type table's raw column: for each kind, the factory of a column's raw
// converter. It is kept beside the rules rather than in them so that the two converters of a kind
// read side by side.
var rawConverters = map[typemap.Kind]func(t typemap.Type) rawConverter{
	typemap.Bit:              func(typemap.Type) rawConverter { return rawBit },
	typemap.TinyInt:          rawInt,
	typemap.SmallInt:         rawInt,
	typemap.Int:              rawInt,
	typemap.BigInt:           rawInt,
	typemap.Float:            rawReal,
	typemap.Real:             rawReal,
	typemap.Decimal:          rawDecimal,
	typemap.Money:            rawDecimal,
	typemap.SmallMoney:       rawDecimal,
	typemap.Date:             rawWall(appendWallDate),
	typemap.Time:             rawTime,
	typemap.SmallDateTime:    rawWall(appendWallDateTime),
	typemap.DateTime:         rawWall(appendWallDateTime),
	typemap.DateTime2:        rawWall(appendWallDateTime),
	typemap.DateTimeOffset:   rawWall(appendWallDateTimeOffset),
	typemap.UniqueIdentifier: func(typemap.Type) rawConverter { return rawUUID },
	typemap.Char:             rawText,
	typemap.VarChar:          rawText,
	typemap.NChar:            rawText,
	typemap.NVarChar:         rawText,
	typemap.Text:             rawText,
	typemap.NText:            rawText,
	typemap.XML:              rawText,
	typemap.HierarchyID:      rawText,
	typemap.Geography:        rawText,
	typemap.Geometry:         rawText,
	typemap.SQLVariant:       rawText,
	typemap.SysName:          rawText,
	typemap.Binary:           rawBlob,
	typemap.VarBinary:        rawBlob,
	typemap.Image:            rawBlob,
	typemap.RowVersion:       rawBlob,
}

// rawConverterOf returns the raw converter of a column of type t.
func rawConverterOf(t typemap.Type) (rawConverter, error) {
	f, ok := rawConverters[t.Kind]
	if !ok {
		return nil, fmt.Errorf("sqlite: no mapping for SQL Server type %s", t.Kind)
	}
	return f(t), nil
}

// fitError is a converter's reason, as an error.
type fitError string

func (e fitError) Error() string { return string(e) }

// reason turns a converter's result into a raw converter's.
func reason(out any, why string) (any, error) {
	if why != "" {
		return nil, fitError(why)
	}
	return out, nil
}

func rawBit(text, _ []byte) (any, error) {
	x, err := typemap.ParseBit(text)
	if err != nil {
		return nil, err
	}
	if x {
		return int64(1), nil
	}
	return int64(0), nil
}

func rawInt(t typemap.Type) rawConverter {
	parse := typemap.IntParser(t)
	return func(text, _ []byte) (any, error) {
		x, err := parse(text)
		if err != nil {
			return nil, err
		}
		return x, nil
	}
}

func rawReal(t typemap.Type) rawConverter {
	parse := typemap.FloatParser(t)
	return func(text, buf []byte) (any, error) {
		x, err := parse(text)
		if err != nil {
			return nil, err
		}
		return reason(convReal(x, buf))
	}
}

func rawDecimal(t typemap.Type) rawConverter {
	parse := typemap.DecimalParser(t)
	return func(text, buf []byte) (any, error) {
		d, err := parse(buf[:0], text)
		if err != nil {
			return nil, err
		}
		return reason(convDecimal(typemap.DecimalValue(d), nil))
	}
}

func rawWall(appendWall func([]byte, typemap.WallTime) ([]byte, error)) func(t typemap.Type) rawConverter {
	return func(t typemap.Type) rawConverter {
		parse := typemap.DateTimeParser(t)
		return func(text, buf []byte) (any, error) {
			w, err := parse(text)
			if err != nil {
				return nil, err
			}
			b, err := appendWall(buf[:0], w)
			if err != nil {
				return nil, fitError(err.Error())
			}
			return string(b), nil
		}
	}
}

func rawTime(t typemap.Type) rawConverter {
	parse := typemap.TimeParser(t)
	return func(text, buf []byte) (any, error) {
		x, err := parse(text)
		if err != nil {
			return nil, err
		}
		return reason(convTime(x, buf))
	}
}

func rawUUID(text, _ []byte) (any, error) {
	u, err := typemap.ParseUUID(text)
	if err != nil {
		return nil, err
	}
	return u.String(), nil
}

func rawText(t typemap.Type) rawConverter {
	check := typemap.TextParser(t)
	return func(text, _ []byte) (any, error) {
		if err := check(text); err != nil {
			return nil, err
		}
		return string(text), nil
	}
}

// rawBlob decodes into a slice of its own: the driver binds it after more rows were converted.
func rawBlob(t typemap.Type) rawConverter {
	parse := typemap.BinaryParser(t)
	return func(text, _ []byte) (any, error) {
		x, err := parse([]byte{}, text)
		if err != nil {
			return nil, err
		}
		return x, nil
	}
}

// The read side: what the driver returns for a stored value, back into the value typemap decodes to.
// A stored value in another format than this dialect writes is an error, never a guess.

func readInt(v any) (any, error) {
	if x, ok := v.(int64); ok {
		return x, nil
	}
	return nil, fmt.Errorf("an integer column holds a %T", v)
}

func readBit(v any) (any, error) {
	x, err := readInt(v)
	if err != nil {
		return nil, err
	}
	return x.(int64) != 0, nil
}

func readReal(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		// SQLite may store an integral REAL as an integer.
		return float64(x), nil
	}
	return nil, fmt.Errorf("a REAL column holds a %T", v)
}

func readText(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return nil, fmt.Errorf("a TEXT column holds a %T", v)
}

func readDecimal(v any) (any, error) {
	s, err := readText(v)
	if err != nil {
		return nil, err
	}
	if !validDecimal(s.(string)) {
		return nil, fmt.Errorf("%q is not exact decimal text", s)
	}
	return typemap.DecimalValue(s.(string)), nil
}

// readLayout parses stored text of a fixed-width layout.
func readLayout(v any, layout, what string) (time.Time, error) {
	s, err := readText(v)
	if err != nil {
		return time.Time{}, err
	}
	if len(s.(string)) != len(layout) {
		return time.Time{}, fmt.Errorf("%q is not a stored %s", s, what)
	}
	t, err := time.Parse(layout, s.(string))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a stored %s", s, what)
	}
	return t, nil
}

func readDate(v any) (any, error)     { return readLayout(v, layoutDate, "date") }
func readDateTime(v any) (any, error) { return readLayout(v, layoutDateTime, "datetime") }

func readDateTimeOffset(v any) (any, error) {
	return readLayout(v, layoutDateTimeOffset, "datetimeoffset")
}

func readTime(v any) (any, error) {
	t, err := readLayout(v, layoutTime, "time")
	if err != nil {
		return nil, err
	}
	return typemap.TimeOfDay(int64(t.Hour())*int64(time.Hour) + int64(t.Minute())*int64(time.Minute) +
		int64(t.Second())*int64(time.Second) + int64(t.Nanosecond())), nil
}

func readBlob(v any) (any, error) {
	switch x := v.(type) {
	case []byte:
		if x == nil {
			// An empty BLOB reads back as a nil slice; NULL is a nil interface.
			return []byte{}, nil
		}
		return x, nil
	case string:
		return []byte(x), nil
	}
	return nil, fmt.Errorf("a BLOB column holds a %T", v)
}

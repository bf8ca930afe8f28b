package mysql

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// encoder appends one non-NULL value in LOAD DATA's text form (fields separated by tabs, escaped with
// backslash). It returns a reason when the value cannot be stored.
type encoder func(b []byte, v any) ([]byte, string)

func wrongType(v any, want string) string {
	return fmt.Sprintf("got a %T, want %s", v, want)
}

// encoderFor chooses the encoder of a column once, so that the row loop does no type dispatch on the
// column's kind.
func encoderFor(t typemap.Type) encoder {
	switch t.Kind {
	case typemap.Bit:
		return encBool
	case typemap.TinyInt:
		return encTinyInt
	case typemap.SmallInt, typemap.Int, typemap.BigInt:
		return encInt
	case typemap.Decimal, typemap.Money, typemap.SmallMoney:
		return encDecimal
	case typemap.Float:
		return encFloat
	case typemap.Real:
		return encReal
	case typemap.Date:
		return encDate
	case typemap.Time:
		return encTime
	case typemap.SmallDateTime, typemap.DateTime, typemap.DateTime2:
		return encDateTime(false)
	case typemap.DateTimeOffset:
		return encDateTime(true)
	case typemap.Binary, typemap.VarBinary, typemap.Image, typemap.RowVersion:
		return encHex
	case typemap.UniqueIdentifier:
		return encUUID
	}
	return encString
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
	if x.Year() < minYear {
		return b, fmt.Sprintf("date %s is before year %d, which MySQL does not hold", x.Format("2006-01-02"), minYear)
	}
	return x.AppendFormat(b, "2006-01-02"), ""
}

func encDateTime(toUTC bool) encoder {
	return func(b []byte, v any) ([]byte, string) {
		x, ok := v.(time.Time)
		if !ok {
			return b, wrongType(v, "time.Time")
		}
		if toUTC {
			// datetimeoffset keeps its instant as a naive UTC datetime; the offset itself is lost.
			x = x.UTC()
		}
		x = typemap.RoundToMicro(x)
		if x.Year() < minYear {
			return b, fmt.Sprintf("datetime %s is before year %d, which MySQL does not hold", x.Format("2006-01-02 15:04:05"), minYear)
		}
		return appendDateTime(b, x), ""
	}
}

// appendDateTime appends "YYYY-MM-DD HH:MM:SS.ffffff" (the year is 1000..9999 here); it is the bulk
// path's hottest formatter, so it avoids time.AppendFormat's layout parsing.
func appendDateTime(b []byte, x time.Time) []byte {
	y, mo, d := x.Date()
	h, mi, s := x.Clock()
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
	return appendMicros(b, int64(x.Nanosecond()/1000))
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
	return append(b, tmp[20:32]...), ""
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
func appendEscaped(b []byte, s string) []byte {
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

// rowEncoder turns rows into LOAD DATA lines.
type rowEncoder struct {
	cols []typemap.Column
	enc  []encoder
}

func newRowEncoder(cols []typemap.Column) *rowEncoder {
	e := &rowEncoder{cols: cols, enc: make([]encoder, len(cols))}
	for i, c := range cols {
		e.enc[i] = encoderFor(c.Type)
	}
	return e
}

// appendRow appends one line for vals; row is the 1-based row number for errors.
func (e *rowEncoder) appendRow(b []byte, vals []any, row int) ([]byte, error) {
	if len(vals) != len(e.enc) {
		return b, fmt.Errorf("mysql: row %d has %d values, want %d", row, len(vals), len(e.enc))
	}
	for i, v := range vals {
		if i > 0 {
			b = append(b, '\t')
		}
		if v == nil {
			b = append(b, '\\', 'N')
			continue
		}
		var why string
		if b, why = e.enc[i](b, v); why != "" {
			return b, &dialect.ValueError{Column: e.cols[i].Name, Row: row, Reason: why}
		}
	}
	return append(b, '\n'), nil
}

package sqlite

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/typemap"
)

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
	y, m, d := t.Date()
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
func appendDateTime(b []byte, t time.Time) ([]byte, error) {
	if t.Nanosecond()%int(tick) != 0 {
		t = t.Round(tick)
	}
	b, err := appendDate(b, t)
	if err != nil {
		return b, err
	}
	b = append(b, ' ')
	h, m, s := t.Clock()
	return appendClock(b, h, m, s, t.Nanosecond()/int(tick)), nil
}

// appendDateTimeOffset writes t's wall clock at its own offset and the offset.
func appendDateTimeOffset(b []byte, t time.Time) ([]byte, error) {
	if t.Nanosecond()%int(tick) != 0 {
		t = t.Round(tick)
	}
	_, off := t.Zone()
	if off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return b, fmt.Errorf("offset of %d seconds is not whole minutes within ±24h", off)
	}
	b, err := appendDateTime(b, t)
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

// converter turns one RowSource value of a column into what the driver binds. A non-empty reason
// says why the value cannot be stored. It is chosen once per column, so the hot loop does one type
// assertion per value.
type converter func(v any, buf []byte) (out any, reason string)

func wrongType(v any, want string) string { return fmt.Sprintf("got %T, want %s", v, want) }

func converterFor(t typemap.Type) converter {
	switch storageOf(t) {
	case stInteger:
		if t.Kind == typemap.Bit {
			return convBit
		}
		return convInt
	case stReal:
		return convReal
	case stDecimal:
		return convDecimal
	case stDate:
		return convDate
	case stTime:
		return convTime
	case stDateTime:
		return convDateTime
	case stDateTimeOffset:
		return convDateTimeOffset
	case stUUID:
		return convUUID
	case stText:
		return convText
	case stBlob:
		return convBlob
	}
	return func(v any, _ []byte) (any, string) {
		return nil, fmt.Sprintf("no SQLite mapping for type kind %d", t.Kind)
	}
}

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
		return nil, fmt.Sprintf("%q is not exact decimal text", string(x))
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

// ParseDateTime reads a stored datetime value back into a naive time.Time in UTC.
func ParseDateTime(s string) (time.Time, error) {
	if len(s) != len(layoutDateTime) {
		return time.Time{}, fmt.Errorf("sqlite: %q is not a stored datetime", s)
	}
	return time.Parse(layoutDateTime, s)
}

// ParseDate reads a stored date back into midnight UTC of that day.
func ParseDate(s string) (time.Time, error) {
	if len(s) != len(layoutDate) {
		return time.Time{}, fmt.Errorf("sqlite: %q is not a stored date", s)
	}
	return time.Parse(layoutDate, s)
}

// ParseDateTimeOffset reads a stored datetimeoffset back, keeping its offset.
func ParseDateTimeOffset(s string) (time.Time, error) {
	if len(s) != len(layoutDateTimeOffset) {
		return time.Time{}, fmt.Errorf("sqlite: %q is not a stored datetimeoffset", s)
	}
	return time.Parse(layoutDateTimeOffset, s)
}

// ParseTimeOfDay reads a stored time back into nanoseconds since midnight.
func ParseTimeOfDay(s string) (typemap.TimeOfDay, error) {
	if len(s) != len(layoutTime) {
		return 0, fmt.Errorf("sqlite: %q is not a stored time", s)
	}
	t, err := time.Parse(layoutTime, s)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %q is not a stored time: %w", s, err)
	}
	return typemap.TimeOfDay(int64(t.Hour())*int64(time.Hour) + int64(t.Minute())*int64(time.Minute) +
		int64(t.Second())*int64(time.Second) + int64(t.Nanosecond())), nil
}

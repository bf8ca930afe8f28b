// Package canon turns values into canonical text, so that a value read back from any target database can
// be compared with the value that came from the wire. Both sides pass through Value: the expected side
// as typemap decodes the wire text, the mirror side as a database driver scans it into *any. The
// documented losses of a target (docs/TYPES.md) are applied to both, so that only real differences
// remain. It is used by the simulator's verifier and by the dialect conformance suite; it is pure.
//
// Canonical text by kind: bit "0"/"1"; integers in decimal; decimals and money exact, without redundant
// zeros ("-0012.3400" → "-12.34"); float as its shortest round-trip text, real as float32's; date
// "YYYY-MM-DD"; time "HH:MM:SS.fffffff"; every datetime kind "YYYY-MM-DD HH:MM:SS.fffffff" of its wall
// clock (datetime rounded to the millisecond; datetimeoffset of its instant in UTC); char/nchar without
// trailing spaces; other strings verbatim; binary as lower-case hex; uniqueidentifier lower-case
// 8-4-4-4-12; NULL as Null.
package canon

import (
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// Losses are the documented differences (docs/TYPES.md) between what the source holds and what a
// target database can give back. A dialect reports its own (dialect.Capabilities.Losses).
type Losses struct {
	// MicroTime: the target stops at microseconds (PostgreSQL, MySQL); times are rounded half up.
	MicroTime bool
	// NULReplaced: U+0000 in text is stored as U+FFFD (PostgreSQL).
	NULReplaced bool
}

// Null is the canonical text of NULL. It cannot be the canonical text of any value, which never holds a
// 0xff byte (it is valid UTF-8 or hex), so that a NULL never equals the string "NULL".
const Null = "\xffNULL"

// Value returns the canonical text of a value of type t, as typemap decodes it from the wire or as a
// database driver scans it into *any, with the losses l applied.
func Value(t typemap.Type, v any, l Losses) (string, error) {
	switch x := v.(type) {
	case nil:
		return Null, nil
	case string:
		return canonText(t, x, l)
	case []byte:
		if t.IsBinary() {
			return canonBinary(t, x), nil
		}
		if t.Kind == typemap.UniqueIdentifier && len(x) == 16 {
			return typemap.UUID(x).String(), nil
		}
		return canonText(t, string(x), l)
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	case int64:
		return canonInt(t, x)
	case int32:
		return canonInt(t, int64(x))
	case int16:
		return canonInt(t, int64(x))
	case int8:
		return canonInt(t, int64(x))
	case int:
		return canonInt(t, int64(x))
	case uint8:
		return canonInt(t, int64(x))
	case uint16:
		return canonInt(t, int64(x))
	case uint32:
		return canonInt(t, int64(x))
	case uint64:
		if t.IsDecimal() || t.IsInteger() {
			return strconv.FormatUint(x, 10), nil
		}
		return canonInt(t, int64(x))
	case float64:
		return canonFloat(t, x)
	case float32:
		return canonFloat(t, float64(x))
	case typemap.DecimalValue:
		return Decimal(string(x)), nil
	case time.Time:
		return canonTime(t, x, l), nil
	case typemap.TimeOfDay:
		if l.MicroTime {
			x = x.RoundToMicro()
		}
		return x.String(), nil
	case time.Duration:
		return Value(t, typemap.TimeOfDay(x), l)
	case typemap.UUID:
		return x.String(), nil
	case [16]byte:
		return typemap.UUID(x).String(), nil
	case driver.Valuer:
		// pgtype.Numeric, pgtype.Time and the like give their text form.
		dv, err := x.Value()
		if err != nil {
			return "", err
		}
		if _, same := dv.(driver.Valuer); same {
			return "", fmt.Errorf("cannot canonicalise %T", v)
		}
		return Value(t, dv, l)
	}
	return "", fmt.Errorf("cannot canonicalise %T for %s", v, t)
}

func canonInt(t typemap.Type, n int64) (string, error) {
	switch {
	case t.Kind == typemap.Bit:
		if n != 0 {
			return "1", nil
		}
		return "0", nil
	case t.IsFloat():
		return canonFloat(t, float64(n))
	}
	return strconv.FormatInt(n, 10), nil
}

func canonFloat(t typemap.Type, f float64) (string, error) {
	switch {
	case t.Kind == typemap.Real:
		return strconv.FormatFloat(float64(float32(f)), 'g', -1, 32), nil
	case t.IsFloat():
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case t.IsInteger() && f == math.Trunc(f):
		return strconv.FormatInt(int64(f), 10), nil
	case t.IsDecimal():
		return Decimal(strconv.FormatFloat(f, 'f', -1, 64)), nil
	}
	return "", fmt.Errorf("a float for a %s column", t)
}

// canonTime formats a time value by its column's kind.
func canonTime(t typemap.Type, x time.Time, l Losses) string {
	switch t.Kind {
	case typemap.Date:
		return x.Format("2006-01-02")
	case typemap.DateTimeOffset:
		x = x.UTC()
	case typemap.DateTime:
		// datetime keeps 1/300 s; targets hold it to the millisecond.
		x = x.Round(time.Millisecond)
	case typemap.Time:
		ns := int64(x.Hour())*int64(time.Hour) + int64(x.Minute())*int64(time.Minute) + int64(x.Second())*int64(time.Second) + int64(x.Nanosecond())
		tod := typemap.TimeOfDay(ns)
		if l.MicroTime {
			tod = tod.RoundToMicro()
		}
		return tod.String()
	}
	if l.MicroTime {
		x = typemap.RoundToMicro(x)
	}
	return fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d.%07d", x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond()/100)
}

// Text layouts that databases give back for temporal values.
var (
	naiveLayouts  = []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"}
	offsetLayouts = []string{"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999 Z07:00", "2006-01-02 15:04:05.999999999-07"}
)

// canonText canonicalises a value that a database gave back as text.
func canonText(t typemap.Type, s string, l Losses) (string, error) {
	switch {
	case t.Kind == typemap.Bit:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "t", "true":
			return "1", nil
		case "0", "f", "false":
			return "0", nil
		}
		return "", fmt.Errorf("bit text %q", s)
	case t.IsInteger():
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return "", fmt.Errorf("integer text %q", s)
		}
		return strconv.FormatInt(n, 10), nil
	case t.IsDecimal():
		return Decimal(strings.TrimSpace(s)), nil
	case t.IsFloat():
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return "", fmt.Errorf("float text %q", s)
		}
		return canonFloat(t, f)
	case t.Kind == typemap.Time:
		dec := typemap.DecoderFor(typemap.Type{Kind: typemap.Time, Precision: 7})
		v, err := dec([]byte(strings.TrimSpace(s)))
		if err != nil {
			return "", fmt.Errorf("time text %q: %w", s, err)
		}
		return Value(t, v, l)
	case t.Kind == typemap.DateTimeOffset:
		for _, layout := range offsetLayouts {
			if x, err := time.Parse(layout, s); err == nil {
				return canonTime(t, x, l), nil
			}
		}
		// A target without offsets (MySQL) holds the instant in UTC.
		for _, layout := range naiveLayouts {
			if x, err := time.Parse(layout, s); err == nil {
				return canonTime(t, x, l), nil
			}
		}
		return "", fmt.Errorf("datetimeoffset text %q", s)
	case t.IsTemporal():
		for _, layout := range naiveLayouts {
			if x, err := time.Parse(layout, s); err == nil {
				return canonTime(t, x, l), nil
			}
		}
		return "", fmt.Errorf("%s text %q", t, s)
	case t.IsBinary():
		return canonBinary(t, []byte(s)), nil
	case t.Kind == typemap.Geography || t.Kind == typemap.Geometry:
		return canonSpatial(s), nil
	case t.Kind == typemap.UniqueIdentifier:
		return strings.ToLower(strings.Trim(s, "{}")), nil
	}
	if t.Kind == typemap.Char || t.Kind == typemap.NChar {
		s = strings.TrimRight(s, " ")
	}
	if l.NULReplaced {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s, nil
}

// Decimal drops a sign of zero, leading zeros and trailing fraction zeros: "-0012.3400" →
// "-12.34", "-0.00" → "0".
func Decimal(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	whole, frac, _ := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	frac = strings.TrimRight(frac, "0")
	if whole == "" {
		whole = "0"
	}
	if frac != "" {
		whole += "." + frac
	}
	if neg && whole != "0" {
		return "-" + whole
	}
	return whole
}

// canonBinary is lower-case hex; a binary(n) value is padded with zero bytes to n, as SQL Server
// stores it (binary(n) is fixed length, like char(n), whose trailing blanks canon drops).
func canonBinary(t typemap.Type, b []byte) string {
	if t.Kind == typemap.Binary && t.Length > len(b) {
		b = append(b[:len(b):len(b)], make([]byte, t.Length-len(b))...)
	}
	return hex.EncodeToString(b)
}

// canonSpatial normalises the whitespace of well-known text, which SQL Server rewrites in its own
// spelling ("POINT(10 59)" reads back as "POINT (10 59)"): no space before "(" or after "," or "(",
// and single spaces elsewhere.
func canonSpatial(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			space = true
			continue
		}
		if space {
			prev := b.String()
			if r != '(' && r != ')' && r != ',' && prev != "" && !strings.HasSuffix(prev, "(") && !strings.HasSuffix(prev, ",") {
				b.WriteByte(' ')
			}
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

package sqlserver

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	mssql "github.com/microsoft/go-mssqldb"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// An encoder turns one value, as typemap decodes it, into the Go value the go-mssqldb bulk copier
// encodes correctly for the column, or fails with the reason the value does not fit. Encoders check
// everything the copier does not: it wraps out-of-range integers, clamps dates, replaces what a code
// page cannot hold, and panics on an over-long value or a GUID of the wrong length. An encoder may
// return a byte slice it reuses on its next call: the copier copies a row before the next one.
type encoder func(v any) (any, error)

// reason is the error an encoder returns; the loader wraps it in a *dialect.ValueError.
type reason string

func (r reason) Error() string { return string(r) }

func reasonf(format string, args ...any) error { return reason(fmt.Sprintf(format, args...)) }

func wrongType(v any, want string) error { return reasonf("got a Go %T, want %s", v, want) }

// encoderOptions are the facts about the connection and the table that encoders depend on.
type encoderOptions struct {
	// CodePage is the code page of each char/varchar/text column, by column name.
	CodePage map[string]int
	// GUIDConversion mirrors the DSN's "guid conversion" setting: with it, the driver itself swaps a
	// GUID's first three groups, so the bytes must be handed over in text order.
	GUIDConversion bool
}

// newEncoders picks one encoder per column, once per load. staged says whether the rows go to the
// staging table, where converted kinds (Converted) are nvarchar(max) text.
func newEncoders(cols []typemap.Column, staged bool, o encoderOptions) ([]encoder, error) {
	out := make([]encoder, len(cols))
	for i, c := range cols {
		e, err := encoderFor(c, staged, o)
		if err != nil {
			return nil, fmt.Errorf("sqlserver: column %q: %w", c.Name, err)
		}
		out[i] = e
	}
	return out, nil
}

func encoderFor(c typemap.Column, staged bool, o encoderOptions) (encoder, error) {
	t := c.Type
	if Converted(t.Kind) {
		// Staged (or, for a direct load, never reached: such tables always load through staging).
		return nvarcharEncoder(0), nil
	}
	switch t.Kind {
	case typemap.Bit:
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, bool:
				return x, nil
			}
			return nil, wrongType(v, "bool")
		}, nil
	case typemap.TinyInt:
		return intEncoder(0, math.MaxUint8), nil
	case typemap.SmallInt:
		return intEncoder(math.MinInt16, math.MaxInt16), nil
	case typemap.Int:
		return intEncoder(math.MinInt32, math.MaxInt32), nil
	case typemap.BigInt:
		return intEncoder(math.MinInt64, math.MaxInt64), nil
	case typemap.Decimal, typemap.Money, typemap.SmallMoney:
		return decimalEncoder(t), nil
	case typemap.Float:
		return floatEncoder(math.MaxFloat64), nil
	case typemap.Real:
		return floatEncoder(math.MaxFloat32), nil
	case typemap.Date:
		return timeEncoder(t, minDate, maxDate), nil
	case typemap.DateTime2:
		return timeEncoder(t, minDate, maxDate), nil
	case typemap.DateTime:
		return timeEncoder(t, minDateTime, maxDateTime), nil
	case typemap.SmallDateTime:
		return smallDateTimeEncoder(), nil
	case typemap.DateTimeOffset:
		return offsetEncoder(), nil
	case typemap.Time:
		return timeOfDayEncoder(), nil
	case typemap.NChar, typemap.NVarChar, typemap.SysName:
		return nvarcharEncoder(t.MaxLength()), nil
	case typemap.NText, typemap.XML:
		// The copier sends xml as nvarchar (MS-TDS forbids XMLTYPE in INSERT BULK).
		return nvarcharEncoder(0), nil
	case typemap.Char, typemap.VarChar, typemap.Text:
		limit := 0
		if t.Kind != typemap.Text {
			limit = t.MaxLength()
		}
		cp, ok := o.CodePage[c.Name]
		if !ok {
			return nil, errors.New("the code page of the column is not known")
		}
		return varcharEncoder(cp, limit)
	case typemap.Binary, typemap.VarBinary, typemap.Image, typemap.RowVersion:
		return binaryEncoder(t.MaxLength()), nil
	case typemap.UniqueIdentifier:
		return uuidEncoder(o.GUIDConversion), nil
	}
	return nil, fmt.Errorf("no bulk encoder for %s", t.Kind)
}

func intEncoder(lo, hi int64) encoder {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case int64:
			if x < lo || x > hi {
				return nil, reasonf("%d is outside %d..%d", x, lo, hi)
			}
			return x, nil
		}
		return nil, wrongType(v, "int64")
	}
}

func floatEncoder(limit float64) encoder {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, reasonf("%v is not a number SQL Server can store", x)
			}
			if math.Abs(x) > limit {
				return nil, reasonf("%g is outside the range of real", x)
			}
			return x, nil
		}
		return nil, wrongType(v, "float64")
	}
}

// checkDecimal checks exact decimal text against a column's precision and scale, and returns the
// text the copier parses exactly (it rejects a scale larger than the column's; it never rounds).
// Money kinds are further bounded by their 8- and 4-byte integers, which the copier would wrap.
func checkDecimal(s string, t typemap.Type) (string, error) {
	p, sc := t.NumericPrecisionScale()
	body := s
	if body != "" && (body[0] == '-' || body[0] == '+') {
		body = body[1:]
	}
	intDigits, fracDigits, dot := 0, 0, false
	lead := true
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			if dot {
				fracDigits++
			} else if !(lead && c == '0') {
				lead = false
				intDigits++
			}
		default:
			return "", reasonf("%q is not exact decimal text", cut(s))
		}
	}
	if intDigits+fracDigits == 0 && !hasDigit(body) {
		return "", reasonf("%q is not exact decimal text", cut(s))
	}
	// Trailing zeros of the fraction beyond the scale carry no value; anything else would round.
	out := s
	for fracDigits > sc && out[len(out)-1] == '0' {
		out = out[:len(out)-1]
		fracDigits--
	}
	if fracDigits > sc {
		return "", reasonf("%s has more than %d decimal places", cut(s), sc)
	}
	if out[len(out)-1] == '.' {
		out = out[:len(out)-1]
	}
	if intDigits > p-sc {
		return "", reasonf("%s does not fit decimal(%d,%d)", cut(s), p, sc)
	}
	switch t.Kind {
	case typemap.Money:
		if decimalOutside(out, "922337203685477.5808", "922337203685477.5807") {
			return "", reasonf("%s is outside the range of money", cut(s))
		}
	case typemap.SmallMoney:
		if decimalOutside(out, "214748.3648", "214748.3647") {
			return "", reasonf("%s is outside the range of smallmoney", cut(s))
		}
	}
	return out, nil
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			return true
		}
	}
	return false
}

// decimalOutside reports whether the decimal text s (at most 4 fraction digits) lies outside
// [-negLimit, posLimit], both limits written with exactly 4 fraction digits.
func decimalOutside(s, negLimit, posLimit string) bool {
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	ip, fp := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			ip, fp = s[:i], s[i+1:]
			break
		}
	}
	for len(ip) > 1 && ip[0] == '0' {
		ip = ip[1:]
	}
	for len(fp) < 4 {
		fp += "0"
	}
	limit := posLimit
	if neg {
		limit = negLimit
	}
	li := limit[:len(limit)-5]
	lf := limit[len(limit)-4:]
	if len(ip) != len(li) {
		return len(ip) > len(li)
	}
	if ip != li {
		return ip > li
	}
	return fp > lf
}

func decimalEncoder(t typemap.Type) encoder {
	return func(v any) (any, error) {
		var s string
		switch x := v.(type) {
		case nil:
			return nil, nil
		case typemap.DecimalValue:
			s = string(x)
		case string:
			s = x
		default:
			return nil, wrongType(v, "typemap.DecimalValue")
		}
		out, err := checkDecimal(s, t)
		if err != nil {
			return nil, err
		}
		// A plain string: the copier parses it exactly (never through float64).
		return out, nil
	}
}

var (
	minDate     = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate     = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	minDateTime = time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC)
	// The last datetime tick is .997; later values would round into the next day, past the range.
	maxDateTime      = time.Date(9999, 12, 31, 23, 59, 59, 998333333, time.UTC)
	minSmallDateTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxSmallDateTime = time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC)
)

// naive rebuilds t's wall clock in UTC: the copier encodes naive types from the wall clock fields,
// and smalldatetime from the distance to 1900-01-01 in UTC, so the location must be UTC.
func naive(t time.Time) time.Time {
	if t.Location() == time.UTC {
		return t
	}
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

func timeEncoder(t typemap.Type, lo, hi time.Time) encoder {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case time.Time:
			w := naive(x)
			if w.Before(lo) || w.After(hi) {
				return nil, reasonf("%s is outside the range of %s", w.Format("2006-01-02 15:04:05.9999999"), t.Kind)
			}
			return w, nil
		}
		return nil, wrongType(v, "time.Time")
	}
}

func smallDateTimeEncoder() encoder {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case time.Time:
			w := naive(x)
			if w.Before(minSmallDateTime) || w.After(maxSmallDateTime) {
				return nil, reasonf("%s is outside the range of smalldatetime", w.Format("2006-01-02 15:04:05"))
			}
			if w.Second() != 0 || w.Nanosecond() != 0 {
				// The copier would drop the seconds; the source type has none.
				return nil, reasonf("%s has seconds, which smalldatetime does not hold", w.Format("2006-01-02 15:04:05.9999999"))
			}
			return w, nil
		}
		return nil, wrongType(v, "time.Time")
	}
}

func offsetEncoder() encoder {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case time.Time:
			_, off := x.Zone()
			if off%60 != 0 || off < -14*3600 || off > 14*3600 {
				return nil, reasonf("offset %ds is not whole minutes within ±14:00", off)
			}
			u := x.UTC()
			if u.Before(minDate) || u.After(maxDate) || x.Year() < 1 || x.Year() > 9999 {
				return nil, reasonf("%s is outside the range of datetimeoffset", x.Format(time.RFC3339Nano))
			}
			return x, nil
		}
		return nil, wrongType(v, "time.Time")
	}
}

func timeOfDayEncoder() encoder {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case typemap.TimeOfDay:
			if x < 0 || x >= typemap.TimeOfDay(24*time.Hour) {
				return nil, reasonf("%d ns is not a time of day", int64(x))
			}
			// The copier encodes time from the clock fields of a time.Time.
			return time.Unix(0, int64(x)).UTC(), nil
		}
		return nil, wrongType(v, "typemap.TimeOfDay")
	}
}

// nvarcharEncoder encodes text as UTF-16LE bytes, which the copier sends unchanged, checking the
// length in UTF-16 code units (limit 0: unbounded). Invalid UTF-8 is refused rather than turned
// into U+FFFD.
func nvarcharEncoder(limit int) encoder {
	var buf []byte
	return func(v any) (any, error) {
		var s string
		switch x := v.(type) {
		case nil:
			return nil, nil
		case string:
			s = x
		default:
			return nil, wrongType(v, "string")
		}
		buf = buf[:0]
		units := 0
		for i := 0; i < len(s); {
			c := s[i]
			if c < utf8.RuneSelf {
				buf = append(buf, c, 0)
				units++
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, reasonf("text is not valid UTF-8 at byte %d", i)
			}
			i += size
			if r >= 0x10000 {
				r -= 0x10000
				hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
				buf = append(buf, byte(hi), byte(hi>>8), byte(lo), byte(lo>>8))
				units += 2
			} else {
				buf = append(buf, byte(r), byte(r>>8))
				units++
			}
		}
		if limit > 0 && units > limit {
			return nil, reasonf("text of %d characters (UTF-16 units) does not fit %d", units, limit)
		}
		return buf, nil
	}
}

// singleByte maps the single-byte code pages of SQL Server collations.
var singleByte = map[int]*charmap.Charmap{
	437: charmap.CodePage437, 850: charmap.CodePage850, 874: charmap.Windows874,
	1250: charmap.Windows1250, 1251: charmap.Windows1251, 1252: charmap.Windows1252,
	1253: charmap.Windows1253, 1254: charmap.Windows1254, 1255: charmap.Windows1255,
	1256: charmap.Windows1256, 1257: charmap.Windows1257, 1258: charmap.Windows1258,
}

// doubleByte maps the DBCS code pages of SQL Server collations.
var doubleByte = map[int]encoding.Encoding{
	932: japanese.ShiftJIS, 936: simplifiedchinese.GBK, 949: korean.EUCKR, 950: traditionalchinese.Big5,
}

// varcharEncoder encodes text in the column's code page. The copier sends a Go string's UTF-8 bytes
// unchanged under the column's collation, which turns every non-ASCII character into mojibake unless
// the collation is UTF-8; a character the code page lacks fails here instead of becoming '?'. The
// length limit (0: unbounded) is in bytes, as varchar(n) counts.
func varcharEncoder(codePage, limit int) (encoder, error) {
	var (
		buf    []byte
		encode func(s string) error
	)
	sb, isSB := singleByte[codePage]
	db, isDB := doubleByte[codePage]
	switch {
	case codePage == 65001:
		encode = func(s string) error {
			if !utf8.ValidString(s) {
				return reason("text is not valid UTF-8")
			}
			buf = append(buf, s...)
			return nil
		}
	case isSB:
		encode = func(s string) error {
			for i, r := range s {
				b, ok := sb.EncodeRune(r)
				if !ok || r == utf8.RuneError {
					return reasonf("character %U at byte %d is not in code page %d of the column", r, i, codePage)
				}
				buf = append(buf, b)
			}
			return nil
		}
	case isDB:
		enc := db.NewEncoder()
		encode = func(s string) error {
			if !utf8.ValidString(s) {
				return reason("text is not valid UTF-8")
			}
			b, err := enc.String(s)
			if err != nil {
				return reasonf("text has a character that code page %d of the column lacks", codePage)
			}
			buf = append(buf, b...)
			return nil
		}
	case codePage == 0:
		return nil, errors.New("the column's collation is Unicode-only (code page 0), which varchar cannot use")
	default:
		return nil, fmt.Errorf("code page %d is not supported", codePage)
	}
	return func(v any) (any, error) {
		var s string
		switch x := v.(type) {
		case nil:
			return nil, nil
		case string:
			s = x
		default:
			return nil, wrongType(v, "string")
		}
		buf = buf[:0]
		ascii := true
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				ascii = false
				break
			}
		}
		// Every code page above is ASCII-compatible, so ASCII text needs no encoding.
		if ascii {
			buf = append(buf, s...)
		} else if err := encode(s); err != nil {
			return nil, err
		}
		if limit > 0 && len(buf) > limit {
			return nil, reasonf("text of %d bytes in code page %d does not fit %d", len(buf), codePage, limit)
		}
		return buf, nil
	}, nil
}

func binaryEncoder(limit int) encoder {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case []byte:
			if limit > 0 && len(x) > limit {
				return nil, reasonf("%d bytes do not fit %d", len(x), limit)
			}
			if x == nil {
				// A nil slice would be sent as NULL; an empty value is not NULL.
				return []byte{}, nil
			}
			return x, nil
		}
		return nil, wrongType(v, "[]byte")
	}
}

// uuidBytes returns the 16 bytes the copier must receive for u (in text order): SQL Server's
// mixed-endian form through mssql.UniqueIdentifier, unless the driver converts itself.
func uuidBytes(u typemap.UUID, driverConverts bool) []byte {
	if driverConverts {
		b := make([]byte, 16)
		copy(b, u[:])
		return b
	}
	raw, _ := mssql.UniqueIdentifier(u).Value() // cannot fail
	return raw.([]byte)
}

func uuidEncoder(driverConverts bool) encoder {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case typemap.UUID:
			return uuidBytes(x, driverConverts), nil
		case []byte:
			// The copier panics on any length but 16.
			if len(x) != 16 {
				return nil, reasonf("a uniqueidentifier has 16 bytes, not %d", len(x))
			}
			return uuidBytes(typemap.UUID(x), driverConverts), nil
		}
		return nil, wrongType(v, "typemap.UUID")
	}
}

// cut shortens a value quoted in an error message.
func cut(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "…"
}

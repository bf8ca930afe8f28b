package typemap

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// EncodeWire returns the canonical wire text of a Go value for a column of type t, the form the
// simulator sends: [I:n] ([S:n] for smallint), [F:d] for exact decimals, [F:r] (shortest round trip)
// for float and real, [DT:MM/dd/yyyy HH:mm:ss.fffffff] (with " +hh:mm" for datetimeoffset),
// [T:HH:mm:ss.fffffff], [B:base64], lower-case 8-4-4-4-12 UUIDs and raw text for string kinds.
//
// Accepted Go values: bool (bit); any Go integer type (integer kinds and exact decimals); DecimalValue
// or string (exact decimals, canonicalised); float64 or float32 (float, real); time.Time (date and
// datetime kinds; naive kinds use the wall clock of v in its own location, datetimeoffset its offset);
// TimeOfDay or time.Duration (time); string or []byte (string kinds); []byte (binary kinds); UUID,
// [16]byte or a UUID string (uniqueidentifier).
//
// EncodeWire fails unless the text decodes, with DecoderFor(t), to the same value: a value out of the
// type's range or with more precision than it stores is an error, never silently changed.
func EncodeWire(t Type, v any) (string, error) {
	text, err := encodeWire(t, v)
	if err != nil {
		return "", fmt.Errorf("typemap: encode %s: %w", t, err)
	}
	got, err := DecoderFor(t)([]byte(text))
	if err != nil {
		return "", fmt.Errorf("typemap: encode %s: %w", t, err)
	}
	if !sameValue(t, v, got) {
		return "", fmt.Errorf("typemap: encode %s: value is not representable exactly (more precision than the type stores)", t)
	}
	return text, nil
}

var errGoType = errors.New("unsupported Go type for this column type")

func encodeWire(t Type, v any) (string, error) {
	switch t.Kind {
	case Bit:
		b, ok := v.(bool)
		if !ok {
			return "", fmt.Errorf("%w %T", errGoType, v)
		}
		if b {
			return "[I:1]", nil
		}
		return "[I:0]", nil
	case TinyInt, SmallInt, Int, BigInt:
		n, ok, err := asInt64(v)
		if !ok {
			return "", fmt.Errorf("%w %T", errGoType, v)
		}
		if err != nil {
			return "", err
		}
		if t.Kind == SmallInt {
			return "[S:" + strconv.FormatInt(n, 10) + "]", nil
		}
		return "[I:" + strconv.FormatInt(n, 10) + "]", nil
	case Decimal, Money, SmallMoney:
		var s string
		switch x := v.(type) {
		case DecimalValue:
			s = string(x)
		case string:
			s = x
		default:
			n, ok, err := asInt64(v)
			if !ok {
				return "", fmt.Errorf("%w %T", errGoType, v)
			}
			if err != nil {
				return "", err
			}
			s = strconv.FormatInt(n, 10)
		}
		p, ok := parseDecimal([]byte(s))
		if !ok {
			return "", errNotDecimal
		}
		return "[F:" + string(appendDecimal(nil, p)) + "]", nil
	case Float, Real:
		switch x := v.(type) {
		case float64:
			return "[F:" + strconv.FormatFloat(x, 'g', -1, 64) + "]", nil
		case float32:
			return "[F:" + strconv.FormatFloat(float64(x), 'g', -1, 32) + "]", nil
		}
		return "", fmt.Errorf("%w %T", errGoType, v)
	case Date, SmallDateTime, DateTime, DateTime2, DateTimeOffset:
		tv, ok := v.(time.Time)
		if !ok {
			return "", fmt.Errorf("%w %T", errGoType, v)
		}
		return string(appendWireDateTime(nil, tv, t.Kind == DateTimeOffset)), nil
	case Time:
		var ns int64
		switch x := v.(type) {
		case TimeOfDay:
			ns = int64(x)
		case time.Duration:
			ns = int64(x)
		default:
			return "", fmt.Errorf("%w %T", errGoType, v)
		}
		if ns < 0 || ns >= int64(24*time.Hour) {
			return "", errors.New("time of day out of range 00:00:00..23:59:59.9999999")
		}
		b := append(make([]byte, 0, 20), "[T:"...)
		b = appendTimeOfDay(b, TimeOfDay(ns))
		return string(append(b, ']')), nil
	case Binary, VarBinary, Image, RowVersion:
		b, ok := v.([]byte)
		if !ok {
			return "", fmt.Errorf("%w %T", errGoType, v)
		}
		return "[B:" + base64.StdEncoding.EncodeToString(b) + "]", nil
	case UniqueIdentifier:
		switch x := v.(type) {
		case UUID:
			return x.String(), nil
		case [16]byte:
			return UUID(x).String(), nil
		case string:
			u, err := ParseUUID([]byte(x))
			if err != nil {
				return "", err
			}
			return u.String(), nil
		}
		return "", fmt.Errorf("%w %T", errGoType, v)
	}
	if t.IsString() {
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
		return "", fmt.Errorf("%w %T", errGoType, v)
	}
	return "", fmt.Errorf("no wire form for type %s", t)
}

// asInt64 converts any Go integer type; ok is false for non-integers.
func asInt64(v any) (n int64, ok bool, err error) {
	switch x := v.(type) {
	case int:
		return int64(x), true, nil
	case int8:
		return int64(x), true, nil
	case int16:
		return int64(x), true, nil
	case int32:
		return int64(x), true, nil
	case int64:
		return x, true, nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, true, errRangeBigInt
		}
		return int64(x), true, nil
	case uint8:
		return int64(x), true, nil
	case uint16:
		return int64(x), true, nil
	case uint32:
		return int64(x), true, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, true, errRangeBigInt
		}
		return int64(x), true, nil
	}
	return 0, false, nil
}

// appendWireDateTime appends [DT:MM/dd/yyyy HH:mm:ss.fffffff] with the wall clock of t, plus
// " +hh:mm" when withOffset. Years outside 1..9999 are written as they are and fail decoding.
func appendWireDateTime(b []byte, t time.Time, withOffset bool) []byte {
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	b = append(b, "[DT:"...)
	b = append2(b, int(month))
	b = append(b, '/')
	b = append2(b, day)
	b = append(b, '/')
	if year < 0 || year > 9999 {
		b = strconv.AppendInt(b, int64(year), 10)
	} else {
		b = appendN(b, year, 4)
	}
	b = append(b, ' ')
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, min)
	b = append(b, ':')
	b = append2(b, sec)
	b = append(b, '.')
	b = appendN(b, t.Nanosecond()/100, 7)
	if withOffset {
		_, off := t.Zone()
		b = append(b, ' ')
		if off < 0 {
			b = append(b, '-')
			off = -off
		} else {
			b = append(b, '+')
		}
		b = append2(b, off/3600%100)
		b = append(b, ':')
		b = append2(b, off/60%60)
	}
	return append(b, ']')
}

// sameValue reports whether decoded (from DecoderFor(t)) is the value the caller passed to EncodeWire.
func sameValue(t Type, in, decoded any) bool {
	switch t.Kind {
	case TinyInt, SmallInt, Int, BigInt:
		n, _, _ := asInt64(in)
		return decoded == n
	case Decimal, Money, SmallMoney:
		return true // the input was canonicalised; the decoder checked its range and digits
	case Float, Real:
		d := decoded.(float64)
		if f, ok := in.(float32); ok {
			return float32(d) == f
		}
		return d == in.(float64)
	case Date, SmallDateTime, DateTime, DateTime2:
		tv := in.(time.Time)
		y, mo, d := tv.Date()
		h, mi, s := tv.Clock()
		return decoded.(time.Time).Equal(time.Date(y, mo, d, h, mi, s, tv.Nanosecond(), time.UTC))
	case DateTimeOffset:
		tv, dv := in.(time.Time), decoded.(time.Time)
		_, off1 := tv.Zone()
		_, off2 := dv.Zone()
		return dv.Equal(tv) && off1 == off2
	case Time:
		var ns int64
		switch x := in.(type) {
		case TimeOfDay:
			ns = int64(x)
		case time.Duration:
			ns = int64(x)
		}
		return decoded == TimeOfDay(ns)
	case Binary, VarBinary, Image, RowVersion:
		return bytes.Equal(decoded.([]byte), in.([]byte))
	case UniqueIdentifier:
		return true // parsed from, or formatted from, the input itself
	}
	switch x := in.(type) {
	case string:
		return decoded == x
	case []byte:
		return decoded == string(x)
	}
	return decoded == in
}

package conformance

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// The suite compares values as canonical text, so that each dialect only has to say how a value it
// reads back maps to that text (Target.Canon), and the expected side is computed once, from the wire.
//
// Canonical text by kind: bit "0"/"1"; integers in decimal; decimals as NormalizeDecimal; float and real
// as CanonFloat; date "YYYY-MM-DD"; time "HH:MM:SS.fffffff"; every datetime kind as CanonTime of its wall
// clock (datetimeoffset: of its instant in UTC); char/nchar without trailing spaces; other strings
// verbatim; binary as lower-case hex; uniqueidentifier lower-case 8-4-4-4-12; NULL as "NULL".

// Null is the canonical text of NULL.
const Null = "NULL"

// NormalizeDecimal returns exact decimal text without trailing fraction zeros, without leading zeros
// and without "-0": "0012.3400" → "12.34", "-0.00" → "0".
func NormalizeDecimal(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	intPart, frac, _ := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	frac = strings.TrimRight(frac, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out
}

// CanonFloat formats a float64 (bits 64) or a float32 value (bits 32) as its shortest round-trip text.
func CanonFloat(f float64, bits int) string { return strconv.FormatFloat(f, 'g', -1, bits) }

// CanonTime formats a wall clock as "YYYY-MM-DD HH:MM:SS.fffffff" (seven digits).
func CanonTime(t time.Time) string {
	return fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d.%07d", t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/100)
}

// CanonDate formats a date as "YYYY-MM-DD".
func CanonDate(t time.Time) string {
	return fmt.Sprintf("%04d-%02d-%02d", t.Year(), t.Month(), t.Day())
}

// CanonTimeOfDay formats nanoseconds since midnight as "HH:MM:SS.fffffff".
func CanonTimeOfDay(ns int64) string { return typemap.TimeOfDay(ns).String() }

// CanonBytes formats binary as lower-case hex.
func CanonBytes(b []byte) string { return hex.EncodeToString(b) }

// expected computes the canonical text of a decoded wire value as the target must give it back.
func expected(col typemap.Column, v any, tgt *Target) string {
	if v == nil {
		return Null
	}
	switch x := v.(type) {
	case bool:
		if x {
			return "1"
		}
		return "0"
	case int64:
		return strconv.FormatInt(x, 10)
	case typemap.DecimalValue:
		return NormalizeDecimal(string(x))
	case float64:
		if col.Type.Kind == typemap.Real {
			return CanonFloat(x, 32)
		}
		return CanonFloat(x, 64)
	case time.Time:
		if tgt.TimeDigits == 6 {
			x = typemap.RoundToMicro(x)
		}
		switch col.Type.Kind {
		case typemap.Date:
			return CanonDate(x)
		case typemap.DateTimeOffset:
			return CanonTime(x.UTC())
		}
		return CanonTime(x)
	case typemap.TimeOfDay:
		if tgt.TimeDigits == 6 {
			x = x.RoundToMicro()
		}
		return x.String()
	case string:
		if col.Type.Kind == typemap.Char || col.Type.Kind == typemap.NChar {
			x = strings.TrimRight(x, " ")
		}
		if tgt.ReplacesNUL {
			x = strings.ReplaceAll(x, "\x00", "\uFFFD")
		}
		return x
	case []byte:
		return CanonBytes(x)
	case typemap.UUID:
		return x.String()
	}
	return fmt.Sprintf("unexpected %T", v)
}

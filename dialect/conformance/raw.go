package conformance

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// The raw encoders of a dialect's type table write a value's wire text straight into the bulk form;
// the bulk encoders (the generic path) write a value that typemap decoded. The generic path is the
// oracle: for any text, the raw encoder must write exactly the bytes the generic path writes, or fail
// as it fails. RawEncoders checks that for sample texts, FuzzRawEncoders for whatever the fuzzer finds.

// Encoders are the two encoders of one column of a dialect, each appending one non-NULL value's bulk
// form to buf.
type Encoders struct {
	// Generic encodes a value as typemap.DecoderFor decodes it.
	Generic func(buf []byte, v any) ([]byte, error)
	// Raw encodes the value's wire text.
	Raw func(buf []byte, text []byte) ([]byte, error)
}

// RawTypes are the column types the raw encoders are compared on: every type of AllTypes, and the
// precisions and lengths where rounding and limits differ.
func RawTypes() []typemap.Type {
	names := []string{"datetime2(0)", "datetime2(3)", "datetimeoffset(0)", "datetimeoffset(3)", "time(0)", "time(3)",
		"decimal(5,5)", "decimal(38,0)", "decimal(18,4)", "float(24)", "char(1)", "nvarchar(1)", "binary(1)", "varbinary(max)"}
	for _, c := range AllTypes().Columns {
		names = append(names, c.Type)
	}
	out := make([]typemap.Type, 0, len(names))
	for _, n := range names {
		t, err := typemap.ParseType(n)
		if err != nil {
			panic(fmt.Sprintf("conformance: raw type %q: %v", n, err))
		}
		out = append(out, t)
	}
	return out
}

// RawSamples are wire texts tried on every column of RawTypes: the values of TypeRows, and texts that
// some decoder refuses, rounds or carries.
func RawSamples() []string {
	var out []string
	for _, row := range TypeRows(1) {
		for _, v := range row {
			if v != nil {
				out = append(out, *v)
			}
		}
	}
	return append(out,
		"", "0", "-0", "007", "[I:-1]", "[I:256]", "[S:32768]", "[L:9223372036854775808]", "[I:]", "[X:1]", "1e3",
		"[F:0.00001]", "[F:-0.0]", "[F:1e400]", "[F:1e-400]", "[F:3.4028236E+38]", "[F:NaN]", "[F:12345678901234567890.5]",
		"[M:1.23]", "[F:+5]", "[F:.5]", "[F:5.]", "[F:1.00000]", "[F:123456789012345678901234567890123456789]",
		"[DT:05/18/2020 10:40:43.1234567]", "[DT:05/18/2020 10:40:43.9999999]", "[DT:12/31/9999 23:59:59.9999999]",
		"[DT:12/31/9999 23:59:59.9985000]", "[DT:06/06/2079 23:59:29.999]", "[DT:06/06/2079 23:59:29.998]",
		"[DT:12/31/1899 23:59:30.0000000]", "[DT:01/01/1753 00:00:00.0000000]", "[DT:12/31/1752 23:59:59.9990000]",
		"[DT:05/18/2020 10:40:43.1234567 +02:00]", "[DT:01/01/0001 00:00:00.0000000 +14:00]",
		"[DT:12/31/9999 23:59:59.9999999 -14:00]", "[DT:12/31/9999 23:59:59.9999995 +00:00]", "[DT:02/30/2020 00:00:00]",
		"[DT:05/18/2020]", "[D:05/18/2020]", "2020-05-18", "2020-05-18T10:40:43Z", "2020-05-18 10:40:43.5+01:00",
		"[DT:01/01/0999 00:00:00.0000000]", "[DT:01/01/1000 00:00:00.0000000]", "[DT:12/31/0999 23:59:59.9999999]",
		"[T:23:59:59.9999999]", "[T:23:59:59.9999995]", "[T:00:00:00.0000005]", "[T:24:00:00]", "10:40:43", "[T:10:40:43.5]",
		"[B:]", "[B:AQID]", "[B:AQI=]", "[B:AQ==]", "[B:AQ=]", "[B:!!!!]", "0x", "0xABC", "0xzz", "0x0102", "[B:AAAAAAAAAAA=]",
		"6f9619ff-8b86-d011-b42d-00c04fc964ff", "{6F9619FF-8B86-D011-B42D-00C04FC964FF}", "6f9619ff8b86d011b42d00c04fc964ff",
		"true", "FALSE", "yes", "[I:2]", "nul\x00inside", "\x00", "\xff\xfe", "a\tb\nc\rd\\e", "é", "ab", "日本語",
		strings.Repeat("x", 300), "[B:"+strings.Repeat("AAAA", 100)+"]",
	)
}

// RawEncoders compares the raw and the generic encoders of a dialect on every sample text of every
// column of RawTypes; encoders returns the two of a column.
func RawEncoders(t *testing.T, encoders func(col typemap.Column) (Encoders, error)) {
	t.Helper()
	types := RawTypes()
	samples := RawSamples()
	for _, typ := range types {
		enc, err := encoders(rawColumn(typ))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		for _, s := range samples {
			CheckRaw(t, typ, enc, []byte(s))
		}
	}
}

// FuzzRawEncoders is the fuzz target of RawEncoders: a dialect's test declares
//
//	func FuzzRawEncoders(f *testing.F) { conformance.FuzzRawEncoders(f, encoders) }
func FuzzRawEncoders(f *testing.F, encoders func(col typemap.Column) (Encoders, error)) {
	types := RawTypes()
	// Each sample once, on a type chosen round-robin: the samples are tried on every type by
	// RawEncoders, and the fuzzer mutates the type index anyway.
	for k, s := range RawSamples() {
		f.Add(uint8(k%len(types)), []byte(s))
	}
	encs := make([]Encoders, len(types))
	for i, typ := range types {
		var err error
		if encs[i], err = encoders(rawColumn(typ)); err != nil {
			f.Fatalf("%s: %v", typ, err)
		}
	}
	f.Fuzz(func(t *testing.T, i uint8, text []byte) {
		k := int(i) % len(types)
		CheckRaw(t, types[k], encs[k], text)
	})
}

func rawColumn(typ typemap.Type) typemap.Column {
	return typemap.Column{Name: "c_" + typ.Kind.String(), Type: typ, Nullable: true}
}

// CheckRaw fails t unless the raw encoder writes for text exactly what the generic path writes: the
// same bytes after the same prefix, or an error with the same message. (A writer that meets a raw
// encoder's error judges the row through the generic path, see dialect.RawRowSource, so that failing
// alike matters more than the message; the same message shows that both refuse for the same reason.)
func CheckRaw(t testing.TB, typ typemap.Type, enc Encoders, text []byte) {
	t.Helper()
	prefix := []byte("prefix")
	var want []byte
	v, wantErr := typemap.DecoderFor(typ)(text)
	if wantErr == nil {
		want, wantErr = enc.Generic(append([]byte(nil), prefix...), v)
	}
	got, gotErr := enc.Raw(append([]byte(nil), prefix...), append([]byte(nil), text...))
	switch {
	case wantErr == nil && gotErr != nil:
		t.Fatalf("%s %q: the generic path writes %q, the raw encoder fails: %v", typ, text, want, gotErr)
	case wantErr != nil && gotErr == nil:
		t.Fatalf("%s %q: the generic path fails (%v), the raw encoder writes %q", typ, text, wantErr, got)
	case wantErr != nil:
		if gotErr.Error() != wantErr.Error() {
			t.Fatalf("%s %q: the generic path fails with %q, the raw encoder with %q", typ, text, wantErr, gotErr)
		}
	case !bytes.HasPrefix(got, prefix):
		t.Fatalf("%s %q: the raw encoder did not append to its buffer", typ, text)
	case !bytes.Equal(got, want):
		t.Fatalf("%s %q: the generic path writes %q, the raw encoder %q", typ, text, want[len(prefix):], got[len(prefix):])
	}
}

// DriverEncoders are the Encoders of a dialect whose bulk form is a Go value handed to its driver: each
// appends the value that its encoder makes, as DriverValue writes it.
func DriverEncoders(generic func(v any) (any, error), raw func(text []byte) (any, error)) Encoders {
	return Encoders{
		Generic: func(b []byte, v any) ([]byte, error) {
			out, err := generic(v)
			if err != nil {
				return b, err
			}
			return DriverValue(b, out), nil
		},
		Raw: func(b, text []byte) ([]byte, error) {
			out, err := raw(text)
			if err != nil {
				return b, err
			}
			return DriverValue(b, out), nil
		},
	}
}

// DriverValue appends an exact text form of v, a value a dialect hands to its driver (a bind value, a
// bulk copier's value), so that the Encoders of a dialect whose bulk form is a Go value can compare
// theirs as bytes: the Go type, and the value to the last bit (a byte slice's nil-ness included).
func DriverValue(buf []byte, v any) []byte {
	buf = fmt.Appendf(buf, "%T:", v)
	switch x := v.(type) {
	case nil:
		return append(buf, "nil"...)
	case []byte:
		if x == nil {
			return append(buf, "nil"...)
		}
		return hex.AppendEncode(buf, x)
	case string:
		return strconv.AppendQuote(buf, x)
	case float64:
		return strconv.AppendUint(buf, math.Float64bits(x), 16)
	case float32:
		return strconv.AppendUint(buf, uint64(math.Float32bits(x)), 16)
	case time.Time:
		_, off := x.Zone()
		return fmt.Appendf(buf, "%s@%d/%s", x.UTC().Format(time.RFC3339Nano), off, x.Location())
	}
	return fmt.Appendf(buf, "%#v", v)
}

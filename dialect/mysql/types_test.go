package mysql

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// rawAndGeneric returns a column's two encoders.
func rawAndGeneric(col typemap.Column) (conformance.Encoders, error) {
	r, err := ruleFor(col.Type)
	if err != nil {
		return conformance.Encoders{}, err
	}
	raw, err := rawEncoderFor(col.Type)
	if err != nil {
		return conformance.Encoders{}, err
	}
	generic := func(b []byte, v any) ([]byte, error) { return reason(r.encode(b, v)) }
	return conformance.Encoders{Generic: generic, Raw: raw}, nil
}

// TestRawEncoders: the raw encoders write exactly the LOAD DATA fields of the generic path.
func TestRawEncoders(t *testing.T) { conformance.RawEncoders(t, rawAndGeneric) }

func FuzzRawEncoders(f *testing.F) { conformance.FuzzRawEncoders(f, rawAndGeneric) }

func TestEveryKindHasARule(t *testing.T) {
	conformance.EveryKind(t, func(k typemap.Kind) bool {
		r, ok := rules[k]
		return ok && r.column != nil && r.literal != nil && r.encode != nil && r.read != nil && rawEncoders[k] != nil
	})
	// The staging table and the bulk path cannot disagree with the DDL: both take the kind's rule.
	for _, k := range typemap.Kinds() {
		if r := rules[k]; r.hex != (k == typemap.Binary || k == typemap.VarBinary || k == typemap.Image || k == typemap.RowVersion) {
			t.Errorf("%s: hex is %v, but only binary data travels as hex", k, r.hex)
		}
	}
}

func TestEncodeRow(t *testing.T) {
	cols := []typemap.Column{
		col(t, "s", "nvarchar(100)", "", true),
		col(t, "b", "varbinary(10)", "", true),
		col(t, "n", "int", "", true),
		col(t, "f", "float", "", true),
		col(t, "r", "real", "", true),
		col(t, "t", "time(7)", "", true),
		col(t, "u", "uniqueidentifier", "", true),
		col(t, "bit", "bit", "", true),
	}
	e, err := newRowEncoder(cols)
	if err != nil {
		t.Fatal(err)
	}
	u := typemap.UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	tests := []struct {
		vals []any
		want string
	}{
		{[]any{"a\\b\tc\nd\re\x00f\\N", []byte{0, 0xff}, int64(-5), 0.1, float64(float32(0.1)), typemap.TimeOfDay(86399_999_999_900), u, true},
			"a\\\\b\\tc\\nd\\re\\0f\\\\N\t00ff\t-5\t0.1\t0.10000000149011612\t23:59:59.999999\t6f9619ff-8b86-d011-b42d-00c04fc964ff\t1\n"},
		{[]any{nil, nil, nil, nil, nil, nil, nil, nil}, "\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"},
		{[]any{"", []byte{}, int64(0), 1e308, float64(float32(3.4028235e38)), typemap.TimeOfDay(1500), u, false},
			"\t\t0\t1e+308\t3.4028234663852886e+38\t00:00:00.000002\t6f9619ff-8b86-d011-b42d-00c04fc964ff\t0\n"},
	}
	for i, tt := range tests {
		got, err := e.appendRow(nil, tt.vals, i+1)
		if err != nil || string(got) != tt.want {
			t.Errorf("row %d: got %q, %v\nwant %q", i+1, got, err, tt.want)
		}
	}
	for _, tm := range []time.Time{
		time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999999499, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1987, 6, 5, 4, 3, 2, 1500, time.UTC),
	} {
		r := typemap.RoundToMicro(tm)
		if got, want := string(appendDateTime(nil, r)), r.Format("2006-01-02 15:04:05.000000"); got != want {
			t.Errorf("appendDateTime(%v) = %s, want %s", tm, got, want)
		}
	}
	_, err = e.appendRow(nil, []any{1, nil, nil, nil, nil, nil, nil, nil}, 7)
	var ve *dialect.ValueError
	if !errors.As(err, &ve) || ve.Row != 7 || ve.Column != "s" {
		t.Errorf("wrong type: err = %v", err)
	}
	if _, err := e.appendRow(nil, []any{nil}, 1); err == nil {
		t.Error("a row with too few values was encoded")
	}
}

func TestEncodeRefusals(t *testing.T) {
	at := func(s string) time.Time { tm, _ := time.Parse("2006-01-02 15:04:05 -07:00", s); return tm }
	tests := []struct {
		typ    string
		v      any
		reason string
	}{
		{"tinyint", int64(256), "outside tinyint"},
		{"tinyint", int64(-1), "outside tinyint"},
		{"real", 3.5e38, "beyond"},
		{"float", math.Inf(-1), "infinities"},
		{"float", math.SmallestNonzeroFloat64, ""},
		{"date", at("0999-12-31 00:00:00 +00:00"), "a date before year 1000"},
		{"datetime2(7)", at("0999-12-31 23:59:59 +00:00"), "before year 1000"},
		// A datetimeoffset whose UTC instant falls before year 1000 does not fit either.
		{"datetimeoffset(7)", at("1000-01-01 00:30:00 +01:00"), "before year 1000"},
		{"datetimeoffset(7)", at("1000-01-01 00:30:00 -01:00"), ""},
		{"int", "12", "want int64"},
	}
	for _, tt := range tests {
		r, err := ruleFor(col(t, "c", tt.typ, "", true).Type)
		if err != nil {
			t.Fatal(err)
		}
		_, why := r.encode(nil, tt.v)
		if (tt.reason == "") != (why == "") || !strings.Contains(why, tt.reason) {
			t.Errorf("%s %v: reason %q, want one mentioning %q", tt.typ, tt.v, why, tt.reason)
		}
		if strings.Contains(why, "0999") || strings.Contains(why, "1000-01-01") {
			t.Errorf("%s %v: the reason %q quotes the value, which is row data", tt.typ, tt.v, why)
		}
	}
}

func TestReadNormalises(t *testing.T) {
	u := typemap.UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	when := time.Date(2020, 5, 18, 10, 40, 43, 123456000, time.UTC)
	// What the driver scans through the binary protocol, and what Read must hand on.
	tests := []struct {
		typ  string
		in   any
		want any
	}{
		{"bit", int64(1), true},
		{"bit", int64(0), false},
		{"tinyint", int64(255), int64(255)},
		{"bigint", int64(-9223372036854775808), int64(-9223372036854775808)},
		{"decimal(19,4)", []byte("-12.3400"), typemap.DecimalValue("-12.3400")},
		{"money", []byte("0.0001"), typemap.DecimalValue("0.0001")},
		{"float", 0.1, 0.1},
		{"real", float32(0.1), float64(float32(0.1))},
		{"date", when, when},
		{"datetimeoffset", when, when},
		{"time(7)", []byte("23:59:59.999999"), typemap.TimeOfDay(86399_999_999_000)},
		{"time(0)", "10:40:43", typemap.TimeOfDay(38443_000_000_000)},
		{"nchar(10)", []byte("æøå"), "æøå"},
		{"xml", []byte("<a/>"), "<a/>"},
		{"varbinary(max)", []byte{0, 1}, []byte{0, 1}},
		{"uniqueidentifier", []byte("6f9619ff-8b86-d011-b42d-00c04fc964ff"), u},
	}
	for _, tt := range tests {
		r, err := ruleFor(col(t, "c", tt.typ, "", true).Type)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.read(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.typ, err)
			continue
		}
		if g, ok := got.([]byte); ok {
			if w, ok := tt.want.([]byte); !ok || string(g) != string(w) {
				t.Errorf("%s: got %v, want %v", tt.typ, got, tt.want)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%s: got %#v (%T), want %#v (%T)", tt.typ, got, got, tt.want, tt.want)
		}
	}
	// What the binary protocol never sends for a kind is an error, not a guess.
	for _, tt := range []struct {
		typ string
		in  any
	}{{"int", []byte("1")}, {"real", 0.5}, {"time(7)", int64(1)}, {"time(7)", []byte("25:00")}, {"uniqueidentifier", []byte("nope")}} {
		r, _ := ruleFor(col(t, "c", tt.typ, "", true).Type)
		if got, err := r.read(tt.in); err == nil {
			t.Errorf("%s: %T read as %v", tt.typ, tt.in, got)
		}
	}
}

package sqlite

import (
	"math"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/typemap"
)

func TestTypeTableCoversEveryKind(t *testing.T) {
	conformance.EveryKind(t, func(k typemap.Kind) bool {
		r, ok := types[k]
		return ok && r.storage != stInvalid && r.convert != nil && r.read != nil && rawConverters[k] != nil
	})
}

// rawAndGeneric returns a column's two converters, each appending the value it binds as
// conformance.DriverValue writes it.
func rawAndGeneric(col typemap.Column) (conformance.Encoders, error) {
	r, err := ruleOf(col.Type)
	if err != nil {
		return conformance.Encoders{}, err
	}
	raw, err := rawConverterOf(col.Type)
	if err != nil {
		return conformance.Encoders{}, err
	}
	var scratch [48]byte
	return conformance.DriverEncoders(
		func(v any) (any, error) { return reason(r.convert(v, scratch[:])) },
		func(text []byte) (any, error) { return raw(text, scratch[:]) },
	), nil
}

// TestRawEncoders: the raw converters bind exactly what the generic path binds.
func TestRawEncoders(t *testing.T) { conformance.RawEncoders(t, rawAndGeneric) }

func FuzzRawEncoders(f *testing.F) { conformance.FuzzRawEncoders(f, rawAndGeneric) }

// TestConvertThenRead checks each rule's two directions against each other: what the bulk path binds
// reads back as the value it came from.
func TestConvertThenRead(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	cases := []struct {
		kind typemap.Kind
		in   any
	}{
		{typemap.Bit, true}, {typemap.Int, int64(-7)}, {typemap.Float, 1.5}, {typemap.Decimal, typemap.DecimalValue("-12.34")},
		{typemap.Date, time.Date(2020, 5, 18, 0, 0, 0, 0, time.UTC)},
		{typemap.DateTime2, time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC)},
		{typemap.DateTimeOffset, time.Date(2020, 5, 18, 10, 40, 43, 123456700, plus2)},
		{typemap.Time, typemap.TimeOfDay(10*time.Hour + 123456700)},
		{typemap.UniqueIdentifier, typemap.UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0, 0xc0, 0x4f, 0xc9, 0x64, 0xff}},
		{typemap.NVarChar, "✓ text"}, {typemap.VarBinary, []byte{0, 1, 2}}, {typemap.VarBinary, []byte{}},
	}
	buf := make([]byte, 64)
	for _, c := range cases {
		r := types[c.kind]
		bound, reason := r.convert(c.in, buf)
		if reason != "" {
			t.Fatalf("%s: convert %v: %s", c.kind, c.in, reason)
		}
		back, err := r.read(bound)
		if err != nil {
			t.Fatalf("%s: read %v: %v", c.kind, bound, err)
		}
		switch want := c.in.(type) {
		case time.Time:
			if !back.(time.Time).Equal(want) {
				t.Errorf("%s: %v came back as %v", c.kind, want, back)
			}
		case typemap.UUID:
			if back != want.String() {
				t.Errorf("%s: %v came back as %v", c.kind, want, back)
			}
		case []byte:
			if string(back.([]byte)) != string(want) || back.([]byte) == nil {
				t.Errorf("%s: %v came back as %#v", c.kind, want, back)
			}
		default:
			if back != c.in {
				t.Errorf("%s: %#v came back as %#v", c.kind, c.in, back)
			}
		}
	}
	if _, reason := types[typemap.Float].convert(math.NaN(), buf); reason == "" {
		t.Error("NaN must be refused: SQLite would store NULL")
	}
}

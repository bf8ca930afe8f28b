package typemap

import (
	"testing"
)

// fuzzRoundTrip decodes text with every given type; whatever is accepted must encode and decode to
// the same value. Nothing may panic.
func fuzzRoundTrip(t *testing.T, types []Type, text []byte) {
	for _, typ := range types {
		v, err := DecoderFor(typ)(text)
		if err != nil {
			if v != nil {
				t.Fatalf("%s %q: value %#v with error %v", typ, text, v, err)
			}
			if _, ok := err.(*ValueError); !ok {
				t.Fatalf("%s %q: error %T is not *ValueError", typ, text, err)
			}
			continue
		}
		wire, err := EncodeWire(typ, v)
		if err != nil {
			t.Fatalf("%s %q: decoded %#v but EncodeWire fails: %v", typ, text, v, err)
		}
		again, err := DecoderFor(typ)([]byte(wire))
		if err != nil || !equalValue(again, v) {
			t.Fatalf("%s %q: decoded %#v, encoded %q, decoded again %#v, %v", typ, text, v, wire, again, err)
		}
	}
}

func typesOf(tb testing.TB, names ...string) []Type {
	out := make([]Type, len(names))
	for i, n := range names {
		out[i] = mustType(tb, n)
	}
	return out
}

func seed(f *testing.F, kind Kind) {
	for _, tt := range decodeTests {
		if typ, err := ParseType(tt.typ); err == nil && typ.Kind == kind {
			f.Add([]byte(tt.in))
		}
	}
}

func FuzzDecodeInt(f *testing.F) {
	for _, k := range []Kind{Bit, TinyInt, SmallInt, Int, BigInt} {
		seed(f, k)
	}
	types := typesOf(f, "bit", "tinyint", "smallint", "int", "bigint")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzRoundTrip(t, types, b) })
}

func FuzzDecodeDecimal(f *testing.F) {
	for _, k := range []Kind{Decimal, Money, SmallMoney} {
		seed(f, k)
	}
	types := typesOf(f, "decimal(19,4)", "decimal(38,10)", "decimal(5,5)", "numeric", "decimal(38,0)", "money", "smallmoney")
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRoundTrip(t, types, b)
		// An accepted decimal is canonical: decoding its own text gives the same text.
		for _, typ := range types {
			if v, err := DecoderFor(typ)(b); err == nil {
				d := v.(DecimalValue)
				if again, err := DecoderFor(typ)([]byte(d)); err != nil || again != d {
					t.Fatalf("%s %q: %q is not canonical (%v, %v)", typ, b, d, again, err)
				}
			}
		}
	})
}

func FuzzDecodeFloat(f *testing.F) {
	seed(f, Float)
	seed(f, Real)
	types := typesOf(f, "float", "real")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzRoundTrip(t, types, b) })
}

func FuzzDecodeDateTime(f *testing.F) {
	for _, k := range []Kind{Date, SmallDateTime, DateTime, DateTime2, DateTimeOffset, Time} {
		seed(f, k)
	}
	types := typesOf(f, "date", "smalldatetime", "datetime", "datetime2", "datetime2(0)", "datetime2(3)",
		"datetimeoffset", "datetimeoffset(2)", "time", "time(0)", "time(4)")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzRoundTrip(t, types, b) })
}

func FuzzDecodeString(f *testing.F) {
	for _, k := range []Kind{NVarChar, VarChar, Char, Text, SysName} {
		seed(f, k)
	}
	types := typesOf(f, "nvarchar(5)", "varchar(max)", "char(3)", "ntext", "sysname", "xml")
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRoundTrip(t, types, b)
		if v, err := DecoderFor(types[1])(b); err == nil && v.(string) != string(b) {
			t.Fatalf("string not verbatim: %q → %q", b, v)
		}
	})
}

func FuzzDecodeBinary(f *testing.F) {
	for _, k := range []Kind{Binary, VarBinary, Image, RowVersion, UniqueIdentifier} {
		seed(f, k)
	}
	types := typesOf(f, "varbinary(max)", "binary(4)", "varbinary(3)", "rowversion", "uniqueidentifier")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzRoundTrip(t, types, b) })
}

func FuzzParseType(f *testing.F) {
	for _, s := range []string{"int", "NVARCHAR ( 255 )", "nvarchar(max)", "decimal(19,4)", "float(24)",
		"datetime2(7)", "varbinary(max)", "xml(CONTENT x)", "national character varying(10)", "decimal(,)", "(("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := ParseType(s)
		if err != nil {
			return
		}
		again, err := ParseType(typ.String())
		if err != nil || again != typ {
			t.Fatalf("ParseType(%q) = %+v, but its String %q parses to %+v, %v", s, typ, typ.String(), again, err)
		}
		if typ.Kind == Invalid {
			t.Fatalf("ParseType(%q) returned an invalid kind without error", s)
		}
	})
}

func FuzzParseDefault(f *testing.F) {
	for _, s := range []string{"default ((0))", "default (N'it''s')", "DEFAULT (NULL)", "default (getdate())",
		"(0)", "default ((-1))", "default ('a'+'b')", "default ((1)+(2))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDefault(s)
		if err != nil || d == nil {
			return
		}
		if d.Kind < DefaultLiteral || d.Kind > DefaultUnsupported || d.Raw != s {
			t.Fatalf("parseDefault(%q) = %+v", s, *d)
		}
	})
}

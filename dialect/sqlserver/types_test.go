package sqlserver

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

func enc(t *testing.T, typ typemap.Type, cp int) encoder {
	t.Helper()
	encs, err := newEncoders([]typemap.Column{{Name: "c", Type: typ}}, map[string]int{"c": cp}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	return encs[0]
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

// TestEncoders checks the Go type and value handed to the bulk copier for each SQL Server type, and
// that values which do not fit fail before the copier sees them.
func TestEncoders(t *testing.T) {
	oslo := time.FixedZone("", 2*3600)
	minus := time.FixedZone("", -(9*3600 + 30*60))
	ty := func(k typemap.Kind, l, p, s int) typemap.Type {
		return typemap.Type{Kind: k, Length: l, Precision: p, Scale: s}
	}
	cases := []struct {
		name string
		typ  typemap.Type
		cp   int
		in   any
		want any    // when fail is ""
		fail string // a substring of the reason
	}{
		{"bit true", ty(typemap.Bit, 0, 0, 0), 0, true, true, ""},
		{"bit null", ty(typemap.Bit, 0, 0, 0), 0, nil, nil, ""},
		{"bit wrong type", ty(typemap.Bit, 0, 0, 0), 0, int64(1), nil, "want bool"},
		{"tinyint max", ty(typemap.TinyInt, 0, 0, 0), 0, int64(255), int64(255), ""},
		{"tinyint min", ty(typemap.TinyInt, 0, 0, 0), 0, int64(0), int64(0), ""},
		{"tinyint over", ty(typemap.TinyInt, 0, 0, 0), 0, int64(256), nil, "outside"},
		{"tinyint negative", ty(typemap.TinyInt, 0, 0, 0), 0, int64(-1), nil, "outside"},
		{"smallint min", ty(typemap.SmallInt, 0, 0, 0), 0, int64(math.MinInt16), int64(math.MinInt16), ""},
		{"smallint over", ty(typemap.SmallInt, 0, 0, 0), 0, int64(math.MaxInt16 + 1), nil, "outside"},
		{"int max", ty(typemap.Int, 0, 0, 0), 0, int64(math.MaxInt32), int64(math.MaxInt32), ""},
		{"int under", ty(typemap.Int, 0, 0, 0), 0, int64(math.MinInt32 - 1), nil, "outside"},
		{"bigint min", ty(typemap.BigInt, 0, 0, 0), 0, int64(math.MinInt64), int64(math.MinInt64), ""},
		{"bigint max", ty(typemap.BigInt, 0, 0, 0), 0, int64(math.MaxInt64), int64(math.MaxInt64), ""},
		{"int wrong type", ty(typemap.Int, 0, 0, 0), 0, "1", nil, "want int64"},
		{"decimal(38,10) full", ty(typemap.Decimal, 0, 38, 10), 0, typemap.DecimalValue("-9999999999999999999999999999.9999999999"), "-9999999999999999999999999999.9999999999", ""},
		{"decimal(38,10) too many digits", ty(typemap.Decimal, 0, 38, 10), 0, typemap.DecimalValue("99999999999999999999999999999"), nil, "does not fit"},
		{"decimal too many places", ty(typemap.Decimal, 0, 10, 2), 0, typemap.DecimalValue("1.234"), nil, "decimal places"},
		{"decimal trailing zeros", ty(typemap.Decimal, 0, 10, 2), 0, typemap.DecimalValue("1.2300"), "1.23", ""},
		{"decimal zero", ty(typemap.Decimal, 0, 18, 0), 0, typemap.DecimalValue("0"), "0", ""},
		{"decimal below one", ty(typemap.Decimal, 0, 4, 4), 0, typemap.DecimalValue("-0.0001"), "-0.0001", ""},
		{"decimal garbage", ty(typemap.Decimal, 0, 10, 2), 0, typemap.DecimalValue("1e5"), nil, "not exact decimal"},
		{"decimal float64 refused", ty(typemap.Decimal, 0, 10, 2), 0, 1.5, nil, "want typemap.DecimalValue"},
		{"money max", ty(typemap.Money, 0, 0, 0), 0, typemap.DecimalValue("922337203685477.5807"), "922337203685477.5807", ""},
		{"money min", ty(typemap.Money, 0, 0, 0), 0, typemap.DecimalValue("-922337203685477.5808"), "-922337203685477.5808", ""},
		{"money over", ty(typemap.Money, 0, 0, 0), 0, typemap.DecimalValue("922337203685477.5808"), nil, "range of money"},
		{"smallmoney min", ty(typemap.SmallMoney, 0, 0, 0), 0, typemap.DecimalValue("-214748.3648"), "-214748.3648", ""},
		{"smallmoney over", ty(typemap.SmallMoney, 0, 0, 0), 0, typemap.DecimalValue("214748.3648"), nil, "range of smallmoney"},
		{"float", ty(typemap.Float, 0, 53, 0), 0, math.MaxFloat64, math.MaxFloat64, ""},
		{"float NaN", ty(typemap.Float, 0, 53, 0), 0, math.NaN(), nil, "not a number"},
		{"float inf", ty(typemap.Float, 0, 53, 0), 0, math.Inf(-1), nil, "not a number"},
		{"real over", ty(typemap.Real, 0, 24, 0), 0, 1e39, nil, "range of real"},
		{"real", ty(typemap.Real, 0, 24, 0), 0, 1.5, 1.5, ""},
		{"date min", ty(typemap.Date, 0, 0, 0), 0, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"datetime2(7) 100ns", ty(typemap.DateTime2, 0, 7, 0), 0, time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC), ""},
		{"datetime2 keeps the wall clock", ty(typemap.DateTime2, 0, 7, 0), 0, time.Date(2020, 5, 18, 10, 40, 43, 100, oslo), time.Date(2020, 5, 18, 10, 40, 43, 100, time.UTC), ""},
		{"datetime min", ty(typemap.DateTime, 0, 0, 0), 0, time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"datetime before 1753", ty(typemap.DateTime, 0, 0, 0), 0, time.Date(1752, 12, 31, 0, 0, 0, 0, time.UTC), nil, "outside the range"},
		{"datetime no-date value", ty(typemap.DateTime, 0, 0, 0), 0, time.Date(1760, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1760, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"datetime .997", ty(typemap.DateTime, 0, 0, 0), 0, time.Date(9999, 12, 31, 23, 59, 59, 997000000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 997000000, time.UTC), ""},
		{"smalldatetime max", ty(typemap.SmallDateTime, 0, 0, 0), 0, time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC), time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC), ""},
		{"smalldatetime over", ty(typemap.SmallDateTime, 0, 0, 0), 0, time.Date(2079, 6, 7, 0, 0, 0, 0, time.UTC), nil, "outside the range"},
		{"smalldatetime seconds", ty(typemap.SmallDateTime, 0, 0, 0), 0, time.Date(2000, 1, 1, 0, 0, 1, 0, time.UTC), nil, "seconds"},
		{"datetimeoffset +02:00", ty(typemap.DateTimeOffset, 0, 7, 0), 0, time.Date(2020, 1, 1, 1, 0, 0, 100, oslo), time.Date(2020, 1, 1, 1, 0, 0, 100, oslo), ""},
		{"datetimeoffset -09:30", ty(typemap.DateTimeOffset, 0, 7, 0), 0, time.Date(2020, 1, 1, 1, 0, 0, 0, minus), time.Date(2020, 1, 1, 1, 0, 0, 0, minus), ""},
		{"datetimeoffset seconds offset", ty(typemap.DateTimeOffset, 0, 7, 0), 0, time.Date(2020, 1, 1, 1, 0, 0, 0, time.FixedZone("", 30)), nil, "whole minutes"},
		{"datetimeoffset UTC before year 1", ty(typemap.DateTimeOffset, 0, 7, 0), 0, time.Date(1, 1, 1, 0, 0, 0, 0, oslo), nil, "outside the range"},
		{"time max", ty(typemap.Time, 0, 7, 0), 0, typemap.TimeOfDay(24*time.Hour - 100), time.Unix(0, int64(24*time.Hour-100)).UTC(), ""},
		{"time 24h", ty(typemap.Time, 0, 7, 0), 0, typemap.TimeOfDay(24 * time.Hour), nil, "not a time of day"},
		{"nvarchar", ty(typemap.NVarChar, 5, 0, 0), 0, "héllo", utf16le("héllo"), ""},
		{"nvarchar surrogate pair", ty(typemap.NVarChar, 4, 0, 0), 0, "a😀b", utf16le("a😀b"), ""},
		{"nvarchar UTF-16 units count", ty(typemap.NVarChar, 3, 0, 0), 0, "a😀b", nil, "does not fit 3"},
		{"nvarchar NUL kept", ty(typemap.NVarChar, 10, 0, 0), 0, "a\x00b", utf16le("a\x00b"), ""},
		{"nvarchar empty", ty(typemap.NVarChar, 10, 0, 0), 0, "", []byte{}, ""},
		{"nvarchar invalid UTF-8", ty(typemap.NVarChar, 10, 0, 0), 0, "a\xffb", nil, "not valid UTF-8"},
		{"nvarchar over-long", ty(typemap.NVarChar, 4000, 0, 0), 0, strings.Repeat("x", 4001), nil, "does not fit 4000"},
		{"nvarchar(max) long", ty(typemap.NVarChar, typemap.Max, 0, 0), 0, strings.Repeat("x", 40000), utf16le(strings.Repeat("x", 40000)), ""},
		{"nchar", ty(typemap.NChar, 2, 0, 0), 0, "abc", nil, "does not fit 2"},
		{"sysname", ty(typemap.SysName, 128, 0, 0), 0, strings.Repeat("s", 129), nil, "does not fit 128"},
		{"xml as UTF-16", ty(typemap.XML, 0, 0, 0), 0, "<a>ø</a>", utf16le("<a>ø</a>"), ""},
		{"varchar ascii", ty(typemap.VarChar, 5, 0, 0), 1252, "hello", []byte("hello"), ""},
		{"varchar cp1252", ty(typemap.VarChar, 5, 0, 0), 1252, "Søt€", []byte{'S', 0xF8, 't', 0x80}, ""},
		{"varchar cp1252 lacks a character", ty(typemap.VarChar, 50, 0, 0), 1252, "Ωmega", nil, "not in code page 1252"},
		{"varchar cp1251", ty(typemap.VarChar, 10, 0, 0), 1251, "Жук", []byte{0xC6, 0xF3, 0xEA}, ""},
		{"varchar NUL kept", ty(typemap.VarChar, 10, 0, 0), 1252, "a\x00b", []byte("a\x00b"), ""},
		{"varchar bytes counted", ty(typemap.VarChar, 3, 0, 0), 932, "日本", nil, "does not fit 3"},
		{"varchar cp932", ty(typemap.VarChar, 4, 0, 0), 932, "日本", []byte{0x93, 0xfa, 0x96, 0x7b}, ""},
		{"varchar UTF-8 collation", ty(typemap.VarChar, 10, 0, 0), 65001, "Søt", []byte("Søt"), ""},
		{"varchar over-long", ty(typemap.VarChar, 3, 0, 0), 1252, "abcd", nil, "does not fit 3"},
		{"char", ty(typemap.Char, 3, 0, 0), 1252, "ab", []byte("ab"), ""},
		{"text unbounded", ty(typemap.Text, 0, 0, 0), 1252, strings.Repeat("t", 10000), []byte(strings.Repeat("t", 10000)), ""},
		{"binary", ty(typemap.VarBinary, 4, 0, 0), 0, []byte{1, 2, 3, 4}, []byte{1, 2, 3, 4}, ""},
		{"binary over-long", ty(typemap.VarBinary, 4, 0, 0), 0, []byte{1, 2, 3, 4, 5}, nil, "do not fit 4"},
		{"binary empty is not NULL", ty(typemap.VarBinary, 4, 0, 0), 0, []byte(nil), []byte{}, ""},
		{"rowversion", ty(typemap.RowVersion, 0, 0, 0), 0, []byte{0, 0, 0, 0, 0, 0, 7, 0xd1}, []byte{0, 0, 0, 0, 0, 0, 7, 0xd1}, ""},
		{"rowversion over-long", ty(typemap.RowVersion, 0, 0, 0), 0, make([]byte, 9), nil, "do not fit 8"},
		{"uuid wrong length", ty(typemap.UniqueIdentifier, 0, 0, 0), 0, make([]byte, 15), nil, "16 bytes, not 15"},
		{"uuid wrong type", ty(typemap.UniqueIdentifier, 0, 0, 0), 0, "6f9619ff-8b86-d011-b42d-00c04fc964ff", nil, "want typemap.UUID"},
		{"hierarchyid staged as text", ty(typemap.HierarchyID, 0, 0, 0), 0, "/1/2/", utf16le("/1/2/"), ""},
		{"geography staged as text", ty(typemap.Geography, 0, 0, 0), 0, "POINT (10 59)", utf16le("POINT (10 59)"), ""},
		{"geometry staged as text, unbounded", ty(typemap.Geometry, 0, 0, 0), 0, strings.Repeat("x", 5000), utf16le(strings.Repeat("x", 5000)), ""},
		{"sql_variant staged as text", ty(typemap.SQLVariant, 0, 0, 0), 0, "42", utf16le("42"), ""},
		{"sql_variant holds at most 4000 characters", ty(typemap.SQLVariant, 0, 0, 0), 0, strings.Repeat("v", 4001), nil, "does not fit 4000"},
		{"hierarchyid text is what Parse takes", ty(typemap.HierarchyID, 0, 0, 0), 0, "/" + strings.Repeat("1/", 2000), nil, "does not fit 4000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := enc(t, c.typ, c.cp)(c.in)
			if c.fail != "" {
				var r reason
				if err == nil || !errors.As(err, &r) || !strings.Contains(err.Error(), c.fail) {
					t.Fatalf("got %#v, %v; want a reason containing %q", got, err, c.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(c.want) {
				t.Fatalf("Go type %T, want %T", got, c.want)
			}
			switch w := c.want.(type) {
			case time.Time:
				g := got.(time.Time)
				_, goff := g.Zone()
				_, woff := w.Zone()
				if !g.Equal(w) || goff != woff || g.Location() != w.Location() && w.Location() == time.UTC {
					t.Fatalf("got %v, want %v", g, w)
				}
			case []byte:
				if !bytes.Equal(got.([]byte), w) {
					t.Fatalf("got % x, want % x", got, w)
				}
			default:
				if got != c.want {
					t.Fatalf("got %#v, want %#v", got, c.want)
				}
			}
		})
	}
}

// TestUUIDByteOrder checks that a UUID reaches the copier in SQL Server's mixed-endian order (the
// first three groups byte-swapped), so that the server shows the same text, and that the driver's
// own reading of those bytes gives the text back.
func TestUUIDByteOrder(t *testing.T) {
	text := "6f9619ff-8b86-d011-b42d-00c04fc964ff"
	u := typemap.UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	if u.String() != text {
		t.Fatalf("fixture: %s", u)
	}
	e := mustEncoder(uuidEncoder(typemap.Type{}, encodeEnv{}))
	got, err := e(u)
	if err != nil {
		t.Fatal(err)
	}
	wire := []byte{0xff, 0x19, 0x96, 0x6f, 0x86, 0x8b, 0x11, 0xd0, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	if !bytes.Equal(got.([]byte), wire) {
		t.Fatalf("wire bytes % x, want % x", got, wire)
	}
	// Read back the way go-mssqldb scans a uniqueidentifier column.
	var back mssql.UniqueIdentifier
	if err := back.Scan(got); err != nil {
		t.Fatal(err)
	}
	if typemap.UUID(back).String() != text {
		t.Fatalf("round trip gives %s, want %s", typemap.UUID(back), text)
	}
	// With "guid conversion" in the DSN the driver swaps itself: hand over text order.
	got, _ = mustEncoder(uuidEncoder(typemap.Type{}, encodeEnv{guidConversion: true}))(u)
	if !bytes.Equal(got.([]byte), u[:]) {
		t.Fatalf("with driver conversion: % x, want text order", got)
	}
	// A []byte of 16 is taken in text order too.
	got, _ = e(u[:])
	if !bytes.Equal(got.([]byte), wire) {
		t.Fatalf("from []byte: % x", got)
	}
}

// TestReusedBuffersAreSafe checks that reused encoder buffers give each call its own right value
// (the copier copies a row before the next call).
func TestReusedBuffersAreSafe(t *testing.T) {
	e := utf16Encoder(0)
	a, _ := e("first")
	want := utf16le("first")
	if !bytes.Equal(a.([]byte), want) {
		t.Fatal("first value wrong")
	}
	b, _ := e("2nd")
	if !bytes.Equal(b.([]byte), utf16le("2nd")) {
		t.Fatal("second value wrong")
	}
}

func TestUnknownCodePage(t *testing.T) {
	cols := []typemap.Column{{Name: "c", Type: typemap.Type{Kind: typemap.VarChar, Length: 5}}}
	for _, cp := range []int{0, 12345} {
		if _, err := newEncoders(cols, map[string]int{"c": cp}, false, false); err == nil {
			t.Errorf("code page %d accepted", cp)
		}
	}
	if _, err := newEncoders(cols, nil, false, false); err == nil {
		t.Error("a varchar column without a known code page was accepted")
	}
}

// TestTextOutsideTheCodePage: a varchar value with a character that the mirror's code page lacks (a
// non-1252 character under a Latin1 collation) is stored, as on every other target. The type table
// declares the non-Unicode kinds as Unicode columns, which take it as UTF-16; only a table created
// before, which keeps its varchar column, still refuses it, naming the code page, also on the staging
// path, where the value travels as UTF-16 but must fit the column it moves into.
func TestTextOutsideTheCodePage(t *testing.T) {
	text := "Łódź ✓ 日本"
	for _, typ := range []typemap.Type{{Kind: typemap.VarChar, Length: 50}, {Kind: typemap.Char, Length: 10}, {Kind: typemap.Text}} {
		if ddl, err := columnType(typ); err != nil || !strings.HasPrefix(ddl, "n") {
			t.Errorf("%s is declared %q, %v; want a Unicode type", typ, ddl, err)
		}
		for _, staged := range []bool{false, true} {
			encs, err := newEncoders([]typemap.Column{{Name: "c", Type: typ}}, map[string]int{"c": unicodeColumn}, staged, false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encs[0](text)
			if err != nil || !bytes.Equal(got.([]byte), utf16le(text)) {
				t.Errorf("%s (staged %v) into its Unicode column: %v, %v; want the text as UTF-16", typ, staged, got, err)
			}
		}
	}
	long := strings.Repeat("é", 51)
	if _, err := enc(t, typemap.Type{Kind: typemap.VarChar, Length: 50}, unicodeColumn)(long); err == nil {
		t.Error("51 characters for varchar(50) were accepted")
	}
	// A varchar(50) column of a table created before, under code page 1252.
	for _, staged := range []bool{false, true} {
		encs, err := newEncoders([]typemap.Column{{Name: "c", Type: typemap.Type{Kind: typemap.VarChar, Length: 50}}}, map[string]int{"c": 1252}, staged, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := encs[0](text); err == nil || !strings.Contains(err.Error(), "code page 1252") {
			t.Errorf("staged %v: a character outside code page 1252 into a varchar column: %v, want a refusal naming the code page", staged, err)
		}
		got, err := encs[0]("æøå")
		want := []byte{0xe6, 0xf8, 0xe5}
		if staged {
			want = utf16le("æøå")
		}
		if err != nil || !bytes.Equal(got.([]byte), want) {
			t.Errorf("staged %v: æøå into a varchar column of code page 1252: %x, %v; want %x", staged, got, err, want)
		}
	}
}

func mustEncoder(e encoder, err error) encoder {
	if err != nil {
		panic(err)
	}
	return e
}

// TestTypeTableCoversEveryKind fails when a kind of typemap has no rule, or a rule lacks a part that
// every kind needs.
func TestTypeTableCoversEveryKind(t *testing.T) {
	conformance.EveryKind(t, func(k typemap.Kind) bool {
		r, ok := types[k]
		return ok && r.ddl != nil && r.encoder != nil && r.scan != nil && rawEncoders[k] != nil
	})
}

// rawAndGeneric returns a column's two encoders, each appending the value it hands the copier as
// conformance.DriverValue writes it: for the character kinds that need a code page, a Unicode column,
// as the type table creates, or a code-page 1252 column of a table created before, whose values go
// to the column or, staged, to a Unicode staging column.
func rawAndGeneric(codePage int, staged bool) func(col typemap.Column) (conformance.Encoders, error) {
	return func(col typemap.Column) (conformance.Encoders, error) {
		cps := map[string]int{col.Name: codePage}
		encs, err := newEncoders([]typemap.Column{col}, cps, staged, false)
		if err != nil {
			return conformance.Encoders{}, err
		}
		raws, err := newRawEncoders([]typemap.Column{col}, cps, staged, false)
		if err != nil {
			return conformance.Encoders{}, err
		}
		return conformance.DriverEncoders(encs[0], raws[0]), nil
	}
}

// TestRawEncoders: the raw encoders hand the bulk copier exactly the values of the generic path.
func TestRawEncoders(t *testing.T) {
	for _, tc := range []struct {
		name     string
		codePage int
		staged   bool
	}{{"unicode", unicodeColumn, false}, {"cp1252", 1252, false}, {"cp1252 staged", 1252, true}} {
		t.Run(tc.name, func(t *testing.T) { conformance.RawEncoders(t, rawAndGeneric(tc.codePage, tc.staged)) })
	}
}

func FuzzRawEncoders(f *testing.F) { conformance.FuzzRawEncoders(f, rawAndGeneric(1252, false)) }

// TestColumnTypes pins the DDL type, the type of a key column and the staging type (for a column whose
// collation sys.columns reports as Finnish_Swedish_CI_AS) of each kind with its parameters, where the
// golden scenarios do not show them all. The non-Unicode kinds become Unicode (docs/TYPES.md).
func TestColumnTypes(t *testing.T) {
	const coll = "Finnish_Swedish_CI_AS"
	for _, c := range []struct {
		typ               typemap.Type
		ddl, key, staging string
	}{
		{typemap.Type{Kind: typemap.Decimal, Precision: 38, Scale: 10}, "decimal(38,10)", "decimal(38,10)", "decimal(38,10)"},
		{typemap.Type{Kind: typemap.Time, Precision: 0}, "time(0)", "time(0)", "time(0)"},
		{typemap.Type{Kind: typemap.DateTimeOffset, Precision: 7}, "datetimeoffset(7)", "datetimeoffset(7)", "datetimeoffset(7)"},
		{typemap.Type{Kind: typemap.Char, Length: 10}, "nchar(10)", "nchar(10) COLLATE Latin1_General_100_BIN2", "nchar(10) COLLATE " + coll},
		{typemap.Type{Kind: typemap.Char, Length: 8000}, "nvarchar(max)", "nvarchar(max) COLLATE Latin1_General_100_BIN2", "nvarchar(max) COLLATE " + coll},
		{typemap.Type{Kind: typemap.VarChar, Length: 4000}, "nvarchar(4000)", "nvarchar(4000) COLLATE Latin1_General_100_BIN2", "nvarchar(4000) COLLATE " + coll},
		{typemap.Type{Kind: typemap.VarChar, Length: 4001}, "nvarchar(max)", "nvarchar(max) COLLATE Latin1_General_100_BIN2", "nvarchar(max) COLLATE " + coll},
		{typemap.Type{Kind: typemap.VarChar, Length: typemap.Max}, "nvarchar(max)", "nvarchar(max) COLLATE Latin1_General_100_BIN2", "nvarchar(max) COLLATE " + coll},
		{typemap.Type{Kind: typemap.NVarChar, Length: 20}, "nvarchar(20)", "nvarchar(20) COLLATE Latin1_General_100_BIN2", "nvarchar(20) COLLATE " + coll},
		{typemap.Type{Kind: typemap.NVarChar, Length: typemap.Max}, "nvarchar(max)", "nvarchar(max) COLLATE Latin1_General_100_BIN2", "nvarchar(max) COLLATE " + coll},
		{typemap.Type{Kind: typemap.VarBinary, Length: typemap.Max}, "varbinary(max)", "varbinary(max)", "varbinary(max)"},
		{typemap.Type{Kind: typemap.Text}, "nvarchar(max)", "nvarchar(max) COLLATE Latin1_General_100_BIN2", "nvarchar(max) COLLATE " + coll},
		{typemap.Type{Kind: typemap.NText}, "ntext", "nvarchar(max) COLLATE Latin1_General_100_BIN2", "nvarchar(max) COLLATE " + coll},
		{typemap.Type{Kind: typemap.Image}, "image", "image", "varbinary(max)"},
		{typemap.Type{Kind: typemap.SysName, Length: 128}, "sysname", "nvarchar(128) COLLATE Latin1_General_100_BIN2", "nvarchar(128) COLLATE " + coll},
		{typemap.Type{Kind: typemap.RowVersion}, "binary(8)", "binary(8)", "binary(8)"},
		{typemap.Type{Kind: typemap.XML}, "xml", "xml", "xml"},
		{typemap.Type{Kind: typemap.HierarchyID}, "hierarchyid", "hierarchyid", "nvarchar(4000) COLLATE DATABASE_DEFAULT"},
		{typemap.Type{Kind: typemap.Geography}, "geography", "geography", "nvarchar(max) COLLATE DATABASE_DEFAULT"},
		{typemap.Type{Kind: typemap.SQLVariant}, "sql_variant", "sql_variant", "nvarchar(4000) COLLATE DATABASE_DEFAULT"},
	} {
		ddl, err := columnType(c.typ)
		if err != nil || ddl != c.ddl {
			t.Errorf("columnType(%s) = %q, %v; want %q", c.typ, ddl, err, c.ddl)
		}
		if key, err := keyColumnType(c.typ); err != nil || key != c.key {
			t.Errorf("keyColumnType(%s) = %q, %v; want %q", c.typ, key, err, c.key)
		}
		if st, err := stagingType(c.typ, coll); err != nil || st != c.staging {
			t.Errorf("stagingType(%s) = %q, %v; want %q", c.typ, st, err, c.staging)
		}
	}
	// A collation that is not a collation's name is never written into a statement.
	for _, bad := range []string{"", "x]; DROP TABLE t; --", "Latin1 General"} {
		if st, err := stagingType(typemap.Type{Kind: typemap.NVarChar, Length: 5}, bad); err != nil || st != "nvarchar(5) COLLATE DATABASE_DEFAULT" {
			t.Errorf("stagingType with collation %q = %q, %v", bad, st, err)
		}
	}
}

func TestColumnTypeRejectsInvalid(t *testing.T) {
	for _, typ := range []typemap.Type{
		{Kind: typemap.Decimal, Precision: 39}, {Kind: typemap.Decimal, Precision: 5, Scale: 6},
		{Kind: typemap.NVarChar, Length: 4001}, {Kind: typemap.VarChar, Length: 0}, {Kind: typemap.Char, Length: typemap.Max},
		{Kind: typemap.VarChar, Length: 8001}, {Kind: typemap.Char, Length: 8001},
		{Kind: typemap.Time, Precision: 8}, {Kind: typemap.Invalid},
	} {
		if got, err := columnType(typ); err == nil {
			t.Errorf("columnType(%+v) = %q, want an error", typ, got)
		}
	}
}

// TestReadExpressions checks the text forms that Read selects for the types the driver cannot hand
// as Go values.
func TestReadExpressions(t *testing.T) {
	for k, want := range map[typemap.Kind]string{
		typemap.HierarchyID: "[c].ToString()", typemap.Geography: "[c].ToString()", typemap.Geometry: "[c].ToString()",
		typemap.SQLVariant: "CAST([c] AS nvarchar(4000))", typemap.XML: "[c]", typemap.UniqueIdentifier: "[c]", typemap.Int: "[c]",
	} {
		if got := readExpr(typemap.Type{Kind: k}, "[c]"); got != want {
			t.Errorf("readExpr(%s) = %s, want %s", k, got, want)
		}
	}
}

// TestScan checks that Read hands the plain values of the contract for what go-mssqldb returns, and
// that canon understands them.
func TestScan(t *testing.T) {
	u := typemap.UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	wire := []byte{0xff, 0x19, 0x96, 0x6f, 0x86, 0x8b, 0x11, 0xd0, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	minus := time.FixedZone("", -(9*3600 + 30*60))
	for _, c := range []struct {
		name      string
		typ       typemap.Type
		driver    any
		guidConv  bool
		want      any
		canonical string
	}{
		{"bit", typemap.Type{Kind: typemap.Bit}, true, false, true, "1"},
		{"tinyint", typemap.Type{Kind: typemap.TinyInt}, int64(255), false, int64(255), "255"},
		{"decimal text", typemap.Type{Kind: typemap.Decimal, Precision: 38, Scale: 10}, []byte("-12.3400000000"), false, typemap.DecimalValue("-12.3400000000"), "-12.34"},
		{"money text", typemap.Type{Kind: typemap.Money}, []byte("922337203685477.5807"), false, typemap.DecimalValue("922337203685477.5807"), "922337203685477.5807"},
		{"real", typemap.Type{Kind: typemap.Real}, float64(float32(1.1)), false, float64(float32(1.1)), "1.1"},
		{"time of day", typemap.Type{Kind: typemap.Time, Precision: 7}, time.Date(1, 1, 1, 23, 59, 59, 999999900, time.UTC), false,
			typemap.TimeOfDay(24*time.Hour - 100), "23:59:59.9999999"},
		{"datetime2", typemap.Type{Kind: typemap.DateTime2, Precision: 7}, time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC), false,
			time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC), "9999-12-31 23:59:59.9999999"},
		{"datetimeoffset", typemap.Type{Kind: typemap.DateTimeOffset, Precision: 7}, time.Date(2020, 1, 1, 1, 0, 0, 100, minus), false,
			time.Date(2020, 1, 1, 1, 0, 0, 100, minus), "2020-01-01 10:30:00.0000001"},
		{"uniqueidentifier as SQL Server sends it", typemap.Type{Kind: typemap.UniqueIdentifier}, wire, false, u, u.String()},
		{"uniqueidentifier converted by the driver", typemap.Type{Kind: typemap.UniqueIdentifier}, u[:], true, u, u.String()},
		{"nchar", typemap.Type{Kind: typemap.NChar, Length: 5}, "ab   ", false, "ab   ", "ab"},
		{"hierarchyid text", typemap.Type{Kind: typemap.HierarchyID}, "/1/2/", false, "/1/2/", "/1/2/"},
		{"rowversion", typemap.Type{Kind: typemap.RowVersion}, []byte{0, 0, 0, 0, 0, 0, 7, 0xd1}, false, []byte{0, 0, 0, 0, 0, 0, 7, 0xd1}, "00000000000007d1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := types[c.typ.Kind].scan(c.driver, c.guidConv)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
			if s, err := canon.Value(c.typ, got, canon.Losses{}); err != nil || s != c.canonical {
				t.Fatalf("canonical text %q, %v; want %q", s, err, c.canonical)
			}
		})
	}
	if _, err := types[typemap.Int].scan("1", false); err == nil {
		t.Error("a string for an int column was taken")
	}
	if _, err := types[typemap.UniqueIdentifier].scan(make([]byte, 15), false); err == nil {
		t.Error("15 bytes for a uniqueidentifier were taken")
	}
}

// TestUUIDRoundTrip checks that what the encoder sends reads back as the same UUID, in either
// setting of "guid conversion".
func TestUUIDRoundTrip(t *testing.T) {
	u := typemap.UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for _, conv := range []bool{false, true} {
		sent, err := mustEncoder(uuidEncoder(typemap.Type{}, encodeEnv{guidConversion: conv}))(u)
		if err != nil {
			t.Fatal(err)
		}
		back, err := scanUUID(sent, conv)
		if err != nil || back != u {
			t.Errorf("guid conversion %v: %v, %v; want %v", conv, back, err, u)
		}
	}
}

// wireRow is a dialect.RawRowSource of one row of wire text, whose Values decodes it as the engine
// does: the first value that does not decode is its error.
type wireRow struct {
	cols []typemap.Column
	vals []dialect.WireValue
	done bool
}

func (r *wireRow) Next() bool                         { ok := !r.done; r.done = true; return ok }
func (r *wireRow) Err() error                         { return nil }
func (r *wireRow) Wire() ([]dialect.WireValue, error) { return r.vals, nil }
func (r *wireRow) Values() ([]any, error) {
	out := make([]any, len(r.vals))
	for i, v := range r.vals {
		if v.Null {
			continue
		}
		x, err := typemap.DecoderFor(r.cols[i].Type)(v.Text)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", r.cols[i].Name, err)
		}
		out[i] = x
	}
	return out, nil
}

// A row that the raw encoders refuse fails as the generic path fails it: a value that does not decode
// is reported before one that does not fit, whatever their order.
func TestEncodeWireFailsAsValues(t *testing.T) {
	parse := func(s string) typemap.Type {
		typ, err := typemap.ParseType(s)
		if err != nil {
			t.Fatal(err)
		}
		return typ
	}
	cols := []typemap.Column{
		{Name: "latin", Type: parse("varchar(10)")},
		{Name: "n", Type: parse("int")},
		{Name: "s", Type: parse("nvarchar(10)")},
	}
	cps := map[string]int{"latin": 1252}
	encs, err := newEncoders(cols, cps, false, false)
	if err != nil {
		t.Fatal(err)
	}
	raws, err := newRawEncoders(cols, cps, false, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		vals []string
	}{
		{"does not fit, then does not decode", []string{"日本", "[I:x]", "ok"}},
		{"does not fit", []string{"日本", "[I:1]", "ok"}},
		{"does not decode", []string{"abc", "[I:1]", strings.Repeat("x", 11)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row := func() *wireRow {
				r := &wireRow{cols: cols}
				for _, v := range tc.vals {
					r.vals = append(r.vals, dialect.WireValue{Text: []byte(v)})
				}
				return r
			}
			out := make([]any, len(cols))
			generic := encodeValues(out, cols, encs, row(), 1)
			raw := encodeWire(out, cols, encs, raws, row(), 1)
			if generic == nil || raw == nil || generic.Error() != raw.Error() {
				t.Fatalf("generic path: %v; raw path: %v; want the same error", generic, raw)
			}
		})
	}
}

// TestJournalEncoders runs a change journal batch through the bulk encoders of the journal's columns,
// as Tx.Journal loads it (no server needed): every value is accepted, a wipe's key and a missing LSN
// go as NULL, and the fan-in layout's tenant comes first.
func TestJournalEncoders(t *testing.T) {
	at := time.Date(2026, 5, 18, 10, 40, 43, 123456000, time.UTC)
	b := &dialect.JournalBatch{Table: "contact", At: at}
	b.Add(dialect.JournalWipe, nil)
	b.Add(dialect.JournalInsert, []byte(`[42,"ü"]`))
	cols := dialect.JournalTypes(true)
	encs, err := newEncoders(cols, nil, false, false)
	if err != nil {
		t.Fatal(err)
	}
	rows := b.Rows(7, 77, "Cust1")
	var got [][]any
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out := make([]any, len(vals))
		for i, v := range vals {
			if v == nil {
				if !cols[i].Nullable {
					t.Fatalf("row %d: NULL in the journal's NOT NULL column %s", len(got)+1, cols[i].Name)
				}
				continue
			}
			if out[i], err = encs[i](v); err != nil {
				t.Fatalf("row %d, column %s: %v", len(got)+1, cols[i].Name, err)
			}
			// Text goes to the copier as UTF-16 in a buffer the encoder reuses.
			if b, ok := out[i].([]byte); ok {
				u := make([]uint16, len(b)/2)
				for k := range u {
					u[k] = uint16(b[2*k]) | uint16(b[2*k+1])<<8
				}
				out[i] = string(utf16.Decode(u))
			}
		}
		got = append(got, out)
	}
	if len(got) != 2 {
		t.Fatalf("%d rows, want 2", len(got))
	}
	for i, want := range [][]any{
		{"Cust1", int64(7), "contact", nil, "W", nil, int64(77)},
		{"Cust1", int64(8), "contact", `[42,"ü"]`, "I", nil, int64(77)},
	} {
		for j, w := range want {
			if fmt.Sprint(got[i][j]) != fmt.Sprint(w) {
				t.Errorf("row %d, column %s: %#v, want %#v", i+1, cols[j].Name, got[i][j], w)
			}
		}
	}
}

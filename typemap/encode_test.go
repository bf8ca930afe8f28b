package typemap

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestEncodeWire(t *testing.T) {
	plus2 := time.FixedZone("CEST", 7200)
	tests := []struct {
		typ  string
		in   any
		want string
	}{
		{"bit", true, "[I:1]"},
		{"bit", false, "[I:0]"},
		{"tinyint", uint8(255), "[I:255]"},
		{"smallint", int16(-5), "[S:-5]"},
		{"int", 135, "[I:135]"},
		{"int", int64(math.MinInt32), "[I:-2147483648]"},
		{"bigint", int64(math.MaxInt64), "[I:9223372036854775807]"},
		{"bigint", uint64(7), "[I:7]"},
		{"decimal(19,4)", DecimalValue("123.4500"), "[F:123.45]"},
		{"decimal(19,4)", "-0.0", "[F:0]"},
		{"decimal(19,4)", "1E+2", "[F:100]"},
		{"decimal(19,4)", 42, "[F:42]"},
		{"money", DecimalValue("-922337203685477.5808"), "[F:-922337203685477.5808]"},
		{"float", 0.1, "[F:0.1]"},
		{"float", 1e21, "[F:1e+21]"},
		{"float", -2.5e-10, "[F:-2.5e-10]"},
		{"real", float32(0.1), "[F:0.1]"},
		{"real", 0.5, "[F:0.5]"},
		{"date", utc(2020, 5, 18, 0, 0, 0, 0), "[DT:05/18/2020 00:00:00.0000000]"},
		{"datetime", utc(2020, 5, 18, 10, 40, 43, 0), "[DT:05/18/2020 10:40:43.0000000]"},
		{"datetime", utc(9999, 12, 31, 23, 59, 59, 997000000), "[DT:12/31/9999 23:59:59.9970000]"},
		{"datetime", time.Date(2020, 5, 18, 10, 40, 43, 0, plus2), "[DT:05/18/2020 10:40:43.0000000]"},
		{"smalldatetime", utc(2079, 6, 6, 23, 59, 0, 0), "[DT:06/06/2079 23:59:00.0000000]"},
		{"datetime2", utc(1, 1, 1, 0, 0, 0, 100), "[DT:01/01/0001 00:00:00.0000001]"},
		{"datetime2(3)", utc(2020, 5, 18, 10, 40, 43, 123000000), "[DT:05/18/2020 10:40:43.1230000]"},
		{"datetimeoffset", time.Date(2020, 5, 18, 10, 40, 43, 0, plus2), "[DT:05/18/2020 10:40:43.0000000 +02:00]"},
		{"datetimeoffset", time.Date(2020, 5, 18, 10, 40, 43, 0, time.FixedZone("", -(5*3600+30*60))),
			"[DT:05/18/2020 10:40:43.0000000 -05:30]"},
		{"datetimeoffset", utc(2020, 5, 18, 10, 40, 43, 0), "[DT:05/18/2020 10:40:43.0000000 +00:00]"},
		{"time", tod(10, 40, 43, 123456700), "[T:10:40:43.1234567]"},
		{"time(0)", 90 * time.Minute, "[T:01:30:00.0000000]"},
		{"nvarchar(255)", "[I:1]", "[I:1]"},
		{"nvarchar(255)", "", ""},
		{"text", []byte("abc"), "abc"},
		{"varbinary(max)", []byte{1, 2, 3}, "[B:AQID]"},
		{"varbinary(max)", []byte{}, "[B:]"},
		{"rowversion", []byte{0, 0, 0, 0, 0, 0, 7, 0xd1}, "[B:AAAAAAAAB9E=]"},
		{"uniqueidentifier", UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff},
			"6f9619ff-8b86-d011-b42d-00c04fc964ff"},
		{"uniqueidentifier", "{6F9619FF-8B86-D011-B42D-00C04FC964FF}", "6f9619ff-8b86-d011-b42d-00c04fc964ff"},
	}
	for _, tt := range tests {
		got, err := EncodeWire(mustType(t, tt.typ), tt.in)
		if err != nil {
			t.Errorf("EncodeWire(%s, %#v): %v", tt.typ, tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("EncodeWire(%s, %#v) = %q, want %q", tt.typ, tt.in, got, tt.want)
		}
	}
}

func TestEncodeWireErrors(t *testing.T) {
	tests := []struct {
		typ  string
		in   any
		want string
	}{
		{"bit", 1, "unsupported Go type"},
		{"tinyint", 256, "out of range for tinyint"},
		{"tinyint", -1, "out of range for tinyint"},
		{"int", int64(math.MaxInt32) + 1, "out of range for int"},
		{"bigint", uint64(math.MaxUint64), "out of range for bigint"},
		{"int", "1", "unsupported Go type"},
		{"decimal(5,2)", DecimalValue("1234"), "out of range"},
		{"decimal(5,2)", DecimalValue("1.234"), "fraction digits"},
		{"decimal(5,2)", "abc", "not a decimal"},
		{"decimal(5,2)", 1.5, "unsupported Go type"},
		{"money", "922337203685477.5808", "out of range for money"},
		{"float", math.NaN(), "NaN"},
		{"float", math.Inf(1), "NaN"},
		{"float", math.Inf(-1), "NaN"},
		{"real", 1e300, "out of range for real"},
		{"float", "1.5", "unsupported Go type"},
		{"datetime", utc(1752, 12, 31, 0, 0, 0, 0), "out of range for datetime"},
		{"datetime", utc(2020, 1, 1, 0, 0, 0, 1234567), "not representable exactly"},
		{"datetime2(3)", utc(2020, 1, 1, 0, 0, 0, 1234567), "not representable exactly"},
		{"datetime2", utc(2020, 1, 1, 0, 0, 0, 1), "not representable exactly"},
		{"datetime2", utc(10000, 1, 1, 0, 0, 0, 0), "not a date/time"},
		{"datetime2", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), "not a date/time"},
		{"date", utc(2020, 1, 1, 1, 0, 0, 0), "has a time of day"},
		{"smalldatetime", utc(2020, 1, 1, 0, 0, 10, 0), "not representable exactly"},
		{"datetimeoffset", time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("", 15*3600)), "not a date/time"},
		{"datetimeoffset", time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600+1)), "not representable"},
		{"datetime", "2020-01-01", "unsupported Go type"},
		{"time", TimeOfDay(-1), "out of range"},
		{"time", TimeOfDay(24 * time.Hour), "out of range"},
		{"time(3)", tod(1, 2, 3, 1234567), "not representable exactly"},
		{"nvarchar(3)", "abcd", "value is 4 characters, column holds 3"},
		{"nvarchar(3)", "\xff", "not valid UTF-8"},
		{"nvarchar(3)", 5, "unsupported Go type"},
		{"varbinary(2)", []byte{1, 2, 3}, "value is 3 bytes, column holds 2"},
		{"rowversion", []byte{1}, "exactly 8 bytes"},
		{"varbinary(2)", "0x01", "unsupported Go type"},
		{"uniqueidentifier", "nope", "not a uniqueidentifier"},
		{"uniqueidentifier", 5, "unsupported Go type"},
	}
	for _, tt := range tests {
		got, err := EncodeWire(mustType(t, tt.typ), tt.in)
		if err == nil {
			t.Errorf("EncodeWire(%s, %#v) = %q, want error %q", tt.typ, tt.in, got, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("EncodeWire(%s, %#v) error %q, want %q", tt.typ, tt.in, err, tt.want)
		}
	}
	if _, err := EncodeWire(Type{}, 1); err == nil {
		t.Error("EncodeWire of an invalid type succeeded")
	}
}

func TestValueStrings(t *testing.T) {
	if got := tod(1, 2, 3, 400).String(); got != "01:02:03.0000004" {
		t.Errorf("TimeOfDay.String = %q", got)
	}
	if got := tod(23, 59, 59, 999999900).String(); got != "23:59:59.9999999" {
		t.Errorf("TimeOfDay.String = %q", got)
	}
	if got := DecimalValue("-1.5").String(); got != "-1.5" {
		t.Errorf("DecimalValue.String = %q", got)
	}
	u := UUID{0xAB, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xFF}
	if got := u.String(); got != "ab010203-0405-0607-0809-0a0b0c0d0eff" {
		t.Errorf("UUID.String = %q", got)
	}
	if got := (&ValueError{Reason: "not an integer"}).Error(); got != "not an integer" {
		t.Errorf("ValueError.Error = %q", got)
	}
}

func TestRoundToMicro(t *testing.T) {
	tests := []struct{ in, want TimeOfDay }{
		{tod(10, 0, 0, 0), tod(10, 0, 0, 0)},
		{tod(10, 0, 0, 400), tod(10, 0, 0, 0)},
		{tod(10, 0, 0, 500), tod(10, 0, 0, 1000)},
		{tod(10, 0, 0, 1234500), tod(10, 0, 0, 1235000)},
		{tod(10, 0, 0, 1234499), tod(10, 0, 0, 1234000)},
		{tod(10, 0, 0, 999999500), tod(10, 0, 1, 0)},
		{tod(23, 59, 59, 999999400), tod(23, 59, 59, 999999000)},
		{tod(23, 59, 59, 999999500), tod(23, 59, 59, 999999000)}, // clamped, not 24:00:00
		{tod(23, 59, 59, 999999900), tod(23, 59, 59, 999999000)},
	}
	for _, tt := range tests {
		if got := tt.in.RoundToMicro(); got != tt.want {
			t.Errorf("%v.RoundToMicro() = %v, want %v", tt.in, got, tt.want)
		}
	}
	plus2 := time.FixedZone("+02:00", 7200)
	times := []struct{ in, want time.Time }{
		{utc(2020, 5, 18, 10, 40, 43, 123456700), utc(2020, 5, 18, 10, 40, 43, 123457000)},
		{utc(2020, 5, 18, 10, 40, 43, 123456400), utc(2020, 5, 18, 10, 40, 43, 123456000)},
		{utc(2020, 5, 18, 10, 40, 43, 123456500), utc(2020, 5, 18, 10, 40, 43, 123457000)},
		{utc(2020, 12, 31, 23, 59, 59, 999999500), utc(2021, 1, 1, 0, 0, 0, 0)},
		{utc(1, 1, 1, 0, 0, 0, 500), utc(1, 1, 1, 0, 0, 0, 1000)},
		{utc(9999, 12, 31, 23, 59, 59, 999999500), utc(9999, 12, 31, 23, 59, 59, 999999000)},
		{time.Date(2020, 5, 18, 10, 40, 43, 900, plus2), time.Date(2020, 5, 18, 10, 40, 43, 1000, plus2)},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999900, plus2), time.Date(9999, 12, 31, 23, 59, 59, 999999000, plus2)},
	}
	for _, tt := range times {
		got := RoundToMicro(tt.in)
		if !got.Equal(tt.want) || got.Location() != tt.in.Location() {
			t.Errorf("RoundToMicro(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestTypePredicates(t *testing.T) {
	tests := []struct {
		typ                                                  string
		text, str, binary, integer, decimal, float, temporal bool
		fixed                                                bool
		maxLen, prec, scale                                  int
	}{
		{typ: "nvarchar(255)", text: true, str: true, maxLen: 255},
		{typ: "nvarchar(max)", text: true, str: true},
		{typ: "char(10)", text: true, str: true, fixed: true, maxLen: 10},
		{typ: "ntext", text: true, str: true},
		{typ: "sysname", text: true, str: true, maxLen: 128},
		{typ: "xml", str: true},
		{typ: "hierarchyid", str: true},
		{typ: "geography", str: true},
		{typ: "binary(16)", binary: true, fixed: true, maxLen: 16},
		{typ: "varbinary(max)", binary: true},
		{typ: "image", binary: true},
		{typ: "rowversion", binary: true, maxLen: 8},
		{typ: "tinyint", integer: true},
		{typ: "bit"},
		{typ: "decimal(19,4)", decimal: true, prec: 19, scale: 4},
		{typ: "money", decimal: true, prec: 19, scale: 4},
		{typ: "smallmoney", decimal: true, prec: 10, scale: 4},
		{typ: "real", float: true},
		{typ: "datetime", temporal: true},
		{typ: "datetime2(5)", temporal: true},
		{typ: "time", temporal: true},
		{typ: "smalldatetime", temporal: true},
		{typ: "datetimeoffset(2)", temporal: true},
		{typ: "uniqueidentifier"},
	}
	for _, tt := range tests {
		ty := mustType(t, tt.typ)
		p, s := ty.NumericPrecisionScale()
		got := []any{ty.IsText(), ty.IsString(), ty.IsBinary(), ty.IsInteger(), ty.IsDecimal(),
			ty.IsFloat(), ty.IsTemporal(), ty.IsFixedLength(), ty.MaxLength(), p, s}
		want := []any{tt.text, tt.str, tt.binary, tt.integer, tt.decimal, tt.float, tt.temporal,
			tt.fixed, tt.maxLen, tt.prec, tt.scale}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: predicate %d = %v, want %v (all: %v)", tt.typ, i, got[i], want[i], got)
				break
			}
		}
	}
}

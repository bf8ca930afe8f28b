package typemap

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func mustType(tb testing.TB, s string) Type {
	tb.Helper()
	t, err := ParseType(s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// equalValue compares two decoded values: times by instant, wall clock and offset; bytes by content.
func equalValue(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		if !ok {
			return false
		}
		_, o1 := x.Zone()
		_, o2 := y.Zone()
		return x.Equal(y) && o1 == o2 && x.Location().String() == y.Location().String()
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y) && (x == nil) == (y == nil)
	}
	return a == b
}

func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

func tod(h, m, s, ns int) TimeOfDay {
	return TimeOfDay(int64(h*3600+m*60+s)*1e9 + int64(ns))
}

var decodeTests = []struct {
	typ  string
	in   string
	want any    // when err is ""
	err  string // substring of the error
}{
	// PROTOCOL.md, values seen from the real Mirroring Task.
	{"int", "[I:135]", int64(135), ""},
	{"smallint", "[S:0]", int64(0), ""},
	{"datetime", "[DT:05/18/2020 10:40:43.0000000]", utc(2020, 5, 18, 10, 40, 43, 0), ""},
	{"nvarchar(255)", "Nonnast, Leon", "Nonnast, Leon", ""},

	// bit
	{"bit", "[I:0]", false, ""},
	{"bit", "[I:1]", true, ""},
	{"bit", "0", false, ""},
	{"bit", "1", true, ""},
	{"bit", "true", true, ""},
	{"bit", "TRUE", true, ""},
	{"bit", "False", false, ""},
	{"bit", "[I:2]", nil, "not a bit"},
	{"bit", "[S:1]", nil, "not a bit"},
	{"bit", "2", nil, "not a bit"},
	{"bit", "", nil, "not a bit"},
	{"bit", "yes", nil, "not a bit"},
	{"bit", "[I:11]", nil, "not a bit"},

	// integers: every accepted tag, bare, min/max and one beyond.
	{"tinyint", "[I:0]", int64(0), ""},
	{"tinyint", "[I:255]", int64(255), ""},
	{"tinyint", "[I:256]", nil, "out of range for tinyint"},
	{"tinyint", "[I:-1]", nil, "out of range for tinyint"},
	{"tinyint", "-0", nil, "out of range for tinyint"},
	{"tinyint", "[L:7]", int64(7), ""},
	{"tinyint", "[S:7]", int64(7), ""},
	{"tinyint", "7", int64(7), ""},
	{"smallint", "[S:-32768]", int64(-32768), ""},
	{"smallint", "[S:32767]", int64(32767), ""},
	{"smallint", "[S:32768]", nil, "out of range for smallint"},
	{"smallint", "[S:-32769]", nil, "out of range for smallint"},
	{"int", "[I:-2147483648]", int64(math.MinInt32), ""},
	{"int", "[I:2147483647]", int64(math.MaxInt32), ""},
	{"int", "[I:2147483648]", nil, "out of range for int"},
	{"int", "[I:-2147483649]", nil, "out of range for int"},
	{"int", "-17", int64(-17), ""},
	{"int", "007", int64(7), ""},
	{"int", "[L:5]", int64(5), ""},
	{"int", "[S:5]", int64(5), ""},
	{"int", "", nil, "empty value is not an integer"},
	{"int", "[I:]", nil, "empty value is not an integer"},
	{"int", "+5", nil, "not an integer"},
	{"int", " 5", nil, "not an integer"},
	{"int", "5 ", nil, "not an integer"},
	{"int", "1 000", nil, "not an integer"},
	{"int", "-", nil, "not an integer"},
	{"int", "1.0", nil, "not an integer"},
	{"int", "1e3", nil, "not an integer"},
	{"int", "[X:1]", nil, "not an integer"},
	{"int", "[F:1]", nil, "not an integer"},
	{"int", "[I:1", nil, "not an integer"},
	{"int", "99999999999999999999999x", nil, "not an integer"},
	{"bigint", "[I:-9223372036854775808]", int64(math.MinInt64), ""},
	{"bigint", "[I:9223372036854775807]", int64(math.MaxInt64), ""},
	{"bigint", "[L:9223372036854775807]", int64(math.MaxInt64), ""},
	{"bigint", "[I:9223372036854775808]", nil, "out of range for bigint"},
	{"bigint", "[I:-9223372036854775809]", nil, "out of range for bigint"},
	{"bigint", "99999999999999999999999", nil, "out of range for bigint"},
	{"bigint", "000000000000000000000000001", int64(1), ""},

	// exact decimals never pass through float64.
	{"decimal(19,4)", "[F:123.4500]", DecimalValue("123.45"), ""},
	{"decimal(19,4)", "[M:123.45]", DecimalValue("123.45"), ""},
	{"decimal(19,4)", "123.45", DecimalValue("123.45"), ""},
	{"decimal(19,4)", "-0.0001", DecimalValue("-0.0001"), ""},
	{"decimal(19,4)", "-0", DecimalValue("0"), ""},
	{"decimal(19,4)", "-0.0000", DecimalValue("0"), ""},
	{"decimal(19,4)", "000123", DecimalValue("123"), ""},
	{"decimal(19,4)", "0.5", DecimalValue("0.5"), ""},
	{"decimal(19,4)", ".5", DecimalValue("0.5"), ""},
	{"decimal(19,4)", "5.", DecimalValue("5"), ""},
	{"decimal(19,4)", "1E+2", DecimalValue("100"), ""},
	{"decimal(19,4)", "1e2", DecimalValue("100"), ""},
	{"decimal(19,4)", "1.5E-3", DecimalValue("0.0015"), ""},
	{"decimal(19,4)", "-12.345E1", DecimalValue("-123.45"), ""},
	{"decimal(19,4)", "0E+1000", DecimalValue("0"), ""},
	{"decimal(19,4)", "1000E-3", DecimalValue("1"), ""},
	{"decimal(19,4)", "1.5E-5", nil, "more than 4 fraction digits"},
	{"decimal(19,4)", "1.23456", nil, "more than 4 fraction digits"},
	{"decimal(19,4)", "123456789012345", DecimalValue("123456789012345"), ""},
	{"decimal(19,4)", "1234567890123456", nil, "out of range for decimal(19,4)"},
	{"decimal(19,4)", "1E+15", nil, "out of range"},
	{"decimal(19,4)", "+1", DecimalValue("1"), ""},
	{"decimal(19,4)", "", nil, "not a decimal"},
	{"decimal(19,4)", "-", nil, "not a decimal"},
	{"decimal(19,4)", ".", nil, "not a decimal"},
	{"decimal(19,4)", "1e", nil, "not a decimal"},
	{"decimal(19,4)", "1e+", nil, "not a decimal"},
	{"decimal(19,4)", "1,5", nil, "not a decimal"},
	{"decimal(19,4)", "NaN", nil, "not a decimal"},
	{"decimal(19,4)", "[I:1]", nil, "not a decimal"},
	{"decimal(19,4)", "1.2.3", nil, "not a decimal"},
	{"numeric", "[F:999999999999999999]", DecimalValue("999999999999999999"), ""},
	{"numeric", "[F:1000000000000000000]", nil, "out of range for decimal(18,0)"},
	{"numeric", "[F:1.5]", nil, "more than 0 fraction digits"},
	{"numeric", "[F:1.0]", DecimalValue("1"), ""},
	{"decimal(38,10)", "[F:1234567890123456789012345678.1234567890]",
		DecimalValue("1234567890123456789012345678.123456789"), ""},
	{"decimal(38,10)", "[F:-9999999999999999999999999999.9999999999]",
		DecimalValue("-9999999999999999999999999999.9999999999"), ""},
	{"decimal(38,10)", "[F:12345678901234567890123456789.1]", nil, "out of range"},
	{"decimal(38,10)", "[F:0.00000000001]", nil, "more than 10 fraction digits"},
	{"decimal(5,5)", "0.12345", DecimalValue("0.12345"), ""},
	{"decimal(5,5)", "1.1", nil, "out of range"},
	{"money", "[F:922337203685477.5807]", DecimalValue("922337203685477.5807"), ""},
	{"money", "[F:-922337203685477.5808]", DecimalValue("-922337203685477.5808"), ""},
	{"money", "[F:922337203685477.5808]", nil, "out of range for money"},
	{"money", "[F:-922337203685477.5809]", nil, "out of range for money"},
	{"money", "[M:12.3400]", DecimalValue("12.34"), ""},
	{"money", "[F:1.23456]", nil, "fraction digits"},
	{"smallmoney", "[F:214748.3647]", DecimalValue("214748.3647"), ""},
	{"smallmoney", "[F:-214748.3648]", DecimalValue("-214748.3648"), ""},
	{"smallmoney", "[F:214748.3648]", nil, "out of range for smallmoney"},
	{"smallmoney", "[F:-214748.3649]", nil, "out of range for smallmoney"},
	{"smallmoney", "[F:1000000]", nil, "out of range"},

	// float and real
	{"float", "[F:1.5]", 1.5, ""},
	{"float", "1.5", 1.5, ""},
	{"float", "[F:0.1]", 0.1, ""},
	{"float", "-2.5E-10", -2.5e-10, ""},
	{"float", "1e308", 1e308, ""},
	{"float", "1.7976931348623157E+308", math.MaxFloat64, ""},
	{"float", "1e309", nil, "out of range for float"},
	{"float", "-1e309", nil, "out of range for float"},
	{"float", "4.9406564584124654E-324", 5e-324, ""},
	{"float", "1e-400", 0.0, ""},
	{"float", "NaN", nil, "NaN and infinity"},
	{"float", "[F:NaN]", nil, "NaN and infinity"},
	{"float", "Inf", nil, "NaN and infinity"},
	{"float", "+Inf", nil, "NaN and infinity"},
	{"float", "-Infinity", nil, "NaN and infinity"},
	{"float", "0x1p-2", nil, "not a floating-point number"},
	{"float", "1_000", nil, "not a floating-point number"},
	{"float", "", nil, "not a floating-point number"},
	{"float", "1..2", nil, "not a floating-point number"},
	{"float", "[I:1]", nil, "not a floating-point number"},
	{"real", "[F:0.1]", 0.1, ""},
	{"real", "3.4028235E+38", 3.4028235e38, ""},
	{"real", "-3.4028235E+38", -3.4028235e38, ""},
	{"real", "3.5E+38", nil, "out of range for real"},
	{"real", "1e300", nil, "out of range for real"},
	{"real", "NaN", nil, "NaN and infinity"},
	{"float(24)", "-Inf", nil, "NaN and infinity"},

	// date
	{"date", "[DT:05/18/2020 00:00:00.0000000]", utc(2020, 5, 18, 0, 0, 0, 0), ""},
	{"date", "[D:05/18/2020]", utc(2020, 5, 18, 0, 0, 0, 0), ""},
	{"date", "[D:05/18/2020 00:00:00]", utc(2020, 5, 18, 0, 0, 0, 0), ""},
	{"date", "2020-05-18", utc(2020, 5, 18, 0, 0, 0, 0), ""},
	{"date", "2020-05-18T00:00:00", utc(2020, 5, 18, 0, 0, 0, 0), ""},
	{"date", "0001-01-01", utc(1, 1, 1, 0, 0, 0, 0), ""},
	{"date", "9999-12-31", utc(9999, 12, 31, 0, 0, 0, 0), ""},
	{"date", "[DT:01/01/1760 00:00:00.0000000]", utc(1760, 1, 1, 0, 0, 0, 0), ""},
	{"date", "0000-12-31", nil, "not a date/time"},
	{"date", "[DT:05/18/2020 10:40:43.0000000]", nil, "date value has a time of day"},
	{"date", "2021-02-29", nil, "not a date/time"},
	{"date", "2020-02-29", utc(2020, 2, 29, 0, 0, 0, 0), ""},
	{"date", "1900-02-29", nil, "not a date/time"},
	{"date", "2000-02-29", utc(2000, 2, 29, 0, 0, 0, 0), ""},
	{"date", "2020-13-01", nil, "not a date/time"},
	{"date", "2020-04-31", nil, "not a date/time"},
	{"date", "", nil, "not a date/time"},
	{"date", "[T:00:00:00]", nil, "not a date/time"},
	{"date", "18.05.2020", nil, "not a date/time"},
	{"date", "5/18/2020", nil, "not a date/time"},

	// datetime
	{"datetime", "[DT:01/01/1753 00:00:00.0000000]", utc(1753, 1, 1, 0, 0, 0, 0), ""},
	{"datetime", "[DT:12/31/1752 23:59:59.9970000]", nil, "out of range for datetime"},
	{"datetime", "[DT:12/31/9999 23:59:59.9970000]", utc(9999, 12, 31, 23, 59, 59, 997000000), ""},
	{"datetime", "[DT:12/31/9999 23:59:59.9980000]", nil, "out of range for datetime"},
	{"datetime", "[DT:01/01/1760 00:00:00.0000000]", utc(1760, 1, 1, 0, 0, 0, 0), ""},
	{"datetime", "[DT:05/18/2020 10:40:43.0030000]", utc(2020, 5, 18, 10, 40, 43, 3000000), ""},
	{"datetime", "[DT:05/18/2020 10:40:43.0033333]", utc(2020, 5, 18, 10, 40, 43, 3000000), ""},
	{"datetime", "[DT:05/18/2020 10:40:43.0066667]", utc(2020, 5, 18, 10, 40, 43, 7000000), ""},
	{"datetime", "[DT:05/18/2020 10:40:43.9996]", utc(2020, 5, 18, 10, 40, 44, 0), ""},
	{"datetime", "[DT:05/18/2020 10:40:43]", utc(2020, 5, 18, 10, 40, 43, 0), ""},
	{"datetime", "[DT:05/18/2020 10:40:43.1]", utc(2020, 5, 18, 10, 40, 43, 100000000), ""},
	{"datetime", "[D:05/18/2020 10:40:43.000]", utc(2020, 5, 18, 10, 40, 43, 0), ""},
	{"datetime", "2020-05-18T10:40:43.123", utc(2020, 5, 18, 10, 40, 43, 123000000), ""},
	{"datetime", "2020-05-18 10:40:43", utc(2020, 5, 18, 10, 40, 43, 0), ""},
	{"datetime", "2020-05-18T10:40:43Z", nil, "unexpected time zone offset"},
	{"datetime", "[DT:05/18/2020 10:40:43.0000000 +02:00]", nil, "unexpected time zone offset"},
	{"datetime", "[DT:05/18/2020 24:00:00.0000000]", nil, "not a date/time"},
	{"datetime", "[DT:05/18/2020 10:60:00.0000000]", nil, "not a date/time"},
	{"datetime", "[DT:05/18/2020 10:40:60.0000000]", nil, "not a date/time"},
	{"datetime", "[DT:05/18/2020 10:40:43.]", nil, "not a date/time"},
	{"datetime", "[DT:05/18/2020 10:40:43.0000000000]", nil, "not a date/time"},
	{"datetime", "[DT:05/18/2020 10:40]", nil, "not a date/time"},
	{"datetime", "[DT:05/18/2020T10:40:43]", nil, "not a date/time"},
	{"datetime", "[DT:05/18/2020 10:40:43.0000000x]", nil, "not a date/time"},
	{"datetime", "[T:10:40:43]", nil, "not a date/time"},
	{"datetime", "[DT:2020-05-18 10:40:43]", utc(2020, 5, 18, 10, 40, 43, 0), ""},

	// smalldatetime
	{"smalldatetime", "[DT:01/01/1900 00:00:00.0000000]", utc(1900, 1, 1, 0, 0, 0, 0), ""},
	{"smalldatetime", "[DT:06/06/2079 23:59:00.0000000]", utc(2079, 6, 6, 23, 59, 0, 0), ""},
	{"smalldatetime", "[DT:06/07/2079 00:00:00.0000000]", nil, "out of range for smalldatetime"},
	{"smalldatetime", "[DT:12/31/1899 23:59:00.0000000]", nil, "out of range for smalldatetime"},
	{"smalldatetime", "[DT:06/06/2079 23:59:30.0000000]", nil, "out of range for smalldatetime"},
	{"smalldatetime", "2020-05-18 10:40:29.998", utc(2020, 5, 18, 10, 40, 0, 0), ""},
	{"smalldatetime", "2020-05-18 10:40:29.999", utc(2020, 5, 18, 10, 41, 0, 0), ""},
	{"smalldatetime", "2020-05-18 23:59:45", utc(2020, 5, 19, 0, 0, 0, 0), ""},

	// datetime2
	{"datetime2", "[DT:01/01/0001 00:00:00.0000000]", utc(1, 1, 1, 0, 0, 0, 0), ""},
	{"datetime2", "[DT:12/31/9999 23:59:59.9999999]", utc(9999, 12, 31, 23, 59, 59, 999999900), ""},
	{"datetime2(7)", "2020-05-18T10:40:43.1234567", utc(2020, 5, 18, 10, 40, 43, 123456700), ""},
	{"datetime2(7)", "2020-05-18T10:40:43.12345678", utc(2020, 5, 18, 10, 40, 43, 123456800), ""},
	{"datetime2(3)", "2020-05-18T10:40:43.1234567", utc(2020, 5, 18, 10, 40, 43, 123000000), ""},
	{"datetime2(3)", "2020-05-18T10:40:43.1235", utc(2020, 5, 18, 10, 40, 43, 124000000), ""},
	{"datetime2(0)", "2020-05-18T23:59:59.5", utc(2020, 5, 19, 0, 0, 0, 0), ""},
	{"datetime2(0)", "9999-12-31T23:59:59.5", nil, "date out of range"},
	{"datetime2", "[DT:01/01/1760 00:00:00.0000000]", utc(1760, 1, 1, 0, 0, 0, 0), ""},
	{"datetime2", "2020-05-18T10:40:43+02:00", nil, "unexpected time zone offset"},

	// datetimeoffset
	{"datetimeoffset", "[DT:05/18/2020 10:40:43.0000000 +02:00]",
		time.Date(2020, 5, 18, 10, 40, 43, 0, time.FixedZone("+02:00", 7200)), ""},
	{"datetimeoffset", "[DT:05/18/2020 10:40:43.0000000 -05:30]",
		time.Date(2020, 5, 18, 10, 40, 43, 0, time.FixedZone("-05:30", -19800)), ""},
	{"datetimeoffset", "2020-05-18T10:40:43.1234567+14:00",
		time.Date(2020, 5, 18, 10, 40, 43, 123456700, time.FixedZone("+14:00", 14*3600)), ""},
	{"datetimeoffset", "2020-05-18T10:40:43Z",
		time.Date(2020, 5, 18, 10, 40, 43, 0, time.FixedZone("+00:00", 0)), ""},
	{"datetimeoffset", "2020-05-18 10:40:43.5 +00:00",
		time.Date(2020, 5, 18, 10, 40, 43, 500000000, time.FixedZone("+00:00", 0)), ""},
	{"datetimeoffset(0)", "2020-05-18 10:40:43.5 +01:00",
		time.Date(2020, 5, 18, 10, 40, 44, 0, time.FixedZone("+01:00", 3600)), ""},
	{"datetimeoffset", "2020-05-18T10:40:43+14:01", nil, "not a date/time"},
	{"datetimeoffset", "2020-05-18T10:40:43+02:60", nil, "not a date/time"},
	{"datetimeoffset", "2020-05-18T10:40:43+0200", nil, "not a date/time"},
	{"datetimeoffset", "[DT:05/18/2020 10:40:43.0000000 Z]", nil, "not a date/time"},
	{"datetimeoffset", "[DT:05/18/2020 10:40:43.0000000]", nil, "has no offset"},

	// time
	{"time", "[T:10:40:43.1234567]", tod(10, 40, 43, 123456700), ""},
	{"time", "10:40:43", tod(10, 40, 43, 0), ""},
	{"time", "00:00:00", tod(0, 0, 0, 0), ""},
	{"time", "23:59:59.9999999", tod(23, 59, 59, 999999900), ""},
	{"time(3)", "[T:10:40:43.1234567]", tod(10, 40, 43, 123000000), ""},
	{"time(3)", "[T:10:40:43.1235]", tod(10, 40, 43, 124000000), ""},
	{"time(0)", "23:59:59.5", tod(23, 59, 59, 0), ""}, // clamped: no carry into the next day
	{"time(6)", "23:59:59.9999995", tod(23, 59, 59, 999999000), ""},
	{"time", "24:00:00", nil, "not a time of day"},
	{"time", "10:40", nil, "not a time of day"},
	{"time", "10:40:43.", nil, "not a time of day"},
	{"time", "[DT:10:40:43]", nil, "not a time of day"},
	{"time", "", nil, "not a time of day"},
	{"time", "10:40:43 ", nil, "not a time of day"},

	// strings: verbatim, never decoded by their look.
	{"nvarchar(255)", "[I:1]", "[I:1]", ""},
	{"nvarchar(255)", "", "", ""},
	{"nvarchar(255)", "  padded  ", "  padded  ", ""},
	{"nvarchar(3)", "äöü", "äöü", ""},
	{"nvarchar(3)", "äöüx", nil, "value is 4 characters, column holds 3"},
	{"nvarchar(max)", strings.Repeat("x", 10000), strings.Repeat("x", 10000), ""},
	{"nvarchar(255)", strings.Repeat("x", 300), nil, "value is 300 characters, column holds 255"},
	{"varchar(1)", "ab", nil, "value is 2 characters, column holds 1"},
	{"varchar(10)", "\xff\xfe", nil, "not valid UTF-8"},
	{"varchar(max)", "\xff", nil, "not valid UTF-8"},
	{"char(5)", "ab   ", "ab   ", ""},
	{"nchar(2)", "日本", "日本", ""},
	{"text", "[DT:05/18/2020 10:40:43.0000000]", "[DT:05/18/2020 10:40:43.0000000]", ""},
	{"ntext", "x\x00y", "x\x00y", ""},
	{"xml", "<a b=\"1\"/>", "<a b=\"1\"/>", ""},
	{"sysname", strings.Repeat("s", 128), strings.Repeat("s", 128), ""},
	{"sysname", strings.Repeat("s", 129), nil, "value is 129 characters, column holds 128"},
	{"sql_variant", "[I:5]", "[I:5]", ""},
	{"hierarchyid", "/1/2/", "/1/2/", ""},
	{"geography", "POINT (10.7 59.9)", "POINT (10.7 59.9)", ""},
	{"geometry", "LINESTRING (0 0, 1 1)", "LINESTRING (0 0, 1 1)", ""},
	{"text", "\xc3", nil, "not valid UTF-8"},

	// binary
	{"varbinary(max)", "[B:AQID]", []byte{1, 2, 3}, ""},
	{"varbinary(max)", "[B:]", []byte{}, ""},
	{"varbinary(max)", "0x010203", []byte{1, 2, 3}, ""},
	{"varbinary(max)", "0XaBcD", []byte{0xab, 0xcd}, ""},
	{"varbinary(max)", "0x", []byte{}, ""},
	{"varbinary(max)", "[B:AQI=]", []byte{1, 2}, ""},
	{"varbinary(max)", "[B:AQ==]", []byte{1}, ""},
	{"varbinary(max)", "[B:AQ]", nil, "not binary"},
	{"varbinary(max)", "[B:A*==]", nil, "not binary"},
	{"varbinary(max)", "0x1", nil, "not binary"},
	{"varbinary(max)", "0xzz", nil, "not binary"},
	{"varbinary(max)", "010203", nil, "not binary"},
	{"varbinary(max)", "", nil, "not binary"},
	{"varbinary(max)", "[I:1]", nil, "not binary"},
	{"varbinary(2)", "0x0102", []byte{1, 2}, ""},
	{"varbinary(2)", "0x010203", nil, "value is 3 bytes, column holds 2"},
	{"varbinary(2)", "[B:AQID]", nil, "value is 3 bytes, column holds 2"},
	{"binary(4)", "[B:AQIDBA==]", []byte{1, 2, 3, 4}, ""},
	{"image", "0xFF", []byte{0xff}, ""},
	{"rowversion", "[B:AAAAAAAAB9E=]", []byte{0, 0, 0, 0, 0, 0, 7, 0xd1}, ""},
	{"timestamp", "0x00000000000007D1", []byte{0, 0, 0, 0, 0, 0, 7, 0xd1}, ""},
	{"timestamp", "0x07D1", nil, "exactly 8 bytes"},
	{"rowversion", "0x000000000000000001", nil, "value is 9 bytes, column holds 8"},

	// uniqueidentifier
	{"uniqueidentifier", "6F9619FF-8B86-D011-B42D-00C04FC964FF",
		UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}, ""},
	{"uniqueidentifier", "{6f9619ff-8b86-d011-b42d-00c04fc964ff}",
		UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}, ""},
	{"uniqueidentifier", "6f9619ff8b86d011b42d00c04fc964ff", nil, "not a uniqueidentifier"},
	{"uniqueidentifier", "{6f9619ff-8b86-d011-b42d-00c04fc964ff", nil, "not a uniqueidentifier"},
	{"uniqueidentifier", "6f9619ff-8b86-d011-b42d-00c04fc964fg", nil, "not a uniqueidentifier"},
	{"uniqueidentifier", "6f9619ff-8b86-d011-b42d_00c04fc964ff", nil, "not a uniqueidentifier"},
	{"uniqueidentifier", "", nil, "not a uniqueidentifier"},
}

func TestDecode(t *testing.T) {
	for _, tt := range decodeTests {
		typ := mustType(t, tt.typ)
		got, err := DecoderFor(typ)([]byte(tt.in))
		name := tt.typ + " " + cut(tt.in)
		if tt.err != "" {
			if err == nil {
				t.Errorf("%s: decoded to %#v, want error %q", name, got, tt.err)
				continue
			}
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Errorf("%s: error %T is not a *ValueError", name, err)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %q, want it to contain %q", name, err, tt.err)
			}
			if got != nil {
				t.Errorf("%s: value %#v returned with an error", name, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !equalValue(got, tt.want) {
			t.Errorf("%s: got %#v (%v), want %#v (%v)", name, got, got, tt.want, tt.want)
			continue
		}
		// Every accepted value survives EncodeWire and decodes to itself.
		text, err := EncodeWire(typ, got)
		if err != nil {
			t.Errorf("%s: EncodeWire(%#v): %v", name, got, err)
			continue
		}
		again, err := DecoderFor(typ)([]byte(text))
		if err != nil || !equalValue(again, got) {
			t.Errorf("%s: EncodeWire gave %q, which decodes to %#v, %v", name, text, again, err)
		}
	}
}

func cut(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// TestDecodeReturnsTypedValues checks the Go type of every kind's value, as the dialects rely on it.
func TestDecodeReturnsTypedValues(t *testing.T) {
	samples := map[Kind]string{
		Bit: "[I:1]", TinyInt: "[I:1]", SmallInt: "[S:1]", Int: "[I:1]", BigInt: "[I:1]",
		Decimal: "[F:1]", Money: "[F:1]", SmallMoney: "[F:1]", Float: "[F:1]", Real: "[F:1]",
		Date: "2020-01-01", Time: "[T:01:02:03]", SmallDateTime: "2020-01-01", DateTime: "2020-01-01",
		DateTime2: "2020-01-01", DateTimeOffset: "2020-01-01T00:00:00Z", Char: "x", VarChar: "x",
		NChar: "x", NVarChar: "x", Text: "x", NText: "x", Binary: "0x01", VarBinary: "0x01",
		Image: "0x01", RowVersion: "0x0000000000000001", UniqueIdentifier: "00000000-0000-0000-0000-000000000001",
		XML: "<a/>", HierarchyID: "/", Geography: "POINT (1 2)", Geometry: "POINT (1 2)", SQLVariant: "x",
		SysName: "x",
	}
	for k := Bit; k <= SysName; k++ {
		in, ok := samples[k]
		if !ok {
			t.Errorf("no sample for %v", k)
			continue
		}
		typ := mustType(t, k.String())
		v, err := DecoderFor(typ)([]byte(in))
		if err != nil {
			t.Errorf("%v %q: %v", k, in, err)
			continue
		}
		var okType bool
		switch {
		case k == Bit:
			_, okType = v.(bool)
		case typ.IsInteger():
			_, okType = v.(int64)
		case typ.IsDecimal():
			_, okType = v.(DecimalValue)
		case typ.IsFloat():
			_, okType = v.(float64)
		case k == Time:
			_, okType = v.(TimeOfDay)
		case typ.IsTemporal():
			_, okType = v.(time.Time)
		case typ.IsString():
			_, okType = v.(string)
		case typ.IsBinary():
			_, okType = v.([]byte)
		case k == UniqueIdentifier:
			_, okType = v.(UUID)
		}
		if !okType {
			t.Errorf("%v decodes to %T", k, v)
		}
	}
	if _, err := DecoderFor(Type{})([]byte("1")); err == nil {
		t.Error("the decoder of an invalid type accepts values")
	}
}

func TestDecoderDoesNotRetainText(t *testing.T) {
	for _, typ := range []string{"nvarchar(10)", "varbinary(10)", "decimal(10,2)"} {
		buf := []byte("0x41")
		if typ == "nvarchar(10)" {
			buf = []byte("abc")
		} else if typ == "decimal(10,2)" {
			buf = []byte("12.5")
		}
		v, err := DecoderFor(mustType(t, typ))(buf)
		if err != nil {
			t.Fatal(err)
		}
		before := EncodeOrDie(t, mustType(t, typ), v)
		for i := range buf {
			buf[i] = '9'
		}
		if after := EncodeOrDie(t, mustType(t, typ), v); after != before {
			t.Errorf("%s: the decoded value changed with the input buffer: %q → %q", typ, before, after)
		}
	}
}

func EncodeOrDie(tb testing.TB, typ Type, v any) string {
	tb.Helper()
	s, err := EncodeWire(typ, v)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

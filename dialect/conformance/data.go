package conformance

import (
	"fmt"
	"strings"

	"github.com/mirrorsink/mirrorsink/contract"
)

// The shared test data of the dialect suite and the engine suite (engine/enginetest): wire values, as
// SuperOffice sends them, so that both suites exercise the decoders too.

// Str returns a pointer to s: a wire value that is not NULL.
func Str(s string) *string { return &s }

// AllTypes is a table with one column of every type of TYPES.md, keyed by an int "id".
func AllTypes() contract.TableSchema {
	cols := []contract.Column{{Name: "id", Type: "int"}}
	for _, c := range [][2]string{
		{"c_bit", "bit"}, {"c_tinyint", "tinyint"}, {"c_smallint", "smallint"}, {"c_int", "int"}, {"c_bigint", "bigint"},
		{"c_decimal", "decimal(38,10)"}, {"c_numeric", "numeric(19,4)"}, {"c_money", "money"}, {"c_smallmoney", "smallmoney"},
		{"c_float", "float"}, {"c_real", "real"}, {"c_date", "date"}, {"c_time", "time(7)"},
		{"c_smalldatetime", "smalldatetime"}, {"c_datetime", "datetime"}, {"c_datetime2", "datetime2(7)"},
		{"c_dto", "datetimeoffset(7)"}, {"c_char", "char(10)"}, {"c_varchar", "varchar(50)"}, {"c_nchar", "nchar(10)"},
		{"c_nvarchar", "nvarchar(255)"}, {"c_nvarcharmax", "nvarchar(max)"}, {"c_varcharmax", "varchar(max)"},
		{"c_text", "text"}, {"c_ntext", "ntext"}, {"c_binary", "binary(4)"}, {"c_varbinary", "varbinary(16)"},
		{"c_varbinarymax", "varbinary(max)"}, {"c_image", "image"}, {"c_rowversion", "timestamp"},
		{"c_uuid", "uniqueidentifier"}, {"c_xml", "xml"}, {"c_hierarchyid", "hierarchyid"},
		{"c_geography", "geography"}, {"c_geometry", "geometry"}, {"c_sqlvariant", "sql_variant"}, {"c_sysname", "sysname"},
	} {
		cols = append(cols, contract.Column{Name: c[0], Type: c[1], IsNullable: true})
	}
	return contract.TableSchema{Name: "all_types", Columns: cols}
}

// DateColumn is the index in AllTypes of the date column that MinYear tests use.
const DateColumn = 12

// TypeRows are wire rows of AllTypes (nil is NULL): typical values, the minimum and maximum of every
// type (dates from minYear, the first year the target holds), all NULL, and awkward text.
func TypeRows(minYear int) [][]*string {
	y := func(year int) string { return fmt.Sprintf("%04d", max(year, minYear)) }
	long := strings.Repeat("Lorem ipsum ✓ ", 800)
	str := Str
	return [][]*string{
		{str("[I:1]"), str("[I:1]"), str("[I:200]"), str("[S:-1234]"), str("[I:135]"), str("[I:9007199254740993]"),
			str("[F:1234567890.0123456789]"), str("[F:-12.3400]"), str("[F:1234.5678]"), str("[F:-12.5]"),
			str("[F:3.141592653589793]"), str("[F:1.5]"), str("[DT:05/18/2020 00:00:00.0000000]"), str("[T:10:40:43.1234567]"),
			str("[DT:05/18/2020 10:40:00.0000000]"), str("[DT:01/01/1760 00:00:00.0000000]"), str("[DT:05/18/2020 10:40:43.1234567]"),
			str("[DT:05/18/2020 10:40:43.1234567 +02:00]"), str("abc       "), str("plain ascii"), str("æøå       "),
			str("Nonnast, Leon ✓ 日本"), str(long), str("x"), str("text"), str("ntext ✓"), str("[B:AQIDBA==]"), str("0xDEADBEEF"),
			str("[B:" + strings.Repeat("AAEC", 300) + "]"), str("[B:/w==]"), str("[B:AAAAAAAAB9E=]"), str("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
			str(`<a b="1">x &amp; y</a>`), str("/1/2/"), str("POINT(10 59)"), str("LINESTRING(0 0, 1 1)"), str("variant"), str("dbo")},
		{str("[I:2]"), str("[I:0]"), str("[I:0]"), str("[S:-32768]"), str("[I:-2147483648]"), str("[I:-9223372036854775808]"),
			str("[F:-9999999999999999999999999999.9999999999]"), str("[F:-999999999999999.9999]"), str("[F:-922337203685477.5808]"), str("[F:-214748.3648]"),
			str("[F:-1.7976931348623157E+308]"), str("[F:-3.4028235E+38]"), str("[DT:01/01/" + y(1) + " 00:00:00.0000000]"), str("[T:00:00:00.0000000]"),
			str("[DT:01/01/1900 00:00:00.0000000]"), str("[DT:01/01/1753 00:00:00.0000000]"), str("[DT:01/01/" + y(1) + " 00:00:00.0000000]"),
			str("[DT:01/01/" + y(1) + " 00:00:00.0000000 -14:00]"), str(""), str(""), str(""),
			str(""), str(""), str(""), str(""), str(""), str("[B:AAAAAA==]"), str("[B:]"),
			str("[B:]"), str("[B:]"), str("[B:AAAAAAAAAAA=]"), str("00000000-0000-0000-0000-000000000000"),
			str(""), str("/"), str("POINT(0 0)"), str("POINT(0 0)"), str(""), str("")},
		{str("[I:3]"), str("[I:1]"), str("[I:255]"), str("[S:32767]"), str("[I:2147483647]"), str("[I:9223372036854775807]"),
			str("[F:9999999999999999999999999999.9999999999]"), str("[F:999999999999999.9999]"), str("[F:922337203685477.5807]"), str("[F:214748.3647]"),
			str("[F:1.7976931348623157E+308]"), str("[F:3.4028235E+38]"), str("[DT:12/31/9999 00:00:00.0000000]"), str("[T:23:59:59.9999999]"),
			str("[DT:06/06/2079 23:59:00.0000000]"), str("[DT:12/31/9999 23:59:59.9970000]"), str("[DT:12/31/9999 23:59:59.9999990]"),
			str("[DT:12/31/9999 23:59:59.9999990 +14:00]"), str("ABCDEFGHIJ"), str(strings.Repeat("v", 50)), str("ÆØÅÆØÅÆØÅÆ"),
			str(strings.Repeat("é", 255)), str(strings.Repeat("🙂", 3000)), str(strings.Repeat("m", 9000)), str("t"), str("n"), str("[B://///w==]"),
			str("0x" + strings.Repeat("ff", 16)), str("[B:" + strings.Repeat("////", 2000) + "]"), str("[B:AA==]"), str("[B://////////8=]"),
			str("ffffffff-ffff-ffff-ffff-ffffffffffff"), str("<r>v</r>"), str("/1/2/3.5/"), str("POINT(-180 -90)"), str("POLYGON((0 0,1 0,1 1,0 0))"),
			str("v"), str(strings.Repeat("s", 128))},
		append([]*string{str("[I:4]")}, make([]*string, len(AllTypes().Columns)-1)...),
		{str("[I:5]"), str("true"), str("7"), str("[S:0]"), str("[I:0]"), str("[I:0]"),
			str("[F:0]"), str("[F:0.0001]"), str("[F:0.0001]"), str("[F:0.0001]"),
			str("[F:5E-324]"), str("[F:1.17549435E-38]"), str("[DT:02/29/2000 00:00:00.0000000]"), str("[T:12:00:00.0000005]"),
			str("[DT:02/29/2000 12:00:00.0000000]"), str("[DT:02/29/2000 12:00:00.0030000]"), str("[DT:02/29/2000 12:00:00.0000005]"),
			str("[DT:02/29/2000 12:00:00.0000005 -05:30]"), str(" lead"), str("tab\there\nnew\rline \\ 'q' \"dq\""), str("[I:1]"),
			str("[I:1]"), str("nul\x00inside"), str("]]>&lt;"), str("{\"json\": true}"), str("x\x01y"), str("[B:AA==]"),
			str("[B:AA==]"), str("[B:AA==]"), str("[B:AA==]"), str("[B:AQIDBAUGBwg=]"), str("{6f9619ff-8b86-d011-b42d-00c04fc964ff}"),
			str("<c>x</c>"), str("/1/"), str("POINT EMPTY"), str("GEOMETRYCOLLECTION EMPTY"), str("[I:1]"), str("user")},
	}
}

// HostileNames are table and column names that only quoting makes work.
var HostileNames = []string{"user", "order", "select", "Group By", "MixedCase", `we"ird`, "back`tick", "br]acket", "sémi;colon -- x", "Tåble 日本", "it's"}

package simulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// The types dataset is one table, "alltypes", with a column of every type of docs/TYPES.md. Its first
// rows hold edge values (minimum, maximum, NULL everywhere, empty strings, unicode, control
// characters); the rest are random values.

// typesColumns are the columns of alltypes after its key.
var typesColumns = []Column{
	{Name: "c_bit", Type: "bit"},
	{Name: "c_tinyint", Type: "tinyint"},
	{Name: "c_smallint", Type: "smallint"},
	{Name: "c_int", Type: "int"},
	{Name: "c_bigint", Type: "bigint"},
	{Name: "c_decimal", Type: "decimal(18,4)"},
	{Name: "c_decimal38", Type: "decimal(38,10)"},
	{Name: "c_numeric", Type: "numeric(5,2)"},
	{Name: "c_money", Type: "money"},
	{Name: "c_smallmoney", Type: "smallmoney"},
	{Name: "c_float", Type: "float"},
	{Name: "c_real", Type: "real"},
	{Name: "c_date", Type: "date"},
	{Name: "c_time", Type: "time(7)"},
	{Name: "c_time3", Type: "time(3)"},
	{Name: "c_smalldatetime", Type: "smalldatetime"},
	{Name: "c_datetime", Type: "datetime"},
	{Name: "c_datetime2", Type: "datetime2(7)"},
	{Name: "c_datetime2_3", Type: "datetime2(3)"},
	{Name: "c_datetimeoffset", Type: "datetimeoffset(7)"},
	{Name: "c_char", Type: "char(10)"},
	{Name: "c_varchar", Type: "varchar(50)"},
	{Name: "c_nchar", Type: "nchar(10)"},
	{Name: "c_nvarchar", Type: "nvarchar(100)"},
	{Name: "c_varcharmax", Type: "varchar(max)"},
	{Name: "c_nvarcharmax", Type: "nvarchar(max)"},
	{Name: "c_text", Type: "text"},
	{Name: "c_ntext", Type: "ntext"},
	{Name: "c_binary", Type: "binary(8)"},
	{Name: "c_varbinary", Type: "varbinary(50)"},
	{Name: "c_varbinarymax", Type: "varbinary(max)"},
	{Name: "c_image", Type: "image"},
	{Name: "c_rowversion", Type: "timestamp"},
	{Name: "c_uniqueidentifier", Type: "uniqueidentifier"},
	{Name: "c_xml", Type: "xml"},
	{Name: "c_hierarchyid", Type: "hierarchyid"},
	{Name: "c_geography", Type: "geography"},
	{Name: "c_geometry", Type: "geometry"},
	{Name: "c_sql_variant", Type: "sql_variant"},
	{Name: "c_sysname", Type: "sysname"},
}

// edgeRows are the edge values per column name, one map per edge row; a missing column is NULL.
func edgeRows(minYear int) []map[string]any {
	if minYear < 1 {
		minYear = 1
	}
	minDate := time.Date(minYear, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDT2 := time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC)
	ones := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	return []map[string]any{
		{ // minimum values
			"c_bit": false, "c_tinyint": int64(0), "c_smallint": int64(math.MinInt16), "c_int": int64(math.MinInt32),
			"c_bigint": int64(math.MinInt64), "c_decimal": typemap.DecimalValue("-99999999999999.9999"),
			"c_decimal38": typemap.DecimalValue("-9999999999999999999999999999.9999999999"), "c_numeric": typemap.DecimalValue("-999.99"),
			"c_money": typemap.DecimalValue("-922337203685477.5808"), "c_smallmoney": typemap.DecimalValue("-214748.3648"),
			"c_float": -math.MaxFloat64, "c_real": float32(-math.MaxFloat32),
			"c_date": minDate, "c_time": typemap.TimeOfDay(0), "c_time3": typemap.TimeOfDay(0),
			"c_smalldatetime": time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), "c_datetime": time.Date(max(1753, minYear), 1, 1, 0, 0, 0, 0, time.UTC),
			"c_datetime2": minDate, "c_datetime2_3": minDate,
			"c_datetimeoffset": time.Date(max(minYear, 2), 1, 1, 0, 0, 0, 0, time.FixedZone("", -14*3600)),
			"c_char":           "          ", "c_varchar": "", "c_nchar": "          ", "c_nvarchar": "", "c_varcharmax": "", "c_nvarcharmax": "",
			"c_text": "", "c_ntext": "", "c_binary": make([]byte, 8), "c_varbinary": []byte{}, "c_varbinarymax": []byte{}, "c_image": []byte{},
			"c_rowversion": make([]byte, 8), "c_uniqueidentifier": typemap.UUID{}, "c_xml": "<a/>", "c_hierarchyid": "/",
			"c_geography": "POINT(-180 -90)", "c_geometry": "POINT(0 0)", "c_sql_variant": "", "c_sysname": "",
		},
		{ // maximum values
			"c_bit": true, "c_tinyint": int64(255), "c_smallint": int64(math.MaxInt16), "c_int": int64(math.MaxInt32),
			"c_bigint": int64(math.MaxInt64), "c_decimal": typemap.DecimalValue("99999999999999.9999"),
			"c_decimal38": typemap.DecimalValue("9999999999999999999999999999.9999999999"), "c_numeric": typemap.DecimalValue("999.99"),
			"c_money": typemap.DecimalValue("922337203685477.5807"), "c_smallmoney": typemap.DecimalValue("214748.3647"),
			"c_float": math.MaxFloat64, "c_real": float32(math.MaxFloat32),
			"c_date": time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
			"c_time": typemap.TimeOfDay(24*time.Hour - 100), "c_time3": typemap.TimeOfDay(24*time.Hour - time.Millisecond),
			"c_smalldatetime": time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC), "c_datetime": time.Date(9999, 12, 31, 23, 59, 59, 997000000, time.UTC),
			"c_datetime2": maxDT2, "c_datetime2_3": time.Date(9999, 12, 31, 23, 59, 59, 999000000, time.UTC),
			"c_datetimeoffset": time.Date(9999, 12, 31, 9, 59, 59, 999999900, time.FixedZone("", 14*3600)),
			"c_char":           "ZZZZZZZZZZ", "c_varchar": string(repeatByte('z', 50)), "c_nchar": "ÆØÅæøåÆØÅæ", "c_nvarchar": string(repeatRune('€', 100)),
			"c_varcharmax": string(repeatByte('m', 70000)), "c_nvarcharmax": string(repeatRune('語', 30000)),
			"c_text": "text", "c_ntext": "ntext ☃", "c_binary": ones, "c_varbinary": repeatByte(0xff, 50),
			"c_varbinarymax": repeatByte(0xab, 70000), "c_image": repeatByte(0x01, 1000), "c_rowversion": ones,
			"c_uniqueidentifier": typemap.UUID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			"c_xml":              "<root a=\"1\"><b>&amp;</b></root>", "c_hierarchyid": "/1/2/3/", "c_geography": "POINT(180 90)",
			"c_geometry": "LINESTRING(0 0, 1 1)", "c_sql_variant": "variant", "c_sysname": string(repeatRune('s', 128)),
		},
		{}, // NULL in every column
		{ // unicode, control characters and look-alikes of wire forms
			"c_bit": true, "c_tinyint": int64(1), "c_smallint": int64(-1), "c_int": int64(0), "c_bigint": int64(-1),
			"c_decimal": typemap.DecimalValue("0.0001"), "c_decimal38": typemap.DecimalValue("-0.0000000001"),
			"c_numeric": typemap.DecimalValue("0"), "c_money": typemap.DecimalValue("0.0001"), "c_smallmoney": typemap.DecimalValue("-0.0001"),
			"c_float": 2.2250738585072014e-308, "c_real": float32(1.1754944e-38),
			"c_date": time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC), "c_time": typemap.TimeOfDay(12*time.Hour + 1234567*100),
			"c_time3": typemap.TimeOfDay(time.Millisecond), "c_smalldatetime": time.Date(2020, 5, 18, 10, 40, 0, 0, time.UTC),
			"c_datetime": time.Date(2020, 5, 18, 10, 40, 43, 3000000, time.UTC), "c_datetime2": time.Date(2020, 5, 18, 10, 40, 43, 123456700, time.UTC),
			"c_datetime2_3":    time.Date(2020, 5, 18, 10, 40, 43, 123000000, time.UTC),
			"c_datetimeoffset": time.Date(2020, 5, 18, 10, 40, 43, 123456700, time.FixedZone("", 5*3600+30*60)),
			"c_char":           "a\tb       ", "c_varchar": "[I:1]", "c_nchar": "😀        ", "c_nvarchar": "Ærøskøbing 東京 \U0001F600 \u200b\u00a0",
			"c_varcharmax": "line1\r\nline2\rline3\nend\x01\x02\x1f", "c_nvarcharmax": "NUL\x00inside <&> \"quotes\" 'single' ]]>",
			"c_text": "[DT:05/18/2020 10:40:43.0000000]", "c_ntext": "  leading and trailing spaces  ",
			"c_binary": []byte{0, 1, 2, 3, 0, 0, 0, 0}, "c_varbinary": []byte{0}, "c_varbinarymax": []byte("<b:string>"), "c_image": []byte{0xde, 0xad},
			"c_rowversion": []byte{0, 0, 0, 0, 0, 0, 0x07, 0xd1}, "c_uniqueidentifier": "6F9619FF-8B86-D011-B42D-00C04FC964FF",
			"c_xml": "<x>ü</x>", "c_hierarchyid": "/1/", "c_geography": "POINT(10.5 59.9)", "c_geometry": "POLYGON((0 0, 1 0, 1 1, 0 0))",
			"c_sql_variant": "[I:7]", "c_sysname": "dbo",
		},
	}
}

func repeatByte(b byte, n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = b
	}
	return s
}

func repeatRune(r rune, n int) []rune {
	s := make([]rune, n)
	for i := range s {
		s[i] = r
	}
	return s
}

// typesSpec returns the alltypes table.
func typesSpec(minYear int) tableSpec {
	s := tableSpec{Table: Table{Name: "alltypes"}}
	s.Columns = append(s.Columns, Column{Name: "id", Type: "int"})
	s.gens = append(s.gens, key)
	edges := edgeRows(minYear)
	for _, col := range typesColumns {
		col.Nullable = true
		ty, err := typemap.ParseType(col.Type)
		if err != nil {
			panic(fmt.Sprintf("simulator: types dataset: %s: %v", col.Type, err)) // a bug in the table above
		}
		random := byTypeWide(ty)
		name := col.Name
		s.Columns = append(s.Columns, col)
		s.gens = append(s.gens, func(r *rand.Rand, id int64) any {
			if id <= int64(len(edges)) {
				return edges[id-1][name]
			}
			if r.IntN(10) == 0 {
				return nil
			}
			return random(r)
		})
	}
	s.rows = func(n int64) int64 { return int64(len(edges)) + n }
	return s
}

// byTypeWide makes random values spread over a type's whole range.
func byTypeWide(t typemap.Type) func(r *rand.Rand) any {
	switch t.Kind {
	case typemap.Bit:
		return func(r *rand.Rand) any { return r.IntN(2) == 1 }
	case typemap.TinyInt:
		return func(r *rand.Rand) any { return int64(r.IntN(256)) }
	case typemap.SmallInt:
		return func(r *rand.Rand) any { return int64(int16(r.Uint32())) }
	case typemap.Int:
		return func(r *rand.Rand) any { return int64(int32(r.Uint32())) }
	case typemap.BigInt:
		return func(r *rand.Rand) any { return int64(r.Uint64()) }
	case typemap.Decimal, typemap.Money, typemap.SmallMoney:
		p, s := t.NumericPrecisionScale()
		if t.Kind == typemap.Money {
			p, s = 18, 4
		} else if t.Kind == typemap.SmallMoney {
			p, s = 9, 4
		}
		return func(r *rand.Rand) any {
			digits := make([]byte, p)
			for i := range digits {
				digits[i] = byte('0' + r.IntN(10))
			}
			sign := ""
			if r.IntN(2) == 0 {
				sign = "-"
			}
			v := sign + string(digits[:p-s])
			if s > 0 {
				v += "." + string(digits[p-s:])
			}
			return typemap.DecimalValue(v)
		}
	case typemap.Float:
		return func(r *rand.Rand) any { return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(200)-100)) }
	case typemap.Real:
		return func(r *rand.Rand) any { return float32((r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(60)-30))) }
	case typemap.Time:
		unit := int64(math.Pow10(9 - t.Precision))
		return func(r *rand.Rand) any { return typemap.TimeOfDay(r.Int64N(int64(24*time.Hour)) / unit * unit) }
	case typemap.Date:
		return func(r *rand.Rand) any {
			return time.Date(1000+r.IntN(9000), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
		}
	case typemap.SmallDateTime:
		return func(r *rand.Rand) any { return time.Unix(r.Int64N(3_000_000_000)/60*60, 0).UTC() }
	case typemap.DateTime:
		return func(r *rand.Rand) any { return time.Unix(r.Int64N(8_000_000_000), int64(r.IntN(100))*10_000_000).UTC() }
	case typemap.DateTime2, typemap.DateTimeOffset:
		unit := int64(math.Pow10(9 - t.Precision))
		offset := t.Kind == typemap.DateTimeOffset
		return func(r *rand.Rand) any {
			v := time.Unix(r.Int64N(200_000_000_000)-30_000_000_000, r.Int64N(1e9)/unit*unit).UTC()
			if offset {
				v = v.In(time.FixedZone("", (r.IntN(57)-28)*15*60))
			}
			return v
		}
	case typemap.Char, typemap.NChar:
		n := t.MaxLength()
		return func(r *rand.Rand) any {
			s := []rune(words(r, 2))
			if len(s) > n {
				s = s[:n]
			}
			return padRight(string(s), n)
		}
	case typemap.Binary, typemap.RowVersion:
		n := max(t.MaxLength(), 8)
		return func(r *rand.Rand) any { return randomBytes(r, n) }
	case typemap.VarBinary, typemap.Image:
		n := t.MaxLength()
		if n <= 0 {
			n = 2000
		}
		return func(r *rand.Rand) any { return randomBytes(r, r.IntN(n+1)) }
	case typemap.UniqueIdentifier:
		return func(r *rand.Rand) any {
			var u typemap.UUID
			copy(u[:], randomBytes(r, 16))
			return u
		}
	case typemap.HierarchyID:
		return func(r *rand.Rand) any { return fmt.Sprintf("/%d/%d/", r.IntN(100), r.IntN(100)) }
	case typemap.Geography, typemap.Geometry:
		return func(r *rand.Rand) any { return fmt.Sprintf("POINT(%d %d)", r.IntN(180), r.IntN(90)) }
	case typemap.XML:
		return func(r *rand.Rand) any { return "<v>" + words(r, 3) + "</v>" }
	}
	n := t.MaxLength()
	return func(r *rand.Rand) any {
		s := []rune(words(r, 1+r.IntN(6)))
		if n > 0 && len(s) > n {
			s = s[:n]
		}
		return string(s)
	}
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

package sqlite

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/golden"
	"github.com/mirrorsink/mirrorsink/typemap"
)

const goldenDir = "../../testdata/golden/sqlite/"

func col(name string, k typemap.Kind, nullable bool) typemap.Column {
	return typemap.Column{Name: name, Type: typemap.Type{Kind: k}, Nullable: nullable}
}

func withType(c typemap.Column, length, precision, scale int) typemap.Column {
	c.Type.Length, c.Type.Precision, c.Type.Scale = length, precision, scale
	return c
}

func lit(s string, isString bool) *typemap.Default {
	raw := s
	if isString {
		raw = "N'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return &typemap.Default{Kind: typemap.DefaultLiteral, Literal: s, IsString: isString, Raw: "(" + raw + ")"}
}

func fn(k typemap.DefaultKind, raw string) *typemap.Default {
	return &typemap.Default{Kind: k, Raw: raw}
}

// allTypesTable has one column of every SQL Server type, with a composite key (id, part).
func allTypesTable() dialect.Table {
	cols := []typemap.Column{
		col("id", typemap.Int, false),
		withType(col("part", typemap.NVarChar, false), 10, 0, 0),
		col("c_bit", typemap.Bit, true),
		col("c_tinyint", typemap.TinyInt, true),
		col("c_smallint", typemap.SmallInt, true),
		col("c_int", typemap.Int, true),
		col("c_bigint", typemap.BigInt, true),
		withType(col("c_decimal", typemap.Decimal, true), 0, 38, 10),
		withType(col("c_numeric", typemap.Decimal, true), 0, 18, 0),
		col("c_money", typemap.Money, true),
		col("c_smallmoney", typemap.SmallMoney, true),
		withType(col("c_float", typemap.Float, true), 0, 53, 0),
		withType(col("c_real", typemap.Real, true), 0, 24, 0),
		col("c_date", typemap.Date, true),
		withType(col("c_time", typemap.Time, true), 0, 7, 0),
		col("c_smalldatetime", typemap.SmallDateTime, true),
		col("c_datetime", typemap.DateTime, true),
		withType(col("c_datetime2", typemap.DateTime2, true), 0, 7, 0),
		withType(col("c_datetimeoffset", typemap.DateTimeOffset, true), 0, 7, 0),
		withType(col("c_char", typemap.Char, true), 10, 0, 0),
		withType(col("c_varchar", typemap.VarChar, true), 255, 0, 0),
		withType(col("c_nchar", typemap.NChar, true), 10, 0, 0),
		withType(col("c_nvarchar", typemap.NVarChar, true), 4000, 0, 0),
		withType(col("c_varchar_max", typemap.VarChar, true), typemap.Max, 0, 0),
		withType(col("c_nvarchar_max", typemap.NVarChar, true), typemap.Max, 0, 0),
		col("c_text", typemap.Text, true),
		col("c_ntext", typemap.NText, true),
		withType(col("c_binary", typemap.Binary, true), 16, 0, 0),
		withType(col("c_varbinary", typemap.VarBinary, true), 100, 0, 0),
		withType(col("c_varbinary_max", typemap.VarBinary, true), typemap.Max, 0, 0),
		col("c_image", typemap.Image, true),
		col("c_rowversion", typemap.RowVersion, true),
		col("c_uniqueidentifier", typemap.UniqueIdentifier, true),
		col("c_xml", typemap.XML, true),
		col("c_hierarchyid", typemap.HierarchyID, true),
		col("c_geography", typemap.Geography, true),
		col("c_geometry", typemap.Geometry, true),
		col("c_sql_variant", typemap.SQLVariant, true),
		col("c_sysname", typemap.SysName, false),
	}
	return dialect.Table{Name: "all_types", Columns: cols, Key: []int{0, 1}}
}

// defaultsTable has a default of every kind on the column types where it matters.
func defaultsTable() dialect.Table {
	d := func(c typemap.Column, def *typemap.Default) typemap.Column { c.Default = def; return c }
	cols := []typemap.Column{
		col("id", typemap.Int, false),
		d(col("bit_one", typemap.Bit, false), lit("1", false)),
		d(col("bit_zero", typemap.Bit, false), lit("0", false)),
		d(col("int_neg", typemap.Int, true), lit("-5", false)),
		d(withType(col("dec_lit", typemap.Decimal, true), 0, 18, 4), lit("0.5000", false)),
		d(col("money_zero", typemap.Money, true), lit("0", false)),
		d(withType(col("float_lit", typemap.Float, true), 0, 53, 0), lit("1.5", false)),
		d(col("date_lit", typemap.Date, true), lit("1760-01-01", true)),
		d(col("datetime_lit", typemap.DateTime, true), lit("1760-01-01 00:00:00", true)),
		d(withType(col("datetime2_lit", typemap.DateTime2, true), 0, 7, 0), lit("2001-02-03T04:05:06.1234567", true)),
		d(withType(col("dto_lit", typemap.DateTimeOffset, true), 0, 7, 0), lit("2001-02-03 04:05:06 +02:00", true)),
		d(withType(col("time_lit", typemap.Time, true), 0, 7, 0), lit("12:30:00", true)),
		d(col("uuid_lit", typemap.UniqueIdentifier, true), lit("6F9619FF-8B86-D011-B42D-00C04FC964FF", true)),
		d(withType(col("str_lit", typemap.NVarChar, true), 50, 0, 0), lit("it's", true)),
		d(withType(col("str_empty", typemap.NVarChar, false), 50, 0, 0), lit("", true)),
		d(withType(col("str_from_number", typemap.VarChar, true), 10, 0, 0), lit("0", false)),
		d(withType(col("bin_lit", typemap.VarBinary, true), 10, 0, 0), lit("0x0A0b", false)),
		d(col("null_default", typemap.Int, true), fn(typemap.DefaultNull, "(NULL)")),
		d(col("now_datetime", typemap.DateTime, false), fn(typemap.DefaultNow, "(getdate())")),
		d(col("utcnow_datetime", typemap.DateTime, true), fn(typemap.DefaultUTCNow, "(getutcdate())")),
		d(col("now_date", typemap.Date, true), fn(typemap.DefaultNow, "(getdate())")),
		d(withType(col("now_time", typemap.Time, true), 0, 7, 0), fn(typemap.DefaultNow, "(sysdatetime())")),
		d(withType(col("nowoffset_dto", typemap.DateTimeOffset, true), 0, 7, 0), fn(typemap.DefaultNowOffset, "(sysdatetimeoffset())")),
		d(col("newid_uuid", typemap.UniqueIdentifier, false), fn(typemap.DefaultNewID, "(newid())")),
		d(withType(col("newid_text", typemap.NChar, true), 36, 0, 0), fn(typemap.DefaultNewID, "(newid())")),
		d(col("now_on_int", typemap.Int, true), fn(typemap.DefaultNow, "(getdate())")),
		d(col("unsupported", typemap.Int, true), fn(typemap.DefaultUnsupported, "(abs(-1))")),
		d(col("bad_int_lit", typemap.Int, true), lit("abc", true)),
	}
	return dialect.Table{Name: "defaults", Columns: cols, Key: []int{0}}
}

// hostileNames are identifiers that only work when quoted correctly.
var hostileNames = []string{
	"user", "order", "group", "select", "MixedCase", "with space", `dq"uote`, "sq'uote", "back`tick",
	"[bracket]", "ünïcødé_名前", "semi;colon --", strings.Repeat("n", MaxNameBytes),
}

func hostileTable() dialect.Table {
	cols := make([]typemap.Column, len(hostileNames))
	for i, n := range hostileNames {
		cols[i] = withType(col(n, typemap.NVarChar, i > 1), 50, 0, 0)
	}
	return dialect.Table{Name: `order "of" [user]`, Columns: cols, Key: []int{0, 1}}
}

func TestGoldenCreateTable(t *testing.T) {
	cases := []struct {
		file  string
		table dialect.Table
	}{
		{"create_all_types.sql", allTypesTable()},
		{"create_defaults.sql", defaultsTable()},
		{"create_hostile.sql", hostileTable()},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			stmt, warnings, err := CreateTableSQL(c.table, c.table.Name)
			if err != nil {
				t.Fatal(err)
			}
			out := stmt + ";\n"
			for _, w := range warnings {
				out += "-- warning: " + w + "\n"
			}
			golden.Assert(t, goldenDir+c.file, []byte(out))
		})
	}
}

func TestGoldenStatements(t *testing.T) {
	at := allTypesTable()
	small := dialect.Table{Name: "order", Columns: []typemap.Column{
		col("id", typemap.Int, false), withType(col("name", typemap.NVarChar, true), 50, 0, 0), col("when", typemap.DateTime, true),
	}, Key: []int{0}}
	keysOnly := dialect.Table{Name: "link", Columns: []typemap.Column{col("a", typemap.Int, false), col("b", typemap.Int, false)}, Key: []int{0, 1}}
	var b strings.Builder
	add := func(label string, s string, err error) {
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		fmt.Fprintf(&b, "-- %s\n%s;\n\n", label, s)
	}
	s, err := InsertSQL(small, 3)
	add("insert 3 rows", s, err)
	s, err = UpsertSQL(small, 2)
	add("upsert 2 rows", s, err)
	s, err = UpsertSQL(keysOnly, 2)
	add("upsert, key columns only", s, err)
	s, err = DeleteSQL(small, 3)
	add("delete 3 keys, one key column", s, err)
	s, err = DeleteSQL(at, 2)
	add("delete 2 keys, composite key", s, err)
	s, err = DropTableSQL("order")
	add("drop table", s, err)
	s, err = TruncateSQL("order")
	add("truncate", s, err)
	add("table exists", TableExistsSQL, nil)
	s, ok, warn, err := AddColumnSQL("order", withType(col("note", typemap.NVarChar, true), 100, 0, 0))
	add(fmt.Sprintf("add nullable column (in place: %v, warning: %q)", ok, warn), s, err)
	c := col("flag", typemap.Bit, false)
	c.Default = lit("1", false)
	s, ok, warn, err = AddColumnSQL("order", c)
	add(fmt.Sprintf("add NOT NULL column with default (in place: %v, warning: %q)", ok, warn), s, err)
	c = col("created", typemap.DateTime, true)
	c.Default = fn(typemap.DefaultNow, "(getdate())")
	s, ok, warn, err = AddColumnSQL("order", c)
	add(fmt.Sprintf("add column with getdate() default (in place: %v, warning: %q)", ok, warn), s, err)
	s, ok, warn, err = AddColumnSQL("order", col("required", typemap.Int, false))
	add(fmt.Sprintf("add NOT NULL column without default (in place: %v, warning: %q)", ok, warn), s, err)
	s, err = DropColumnSQL("order", "when")
	add("drop column", s, err)
	stmts, warnings, err := RebuildSQL(small, []string{"id", "name"}, []string{`"id"`, `"name"`})
	add(fmt.Sprintf("rebuild (warnings: %q)", warnings), strings.Join(stmts, ";\n"), err)
	golden.Assert(t, goldenDir+"statements.sql", []byte(b.String()))
}

func TestQuoteIdent(t *testing.T) {
	cases := []struct {
		name, want string
		err        error
	}{
		{"user", `"user"`, nil},
		{"MixedCase", `"MixedCase"`, nil},
		{`a"b`, `"a""b"`, nil},
		{"a`b[c]'d", "\"a`b[c]'d\"", nil},
		{"名前", `"名前"`, nil},
		{strings.Repeat("x", MaxNameBytes), `"` + strings.Repeat("x", MaxNameBytes) + `"`, nil},
		{strings.Repeat("x", MaxNameBytes+1), "", dialect.ErrNameTooLong},
		{strings.Repeat("é", MaxNameBytes/2+1), "", dialect.ErrNameTooLong},
	}
	for _, c := range cases {
		got, err := QuoteIdent(c.name)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("QuoteIdent(%.20q…) error = %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("QuoteIdent(%q) = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "a\x00b"} {
		if _, err := QuoteIdent(bad); err == nil {
			t.Errorf("QuoteIdent(%q) succeeded, want an error", bad)
		}
	}
	if _, _, err := CreateTableSQL(dialect.Table{Name: strings.Repeat("t", MaxNameBytes+1), Columns: []typemap.Column{col("id", typemap.Int, false)}, Key: []int{0}}, strings.Repeat("t", MaxNameBytes+1)); !errors.Is(err, dialect.ErrNameTooLong) {
		t.Errorf("CreateTableSQL with a long name: %v, want ErrNameTooLong", err)
	}
}

func TestCanonicalDecimal(t *testing.T) {
	cases := map[string]string{
		"0": "0", "-0": "0", "-0.000": "0", "+1.50": "1.5", "007.0100": "7.01", ".5": "0.5", "12.": "12",
		"-123.4500": "-123.45",
	}
	for in, want := range cases {
		got, err := canonicalDecimal(in)
		if err != nil || got != want {
			t.Errorf("canonicalDecimal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e5", "1.2.3", "abc", "--1"} {
		if got, err := canonicalDecimal(bad); err == nil {
			t.Errorf("canonicalDecimal(%q) = %q, want an error", bad, got)
		}
	}
}

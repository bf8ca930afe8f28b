package sqlserver

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/golden"
	"github.com/mirrorsink/mirrorsink/typemap"
)

const goldenDir = "../../testdata/golden/sqlserver/"

func col(name string, k typemap.Kind, length, prec, scale int, nullable bool) typemap.Column {
	return typemap.Column{Name: name, Type: typemap.Type{Kind: k, Length: length, Precision: prec, Scale: scale}, Nullable: nullable}
}

// everyType is a table with every type of TYPES.md.
func everyType() dialect.Table {
	cols := []typemap.Column{
		col("id", typemap.Int, 0, 0, 0, false),
		col("c_bit", typemap.Bit, 0, 0, 0, true),
		col("c_tinyint", typemap.TinyInt, 0, 0, 0, true),
		col("c_smallint", typemap.SmallInt, 0, 0, 0, true),
		col("c_bigint", typemap.BigInt, 0, 0, 0, true),
		col("c_decimal", typemap.Decimal, 0, 38, 10, true),
		col("c_numeric", typemap.Decimal, 0, 18, 0, true),
		col("c_money", typemap.Money, 0, 0, 0, true),
		col("c_smallmoney", typemap.SmallMoney, 0, 0, 0, true),
		col("c_float", typemap.Float, 0, 53, 0, true),
		col("c_real", typemap.Real, 0, 24, 0, true),
		col("c_date", typemap.Date, 0, 0, 0, true),
		col("c_time", typemap.Time, 0, 7, 0, true),
		col("c_time3", typemap.Time, 0, 3, 0, true),
		col("c_smalldatetime", typemap.SmallDateTime, 0, 0, 0, true),
		col("c_datetime", typemap.DateTime, 0, 0, 0, true),
		col("c_datetime2", typemap.DateTime2, 0, 7, 0, true),
		col("c_datetime2_0", typemap.DateTime2, 0, 0, 0, true),
		col("c_datetimeoffset", typemap.DateTimeOffset, 0, 7, 0, true),
		col("c_char", typemap.Char, 10, 0, 0, true),
		col("c_nchar", typemap.NChar, 10, 0, 0, true),
		col("c_varchar", typemap.VarChar, 255, 0, 0, true),
		col("c_nvarchar", typemap.NVarChar, 4000, 0, 0, true),
		col("c_varchar_max", typemap.VarChar, typemap.Max, 0, 0, true),
		col("c_nvarchar_max", typemap.NVarChar, typemap.Max, 0, 0, true),
		col("c_text", typemap.Text, 0, 0, 0, true),
		col("c_ntext", typemap.NText, 0, 0, 0, true),
		col("c_binary", typemap.Binary, 16, 0, 0, true),
		col("c_varbinary", typemap.VarBinary, 8000, 0, 0, true),
		col("c_varbinary_max", typemap.VarBinary, typemap.Max, 0, 0, true),
		col("c_image", typemap.Image, 0, 0, 0, true),
		col("c_rowversion", typemap.RowVersion, 0, 0, 0, true),
		col("c_uniqueidentifier", typemap.UniqueIdentifier, 0, 0, 0, true),
		col("c_xml", typemap.XML, 0, 0, 0, true),
		col("c_hierarchyid", typemap.HierarchyID, 0, 0, 0, true),
		col("c_geography", typemap.Geography, 0, 0, 0, true),
		col("c_geometry", typemap.Geometry, 0, 0, 0, true),
		col("c_sql_variant", typemap.SQLVariant, 0, 0, 0, true),
		col("c_sysname", typemap.SysName, 128, 0, 0, false),
	}
	return dialect.Table{Name: "every_type", Columns: cols, Key: []int{0}}
}

func withDefault(c typemap.Column, d typemap.Default) typemap.Column {
	c.Default = &d
	return c
}

// defaults is a table with a default of every DefaultKind, and a composite key.
func defaults() dialect.Table {
	cols := []typemap.Column{
		col("tenant", typemap.NVarChar, 50, 0, 0, false),
		col("id", typemap.BigInt, 0, 0, 0, false),
		withDefault(col("name", typemap.NVarChar, 100, 0, 0, false), typemap.Default{Kind: typemap.DefaultLiteral, Literal: "it's \"N/A\"", IsString: true, Raw: "(N'it''s \"N/A\"')"}),
		withDefault(col("empty", typemap.VarChar, 10, 0, 0, false), typemap.Default{Kind: typemap.DefaultLiteral, Literal: "", IsString: true, Raw: "('')"}),
		withDefault(col("flag", typemap.Bit, 0, 0, 0, false), typemap.Default{Kind: typemap.DefaultLiteral, Literal: "1", Raw: "((1))"}),
		withDefault(col("amount", typemap.Decimal, 0, 10, 2, true), typemap.Default{Kind: typemap.DefaultLiteral, Literal: "-0.50", Raw: "((-0.50))"}),
		withDefault(col("nodate", typemap.DateTime, 0, 0, 0, false), typemap.Default{Kind: typemap.DefaultLiteral, Literal: "1760-01-01", IsString: true, Raw: "('1760-01-01')"}),
		withDefault(col("maybe", typemap.Int, 0, 0, 0, true), typemap.Default{Kind: typemap.DefaultNull, Raw: "(NULL)"}),
		withDefault(col("created", typemap.DateTime, 0, 0, 0, false), typemap.Default{Kind: typemap.DefaultNow, Raw: "(getdate())"}),
		withDefault(col("created2", typemap.DateTime2, 0, 7, 0, false), typemap.Default{Kind: typemap.DefaultNow, Raw: "(sysdatetime())"}),
		withDefault(col("created_utc", typemap.DateTime, 0, 0, 0, false), typemap.Default{Kind: typemap.DefaultUTCNow, Raw: "(getutcdate())"}),
		withDefault(col("created_utc2", typemap.DateTime2, 0, 3, 0, false), typemap.Default{Kind: typemap.DefaultUTCNow, Raw: "(sysutcdatetime())"}),
		withDefault(col("created_off", typemap.DateTimeOffset, 0, 7, 0, false), typemap.Default{Kind: typemap.DefaultNowOffset, Raw: "(sysdatetimeoffset())"}),
		withDefault(col("guid", typemap.UniqueIdentifier, 0, 0, 0, false), typemap.Default{Kind: typemap.DefaultNewID, Raw: "(newid())"}),
		withDefault(col("weird", typemap.Int, 0, 0, 0, true), typemap.Default{Kind: typemap.DefaultUnsupported, Raw: "([dbo].[NextNumber]())"}),
		withDefault(col("notnumber", typemap.Int, 0, 0, 0, true), typemap.Default{Kind: typemap.DefaultLiteral, Literal: "1; DROP TABLE x", Raw: "(1; DROP TABLE x)"}),
	}
	return dialect.Table{Name: "defaults", Columns: cols, Key: []int{0, 1}}
}

// hostile is a table whose names are reserved words, mixed case, spaces, quotes, backticks,
// brackets and unicode.
func hostile() dialect.Table {
	cols := []typemap.Column{
		col("user", typemap.Int, 0, 0, 0, false),
		col("order", typemap.NVarChar, 20, 0, 0, false),
		withDefault(col("group", typemap.NVarChar, 20, 0, 0, true), typemap.Default{Kind: typemap.DefaultLiteral, Literal: "it's", IsString: true}),
		col("select", typemap.Int, 0, 0, 0, true),
		col("MixedCase", typemap.Int, 0, 0, 0, true),
		col("with space", typemap.Int, 0, 0, 0, true),
		col(`quote"double`, typemap.Int, 0, 0, 0, true),
		col("quote'single", typemap.Int, 0, 0, 0, true),
		col("back`tick", typemap.Int, 0, 0, 0, true),
		col("brack]et[s]", typemap.Int, 0, 0, 0, true),
		col("ünïcødé_名前", typemap.Int, 0, 0, 0, true),
		col("dot.ted", typemap.HierarchyID, 0, 0, 0, true),
		col(strings.Repeat("x", 128), typemap.Int, 0, 0, 0, true),
	}
	return dialect.Table{Name: "Order Details]; DROP TABLE [x] --'", Columns: cols, Key: []int{0, 1}}
}

type goldenFile struct {
	b strings.Builder
}

func (g *goldenFile) add(title string, stmts ...string) {
	g.b.WriteString("-- " + title + "\n")
	for _, s := range stmts {
		if s == "" {
			continue
		}
		g.b.WriteString(s + ";\n")
	}
	g.b.WriteString("\n")
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestGoldenDDL(t *testing.T) {
	for _, schema := range []string{"", "tenant one"} {
		s := SQL{Schema: schema}
		suffix := ""
		if schema != "" {
			suffix = "_schema"
		}
		t.Run("schema="+schema, func(t *testing.T) {
			var g goldenFile
			var warnings []string
			warn := func(c, why string) { warnings = append(warnings, c+": "+why) }
			for _, tab := range []dialect.Table{everyType(), defaults(), hostile()} {
				g.add("create "+tab.Name, must[string](t)(s.CreateTable(tab, warn)))
				g.add("exists "+tab.Name, s.TableExists())
				g.add("drop "+tab.Name, must[string](t)(s.DropTable(tab.Name)))
				g.add("truncate "+tab.Name, must[string](t)(s.Truncate(tab.Name)))
			}
			g.add("dropped defaults (warnings)", warnings...)
			golden.Assert(t, goldenDir+"ddl"+suffix+".sql", []byte(g.b.String()))
			if len(warnings) != 2 {
				t.Errorf("want 2 dropped defaults (unsupported, not numeric), got %q", warnings)
			}
		})
	}
}

func TestGoldenAlter(t *testing.T) {
	s := SQL{Schema: "tenant"}
	tab := hostile()
	var g goldenFile
	warn := func(string, string) {}
	added := withDefault(col("new col", typemap.DateTime2, 0, 3, 0, false), typemap.Default{Kind: typemap.DefaultNow})
	g.add("add column with default", must[string](t)(s.AddColumn(tab.Name, added, warn)))
	g.add("add nullable column", must[string](t)(s.AddColumn(tab.Name, col("n]ull", typemap.NVarChar, typemap.Max, 0, 0, true), warn)))
	g.add("drop column", must[[]string](t)(s.DropColumn(tab.Name, "quote'single"))...)
	g.add("alter type (widening)", must[[]string](t)(s.AlterColumn(tab.Name, col("select", typemap.BigInt, 0, 0, 0, true), warn))...)
	g.add("alter type of a column with a default", must[[]string](t)(s.AlterColumn(tab.Name,
		withDefault(col("group", typemap.NVarChar, 200, 0, 0, true), typemap.Default{Kind: typemap.DefaultLiteral, Literal: "it's", IsString: true}), warn))...)
	g.add("alter nullability", must[[]string](t)(s.AlterColumn(tab.Name, col("MixedCase", typemap.Int, 0, 0, 0, false), warn))...)
	g.add("set default", must[[]string](t)(s.AlterDefault(tab.Name, withDefault(col("select", typemap.Int, 0, 0, 0, true), typemap.Default{Kind: typemap.DefaultLiteral, Literal: "42"}), warn))...)
	g.add("drop default", must[[]string](t)(s.AlterDefault(tab.Name, col("select", typemap.Int, 0, 0, 0, true), warn))...)
	g.add("has rows", must[string](t)(s.HasRows(tab.Name)))
	golden.Assert(t, goldenDir+"alter.sql", []byte(g.b.String()))
}

func TestGoldenDML(t *testing.T) {
	for _, schema := range []string{"", "tenant"} {
		s := SQL{Schema: schema}
		suffix := ""
		if schema != "" {
			suffix = "_schema"
		}
		var g goldenFile
		for _, tab := range []dialect.Table{everyType(), defaults(), hostile(),
			{Name: "keys_only", Columns: []typemap.Column{col("a", typemap.Int, 0, 0, 0, false), col("b", typemap.UniqueIdentifier, 0, 0, 0, false)}, Key: []int{1, 0}}} {
			g.add("staging for upsert of "+tab.Name, must[[]string](t)(s.CreateStaging(tab.Columns))...)
			up, ins, err := s.Upsert(tab)
			if err != nil {
				t.Fatal(err)
			}
			g.add("upsert "+tab.Name, up, ins)
			g.add("staging for delete from "+tab.Name, must[[]string](t)(s.CreateStaging(tab.KeyColumns()))...)
			g.add("delete from "+tab.Name, must[string](t)(s.Delete(tab)))
			g.add("move staged rows into "+tab.Name, must[string](t)(s.MoveStaged(tab)))
			g.add("drop staging", s.DropStaging())
		}
		golden.Assert(t, goldenDir+"dml"+suffix+".sql", []byte(g.b.String()))
	}
}

func TestGoldenSession(t *testing.T) {
	s := SQL{}
	var g goldenFile
	g.add("lock", s.Lock())
	g.add("savepoint", s.Savepoint("batch"))
	g.add("rollback to savepoint", s.RollbackTo("batch"))
	g.add("savepoint with a hostile name", s.Savepoint("x]; DROP TABLE y; --"))
	g.add("rollback to a hostile savepoint", s.RollbackTo("x]; DROP TABLE y; --"))
	g.add("create database", must[string](t)(CreateDatabase("Cust10195")))
	g.add("create database, hostile name", must[string](t)(CreateDatabase("Cust]'; --")))
	g.add("database state", DatabaseState())
	g.add("create schema", must[string](t)(CreateSchema("Cust10195")))
	g.add("create schema, hostile name", must[string](t)(CreateSchema("Cust]'; --")))
	g.add("column code pages", s.CodePages())
	g.add("database code page", s.DatabaseCodePage())
	golden.Assert(t, goldenDir+"session.sql", []byte(g.b.String()))
}

func TestQuoteIdent(t *testing.T) {
	cases := []struct {
		name, want string
		tooLong    bool
		fails      bool
	}{
		{name: "user", want: "[user]"},
		{name: "MixedCase", want: "[MixedCase]"},
		{name: "a]b", want: "[a]]b]"},
		{name: "]]", want: "[]]]]]"},
		{name: "[x]", want: "[[x]]]"},
		{name: `a"b'c` + "`d", want: `[a"b'c` + "`d]"},
		{name: "名前", want: "[名前]"},
		{name: strings.Repeat("x", 128), want: "[" + strings.Repeat("x", 128) + "]"},
		{name: strings.Repeat("é", 128), want: "[" + strings.Repeat("é", 128) + "]"},
		{name: strings.Repeat("x", 129), tooLong: true},
		{name: strings.Repeat("😀", 65), tooLong: true}, // 130 UTF-16 units
		{name: strings.Repeat("😀", 64), want: "[" + strings.Repeat("😀", 64) + "]"},
		{name: "a\x00b", fails: true},
		{name: "", fails: true},
		{name: "\xff", fails: true},
	}
	for _, c := range cases {
		got, err := QuoteIdent(c.name)
		switch {
		case c.tooLong:
			if !errors.Is(err, dialect.ErrNameTooLong) {
				t.Errorf("QuoteIdent(%.20q…): err %v, want ErrNameTooLong", c.name, err)
			}
		case c.fails:
			if err == nil || errors.Is(err, dialect.ErrNameTooLong) {
				t.Errorf("QuoteIdent(%q): err %v, want a plain error", c.name, err)
			}
		case err != nil || got != c.want:
			t.Errorf("QuoteIdent(%q) = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestNamesTooLong(t *testing.T) {
	long := strings.Repeat("y", 129)
	s := SQL{}
	tab := dialect.Table{Name: long, Columns: []typemap.Column{col("id", typemap.Int, 0, 0, 0, false)}, Key: []int{0}}
	if _, err := s.CreateTable(tab, nil); !errors.Is(err, dialect.ErrNameTooLong) {
		t.Errorf("CreateTable with a 129-character name: %v", err)
	}
	tab = dialect.Table{Name: "t", Columns: []typemap.Column{col(long, typemap.Int, 0, 0, 0, false)}, Key: []int{0}}
	if _, err := s.CreateTable(tab, nil); !errors.Is(err, dialect.ErrNameTooLong) {
		t.Errorf("CreateTable with a 129-character column: %v", err)
	}
	if _, err := CreateDatabase(strings.Repeat("d", 124)); !errors.Is(err, dialect.ErrNameTooLong) {
		t.Errorf("CreateDatabase with 124 characters: %v", err)
	}
	if _, err := CreateDatabase(strings.Repeat("d", 123)); err != nil {
		t.Errorf("CreateDatabase with 123 characters: %v", err)
	}
}

func TestConstraintNames(t *testing.T) {
	seen := map[string]string{}
	for _, tc := range [][2]string{
		{"a_b", "c"}, {"a", "b_c"}, {"t", "c"},
		{strings.Repeat("t", 128), strings.Repeat("c", 128)},
		{strings.Repeat("t", 128), strings.Repeat("c", 127) + "d"},
		{strings.Repeat("名", 128), "c"}, {"t", strings.Repeat("😀", 64)},
	} {
		n := DefaultConstraintName(tc[0], tc[1])
		if utf16Len(n) > MaxIdentifier {
			t.Errorf("DefaultConstraintName(%.10q, %.10q) has %d characters", tc[0], tc[1], utf16Len(n))
		}
		if _, err := QuoteIdent(n); err != nil {
			t.Error(err)
		}
		if n != DefaultConstraintName(tc[0], tc[1]) {
			t.Error("not deterministic")
		}
		key := fmt.Sprint(tc)
		if prev, dup := seen[n]; dup {
			t.Errorf("%s and %s share constraint name %s", prev, key, n)
		}
		seen[n] = key
		p := PrimaryKeyName(tc[0])
		if utf16Len(p) > MaxIdentifier {
			t.Errorf("PrimaryKeyName(%.10q) has %d characters", tc[0], utf16Len(p))
		}
	}
}

func TestColumnTypeRejectsInvalid(t *testing.T) {
	for _, typ := range []typemap.Type{
		{Kind: typemap.Decimal, Precision: 39}, {Kind: typemap.Decimal, Precision: 5, Scale: 6},
		{Kind: typemap.NVarChar, Length: 4001}, {Kind: typemap.VarChar, Length: 0}, {Kind: typemap.Char, Length: typemap.Max},
		{Kind: typemap.Time, Precision: 8}, {Kind: typemap.Invalid},
	} {
		if got, err := ColumnType(typ); err == nil {
			t.Errorf("ColumnType(%+v) = %q, want an error", typ, got)
		}
	}
}

func TestLockResourceAndSavepoints(t *testing.T) {
	if got := LockResource("Cust1/contact"); got != "Cust1/contact" {
		t.Errorf("short key changed: %q", got)
	}
	long1, long2 := strings.Repeat("k", 300)+"1", strings.Repeat("k", 300)+"2"
	r1, r2 := LockResource(long1), LockResource(long2)
	if utf16Len(r1) > MaxLockResource || r1 == r2 {
		t.Errorf("long keys: %d characters, distinct %v", utf16Len(r1), r1 != r2)
	}
	for _, name := range []string{"batch", "x]; DROP", strings.Repeat("s", 40), "select"} {
		sp := SavepointName(name)
		if len(sp) > 32 {
			t.Errorf("SavepointName(%q) = %q, over 32 characters", name, sp)
		}
		for i := 0; i < len(sp); i++ {
			c := sp[i]
			if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				t.Errorf("SavepointName(%q) = %q is not a regular identifier", name, sp)
				break
			}
		}
	}
	if SavepointName("a") == SavepointName("b") {
		t.Error("savepoint names collide")
	}
	for rc, ok := range map[int]bool{0: true, 1: true, -1: false, -2: false, -3: false, -999: false} {
		if err := LockResult(rc); (err == nil) != ok {
			t.Errorf("LockResult(%d) = %v", rc, err)
		}
	}
}

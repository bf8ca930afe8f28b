package postgres

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/golden"
	"github.com/mirrorsink/mirrorsink/typemap"
)

const goldenDir = "../../testdata/golden/postgres/"

// col builds a column from SQL Server type and default text, as the engine would.
func col(t testing.TB, name, typ string, nullable bool, def string) typemap.Column {
	t.Helper()
	ty, err := typemap.ParseType(typ)
	if err != nil {
		t.Fatal(err)
	}
	d, err := typemap.ParseDefault(def)
	if err != nil {
		t.Fatal(err)
	}
	return typemap.Column{Name: name, Type: ty, Nullable: nullable, Default: d}
}

// allTypes is one column of every type of TYPES.md, with edge parameters.
var allTypes = []struct{ name, typ string }{
	{"c_bit", "bit"}, {"c_tinyint", "tinyint"}, {"c_smallint", "smallint"}, {"c_int", "int"},
	{"c_bigint", "bigint"}, {"c_decimal", "decimal(38,10)"}, {"c_numeric", "numeric(5,0)"},
	{"c_money", "money"}, {"c_smallmoney", "smallmoney"}, {"c_float", "float"}, {"c_float24", "float(24)"},
	{"c_real", "real"}, {"c_date", "date"}, {"c_time", "time"}, {"c_time0", "time(0)"},
	{"c_smalldatetime", "smalldatetime"}, {"c_datetime", "datetime"}, {"c_datetime2", "datetime2"},
	{"c_datetime2_3", "datetime2(3)"}, {"c_datetimeoffset", "datetimeoffset"},
	{"c_datetimeoffset0", "datetimeoffset(0)"}, {"c_char", "char(10)"}, {"c_nchar", "nchar(5)"},
	{"c_varchar", "varchar(50)"}, {"c_nvarchar", "nvarchar(255)"}, {"c_varcharmax", "varchar(max)"},
	{"c_nvarcharmax", "nvarchar(max)"}, {"c_text", "text"}, {"c_ntext", "ntext"},
	{"c_binary", "binary(16)"}, {"c_varbinary", "varbinary(100)"}, {"c_varbinarymax", "varbinary(max)"},
	{"c_image", "image"}, {"c_rowversion", "rowversion"}, {"c_timestamp", "timestamp"},
	{"c_uniqueidentifier", "uniqueidentifier"}, {"c_xml", "xml"}, {"c_hierarchyid", "hierarchyid"},
	{"c_geography", "geography"}, {"c_geometry", "geometry"}, {"c_sql_variant", "sql_variant"},
	{"c_sysname", "sysname"},
}

func allTypesTable(t testing.TB) dialect.Table {
	tbl := dialect.Table{Name: "all_types", Key: []int{0}}
	tbl.Columns = append(tbl.Columns, col(t, "id", "int", false, ""))
	for _, c := range allTypes {
		tbl.Columns = append(tbl.Columns, col(t, c.name, c.typ, true, ""))
	}
	return tbl
}

// defaultsTable has a default of every DefaultKind, literals of every type family, and defaults
// that PostgreSQL cannot express (which must be dropped, not fail the table).
func defaultsTable(t testing.TB) dialect.Table {
	return dialect.Table{Name: "defaults", Key: []int{0, 1}, Columns: []typemap.Column{
		col(t, "tenant", "int", false, ""),
		col(t, "id", "bigint", false, ""),
		col(t, "d_bit1", "bit", false, "default ((1))"),
		col(t, "d_bit0", "bit", false, "default ((0))"),
		col(t, "d_int", "int", false, "default ((0))"),
		col(t, "d_neg", "smallint", true, "default ((-1))"),
		col(t, "d_dec", "decimal(10,2)", true, "default ((1.50))"),
		col(t, "d_money_str", "money", true, "default ('12.5')"),
		col(t, "d_float", "float", true, "default ((0.5))"),
		col(t, "d_str", "nvarchar(50)", false, "default (N'')"),
		col(t, "d_quote", "varchar(50)", true, "default ('it''s \\ here')"),
		col(t, "d_strnum", "varchar(10)", true, "default ((7))"),
		col(t, "d_date", "datetime", true, "default (N'1760-01-01 00:00:00')"),
		col(t, "d_date_compact", "date", true, "default ('19000101')"),
		col(t, "d_datetime_zero", "datetime", true, "default ((0))"),
		col(t, "d_time", "time(7)", true, "default ('12:34:56.1234567')"),
		col(t, "d_dto", "datetimeoffset", true, "default ('2020-01-02 03:04:05 +02:00')"),
		col(t, "d_now", "datetime", true, "default (getdate())"),
		col(t, "d_utcnow", "datetime2", true, "default (getutcdate())"),
		col(t, "d_sysnow", "datetime2", true, "default (sysdatetime())"),
		col(t, "d_nowoffset", "datetimeoffset", true, "default (sysdatetimeoffset())"),
		col(t, "d_newid", "uniqueidentifier", true, "default (newid())"),
		col(t, "d_uuid_lit", "uniqueidentifier", true, "default ('6F9619FF-8B86-D011-B42D-00C04FC964FF')"),
		col(t, "d_null", "nvarchar(10)", true, "default (NULL)"),
		col(t, "d_bin", "varbinary(10)", true, "default (0x0A0b)"),
		col(t, "d_unsupported", "int", true, "default (next value for [seq])"),
		col(t, "d_now_on_int", "int", true, "default (getdate())"),
		col(t, "d_bad_date", "date", true, "default ('not a date')"),
		col(t, "d_bad_number", "int", true, "default ('abc')"),
	}}
}

// hostileNames are identifiers that only survive correct quoting.
var hostileNames = []string{
	"user", "order", "group", "select", "MixedCase", "with space", `quote"inside`, "back`tick",
	"[bracket]", "ünïcödé 名前", "semi;colon--", "'single'", "a:b, column c",
	strings.Repeat("x", 63),
}

func hostileTable(t testing.TB) dialect.Table {
	tbl := dialect.Table{Name: `Order "Lines"; DROP`, Key: []int{1, 0}}
	for i, n := range hostileNames {
		typ := "nvarchar(20)"
		if i < 2 {
			typ = "int"
		}
		tbl.Columns = append(tbl.Columns, col(t, n, typ, i >= 2, ""))
	}
	return tbl
}

func TestGoldenCreateTable(t *testing.T) {
	for _, tc := range []struct {
		file  string
		table func(testing.TB) dialect.Table
	}{
		{"create_all_types.sql", allTypesTable},
		{"create_defaults.sql", defaultsTable},
		{"create_hostile.sql", hostileTable},
	} {
		t.Run(tc.file, func(t *testing.T) {
			sql, warns, err := CreateTable(tc.table(t))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString(sql + ";\n")
			for _, w := range warns {
				b.WriteString("-- dropped default of " + w.Column + ": " + w.Reason + "\n")
			}
			golden.Assert(t, goldenDir+tc.file, []byte(b.String()))
		})
	}
}

func TestGoldenDML(t *testing.T) {
	var b strings.Builder
	add := func(label, sql string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		b.WriteString("-- " + label + "\n" + sql + ";\n\n")
	}
	for _, tbl := range []dialect.Table{defaultsTable(t), hostileTable(t)} {
		s, err := CreateStaging("mirrorsink_stage_1", tbl.Name, tbl.Columns)
		add("staging for upsert of "+tbl.Name, s, err)
		s, err = Upsert(tbl, "mirrorsink_stage_1")
		add("upsert "+tbl.Name, s, err)
		s, err = CreateStaging("mirrorsink_stage_2", tbl.Name, tbl.KeyColumns())
		add("staging for delete from "+tbl.Name, s, err)
		s, err = Delete(tbl, "mirrorsink_stage_2")
		add("delete "+tbl.Name, s, err)
		add("drop staging", DropStaging("mirrorsink_stage_2"), nil)
		s, err = TruncateTable(tbl.Name)
		add("truncate "+tbl.Name, s, err)
		s, err = DropTable(tbl.Name)
		add("drop "+tbl.Name, s, err)
	}
	keyOnly := dialect.Table{Name: "link", Key: []int{0, 1},
		Columns: []typemap.Column{col(t, "a", "int", false, ""), col(t, "b", "int", false, "")}}
	s, err := Upsert(keyOnly, "mirrorsink_stage_3")
	add("upsert of a table whose columns are all key columns", s, err)
	add("lock", LockSQL, nil)
	add("table exists", TableExistsSQL, nil)
	add("fast commit", FastCommitSQL, nil)
	golden.Assert(t, goldenDir+"dml.sql", []byte(b.String()))
}

func TestGoldenAlter(t *testing.T) {
	c := func(name, typ string, nullable bool, def string) typemap.Column {
		return col(t, name, typ, nullable, def)
	}
	changes := []struct {
		label string
		ch    dialect.Change
	}{
		{"add nullable", dialect.Change{Kind: dialect.AddColumn, Column: c("note", "nvarchar(100)", true, "")}},
		{"add not null with default", dialect.Change{Kind: dialect.AddColumn, Column: c("flag", "bit", false, "default ((0))")}},
		{"add not null without default", dialect.Change{Kind: dialect.AddColumn, Column: c("must", "int", false, "")}},
		{"drop", dialect.Change{Kind: dialect.DropColumn, Old: c("old", "int", true, "")}},
		{"widen int", dialect.Change{Kind: dialect.AlterType, Old: c("n", "int", true, ""), Column: c("n", "bigint", true, "")}},
		{"widen varchar", dialect.Change{Kind: dialect.AlterType, Old: c("s", "nvarchar(10)", true, ""), Column: c("s", "nvarchar(max)", true, "")}},
		{"widen decimal", dialect.Change{Kind: dialect.AlterType, Old: c("d", "decimal(10,2)", true, ""), Column: c("d", "decimal(12,2)", true, "")}},
		{"datetime to datetime2", dialect.Change{Kind: dialect.AlterType, Old: c("t", "datetime", true, ""), Column: c("t", "datetime2", true, "")}},
		{"no-op nvarchar(max) to ntext", dialect.Change{Kind: dialect.AlterType, Old: c("s", "nvarchar(max)", true, ""), Column: c("s", "ntext", true, "")}},
		{"no-op tinyint to smallint", dialect.Change{Kind: dialect.AlterType, Old: c("s", "tinyint", true, ""), Column: c("s", "smallint", true, "")}},
		{"set not null", dialect.Change{Kind: dialect.AlterNullability, Old: c("user", "int", true, ""), Column: c("user", "int", false, "")}},
		{"drop not null", dialect.Change{Kind: dialect.AlterNullability, Old: c("user", "int", false, ""), Column: c("user", "int", true, "")}},
		{"set default", dialect.Change{Kind: dialect.AlterDefault, Old: c("when", "datetime", true, ""), Column: c("when", "datetime", true, "default (getdate())")}},
		{"drop default", dialect.Change{Kind: dialect.AlterDefault, Old: c("when", "datetime", true, "default (getdate())"), Column: c("when", "datetime", true, "")}},
		{"unsupported default becomes drop", dialect.Change{Kind: dialect.AlterDefault, Column: c("n", "int", true, "default (abs(-1))")}},
	}
	var b strings.Builder
	for _, tc := range changes {
		s, dropped, err := AlterStatement(`My "Table"`, tc.ch)
		if err != nil {
			t.Fatalf("%s: %v", tc.label, err)
		}
		if s == "" {
			s = "-- (no statement)"
		}
		b.WriteString("-- " + tc.label + "\n" + s + ";\n")
		if dropped != "" {
			b.WriteString("-- dropped default: " + dropped + "\n")
		}
		b.WriteString("\n")
	}
	golden.Assert(t, goldenDir+"alter.sql", []byte(b.String()))
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"user", `"user"`, nil},
		{"MixedCase", `"MixedCase"`, nil},
		{`a"b`, `"a""b"`, nil},
		{`""`, `""""""`, nil},
		{"back`tick [x]", "\"back`tick [x]\"", nil},
		{strings.Repeat("x", 63), `"` + strings.Repeat("x", 63) + `"`, nil},
		{strings.Repeat("x", 64), "", dialect.ErrNameTooLong},
		// 21 three-byte characters are 63 bytes; 22 are 66 bytes though only 22 characters.
		{strings.Repeat("名", 21), `"` + strings.Repeat("名", 21) + `"`, nil},
		{strings.Repeat("名", 22), "", dialect.ErrNameTooLong},
		{"a\x00b", "", ErrBadName},
		{"", "", ErrBadName},
		{"bad\xffutf8", "", ErrBadName},
	} {
		got, err := Quote(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("Quote(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Quote(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, _, err := CreateTable(dialect.Table{Name: strings.Repeat("t", 64), Key: []int{0},
		Columns: []typemap.Column{col(t, "id", "int", false, "")}}); !errors.Is(err, dialect.ErrNameTooLong) {
		t.Errorf("CreateTable with a 64-byte name: %v, want ErrNameTooLong", err)
	}
	if _, _, err := CreateTable(dialect.Table{Name: "t", Key: []int{0},
		Columns: []typemap.Column{col(t, strings.Repeat("c", 64), "int", false, "")}}); !errors.Is(err, dialect.ErrNameTooLong) {
		t.Errorf("CreateTable with a 64-byte column: %v, want ErrNameTooLong", err)
	}
}

func TestLockID(t *testing.T) {
	// FNV-1a 64 reference values: the empty string is the offset basis; "a" is a published vector.
	for _, tc := range []struct {
		key  string
		want uint64
	}{
		{"", 0xcbf29ce484222325},
		{"a", 0xaf63dc4c8601ec8c},
		{"foobar", 0x85944171f73967e8},
	} {
		if got := uint64(LockID(tc.key)); got != tc.want {
			t.Errorf("LockID(%q) = %#x, want %#x", tc.key, got, tc.want)
		}
	}
}

func TestCopyContext(t *testing.T) {
	cols := []typemap.Column{{Name: "a"}, {Name: "a:b"}, {Name: "a:b, column c"}}
	for _, tc := range []struct {
		where   string
		wantCol string
		wantRow int
	}{
		{`COPY t, line 3, column a: "xyz"`, "a", 3},
		{`COPY t, line 12, column a:b: "v"`, "a:b", 12},
		{`COPY t, line 1, column a:b, column c`, "a:b, column c", 1},
		{`COPY t, line 9, column a, line 7, column a`, "", 9},
		{`SQL statement "…"`, "", 0},
	} {
		c, r := copyContext(&pgconn.PgError{Where: tc.where}, "t", cols)
		if c != tc.wantCol || r != tc.wantRow {
			t.Errorf("copyContext(%q) = %q, %d; want %q, %d", tc.where, c, r, tc.wantCol, tc.wantRow)
		}
	}
}

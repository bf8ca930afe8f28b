package mysql

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/golden"
	"github.com/mirrorsink/mirrorsink/typemap"
)

const goldenDir = "../../testdata/golden/mysql/"

// col parses a column the way the engine does: "name", "type", "default", nullable.
func col(t testing.TB, name, typ, def string, nullable bool) typemap.Column {
	t.Helper()
	c, err := typemap.ParseColumn(contract.Column{Name: name, Type: typ, DefaultValue: def, IsNullable: nullable})
	if err != nil {
		t.Fatalf("parse column %s %s: %v", name, typ, err)
	}
	return c
}

// allTypesTable has every type of TYPES.md, with defaults of every kind.
func allTypesTable(t testing.TB, name string) dialect.Table {
	cols := []typemap.Column{
		col(t, "id", "int", "", false),
		col(t, "c_bit", "bit", "default ((1))", false),
		col(t, "c_tinyint", "tinyint", "default ((255))", true),
		col(t, "c_smallint", "smallint", "default ((-32768))", true),
		col(t, "c_bigint", "bigint", "default ('42')", true),
		col(t, "c_decimal", "decimal(38,10)", "default ((-1.5))", true),
		col(t, "c_numeric", "numeric(5,0)", "", true),
		col(t, "c_money", "money", "default ((0))", true),
		col(t, "c_smallmoney", "smallmoney", "", true),
		col(t, "c_float", "float", "default ((1.5e10))", true),
		col(t, "c_real", "real", "", true),
		col(t, "c_date", "date", "default ('2001-02-03')", true),
		col(t, "c_time", "time(7)", "default (getdate())", true),
		col(t, "c_time0", "time(0)", "", true),
		col(t, "c_smalldatetime", "smalldatetime", "default (getutcdate())", true),
		col(t, "c_datetime", "datetime", "default (getdate())", false),
		col(t, "c_datetime2", "datetime2(7)", "default (sysdatetime())", true),
		col(t, "c_datetime2_3", "datetime2(3)", "default ('1999-12-31 23:59:59.123')", true),
		col(t, "c_dto", "datetimeoffset(7)", "default (sysdatetimeoffset())", true),
		col(t, "c_char", "char(10)", "default ('ab')", true),
		col(t, "c_nchar", "nchar(300)", "", true),
		col(t, "c_varchar", "varchar(255)", "default ('it''s a \\ test')", false),
		col(t, "c_nvarchar", "nvarchar(100)", "default (N'ünï')", true),
		col(t, "c_varchar_max", "varchar(max)", "default ('long')", true),
		col(t, "c_nvarchar_max", "nvarchar(max)", "default (NULL)", true),
		col(t, "c_text", "text", "", true),
		col(t, "c_ntext", "ntext", "", true),
		col(t, "c_binary", "binary(16)", "default (0x0102)", true),
		col(t, "c_varbinary", "varbinary(100)", "", true),
		col(t, "c_varbinary_max", "varbinary(max)", "", true),
		col(t, "c_image", "image", "", true),
		col(t, "c_rowversion", "rowversion", "", true),
		col(t, "c_uuid", "uniqueidentifier", "default (newid())", true),
		col(t, "c_uuid_lit", "uniqueidentifier", "default ('6F9619FF-8B86-D011-B42D-00C04FC964FF')", true),
		col(t, "c_xml", "xml", "", true),
		col(t, "c_hierarchyid", "hierarchyid", "", true),
		col(t, "c_geography", "geography", "", true),
		col(t, "c_geometry", "geometry", "", true),
		col(t, "c_sql_variant", "sql_variant", "", true),
		col(t, "c_sysname", "sysname", "", true),
		col(t, "c_unsupported", "int", "default (abs((-3)))", true),
		col(t, "c_null_notnull", "int", "default (NULL)", false),
		col(t, "c_bad_date", "datetime", "default ('tomorrow')", true),
	}
	return dialect.Table{Name: name, Columns: cols, Key: []int{0}}
}

func hostileTable(t testing.TB) dialect.Table {
	return dialect.Table{
		Name: "user `order` [group] \"select\" ünïcødé",
		Columns: []typemap.Column{
			col(t, "order", "int", "", false),
			col(t, "Group", "nvarchar(50)", "", false),
			col(t, "select", "nvarchar(20)", "default ('x''y`z')", true),
			col(t, "MixedCase Name", "int", "", true),
			col(t, "back`tick", "int", "", true),
			col(t, "[bracket]", "int", "", true),
			col(t, "quote'd \"dq\"", "int", "", true),
			col(t, "ключ", "int", "", true),
			col(t, strings.Repeat("x", 64), "int", "", true),
		},
		Key: []int{1, 0},
	}
}

// nvarcharTable has n nvarchar(length) columns plus an int key.
func nvarcharTable(t testing.TB, name string, n, length int) dialect.Table {
	cols := []typemap.Column{col(t, "id", "int", "", false)}
	for i := 1; i <= n; i++ {
		cols = append(cols, col(t, fmt.Sprintf("c%02d", i), fmt.Sprintf("nvarchar(%d)", length), "", true))
	}
	return dialect.Table{Name: name, Columns: cols, Key: []int{0}}
}

type warnings []string

func (w *warnings) add(format string, args ...any) { *w = append(*w, fmt.Sprintf(format, args...)) }

func createGolden(t *testing.T, tb dialect.Table) []byte {
	t.Helper()
	p, err := PlanTable(tb, nil)
	if err != nil {
		t.Fatal(err)
	}
	var w warnings
	s, err := CreateTableSQL(tb, p, w.add)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(s)
	b.WriteString(";\n")
	for _, m := range w {
		b.WriteString("-- warning: " + m + "\n")
	}
	return []byte(b.String())
}

type goldenTable struct {
	file  string
	table dialect.Table
}

// createCases are the tables of the CREATE golden files; the live tests create them too.
func createCases(t testing.TB) []goldenTable {
	mixed := []typemap.Column{
		col(t, "id", "int", "", false),
		col(t, "short1", "nvarchar(60)", "", true),
		col(t, "long1", "nvarchar(4000)", "", true),
		col(t, "mid", "nvarchar(2000)", "", true),
		col(t, "long2", "nvarchar(4000)", "", true),
		col(t, "vb", "varbinary(8000)", "", true),
		col(t, "vc", "varchar(8000)", "", true),
		col(t, "h", "hierarchyid", "", true),
	}
	for i := 0; i < 6; i++ {
		mixed = append(mixed, col(t, fmt.Sprintf("name%d", i), "nvarchar(255)", "", true))
	}
	return []goldenTable{
		{"create_all_types.sql", allTypesTable(t, "all_types")},
		{"create_hostile.sql", hostileTable(t)},
		{"budget_ten_nvarchar4000.sql", nvarcharTable(t, "ten", 10, 4000)},
		{"budget_fits.sql", nvarcharTable(t, "fits", 15, 1000)},
		{"budget_in_page.sql", nvarcharTable(t, "short_many", 40, 60)},
		{"budget_mixed.sql", dialect.Table{Name: "mixed", Columns: mixed, Key: []int{0}}},
		{"budget_composite_key.sql", dialect.Table{Name: "ck", Columns: []typemap.Column{
			col(t, "a", "nvarchar(300)", "", false),
			col(t, "b", "nvarchar(4000)", "", true),
			col(t, "c", "nvarchar(4000)", "", true),
			col(t, "d", "nvarchar(4000)", "", true),
			col(t, "e", "nvarchar(4000)", "", true),
			col(t, "k2", "nvarchar(400)", "", false),
		}, Key: []int{5, 0}}},
	}
}

func TestGoldenCreate(t *testing.T) {
	tests := createCases(t)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			golden.Assert(t, goldenDir+tt.file, createGolden(t, tt.table))
		})
	}
}

func TestPlanDeterministicAndWithinBudget(t *testing.T) {
	tb := nvarcharTable(t, "ten", 10, 4000)
	a, err := PlanTable(tb, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		b, _ := PlanTable(tb, nil)
		for j := range a.Types {
			if a.Types[j].SQL != b.Types[j].SQL {
				t.Fatalf("plan differs between runs at column %d: %s vs %s", j, a.Types[j].SQL, b.Types[j].SQL)
			}
		}
	}
	moved := 0
	row := 0
	for _, ct := range a.Types {
		if ct.Moved {
			moved++
		}
		row += ct.rowBytes
	}
	// 65,535 / (4*4000+2) leaves room for four varchar(4000) next to the key: six must move.
	if moved != 6 || row > maxRowBytes {
		t.Errorf("moved %d columns (want 6), row %d bytes", moved, row)
	}
	// Columns that are already text stay text.
	p, err := PlanTable(nvarcharTable(t, "few", 2, 100), map[string]bool{"c01": true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Types[1].SQL != "text" || p.Types[2].SQL != "varchar(100)" {
		t.Errorf("keepOff not honoured: %s, %s", p.Types[1].SQL, p.Types[2].SQL)
	}
}

func TestPlanKeyErrors(t *testing.T) {
	tests := []struct {
		name string
		cols []typemap.Column
		key  []int
		want string
	}{
		{"long nvarchar key", []typemap.Column{col(t, "k", "nvarchar(1000)", "", false)}, []int{0}, "3072 bytes"},
		{"max key", []typemap.Column{col(t, "k", "nvarchar(max)", "", false)}, []int{0}, "cannot index"},
		{"composite over", []typemap.Column{col(t, "a", "nvarchar(500)", "", false), col(t, "b", "nvarchar(300)", "", false)}, []int{0, 1}, "3072 bytes"},
		{"bad decimal", []typemap.Column{col(t, "k", "int", "", false), {Name: "d", Type: typemap.Type{Kind: typemap.Decimal, Precision: 70, Scale: 2}}}, []int{0}, "decimal(70,2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PlanTable(dialect.Table{Name: "t", Columns: tt.cols, Key: tt.key}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"user", "`user`", nil},
		{"MixedCase", "`MixedCase`", nil},
		{"a`b", "`a``b`", nil},
		{"with space", "`with space`", nil},
		{"[x] 'y' \"z\"", "`[x] 'y' \"z\"`", nil},
		{"ünïcødé", "`ünïcødé`", nil},
		{strings.Repeat("é", 64), "`" + strings.Repeat("é", 64) + "`", nil},
		{strings.Repeat("é", 65), "", dialect.ErrNameTooLong},
		{"", "", ErrIdentifier},
		{"nul\x00", "", ErrIdentifier},
		{"trailing ", "", ErrIdentifier},
		{"emoji 😀", "", ErrIdentifier},
		{"\xff", "", ErrIdentifier},
	}
	for _, tt := range tests {
		got, err := Quote(tt.in)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Quote(%q) err = %v, want %v", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Quote(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestGoldenAlter(t *testing.T) {
	old := nvarcharTable(t, "evolve", 3, 100)
	next := dialect.Table{Name: "evolve", Key: []int{0}, Columns: []typemap.Column{
		old.Columns[0],
		col(t, "c01", "nvarchar(200)", "", true),               // widened
		col(t, "c02", "nvarchar(100)", "default ('x')", false), // NOT NULL and a default
		col(t, "added", "nvarchar(4000)", "default ('new')", true),
		col(t, "added_max", "nvarchar(max)", "default ('lob')", true),
		col(t, "added_dt", "datetime", "default (getdate())", true),
	}}
	changes := []dialect.Change{
		{Kind: dialect.DropColumn, Old: old.Columns[3]},
		{Kind: dialect.AlterType, Old: old.Columns[1], Column: next.Columns[1]},
		{Kind: dialect.AlterNullability, Old: old.Columns[2], Column: next.Columns[2]},
		{Kind: dialect.AlterDefault, Old: old.Columns[2], Column: next.Columns[2]},
		{Kind: dialect.AddColumn, Column: next.Columns[3]},
		{Kind: dialect.AddColumn, Column: next.Columns[4]},
		{Kind: dialect.AddColumn, Column: next.Columns[5]},
	}
	p, err := PlanTable(next, nil)
	if err != nil {
		t.Fatal(err)
	}
	var w warnings
	var b strings.Builder
	s, err := AlterTableSQL(next, p, changes, nil, w.add)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString(s + ";\n")

	// Defaults alone: set a literal, set an expression, drop.
	dflt := dialect.Table{Name: "evolve", Key: []int{0}, Columns: []typemap.Column{
		old.Columns[0],
		col(t, "c01", "nvarchar(100)", "default ('y')", true),
		col(t, "c02", "datetime2(7)", "default (sysutcdatetime())", true),
		col(t, "c03", "nvarchar(100)", "", true),
		col(t, "c04", "nvarchar(max)", "default ('t')", true),
	}}
	p, err = PlanTable(dflt, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err = AlterTableSQL(dflt, p, []dialect.Change{
		{Kind: dialect.AlterDefault, Column: dflt.Columns[1]},
		{Kind: dialect.AlterDefault, Column: dflt.Columns[2]},
		{Kind: dialect.AlterDefault, Column: dflt.Columns[3]},
		{Kind: dialect.AlterDefault, Column: dflt.Columns[4]},
	}, nil, w.add)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString(s + ";\n")

	// A column added to a full table pushes an existing varchar off the row.
	grown := nvarcharTable(t, "full", 5, 4000)
	p, err = PlanTable(grown, nil)
	if err != nil {
		t.Fatal(err)
	}
	var moveOff []string
	for i, c := range grown.Columns {
		if p.Types[i].Moved && c.Name != "c05" {
			moveOff = append(moveOff, c.Name)
		}
	}
	s, err = AlterTableSQL(grown, p, []dialect.Change{{Kind: dialect.AddColumn, Column: grown.Columns[5]}}, moveOff, w.add)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString(s + ";\n")
	for _, m := range w {
		b.WriteString("-- warning: " + m + "\n")
	}
	golden.Assert(t, goldenDir+"alter.sql", []byte(b.String()))
}

func TestGoldenDML(t *testing.T) {
	var b strings.Builder
	add := func(s string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(s + ";\n")
	}
	for _, tb := range []dialect.Table{allTypesTable(t, "all_types"), hostileTable(t)} {
		p, err := PlanTable(tb, nil)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("-- " + tb.Name + "\n")
		add(StagingTableSQL("~mirrorsink staging 1", tb, p, allColumns(tb)))
		add(LoadDataSQL("mirrorsink-1", "~mirrorsink staging 1", tb.Columns, p.Types))
		add(UpsertSQL(tb, "~mirrorsink staging 1"))
		add(StagingTableSQL("~mirrorsink staging 2", tb, p, tb.Key))
		add(DeleteSQL(tb, "~mirrorsink staging 2"))
		add(DropStagingSQL("~mirrorsink staging 2"))
		add(TruncateSQL(tb.Name))
		add(DropTableSQL(tb.Name))
	}
	keysOnly := dialect.Table{Name: "link", Columns: []typemap.Column{col(t, "a", "int", "", false), col(t, "b", "int", "", false)}, Key: []int{0, 1}}
	add(UpsertSQL(keysOnly, "s"))
	b.WriteString("-- lock names\n")
	for _, k := range []string{"Cust10003/contact", strings.Repeat("k", 500)} {
		b.WriteString(LockName(k) + "\n")
	}
	golden.Assert(t, goldenDir+"dml.sql", []byte(b.String()))
}

func TestEncodeRow(t *testing.T) {
	cols := []typemap.Column{
		col(t, "s", "nvarchar(100)", "", true),
		col(t, "b", "varbinary(10)", "", true),
		col(t, "n", "int", "", true),
		col(t, "f", "float", "", true),
		col(t, "r", "real", "", true),
		col(t, "t", "time(7)", "", true),
		col(t, "u", "uniqueidentifier", "", true),
		col(t, "bit", "bit", "", true),
	}
	e := newRowEncoder(cols)
	u := typemap.UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	tests := []struct {
		vals []any
		want string
	}{
		{[]any{"a\\b\tc\nd\re\x00f\\N", []byte{0, 0xff}, int64(-5), 0.1, float64(float32(0.1)), typemap.TimeOfDay(86399_999_999_900), u, true},
			"a\\\\b\\tc\\nd\\re\\0f\\\\N\t00ff\t-5\t0.1\t0.10000000149011612\t23:59:59.999999\t6f9619ff-8b86-d011-b42d-00c04fc964ff\t1\n"},
		{[]any{nil, nil, nil, nil, nil, nil, nil, nil}, "\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"},
		{[]any{"", []byte{}, int64(0), 1e308, float64(float32(3.4028235e38)), typemap.TimeOfDay(1500), u, false},
			"\t\t0\t1e+308\t3.4028234663852886e+38\t00:00:00.000002\t6f9619ff-8b86-d011-b42d-00c04fc964ff\t0\n"},
	}
	for i, tt := range tests {
		got, err := e.appendRow(nil, tt.vals, i+1)
		if err != nil || string(got) != tt.want {
			t.Errorf("row %d: got %q, %v\nwant %q", i+1, got, err, tt.want)
		}
	}
	for _, tm := range []time.Time{
		time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999999499, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1987, 6, 5, 4, 3, 2, 1500, time.UTC),
	} {
		r := typemap.RoundToMicro(tm)
		if got, want := string(appendDateTime(nil, r)), r.Format("2006-01-02 15:04:05.000000"); got != want {
			t.Errorf("appendDateTime(%v) = %s, want %s", tm, got, want)
		}
	}
	_, err := e.appendRow(nil, []any{1, nil, nil, nil, nil, nil, nil, nil}, 7)
	var ve *dialect.ValueError
	if !errors.As(err, &ve) || ve.Row != 7 || ve.Column != "s" {
		t.Errorf("wrong type: err = %v", err)
	}
}

func TestDefaultsKinds(t *testing.T) {
	// Every DefaultKind, checked outside the golden file for the ones that must drop.
	tests := []struct {
		typ, def string
		want     string
		ok       bool
	}{
		{"bit", "default ((0))", "0", true},
		{"bit", "default ('true')", "1", true},
		{"int", "default ((1.5))", "", false},
		{"tinyint", "default ((300))", "", false},
		{"nvarchar(max)", "default ('a')", "('a')", true},
		{"datetime", "default ('20010203')", "'2001-02-03 00:00:00'", true},
		{"date", "default ('0500-01-01')", "", false},
		{"datetimeoffset(7)", "default ('2001-02-03 10:00:00 +02:00')", "'2001-02-03 08:00:00'", true},
		{"time(7)", "default ('12:34:56.1234567')", "'12:34:56.123456'", true},
		{"uniqueidentifier", "default ('nope')", "", false},
		{"int", "default (newid())", "", false},
		{"nvarchar(10)", "default (getdate())", "", false},
		{"varbinary(4)", "default ((0))", "", false},
		{"nvarchar(10)", "default ((12))", "'12'", true},
		{"float", "default ('x')", "", false},
	}
	for _, tt := range tests {
		c := col(t, "c", tt.typ, tt.def, true)
		ct, err := columnType(c.Type)
		if err != nil {
			t.Fatal(err)
		}
		var w warnings
		got, ok := DefaultSQL(c, ct, w.add)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s %s: got %q, %v; want %q, %v", tt.typ, tt.def, got, ok, tt.want, tt.ok)
		}
		if !ok && len(w) != 1 {
			t.Errorf("%s %s: dropped without exactly one warning: %v", tt.typ, tt.def, w)
		}
	}
}

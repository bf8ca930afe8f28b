package mysql

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/internal/golden"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// goldenDir holds what the shared scenarios (testdata/scenarios) do not show: MySQL's own ALTER
// combinations and row budget cases, and the session.
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

// nvarcharTable has n nvarchar(length) columns plus an int key.
func nvarcharTable(t testing.TB, name string, n, length int) dialect.Table {
	cols := []typemap.Column{col(t, "id", "int", "", false)}
	for i := 1; i <= n; i++ {
		cols = append(cols, col(t, fmt.Sprintf("c%02d", i), fmt.Sprintf("nvarchar(%d)", length), "", true))
	}
	return dialect.Table{Name: name, Columns: cols, Key: []int{0}}
}

func TestGolden(t *testing.T) { conformance.Golden(t, "mysql", render) }

// render writes every statement the dialect sends for the scenario's table: its creation, each
// in-place change on its own, the bulk path, the staged upsert and delete, the wipe and the drop.
func render(sc conformance.Scenario) (string, error) {
	var s conformance.Script
	q, t := SQL{}, sc.Table
	if f := sc.FanIn; f != nil {
		if f.Citus {
			return conformance.CitusOnly("mysql"), nil
		}
		var err error
		if q, err = q.FanIn(f.Column, f.Tenant); err != nil {
			return "", err
		}
	}
	stmt, ws, err := q.CreateTable(t)
	if err != nil {
		return "", err
	}
	s.Head("create")
	s.Add(stmt)
	s.Warn(ws)
	for _, ch := range sc.Changes {
		s.Change(ch)
		stmt, ws, err := q.AlterTable(changed(t, ch), []dialect.Change{ch}, nil)
		switch {
		case err != nil:
			s.Fail(err)
		case stmt == "":
			s.Head("(nothing to do)")
		default:
			s.Add(stmt)
		}
		s.Warn(ws)
	}
	keys := t.KeyColumns()
	steps := []struct {
		head string
		stmt func() (string, error)
	}{
		{"insert: the bulk path", func() (string, error) { return q.LoadData("mirrorsink-1", t.Name, t.Columns) }},
		{"upsert", func() (string, error) { return q.StagingTable("~mirrorsink staging 1", t, allColumns(t)) }},
		{"", func() (string, error) { return q.LoadData("mirrorsink-2", "~mirrorsink staging 1", t.Columns) }},
		{"", func() (string, error) { return q.Upsert(t, "~mirrorsink staging 1") }},
		{"", func() (string, error) { return q.DropStaging("~mirrorsink staging 1") }},
		{"delete", func() (string, error) { return q.StagingTable("~mirrorsink staging 2", t, t.Key) }},
		{"", func() (string, error) { return q.LoadData("mirrorsink-3", "~mirrorsink staging 2", keys) }},
		{"", func() (string, error) { return q.Delete(t, "~mirrorsink staging 2") }},
		{"", func() (string, error) { return q.DropStaging("~mirrorsink staging 2") }},
		{"truncate", func() (string, error) { return q.Truncate(t.Name) }},
		{"drop", func() (string, error) { return q.DropTable(t.Name) }},
	}
	if t.DeletedAt != "" {
		steps = append(steps[:9:9], append([]struct {
			head string
			stmt func() (string, error)
		}{
			{"soft delete, each ? = the time of the delete as UTC text", func() (string, error) { return q.StagingTable("~mirrorsink staging 3", t, t.Key) }},
			{"", func() (string, error) { return q.LoadData("mirrorsink-4", "~mirrorsink staging 3", keys) }},
			{"", func() (string, error) { return q.SoftDelete(t, "~mirrorsink staging 3") }},
			{"", func() (string, error) { return q.DropStaging("~mirrorsink staging 3") }},
			{"purge the rows kept as deleted", func() (string, error) { return q.PurgeDeleted(t) }},
		}, steps[9:]...)...)
	}
	for _, step := range steps {
		if step.head != "" {
			s.Head(step.head)
		}
		stmt, err := step.stmt()
		if err != nil {
			return s.String(), err
		}
		s.Add(stmt)
	}
	if sc.FanIn != nil {
		renderFanInMeta(&s, sc.FanIn.Tenant)
	}
	return s.String(), nil
}

// changed returns t with the column that ch defines in place of t's column of that name, so that a
// scenario's change renders as the change says even where the scenario's table (the final definition
// after all of its changes) says otherwise; the engine always hands a table that agrees with its
// changes.
func changed(t dialect.Table, ch dialect.Change) dialect.Table {
	if ch.Kind == dialect.DropColumn || ch.Kind == dialect.AddColumn {
		return t
	}
	cols := append([]typemap.Column(nil), t.Columns...)
	for i, c := range cols {
		if c.Name == ch.Column.Name {
			cols[i] = ch.Column
		}
	}
	t.Columns = cols
	return t
}

// TestGoldenAlter pins what the shared scenarios, which render each change on its own, do not show:
// several changes in one ALTER TABLE (a MODIFY carries the column's default, so no separate SET
// DEFAULT follows), defaults alone, and a column added to a full row pushing another one off it.
func TestGoldenAlter(t *testing.T) {
	var b strings.Builder
	var all []dialect.Warning
	alter := func(tb dialect.Table, changes []dialect.Change, offRow map[string]bool) {
		t.Helper()
		s, ws, err := SQL{}.AlterTable(tb, changes, offRow)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(s + ";\n")
		all = append(all, ws...)
	}
	old := nvarcharTable(t, "evolve", 3, 100)
	next := dialect.Table{Name: "evolve", Key: []int{0}, Columns: []typemap.Column{
		old.Columns[0],
		col(t, "c01", "nvarchar(200)", "", true),               // widened
		col(t, "c02", "nvarchar(100)", "default ('x')", false), // NOT NULL and a default
		col(t, "added", "nvarchar(4000)", "default ('new')", true),
		col(t, "added_max", "nvarchar(max)", "default ('lob')", true),
		col(t, "added_dt", "datetime", "default (getdate())", true),
	}}
	alter(next, []dialect.Change{
		{Kind: dialect.DropColumn, Old: old.Columns[3]},
		{Kind: dialect.AlterType, Old: old.Columns[1], Column: next.Columns[1]},
		{Kind: dialect.AlterNullability, Old: old.Columns[2], Column: next.Columns[2]},
		{Kind: dialect.AlterDefault, Old: old.Columns[2], Column: next.Columns[2]},
		{Kind: dialect.AddColumn, Column: next.Columns[3]},
		{Kind: dialect.AddColumn, Column: next.Columns[4]},
		{Kind: dialect.AddColumn, Column: next.Columns[5]},
	}, nil)

	// Defaults alone: set a literal, set an expression, drop, set a literal on a text column.
	dflt := dialect.Table{Name: "evolve", Key: []int{0}, Columns: []typemap.Column{
		old.Columns[0],
		col(t, "c01", "nvarchar(100)", "default ('y')", true),
		col(t, "c02", "datetime2(7)", "default (sysutcdatetime())", true),
		col(t, "c03", "nvarchar(100)", "", true),
		col(t, "c04", "nvarchar(max)", "default ('t')", true),
	}}
	var changes []dialect.Change
	for _, c := range dflt.Columns[1:] {
		changes = append(changes, dialect.Change{Kind: dialect.AlterDefault, Column: c})
	}
	alter(dflt, changes, nil)

	// A column added to a full table pushes an existing varchar off the row; one already stored off
	// the row stays there.
	grown := nvarcharTable(t, "full", 5, 4000)
	alter(grown, []dialect.Change{{Kind: dialect.AddColumn, Column: grown.Columns[5]}}, nil)
	grown = nvarcharTable(t, "full", 6, 4000)
	alter(grown, []dialect.Change{{Kind: dialect.AddColumn, Column: grown.Columns[6]}}, map[string]bool{"c01": true})
	for _, w := range all {
		fmt.Fprintf(&b, "-- warning: column %q: %s\n", w.Column, w.Reason)
	}
	golden.Assert(t, goldenDir+"alter.sql", []byte(b.String()))
}

// TestGoldenBudgetFits pins a table that fills the row budget without a column moving off the row,
// which no shared scenario shows.
func TestGoldenBudgetFits(t *testing.T) {
	s, ws, err := SQL{}.CreateTable(nvarcharTable(t, "fits", 15, 1000))
	if err != nil || len(ws) > 0 {
		t.Fatal(err, ws)
	}
	golden.Assert(t, goldenDir+"budget_fits.sql", []byte(s+";\n"))
}

// TestGoldenSession pins what is not about a table: the database's creation, the session every DSN
// is turned into, the restart after DDL, the lock statements and names.
func TestGoldenSession(t *testing.T) {
	var s conformance.Script
	s.Head("database")
	s.Add(createDatabase(quoteIdent("crm_Cust12345")))
	s.Head("session: the DSN crm:secret@tcp(db:3306)/crm_Cust12345?sql_mode=ANSI_QUOTES&charset=latin1&mirrorsinkLockTimeout=30s&allowAllFiles=true as connected")
	cfg, timeout, err := config("crm:secret@tcp(db:3306)/crm_Cust12345?sql_mode=ANSI_QUOTES&charset=latin1&mirrorsinkLockTimeout=30s&allowAllFiles=true")
	if err != nil {
		t.Fatal(err)
	}
	s.Head(cfg.FormatDSN())
	s.Head(fmt.Sprintf("lock timeout: %v", timeout))
	s.Head("after DDL")
	s.Add(restartTransaction...)
	s.Head("savepoints")
	s.Add(savepoint("mirrorsink_sp1"), rollbackTo("mirrorsink_sp1"))
	s.Head("lock, and its release when the transaction ends")
	s.Add(lockQuery, unlockStatement)
	s.Head("lock names: " + lockName("mirrorsink/Cust10003/contact") + ", " + lockName(strings.Repeat("k", 500)))
	s.Head("read back")
	s.Add(existsQuery, columnsQuery, showWarnings)
	golden.Assert(t, goldenDir+"session.sql", []byte(s.String()))
}

func TestConfig(t *testing.T) {
	cfg, timeout, err := config("u@tcp(h:3306)/db?parseTime=false&loc=Local&interpolateParams=false&clientFoundRows=false&time_zone=%27%2B02%3A00%27")
	if err != nil {
		t.Fatal(err)
	}
	if timeout != DefaultLockTimeout || !cfg.ParseTime || cfg.Loc != time.UTC || !cfg.InterpolateParams || !cfg.ClientFoundRows ||
		cfg.AllowAllFiles || cfg.MultiStatements || cfg.Params["time_zone"] != "'+00:00'" {
		t.Errorf("the DSN's settings survived: %+v, timeout %v", cfg, timeout)
	}
	for _, bad := range []string{"u@tcp(h)/db?mirrorsinkLockTimeout=soon", "u@tcp(h)/db?mirrorsinkLockTimeout=-1s", "no DSN at all"} {
		if _, _, err := config(bad); err == nil {
			t.Errorf("config(%q) succeeded", bad)
		}
	}
}

func TestPlanDeterministicAndWithinBudget(t *testing.T) {
	tb := nvarcharTable(t, "ten", 10, 4000)
	a, err := planTable(tb, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, _ := planTable(tb, nil)
		for j := range a.types {
			if a.types[j].sql != b.types[j].sql {
				t.Fatalf("plan differs between runs at column %d: %s vs %s", j, a.types[j].sql, b.types[j].sql)
			}
		}
	}
	moved := 0
	row := 0
	for _, ct := range a.types {
		if ct.moved {
			moved++
		}
		row += ct.rowBytes
	}
	// 65,535 / (4*4000+2) leaves room for four varchar(4000) next to the key: six must move.
	if moved != 6 || row > maxRowBytes {
		t.Errorf("moved %d columns (want 6), row %d bytes", moved, row)
	}
	// Columns that are already text stay text.
	p, err := planTable(nvarcharTable(t, "few", 2, 100), map[string]bool{"c01": true})
	if err != nil {
		t.Fatal(err)
	}
	if p.types[1].sql != "text" || p.types[2].sql != "varchar(100)" {
		t.Errorf("keepOff not honoured: %s, %s", p.types[1].sql, p.types[2].sql)
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
		{"no key", []typemap.Column{col(t, "k", "int", "", false)}, nil, "no key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := SQL{}.CreateTable(dialect.Table{Name: "t", Columns: tt.cols, Key: tt.key})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for ErrBadName
	}{
		{"user", "`user`"},
		{"MixedCase", "`MixedCase`"},
		{"a`b", "`a``b`"},
		{"with space", "`with space`"},
		{"[x] 'y' \"z\"", "`[x] 'y' \"z\"`"},
		{"ünïcødé", "`ünïcødé`"},
		{strings.Repeat("é", 64), "`" + strings.Repeat("é", 64) + "`"},
		{strings.Repeat("é", 65), ""},
		{"", ""},
		{"nul\x00", ""},
		{"trailing ", ""},
		{"emoji 😀", ""},
		{"\xff", ""},
	}
	for _, tt := range tests {
		got, err := SQL{}.Table(tt.in)
		if tt.want == "" {
			if !errors.Is(err, dialect.ErrBadName) {
				t.Errorf("Table(%q) = %q, %v; want ErrBadName", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Table(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	// Every statement refuses a bad name the same way, never truncating it.
	long := dialect.Table{Name: "t", Columns: []typemap.Column{col(t, strings.Repeat("c", 65), "int", "", false)}, Key: []int{0}}
	if _, _, err := (SQL{}).CreateTable(long); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("CreateTable with a 65-character column: %v", err)
	}
	if _, err := (SQL{}).Upsert(long, "s"); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("Upsert with a 65-character column: %v", err)
	}
}

func TestNamer(t *testing.T) {
	if got := (SQL{}).Literal("it's a \\ \x00"); got != `'it''s a \\ \0'` {
		t.Errorf("Literal = %s", got)
	}
	if f := (SQL{}); f.Fold("Contact") == f.Fold("contact") {
		t.Error("lower_case_table_names = 0 folds case")
	}
	if f := (SQL{foldNames: true}); f.Fold("Contact") != f.Fold("contact") {
		t.Error("lower_case_table_names ≠ 0 keeps case")
	}
}

func TestDefaultsKinds(t *testing.T) {
	// Every DefaultKind, checked outside the golden files for the ones that must drop.
	tests := []struct {
		typ, def string
		want     string
		ok       bool
	}{
		{"bit", "default ((0))", "0", true},
		{"bit", "default ('true')", "1", true},
		{"int", "default ((1.5))", "", false},
		{"tinyint", "default ((300))", "", false},
		{"smallint", "default ((40000))", "", false},
		{"int", "default ((-2147483648))", "-2147483648", true},
		{"nvarchar(max)", "default ('a')", "('a')", true},
		{"nvarchar(10)", "default (' a ')", "' a '", true},
		{"datetime", "default ('20010203')", "'2001-02-03 00:00:00'", true},
		{"date", "default ('0500-01-01')", "", false},
		{"datetimeoffset(7)", "default ('2001-02-03 10:00:00 +02:00')", "'2001-02-03 08:00:00'", true},
		{"time(7)", "default ('12:34:56.1234567')", "'12:34:56.123456'", true},
		{"time(3)", "default (getdate())", "(UTC_TIME(3))", true},
		{"uniqueidentifier", "default ('nope')", "", false},
		{"uniqueidentifier", "default (newsequentialid())", "(UUID())", true},
		{"int", "default (newid())", "", false},
		{"nvarchar(10)", "default (getdate())", "", false},
		{"varbinary(4)", "default ((0))", "", false},
		{"varbinary(4)", "default (0x0a0B)", "", false}, // typemap does not parse binary constants
		{"varbinary(4)", "default ('ab')", "", false},
		{"nvarchar(10)", "default ((12))", "'12'", true},
		{"float", "default ('x')", "", false},
		{"int", "default (NULL)", "NULL", true},
	}
	for _, tt := range tests {
		c := col(t, "c", tt.typ, tt.def, true)
		ct, err := columnType(c.Type)
		if err != nil {
			t.Fatal(err)
		}
		w := &warnings{table: "t"}
		got, ok := defaultSQL(c, ct, w)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s %s: got %q, %v; want %q, %v", tt.typ, tt.def, got, ok, tt.want, tt.ok)
		}
		if !ok && (len(w.list) != 1 || w.list[0].Column != "c" || w.list[0].Table != "t") {
			t.Errorf("%s %s: dropped without exactly one warning naming table and column: %v", tt.typ, tt.def, w.list)
		}
	}
	// NULL on a NOT NULL column is dropped.
	c := col(t, "c", "int", "default (NULL)", false)
	if _, ok := defaultSQL(c, fixedType("int", 4), &warnings{}); ok {
		t.Error("NULL default kept on a NOT NULL column")
	}
}

func TestCheckAlter(t *testing.T) {
	tb := nvarcharTable(t, "t", 2, 10)
	stored := map[string]storedColumn{"id": {}, "c01": {nullable: true}, "c02": {nullable: true}}
	gone := col(t, "gone", "int", "", true)
	tests := []struct {
		name   string
		change dialect.Change
		ok     bool
	}{
		{"add a new column", dialect.Change{Kind: dialect.AddColumn, Column: col(t, "c03", "int", "", true)}, true},
		{"add a stored column", dialect.Change{Kind: dialect.AddColumn, Column: tb.Columns[1]}, false},
		{"drop a stored column", dialect.Change{Kind: dialect.DropColumn, Old: tb.Columns[2]}, true},
		{"drop a missing column", dialect.Change{Kind: dialect.DropColumn, Old: gone}, false},
		{"change a missing column", dialect.Change{Kind: dialect.AlterType, Column: gone, Old: gone}, false},
		{"change a stored column", dialect.Change{Kind: dialect.AlterDefault, Column: tb.Columns[1], Old: tb.Columns[1]}, true},
	}
	for _, tt := range tests {
		if err := checkAlter(tb, []dialect.Change{tt.change}, stored); (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if err := checkAlter(tb, nil, nil); err == nil {
		t.Error("a table without columns passed")
	}
}

func TestLoadErrors(t *testing.T) {
	for _, n := range []uint16{1148, 2068, 3948, 4166} {
		err := loadError("t", &mysql.MySQLError{Number: n, Message: "disabled"})
		if !strings.Contains(err.Error(), "SET GLOBAL local_infile = 1") {
			t.Errorf("%d: %v", n, err)
		}
	}
	if err := loadError("t", &mysql.MySQLError{Number: 1062}); !errors.Is(err, dialect.ErrDuplicateKey) {
		t.Errorf("1062: %v", err)
	}
	if err := loadError("t", &mysql.MySQLError{Number: 1146}); errors.Is(err, dialect.ErrDuplicateKey) {
		t.Errorf("1146: %v", err)
	}
}

// TestValuesWithheldFromErrors: MySQL quotes a duplicate key's value and an incorrect value in its
// messages; they are row data and must reach neither the log nor SuperOffice.
func TestValuesWithheldFromErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Duplicate entry 'jane@example.com' for key 'PRIMARY'", "Duplicate entry (value withheld) for key 'PRIMARY'"},
		{"Duplicate entry 'it's-1' for key 'ux'", "Duplicate entry (value withheld) for key 'ux'"},
		{"Incorrect integer value: 'abc' for column `t`.`c` at row 3", "Incorrect integer value: (value withheld) for column `t`.`c` at row 3"},
		{"Data too long for column 'name' at row 2", "Data too long for column 'name' at row 2"},
	} {
		if got := withholdValues(c.in); got != c.want {
			t.Errorf("withholdValues(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	err := fmt.Errorf("mysql: upsert: %w", mapError(&mysql.MySQLError{Number: erDupEntry, Message: "Duplicate entry 'jane@example.com' for key 'PRIMARY'"}))
	if !errors.Is(err, dialect.ErrDuplicateKey) || strings.Contains(err.Error(), "jane") {
		t.Fatalf("a duplicate key: %v", err)
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		t.Fatal("the server's error is no longer in the chain")
	}
}

// renderFanInMeta renders what the fan-in migration of mirrorsink's own tables runs in the mirror.
func renderFanInMeta(s *conformance.Script, tenant string) {
	meta, err := newMeta(tenant, true)
	if err != nil {
		s.Fail(err)
		return
	}
	for _, m := range meta.Migrations() {
		if m.Version == 4 {
			s.Head("migration " + m.Name + " of the shared metadata tables")
			s.Add(m.Statements...)
		}
	}
}

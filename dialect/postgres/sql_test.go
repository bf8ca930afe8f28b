package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/internal/golden"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// goldenSchema is the schema the golden statements are written for: a tenant database's tables live
// in public.
const goldenSchema = "public"

func TestGolden(t *testing.T) {
	conformance.Golden(t, "postgres", render)
}

// render writes everything the dialect sends for the scenario's table, in the order a table's life
// would send it.
func render(sc conformance.Scenario) (string, error) {
	sql, err := NewSQL(goldenSchema)
	if err != nil {
		return "", err
	}
	if f := sc.FanIn; f != nil {
		if sql, err = sql.FanIn(f.Column, f.Tenant, f.Citus); err != nil {
			return "", err
		}
	}
	tbl := sc.Table
	var s conformance.Script
	if sc.FanIn != nil && sc.FanIn.Citus {
		s.Head("begin: every transaction, after BEGIN")
		s.Add(citusSequential)
	}
	create, warns, err := sql.CreateTable(tbl)
	if err != nil {
		return "", err
	}
	s.Head("create")
	s.Add(create)
	s.Warn(warns)
	if dist, err := sql.Distribute(tbl.Name); err != nil || dist != "" {
		s.Head("create: distribute")
		s.Add(dist)
	}
	for _, ch := range sc.Changes {
		s.Change(ch)
		step, warns, err := sql.AlterTable(tbl, ch)
		switch {
		case err != nil:
			s.Fail(err)
		case step.Statement == "":
			s.Head("no statement: the PostgreSQL type stays the same")
		default:
			if step.Probe != "" {
				s.Head("probe: true refuses the change (ErrRecreate)")
				s.Add(step.Probe)
			}
			s.Add(step.Statement)
			s.Warn(warns)
		}
	}
	stmts := []struct {
		head string
		sql  func() (string, error)
	}{
		{"insert: COPY inside a savepoint", func() (string, error) { return sql.CopyRows(tbl) }},
		{"upsert: staging table", func() (string, error) { return sql.CreateStaging(stagingName(1), tbl, tbl.Columns) }},
		{"upsert: load", func() (string, error) { return sql.CopyStaging(stagingName(1), tbl.Columns) }},
		{"upsert: merge", func() (string, error) { return sql.Upsert(tbl, stagingName(1)) }},
		{"upsert: drop the staging table", func() (string, error) { return sql.DropStaging(stagingName(1)), nil }},
		{"delete: staging table", func() (string, error) { return sql.CreateStaging(stagingName(2), tbl, tbl.KeyColumns()) }},
		{"delete: load", func() (string, error) { return sql.CopyStaging(stagingName(2), tbl.KeyColumns()) }},
		{"delete: delete", func() (string, error) { return sql.Delete(tbl, stagingName(2)) }},
		{"delete: drop the staging table", func() (string, error) { return sql.DropStaging(stagingName(2)), nil }},
		{fmt.Sprintf("exists: $1 = %s, $2 = %s", sql.Literal(goldenSchema), sql.Literal(tbl.Name)), func() (string, error) {
			q, _, err := sql.TableExists(tbl.Name)
			return q, err
		}},
		{"count (inside a savepoint)", func() (string, error) { return sql.CountRows(tbl.Name) }},
		{"read", func() (string, error) { return sql.SelectRows(tbl) }},
		{"analyze", func() (string, error) { return sql.AnalyzeTable(tbl.Name) }},
		{"truncate", func() (string, error) { return sql.TruncateTable(tbl.Name) }},
		{"drop", func() (string, error) { return sql.DropTable(tbl.Name) }},
	}
	if tbl.DeletedAt != "" {
		stmts = append(stmts[:9:9], append([]struct {
			head string
			sql  func() (string, error)
		}{
			{"soft delete: staging table", func() (string, error) { return sql.CreateStaging(stagingName(3), tbl, tbl.KeyColumns()) }},
			{"soft delete: load", func() (string, error) { return sql.CopyStaging(stagingName(3), tbl.KeyColumns()) }},
			{"soft delete: mark, $1 = the time of the delete (timestamptz)", func() (string, error) { return sql.SoftDelete(tbl, stagingName(3)) }},
			{"soft delete: drop the staging table", func() (string, error) { return sql.DropStaging(stagingName(3)), nil }},
			{"purge the rows kept as deleted", func() (string, error) { return sql.PurgeDeleted(tbl) }},
		}, stmts[9:]...)...)
	}
	for _, st := range stmts {
		stmt, err := st.sql()
		if err != nil {
			return s.String(), fmt.Errorf("%s: %w", st.head, err)
		}
		s.Head(st.head)
		s.Add(stmt)
	}
	if sc.FanIn != nil {
		if err := renderFanInMeta(&s, sql, sc.FanIn.Tenant); err != nil {
			return s.String(), err
		}
	}
	return s.String(), nil
}

// renderFanInMeta renders what the fan-in migration of mirrorsink's own tables runs in the mirror.
func renderFanInMeta(s *conformance.Script, sql SQL, tenant string) error {
	meta, err := newMeta(sql, tenant)
	if err != nil {
		return err
	}
	for _, m := range meta.Migrations() {
		if m.Version == 4 {
			s.Head("migration " + m.Name + " of the shared metadata tables")
			s.Add(m.Statements...)
		}
	}
	return nil
}

// describe names a column definition of a change: its type, nullability and default.

// TestGoldenSession pins the statements that belong to a tenant or a transaction rather than to a
// table.
func TestGoldenSession(t *testing.T) {
	sql, err := NewSQL(`Tenant "A"`)
	if err != nil {
		t.Fatal(err)
	}
	db, err := createDatabase("mirrorsink_Acme")
	if err != nil {
		t.Fatal(err)
	}
	var s conformance.Script
	s.Head("open: a database per tenant, run in the maintenance database when the DSN's is missing")
	s.Add(db)
	s.Head("open: which schema the DSN's search_path creates tables in, without OpenOptions.Schema")
	s.Add(currentSchema)
	s.Head("open: a schema per tenant (OpenOptions.Schema); it is also every connection's search_path")
	s.Add(sql.CreateSchema())
	s.Head("open with NoCreate: does the tenant's schema exist ($1, its name); it is never created")
	s.Add(schemaExists)
	s.Head("lock: $1 is the FNV-1a 64 hash of the key")
	s.Add(lockStatement)
	s.Head("savepoint around Insert, Alter and Count, and the return to it when they fail")
	s.Add(savepoint("mirrorsink_sp1"), rollbackTo("mirrorsink_sp1"))
	s.Head("relaxed commit, before COMMIT")
	s.Add(relaxCommit)
	golden.Assert(t, "../../testdata/golden/postgres/session.sql", []byte(s.String()))
}

func TestQuote(t *testing.T) {
	sql, err := NewSQL("s")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{"user", `"s"."user"`, false},
		{"MixedCase", `"s"."MixedCase"`, false},
		{`a"b`, `"s"."a""b"`, false},
		{`""`, `"s".""""""`, false},
		{"back`tick [x]", "\"s\".\"back`tick [x]\"", false},
		{strings.Repeat("x", 63), `"s"."` + strings.Repeat("x", 63) + `"`, false},
		{strings.Repeat("x", 64), "", true},
		// 21 three-byte characters are 63 bytes; 22 are 66 bytes though only 22 characters.
		{strings.Repeat("名", 21), `"s"."` + strings.Repeat("名", 21) + `"`, false},
		{strings.Repeat("名", 22), "", true},
		{"a\x00b", "", true},
		{"", "", true},
		{"bad\xffutf8", "", true},
	} {
		got, err := sql.Table(tc.in)
		if tc.bad {
			if !errors.Is(err, dialect.ErrBadName) {
				t.Errorf("Table(%q) error = %v, want ErrBadName", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Table(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	long := strings.Repeat("名", 30)
	if _, err := sql.Table(long); err == nil || !strings.Contains(err.Error(), `"`+strings.Repeat("名", 21)+`"… is too long: 90 bytes`) {
		t.Errorf("Table of a 90-byte name: %v; want it named by its first 63 bytes, and said to be too long", err)
	}
	if _, err := NewSQL(strings.Repeat("s", 64)); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("NewSQL with a 64-byte schema: %v, want ErrBadName", err)
	}
	if _, err := createDatabase(strings.Repeat("d", 64)); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("createDatabase with a 64-byte name: %v, want ErrBadName", err)
	}
	id := typemap.Column{Name: "id", Type: typemap.Type{Kind: typemap.Int}}
	if _, _, err := sql.CreateTable(dialect.Table{Name: strings.Repeat("t", 64), Key: []int{0}, Columns: []typemap.Column{id}}); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("CreateTable with a 64-byte name: %v, want ErrBadName", err)
	}
	longCol := id
	longCol.Name = strings.Repeat("c", 64)
	if _, _, err := sql.CreateTable(dialect.Table{Name: "t", Key: []int{0}, Columns: []typemap.Column{longCol}}); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("CreateTable with a 64-byte column: %v, want ErrBadName", err)
	}
	if _, _, err := sql.TableExists(strings.Repeat("t", 64)); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("TableExists with a 64-byte name: %v, want ErrBadName", err)
	}
}

func TestLiteralAndFold(t *testing.T) {
	sql, err := NewSQL("public")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"plain":      "'plain'",
		"it's":       "'it''s'",
		`back\slash`: `E'back\\slash'`,
		`'\'`:        `E'''\\'''`,
		"nul\x00":    "'nul\uFFFD'",
	} {
		if got := sql.Literal(in); got != want {
			t.Errorf("Literal(%q) = %s, want %s", in, got, want)
		}
	}
	if sql.Fold("Contact") == sql.Fold("contact") {
		t.Error(`Fold says "Contact" and "contact" are one table; quoted PostgreSQL names differ by case`)
	}
}

// TestDefaults checks the defaults that the golden scenario cannot show by itself: each of them is
// also accepted by the server in TestLiveDefaults.
func TestDefaults(t *testing.T) {
	for _, tc := range []struct {
		typ, def, want string
	}{
		{"bit", "default ((2))", "true"},
		{"bit", "default ('abc')", ""},
		{"int", "default ((+5))", "5"},
		{"int", "default ((1.5))", "1.5"},
		{"nvarchar(10)", "default (getdate())", "LOCALTIMESTAMP"},
		{"nvarchar(40)", "default (newid())", "gen_random_uuid()"},
		{"int", "default (newid())", ""},
		{"uniqueidentifier", "default ('{6F9619FF-8B86-D011-B42D-00C04FC964FF}')", "'{6f9619ff-8b86-d011-b42d-00c04fc964ff}'::uuid"},
		{"varbinary(4)", "default ('ab')", "convert_to('ab', 'UTF8')"},
		{"varbinary(4)", "default (0xABC)", ""},
		{"time(3)", "default ('12:34')", "'12:34:00'::time(3)"},
		{"datetime2(0)", "default ((0))", ""},
		{"smalldatetime", "default ((-1))", "'1899-12-31 00:00:00'::timestamp(0)"},
		{"datetimeoffset(3)", "default ('2020-01-02T03:04:05Z')", "'2020-01-02 03:04:05+00:00'::timestamptz(3)"},
		{"date", "default ('2020-01-02 10:00')", "'2020-01-02'::date"},
		{"xml", "default (N'<a/>')", "'<a/>'"},
	} {
		c, err := typemap.ParseColumn(contract.Column{Name: "c", Type: tc.typ, IsNullable: true, DefaultValue: tc.def})
		if err != nil {
			t.Fatal(err)
		}
		r, err := ruleOf(c.Type)
		if err != nil {
			t.Fatal(err)
		}
		got, dropped := defaultExpr(c, r)
		if got != tc.want || (got == "") != (dropped != "") {
			t.Errorf("%s %s: %q (dropped %q), want %q", tc.typ, tc.def, got, dropped, tc.want)
		}
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
		if got := uint64(lockID(tc.key)); got != tc.want {
			t.Errorf("lockID(%q) = %#x, want %#x", tc.key, got, tc.want)
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

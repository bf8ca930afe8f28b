package sqlserver

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/internal/golden"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// goldenSchema is the tenant schema the scenarios are rendered in, so that the golden SQL shows every
// name qualified.
const goldenSchema = "tenant"

// render writes what the dialect sends for a scenario's table, in the order it sends it: the
// creation, each in-place change on its own, the bulk path, the staged upsert and delete, the read,
// count, existence check, truncate and drop. The TDS bulk copy itself is no SQL text; a comment marks
// where it runs.
func render(sc conformance.Scenario) (string, error) {
	var s conformance.Script
	q := SQL{Schema: goldenSchema}
	t := sc.Table
	if f := sc.FanIn; f != nil {
		if f.Citus {
			return conformance.CitusOnly("sqlserver"), nil
		}
		var err error
		if q, err = q.FanIn(f.Column, f.Tenant); err != nil {
			return "", err
		}
	}
	tn, err := q.Table(t.Name)
	if err != nil {
		return "", err
	}
	create, warnings, err := q.CreateTable(t)
	if err != nil {
		return "", err
	}
	s.Head("create")
	s.Add(create)
	s.Warn(warnings)
	for _, ch := range sc.Changes {
		s.Change(ch)
		changes := []dialect.Change{ch}
		stmts, warnings, err := q.Alter(t, changes)
		if err != nil {
			s.Fail(err)
			continue
		}
		if requiresEmpty(changes) {
			s.Head("only while the table is empty, else ErrRecreate:")
			hasRows, err := q.HasRows(t.Name)
			if err != nil {
				return "", err
			}
			s.Add(hasRows)
		}
		s.Head("in a savepoint:")
		s.Add(stmts...)
		s.Warn(warnings)
	}

	if hasConverted(t) || q.fanIn != nil {
		if q.fanIn != nil {
			s.Head("insert into a shared table, through the staging table (no table lock), in a savepoint")
		} else {
			s.Head("insert, through the staging table (text-converted columns), in a savepoint")
		}
		if err := renderStaged(&s, q, t, t.Columns, func() ([]string, error) {
			move, err := q.MoveStaged(t)
			return []string{move}, err
		}); err != nil {
			return "", err
		}
	} else {
		s.Head("insert, in a savepoint")
		renderBulkCopy(&s, tn, t.Columns, false)
	}

	s.Head("upsert, in a savepoint")
	if err := renderStaged(&s, q, t, t.Columns, func() ([]string, error) {
		update, insert, err := q.Upsert(t)
		if update == "" {
			return []string{insert}, err
		}
		return []string{update, insert}, err
	}); err != nil {
		return "", err
	}

	s.Head("delete, in a savepoint")
	if err := renderStaged(&s, q, t, t.KeyColumns(), func() ([]string, error) {
		del, err := q.Delete(t)
		return []string{del}, err
	}); err != nil {
		return "", err
	}

	if t.DeletedAt != "" {
		s.Head("soft delete, @p1 = the time of the delete (datetimeoffset(7)), in a savepoint")
		if err := renderStaged(&s, q, t, t.KeyColumns(), func() ([]string, error) {
			mark, err := q.SoftDelete(t)
			return []string{mark}, err
		}); err != nil {
			return "", err
		}
		purge, err := q.PurgeDeleted(t)
		if err != nil {
			return "", err
		}
		s.Head("purge the rows kept as deleted")
		s.Add(purge)
	}

	for _, part := range []struct {
		title string
		sql   func() (string, error)
	}{
		{"read", func() (string, error) { return q.Select(t) }},
		{"count", func() (string, error) { return q.Count(t.Name) }},
		{"exists, @p1 = " + tn, func() (string, error) { return q.Exists(), nil }},
		{"truncate", func() (string, error) { return q.Truncate(t.Name) }},
		{"drop", func() (string, error) { return q.DropTable(t.Name) }},
	} {
		s.Head(part.title)
		stmt, err := part.sql()
		if err != nil {
			return "", err
		}
		s.Add(stmt)
	}
	if sc.FanIn != nil {
		meta, err := newMeta(q, sc.FanIn.Tenant)
		if err != nil {
			return s.String(), err
		}
		for _, m := range meta.Migrations() {
			if m.Version == 4 {
				s.Head("migration " + m.Name + " of the shared metadata tables")
				s.Add(m.Statements...)
			}
		}
	}
	return s.String(), nil
}

// goldenCollation stands for the collation that sys.columns reports for a text column that is not a
// key: a common database default.
const goldenCollation = "SQL_Latin1_General_CP1_CI_AS"

// renderStaged renders a write through the staging table, as viaStaging sends it: the query for how
// the table stores its text columns (when it has any), the staging table with their collations (here
// goldenCollation, and keyCollation for the keys), the bulk copy and the set-based statements.
func renderStaged(s *conformance.Script, q SQL, t dialect.Table, cols []typemap.Column, apply func() ([]string, error)) error {
	tn, err := q.Table(t.Name)
	if err != nil {
		return err
	}
	collations := map[string]string{}
	for i, c := range t.Columns {
		if !types[c.Type.Kind].collate {
			continue
		}
		collations[c.Name] = goldenCollation
		if t.IsKey(i) {
			collations[c.Name] = keyCollation
		}
	}
	if len(collations) > 0 {
		s.Head("@p1 = " + tn)
		s.Add(textColumns)
	}
	create, err := q.CreateStaging(cols, collations)
	if err != nil {
		return err
	}
	s.Add(create...)
	renderBulkCopy(s, stagingName(), cols, true)
	stmts, err := apply()
	if err != nil {
		return err
	}
	s.Add(stmts...)
	s.Add(q.DropStaging())
	return nil
}

// renderBulkCopy renders what load sends: for a load into the table itself, the query for the code
// pages its encoders need (a load into the staging table had it already), then the TDS bulk copy.
func renderBulkCopy(s *conformance.Script, target string, cols []typemap.Column, staged bool) {
	for _, c := range cols {
		if !staged && types[c.Type.Kind].codePage {
			s.Head("@p1 = " + target)
			s.Add(textColumns)
			break
		}
	}
	s.Head("TDS bulk copy into " + target + " WITH (KEEP_NULLS, TABLOCK)")
}

func TestGolden(t *testing.T) {
	conformance.Golden(t, "sqlserver", render)
}

// TestGoldenSession pins the statements that are not about one table: the session's lock and
// savepoints, the creation of a tenant's database or schema, the collation, schema and code-page
// queries, and the names of a mirror with a database of its own, qualified with the login's default
// schema. It also pins the drop of a default whose table name needs every kind of escaping.
func TestGoldenSession(t *testing.T) {
	var s conformance.Script
	q := SQL{Schema: "dbo"}
	add := func(title string, stmts ...string) {
		s.Head(title)
		s.Add(stmts...)
	}
	must := func(stmt string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return stmt
	}
	add("lock, @p1 = the resource, @p2 = the timeout in ms", q.Lock())
	add("savepoint", q.Savepoint("mirrorsink_sp1"))
	add("rollback to savepoint", q.RollbackTo("mirrorsink_sp1"))
	add("savepoint with a hostile name", q.Savepoint("x]; DROP TABLE y; --"))
	add("rollback to a hostile savepoint", q.RollbackTo("x]; DROP TABLE y; --"))
	add("create database, on master, @p1 = the name", must(createDatabase("Cust10195")))
	add("create database, hostile name", must(createDatabase("Cust]'; --")))
	add("database state, @p1 = the name", databaseState)
	add("create schema, @p1 = the name", must(createSchema("Cust10195")))
	add("create schema, hostile name", must(createSchema("Cust]'; --")))
	add("does the schema exist (1) or not (0), for an open with NoCreate, @p1 = the name", schemaExists)
	add("case sensitivity of the database's names", caseSensitivity)
	add("the login's default schema, which qualifies the names of a tenant with a database of its own", defaultSchema)
	add("code pages and collations of a table's text columns, @p1 = the table", textColumns)

	add("schema-bound views of a table, @p1 = the table", schemaBoundViews)
	add("indexes of a table or view, @p1 = its name", objectIndexes)
	add("check constraints of a table, @p1 = the table", tableChecks)
	add("triggers of a table, @p1 = the table", tableTriggers)
	add("permissions on a table or view and its columns, @p1 = its name", objectPermissions)
	add("re-create a view or trigger, @p1 = its definition", runModule)

	hostile := SQL{Schema: "tenant one"}
	table := "Order Details]; DROP TABLE [x] --'"
	add("drop the default of a column of a table whose name holds ] and '", must(hostile.dropDefault(table, "quote'single]")))
	add("drop that table", must(hostile.DropTable(table)))

	keyed := dialect.Table{Name: "EmployeeTerritories", Columns: []typemap.Column{
		{Name: "EmployeeID", Type: typemap.Type{Kind: typemap.Int}},
		{Name: "Territory", Type: typemap.Type{Kind: typemap.NVarChar, Length: 20}, Nullable: true},
	}, Key: []int{0}}
	create, _, err := q.CreateTable(keyed)
	if err != nil {
		t.Fatal(err)
	}
	update, insert, err := q.Upsert(keyed)
	if err != nil {
		t.Fatal(err)
	}
	add("a tenant with a database of its own: names qualified with the default schema", create, update, insert, must(q.DropTable(keyed.Name)))
	golden.Assert(t, "../../testdata/golden/sqlserver/session.sql", []byte(s.String()))
}

// TestDynamicSQLIsValid checks every statement of every scenario, and of the session, for the
// mistake of the old DropDefault: EXEC(…) takes string literals and variables only, never an
// expression such as N'…' + QUOTENAME(@x) (Msg 102).
func TestDynamicSQLIsValid(t *testing.T) {
	scenarios, err := conformance.Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, sc := range scenarios {
		out, err := render(sc)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, out)
	}
	create, _ := createSchema("it's ]")
	drop, _ := SQL{Schema: "s'"}.dropDefault("t'", "c'")
	texts = append(texts, create, drop)
	for _, text := range texts {
		for rest := text; ; {
			i := strings.Index(rest, "EXEC(")
			if i < 0 {
				break
			}
			rest = rest[i+len("EXEC("):]
			n := literalLen(rest)
			if n == 0 || !strings.HasPrefix(rest[n:], ")") {
				t.Errorf("EXEC( is not followed by one string literal and ')': %.80s", rest)
			}
		}
	}
	if !strings.Contains(drop, "EXEC sp_executesql @stmt") {
		t.Errorf("the dropped default's statement is not run from a variable:\n%s", drop)
	}
}

// literalLen returns the length of the T-SQL string literal (N'…' or '…', quotes doubled) at the
// start of s, or 0 when there is none.
func literalLen(s string) int {
	i := 0
	if strings.HasPrefix(s, "N") {
		i++
	}
	if i >= len(s) || s[i] != '\'' {
		return 0
	}
	for i++; i < len(s); i++ {
		if s[i] != '\'' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			i++
			continue
		}
		return i + 1
	}
	return 0
}

func TestQuote(t *testing.T) {
	for name, want := range map[string]string{
		"user": "[user]", "MixedCase": "[MixedCase]", "a]b": "[a]]b]", "]]": "[]]]]]", "[x]": "[[x]]]",
		`a"b'c` + "`d": `[a"b'c` + "`d]", "名前": "[名前]",
		strings.Repeat("x", 128): "[" + strings.Repeat("x", 128) + "]",
		strings.Repeat("é", 128): "[" + strings.Repeat("é", 128) + "]",
		strings.Repeat("😀", 64):  "[" + strings.Repeat("😀", 64) + "]",
	} {
		if got, err := quote(name); err != nil || got != want {
			t.Errorf("quote(%.20q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, bad := range []string{
		"", "a\x00b", "\xff", strings.Repeat("x", 129),
		strings.Repeat("😀", 65), // 130 UTF-16 units
		strings.Repeat("n", 2000),
	} {
		_, err := quote(bad)
		if !errors.Is(err, dialect.ErrBadName) {
			t.Errorf("quote(%.20q): %v, want ErrBadName", bad, err)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Errorf("quote(%.20q): the error quotes the whole name: %d bytes", bad, len(err.Error()))
		}
	}
}

func TestTable(t *testing.T) {
	for _, c := range []struct {
		schema, name, want string
	}{
		{"", "contact", "[contact]"},
		{"tenant", "contact", "[tenant].[contact]"},
		{"ten]ant", "con]tact", "[ten]]ant].[con]]tact]"},
		{"", "a#b", "[a#b]"},
	} {
		if got, err := (SQL{Schema: c.schema}).Table(c.name); err != nil || got != c.want {
			t.Errorf("Table(%q) in schema %q = %q, %v; want %q", c.name, c.schema, got, err, c.want)
		}
	}
	// A '#' name would be a session's temporary table, never the mirror's.
	for _, name := range []string{"#temp", "##global", stagingTable} {
		if _, err := (SQL{}).Table(name); !errors.Is(err, dialect.ErrBadName) {
			t.Errorf("Table(%q): %v, want ErrBadName", name, err)
		}
	}
	if _, err := (SQL{Schema: strings.Repeat("s", 129)}).Table("t"); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("a 129-character schema: %v, want ErrBadName", err)
	}
	if got := (SQL{}).Literal("it's"); got != "N'it''s'" {
		t.Errorf("Literal = %s", got)
	}
}

func TestFold(t *testing.T) {
	ci, cs := SQL{}, SQL{CaseSensitive: true}
	if ci.Fold("Contact") != ci.Fold("contact") || ci.Fold("contact ") != ci.Fold("contact") {
		t.Error("a case-insensitive collation: Contact, contact and 'contact ' must fold together")
	}
	if cs.Fold("Contact") == cs.Fold("contact") || cs.Fold("contact ") != cs.Fold("contact") {
		t.Error("a case-sensitive collation: Contact and contact differ, trailing spaces do not count")
	}
}

func TestNamesTooLong(t *testing.T) {
	long := strings.Repeat("y", 129)
	q := SQL{}
	tab := dialect.Table{Name: long, Columns: []typemap.Column{{Name: "id", Type: typemap.Type{Kind: typemap.Int}}}, Key: []int{0}}
	if _, _, err := q.CreateTable(tab); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("CreateTable with a 129-character name: %v", err)
	}
	tab = dialect.Table{Name: "t", Columns: []typemap.Column{{Name: long, Type: typemap.Type{Kind: typemap.Int}}}, Key: []int{0}}
	if _, _, err := q.CreateTable(tab); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("CreateTable with a 129-character column: %v", err)
	}
	if _, err := createDatabase(strings.Repeat("d", 124)); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("createDatabase with 124 characters: %v", err)
	}
	if _, err := createDatabase(strings.Repeat("d", 123)); err != nil {
		t.Errorf("createDatabase with 123 characters: %v", err)
	}
	if _, err := newMeta(SQL{Schema: strings.Repeat("s", 129)}, "Cust1"); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("the metadata tables of a tenant in a 129-character schema: %v", err)
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
		n := defaultConstraintName(tc[0], tc[1])
		if utf16Len(n) > MaxIdentifier {
			t.Errorf("defaultConstraintName(%.10q, %.10q) has %d characters", tc[0], tc[1], utf16Len(n))
		}
		if _, err := quote(n); err != nil {
			t.Error(err)
		}
		if n != defaultConstraintName(tc[0], tc[1]) {
			t.Error("not deterministic")
		}
		key := fmt.Sprint(tc)
		if prev, dup := seen[n]; dup {
			t.Errorf("%s and %s share constraint name %s", prev, key, n)
		}
		seen[n] = key
		if p := primaryKeyName(tc[0]); utf16Len(p) > MaxIdentifier {
			t.Errorf("primaryKeyName(%.10q) has %d characters", tc[0], utf16Len(p))
		}
	}
}

func TestDefaultExpr(t *testing.T) {
	col := func(k typemap.Kind, d typemap.Default) typemap.Column {
		return typemap.Column{Name: "c", Type: typemap.Type{Kind: k, Precision: 7}, Default: &d}
	}
	for _, c := range []struct {
		col  typemap.Column
		want string // "" when the default is dropped
	}{
		{col(typemap.Int, typemap.Default{Kind: typemap.DefaultLiteral, Literal: "-1.5e3"}), "(-1.5e3)"},
		{col(typemap.Int, typemap.Default{Kind: typemap.DefaultLiteral, Literal: "1; DROP TABLE x", Raw: "(1; DROP TABLE x)"}), ""},
		{col(typemap.NVarChar, typemap.Default{Kind: typemap.DefaultLiteral, Literal: "it's", IsString: true}), "(N'it''s')"},
		{col(typemap.NVarChar, typemap.Default{Kind: typemap.DefaultLiteral, Literal: "a\x00b", IsString: true}), ""},
		{col(typemap.DateTime, typemap.Default{Kind: typemap.DefaultNow}), "(getdate())"},
		{col(typemap.DateTime2, typemap.Default{Kind: typemap.DefaultNow}), "(sysdatetime())"},
		{col(typemap.Time, typemap.Default{Kind: typemap.DefaultUTCNow}), "(sysutcdatetime())"},
		{col(typemap.SmallDateTime, typemap.Default{Kind: typemap.DefaultUTCNow}), "(getutcdate())"},
		{col(typemap.DateTimeOffset, typemap.Default{Kind: typemap.DefaultNowOffset}), "(sysdatetimeoffset())"},
		{col(typemap.Int, typemap.Default{Kind: typemap.DefaultUnsupported, Raw: "(next value for s)"}), ""},
	} {
		got, ok, why := defaultExpr(c.col)
		if got != c.want || ok != (c.want != "") || (!ok && why == "") {
			t.Errorf("defaultExpr(%+v) = %q, %v, %q; want %q", *c.col.Default, got, ok, why, c.want)
		}
	}
}

func TestAlterRefusesKeyColumns(t *testing.T) {
	tab := dialect.Table{Name: "t", Columns: []typemap.Column{
		{Name: "id", Type: typemap.Type{Kind: typemap.Int}},
		{Name: "v", Type: typemap.Type{Kind: typemap.Int}, Nullable: true},
	}, Key: []int{0}}
	id, v := tab.Columns[0], tab.Columns[1]
	wide := id
	wide.Type.Kind = typemap.BigInt
	for _, ch := range []dialect.Change{
		{Kind: dialect.AlterType, Old: id, Column: wide},
		{Kind: dialect.AlterNullability, Old: id, Column: id},
		{Kind: dialect.DropColumn, Old: id},
	} {
		// The refusal comes before anything is rendered, whatever came first.
		stmts, _, err := (SQL{}).Alter(tab, []dialect.Change{{Kind: dialect.AlterNullability, Old: v, Column: v}, ch})
		if !errors.Is(err, dialect.ErrRecreate) || stmts != nil {
			t.Errorf("%s of the key column: %v, %d statements; want ErrRecreate and none", ch.Kind, err, len(stmts))
		}
	}
	notNull := typemap.Column{Name: "n", Type: typemap.Type{Kind: typemap.Int}}
	withDefault := notNull
	withDefault.Default = &typemap.Default{Kind: typemap.DefaultLiteral, Literal: "0"}
	if !requiresEmpty([]dialect.Change{{Kind: dialect.AddColumn, Column: notNull}}) {
		t.Error("adding a NOT NULL column without default needs an empty table")
	}
	if requiresEmpty([]dialect.Change{{Kind: dialect.AddColumn, Column: withDefault}}) {
		t.Error("adding a NOT NULL column with a default does not need an empty table")
	}
}

func TestLockResourceAndSavepoints(t *testing.T) {
	if got := lockResource("Cust1/contact"); got != "Cust1/contact" {
		t.Errorf("short key changed: %q", got)
	}
	long1, long2 := strings.Repeat("k", 300)+"1", strings.Repeat("k", 300)+"2"
	r1, r2 := lockResource(long1), lockResource(long2)
	if utf16Len(r1) > maxLockResource || r1 == r2 {
		t.Errorf("long keys: %d characters, distinct %v", utf16Len(r1), r1 != r2)
	}
	for _, name := range []string{"mirrorsink_sp1", "mirrorsink_sp" + strings.Repeat("9", 19), "x]; DROP", strings.Repeat("s", 40), "select"} {
		sp := savepointName(name)
		if len(sp) > 32 {
			t.Errorf("savepointName(%q) = %q, over 32 characters", name, sp)
		}
		for i := 0; i < len(sp); i++ {
			c := sp[i]
			if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				t.Errorf("savepointName(%q) = %q is not a regular identifier", name, sp)
				break
			}
		}
	}
	if savepointName("a") == savepointName("b") {
		t.Error("savepoint names collide")
	}
	for rc, ok := range map[int]bool{0: true, 1: true, -1: false, -2: false, -3: false, -999: false} {
		if err := lockResult(rc); (err == nil) != ok {
			t.Errorf("lockResult(%d) = %v", rc, err)
		}
	}
}

// TestDuplicateKeyValueWithheld: SQL Server's duplicate-key message quotes the key, which is row data
// and must reach neither the log nor SuperOffice.
func TestDuplicateKeyValueWithheld(t *testing.T) {
	server := mssql.Error{Number: errDuplicateKey, Message: "Violation of PRIMARY KEY constraint 'PK_contact'. Cannot insert duplicate key in object 'dbo.contact'. The duplicate key value is (jane@example.com)."}
	err := fmt.Errorf("sqlserver: upsert: %w", mapError(server))
	if !errors.Is(err, dialect.ErrDuplicateKey) {
		t.Fatalf("%v is not ErrDuplicateKey", err)
	}
	if strings.Contains(err.Error(), "jane") || !strings.Contains(err.Error(), "PK_contact") {
		t.Fatalf("the message %q quotes the key or lost the constraint", err)
	}
	var se mssql.Error
	if !errors.As(err, &se) || se.Number != errDuplicateKey {
		t.Fatal("the server's error is no longer in the chain")
	}
	for _, c := range []mssql.Error{
		{Number: 2628, Message: "String or binary data would be truncated in table 'db.dbo.contact', column 'name'. Truncated value: 'Jane O'Doe'."},
		{Number: 245, Message: "Conversion failed when converting the nvarchar value 'jane@example.com' to data type int."},
	} {
		err := mapError(c)
		if strings.Contains(err.Error(), "Jane") || strings.Contains(err.Error(), "jane") || !strings.Contains(err.Error(), "withheld") {
			t.Errorf("Msg %d: %q quotes the value", c.Number, err)
		}
	}
}

// TestRestoreStatements pins what puts back the objects of others after a recreate, from catalog rows
// as keep reads them.
func TestRestoreStatements(t *testing.T) {
	on := "[dbo].[contact]"
	for _, c := range []struct {
		ix   savedIndex
		want string
	}{
		{savedIndex{name: "ix_email", kind: 2, keys: []string{"[email] ASC"}, filter: "([email] IS NOT NULL)"},
			"CREATE NONCLUSTERED INDEX [ix_email] ON [dbo].[contact] ([email] ASC) WHERE ([email] IS NOT NULL)"},
		{savedIndex{name: "ux]x", kind: 2, unique: true, keys: []string{"[a] ASC", "[b] DESC"}, included: []string{"[c]"}},
			"CREATE UNIQUE NONCLUSTERED INDEX [ux]]x] ON [dbo].[contact] ([a] ASC, [b] DESC) INCLUDE ([c])"},
		{savedIndex{name: "uq_code", kind: 2, unique: true, uniqueKC: true, keys: []string{"[code] ASC"}},
			"ALTER TABLE [dbo].[contact] ADD CONSTRAINT [uq_code] UNIQUE NONCLUSTERED ([code] ASC)"},
		{savedIndex{name: "cx", kind: 1, unique: true, keys: []string{"[id] ASC"}},
			"CREATE UNIQUE CLUSTERED INDEX [cx] ON [dbo].[contact] ([id] ASC)"},
	} {
		got, ok, err := createIndex(on, c.ix)
		if err != nil || !ok || got != c.want {
			t.Errorf("createIndex(%+v) = %q, %v, %v; want %q", c.ix, got, ok, err, c.want)
		}
	}
	if _, ok, err := createIndex(on, savedIndex{name: "ccs", kind: 6, keys: []string{"[a] ASC"}}); ok || err != nil {
		t.Errorf("a columnstore index is re-created (%v, %v); mirrorsink reports it lost", ok, err)
	}
	check, err := addCheck(on, "ck_email", "([email]<>N'')")
	if err != nil || check != "ALTER TABLE [dbo].[contact] ADD CONSTRAINT [ck_email] CHECK ([email]<>N'')" {
		t.Errorf("addCheck = %q, %v", check, err)
	}
	for _, c := range []struct{ state, perm, grantee, column, want string }{
		{"G", "SELECT", "reporting", "", "GRANT SELECT ON OBJECT::[dbo].[contact] TO [reporting]"},
		{"W", "VIEW DEFINITION", "lead]", "", "GRANT VIEW DEFINITION ON OBJECT::[dbo].[contact] TO [lead]]] WITH GRANT OPTION"},
		{"D", "SELECT", "intern", "salary", "DENY SELECT ON OBJECT::[dbo].[contact] ([salary]) TO [intern]"},
	} {
		got, err := grantStatement(c.state, c.perm, c.grantee, c.column, on)
		if err != nil || got != c.want {
			t.Errorf("grantStatement(%q, %q, %q, %q) = %q, %v; want %q", c.state, c.perm, c.grantee, c.column, got, err, c.want)
		}
	}
	for _, bad := range [][2]string{{"G", "SELECT; DROP TABLE x"}, {"R", "SELECT"}, {"G", "select"}} {
		if got, err := grantStatement(bad[0], bad[1], "u", "", on); err == nil {
			t.Errorf("grantStatement(%q, %q) = %q, want an error", bad[0], bad[1], got)
		}
	}
}

// TestKeyColumnsAreNotNull: a key column that the source declares nullable is NOT NULL in the mirror,
// as SQL Server refuses a primary key over a nullable column (Msg 8111).
func TestKeyColumnsAreNotNull(t *testing.T) {
	tab := dialect.Table{Name: "loose", Columns: []typemap.Column{
		{Name: "k", Type: typemap.Type{Kind: typemap.Int}, Nullable: true},
		{Name: "v", Type: typemap.Type{Kind: typemap.Int}, Nullable: true},
	}, Key: []int{0}}
	create, _, err := SQL{Schema: "dbo"}.CreateTable(tab)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(create, "[k] int NOT NULL") || !strings.Contains(create, "[v] int NULL") {
		t.Errorf("a nullable key column:\n%s", create)
	}
}

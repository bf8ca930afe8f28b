package sqlserver

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// The tests of this file are what the shared suite (conformance_test.go) does not check: what the
// server itself holds for each type, the in-place changes step by step with the refusals, defaults the
// server named, and racing replicas. They run against the server named by MIRRORSINK_TEST_SQLSERVER.

// sliceSource is a RowSource over rows held in memory.
type sliceSource struct {
	rows [][]any
	i    int
}

func (s *sliceSource) Next() bool             { s.i++; return s.i <= len(s.rows) }
func (s *sliceSource) Values() ([]any, error) { return s.rows[s.i-1], nil }
func (s *sliceSource) Err() error             { return nil }

func src(rows ...[]any) *sliceSource { return &sliceSource{rows: rows} }

// liveDSN returns the test server's DSN for a fresh database name, and drops that database at the
// end of the test.
func liveDSN(t testing.TB) (msdsn.Config, string) {
	t.Helper()
	cfg, err := msdsn.Parse(testenv.SQLServer(t))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	cfg.Database = "mirrorsink_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		master := cfg
		master.Database = "master"
		db := sql.OpenDB(mssql.NewConnectorConfig(master))
		defer db.Close()
		q, _ := quote(cfg.Database)
		if _, err := db.Exec("IF DB_ID(@p1) IS NOT NULL BEGIN ALTER DATABASE "+q+" SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE "+q+" END", cfg.Database); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return cfg, cfg.URL().String()
}

// liveStore opens a fresh tenant database, migrated.
func liveStore(t testing.TB) *Store {
	t.Helper()
	_, dsn := liveDSN(t)
	st, err := Dialect{}.Open(context.Background(), dsn, dialect.OpenOptions{Tenant: "Cust1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tx := begin(t, st.(*Store))
	if err := tx.Meta().Migrate(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background(), dialect.Durable); err != nil {
		t.Fatal(err)
	}
	return st.(*Store)
}

func begin(t testing.TB, st *Store) *Tx {
	t.Helper()
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx.(*Tx)
}

func col(name string, k typemap.Kind, length, prec, scale int, nullable bool) typemap.Column {
	return typemap.Column{Name: name, Type: typemap.Type{Kind: k, Length: length, Precision: prec, Scale: scale}, Nullable: nullable}
}

func withDefault(c typemap.Column, d typemap.Default) typemap.Column {
	c.Default = &d
	return c
}

func TestLiveOpen(t *testing.T) {
	cfg, dsn := liveDSN(t)
	ctx := context.Background()
	// Two replicas open the same new tenant at once: both succeed.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	stores := make([]dialect.Store, 2)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Dialect{}.Open(ctx, dsn, dialect.OpenOptions{Tenant: "Cust1"})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var got string
	if err := stores[0].(*Store).db.QueryRow("SELECT DB_NAME()").Scan(&got); err != nil || got != cfg.Database {
		t.Fatalf("connected to %q (%v), want %q", got, err, cfg.Database)
	}
	// The database exists now; a schema of it is created on first use.
	inSchema, err := Dialect{}.Open(ctx, dsn, dialect.OpenOptions{Tenant: "Cust2", Schema: "tenant]x"})
	if err != nil {
		t.Fatal(err)
	}
	defer inSchema.Close()
	var schemaID sql.NullInt64
	if err := inSchema.(*Store).db.QueryRow("SELECT SCHEMA_ID(N'tenant]x')").Scan(&schemaID); err != nil || !schemaID.Valid {
		t.Fatalf("schema not created: %v", err)
	}
	if n, _ := inSchema.Names().Table("t"); n != "[tenant]]x].[t]" {
		t.Errorf("a table of the schema is named %s", n)
	}
	// Fold says what the server's collation says.
	var same int
	if err := inSchema.(*Store).db.QueryRow("SELECT CASE WHEN N'Contact' = N'contact' THEN 1 ELSE 0 END").Scan(&same); err != nil {
		t.Fatal(err)
	}
	if names := inSchema.Names(); (names.Fold("Contact") == names.Fold("contact")) != (same == 1) {
		t.Errorf("Fold disagrees with the database's collation (same: %d)", same)
	}
	if _, err := (Dialect{}).Open(ctx, dsn, dialect.OpenOptions{Tenant: "Cust3", Schema: strings.Repeat("s", 129)}); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("a 129-character schema: %v, want ErrBadName", err)
	}
}

// everyType is a table with every type of TYPES.md, and edgeRows its edge values.
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

func edgeRows() [][]any {
	u := typemap.UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	off := time.FixedZone("", -(9*3600 + 30*60))
	return [][]any{
		{int64(1), true, int64(255), int64(-32768), int64(-9223372036854775808),
			typemap.DecimalValue("-9999999999999999999999999999.9999999999"), typemap.DecimalValue("999999999999999999"),
			typemap.DecimalValue("-922337203685477.5808"), typemap.DecimalValue("214748.3647"), 1.7976931348623157e308, float64(float32(3.4028235e38)),
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), typemap.TimeOfDay(24*time.Hour - 100), typemap.TimeOfDay(12*time.Hour + 123*time.Millisecond),
			time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC), time.Date(1753, 1, 1, 0, 0, 0, 3000000, time.UTC),
			time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC), time.Date(2020, 5, 18, 10, 40, 43, 0, time.UTC),
			time.Date(2020, 1, 1, 1, 0, 0, 100, off),
			"Søt       ", "Жук😀     ", "Ære, €, and ' quote", "nul\x00 and 😀 and 名前", strings.Repeat("v", 9000), strings.Repeat("ø", 5000),
			"text ø", "ntext 名前", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, []byte{}, make([]byte, 10000), []byte{0xff},
			[]byte{0, 0, 0, 0, 0, 0, 7, 0xd1}, u, "<a b=\"1\">ø</a>", "/1/2/", "POINT (10 59)", "LINESTRING (0 0, 1 1)", strings.Repeat("é", 4000), "sysname_x"},
		{int64(2), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "s"},
	}
}

// TestLiveEveryTypeAsTheServerHoldsIt loads edge values and reads them back as the server's own text,
// where Go would otherwise hide a detail (the scale of a decimal, the offset, the SRID).
func TestLiveEveryTypeAsTheServerHoldsIt(t *testing.T) {
	st := liveStore(t)
	ctx := context.Background()
	tab := everyType()
	tx := begin(t, st)
	if err := tx.Create(ctx, tab); err != nil {
		t.Fatal(err)
	}
	if n, err := tx.Insert(ctx, tab, src(edgeRows()...)); err != nil || n != 2 {
		t.Fatalf("Insert: %d, %v", n, err)
	}
	q := `SELECT CONVERT(varchar(50), c_decimal), CONVERT(varchar(30), c_money, 2), CONVERT(varchar(30), c_datetime2, 121),
	 CONVERT(varchar(40), c_datetimeoffset, 121), CAST(c_time AS varchar(20)), CONVERT(varchar(36), c_uniqueidentifier),
	 c_nvarchar, c_varchar, c_char, c_hierarchyid.ToString(), c_geography.STAsText(), c_geography.STSrid, c_geometry.STSrid,
	 CONVERT(nvarchar(4000), c_sql_variant), CONVERT(varchar(30), c_datetime, 121), c_binary, c_varbinary, CONVERT(nvarchar(max), c_xml),
	 DATEPART(TZoffset, c_datetimeoffset)
	 FROM [every_type] WHERE id = 1`
	var dec, money, dt2, dto, tm, guid, nv, v, ch, hid, geo, variant, dt, xml string
	var geoSRID, geomSRID, offMinutes int
	var bin, vbin []byte
	if _, err := tx.x.QueryRow(ctx, q, nil, &dec, &money, &dt2, &dto, &tm, &guid, &nv, &v, &ch, &hid, &geo, &geoSRID, &geomSRID,
		&variant, &dt, &bin, &vbin, &xml, &offMinutes); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ what, got, want string }{
		{"decimal(38,10)", dec, "-9999999999999999999999999999.9999999999"},
		{"money", money, "-922337203685477.5808"},
		{"datetime2(7)", dt2, "9999-12-31 23:59:59.9999999"},
		{"datetimeoffset", dto, "2020-01-01 01:00:00.0000001 -09:30"},
		{"time(7)", tm, "23:59:59.9999999"},
		{"uniqueidentifier", strings.ToLower(guid), "6f9619ff-8b86-d011-b42d-00c04fc964ff"},
		{"nvarchar", nv, "nul\x00 and 😀 and 名前"},
		{"varchar", v, "Ære, €, and ' quote"},
		{"char", ch, "Søt       "},
		{"hierarchyid", hid, "/1/2/"},
		{"geography", geo, "POINT (10 59)"},
		{"sql_variant of 4000 characters", variant, strings.Repeat("é", 4000)},
		{"datetime", dt, "1753-01-01 00:00:00.003"},
		{"xml", xml, "<a b=\"1\">ø</a>"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %.60q, want %.60q", c.what, c.got, c.want)
		}
	}
	if geoSRID != GeographySRID || geomSRID != GeometrySRID || offMinutes != -570 || len(bin) != 16 || len(vbin) != 0 || vbin == nil {
		t.Errorf("SRIDs %d, %d; offset %d minutes; binary %d bytes; empty varbinary %v", geoSRID, geomSRID, offMinutes, len(bin), vbin)
	}
	var nulls int64
	if _, err := tx.x.QueryRow(ctx, "SELECT COUNT(*) FROM [every_type] WHERE id = 2 AND c_bit IS NULL AND c_geography IS NULL AND c_varbinary IS NULL AND c_uniqueidentifier IS NULL AND c_sql_variant IS NULL", nil, &nulls); err != nil || nulls != 1 {
		t.Errorf("NULLs not kept: %d, %v", nulls, err)
	}
	// A sql_variant's text beyond what it can hold is a value error, not a server error.
	long := edgeRows()[1]
	long[0], long[37] = int64(3), strings.Repeat("v", 4001)
	var ve *dialect.ValueError
	if _, err := tx.Upsert(ctx, tab, src(long)); !errors.As(err, &ve) || ve.Column != "c_sql_variant" || ve.Row != 1 {
		t.Errorf("a sql_variant of 4001 characters: %v, want a ValueError", err)
	}
}

func kv() dialect.Table {
	return dialect.Table{Name: "order", Columns: []typemap.Column{
		col("user", typemap.Int, 0, 0, 0, false), col("group", typemap.NVarChar, 10, 0, 0, true),
	}, Key: []int{0}}
}

func count(t *testing.T, tx *Tx, where string) int64 {
	t.Helper()
	var n int64
	if _, err := tx.x.QueryRow(context.Background(), "SELECT COUNT(*) FROM [order] WHERE "+where, nil, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLiveFailedWritesLeaveNothing checks that a value error, on the bulk path and the staged path,
// keeps nothing of the call and leaves the transaction usable.
func TestLiveFailedWritesLeaveNothing(t *testing.T) {
	st := liveStore(t)
	ctx := context.Background()
	tx := begin(t, st)
	tab := kv()
	if err := tx.Create(ctx, tab); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Insert(ctx, tab, src([]any{int64(1), "a"}, []any{int64(2), "b"})); err != nil {
		t.Fatal(err)
	}
	bad := src([]any{int64(7), "x"}, []any{int64(8), strings.Repeat("y", 11)})
	var ve *dialect.ValueError
	if _, err := tx.Insert(ctx, tab, bad); !errors.As(err, &ve) || ve.Row != 2 || ve.Column != "group" {
		t.Fatalf("Insert of an over-long value: %v", err)
	}
	if n := count(t, tx, "1=1"); n != 2 {
		t.Fatalf("after the failed Insert: %d rows, want 2", n)
	}
	if _, err := tx.Upsert(ctx, tab, src([]any{int64(1), "new"}, []any{int64(9), strings.Repeat("y", 11)})); !errors.As(err, &ve) {
		t.Fatalf("Upsert of an over-long value: %v", err)
	}
	if n := count(t, tx, "[group] = N'new'"); n != 0 {
		t.Fatal("the failed Upsert changed a row")
	}
	if n, err := tx.Delete(ctx, tab, src([]any{int64(2)}, []any{int64(99)})); err != nil || n != 1 {
		t.Fatalf("Delete: %d, %v", n, err)
	}
	if err := tx.Commit(ctx, dialect.Relaxed); err != nil {
		t.Fatal(err)
	}
}

// TestLiveAlterSteps makes each in-place change on a table with rows, then checks the refusals.
func TestLiveAlterSteps(t *testing.T) {
	st := liveStore(t)
	ctx := context.Background()
	tx := begin(t, st)
	tab := kv()
	if err := tx.Create(ctx, tab); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Insert(ctx, tab, src([]any{int64(1), "a"})); err != nil {
		t.Fatal(err)
	}
	added := withDefault(col("select", typemap.Int, 0, 0, 0, false), typemap.Default{Kind: typemap.DefaultLiteral, Literal: "5"})
	grp := tab.Columns[1]
	wider := col("group", typemap.NVarChar, 50, 0, 0, true)
	wider.Default = &typemap.Default{Kind: typemap.DefaultLiteral, Literal: "g", IsString: true}
	steps := [][]dialect.Change{
		{{Kind: dialect.AddColumn, Column: added}},
		{{Kind: dialect.AlterDefault, Column: wider, Old: grp}},
		{{Kind: dialect.AlterType, Column: wider, Old: grp}},
		{{Kind: dialect.AlterNullability, Column: col("group", typemap.NVarChar, 50, 0, 0, false), Old: wider}},
		{{Kind: dialect.AlterDefault, Column: col("select", typemap.Int, 0, 0, 0, false), Old: added}},
		{{Kind: dialect.DropColumn, Old: wider}},
	}
	for i, ch := range steps {
		if err := conformance.NoLoss(tx.Alter(ctx, tab, ch)); err != nil {
			t.Fatalf("step %d (%v): %v", i, ch[0].Kind, err)
		}
	}
	// A default the server named (not ours) is found and dropped all the same.
	if err := tx.RunStatement(ctx, "ALTER TABLE [order] ADD DEFAULT 9 FOR [select]"); err != nil {
		t.Fatal(err)
	}
	if err := conformance.NoLoss(tx.Alter(ctx, tab, []dialect.Change{{Kind: dialect.AlterDefault, Column: col("select", typemap.Int, 0, 0, 0, false), Old: added}})); err != nil {
		t.Fatal(err)
	}
	var defaults int64
	if _, err := tx.x.QueryRow(ctx, "SELECT COUNT(*) FROM sys.default_constraints WHERE parent_object_id = OBJECT_ID(N'[order]')", nil, &defaults); err != nil || defaults != 0 {
		t.Fatalf("%d defaults left (%v), want none", defaults, err)
	}
	if err := conformance.NoLoss(tx.Alter(ctx, tab, []dialect.Change{{Kind: dialect.AddColumn, Column: col("nn", typemap.Int, 0, 0, 0, false)}})); !errors.Is(err, dialect.ErrRecreate) {
		t.Fatalf("NOT NULL column without default on a table with rows: %v", err)
	}
	if err := conformance.NoLoss(tx.Alter(ctx, tab, []dialect.Change{{Kind: dialect.AlterType, Column: col("user", typemap.BigInt, 0, 0, 0, false), Old: tab.Columns[0]}})); !errors.Is(err, dialect.ErrRecreate) {
		t.Fatalf("key column: %v", err)
	}
	if err := tx.Commit(ctx, dialect.Durable); err != nil {
		t.Fatal(err)
	}
}

// hostile is a table whose names are reserved words, mixed case, spaces, quotes, backticks, brackets
// and unicode, with a text-converted column (so that every write goes through the staging table) and
// a name of the longest length.
func hostile() dialect.Table {
	cols := []typemap.Column{
		col("user", typemap.Int, 0, 0, 0, false),
		col("order", typemap.NVarChar, 20, 0, 0, false),
		withDefault(col("group", typemap.NVarChar, 20, 0, 0, true), typemap.Default{Kind: typemap.DefaultLiteral, Literal: "it's", IsString: true}),
		col("brack]et[s]", typemap.Int, 0, 0, 0, true),
		col("ünïcødé_名前", typemap.Int, 0, 0, 0, true),
		col("dot.ted", typemap.HierarchyID, 0, 0, 0, true),
		col(strings.Repeat("x", 128), typemap.Int, 0, 0, 0, true),
	}
	return dialect.Table{Name: "Order Details]; DROP TABLE [x] --'", Columns: cols, Key: []int{0, 1}}
}

func TestLiveHostileNames(t *testing.T) {
	st := liveStore(t)
	ctx := context.Background()
	tx := begin(t, st)
	tab := hostile()
	if err := tx.Create(ctx, tab); err != nil {
		t.Fatal(err)
	}
	row := make([]any, len(tab.Columns))
	row[0], row[1], row[5] = int64(1), "k", "/1/"
	if n, err := tx.Insert(ctx, tab, src(row)); err != nil || n != 1 {
		t.Fatalf("Insert: %d, %v", n, err)
	}
	row[5] = "/1/3/"
	if n, err := tx.Upsert(ctx, tab, src(row)); err != nil || n != 1 {
		t.Fatalf("Upsert: %d, %v", n, err)
	}
	var got []any
	if err := tx.Read(ctx, tab, func(vals []any) error { got = append([]any{}, vals...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(tab.Columns) || got[5] != "/1/3/" {
		t.Fatalf("Read: %v", got)
	}
	if n, err := tx.Delete(ctx, tab, src([]any{int64(1), "k"})); err != nil || n != 1 {
		t.Fatalf("Delete: %d, %v", n, err)
	}
	if ok, err := tx.Exists(ctx, tab.Name); err != nil || !ok {
		t.Fatalf("Exists: %v, %v", ok, err)
	}
	if err := conformance.NoLoss(tx.Drop(ctx, tab.Name)); err != nil {
		t.Fatal(err)
	}
}

package sqlserver

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// sliceSource is a RowSource over rows held in memory.
type sliceSource struct {
	rows [][]any
	i    int
}

func (s *sliceSource) Next() bool             { s.i++; return s.i <= len(s.rows) }
func (s *sliceSource) Values() ([]any, error) { return s.rows[s.i-1], nil }
func (s *sliceSource) Err() error             { return nil }

func src(rows ...[]any) *sliceSource { return &sliceSource{rows: rows} }

// liveStore opens a fresh tenant database on the server named by MIRRORSINK_TEST_SQLSERVER, and drops
// it at the end of the test.
func liveStore(t testing.TB) (*Store, string) {
	t.Helper()
	dsn := testenv.SQLServer(t)
	cfg, err := msdsn.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	cfg.Database = "mirrorsink_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	st, err := Dialect{}.Open(ctx, cfg.URL().String(), dialect.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		master := cfg
		master.Database = "master"
		db := sql.OpenDB(mssql.NewConnectorConfig(master))
		defer db.Close()
		q, _ := QuoteIdent(cfg.Database)
		if _, err := db.Exec("ALTER DATABASE " + q + " SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE " + q); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return st.(*Store), cfg.Database
}

func begin(t testing.TB, st *Store) dialect.Tx {
	t.Helper()
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx
}

func TestLiveOpenCreatesDatabase(t *testing.T) {
	st, name := liveStore(t)
	var got string
	if err := st.db.QueryRow("SELECT DB_NAME()").Scan(&got); err != nil || got != name {
		t.Fatalf("connected to %q (%v), want %q", got, err, name)
	}
	// Open again: the database exists now.
	dsn := testenv.SQLServer(t)
	cfg, _ := msdsn.Parse(dsn)
	cfg.Database = name
	again, err := Dialect{}.Open(context.Background(), cfg.URL().String(), dialect.OpenOptions{Schema: "tenant]x"})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	var schemaID sql.NullInt64
	if err := again.(*Store).db.QueryRow("SELECT SCHEMA_ID(N'tenant]x')").Scan(&schemaID); err != nil || !schemaID.Valid {
		t.Fatalf("schema not created: %v", err)
	}
}

// edgeRow is every type's edge values, in everyType() order.
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
			[]byte{0, 0, 0, 0, 0, 0, 7, 0xd1}, u, "<a b=\"1\">ø</a>", "/1/2/", "POINT (10 59)", "LINESTRING (0 0, 1 1)", "variant", "sysname_x"},
		{int64(2), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "s"},
	}
}

func TestLiveRoundTripEveryType(t *testing.T) {
	st, _ := liveStore(t)
	ctx := context.Background()
	tab := everyType()
	tx := begin(t, st)
	if err := tx.CreateTable(ctx, tab); err != nil {
		t.Fatal(err)
	}
	n, err := tx.BulkInsert(ctx, tab, src(edgeRows()...))
	if err != nil || n != 2 {
		t.Fatalf("BulkInsert: %d, %v", n, err)
	}
	// Read back as text where Go would otherwise lose detail, and compare exactly.
	q := `SELECT CONVERT(varchar(50), c_decimal), CONVERT(varchar(30), c_money, 2), CONVERT(varchar(30), c_datetime2, 121),
	 CONVERT(varchar(40), c_datetimeoffset, 121), CAST(c_time AS varchar(20)), CONVERT(varchar(36), c_uniqueidentifier),
	 c_nvarchar, c_varchar, c_char, c_hierarchyid.ToString(), c_geography.STAsText(), c_geography.STSrid, CONVERT(nvarchar(20), c_sql_variant),
	 CONVERT(varchar(30), c_datetime, 121), c_binary, c_varbinary, CONVERT(nvarchar(max), c_xml)
	 FROM [every_type] WHERE id = 1`
	var dec, money, dt2, dto, tm, guid, nv, v, ch, hid, geo, variant, dt, xml string
	var srid int
	var bin, vbin []byte
	if err := tx.(*Tx).tx.QueryRowContext(ctx, q).Scan(&dec, &money, &dt2, &dto, &tm, &guid, &nv, &v, &ch, &hid, &geo, &srid, &variant, &dt, &bin, &vbin, &xml); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ what, got, want string }{
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
		{"sql_variant", variant, "variant"},
		{"datetime", dt, "1753-01-01 00:00:00.003"},
		{"xml", xml, "<a b=\"1\">ø</a>"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
		}
	}
	if srid != GeographySRID || len(bin) != 16 || len(vbin) != 0 || vbin == nil {
		t.Errorf("srid %d, binary %d bytes, empty varbinary %v", srid, len(bin), vbin)
	}
	var offMinutes int
	if err := tx.(*Tx).tx.QueryRowContext(ctx, "SELECT DATEPART(TZoffset, c_datetimeoffset) FROM [every_type] WHERE id = 1").Scan(&offMinutes); err != nil || offMinutes != -570 {
		t.Errorf("offset %d minutes (%v), want -570", offMinutes, err)
	}
	var nulls int
	if err := tx.(*Tx).tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM [every_type] WHERE id = 2 AND c_bit IS NULL AND c_geography IS NULL AND c_varbinary IS NULL AND c_uniqueidentifier IS NULL").Scan(&nulls); err != nil || nulls != 1 {
		t.Errorf("NULLs not kept: %d, %v", nulls, err)
	}
}

func kv() dialect.Table {
	return dialect.Table{Name: "order", Columns: []typemap.Column{
		col("user", typemap.Int, 0, 0, 0, false), col("group", typemap.NVarChar, 10, 0, 0, true),
	}, Key: []int{0}}
}

func count(t *testing.T, tx dialect.Tx, where string) int {
	t.Helper()
	var n int
	if err := tx.(*Tx).tx.QueryRow("SELECT COUNT(*) FROM [order] WHERE " + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLiveUpsertDeleteTruncateDuplicate(t *testing.T) {
	st, _ := liveStore(t)
	ctx := context.Background()
	tx := begin(t, st)
	tab := kv()
	if err := tx.CreateTable(ctx, tab); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.BulkInsert(ctx, tab, src([]any{int64(1), "a"}, []any{int64(2), "b"})); err != nil {
		t.Fatal(err)
	}
	if err := tx.Savepoint(ctx, "batch"); err != nil {
		t.Fatal(err)
	}
	_, err := tx.BulkInsert(ctx, tab, src([]any{int64(3), "c"}, []any{int64(1), "dup"}))
	if !errors.Is(err, dialect.ErrDuplicateKey) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := tx.RollbackTo(ctx, "batch"); err != nil {
		t.Fatal(err)
	}
	n, err := tx.Upsert(ctx, tab, src([]any{int64(3), "c"}, []any{int64(1), "new"}))
	if err != nil || n != 2 {
		t.Fatalf("upsert: %d, %v", n, err)
	}
	if count(t, tx, "[user] = 1 AND [group] = N'new'") != 1 || count(t, tx, "1=1") != 3 {
		t.Fatal("upsert did not update and insert")
	}
	n, err = tx.Delete(ctx, tab, src([]any{int64(2)}, []any{int64(99)}))
	if err != nil || n != 1 || count(t, tx, "1=1") != 2 {
		t.Fatalf("delete: %d, %v", n, err)
	}
	_, err = tx.BulkInsert(ctx, tab, src([]any{int64(7), "x"}, []any{int64(8), strings.Repeat("y", 11)}))
	var ve *dialect.ValueError
	if !errors.As(err, &ve) || ve.Row != 2 || ve.Column != "group" {
		t.Fatalf("over-long value: %v", err)
	}
	if err := tx.RollbackTo(ctx, "batch"); err != nil {
		t.Fatalf("transaction not usable after a value error: %v", err)
	}
	if err := tx.Truncate(ctx, tab); err != nil || count(t, tx, "1=1") != 0 {
		t.Fatalf("truncate: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLiveAlterTable(t *testing.T) {
	st, _ := liveStore(t)
	ctx := context.Background()
	tx := begin(t, st)
	tab := kv()
	if err := tx.CreateTable(ctx, tab); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.BulkInsert(ctx, tab, src([]any{int64(1), "a"})); err != nil {
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
		if err := tx.AlterTable(ctx, tab, ch); err != nil {
			t.Fatalf("step %d (%v): %v", i, ch[0].Kind, err)
		}
	}
	if err := tx.AlterTable(ctx, tab, []dialect.Change{{Kind: dialect.AddColumn, Column: col("nn", typemap.Int, 0, 0, 0, false)}}); !errors.Is(err, dialect.ErrRecreate) {
		t.Fatalf("NOT NULL column without default on a table with rows: %v", err)
	}
	if err := tx.AlterTable(ctx, tab, []dialect.Change{{Kind: dialect.AlterType, Column: col("user", typemap.BigInt, 0, 0, 0, false), Old: tab.Columns[0]}}); !errors.Is(err, dialect.ErrRecreate) {
		t.Fatalf("key column: %v", err)
	}
}

func TestLiveLockBlocks(t *testing.T) {
	st, _ := liveStore(t)
	ctx := context.Background()
	a := begin(t, st)
	if err := a.Lock(ctx, "tenant/contact"); err != nil {
		t.Fatal(err)
	}
	b := begin(t, st)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, "tenant/contact"); err == nil {
		t.Fatal("second transaction got the lock while the first held it")
	}
	b.Rollback(ctx)
	a.Rollback(ctx)
	c := begin(t, st)
	if err := c.Lock(ctx, "tenant/contact"); err != nil {
		t.Fatalf("lock after release: %v", err)
	}
}

func TestLiveHostileNames(t *testing.T) {
	st, _ := liveStore(t)
	ctx := context.Background()
	tx := begin(t, st)
	tab := hostile()
	if err := tx.CreateTable(ctx, tab); err != nil {
		t.Fatal(err)
	}
	row := make([]any, len(tab.Columns))
	row[0], row[1], row[11] = int64(1), "k", "/1/"
	if n, err := tx.BulkInsert(ctx, tab, src(row)); err != nil || n != 1 {
		t.Fatalf("bulk insert: %d, %v", n, err)
	}
	if n, err := tx.Upsert(ctx, tab, src(row)); err != nil || n != 1 {
		t.Fatalf("upsert: %d, %v", n, err)
	}
	if n, err := tx.Delete(ctx, tab, src([]any{int64(1), "k"})); err != nil || n != 1 {
		t.Fatalf("delete: %d, %v", n, err)
	}
	if ok, err := tx.TableExists(ctx, tab.Name); err != nil || !ok {
		t.Fatalf("exists: %v, %v", ok, err)
	}
	if err := tx.DropTable(ctx, tab.Name); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkBulkInsert loads 100k realistic rows (30 columns: ints, nvarchar, datetime, float) and
// reports rows/s.
func BenchmarkBulkInsert(b *testing.B) {
	st, _ := liveStore(b)
	ctx := context.Background()
	var cols []typemap.Column
	cols = append(cols, col("id", typemap.Int, 0, 0, 0, false))
	for i := 1; i < 30; i++ {
		switch i % 4 {
		case 0:
			cols = append(cols, col(fmt.Sprintf("i%d", i), typemap.Int, 0, 0, 0, true))
		case 1:
			cols = append(cols, col(fmt.Sprintf("s%d", i), typemap.NVarChar, 100, 0, 0, true))
		case 2:
			cols = append(cols, col(fmt.Sprintf("d%d", i), typemap.DateTime, 0, 0, 0, true))
		case 3:
			cols = append(cols, col(fmt.Sprintf("f%d", i), typemap.Float, 0, 53, 0, true))
		}
	}
	tab := dialect.Table{Name: "bench", Columns: cols, Key: []int{0}}
	const rows = 100000
	gen := &genSource{cols: cols, n: rows}
	for b.Loop() {
		tx, err := st.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.DropTable(ctx, tab.Name); err != nil {
			b.Fatal(err)
		}
		if err := tx.CreateTable(ctx, tab); err != nil {
			b.Fatal(err)
		}
		gen.i = 0
		start := time.Now()
		if _, err := tx.BulkInsert(ctx, tab, gen); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rows/time.Since(start).Seconds(), "rows/s")
	}
}

type genSource struct {
	cols []typemap.Column
	n, i int
	row  []any
}

func (g *genSource) Next() bool { g.i++; return g.i <= g.n }
func (g *genSource) Err() error { return nil }
func (g *genSource) Values() ([]any, error) {
	if g.row == nil {
		g.row = make([]any, len(g.cols))
	}
	base := time.Date(2020, 5, 18, 10, 40, 43, 0, time.UTC)
	for j, c := range g.cols {
		switch c.Type.Kind {
		case typemap.Int:
			g.row[j] = int64(g.i*31 + j)
		case typemap.NVarChar:
			g.row[j] = fmt.Sprintf("Nonnast, Leon %d-%d", g.i, j)
		case typemap.DateTime:
			g.row[j] = base.Add(time.Duration(g.i) * time.Second)
		case typemap.Float:
			g.row[j] = float64(g.i) / 7
		}
	}
	g.row[0] = int64(g.i)
	return g.row, nil
}

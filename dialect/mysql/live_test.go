package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// tenantDSN returns the test server's DSN naming a fresh database, dropped when the test ends.
func tenantDSN(t testing.TB) (string, string) {
	t.Helper()
	cfg, err := mysql.ParseDSN(testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	var b [5]byte
	_, _ = rand.Read(b[:])
	cfg.DBName = "mirrorsink_t_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		admin := cfg.Clone()
		admin.DBName = ""
		db, err := sql.Open("mysql", admin.FormatDSN())
		if err != nil {
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS `" + cfg.DBName + "`"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return cfg.FormatDSN(), cfg.DBName
}

// testDSN is the test server's DSN as testenv gives it.
func testDSN(t testing.TB) string { return testenv.MySQL(t) }

// withParams adds DSN parameters.
func withParams(t testing.TB, dsn string, kv ...string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		cfg.Params[kv[i]] = kv[i+1]
	}
	return cfg.FormatDSN()
}

func openStore(t testing.TB) *Store {
	t.Helper()
	dsn, _ := tenantDSN(t)
	st, err := Dialect{}.Open(context.Background(), dsn, dialect.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*Store)
}

// rowsOf is a RowSource over a slice.
type rowsOf struct {
	rows [][]any
	i    int
}

func src(rows ...[]any) *rowsOf { return &rowsOf{rows: rows} }

func (r *rowsOf) Next() bool {
	if r.i >= len(r.rows) {
		return false
	}
	r.i++
	return true
}
func (r *rowsOf) Values() ([]any, error) { return r.rows[r.i-1], nil }
func (r *rowsOf) Err() error             { return nil }

func begin(t testing.TB, st *Store) *Tx {
	t.Helper()
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx.(*Tx)
}

// must fails the test on err and returns v.
func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// dump reads a table ordered by its first column as text, one string per row.
func dump(t testing.TB, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, table string, cols []typemap.Column) []string {
	t.Helper()
	qt, _ := Quote(table)
	var sel []string
	for _, c := range cols {
		qc, _ := Quote(c.Name)
		switch c.Type.Kind {
		case typemap.Binary, typemap.VarBinary, typemap.Image, typemap.RowVersion:
			qc = "HEX(" + qc + ")"
		case typemap.Real:
			// The text protocol prints FLOAT with six digits; the stored value is exact.
			qc = "CAST(" + qc + " AS DOUBLE)"
		}
		sel = append(sel, qc)
	}
	qk, _ := Quote(cols[0].Name)
	rows, err := q.QueryContext(context.Background(), "SELECT "+strings.Join(sel, ", ")+" FROM "+qt+" ORDER BY "+qk)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		noErr(t, rows.Scan(ptrs...))
		var parts []string
		for i, v := range vals {
			if f, ok := v.(float64); ok && cols[i].Type.Kind == typemap.Real {
				v = float32(f)
			}
			switch x := v.(type) {
			case nil:
				parts = append(parts, "NULL")
			case []byte:
				parts = append(parts, strconv.Quote(string(x)))
			case time.Time:
				parts = append(parts, x.Format("2006-01-02 15:04:05.999999 MST"))
			case float32:
				parts = append(parts, strconv.FormatFloat(float64(x), 'g', -1, 32))
			case float64:
				parts = append(parts, strconv.FormatFloat(x, 'g', -1, 64))
			default:
				parts = append(parts, fmt.Sprint(x))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	noErr(t, rows.Err())
	return out
}

func TestLiveOpen(t *testing.T) {
	dsn, name := tenantDSN(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ { // the second Open finds the database
		st, err := Dialect{}.Open(ctx, withParams(t, dsn, "sql_mode", "'ANSI_QUOTES'", "charset", "latin1", "mirrorsinkLockTimeout", "3s"), dialect.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var coll, mode, tz string
		noErr(t, st.(*Store).DB().QueryRow("SELECT @@collation_database, @@sql_mode, @@time_zone").Scan(&coll, &mode, &tz))
		if coll != "utf8mb4_bin" || tz != "+00:00" || !strings.Contains(mode, "STRICT_ALL_TABLES") || strings.Contains(mode, "ANSI_QUOTES") || strings.Contains(mode, "NO_BACKSLASH_ESCAPES") {
			t.Errorf("session: collation %s, time_zone %s, sql_mode %s", coll, tz, mode)
		}
		if st.(*Store).lockTimeout != 3*time.Second {
			t.Errorf("lock timeout %v", st.(*Store).lockTimeout)
		}
		st.Close()
	}
	_ = name
	if _, err := (Dialect{}).Open(ctx, dsn, dialect.OpenOptions{Schema: "x"}); err == nil {
		t.Error("Open with a schema succeeded")
	}
	if _, err := (Dialect{}).Open(ctx, strings.Replace(dsn, "/"+name, "/", 1), dialect.OpenOptions{}); err == nil {
		t.Error("Open without a database succeeded")
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.9999999 -07:00", s)
	if err != nil {
		panic(err)
	}
	return t
}

func naive(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.9999999", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestLiveRoundTripEveryType(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := allTypesTable(t, "all_types")
	tx := begin(t, st)
	noErr(t, tx.CreateTable(ctx, tb))
	if ok := must[bool](t)(tx.TableExists(ctx, "all_types")); !ok {
		t.Fatal("TableExists after CreateTable = false")
	}
	if ok := must[bool](t)(tx.TableExists(ctx, "ALL_TYPES")); ok {
		t.Fatal("TableExists is not case-sensitive")
	}
	u := typemap.UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	long := strings.Repeat("ü😀\\\t", 30000)
	rowA := []any{
		int64(1), true, int64(255), int64(-32768), int64(math.MaxInt64),
		typemap.DecimalValue("-9999999999999999999999999999.9999999999"), typemap.DecimalValue("99999"),
		typemap.DecimalValue("-922337203685477.5808"), typemap.DecimalValue("214748.3647"),
		1.7976931348623157e308, float64(float32(3.4028235e38)),
		naive("1000-01-01 00:00:00"), typemap.TimeOfDay(86399_999_999_900), typemap.TimeOfDay(0),
		naive("1900-01-01 00:00:00"), naive("1753-01-01 00:00:00"),
		naive("9999-12-31 23:59:59.9999999"), naive("2000-01-01 00:00:00.123"),
		mustTime("2020-06-01 12:00:00.0000005 +05:30"),
		"ab", "x", "tab\there\nnl\rcr\\bs\x00nul \\N", "ünï😀", long, "", "text", "ntext",
		[]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff}, []byte{}, all, []byte{0x09, 0x0a, 0x5c}, []byte{0, 0, 0, 0, 0, 0, 0x07, 0xd1},
		u, u, "<a>&amp;</a>", "/1/2/", "POINT (1 2)", "LINESTRING (0 0, 1 1)", "variant", "sys",
		nil, int64(0), nil,
	}
	rowB := make([]any, len(rowA))
	rowB[0], rowB[1], rowB[15], rowB[21], rowB[41] = int64(2), false, naive("9999-12-31 23:59:59.997"), "", int64(-1)
	rowB[2], rowB[3], rowB[4] = int64(0), int64(32767), int64(math.MinInt64)
	rowB[5], rowB[9], rowB[10] = typemap.DecimalValue("0.0000000001"), -2.2250738585072014e-308, 0.1
	rowB[11], rowB[16], rowB[18] = naive("9999-12-31 00:00:00"), naive("2000-01-01 00:00:00.0000005"), mustTime("0001-01-02 01:00:00 +05:00")
	rowB[18] = mustTime("1000-01-01 04:00:00 +04:00")
	n := must[int64](t)(tx.BulkInsert(ctx, tb, src(rowA, rowB)))
	if n != 2 {
		t.Fatalf("BulkInsert stored %d rows, want 2", n)
	}
	got := dump(t, tx.tx, tb.Name, tb.Columns)
	q := strconv.Quote
	want := []string{strings.Join([]string{
		"1", "1", "255", "-32768", "9223372036854775807",
		q("-9999999999999999999999999999.9999999999"), q("99999"), q("-922337203685477.5808"), q("214748.3647"),
		"1.7976931348623157e+308", "3.4028235e+38",
		"1000-01-01 00:00:00 UTC", q("23:59:59.999999"), q("00:00:00"),
		"1900-01-01 00:00:00 UTC", "1753-01-01 00:00:00 UTC", "9999-12-31 23:59:59.999999 UTC", "2000-01-01 00:00:00.123 UTC",
		"2020-06-01 06:30:00.000001 UTC",
		q("ab"), q("x"), q("tab\there\nnl\rcr\\bs\x00nul \\N"), q("ünï😀"), q(long), q(""), q("text"), q("ntext"),
		q("000102030405060708090A0B0C0D0EFF"), q(""), q(strings.ToUpper(hex.EncodeToString(all))), q("090A5C"), q("00000000000007D1"),
		q("6f9619ff-8b86-d011-b42d-00c04fc964ff"), q("6f9619ff-8b86-d011-b42d-00c04fc964ff"), q("<a>&amp;</a>"), q("/1/2/"), q("POINT (1 2)"), q("LINESTRING (0 0, 1 1)"), q("variant"), q("sys"),
		"NULL", "0", "NULL",
	}, "|")}
	if len(got) != 2 || got[0] != want[0] {
		t.Fatalf("row 1 differs:\n got %.600s\nwant %.600s", got[0], want[0])
	}
	for _, part := range []string{"2|0|0|32767|-9223372036854775808", `"0.0000000001"`, "-2.2250738585072014e-308|0.1|", "9999-12-31 00:00:00 UTC", "9999-12-31 23:59:59.997 UTC", "2000-01-01 00:00:00.000001 UTC", "1000-01-01 00:00:00 UTC", "|-1|"} {
		if !strings.Contains(got[1], part) {
			t.Errorf("row 2 lacks %q: %.400s", part, got[1])
		}
	}
	noErr(t, tx.Commit(ctx))
}

func keyTable(t testing.TB, name string) dialect.Table {
	return dialect.Table{Name: name, Key: []int{0}, Columns: []typemap.Column{
		col(t, "id", "int", "", false),
		col(t, "name", "nvarchar(20)", "", true),
		col(t, "n", "tinyint", "", true),
		col(t, "d", "datetime", "", true),
	}}
}

func TestLiveUpsertDeleteTruncate(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := keyTable(t, "contact")
	tx := begin(t, st)
	noErr(t, tx.CreateTable(ctx, tb))
	must[int64](t)(tx.BulkInsert(ctx, tb, src(
		[]any{int64(1), "one", int64(1), nil},
		[]any{int64(2), "two", int64(2), nil},
		[]any{int64(3), "three", int64(3), nil},
	)))
	n := must[int64](t)(tx.Upsert(ctx, tb, src(
		[]any{int64(2), "TWO", nil, naive("2020-01-01 00:00:00")},
		[]any{int64(3), "three", int64(3), nil}, // unchanged
		[]any{int64(4), "four", int64(4), nil},
	)))
	if n != 3 {
		t.Errorf("Upsert wrote %d, want 3", n)
	}
	want := []string{`1|"one"|1|NULL`, `2|"TWO"|NULL|2020-01-01 00:00:00 UTC`, `3|"three"|3|NULL`, `4|"four"|4|NULL`}
	if got := dump(t, tx.tx, tb.Name, tb.Columns); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after upsert:\n%s", strings.Join(got, "\n"))
	}
	n = must[int64](t)(tx.Delete(ctx, tb, src([]any{int64(1)}, []any{int64(4)}, []any{int64(99)})))
	if n != 2 {
		t.Errorf("Delete removed %d, want 2", n)
	}
	if got := dump(t, tx.tx, tb.Name, tb.Columns); len(got) != 2 || got[0] != want[1] || got[1] != want[2] {
		t.Errorf("after delete: %v", got)
	}
	noErr(t, tx.Commit(ctx))

	// Truncate is transactional: a rollback brings the rows back.
	tx = begin(t, st)
	noErr(t, tx.Truncate(ctx, tb))
	if got := dump(t, tx.tx, tb.Name, tb.Columns); len(got) != 0 {
		t.Errorf("after truncate: %v", got)
	}
	noErr(t, tx.Rollback(ctx))
	if got := dump(t, st.DB(), tb.Name, tb.Columns); len(got) != 2 {
		t.Errorf("truncate survived rollback: %v", got)
	}
	// No staging table is left behind in the session... and nothing in the database either.
	var tables int
	noErr(t, st.DB().QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables))
	if tables != 1 {
		t.Errorf("%d tables in the database, want 1", tables)
	}
}

func TestLiveDuplicateKeyAndSavepoint(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := keyTable(t, "dup")
	tx := begin(t, st)
	noErr(t, tx.CreateTable(ctx, tb))
	must[int64](t)(tx.BulkInsert(ctx, tb, src([]any{int64(1), "one", nil, nil})))
	noErr(t, tx.Savepoint(ctx, "batch"))
	for name, rows := range map[string]*rowsOf{
		"existing key":   src([]any{int64(2), "two", nil, nil}, []any{int64(1), "again", nil, nil}),
		"twice in batch": src([]any{int64(5), "a", nil, nil}, []any{int64(5), "b", nil, nil}),
	} {
		_, err := tx.BulkInsert(ctx, tb, rows)
		if !errors.Is(err, dialect.ErrDuplicateKey) {
			t.Fatalf("%s: err = %v, want ErrDuplicateKey", name, err)
		}
		// The failed load left nothing behind, even before the engine's RollbackTo.
		if got := dump(t, tx.tx, tb.Name, tb.Columns); len(got) != 1 {
			t.Fatalf("%s: rows after the failed load: %v", name, got)
		}
		noErr(t, tx.RollbackTo(ctx, "batch"))
	}
	must[int64](t)(tx.Upsert(ctx, tb, src([]any{int64(1), "uno", nil, nil}, []any{int64(2), "dos", nil, nil})))
	noErr(t, tx.Commit(ctx))
	if got := dump(t, st.DB(), tb.Name, tb.Columns); strings.Join(got, ";") != `1|"uno"|NULL|NULL;2|"dos"|NULL|NULL` {
		t.Errorf("after savepoint and upsert: %v", got)
	}
}

func TestLiveValueErrors(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := keyTable(t, "vals")
	tx := begin(t, st)
	noErr(t, tx.CreateTable(ctx, tb))
	noErr(t, tx.Savepoint(ctx, "s"))
	tests := []struct {
		name   string
		row    []any
		column string
		reason string
	}{
		{"string too long (server)", []any{int64(1), strings.Repeat("é", 21), nil, nil}, "name", "truncated"},
		{"tinyint range (Go)", []any{int64(1), nil, int64(256), nil}, "n", "outside tinyint"},
		{"year before 1000 (Go)", []any{int64(1), nil, nil, naive("0999-12-31 00:00:00")}, "d", "0999-12-31"},
		{"NULL key (server)", []any{nil, nil, nil, nil}, "id", "NULL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tx.BulkInsert(ctx, tb, src([]any{int64(7), "ok", nil, nil}, tt.row))
			var ve *dialect.ValueError
			if !errors.As(err, &ve) || ve.Column != tt.column || ve.Row != 2 || !strings.Contains(ve.Reason, tt.reason) {
				t.Fatalf("err = %v, want a ValueError for column %s row 2 mentioning %q", err, tt.column, tt.reason)
			}
			noErr(t, tx.RollbackTo(ctx, "s"))
		})
	}
	// The staging tables of Upsert and Delete carry the table's primary key: a NULL key is refused
	// while loading, as a ValueError naming the row.
	staged := []struct {
		name string
		load func() (int64, error)
	}{
		{"upsert", func() (int64, error) {
			return tx.Upsert(ctx, tb, src([]any{int64(7), "ok", nil, nil}, []any{nil, "x", nil, nil}))
		}},
		{"delete", func() (int64, error) { return tx.Delete(ctx, tb, src([]any{int64(7)}, []any{nil})) }},
	}
	for _, tt := range staged {
		t.Run("NULL key in "+tt.name, func(t *testing.T) {
			_, err := tt.load()
			var ve *dialect.ValueError
			if !errors.As(err, &ve) || ve.Column != "id" || ve.Row != 2 {
				t.Fatalf("err = %v, want a ValueError for column id row 2", err)
			}
			noErr(t, tx.RollbackTo(ctx, "s"))
		})
	}
	if got := dump(t, tx.tx, tb.Name, tb.Columns); len(got) != 0 {
		t.Errorf("rows stored after failed loads: %v", got)
	}
}

func TestLiveAlterEveryKind(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	old := nvarcharTable(t, "evolve", 4, 4000) // fills the row budget with varchar(4000)
	tx := begin(t, st)
	noErr(t, tx.CreateTable(ctx, old))
	must[int64](t)(tx.BulkInsert(ctx, old, src([]any{int64(1), "a", "b", "c", "d"})))
	next := dialect.Table{Name: "evolve", Key: []int{0}, Columns: []typemap.Column{
		old.Columns[0],
		col(t, "c01", "nvarchar(max)", "", true),                      // AlterType
		col(t, "c02", "nvarchar(4000)", "", false),                    // AlterNullability
		col(t, "c03", "nvarchar(4000)", "default ('dflt')", true),     // AlterDefault
		col(t, "c05", "nvarchar(4000)", "default ('new')", true),      // AddColumn, pushes c02 or c03 off the row
		col(t, "c06", "datetime2(7)", "default (getutcdate())", true), // AddColumn with an expression default
	}}
	changes := []dialect.Change{
		{Kind: dialect.AlterType, Old: old.Columns[1], Column: next.Columns[1]},
		{Kind: dialect.AlterNullability, Old: old.Columns[2], Column: next.Columns[2]},
		{Kind: dialect.AlterDefault, Old: old.Columns[3], Column: next.Columns[3]},
		{Kind: dialect.DropColumn, Old: old.Columns[4]},
		{Kind: dialect.AddColumn, Column: next.Columns[4]},
		{Kind: dialect.AddColumn, Column: next.Columns[5]},
	}
	noErr(t, tx.AlterTable(ctx, next, changes))
	must[int64](t)(tx.BulkInsert(ctx, next, src([]any{int64(2), strings.Repeat("x", 5000), "b", nil, strings.Repeat("ü", 4000), nil})))
	noErr(t, tx.Commit(ctx))

	db := st.DB()
	var nullable, dflt sql.NullString
	noErr(t, db.QueryRow("SELECT IS_NULLABLE, COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'evolve' AND COLUMN_NAME = 'c02'").Scan(&nullable, &dflt))
	if nullable.String != "NO" {
		t.Errorf("c02 nullable = %s", nullable.String)
	}
	noErr(t, db.QueryRow("SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'evolve' AND COLUMN_NAME = 'c03'").Scan(&dflt))
	if !strings.Contains(dflt.String, "dflt") {
		t.Errorf("c03 default = %q", dflt.String)
	}
	var cnt int
	noErr(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'evolve' AND COLUMN_NAME = 'c04'").Scan(&cnt))
	if cnt != 0 {
		t.Error("c04 not dropped")
	}
	// Insert through SQL to see the defaults applied.
	_, err := db.Exec("INSERT INTO `evolve` (`id`, `c02`) VALUES (3, 'z')")
	noErr(t, err)
	var c03, c05 string
	var c06 time.Time
	noErr(t, db.QueryRow("SELECT `c03`, `c05`, `c06` FROM `evolve` WHERE `id` = 3").Scan(&c03, &c05, &c06))
	if c03 != "dflt" || c05 != "new" || time.Since(c06) > time.Hour || time.Since(c06) < -time.Hour {
		t.Errorf("defaults: %q %q %v", c03, c05, c06)
	}
	// Dropping the default.
	tx = begin(t, st)
	next.Columns[3].Default = nil
	noErr(t, tx.AlterTable(ctx, next, []dialect.Change{{Kind: dialect.AlterDefault, Old: next.Columns[3], Column: next.Columns[3]}}))
	noErr(t, tx.Commit(ctx))
	noErr(t, db.QueryRow("SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'evolve' AND COLUMN_NAME = 'c03'").Scan(&dflt))
	if dflt.Valid && dflt.String != "NULL" {
		t.Errorf("c03 default after drop = %q", dflt.String)
	}
	tx = begin(t, st)
	noErr(t, tx.DropTable(ctx, "evolve"))
	if ok := must[bool](t)(tx.TableExists(ctx, "evolve")); ok {
		t.Error("table exists after DropTable")
	}
	noErr(t, tx.DropTable(ctx, "evolve")) // IF EXISTS
	noErr(t, tx.Commit(ctx))
}

func TestLiveAlterMovesColumnOffRow(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	old := nvarcharTable(t, "grow", 4, 4000) // four varchar(4000): the row budget is nearly full
	next := nvarcharTable(t, "grow", 5, 4000)
	tx := begin(t, st)
	noErr(t, tx.CreateTable(ctx, old))
	noErr(t, tx.AlterTable(ctx, next, []dialect.Change{{Kind: dialect.AddColumn, Column: next.Columns[5]}}))
	mk := func(id int64) []any {
		r := []any{id}
		for i := 0; i < 5; i++ {
			r = append(r, strings.Repeat("😀", 4000))
		}
		return r
	}
	must[int64](t)(tx.BulkInsert(ctx, next, src(mk(1))))
	noErr(t, tx.Commit(ctx))
	types := map[string]string{}
	rows, err := st.DB().Query("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'grow'")
	noErr(t, err)
	defer rows.Close()
	for rows.Next() {
		var c, ty string
		noErr(t, rows.Scan(&c, &ty))
		types[c] = ty
	}
	if types["c01"] != "text" || types["c05"] != "varchar" {
		t.Errorf("stored types after the alter: %v", types)
	}
	// Altering again with the same definition keeps c01 off the row and changes nothing else.
	tx = begin(t, st)
	noErr(t, tx.AlterTable(ctx, next, nil))
	noErr(t, tx.Commit(ctx))
}

func TestLiveDDLKeepsTransaction(t *testing.T) {
	// After the implicit commit of CREATE TABLE the rest of the Tx must still be one transaction.
	st := openStore(t)
	ctx := context.Background()
	tb := keyTable(t, "after_ddl")
	tx := begin(t, st)
	noErr(t, tx.CreateTable(ctx, tb))
	must[int64](t)(tx.BulkInsert(ctx, tb, src([]any{int64(1), "x", nil, nil})))
	must[int64](t)(tx.Exec(ctx, "INSERT INTO `after_ddl` (`id`) VALUES (?)", 2))
	// An UPDATE that changes nothing still reports the row it matched.
	if n := must[int64](t)(tx.Exec(ctx, "UPDATE `after_ddl` SET `name` = ? WHERE `id` = ?", "x", 1)); n != 1 {
		t.Errorf("unchanged UPDATE reported %d rows, want 1", n)
	}
	// Query reads FLOAT exactly (binary protocol).
	rows, err := tx.Query(ctx, "SELECT CAST(? AS FLOAT)", 3.4028234663852886e38)
	noErr(t, err)
	var f float32
	for rows.Next() {
		noErr(t, rows.Scan(&f))
	}
	rows.Close()
	if f != math.MaxFloat32 {
		t.Errorf("FLOAT read back as %v", f)
	}
	noErr(t, tx.Rollback(ctx))
	if got := dump(t, st.DB(), tb.Name, tb.Columns); len(got) != 0 {
		t.Errorf("rows survived the rollback after DDL: %v", got)
	}
}

func TestLiveLockBlocks(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	// GET_LOCK names are server-wide: keys unique to this run keep parallel test runs apart.
	var db string
	noErr(t, st.DB().QueryRow("SELECT DATABASE()").Scan(&db))
	key1, key2 := db+"/table", db+"/k"
	a := begin(t, st)
	noErr(t, a.Lock(ctx, key1))
	got := make(chan error, 1)
	start := time.Now()
	go func() {
		b, err := st.Begin(ctx)
		if err != nil {
			got <- err
			return
		}
		defer b.Rollback(ctx)
		got <- b.Lock(ctx, key1)
	}()
	select {
	case err := <-got:
		t.Fatalf("second Lock returned at once: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	noErr(t, a.Commit(ctx))
	if err := <-got; err != nil {
		t.Fatalf("second Lock after commit: %v", err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Error("second Lock did not wait")
	}

	// A short timeout gives ErrLockTimeout.
	dsn, _ := tenantDSN(t)
	st2, err := Dialect{}.Open(ctx, withParams(t, dsn, "mirrorsinkLockTimeout", "1s"), dialect.OpenOptions{})
	noErr(t, err)
	defer st2.Close()
	c := begin(t, st2.(*Store))
	noErr(t, c.Lock(ctx, key2))
	d := begin(t, st2.(*Store))
	if err := d.Lock(ctx, key2); !errors.Is(err, ErrLockTimeout) {
		t.Errorf("err = %v, want ErrLockTimeout", err)
	}
	noErr(t, c.Rollback(ctx)) // releases on rollback too
	noErr(t, d.Lock(ctx, key2))
}

func TestLiveHostileNames(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := hostileTable(t)
	tx := begin(t, st)
	noErr(t, tx.CreateTable(ctx, tb))
	if ok := must[bool](t)(tx.TableExists(ctx, tb.Name)); !ok {
		t.Fatal("hostile table not found")
	}
	row := func(k int64, g string) []any {
		return []any{k, g, "v`'\"", int64(1), int64(2), int64(3), int64(4), int64(5), int64(6)}
	}
	must[int64](t)(tx.BulkInsert(ctx, tb, src(row(1, "a"), row(2, "a"), row(1, "b"))))
	must[int64](t)(tx.Upsert(ctx, tb, src(row(1, "a"), row(3, "c"))))
	n := must[int64](t)(tx.Delete(ctx, tb, src([]any{"a", int64(2)}, []any{"b", int64(1)})))
	if n != 2 {
		t.Errorf("deleted %d", n)
	}
	noErr(t, tx.Savepoint(ctx, "sp `x`"))
	noErr(t, tx.RollbackTo(ctx, "sp `x`"))
	noErr(t, tx.Truncate(ctx, tb))
	noErr(t, tx.Commit(ctx))
	if _, err := Quote(strings.Repeat("n", 65)); !errors.Is(err, dialect.ErrNameTooLong) {
		t.Errorf("65 characters: %v", err)
	}
	tx = begin(t, st)
	long := dialect.Table{Name: strings.Repeat("t", 65), Columns: []typemap.Column{col(t, "id", "int", "", false)}, Key: []int{0}}
	if err := tx.CreateTable(ctx, long); !errors.Is(err, dialect.ErrNameTooLong) {
		t.Errorf("CreateTable with a 65-character name: %v", err)
	}
}

func TestLiveRowBudgetTenNVarChar4000(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := nvarcharTable(t, "ten", 10, 4000)
	tx := begin(t, st)
	noErr(t, tx.CreateTable(ctx, tb))
	full := strings.Repeat("😀", 4000) // 16,000 bytes each
	mk := func(id int64) []any {
		r := []any{id}
		for i := 0; i < 10; i++ {
			r = append(r, full)
		}
		return r
	}
	n := must[int64](t)(tx.BulkInsert(ctx, tb, src(mk(1), mk(2))))
	if n != 2 {
		t.Fatalf("stored %d", n)
	}
	must[int64](t)(tx.Upsert(ctx, tb, src(mk(2), mk(3))))
	noErr(t, tx.Commit(ctx))
	var total int64
	noErr(t, st.DB().QueryRow("SELECT SUM(CHAR_LENGTH(`c01`) + CHAR_LENGTH(`c10`)) FROM `ten`").Scan(&total))
	if total != 3*8000 {
		t.Errorf("stored characters %d, want %d", total, 3*8000)
	}
	// Every table of the CREATE golden files is accepted by the server (the in-page limit too).
	tx = begin(t, st)
	for _, g := range createCases(t) {
		if g.table.Name == "ten" {
			continue
		}
		if err := tx.CreateTable(ctx, g.table); err != nil {
			t.Errorf("%s: %v", g.file, err)
		}
	}
	noErr(t, tx.Commit(ctx))
}

func TestLoadErrorLocalInfileDisabled(t *testing.T) {
	for _, n := range []uint16{1148, 2068, 3948, 4166} {
		err := loadError("t", &mysql.MySQLError{Number: n, Message: "disabled"})
		if !strings.Contains(err.Error(), "SET GLOBAL local_infile = 1") {
			t.Errorf("%d: %v", n, err)
		}
	}
	if err := loadError("t", &mysql.MySQLError{Number: 1062}); !errors.Is(err, dialect.ErrDuplicateKey) {
		t.Errorf("1062: %v", err)
	}
}

// failingRows yields good rows, then fails.
type failingRows struct{ rowsOf }

func (r *failingRows) Values() ([]any, error) {
	if r.i == len(r.rows) {
		return nil, errors.New("decoder broke")
	}
	return r.rows[r.i-1], nil
}

func TestLiveNumberErrorsAndSourceFailure(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := dialect.Table{Name: "nums", Key: []int{0}, Columns: []typemap.Column{
		col(t, "id", "int", "", false),
		col(t, "d", "decimal(5,2)", "", true),
		col(t, "f", "float", "", true),
		col(t, "r", "real", "", true),
	}}
	tx := begin(t, st)
	noErr(t, tx.CreateTable(ctx, tb))
	ok := []any{int64(1), typemap.DecimalValue("999.99"), 1.0, 2.0}
	tests := []struct {
		name   string
		row    []any
		column string
	}{
		{"decimal out of range", []any{int64(2), typemap.DecimalValue("1000"), nil, nil}, "d"},
		{"decimal scale", []any{int64(2), typemap.DecimalValue("1.005"), nil, nil}, "d"},
		{"NaN", []any{int64(2), nil, math.NaN(), nil}, "f"},
		{"real above FLT_MAX", []any{int64(2), nil, nil, 3.5e38}, "r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tx.BulkInsert(ctx, tb, src(ok, tt.row))
			var ve *dialect.ValueError
			if !errors.As(err, &ve) || ve.Column != tt.column || ve.Row != 2 {
				t.Fatalf("err = %v, want a ValueError for column %s row 2", err, tt.column)
			}
		})
	}
	rs := &failingRows{rowsOf{rows: [][]any{ok, ok}}}
	if _, err := tx.BulkInsert(ctx, tb, rs); err == nil || !strings.Contains(err.Error(), "decoder broke") {
		t.Errorf("source failure: err = %v", err)
	}
	if _, err := tx.Upsert(ctx, tb, &failingRows{rowsOf{rows: [][]any{ok, ok}}}); err == nil || !strings.Contains(err.Error(), "decoder broke") {
		t.Errorf("source failure in upsert: err = %v", err)
	}
	// Every failed load was undone by BulkInsert's own savepoint.
	if got := dump(t, tx.tx, tb.Name, tb.Columns); len(got) != 0 {
		t.Errorf("rows after failed loads: %v", got)
	}
	must[int64](t)(tx.BulkInsert(ctx, tb, src(ok)))
	noErr(t, tx.Commit(ctx))
}

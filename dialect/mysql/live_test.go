package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// The dialect's own live tests: what the shared suite (conformance_test.go) cannot see from outside,
// such as the session's settings, what the server stores (not only what Read gives back), the row
// budget against the server's limits, and DDL's implicit commits.

// tenantDSN returns the test server's DSN naming the database db, which the test does not create
// (Open does) and drops when it ends.
func tenantDSN(t testing.TB, db string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(testenv.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = db
	t.Cleanup(func() {
		admin := cfg.Clone()
		admin.DBName = ""
		conn, err := sql.Open("mysql", admin.FormatDSN())
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer conn.Close()
		if _, err := conn.Exec("DROP DATABASE IF EXISTS " + quoteIdent(db)); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return cfg.FormatDSN()
}

// freshDSN names a database of its own for the test.
func freshDSN(t testing.TB) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return tenantDSN(t, "mirrorsink_t_"+hex.EncodeToString(b[:]))
}

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

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t testing.TB, dsn string) *Store {
	t.Helper()
	st, err := Dialect{}.Open(context.Background(), dsn, dialect.OpenOptions{Tenant: "t", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*Store)
}

func openStore(t testing.TB) *Store { return open(t, freshDSN(t)) }

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

type queryer interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// dump reads a table as the server stores it, ordered by its first column, one string per row:
// binary as hex, and real through a double, as the text protocol prints FLOAT with six digits.
func dump(t testing.TB, q queryer, table string, cols []typemap.Column) []string {
	t.Helper()
	var sel []string
	for _, c := range cols {
		qc := quoteIdent(c.Name)
		switch c.Type.Kind {
		case typemap.Binary, typemap.VarBinary, typemap.Image, typemap.RowVersion:
			qc = "HEX(" + qc + ")"
		case typemap.Real:
			qc = "CAST(" + qc + " AS DOUBLE)"
		}
		sel = append(sel, qc)
	}
	rows, err := q.QueryContext(context.Background(), "SELECT "+strings.Join(sel, ", ")+" FROM "+quoteIdent(table)+" ORDER BY "+quoteIdent(cols[0].Name))
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
	dsn := freshDSN(t)
	name := must[*mysql.Config](t)(mysql.ParseDSN(dsn)).DBName
	ctx := context.Background()
	for range 2 { // the second Open finds the database
		st := open(t, withParams(t, dsn, "sql_mode", "'ANSI_QUOTES'", "charset", "latin1", LockTimeoutParam, "3s"))
		var coll, mode, tz string
		noErr(t, st.db.QueryRow("SELECT @@collation_database, @@sql_mode, @@time_zone").Scan(&coll, &mode, &tz))
		if coll != "utf8mb4_bin" || tz != "+00:00" || !strings.Contains(mode, "STRICT_ALL_TABLES") || strings.Contains(mode, "ANSI_QUOTES") || strings.Contains(mode, "NO_BACKSLASH_ESCAPES") {
			t.Errorf("session: collation %s, time_zone %s, sql_mode %s", coll, tz, mode)
		}
		if st.lockTimeout != 3*time.Second {
			t.Errorf("lock timeout %v", st.lockTimeout)
		}
	}
	if _, err := (Dialect{}).Open(ctx, dsn, dialect.OpenOptions{Tenant: "t", Schema: "x"}); err == nil {
		t.Error("Open with a schema succeeded")
	}
	if _, err := (Dialect{}).Open(ctx, strings.Replace(dsn, "/"+name, "/", 1), dialect.OpenOptions{Tenant: "t"}); err == nil {
		t.Error("Open without a database succeeded")
	}
	if _, err := (Dialect{}).Open(ctx, dsn, dialect.OpenOptions{Tenant: strings.Repeat("t", 60)}); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("Open for a tenant whose metadata tables MySQL cannot name: %v", err)
	}
}

// allTypesTable has every type of TYPES.md, with defaults of every kind that the server must accept.
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

// everyTypeRows are two rows of allTypesTable: edge values, and mostly NULL.
func everyTypeRows() (rowA, rowB []any) {
	u := typemap.UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	rowA = []any{
		int64(1), true, int64(255), int64(-32768), int64(math.MaxInt64),
		typemap.DecimalValue("-9999999999999999999999999999.9999999999"), typemap.DecimalValue("99999"),
		typemap.DecimalValue("-922337203685477.5808"), typemap.DecimalValue("214748.3647"),
		1.7976931348623157e308, float64(float32(3.4028235e38)),
		naive("1000-01-01 00:00:00"), typemap.TimeOfDay(86399_999_999_900), typemap.TimeOfDay(0),
		naive("1900-01-01 00:00:00"), naive("1753-01-01 00:00:00"),
		naive("9999-12-31 23:59:59.9999999"), naive("2000-01-01 00:00:00.123"),
		mustTime("2020-06-01 12:00:00.0000005 +05:30"),
		"ab", "x", "tab\there\nnl\rcr\\bs\x00nul \\N", "ünï😀", strings.Repeat("ü😀\\\t", 30000), "", "text", "ntext",
		[]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff}, []byte{}, all, []byte{0x09, 0x0a, 0x5c}, []byte{0, 0, 0, 0, 0, 0, 0x07, 0xd1},
		u, u, "<a>&amp;</a>", "/1/2/", "POINT (1 2)", "LINESTRING (0 0, 1 1)", "variant", "sys",
		nil, int64(0), nil,
	}
	rowB = make([]any, len(rowA))
	rowB[0], rowB[1], rowB[15], rowB[21], rowB[41] = int64(2), false, naive("9999-12-31 23:59:59.997"), "", int64(-1)
	rowB[2], rowB[3], rowB[4] = int64(0), int64(32767), int64(math.MinInt64)
	rowB[5], rowB[9], rowB[10] = typemap.DecimalValue("0.0000000001"), -2.2250738585072014e-308, 0.1
	rowB[11], rowB[16], rowB[18] = naive("9999-12-31 00:00:00"), naive("2000-01-01 00:00:00.0000005"), mustTime("1000-01-01 04:00:00 +04:00")
	return rowA, rowB
}

// TestLiveStoredFormOfEveryType checks what the server stores, through SQL rather than Read: the
// defaults of every kind are accepted, datetimeoffset holds the UTC instant, times are rounded to the
// microsecond, binary data arrives unchanged through hex.
func TestLiveStoredFormOfEveryType(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := allTypesTable(t, "all_types")
	tx := begin(t, st)
	noErr(t, tx.Tables().Create(ctx, tb))
	rowA, rowB := everyTypeRows()
	if n := must[int64](t)(tx.Rows().Insert(ctx, tb, src(rowA, rowB))); n != 2 {
		t.Fatalf("Insert stored %d rows, want 2", n)
	}
	got := dump(t, tx.x.SQL(), tb.Name, tb.Columns)
	q := strconv.Quote
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	want := strings.Join([]string{
		"1", "1", "255", "-32768", "9223372036854775807",
		q("-9999999999999999999999999999.9999999999"), q("99999"), q("-922337203685477.5808"), q("214748.3647"),
		"1.7976931348623157e+308", "3.4028235e+38",
		"1000-01-01 00:00:00 UTC", q("23:59:59.999999"), q("00:00:00"),
		"1900-01-01 00:00:00 UTC", "1753-01-01 00:00:00 UTC", "9999-12-31 23:59:59.999999 UTC", "2000-01-01 00:00:00.123 UTC",
		"2020-06-01 06:30:00.000001 UTC",
		q("ab"), q("x"), q("tab\there\nnl\rcr\\bs\x00nul \\N"), q("ünï😀"), q(rowA[23].(string)), q(""), q("text"), q("ntext"),
		q("000102030405060708090A0B0C0D0EFF"), q(""), q(strings.ToUpper(hex.EncodeToString(all))), q("090A5C"), q("00000000000007D1"),
		q("6f9619ff-8b86-d011-b42d-00c04fc964ff"), q("6f9619ff-8b86-d011-b42d-00c04fc964ff"), q("<a>&amp;</a>"), q("/1/2/"), q("POINT (1 2)"), q("LINESTRING (0 0, 1 1)"), q("variant"), q("sys"),
		"NULL", "0", "NULL",
	}, "|")
	if len(got) != 2 || got[0] != want {
		t.Fatalf("row 1 differs:\n got %.600s\nwant %.600s", got[0], want)
	}
	for _, part := range []string{"2|0|0|32767|-9223372036854775808", `"0.0000000001"`, "-2.2250738585072014e-308|0.1|", "9999-12-31 00:00:00 UTC", "9999-12-31 23:59:59.997 UTC", "2000-01-01 00:00:00.000001 UTC", "1000-01-01 00:00:00 UTC", "|-1|"} {
		if !strings.Contains(got[1], part) {
			t.Errorf("row 2 lacks %q: %.400s", part, got[1])
		}
	}
	// The server's defaults: every kind renders to something the server fills in (CONCAT_WS skips
	// the NULLs of the dropped ones).
	_, err := tx.x.Exec(ctx, "INSERT INTO `all_types` (`id`, `c_varchar`, `c_null_notnull`) VALUES (3, 'v', 0)")
	noErr(t, err)
	var dflt string
	noErr(t, tx.x.SQL().QueryRowContext(ctx, "SELECT CONCAT_WS('|', `c_bit`, `c_tinyint`, `c_smallint`, `c_bigint`, `c_decimal`, `c_money`, `c_float`, `c_date`, `c_datetime2_3`, `c_char`, `c_nvarchar`, `c_varchar_max`, `c_uuid_lit`, `c_null_notnull`, LENGTH(`c_uuid`), `c_dto` IS NOT NULL) FROM `all_types` WHERE `id` = 3").Scan(&dflt))
	if got, want := dflt, "1|255|-32768|42|-1.5000000000|0.0000|15000000000|2001-02-03|1999-12-31 23:59:59.123|ab|ünï|long|6f9619ff-8b86-d011-b42d-00c04fc964ff|0|36|1"; got != want {
		t.Errorf("defaults:\n got %s\nwant %s", got, want)
	}
	noErr(t, tx.Commit(ctx, dialect.Durable))
}

// TestLiveReadHandsNormalisedValues checks the Go types Read hands out, which the shared suite's
// canonical comparison would accept in other forms too.
func TestLiveReadHandsNormalisedValues(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := allTypesTable(t, "all_types")
	tx := begin(t, st)
	noErr(t, tx.Tables().Create(ctx, tb))
	rowA, _ := everyTypeRows()
	must[int64](t)(tx.Rows().Insert(ctx, tb, src(rowA)))
	rows := 0
	noErr(t, tx.Tables().Read(ctx, tb, func(values []any) error {
		rows++
		for i, c := range tb.Columns {
			var ok bool
			switch v := values[i]; {
			case v == nil:
				ok = rowA[i] == nil
			case c.Type.Kind == typemap.Bit:
				_, ok = v.(bool)
			case c.Type.IsInteger():
				_, ok = v.(int64)
			case c.Type.IsDecimal():
				_, ok = v.(typemap.DecimalValue)
			case c.Type.IsFloat():
				_, ok = v.(float64)
			case c.Type.Kind == typemap.Time:
				_, ok = v.(typemap.TimeOfDay)
			case c.Type.IsTemporal():
				var tm time.Time
				tm, ok = v.(time.Time)
				ok = ok && tm.Location() == time.UTC
			case c.Type.IsBinary():
				_, ok = v.([]byte)
			case c.Type.Kind == typemap.UniqueIdentifier:
				_, ok = v.(typemap.UUID)
			default:
				_, ok = v.(string)
			}
			if !ok {
				t.Errorf("%s (%s): Read handed a %T", c.Name, c.Type, values[i])
			}
		}
		return nil
	}))
	if rows != 1 {
		t.Errorf("Read handed %d rows, want 1", rows)
	}
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
	noErr(t, tx.Tables().Create(ctx, tb))
	must[int64](t)(tx.Rows().Insert(ctx, tb, src(
		[]any{int64(1), "one", int64(1), nil},
		[]any{int64(2), "two", int64(2), nil},
		[]any{int64(3), "three", int64(3), nil},
	)))
	n := must[int64](t)(tx.Rows().Upsert(ctx, tb, src(
		[]any{int64(2), "TWO", nil, naive("2020-01-01 00:00:00")},
		[]any{int64(3), "three", int64(3), nil}, // unchanged
		[]any{int64(4), "four", int64(4), nil},
	)))
	if n != 3 {
		t.Errorf("Upsert wrote %d, want 3", n)
	}
	want := []string{`1|"one"|1|NULL`, `2|"TWO"|NULL|2020-01-01 00:00:00 UTC`, `3|"three"|3|NULL`, `4|"four"|4|NULL`}
	if got := dump(t, tx.x.SQL(), tb.Name, tb.Columns); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after upsert:\n%s", strings.Join(got, "\n"))
	}
	n = must[int64](t)(tx.Rows().Delete(ctx, tb, src([]any{int64(1)}, []any{int64(4)}, []any{int64(99)})))
	if n != 2 {
		t.Errorf("Delete removed %d, want 2", n)
	}
	if got := dump(t, tx.x.SQL(), tb.Name, tb.Columns); len(got) != 2 || got[0] != want[1] || got[1] != want[2] {
		t.Errorf("after delete: %v", got)
	}
	noErr(t, tx.Commit(ctx, dialect.Durable))

	// Truncate is transactional: a rollback brings the rows back.
	tx = begin(t, st)
	noErr(t, tx.Tables().Truncate(ctx, tb))
	if got := dump(t, tx.x.SQL(), tb.Name, tb.Columns); len(got) != 0 {
		t.Errorf("after truncate: %v", got)
	}
	noErr(t, tx.Rollback(ctx))
	if got := dump(t, st.db, tb.Name, tb.Columns); len(got) != 2 {
		t.Errorf("truncate survived rollback: %v", got)
	}
	// No staging table is left behind in the session, and nothing in the database either.
	var tables int
	noErr(t, st.db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables))
	if tables != 1 {
		t.Errorf("%d tables in the database, want 1", tables)
	}
}

func TestLiveValueErrors(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := keyTable(t, "vals")
	tx := begin(t, st)
	noErr(t, tx.Tables().Create(ctx, tb))
	tests := []struct {
		name   string
		row    []any
		column string
		reason string
	}{
		{"string too long (server)", []any{int64(1), strings.Repeat("é", 21), nil, nil}, "name", "truncated"},
		{"tinyint range (Go)", []any{int64(1), nil, int64(256), nil}, "n", "outside tinyint"},
		{"year before 1000 (Go)", []any{int64(1), nil, nil, naive("0999-12-31 00:00:00")}, "d", "before year 1000"},
		{"NULL key (server)", []any{nil, nil, nil, nil}, "id", "NULL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tx.Rows().Insert(ctx, tb, src([]any{int64(7), "ok", nil, nil}, tt.row))
			var ve *dialect.ValueError
			if !errors.As(err, &ve) || ve.Column != tt.column || ve.Row != 2 || !strings.Contains(ve.Reason, tt.reason) {
				t.Fatalf("err = %v, want a ValueError for column %s row 2 mentioning %q", err, tt.column, tt.reason)
			}
		})
	}
	// A value the server refuses is named by column and row on the staged path too, and the error
	// never quotes the value, which is row data.
	long := strings.Repeat("ü", 21)
	for _, path := range []string{"Insert", "Upsert"} {
		write := tx.Rows().Insert
		if path == "Upsert" {
			write = tx.Rows().Upsert
		}
		_, err := write(ctx, tb, src([]any{int64(7), "ok", nil, nil}, []any{int64(8), long, nil, nil}))
		var ve *dialect.ValueError
		if !errors.As(err, &ve) || ve.Column != "name" || ve.Row != 2 {
			t.Errorf("%s of a value too long: %v, want a ValueError for column name row 2", path, err)
		}
		if err != nil && strings.Contains(err.Error(), "üü") {
			t.Errorf("%s: the error quotes the value: %v", path, err)
		}
	}
	// The staging tables of Upsert and Delete carry the table's primary key: a NULL key is refused
	// while loading, as a ValueError naming the row.
	staged := []struct {
		name string
		load func() (int64, error)
	}{
		{"upsert", func() (int64, error) {
			return tx.Rows().Upsert(ctx, tb, src([]any{int64(7), "ok", nil, nil}, []any{nil, "x", nil, nil}))
		}},
		{"delete", func() (int64, error) { return tx.Rows().Delete(ctx, tb, src([]any{int64(7)}, []any{nil})) }},
	}
	for _, tt := range staged {
		t.Run("NULL key in "+tt.name, func(t *testing.T) {
			_, err := tt.load()
			var ve *dialect.ValueError
			if !errors.As(err, &ve) || ve.Column != "id" || ve.Row != 2 {
				t.Fatalf("err = %v, want a ValueError for column id row 2", err)
			}
		})
	}
	// Every failed Insert undid itself, and the staged ones never reached the table.
	if got := dump(t, tx.x.SQL(), tb.Name, tb.Columns); len(got) != 0 {
		t.Errorf("rows stored after failed loads: %v", got)
	}
}

func TestLiveAlterEveryKind(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	old := nvarcharTable(t, "evolve", 4, 4000) // fills the row budget with varchar(4000)
	tx := begin(t, st)
	noErr(t, tx.Tables().Create(ctx, old))
	must[int64](t)(tx.Rows().Insert(ctx, old, src([]any{int64(1), "a", "b", "c", "d"})))
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
	noErr(t, conformance.NoLoss(tx.Tables().Alter(ctx, next, changes)))
	must[int64](t)(tx.Rows().Insert(ctx, next, src([]any{int64(2), strings.Repeat("x", 5000), "b", nil, strings.Repeat("ü", 4000), nil})))
	noErr(t, tx.Commit(ctx, dialect.Durable))

	db := st.db
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
	noErr(t, conformance.NoLoss(tx.Tables().Alter(ctx, next, []dialect.Change{{Kind: dialect.AlterDefault, Old: next.Columns[3], Column: next.Columns[3]}})))
	noErr(t, tx.Commit(ctx, dialect.Durable))
	noErr(t, db.QueryRow("SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'evolve' AND COLUMN_NAME = 'c03'").Scan(&dflt))
	if dflt.Valid && dflt.String != "NULL" {
		t.Errorf("c03 default after drop = %q", dflt.String)
	}
}

func TestLiveAlterMovesColumnOffRow(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	old := nvarcharTable(t, "grow", 4, 4000) // four varchar(4000): the row budget is nearly full
	next := nvarcharTable(t, "grow", 5, 4000)
	tx := begin(t, st)
	noErr(t, tx.Tables().Create(ctx, old))
	noErr(t, conformance.NoLoss(tx.Tables().Alter(ctx, next, []dialect.Change{{Kind: dialect.AddColumn, Column: next.Columns[5]}})))
	mk := func(id int64) []any {
		r := []any{id}
		for range 5 {
			r = append(r, strings.Repeat("😀", 4000))
		}
		return r
	}
	must[int64](t)(tx.Rows().Insert(ctx, next, src(mk(1))))
	noErr(t, tx.Commit(ctx, dialect.Durable))
	types := map[string]string{}
	rows, err := st.db.Query("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'grow'")
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
	noErr(t, conformance.NoLoss(tx.Tables().Alter(ctx, next, nil)))
	noErr(t, tx.Commit(ctx, dialect.Durable))
}

// TestLiveDDLKeepsTransaction checks that after DDL's implicit commit, succeeded or failed, the rest
// of the Tx is still one transaction, and that an Alter refused by its checks commits nothing.
func TestLiveDDLKeepsTransaction(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := keyTable(t, "after_ddl")
	tx := begin(t, st)
	noErr(t, tx.Meta().Migrate(ctx, time.Now()))
	noErr(t, tx.Tables().Create(ctx, tb))
	must[int64](t)(tx.Rows().Insert(ctx, tb, src([]any{int64(1), "x", nil, nil})))
	must[int64](t)(tx.x.Exec(ctx, "INSERT INTO `after_ddl` (`id`) VALUES (?)", 2))
	// An UPDATE that changes nothing still reports the row it matched.
	if n := must[int64](t)(tx.x.Exec(ctx, "UPDATE `after_ddl` SET `name` = ? WHERE `id` = ?", "x", 1)); n != 1 {
		t.Errorf("unchanged UPDATE reported %d rows, want 1", n)
	}
	// Queries read FLOAT exactly (binary protocol).
	var f float32
	must[bool](t)(tx.x.QueryRow(ctx, "SELECT CAST(? AS FLOAT)", []any{3.4028234663852886e38}, &f))
	if f != math.MaxFloat32 {
		t.Errorf("FLOAT read back as %v", f)
	}
	noErr(t, tx.Rollback(ctx))
	if got := dump(t, st.db, tb.Name, tb.Columns); len(got) != 0 {
		t.Errorf("rows survived the rollback after DDL: %v", got)
	}

	// A DDL statement that fails has committed too (MySQL commits before it runs one), so the
	// transaction must be started again all the same.
	tx = begin(t, st)
	if err := tx.Tables().Create(ctx, tb); err == nil {
		t.Fatal("creating an existing table succeeded")
	}
	must[int64](t)(tx.Rows().Insert(ctx, tb, src([]any{int64(3), "after a failed DDL", nil, nil})))
	noErr(t, tx.Rollback(ctx))
	if got := dump(t, st.db, tb.Name, tb.Columns); len(got) != 0 {
		t.Errorf("rows survived the rollback after a failed DDL: %v", got)
	}

	// An Alter that its checks refuse sends no DDL, so it commits nothing.
	tx = begin(t, st)
	noErr(t, tx.Meta().PutTable(ctx, dialect.TableMeta{Table: "after_ddl", LSN: 5, SchemaHash: "h", SchemaJSON: "{}", SchemaChanged: time.Now()}))
	gone := col(t, "gone", "int", "", true)
	if err := conformance.NoLoss(tx.Tables().Alter(ctx, tb, []dialect.Change{{Kind: dialect.DropColumn, Old: gone}})); err == nil {
		t.Fatal("dropping a column that does not exist succeeded")
	}
	noErr(t, tx.Rollback(ctx))
	tx = begin(t, st)
	if _, ok, err := tx.Meta().Table(ctx, "after_ddl"); ok || err != nil {
		t.Errorf("the metadata written before a refused Alter was committed (err %v)", err)
	}
}

// TestLiveLockTimeout checks the DSN's lock timeout, and that a rollback releases the lock too.
func TestLiveLockTimeout(t *testing.T) {
	ctx := context.Background()
	st := open(t, withParams(t, freshDSN(t), LockTimeoutParam, "1s"))
	// GET_LOCK names are server-wide: keys unique to this run keep parallel test runs apart.
	var db string
	noErr(t, st.db.QueryRow("SELECT DATABASE()").Scan(&db))
	key := db + "/k"
	c := begin(t, st)
	noErr(t, c.Lock(ctx, key))
	d := begin(t, st)
	start := time.Now()
	if err := d.Lock(ctx, key); !errors.Is(err, errLockTimeout) {
		t.Errorf("err = %v, want errLockTimeout", err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond || waited > 5*time.Second {
		t.Errorf("Lock waited %v with a timeout of 1s", waited)
	}
	noErr(t, c.Rollback(ctx))
	noErr(t, d.Lock(ctx, key))
}

// TestLiveRowBudget checks the planner against the server: ten nvarchar(4000) columns full of 4-byte
// characters load and upsert, and every table of the shared scenarios is accepted (the in-page limit
// too, which innodb_strict_mode checks at CREATE).
func TestLiveRowBudget(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := nvarcharTable(t, "ten", 10, 4000)
	tx := begin(t, st)
	noErr(t, tx.Tables().Create(ctx, tb))
	full := strings.Repeat("😀", 4000) // 16,000 bytes each
	mk := func(id int64) []any {
		r := []any{id}
		for range 10 {
			r = append(r, full)
		}
		return r
	}
	if n := must[int64](t)(tx.Rows().Insert(ctx, tb, src(mk(1), mk(2)))); n != 2 {
		t.Fatalf("stored %d", n)
	}
	must[int64](t)(tx.Rows().Upsert(ctx, tb, src(mk(2), mk(3))))
	noErr(t, tx.Commit(ctx, dialect.Durable))
	var total int64
	noErr(t, st.db.QueryRow("SELECT SUM(CHAR_LENGTH(`c01`) + CHAR_LENGTH(`c10`)) FROM `ten`").Scan(&total))
	if total != 3*8000 {
		t.Errorf("stored characters %d, want %d", total, 3*8000)
	}
	scenarios, err := conformance.Scenarios()
	noErr(t, err)
	tx = begin(t, st)
	for _, sc := range append(scenarios, conformance.Scenario{Name: "budget_fits", Table: nvarcharTable(t, "fits", 15, 1000)}) {
		if sc.Table.Name == "ten" {
			continue
		}
		if err := tx.Tables().Create(ctx, sc.Table); err != nil {
			t.Errorf("%s: %v", sc.Name, err)
		}
	}
	noErr(t, tx.Commit(ctx, dialect.Durable))
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
	noErr(t, tx.Tables().Create(ctx, tb))
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
			_, err := tx.Rows().Insert(ctx, tb, src(ok, tt.row))
			var ve *dialect.ValueError
			if !errors.As(err, &ve) || ve.Column != tt.column || ve.Row != 2 {
				t.Fatalf("err = %v, want a ValueError for column %s row 2", err, tt.column)
			}
		})
	}
	rs := &failingRows{rowsOf{rows: [][]any{ok, ok}}}
	if _, err := tx.Rows().Insert(ctx, tb, rs); err == nil || !strings.Contains(err.Error(), "decoder broke") {
		t.Errorf("source failure: err = %v", err)
	}
	if _, err := tx.Rows().Upsert(ctx, tb, &failingRows{rowsOf{rows: [][]any{ok, ok}}}); err == nil || !strings.Contains(err.Error(), "decoder broke") {
		t.Errorf("source failure in upsert: err = %v", err)
	}
	// Every failed load was undone by Insert's own savepoint.
	if got := dump(t, tx.x.SQL(), tb.Name, tb.Columns); len(got) != 0 {
		t.Errorf("rows after failed loads: %v", got)
	}
	must[int64](t)(tx.Rows().Insert(ctx, tb, src(ok)))
	noErr(t, tx.Commit(ctx, dialect.Durable))
}

// TestLiveRecreateKeepsPartnersObjects: a recreate adds a partner's indexes, constraints and triggers
// to the new table (MySQL drops them with the old one; views and grants survive by name), and reports
// those of a column that is gone.
func TestLiveRecreateKeepsPartnersObjects(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	tb := keyTable(t, "contact")
	tx := begin(t, st)
	noErr(t, tx.Tables().Create(ctx, tb))
	for _, s := range []string{
		"CREATE TABLE `audit` (`id` int)",
		"CREATE INDEX `contact_by_name` ON `contact` (`name`(10) DESC, `n`)",
		"ALTER TABLE `contact` ADD CONSTRAINT `contact_n_small` CHECK (`n` < 100)",
		"CREATE TRIGGER `contact_audit` AFTER INSERT ON `contact` FOR EACH ROW INSERT INTO `audit` VALUES (NEW.`id`)",
		"CREATE VIEW `contact_names` AS SELECT `id`, `name` FROM `contact`",
	} {
		noErr(t, tx.RunStatement(ctx, s))
	}
	lost := must[[]dialect.LostObject](t)(tx.Tables().Recreate(ctx, tb))
	if len(lost) != 0 {
		t.Errorf("a recreate of the same shape lost %v", lost)
	}
	must[int64](t)(tx.Rows().Insert(ctx, tb, src([]any{int64(1), "a", int64(5), nil})))
	if n := must[int64](t)(tx.Tables().Count(ctx, "audit")); n != 1 {
		t.Errorf("the partner's trigger recorded %d rows, want 1", n)
	}
	if n := must[int64](t)(tx.Tables().Count(ctx, "contact_names")); n != 1 {
		t.Errorf("the partner's view shows %d rows, want 1", n)
	}
	if err := tx.RunStatement(ctx, "INSERT INTO `contact` (`id`, `n`) VALUES (2, 200)"); err == nil {
		t.Error("the partner's check constraint is gone")
	}
	// Dropping name in place takes an index of name alone with it, and says so.
	noErr(t, tx.RunStatement(ctx, "CREATE INDEX `contact_name` ON `contact` (`name`)"))
	noName := dialect.Table{Name: "contact", Key: []int{0}, Columns: []typemap.Column{tb.Columns[0], tb.Columns[2], tb.Columns[3]}}
	lost = must[[]dialect.LostObject](t)(tx.Tables().Alter(ctx, noName, []dialect.Change{{Kind: dialect.DropColumn, Old: tb.Columns[1]}}))
	if len(lost) != 1 || lost[0].Object != "index `contact_name` on `contact`" {
		t.Errorf("dropping name in place lost %v, want its index", lost)
	}
	noErr(t, tx.RunStatement(ctx, "DROP VIEW `contact_names`"))
	tb = noName

	// Without n, the index and the check of n go, and say so; the trigger stays.
	without := dialect.Table{Name: "contact", Key: []int{0}, Columns: []typemap.Column{tb.Columns[0], tb.Columns[2]}}
	lost = must[[]dialect.LostObject](t)(tx.Tables().Recreate(ctx, without))
	var names []string
	for _, o := range lost {
		names = append(names, o.Object)
	}
	if got := strings.Join(names, "; "); got != "index `contact_by_name` on `contact`; constraint `contact_n_small` on `contact`" {
		t.Errorf("a recreate without n lost %q", got)
	}
	must[int64](t)(tx.Rows().Insert(ctx, without, src([]any{int64(3), nil})))
	if n := must[int64](t)(tx.Tables().Count(ctx, "audit")); n != 2 {
		t.Errorf("the partner's trigger recorded %d rows, want 2", n)
	}
}

package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// rowsOf is a dialect.RowSource over rows held in memory.
type rowsOf struct {
	rows [][]any
	i    int
}

func (r *rowsOf) Next() bool {
	r.i++
	return r.i <= len(r.rows)
}
func (r *rowsOf) Values() ([]any, error) { return r.rows[r.i-1], nil }
func (r *rowsOf) Err() error             { return nil }

func source(rows ...[]any) *rowsOf { return &rowsOf{rows: rows} }

func randomSuffix(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// withDatabase returns the test DSN pointed at database db.
func withDatabase(t testing.TB, dsn, db string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Host: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))),
		Path: "/" + db, RawQuery: "sslmode=disable"}
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	}
	return u.String()
}

// admin runs statements on the test database itself, outside the dialect.
func admin(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// logBuffer collects the dialect's warnings.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// openTenant opens a fresh tenant database (created by Open) and drops it when the test ends.
func openTenant(t *testing.T) (dialect.Store, *logBuffer) {
	t.Helper()
	base := testenv.Postgres(t)
	db := "mirrorsink_pgtest_" + randomSuffix(t)
	logs := &logBuffer{}
	st, err := Dialect{}.Open(context.Background(), withDatabase(t, base, db), dialect.OpenOptions{
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(logs), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		admin(t, base, "DROP DATABASE IF EXISTS "+quoteUnchecked(db)+" WITH (FORCE)")
	})
	return st, logs
}

func begin(t *testing.T, st dialect.Store) dialect.Tx {
	t.Helper()
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// queryStrings returns the rows of a query whose columns are all text (NULL as "<NULL>").
func queryStrings(t *testing.T, tx dialect.Tx, sql string, args ...any) [][]string {
	t.Helper()
	rows, err := tx.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := rows.(pgx.Rows).FieldDescriptions()
		dest := make([]pgtype.Text, len(vals))
		ptrs := make([]any, len(vals))
		for i := range dest {
			ptrs[i] = &dest[i]
		}
		must(t, rows.Scan(ptrs...))
		row := make([]string, len(dest))
		for i, d := range dest {
			row[i] = "<NULL>"
			if d.Valid {
				row[i] = d.String
			}
		}
		out = append(out, row)
	}
	must(t, rows.Err())
	return out
}

func simpleTable(t testing.TB, name string) dialect.Table {
	return dialect.Table{Name: name, Key: []int{0}, Columns: []typemap.Column{
		col(t, "id", "int", false, ""),
		col(t, "name", "nvarchar(20)", true, ""),
		col(t, "n", "int", true, ""),
	}}
}

func TestLiveOpen(t *testing.T) {
	base := testenv.Postgres(t)
	ctx := context.Background()
	db := "mirrorsink_pgtest_" + randomSuffix(t)
	defer admin(t, base, "DROP DATABASE IF EXISTS "+quoteUnchecked(db)+" WITH (FORCE)")
	dsn := withDatabase(t, base, db)

	// Several replicas opening a new tenant at once must all succeed.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := Dialect{}.Open(ctx, dsn, dialect.OpenOptions{})
			if err == nil {
				st.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}

	// Schema per tenant, with a hostile schema name: tables land in it, and TableExists looks only there.
	schema := `Tenant "A" ` + randomSuffix(t)
	st, err := Dialect{}.Open(ctx, dsn, dialect.OpenOptions{Schema: schema})
	must(t, err)
	defer st.Close()
	tx := begin(t, st)
	tbl := simpleTable(t, "user")
	must(t, tx.CreateTable(ctx, tbl))
	n, err := tx.BulkInsert(ctx, tbl, source([]any{int64(1), "a", nil}))
	must(t, err)
	if n != 1 {
		t.Fatalf("BulkInsert = %d, want 1", n)
	}
	_, err = tx.Upsert(ctx, tbl, source([]any{int64(1), "b", int64(2)}))
	must(t, err)
	got := queryStrings(t, tx, `SELECT schemaname::text, tablename::text, current_setting('TimeZone') FROM pg_tables WHERE tablename = 'user'`)
	if len(got) != 1 || got[0][0] != schema || got[0][2] != "UTC" {
		t.Fatalf("table placement / time zone = %v, want one table in %q and UTC", got, schema)
	}
	must(t, tx.Commit(ctx))

	plain, err := Dialect{}.Open(ctx, dsn, dialect.OpenOptions{})
	must(t, err)
	defer plain.Close()
	tx2 := begin(t, plain)
	ok, err := tx2.TableExists(ctx, "user")
	must(t, err)
	if ok {
		t.Error(`TableExists("user") in schema public = true, want false (it is in the tenant schema)`)
	}
	st2, err := Dialect{}.Open(ctx, dsn, dialect.OpenOptions{Schema: schema})
	must(t, err)
	defer st2.Close()
	tx3 := begin(t, st2)
	ok, err = tx3.TableExists(ctx, "user")
	must(t, err)
	if !ok {
		t.Error(`TableExists("user") in the tenant schema = false, want true`)
	}

	if _, err := (Dialect{}).Open(ctx, withDatabase(t, base, strings.Repeat("d", 64)), dialect.OpenOptions{}); !errors.Is(err, dialect.ErrNameTooLong) {
		t.Errorf("Open with a 64-byte database name: %v, want ErrNameTooLong", err)
	}
}

func dt(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

func TestLiveRoundTripEveryType(t *testing.T) {
	st, _ := openTenant(t)
	ctx := context.Background()
	tx := begin(t, st)
	tbl := allTypesTable(t)
	must(t, tx.CreateTable(ctx, tbl))

	uuid := typemap.UUID{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	long := strings.Repeat("long text ✓ ", 10000)
	plus14 := time.FixedZone("+14", 14*3600)
	minus14 := time.FixedZone("-14", -14*3600)
	india := time.FixedZone("+0530", 5*3600+1800)
	// Each case: the column, the value of row 1 (maxima), of row 2 (minima), and what PostgreSQL gives
	// back as text (char columns: as stored, padded).
	cases := []struct {
		col       string
		v1, v2    any
		want1, w2 string
	}{
		{"c_bit", true, false, "true", "false"},
		{"c_tinyint", int64(255), int64(0), "255", "0"},
		{"c_smallint", int64(32767), int64(-32768), "32767", "-32768"},
		{"c_int", int64(math.MaxInt32), int64(math.MinInt32), "2147483647", "-2147483648"},
		{"c_bigint", int64(math.MaxInt64), int64(math.MinInt64), "9223372036854775807", "-9223372036854775808"},
		{"c_decimal", typemap.DecimalValue("9999999999999999999999999999.9999999999"), typemap.DecimalValue("-0.0000000001"),
			"9999999999999999999999999999.9999999999", "-0.0000000001"},
		{"c_numeric", typemap.DecimalValue("99999"), typemap.DecimalValue("-99999"), "99999", "-99999"},
		{"c_money", typemap.DecimalValue("922337203685477.5807"), typemap.DecimalValue("-922337203685477.5808"),
			"922337203685477.5807", "-922337203685477.5808"},
		{"c_smallmoney", typemap.DecimalValue("214748.3647"), typemap.DecimalValue("0"), "214748.3647", "0.0000"},
		{"c_float", math.MaxFloat64, -math.SmallestNonzeroFloat64, "1.7976931348623157e+308", "-5e-324"},
		{"c_float24", float64(float32(0.1)), float64(-math.SmallestNonzeroFloat32), "0.1", "-1e-45"},
		{"c_real", float64(math.MaxFloat32), 0.0, "3.4028235e+38", "0"},
		{"c_date", dt(9999, 12, 31, 0, 0, 0, 0), dt(1, 1, 1, 0, 0, 0, 0), "9999-12-31", "0001-01-01"},
		{"c_time", typemap.TimeOfDay(24*time.Hour - 100), typemap.TimeOfDay(500), "23:59:59.999999", "00:00:00.000001"},
		{"c_time0", typemap.TimeOfDay(12*time.Hour + 34*time.Minute + 56*time.Second), typemap.TimeOfDay(0), "12:34:56", "00:00:00"},
		{"c_smalldatetime", dt(2079, 6, 6, 23, 59, 0, 0), dt(1900, 1, 1, 0, 0, 0, 0), "2079-06-06 23:59:00", "1900-01-01 00:00:00"},
		{"c_datetime", dt(9999, 12, 31, 23, 59, 59, 997000000), dt(1753, 1, 1, 0, 0, 0, 3000000),
			"9999-12-31 23:59:59.997", "1753-01-01 00:00:00.003"},
		{"c_datetime2", dt(9999, 12, 31, 23, 59, 59, 999999900), dt(1, 1, 1, 0, 0, 0, 500),
			"9999-12-31 23:59:59.999999", "0001-01-01 00:00:00.000001"},
		{"c_datetime2_3", dt(2020, 2, 29, 12, 0, 0, 123000000), dt(2000, 1, 1, 0, 0, 0, 0),
			"2020-02-29 12:00:00.123", "2000-01-01 00:00:00"},
		{"c_datetimeoffset", time.Date(9999, 12, 31, 23, 59, 59, 999999900, plus14), time.Date(1, 1, 1, 0, 0, 0, 0, minus14),
			"9999-12-31 09:59:59.999999+00", "0001-01-01 14:00:00+00"},
		{"c_datetimeoffset0", time.Date(2020, 6, 30, 23, 59, 59, 0, india), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
			"2020-06-30 18:29:59+00", "2020-01-01 00:00:00+00"},
		{"c_char", "abc", "0123456789", "abc       ", "0123456789"},
		{"c_nchar", "名前", "", "名前   ", "     "},
		{"c_varchar", strings.Repeat("x", 50), "", strings.Repeat("x", 50), ""},
		{"c_nvarchar", "ünïcödé 名前 😀 \t\n'\"\\", " trailing ", "ünïcödé 名前 😀 \t\n'\"\\", " trailing "},
		{"c_varcharmax", long, "", long, ""},
		{"c_nvarcharmax", long, "x", long, "x"},
		{"c_text", "line1\r\nline2", "", "line1\r\nline2", ""},
		{"c_ntext", "ntext", "", "ntext", ""},
		{"c_binary", []byte{0, 1, 2, 0xfe, 0xff}, []byte{}, `\x000102feff`, `\x`},
		{"c_varbinary", []byte("abc"), []byte{0}, `\x616263`, `\x00`},
		{"c_varbinarymax", bytes.Repeat([]byte{0xab}, 3), []byte{}, `\xababab`, `\x`},
		{"c_image", []byte{1}, []byte{}, `\x01`, `\x`},
		{"c_rowversion", []byte{0, 0, 0, 0, 0, 0, 0x07, 0xd1}, []byte{0, 0, 0, 0, 0, 0, 0, 1}, `\x00000000000007d1`, `\x0000000000000001`},
		{"c_timestamp", []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{0, 0, 0, 0, 0, 0, 0, 0}, `\x0102030405060708`, `\x0000000000000000`},
		{"c_uniqueidentifier", uuid, typemap.UUID{}, "00112233-4455-6677-8899-aabbccddeeff", "00000000-0000-0000-0000-000000000000"},
		{"c_xml", "<a>&amp;</a>", "", "<a>&amp;</a>", ""},
		{"c_hierarchyid", "/1/2/", "/", "/1/2/", "/"},
		{"c_geography", "POINT (1 2)", "", "POINT (1 2)", ""},
		{"c_geometry", "LINESTRING (0 0, 1 1)", "", "LINESTRING (0 0, 1 1)", ""},
		{"c_sql_variant", "42", "", "42", ""},
		{"c_sysname", strings.Repeat("s", 128), "dbo", strings.Repeat("s", 128), "dbo"},
	}
	if len(cases) != len(tbl.Columns)-1 {
		t.Fatalf("%d cases for %d columns", len(cases), len(tbl.Columns)-1)
	}
	row1, row2, row3 := []any{int64(1)}, []any{int64(2)}, []any{int64(3)}
	var sel []string
	for i, c := range cases {
		if tbl.Columns[i+1].Name != c.col {
			t.Fatalf("case %d is %s, column is %s", i, c.col, tbl.Columns[i+1].Name)
		}
		row1, row2, row3 = append(row1, c.v1), append(row2, c.v2), append(row3, nil)
		expr := quoteUnchecked(c.col) + "::text"
		if strings.HasPrefix(c.col, "c_char") || strings.HasPrefix(c.col, "c_nchar") {
			// bpchar::text drops the padding; read the stored value as is.
			expr = quoteUnchecked(c.col)
		}
		sel = append(sel, expr)
	}
	n, err := tx.BulkInsert(ctx, tbl, source(row1, row2, row3))
	must(t, err)
	if n != 3 {
		t.Fatalf("BulkInsert = %d rows, want 3", n)
	}
	got := queryStrings(t, tx, "SELECT "+strings.Join(sel, ", ")+` FROM "all_types" ORDER BY id`)
	if len(got) != 3 {
		t.Fatalf("read %d rows, want 3", len(got))
	}
	for i, c := range cases {
		for r, want := range []string{c.want1, c.w2, "<NULL>"} {
			if got[r][i] != want {
				g, w := got[r][i], want
				if len(g) > 80 || len(w) > 80 {
					g, w = g[:min(len(g), 80)]+"…", w[:min(len(w), 80)]+"…"
				}
				t.Errorf("%s row %d = %q, want %q", c.col, r+1, g, w)
			}
		}
	}

	// The same rows through the upsert path (staging table, ON CONFLICT) must store the same values.
	must(t, tx.Truncate(ctx, tbl))
	n, err = tx.Upsert(ctx, tbl, source(row1, row2, row3))
	must(t, err)
	if n != 3 {
		t.Fatalf("Upsert = %d rows, want 3", n)
	}
	again := queryStrings(t, tx, "SELECT "+strings.Join(sel, ", ")+` FROM "all_types" ORDER BY id`)
	for r := range got {
		for i := range got[r] {
			if again[r][i] != got[r][i] {
				t.Errorf("upsert: %s row %d differs from the bulk insert", cases[i].col, r+1)
			}
		}
	}
}

func TestLiveUpsertDeleteTruncate(t *testing.T) {
	st, _ := openTenant(t)
	ctx := context.Background()
	tx := begin(t, st)
	tbl := dialect.Table{Name: "pairs", Key: []int{1, 0}, Columns: []typemap.Column{
		col(t, "a", "int", false, ""), col(t, "b", "nvarchar(10)", false, ""), col(t, "v", "nvarchar(10)", true, ""),
	}}
	must(t, tx.CreateTable(ctx, tbl))
	_, err := tx.BulkInsert(ctx, tbl, source(
		[]any{int64(1), "x", "old1"}, []any{int64(2), "x", "old2"}, []any{int64(1), "y", "old3"}))
	must(t, err)
	n, err := tx.Upsert(ctx, tbl, source([]any{int64(2), "x", "new2"}, []any{int64(3), "x", nil}))
	must(t, err)
	if n != 2 {
		t.Errorf("Upsert = %d, want 2", n)
	}
	// Twice in one transaction: the first staging table must be gone.
	_, err = tx.Upsert(ctx, tbl, source([]any{int64(1), "y", "new3"}))
	must(t, err)
	got := queryStrings(t, tx, `SELECT a::text, b, coalesce(v, '-') FROM pairs ORDER BY a, b`)
	want := "[[1 x old1] [1 y new3] [2 x new2] [3 x -]]"
	if s := sprint(got); s != want {
		t.Errorf("after upsert: %s, want %s", s, want)
	}
	// Keys come in Key order: b, a.
	n, err = tx.Delete(ctx, tbl, source([]any{"x", int64(1)}, []any{"x", int64(3)}, []any{"z", int64(9)}))
	must(t, err)
	if n != 2 {
		t.Errorf("Delete = %d, want 2", n)
	}
	if s := sprint(queryStrings(t, tx, `SELECT a::text, b FROM pairs ORDER BY a, b`)); s != "[[1 y] [2 x]]" {
		t.Errorf("after delete: %s", s)
	}
	leftover := queryStrings(t, tx, `SELECT count(*)::text FROM pg_class WHERE relname LIKE 'mirrorsink_stage_%' AND relpersistence = 't'`)
	if leftover[0][0] != "0" {
		t.Errorf("%s staging tables left in the transaction, want 0", leftover[0][0])
	}
	must(t, tx.Truncate(ctx, tbl))
	if s := sprint(queryStrings(t, tx, `SELECT count(*)::text FROM pairs`)); s != "[[0]]" {
		t.Errorf("after truncate: %s rows", s)
	}
	must(t, tx.Commit(ctx))
	tx = begin(t, st)
	ok, err := tx.TableExists(ctx, "pairs")
	must(t, err)
	if !ok {
		t.Fatal("TableExists after commit = false")
	}
	must(t, tx.DropTable(ctx, "pairs"))
	must(t, tx.DropTable(ctx, "pairs")) // IF EXISTS
	ok, err = tx.TableExists(ctx, "pairs")
	must(t, err)
	if ok {
		t.Error("TableExists after drop = true")
	}
}

func sprint(rows [][]string) string {
	var b strings.Builder
	b.WriteString("[")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString("[" + strings.Join(r, " ") + "]")
	}
	b.WriteString("]")
	return b.String()
}

func TestLiveDuplicateKeyAndSavepoint(t *testing.T) {
	st, _ := openTenant(t)
	ctx := context.Background()
	tx := begin(t, st)
	tbl := simpleTable(t, "dup")
	must(t, tx.CreateTable(ctx, tbl))
	_, err := tx.BulkInsert(ctx, tbl, source([]any{int64(1), "a", nil}))
	must(t, err)
	must(t, tx.Savepoint(ctx, "batch"))
	_, err = tx.BulkInsert(ctx, tbl, source([]any{int64(2), "b", nil}, []any{int64(1), "again", nil}))
	if !errors.Is(err, dialect.ErrDuplicateKey) {
		t.Fatalf("BulkInsert of an existing key: %v, want ErrDuplicateKey", err)
	}
	must(t, tx.RollbackTo(ctx, "batch"))
	n, err := tx.Upsert(ctx, tbl, source([]any{int64(2), "b", nil}, []any{int64(1), "again", nil}))
	must(t, err)
	if n != 2 {
		t.Errorf("Upsert after RollbackTo = %d, want 2", n)
	}
	if s := sprint(queryStrings(t, tx, `SELECT id::text, name FROM dup ORDER BY id`)); s != "[[1 again] [2 b]]" {
		t.Errorf("rows: %s", s)
	}
	must(t, tx.Commit(ctx))
	// After Commit, Rollback is a no-op.
	must(t, tx.Rollback(ctx))
}

func TestLiveValueErrors(t *testing.T) {
	st, logs := openTenant(t)
	ctx := context.Background()
	tbl := dialect.Table{Name: "vals", Key: []int{0}, Columns: []typemap.Column{
		col(t, "id", "int", false, ""),
		col(t, "short name", "varchar(5)", true, ""),
		col(t, "amount", "numeric(5,2)", true, ""),
		col(t, "req", "int", false, ""),
	}}
	tx := begin(t, st)
	must(t, tx.CreateTable(ctx, tbl))
	must(t, tx.Commit(ctx))
	for _, tc := range []struct {
		name   string
		rows   [][]any
		column string
		row    int
	}{
		{"string too long", [][]any{{int64(1), "ok", nil, int64(0)}, {int64(2), "toolong", nil, int64(0)}}, "short name", 2},
		{"numeric overflow", [][]any{{int64(1), nil, typemap.DecimalValue("999.99"), int64(0)}, {int64(2), nil, typemap.DecimalValue("1000"), int64(0)}, {int64(3), nil, nil, int64(0)}}, "amount", 2},
		{"integer out of range", [][]any{{int64(1), nil, nil, int64(math.MaxInt32)}, {int64(2), nil, nil, int64(math.MaxInt32) + 1}}, "req", 2},
		{"not a decimal", [][]any{{int64(1), nil, typemap.DecimalValue("1e5"), int64(0)}}, "amount", 1},
		{"null in not null", [][]any{{int64(1), nil, nil, int64(0)}, {int64(2), nil, nil, int64(0)}, {int64(3), nil, nil, nil}}, "req", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"bulk", "upsert"} {
				tx := begin(t, st)
				var err error
				if path == "bulk" {
					_, err = tx.BulkInsert(ctx, tbl, source(tc.rows...))
				} else {
					_, err = tx.Upsert(ctx, tbl, source(tc.rows...))
				}
				var ve *dialect.ValueError
				if !errors.As(err, &ve) || !errors.Is(err, dialect.ErrValue) {
					t.Fatalf("%s: %v, want a *ValueError", path, err)
				}
				// The upsert stages without NOT NULL, so a NULL key-less column fails in the merge,
				// where the row is unknown.
				wantRow := tc.row
				if path == "upsert" && tc.name == "null in not null" {
					wantRow = 0
				}
				if ve.Column != tc.column || ve.Row != wantRow {
					t.Errorf("%s: ValueError column %q row %d, want %q row %d (%v)", path, ve.Column, ve.Row, tc.column, wantRow, err)
				}
				tx.Rollback(ctx)
			}
		})
	}

	// NUL cannot be stored: replaced, counted and logged with table, column and key.
	before := dialect.NULsReplaced.Load()
	tx = begin(t, st)
	_, err := tx.BulkInsert(ctx, tbl, source([]any{int64(42), "a\x00b\x00", nil, int64(0)}))
	must(t, err)
	if s := sprint(queryStrings(t, tx, `SELECT "short name" FROM vals`)); s != "[[a\uFFFDb\uFFFD]]" {
		t.Errorf("stored %s, want NULs replaced by U+FFFD", s)
	}
	if d := dialect.NULsReplaced.Load() - before; d != 2 {
		t.Errorf("NULsReplaced grew by %d, want 2", d)
	}
	if l := logs.String(); !strings.Contains(l, "table=vals") || !strings.Contains(l, `column="short name"`) || !strings.Contains(l, "key=42") {
		t.Errorf("NUL warning lacks table, column or key: %s", l)
	}
}

func TestLiveAlterTable(t *testing.T) {
	st, logs := openTenant(t)
	ctx := context.Background()
	c := func(name, typ string, nullable bool, def string) typemap.Column {
		return col(t, name, typ, nullable, def)
	}
	tbl := dialect.Table{Name: "Evolving", Key: []int{0}, Columns: []typemap.Column{
		c("id", "int", false, ""), c("n", "int", true, ""), c("s", "nvarchar(5)", true, ""),
		c("d", "decimal(5,2)", true, ""), c("gone", "int", true, ""), c("when", "datetime", true, ""),
	}}
	tx := begin(t, st)
	must(t, tx.CreateTable(ctx, tbl))
	_, err := tx.BulkInsert(ctx, tbl, source([]any{int64(1), int64(7), "abcde", typemap.DecimalValue("123.45"), nil, dt(2020, 1, 2, 3, 4, 5, 997000000)}))
	must(t, err)

	// Changes that the stored data forbids: ErrRecreate, and nothing changed.
	for _, ch := range []dialect.Change{
		{Kind: dialect.AddColumn, Column: c("must", "int", false, "")},
		{Kind: dialect.AlterNullability, Old: c("gone", "int", true, ""), Column: c("gone", "int", false, "")},
	} {
		must(t, tx.Savepoint(ctx, "sp"))
		err := tx.AlterTable(ctx, tbl, []dialect.Change{{Kind: dialect.AddColumn, Column: c("extra", "int", true, "")}, ch})
		if !errors.Is(err, dialect.ErrRecreate) {
			t.Errorf("%v: %v, want ErrRecreate", ch.Kind, err)
		}
		if s := sprint(queryStrings(t, tx, `SELECT count(*)::text FROM information_schema.columns WHERE table_name = 'Evolving' AND column_name = 'extra'`)); s != "[[0]]" {
			t.Errorf("ErrRecreate left a change behind")
		}
		must(t, tx.RollbackTo(ctx, "sp"))
	}

	changes := []dialect.Change{
		{Kind: dialect.AddColumn, Column: c("note", "nvarchar(100)", true, "")},
		{Kind: dialect.AddColumn, Column: c("flag", "bit", false, "default ((1))")},
		{Kind: dialect.DropColumn, Old: c("gone", "int", true, "")},
		{Kind: dialect.AlterType, Old: c("n", "int", true, ""), Column: c("n", "bigint", true, "")},
		{Kind: dialect.AlterType, Old: c("s", "nvarchar(5)", true, ""), Column: c("s", "nvarchar(max)", true, "")},
		{Kind: dialect.AlterType, Old: c("d", "decimal(5,2)", true, ""), Column: c("d", "decimal(9,3)", true, "")},
		{Kind: dialect.AlterType, Old: c("when", "datetime", true, ""), Column: c("when", "datetime2(7)", true, "")},
		{Kind: dialect.AlterNullability, Old: c("n", "bigint", true, ""), Column: c("n", "bigint", false, "")},
		{Kind: dialect.AlterDefault, Old: c("note", "nvarchar(100)", true, ""), Column: c("note", "nvarchar(100)", true, "default (N'hi')")},
		{Kind: dialect.AlterDefault, Old: c("when", "datetime2(7)", true, ""), Column: c("when", "datetime2(7)", true, "default (whatever())")},
	}
	must(t, tx.AlterTable(ctx, tbl, changes))
	cols := queryStrings(t, tx, `SELECT column_name::text, data_type::text, is_nullable::text, coalesce(column_default, '-')::text
		FROM information_schema.columns WHERE table_name = 'Evolving' ORDER BY ordinal_position`)
	want := "[[id integer NO -] [n bigint NO -] [s text YES -] [d numeric YES -] [when timestamp without time zone YES -] " +
		"[note character varying YES 'hi'::character varying] [flag boolean NO true]]"
	if s := sprint(cols); s != want {
		t.Errorf("columns after AlterTable:\n got %s\nwant %s", s, want)
	}
	if s := sprint(queryStrings(t, tx, `SELECT n::text, s, d::text, "when"::text, coalesce(note, '-'), flag::text FROM "Evolving" WHERE id = 1`)); s != "[[7 abcde 123.450 2020-01-02 03:04:05.997 - true]]" {
		t.Errorf("data after AlterTable: %s", s)
	}
	// The same connection must load the new shape at once (no stale statement description).
	evolved := dialect.Table{Name: "Evolving", Key: []int{0}, Columns: []typemap.Column{
		c("id", "int", false, ""), c("n", "bigint", false, ""), c("s", "nvarchar(max)", true, ""),
		c("d", "decimal(9,3)", true, ""), c("when", "datetime2(7)", true, ""), c("note", "nvarchar(100)", true, ""),
		c("flag", "bit", false, ""),
	}}
	_, err = tx.BulkInsert(ctx, evolved, source([]any{int64(2), int64(1) << 40, strings.Repeat("s", 100),
		typemap.DecimalValue("123456.789"), dt(2020, 1, 2, 3, 4, 5, 123456700), nil, false}))
	must(t, err)
	if s := sprint(queryStrings(t, tx, `SELECT n::text, d::text, "when"::text FROM "Evolving" WHERE id = 2`)); s != "[[1099511627776 123456.789 2020-01-02 03:04:05.123457]]" {
		t.Errorf("row loaded after AlterTable: %s", s)
	}
	if !strings.Contains(logs.String(), "whatever()") {
		t.Errorf("dropped default not logged: %s", logs.String())
	}
	// Then the other way for nullability and default, and ADD NOT NULL without default on an empty table.
	must(t, tx.Truncate(ctx, tbl))
	must(t, tx.AlterTable(ctx, tbl, []dialect.Change{
		{Kind: dialect.AlterNullability, Old: c("n", "bigint", false, ""), Column: c("n", "bigint", true, "")},
		{Kind: dialect.AlterDefault, Old: c("note", "nvarchar(100)", true, "default (N'hi')"), Column: c("note", "nvarchar(100)", true, "")},
		{Kind: dialect.AddColumn, Column: c("must", "int", false, "")},
	}))
	if s := sprint(queryStrings(t, tx, `SELECT column_name::text, is_nullable::text, coalesce(column_default, '-')::text
		FROM information_schema.columns WHERE table_name = 'Evolving' AND column_name IN ('n', 'note', 'must') ORDER BY 1`)); s != "[[must NO -] [n YES -] [note YES -]]" {
		t.Errorf("after second AlterTable: %s", s)
	}
}

func TestLiveLockBlocks(t *testing.T) {
	st, _ := openTenant(t)
	ctx := context.Background()
	tx1 := begin(t, st)
	must(t, tx1.Lock(ctx, "tenant/table"))
	tx2 := begin(t, st)
	done := make(chan error, 1)
	go func() { done <- tx2.Lock(ctx, "tenant/table") }()
	select {
	case err := <-done:
		t.Fatalf("second Lock returned while the first transaction held it: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	// A different key does not wait.
	tx3 := begin(t, st)
	must(t, tx3.Lock(ctx, "tenant/other"))
	must(t, tx1.Commit(ctx))
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("second Lock still blocked after the first transaction ended")
	}
}

func TestLiveHostileNames(t *testing.T) {
	st, _ := openTenant(t)
	ctx := context.Background()
	tx := begin(t, st)
	tbl := hostileTable(t)
	must(t, tx.CreateTable(ctx, tbl))
	ok, err := tx.TableExists(ctx, tbl.Name)
	must(t, err)
	if !ok {
		t.Fatal("TableExists of the hostile table = false")
	}
	row := func(a, b int64, s string) []any {
		r := []any{a, b}
		for range tbl.Columns[2:] {
			r = append(r, s)
		}
		return r
	}
	_, err = tx.BulkInsert(ctx, tbl, source(row(1, 1, "a"), row(1, 2, "b")))
	must(t, err)
	_, err = tx.Upsert(ctx, tbl, source(row(1, 2, "c"), row(2, 2, "d")))
	must(t, err)
	_, err = tx.Delete(ctx, tbl, source([]any{int64(1), int64(1)}))
	must(t, err)
	must(t, tx.AlterTable(ctx, tbl, []dialect.Change{{Kind: dialect.AlterType, Old: tbl.Columns[4], Column: col(t, tbl.Columns[4].Name, "nvarchar(max)", true, "")}}))
	must(t, tx.Savepoint(ctx, `save "point"`))
	must(t, tx.RollbackTo(ctx, `save "point"`))
	got := queryStrings(t, tx, `SELECT "user"::text, "order"::text, "a:b, column c" FROM "Order ""Lines""; DROP" ORDER BY 1, 2`)
	if s := sprint(got); s != "[[1 2 c] [2 2 d]]" {
		t.Errorf("hostile table rows: %s", s)
	}
	must(t, tx.Truncate(ctx, tbl))
	must(t, tx.DropTable(ctx, tbl.Name))
	long := simpleTable(t, strings.Repeat("t", 64))
	if err := tx.CreateTable(ctx, long); !errors.Is(err, dialect.ErrNameTooLong) {
		t.Errorf("CreateTable with a 64-byte name: %v, want ErrNameTooLong", err)
	}
	if _, err := tx.TableExists(ctx, long.Name); !errors.Is(err, dialect.ErrNameTooLong) {
		t.Errorf("TableExists with a 64-byte name: %v, want ErrNameTooLong", err)
	}
}

func TestLiveFastCommitAndDefaults(t *testing.T) {
	st, _ := openTenant(t)
	ctx := context.Background()
	tx := begin(t, st)
	fc, ok := tx.(dialect.FastCommitter)
	if !ok {
		t.Fatal("Tx is not a FastCommitter")
	}
	must(t, fc.SetFastCommit(ctx))
	if s := sprint(queryStrings(t, tx, `SELECT current_setting('synchronous_commit')`)); s != "[[off]]" {
		t.Errorf("synchronous_commit = %s", s)
	}
	// Every default of the golden table must be accepted by the server and produce its value.
	tbl := defaultsTable(t)
	must(t, tx.CreateTable(ctx, tbl))
	_, err := tx.Exec(ctx, `INSERT INTO "defaults" (tenant, id) VALUES ($1, $2)`, 1, 2)
	must(t, err)
	got := queryStrings(t, tx, `SELECT d_bit1::text, d_bit0::text, d_int::text, d_neg::text, d_dec::text, d_money_str::text,
		d_str, d_quote, d_strnum, d_date::text, d_date_compact::text, d_datetime_zero::text, d_time::text, d_dto::text,
		(d_now = LOCALTIMESTAMP(3))::text, (d_utcnow = (now() AT TIME ZONE 'utc'))::text, (d_nowoffset = now())::text,
		(d_newid IS NOT NULL)::text, d_uuid_lit::text, coalesce(d_null, '-') FROM "defaults"`)
	want := `[[true false 0 -1 1.50 12.5000  it's \ here 7 1760-01-01 00:00:00 1900-01-01 1900-01-01 00:00:00 12:34:56.123457 ` +
		`2020-01-02 01:04:05+00 true true true true 6f9619ff-8b86-d011-b42d-00c04fc964ff -]]`
	if s := sprint(got); s != want {
		t.Errorf("defaults:\n got %s\nwant %s", s, want)
	}
	must(t, tx.Commit(ctx))
}

func TestLivePool(t *testing.T) {
	base := testenv.Postgres(t)
	ctx := context.Background()
	st, err := Dialect{}.Open(ctx, base, dialect.OpenOptions{MaxConns: 1})
	must(t, err)
	defer st.Close()
	tx1, err := st.Begin(ctx)
	must(t, err)
	// The only connection is taken: a second Begin waits, here until its deadline.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if tx, err := st.Begin(short); err == nil {
		tx.Rollback(ctx)
		t.Fatal("second Begin succeeded with MaxConns 1 while the first transaction was open")
	}
	// A failed statement aborts the transaction; after Rollback the connection is usable again.
	if _, err := tx1.Exec(ctx, "SELECT 1/0"); err == nil {
		t.Fatal("SELECT 1/0 succeeded")
	}
	must(t, tx1.Rollback(ctx))
	tx2, err := st.Begin(ctx)
	must(t, err)
	var one int
	rows, err := tx2.Query(ctx, "SELECT $1::int", 1)
	must(t, err)
	for rows.Next() {
		must(t, rows.Scan(&one))
	}
	rows.Close()
	must(t, rows.Err())
	if one != 1 {
		t.Errorf("query on the reused connection = %d, want 1", one)
	}
	must(t, tx2.Commit(ctx))
	st.Close()
	if _, err := st.Begin(ctx); err == nil {
		t.Error("Begin after Close succeeded")
	}
}

// TestLivePoolKeepsFewIdle checks that a tenant's pool keeps at most maxIdle connections open between
// calls, however many it used at once: idle connections of many tenants add up on the server.
func TestLivePoolKeepsFewIdle(t *testing.T) {
	base := testenv.Postgres(t)
	ctx := context.Background()
	st, err := Dialect{}.Open(ctx, base, dialect.OpenOptions{MaxConns: 4})
	must(t, err)
	defer st.Close()
	var txs []dialect.Tx
	for range 4 {
		tx, err := st.Begin(ctx)
		must(t, err)
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		must(t, tx.Rollback(ctx))
	}
	p := st.(*Store).pool
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	if idle != maxIdle {
		t.Fatalf("%d idle connections after 4 transactions, want %d", idle, maxIdle)
	}
}

package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// The dialect-specific live tests: what the conformance suite does not look at (how PostgreSQL holds
// each value, the binary encodings' edge cases, racing Opens, the pool, ANALYZE, relaxed commits).

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

// tenant is an open tenant mirror of a live test, with what it logged and counted.
type tenant struct {
	*Store
	logs *logBuffer
	nuls *atomic.Int64
}

// openTenant opens a fresh tenant database (created by Open) and drops it when the test ends.
func openTenant(t testing.TB) tenant {
	t.Helper()
	base := testenv.Postgres(t)
	db := "mirrorsink_pgtest_" + randomSuffix(t)
	tn := tenant{logs: &logBuffer{}, nuls: &atomic.Int64{}}
	st, err := Dialect{}.Open(context.Background(), withDatabase(t, base, db), dialect.OpenOptions{
		Tenant: "live",
		Logger: slog.New(slog.NewTextHandler(tn.logs, nil)),
		Events: &dialect.Events{OnNULsReplaced: func(n int) { tn.nuls.Add(int64(n)) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		admin(t, base, "DROP DATABASE IF EXISTS "+quoteUnchecked(db)+" WITH (FORCE)")
	})
	tn.Store = st.(*Store)
	return tn
}

func begin(t *testing.T, st dialect.Store) *Tx {
	t.Helper()
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx.(*Tx)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// queryStrings returns the rows of a query, every column as the server's text (NULL as "<NULL>").
func queryStrings(t *testing.T, tx *Tx, sql string, args ...any) [][]string {
	t.Helper()
	rows, err := tx.x.tx.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		dest := make([]pgtype.Text, len(rows.FieldDescriptions()))
		ptrs := make([]any, len(dest))
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

// col builds a column from SQL Server type and default text, as the engine would.
func col(t testing.TB, name, typ string, nullable bool, def string) typemap.Column {
	t.Helper()
	c, err := typemap.ParseColumn(contract.Column{Name: name, Type: typ, IsNullable: nullable, DefaultValue: def})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// scenario returns the table of a shared golden scenario (testdata/scenarios).
func scenario(t testing.TB, name string) dialect.Table {
	t.Helper()
	all, err := conformance.Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		if sc.Name == name {
			return sc.Table
		}
	}
	t.Fatalf("no scenario %q", name)
	return dialect.Table{}
}

// createScenario creates the table of a shared scenario in a fresh tenant, in a transaction that it
// returns open.
func createScenario(t *testing.T, name string) (tenant, *Tx, dialect.Table) {
	t.Helper()
	st := openTenant(t)
	tx := begin(t, st)
	tbl := scenario(t, name)
	must(t, tx.Tables().Create(context.Background(), tbl))
	return st, tx, tbl
}

func simpleTable(t testing.TB, name string) dialect.Table {
	return dialect.Table{Name: name, Key: []int{0}, Columns: []typemap.Column{
		col(t, "id", "int", false, ""),
		col(t, "name", "nvarchar(20)", true, ""),
		col(t, "n", "int", true, ""),
	}}
}

func dt(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
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
			st, err := Dialect{}.Open(ctx, dsn, dialect.OpenOptions{Tenant: "race"})
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

	// Schema per tenant, with a hostile schema name: tables land in it, and Exists looks only there.
	schema := `Tenant "A" ` + randomSuffix(t)
	st, err := Dialect{}.Open(ctx, dsn, dialect.OpenOptions{Tenant: "a", Schema: schema})
	must(t, err)
	defer st.Close()
	tx := begin(t, st)
	must(t, tx.Meta().Migrate(ctx, time.Now()))
	tbl := simpleTable(t, "user")
	must(t, tx.Tables().Create(ctx, tbl))
	n, err := tx.Rows().Insert(ctx, tbl, source([]any{int64(1), "a", nil}))
	must(t, err)
	if n != 1 {
		t.Fatalf("Insert = %d, want 1", n)
	}
	_, err = tx.Rows().Upsert(ctx, tbl, source([]any{int64(1), "b", int64(2)}))
	must(t, err)
	got := queryStrings(t, tx, `SELECT schemaname::text, tablename::text, current_setting('TimeZone') FROM pg_tables WHERE tablename IN ('user', 'a_mirroring') ORDER BY 2`)
	if sprint(got) != fmt.Sprintf("[[%s a_mirroring UTC] [%s user UTC]]", schema, schema) {
		t.Fatalf("table placement / time zone = %v, want the table and the metadata in %q, and UTC", got, schema)
	}
	must(t, tx.Commit(ctx, dialect.Durable))

	plain, err := Dialect{}.Open(ctx, dsn, dialect.OpenOptions{Tenant: "b"})
	must(t, err)
	defer plain.Close()
	if q, _ := plain.Names().Table("user"); q != `"public"."user"` {
		t.Errorf(`without a schema, "user" is named %s, want "public"."user"`, q)
	}
	ok, err := begin(t, plain).Tables().Exists(ctx, "user")
	must(t, err)
	if ok {
		t.Error(`Exists("user") in schema public = true, want false (it is in the tenant schema)`)
	}
	st2, err := Dialect{}.Open(ctx, dsn, dialect.OpenOptions{Tenant: "a", Schema: schema})
	must(t, err)
	defer st2.Close()
	ok, err = begin(t, st2).Tables().Exists(ctx, "user")
	must(t, err)
	if !ok {
		t.Error(`Exists("user") in the tenant schema = false, want true`)
	}

	// A DSN's search_path names the schema of a database-per-tenant mirror; one that names no
	// existing schema leaves nowhere to create tables.
	admin(t, dsn, `CREATE SCHEMA "mirror"`)
	onPath, err := Dialect{}.Open(ctx, dsn+"&search_path=mirror", dialect.OpenOptions{Tenant: "c"})
	must(t, err)
	defer onPath.Close()
	if q, _ := onPath.Names().Table("t"); q != `"mirror"."t"` {
		t.Errorf(`with search_path=mirror, "t" is named %s, want "mirror"."t"`, q)
	}
	if _, err := (Dialect{}).Open(ctx, dsn+"&search_path=nowhere", dialect.OpenOptions{Tenant: "c"}); err == nil {
		t.Error("Open with a search_path of no existing schema succeeded")
	}

	if _, err := (Dialect{}).Open(ctx, withDatabase(t, base, strings.Repeat("d", 64)), dialect.OpenOptions{}); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("Open with a 64-byte database name: %v, want ErrBadName", err)
	}
	if _, err := (Dialect{}).Open(ctx, dsn, dialect.OpenOptions{Tenant: strings.Repeat("t", 50)}); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("Open of a tenant whose metadata table names are over 63 bytes: %v, want ErrBadName", err)
	}
}

func TestLiveRoundTripEveryType(t *testing.T) {
	ctx := context.Background()
	_, tx, tbl := createScenario(t, "all_types")

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
	n, err := tx.Rows().Insert(ctx, tbl, source(row1, row2, row3))
	must(t, err)
	if n != 3 {
		t.Fatalf("Insert = %d rows, want 3", n)
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
	must(t, tx.Tables().Truncate(ctx, tbl))
	n, err = tx.Rows().Upsert(ctx, tbl, source(row1, row2, row3))
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
	st := openTenant(t)
	ctx := context.Background()
	tx := begin(t, st)
	tbl := dialect.Table{Name: "pairs", Key: []int{1, 0}, Columns: []typemap.Column{
		col(t, "a", "int", false, ""), col(t, "b", "nvarchar(10)", false, ""), col(t, "v", "nvarchar(10)", true, ""),
	}}
	must(t, tx.Tables().Create(ctx, tbl))
	_, err := tx.Rows().Insert(ctx, tbl, source(
		[]any{int64(1), "x", "old1"}, []any{int64(2), "x", "old2"}, []any{int64(1), "y", "old3"}))
	must(t, err)
	n, err := tx.Rows().Upsert(ctx, tbl, source([]any{int64(2), "x", "new2"}, []any{int64(3), "x", nil}))
	must(t, err)
	if n != 2 {
		t.Errorf("Upsert = %d, want 2", n)
	}
	// Twice in one transaction: the first staging table must be gone.
	_, err = tx.Rows().Upsert(ctx, tbl, source([]any{int64(1), "y", "new3"}))
	must(t, err)
	got := queryStrings(t, tx, `SELECT a::text, b, coalesce(v, '-') FROM pairs ORDER BY a, b`)
	want := "[[1 x old1] [1 y new3] [2 x new2] [3 x -]]"
	if s := sprint(got); s != want {
		t.Errorf("after upsert: %s, want %s", s, want)
	}
	// Keys come in Key order: b, a.
	n, err = tx.Rows().Delete(ctx, tbl, source([]any{"x", int64(1)}, []any{"x", int64(3)}, []any{"z", int64(9)}))
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
	must(t, tx.Tables().Truncate(ctx, tbl))
	if s := sprint(queryStrings(t, tx, `SELECT count(*)::text FROM pairs`)); s != "[[0]]" {
		t.Errorf("after truncate: %s rows", s)
	}
	must(t, tx.Commit(ctx, dialect.Durable))
	tx = begin(t, st)
	ok, err := tx.Tables().Exists(ctx, "pairs")
	must(t, err)
	if !ok {
		t.Fatal("Exists after commit = false")
	}
	must(t, conformance.NoLoss(tx.Tables().Drop(ctx, "pairs")))
	must(t, conformance.NoLoss(tx.Tables().Drop(ctx, "pairs"))) // IF EXISTS
	ok, err = tx.Tables().Exists(ctx, "pairs")
	must(t, err)
	if ok {
		t.Error("Exists after drop = true")
	}
	// Count of a table that is not there fails, and the transaction goes on.
	if _, err := tx.Tables().Count(ctx, "pairs"); err == nil {
		t.Error("Count of a dropped table succeeded")
	}
	if ok, err := tx.Tables().Exists(ctx, "pairs"); err != nil || ok {
		t.Errorf("after the failed Count: Exists = %v, %v", ok, err)
	}
}

func TestLiveValueErrors(t *testing.T) {
	st := openTenant(t)
	ctx := context.Background()
	tbl := dialect.Table{Name: "vals", Key: []int{0}, Columns: []typemap.Column{
		col(t, "id", "int", false, ""),
		col(t, "short name", "varchar(5)", true, ""),
		col(t, "amount", "numeric(5,2)", true, ""),
		col(t, "req", "int", false, ""),
	}}
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, tbl))
	must(t, tx.Commit(ctx, dialect.Durable))
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
			for _, path := range []string{"insert", "upsert"} {
				tx := begin(t, st)
				var err error
				if path == "insert" {
					_, err = tx.Rows().Insert(ctx, tbl, source(tc.rows...))
				} else {
					_, err = tx.Rows().Upsert(ctx, tbl, source(tc.rows...))
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
				must(t, tx.Rollback(ctx))
			}
		})
	}

	// NUL cannot be stored: replaced, counted through Events and logged with table, column and the
	// batch's row number, never the row's values (its key included).
	tx = begin(t, st)
	// The key has more digits than any run of the log's timestamp (a key of 42 once matched a time of .422).
	_, err := tx.Rows().Insert(ctx, tbl, source([]any{int64(73190), "a\x00b\x00", nil, int64(0)}))
	must(t, err)
	if s := sprint(queryStrings(t, tx, `SELECT "short name" FROM vals`)); s != "[[a\uFFFDb\uFFFD]]" {
		t.Errorf("stored %s, want NULs replaced by U+FFFD", s)
	}
	if n := st.nuls.Load(); n != 2 {
		t.Errorf("Events.OnNULsReplaced reported %d, want 2", n)
	}
	if l := st.logs.String(); !strings.Contains(l, "table=vals") || !strings.Contains(l, `column="short name"`) || !strings.Contains(l, "row=1") || strings.Contains(l, "73190") {
		t.Errorf("NUL warning lacks table, column or row, or shows row data: %s", l)
	}
}

func TestLiveAlterTable(t *testing.T) {
	st := openTenant(t)
	ctx := context.Background()
	c := func(name, typ string, nullable bool, def string) typemap.Column {
		return col(t, name, typ, nullable, def)
	}
	tbl := dialect.Table{Name: "Evolving", Key: []int{0}, Columns: []typemap.Column{
		c("id", "int", false, ""), c("n", "int", true, ""), c("s", "nvarchar(5)", true, ""),
		c("d", "decimal(5,2)", true, ""), c("gone", "int", true, ""), c("when", "datetime", true, ""),
	}}
	tx := begin(t, st)
	te := tx.Tables()
	must(t, te.Create(ctx, tbl))
	_, err := tx.Rows().Insert(ctx, tbl, source([]any{int64(1), int64(7), "abcde", typemap.DecimalValue("123.45"), nil, dt(2020, 1, 2, 3, 4, 5, 997000000)}))
	must(t, err)

	// Changes that the stored data forbids: ErrRecreate, nothing changed, and the transaction goes on.
	for _, ch := range []dialect.Change{
		{Kind: dialect.AddColumn, Column: c("must", "int", false, "")},
		{Kind: dialect.AlterNullability, Old: c("gone", "int", true, ""), Column: c("gone", "int", false, "")},
	} {
		err := conformance.NoLoss(te.Alter(ctx, tbl, []dialect.Change{{Kind: dialect.AddColumn, Column: c("extra", "int", true, "")}, ch}))
		if !errors.Is(err, dialect.ErrRecreate) {
			t.Errorf("%v: %v, want ErrRecreate", ch.Kind, err)
		}
		if s := sprint(queryStrings(t, tx, `SELECT count(*)::text FROM information_schema.columns WHERE table_name = 'Evolving' AND column_name = 'extra'`)); s != "[[0]]" {
			t.Errorf("ErrRecreate left a change behind")
		}
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
	must(t, conformance.NoLoss(te.Alter(ctx, tbl, changes)))
	cols := queryStrings(t, tx, `SELECT column_name::text, data_type::text, is_nullable::text, coalesce(column_default, '-')::text
		FROM information_schema.columns WHERE table_name = 'Evolving' ORDER BY ordinal_position`)
	want := "[[id integer NO -] [n bigint NO -] [s text YES -] [d numeric YES -] [when timestamp without time zone YES -] " +
		"[note character varying YES 'hi'::character varying] [flag boolean NO true]]"
	if s := sprint(cols); s != want {
		t.Errorf("columns after Alter:\n got %s\nwant %s", s, want)
	}
	if s := sprint(queryStrings(t, tx, `SELECT n::text, s, d::text, "when"::text, coalesce(note, '-'), flag::text FROM "Evolving" WHERE id = 1`)); s != "[[7 abcde 123.450 2020-01-02 03:04:05.997 - true]]" {
		t.Errorf("data after Alter: %s", s)
	}
	// The same connection must load the new shape at once (no stale statement description).
	evolved := dialect.Table{Name: "Evolving", Key: []int{0}, Columns: []typemap.Column{
		c("id", "int", false, ""), c("n", "bigint", false, ""), c("s", "nvarchar(max)", true, ""),
		c("d", "decimal(9,3)", true, ""), c("when", "datetime2(7)", true, ""), c("note", "nvarchar(100)", true, ""),
		c("flag", "bit", false, ""),
	}}
	_, err = tx.Rows().Insert(ctx, evolved, source([]any{int64(2), int64(1) << 40, strings.Repeat("s", 100),
		typemap.DecimalValue("123456.789"), dt(2020, 1, 2, 3, 4, 5, 123456700), nil, false}))
	must(t, err)
	if s := sprint(queryStrings(t, tx, `SELECT n::text, d::text, "when"::text FROM "Evolving" WHERE id = 2`)); s != "[[1099511627776 123456.789 2020-01-02 03:04:05.123457]]" {
		t.Errorf("row loaded after Alter: %s", s)
	}
	if !strings.Contains(st.logs.String(), "whatever()") {
		t.Errorf("dropped default not logged: %s", st.logs.String())
	}
	// A change the server refuses (the engine asks only for widenings, but the server has the last
	// word: here a narrowing over a value that does not fit) fails having changed nothing, and the
	// transaction goes on.
	err = conformance.NoLoss(te.Alter(ctx, evolved, []dialect.Change{
		{Kind: dialect.AddColumn, Column: c("extra", "int", true, "")},
		{Kind: dialect.AlterType, Old: c("n", "bigint", false, ""), Column: c("n", "int", false, "")},
	}))
	if err == nil || errors.Is(err, dialect.ErrRecreate) {
		t.Errorf("narrowing over a value that does not fit: %v, want the server's error", err)
	}
	if s := sprint(queryStrings(t, tx, `SELECT count(*)::text FROM information_schema.columns WHERE table_name = 'Evolving' AND column_name = 'extra'`)); s != "[[0]]" {
		t.Errorf("a failed Alter left a change behind")
	}
	// Then the other way for nullability and default, and ADD NOT NULL without default on an empty table.
	must(t, te.Truncate(ctx, tbl))
	must(t, conformance.NoLoss(te.Alter(ctx, tbl, []dialect.Change{
		{Kind: dialect.AlterNullability, Old: c("n", "bigint", false, ""), Column: c("n", "bigint", true, "")},
		{Kind: dialect.AlterDefault, Old: c("note", "nvarchar(100)", true, "default (N'hi')"), Column: c("note", "nvarchar(100)", true, "")},
		{Kind: dialect.AddColumn, Column: c("must", "int", false, "")},
	})))
	if s := sprint(queryStrings(t, tx, `SELECT column_name::text, is_nullable::text, coalesce(column_default, '-')::text
		FROM information_schema.columns WHERE table_name = 'Evolving' AND column_name IN ('n', 'note', 'must') ORDER BY 1`)); s != "[[must NO -] [n YES -] [note YES -]]" {
		t.Errorf("after the second Alter: %s", s)
	}
}

func TestLiveHostileNames(t *testing.T) {
	ctx := context.Background()
	_, tx, tbl := createScenario(t, "hostile")
	te := tx.Tables()
	ok, err := te.Exists(ctx, tbl.Name)
	must(t, err)
	if !ok {
		t.Fatal("Exists of the hostile table = false")
	}
	row := func(a, b int64, s string) []any {
		r := []any{a, b}
		for range tbl.Columns[2:] {
			r = append(r, s)
		}
		return r
	}
	_, err = tx.Rows().Insert(ctx, tbl, source(row(1, 1, "a"), row(1, 2, "b")))
	must(t, err)
	_, err = tx.Rows().Upsert(ctx, tbl, source(row(1, 2, "c"), row(2, 2, "d")))
	must(t, err)
	// Keys in Key order: order, user.
	_, err = tx.Rows().Delete(ctx, tbl, source([]any{int64(1), int64(1)}))
	must(t, err)
	wide := tbl.Columns[4]
	wide.Type = typemap.Type{Kind: typemap.NVarChar, Length: typemap.Max}
	must(t, conformance.NoLoss(te.Alter(ctx, tbl, []dialect.Change{{Kind: dialect.AlterType, Old: tbl.Columns[4], Column: wide}})))
	got := queryStrings(t, tx, `SELECT "user"::text, "order"::text, "a:b, column c" FROM "Order ""Lines""; DROP" ORDER BY 1, 2`)
	if s := sprint(got); s != "[[1 2 c] [2 2 d]]" {
		t.Errorf("hostile table rows: %s", s)
	}
	if n, err := te.Count(ctx, tbl.Name); err != nil || n != 2 {
		t.Errorf("Count = %d, %v", n, err)
	}
	must(t, tx.Rows().Analyze(ctx, tbl))
	must(t, te.Truncate(ctx, tbl))
	must(t, conformance.NoLoss(te.Drop(ctx, tbl.Name)))
	long := simpleTable(t, strings.Repeat("t", 64))
	if err := te.Create(ctx, long); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("Create with a 64-byte name: %v, want ErrBadName", err)
	}
	if _, err := te.Exists(ctx, long.Name); !errors.Is(err, dialect.ErrBadName) {
		t.Errorf("Exists with a 64-byte name: %v, want ErrBadName", err)
	}
}

// TestLiveRelaxedCommit checks what each durability commits with: a deferred constraint trigger runs
// inside COMMIT, after the relaxed commit's SET LOCAL, and records the setting it sees.
func TestLiveRelaxedCommit(t *testing.T) {
	st := openTenant(t)
	ctx := context.Background()
	setup := begin(t, st)
	for _, stmt := range []string{
		`CREATE TABLE seen (setting text)`,
		`CREATE TABLE work (id int)`,
		`CREATE FUNCTION record_setting() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO seen VALUES (current_setting('synchronous_commit')); RETURN NULL; END $$`,
		`CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON work DEFERRABLE INITIALLY DEFERRED
		FOR EACH ROW EXECUTE FUNCTION record_setting()`,
	} {
		must(t, setup.RunStatement(ctx, stmt))
	}
	must(t, setup.Commit(ctx, dialect.Durable))
	for _, d := range []dialect.Durability{dialect.Relaxed, dialect.Durable} {
		tx := begin(t, st)
		must(t, tx.RunStatement(ctx, `INSERT INTO work VALUES (1)`))
		must(t, tx.Commit(ctx, d))
	}
	if s := sprint(queryStrings(t, begin(t, st), `SELECT setting FROM seen`)); s != "[[off] [on]]" {
		t.Errorf("synchronous_commit at COMMIT: %s, want off (Relaxed), then on (Durable)", s)
	}
}

// TestLiveDefaults checks that every default of the golden scenario is accepted by the server and
// produces its value.
func TestLiveDefaults(t *testing.T) {
	ctx := context.Background()
	_, tx, _ := createScenario(t, "defaults")
	must(t, tx.RunStatement(ctx, `INSERT INTO "defaults" (tenant, id) VALUES (1, 2)`))
	got := queryStrings(t, tx, `SELECT d_bit1::text, d_bit0::text, d_int::text, d_neg::text, d_dec::text, d_money_str::text,
		d_str, d_quote, d_strnum, d_date::text, d_date_compact::text, d_datetime_zero::text, d_time::text, d_dto::text,
		(d_now = LOCALTIMESTAMP(3))::text, (d_utcnow = (now() AT TIME ZONE 'utc'))::text, (d_nowoffset = now())::text,
		(d_newid IS NOT NULL)::text, d_uuid_lit::text, coalesce(d_null, '-') FROM "defaults"`)
	want := `[[true false 0 -1 1.50 12.5000  it's \\ here 7 1760-01-01 00:00:00 1900-01-01 1900-01-01 00:00:00 12:34:56.123457 ` +
		`2020-01-02 01:04:05+00 true true true true 6f9619ff-8b86-d011-b42d-00c04fc964ff -]]`
	if s := sprint(got); s != want {
		t.Errorf("defaults:\n got %s\nwant %s", s, want)
	}
	// The defaults of the unit test too.
	for i, tc := range []struct{ typ, def, want string }{
		{"uniqueidentifier", "default ('{6F9619FF-8B86-D011-B42D-00C04FC964FF}')", "6f9619ff-8b86-d011-b42d-00c04fc964ff"},
		{"varbinary(4)", "default ('ab')", `\x6162`},
		{"smalldatetime", "default ((-1))", "1899-12-31 00:00:00"},
		{"nvarchar(40)", "default (newid())", "36"},
		{"int", "default ((1.5))", "2"},
	} {
		c := col(t, "v", tc.typ, true, tc.def)
		name := fmt.Sprintf("defaults_%d", i)
		must(t, tx.Tables().Create(ctx, dialect.Table{Name: name, Key: []int{0}, Columns: []typemap.Column{col(t, "id", "int", false, ""), c}}))
		must(t, tx.RunStatement(ctx, `INSERT INTO `+quoteUnchecked(name)+` (id) VALUES (1)`))
		expr := "v::text"
		if tc.typ == "nvarchar(40)" {
			expr = "length(v)::text"
		}
		if s := sprint(queryStrings(t, tx, "SELECT "+expr+" FROM "+quoteUnchecked(name))); s != "[["+tc.want+"]]" {
			t.Errorf("%s %s: %s, want %s", tc.typ, tc.def, s, tc.want)
		}
	}
}

func TestLivePool(t *testing.T) {
	base := testenv.Postgres(t)
	ctx := context.Background()
	st, err := Dialect{}.Open(ctx, base, dialect.OpenOptions{Tenant: "pool", MaxConns: 1})
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
	if err := tx1.RunStatement(ctx, "SELECT 1/0"); err == nil {
		t.Fatal("SELECT 1/0 succeeded")
	}
	must(t, tx1.Rollback(ctx))
	tx2 := begin(t, st)
	if s := sprint(queryStrings(t, tx2, "SELECT $1::int", 1)); s != "[[1]]" {
		t.Errorf("query on the reused connection = %s, want 1", s)
	}
	must(t, tx2.Commit(ctx, dialect.Durable))
	st.Close()
	if _, err := st.Begin(ctx); err == nil {
		t.Error("Begin after Close succeeded")
	}
}

// TestLivePoolKeepsFewIdle checks that a tenant's pool keeps at most dialect.MaxIdleConns connections open between
// calls, however many it used at once: idle connections of many tenants add up on the server.
func TestLivePoolKeepsFewIdle(t *testing.T) {
	base := testenv.Postgres(t)
	ctx := context.Background()
	st, err := Dialect{}.Open(ctx, base, dialect.OpenOptions{Tenant: "pool", MaxConns: 4})
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
	if idle != dialect.MaxIdleConns {
		t.Fatalf("%d idle connections after 4 transactions, want %d", idle, dialect.MaxIdleConns)
	}
}

// TestLiveAnalyze checks that Analyze gives a table loaded by COPY alone its statistics, which the
// next cycle's upserts and deletes are planned with.
func TestLiveAnalyze(t *testing.T) {
	st := openTenant(t)
	ctx := context.Background()
	tbl := simpleTable(t, "loaded")
	rows := make([][]any, 5000)
	for i := range rows {
		rows[i] = []any{int64(i + 1), "x", nil}
	}
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, tbl))
	_, err := tx.Rows().Insert(ctx, tbl, source(rows...))
	must(t, err)
	must(t, tx.Commit(ctx, dialect.Durable))
	reltuples := func() string {
		return queryStrings(t, begin(t, st), `SELECT reltuples::text FROM pg_class WHERE oid = '"public"."loaded"'::regclass`)[0][0]
	}
	if n := reltuples(); n == "5000" {
		t.Fatalf("pg_class.reltuples = %s before Analyze; the test cannot tell whether Analyze works", n)
	}
	tx = begin(t, st)
	must(t, tx.Rows().Analyze(ctx, tbl))
	must(t, tx.Commit(ctx, dialect.Durable))
	if n := reltuples(); n != "5000" {
		t.Errorf("pg_class.reltuples = %s after Analyze, want 5000", n)
	}
}

// TestLiveBinaryEncodings round-trips the shapes each hand-written binary encoding must get right
// (signs, zero, digit-group boundaries, the 2000 epoch and dates before 1970, rounding half up) and
// compares the server's text of what it stored.
func TestLiveBinaryEncodings(t *testing.T) {
	st := openTenant(t)
	ctx := context.Background()
	plus14 := time.FixedZone("+14", 14*3600)
	minus1 := time.FixedZone("-01", -3600)
	india := time.FixedZone("+0530", 5*3600+1800)
	dec := func(s string) any { return typemap.DecimalValue(s) }
	cases := []struct {
		typ  string
		vals []any
		want []string
	}{
		{"bit", []any{true, false}, []string{"true", "false"}},
		{"tinyint", []any{int64(0), int64(255)}, []string{"0", "255"}},
		{"smallint", []any{int64(-1), int64(256), int64(-32768)}, []string{"-1", "256", "-32768"}},
		{"int", []any{int64(-1), int64(65536), int64(-2147483648)}, []string{"-1", "65536", "-2147483648"}},
		{"bigint", []any{int64(-1), int64(1) << 40, int64(math.MinInt64)}, []string{"-1", "1099511627776", "-9223372036854775808"}},
		{"decimal(38,10)", []any{
			dec("0"), dec("-0.00"), dec("000123.4500"), dec(".5"), dec("5."), dec("-5"),
			dec("1234567890123456789012345678.0123456789"), dec("-0.0000000001"), dec("10000"), dec("9999.9999"),
			dec("0.00010000"), dec("100000000.00000001"), dec("1.00000000005"), dec("-1.00000000005"),
			dec("0.00000000004"), dec("-0.00000000004"), dec("1000000000000"), dec("0.1"),
		}, []string{
			"0.0000000000", "0.0000000000", "123.4500000000", "0.5000000000", "5.0000000000", "-5.0000000000",
			"1234567890123456789012345678.0123456789", "-0.0000000001", "10000.0000000000", "9999.9999000000",
			"0.0001000000", "100000000.0000000100", "1.0000000001", "-1.0000000001",
			"0.0000000000", "0.0000000000", "1000000000000.0000000000", "0.1000000000",
		}},
		{"decimal(18,0)", []any{dec("123456789012345678"), dec("-1"), dec("0.5"), dec("12.49"), dec("-0.5")},
			[]string{"123456789012345678", "-1", "1", "12", "-1"}},
		{"decimal(4,4)", []any{dec("0.9999"), dec("-0.0001"), dec("0")}, []string{"0.9999", "-0.0001", "0.0000"}},
		{"money", []any{dec("1"), dec("-12345.6789"), dec("0.00005")}, []string{"1.0000", "-12345.6789", "0.0001"}},
		{"float", []any{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0.1, -1e300},
			[]string{"NaN", "Infinity", "-Infinity", "-0", "0.1", "-1e+300"}},
		{"real", []any{math.NaN(), math.Inf(-1), float64(float32(1.5)), float64(float32(-0.1))},
			[]string{"NaN", "-Infinity", "1.5", "-0.1"}},
		{"date", []any{
			dt(2000, 1, 1, 0, 0, 0, 0), dt(1999, 12, 31, 23, 59, 59, 999999999), dt(1970, 1, 1, 0, 0, 0, 0),
			dt(1969, 12, 31, 12, 0, 0, 0), dt(1, 1, 1, 0, 0, 0, 0), dt(9999, 12, 31, 23, 0, 0, 0),
			time.Date(2020, 3, 1, 0, 30, 0, 0, minus1), // the wall clock's date, not UTC's
		}, []string{"2000-01-01", "1999-12-31", "1970-01-01", "1969-12-31", "0001-01-01", "9999-12-31", "2020-03-01"}},
		{"time(7)", []any{
			typemap.TimeOfDay(0), typemap.TimeOfDay(500), typemap.TimeOfDay(400), typemap.TimeOfDay(24*time.Hour - 100),
			typemap.TimeOfDay(13*time.Hour + 1500),
		}, []string{"00:00:00", "00:00:00.000001", "00:00:00", "23:59:59.999999", "13:00:00.000002"}},
		{"datetime2(7)", []any{
			dt(2000, 1, 1, 0, 0, 0, 0), dt(1999, 12, 31, 23, 59, 59, 999999500), dt(1999, 12, 31, 23, 59, 59, 999999400),
			dt(1969, 12, 31, 23, 59, 59, 999999400), dt(1, 1, 1, 0, 0, 0, 500), dt(9999, 12, 31, 23, 59, 59, 999999900),
			dt(2024, 2, 29, 12, 34, 56, 789012300),
		}, []string{
			"2000-01-01 00:00:00", "2000-01-01 00:00:00", "1999-12-31 23:59:59.999999",
			"1969-12-31 23:59:59.999999", "0001-01-01 00:00:00.000001", "9999-12-31 23:59:59.999999",
			"2024-02-29 12:34:56.789012",
		}},
		{"datetime", []any{dt(1753, 1, 1, 0, 0, 0, 0), dt(2023, 6, 1, 23, 59, 59, 997000000)},
			[]string{"1753-01-01 00:00:00", "2023-06-01 23:59:59.997"}},
		{"smalldatetime", []any{dt(1900, 1, 1, 0, 0, 0, 0), dt(2079, 6, 6, 23, 59, 0, 0)},
			[]string{"1900-01-01 00:00:00", "2079-06-06 23:59:00"}},
		{"datetimeoffset(7)", []any{
			time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, plus14),
			time.Date(1969, 12, 31, 23, 0, 0, 500, minus1), time.Date(9999, 12, 31, 23, 59, 59, 999999900, plus14),
			time.Date(2020, 6, 30, 23, 59, 59, 999999500, india),
		}, []string{
			"2000-01-01 00:00:00+00", "1999-12-31 10:00:00+00", "1970-01-01 00:00:00.000001+00",
			"9999-12-31 09:59:59.999999+00", "2020-06-30 18:30:00+00",
		}},
		{"nvarchar(20)", []any{"", "ünïcödé 😀", "a\x00b", "\t\\N"}, []string{"", "ünïcödé 😀", "a\uFFFDb", "\t\\N"}},
		{"nchar(3)", []any{"a", "abc"}, []string{"a  ", "abc"}},
		{"varbinary(max)", []any{[]byte{}, []byte{0, 0xff}}, []string{`\x`, `\x00ff`}},
		{"uniqueidentifier", []any{typemap.UUID{15: 1}, typemap.UUID{0: 0xf0, 8: 0x80}},
			[]string{"00000000-0000-0000-0000-000000000001", "f0000000-0000-0000-8000-000000000000"}},
	}
	tx := begin(t, st)
	for n, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			tbl := dialect.Table{Name: fmt.Sprintf("enc_%d", n), Key: []int{0}, Columns: []typemap.Column{
				col(t, "id", "int", false, ""), col(t, "v", tc.typ, true, ""),
			}}
			must(t, tx.Tables().Create(ctx, tbl))
			var rows [][]any
			for i, v := range tc.vals {
				rows = append(rows, []any{int64(i + 1), v})
			}
			rows = append(rows, []any{int64(len(rows) + 1), nil})
			n, err := tx.Rows().Insert(ctx, tbl, source(rows...))
			must(t, err)
			if n != int64(len(rows)) {
				t.Fatalf("Insert = %d rows, want %d", n, len(rows))
			}
			expr := `"v"::text`
			if strings.HasPrefix(tc.typ, "nchar") {
				expr = `"v"`
			}
			got := queryStrings(t, tx, "SELECT "+expr+" FROM "+quoteUnchecked(tbl.Name)+" ORDER BY id")
			for i, want := range append(tc.want, "<NULL>") {
				if got[i][0] != want {
					t.Errorf("%s value %d (%v) = %q, want %q", tc.typ, i+1, rows[i][1], got[i][0], want)
				}
			}
		})
	}
}

// TestLiveBinaryValueErrors checks that values outside the column's type are ValueErrors naming the
// column and row, whether the encoder or the server finds them.
func TestLiveBinaryValueErrors(t *testing.T) {
	st := openTenant(t)
	ctx := context.Background()
	for n, tc := range []struct {
		typ    string
		ok, v  any
		reason string
	}{
		{"tinyint", int64(255), int64(32768), "out of range for smallint"},
		{"smallint", int64(-32768), int64(-32769), "out of range for smallint"},
		{"int", int64(-2147483648), int64(-2147483649), "out of range for integer"},
		{"real", float64(math.MaxFloat32), 1e39, "out of range for real"},
		{"decimal(5,2)", typemap.DecimalValue("999.994"), typemap.DecimalValue("999.995"), "numeric field overflow"},
		{"decimal(5,2)", typemap.DecimalValue("-1"), typemap.DecimalValue("-"), "not an exact decimal number"},
		{"decimal(5,2)", typemap.DecimalValue("1"), typemap.DecimalValue("1.2.3"), "not an exact decimal number"},
		{"decimal(5,2)", typemap.DecimalValue("1"), typemap.DecimalValue("+1"), "not an exact decimal number"},
		{"decimal(5,2)", typemap.DecimalValue("1"), typemap.DecimalValue(strings.Repeat("9", 140000)), "out of range for numeric"},
		{"nvarchar(3)", "abc", "abcd", "value too long"},
		{"nvarchar(3)", "abc", "\xff", "invalid byte sequence"},
		{"date", dt(1, 1, 1, 0, 0, 0, 0), time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC), "date out of range"},
		{"datetime2", dt(1, 1, 1, 0, 0, 0, 0), dt(294277, 1, 2, 0, 0, 0, 0), "timestamp out of range"},
		{"datetime2", dt(1, 1, 1, 0, 0, 0, 0), dt(300000, 1, 1, 0, 0, 0, 0), "out of range for timestamp"},
		{"datetimeoffset", dt(1, 1, 1, 0, 0, 0, 0), dt(-300000, 1, 1, 0, 0, 0, 0), "out of range for timestamptz"},
	} {
		t.Run(fmt.Sprintf("%s %.20v", tc.typ, tc.v), func(t *testing.T) {
			tx := begin(t, st)
			tbl := dialect.Table{Name: fmt.Sprintf("err_%d", n), Key: []int{0}, Columns: []typemap.Column{
				col(t, "id", "int", false, ""), col(t, "my col", tc.typ, true, ""),
			}}
			must(t, tx.Tables().Create(ctx, tbl))
			_, err := tx.Rows().Insert(ctx, tbl, source([]any{int64(1), tc.ok}, []any{int64(2), nil}, []any{int64(3), tc.v}))
			var ve *dialect.ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("Insert: %v, want a *ValueError", err)
			}
			if ve.Column != "my col" || ve.Row != 3 || !strings.Contains(ve.Reason, tc.reason) {
				t.Errorf("ValueError column %q row %d reason %q, want %q row 3 reason containing %q",
					ve.Column, ve.Row, ve.Reason, "my col", tc.reason)
			}
		})
	}
}

// failingSource fails after some rows, from Values or from Err.
type failingSource struct {
	rows   int
	after  int
	inErr  bool
	cancel context.CancelFunc
	pulled int
}

var errSourceBroke = errors.New("source broke")

func (f *failingSource) Next() bool {
	if f.pulled == f.after {
		if f.cancel != nil {
			f.cancel()
		}
		if f.inErr {
			return false
		}
	}
	f.pulled++
	return f.pulled <= f.rows
}

func (f *failingSource) Values() ([]any, error) {
	if f.pulled > f.after && !f.inErr && f.cancel == nil {
		return nil, errSourceBroke
	}
	return []any{int64(f.pulled), "row", nil}, nil
}

func (f *failingSource) Err() error {
	if f.inErr {
		return errSourceBroke
	}
	return nil
}

// TestLiveCopyStops checks that a failing source or a cancelled context ends the COPY with that
// cause, after the stream has already sent several messages, and that the transaction then rolls back
// cleanly, even when the cancellation cost it its connection.
func TestLiveCopyStops(t *testing.T) {
	st := openTenant(t)
	for _, tc := range []struct {
		name   string
		src    func(cancel context.CancelFunc) *failingSource
		wantIs error
	}{
		{"Values fails", func(context.CancelFunc) *failingSource { return &failingSource{rows: 50000, after: 20000} }, errSourceBroke},
		{"Err fails", func(context.CancelFunc) *failingSource {
			return &failingSource{rows: 50000, after: 20000, inErr: true}
		}, errSourceBroke},
		{"context cancelled", func(cancel context.CancelFunc) *failingSource {
			return &failingSource{rows: 50000, after: 20000, cancel: cancel}
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tx := begin(t, st)
			tbl := simpleTable(t, "stops")
			must(t, tx.Tables().Create(ctx, tbl))
			_, err := tx.Rows().Insert(ctx, tbl, tc.src(cancel))
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("Insert: %v, want %v", err, tc.wantIs)
			}
			if err := tx.Rollback(context.Background()); err != nil {
				t.Errorf("Rollback: %v", err)
			}
		})
	}
	// The pool is still usable afterwards.
	tx := begin(t, st)
	tbl := simpleTable(t, "after")
	must(t, tx.Tables().Create(context.Background(), tbl))
	n, err := tx.Rows().Insert(context.Background(), tbl, source([]any{int64(1), "x", int64(2)}))
	must(t, err)
	if n != 1 {
		t.Errorf("Insert after the failures = %d rows, want 1", n)
	}
}

// TestLiveUniqueViolationQuotesNoValue: a partner's unique index that a batch violates fails the
// batch; the error reaches the log and SuperOffice, so it must not quote the value (PostgreSQL keeps
// it in the error's Detail, which the dialect never prints).
func TestLiveUniqueViolationQuotesNoValue(t *testing.T) {
	st := openTenant(t)
	ctx := context.Background()
	tbl := dialect.Table{Name: "people", Key: []int{0}, Columns: []typemap.Column{
		col(t, "id", "int", false, ""), col(t, "email", "nvarchar(50)", true, ""),
	}}
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, tbl))
	must(t, tx.RunStatement(ctx, `CREATE UNIQUE INDEX people_email ON people (email)`))
	_, err := tx.Rows().Upsert(ctx, tbl, source([]any{int64(1), "jane@example.com"}, []any{int64(2), "jane@example.com"}))
	if err == nil {
		t.Fatal("a batch that breaks a unique index succeeded")
	}
	if strings.Contains(err.Error(), "jane") {
		t.Fatalf("the error quotes row data: %v", err)
	}
}

// TestLivePartnersObjects puts what a partner might on a mirrored table — views in a schema of their
// own (one on another, one owned by another role, with grants and a comment), a materialized view
// with an index, a view WITH CHECK OPTION, an index, a check constraint, a trigger, comments and
// grants on the table and a column — and changes the table in place, recreates it twice and drops it.
// Everything that still fits the table survives each change; what does not is reported lost, by name.
func TestLivePartnersObjects(t *testing.T) {
	base := testenv.Postgres(t)
	reader := "mirrorsink_reader_" + randomSuffix(t)
	admin(t, base, "CREATE ROLE "+quoteUnchecked(reader)+" NOLOGIN")
	t.Cleanup(func() { admin(t, base, "DROP ROLE IF EXISTS "+quoteUnchecked(reader)) })
	st := openTenant(t)
	ctx := context.Background()
	c := func(name, typ string) typemap.Column { return col(t, name, typ, true, "") }
	id := col(t, "id", "int", false, "")
	tbl := dialect.Table{Name: "contact", Key: []int{0}, Columns: []typemap.Column{id, c("name", "nvarchar(50)"), c("email", "nvarchar(100)"), c("note", "nvarchar(max)")}}
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, tbl))
	_, err := tx.Rows().Insert(ctx, tbl, source([]any{int64(1), "Ann", "ann@example.com", "x"}, []any{int64(2), "Bo", "bo@example.com", nil}))
	must(t, err)
	r := quoteUnchecked(reader)
	for _, s := range []string{
		`CREATE SCHEMA analytics`,
		`CREATE VIEW analytics.contact_names AS SELECT id, name FROM public.contact`,
		`CREATE VIEW analytics.contact_upper AS SELECT id, upper(name) AS name FROM analytics.contact_names`,
		`COMMENT ON VIEW analytics.contact_names IS 'for the dashboard'`,
		`COMMENT ON COLUMN analytics.contact_names.name IS 'as SuperOffice spells it'`,
		`GRANT USAGE ON SCHEMA analytics TO ` + r,
		`GRANT SELECT ON analytics.contact_names TO ` + r + ` WITH GRANT OPTION`,
		`ALTER VIEW analytics.contact_upper OWNER TO ` + r,
		`CREATE MATERIALIZED VIEW public.contact_mails AS SELECT id, email FROM public.contact`,
		`CREATE UNIQUE INDEX contact_mails_id ON public.contact_mails (id)`,
		`CREATE VIEW public.contact_checked WITH (check_option = local) AS SELECT * FROM public.contact WHERE id > 0`,
		`CREATE INDEX contact_email ON public.contact (email) WHERE email IS NOT NULL`,
		`CREATE INDEX contact_note ON public.contact (left(note, 10))`,
		`ALTER TABLE public.contact ADD CONSTRAINT contact_email_set CHECK (email <> '')`,
		`CREATE FUNCTION analytics.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`CREATE TRIGGER contact_touch BEFORE UPDATE ON public.contact FOR EACH ROW EXECUTE FUNCTION analytics.touch()`,
		`COMMENT ON TABLE public.contact IS 'mirrored'`,
		`COMMENT ON COLUMN public.contact.name IS 'the name'`,
		`GRANT SELECT ON public.contact TO ` + r,
		`GRANT UPDATE (name) ON public.contact TO ` + r,
	} {
		must(t, tx.RunStatement(ctx, s))
	}
	must(t, tx.Commit(ctx, dialect.Durable))
	state := func(tx *Tx) string {
		t.Helper()
		return sprint(queryStrings(t, tx, `SELECT
			(SELECT string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || (pg_get_userbyid(c.relowner) = current_user)::text, ' '
				ORDER BY n.nspname || '.' || c.relname COLLATE "C")
			   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			  WHERE c.relkind IN ('v', 'm') AND n.nspname IN ('public', 'analytics')),
			(pg_get_userbyid((SELECT relowner FROM pg_class WHERE oid = 'analytics.contact_upper'::regclass)) = $1)::text,
			has_table_privilege($1, 'analytics.contact_names', 'SELECT WITH GRANT OPTION')::text,
			obj_description('analytics.contact_names'::regclass, 'pg_class'),
			col_description('analytics.contact_names'::regclass, 2),
			(SELECT string_agg(indexname, ' ' ORDER BY indexname COLLATE "C") FROM pg_indexes WHERE tablename IN ('contact', 'contact_mails')),
			(SELECT string_agg(conname, ' ' ORDER BY conname COLLATE "C") FROM pg_constraint WHERE conrelid = 'public.contact'::regclass AND contype = 'c'),
			(SELECT string_agg(tgname, ' ') FROM pg_trigger WHERE tgrelid = 'public.contact'::regclass AND NOT tgisinternal),
			obj_description('public.contact'::regclass, 'pg_class'),
			coalesce(col_description('public.contact'::regclass, 2), '-'),
			has_table_privilege($1, 'public.contact', 'SELECT')::text,
			has_column_privilege($1, 'public.contact', 'name', 'UPDATE')::text,
			(SELECT count(*) FROM analytics.contact_upper)::text`, reader))
	}
	lostNames := func(lost []dialect.LostObject) string {
		var names []string
		for _, o := range lost {
			if o.Reason == "" {
				t.Errorf("%s is lost without a reason", o.Object)
			}
			names = append(names, o.Object)
		}
		return strings.Join(names, "; ")
	}

	// In place: widen name and drop note. The views of name go and come back around the change; the
	// view of every column (SELECT *) cannot, and is reported, as is the index of note, which
	// PostgreSQL drops with the column.
	widened := dialect.Table{Name: "contact", Key: []int{0}, Columns: []typemap.Column{id, c("name", "nvarchar(100)"), c("email", "nvarchar(100)")}}
	tx = begin(t, st)
	lost, err := tx.Tables().Alter(ctx, widened, []dialect.Change{
		{Kind: dialect.AlterType, Old: tbl.Columns[1], Column: widened.Columns[1]},
		{Kind: dialect.DropColumn, Old: tbl.Columns[3]},
	})
	must(t, err)
	if got := lostNames(lost); got != `index "public"."contact_note"; view "public"."contact_checked"` {
		t.Errorf("the in-place change lost %q, want the index and the view of the dropped column", got)
	}
	everything := "[[analytics.contact_names:v:true analytics.contact_upper:v:false public.contact_mails:m:true " +
		"true true for the dashboard as SuperOffice spells it contact_email contact_mails_id contact_pkey contact_email_set " +
		"contact_touch mirrored the name true true 2]]"
	if got := state(tx); got != everything {
		t.Errorf("after the in-place change:\n got %s\nwant %s", got, everything)
	}
	must(t, tx.Commit(ctx, dialect.Durable))

	// A recreate: everything is back on the new, empty table.
	recreated := dialect.Table{Name: "contact", Key: []int{0}, Columns: []typemap.Column{id, c("name", "nvarchar(100)"), c("email", "nvarchar(200)")}}
	tx = begin(t, st)
	lost, err = tx.Tables().Recreate(ctx, recreated)
	must(t, err)
	if got := lostNames(lost); got != "" {
		t.Errorf("the recreate lost %s", got)
	}
	if got, want := state(tx), strings.Replace(everything, "true true 2]]", "true true 0]]", 1); got != want {
		t.Errorf("after the recreate:\n got %s\nwant %s", got, want)
	}
	must(t, tx.Commit(ctx, dialect.Durable))

	// A recreate without email: what reads it is lost, with what belongs to it; the rest stays.
	noEmail := dialect.Table{Name: "contact", Key: []int{0}, Columns: []typemap.Column{id, c("name", "nvarchar(100)")}}
	tx = begin(t, st)
	lost, err = tx.Tables().Recreate(ctx, noEmail)
	must(t, err)
	if got, want := lostNames(lost), `constraint "contact_email_set" on "public"."contact"; index "public"."contact_email"; `+
		`materialized view "public"."contact_mails"; index "public"."contact_mails_id"`; got != want {
		t.Errorf("a recreate without email lost\n %s\nwant\n %s", got, want)
	}
	must(t, tx.Commit(ctx, dialect.Durable))

	// The source drops the table: the views of it go too, and say so.
	tx = begin(t, st)
	lost, err = tx.Tables().Drop(ctx, "contact")
	must(t, err)
	if got, want := lostNames(lost), `view "analytics"."contact_names"; view "analytics"."contact_upper"`; got != want {
		t.Errorf("dropping the table lost %q, want %q", got, want)
	}
	must(t, tx.Commit(ctx, dialect.Durable))
}

// TestLiveCatalogNamedTable: a mirrored table named pg_description. Unqualified, PostgreSQL would
// resolve the name in pg_catalog first, and a superuser's delete would delete rows of the catalog.
func TestLiveCatalogNamedTable(t *testing.T) {
	st := openTenant(t)
	ctx := context.Background()
	tbl := dialect.Table{Name: "pg_description", Key: []int{0}, Columns: []typemap.Column{
		col(t, "objoid", "int", false, ""), col(t, "description", "nvarchar(50)", true, "")}}
	tx := begin(t, st)
	catalog := func() string {
		return sprint(queryStrings(t, tx, `SELECT count(*) FROM pg_catalog.pg_description`))
	}
	before := catalog()
	must(t, tx.Tables().Create(ctx, tbl))
	var oid int64
	must(t, tx.x.tx.QueryRow(ctx, `SELECT objoid::int8 FROM pg_catalog.pg_description WHERE objoid < 2000000000 LIMIT 1`).Scan(&oid))
	_, err := tx.Rows().Insert(ctx, tbl, source([]any{oid, "one"}, []any{oid + 1, "two"}))
	must(t, err)
	_, err = tx.Rows().Upsert(ctx, tbl, source([]any{oid + 1, "deux"}))
	must(t, err)
	n, err := tx.Rows().Delete(ctx, tbl, source([]any{oid}))
	must(t, err)
	if n != 1 {
		t.Errorf("Delete removed %d rows, want 1", n)
	}
	if got := catalog(); got != before {
		t.Errorf("pg_catalog.pg_description had %s rows, has %s", before, got)
	}
	if got := sprint(queryStrings(t, tx, `SELECT objoid - $1, description FROM public.pg_description`, oid)); got != "[[1 deux]]" {
		t.Errorf("the mirror's pg_description: %s", got)
	}
	must(t, tx.Tables().Truncate(ctx, tbl))
	if got := catalog(); got != before {
		t.Errorf("after Truncate pg_catalog.pg_description had %s rows, has %s", before, got)
	}
}

package sqlite

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// source is a RowSource over prepared rows.
type source struct {
	rows [][]any
	i    int
}

func rowsOf(rows ...[]any) *source { return &source{rows: rows, i: -1} }

func (s *source) Next() bool             { s.i++; return s.i < len(s.rows) }
func (s *source) Values() ([]any, error) { return s.rows[s.i], nil }
func (s *source) Err() error             { return nil }

func openStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nested", "dir", "tenant.db")
	st, err := Dialect{}.Open(context.Background(), path, dialect.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st.(*Store), path
}

func begin(t *testing.T, st *Store) dialect.Tx {
	t.Helper()
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// readAll returns every row of table ordered by its first column, as the driver scans it.
func readAll(t *testing.T, tx dialect.Tx, table string, ncols int) [][]any {
	t.Helper()
	q, err := SQL{}.Quote(table)
	must(t, err)
	var out [][]any
	must(t, tx.(*Tx).x.Query(context.Background(), "SELECT * FROM "+q+" ORDER BY 1, 2", nil, func(scan func(...any) error) error {
		vals := make([]any, ncols)
		ptrs := make([]any, ncols)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		out = append(out, vals)
		return scan(ptrs...)
	}))
	return out
}

// exec runs a statement in the transaction, for tests that write the way a partner would.
func exec(tx dialect.Tx, ctx context.Context, stmt string) (int64, error) {
	return tx.(*Tx).x.Exec(ctx, stmt)
}

// parseStoredDateTime reads a stored datetime.
func parseStoredDateTime(s string) (any, error) { return readDateTime(s) }

func col(name string, k typemap.Kind, nullable bool) typemap.Column {
	return typemap.Column{Name: name, Type: typemap.Type{Kind: k}, Nullable: nullable}
}

func withType(c typemap.Column, length, precision, scale int) typemap.Column {
	c.Type.Length, c.Type.Precision, c.Type.Scale = length, precision, scale
	return c
}

func lit(s string, isString bool) *typemap.Default {
	raw := s
	if isString {
		raw = "N'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return &typemap.Default{Kind: typemap.DefaultLiteral, Literal: s, IsString: isString, Raw: "(" + raw + ")"}
}

func fn(k typemap.DefaultKind, raw string) *typemap.Default {
	return &typemap.Default{Kind: k, Raw: raw}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	st, path := openStore(t)
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		t.Fatalf("parent directory not created: %v", err)
	}
	tx := begin(t, st)
	for pragma, want := range map[string]any{"journal_mode": "wal", "foreign_keys": int64(0), "busy_timeout": int64(busyTimeoutMillis), "synchronous": int64(1)} {
		var got any
		found, err := tx.(*Tx).x.QueryRow(ctx, "PRAGMA "+pragma, nil, &got)
		must(t, err)
		if !found {
			t.Fatalf("PRAGMA %s returned nothing", pragma)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("PRAGMA %s = %v (%T), want %v", pragma, got, got, want)
		}
	}
	must(t, tx.Commit(ctx, dialect.Durable))
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created: %v", err)
	}

	if _, err := (Dialect{}).Open(ctx, path, dialect.OpenOptions{Schema: "tenant1"}); err == nil || !strings.Contains(err.Error(), "no schemas") {
		t.Errorf("Open with a schema: %v, want a clear error", err)
	}
	// A file: URI with parameters reaches the same file and shares its pool.
	st2, err := Dialect{}.Open(ctx, "file:"+path+"?cache=private", dialect.OpenOptions{})
	must(t, err)
	if st2.(*Store).db != st.db {
		t.Error("a second Store of the same file does not share the pool")
	}
	must(t, st2.Close())
	if d, err := dialect.Lookup("sqlite"); err != nil || d.Name() != "sqlite" {
		t.Errorf("Lookup(sqlite) = %v, %v", d, err)
	}
}

func mustTime(t *testing.T, layout, s string) time.Time {
	t.Helper()
	v, err := time.Parse(layout, s)
	must(t, err)
	return v
}

func TestRoundTripAllTypes(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	tbl := allTypesTable()
	const dt = "2006-01-02 15:04:05.9999999"
	east := time.FixedZone("", 14*3600)
	west := time.FixedZone("", -(9*3600 + 30*60))
	uuid := typemap.UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, 0xff}
	long := strings.Repeat("long ✓ text ", 20000)
	min := []any{
		int64(1), "a", false, int64(0), int64(math.MinInt16), int64(math.MinInt32), int64(math.MinInt64),
		typemap.DecimalValue("-9999999999999999999999999999.9999999999"), typemap.DecimalValue("-999999999999999999"),
		typemap.DecimalValue("-922337203685477.5808"), typemap.DecimalValue("-214748.3648"),
		-math.MaxFloat64, float64(-math.MaxFloat32),
		mustTime(t, "2006-01-02", "0001-01-01"), typemap.TimeOfDay(0),
		mustTime(t, dt, "1900-01-01 00:00:00"), mustTime(t, dt, "1753-01-01 00:00:00"),
		mustTime(t, dt, "0001-01-01 00:00:00"), time.Date(1, 1, 1, 0, 0, 0, 0, east),
		"", "", "", "", "", "", "", "",
		[]byte{}, []byte{}, []byte{}, []byte{}, []byte{0, 0, 0, 0, 0, 0, 0, 1},
		typemap.UUID{}, "", "/", "", "", "", "sys",
	}
	max := []any{
		int64(1), "b", true, int64(255), int64(math.MaxInt16), int64(math.MaxInt32), int64(math.MaxInt64),
		typemap.DecimalValue("9999999999999999999999999999.9999999999"), typemap.DecimalValue("999999999999999999"),
		typemap.DecimalValue("922337203685477.5807"), typemap.DecimalValue("214748.3647"),
		math.SmallestNonzeroFloat64, float64(math.MaxFloat32),
		mustTime(t, "2006-01-02", "9999-12-31"), typemap.TimeOfDay(24*time.Hour - 100),
		mustTime(t, dt, "2079-06-06 23:59:00"), mustTime(t, dt, "9999-12-31 23:59:59.997"),
		mustTime(t, dt, "9999-12-31 23:59:59.9999999"), time.Date(9999, 12, 31, 23, 59, 59, 999999900, west),
		"x\x00y", "'; DROP TABLE x; --", "ünï", "emoji 😀", long, "a\r\nb\tc", "text", "ntext",
		bytes.Repeat([]byte{0xff}, 16), []byte{0, 1, 2, 0}, bytes.Repeat([]byte{7}, 100000), []byte{0xde, 0xad}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		uuid, "<a b=\"c\">&amp;</a>", "/1/2/3/", "POINT (1 2)", "POLYGON ((0 0, 1 0, 1 1, 0 0))", "variant", "sysname",
	}
	nulls := make([]any, len(tbl.Columns))
	nulls[0], nulls[1], nulls[len(nulls)-1] = int64(2), "a", "s"

	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, tbl))
	n, err := tx.Rows().Insert(ctx, tbl, rowsOf(min, max, nulls))
	must(t, err)
	if n != 3 {
		t.Fatalf("BulkInsert stored %d rows, want 3", n)
	}
	must(t, tx.Commit(ctx, dialect.Durable))

	tx = begin(t, st)
	got := readAll(t, tx, tbl.Name, len(tbl.Columns))
	if len(got) != 3 {
		t.Fatalf("read %d rows, want 3", len(got))
	}
	for r, want := range [][]any{min, max, nulls} {
		for i, c := range tbl.Columns {
			if w := decodeStored(t, c.Type, got[r][i]); !equalValue(w, want[i]) {
				t.Errorf("row %d column %s: got %#v (stored %#v), want %#v", r+1, c.Name, w, got[r][i], want[i])
			}
		}
	}
	// The stored text itself is the documented format.
	wantText := map[string]string{
		"c_date": "9999-12-31", "c_time": "23:59:59.9999999", "c_datetime": "9999-12-31 23:59:59.9970000",
		"c_datetime2": "9999-12-31 23:59:59.9999999", "c_datetimeoffset": "9999-12-31 23:59:59.9999999-09:30",
		"c_uniqueidentifier": "6f9619ff-8b86-d011-b42d-00c04fc964ff", "c_decimal": "9999999999999999999999999999.9999999999",
	}
	for i, c := range tbl.Columns {
		if w, ok := wantText[c.Name]; ok && got[1][i] != w {
			t.Errorf("column %s stored %#v, want %q", c.Name, got[1][i], w)
		}
	}
	if got[0][18] != "0001-01-01 00:00:00.0000000+14:00" {
		t.Errorf("datetimeoffset stored %#v", got[0][18])
	}
}

// decodeStored turns a scanned value back into the Go type typemap decodes to.
func decodeStored(t *testing.T, typ typemap.Type, v any) any {
	t.Helper()
	if v == nil {
		return nil
	}
	var out any
	var err error
	switch storageOf(typ) {
	case stInteger:
		if typ.Kind == typemap.Bit {
			return v.(int64) == 1
		}
		return v
	case stDecimal:
		return typemap.DecimalValue(v.(string))
	case stDate:
		out, err = readDate(v)
	case stTime:
		out, err = readTime(v)
	case stDateTime:
		out, err = readDateTime(v)
	case stDateTimeOffset:
		out, err = readDateTimeOffset(v)
	case stBlob:
		// The driver reads an empty BLOB as a nil []byte; SQL NULL is a nil interface (above).
		if b := v.([]byte); b == nil {
			return []byte{}
		}
		return v
	case stUUID:
		s := strings.ReplaceAll(v.(string), "-", "")
		var u typemap.UUID
		for i := range u {
			var b byte
			for _, c := range []byte(s[2*i : 2*i+2]) {
				b <<= 4
				if c >= 'a' {
					b |= c - 'a' + 10
				} else {
					b |= c - '0'
				}
			}
			u[i] = b
		}
		return u
	default:
		return v
	}
	must(t, err)
	return out
}

func equalValue(got, want any) bool {
	if gt, ok := got.(time.Time); ok {
		wt, ok := want.(time.Time)
		_, goff := gt.Zone()
		_, woff := wt.Zone()
		return ok && gt.Equal(wt) && goff == woff
	}
	return reflect.DeepEqual(got, want)
}

// keyed is a small table with a composite key.
func keyed() dialect.Table {
	return dialect.Table{Name: "keyed", Columns: []typemap.Column{
		col("a", typemap.Int, false), withType(col("b", typemap.NVarChar, false), 10, 0, 0),
		withType(col("v", typemap.NVarChar, true), 50, 0, 0),
	}, Key: []int{0, 1}}
}

func TestUpsertDeleteTruncate(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	tbl := keyed()
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, tbl))
	_, err := tx.Rows().Insert(ctx, tbl, rowsOf(
		[]any{int64(1), "x", "one"}, []any{int64(2), "x", "two"}, []any{int64(3), "x", "three"}))
	must(t, err)
	n, err := tx.Rows().Upsert(ctx, tbl, rowsOf(
		[]any{int64(1), "x", "ONE"}, []any{int64(3), "x", nil}, []any{int64(4), "x", "four"}, []any{int64(1), "y", "one-y"}))
	must(t, err)
	if n != 4 {
		t.Errorf("Upsert wrote %d, want 4", n)
	}
	want := [][]any{{int64(1), "x", "ONE"}, {int64(1), "y", "one-y"}, {int64(2), "x", "two"}, {int64(3), "x", nil}, {int64(4), "x", "four"}}
	if got := readAll(t, tx, tbl.Name, 3); !reflect.DeepEqual(got, want) {
		t.Fatalf("after upsert: %v, want %v", got, want)
	}
	n, err = tx.Rows().Delete(ctx, tbl, rowsOf([]any{int64(1), "x"}, []any{int64(4), "x"}, []any{int64(9), "x"}))
	must(t, err)
	if n != 2 {
		t.Errorf("Delete removed %d, want 2", n)
	}
	want = [][]any{{int64(1), "y", "one-y"}, {int64(2), "x", "two"}, {int64(3), "x", nil}}
	if got := readAll(t, tx, tbl.Name, 3); !reflect.DeepEqual(got, want) {
		t.Fatalf("after delete: %v, want %v", got, want)
	}
	must(t, tx.Tables().Truncate(ctx, tbl))
	if got := readAll(t, tx, tbl.Name, 3); len(got) != 0 {
		t.Fatalf("after truncate: %v", got)
	}
	ok, err := tx.Tables().Exists(ctx, "KEYED")
	must(t, err)
	if !ok {
		t.Error("TableExists after truncate = false")
	}
	must(t, conformance.NoLoss(tx.Tables().Drop(ctx, tbl.Name)))
	must(t, conformance.NoLoss(tx.Tables().Drop(ctx, tbl.Name)))
	if ok, err := tx.Tables().Exists(ctx, tbl.Name); err != nil || ok {
		t.Errorf("TableExists after drop = %v, %v", ok, err)
	}
	must(t, tx.Commit(ctx, dialect.Durable))
}

// manyRows makes n rows of keyed starting at key from.
func manyRows(from, n int) *source {
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(from + i), "k", "v"}
	}
	return rowsOf(rows...)
}

func TestBulkChunksAndDuplicateKey(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	tbl := keyed()
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, tbl))
	// More rows than one statement holds, and a partial last statement.
	n, err := tx.Rows().Insert(ctx, tbl, manyRows(0, 1234))
	must(t, err)
	if n != 1234 {
		t.Fatalf("BulkInsert stored %d, want 1234", n)
	}
	cases := []struct {
		name string
		rows *source
	}{
		{"existing key", manyRows(1200, 100)},
		{"repeated within the batch", rowsOf([]any{int64(5000), "k", "a"}, []any{int64(5000), "k", "b"})},
	}
	for _, c := range cases {
		_, err := tx.Rows().Insert(ctx, tbl, c.rows)
		if !errors.Is(err, dialect.ErrDuplicateKey) {
			t.Fatalf("%s: Insert error = %v, want ErrDuplicateKey", c.name, err)
		}
	}
	// The transaction is still usable and the upsert path takes the same rows.
	n, err = tx.Rows().Upsert(ctx, tbl, manyRows(1200, 100))
	must(t, err)
	if n != 100 {
		t.Errorf("Upsert wrote %d, want 100", n)
	}
	must(t, tx.Commit(ctx, dialect.Durable))
	tx = begin(t, st)
	if got := readAll(t, tx, tbl.Name, 3); len(got) != 1300 {
		t.Errorf("rows after commit: %d, want 1300", len(got))
	}
	n, err = tx.Rows().Delete(ctx, tbl, rowsOf(func() [][]any {
		keys := make([][]any, 1000)
		for i := range keys {
			keys[i] = []any{int64(i), "k"}
		}
		return keys
	}()...))
	must(t, err)
	if n != 1000 {
		t.Errorf("Delete removed %d, want 1000", n)
	}
}

func TestValueErrors(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	tbl := dialect.Table{Name: "v", Columns: []typemap.Column{
		col("id", typemap.Int, false), withType(col("f", typemap.Float, true), 0, 53, 0),
		withType(col("d", typemap.DateTime2, true), 0, 7, 0), withType(col("t", typemap.Time, true), 0, 7, 0),
		withType(col("n", typemap.Decimal, true), 0, 18, 2),
	}, Key: []int{0}}
	ok := []any{int64(1), 1.0, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), typemap.TimeOfDay(0), typemap.DecimalValue("1.5")}
	cases := []struct {
		name   string
		column string
		bad    []any
	}{
		{"NaN", "f", []any{int64(2), math.NaN(), nil, nil, nil}},
		{"year 10000", "d", []any{int64(2), nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), nil, nil}},
		{"time of day 24h", "t", []any{int64(2), nil, nil, typemap.TimeOfDay(24 * time.Hour), nil}},
		{"decimal with exponent", "n", []any{int64(2), nil, nil, nil, typemap.DecimalValue("1e5")}},
		{"wrong Go type", "id", []any{"2", nil, nil, nil, nil}},
	}
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, tbl))
	for _, c := range cases {
		_, err := tx.Rows().Insert(ctx, tbl, rowsOf(ok, c.bad))
		var ve *dialect.ValueError
		if !errors.As(err, &ve) || !errors.Is(err, dialect.ErrValue) {
			t.Errorf("%s: error = %v, want a *ValueError", c.name, err)
			continue
		}
		if ve.Column != c.column || ve.Row != 2 {
			t.Errorf("%s: ValueError column %q row %d, want %q row 2", c.name, ve.Column, ve.Row, c.column)
		}
		must(t, tx.Tables().Truncate(ctx, tbl))
	}
}

func TestLockBlocksSecondTransaction(t *testing.T) {
	ctx := context.Background()
	st, path := openStore(t)
	other, err := Dialect{}.Open(ctx, path, dialect.OpenOptions{})
	must(t, err)
	defer other.Close()

	tx1 := begin(t, st)
	must(t, tx1.Lock(ctx, "tenant/table"))
	must(t, tx1.Lock(ctx, "tenant/table")) // re-entrant within one transaction
	acquired := make(chan time.Time, 1)
	go func() {
		tx2, err := other.Begin(ctx)
		if err == nil {
			err = tx2.Lock(ctx, "tenant/table")
			acquired <- time.Now()
			_ = tx2.Rollback(ctx)
		}
		if err != nil {
			t.Error(err)
			acquired <- time.Time{}
		}
	}()
	select {
	case <-acquired:
		t.Fatal("a second transaction got the lock while the first held it")
	case <-time.After(200 * time.Millisecond):
	}
	released := time.Now()
	must(t, tx1.Commit(ctx, dialect.Durable))
	select {
	case at := <-acquired:
		if at.Before(released) {
			t.Error("the lock was acquired before the first transaction ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second transaction never got the lock")
	}
}

func TestKeyedMutex(t *testing.T) {
	ctx := context.Background()
	m := &keyedMutex{locks: map[string]*keyLock{}}
	must(t, m.lock(ctx, "a"))
	must(t, m.lock(ctx, "b")) // another key is independent
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := m.lock(short, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lock of a held key = %v, want a deadline error", err)
	}
	m.unlock("a")
	must(t, m.lock(ctx, "a"))
	m.unlock("a")
	m.unlock("b")
	if len(m.locks) != 0 {
		t.Errorf("%d lock entries left after every unlock", len(m.locks))
	}
}

func TestHostileIdentifiers(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	tbl := hostileTable()
	row := func(k string, v string) []any {
		r := make([]any, len(tbl.Columns))
		for i := range r {
			r[i] = v
		}
		r[0], r[1] = k, k
		return r
	}
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, tbl))
	exists, err := tx.Tables().Exists(ctx, tbl.Name)
	must(t, err)
	if !exists {
		t.Fatal("TableExists = false for the hostile table")
	}
	_, err = tx.Rows().Insert(ctx, tbl, rowsOf(row("1", "a"), row("2", "b")))
	must(t, err)
	_, err = tx.Rows().Upsert(ctx, tbl, rowsOf(row("2", "B"), row("3", "c")))
	must(t, err)
	n, err := tx.Rows().Delete(ctx, tbl, rowsOf([]any{"1", "1"}))
	must(t, err)
	if n != 1 {
		t.Errorf("Delete removed %d, want 1", n)
	}
	added := withType(col(`new "col" ; --`, typemap.NVarChar, true), 10, 0, 0)
	tbl2 := tbl
	tbl2.Columns = append(append([]typemap.Column{}, tbl.Columns...), added)
	must(t, conformance.NoLoss(tx.Tables().Alter(ctx, tbl2, []dialect.Change{{Kind: dialect.AddColumn, Column: added}})))
	got := readAll(t, tx, tbl.Name, len(tbl2.Columns))
	if len(got) != 2 || got[0][5] != "B" || got[1][5] != "c" || got[0][len(tbl2.Columns)-1] != nil {
		t.Errorf("hostile table rows: %v", got)
	}
	must(t, conformance.NoLoss(tx.Tables().Drop(ctx, tbl.Name)))
	must(t, tx.Commit(ctx, dialect.Durable))
}

func TestDefaultsLive(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	tbl := defaultsTable()
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, tbl))
	_, err := exec(tx, ctx, `INSERT INTO "defaults" ("id") VALUES (1)`)
	must(t, err)
	got := readAll(t, tx, tbl.Name, len(tbl.Columns))[0]
	byName := map[string]any{}
	for i, c := range tbl.Columns {
		byName[c.Name] = got[i]
	}
	want := map[string]any{
		"bit_one": int64(1), "bit_zero": int64(0), "int_neg": int64(-5), "dec_lit": "0.5", "money_zero": "0",
		"float_lit": 1.5, "date_lit": "1760-01-01", "datetime_lit": "1760-01-01 00:00:00.0000000",
		"dto_lit": "2001-02-03 04:05:06.0000000+02:00", "time_lit": "12:30:00.0000000",
		"uuid_lit": "6f9619ff-8b86-d011-b42d-00c04fc964ff", "str_lit": "it's", "str_empty": "",
		"bin_lit": []byte{0x0a, 0x0b}, "null_default": nil, "now_on_int": nil,
	}
	for name, w := range want {
		if !reflect.DeepEqual(byName[name], w) {
			t.Errorf("default of %s = %#v, want %#v", name, byName[name], w)
		}
	}
	formats := map[string]string{
		"now_datetime":    `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{7}$`,
		"utcnow_datetime": `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{7}$`,
		"now_date":        `^\d{4}-\d\d-\d\d$`,
		"now_time":        `^\d\d:\d\d:\d\d\.\d{7}$`,
		"nowoffset_dto":   `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{7}\+00:00$`,
		"newid_uuid":      `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`,
		"newid_text":      `^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`,
	}
	for name, re := range formats {
		s, _ := byName[name].(string)
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("default of %s = %#v, want a match of %s", name, byName[name], re)
		}
	}
	if _, err := parseStoredDateTime(byName["utcnow_datetime"].(string)); err != nil {
		t.Error(err)
	}
}

func TestAlterTable(t *testing.T) {
	ctx := context.Background()
	base := func() dialect.Table {
		return dialect.Table{Name: "alt", Columns: []typemap.Column{
			col("id", typemap.Int, false), withType(col("name", typemap.NVarChar, true), 100, 0, 0),
			col("n", typemap.Int, true),
		}, Key: []int{0}}
	}
	withDefault := func(c typemap.Column, d *typemap.Default) typemap.Column { c.Default = d; return c }
	type step struct {
		name     string
		table    func() dialect.Table // the new definition
		changes  func(old dialect.Table, t dialect.Table) []dialect.Change
		recreate bool
		// check runs an INSERT of id 10 with only the id and returns the rows.
		want [][]any
	}
	addCol := func(c typemap.Column) func() dialect.Table {
		return func() dialect.Table { t := base(); t.Columns = append(t.Columns, c); return t }
	}
	steps := []step{
		{name: "add nullable column", table: addCol(withType(col("note", typemap.NVarChar, true), 10, 0, 0)),
			changes: func(_, t dialect.Table) []dialect.Change {
				return []dialect.Change{{Kind: dialect.AddColumn, Column: t.Columns[3]}}
			},
			want: [][]any{{int64(1), "a", nil, nil}, {int64(2), nil, int64(5), nil}, {int64(10), nil, nil, nil}}},
		{name: "add NOT NULL column with default", table: addCol(withDefault(col("flag", typemap.Bit, false), lit("1", false))),
			changes: func(_, t dialect.Table) []dialect.Change {
				return []dialect.Change{{Kind: dialect.AddColumn, Column: t.Columns[3]}}
			},
			want: [][]any{{int64(1), "a", nil, int64(1)}, {int64(2), nil, int64(5), int64(1)}, {int64(10), nil, nil, int64(1)}}},
		{name: "add NOT NULL column without default to a filled table", table: addCol(col("req", typemap.Int, false)),
			changes: func(_, t dialect.Table) []dialect.Change {
				return []dialect.Change{{Kind: dialect.AddColumn, Column: t.Columns[3]}}
			}, recreate: true},
		{name: "drop column", table: func() dialect.Table { t := base(); t.Columns = t.Columns[:2]; return t },
			changes: func(old, _ dialect.Table) []dialect.Change {
				return []dialect.Change{{Kind: dialect.DropColumn, Old: old.Columns[2]}}
			},
			want: [][]any{{int64(1), "a"}, {int64(2), nil}, {int64(10), nil}}},
		{name: "widen nvarchar and int (no-op)", table: func() dialect.Table {
			t := base()
			t.Columns[1].Type.Length = 255
			t.Columns[2].Type.Kind = typemap.BigInt
			return t
		}, changes: func(old, t dialect.Table) []dialect.Change {
			return []dialect.Change{{Kind: dialect.AlterType, Old: old.Columns[1], Column: t.Columns[1]}, {Kind: dialect.AlterType, Old: old.Columns[2], Column: t.Columns[2]}}
		}, want: [][]any{{int64(1), "a", nil}, {int64(2), nil, int64(5)}, {int64(10), nil, nil}}},
		{name: "type change without an exact conversion", table: func() dialect.Table {
			t := base()
			t.Columns[1].Type = typemap.Type{Kind: typemap.Int}
			return t
		}, changes: func(old, t dialect.Table) []dialect.Change {
			return []dialect.Change{{Kind: dialect.AlterType, Old: old.Columns[1], Column: t.Columns[1]}}
		}, recreate: true},
		{name: "set default (rebuild)", table: func() dialect.Table { t := base(); t.Columns[2].Default = lit("42", false); return t },
			changes: func(old, t dialect.Table) []dialect.Change {
				return []dialect.Change{{Kind: dialect.AlterDefault, Old: old.Columns[2], Column: t.Columns[2]}}
			},
			want: [][]any{{int64(1), "a", nil}, {int64(2), nil, int64(5)}, {int64(10), nil, int64(42)}}},
		{name: "NOT NULL on a column holding NULLs", table: func() dialect.Table {
			t := base()
			t.Columns[2].Nullable = false
			t.Columns[2].Default = lit("0", false)
			return t
		}, changes: func(old, t dialect.Table) []dialect.Change {
			return []dialect.Change{{Kind: dialect.AlterNullability, Old: old.Columns[2], Column: t.Columns[2]}, {Kind: dialect.AlterDefault, Old: old.Columns[2], Column: t.Columns[2]}}
		}, recreate: true}, // row 1 holds NULL in n
		{name: "drop NOT NULL (rebuild)", table: func() dialect.Table { t := base(); t.Columns[0].Nullable = true; return t },
			changes: func(old, t dialect.Table) []dialect.Change {
				// The key column stays NOT NULL; the rebuild must keep the rows.
				return []dialect.Change{{Kind: dialect.AlterNullability, Old: old.Columns[0], Column: t.Columns[0]}}
			},
			want: [][]any{{int64(1), "a", nil}, {int64(2), nil, int64(5)}, {int64(10), nil, nil}}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			st, _ := openStore(t)
			old := base()
			tx := begin(t, st)
			must(t, tx.Tables().Create(ctx, old))
			_, err := tx.Rows().Insert(ctx, old, rowsOf([]any{int64(1), "a", nil}, []any{int64(2), nil, int64(5)}))
			must(t, err)
			nt := s.table()
			err = conformance.NoLoss(tx.Tables().Alter(ctx, nt, s.changes(old, nt)))
			if s.recreate {
				if !errors.Is(err, dialect.ErrRecreate) {
					t.Fatalf("AlterTable = %v, want ErrRecreate", err)
				}
				// Nothing changed.
				if got := readAll(t, tx, old.Name, 3); !reflect.DeepEqual(got, [][]any{{int64(1), "a", nil}, {int64(2), nil, int64(5)}}) {
					t.Errorf("table changed by a refused AlterTable: %v", got)
				}
				return
			}
			must(t, err)
			_, err = exec(tx, ctx, `INSERT INTO "alt" ("id") VALUES (10)`)
			must(t, err)
			if got := readAll(t, tx, nt.Name, len(nt.Columns)); !reflect.DeepEqual(got, s.want) {
				t.Errorf("rows after %s: %v, want %v", s.name, got, s.want)
			}
			must(t, tx.Commit(ctx, dialect.Durable))
		})
	}
}

func TestAlterNullabilityEnforced(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	old := dialect.Table{Name: "nn", Columns: []typemap.Column{col("id", typemap.Int, false), col("n", typemap.Int, true)}, Key: []int{0}}
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, old))
	_, err := tx.Rows().Insert(ctx, old, rowsOf([]any{int64(1), int64(7)}))
	must(t, err)
	nt := old
	nt.Columns = []typemap.Column{old.Columns[0], col("n", typemap.Int, false)}
	must(t, conformance.NoLoss(tx.Tables().Alter(ctx, nt, []dialect.Change{{Kind: dialect.AlterNullability, Old: old.Columns[1], Column: nt.Columns[1]}})))
	if _, err := exec(tx, ctx, `INSERT INTO "nn" ("id", "n") VALUES (2, NULL)`); err == nil {
		t.Error("NULL accepted after AlterNullability to NOT NULL")
	}
	if got := readAll(t, tx, "nn", 2); !reflect.DeepEqual(got, [][]any{{int64(1), int64(7)}}) {
		t.Errorf("rows after the rebuild: %v", got)
	}
	if ok, err := tx.Tables().Exists(ctx, rebuildTempName); err != nil || ok {
		t.Errorf("the rebuild's temporary table is left: %v, %v", ok, err)
	}
}

func TestValueErrorInLaterBatch(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	tbl := keyed()
	src := manyRows(0, 1500)
	src.rows[699] = []any{int64(699), "k", int64(5)} // an int where text belongs, in the second statement
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, tbl))
	_, err := tx.Rows().Insert(ctx, tbl, src)
	var ve *dialect.ValueError
	if !errors.As(err, &ve) || ve.Row != 700 || ve.Column != "v" {
		t.Fatalf("BulkInsert error = %v, want a ValueError for row 700, column v", err)
	}
	if src.i >= len(src.rows) {
		t.Error("the source was read to the end after the failing row")
	}
}

func TestParseDSN(t *testing.T) {
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	cases := []struct {
		dsn, file string
		contains  []string
		absent    []string
	}{
		{dsn: "data/tenant.db", file: abs("data/tenant.db"),
			contains: []string{"data/tenant.db?", "_txlock=immediate", "journal_mode%28WAL%29", "busy_timeout%2810000%29", "foreign_keys%280%29"}},
		{dsn: "file:/tmp/x%20y.db?cache=private&_txlock=deferred&_pragma=cache_size(-1000)", file: "/tmp/x y.db",
			contains: []string{"file:/tmp/x%20y.db?", "cache=private", "_txlock=immediate", "cache_size%28-1000%29"}, absent: []string{"deferred"}},
		{dsn: "file:///tmp/a.db", file: "/tmp/a.db", contains: []string{"file:///tmp/a.db?"}},
		{dsn: ":memory:", file: "", contains: []string{":memory:?"}, absent: []string{"WAL"}},
	}
	for _, c := range cases {
		got, err := parseDSN(c.dsn)
		if err != nil {
			t.Errorf("parseDSN(%q): %v", c.dsn, err)
			continue
		}
		if got.file != c.file {
			t.Errorf("parseDSN(%q).file = %q, want %q", c.dsn, got.file, c.file)
		}
		for _, s := range c.contains {
			if !strings.Contains(got.driverDSN, s) {
				t.Errorf("parseDSN(%q) = %q, want it to contain %q", c.dsn, got.driverDSN, s)
			}
		}
		for _, s := range c.absent {
			if strings.Contains(got.driverDSN, s) {
				t.Errorf("parseDSN(%q) = %q, want no %q", c.dsn, got.driverDSN, s)
			}
		}
	}
	for _, bad := range []string{"", "file:", "file:?mode=ro", "x.db?%zz"} {
		if _, err := parseDSN(bad); err == nil {
			t.Errorf("parseDSN(%q) succeeded, want an error", bad)
		}
	}
}

// allTypesTable has one column of every SQL Server type, with a composite key (id, part).
func allTypesTable() dialect.Table {
	cols := []typemap.Column{
		col("id", typemap.Int, false),
		withType(col("part", typemap.NVarChar, false), 10, 0, 0),
		col("c_bit", typemap.Bit, true),
		col("c_tinyint", typemap.TinyInt, true),
		col("c_smallint", typemap.SmallInt, true),
		col("c_int", typemap.Int, true),
		col("c_bigint", typemap.BigInt, true),
		withType(col("c_decimal", typemap.Decimal, true), 0, 38, 10),
		withType(col("c_numeric", typemap.Decimal, true), 0, 18, 0),
		col("c_money", typemap.Money, true),
		col("c_smallmoney", typemap.SmallMoney, true),
		withType(col("c_float", typemap.Float, true), 0, 53, 0),
		withType(col("c_real", typemap.Real, true), 0, 24, 0),
		col("c_date", typemap.Date, true),
		withType(col("c_time", typemap.Time, true), 0, 7, 0),
		col("c_smalldatetime", typemap.SmallDateTime, true),
		col("c_datetime", typemap.DateTime, true),
		withType(col("c_datetime2", typemap.DateTime2, true), 0, 7, 0),
		withType(col("c_datetimeoffset", typemap.DateTimeOffset, true), 0, 7, 0),
		withType(col("c_char", typemap.Char, true), 10, 0, 0),
		withType(col("c_varchar", typemap.VarChar, true), 255, 0, 0),
		withType(col("c_nchar", typemap.NChar, true), 10, 0, 0),
		withType(col("c_nvarchar", typemap.NVarChar, true), 4000, 0, 0),
		withType(col("c_varchar_max", typemap.VarChar, true), typemap.Max, 0, 0),
		withType(col("c_nvarchar_max", typemap.NVarChar, true), typemap.Max, 0, 0),
		col("c_text", typemap.Text, true),
		col("c_ntext", typemap.NText, true),
		withType(col("c_binary", typemap.Binary, true), 16, 0, 0),
		withType(col("c_varbinary", typemap.VarBinary, true), 100, 0, 0),
		withType(col("c_varbinary_max", typemap.VarBinary, true), typemap.Max, 0, 0),
		col("c_image", typemap.Image, true),
		col("c_rowversion", typemap.RowVersion, true),
		col("c_uniqueidentifier", typemap.UniqueIdentifier, true),
		col("c_xml", typemap.XML, true),
		col("c_hierarchyid", typemap.HierarchyID, true),
		col("c_geography", typemap.Geography, true),
		col("c_geometry", typemap.Geometry, true),
		col("c_sql_variant", typemap.SQLVariant, true),
		col("c_sysname", typemap.SysName, false),
	}
	return dialect.Table{Name: "all_types", Columns: cols, Key: []int{0, 1}}
}

// defaultsTable has a default of every kind on the column types where it matters.
func defaultsTable() dialect.Table {
	d := func(c typemap.Column, def *typemap.Default) typemap.Column { c.Default = def; return c }
	cols := []typemap.Column{
		col("id", typemap.Int, false),
		d(col("bit_one", typemap.Bit, false), lit("1", false)),
		d(col("bit_zero", typemap.Bit, false), lit("0", false)),
		d(col("int_neg", typemap.Int, true), lit("-5", false)),
		d(withType(col("dec_lit", typemap.Decimal, true), 0, 18, 4), lit("0.5000", false)),
		d(col("money_zero", typemap.Money, true), lit("0", false)),
		d(withType(col("float_lit", typemap.Float, true), 0, 53, 0), lit("1.5", false)),
		d(col("date_lit", typemap.Date, true), lit("1760-01-01", true)),
		d(col("datetime_lit", typemap.DateTime, true), lit("1760-01-01 00:00:00", true)),
		d(withType(col("datetime2_lit", typemap.DateTime2, true), 0, 7, 0), lit("2001-02-03T04:05:06.1234567", true)),
		d(withType(col("dto_lit", typemap.DateTimeOffset, true), 0, 7, 0), lit("2001-02-03 04:05:06 +02:00", true)),
		d(withType(col("time_lit", typemap.Time, true), 0, 7, 0), lit("12:30:00", true)),
		d(col("uuid_lit", typemap.UniqueIdentifier, true), lit("6F9619FF-8B86-D011-B42D-00C04FC964FF", true)),
		d(withType(col("str_lit", typemap.NVarChar, true), 50, 0, 0), lit("it's", true)),
		d(withType(col("str_empty", typemap.NVarChar, false), 50, 0, 0), lit("", true)),
		d(withType(col("str_from_number", typemap.VarChar, true), 10, 0, 0), lit("0", false)),
		d(withType(col("bin_lit", typemap.VarBinary, true), 10, 0, 0), lit("0x0A0b", false)),
		d(col("null_default", typemap.Int, true), fn(typemap.DefaultNull, "(NULL)")),
		d(col("now_datetime", typemap.DateTime, false), fn(typemap.DefaultNow, "(getdate())")),
		d(col("utcnow_datetime", typemap.DateTime, true), fn(typemap.DefaultUTCNow, "(getutcdate())")),
		d(col("now_date", typemap.Date, true), fn(typemap.DefaultNow, "(getdate())")),
		d(withType(col("now_time", typemap.Time, true), 0, 7, 0), fn(typemap.DefaultNow, "(sysdatetime())")),
		d(withType(col("nowoffset_dto", typemap.DateTimeOffset, true), 0, 7, 0), fn(typemap.DefaultNowOffset, "(sysdatetimeoffset())")),
		d(col("newid_uuid", typemap.UniqueIdentifier, false), fn(typemap.DefaultNewID, "(newid())")),
		d(withType(col("newid_text", typemap.NChar, true), 36, 0, 0), fn(typemap.DefaultNewID, "(newid())")),
		d(col("now_on_int", typemap.Int, true), fn(typemap.DefaultNow, "(getdate())")),
		d(col("unsupported", typemap.Int, true), fn(typemap.DefaultUnsupported, "(abs(-1))")),
		d(col("bad_int_lit", typemap.Int, true), lit("abc", true)),
	}
	return dialect.Table{Name: "defaults", Columns: cols, Key: []int{0}}
}

// hostileNames are identifiers that only work when quoted correctly.
var hostileNames = []string{
	"user", "order", "group", "select", "MixedCase", "with space", `dq"uote`, "sq'uote", "back`tick",
	"[bracket]", "ünïcødé_名前", "semi;colon --", strings.Repeat("n", MaxNameBytes),
}

func hostileTable() dialect.Table {
	cols := make([]typemap.Column, len(hostileNames))
	for i, n := range hostileNames {
		cols[i] = withType(col(n, typemap.NVarChar, i > 1), 50, 0, 0)
	}
	return dialect.Table{Name: `order "of" [user]`, Columns: cols, Key: []int{0, 1}}
}

// TestMirrorFilesArePrivate: a tenant's database file holds its CRM data, so it is created readable by
// its owner only, in a folder only its owner can list.
func TestMirrorFilesArePrivate(t *testing.T) {
	st, path := openStore(t)
	tx := begin(t, st)
	must(t, tx.Meta().Migrate(context.Background(), time.Now()))
	must(t, tx.Commit(context.Background(), dialect.Durable))
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		must(t, err)
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %o, want %o", p, fi.Mode().Perm(), want)
		}
	}
}

// TestRebuildKeepsPartnersObjects: a change that SQLite makes by rebuilding the table (it has no ALTER
// COLUMN) keeps a partner's view of the table working and re-creates the partner's index and
// trigger; a recreate does the same, and reports an index of a column that is gone as lost.
func TestRebuildKeepsPartnersObjects(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	old := dialect.Table{Name: "contact", Columns: []typemap.Column{col("id", typemap.Int, false), col("n", typemap.Int, true), col("m", typemap.Int, true)}, Key: []int{0}}
	tx := begin(t, st)
	must(t, tx.Tables().Create(ctx, old))
	_, err := tx.Rows().Insert(ctx, old, rowsOf([]any{int64(1), int64(7), int64(8)}))
	must(t, err)
	for _, s := range []string{
		`CREATE VIEW "contact_n" AS SELECT "id", "n" FROM "contact"`,
		`CREATE INDEX "contact_by_n" ON "contact" ("n")`,
		`CREATE INDEX "contact_by_m" ON "contact" ("m")`,
		`CREATE TABLE "audit" ("id" INTEGER)`,
		`CREATE TRIGGER "contact_audit" AFTER INSERT ON "contact" BEGIN INSERT INTO "audit" VALUES (NEW."id"); END`,
	} {
		_, err := exec(tx, ctx, s)
		must(t, err)
	}
	objects := func() [][]any {
		t.Helper()
		var out [][]any
		must(t, tx.(*Tx).x.Query(ctx, `SELECT "type", "name" FROM "sqlite_schema" WHERE "name" NOT LIKE 'sqlite_%' ORDER BY 1, 2`, nil,
			func(scan func(...any) error) error {
				var kind, name string
				if err := scan(&kind, &name); err != nil {
					return err
				}
				out = append(out, []any{kind, name})
				return nil
			}))
		return out
	}
	before := objects()
	nt := old
	nt.Columns = []typemap.Column{old.Columns[0], col("n", typemap.Int, false), old.Columns[2]}
	must(t, conformance.NoLoss(tx.Tables().Alter(ctx, nt, []dialect.Change{{Kind: dialect.AlterNullability, Old: old.Columns[1], Column: nt.Columns[1]}})))
	if got := objects(); !reflect.DeepEqual(got, before) {
		t.Errorf("after the rebuild the schema holds %v, want %v", got, before)
	}
	if got := readAll(t, tx, "contact_n", 2); !reflect.DeepEqual(got, [][]any{{int64(1), int64(7)}}) {
		t.Errorf("the partner's view after the rebuild: %v", got)
	}
	_, err = tx.Rows().Insert(ctx, nt, rowsOf([]any{int64(2), int64(9), nil}))
	must(t, err)
	if n, err := tx.Tables().Count(ctx, "audit"); err != nil || n != 1 {
		t.Errorf("the partner's trigger after the rebuild recorded %d rows, %v; want 1", n, err)
	}

	// A recreate without m: the index of m is lost, the rest is back.
	without := dialect.Table{Name: "contact", Columns: nt.Columns[:2], Key: []int{0}}
	lost, err := tx.Tables().Recreate(ctx, without)
	must(t, err)
	if len(lost) != 1 || lost[0].Object != `index "contact_by_m"` || !strings.Contains(lost[0].Reason, "m") {
		t.Errorf("the recreate lost %v, want the index of the dropped column", lost)
	}
	want := [][]any{{"index", "contact_by_n"}, {"table", "audit"}, {"table", "contact"}, {"trigger", "contact_audit"}, {"view", "contact_n"}}
	if got := objects(); !reflect.DeepEqual(got, want) {
		t.Errorf("after the recreate the schema holds %v, want %v", got, want)
	}
}

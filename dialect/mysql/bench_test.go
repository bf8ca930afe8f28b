package mysql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// benchTable is a CRM-like table of 30 columns: a key, ints, nvarchars, datetimes and floats.
func benchTable(t testing.TB, name string) dialect.Table {
	cols := []typemap.Column{col(t, "id", "int", "", false)}
	for i := 0; i < 6; i++ {
		cols = append(cols, col(t, fmt.Sprintf("int%d", i), "int", "", true))
	}
	for i, n := range []int{50, 50, 100, 100, 255, 255, 255, 40, 40, 2000} {
		cols = append(cols, col(t, fmt.Sprintf("text%d", i), fmt.Sprintf("nvarchar(%d)", n), "", true))
	}
	for i := 0; i < 8; i++ {
		cols = append(cols, col(t, fmt.Sprintf("dt%d", i), "datetime", "", true))
	}
	for i := 0; i < 5; i++ {
		cols = append(cols, col(t, fmt.Sprintf("f%d", i), "float", "", true))
	}
	return dialect.Table{Name: name, Columns: cols, Key: []int{0}}
}

// benchRows generates n deterministic rows for benchTable.
type benchRows struct {
	n, i int
	vals []any
	base time.Time
}

func newBenchRows(n int) *benchRows {
	return &benchRows{n: n, vals: make([]any, 30), base: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)}
}

var words = []string{"Ålesund", "Oslo", "Anderson", "Müller", "sales", "prospect", "Contact", "Street 12", "O'Brien", "Tab\tSeparated"}

func (r *benchRows) Next() bool {
	if r.i >= r.n {
		return false
	}
	r.i++
	i := r.i
	v := r.vals
	v[0] = int64(i)
	for c := 1; c <= 6; c++ {
		v[c] = int64(i * c % 100000)
	}
	for c := 7; c <= 16; c++ {
		w := words[(i+c)%len(words)]
		switch c {
		case 16:
			v[c] = strings.Repeat(w+" ", 8)
		case 11, 12, 13:
			v[c] = fmt.Sprintf("%s %s %d", w, words[(i*c)%len(words)], i)
		default:
			v[c] = w
		}
	}
	for c := 17; c <= 24; c++ {
		v[c] = r.base.Add(time.Duration(i*c) * 3331 * time.Millisecond)
	}
	for c := 25; c <= 29; c++ {
		v[c] = float64(i) / float64(c)
	}
	if i%7 == 0 {
		v[12], v[20] = nil, nil
	}
	return true
}

func (r *benchRows) Values() ([]any, error) { return r.vals, nil }
func (r *benchRows) Err() error             { return nil }

const benchN = 100_000

// BenchmarkBulkInsert loads 100k rows through Insert and, for comparison, the same rows as a TSV file
// through the mariadb client's LOAD DATA LOCAL INFILE into an identical table (the raw limit).
func BenchmarkBulkInsert(b *testing.B) {
	st := openStore(b)
	ctx := context.Background()
	tb := benchTable(b, "bench")
	create, _, err := SQL{}.CreateTable(tb)
	noErr(b, err)

	reset := func(name string) {
		_, err := st.db.Exec("DROP TABLE IF EXISTS " + quoteIdent(name))
		noErr(b, err)
		_, err = st.db.Exec(strings.Replace(create, "`bench`", quoteIdent(name), 1))
		noErr(b, err)
	}

	// Insert and the raw load alternate, so that both see the same load on a shared machine.
	var ours, raw time.Duration
	rawOK := true
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		reset("bench")
		b.StartTimer()
		start := time.Now()
		tx, err := st.Begin(ctx)
		noErr(b, err)
		n, err := tx.Rows().Insert(ctx, tb, newBenchRows(benchN))
		noErr(b, err)
		noErr(b, tx.Commit(ctx, dialect.Durable))
		ours += time.Since(start)
		b.StopTimer()
		if n != benchN {
			b.Fatalf("stored %d rows", n)
		}
		if rawOK {
			var d time.Duration
			d, rawOK = rawLoad(b, st, tb, reset)
			raw += d
		}
	}
	oursRate := float64(benchN*b.N) / ours.Seconds()
	b.ReportMetric(oursRate, "rows/s")
	if rawOK {
		rawRate := float64(benchN*b.N) / raw.Seconds()
		b.ReportMetric(rawRate, "raw-rows/s")
		b.ReportMetric(oursRate/rawRate, "ratio")
	}
}

// rawLoad writes the benchmark rows as TSV and loads them with the mariadb client.
func rawLoad(b *testing.B, st *Store, tb dialect.Table, reset func(string)) (time.Duration, bool) {
	client, err := exec.LookPath("mariadb")
	if err != nil {
		if client, err = exec.LookPath("mysql"); err != nil {
			b.Log("no mariadb/mysql client: raw limit not measured")
			return 0, false
		}
	}
	path := filepath.Join(b.TempDir(), "bench.tsv")
	enc, err := newRowEncoder(tb.Columns)
	noErr(b, err)
	rows := newBenchRows(benchN)
	var buf []byte
	for n := 1; rows.Next(); n++ {
		vals, _ := rows.Values()
		buf, err = enc.appendRow(buf, vals, n)
		noErr(b, err)
	}
	noErr(b, os.WriteFile(path, buf, 0o600))
	reset("bench_raw")

	cfg, err := mysql.ParseDSN(testenv.MySQL(b))
	noErr(b, err)
	host, port := cfg.Addr, "3306"
	if i := strings.LastIndex(cfg.Addr, ":"); i >= 0 {
		host, port = cfg.Addr[:i], cfg.Addr[i+1:]
	}
	var db string
	noErr(b, st.db.QueryRow("SELECT DATABASE()").Scan(&db))
	stmt, err := SQL{}.LoadData("x", "bench_raw", tb.Columns)
	noErr(b, err)
	stmt = strings.Replace(stmt, "'Reader::x'", stringLiteral(path), 1)
	cmd := exec.Command(client, "--local-infile=1", "-h", host, "-P", port, "-u", cfg.User, db, "-e", "SET time_zone='+00:00'; SET sql_mode='"+SQLMode+"'; "+stmt)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+cfg.Passwd)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("raw load: %v: %s", err, out)
	}
	var n int
	noErr(b, st.db.QueryRow("SELECT COUNT(*) FROM `bench_raw`").Scan(&n))
	if n != benchN {
		b.Fatalf("raw load stored %d rows", n)
	}
	return d, true
}

// keyedRows streams benchTable rows for the given keys. bump changes one column, so that an upsert of
// an existing key really changes the row (InnoDB skips updates that change nothing).
type keyedRows struct {
	keys []int64
	bump int64
	gen  *benchRows
	n    int
}

func newKeyedRows(keys []int64, bump int64) *keyedRows {
	return &keyedRows{keys: keys, bump: bump, gen: newBenchRows(1 << 62)}
}

func (r *keyedRows) Next() bool {
	if r.n >= len(r.keys) {
		return false
	}
	r.gen.i = int(r.keys[r.n]) - 1
	r.n++
	r.gen.Next()
	r.gen.vals[1] = r.gen.vals[1].(int64) + r.bump
	return true
}

func (r *keyedRows) Values() ([]any, error) { return r.gen.vals, nil }
func (r *keyedRows) Err() error             { return nil }

// benchTableRows is the size of the table BenchmarkUpsertDelete works on: MIRRORSINK_BENCH_TABLE_ROWS,
// or 1,000,000 as in make bench.
func benchTableRows(b *testing.B) int {
	if v := os.Getenv("MIRRORSINK_BENCH_TABLE_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 60_000 {
			b.Fatalf("MIRRORSINK_BENCH_TABLE_ROWS=%q: want a number of at least 60000", v)
		}
		return n
	}
	return 1_000_000
}

// BenchmarkUpsertDelete reproduces make bench's incremental cycle: on a table of about a million rows
// of 30 columns, one transaction upserts 50,000 random existing keys and deletes 5,000 others (a
// deleted key comes back as an insert in a later iteration). Run with -benchtime 3x.
func BenchmarkUpsertDelete(b *testing.B) {
	const upserts, deletes = 50_000, 5_000
	st := openStore(b)
	ctx := context.Background()
	tb := benchTable(b, "contact")
	size := benchTableRows(b)

	all := make([]int64, size)
	for i := range all {
		all[i] = int64(i + 1)
	}
	tx, err := st.Begin(ctx)
	noErr(b, err)
	noErr(b, tx.Tables().Create(ctx, tb))
	n, err := tx.Rows().Insert(ctx, tb, newKeyedRows(all, 0))
	noErr(b, err)
	if n != int64(size) {
		b.Fatalf("Insert stored %d rows", n)
	}
	noErr(b, tx.Commit(ctx, dialect.Durable))

	rng := rand.New(rand.NewPCG(3, 4))
	var total time.Duration
	iter := int64(0)
	for b.Loop() {
		b.StopTimer()
		iter++
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		up := append([]int64(nil), all[:upserts]...)
		delRows := make([][]any, deletes)
		for i, k := range all[upserts : upserts+deletes] {
			delRows[i] = []any{k}
		}
		b.StartTimer()
		start := time.Now()
		tx, err := st.Begin(ctx)
		noErr(b, err)
		noErr(b, tx.Lock(ctx, "bench/contact"))
		t0 := time.Now()
		n, err := tx.Rows().Upsert(ctx, tb, newKeyedRows(up, iter))
		noErr(b, err)
		if n != upserts {
			b.Fatalf("Upsert wrote %d rows", n)
		}
		t1 := time.Now()
		_, err = tx.Rows().Delete(ctx, tb, src(delRows...))
		noErr(b, err)
		t2 := time.Now()
		noErr(b, tx.Commit(ctx, dialect.Durable))
		d := time.Since(start)
		total += d
		b.Logf("upsert %d + delete %d on %d rows: %v (upsert %v, delete %v, commit %v)", upserts, deletes, size,
			d.Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond),
			time.Since(t2).Round(time.Millisecond))
	}
	b.ReportMetric(float64((upserts+deletes)*b.N)/total.Seconds(), "rows/s")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/cycle")
}

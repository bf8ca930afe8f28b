package mysql

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

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
	noErr(b, tx.CreateTable(ctx, tb))
	n, err := tx.BulkInsert(ctx, tb, newKeyedRows(all, 0))
	noErr(b, err)
	if n != int64(size) {
		b.Fatalf("BulkInsert stored %d rows", n)
	}
	noErr(b, tx.Commit(ctx))

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
		n, err := tx.Upsert(ctx, tb, newKeyedRows(up, iter))
		noErr(b, err)
		if n != upserts {
			b.Fatalf("Upsert wrote %d rows", n)
		}
		t1 := time.Now()
		_, err = tx.Delete(ctx, tb, src(delRows...))
		noErr(b, err)
		t2 := time.Now()
		noErr(b, tx.Commit(ctx))
		d := time.Since(start)
		total += d
		b.Logf("upsert %d + delete %d on %d rows: %v (upsert %v, delete %v, commit %v)", upserts, deletes, size,
			d.Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond),
			time.Since(t2).Round(time.Millisecond))
	}
	b.ReportMetric(float64((upserts+deletes)*b.N)/total.Seconds(), "rows/s")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/cycle")
}

package postgres

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// keyedRows streams rows for the given keys, taking the other values from templates in turn: a large
// table without holding it in memory.
type keyedRows struct {
	keys      []int64
	templates [][]any
	i         int
	out       []any
}

func (r *keyedRows) Next() bool {
	r.i++
	return r.i <= len(r.keys)
}

func (r *keyedRows) Values() ([]any, error) {
	tpl := r.templates[(r.i-1)%len(r.templates)]
	if r.out == nil {
		r.out = make([]any, len(tpl))
	}
	copy(r.out, tpl)
	r.out[0] = r.keys[r.i-1]
	return r.out, nil
}

func (r *keyedRows) Err() error { return nil }

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
// of 30 columns, one transaction upserts 50,000 random existing keys and deletes 5,000 others. Each
// iteration reports its time; a deleted key comes back as an insert in a later iteration, as in a
// real mirror. Run with -benchtime 3x.
func BenchmarkUpsertDelete(b *testing.B) {
	const upserts, deletes = 50_000, 5_000
	st, _ := openTenantB(b)
	ctx := context.Background()
	tbl := benchTable(b, "contact")
	templates := benchData(tbl)[:10_000]
	size := benchTableRows(b)

	all := make([]int64, size)
	for i := range all {
		all[i] = int64(i + 1)
	}
	tx, err := st.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := tx.CreateTable(ctx, tbl); err != nil {
		b.Fatal(err)
	}
	if n, err := tx.BulkInsert(ctx, tbl, &keyedRows{keys: all, templates: templates}); err != nil || n != int64(size) {
		b.Fatalf("BulkInsert = %d, %v", n, err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	// A loaded table has been analysed by autovacuum by the time increments arrive.
	admin(b, benchDSN, "VACUUM ANALYZE contact")

	rng := rand.New(rand.NewPCG(3, 4))
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		up := append([]int64(nil), all[:upserts]...)
		del := append([]int64(nil), all[upserts:upserts+deletes]...)
		delRows := make([][]any, len(del))
		for i, k := range del {
			delRows[i] = []any{k}
		}
		b.StartTimer()
		start := time.Now()
		tx, err := st.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.Lock(ctx, "bench/contact"); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if n, err := tx.Upsert(ctx, tbl, &keyedRows{keys: up, templates: templates}); err != nil || n != upserts {
			b.Fatalf("Upsert = %d, %v", n, err)
		}
		t1 := time.Now()
		if _, err := tx.Delete(ctx, tbl, &rowsOf{rows: delRows}); err != nil {
			b.Fatalf("Delete: %v", err)
		}
		t2 := time.Now()
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		total += d
		b.Logf("upsert %d + delete %d on %d rows: %v (upsert %v, delete %v, commit %v)", upserts, deletes, size,
			d.Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond),
			time.Since(t2).Round(time.Millisecond))
	}
	b.ReportMetric(float64((upserts+deletes)*b.N)/total.Seconds(), "rows/s")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/cycle")
}

var _ dialect.RowSource = (*keyedRows)(nil)

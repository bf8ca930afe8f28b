package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

const benchRows = 100000

// benchTable is a realistic ~30-column SuperOffice-like table: an int key, ints, nvarchars,
// datetimes and floats.
func benchTable() dialect.Table {
	cols := []typemap.Column{col("id", typemap.Int, false)}
	for i := 0; i < 9; i++ {
		cols = append(cols, col(fmt.Sprintf("int_%d", i), typemap.Int, true))
	}
	for i := 0; i < 10; i++ {
		cols = append(cols, withType(col(fmt.Sprintf("str_%d", i), typemap.NVarChar, true), 255, 0, 0))
	}
	for i := 0; i < 6; i++ {
		cols = append(cols, col(fmt.Sprintf("dt_%d", i), typemap.DateTime, true))
	}
	for i := 0; i < 4; i++ {
		cols = append(cols, withType(col(fmt.Sprintf("f_%d", i), typemap.Float, true), 0, 53, 0))
	}
	return dialect.Table{Name: "bench", Columns: cols, Key: []int{0}}
}

// genSource generates n rows of benchTable without holding them all.
type genSource struct {
	n, i int
	vals []any
	base time.Time
	strs []string
}

func newGen(n int) *genSource {
	g := &genSource{n: n, vals: make([]any, 30), base: time.Date(2020, 1, 1, 8, 0, 0, 0, time.UTC)}
	for i := 0; i < 64; i++ {
		g.strs = append(g.strs, fmt.Sprintf("Contact person %d, Sales dept. – Ålesund office #%d", i, i*7))
	}
	return g
}

func (g *genSource) Next() bool { g.i++; return g.i <= g.n }
func (g *genSource) Err() error { return nil }
func (g *genSource) Values() ([]any, error) {
	v := g.vals
	v[0] = int64(g.i)
	for c := 1; c < 10; c++ {
		v[c] = int64(g.i * c)
	}
	for c := 10; c < 20; c++ {
		v[c] = g.strs[(g.i+c)%len(g.strs)]
	}
	for c := 20; c < 26; c++ {
		v[c] = g.base.Add(time.Duration(g.i*c) * 3333 * time.Microsecond)
	}
	for c := 26; c < 30; c++ {
		v[c] = float64(g.i) * 1.25 / float64(c)
	}
	return v, nil
}

// BenchmarkBulkInsert loads 100k rows per iteration into a fresh table through BulkInsert.
func BenchmarkBulkInsert(b *testing.B) {
	ctx := context.Background()
	tbl := benchTable()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := Dialect{}.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), dialect.OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		tx, err := st.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.Tables().Create(ctx, tbl); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		n, err := tx.Rows().Insert(ctx, tbl, newGen(benchRows))
		if err != nil || n != benchRows {
			b.Fatalf("BulkInsert: %d, %v", n, err)
		}
		if err := tx.Commit(ctx, dialect.Durable); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		_ = st.Close()
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/total.Seconds(), "rows/s")
}

// BenchmarkRawDriver is the ceiling: the same multi-row statements through database/sql with values
// already in driver form (no RowSource, no conversion), to show what BulkInsert's own work costs.
func BenchmarkRawDriver(b *testing.B) {
	ctx := context.Background()
	tbl := benchTable()
	width := len(tbl.Columns)
	per := rowsPerStatement(width)
	full, err := SQL{}.Insert(tbl, per)
	if err != nil {
		b.Fatal(err)
	}
	g := newGen(per)
	args := make([]any, 0, per*width)
	for g.Next() {
		vals, _ := g.Values()
		for c, v := range vals {
			if t, ok := v.(time.Time); ok {
				v = t.Format(layoutDateTime)
			}
			_ = c
			args = append(args, v)
		}
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := Dialect{}.Open(ctx, filepath.Join(b.TempDir(), "raw.db"), dialect.OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		create, _, _ := SQL{}.CreateTable(tbl)
		db := st.(*Store).db
		if _, err := db.ExecContext(ctx, create); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		stmt, err := tx.PrepareContext(ctx, full)
		if err != nil {
			b.Fatal(err)
		}
		for done := 0; done < benchRows; done += per {
			for r := 0; r < per; r++ {
				args[r*width] = int64(done + r) // a fresh key
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				b.Fatal(err)
			}
		}
		_ = stmt.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		_ = st.Close()
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/total.Seconds(), "rows/s")
}

package sqlserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// benchColumns is a realistic 30-column table (ints, nvarchar, datetime, float) keyed by "id"; with
// extra, it also has a varchar, a decimal and a uniqueidentifier column, whose encoders do more.
func benchColumns(extra bool) []typemap.Column {
	cols := []typemap.Column{col("id", typemap.Int, 0, 0, 0, false)}
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
	if extra {
		cols = append(cols, col("v", typemap.VarChar, 100, 0, 0, true), col("m", typemap.Decimal, 0, 19, 4, true),
			col("u", typemap.UniqueIdentifier, 0, 0, 0, true))
	}
	return cols
}

// genSource generates n rows of cols.
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
			g.row[j] = fmt.Sprintf("Nonnast, Leon %d-%d ✓", g.i, j)
		case typemap.DateTime:
			g.row[j] = base.Add(time.Duration(g.i) * time.Second)
		case typemap.Float:
			g.row[j] = float64(g.i) / 7
		case typemap.VarChar:
			g.row[j] = fmt.Sprintf("Søt %d", g.i)
		case typemap.Decimal:
			g.row[j] = typemap.DecimalValue(fmt.Sprintf("%d.1250", g.i))
		case typemap.UniqueIdentifier:
			g.row[j] = typemap.UUID{0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64, byte(g.i)}
		}
	}
	g.row[0] = int64(g.i)
	return g.row, nil
}

// BenchmarkBulkInsert loads 100k realistic rows into the live server (MIRRORSINK_TEST_SQLSERVER) and
// reports rows/s.
func BenchmarkBulkInsert(b *testing.B) {
	st := liveStore(b)
	ctx := context.Background()
	tab := dialect.Table{Name: "bench", Columns: benchColumns(false), Key: []int{0}}
	const rows = 100000
	gen := &genSource{cols: tab.Columns, n: rows}
	for b.Loop() {
		tx, err := st.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := conformance.NoLoss(tx.Tables().Drop(ctx, tab.Name)); err != nil {
			b.Fatal(err)
		}
		if err := tx.Tables().Create(ctx, tab); err != nil {
			b.Fatal(err)
		}
		gen.i = 0
		start := time.Now()
		if _, err := tx.Rows().Insert(ctx, tab, gen); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx, dialect.Durable); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rows/time.Since(start).Seconds(), "rows/s")
	}
}

// BenchmarkEncodeRow measures the client's CPU per row on the bulk path before the driver: every
// value of a row through its column's encoder. It needs no server.
func BenchmarkEncodeRow(b *testing.B) {
	cols := benchColumns(true)
	gen := &genSource{cols: cols, n: 1 << 30}
	rows := make([][]any, 1024)
	for i := range rows {
		gen.Next()
		vals, _ := gen.Values()
		rows[i] = append([]any{}, vals...)
	}
	encs, err := newEncoders(cols, map[string]int{"v": 1252}, false, false)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]any, len(cols))
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		vals := rows[n%len(rows)]
		for i, enc := range encs {
			v, err := enc(vals[i])
			if err != nil {
				b.Fatal(err)
			}
			out[i] = v
		}
	}
}

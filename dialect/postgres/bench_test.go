package postgres

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/protocol"
	"github.com/mirrorsink/mirrorsink/typemap"
)

const benchRows = 100_000

// benchTable is a CRM-like table of 30 columns: keys and counters, names and texts, dates, amounts.
func benchTable(tb testing.TB, name string) dialect.Table {
	tbl := dialect.Table{Name: name, Key: []int{0}}
	add := func(n, typ string) { tbl.Columns = append(tbl.Columns, col(tb, n, typ, true, "")) }
	tbl.Columns = append(tbl.Columns, col(tb, "id", "int", false, ""))
	for i := range 7 {
		add(fmt.Sprintf("ref_%d", i), "int")
	}
	for i := range 10 {
		add(fmt.Sprintf("text_%d", i), "nvarchar(255)")
	}
	for i := range 6 {
		add(fmt.Sprintf("date_%d", i), "datetime")
	}
	for i := range 6 {
		add(fmt.Sprintf("amount_%d", i), "float")
	}
	return tbl
}

// benchData builds the rows once, as the decoder would hand them over.
func benchData(tbl dialect.Table) [][]any { return benchDataN(tbl, benchRows) }

// benchDataN builds n rows of the bench table.
func benchDataN(tbl dialect.Table, n int) [][]any {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("Acme Nordic Consulting AS Oslo Bergen sales meeting follow-up contract renewal " +
		"invoice support ticket project Ørsted Zürich customer partner lead quote order")
	base := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([][]any, n)
	for r := range rows {
		row := make([]any, len(tbl.Columns))
		for i, c := range tbl.Columns {
			switch {
			case i == 0:
				row[i] = int64(r + 1)
			case c.Type.Kind == typemap.Int:
				row[i] = int64(rng.IntN(1_000_000))
			case c.Type.Kind == typemap.NVarChar:
				n := 1 + rng.IntN(6)
				var b strings.Builder
				for w := range n {
					if w > 0 {
						b.WriteByte(' ')
					}
					b.WriteString(words[rng.IntN(len(words))])
				}
				row[i] = b.String()
			case c.Type.Kind == typemap.DateTime:
				ms := rng.Int64N(10 * 365 * 24 * 3600 * 1000)
				row[i] = base.Add(time.Duration(ms) * time.Millisecond)
			default:
				row[i] = float64(rng.IntN(10_000_000)) / 100
			}
			if i > 0 && rng.IntN(10) == 0 {
				row[i] = nil
			}
		}
		rows[r] = row
	}
	return rows
}

// BenchmarkBulkInsert loads 100k rows of 30 columns per iteration through Rows().Insert and, for the
// ratio, the same rows as TSV through psql's \copy (text COPY, the database's own bulk tool) into an
// identical table. Both loads run in every iteration, one after the other, so that a shared machine's
// changing load hits both alike. Run with -benchtime 3x.
func BenchmarkBulkInsert(b *testing.B) {
	st := openTenantB(b)
	ctx := context.Background()
	tbl := benchTable(b, "bench")
	raw := benchTable(b, "bench_psql")
	rows := benchData(tbl)
	psql, err := exec.LookPath("psql")
	if err != nil {
		b.Log("psql not installed: no raw COPY comparison")
	}
	file := filepath.Join(b.TempDir(), "rows.tsv")
	if psql != "" {
		writeTSV(b, file, tbl, rows)
	}
	recreate := func(t dialect.Table) dialect.Tx {
		tx, err := st.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := conformance.NoLoss(tx.Tables().Drop(ctx, t.Name)); err != nil {
			b.Fatal(err)
		}
		if err := tx.Tables().Create(ctx, t); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx, dialect.Durable); err != nil {
			b.Fatal(err)
		}
		tx, err = st.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return tx
	}

	b.ReportAllocs()
	// clientCPU is this process's CPU time (user and system, all threads) during Insert: the
	// client's share of a load, which the shared machine disturbs far less than the wall clock.
	var ours, theirs, clientCPU time.Duration
	for b.Loop() {
		b.StopTimer()
		tx := recreate(tbl)
		b.StartTimer()
		start, cpu0 := time.Now(), processCPU(b)
		n, err := tx.Rows().Insert(ctx, tbl, &rowsOf{rows: rows})
		if err != nil || n != benchRows {
			b.Fatalf("Insert = %d, %v", n, err)
		}
		if err := tx.Commit(ctx, dialect.Durable); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		clientCPU += processCPU(b) - cpu0
		if psql == "" {
			continue
		}
		b.StopTimer()
		recreate(raw).Rollback(ctx)
		start = time.Now()
		cmd := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", benchDSN,
			"-c", `\copy bench_psql from '`+file+`'`)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("psql: %v: %s", err, out)
		}
		theirs += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(benchRows*b.N)/ours.Seconds(), "rows/s")
	b.ReportMetric(float64(clientCPU.Nanoseconds())/float64(benchRows*b.N), "client-cpu-ns/row")
	if psql != "" {
		b.ReportMetric(float64(benchRows*b.N)/theirs.Seconds(), "psql-rows/s")
		b.ReportMetric(theirs.Seconds()/ours.Seconds(), "ratio")
	}
}

// processCPU returns the CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchDSN is the tenant database of the running benchmark, for psql.
var benchDSN string

func openTenantB(b *testing.B) dialect.Store {
	base := testenv.Postgres(b)
	db := "mirrorsink_pgbench_" + randomSuffix(b)
	benchDSN = withDatabase(b, base, db)
	st, err := Dialect{}.Open(context.Background(), benchDSN, dialect.OpenOptions{Tenant: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		st.Close()
		admin(b, base, "DROP DATABASE IF EXISTS "+quoteUnchecked(db)+" WITH (FORCE)")
	})
	return st
}

// writeTSV writes rows in COPY text format (the generated strings hold no tab, newline or backslash).
func writeTSV(b *testing.B, path string, tbl dialect.Table, rows [][]any) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for _, row := range rows {
		for i, v := range row {
			if i > 0 {
				w.WriteByte('\t')
			}
			switch v := v.(type) {
			case nil:
				w.WriteString(`\N`)
			case int64:
				w.WriteString(strconv.FormatInt(v, 10))
			case float64:
				w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			case string:
				w.WriteString(v)
			case time.Time:
				w.WriteString(v.Format("2006-01-02 15:04:05.000"))
			}
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCopyEncode encodes the BulkInsert benchmark's rows as a binary COPY stream, read as pgconn
// reads it, without a server: the client's own cost per row.
func BenchmarkCopyEncode(b *testing.B) {
	tbl := benchTable(b, "bench")
	rows := benchData(tbl)
	b.ReportAllocs()
	var bytes int64
	for b.Loop() {
		bytes += drainCopy(b, tbl, &rowsOf{rows: rows})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(benchRows*b.N), "ns/row")
	b.SetBytes(bytes / int64(b.N))
}

// drainCopy reads the whole binary COPY stream of src, as pgconn reads it, and returns its length.
func drainCopy(b *testing.B, tbl dialect.Table, src dialect.RowSource) int64 {
	cs, err := newCopySource(context.Background(), slog.Default(), tbl, tbl.Columns, src)
	if err != nil {
		b.Fatal(err)
	}
	defer cs.end()
	p := make([]byte, 65531)
	var bytes int64
	for {
		n, err := cs.Read(p)
		bytes += int64(n)
		if err == io.EOF {
			return bytes
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCopyEncodeRaw is BenchmarkCopyEncode from the rows' wire text, as the engine hands them
// over: the raw encoders' cost per row.
func BenchmarkCopyEncodeRaw(b *testing.B) {
	tbl := benchTable(b, "bench")
	benchWireOnce.Do(func() { benchWire = wireData(b, tbl, benchData(tbl)) })
	benchCopyFromWire(b, tbl, &wireRowsOf{rows: benchWire})
}

// BenchmarkCopyEncodeDecoded is BenchmarkCopyEncodeRaw through the generic path: each wire text
// decoded by typemap into a Go value, which the bulk encoders encode.
func BenchmarkCopyEncodeDecoded(b *testing.B) {
	tbl := benchTable(b, "bench")
	benchWireOnce.Do(func() { benchWire = wireData(b, tbl, benchData(tbl)) })
	src := &decodedRowsOf{w: wireRowsOf{rows: benchWire}, vals: make([]any, len(tbl.Columns))}
	for _, c := range tbl.Columns {
		src.dec = append(src.dec, typemap.DecoderFor(c.Type))
	}
	benchCopyFromWire(b, tbl, src)
}

// decodedRowsOf hands out wire rows decoded, as a dialect.RowSource that is not a RawRowSource.
type decodedRowsOf struct {
	w    wireRowsOf
	dec  []typemap.Decoder
	vals []any
}

func (r *decodedRowsOf) rewind()    { r.w.rewind() }
func (r *decodedRowsOf) Next() bool { return r.w.Next() }
func (r *decodedRowsOf) Err() error { return nil }
func (r *decodedRowsOf) Values() ([]any, error) {
	for i, w := range r.w.rows[r.w.i-1] {
		if w.Null {
			r.vals[i] = nil
			continue
		}
		v, err := r.dec[i](w.Text)
		if err != nil {
			return nil, err
		}
		r.vals[i] = v
	}
	return r.vals, nil
}

func benchCopyFromWire(b *testing.B, tbl dialect.Table, src interface {
	dialect.RowSource
	rewind()
}) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU(b)
	defer func() {
		b.ReportMetric(float64((processCPU(b)-cpu).Nanoseconds())/float64(benchRows*b.N), "cpu-ns/row")
	}()
	var bytes int64
	for b.Loop() {
		src.rewind()
		bytes += drainCopy(b, tbl, src)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(benchRows*b.N), "ns/row")
	b.SetBytes(bytes / int64(b.N))
}

// wireData encodes rows as the Mirroring Task sends them, their texts one after the other in one
// buffer, as the engine hands them over from protocol's spool.
func wireData(tb testing.TB, tbl dialect.Table, rows [][]any) [][]dialect.WireValue {
	var buf []byte
	type span struct{ from, to int }
	spans := make([][]span, len(rows))
	for r, row := range rows {
		spans[r] = make([]span, len(row))
		for i, v := range row {
			if v == nil {
				spans[r][i] = span{-1, -1}
				continue
			}
			text, err := typemap.EncodeWire(tbl.Columns[i].Type, v)
			if err != nil {
				tb.Fatal(err)
			}
			spans[r][i] = span{len(buf), len(buf) + len(text)}
			buf = append(buf, text...)
		}
	}
	out := make([][]dialect.WireValue, len(rows))
	for r := range rows {
		out[r] = make([]dialect.WireValue, len(spans[r]))
		for i, sp := range spans[r] {
			if sp.from < 0 {
				out[r][i].Null = true
			} else {
				out[r][i].Text = buf[sp.from:sp.to:sp.to]
			}
		}
	}
	return out
}

var (
	benchWireOnce sync.Once
	benchWire     [][]dialect.WireValue
)

// wireRowsOf is a dialect.RawRowSource over wire rows held in memory.
type wireRowsOf struct {
	rows [][]dialect.WireValue
	i    int
}

func (r *wireRowsOf) rewind() { r.i = 0 }

func (r *wireRowsOf) Next() bool {
	r.i++
	return r.i <= len(r.rows)
}
func (r *wireRowsOf) Wire() ([]dialect.WireValue, error) { return r.rows[r.i-1], nil }
func (r *wireRowsOf) Values() ([]any, error) {
	return nil, fmt.Errorf("wireRowsOf: Values is not expected")
}
func (r *wireRowsOf) Err() error { return nil }

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
	st := openTenantB(b)
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
	if err := tx.Tables().Create(ctx, tbl); err != nil {
		b.Fatal(err)
	}
	if n, err := tx.Rows().Insert(ctx, tbl, &keyedRows{keys: all, templates: templates}); err != nil || n != int64(size) {
		b.Fatalf("Insert = %d, %v", n, err)
	}
	if err := tx.Commit(ctx, dialect.Durable); err != nil {
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
		if n, err := tx.Rows().Upsert(ctx, tbl, &keyedRows{keys: up, templates: templates}); err != nil || n != upserts {
			b.Fatalf("Upsert = %d, %v", n, err)
		}
		t1 := time.Now()
		if _, err := tx.Rows().Delete(ctx, tbl, &rowsOf{rows: delRows}); err != nil {
			b.Fatalf("Delete: %v", err)
		}
		t2 := time.Now()
		if err := tx.Commit(ctx, dialect.Durable); err != nil {
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

// BenchmarkRowDataToCopy is serve's work per row for one RowData call of 1,000 rows of the bench
// table, from the request's bytes to the binary COPY stream, without a server: "streamed-raw" as the
// engine does it now (rows streamed from the decoder, wire text through the raw encoders), "whole-
// generic" as before (the batch spooled whole, then each value decoded into a Go value and encoded).
// cpu-ns/row is the process's CPU time, steadier than wall time on a busy machine.
func BenchmarkRowDataToCopy(b *testing.B) {
	tbl := benchTable(b, "bench")
	benchWireOnce.Do(func() { benchWire = wireData(b, tbl, benchData(tbl)) })
	const rows = 1000
	var body bytes.Buffer
	ts := contract.TableSchema{Name: tbl.Name}
	for _, c := range tbl.Columns {
		ts.Columns = append(ts.Columns, contract.Column{Name: c.Name, Type: c.Type.String(), IsNullable: c.Nullable})
	}
	e := protocol.NewRowDataEncoder(&body, "token", "")
	if err := e.BeginBatch(); err != nil {
		b.Fatal(err)
	}
	vals := make([]contract.Value, len(tbl.Columns))
	for r := range rows {
		for i, w := range benchWire[r] {
			vals[i] = contract.Value{Text: w.Text, Null: w.Null}
		}
		if err := e.Row(contract.Insert, vals); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.EndBatch(0, ts); err != nil {
		b.Fatal(err)
	}
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
	batches := func() (*protocol.RequestDecoder, contract.BatchStreamer) {
		d := protocol.NewRequestDecoder(bytes.NewReader(body.Bytes()), protocol.DecodeOptions{})
		if _, err := d.ReadHeader(); err != nil {
			b.Fatal(err)
		}
		req, err := d.RowData()
		if err != nil {
			b.Fatal(err)
		}
		return d, req.Batches.(contract.BatchStreamer)
	}
	run := func(b *testing.B, one func()) {
		b.ReportAllocs()
		b.SetBytes(int64(body.Len()))
		cpu := processCPU(b)
		for b.Loop() {
			one()
		}
		b.ReportMetric(float64((processCPU(b)-cpu).Nanoseconds())/float64(rows*b.N), "cpu-ns/row")
	}
	b.Run("streamed-raw", func(b *testing.B) {
		run(b, func() {
			d, bs := batches()
			s, err := bs.Stream(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			drainCopy(b, tbl, &streamedWire{s: s, wire: make([]dialect.WireValue, len(tbl.Columns))})
			if _, err := s.Batch(); err != nil {
				b.Fatal(err)
			}
			d.Close()
		})
	})
	b.Run("streamed-decode-only", func(b *testing.B) {
		run(b, func() {
			d, bs := batches()
			s, err := bs.Stream(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			for s.Next() {
			}
			if _, err := s.Batch(); err != nil {
				b.Fatal(err)
			}
			d.Close()
		})
	})
	b.Run("whole-generic", func(b *testing.B) {
		decoders := make([]typemap.Decoder, len(tbl.Columns))
		for i, c := range tbl.Columns {
			decoders[i] = typemap.DecoderFor(c.Type)
		}
		run(b, func() {
			d, bs := batches()
			batch, err := bs.Next(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			drainCopy(b, tbl, &decodedRows{rows: batch.Rows, dec: decoders, vals: make([]any, len(tbl.Columns))})
			d.Close()
		})
	})
}

// streamedWire hands a stream's rows over as wire text, as the engine's row source does.
type streamedWire struct {
	s    contract.BatchStream
	wire []dialect.WireValue
}

func (r *streamedWire) Next() bool { return r.s.Next() }
func (r *streamedWire) Err() error { return r.s.Err() }
func (r *streamedWire) Values() ([]any, error) {
	return nil, fmt.Errorf("streamedWire: Values is not expected")
}
func (r *streamedWire) Wire() ([]dialect.WireValue, error) {
	for i, v := range r.s.Row().Values {
		r.wire[i] = dialect.WireValue{Text: v.Text, Null: v.Null}
	}
	return r.wire, nil
}

// decodedRows hands a batch's rows over decoded, as the engine's row source did.
type decodedRows struct {
	rows contract.Rows
	dec  []typemap.Decoder
	vals []any
}

func (r *decodedRows) Next() bool { return r.rows.Next() }
func (r *decodedRows) Err() error { return r.rows.Err() }
func (r *decodedRows) Values() ([]any, error) {
	for i, v := range r.rows.Row().Values {
		if v.Null {
			r.vals[i] = nil
			continue
		}
		x, err := r.dec[i](v.Text)
		if err != nil {
			return nil, err
		}
		r.vals[i] = x
	}
	return r.vals, nil
}

// The bulk path encodes a row from its wire text without allocating: the values are never boxed into
// Go values on the way (the generic path allocates for most of them), and the stream's buffer is
// reused. So reading 4,000 rows costs about as many allocations as reading 1,000.
func TestCopyFromWireDoesNotAllocatePerRow(t *testing.T) {
	tbl := benchTable(t, "bench")
	wire := wireData(t, tbl, benchDataN(tbl, 4000))
	p := make([]byte, 65531)
	allocs := func(rows int) float64 {
		src := &wireRowsOf{rows: wire[:rows]}
		return testing.AllocsPerRun(5, func() {
			src.rewind()
			cs, err := newCopySource(context.Background(), slog.Default(), tbl, tbl.Columns, src)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.end()
			for {
				if _, err := cs.Read(p); err == io.EOF {
					return
				} else if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	few, many := allocs(1000), allocs(4000)
	t.Logf("%v allocations for 1,000 rows, %v for 4,000", few, many)
	if many > few+10 {
		t.Fatalf("%v allocations for 1,000 rows but %v for 4,000: the raw path allocates per row", few, many)
	}
}

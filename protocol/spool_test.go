package protocol

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
)

func TestSpoolSpillsAndRereads(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		limit int64
		rows  int
		spill bool
	}{
		{"memory", 1 << 20, 1000, false},
		{"spill", 1, 30000, true}, // the limit is raised to the 64 KiB minimum
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := newSpool(tc.limit, dir)
			defer sp.close()
			for batch := 0; batch < 2; batch++ { // the second batch reuses buffer and file
				sp.reset()
				for i := 0; i < tc.rows; i++ {
					if err := sp.beginRow(); err != nil {
						t.Fatal(err)
					}
					sp.addValue([]byte(strconv.Itoa(i+batch)), false)
					sp.addValue(nil, true)
					sp.addValue([]byte{}, false)
					sp.endRow([]contract.Operation{contract.Insert, contract.Update, contract.Delete}[i%3])
				}
				rows, err := sp.finish()
				if err != nil {
					t.Fatal(err)
				}
				if (sp.file != nil && sp.fileLen > 0) != tc.spill {
					t.Fatalf("spilled = %v, want %v", sp.fileLen > 0, tc.spill)
				}
				if rows.Len() != tc.rows {
					t.Fatalf("Len %d", rows.Len())
				}
				if i, u, d := rows.Counts(); i+u+d != tc.rows || i != (tc.rows+2)/3 {
					t.Fatalf("Counts %d %d %d", i, u, d)
				}
				for pass := 0; pass < 2; pass++ {
					n := 0
					for rows.Next() {
						r := rows.Row()
						if string(r.Values[0].Text) != strconv.Itoa(n+batch) || !r.Values[1].Null || r.Values[2].Null || r.Values[2].Text == nil || len(r.Values) != 3 {
							t.Fatalf("row %d = %+v", n, r)
						}
						n++
					}
					if rows.Err() != nil || n != tc.rows {
						t.Fatalf("pass %d: %d rows, %v", pass, n, rows.Err())
					}
					if err := rows.Reset(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if sp.file != nil {
				checkSpoolFile(t, sp.file)
			}
			if err := sp.close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("spool files left after close: %v", left)
			}
		})
	}
}

// checkSpoolFile fails unless f, an open spool file, is readable by its owner only and no longer has
// a name: another local user cannot read the row data in it, nor anyone open it by name.
func checkSpoolFile(t *testing.T, f *os.File) {
	t.Helper()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("spool file mode %v, want 0600", perm)
	}
	if _, err := os.Stat(f.Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("spool file %s is still linked while open: %v", f.Name(), err)
	}
}

// openDeletedFiles counts this process's open files that were unlinked from dir (Linux: /proc/self/fd
// links read "<path> (deleted)"). It fails where /proc is not available.
func openDeletedFiles(dir string) (int, error) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(os.PathSeparator)) && strings.HasSuffix(target, " (deleted)") {
			n++
		}
	}
	return n, nil
}

// Iterating a batch must not allocate per row.
func TestRowsZeroAllocation(t *testing.T) {
	body := rowDataBody(t, 256<<10)
	d := NewRequestDecoder(bytes.NewReader(body), DecodeOptions{})
	defer d.Close()
	d.ReadHeader()
	req, _ := d.RowData()
	b, err := req.Batches.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		b.Rows.Reset()
		for b.Rows.Next() {
			_ = b.Rows.Row()
		}
	})
	if allocs > 0 {
		t.Fatalf("%v allocations per pass over %d rows", allocs, b.Rows.Len())
	}
}

// pipeBody streams a RowData request of about size bytes from a generator goroutine, so that the
// test itself never holds the body.
func pipeBody(t *testing.T, size int) (io.Reader, *atomic.Int64, func()) {
	var probe bytes.Buffer
	if err := writeRowData(&probe, 100); err != nil {
		t.Fatal(err)
	}
	rows := size / (probe.Len() / 100)
	pr, pw := io.Pipe()
	var written atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pw.CloseWithError(writeRowData(countingWriter{pw, &written}, rows))
	}()
	return pr, &written, func() { pr.Close(); wg.Wait() }
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// A 50 MB single-batch RowData call must decode in bounded memory: the spool spills to disk.
func TestRowDataMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB decode")
	}
	checkMemoryBound(t, consumeRowData)
}

// So must one whose rows are streamed before the batch is handed out.
func TestStreamedRowDataMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB decode")
	}
	checkMemoryBound(t, consumeStreamed)
}

// checkMemoryBound decodes a 50 MB single-batch call with consume and fails if the heap grows by more
// than 16 MiB meanwhile, or the spool leaves a file behind.
func checkMemoryBound(t *testing.T, consume func(io.Reader, DecodeOptions, func()) (int, int, error)) {
	const size = 50 << 20
	const budget = 16 << 20
	body, written, stop := pipeBody(t, size)
	defer stop()

	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	heap := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	runtime.GC()
	base := heap()
	var peak atomic.Uint64
	note := func() {
		if h := heap(); h > peak.Load() {
			peak.Store(h)
		}
	}
	quit := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tk.C:
				note()
			}
		}
	}()
	n := 0
	dir := t.TempDir()
	// The spool file is unlinked as soon as it is open, so the spill shows as an open, deleted file.
	spilled, procErr := 0, error(nil)
	rows, valueBytes, err := consume(body, DecodeOptions{SpoolDir: dir}, func() {
		if n++; n%2000 == 0 || n == 1 {
			note()
			var open int
			open, procErr = openDeletedFiles(dir)
			spilled = max(spilled, open)
		}
	})
	note()
	close(quit)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	if written.Load() < size*9/10 {
		t.Fatalf("only %d bytes generated", written.Load())
	}
	used := int64(peak.Load()) - int64(base)
	t.Logf("decoded %d MB of XML, %d rows, %d MB of values; peak heap above baseline %.1f MiB (budget %d MiB)",
		written.Load()>>20, rows, valueBytes>>20, float64(used)/(1<<20), budget>>20)
	if procErr == nil && spilled != 1 {
		t.Errorf("%d open spool files in SpoolDir while the batch was read, want 1", spilled)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("spool file left behind after Close")
	}
	if used > budget {
		t.Fatalf("peak heap %d bytes above baseline exceeds %d", used, budget)
	}
}

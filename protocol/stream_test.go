package protocol

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mirrorsink/mirrorsink/contract"
)

// threeBatches is a RowData request of three batches: many rows with every operation, none, and a
// few; the second and third carry their TableInfo before their rows.
func threeBatches(t testing.TB, rows int) []byte {
	t.Helper()
	table := benchTable()
	var buf bytes.Buffer
	e := NewRowDataEncoder(&buf, "eyJhbGciOiJSUzI1NiJ9.e30.sig", "state")
	vals := make([]contract.Value, len(table.Columns))
	scratch := make([][]byte, len(vals))
	ops := []contract.Operation{contract.Insert, contract.Update, contract.Delete}
	for batch, n := range []int{rows, 0, 3} {
		if err := e.BeginBatch(); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			rowValues(i+batch, vals, scratch)
			if err := e.Row(ops[i%3], vals); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.EndBatch(int64(batch), table); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	body := buf.Bytes()
	// Move the later batches' TableInfo before their Data, as a sender may: the decoder accepts the
	// fields in any order.
	parts := strings.Split(string(body), "<a:RowDataBatch>")
	for i := 2; i < len(parts); i++ {
		p := parts[i]
		ti := strings.Index(p, "<a:TableInfo>")
		end := strings.Index(p, "</a:TableInfo>") + len("</a:TableInfo>")
		if ti < 0 || end < ti {
			t.Fatalf("batch %d has no TableInfo to move: %.200s", i, p)
		}
		parts[i] = p[ti:end] + p[:ti] + p[end:]
	}
	return []byte(strings.Join(parts, "<a:RowDataBatch>"))
}

func rowDataBatches(t testing.TB, r io.Reader, opts DecodeOptions) (*RequestDecoder, contract.BatchStreamer) {
	t.Helper()
	d, req, err := openRowData(r, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, req.Batches.(contract.BatchStreamer)
}

// streamAll reads every batch with Stream, handing out the first streamed rows of each (all of them
// when streamed < 0) before asking for the whole batch, and returns what formatBatch makes of the
// batches and of the streamed rows.
func streamAll(t *testing.T, r io.Reader, opts DecodeOptions, streamed int) (batches, rows string) {
	t.Helper()
	d, bs := rowDataBatches(t, r, opts)
	defer d.Close()
	var all, seen strings.Builder
	for {
		s, err := bs.Stream(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; (streamed < 0 || n < streamed) && s.Next(); n++ {
			seen.WriteString(formatRow(s.Row()))
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		b, err := s.Batch()
		if err != nil {
			t.Fatal(err)
		}
		all.WriteString(formatBatch(b))
	}
	return all.String(), seen.String()
}

// Streaming a batch, wholly or in part, hands out the rows that Next spools, in order, and the batch
// afterwards holds all of them: those streamed and those not.
func TestStreamMatchesNext(t *testing.T) {
	body := threeBatches(t, 500)
	want := decodeAll(t, bytes.NewReader(body))
	wantBatches := want[strings.Index(want, "\n")+1 : strings.LastIndex(want, "\n")+1]
	rowsOf := func(batches string) string {
		var sb strings.Builder
		for _, l := range strings.SplitAfter(batches, "\n") {
			if l != "" && !strings.HasPrefix(l, "{") {
				sb.WriteString(l)
			}
		}
		return sb.String()
	}
	for _, tc := range []struct {
		name     string
		streamed int
		reader   func([]byte) io.Reader
		opts     DecodeOptions
	}{
		{"all", -1, func(b []byte) io.Reader { return bytes.NewReader(b) }, DecodeOptions{}},
		{"none", 0, func(b []byte) io.Reader { return bytes.NewReader(b) }, DecodeOptions{}},
		{"some", 7, func(b []byte) io.Reader { return bytes.NewReader(b) }, DecodeOptions{}},
		{"one-byte reads", 100, func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }, DecodeOptions{}},
		{"spilled", -1, func(b []byte) io.Reader { return bytes.NewReader(b) }, DecodeOptions{SpoolMemory: 1, SpoolDir: t.TempDir()}},
		{"spilled, half streamed", 250, func(b []byte) io.Reader { return bytes.NewReader(b) }, DecodeOptions{SpoolMemory: 1, SpoolDir: t.TempDir()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batches, rows := streamAll(t, tc.reader(body), tc.opts, tc.streamed)
			if batches != wantBatches {
				t.Fatalf("batches after streaming differ from Next's:\n%.2000s\nwant\n%.2000s", batches, wantBatches)
			}
			wantRows := rowsOf(wantBatches)
			if tc.streamed >= 0 {
				// The first tc.streamed rows of each batch.
				var sb strings.Builder
				for _, b := range strings.Split(wantBatches, "{")[1:] {
					lines := strings.SplitAfter(b, "\n")[1:]
					for i, l := range lines {
						if i < tc.streamed && l != "" {
							sb.WriteString(l)
						}
					}
				}
				wantRows = sb.String()
			}
			if rows != wantRows {
				t.Fatalf("streamed rows differ:\n%.2000s\nwant\n%.2000s", rows, wantRows)
			}
		})
	}
}

// Stream and Next may be mixed within a call; each begins the next batch, reading past the rest of a
// streamed batch that was left unfinished.
func TestStreamAndNextMixed(t *testing.T) {
	body := threeBatches(t, 20)
	d, bs := rowDataBatches(t, bytes.NewReader(body), DecodeOptions{})
	defer d.Close()
	ctx := context.Background()
	s, err := bs.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Next() || s.Row().Op != contract.Insert {
		t.Fatalf("first streamed row: %v %+v", s.Err(), s.Row())
	}
	b, err := bs.Next(ctx)
	if err != nil || b.LSN != 1 || b.Rows.Len() != 0 {
		t.Fatalf("Next after an unfinished stream: %v, want the second batch", err)
	}
	s, err = bs.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err = s.Batch()
	if err != nil || b.LSN != 2 || b.Rows.Len() != 3 || b.Table.Name != "contact" {
		t.Fatalf("third batch: %v", err)
	}
	if _, err := bs.Stream(ctx); err != io.EOF {
		t.Fatalf("after the last batch: %v, want io.EOF", err)
	}
}

// A malformed row stops the stream with the decoding error, which Batch returns too, and the call
// fails.
func TestStreamDecodeError(t *testing.T) {
	body := threeBatches(t, 50)
	i := bytes.Index(body, []byte("<a:RowData>"))
	i = bytes.Index(body[i+100:], []byte("<a:RowData>")) + i + 100 // the second row
	bad := append(append(append([]byte{}, body[:i]...), "<a:RowData><a:ColumnValues><b:string>x</b:strin>"...), body[i:]...)
	d, bs := rowDataBatches(t, bytes.NewReader(bad), DecodeOptions{})
	defer d.Close()
	s, err := bs.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for s.Next() {
		n++
	}
	var de *DecodeError
	if n != 1 || !errors.As(s.Err(), &de) {
		t.Fatalf("streamed %d rows, error %v; want 1 row and a DecodeError", n, s.Err())
	}
	if _, err := s.Batch(); !errors.As(err, &de) {
		t.Fatalf("Batch after a decoding error: %v", err)
	}
	if _, err := bs.Stream(context.Background()); !errors.As(err, &de) {
		t.Fatalf("Stream after a decoding error: %v", err)
	}
}

// A batch without TableInfo fails at Batch, as it fails Next.
func TestStreamWithoutTableInfo(t *testing.T) {
	body := threeBatches(t, 5)
	i := bytes.Index(body, []byte("<a:TableInfo>"))
	j := bytes.Index(body, []byte("</a:TableInfo>")) + len("</a:TableInfo>")
	bad := append(append([]byte{}, body[:i]...), body[j:]...)
	d, bs := rowDataBatches(t, bytes.NewReader(bad), DecodeOptions{})
	defer d.Close()
	s, err := bs.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for s.Next() {
	}
	if _, err := s.Batch(); err == nil || !strings.Contains(err.Error(), "has no TableInfo") {
		t.Fatalf("Batch: %v", err)
	}
}

// consumeStreamed decodes a whole RowData request as the engine's speculative path does: each batch's
// rows streamed, then the whole batch read again from the spool. It touches every value of both
// passes; it returns the rows and bytes of one.
func consumeStreamed(r io.Reader, opts DecodeOptions, perRow func()) (rows, valueBytes int, err error) {
	d, req, err := openRowData(r, opts)
	if err != nil {
		return 0, 0, err
	}
	defer d.Close()
	bs := req.Batches.(contract.BatchStreamer)
	for {
		s, err := bs.Stream(context.Background())
		if err == io.EOF {
			return rows, valueBytes, nil
		}
		if err != nil {
			return rows, valueBytes, err
		}
		for s.Next() {
			for _, v := range s.Row().Values {
				valueBytes += len(v.Text)
			}
			rows++
			if perRow != nil {
				perRow()
			}
		}
		b, err := s.Batch()
		if err != nil {
			return rows, valueBytes, err
		}
		for b.Rows.Next() {
			for _, v := range b.Rows.Row().Values {
				_ = v.Text
			}
		}
		if err := b.Rows.Err(); err != nil {
			return rows, valueBytes, err
		}
	}
}

// decodeStreamed decodes a request as decodeRequest does, but streams each RowData batch's rows before
// asking for the batch, and fails (in the result) when the streamed rows differ from the batch's.
func decodeStreamed(data []byte, opts DecodeOptions) (string, error) {
	d := NewRequestDecoder(bytes.NewReader(data), opts)
	defer d.Close()
	if h, err := d.ReadHeader(); err != nil || h.Op != OpRowData {
		return decodeRequest(NewRequestDecoder(bytes.NewReader(data), opts))
	}
	req, err := d.RowData()
	if err != nil {
		return "", err
	}
	bs := req.Batches.(contract.BatchStreamer)
	var sb strings.Builder
	for {
		s, err := bs.Stream(context.Background())
		if err == io.EOF {
			return sb.String(), nil
		}
		if err != nil {
			return sb.String(), err
		}
		var rows strings.Builder
		for s.Next() {
			rows.WriteString(formatRow(s.Row()))
		}
		b, err := s.Batch()
		if err != nil {
			return sb.String(), err
		}
		whole := formatBatch(b)
		if _, batchRows, _ := strings.Cut(whole, "\n"); batchRows != rows.String() {
			return sb.String(), fmt.Errorf("streamed rows %q differ from the batch's %q", rows.String(), batchRows)
		}
		sb.WriteString(whole)
	}
}

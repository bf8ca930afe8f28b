package enginetest

import (
	"context"
	"io"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
)

// wireRow is one RowData row as the suite sends it: an operation and its values (nil is NULL).
type wireRow struct {
	op     contract.Operation
	values []*string
}

// memRows is a contract.Rows over rows held in memory. The engine reads it as it reads the protocol's
// spool: row by row, with Reset for a second pass.
type memRows struct {
	rows []wireRow
	pos  int
	cur  contract.Row
	// onRow, when set, is called before each row is handed out (the atomicity tests cancel there).
	onRow func(i int)
	// failAt, when set, makes reading the row of that index fail with failErr, as a request that is
	// cut off or malformed there fails to decode.
	failAt  int
	failErr error
	err     error
}

func newRows(rows []wireRow) *memRows { return &memRows{rows: rows, pos: -1} }

func (m *memRows) Next() bool {
	if m.err != nil {
		return false
	}
	if m.pos+1 >= len(m.rows) {
		m.pos = len(m.rows)
		return false
	}
	m.pos++
	if m.failErr != nil && m.pos == m.failAt {
		m.err = m.failErr
		return false
	}
	if m.onRow != nil {
		m.onRow(m.pos)
	}
	r := m.rows[m.pos]
	m.cur.Op = r.op
	m.cur.Values = m.cur.Values[:0]
	for _, v := range r.values {
		if v == nil {
			m.cur.Values = append(m.cur.Values, contract.Value{Null: true})
		} else {
			m.cur.Values = append(m.cur.Values, contract.Value{Text: []byte(*v)})
		}
	}
	return true
}

func (m *memRows) Row() contract.Row { return m.cur }
func (m *memRows) Err() error        { return m.err }
func (m *memRows) Reset() error      { m.pos = -1; return m.err }
func (m *memRows) Len() int          { return len(m.rows) }
func (m *memRows) Counts() (ins, upd, del int) {
	for _, r := range m.rows {
		switch r.op {
		case contract.Insert:
			ins++
		case contract.Update:
			upd++
		case contract.Delete:
			del++
		}
	}
	return
}

// memBatches hands out a fixed list of batches, as protocol does: whole (Next), or row by row before
// the whole batch (Stream, contract.BatchStreamer). It records how the engine read each batch.
type memBatches struct {
	batches []*contract.Batch
	i       int
	// streamed holds, for each batch begun with Stream, how many rows the engine had read from the
	// stream when it asked for the whole batch; -1 for a batch it read with Next.
	streamed []int
}

func (b *memBatches) Next(context.Context) (*contract.Batch, error) {
	if b.i >= len(b.batches) {
		return nil, io.EOF
	}
	b.i++
	b.streamed = append(b.streamed, -1)
	return b.batches[b.i-1], nil
}

// Stream begins the next batch; its rows come from the batch's own Rows.
func (b *memBatches) Stream(context.Context) (contract.BatchStream, error) {
	if b.i >= len(b.batches) {
		return nil, io.EOF
	}
	b.i++
	b.streamed = append(b.streamed, 0)
	batch := b.batches[b.i-1]
	if err := batch.Rows.Reset(); err != nil {
		return nil, err
	}
	return &memStream{b: b, batch: batch, n: b.i - 1}, nil
}

// memStream is one batch being streamed.
type memStream struct {
	b     *memBatches
	batch *contract.Batch
	n     int // the batch's index
	done  bool
}

func (s *memStream) Next() bool {
	if s.done || !s.batch.Rows.Next() {
		s.done = true
		return false
	}
	s.b.streamed[s.n]++
	return true
}

func (s *memStream) Row() contract.Row { return s.batch.Rows.Row() }
func (s *memStream) Err() error        { return s.batch.Rows.Err() }

func (s *memStream) Batch() (*contract.Batch, error) {
	s.done = true
	if err := s.batch.Rows.Err(); err != nil {
		return nil, err
	}
	if err := s.batch.Rows.Reset(); err != nil {
		return nil, err
	}
	return s.batch, nil
}

// wholeBatches hands out batches with Next only, as a Batches that cannot stream.
type wholeBatches struct{ m *memBatches }

func (b wholeBatches) Next(ctx context.Context) (*contract.Batch, error) { return b.m.Next(ctx) }

func str(s string) *string { return conformance.Str(s) }

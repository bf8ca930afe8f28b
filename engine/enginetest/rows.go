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
}

func newRows(rows []wireRow) *memRows { return &memRows{rows: rows, pos: -1} }

func (m *memRows) Next() bool {
	if m.pos+1 >= len(m.rows) {
		m.pos = len(m.rows)
		return false
	}
	m.pos++
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
func (m *memRows) Err() error        { return nil }
func (m *memRows) Reset() error      { m.pos = -1; return nil }
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

// memBatches hands out a fixed list of batches.
type memBatches struct {
	batches []*contract.Batch
	i       int
}

func (b *memBatches) Next(context.Context) (*contract.Batch, error) {
	if b.i >= len(b.batches) {
		return nil, io.EOF
	}
	b.i++
	return b.batches[b.i-1], nil
}

func str(s string) *string { return conformance.Str(s) }

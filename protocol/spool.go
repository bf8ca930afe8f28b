package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/mirrorsink/mirrorsink/contract"
)

// A RowDataBatch carries its rows before its TableInfo, so the decoder cannot hand rows to the engine
// as they arrive: it spools each batch's rows in a compact binary form and hands out the batch once its
// TableInfo is read. The format of one row is
//
//	op byte, value count (uint32 little-endian), then per value uvarint(len+1) and len bytes, 0 for NULL
//
// with entity references already resolved. Rows stay in one reused buffer up to the spool's memory
// limit; beyond it the buffer is written to a temporary file and reused, and when the batch is read the
// same buffer serves as the file's read window. Memory per call is therefore bounded by the limit (plus
// the largest single row), not by the batch.

const (
	rowHeaderSize = 5
	// firstSpoolBuf is the spool's first allocation; small calls never need more.
	firstSpoolBuf = 64 << 10
	// midSpoolBuf is its second: calls of SuperOffice's usual size (about 1 MB) need no more.
	midSpoolBuf = 2 << 20
	// DefaultSpoolMemory is the default of DecodeOptions.SpoolMemory.
	DefaultSpoolMemory = 8 << 20
)

type spool struct {
	limit int
	dir   string

	buf     []byte
	file    *os.File
	fileLen int64
	path    string // the file's name while it is still linked (see createFile)

	rowStart int
	nvals    uint32
	// lastStart is where the last complete row begins in buf; it stays there until the next beginRow.
	lastStart int

	rows, inserts, updates, deletes int
	rowsIter                        spoolRows
}

func newSpool(limit int64, dir string) *spool {
	if limit <= 0 {
		limit = DefaultSpoolMemory
	}
	if limit < firstSpoolBuf {
		limit = firstSpoolBuf
	}
	sp := &spool{limit: int(limit), dir: dir}
	sp.rowsIter.sp = sp
	return sp
}

// reset empties the spool for a new batch, keeping its buffer and file.
func (sp *spool) reset() {
	sp.buf = sp.buf[:0]
	sp.rowStart = 0
	sp.fileLen = 0
	sp.rows, sp.inserts, sp.updates, sp.deletes = 0, 0, 0, 0
}

// grow makes room for n more bytes. Once the buffer has reached the limit, the rows completed before
// the current one are spilled to make room, so the buffer grows beyond the limit only for a single row
// larger than it. Below the limit it grows in few large steps (firstSpoolBuf, midSpoolBuf, the limit),
// so that a spilling batch leaves little garbage behind, and a call of the usual size (about 1 MB)
// needs no more than midSpoolBuf. The buffer a call ends with is pooled for the next ones.
func (sp *spool) grow(n int) error {
	need := len(sp.buf) + n
	if need <= cap(sp.buf) {
		return nil
	}
	if cap(sp.buf) >= sp.limit && sp.rowStart > 0 {
		if err := sp.writeFile(sp.buf[:sp.rowStart]); err != nil {
			return err
		}
		k := copy(sp.buf, sp.buf[sp.rowStart:])
		sp.buf = sp.buf[:k]
		sp.rowStart = 0
		if need = len(sp.buf) + n; need <= cap(sp.buf) {
			return nil
		}
	}
	var nb []byte
	if cap(sp.buf) == 0 {
		// A new call: the buffer an earlier call ended with serves it, whatever its size.
		nb = sp.pooledBuf()
	}
	if cap(nb) < need {
		c := firstSpoolBuf
		for _, step := range []int{firstSpoolBuf, midSpoolBuf, sp.limit} {
			if c = min(step, sp.limit); c >= need && c > cap(sp.buf) {
				break
			}
		}
		if need > c {
			c = need + need/4
		}
		sp.putBuf(nb)
		nb = make([]byte, 0, c)
	}
	nb = nb[:len(sp.buf)]
	copy(nb, sp.buf)
	sp.buf = nb
	return nil
}

// spoolPools keep the buffer each call ends with for the next calls, one sync.Pool per size
// (firstSpoolBuf, midSpoolBuf, the limit), since every call would otherwise allocate, and clear, the
// same few.
var spoolPools sync.Map // capacity → *sync.Pool of *[]byte

// pooledSize reports whether buffers of capacity c are pooled: the sizes grow steps through.
func (sp *spool) pooledSize(c int) bool {
	return c == firstSpoolBuf || c == midSpoolBuf && midSpoolBuf < sp.limit || c == sp.limit
}

// pooledBuf returns a pooled buffer, the largest there is, or nil.
func (sp *spool) pooledBuf() []byte {
	for _, c := range []int{sp.limit, midSpoolBuf, firstSpoolBuf} {
		if !sp.pooledSize(c) {
			continue
		}
		if p, ok := spoolPools.Load(c); ok {
			if b, ok := p.(*sync.Pool).Get().(*[]byte); ok {
				return (*b)[:0]
			}
		}
	}
	return nil
}

func (sp *spool) putBuf(b []byte) {
	c := cap(b)
	if c == 0 || !sp.pooledSize(c) {
		return
	}
	p, ok := spoolPools.Load(c)
	if !ok {
		p, _ = spoolPools.LoadOrStore(c, new(sync.Pool))
	}
	b = b[:0]
	p.(*sync.Pool).Put(&b)
}

// spill writes the whole buffer to the spool file.
func (sp *spool) spill() error {
	if err := sp.writeFile(sp.buf); err != nil {
		return err
	}
	sp.buf = sp.buf[:0]
	return nil
}

// writeFile appends b to the spool file, creating it on first use.
func (sp *spool) writeFile(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if sp.file == nil {
		if err := sp.createFile(); err != nil {
			return err
		}
	}
	if _, err := sp.file.WriteAt(b, sp.fileLen); err != nil {
		return fmt.Errorf("spool: write: %w", err)
	}
	sp.fileLen += int64(len(b))
	return nil
}

// createFile creates the spool file. The file holds row data, so it is created readable by this user
// only (os.CreateTemp's 0600) and unlinked at once: no other process can open it by name, and it goes
// away with the process even if the process is killed. Where an open file cannot be unlinked (Windows),
// close removes it instead.
func (sp *spool) createFile() error {
	dir := sp.dir
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "mirrorsink-spool-*")
	if err != nil {
		return fmt.Errorf("spool: create file: %w", err)
	}
	sp.file = f
	if os.Remove(f.Name()) != nil {
		sp.path = f.Name()
	}
	return nil
}

// beginRow starts a row; rows are only ever spilled whole, so that the header can be patched.
func (sp *spool) beginRow() error {
	if len(sp.buf) >= sp.limit-rowHeaderSize {
		if err := sp.spill(); err != nil {
			return err
		}
		if cap(sp.buf) > 2*sp.limit {
			// A huge row grew the buffer: give the memory back.
			sp.buf = nil
		}
	}
	sp.rowStart = len(sp.buf)
	if err := sp.grow(rowHeaderSize); err != nil {
		return err
	}
	sp.rowStart = len(sp.buf)
	sp.buf = append(sp.buf, 0, 0, 0, 0, 0)
	sp.nvals = 0
	return nil
}

func (sp *spool) addValue(text []byte, null bool) error {
	sp.nvals++
	if !null && len(text) < 0x7f && len(sp.buf)+1+len(text) <= cap(sp.buf) {
		// The usual short value: a one-byte length, and no need to grow.
		sp.buf = append(append(sp.buf, byte(len(text)+1)), text...)
		return nil
	}
	if null {
		if err := sp.grow(1); err != nil {
			return err
		}
		sp.buf = append(sp.buf, 0)
		return nil
	}
	if err := sp.grow(binary.MaxVarintLen64 + len(text)); err != nil {
		return err
	}
	sp.buf = binary.AppendUvarint(sp.buf, uint64(len(text))+1)
	sp.buf = append(sp.buf, text...)
	return nil
}

func (sp *spool) endRow(op contract.Operation) {
	sp.buf[sp.rowStart] = byte(op)
	binary.LittleEndian.PutUint32(sp.buf[sp.rowStart+1:], sp.nvals)
	// Everything before rowStart is complete rows, which grow may spill.
	sp.lastStart, sp.rowStart = sp.rowStart, len(sp.buf)
	sp.rows++
	switch op {
	case contract.Insert:
		sp.inserts++
	case contract.Update:
		sp.updates++
	case contract.Delete:
		sp.deletes++
	}
}

// lastRow returns the row that endRow completed last, its values appended to vals[:0], for a batch
// whose rows are handed out as they are spooled. It is valid until the next beginRow.
func (sp *spool) lastRow(vals []contract.Value) (contract.Row, []contract.Value) {
	row, vals, _, _, _ := parseRow(sp.buf[sp.lastStart:], vals[:0])
	return row, vals
}

// finish ends the batch's writing and returns its rows, rewound.
func (sp *spool) finish() (*spoolRows, error) {
	if sp.file != nil && sp.fileLen > 0 {
		if err := sp.spill(); err != nil {
			return nil, err
		}
	}
	r := &sp.rowsIter
	r.memLen = len(sp.buf)
	r.err = nil
	if err := r.Reset(); err != nil {
		return nil, err
	}
	return r, nil
}

func (sp *spool) close() error {
	sp.putBuf(sp.buf)
	sp.buf = nil
	sp.rowsIter.vals = nil
	if sp.file == nil {
		return nil
	}
	err := sp.file.Close()
	sp.file = nil
	if sp.path != "" {
		if rerr := os.Remove(sp.path); rerr != nil && err == nil {
			err = rerr
		}
		sp.path = ""
	}
	if err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}

// spoolRows iterates a finished batch. Row values point into the spool buffer and a reused slice.
type spoolRows struct {
	sp     *spool
	memLen int // rows bytes held in buf when the batch did not spill

	// The window of unread rows: buf[off:end]; in file mode refilled from fileOff.
	off, end int
	fileOff  int64

	vals []contract.Value
	row  contract.Row
	n    int
	err  error
}

var errSpoolCorrupt = errors.New("spool: corrupt row")

// Next advances to the next row.
func (r *spoolRows) Next() bool {
	if r.err != nil || r.n >= r.sp.rows {
		return false
	}
	for {
		used, ok, err := r.parse(r.sp.buf[r.off:r.end])
		if err != nil {
			r.err = err
			return false
		}
		if ok {
			r.off += used
			r.n++
			return true
		}
		if err := r.refill(); err != nil {
			r.err = err
			return false
		}
	}
}

// refill moves the unread bytes to the front of the buffer and reads more of the spool file.
func (r *spoolRows) refill() error {
	sp := r.sp
	if sp.file == nil || r.fileOff >= sp.fileLen {
		return errSpoolCorrupt
	}
	rest := copy(sp.buf[:cap(sp.buf)], sp.buf[r.off:r.end])
	buf := sp.buf[:cap(sp.buf)]
	if rest == len(buf) {
		// One row larger than the buffer: grow it.
		nb := make([]byte, max(2*len(buf), firstSpoolBuf))
		copy(nb, buf[:rest])
		buf = nb
	}
	n, err := sp.file.ReadAt(buf[rest:], r.fileOff)
	if n == 0 && err != nil {
		if err == io.EOF {
			return errSpoolCorrupt
		}
		return fmt.Errorf("spool: read: %w", err)
	}
	r.fileOff += int64(n)
	sp.buf = buf[:rest+n]
	r.off, r.end = 0, rest+n
	return nil
}

// parse decodes one row from b; ok is false when b does not hold the whole row.
func (r *spoolRows) parse(b []byte) (used int, ok bool, err error) {
	row, vals, used, ok, err := parseRow(b, r.vals[:0])
	if ok {
		r.row, r.vals = row, vals
	}
	return used, ok, err
}

// parseRow decodes one row from b, appending its values to vals; ok is false when b does not hold the
// whole row. The values point into b.
func parseRow(b []byte, vals []contract.Value) (row contract.Row, _ []contract.Value, used int, ok bool, err error) {
	if len(b) < rowHeaderSize {
		return row, vals, 0, false, nil
	}
	op := contract.Operation(b[0])
	nv := binary.LittleEndian.Uint32(b[1:])
	i := rowHeaderSize
	for k := uint32(0); k < nv; k++ {
		var l uint64
		if i < len(b) && b[i] < 0x80 {
			// A one-byte length, as most are.
			l = uint64(b[i])
			i++
		} else {
			var w int
			l, w = binary.Uvarint(b[i:])
			if w == 0 {
				return row, vals, 0, false, nil
			}
			if w < 0 {
				return row, vals, 0, false, errSpoolCorrupt
			}
			i += w
		}
		if l == 0 {
			vals = append(vals, contract.Value{Null: true})
			continue
		}
		l--
		if uint64(len(b)-i) < l {
			return row, vals, 0, false, nil
		}
		vals = append(vals, contract.Value{Text: b[i : i+int(l) : i+int(l)]})
		i += int(l)
	}
	return contract.Row{Op: op, Values: vals}, vals, i, true, nil
}

// Row returns the current row; it is valid until the next call to Next or Reset.
func (r *spoolRows) Row() contract.Row { return r.row }

// Err returns the error that stopped iteration.
func (r *spoolRows) Err() error { return r.err }

// Reset rewinds to the first row.
func (r *spoolRows) Reset() error {
	r.n = 0
	r.row = contract.Row{}
	r.err = nil
	r.off = 0
	if r.sp.file != nil && r.sp.fileLen > 0 {
		r.end = 0
		r.fileOff = 0
		r.sp.buf = r.sp.buf[:0]
		return nil
	}
	r.end = r.memLen
	return nil
}

// Len returns the number of rows in the batch.
func (r *spoolRows) Len() int { return r.sp.rows }

// Counts returns how many rows of each operation the batch holds.
func (r *spoolRows) Counts() (inserts, updates, deletes int) {
	return r.sp.inserts, r.sp.updates, r.sp.deletes
}

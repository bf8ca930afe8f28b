package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// rowWriter is the dialect.RowWriter of a Tx.
type rowWriter struct{ t *Tx }

// Insert loads rows with binary COPY, inside a savepoint: a duplicate key fails with
// dialect.ErrDuplicateKey and leaves the transaction as it was.
func (w rowWriter) Insert(ctx context.Context, tbl dialect.Table, rows dialect.RowSource) (int64, error) {
	stmt, err := w.t.st.sql.CopyRows(tbl)
	if err != nil {
		return 0, err
	}
	cols, rows := w.t.st.sql.copyColumns(tbl.Columns, rows)
	var n int64
	err = w.t.atomically(ctx, func() error {
		var err error
		n, err = w.t.copyRows(ctx, tbl, stmt, tbl.Name, cols, rows)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: insert into %s: %w", quoteUnchecked(tbl.Name), err)
	}
	return n, nil
}

// Load is Insert without the savepoint: the caller rolls back after any failure (dialect.Loader).
func (w rowWriter) Load(ctx context.Context, tbl dialect.Table, rows dialect.RowSource) (int64, error) {
	stmt, err := w.t.st.sql.CopyRows(tbl)
	if err != nil {
		return 0, err
	}
	cols, rows := w.t.st.sql.copyColumns(tbl.Columns, rows)
	n, err := w.t.copyRows(ctx, tbl, stmt, tbl.Name, cols, rows)
	if err != nil {
		return 0, fmt.Errorf("postgres: insert into %s: %w", quoteUnchecked(tbl.Name), err)
	}
	return n, nil
}

// Upsert stages rows and merges them with INSERT … ON CONFLICT.
func (w rowWriter) Upsert(ctx context.Context, tbl dialect.Table, rows dialect.RowSource) (int64, error) {
	n, err := w.staged(ctx, tbl, tbl.Columns, rows, w.t.st.sql.Upsert)
	if err != nil {
		return 0, fmt.Errorf("postgres: upsert into %s: %w", quoteUnchecked(tbl.Name), err)
	}
	return n, nil
}

// Delete stages the keys and deletes their rows with DELETE … USING.
func (w rowWriter) Delete(ctx context.Context, tbl dialect.Table, keys dialect.RowSource) (int64, error) {
	n, err := w.staged(ctx, tbl, tbl.KeyColumns(), keys, w.t.st.sql.Delete)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete from %s: %w", quoteUnchecked(tbl.Name), err)
	}
	return n, nil
}

// SoftDelete stages the keys and marks their rows deleted with one UPDATE … FROM.
func (w rowWriter) SoftDelete(ctx context.Context, tbl dialect.Table, keys dialect.RowSource, at time.Time) (int64, error) {
	n, err := w.staged(ctx, tbl, tbl.KeyColumns(), keys, w.t.st.sql.SoftDelete, at)
	if err != nil {
		return 0, fmt.Errorf("postgres: soft delete in %s: %w", quoteUnchecked(tbl.Name), err)
	}
	return n, nil
}

// PurgeDeleted removes the rows marked deleted with one DELETE.
func (w rowWriter) PurgeDeleted(ctx context.Context, tbl dialect.Table) (int64, error) {
	stmt, err := w.t.st.sql.PurgeDeleted(tbl)
	if err != nil {
		return 0, err
	}
	n, err := w.t.x.simple(ctx, stmt)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge deleted rows of %s: %w", quoteUnchecked(tbl.Name), err)
	}
	return n, nil
}

// staged copies rows (values of cols) into a new staging table, runs the statement that apply renders
// for it (with args, when it takes any), and drops the staging table. It returns the rows the
// statement affected.
func (w rowWriter) staged(ctx context.Context, tbl dialect.Table, cols []typemap.Column, rows dialect.RowSource,
	apply func(dialect.Table, string) (string, error), args ...any) (int64, error) {
	sql := w.t.st.sql
	w.t.stageSeq++
	staging := stagingName(w.t.stageSeq)
	create, err := sql.CreateStaging(staging, tbl, cols)
	if err != nil {
		return 0, err
	}
	load, err := sql.CopyStaging(staging, cols)
	if err != nil {
		return 0, err
	}
	stmt, err := apply(tbl, staging)
	if err != nil {
		return 0, err
	}
	if _, err := w.t.x.simple(ctx, create); err != nil {
		return 0, fmt.Errorf("create staging table: %w", err)
	}
	if _, err := w.t.copyRows(ctx, tbl, load, staging, cols, rows); err != nil {
		return 0, err
	}
	var n int64
	if len(args) > 0 {
		n, err = w.t.x.Exec(ctx, stmt, args...)
	} else {
		n, err = w.t.x.simple(ctx, stmt)
	}
	if err != nil {
		return 0, mapError(err, "", cols)
	}
	if _, err := w.t.x.simple(ctx, sql.DropStaging(staging)); err != nil {
		return n, fmt.Errorf("drop staging table: %w", err)
	}
	return n, nil
}

// Analyze refreshes the planner's statistics of tbl: a table filled by COPY alone has none, and the
// next cycle's upserts and deletes would be planned as if it were empty.
func (w rowWriter) Analyze(ctx context.Context, tbl dialect.Table) error {
	return w.t.runFor(ctx, "analyze", tbl.Name, w.t.st.sql.AnalyzeTable)
}

// The bulk path writes PostgreSQL's binary COPY format itself (COPY … FROM STDIN BINARY, described in
// the COPY reference page): a header, then per row an int16 field count and per field an int32 length
// (-1 for NULL) and the value in the type's binary send format, then an int16 -1 trailer. pgx's
// CopyFrom plans an encoding per value through its type map, which cost four times our own
// conversion; here each column's encoder (the type table's) is chosen once per load and appends
// straight into one reused buffer.

// copyHeader is the signature, the flags field (no OIDs) and an empty header extension.
const copyHeader = "PGCOPY\n\377\r\n\000" + "\000\000\000\000" + "\000\000\000\000"

// copyChunk is the buffer size below which a fill keeps encoding rows: pgconn sends whatever one Read
// returns as one CopyData message, and reads into a 64 KiB buffer.
const copyChunk = 64 << 10

// maxKeptBuffer bounds the buffer kept between fills: a huge value grows it, and it is dropped once sent.
const maxKeptBuffer = 4 << 20

// maxNULWarnings bounds the NUL warnings of one copy; the count reported through Events has them all.
const maxNULWarnings = 10

// errCopyEnded answers a Read after the COPY returned, which pgconn may attempt when it gives up on a
// broken connection without waiting for its sending goroutine.
var errCopyEnded = errors.New("copy already ended")

// copySource streams a dialect.RowSource as a binary COPY body. It is the io.Reader that pgconn's
// CopyFrom reads from: each Read encodes rows on demand until it has a message's worth, so memory
// stays bounded by one chunk (or one row, if a row is larger) whatever the number of rows.
type copySource struct {
	ctx context.Context
	src dialect.RowSource
	enc []encodeFunc
	// raw is src when it hands out wire text, which rawEnc encodes; nil otherwise.
	raw    dialect.RawRowSource
	rawEnc []rawFunc
	row    int
	cur    []any               // the source's values of the current row, for warnings
	wire   []dialect.WireValue // or its wire text, when the row was read raw
	err    error               // why the stream stopped, kept so that it survives pgconn's CopyFail round trip
	table  string
	cols   []typemap.Column
	log    *slog.Logger
	nuls   int // U+0000 characters replaced
	warns  int // NUL warnings logged

	// mu orders Reads, which run in pgconn's goroutine, before end, so that the row source is never
	// touched after copyRows returns.
	mu      sync.Mutex
	buf     []byte
	off     int // bytes of buf already handed out
	started bool
	done    bool // the trailer is in buf
	ended   bool
}

// newCopySource prepares the stream of rows (values of cols, columns of tbl) with each column's
// encoder from the type table.
func newCopySource(ctx context.Context, log *slog.Logger, tbl dialect.Table, cols []typemap.Column, rows dialect.RowSource) (*copySource, error) {
	s := &copySource{ctx: ctx, src: rows, enc: make([]encodeFunc, len(cols)), table: tbl.Name, cols: cols, log: log}
	raw, _ := rows.(dialect.RawRowSource)
	if raw != nil {
		s.raw, s.rawEnc = raw, make([]rawFunc, len(cols))
	}
	for i, c := range cols {
		r, err := ruleOf(c.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
		nul := func(str string) string { return s.replaceNULs(i, str) }
		s.enc[i] = r.encode(c.Type, nul)
		if raw != nil {
			if s.rawEnc[i], err = rawEncoderOf(c.Type, nul); err != nil {
				return nil, fmt.Errorf("column %q: %w", c.Name, err)
			}
		}
	}
	return s, nil
}

// Read hands out encoded bytes, encoding more rows when fewer than len(p) are pending, so that every
// message but the last is full.
func (s *copySource) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return 0, errCopyEnded
	}
	if s.err != nil {
		return 0, s.err
	}
	if len(s.buf)-s.off < len(p) && !s.done {
		if s.off == len(s.buf) && cap(s.buf) > maxKeptBuffer {
			s.buf = nil
		}
		n := copy(s.buf, s.buf[s.off:])
		s.buf, s.off = s.buf[:n], 0
		if err := s.fill(max(len(p), copyChunk)); err != nil {
			s.err = err
			return 0, err
		}
	}
	if s.off == len(s.buf) {
		return 0, io.EOF
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

// copyBufs keeps copy buffers between loads: every load would otherwise allocate, and clear, one. A
// buffer holds a chunk and a typical row's overshoot, so that a fill does not grow it step by step.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 0, copyBufSize); return &b }}

const copyBufSize = copyChunk + copyChunk/4

// end makes further Reads fail, waiting for a Read in progress, and gives the buffer back.
func (s *copySource) end() {
	s.mu.Lock()
	s.ended = true
	if cap(s.buf) == copyBufSize {
		b := s.buf[:0]
		copyBufs.Put(&b)
	}
	s.buf = nil
	s.mu.Unlock()
}

// fill encodes rows until want bytes are pending or the source ends, after which it appends the trailer.
func (s *copySource) fill(want int) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if !s.started {
		if s.buf == nil {
			s.buf = (*copyBufs.Get().(*[]byte))[:0]
		}
		s.buf = append(s.buf, copyHeader...)
		s.started = true
	}
	for len(s.buf) < want {
		if !s.src.Next() {
			if err := s.src.Err(); err != nil {
				return fmt.Errorf("row %d: %w", s.row+1, err)
			}
			s.buf = append(s.buf, 0xff, 0xff)
			s.done = true
			return nil
		}
		s.row++
		var err error
		if s.raw != nil {
			err = s.appendRaw()
		} else {
			err = s.appendValues()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// appendValues encodes the current row from its values, with the bulk encoders.
func (s *copySource) appendValues() error {
	vals, err := s.src.Values()
	if err != nil {
		return fmt.Errorf("row %d: %w", s.row, err)
	}
	s.cur, s.wire = vals, nil
	if len(vals) != len(s.enc) {
		return fmt.Errorf("row %d has %d values for %d columns", s.row, len(vals), len(s.enc))
	}
	s.buf = binary.BigEndian.AppendUint16(s.buf, uint16(len(vals)))
	for i, v := range vals {
		if v == nil {
			s.buf = append(s.buf, 0xff, 0xff, 0xff, 0xff)
			continue
		}
		if s.buf, err = s.enc[i](s.buf, v); err != nil {
			return s.valueError(i, err)
		}
	}
	return nil
}

// appendRaw encodes the current row from its wire text, with the raw encoders. A value they refuse
// sends the row through appendValues, whose error is the one to report (dialect.RawRowSource).
func (s *copySource) appendRaw() error {
	vals, err := s.raw.Wire()
	if err != nil {
		return fmt.Errorf("row %d: %w", s.row, err)
	}
	s.cur, s.wire = nil, vals
	if len(vals) != len(s.rawEnc) {
		return fmt.Errorf("row %d has %d values for %d columns", s.row, len(vals), len(s.rawEnc))
	}
	start, nuls, warns := len(s.buf), s.nuls, s.warns
	s.buf = binary.BigEndian.AppendUint16(s.buf, uint16(len(vals)))
	for i := range vals {
		v := &vals[i]
		if v.Null {
			s.buf = append(s.buf, 0xff, 0xff, 0xff, 0xff)
			continue
		}
		if s.buf, err = s.rawEnc[i](s.buf, v.Text); err != nil {
			// The row is encoded again: its NULs must not count twice.
			s.buf, s.nuls, s.warns = s.buf[:start], nuls, warns
			if gerr := s.appendValues(); gerr != nil {
				return gerr
			}
			s.buf = s.buf[:start]
			return s.valueError(i, err)
		}
	}
	return nil
}

// valueError names the column and row of a conversion failure.
func (s *copySource) valueError(i int, err error) error {
	var ve *dialect.ValueError
	if errors.As(err, &ve) {
		ve.Column, ve.Row = s.cols[i].Name, s.row
		return ve
	}
	return fmt.Errorf("column %q, row %d: %w", s.cols[i].Name, s.row, err)
}

// replaceNULs replaces U+0000 in a value of column i with U+FFFD, counts it and logs it (TYPES.md).
func (s *copySource) replaceNULs(i int, str string) string {
	n := strings.Count(str, "\x00")
	s.nuls += n
	s.warns++
	switch {
	case s.warns <= maxNULWarnings:
		s.log.Warn("postgres: NUL characters replaced with U+FFFD", "table", s.table, "column", s.cols[i].Name,
			"row", s.row, "count", n)
	case s.warns == maxNULWarnings+1:
		s.log.Warn("postgres: more NUL characters replaced in this batch; not logging each",
			"table", s.table, "column", s.cols[i].Name, "row", s.row)
	}
	return strings.ReplaceAll(str, "\x00", "\uFFFD")
}

// copyRows sends rows (values of cols, columns of tbl) with the COPY statement stmt. target is the
// table's unqualified name, which the server's error context shows.
func (t *Tx) copyRows(ctx context.Context, tbl dialect.Table, stmt, target string, cols []typemap.Column, rows dialect.RowSource) (int64, error) {
	src, err := newCopySource(ctx, t.st.log, tbl, cols, rows)
	if err != nil {
		return 0, err
	}
	tag, err := t.conn.PgConn().CopyFrom(ctx, src, stmt)
	src.end()
	t.st.events.NULsReplaced(src.nuls)
	if err != nil {
		if src.err != nil {
			return 0, src.err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			// pgconn broke the connection for the context before the stream saw it: the cause is the
			// context, not the write that failed.
			return 0, fmt.Errorf("%w: %w", ctxErr, err)
		}
		return 0, mapError(err, target, cols)
	}
	return tag.RowsAffected(), nil
}

// mapError turns a server error into the dialect's errors: a unique violation into ErrDuplicateKey,
// a data exception into a *dialect.ValueError naming the column and, for a COPY into target, the row.
func mapError(err error, target string, cols []typemap.Column) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == codeUniqueViolation:
		// The detail names the key's value; the message (with the constraint) is enough to act on.
		return fmt.Errorf("%w: %s", dialect.ErrDuplicateKey, pe.Message)
	case strings.HasPrefix(pe.Code, "22") || pe.Code == codeNotNullViolation:
		col, row := copyContext(pe, target, cols)
		return &dialect.ValueError{Column: col, Row: row, Reason: pe.Message + " (SQLSTATE " + pe.Code + ")"}
	}
	return err
}

// copyContext recovers the column and row from a COPY error, whose context reads
// `COPY <target>, line <n>, column <column>[: <value>]` (in binary COPY the line is the row number).
// Neither name is quoted there, so both are matched against the known names instead of split on
// separators a name may contain.
func copyContext(pe *pgconn.PgError, target string, cols []typemap.Column) (column string, row int) {
	column = pe.ColumnName
	prefix := "COPY " + target + ", line "
	i := strings.Index(pe.Where, prefix)
	if target == "" || i < 0 {
		return column, 0
	}
	rest := pe.Where[i+len(prefix):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	row, _ = strconv.Atoi(rest[:j])
	rest, ok := strings.CutPrefix(rest[j:], ", column ")
	if !ok || column != "" {
		return column, row
	}
	best := ""
	for _, c := range cols {
		if len(c.Name) > len(best) && strings.HasPrefix(rest, c.Name) &&
			(len(rest) == len(c.Name) || rest[len(c.Name)] == ':') {
			best = c.Name
		}
	}
	return best, row
}

// Journal reserves the batch's sequence numbers under the tenant's journal lock
// (sqlmeta.Store.ReserveJournal) and writes its entries with one binary COPY. The journal's key column
// is jsonb, whose binary form is a version byte before the JSON text, which the type table (text in,
// text out) has no encoder for: the entries are encoded here, into one buffer, a batch's journal being
// a few dozen bytes a row.
func (w rowWriter) Journal(ctx context.Context, b *dialect.JournalBatch) (int64, error) {
	if b.Len() == 0 {
		return 0, nil
	}
	st := w.t.st
	first, cycle, err := st.meta.ReserveJournal(ctx, w.t.x, b.Len())
	if err != nil {
		return 0, fmt.Errorf("postgres: journal: %w", err)
	}
	tenant := ""
	if st.sql.fanIn != nil {
		tenant = st.sql.fanIn.Tenant
	}
	body := appendJournalCopy(make([]byte, 0, journalCopySize(b, tenant)), b, tenant, first, cycle)
	if _, err := w.t.conn.PgConn().CopyFrom(ctx, bytes.NewReader(body), st.sql.CopyJournal(st.meta.JournalTable(), st.meta.JournalColumns())); err != nil {
		return 0, fmt.Errorf("postgres: journal: %w", markMissing(mapError(err, "", nil)))
	}
	return first, nil
}

// pgEpoch is where PostgreSQL's binary timestamps count from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// journalCopySize is the length of appendJournalCopy's body, which is allocated once: growing it as
// it is written costs more than writing it.
func journalCopySize(b *dialect.JournalBatch, tenant string) int {
	// Per row: the field count; seq, lsn, cycle and time as 4+8 bytes (an lsn of NULL is less); the
	// table name, the operation and the key (with jsonb's version byte) after their lengths.
	row := 2 + 4*12 + 4 + len(b.Table) + 4 + 1 + 4 + 1
	if tenant != "" {
		row += 4 + len(tenant)
	}
	keys := 0
	for i := range b.Len() {
		_, key := b.Change(i)
		keys += len(key)
	}
	return len(copyHeader) + b.Len()*row + keys + 2
}

// appendJournalCopy appends the binary COPY body of a journal batch (the columns of
// dialect.JournalColumns, the tenant first when there is one): numbered from first, stamped with
// cycle, the batch's time as the timestamp of its UTC wall clock (as the metadata tables keep times).
func appendJournalCopy(buf []byte, b *dialect.JournalBatch, tenant string, first, cycle int64) []byte {
	be := binary.BigEndian
	fields := uint16(len(dialect.JournalColumns))
	if tenant != "" {
		fields++
	}
	text := func(buf []byte, s string) []byte {
		return append(be.AppendUint32(buf, uint32(len(s))), s...)
	}
	bigint := func(buf []byte, n int64) []byte {
		return be.AppendUint64(be.AppendUint32(buf, 8), uint64(n))
	}
	null := func(buf []byte) []byte { return append(buf, 0xff, 0xff, 0xff, 0xff) }
	at := b.At.UTC().Sub(pgEpoch).Microseconds()
	buf = append(buf, copyHeader...)
	for i := range b.Len() {
		op, key := b.Change(i)
		buf = be.AppendUint16(buf, fields)
		if tenant != "" {
			buf = text(buf, tenant)
		}
		buf = bigint(buf, first+int64(i))
		buf = text(buf, b.Table)
		if key == nil {
			buf = null(buf)
		} else {
			// jsonb's binary form: version 1, then the text.
			buf = append(append(be.AppendUint32(buf, uint32(len(key)+1)), 1), key...)
		}
		buf = append(be.AppendUint32(buf, 1), byte(op))
		if b.LSN > 0 {
			buf = bigint(buf, b.LSN)
		} else {
			buf = null(buf)
		}
		buf = bigint(buf, cycle)
		buf = bigint(buf, at)
	}
	return append(buf, 0xff, 0xff)
}

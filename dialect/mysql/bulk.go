package mysql

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// writer is the transaction's dialect.RowWriter.
type writer struct{ t *Tx }

// Insert loads rows straight into the table with LOAD DATA LOCAL INFILE, inside a savepoint. LOAD
// DATA LOCAL skips duplicate keys and adjusts bad values with warnings instead of failing, so load
// checks that the server raised no warning (not even a note) and stored exactly the rows sent; on any
// failure the savepoint undoes the partial load and the error says why (dialect.ErrDuplicateKey, a
// *dialect.ValueError, …). This gives the same guarantees as loading a staging table and moving its
// rows with a strict INSERT … SELECT, at about two thirds of the cost: the rows are written once.
func (w writer) Insert(ctx context.Context, t dialect.Table, rows dialect.RowSource) (int64, error) {
	var n int64
	err := w.t.x.Atomically(ctx, func() error {
		var err error
		n, err = w.t.load(ctx, t.Name, t.Columns, rows)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Load is Insert without the savepoint: the caller rolls back after any failure (dialect.Loader).
func (w writer) Load(ctx context.Context, t dialect.Table, rows dialect.RowSource) (int64, error) {
	return w.t.load(ctx, t.Name, t.Columns, rows)
}

// Upsert stages the rows and applies them with one INSERT … SELECT … ON DUPLICATE KEY UPDATE. It
// returns the number of rows written (inserted or updated, including rows whose values were already
// the same).
func (w writer) Upsert(ctx context.Context, t dialect.Table, rows dialect.RowSource) (int64, error) {
	staged, _, err := w.t.applyStaged(ctx, "upsert", t, allColumns(t), rows, func(staging string) (string, error) {
		return w.t.s.sql.Upsert(t, staging)
	})
	return staged, err
}

// Delete stages the keys and deletes the matching rows with one DELETE … JOIN, returning how many
// it deleted.
func (w writer) Delete(ctx context.Context, t dialect.Table, keys dialect.RowSource) (int64, error) {
	_, deleted, err := w.t.applyStaged(ctx, "delete from", t, t.Key, keys, func(staging string) (string, error) {
		return w.t.s.sql.Delete(t, staging)
	})
	return deleted, err
}

// SoftDelete stages the keys and marks the matching rows deleted with one UPDATE … JOIN, returning how
// many it marked. The time is sent as UTC text, as the type table stores a datetimeoffset (the
// session's time zone is UTC), so that no time zone of the driver's DSN can shift it.
func (w writer) SoftDelete(ctx context.Context, t dialect.Table, keys dialect.RowSource, at time.Time) (int64, error) {
	stamp := at.UTC().Format("2006-01-02 15:04:05.000000")
	args := []any{stamp}
	if t.MirroredAt != "" {
		args = append(args, stamp)
	}
	_, marked, err := w.t.applyStaged(ctx, "soft delete in", t, t.Key, keys, func(staging string) (string, error) {
		return w.t.s.sql.SoftDelete(t, staging)
	}, args...)
	return marked, err
}

// PurgeDeleted removes the rows marked deleted with one DELETE.
func (w writer) PurgeDeleted(ctx context.Context, t dialect.Table) (int64, error) {
	stmt, err := w.t.s.sql.PurgeDeleted(t)
	if err != nil {
		return 0, err
	}
	n, err := w.t.x.Exec(ctx, stmt)
	if err != nil {
		return 0, fmt.Errorf("mysql: purge deleted rows of %q: %w", t.Name, err)
	}
	return n, nil
}

// Journal reserves the batch's sequence numbers under the tenant's journal lock
// (sqlmeta.Store.ReserveJournal) and loads its entries with LOAD DATA LOCAL INFILE, checked as every
// load is: the server parses the key's text into the JSON column.
func (w writer) Journal(ctx context.Context, b *dialect.JournalBatch) (int64, error) {
	if b.Len() == 0 {
		return 0, nil
	}
	meta := w.t.s.meta
	first, cycle, err := meta.ReserveJournal(ctx, w.t.x, b.Len())
	if err != nil {
		return 0, fmt.Errorf("mysql: journal: %w", err)
	}
	tenant := ""
	if w.t.s.sql.fanIn != nil {
		tenant = w.t.s.sql.fanIn.Tenant
	}
	table := meta.JournalTable()
	_, err = w.t.loadWith(ctx, table, dialect.JournalTypes(tenant != ""), b.Rows(first, cycle, tenant), func(reader string) (string, error) {
		return w.t.s.sql.LoadJournal(reader, table, meta.JournalColumns()), nil
	})
	if err != nil {
		return 0, fmt.Errorf("mysql: journal: %w", err)
	}
	return first, nil
}

// Analyze does nothing: InnoDB recalculates a table's persistent statistics by itself once a tenth
// of it has changed (innodb_stats_auto_recalc), and ANALYZE TABLE would commit implicitly.
func (writer) Analyze(context.Context, dialect.Table) error { return nil }

// applyStaged loads rows (the values of the columns cols of tb) into a staging table and runs the
// set-based statement that render makes of it, with args. It returns the number of rows staged and
// the number the statement affected.
func (t *Tx) applyStaged(ctx context.Context, what string, tb dialect.Table, cols []int, rows dialect.RowSource,
	render func(staging string) (string, error), args ...any) (staged, affected int64, err error) {
	t.stage++
	name := stagingPrefix + strconv.FormatUint(uint64(t.stage), 10)
	create, err := t.s.sql.StagingTable(name, tb, cols)
	if err != nil {
		return 0, 0, err
	}
	drop, err := t.s.sql.DropStaging(name)
	if err != nil {
		return 0, 0, err
	}
	stmt, err := render(name)
	if err != nil {
		return 0, 0, err
	}
	if _, err := t.x.Exec(ctx, create); err != nil {
		return 0, 0, fmt.Errorf("mysql: create staging table for %q: %w", tb.Name, err)
	}
	defer func() {
		if _, err := t.x.Exec(context.WithoutCancel(ctx), drop); err != nil {
			t.s.log.Warn("mysql: drop staging table", "table", tb.Name, "error", err)
		}
	}()
	values := make([]typemap.Column, len(cols))
	for n, i := range cols {
		values[n] = tb.Columns[i]
	}
	if staged, err = t.load(ctx, name, values, rows); err != nil {
		return 0, 0, err
	}
	if affected, err = t.x.Exec(ctx, stmt, args...); err != nil {
		return 0, 0, fmt.Errorf("mysql: %s %q: %w", what, tb.Name, err)
	}
	return staged, affected, nil
}

// readerSeq and readerTag make reader names unique within the process and across processes sharing
// nothing but the driver's global registry.
var (
	readerSeq atomic.Uint64
	readerTag = func() string {
		var b [6]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}()
)

// load streams rows (the values of cols) into table with LOAD DATA LOCAL INFILE through a registered
// reader that encodes them as the driver reads (loadSource), checks that the server stored every row
// without a warning, and returns the number of rows stored.
func (t *Tx) load(ctx context.Context, table string, cols []typemap.Column, rows dialect.RowSource) (int64, error) {
	return t.loadWith(ctx, table, cols, rows, func(reader string) (string, error) { return t.s.sql.LoadData(reader, table, cols) })
}

// loadWith is load with the LOAD DATA statement that statement renders for the registered reader's
// name.
func (t *Tx) loadWith(ctx context.Context, table string, cols []typemap.Column, rows dialect.RowSource,
	statement func(reader string) (string, error)) (int64, error) {
	enc, err := newRowEncoder(cols)
	if err != nil {
		return 0, fmt.Errorf("mysql: load %q: %w", table, err)
	}
	name := fmt.Sprintf("mirrorsink-%s-%d", readerTag, readerSeq.Add(1))
	stmt, err := statement(name)
	if err != nil {
		return 0, err
	}
	src := &loadSource{ctx: ctx, enc: enc, rows: rows}
	src.raw, _ = rows.(dialect.RawRowSource)
	mysql.RegisterReaderHandler(name, func() io.Reader { return src })
	defer mysql.DeregisterReaderHandler(name)

	// Not through the executor's Exec: a duplicate key here is a warning (see checkWarnings), and
	// any error must first be weighed against the source's.
	stored, execErr := t.x.SQL().ExecContext(ctx, stmt)
	if src.err != nil && src.err != io.EOF {
		// The rows' own error (a value that does not fit, a decoding failure) explains the failed load.
		return 0, src.err
	}
	if execErr != nil {
		return 0, loadError(table, execErr)
	}
	if src.err == nil {
		return 0, fmt.Errorf("mysql: load %q: the server stopped reading the data early", table)
	}
	n, err := stored.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mysql: load %q: %w", table, err)
	}
	if err := t.checkWarnings(ctx, table); err != nil {
		return 0, err
	}
	if n != int64(src.sent) {
		return 0, fmt.Errorf("mysql: load %q: sent %d rows, the server stored %d", table, src.sent, n)
	}
	return n, nil
}

// loadSource is the data of a LOAD DATA LOCAL INFILE: the io.Reader that the driver reads and sends
// in packets, on the statement's own goroutine. Each Read encodes rows on demand into its buffer, so
// that no goroutine or pipe stands between the rows and the connection, and the server loads the
// rows sent while the next ones are encoded. Rows that come as wire text are encoded with the raw
// encoders; a row they refuse goes through Values and the encoders, whose error is the one to report
// (dialect.RawRowSource).
type loadSource struct {
	ctx  context.Context
	enc  *rowEncoder
	rows dialect.RowSource
	raw  dialect.RawRowSource
	buf  []byte // encoded rows not yet read: buf[off:]
	off  int
	sent int // rows encoded
	// err is why the stream ended: io.EOF after the last row, or the rows' error.
	err error
}

// Read hands out encoded rows, encoding more when none are pending.
func (s *loadSource) Read(p []byte) (int, error) {
	if s.off == len(s.buf) && s.err == nil {
		s.fill(len(p))
	}
	if s.off < len(s.buf) {
		n := copy(p, s.buf[s.off:])
		s.off += n
		return n, nil
	}
	return 0, s.err
}

// fill encodes rows until about want bytes are pending or the rows end.
func (s *loadSource) fill(want int) {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return
	}
	s.buf, s.off = s.buf[:0], 0
	for len(s.buf) < want {
		if !s.rows.Next() {
			if err := s.rows.Err(); err != nil {
				s.err = fmt.Errorf("mysql: rows: %w", err)
			} else {
				s.err = io.EOF
			}
			return
		}
		s.sent++
		var err error
		if s.raw != nil {
			s.buf, err = s.enc.appendWire(s.buf, s.raw, s.sent)
		} else {
			s.buf, err = s.enc.appendValues(s.buf, s.rows, s.sent)
		}
		if err != nil {
			// Nothing more is sent: the load fails with this error.
			s.buf, s.err = s.buf[:0], err
			return
		}
	}
}

// rowEncoder turns rows into LOAD DATA lines, with each column's encoders chosen once so that the row
// loop does no dispatch on the column's kind.
type rowEncoder struct {
	cols []typemap.Column
	enc  []encoder
	raw  []rawEncoder
}

func newRowEncoder(cols []typemap.Column) (*rowEncoder, error) {
	e := &rowEncoder{cols: cols, enc: make([]encoder, len(cols)), raw: make([]rawEncoder, len(cols))}
	for i, c := range cols {
		r, err := ruleFor(c.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
		e.enc[i] = r.encode
		if e.raw[i], err = rawEncoderFor(c.Type); err != nil {
			return nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
	}
	return e, nil
}

// appendValues appends the line of the current row of rows, from its values.
func (e *rowEncoder) appendValues(b []byte, rows dialect.RowSource, row int) ([]byte, error) {
	vals, err := rows.Values()
	if err != nil {
		return b, fmt.Errorf("mysql: row %d: %w", row, err)
	}
	return e.appendRow(b, vals, row)
}

// appendWire appends the line of the current row of rows, from its wire text.
func (e *rowEncoder) appendWire(b []byte, rows dialect.RawRowSource, row int) ([]byte, error) {
	vals, err := rows.Wire()
	if err != nil {
		return b, fmt.Errorf("mysql: row %d: %w", row, err)
	}
	if len(vals) != len(e.raw) {
		return b, fmt.Errorf("mysql: row %d has %d values, want %d", row, len(vals), len(e.raw))
	}
	start := len(b)
	for i := range vals {
		if i > 0 {
			b = append(b, '\t')
		}
		v := &vals[i]
		if v.Null {
			b = append(b, '\\', 'N')
			continue
		}
		var err error
		if b, err = e.raw[i](b, v.Text); err != nil {
			if b, gerr := e.appendValues(b[:start], rows, row); gerr != nil {
				return b, gerr
			}
			return b[:start], &dialect.ValueError{Column: e.cols[i].Name, Row: row, Reason: err.Error()}
		}
	}
	return append(b, '\n'), nil
}

// appendRow appends one line for vals; row is the 1-based row number for errors.
func (e *rowEncoder) appendRow(b []byte, vals []any, row int) ([]byte, error) {
	if len(vals) != len(e.enc) {
		return b, fmt.Errorf("mysql: row %d has %d values, want %d", row, len(vals), len(e.enc))
	}
	for i, v := range vals {
		if i > 0 {
			b = append(b, '\t')
		}
		if v == nil {
			b = append(b, '\\', 'N')
			continue
		}
		var why string
		if b, why = e.enc[i](b, v); why != "" {
			return b, &dialect.ValueError{Column: e.cols[i].Name, Row: row, Reason: why}
		}
	}
	return append(b, '\n'), nil
}

func loadError(table string, err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erNotAllowedCommand, erClientLocalDisabled, erLocalInfileDisabled, erMariaLocalDisabled:
			return fmt.Errorf("mysql: load %q: the server refuses LOAD DATA LOCAL INFILE, which the bulk path needs: run SET GLOBAL local_infile = 1 (and set local_infile=1 in the server configuration to keep it); allowAllFiles is not needed, the rows are sent from memory: %w", table, err)
		}
	}
	return fmt.Errorf("mysql: load %q: %w", table, mapError(err))
}

var (
	reAtRow  = regexp.MustCompile(`at row (\d+)`)
	reColumn = regexp.MustCompile("column (?:'([^']*)'|`(?:[^`]|``)*`\\.`(?:[^`]|``)*`\\.`((?:[^`]|``)*)`|`((?:[^`]|``)*)`)")
)

// checkWarnings turns the warnings of the last statement into an error: LOAD DATA LOCAL reports
// duplicate keys, truncations and bad values only as warnings. It reads them through the text
// protocol: preparing a statement would start a new statement and clear them.
func (t *Tx) checkWarnings(ctx context.Context, table string) error {
	rows, err := t.x.SQL().QueryContext(ctx, showWarnings)
	if err != nil {
		return fmt.Errorf("mysql: load %q: show warnings: %w", table, err)
	}
	defer rows.Close()
	type warning struct {
		level string
		code  int
		msg   string
	}
	var ws []warning
	for rows.Next() {
		var w warning
		if err := rows.Scan(&w.level, &w.code, &w.msg); err != nil {
			return fmt.Errorf("mysql: load %q: show warnings: %w", table, err)
		}
		ws = append(ws, w)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mysql: load %q: show warnings: %w", table, err)
	}
	if len(ws) == 0 {
		return nil
	}
	for _, w := range ws {
		if w.code == erDupEntry {
			return fmt.Errorf("mysql: load %q: %s: %w", table, withholdValues(w.msg), dialect.ErrDuplicateKey)
		}
	}
	w := ws[0]
	ve := &dialect.ValueError{Reason: fmt.Sprintf("%s %d: %s", w.level, w.code, withholdValues(w.msg))}
	if m := reAtRow.FindStringSubmatch(w.msg); m != nil {
		ve.Row, _ = strconv.Atoi(m[1])
	}
	if m := reColumn.FindStringSubmatch(w.msg); m != nil {
		for _, g := range m[1:] {
			if g != "" {
				ve.Column = g
				break
			}
		}
	}
	return fmt.Errorf("mysql: load %q: the server changed or dropped a value: %w", table, ve)
}

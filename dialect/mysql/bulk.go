package mysql

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync/atomic"

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

// Analyze does nothing: InnoDB recalculates a table's persistent statistics by itself once a tenth
// of it has changed (innodb_stats_auto_recalc), and ANALYZE TABLE would commit implicitly.
func (writer) Analyze(context.Context, dialect.Table) error { return nil }

// applyStaged loads rows (the values of the columns cols of tb) into a staging table and runs the
// set-based statement that render makes of it. It returns the number of rows staged and the number
// the statement affected.
func (t *Tx) applyStaged(ctx context.Context, what string, tb dialect.Table, cols []int, rows dialect.RowSource,
	render func(staging string) (string, error)) (staged, affected int64, err error) {
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
	if affected, err = t.x.Exec(ctx, stmt); err != nil {
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

var errLoadEnded = errors.New("load ended")

// load streams rows (the values of cols) into table with LOAD DATA LOCAL INFILE through a registered
// reader fed by a goroutine, checks that the server stored every row without a warning, and returns
// the number of rows stored.
func (t *Tx) load(ctx context.Context, table string, cols []typemap.Column, rows dialect.RowSource) (int64, error) {
	enc, err := newRowEncoder(cols)
	if err != nil {
		return 0, fmt.Errorf("mysql: load %q: %w", table, err)
	}
	name := fmt.Sprintf("mirrorsink-%s-%d", readerTag, readerSeq.Add(1))
	stmt, err := t.s.sql.LoadData(name, table, cols)
	if err != nil {
		return 0, err
	}
	pr, pw := io.Pipe()
	mysql.RegisterReaderHandler(name, func() io.Reader { return pr })
	defer mysql.DeregisterReaderHandler(name)

	var sent atomic.Int64
	werr := make(chan error, 1)
	go func() {
		werr <- writeRows(pw, enc, rows, &sent)
	}()

	// Not through the executor's Exec: a duplicate key here is a warning (see checkWarnings), and
	// any error must first be weighed against the writer's.
	stored, execErr := t.x.SQL().ExecContext(ctx, stmt)
	// Unblock the writer when the server never asked for the data (or stopped reading).
	pr.CloseWithError(errLoadEnded)
	writeErr := <-werr

	if writeErr != nil && !errors.Is(writeErr, errLoadEnded) {
		// The rows' own error (a value that does not fit, a decoding failure) explains the failed load.
		return 0, writeErr
	}
	if execErr != nil {
		return 0, loadError(table, execErr)
	}
	if writeErr != nil {
		return 0, fmt.Errorf("mysql: load %q: the server stopped reading the data early", table)
	}
	n, err := stored.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mysql: load %q: %w", table, err)
	}
	if err := t.checkWarnings(ctx, table); err != nil {
		return 0, err
	}
	if n != sent.Load() {
		return 0, fmt.Errorf("mysql: load %q: sent %d rows, the server stored %d", table, sent.Load(), n)
	}
	return n, nil
}

// writeRows encodes rows into pw, closing it with the first error.
func writeRows(pw *io.PipeWriter, enc *rowEncoder, rows dialect.RowSource, sent *atomic.Int64) error {
	bw := bufio.NewWriterSize(pw, 256<<10)
	buf := make([]byte, 0, 4096)
	n := 0
	fail := func(err error) error {
		pw.CloseWithError(err)
		return err
	}
	for rows.Next() {
		n++
		vals, err := rows.Values()
		if err != nil {
			return fail(fmt.Errorf("mysql: row %d: %w", n, err))
		}
		if buf, err = enc.appendRow(buf[:0], vals, n); err != nil {
			return fail(err)
		}
		if _, err := bw.Write(buf); err != nil {
			return fail(err)
		}
		sent.Store(int64(n))
	}
	if err := rows.Err(); err != nil {
		return fail(fmt.Errorf("mysql: rows: %w", err))
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	return pw.Close()
}

// rowEncoder turns rows into LOAD DATA lines, with each column's encoder chosen once so that the row
// loop does no dispatch on the column's kind.
type rowEncoder struct {
	cols []typemap.Column
	enc  []encoder
}

func newRowEncoder(cols []typemap.Column) (*rowEncoder, error) {
	e := &rowEncoder{cols: cols, enc: make([]encoder, len(cols))}
	for i, c := range cols {
		r, err := ruleFor(c.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
		e.enc[i] = r.encode
	}
	return e, nil
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

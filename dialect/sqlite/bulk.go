package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// batch is a filled argument buffer of n rows, or the error that ended the pulling.
type batch struct {
	args []any
	n    int
	err  error
}

// puller reads rows from a RowSource and converts them into argument buffers. It runs on its own
// goroutine so that decoding and converting the next rows overlaps SQLite executing the previous
// statement; two buffers alternate between it and the writer.
type puller struct {
	src    dialect.RowSource
	cols   []typemap.Column
	convs  []converter
	rows   int // rows per buffer
	pulled int64
	// raw is src when it hands out wire text, which raws convert; nil otherwise.
	raw  dialect.RawRowSource
	raws []rawConverter
}

func (p *puller) run(free <-chan []any, full chan<- batch, stop <-chan struct{}) {
	defer close(full)
	width := len(p.cols)
	var buf [48]byte
	for {
		var args []any
		select {
		case args = <-free:
		case <-stop:
			return
		}
		n, err := p.fill(args, width, buf[:])
		if n > 0 || err != nil {
			select {
			case full <- batch{args: args, n: n, err: err}:
			case <-stop:
				return
			}
		}
		if n < p.rows || err != nil {
			return
		}
	}
}

// fill converts up to p.rows rows into args; fewer rows mean the source is exhausted.
func (p *puller) fill(args []any, width int, buf []byte) (int, error) {
	n := 0
	for n < p.rows && p.src.Next() {
		p.pulled++
		row := args[n*width : (n+1)*width]
		var err error
		if p.raw != nil {
			err = p.convertWire(row, buf)
		} else {
			err = p.convertValues(row, buf)
		}
		if err != nil {
			return n, err
		}
		n++
	}
	if n < p.rows {
		if err := p.src.Err(); err != nil {
			return n, fmt.Errorf("row source: %w", err)
		}
	}
	return n, nil
}

// convertValues converts the current row from its values, with the converters.
func (p *puller) convertValues(row []any, buf []byte) error {
	vals, err := p.src.Values()
	if err != nil {
		return fmt.Errorf("row %d: %w", p.pulled, err)
	}
	if len(vals) != len(row) {
		return fmt.Errorf("row %d has %d values for %d columns", p.pulled, len(vals), len(row))
	}
	for i, v := range vals {
		if v == nil {
			row[i] = nil
			continue
		}
		out, reason := p.convs[i](v, buf)
		if reason != "" {
			return &dialect.ValueError{Column: p.cols[i].Name, Row: int(p.pulled), Reason: reason}
		}
		row[i] = out
	}
	return nil
}

// convertWire converts the current row from its wire text, with the raw converters. A value they
// refuse sends the row through convertValues, whose error is the one to report
// (dialect.RawRowSource).
func (p *puller) convertWire(row []any, buf []byte) error {
	vals, err := p.raw.Wire()
	if err != nil {
		return fmt.Errorf("row %d: %w", p.pulled, err)
	}
	if len(vals) != len(row) {
		return fmt.Errorf("row %d has %d values for %d columns", p.pulled, len(vals), len(row))
	}
	for i := range vals {
		v := &vals[i]
		if v.Null {
			row[i] = nil
			continue
		}
		out, err := p.raws[i](v.Text, buf)
		if err != nil {
			if gerr := p.convertValues(row, buf); gerr != nil {
				return gerr
			}
			return &dialect.ValueError{Column: p.cols[i].Name, Row: int(p.pulled), Reason: err.Error()}
		}
		row[i] = out
	}
	return nil
}

// writeRows pulls every row from src, converts the columns cols, and writes them with multi-row
// statements built by build: one prepared statement for full buffers, one more for the last partial
// buffer. It returns the rows pulled and the rows the statements affected. The source is not used
// after writeRows returns.
func (x *Tx) writeRows(ctx context.Context, cols []typemap.Column, src dialect.RowSource,
	build func(rows int) (string, error)) (pulled, affected int64, err error) {
	width := len(cols)
	p := &puller{src: src, cols: cols, convs: make([]converter, width), rows: rowsPerStatement(width)}
	if raw, ok := src.(dialect.RawRowSource); ok {
		p.raw, p.raws = raw, make([]rawConverter, width)
	}
	for i, c := range cols {
		r, err := ruleOf(c.Type)
		if err != nil {
			return 0, 0, err
		}
		p.convs[i] = r.convert
		if p.raw != nil {
			if p.raws[i], err = rawConverterOf(c.Type); err != nil {
				return 0, 0, err
			}
		}
	}
	free := make(chan []any, 2)
	full := make(chan batch, 1)
	stop := make(chan struct{})
	free <- make([]any, p.rows*width)
	free <- make([]any, p.rows*width)
	go p.run(free, full, stop)
	defer func() {
		// Stop the puller and wait until it has let go of the source.
		close(stop)
		for range full {
		}
		pulled = p.pulled
	}()

	var stmt *sql.Stmt
	defer func() {
		if stmt != nil {
			_ = stmt.Close()
		}
	}()
	for b := range full {
		if b.n > 0 {
			var res sql.Result
			if b.n == p.rows {
				if stmt == nil {
					q, err := build(p.rows)
					if err != nil {
						return 0, affected, err
					}
					if stmt, err = x.x.SQL().PrepareContext(ctx, q); err != nil {
						return 0, affected, err
					}
				}
				res, err = stmt.ExecContext(ctx, b.args...)
			} else {
				q, berr := build(b.n)
				if berr != nil {
					return 0, affected, berr
				}
				res, err = x.x.SQL().ExecContext(ctx, q, b.args[:b.n*width]...)
			}
			if err != nil {
				return 0, affected, err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return 0, affected, err
			}
			affected += n
		}
		if b.err != nil {
			return 0, affected, b.err
		}
		free <- b.args
	}
	return 0, affected, nil
}

// Insert inserts rows with multi-row INSERT statements, inside a savepoint: a key that exists, or
// repeats within rows, fails with dialect.ErrDuplicateKey and leaves the transaction as it was.
func (x *Tx) Insert(ctx context.Context, t dialect.Table, src dialect.RowSource) (int64, error) {
	if _, err := x.q.Insert(t, 1); err != nil {
		return 0, err
	}
	var n int64
	err := x.x.Atomically(ctx, func() error {
		var err error
		_, n, err = x.writeRows(ctx, t.Columns, src, func(rows int) (string, error) { return x.q.Insert(t, rows) })
		return x.x.Err(err)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert into %q: %w", t.Name, err)
	}
	return n, nil
}

// Upsert writes rows by key with multi-row INSERT … ON CONFLICT DO UPDATE statements; see SQL.Upsert
// for why there is no staging table. It returns the number of rows written (each row is inserted or
// updated).
func (x *Tx) Upsert(ctx context.Context, t dialect.Table, src dialect.RowSource) (int64, error) {
	if _, err := x.q.Upsert(t, 1); err != nil {
		return 0, err
	}
	n, _, err := x.writeRows(ctx, t.Columns, src, func(rows int) (string, error) { return x.q.Upsert(t, rows) })
	if err != nil {
		return 0, fmt.Errorf("sqlite: upsert into %q: %w", t.Name, err)
	}
	return n, nil
}

// Delete removes the rows with the given keys, a few hundred keys per set-based statement.
func (x *Tx) Delete(ctx context.Context, t dialect.Table, keys dialect.RowSource) (int64, error) {
	if _, err := x.q.Delete(t, 1); err != nil {
		return 0, err
	}
	_, n, err := x.writeRows(ctx, t.KeyColumns(), keys, func(rows int) (string, error) { return x.q.Delete(t, rows) })
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete from %q: %w", t.Name, err)
	}
	return n, nil
}

// SoftDelete marks the rows with the given keys deleted, a few hundred keys per set-based statement.
func (x *Tx) SoftDelete(ctx context.Context, t dialect.Table, keys dialect.RowSource, at time.Time) (int64, error) {
	stamp, err := addedStamp(t, at)
	if err != nil {
		return 0, err
	}
	if _, err := x.q.SoftDelete(t, 1, stamp); err != nil {
		return 0, err
	}
	_, n, err := x.writeRows(ctx, t.KeyColumns(), keys, func(rows int) (string, error) { return x.q.SoftDelete(t, rows, stamp) })
	if err != nil {
		return 0, fmt.Errorf("sqlite: soft delete in %q: %w", t.Name, err)
	}
	return n, nil
}

// addedStamp is at as the type table stores a value of t's DeletedAt column.
func addedStamp(t dialect.Table, at time.Time) (string, error) {
	for _, c := range t.Columns {
		if c.Name != t.DeletedAt {
			continue
		}
		r, err := ruleOf(c.Type)
		if err != nil {
			return "", err
		}
		var buf [48]byte
		v, reason := r.convert(at, buf[:])
		stamp, ok := v.(string)
		if reason != "" || !ok {
			return "", fmt.Errorf("sqlite: the time of a soft delete in %q does not fit column %q: %s", t.Name, c.Name, reason)
		}
		return stamp, nil
	}
	return "", fmt.Errorf("sqlite: soft delete in %q: the table has no column %q", t.Name, t.DeletedAt)
}

// PurgeDeleted removes the rows marked deleted with one DELETE.
func (x *Tx) PurgeDeleted(ctx context.Context, t dialect.Table) (int64, error) {
	stmt, err := x.q.PurgeDeleted(t)
	if err != nil {
		return 0, err
	}
	n, err := x.x.Exec(ctx, stmt)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge deleted rows of %q: %w", t.Name, err)
	}
	return n, nil
}

// Analyze does nothing: SQLite plans without statistics unless ANALYZE was run once, and a mirror's
// queries use the primary key either way.
func (x *Tx) Analyze(context.Context, dialect.Table) error { return nil }

// Journal reserves the batch's sequence numbers (sqlmeta.Store.ReserveJournal; the transaction holds
// the file's write lock anyway) and inserts its entries with multi-row INSERT statements, the full ones
// prepared once, each row binding only its own values (SQL.InsertJournal). The time is written as the
// text the driver writes for a time.Time, as in the other metadata tables.
func (x *Tx) Journal(ctx context.Context, b *dialect.JournalBatch) (int64, error) {
	if b.Len() == 0 {
		return 0, nil
	}
	meta := x.store.meta
	first, cycle, err := meta.ReserveJournal(ctx, x.x, b.Len())
	if err != nil {
		return 0, fmt.Errorf("sqlite: journal: %w", err)
	}
	table, cols, at := meta.JournalTable(), meta.JournalColumns(), b.At.UTC().Format(driverTimeLayout)
	per := journalRowsPerStatement
	args := make([]any, 0, min(b.Len(), per)*journalPerRow)
	var stmt *sql.Stmt
	defer func() {
		if stmt != nil {
			_ = stmt.Close()
		}
	}()
	flush := func() error {
		rows := len(args) / journalPerRow
		var err error
		if rows == per {
			if stmt == nil {
				if stmt, err = x.x.SQL().PrepareContext(ctx, x.q.InsertJournal(table, cols, per, b, cycle, at)); err != nil {
					return err
				}
			}
			_, err = stmt.ExecContext(ctx, args...)
		} else {
			_, err = x.x.SQL().ExecContext(ctx, x.q.InsertJournal(table, cols, rows, b, cycle, at), args...)
		}
		args = args[:0]
		return err
	}
	for i := range b.Len() {
		op, key := b.Change(i)
		var k any
		if key != nil {
			k = string(key)
		}
		args = append(args, first+int64(i), k, opText[op])
		if len(args) == per*journalPerRow || i == b.Len()-1 {
			if err := flush(); err != nil {
				return 0, fmt.Errorf("sqlite: journal: %w", x.x.Err(err))
			}
		}
	}
	return first, nil
}

// opText is each journal operation's text, made once.
var opText = map[dialect.JournalOp]string{dialect.JournalInsert: "I", dialect.JournalUpdate: "U", dialect.JournalDelete: "D", dialect.JournalWipe: "W"}

// driverTimeLayout is the text the driver writes for a time.Time (the first of metaTimeLayouts).
const driverTimeLayout = "2006-01-02 15:04:05.999999999-07:00"

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

// Server error numbers the bulk path acts on.
const (
	erDupEntry            = 1062
	erNotAllowedCommand   = 1148 // LOCAL INFILE refused (MySQL before 8.0.19, MariaDB)
	erClientLocalDisabled = 2068 // client side refusal (C clients)
	erLocalInfileDisabled = 3948 // MySQL 8: loading local data is disabled
	erMariaLocalDisabled  = 4166 // MariaDB: local infile capability disabled
)

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

// loadResult is what one LOAD DATA did.
type loadResult struct {
	sent   int64
	stored int64
}

// load streams rows into table (columns cols of t, with the types of the plan) with LOAD DATA LOCAL
// INFILE through a registered reader fed by a goroutine, and checks that the server stored every row
// without a warning.
func (t *Tx) load(ctx context.Context, table string, cols []typemap.Column, types []ColumnType, rows dialect.RowSource) (loadResult, error) {
	name := fmt.Sprintf("mirrorsink-%s-%d", readerTag, readerSeq.Add(1))
	stmt, err := LoadDataSQL(name, table, cols, types)
	if err != nil {
		return loadResult{}, err
	}
	pr, pw := io.Pipe()
	mysql.RegisterReaderHandler(name, func() io.Reader { return pr })
	defer mysql.DeregisterReaderHandler(name)

	var sent atomic.Int64
	werr := make(chan error, 1)
	go func() {
		werr <- writeRows(pw, newRowEncoder(cols), rows, &sent)
	}()

	res, execErr := t.tx.ExecContext(ctx, stmt)
	// Unblock the writer when the server never asked for the data (or stopped reading).
	pr.CloseWithError(errLoadEnded)
	writeErr := <-werr

	if writeErr != nil && !errors.Is(writeErr, errLoadEnded) {
		// The rows' own error (a value that does not fit, a decoding failure) explains the failed load.
		return loadResult{}, writeErr
	}
	if execErr != nil {
		return loadResult{}, loadError(table, execErr)
	}
	if writeErr != nil {
		return loadResult{}, fmt.Errorf("mysql: load %q: the server stopped reading the data early", table)
	}
	stored, err := res.RowsAffected()
	if err != nil {
		return loadResult{}, fmt.Errorf("mysql: load %q: %w", table, err)
	}
	r := loadResult{sent: sent.Load(), stored: stored}
	if err := t.checkWarnings(ctx, table); err != nil {
		return r, err
	}
	if r.stored != r.sent {
		return r, fmt.Errorf("mysql: load %q: sent %d rows, the server stored %d", table, r.sent, r.stored)
	}
	return r, nil
}

var errLoadEnded = errors.New("load ended")

// writeRows encodes rows into w, closing it with the first error.
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

func loadError(table string, err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erNotAllowedCommand, erClientLocalDisabled, erLocalInfileDisabled, erMariaLocalDisabled:
			return fmt.Errorf("mysql: load %q: the server refuses LOAD DATA LOCAL INFILE, which the bulk path needs: run SET GLOBAL local_infile = 1 (and set local_infile=1 in the server configuration to keep it); allowAllFiles is not needed, the rows are sent from memory: %w", table, err)
		case erDupEntry:
			return fmt.Errorf("mysql: load %q: %v: %w", table, err, dialect.ErrDuplicateKey)
		}
	}
	return fmt.Errorf("mysql: load %q: %w", table, err)
}

var (
	reAtRow  = regexp.MustCompile(`at row (\d+)`)
	reColumn = regexp.MustCompile("column (?:'([^']*)'|`(?:[^`]|``)*`\\.`(?:[^`]|``)*`\\.`((?:[^`]|``)*)`|`((?:[^`]|``)*)`)")
)

// checkWarnings turns the warnings of the last statement into an error: LOAD DATA LOCAL reports
// duplicate keys, truncations and bad values only as warnings.
func (t *Tx) checkWarnings(ctx context.Context, table string) error {
	rows, err := t.tx.QueryContext(ctx, "SHOW WARNINGS LIMIT 20")
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
			return fmt.Errorf("mysql: load %q: %s: %w", table, w.msg, dialect.ErrDuplicateKey)
		}
	}
	w := ws[0]
	ve := &dialect.ValueError{Reason: fmt.Sprintf("%s %d: %s", w.level, w.code, w.msg)}
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

// staging creates a temporary table for cols of t and returns its name and a function that drops it.
func (t *Tx) staging(ctx context.Context, tb dialect.Table, p TablePlan, cols []int) (string, func(), error) {
	t.stage++
	name := fmt.Sprintf("~mirrorsink staging %d", t.stage)
	stmt, err := StagingTableSQL(name, tb, p, cols)
	if err != nil {
		return "", nil, err
	}
	if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
		return "", nil, fmt.Errorf("mysql: create staging table for %q: %w", tb.Name, err)
	}
	drop := func() {
		q, _ := DropStagingSQL(name)
		if _, err := t.tx.ExecContext(context.WithoutCancel(ctx), q); err != nil {
			t.s.logger.Warn("mysql: drop staging table", "table", tb.Name, "error", err)
		}
	}
	return name, drop, nil
}

// stageRows creates a staging table for the given columns and loads rows into it.
func (t *Tx) stageRows(ctx context.Context, tb dialect.Table, p TablePlan, cols []int, rows dialect.RowSource) (string, func(), int64, error) {
	name, drop, err := t.staging(ctx, tb, p, cols)
	if err != nil {
		return "", nil, 0, err
	}
	cc := make([]typemap.Column, len(cols))
	ct := make([]ColumnType, len(cols))
	for n, i := range cols {
		cc[n], ct[n] = tb.Columns[i], p.Types[i]
	}
	r, err := t.load(ctx, name, cc, ct, rows)
	if err != nil {
		drop()
		return "", nil, 0, err
	}
	return name, drop, r.stored, nil
}

func allColumns(tb dialect.Table) []int {
	cols := make([]int, len(tb.Columns))
	for i := range cols {
		cols[i] = i
	}
	return cols
}

// bulkSavepoint brackets BulkInsert's load so that a failed load leaves the table as it was.
const bulkSavepoint = "~mirrorsink bulk"

// BulkInsert loads rows straight into the table with LOAD DATA LOCAL INFILE, inside a savepoint of its
// own. LOAD DATA LOCAL skips duplicate keys and adjusts bad values with warnings instead of failing,
// so load checks that the server raised no warning (not even a note) and stored exactly the rows sent;
// on any failure the savepoint undoes the partial load and the error says why (ErrDuplicateKey, a
// *ValueError, …). This gives the same guarantees as loading a staging table and moving its rows
// with a strict INSERT … SELECT, at about two thirds of the cost: the rows are written once.
func (t *Tx) BulkInsert(ctx context.Context, tb dialect.Table, rows dialect.RowSource) (int64, error) {
	p, err := PlanTable(tb, nil)
	if err != nil {
		return 0, err
	}
	if err := t.Savepoint(ctx, bulkSavepoint); err != nil {
		return 0, err
	}
	r, err := t.load(ctx, tb.Name, tb.Columns, p.Types, rows)
	if err != nil {
		if rbErr := t.RollbackTo(ctx, bulkSavepoint); rbErr != nil {
			return 0, errors.Join(err, rbErr)
		}
		return 0, err
	}
	q, _ := Quote(bulkSavepoint)
	if _, err := t.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+q); err != nil {
		return 0, fmt.Errorf("mysql: bulk insert %q: release savepoint: %w", tb.Name, err)
	}
	return r.stored, nil
}

func moveError(what, table string, err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == erDupEntry {
		return fmt.Errorf("mysql: %s %q: %v: %w", what, table, err, dialect.ErrDuplicateKey)
	}
	return fmt.Errorf("mysql: %s %q: %w", what, table, err)
}

// Upsert stages the rows and applies them with one INSERT … SELECT … ON DUPLICATE KEY UPDATE. It
// returns the number of rows written (inserted or updated, including rows whose values were already
// the same).
func (t *Tx) Upsert(ctx context.Context, tb dialect.Table, rows dialect.RowSource) (int64, error) {
	p, err := PlanTable(tb, nil)
	if err != nil {
		return 0, err
	}
	staging, drop, n, err := t.stageRows(ctx, tb, p, allColumns(tb), rows)
	if err != nil {
		return 0, err
	}
	defer drop()
	stmt, err := UpsertSQL(tb, staging)
	if err != nil {
		return 0, err
	}
	if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
		return 0, moveError("upsert", tb.Name, err)
	}
	return n, nil
}

// Delete stages the keys and deletes the matching rows with one DELETE … JOIN.
func (t *Tx) Delete(ctx context.Context, tb dialect.Table, keys dialect.RowSource) (int64, error) {
	p, err := PlanTable(tb, nil)
	if err != nil {
		return 0, err
	}
	staging, drop, _, err := t.stageRows(ctx, tb, p, tb.Key, keys)
	if err != nil {
		return 0, err
	}
	defer drop()
	stmt, err := DeleteSQL(tb, staging)
	if err != nil {
		return 0, err
	}
	res, err := t.tx.ExecContext(ctx, stmt)
	if err != nil {
		return 0, fmt.Errorf("mysql: delete from %q: %w", tb.Name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mysql: delete from %q: %w", tb.Name, err)
	}
	return n, nil
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// RowData applies each batch of the call in a transaction of its own: the batch's rows and its LSN
// commit together or not at all. Batches before a failing one stay committed; SuperOffice resends the
// failed one, which is harmless because I and U are upserts. While a table is being repopulated, its
// batches are loaded as they arrive (see stream.go).
//
// A batch that finds the mirror's database, schema or table gone fails, and the open mirror is
// forgotten: the next call opens it again, and the next TableSchema answers -1 for what was lost.
func (e *Engine) RowData(ctx context.Context, call contract.Call, batches contract.Batches) (err error) {
	var table string // the batch being applied, for the failure log
	defer func() { e.callFailed(call.Tenant, "RowData", table, err) }()
	t, err := e.writable(ctx, call.Tenant)
	if err != nil {
		return err
	}
	defer e.release(t, &err)
	streamer, _ := batches.(contract.BatchStreamer)
	for {
		var b *contract.Batch
		var res batchResult
		applied := false
		if guess := t.guess.get(); streamer != nil && guess != "" {
			table = guess
			b, res, applied, err = e.speculate(ctx, t, streamer, guess)
		} else {
			b, err = batches.Next(ctx)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			t.guess.set("")
			return err
		}
		table = b.Table.Name
		if !applied {
			if res, err = e.applyBatch(ctx, t, b); err != nil {
				e.metrics.batchFailures.Add(1)
				t.guess.set("")
				return err
			}
		}
		t.guess.after(b.Table.Name, b.LSN, res)
		if res.repopulated {
			e.analyze(ctx, t, b.Table.Name)
		}
	}
}

// batchResult is what applying a batch did.
type batchResult struct {
	// bulk says the batch was loaded through the bulk path, into a table being repopulated.
	bulk bool
	// repopulated says the batch completed a repopulation: it stored an LSN where -1 was stored.
	repopulated bool
}

// applyBatch applies one batch: the bulk path when it only inserts into a table being repopulated,
// else upserts and deletes through the dialect's staging path.
func (e *Engine) applyBatch(ctx context.Context, t *tenant, b *contract.Batch) (res batchResult, err error) {
	name := b.Table.Name
	if err := t.checkTableName(name); err != nil {
		return res, err
	}
	inserts, updates, deletes := b.Rows.Counts()
	// Every batch commits durably, also one that stores no LSN: its call is answered as done, and
	// SuperOffice never sends its rows again once a later batch has stored the table's LSN. That later
	// batch may commit on a new connection to a server that crashed and restarted in between (the pool
	// replaces dead connections unseen), so a commit that was not yet durable would be lost while the
	// LSN moves past it (e2e TestAnsweredBatchesSurviveADatabaseCrash).
	j := t.newJournal()
	err = e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
		res = batchResult{}
		r, err := t.tableMeta(ctx, tx, name)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("table %q is not known to the mirror; TableSchema must come first", name)
		}
		m, err := t.model(r)
		if err != nil {
			return err
		}
		if err := sameShape(m, b.Table); err != nil {
			return err
		}
		res.repopulated = r.LSN == -1 && b.LSN > 0
		a, err := e.newApplier(t, m, b.Rows, j)
		if err != nil {
			return err
		}
		if r.LSN == -1 && updates == 0 && deletes == 0 && inserts > 0 {
			err := a.bulk(ctx, tx, false)
			if err == nil {
				e.metrics.rowsBulk.Add(int64(inserts))
				res.bulk = true
				return e.finishBatch(ctx, tx, name, b.LSN, j)
			}
			if !errors.Is(err, dialect.ErrDuplicateKey) {
				return err
			}
			// A resent batch, or a table repopulated without a wipe: apply it as upserts, whose rows
			// are journaled again.
			e.metrics.bulkFallbacks.Add(1)
			if j != nil {
				j.Reset()
			}
		}
		if err := a.upsertAndDelete(ctx, tx, inserts+updates, deletes); err != nil {
			return err
		}
		if a.merged > 0 {
			e.metrics.keysMerged.Add(int64(a.merged))
			e.log.Warn("rows whose keys differ only below the target's time precision were merged; the last one was kept",
				"tenant", t.name, "table", name, "rows", a.merged)
		}
		e.metrics.rowsUpserted.Add(int64(inserts + updates))
		e.metrics.rowsDeleted.Add(int64(deletes))
		return e.finishBatch(ctx, tx, name, b.LSN, j)
	})
	return res, err
}

// analyze refreshes a table's statistics where the dialect keeps them, after a repopulation. It runs
// after the batch has committed, and a failure is only logged: the data is in place either way.
func (e *Engine) analyze(ctx context.Context, t *tenant, table string) {
	err := e.inTx(ctx, t, "", dialect.Durable, func(tx dialect.Tx) error {
		r, err := t.tableMeta(ctx, tx, table)
		if err != nil || r == nil {
			return err
		}
		m, err := t.model(r)
		if err != nil {
			return err
		}
		return tx.Rows().Analyze(ctx, m.table)
	})
	if err != nil {
		e.log.Warn("refreshing statistics after a repopulation failed", "tenant", t.name, "table", table, "err", err)
	}
}

// finishBatch records the batch in the table's metadata row, with its LSN when it carries a valid one,
// and then, when the journal is on (j is not nil), appends the batch's changes to the journal: the
// last statements of the batch's transaction, so that the journal's lock is held only to the commit.
func (e *Engine) finishBatch(ctx context.Context, tx dialect.Tx, table string, lsn int64, j *dialect.JournalBatch) error {
	stored := lsn
	if stored <= 0 {
		stored = dialect.KeepLSN
	}
	if err := tx.Meta().SetLSN(ctx, table, stored, e.now()); err != nil {
		return fmt.Errorf("table %q: %w", table, err)
	}
	return e.writeJournal(ctx, tx, j, table, lsn)
}

// newApplier prepares the application of a batch's rows to the table of m; j, when not nil, collects
// the journal of the rows it writes.
func (e *Engine) newApplier(t *tenant, m *tableModel, rows contract.Rows, j *dialect.JournalBatch) (*applier, error) {
	caps := t.dialect.Capabilities()
	a := &applier{table: m.table, target: m.table, rows: rows, microKeys: caps.TimeDigits == 6}
	if len(m.table.Columns) != len(m.stored.Columns) {
		// The table has columns that mirrorsink adds: the rows hold the source's, and the batch's
		// time goes into those added columns that take it.
		a.table, a.at = m.source(), dialect.AddedTime(e.now())
		var err error
		if a.added, err = newAddedValues(a.table, a.target, a.at); err != nil {
			return nil, err
		}
	}
	if j != nil {
		// The journal's keys are the source's key columns, which lead the table either way.
		a.journal, a.losses = newJournalKeys(j, a.table), caps.Losses()
	}
	return a, nil
}

// applier applies the rows of one batch to one table.
type applier struct {
	// table has the source's columns, which the batch's rows hold; target is the table as the mirror
	// has it, with the columns mirrorsink adds after them (see added.go), or table itself.
	table, target dialect.Table
	// at is when the batch is applied, as the added columns keep it (the time of its soft deletes);
	// added are the values the added columns take in every row it writes.
	at    time.Time
	added addedValues
	rows  contract.Rows
	// microKeys says that the target keeps times to the microsecond, so that two keys 100 ns apart are
	// one key in the mirror.
	microKeys bool
	// merged counts rows superseded by a later row whose key differs from theirs only below the
	// target's time precision.
	merged int
	// skip marks rows superseded by a later row with the same key in the same batch.
	skip map[int]bool
	// journal, when the journal is on, collects the key and operation of every row handed to the
	// database (see rowSource.journaled); losses make the keys read as the mirror stores them.
	journal *journalKeys
	losses  canon.Losses
}

// bulk loads every row through the bulk path. A duplicate key leaves the transaction as it was, so
// that the caller can fall back to the upsert path; unless once, when the caller rolls the whole
// transaction back after any failure, which lets a dialect.Loader save its savepoint.
func (a *applier) bulk(ctx context.Context, tx dialect.Tx, once bool) error {
	src := a.source(nil, nil)
	src.journaled = a.journal != nil
	insert := tx.Rows().Insert
	if l, ok := tx.Rows().(dialect.Loader); ok && once {
		insert = l.Load
	}
	if _, err := insert(ctx, a.target, a.extend(src)); err != nil {
		if errors.Is(err, dialect.ErrDuplicateKey) {
			return err
		}
		return src.explain(err)
	}
	return nil
}

// upsertAndDelete writes the batch through the staging path.
func (a *applier) upsertAndDelete(ctx context.Context, tx dialect.Tx, upserts, deletes int) error {
	if err := a.rows.Reset(); err != nil {
		return fmt.Errorf("table %q: %w", a.table.Name, err)
	}
	if err := a.findSuperseded(); err != nil {
		return err
	}
	// Deletes go first: a batch's keys are unique once superseded rows are skipped, but two keys the
	// database compares as equal (the same instant at two offsets, text under a case-insensitive
	// collation) must end as the later row, which an upsert after the delete gives and a delete after
	// the upsert would remove.
	if deletes > 0 {
		src := a.source(func(op contract.Operation) bool { return op == contract.Delete }, a.table.Key)
		src.journaled = a.journal != nil
		var err error
		if a.target.DeletedAt != "" {
			_, err = tx.Rows().SoftDelete(ctx, a.target, src, a.at)
		} else {
			_, err = tx.Rows().Delete(ctx, a.target, src)
		}
		if err != nil {
			return src.explain(err)
		}
	}
	if upserts > 0 {
		src := a.source(func(op contract.Operation) bool { return op != contract.Delete }, nil)
		src.journaled = a.journal != nil
		if _, err := tx.Rows().Upsert(ctx, a.target, a.extend(src)); err != nil {
			return src.explain(err)
		}
	}
	return nil
}

// extend returns the rows of src as the target table takes them: with the values of the columns
// mirrorsink adds after each row's own, or src itself when it adds none.
func (a *applier) extend(src *rowSource) dialect.RowSource {
	if len(a.added.values) == 0 {
		return src
	}
	return dialect.Extend(src, nil, a.added.values, nil, a.added.wire)
}

// findSuperseded marks every row whose key appears again later in the batch: a row changed several
// times should arrive once, in its final state, but if it does not, the last one wins. Keys are
// compared as the target stores them: on a target that keeps times to the microsecond, two keys
// 100 ns apart are the same row, and the later one wins too.
func (a *applier) findSuperseded() error {
	if a.rows.Len() < 2 {
		return nil
	}
	defer a.rows.Reset()
	src := a.source(nil, a.table.Key)
	last := make(map[string]int, a.rows.Len())
	// lastExact holds, where the stored key is not the exact one, the exact key of the row in last.
	lastExact := map[string]string{}
	var exact, stored []byte
	for src.Next() {
		vals, err := src.Values()
		if err != nil {
			return src.explain(err)
		}
		exact = appendKey(exact[:0], vals)
		stored = exact
		if a.microKeys {
			stored = appendKey(nil, roundKeyTimes(vals))
		}
		if prev, dup := last[string(stored)]; dup {
			if a.skip == nil {
				a.skip = map[int]bool{}
			}
			a.skip[prev] = true
			prevExact, rounded := lastExact[string(stored)]
			if !rounded {
				prevExact = string(stored)
			}
			if prevExact != string(exact) {
				a.merged++
			}
		}
		last[string(stored)] = src.index
		if a.microKeys && string(stored) != string(exact) {
			lastExact[string(stored)] = string(exact)
		} else {
			delete(lastExact, string(stored))
		}
	}
	return src.Err()
}

// roundKeyTimes rounds the time values of a key to the microsecond, as a target that keeps
// microseconds stores them (half up, like typemap.RoundToMicro). vals is modified in place: it is the
// source's reused slice, read once per row.
func roundKeyTimes(vals []any) []any {
	for i, v := range vals {
		switch x := v.(type) {
		case time.Time:
			vals[i] = typemap.RoundToMicro(x)
		case typemap.TimeOfDay:
			vals[i] = x.RoundToMicro()
		}
	}
	return vals
}

// appendKey appends a canonical, unambiguous text form of a key's decoded values.
func appendKey(buf []byte, vals []any) []byte {
	for _, v := range vals {
		switch x := v.(type) {
		case int64:
			buf = strconv.AppendInt(buf, x, 10)
		case string:
			buf = strconv.AppendQuote(buf, x)
		case time.Time:
			// The instant and the offset, exactly: %v would print the location's name.
			buf = x.UTC().AppendFormat(buf, time.RFC3339Nano)
			_, off := x.Zone()
			buf = strconv.AppendInt(append(buf, '@'), int64(off), 10)
		default:
			buf = fmt.Appendf(buf, "%T:%v", v, v)
		}
		buf = append(buf, 0)
	}
	return buf
}

// source returns a RowSource over the rows whose operation passes keep (nil: every row that is not
// superseded); cols selects the columns to hand over (nil: all of them, in table order).
func (a *applier) source(keep func(contract.Operation) bool, cols []int) *rowSource {
	if cols == nil {
		cols = make([]int, len(a.table.Columns))
		for i := range cols {
			cols[i] = i
		}
	}
	s := &rowSource{
		a:        a,
		keep:     keep,
		cols:     cols,
		decoders: make([]typemap.Decoder, len(cols)),
		vals:     make([]any, len(cols)),
		wire:     make([]dialect.WireValue, len(cols)),
		index:    -1,
		filtered: keep != nil || a.skip != nil,
	}
	for i, c := range cols {
		s.decoders[i] = typemap.DecoderFor(a.table.Columns[c].Type)
	}
	_ = a.rows.Reset()
	return s
}

// rowSource hands the rows of a batch to a dialect's loader: as their wire text (Wire), which the
// dialect's raw encoders write straight into its bulk form, or decoded into typed values (Values).
type rowSource struct {
	a        *applier
	keep     func(contract.Operation) bool
	cols     []int
	decoders []typemap.Decoder
	vals     []any
	wire     []dialect.WireValue
	// index is the 0-based position of the current row in the batch; handed maps the loader's row
	// numbers (1-based, counted over the rows this source handed over) back to it. It is kept only when
	// the source passes rows over (filtered, or superseded); otherwise the two numbers are the same,
	// and the bulk path does no bookkeeping per row.
	index    int
	filtered bool
	handed   []int
	err      error
	// journaled says that every row handed over is journaled (applier.journal) as it goes: the
	// database writes it in the same transaction or not at all.
	journaled bool
}

// Next advances to the next row that this source hands over.
func (s *rowSource) Next() bool {
	if s.err != nil {
		return false
	}
	for s.a.rows.Next() {
		s.index++
		if s.keep != nil && !s.keep(s.a.rows.Row().Op) || s.a.skip[s.index] {
			continue
		}
		if s.filtered {
			s.handed = append(s.handed, s.index)
		}
		if s.journaled {
			if s.err = s.capture(); s.err != nil {
				return false
			}
		}
		return true
	}
	s.err = s.a.rows.Err()
	return false
}

// Values decodes the current row.
func (s *rowSource) Values() ([]any, error) {
	row := s.a.rows.Row()
	t := s.a.table
	values := row.Values
	keyOnly := keyOnlyRow(row, t)
	if !keyOnly && len(values) != len(t.Columns) {
		s.err = s.rowError("", fmt.Sprintf("has %d values, the table has %d columns", len(values), len(t.Columns)), nil)
		return nil, s.err
	}
	for i, c := range s.cols {
		pos := c
		if keyOnly {
			pos = keyPosition(t.Key, c)
		}
		v := values[pos]
		col := &t.Columns[c]
		if v.Null {
			if !col.Nullable {
				s.err = s.rowError(col.Name, "NULL in a NOT NULL column", nil)
				return nil, s.err
			}
			s.vals[i] = nil
			continue
		}
		x, err := s.decoders[i](v.Text)
		if err != nil {
			s.err = s.rowError(col.Name, err.Error(), v.Text)
			return nil, s.err
		}
		s.vals[i] = x
	}
	return s.vals, nil
}

// Wire hands out the current row's wire text, checked as Values checks it except for the text of each
// value: a row that Values would refuse for its shape or a NULL gets Values' error, which also names
// a value of an earlier column that does not decode, as Values would.
func (s *rowSource) Wire() ([]dialect.WireValue, error) {
	row := s.a.rows.Row()
	t := s.a.table
	values := row.Values
	if len(values) == len(t.Columns) {
		for i, c := range s.cols {
			v := values[c]
			if v.Null && !t.Columns[c].Nullable {
				return s.refuse()
			}
			s.wire[i] = dialect.WireValue{Text: v.Text, Null: v.Null}
		}
		return s.wire, nil
	}
	if row.Op != contract.Delete || len(values) != len(t.Key) {
		return s.refuse()
	}
	// A Delete row with only its key values.
	for i, c := range s.cols {
		v := values[keyPosition(t.Key, c)]
		if v.Null && !t.Columns[c].Nullable {
			return s.refuse()
		}
		s.wire[i] = dialect.WireValue{Text: v.Text, Null: v.Null}
	}
	return s.wire, nil
}

// refuse returns the error Values gives for a row that Wire found it must refuse.
func (s *rowSource) refuse() ([]dialect.WireValue, error) {
	if _, err := s.Values(); err != nil {
		return nil, err
	}
	s.err = s.rowError("", "cannot be handed out as wire text", nil)
	return nil, s.err
}

// Err returns the error that stopped the source.
func (s *rowSource) Err() error { return s.err }

// keyOnlyRow reports whether row is a delete that carries only the table's key values (in key order),
// as SuperOffice may send a delete, rather than every column.
func keyOnlyRow(row contract.Row, t dialect.Table) bool {
	return row.Op == contract.Delete && len(row.Values) == len(t.Key) && len(row.Values) != len(t.Columns)
}

func keyPosition(key []int, col int) int {
	for i, k := range key {
		if k == col {
			return i
		}
	}
	return 0
}

// BatchError is a batch that could not be applied because of one of its values. Its message names the
// table, column, row and (cut to 100 characters) value, for SuperOffice; Redacted leaves the value out
// for logs, which must never hold row data.
type BatchError struct {
	Table, Column string
	Row           int // 1-based within the batch
	Reason        string
	Value         string
}

func (e *BatchError) Error() string {
	msg := e.Redacted()
	if e.Value != "" {
		msg += fmt.Sprintf(" (value %q)", e.Value)
	}
	return msg
}

// Redacted returns the message without the offending value.
func (e *BatchError) Redacted() string {
	if e.Column == "" {
		return fmt.Sprintf("table %q, row %d: %s", e.Table, e.Row, e.Reason)
	}
	return fmt.Sprintf("table %q, column %q, row %d: %s", e.Table, e.Column, e.Row, e.Reason)
}

func (s *rowSource) rowError(column, reason string, value []byte) error {
	return &BatchError{Table: s.a.table.Name, Column: column, Row: s.index + 1, Reason: reason, Value: cut(value, 100)}
}

// explain turns a loader's error into one that names the table and, for a value error, the batch row.
func (s *rowSource) explain(err error) error {
	var be *BatchError
	if errors.As(err, &be) {
		return be
	}
	var ve *dialect.ValueError
	if errors.As(err, &ve) {
		row := 0
		switch {
		case !s.filtered:
			row = ve.Row
		case ve.Row >= 1 && ve.Row <= len(s.handed):
			row = s.handed[ve.Row-1] + 1
		}
		return &BatchError{Table: s.a.table.Name, Column: ve.Column, Row: row, Reason: ve.Reason}
	}
	return fmt.Errorf("table %q: %w", s.a.table.Name, err)
}

// cut returns at most n characters of b as a string, on a character boundary.
func cut(b []byte, n int) string {
	if b == nil {
		return ""
	}
	count := 0
	for i := range len(b) {
		if utf8.RuneStart(b[i]) {
			if count == n {
				return string(b[:i]) + "…"
			}
			count++
		}
	}
	return string(b)
}

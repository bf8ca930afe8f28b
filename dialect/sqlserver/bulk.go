package sqlserver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// Insert bulk-copies the rows straight into the table, with TABLOCK (the engine inserts into tables
// being repopulated). A table with text-converted columns loads through the staging table instead.
// It runs inside a savepoint, so that a duplicate key (dialect.ErrDuplicateKey) or a value that does
// not fit leaves the transaction as it was.
func (t *Tx) Insert(ctx context.Context, tab dialect.Table, src dialect.RowSource) (int64, error) {
	tn, err := t.store.sql.Table(tab.Name)
	if err != nil {
		return 0, err
	}
	var n int64
	err = t.x.Atomically(ctx, func() error {
		if hasConverted(tab) || t.store.sql.fanIn != nil {
			var err error
			n, err = t.viaStaging(ctx, tn, tab.Columns, src, func() (int64, error) {
				move, err := t.store.sql.MoveStaged(tab)
				if err != nil {
					return 0, err
				}
				return t.x.Exec(ctx, move)
			})
			return err
		}
		stored, err := t.storedText(ctx, tn, tab.Columns, false)
		if err != nil {
			return err
		}
		n, err = t.load(ctx, tn, tab.Columns, stored, false, true, src)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlserver: insert into %q: %w", tab.Name, err)
	}
	return n, nil
}

// Upsert stages the rows, then updates the keys that exist and inserts the others, inside a
// savepoint.
func (t *Tx) Upsert(ctx context.Context, tab dialect.Table, src dialect.RowSource) (int64, error) {
	tn, err := t.store.sql.Table(tab.Name)
	if err != nil {
		return 0, err
	}
	update, insert, err := t.store.sql.Upsert(tab)
	if err != nil {
		return 0, err
	}
	var n int64
	err = t.x.Atomically(ctx, func() error {
		var err error
		n, err = t.viaStaging(ctx, tn, tab.Columns, src, func() (int64, error) {
			var updated int64
			if update != "" {
				var uerr error
				if updated, uerr = t.x.Exec(ctx, update); uerr != nil {
					return 0, uerr
				}
			}
			inserted, ierr := t.x.Exec(ctx, insert)
			if ierr != nil {
				return 0, ierr
			}
			return updated + inserted, nil
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlserver: upsert into %q: %w", tab.Name, err)
	}
	return n, nil
}

// Delete stages the keys, then deletes the matching rows, inside a savepoint.
func (t *Tx) Delete(ctx context.Context, tab dialect.Table, keys dialect.RowSource) (int64, error) {
	tn, err := t.store.sql.Table(tab.Name)
	if err != nil {
		return 0, err
	}
	del, err := t.store.sql.Delete(tab)
	if err != nil {
		return 0, err
	}
	var n int64
	err = t.x.Atomically(ctx, func() error {
		var err error
		n, err = t.viaStaging(ctx, tn, tab.KeyColumns(), keys, func() (int64, error) { return t.x.Exec(ctx, del) })
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlserver: delete from %q: %w", tab.Name, err)
	}
	return n, nil
}

// SoftDelete stages the keys, then marks the matching rows deleted, inside a savepoint. The time is
// sent as a datetimeoffset parameter, whatever the TDS version (a time.Time would travel as a datetime,
// to 1/300 s, before TDS 7.3).
func (t *Tx) SoftDelete(ctx context.Context, tab dialect.Table, keys dialect.RowSource, at time.Time) (int64, error) {
	tn, err := t.store.sql.Table(tab.Name)
	if err != nil {
		return 0, err
	}
	mark, err := t.store.sql.SoftDelete(tab)
	if err != nil {
		return 0, err
	}
	var n int64
	err = t.x.Atomically(ctx, func() error {
		var err error
		n, err = t.viaStaging(ctx, tn, tab.KeyColumns(), keys, func() (int64, error) {
			return t.x.Exec(ctx, mark, mssql.DateTimeOffset(at))
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlserver: soft delete in %q: %w", tab.Name, err)
	}
	return n, nil
}

// PurgeDeleted removes the rows marked deleted with one DELETE.
func (t *Tx) PurgeDeleted(ctx context.Context, tab dialect.Table) (int64, error) {
	stmt, err := t.store.sql.PurgeDeleted(tab)
	if err != nil {
		return 0, err
	}
	n, err := t.x.Exec(ctx, stmt)
	if err != nil {
		return 0, fmt.Errorf("sqlserver: purge deleted rows of %q: %w", tab.Name, err)
	}
	return n, nil
}

// Journal reserves the batch's sequence numbers under the tenant's journal lock
// (sqlmeta.Store.ReserveJournal) and bulk-copies its entries into the journal, checked as every bulk
// copy is. Without TABLOCK: the journal is appended to while consumers read it (and, in the fan-in
// layout, by every tenant), and the counter row's lock already orders the tenant's writers.
func (t *Tx) Journal(ctx context.Context, b *dialect.JournalBatch) (int64, error) {
	if b.Len() == 0 {
		return 0, nil
	}
	meta := t.store.meta
	first, cycle, err := meta.ReserveJournal(ctx, t.x, b.Len())
	if err != nil {
		return 0, fmt.Errorf("sqlserver: journal: %w", err)
	}
	tenant := ""
	if t.store.sql.fanIn != nil {
		tenant = t.store.sql.fanIn.Tenant
	}
	if _, err := t.load(ctx, meta.JournalTable(), dialect.JournalTypes(tenant != ""), storedText{}, false, false, b.Rows(first, cycle, tenant)); err != nil {
		return 0, fmt.Errorf("sqlserver: journal: %w", err)
	}
	return first, nil
}

// Analyze does nothing: SQL Server updates a table's statistics itself once enough of it changed
// (AUTO_UPDATE_STATISTICS), which a repopulation does.
func (t *Tx) Analyze(context.Context, dialect.Table) error { return nil }

// hasConverted reports whether a table has a column that travels as text (see rule.fromText).
func hasConverted(tab dialect.Table) bool {
	for _, c := range tab.Columns {
		if isConverted(c.Type) {
			return true
		}
	}
	return false
}

// viaStaging creates the staging table with cols of the table target (its quoted name), bulk-loads
// src into it, runs apply, and drops the staging table again (also on failure, best effort: a
// rollback drops it anyway). Each text column is staged in the collation of the target's column.
func (t *Tx) viaStaging(ctx context.Context, target string, cols []typemap.Column, src dialect.RowSource, apply func() (int64, error)) (int64, error) {
	stored, err := t.storedText(ctx, target, cols, true)
	if err != nil {
		return 0, err
	}
	create, err := t.store.sql.CreateStaging(cols, stored.collations)
	if err != nil {
		return 0, err
	}
	for _, s := range create {
		// No arguments: the batch must not run inside sp_executesql (see CreateStaging).
		if _, err := t.x.Exec(ctx, s); err != nil {
			return 0, fmt.Errorf("create staging table: %w", err)
		}
	}
	drop := func() { _, _ = t.x.Exec(context.WithoutCancel(ctx), t.store.sql.DropStaging()) }
	if _, err := t.load(ctx, stagingName(), cols, stored, true, true, src); err != nil {
		drop()
		return 0, err
	}
	n, err := apply()
	if err != nil {
		drop()
		return 0, err
	}
	if _, err := t.x.Exec(ctx, t.store.sql.DropStaging()); err != nil {
		return 0, fmt.Errorf("drop staging table: %w", err)
	}
	return n, nil
}

// storedText is how a table stores its text columns: the code page of each (unicodeColumn for the
// Unicode types), and its collation.
type storedText struct {
	codePages  map[string]int
	collations map[string]string
}

// storedText reads how the table target (its quoted name) stores the text columns among cols, when a
// load of them needs to know: a load into the table itself for the non-Unicode kinds (a table created
// before they became Unicode keeps varchar columns), one into the staging table for every text
// column, whose staging column takes its collation.
func (t *Tx) storedText(ctx context.Context, target string, cols []typemap.Column, staged bool) (storedText, error) {
	need := false
	for _, c := range cols {
		r := types[c.Type.Kind]
		need = need || r.codePage || staged && r.collate
	}
	st := storedText{codePages: map[string]int{}, collations: map[string]string{}}
	if !need {
		return st, nil
	}
	err := t.x.Query(ctx, textColumns, []any{target}, func(scan func(...any) error) error {
		var (
			column, collation string
			cp                sql.NullInt64
		)
		if err := scan(&column, &cp, &collation); err != nil {
			return err
		}
		st.codePages[column], st.collations[column] = int(cp.Int64), collation
		return nil
	})
	if err != nil {
		return storedText{}, fmt.Errorf("text columns of %s: %w", target, err)
	}
	return st, nil
}

// load bulk-copies src into target (a quoted name) with cols, on the transaction's connection, with
// KEEP_NULLS (a NULL stays NULL rather than taking the column's default) and, with tablock, TABLOCK,
// and checks that the server stored every row sent. text is how the mirrored table stores the text
// columns (for the staging table too, staged: their values end up there).
func (t *Tx) load(ctx context.Context, target string, cols []typemap.Column, text storedText, staged, tablock bool, src dialect.RowSource) (int64, error) {
	encs, err := newEncoders(cols, text.codePages, staged, t.store.guidConversion)
	if err != nil {
		return 0, err
	}
	var raws []rawEncoder
	if _, ok := src.(dialect.RawRowSource); ok {
		if raws, err = newRawEncoders(cols, text.codePages, staged, t.store.guidConversion); err != nil {
			return 0, err
		}
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	var stored, sent int64
	var loadErr error
	rawErr := t.x.Conn().Raw(func(dc any) error {
		mc, ok := dc.(*mssql.Conn)
		if !ok {
			return fmt.Errorf("driver connection is a %T, not *mssql.Conn", dc)
		}
		bulk := mc.CreateBulkContext(ctx, target, names)
		bulk.Options = mssql.BulkOptions{KeepNulls: true, Tablock: tablock}
		sent, loadErr = feed(bulk, cols, encs, raws, src)
		// Always end the bulk load, also after a failure: the connection's stream must be complete
		// before the transaction can go on (or roll back).
		n, doneErr := finish(bulk)
		stored = n
		if loadErr == nil {
			loadErr = doneErr
		}
		return nil
	})
	if rawErr != nil {
		return 0, rawErr
	}
	if loadErr != nil {
		return 0, mapError(detachBadConn(loadErr))
	}
	if stored != sent {
		return 0, fmt.Errorf("the server stored %d rows of the %d sent", stored, sent)
	}
	return stored, nil
}

// detachBadConn hides driver.ErrBadConn from database/sql: returned from Raw while a transaction is
// open, it would make sql.Conn close itself and wait for the transaction forever. The transaction's
// next statement or its rollback then meets the broken connection and discards it.
func detachBadConn(err error) error {
	if errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("connection lost during bulk copy: %s", err.Error())
	}
	return err
}

// feed hands every row to the copier, each value checked by its column's encoder: the raw encoder
// from the wire text when src hands rows out that way (raws), the encoder from the decoded value
// otherwise. A panic inside the copier, a last defence as the encoders rule out the ones known,
// becomes an error.
func feed(bulk *mssql.Bulk, cols []typemap.Column, encs []encoder, raws []rawEncoder, src dialect.RowSource) (sent int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bulk copy failed at row %d: driver panic: %v", sent+1, p)
		}
	}()
	raw, _ := src.(dialect.RawRowSource)
	if raws == nil {
		raw = nil
	}
	out := make([]any, len(encs))
	for src.Next() {
		row := int(sent) + 1
		var err error
		if raw != nil {
			err = encodeWire(out, cols, encs, raws, raw, row)
		} else {
			err = encodeValues(out, cols, encs, src, row)
		}
		if err != nil {
			return sent, err
		}
		if err := bulk.AddRow(out); err != nil {
			return sent, fmt.Errorf("row %d: %w", row, err)
		}
		sent++
	}
	if err := src.Err(); err != nil {
		return sent, err
	}
	return sent, nil
}

// encodeValues fills out with the copier's values of the current row of src, from its values.
func encodeValues(out []any, cols []typemap.Column, encs []encoder, src dialect.RowSource, row int) error {
	vals, err := src.Values()
	if err != nil {
		return fmt.Errorf("row %d: %w", row, err)
	}
	if len(vals) != len(encs) {
		return fmt.Errorf("row %d has %d values for %d columns", row, len(vals), len(encs))
	}
	for i, enc := range encs {
		v, err := enc(vals[i])
		if err != nil {
			return valueError(cols[i], row, err)
		}
		out[i] = v
	}
	return nil
}

// encodeWire fills out with the copier's values of the current row of src, from its wire text. A
// value the raw encoders refuse sends the row through encodeValues, whose error is the one to report
// (dialect.RawRowSource).
func encodeWire(out []any, cols []typemap.Column, encs []encoder, raws []rawEncoder, src dialect.RawRowSource, row int) error {
	vals, err := src.Wire()
	if err != nil {
		return fmt.Errorf("row %d: %w", row, err)
	}
	if len(vals) != len(raws) {
		return fmt.Errorf("row %d has %d values for %d columns", row, len(vals), len(raws))
	}
	for i := range vals {
		v := &vals[i]
		if v.Null {
			out[i] = nil
			continue
		}
		x, err := raws[i](v.Text)
		if err != nil {
			if gerr := encodeValues(out, cols, encs, src, row); gerr != nil {
				return gerr
			}
			return &dialect.ValueError{Column: cols[i].Name, Row: row, Reason: err.Error()}
		}
		out[i] = x
	}
	return nil
}

// valueError names the column and row of an encoder's reason.
func valueError(col typemap.Column, row int, err error) error {
	var r reason
	if errors.As(err, &r) {
		return &dialect.ValueError{Column: col.Name, Row: row, Reason: string(r)}
	}
	return err
}

// finish ends the bulk load (a no-op when no row was sent), recovering a driver panic.
func finish(bulk *mssql.Bulk) (n int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bulk copy failed to finish: driver panic: %v", p)
		}
	}()
	return bulk.Done()
}

package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/Masterminds/squirrel"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// metaRow is one row of <ctx>_mirroring.
type metaRow struct {
	table         string
	lsn           int64
	hash          string
	schemaJSON    string
	schemaChanged time.Time
	lastApplied   *time.Time
}

func (t *tenant) metaColumns() []string {
	c := t.q.col
	return []string{c["tablename"], c["lsn"], c["schemahash"], c["schemajson"], c["schemachanged"], c["lastapplied"]}
}

// readMeta reads the metadata rows: every table when table is empty, else that one table.
func (t *tenant) readMeta(ctx context.Context, tx dialect.Tx, table string) (map[string]*metaRow, error) {
	sel := t.dialect.Builder().Select(t.metaColumns()...).From(t.q.meta)
	if table != "" {
		sel = sel.Where(squirrel.Eq{t.q.col["tablename"]: table})
	}
	q, args, err := sel.ToSql()
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.names.Meta, err)
	}
	defer rows.Close()
	out := map[string]*metaRow{}
	for rows.Next() {
		var (
			r                  metaRow
			changed, applied   any
			lsn                int64
			name, hash, schema string
		)
		if err := rows.Scan(&name, &lsn, &hash, &schema, &changed, &applied); err != nil {
			return nil, fmt.Errorf("read %s: %w", t.names.Meta, err)
		}
		r.table, r.lsn, r.hash, r.schemaJSON = name, lsn, trimHash(hash), schema
		if r.schemaChanged, err = asTime(changed); err != nil {
			return nil, fmt.Errorf("read %s: schemachanged of %q: %w", t.names.Meta, name, err)
		}
		if applied != nil {
			at, err := asTime(applied)
			if err != nil {
				return nil, fmt.Errorf("read %s: lastapplied of %q: %w", t.names.Meta, name, err)
			}
			r.lastApplied = &at
		}
		out[name] = &r
	}
	return out, rows.Err()
}

// trimHash drops the padding that char(64) columns may add.
func trimHash(h string) string {
	for len(h) > 0 && h[len(h)-1] == ' ' {
		h = h[:len(h)-1]
	}
	return h
}

// asTime accepts what the drivers return for a timestamp column: a time.Time, or text (SQLite).
func asTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case string:
		return parseTimeText(x)
	case []byte:
		return parseTimeText(string(x))
	case int64:
		return time.UnixMicro(x).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unexpected timestamp value of type %T", v)
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

func parseTimeText(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable timestamp %q", s)
}

// writeMeta inserts or replaces the metadata row of a table. It is written as UPDATE, then INSERT when
// no row was updated: portable across dialects, and safe because the caller holds the table's lock.
func (t *tenant) writeMeta(ctx context.Context, tx dialect.Tx, m *tableModel, lsn int64, now time.Time) error {
	c := t.q.col
	q, args, err := t.dialect.Builder().Update(t.q.meta).
		Set(c["lsn"], lsn).Set(c["schemahash"], m.hash).Set(c["schemajson"], m.json).Set(c["schemachanged"], now).
		Where(squirrel.Eq{c["tablename"]: m.table.Name}).ToSql()
	if err != nil {
		return err
	}
	n, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("update %s for %q: %w", t.names.Meta, m.table.Name, err)
	}
	if n > 0 {
		return nil
	}
	q, args, err = t.dialect.Builder().Insert(t.q.meta).Columns(t.metaColumns()...).
		Values(m.table.Name, lsn, m.hash, m.json, now, nil).ToSql()
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("insert into %s for %q: %w", t.names.Meta, m.table.Name, err)
	}
	return nil
}

// setLSN stores a table's LSN (and when it was last applied). It fails when the table has no
// metadata row, which means it was dropped by a concurrent TableSchema.
func (t *tenant) setLSN(ctx context.Context, tx dialect.Tx, table string, lsn *int64, now time.Time) error {
	c := t.q.col
	upd := t.dialect.Builder().Update(t.q.meta).Set(c["lastapplied"], now)
	if lsn != nil {
		upd = upd.Set(c["lsn"], *lsn)
	}
	q, args, err := upd.Where(squirrel.Eq{c["tablename"]: table}).ToSql()
	if err != nil {
		return err
	}
	n, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("update %s for %q: %w", t.names.Meta, table, err)
	}
	if n != 1 {
		return fmt.Errorf("table %q has no row in %s", table, t.names.Meta)
	}
	return nil
}

// deleteMeta removes a table's metadata row.
func (t *tenant) deleteMeta(ctx context.Context, tx dialect.Tx, table string) error {
	q, args, err := t.dialect.Builder().Delete(t.q.meta).Where(squirrel.Eq{t.q.col["tablename"]: table}).ToSql()
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("delete from %s for %q: %w", t.names.Meta, table, err)
	}
	return nil
}

// model returns the parsed stored schema of a metadata row, cached by hash.
func (t *tenant) model(r *metaRow) (*tableModel, error) {
	t.modelsMu.Lock()
	defer t.modelsMu.Unlock()
	key := r.table + "\x00" + r.hash
	if m, ok := t.models[key]; ok {
		return m, nil
	}
	m, err := parseStored(r.table, r.schemaJSON)
	if err != nil {
		return nil, err
	}
	if len(t.models) > 10000 {
		clear(t.models)
	}
	t.models[key] = m
	return m, nil
}

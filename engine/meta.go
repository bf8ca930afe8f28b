package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// tableMeta reads one table's metadata row; it returns nil when the table has none.
func (t *tenant) tableMeta(ctx context.Context, tx dialect.Tx, table string) (*dialect.TableMeta, error) {
	m, ok, err := tx.Meta().Table(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.name, err)
	}
	if !ok {
		return nil, nil
	}
	return &m, nil
}

// writeMeta inserts or replaces the metadata row of a table with its accepted schema and what the
// change to it could not keep of others' objects.
func (t *tenant) writeMeta(ctx context.Context, tx dialect.Tx, m *tableModel, lsn int64, now time.Time, lost []dialect.LostObject) error {
	return tx.Meta().PutTable(ctx, dialect.TableMeta{Table: m.table.Name, LSN: lsn, SchemaHash: m.hash, SchemaJSON: m.json,
		SchemaChanged: now, LostObjects: lost})
}

// model returns the parsed stored schema of a metadata row, cached by table and hash. Its table is
// the one that holds the rows: in the fan-in layout, a tenant's table of its own where the row says so.
func (t *tenant) model(r *dialect.TableMeta) (*tableModel, error) {
	t.modelsMu.Lock()
	defer t.modelsMu.Unlock()
	key := r.Table + "\x00" + r.SchemaHash + "\x00" + r.StoredIn
	if m, ok := t.models[key]; ok {
		return m, nil
	}
	m, err := parseStored(r.Table, r.SchemaJSON)
	if err != nil {
		return nil, err
	}
	if r.StoredIn != "" {
		m.table.Name = r.StoredIn
	}
	if len(t.models) > 10000 {
		clear(t.models)
	}
	t.models[key] = m
	return m, nil
}

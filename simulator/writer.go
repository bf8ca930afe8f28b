package simulator

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// Writer changes the source inside one transaction (see Source.Write). Tracked changes (Insert,
// Update, Delete) each take the next LSN and remember the row's final state, as SQL Server change
// tracking does; Load adds rows without tracking, for an initial population.
type Writer struct {
	ctx    context.Context
	tx     *sql.Tx
	lsn    int64
	tables map[string]*writeTable
	change *sql.Stmt
	buf    []any
	// pending holds rows of Load not yet inserted, for pendingTable; they go in multi-row INSERTs,
	// which SQLite runs far faster than one statement per row.
	pending      []any
	pendingRows  int
	pendingTable *writeTable
}

// loadRows is how many rows one multi-row INSERT of Load carries.
const loadRows = 32

// writeTable is a table's parsed types and prepared statements within one Writer.
type writeTable struct {
	t      Table
	types  []typemap.Type
	insert *sql.Stmt
	upsert *sql.Stmt
	delete *sql.Stmt
	// insertMany inserts loadRows rows at once.
	insertMany *sql.Stmt
}

// Write runs fn in one transaction: everything fn does commits together, with the new LSN, or not at
// all.
func (s *Source) Write(ctx context.Context, fn func(w *Writer) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("source: begin: %w", err)
	}
	defer tx.Rollback()
	w := &Writer{ctx: ctx, tx: tx, tables: map[string]*writeTable{}}
	defer w.closeStatements()
	if err := tx.QueryRowContext(ctx, `SELECT "v" FROM "_sim_state" WHERE "k" = 'lsn'`).Scan(&w.lsn); err != nil {
		return fmt.Errorf("source: read LSN: %w", err)
	}
	start := w.lsn
	if err := fn(w); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	if w.lsn != start {
		if _, err := tx.ExecContext(ctx, `UPDATE "_sim_state" SET "v" = ? WHERE "k" = 'lsn'`, w.lsn); err != nil {
			return fmt.Errorf("source: store LSN: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("source: commit: %w", err)
	}
	return nil
}

func (w *Writer) closeStatements() {
	for _, t := range w.tables {
		for _, st := range []*sql.Stmt{t.insert, t.upsert, t.delete, t.insertMany} {
			if st != nil {
				st.Close()
			}
		}
	}
	if w.change != nil {
		w.change.Close()
	}
}

// LSN returns the LSN of the writer's last change so far.
func (w *Writer) LSN() int64 { return w.lsn }

// CreateTable creates a table and records its columns in the catalog. Its changes are tracked from
// this LSN on; a mirror older than that gets the whole table.
func (w *Writer) CreateTable(t Table) error {
	if err := w.flush(); err != nil {
		return err
	}
	if len(t.Columns) == 0 {
		return fmt.Errorf("source: create %s: no columns", t.Name)
	}
	if strings.HasPrefix(t.Name, "_sim_") {
		return fmt.Errorf("source: create %s: names starting with _sim_ are reserved", t.Name)
	}
	if _, err := t.types(); err != nil {
		return err
	}
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = quoteIdent(c.Name)
	}
	ddl := fmt.Sprintf(`CREATE TABLE %s (%s, PRIMARY KEY (%s))`, quoteIdent(t.Name), strings.Join(cols, ", "), cols[0])
	if _, err := w.tx.ExecContext(w.ctx, ddl); err != nil {
		return fmt.Errorf("source: create %s: %w", t.Name, err)
	}
	for i, c := range t.Columns {
		if err := w.catalogRow(t.Name, i, c); err != nil {
			return err
		}
	}
	w.lsn++
	if _, err := w.tx.ExecContext(w.ctx, `INSERT INTO "_sim_tables" ("tbl", "min_valid", "next_id") VALUES (?, ?, 1)`, t.Name, w.lsn); err != nil {
		return fmt.Errorf("source: create %s: %w", t.Name, err)
	}
	return nil
}

func (w *Writer) catalogRow(table string, ord int, c Column) error {
	_, err := w.tx.ExecContext(w.ctx, `INSERT INTO "_sim_catalog" ("tbl", "ord", "name", "type", "dflt", "nullable") VALUES (?, ?, ?, ?, ?, ?)`,
		table, ord, c.Name, c.Type, c.Default, c.Nullable)
	if err != nil {
		return fmt.Errorf("source: catalog %s.%s: %w", table, c.Name, err)
	}
	return nil
}

// DropTable drops a table and everything the source knows of it.
func (w *Writer) DropTable(name string) error {
	if err := w.flush(); err != nil {
		return err
	}
	w.forget(name)
	for _, q := range []string{
		`DROP TABLE IF EXISTS ` + quoteIdent(name),
		`DELETE FROM "_sim_catalog" WHERE "tbl" = ?`,
		`DELETE FROM "_sim_tables" WHERE "tbl" = ?`,
		`DELETE FROM "_sim_changes" WHERE "tbl" = ?`,
	} {
		var args []any
		if strings.Contains(q, "?") {
			args = []any{name}
		}
		if _, err := w.tx.ExecContext(w.ctx, q, args...); err != nil {
			return fmt.Errorf("source: drop %s: %w", name, err)
		}
	}
	w.lsn++
	return nil
}

// AddColumn appends a column; existing rows hold NULL in it, so it must be nullable.
func (w *Writer) AddColumn(table string, c Column) error {
	if err := w.flush(); err != nil {
		return err
	}
	if !c.Nullable {
		return fmt.Errorf("source: add %s.%s: an added column must be nullable", table, c.Name)
	}
	if _, err := typemap.ParseType(c.Type); err != nil {
		return fmt.Errorf("source: add %s.%s: %w", table, c.Name, err)
	}
	t, err := w.table(table)
	if err != nil {
		return err
	}
	w.forget(table)
	if _, err := w.tx.ExecContext(w.ctx, `ALTER TABLE `+quoteIdent(table)+` ADD COLUMN `+quoteIdent(c.Name)); err != nil {
		return fmt.Errorf("source: add %s.%s: %w", table, c.Name, err)
	}
	if err := w.catalogRow(table, len(t.t.Columns), c); err != nil {
		return err
	}
	w.lsn++
	return nil
}

// AlterColumn changes a column's type (and, when def is not nil, its default). convert maps each
// stored value, decoded for the old type, to a value of the new type (nil stays NULL); a nil convert
// keeps the stored text, which suits widenings. Like a table rebuild at the source, a change with
// convert restarts the table's change tracking, so the next cycle sends the whole table.
func (w *Writer) AlterColumn(table, column, newType string, def *string, convert func(any) (any, error)) error {
	if err := w.flush(); err != nil {
		return err
	}
	wt, err := w.table(table)
	if err != nil {
		return err
	}
	idx := -1
	for i, c := range wt.t.Columns {
		if c.Name == column {
			idx = i
		}
	}
	if idx < 0 {
		return fmt.Errorf("source: alter %s.%s: no such column", table, column)
	}
	nt, err := typemap.ParseType(newType)
	if err != nil {
		return fmt.Errorf("source: alter %s.%s: %w", table, column, err)
	}
	if convert != nil {
		if err := w.convertColumn(wt, idx, nt, convert); err != nil {
			return err
		}
	}
	q := `UPDATE "_sim_catalog" SET "type" = ? WHERE "tbl" = ? AND "ord" = ?`
	args := []any{newType, table, idx}
	if def != nil {
		q = `UPDATE "_sim_catalog" SET "type" = ?, "dflt" = ? WHERE "tbl" = ? AND "ord" = ?`
		args = []any{newType, *def, table, idx}
	}
	if _, err := w.tx.ExecContext(w.ctx, q, args...); err != nil {
		return fmt.Errorf("source: alter %s.%s: %w", table, column, err)
	}
	w.forget(table)
	w.lsn++
	if convert != nil {
		return w.RestartTracking(table)
	}
	return nil
}

func (w *Writer) convertColumn(wt *writeTable, idx int, nt typemap.Type, convert func(any) (any, error)) error {
	col := quoteIdent(wt.t.Columns[idx].Name)
	key := quoteIdent(wt.t.Columns[0].Name)
	rows, err := w.tx.QueryContext(w.ctx, `SELECT `+key+`, `+col+` FROM `+quoteIdent(wt.t.Name)+` WHERE `+col+` IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("source: convert %s: %w", wt.t.Name, err)
	}
	type pair struct{ key, text string }
	var updates []pair
	dec := typemap.DecoderFor(wt.types[idx])
	for rows.Next() {
		var k, text string
		if err := rows.Scan(&k, &text); err != nil {
			rows.Close()
			return fmt.Errorf("source: convert %s: %w", wt.t.Name, err)
		}
		v, err := dec([]byte(text))
		if err == nil {
			v, err = convert(v)
		}
		var out string
		if err == nil {
			out, err = typemap.EncodeWire(nt, v)
		}
		if err != nil {
			rows.Close()
			return fmt.Errorf("source: convert %s.%s %q: %w", wt.t.Name, wt.t.Columns[idx].Name, text, err)
		}
		updates = append(updates, pair{k, out})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("source: convert %s: %w", wt.t.Name, err)
	}
	for _, u := range updates {
		if _, err := w.tx.ExecContext(w.ctx, `UPDATE `+quoteIdent(wt.t.Name)+` SET `+col+` = ? WHERE `+key+` = ?`, u.text, u.key); err != nil {
			return fmt.Errorf("source: convert %s: %w", wt.t.Name, err)
		}
	}
	return nil
}

// RestartTracking forgets a table's change history, so that a mirror's LSN from before this point no
// longer suffices and the next cycle sends the whole table.
func (w *Writer) RestartTracking(table string) error {
	if err := w.flush(); err != nil {
		return err
	}
	w.lsn++
	if _, err := w.tx.ExecContext(w.ctx, `UPDATE "_sim_tables" SET "min_valid" = ? WHERE "tbl" = ?`, w.lsn, table); err != nil {
		return fmt.Errorf("source: restart tracking of %s: %w", table, err)
	}
	if _, err := w.tx.ExecContext(w.ctx, `DELETE FROM "_sim_changes" WHERE "tbl" = ?`, table); err != nil {
		return fmt.Errorf("source: restart tracking of %s: %w", table, err)
	}
	return nil
}

// forget drops the cached statements of a table whose shape changed.
func (w *Writer) forget(table string) {
	if t := w.tables[table]; t != nil {
		for _, st := range []*sql.Stmt{t.insert, t.upsert, t.delete, t.insertMany} {
			if st != nil {
				st.Close()
			}
		}
		delete(w.tables, table)
	}
}

// table returns the cached shape and statements of a table, reading the catalog on first use.
func (w *Writer) table(name string) (*writeTable, error) {
	if t := w.tables[name]; t != nil {
		return t, nil
	}
	rows, err := w.tx.QueryContext(w.ctx, `SELECT "name", "type", "dflt", "nullable" FROM "_sim_catalog" WHERE "tbl" = ? ORDER BY "ord"`, name)
	if err != nil {
		return nil, fmt.Errorf("source: catalog of %s: %w", name, err)
	}
	t := Table{Name: name}
	for rows.Next() {
		var c Column
		if err := rows.Scan(&c.Name, &c.Type, &c.Default, &c.Nullable); err != nil {
			rows.Close()
			return nil, fmt.Errorf("source: catalog of %s: %w", name, err)
		}
		t.Columns = append(t.Columns, c)
	}
	rows.Close()
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("source: no table %q", name)
	}
	types, err := t.types()
	if err != nil {
		return nil, err
	}
	cols := make([]string, len(t.Columns))
	marks := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i], marks[i] = quoteIdent(c.Name), "?"
	}
	wt := &writeTable{t: t, types: types}
	insert := fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s)`, quoteIdent(name), strings.Join(cols, ", "), strings.Join(marks, ", "))
	if wt.insert, err = w.tx.PrepareContext(w.ctx, insert); err != nil {
		return nil, fmt.Errorf("source: prepare insert into %s: %w", name, err)
	}
	// An upsert rather than INSERT OR REPLACE keeps the row's rowid, so a full read keeps its order.
	sets := make([]string, 0, len(cols)-1)
	for _, c := range cols[1:] {
		sets = append(sets, c+" = excluded."+c)
	}
	upsert := insert + " ON CONFLICT (" + cols[0] + ") DO "
	if len(sets) == 0 {
		upsert += "NOTHING"
	} else {
		upsert += "UPDATE SET " + strings.Join(sets, ", ")
	}
	if wt.upsert, err = w.tx.PrepareContext(w.ctx, upsert); err != nil {
		return nil, fmt.Errorf("source: prepare upsert into %s: %w", name, err)
	}
	if wt.delete, err = w.tx.PrepareContext(w.ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s = ?`, quoteIdent(name), cols[0])); err != nil {
		return nil, fmt.Errorf("source: prepare delete from %s: %w", name, err)
	}
	w.tables[name] = wt
	return wt, nil
}

// encode turns Go values (nil for NULL) into the wire text of each column, into w.buf.
func (w *Writer) encode(wt *writeTable, values []any) ([]any, error) {
	if len(values) != len(wt.types) {
		return nil, fmt.Errorf("source: %s: %d values for %d columns", wt.t.Name, len(values), len(wt.types))
	}
	w.buf = w.buf[:0]
	for i, v := range values {
		if v == nil {
			if !wt.t.Columns[i].Nullable {
				return nil, fmt.Errorf("source: %s.%s: NULL in a NOT NULL column", wt.t.Name, wt.t.Columns[i].Name)
			}
			w.buf = append(w.buf, nil)
			continue
		}
		text, err := typemap.EncodeWire(wt.types[i], v)
		if err != nil {
			return nil, fmt.Errorf("source: %s.%s: %w", wt.t.Name, wt.t.Columns[i].Name, err)
		}
		w.buf = append(w.buf, text)
	}
	return w.buf, nil
}

// Load inserts a row without tracking it, for an initial population (see CreateTable). Rows are
// inserted in groups; a Write's other changes and its end insert what is pending first.
func (w *Writer) Load(table string, values []any) error {
	wt, err := w.table(table)
	if err != nil {
		return err
	}
	if w.pendingTable != nil && w.pendingTable != wt {
		if err := w.flush(); err != nil {
			return err
		}
	}
	args, err := w.encode(wt, values)
	if err != nil {
		return err
	}
	w.pendingTable = wt
	w.pending = append(w.pending, args...)
	w.pendingRows++
	if w.pendingRows < loadRows {
		return nil
	}
	if wt.insertMany == nil {
		marks := "(" + strings.Repeat("?, ", len(wt.types)-1) + "?)"
		q := fmt.Sprintf(`INSERT INTO %s VALUES %s`, quoteIdent(table), strings.Repeat(marks+", ", loadRows-1)+marks)
		if wt.insertMany, err = w.tx.PrepareContext(w.ctx, q); err != nil {
			return fmt.Errorf("source: prepare load into %s: %w", table, err)
		}
	}
	if _, err := wt.insertMany.ExecContext(w.ctx, w.pending...); err != nil {
		return fmt.Errorf("source: load into %s: %w", table, err)
	}
	w.pending, w.pendingRows = w.pending[:0], 0
	return nil
}

// flush inserts the rows Load holds back.
func (w *Writer) flush() error {
	wt := w.pendingTable
	if wt == nil || w.pendingRows == 0 {
		return nil
	}
	n := len(wt.types)
	for i := 0; i < w.pendingRows; i++ {
		if _, err := wt.insert.ExecContext(w.ctx, w.pending[i*n:(i+1)*n]...); err != nil {
			return fmt.Errorf("source: load into %s: %w", wt.t.Name, err)
		}
	}
	w.pending, w.pendingRows, w.pendingTable = w.pending[:0], 0, nil
	return nil
}

// Insert inserts a row, tracked.
func (w *Writer) Insert(table string, values []any) error { return w.write(table, values, true) }

// Update replaces the row with values[0]'s key by values, tracked.
func (w *Writer) Update(table string, values []any) error { return w.write(table, values, false) }

func (w *Writer) write(table string, values []any, insert bool) error {
	if err := w.flush(); err != nil {
		return err
	}
	wt, err := w.table(table)
	if err != nil {
		return err
	}
	args, err := w.encode(wt, values)
	if err != nil {
		return err
	}
	st := wt.upsert
	if insert {
		st = wt.insert
	}
	if _, err := st.ExecContext(w.ctx, args...); err != nil {
		return fmt.Errorf("source: write %s: %w", table, err)
	}
	return w.track(table, args[0].(string), insert, false)
}

// Delete deletes the row with key (a Go value of the key column's type), tracked.
func (w *Writer) Delete(table string, key any) error {
	if err := w.flush(); err != nil {
		return err
	}
	wt, err := w.table(table)
	if err != nil {
		return err
	}
	text, err := typemap.EncodeWire(wt.types[0], key)
	if err != nil {
		return fmt.Errorf("source: delete from %s: %w", table, err)
	}
	n, err := wt.delete.ExecContext(w.ctx, text)
	if err != nil {
		return fmt.Errorf("source: delete from %s: %w", table, err)
	}
	if c, _ := n.RowsAffected(); c == 0 {
		return nil
	}
	return w.track(table, text, false, true)
}

// track records a row's change at the next LSN: SQL Server change tracking's final state per key.
func (w *Writer) track(table, key string, insert, deleted bool) error {
	if w.change == nil {
		st, err := w.tx.PrepareContext(w.ctx, `INSERT INTO "_sim_changes" ("tbl", "key", "lsn", "created", "deleted") VALUES (?, ?, ?, ?, ?)
ON CONFLICT ("tbl", "key") DO UPDATE SET "lsn" = excluded."lsn", "deleted" = excluded."deleted",
  "created" = CASE WHEN excluded."created" > 0 THEN excluded."created" ELSE "created" END`)
		if err != nil {
			return fmt.Errorf("source: prepare change tracking: %w", err)
		}
		w.change = st
	}
	w.lsn++
	created := int64(0)
	if insert {
		created = w.lsn
	}
	if _, err := w.change.ExecContext(w.ctx, table, key, w.lsn, created, deleted); err != nil {
		return fmt.Errorf("source: track change of %s: %w", table, err)
	}
	return nil
}

// NextID returns a fresh integer key for a table's next inserted row.
func (w *Writer) NextID(table string) (int64, error) {
	if err := w.flush(); err != nil {
		return 0, err
	}
	var id int64
	err := w.tx.QueryRowContext(w.ctx, `UPDATE "_sim_tables" SET "next_id" = "next_id" + 1 WHERE "tbl" = ? RETURNING "next_id" - 1`, table).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("source: next id of %s: %w", table, err)
	}
	return id, nil
}

// SetNextID sets the next key NextID hands out, after a Load of keys 1..n.
func (w *Writer) SetNextID(table string, next int64) error {
	if err := w.flush(); err != nil {
		return err
	}
	if _, err := w.tx.ExecContext(w.ctx, `UPDATE "_sim_tables" SET "next_id" = ? WHERE "tbl" = ?`, next, table); err != nil {
		return fmt.Errorf("source: set next id of %s: %w", table, err)
	}
	return nil
}

// DeletedKeys returns up to n distinct keys of a table that tracked deletes removed and that no row has
// now, decoded, chosen with r (which it does not use when n is 0).
func (w *Writer) DeletedKeys(table string, n int, r *rand.Rand) ([]any, error) {
	if n <= 0 {
		return nil, nil
	}
	if err := w.flush(); err != nil {
		return nil, err
	}
	wt, err := w.table(table)
	if err != nil {
		return nil, err
	}
	rows, err := w.tx.QueryContext(w.ctx, `SELECT "key" FROM "_sim_changes" WHERE "tbl" = ? AND "deleted" = 1 ORDER BY "key"`, table)
	if err != nil {
		return nil, fmt.Errorf("source: deleted keys of %s: %w", table, err)
	}
	var texts []string
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			rows.Close()
			return nil, fmt.Errorf("source: deleted keys of %s: %w", table, err)
		}
		texts = append(texts, text)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("source: deleted keys of %s: %w", table, err)
	}
	r.Shuffle(len(texts), func(i, j int) { texts[i], texts[j] = texts[j], texts[i] })
	dec := typemap.DecoderFor(wt.types[0])
	var keys []any
	for _, text := range texts[:min(n, len(texts))] {
		k, err := dec([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("source: deleted keys of %s: key %q: %w", table, text, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// PickKeys returns up to n distinct existing keys of a table, decoded, chosen with r.
func (w *Writer) PickKeys(table string, n int, r *rand.Rand) ([]any, error) {
	if err := w.flush(); err != nil {
		return nil, err
	}
	wt, err := w.table(table)
	if err != nil {
		return nil, err
	}
	var maxRowID int64
	if err := w.tx.QueryRowContext(w.ctx, `SELECT coalesce(max(rowid), 0) FROM `+quoteIdent(table)).Scan(&maxRowID); err != nil {
		return nil, fmt.Errorf("source: pick keys of %s: %w", table, err)
	}
	if maxRowID == 0 || n <= 0 {
		return nil, nil
	}
	st, err := w.tx.PrepareContext(w.ctx, `SELECT rowid, `+quoteIdent(wt.t.Columns[0].Name)+` FROM `+quoteIdent(table)+` WHERE rowid >= ? ORDER BY rowid LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("source: pick keys of %s: %w", table, err)
	}
	defer st.Close()
	dec := typemap.DecoderFor(wt.types[0])
	seen := map[int64]bool{}
	var keys []any
	for tries := 0; len(keys) < n && tries < 4*n+16; tries++ {
		var rowid int64
		var text string
		err := st.QueryRowContext(w.ctx, 1+r.Int64N(maxRowID)).Scan(&rowid, &text)
		if err == sql.ErrNoRows || seen[rowid] {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("source: pick keys of %s: %w", table, err)
		}
		seen[rowid] = true
		k, err := dec([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("source: pick keys of %s: key %q: %w", table, text, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

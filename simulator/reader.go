package simulator

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mirrorsink/mirrorsink/contract"
)

// Cursor reads what one table must send to a mirror, from one consistent snapshot of the source.
type Cursor struct {
	// LSN is the source's LSN at the snapshot: the LSN the table's last batch carries.
	LSN int64
	// Full says that the mirror needs the whole table (Wipe, then every row as an insert).
	Full bool
	// Reason says why Full was chosen.
	Reason string

	tx     *sql.Tx
	rows   *sql.Rows
	ncols  int
	since  int64
	op     contract.Operation
	values []contract.Value
	raw    []sql.NullString
	ptrs   []any
	err    error
}

// OpenCursor opens a read snapshot of table and decides what the mirror, whose LSN is mirrorLSN,
// needs: everything when mirrorLSN is -1, ahead of the source (a restore), or older than the table's
// change history; otherwise the rows changed since mirrorLSN, each once in its final state, with
// deletes carrying only the key. The caller must Close the cursor.
func (s *Source) OpenCursor(ctx context.Context, t Table, mirrorLSN int64) (*Cursor, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("source: read %s: %w", t.Name, err)
	}
	c := &Cursor{tx: tx, ncols: len(t.Columns), since: mirrorLSN}
	var minValid int64
	err = tx.QueryRowContext(ctx, `SELECT (SELECT "v" FROM "_sim_state" WHERE "k" = 'lsn'), "min_valid" FROM "_sim_tables" WHERE "tbl" = ?`, t.Name).Scan(&c.LSN, &minValid)
	if err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("source: read %s: %w", t.Name, err)
	}
	switch {
	case mirrorLSN < 0:
		c.Full, c.Reason = true, "the mirror asked for it (LSN -1)"
	case mirrorLSN > c.LSN:
		c.Full, c.Reason = true, fmt.Sprintf("the mirror (LSN %d) is ahead of the source (LSN %d): the source was restored", mirrorLSN, c.LSN)
	case mirrorLSN < minValid:
		c.Full, c.Reason = true, fmt.Sprintf("the mirror's LSN %d is older than the table's change history (from %d)", mirrorLSN, minValid)
	}
	cols := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		cols[i] = "t." + quoteIdent(col.Name)
	}
	var q string
	var args []any
	if c.Full {
		q = fmt.Sprintf(`SELECT 'I', %s FROM %s AS t ORDER BY t.rowid`, strings.Join(cols, ", "), quoteIdent(t.Name))
	} else {
		// The key comes from the change record, so that a deleted row (absent from the table) still has one.
		cols[0] = "c.\"key\""
		q = fmt.Sprintf(`SELECT CASE WHEN c."deleted" = 1 THEN 'D' WHEN c."created" > ? THEN 'I' ELSE 'U' END, %s
FROM "_sim_changes" AS c LEFT JOIN %s AS t ON t.%s = c."key" AND c."deleted" = 0
WHERE c."tbl" = ? AND c."lsn" > ? ORDER BY c."lsn"`, strings.Join(cols, ", "), quoteIdent(t.Name), quoteIdent(t.Columns[0].Name))
		args = []any{mirrorLSN, t.Name, mirrorLSN}
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("source: read %s: %w", t.Name, err)
	}
	c.rows = rows
	c.raw = make([]sql.NullString, len(t.Columns))
	c.ptrs = make([]any, len(t.Columns)+1)
	var op string
	c.ptrs[0] = &op
	for i := range c.raw {
		c.ptrs[i+1] = &c.raw[i]
	}
	c.values = make([]contract.Value, len(t.Columns))
	return c, nil
}

// Next advances to the next row to send.
func (c *Cursor) Next() bool {
	if c.err != nil || !c.rows.Next() {
		return false
	}
	if err := c.rows.Scan(c.ptrs...); err != nil {
		c.err = err
		return false
	}
	c.op = contract.Operation((*c.ptrs[0].(*string))[0])
	n := len(c.raw)
	if c.op == contract.Delete {
		n = 1
	}
	c.values = c.values[:n]
	for i := range n {
		if c.raw[i].Valid {
			c.values[i] = contract.Value{Text: []byte(c.raw[i].String)}
		} else {
			c.values[i] = contract.Value{Null: true}
		}
	}
	return true
}

// Row returns the current row's operation and values (only the key for a delete). They are valid
// until the next call to Next.
func (c *Cursor) Row() (contract.Operation, []contract.Value) { return c.op, c.values }

// Err returns the error that stopped the cursor.
func (c *Cursor) Err() error {
	if c.err != nil {
		return c.err
	}
	return c.rows.Err()
}

// Close ends the snapshot.
func (c *Cursor) Close() error {
	c.rows.Close()
	return c.tx.Rollback()
}

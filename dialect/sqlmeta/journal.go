package sqlmeta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Masterminds/squirrel"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// journalCounterRow is the key of the tenant's row in the journal's counter table.
const journalCounterRow = 1

// ReserveJournal takes the tenant's journal lock and n sequence numbers, in the transaction of q: it
// adds n to the counter row, whose row lock every database holds until the transaction ends, so that
// the tenant's journaling transactions commit in the order of their numbers (dialect/journal.go). It
// returns the first number reserved and the id of the newest cycle (0 when there is none), which the
// dialect's RowWriter.Journal writes with its bulk path. A missing counter row fails with
// dialect.ErrJournalCounter.
func (s *Store) ReserveJournal(ctx context.Context, q Querier, n int) (first, cycle int64, err error) {
	t := &txStore{s: s, q: q}
	c := s.col
	// One UPDATE that adds to the column is the lock and the reservation at once: it waits for the
	// transaction that holds the row, then reads the row as that one committed it.
	upd := mine(t, s.sb.Update(s.changesSeq).Set(c.lastSeq, squirrel.Expr(c.lastSeq+" + ?", int64(n))).
		Where(squirrel.Eq{c.id: journalCounterRow}))
	affected, err := t.exec(ctx, upd, "update "+s.cfg.Names.ChangesSeq)
	if err != nil {
		return 0, 0, err
	}
	if affected == 0 {
		return 0, 0, dialect.ErrJournalCounter
	}
	// The subquery keeps "?" placeholders, which the outer statement numbers with its own (LastCycle).
	newest := mine(t, squirrel.Select("COALESCE("+c.maxOfIDs+", 0)").From(s.cycles))
	var last int64
	found := false
	err = t.query(ctx, mine(t, s.sb.Select(c.lastSeq).Column(squirrel.Expr("(?)", newest)).From(s.changesSeq).
		Where(squirrel.Eq{c.id: journalCounterRow})), "read "+s.cfg.Names.ChangesSeq,
		func(scan func(...any) error) error {
			found = true
			return scan(&last, &cycle)
		})
	if err != nil {
		return 0, 0, err
	}
	if !found {
		return 0, 0, dialect.ErrJournalCounter
	}
	return last - int64(n) + 1, cycle, nil
}

// ensureJournalCounter inserts the tenant's counter row when it has none, numbering on from the
// journal's highest sequence number, so that a row deleted by hand never makes numbers repeat. The
// caller holds the migration lock.
func (t *txStore) ensureJournalCounter(ctx context.Context) error {
	s, c := t.s, t.s.col
	var rows int64
	if err := t.query(ctx, mine(t, s.sb.Select("COUNT(*)").From(s.changesSeq).Where(squirrel.Eq{c.id: journalCounterRow})),
		"read "+s.cfg.Names.ChangesSeq, func(scan func(...any) error) error { return scan(&rows) }); err != nil {
		return err
	}
	if rows > 0 {
		return nil
	}
	var last int64
	if err := t.query(ctx, mine(t, s.sb.Select("COALESCE(MAX("+c.seq+"), 0)").From(s.changes)),
		"read "+s.cfg.Names.Changes, func(scan func(...any) error) error { return scan(&last) }); err != nil {
		return err
	}
	cols, vals := t.withTenant([]string{c.id, c.lastSeq}, []any{journalCounterRow, last})
	_, err := t.exec(ctx, s.sb.Insert(s.changesSeq).Columns(cols...).Values(vals...), "insert into "+s.cfg.Names.ChangesSeq)
	return err
}

// JournalColumns are the journal's columns, quoted, in the order of dialect.JournalColumns, with the
// tenant column first in a shared store: what a dialect's bulk statement names.
func (s *Store) JournalColumns() []string {
	c := s.col
	cols := []string{c.seq, c.table, c.rowKey, c.op, c.lsn, c.afterCycle, c.appliedAt}
	if s.cfg.Shared {
		cols = append([]string{c.tenant}, cols...)
	}
	return cols
}

// JournalTable is the journal's quoted (and, where the mirror needs it, qualified) name.
func (s *Store) JournalTable() string { return s.changes }

// errEnough stops ReadJournal's rows once it has read the entries asked for.
var errEnough = errors.New("enough journal entries")

// ReadJournal reads the tenant's entries after a sequence number, in order. It stops reading rows
// once it has limit of them rather than with LIMIT/TOP, which every dialect spells differently.
func (t *txStore) ReadJournal(ctx context.Context, after int64, limit int, fn func(dialect.JournalEntry) error) error {
	s, c := t.s, t.s.col
	n := 0
	err := t.query(ctx, mine(t, s.sb.Select(c.seq, c.table, c.rowKey, c.op, c.lsn, c.afterCycle, c.appliedAt).From(s.changes).
		Where(squirrel.Gt{c.seq: after})).OrderBy(c.seq), "read "+s.cfg.Names.Changes,
		func(scan func(...any) error) error {
			if limit > 0 && n >= limit {
				return errEnough
			}
			var (
				e   dialect.JournalEntry
				key *string
				op  string
				lsn *int64
				at  any
			)
			if err := scan(&e.Seq, &e.Table, &key, &op, &lsn, &e.AfterCycle, &at); err != nil {
				return err
			}
			if key != nil {
				e.Key = *key
			}
			if lsn != nil {
				e.LSN = *lsn
			}
			if len(op) != 1 {
				return fmt.Errorf("journal entry %d: operation %q", e.Seq, op)
			}
			e.Op = dialect.JournalOp(op[0])
			var err error
			if e.At, err = t.scanTime(at); err != nil {
				return fmt.Errorf("appliedat of journal entry %d: %w", e.Seq, err)
			}
			n++
			return fn(e)
		})
	if errors.Is(err, errEnough) {
		return nil
	}
	return err
}

// PruneJournal deletes what the retention lets go, by ranges of the primary key: by count, the entries
// at or below the counter's last number minus MaxEntries; by age, those before the first entry
// applied since the cut, which a binary search over the numbers finds with a few lookups of the key.
// The journal has no index on its time, which every append would pay for: its entries are in
// commit order, and so, to within the moments a batch waits for the journal lock, in time order.
func (t *txStore) PruneJournal(ctx context.Context, r dialect.JournalRetention, now time.Time) (int64, error) {
	s, c := t.s, t.s.col
	var last int64
	found := false
	if err := t.query(ctx, mine(t, s.sb.Select(c.lastSeq).From(s.changesSeq).Where(squirrel.Eq{c.id: journalCounterRow})),
		"read "+s.cfg.Names.ChangesSeq, func(scan func(...any) error) error {
			found = true
			return scan(&last)
		}); err != nil || !found {
		return 0, err
	}
	keepFrom := int64(0) // the first number kept
	if r.MaxEntries > 0 {
		keepFrom = last - r.MaxEntries + 1
	}
	if r.MaxAge > 0 {
		cut := now.Add(-r.MaxAge)
		// The first number whose entry (or the next one there is) was applied at or after the cut, in
		// [lo, last+1]: last+1 when every entry is older.
		lo, hi := keepFrom, last+1
		for lo < hi {
			mid := lo + (hi-lo)/2
			at, ok, err := t.journalTime(ctx, mid)
			if err != nil {
				return 0, err
			}
			if !ok || !at.Before(cut) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		keepFrom = max(keepFrom, lo)
	}
	if keepFrom <= 1 {
		return 0, nil
	}
	return t.exec(ctx, mine(t, s.sb.Delete(s.changes).Where(squirrel.Lt{c.seq: keepFrom})), "prune "+s.cfg.Names.Changes)
}

// journalTime reads when the first entry numbered n or above was applied; ok is false when there is
// none. Both reads go by the primary key.
func (t *txStore) journalTime(ctx context.Context, n int64) (at time.Time, ok bool, err error) {
	s, c := t.s, t.s.col
	// The subquery keeps "?" placeholders, which the outer statement numbers with its own (LastCycle).
	first := mine(t, squirrel.Select("MIN("+c.seq+")").From(s.changes).Where(squirrel.GtOrEq{c.seq: n}))
	err = t.query(ctx, mine(t, s.sb.Select(c.appliedAt).From(s.changes).Where(squirrel.Expr(c.seq+" = (?)", first))),
		"read "+s.cfg.Names.Changes, func(scan func(...any) error) error {
			var v any
			if err := scan(&v); err != nil {
				return err
			}
			ok = true
			at, err = t.scanTime(v)
			return err
		})
	return at, ok, err
}

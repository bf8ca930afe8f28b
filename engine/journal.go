package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// The change journal (docs/ANALYTICS.md, "Change journal"): with Route.Journal, every change the
// engine applies to a mirrored table is appended to the tenant's journal in the transaction that
// applies it, last before the commit (dialect.RowWriter.Journal takes the tenant's journal lock, held
// to the commit, so the shorter the better). A batch's rows are journaled as the source sent them,
// superseded rows left out, keys captured while the rows stream to the database (rowSource.Next), so
// that a batch loaded as it arrives is journaled without being read twice. Whatever removes all of a
// table's rows at once journals one JournalWipe: a Wipe, a table created, recreated or dropped, and in
// the fan-in layout a tenant's rows removed from a shared table.

// DefaultJournalKeep is the retention of a route that turns the journal on without journal_keep.
var DefaultJournalKeep = dialect.JournalRetention{MaxAge: 30 * 24 * time.Hour}

// ParseJournalKeep reads a journal's retention: an age in days or hours ("30d", "12h", or any Go
// duration such as "90m") or a count of entries ("1000000"); "all" keeps everything.
func ParseJournalKeep(s string) (dialect.JournalRetention, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "all":
		return dialect.JournalRetention{}, nil
	case s == "":
		return dialect.JournalRetention{}, errors.New("journal_keep is empty: an age (30d, 12h) or a count of entries (1000000)")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 {
			return dialect.JournalRetention{}, fmt.Errorf("journal_keep %q: a count of entries must be positive", s)
		}
		return dialect.JournalRetention{MaxEntries: n}, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n <= 0 || n > 100*365 {
			return dialect.JournalRetention{}, fmt.Errorf("journal_keep %q: a whole number of days from 1 to 36500", s)
		}
		return dialect.JournalRetention{MaxAge: time.Duration(n) * 24 * time.Hour}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return dialect.JournalRetention{}, fmt.Errorf("journal_keep %q: an age (30d, 12h) or a count of entries (1000000)", s)
	}
	return dialect.JournalRetention{MaxAge: d}, nil
}

// journalOn reports whether the tenant's route keeps the change journal.
func (t *tenant) journalOn() bool { return t.route.Journal }

// newJournal returns the journal batch of one of the tenant's batches, nil when the journal is off.
func (t *tenant) newJournal() *dialect.JournalBatch {
	if !t.journalOn() {
		return nil
	}
	return &dialect.JournalBatch{}
}

// journalWipe journals that every row of table went (see JournalWipe), in tx, when the journal is on.
func (e *Engine) journalWipe(ctx context.Context, t *tenant, tx dialect.Tx, table string) error {
	if !t.journalOn() {
		return nil
	}
	b := &dialect.JournalBatch{Table: table, At: e.now()}
	b.Add(dialect.JournalWipe, nil)
	if _, err := tx.Rows().Journal(ctx, b); err != nil {
		return fmt.Errorf("table %q: %w", table, err)
	}
	e.metrics.journalEntries.Add(1)
	return nil
}

// emptying runs op, which empties table (a truncate, a drop, a recreate), and journals its W: after
// op where op rolls back with the transaction (transactional), so that the tenant's journal lock is
// taken last and never held while op waits for the table (a partner's long query on it, say);
// before op where op commits by itself, so that the W commits no later than the rows go.
func (e *Engine) emptying(ctx context.Context, t *tenant, tx dialect.Tx, table string, transactional bool, op func() error) error {
	if !transactional {
		if err := e.journalWipe(ctx, t, tx, table); err != nil {
			return err
		}
	}
	if err := op(); err != nil {
		return err
	}
	if transactional {
		return e.journalWipe(ctx, t, tx, table)
	}
	return nil
}

// writeJournal appends a batch's captured changes to the journal, last in its transaction.
func (e *Engine) writeJournal(ctx context.Context, tx dialect.Tx, j *dialect.JournalBatch, table string, lsn int64) error {
	if j == nil || j.Len() == 0 {
		return nil
	}
	j.Table, j.LSN, j.At = table, max(lsn, 0), e.now()
	if _, err := tx.Rows().Journal(ctx, j); err != nil {
		return fmt.Errorf("table %q: %w", table, err)
	}
	e.metrics.journalEntries.Add(int64(j.Len()))
	return nil
}

// pruneJournal applies the route's retention after a cycle. A failure is logged, not returned: the
// cycle is recorded either way, and the next cycle prunes again.
func (e *Engine) pruneJournal(ctx context.Context, t *tenant) {
	keep := t.route.JournalKeep
	if !t.journalOn() || keep.IsZero() {
		return
	}
	var n int64
	err := e.metaTx(ctx, t, func(ctx context.Context, tx dialect.Tx) error {
		var err error
		n, err = tx.Meta().PruneJournal(ctx, keep, e.now())
		return err
	})
	if err != nil {
		e.log.Warn("pruning the change journal failed; the next cycle tries again", "tenant", t.name, "err", err)
		return
	}
	if n > 0 {
		e.metrics.journalPruned.Add(n)
		e.log.Debug("pruned the change journal", "tenant", t.name, "entries", n)
	}
}

// journalKeys is what an applier needs to journal keys: each key column's type and decoder, and the
// target's losses, which make the key read as the mirror stores it.
type journalKeys struct {
	batch    *dialect.JournalBatch
	types    []typemap.Type
	decoders []typemap.Decoder
	vals     []any
}

// newJournalKeys prepares the capture of t's keys into b.
func newJournalKeys(b *dialect.JournalBatch, t dialect.Table) *journalKeys {
	k := &journalKeys{batch: b, types: make([]typemap.Type, len(t.Key)), decoders: make([]typemap.Decoder, len(t.Key)),
		vals: make([]any, len(t.Key))}
	for i, c := range t.Key {
		k.types[i] = t.Columns[c].Type
		k.decoders[i] = typemap.DecoderFor(k.types[i])
	}
	return k
}

// journalOp is the journal's operation of a wire operation; it runs for every journaled row, so it is a
// switch rather than a map lookup.
func journalOp(op contract.Operation) dialect.JournalOp {
	switch op {
	case contract.Delete:
		return dialect.JournalDelete
	case contract.Update:
		return dialect.JournalUpdate
	default:
		return dialect.JournalInsert
	}
}

// capture journals the source's current row: its operation and its key, decoded from the wire text
// as Values decodes it. A key that does not decode fails as Values would fail the row.
func (s *rowSource) capture() error {
	k := s.a.journal
	row := s.a.rows.Row()
	t := s.a.table
	keyOnly := keyOnlyRow(row, t)
	for i, c := range t.Key {
		pos := c
		if keyOnly {
			pos = i
		}
		if pos >= len(row.Values) {
			return s.rowError("", fmt.Sprintf("has %d values, the table has %d columns", len(row.Values), len(t.Columns)), nil)
		}
		v := row.Values[pos]
		if v.Null {
			k.vals[i] = nil
			continue
		}
		x, err := k.decoders[i](v.Text)
		if err != nil {
			return s.rowError(t.Columns[c].Name, err.Error(), v.Text)
		}
		k.vals[i] = x
	}
	return k.batch.AddKey(journalOp(row.Op), k.types, k.vals, s.a.losses)
}

package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// journalChange is one change of a journal batch in a test.
type journalChange struct {
	op  dialect.JournalOp
	key string // JSON text; "" for a wipe
}

// journal appends a batch to the tenant's journal in tx and returns the first sequence number.
func (h *harness) journal(tx dialect.Tx, table string, lsn int64, at time.Time, changes ...journalChange) (int64, error) {
	b := &dialect.JournalBatch{Table: table, LSN: lsn, At: at}
	for _, c := range changes {
		var key []byte
		if c.key != "" {
			key = []byte(c.key)
		}
		b.Add(c.op, key)
	}
	return tx.Rows().Journal(h.ctx, b)
}

// appendAt appends a batch in a transaction of its own and fails the test unless its first entry is
// numbered first.
func (h *harness) appendAt(first int64, table string, lsn int64, at time.Time, changes ...journalChange) {
	h.t.Helper()
	h.do(func(tx dialect.Tx) error {
		seq, err := h.journal(tx, table, lsn, at, changes...)
		if err == nil && seq != first {
			err = fmt.Errorf("the batch's first entry is numbered %d, want %d", seq, first)
		}
		return err
	})
}

// readJournal returns the tenant's journal entries after a sequence number.
func (h *harness) readJournal(after int64) []dialect.JournalEntry {
	h.t.Helper()
	var out []dialect.JournalEntry
	h.do(func(tx dialect.Tx) error {
		return tx.Meta().ReadJournal(h.ctx, after, 0, func(e dialect.JournalEntry) error {
			out = append(out, e)
			return nil
		})
	})
	return out
}

// SameJSON reports whether two JSON texts hold the same value: PostgreSQL's jsonb and MySQL's JSON
// give a key back in their own spacing. Numbers compare as their text, so that no integer is rounded.
func SameJSON(a, b string) bool {
	decode := func(s string) (any, error) {
		d := json.NewDecoder(bytes.NewReader([]byte(s)))
		d.UseNumber()
		var v any
		err := d.Decode(&v)
		return v, err
	}
	va, errA := decode(a)
	vb, errB := decode(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

// checkJournal compares entries with the changes expected, numbered on from first.
func checkJournal(got []dialect.JournalEntry, first int64, table string, lsn, cycle int64, at time.Time, want ...journalChange) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d journal entries, want %d: %+v", len(got), len(want), got)
	}
	for i, e := range got {
		w := want[i]
		switch {
		case e.Seq != first+int64(i):
			return fmt.Errorf("entry %d: seq %d, want %d", i, e.Seq, first+int64(i))
		case e.Table != table || e.Op != w.op || e.LSN != lsn || e.AfterCycle != cycle:
			return fmt.Errorf("entry %d: %+v, want table %q, op %c, lsn %d, after cycle %d", i, e, table, w.op, lsn, cycle)
		case w.key == "" && e.Key != "":
			return fmt.Errorf("entry %d: a wipe's key is %q, want NULL", i, e.Key)
		case w.key != "" && !SameJSON(e.Key, w.key):
			return fmt.Errorf("entry %d: key %s, want %s", i, e.Key, w.key)
		case !e.At.Equal(at):
			return fmt.Errorf("entry %d: applied at %s, want %s", i, e.At, at)
		}
	}
	return nil
}

// testJournal appends to the change journal and reads it back: every field, the cycle's id, NULL LSN
// and key, numbers that a rollback gives back, retention by count and by age, and a counter row
// deleted by hand.
func testJournal(t *testing.T, h *harness) {
	if got := h.readJournal(0); len(got) != 0 {
		t.Fatalf("a new mirror's journal: %+v", got)
	}
	at := time.Date(2026, 5, 18, 10, 40, 43, 123456000, time.UTC)
	first := []journalChange{
		{dialect.JournalInsert, `[1]`},
		{dialect.JournalUpdate, `[2]`},
		{dialect.JournalDelete, `[3]`},
		// Text that JSON escapes, and a composite key.
		{dialect.JournalInsert, `["tab\there \"quoted\" back\\slash ü ☃",7]`},
		{dialect.JournalWipe, ""},
	}
	h.appendAt(1, "contact", 0, at, first...)
	if err := checkJournal(h.readJournal(0), 1, "contact", 0, 0, at, first...); err != nil {
		t.Fatal(err)
	}
	// A cycle recorded: later entries carry its id. A rolled-back append gives its numbers back.
	h.do(func(tx dialect.Tx) error {
		return tx.Meta().RecordCycle(h.ctx, dialect.Cycle{ID: 77, Completed: at, Summary: "[]"})
	})
	err := h.try(func(tx dialect.Tx) error {
		if _, err := h.journal(tx, "person", 9, at, journalChange{dialect.JournalInsert, `[100]`}); err != nil {
			return err
		}
		return errors.New("give up")
	})
	if err == nil || err.Error() != "give up" {
		t.Fatalf("the rolled-back append: %v", err)
	}
	later := at.Add(48 * time.Hour)
	second := []journalChange{{dialect.JournalInsert, `[100]`}, {dialect.JournalDelete, `[101]`}}
	h.appendAt(6, "person", 9, later, second...) // the rolled-back numbers are given again
	if err := checkJournal(h.readJournal(5), 6, "person", 9, 77, later, second...); err != nil {
		t.Fatal(err)
	}
	// At most limit entries are read.
	var n int
	h.do(func(tx dialect.Tx) error {
		return tx.Meta().ReadJournal(h.ctx, 0, 3, func(dialect.JournalEntry) error { n++; return nil })
	})
	if n != 3 {
		t.Fatalf("ReadJournal with limit 3 read %d entries", n)
	}

	// Retention by count keeps the newest; by age, what was applied since the cut.
	prune := func(r dialect.JournalRetention, now time.Time) int64 {
		t.Helper()
		var n int64
		h.do(func(tx dialect.Tx) error {
			var err error
			n, err = tx.Meta().PruneJournal(h.ctx, r, now)
			return err
		})
		return n
	}
	if n := prune(dialect.JournalRetention{MaxEntries: 6}, later); n != 1 {
		t.Fatalf("pruning to 6 of 7 entries deleted %d", n)
	}
	if got := h.readJournal(0); len(got) != 6 || got[0].Seq != 2 {
		t.Fatalf("after pruning to 6 entries: %+v", got)
	}
	if n := prune(dialect.JournalRetention{MaxAge: 24 * time.Hour}, later.Add(time.Hour)); n != 4 {
		t.Fatalf("pruning what is older than a day deleted %d entries, want the 4 of two days ago", n)
	}
	if got := h.readJournal(0); len(got) != 2 || got[0].Seq != 6 {
		t.Fatalf("after pruning by age: %+v", got)
	}
	if n := prune(dialect.JournalRetention{MaxEntries: 10, MaxAge: 24 * time.Hour}, later.Add(time.Hour)); n != 0 {
		t.Fatalf("pruning within the retention deleted %d entries", n)
	}

	// The counter row deleted by hand: appends fail as a missing table does, and the migration puts
	// the row back, numbering on from the journal's highest entry.
	names := dialect.MetaTables(h.tenant)
	counter, err := h.store.Names().Table(names.ChangesSeq)
	if err != nil {
		t.Fatal(err)
	}
	h.do(func(tx dialect.Tx) error { return tx.RunStatement(h.ctx, "DELETE FROM "+counter) })
	err = h.try(func(tx dialect.Tx) error {
		_, err := h.journal(tx, "person", 0, later, journalChange{dialect.JournalWipe, ""})
		return err
	})
	if !errors.Is(err, dialect.ErrMissing) {
		t.Fatalf("an append without the counter row: %v, want dialect.ErrMissing", err)
	}
	h.do(func(tx dialect.Tx) error { return tx.Meta().Migrate(h.ctx, time.Now()) })
	h.appendAt(8, "person", 0, later, journalChange{dialect.JournalWipe, ""})
}

// testJournalAtomic checks that journal entries commit with the rows of their transaction or not at
// all: a transaction that fails after its rows and its entries were written leaves neither.
func testJournalAtomic(t *testing.T, h *harness) {
	tbl := h.table("journaled", simple())
	h.create(tbl)
	rows := h.values(tbl, nil, simpleRows(1, 3, "a")...)
	err := h.try(func(tx dialect.Tx) error {
		if _, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows)); err != nil {
			return err
		}
		if _, err := h.journal(tx, "journaled", 5, time.Now(), journalChange{dialect.JournalInsert, `[1]`},
			journalChange{dialect.JournalInsert, `[2]`}, journalChange{dialect.JournalInsert, `[3]`}); err != nil {
			return err
		}
		// A batch that meets a key it already holds fails, and its transaction rolls back.
		_, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows[:1]))
		if !errors.Is(err, dialect.ErrDuplicateKey) {
			return fmt.Errorf("a duplicate key: %v", err)
		}
		return err
	})
	if !errors.Is(err, dialect.ErrDuplicateKey) {
		t.Fatal(err)
	}
	if got := h.readJournal(0); len(got) != 0 {
		t.Fatalf("a rolled-back transaction left journal entries: %+v", got)
	}
	h.expect(tbl, nil)
}

// testJournalOrder races writers, each inserting rows and journaling them in transactions that linger
// after they journaled (while others wait), against a reader that reads the journal in fresh
// transactions: the reader must see the sequence without a gap (a lower number never commits after a
// higher one was seen) and every journaled row in the table.
func testJournalOrder(t *testing.T, h *harness) {
	tbl := h.table("raced", simple())
	h.create(tbl)
	const writers, each = 4, 12
	rows := map[int][][]any{}
	for w := range writers {
		for k := range each {
			rows[w*1000+k] = h.values(tbl, nil, simpleRow(w*1000+k, "raced"))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	done := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for k := range each {
				id := w*1000 + k
				err := h.try(func(tx dialect.Tx) error {
					if _, err := tx.Rows().Insert(h.ctx, tbl, newSource(rows[id])); err != nil {
						return err
					}
					if _, err := h.journal(tx, "raced", 0, time.Now(), journalChange{dialect.JournalInsert, fmt.Sprintf("[%d]", id)}); err != nil {
						return err
					}
					time.Sleep(time.Duration(r.IntN(4000)) * time.Microsecond)
					return nil
				})
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		}()
	}
	var last int64
	reads := 0
	read := func() error {
		reads++
		return h.try(func(tx dialect.Tx) error {
			err := tx.Meta().ReadJournal(h.ctx, last, 0, func(e dialect.JournalEntry) error {
				if e.Seq != last+1 {
					return fmt.Errorf("read %d after %d: an entry below it was missed, or commits later", e.Seq, last)
				}
				last = e.Seq
				return nil
			})
			if err != nil {
				return err
			}
			n, err := tx.Tables().Count(h.ctx, tbl.Name)
			if err == nil && n < last {
				err = fmt.Errorf("the journal holds %d entries, but the table only %d rows: an entry is visible before its row", last, n)
			}
			return err
		})
	}
	var writing atomic.Bool
	writing.Store(true)
	go func() {
		defer close(done)
		// Until the writers are done, and once more after that.
		for more := true; more && h.ctx.Err() == nil; {
			more = writing.Load()
			if err := read(); err != nil {
				errs <- fmt.Errorf("reader: %w", err)
				return
			}
		}
	}()
	wg.Wait()
	writing.Store(false)
	<-done
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if last != writers*each {
		t.Fatalf("the reader saw %d entries of %d", last, writers*each)
	}
	t.Logf("%d writers, %d transactions each; the reader read the journal %d times", writers, each, reads)
}

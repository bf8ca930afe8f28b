package simulator

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// JournalError says how a mirror's change journal differs from what its source did.
type JournalError struct {
	Table  string
	Detail string
}

func (e *JournalError) Error() string {
	if e.Table == "" {
		return "verify journal: " + e.Detail
	}
	return fmt.Sprintf("verify journal: table %s: %s", e.Table, e.Detail)
}

// JournalMark is where a cycle's journal begins: the journal's last sequence number before the cycle.
type JournalMark struct{ Seq int64 }

// Mark returns the journal's last sequence number now, for VerifyJournal after the next cycle.
func (m Mirror) Mark(ctx context.Context) (JournalMark, error) {
	st, err := m.Open(ctx)
	if err != nil {
		return JournalMark{}, err
	}
	defer st.Close()
	entries, err := readJournal(ctx, st, 0)
	if errors.Is(err, dialect.ErrMissing) {
		return JournalMark{}, nil // a mirror not made yet: its journal begins at 1
	}
	if err != nil || len(entries) == 0 {
		return JournalMark{}, err
	}
	return JournalMark{Seq: entries[len(entries)-1].Seq}, nil
}

// VerifyJournal checks the mirror's change journal (see VerifyJournal).
func (m Mirror) VerifyJournal(ctx context.Context, src *Source, since *JournalMark, res *CycleResult) error {
	st, err := m.Open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return VerifyJournal(ctx, src, m.Dialect, st, since, res)
}

// VerifyJournal checks the change journal of the mirror in store (a route with journal: true that
// nothing has pruned) against src, which the mirror must equal (Verify):
//
//   - its sequence numbers run 1, 2, 3, … without a gap;
//   - folded from the start, table by table (a W empties the table, an I or U adds the key, a D
//     removes it), it holds exactly the keys of each source table, and none of a table the source no
//     longer has: every change that reached the mirror is in the journal, and nothing else;
//   - with since and res (a mark taken before a cycle, and the cycle's result, in a run without
//     faults), the entries after the mark are exactly the cycle's changes: for a table sent whole, W
//     and then an I for each of its rows; for a table sent incrementally, one entry for each key the
//     source changed since the mirror's LSN, I for a row created since, U for one changed, D for one
//     deleted; for a table not sent, none.
//
// Keys are compared as JSON values, the source's encoded as the engine encodes them
// (dialect.AppendJournalKey), with the dialect's losses.
func VerifyJournal(ctx context.Context, src *Source, dialectName string, store dialect.Store, since *JournalMark, res *CycleResult) error {
	d, err := dialect.Lookup(dialectName)
	if err != nil {
		return err
	}
	losses := d.Capabilities().Losses()
	entries, err := readJournal(ctx, store, 0)
	if err != nil {
		return err
	}
	folded := map[string]map[string]bool{}
	for i, e := range entries {
		if e.Seq != int64(i)+1 {
			return &JournalError{Detail: fmt.Sprintf("entry %d has seq %d: a gap, or a pruned journal", i+1, e.Seq)}
		}
		keys := folded[e.Table]
		if keys == nil || e.Op == dialect.JournalWipe {
			keys = map[string]bool{}
			folded[e.Table] = keys
		}
		if e.Op == dialect.JournalWipe {
			continue
		}
		k, err := normalJSON(e.Key)
		if err != nil {
			return &JournalError{Table: e.Table, Detail: fmt.Sprintf("entry %d: key %q: %v", e.Seq, e.Key, err)}
		}
		switch e.Op {
		case dialect.JournalInsert, dialect.JournalUpdate:
			keys[k] = true
		case dialect.JournalDelete:
			delete(keys, k)
		default:
			return &JournalError{Table: e.Table, Detail: fmt.Sprintf("entry %d: operation %q", e.Seq, e.Op)}
		}
	}
	tables, err := src.Tables(ctx)
	if err != nil {
		return err
	}
	sourceKeys := map[string]map[string]bool{}
	for _, t := range tables {
		keys, err := src.journalKeys(ctx, t, losses)
		if err != nil {
			return err
		}
		sourceKeys[t.Name] = keys
		if err := sameKeys(t.Name, folded[t.Name], keys, "the journal folded", "the source"); err != nil {
			return err
		}
	}
	for name, keys := range folded {
		if _, ok := sourceKeys[name]; !ok && len(keys) > 0 {
			return &JournalError{Table: name, Detail: fmt.Sprintf("the source has no such table, but the journal folds to %d keys of it", len(keys))}
		}
	}
	if since == nil || res == nil {
		return nil
	}
	return verifyCycle(ctx, src, tables, sourceKeys, entries[min(int(since.Seq), len(entries)):], res, losses)
}

// verifyCycle compares one cycle's entries with what the cycle sent (see VerifyJournal).
func verifyCycle(ctx context.Context, src *Source, tables []Table, sourceKeys map[string]map[string]bool,
	entries []dialect.JournalEntry, res *CycleResult, losses canon.Losses) error {
	byTable := map[string][]dialect.JournalEntry{}
	for _, e := range entries {
		byTable[e.Table] = append(byTable[e.Table], e)
	}
	sent := map[string]TableResult{}
	for _, tr := range res.Tables {
		sent[tr.Table] = tr
	}
	for _, t := range tables {
		tr, got := sent[t.Name], byTable[t.Name]
		delete(byTable, t.Name)
		switch {
		case tr.Full:
			// W first (a table created, recreated or wiped; one entry each), then the rows.
			rows := map[string]bool{}
			for i, e := range got {
				if e.Op == dialect.JournalWipe {
					if len(rows) > 0 {
						return &JournalError{Table: t.Name, Detail: fmt.Sprintf("entry %d: a W after the repopulation's rows", e.Seq)}
					}
					continue
				}
				if i == 0 {
					return &JournalError{Table: t.Name, Detail: "sent whole, but its entries do not begin with W"}
				}
				if e.Op != dialect.JournalInsert {
					return &JournalError{Table: t.Name, Detail: fmt.Sprintf("entry %d: %c in a repopulation, want I", e.Seq, e.Op)}
				}
				k, err := normalJSON(e.Key)
				if err != nil {
					return &JournalError{Table: t.Name, Detail: err.Error()}
				}
				rows[k] = true
			}
			if len(got) == 0 {
				return &JournalError{Table: t.Name, Detail: "sent whole, but nothing was journaled"}
			}
			if err := sameKeys(t.Name, rows, sourceKeys[t.Name], "the repopulation's journal", "the source"); err != nil {
				return err
			}
		case tr.LSN > 0:
			want, err := src.changedKeys(ctx, t, tr.MirrorLSN, tr.LSN, losses)
			if err != nil {
				return err
			}
			have := map[string]dialect.JournalOp{}
			for _, e := range got {
				k, err := normalJSON(e.Key)
				if err != nil || e.Op == dialect.JournalWipe {
					return &JournalError{Table: t.Name, Detail: fmt.Sprintf("entry %d: %c %s in an incremental cycle", e.Seq, e.Op, e.Key)}
				}
				if _, dup := have[k]; dup {
					return &JournalError{Table: t.Name, Detail: fmt.Sprintf("entry %d: key %s journaled twice in one cycle", e.Seq, k)}
				}
				have[k] = e.Op
			}
			if err := sameOps(t.Name, have, want); err != nil {
				return err
			}
		case len(got) > 0:
			return &JournalError{Table: t.Name, Detail: fmt.Sprintf("nothing was sent, but %d entries were journaled", len(got))}
		}
	}
	// Tables the source dropped: one W each, nothing else.
	for name, got := range byTable {
		for _, e := range got {
			if e.Op != dialect.JournalWipe {
				return &JournalError{Table: name, Detail: fmt.Sprintf("entry %d: %c of a table the source no longer has", e.Seq, e.Op)}
			}
		}
	}
	return nil
}

// readJournal reads every entry of the tenant's journal after a sequence number.
func readJournal(ctx context.Context, store dialect.Store, after int64) ([]dialect.JournalEntry, error) {
	tx, err := store.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify journal: %w", err)
	}
	defer tx.Rollback(ctx)
	var out []dialect.JournalEntry
	err = tx.Meta().ReadJournal(ctx, after, 0, func(e dialect.JournalEntry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify journal: %w", err)
	}
	return out, nil
}

// journalKeys returns the journal's keys (normalJSON) of the source table's rows.
func (s *Source) journalKeys(ctx context.Context, t Table, l canon.Losses) (map[string]bool, error) {
	out := map[string]bool{}
	err := s.eachKey(ctx, t, l, "", nil, func(key string, _ dialect.JournalOp) { out[key] = true })
	return out, err
}

// changedKeys returns the operation the source sends for each key of t changed in (from, to]: as the
// Cursor decides it.
func (s *Source) changedKeys(ctx context.Context, t Table, from, to int64, l canon.Losses) (map[string]dialect.JournalOp, error) {
	out := map[string]dialect.JournalOp{}
	err := s.eachKey(ctx, t, l, `"tbl" = ? AND "lsn" > ? AND "lsn" <= ?`, []any{t.Name, from, to}, func(key string, op dialect.JournalOp) {
		out[key] = op
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachKey calls fn with each key (normalJSON) of t's rows, or, with where, of the changes of
// _sim_changes that it selects (args: the table, then the LSN the mirror had, then any others), with
// the operation the Cursor sends a change as (I for rows).
func (s *Source) eachKey(ctx context.Context, t Table, l canon.Losses, where string, args []any, fn func(string, dialect.JournalOp)) error {
	types, err := t.types()
	if err != nil {
		return err
	}
	keyTypes := types[:1]
	dec := typemap.DecoderFor(keyTypes[0])
	q := `SELECT ` + quoteIdent(t.Columns[0].Name) + `, 'I' FROM ` + quoteIdent(t.Name)
	if where != "" {
		q = `SELECT "key", CASE WHEN "deleted" = 1 THEN 'D' WHEN "created" > ? THEN 'I' ELSE 'U' END FROM "_sim_changes" WHERE ` + where
		args = append([]any{args[1]}, args...)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("verify journal: read source %s: %w", t.Name, err)
	}
	defer rows.Close()
	var (
		raw sql.NullString
		op  string
		buf []byte
	)
	for rows.Next() {
		if err := rows.Scan(&raw, &op); err != nil {
			return fmt.Errorf("verify journal: read source %s: %w", t.Name, err)
		}
		var v any
		if raw.Valid {
			if v, err = dec([]byte(raw.String)); err != nil {
				return fmt.Errorf("verify journal: source key %s %q: %w", t.Name, raw.String, err)
			}
		}
		if buf, err = dialect.AppendJournalKey(buf[:0], keyTypes, []any{v}, l); err != nil {
			return err
		}
		k, err := normalJSON(string(buf))
		if err != nil {
			return err
		}
		fn(k, dialect.JournalOp(op[0]))
	}
	return rows.Err()
}

// normalJSON rewrites JSON text in one spacing, numbers kept as their text, so that keys that
// PostgreSQL's jsonb or MySQL's JSON gave back compare with the engine's.
func normalJSON(s string) (string, error) {
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	return string(out), err
}

// sameKeys compares two sets of keys, naming a few differences.
func sameKeys(table string, got, want map[string]bool, gotName, wantName string) error {
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra) == 0 {
		return nil
	}
	return &JournalError{Table: table, Detail: fmt.Sprintf("%s has %d keys, %s %d: missing %s, extra %s",
		gotName, len(got), wantName, len(want), few(missing), few(extra))}
}

// sameOps compares the journaled operation of each key with the one the source sent.
func sameOps(table string, got, want map[string]dialect.JournalOp) error {
	var diffs []string
	for k, op := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %c not journaled", k, op))
		} else if g != op {
			diffs = append(diffs, fmt.Sprintf("%s journaled %c, sent %c", k, g, op))
		}
	}
	for k, op := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s journaled %c, not changed at the source", k, op))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return &JournalError{Table: table, Detail: fmt.Sprintf("%d of the cycle's changes differ: %s", len(diffs), few(diffs))}
}

// few lists at most five items, sorted.
func few(items []string) string {
	sort.Strings(items)
	if len(items) > 5 {
		return strings.Join(items[:5], ", ") + fmt.Sprintf(" … (%d)", len(items))
	}
	return "[" + strings.Join(items, ", ") + "]"
}

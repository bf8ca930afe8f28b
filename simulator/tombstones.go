package simulator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// Tombstones follows a source from cycle to cycle, to verify what a mirror with soft deletes and the
// mirrored-at column holds besides the source's rows (which Verify compares): every key the source
// deleted after a cycle had mirrored it stays in the mirror, marked deleted, with the values it had at
// the last cycle that sent it (a row changed and then deleted between two cycles reaches the mirror as
// a delete only); a key inserted again is live again; and the mirrored-at column moves exactly for the
// rows a cycle sent. Call Record after every cycle, then Verify.
type Tombstones struct {
	losses canon.Losses
	// lsn is the source's LSN at the last Record.
	lsn int64
	// live and dead hold, by table and key (canonical text), the rows the source had at the last
	// Record and those the mirror must keep as deleted.
	live, dead map[string]map[string][]string
	// sent holds, by table, the keys of the rows the last cycle wrote; full the tables it sent whole.
	sent map[string]map[string]bool
	full map[string]bool
	// tables are the source's tables at the last Record.
	tables []Table
}

// NewTombstones starts following a source mirrored into a database of the named dialect (whose
// documented losses apply to the values compared); the first Record takes the state after the first
// cycle.
func NewTombstones(dialectName string) (*Tombstones, error) {
	d, err := dialect.Lookup(dialectName)
	if err != nil {
		return nil, err
	}
	return &Tombstones{losses: d.Capabilities().Losses(), live: map[string]map[string][]string{},
		dead: map[string]map[string][]string{}}, nil
}

// Record takes the source's state after a cycle whose result is res: the rows gone since the last
// Record become tombstones with their values then, keys back in the source leave the tombstones, and
// a table the cycle sent whole (wiped and repopulated) keeps none.
func (h *Tombstones) Record(ctx context.Context, src *Source, res CycleResult) error {
	tables, err := src.Tables(ctx)
	if err != nil {
		return err
	}
	lsn, err := src.LSN(ctx)
	if err != nil {
		return err
	}
	h.sent, h.full = map[string]map[string]bool{}, map[string]bool{}
	for _, tr := range res.Tables {
		h.full[tr.Table] = tr.Full
	}
	live := map[string]map[string][]string{}
	for _, t := range tables {
		types, err := t.types()
		if err != nil {
			return err
		}
		rows := map[string][]string{}
		if _, err := sourceSums(ctx, src, t, types, h.losses, rows); err != nil {
			return err
		}
		live[t.Name] = rows
		sent, err := h.changedKeys(ctx, src, t.Name, types[0])
		if err != nil {
			return err
		}
		for key := range sent {
			// A key live neither before nor after the cycle was sent as a delete that writes nothing:
			// of a row the mirror never had, or of one it keeps as deleted already (its first time stays).
			_, was := h.live[t.Name][key]
			if _, is := rows[key]; !was && !is {
				delete(sent, key)
			}
		}
		h.sent[t.Name] = sent
		dead := h.dead[t.Name]
		if dead == nil || h.full[t.Name] {
			dead = map[string][]string{}
		}
		for key, texts := range h.live[t.Name] {
			if _, ok := rows[key]; !ok && !h.full[t.Name] {
				dead[key] = texts
			}
		}
		for key := range rows {
			delete(dead, key)
		}
		h.dead[t.Name] = dead
	}
	h.live, h.lsn, h.tables = live, lsn, tables
	return nil
}

// changedKeys returns the keys (canonical text) of table that changed after the LSN of the last
// Record: what the cycle since then sent.
func (h *Tombstones) changedKeys(ctx context.Context, src *Source, table string, keyType typemap.Type) (map[string]bool, error) {
	rows, err := src.db.QueryContext(ctx, `SELECT "key" FROM "_sim_changes" WHERE "tbl" = ? AND "lsn" > ?`, table, h.lsn)
	if err != nil {
		return nil, fmt.Errorf("tombstones: changes of %s: %w", table, err)
	}
	defer rows.Close()
	dec := typemap.DecoderFor(keyType)
	out := map[string]bool{}
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			return nil, fmt.Errorf("tombstones: changes of %s: %w", table, err)
		}
		v, err := dec([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("tombstones: changes of %s: key %q: %w", table, text, err)
		}
		key, err := canon.Value(keyType, v, h.losses)
		if err != nil {
			return nil, err
		}
		out[key] = true
	}
	return out, rows.Err()
}

// Count returns how many rows the mirror must keep as deleted now, over every table.
func (h *Tombstones) Count() int {
	n := 0
	for _, dead := range h.dead {
		n += len(dead)
	}
	return n
}

// Verify checks the mirror in store against the last Record, for each table whose columns (the
// route's AddedColumns) it has: the rows marked deleted are exactly the tombstones, each with its
// values; and the mirrored-at column holds a time within [since, until] for every row the last cycle
// sent (a table it sent whole: every row), and an earlier time (or NULL, for a row written before the
// column was added) for every other row. since is taken before the cycle, until after it.
func (h *Tombstones) Verify(ctx context.Context, store dialect.Store, columns func(table string) (deletedAt, mirroredAt string), since, until time.Time) error {
	since, until = dialect.AddedTime(since), dialect.AddedTime(until)
	places := storedIn(ctx, store)
	for _, t := range h.tables {
		deletedAt, mirroredAt := columns(t.Name)
		if deletedAt == "" && mirroredAt == "" {
			continue
		}
		if err := h.verifyTable(ctx, store, t, places[t.Name], deletedAt, mirroredAt, since, until); err != nil {
			return err
		}
	}
	return nil
}

// verifyTable checks one table (see Verify).
func (h *Tombstones) verifyTable(ctx context.Context, store dialect.Store, t Table, place, deletedAt, mirroredAt string, since, until time.Time) error {
	name := t.Name
	types, err := t.types()
	if err != nil {
		return err
	}
	m := mirrorTable{store: store, t: t, place: place, types: types, losses: h.losses}
	var added []string
	for _, c := range []string{deletedAt, mirroredAt} {
		if c != "" {
			added = append(added, c)
		}
	}
	dead, marked := h.dead[name], 0
	return wrapTable(name, m.read(ctx, added, func(texts []string, vals []any) error {
		key := texts[0]
		if deletedAt != "" {
			deleted := vals[0]
			want, isDead := dead[key]
			switch {
			case deleted != nil && !isDead:
				return fmt.Errorf("key %s is marked deleted, but the source has it or never sent it", key)
			case deleted == nil && isDead:
				return fmt.Errorf("key %s, deleted at the source, is live in the mirror", key)
			case deleted != nil:
				marked++
				if strings.Join(texts, "\x00") != strings.Join(want, "\x00") {
					return fmt.Errorf("key %s is kept as deleted with values %v, want its last values %v", key, texts, want)
				}
			}
		}
		if mirroredAt == "" {
			return nil
		}
		v := vals[len(vals)-1]
		at, _ := v.(time.Time)
		if h.full[name] || h.sent[name][key] {
			if v == nil || at.Before(since) || at.After(until) {
				return fmt.Errorf("key %s was sent by the last cycle, but its %s is %v, not within [%s, %s]", key, mirroredAt, v, since, until)
			}
		} else if v != nil && !at.Before(since) {
			return fmt.Errorf("key %s was not sent by the last cycle, but its %s is %s, not before %s", key, mirroredAt, at, since)
		}
		return nil
	}), func() error {
		if deletedAt != "" && marked != len(dead) {
			return fmt.Errorf("%d rows are marked deleted, want %d", marked, len(dead))
		}
		return nil
	})
}

// wrapTable names the table in an error of its check, running then only when there was none.
func wrapTable(table string, err error, then func() error) error {
	if err == nil {
		err = then()
	}
	if err != nil {
		return fmt.Errorf("tombstones: table %s: %w", table, err)
	}
	return nil
}

package dialect

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// The change journal (docs/ANALYTICS.md, "Change journal") is one of mirrorsink's own tables,
// MetaTableNames.Changes: one row per applied change of a mirrored row, written by RowWriter.Journal
// in the transaction that applies the change, so that it commits with the rows or not at all. Its
// sequence numbers come from a counter row (MetaTableNames.ChangesSeq) that Journal updates first:
// the row's lock, held until the transaction ends, serialises the tenant's journaling transactions,
// so that they commit in the order of their sequence numbers. A reader that sees a sequence number
// therefore sees every lower one, and a rolled-back transaction gives its numbers back (no gaps but
// those that pruning makes).

// JournalOp is what one journal entry says happened to its table.
type JournalOp byte

// The operations of the journal.
const (
	// JournalInsert, JournalUpdate and JournalDelete are a row's I, U and D as the source sent them
	// (an I or U is an upsert in the mirror either way).
	JournalInsert JournalOp = 'I'
	JournalUpdate JournalOp = 'U'
	JournalDelete JournalOp = 'D'
	// JournalWipe says that every row of the table went at once: a Wipe, a table created, recreated
	// or dropped (or, in the fan-in layout, the tenant's rows of a shared table removed). Its key is
	// NULL. A consumer drops what it holds of the table and reads it again.
	JournalWipe JournalOp = 'W'
)

// JournalColumns are the journal's columns in the order RowWriter.Journal writes them; in the fan-in
// layout a "tenant" column comes first. Every dialect's migration creates them under these names.
var JournalColumns = []string{"seq", "tablename", "rowkey", "op", "lsn", "aftercycle", "appliedat"}

// JournalBatch is what one transaction appends to the journal: changes of one table, in the order
// they were applied. Keys are kept in one buffer, so that a batch of thousands of rows costs a few
// allocations rather than one per row.
type JournalBatch struct {
	// Table is the source's name of the table.
	Table string
	// LSN is the batch's LSN, stored with each entry; 0 when the batch carries none (stored as NULL).
	LSN int64
	// At is when the engine applied the batch (UTC).
	At time.Time

	ops  []JournalOp
	keys []byte
	ends []int
}

// Add appends a change; key is its JSON text (AppendJournalKey), nil for JournalWipe.
func (b *JournalBatch) Add(op JournalOp, key []byte) {
	b.ops = append(b.ops, op)
	b.keys = append(b.keys, key...)
	b.ends = append(b.ends, len(b.keys))
}

// AddKey appends a change whose key AppendJournalKey encodes from its values straight into the
// batch's buffer, without a copy. On an error the batch is as it was.
func (b *JournalBatch) AddKey(op JournalOp, types []typemap.Type, vals []any, l canon.Losses) error {
	keys, err := AppendJournalKey(b.keys, types, vals, l)
	if err != nil {
		return err // b.keys keeps its length: the partial key is past it
	}
	b.keys = keys
	b.ops = append(b.ops, op)
	b.ends = append(b.ends, len(b.keys))
	return nil
}

// Len is the number of changes.
func (b *JournalBatch) Len() int { return len(b.ops) }

// Reset forgets the changes, keeping the buffers, for a batch whose load failed and is applied again.
func (b *JournalBatch) Reset() {
	b.ops, b.keys, b.ends = b.ops[:0], b.keys[:0], b.ends[:0]
}

// Change returns change i: its operation and its key's JSON text, nil for JournalWipe (NULL). The
// key is valid until the batch changes.
func (b *JournalBatch) Change(i int) (JournalOp, []byte) {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	if start == b.ends[i] {
		return b.ops[i], nil
	}
	return b.ops[i], b.keys[start:b.ends[i]]
}

// JournalEntry is one entry of the journal as it is read back.
type JournalEntry struct {
	// Seq orders the tenant's entries: 1, 2, 3, … in commit order, without gaps but pruned ones.
	Seq int64
	// Table is the source's name of the table.
	Table string
	// Key is the row's key as JSON text (AppendJournalKey; as the database returns it, so that
	// PostgreSQL's and MySQL's JSON types may space it differently); "" for JournalWipe.
	Key string
	Op  JournalOp
	// LSN is the batch's LSN, 0 when it had none.
	LSN int64
	// AfterCycle is the id of the newest cycle in the cycles table when the change was applied, 0
	// before the first: the change belongs to the cycle after it, the one that ReplicationCompleted
	// records next (see docs/ANALYTICS.md).
	AfterCycle int64
	// At is when the engine applied the change's batch (UTC).
	At time.Time
}

// JournalRetention is how much of the journal the tenant keeps: entries applied more than MaxAge
// ago, and all but the newest MaxEntries, are pruned after each cycle. Zero values keep everything.
type JournalRetention struct {
	MaxAge     time.Duration
	MaxEntries int64
}

// IsZero reports whether r keeps everything.
func (r JournalRetention) IsZero() bool { return r.MaxAge <= 0 && r.MaxEntries <= 0 }

// ErrJournalCounter says that the tenant's journal counter row is missing (deleted by hand). It wraps
// ErrMissing: the engine opens the mirror again, whose migration puts the row back, numbered on from
// the journal's highest sequence number.
var ErrJournalCounter = fmt.Errorf("the change journal's counter row is missing: %w", ErrMissing)

// AppendJournalKey appends the journal's text of a key to buf: a JSON array with one element per key
// column, in key order. A value of an integer column (tinyint, smallint, int, bigint) is a JSON
// number; every other value is a JSON string holding its canonical text (canon.Value, with the
// target's losses applied, so that the key reads as the mirror stores it: times rounded to the
// microsecond where the target stops there, NUL as U+FFFD where the target replaces it); NULL is
// null. types are the key columns' types and vals their values as typemap decodes them.
func AppendJournalKey(buf []byte, types []typemap.Type, vals []any, l canon.Losses) ([]byte, error) {
	if len(types) != len(vals) {
		return buf, fmt.Errorf("journal key: %d values for %d key columns", len(vals), len(types))
	}
	buf = append(buf, '[')
	for i, v := range vals {
		if i > 0 {
			buf = append(buf, ',')
		}
		if n, ok := v.(int64); ok && types[i].IsInteger() {
			buf = strconv.AppendInt(buf, n, 10)
			continue
		}
		if v == nil {
			buf = append(buf, "null"...)
			continue
		}
		s, err := canon.Value(types[i], v, l)
		if err != nil {
			return buf, fmt.Errorf("journal key: %w", err)
		}
		if types[i].IsInteger() {
			// A driver's int32 or int16, as a mirror is read back: canon's text is the decimal number.
			buf = append(buf, s...)
			continue
		}
		buf = AppendJSONString(buf, s)
	}
	return append(buf, ']'), nil
}

// AppendJSONString appends s as a JSON string: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced with U+FFFD (as encoding/json does), everything else as it is.
func AppendJSONString(buf []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c == '\n':
				buf = append(buf, '\\', 'n')
			case c == '\r':
				buf = append(buf, '\\', 'r')
			case c == '\t':
				buf = append(buf, '\\', 't')
			case c < 0x20:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, "\ufffd"...)
		} else {
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}

// JournalTypes are the journal's columns (JournalColumns) in the type model, for a dialect whose bulk
// path encodes values by their column's type: the tenant column first when tenant is set (fan-in).
// The key is text here; the database's column may be JSON (PostgreSQL, MySQL), which parses it.
func JournalTypes(tenant bool) []typemap.Column {
	cols := []typemap.Column{
		{Name: "seq", Type: typemap.Type{Kind: typemap.BigInt}},
		{Name: "tablename", Type: typemap.Type{Kind: typemap.NVarChar, Length: 128}},
		{Name: "rowkey", Type: typemap.Type{Kind: typemap.NVarChar, Length: typemap.Max}, Nullable: true},
		{Name: "op", Type: typemap.Type{Kind: typemap.NVarChar, Length: 1}},
		{Name: "lsn", Type: typemap.Type{Kind: typemap.BigInt}, Nullable: true},
		{Name: "aftercycle", Type: typemap.Type{Kind: typemap.BigInt}},
		{Name: "appliedat", Type: typemap.Type{Kind: typemap.DateTime2, Precision: 6}},
	}
	if tenant {
		cols = append([]typemap.Column{TenantColumn("tenant", typemap.NVarChar)}, cols...)
	}
	return cols
}

// Rows returns the batch as rows of the journal's columns (JournalTypes), numbered from first and
// stamped with cycle; tenant, when not empty, leads each row (fan-in). Values are int64, string,
// time.Time (At, in UTC) and nil for NULL.
func (b *JournalBatch) Rows(first, cycle int64, tenant string) RowSource {
	r := &journalRows{b: b, first: first, cycle: cycle, i: -1}
	if tenant != "" {
		r.vals = append(r.vals, tenant)
	}
	r.lead = len(r.vals)
	var lsn any
	if b.LSN > 0 {
		lsn = b.LSN
	}
	r.vals = append(r.vals, int64(0), b.Table, nil, "", lsn, cycle, b.At.UTC())
	return r
}

// journalRows is the RowSource of JournalBatch.Rows.
type journalRows struct {
	b            *JournalBatch
	first, cycle int64
	i, lead      int
	vals         []any
}

func (r *journalRows) Next() bool {
	r.i++
	return r.i < r.b.Len()
}

func (r *journalRows) Values() ([]any, error) {
	op, key := r.b.Change(r.i)
	v := r.vals[r.lead:]
	v[0] = r.first + int64(r.i)
	if key == nil {
		v[2] = nil
	} else {
		v[2] = string(key)
	}
	v[3] = opText[op]
	return r.vals, nil
}

func (r *journalRows) Err() error { return nil }

// opText holds each operation's text once, so that rows do not allocate it.
var opText = map[JournalOp]string{JournalInsert: "I", JournalUpdate: "U", JournalDelete: "D", JournalWipe: "W"}

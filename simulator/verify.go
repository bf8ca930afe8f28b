package simulator

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// TableCheck is the comparison of one table.
type TableCheck struct {
	Table                    string
	SourceRows, MirrorRows   int64
	SourceCheck, MirrorCheck uint64
}

// VerifyError says how the mirror differs from the source.
type VerifyError struct {
	Table                  string
	SourceRows, MirrorRows int64
	// Key is the canonical text of the first differing key (empty when only counts were compared);
	// Detail says what differs there.
	Key, Detail string
}

func (e *VerifyError) Error() string {
	msg := fmt.Sprintf("verify: table %s differs: source has %d rows, mirror has %d", e.Table, e.SourceRows, e.MirrorRows)
	if e.Key != "" {
		msg += fmt.Sprintf("; first differing key %s: %s", e.Key, e.Detail)
	}
	return msg
}

// Verify compares every table of src with the mirror in store (a dialect's open tenant mirror): the
// row count and an order-independent checksum of the canonical text of every value, allowing for the
// dialect's documented losses. absent names tables that must not exist in the mirror (dropped at the
// source). On a difference it returns a *VerifyError naming the table, the counts and the first
// differing key.
func Verify(ctx context.Context, src *Source, dialectName string, store dialect.Store, absent ...string) ([]TableCheck, error) {
	return VerifyWith(ctx, src, dialectName, store, VerifyOptions{Absent: absent})
}

// VerifyOptions say how VerifyWith reads a mirror.
type VerifyOptions struct {
	// Absent names tables that must not exist in the mirror (dropped at the source).
	Absent []string
	// DeletedAt, when set, names a table's soft-delete column ("" when it has none): the rows the mirror
	// keeps as deleted are left out of the comparison with the source (Tombstones checks them), and a
	// row the source has must be live in the mirror.
	DeletedAt func(table string) string
}

// VerifyWith is Verify with options.
func VerifyWith(ctx context.Context, src *Source, dialectName string, store dialect.Store, opts VerifyOptions) ([]TableCheck, error) {
	absent := opts.Absent
	d, err := dialect.Lookup(dialectName)
	if err != nil {
		return nil, err
	}
	tables, err := src.Tables(ctx)
	if err != nil {
		return nil, err
	}
	losses := d.Capabilities().Losses()
	places := storedIn(ctx, store)
	var checks []TableCheck
	for _, t := range tables {
		types, err := t.types()
		if err != nil {
			return checks, err
		}
		sc, err := sourceSums(ctx, src, t, types, losses, nil)
		if err != nil {
			return checks, err
		}
		m := mirrorTable{store: store, t: t, place: places[t.Name], types: types, losses: losses}
		if opts.DeletedAt != nil {
			m.deletedAt = opts.DeletedAt(t.Name)
		}
		mc, err := m.sums(ctx, nil)
		if err != nil {
			return checks, err
		}
		checks = append(checks, TableCheck{Table: t.Name, SourceRows: sc.rows, MirrorRows: mc.rows, SourceCheck: sc.sum, MirrorCheck: mc.sum})
		if sc != mc {
			return checks, diff(ctx, src, m, sc.rows, mc.rows)
		}
	}
	if len(absent) > 0 {
		tx, err := store.Begin(ctx)
		if err != nil {
			return checks, fmt.Errorf("verify: %w", err)
		}
		defer tx.Rollback(ctx)
		for _, name := range absent {
			ok, err := tx.Tables().Exists(ctx, name)
			if err != nil {
				return checks, fmt.Errorf("verify: %s: %w", name, err)
			}
			if ok {
				return checks, fmt.Errorf("verify: table %s was dropped at the source but still exists in the mirror", name)
			}
		}
	}
	return checks, nil
}

// storedIn reads, from the mirror's metadata, the tables whose rows are not in the mirror's table of
// the same name: in the fan-in layout, a tenant's table that could not share the shared table is kept
// in one of its own (dialect.TableMeta.StoredIn). A mirror without readable metadata has none.
func storedIn(ctx context.Context, store dialect.Store) map[string]string {
	out := map[string]string{}
	tx, err := store.Begin(ctx)
	if err != nil {
		return out
	}
	defer tx.Rollback(ctx)
	meta, err := tx.Meta().Tables(ctx)
	if err != nil {
		return out
	}
	for name, m := range meta {
		if m.StoredIn != "" {
			out[name] = m.StoredIn
		}
	}
	return out
}

// sums is a table's row count and order-independent checksum.
type sums struct {
	rows int64
	sum  uint64
}

// rowHash hashes one row's canonical texts; the sum of row hashes is independent of row order.
func rowHash(texts []string) uint64 {
	h := fnv.New64a()
	for _, s := range texts {
		h.Write([]byte(s))
		h.Write([]byte{0xfe})
	}
	x := h.Sum64()
	// A final mix keeps rows that differ in one bit from cancelling out in the sum.
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

// sourceSums reads the source table; with rows set, it also collects each row's texts by key.
func sourceSums(ctx context.Context, src *Source, t Table, types []typemap.Type, l canon.Losses, rows map[string][]string) (sums, error) {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = quoteIdent(c.Name)
	}
	r, err := src.db.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+quoteIdent(t.Name))
	if err != nil {
		return sums{}, fmt.Errorf("verify: read source %s: %w", t.Name, err)
	}
	defer r.Close()
	raw := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	decs := make([]typemap.Decoder, len(types))
	for i, ty := range types {
		decs[i] = typemap.DecoderFor(ty)
	}
	var s sums
	texts := make([]string, len(cols))
	for r.Next() {
		if err := r.Scan(ptrs...); err != nil {
			return s, fmt.Errorf("verify: read source %s: %w", t.Name, err)
		}
		for i := range raw {
			var v any
			if raw[i].Valid {
				if v, err = decs[i]([]byte(raw[i].String)); err != nil {
					return s, fmt.Errorf("verify: source %s.%s %q: %w", t.Name, t.Columns[i].Name, raw[i].String, err)
				}
			}
			if texts[i], err = canon.Value(types[i], v, l); err != nil {
				return s, fmt.Errorf("verify: source %s.%s: %w", t.Name, t.Columns[i].Name, err)
			}
		}
		s.rows++
		s.sum += rowHash(texts)
		if rows != nil {
			rows[texts[0]] = append([]string(nil), texts...)
		}
	}
	if err := r.Err(); err != nil {
		return s, fmt.Errorf("verify: read source %s: %w", t.Name, err)
	}
	return s, nil
}

// mirrorTable is how the verifier reads one table of a mirror: through its dialect, from the table
// named place when it is not the source table's name, its live rows only when deletedAt names its
// soft-delete column.
type mirrorTable struct {
	store     dialect.Store
	t         Table
	place     string
	types     []typemap.Type
	losses    canon.Losses
	deletedAt string
}

// read calls fn with the canonical texts of every row's source columns and the values of the added
// columns named in added (of dialect.AddedTimeType), in a transaction of its own.
func (m mirrorTable) read(ctx context.Context, added []string, fn func(texts []string, added []any) error) error {
	tbl := dialect.Table{Name: m.t.Name, Key: []int{0}}
	if m.place != "" {
		tbl.Name = m.place
	}
	for i, c := range m.t.Columns {
		tbl.Columns = append(tbl.Columns, typemap.Column{Name: c.Name, Type: m.types[i], Nullable: true})
	}
	for _, name := range added {
		tbl.Columns = append(tbl.Columns, typemap.Column{Name: name, Type: dialect.AddedTimeType, Nullable: true})
	}
	tx, err := m.store.Begin(ctx)
	if err != nil {
		return fmt.Errorf("verify: mirror %s: %w", m.t.Name, err)
	}
	defer tx.Rollback(ctx)
	texts := make([]string, len(m.t.Columns))
	err = tx.Tables().Read(ctx, tbl, func(vals []any) error {
		for i, v := range vals[:len(texts)] {
			var err error
			if texts[i], err = canon.Value(m.types[i], v, m.losses); err != nil {
				return fmt.Errorf("%s.%s: %w", m.t.Name, m.t.Columns[i].Name, err)
			}
		}
		return fn(texts, vals[len(texts):])
	})
	if err != nil {
		return fmt.Errorf("verify: read mirror %s: %w", m.t.Name, err)
	}
	return nil
}

// sums reads the mirror table's live rows; with rows set, it also collects each row's texts by key.
func (m mirrorTable) sums(ctx context.Context, rows map[string][]string) (sums, error) {
	var added []string
	if m.deletedAt != "" {
		added = []string{m.deletedAt}
	}
	var s sums
	err := m.read(ctx, added, func(texts []string, added []any) error {
		if len(added) > 0 && added[0] != nil {
			return nil // kept as deleted
		}
		s.rows++
		s.sum += rowHash(texts)
		if rows != nil {
			rows[texts[0]] = append([]string(nil), texts...)
		}
		return nil
	})
	return s, err
}

// diff reads both sides again, row by row, to name the first differing key.
func diff(ctx context.Context, src *Source, m mirrorTable, srcRows, mirRows int64) error {
	t := m.t
	ve := &VerifyError{Table: t.Name, SourceRows: srcRows, MirrorRows: mirRows}
	sRows, mRows := map[string][]string{}, map[string][]string{}
	if _, err := sourceSums(ctx, src, t, m.types, m.losses, sRows); err != nil {
		return err
	}
	if _, err := m.sums(ctx, mRows); err != nil {
		return err
	}
	keys := make([]string, 0, len(sRows)+len(mRows))
	for k := range sRows {
		keys = append(keys, k)
	}
	for k := range mRows {
		if _, ok := sRows[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		sr, inSrc := sRows[k]
		mr, inMir := mRows[k]
		ve.Key = k
		switch {
		case !inMir:
			ve.Detail = "missing from the mirror"
			return ve
		case !inSrc:
			ve.Detail = "in the mirror but not in the source"
			return ve
		}
		for i := range sr {
			if sr[i] != mr[i] {
				ve.Detail = fmt.Sprintf("column %s: source %s, mirror %s", t.Columns[i].Name, clip(sr[i]), clip(mr[i]))
				return ve
			}
		}
	}
	ve.Key = ""
	return ve
}

// clip quotes a canonical text for a message, cut to 60 bytes.
func clip(s string) string {
	if s == canon.Null {
		return "NULL"
	}
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return fmt.Sprintf("%q", s)
}

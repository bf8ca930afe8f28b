package dialect

import (
	"time"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// Besides the source's columns, a mirrored table may have columns that mirrorsink writes itself, after
// the source's (the engine decides which, per route and table; see docs/CONFIGURATION.md):
//
//   - Table.DeletedAt, the soft-delete column: a row the source deleted stays in the mirror with its
//     last values and this column set to when it was deleted (RowWriter.SoftDelete); an insert or
//     update of its key writes NULL there, which revives it. Live rows hold NULL.
//   - Table.MirroredAt: when mirrorsink last wrote the row (an insert, an update, a soft delete).
//
// To a dialect they are ordinary nullable columns of type AddedTimeType in Table.Columns: created,
// altered, bulk-loaded, upserted and read like any other. Only SoftDelete and PurgeDeleted need to know
// which column is which, and take it from the Table.

// AddedTimeType is the type of the columns mirrorsink adds: an instant to the microsecond
// (datetimeoffset(6)), which every dialect stores exactly (a timestamptz on PostgreSQL, a datetime(6)
// in UTC on MySQL, a datetimeoffset(6) on SQL Server, ISO 8601 text with its offset on SQLite).
// mirrorsink writes it in UTC.
var AddedTimeType = typemap.Type{Kind: typemap.DateTimeOffset, Precision: 6}

// AddedTime returns t as mirrorsink stores it in an AddedTimeType column: in UTC, to the microsecond
// (cut, not rounded, so that it is never later than t).
func AddedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// WithAdded returns t with the columns mirrorsink adds appended after the source's: deletedAt and then
// mirroredAt, each only when not "" (nullable, of AddedTimeType, without a default), and named in
// DeletedAt and MirroredAt.
func (t Table) WithAdded(deletedAt, mirroredAt string) Table {
	out := Table{Name: t.Name, Columns: append([]typemap.Column(nil), t.Columns...), Key: t.Key,
		DeletedAt: deletedAt, MirroredAt: mirroredAt}
	for _, name := range []string{deletedAt, mirroredAt} {
		if name != "" {
			out.Columns = append(out.Columns, typemap.Column{Name: name, Type: AddedTimeType, Nullable: true})
		}
	}
	return out
}

// SoftDeleteSet renders what a dialect's soft delete writes: the assignment of value (a parameter or a
// literal) to t.DeletedAt and, when the table has it, to t.MirroredAt, each column quoted by quote and
// preceded by prefix (an alias and a dot, or ""). deleted is the soft-delete column, quoted, without the
// prefix, for the statement's condition.
func SoftDeleteSet(t Table, quote func(string) (string, error), prefix, value string) (deleted, set string, err error) {
	if deleted, err = quote(t.DeletedAt); err != nil {
		return "", "", err
	}
	set = prefix + deleted + " = " + value
	if t.MirroredAt != "" {
		mirrored, err := quote(t.MirroredAt)
		if err != nil {
			return "", "", err
		}
		set += ", " + prefix + mirrored + " = " + value
	}
	return deleted, set, nil
}

// PurgeWhere renders the WHERE clause of a dialect's PurgeDeleted: the rows whose t.DeletedAt (quoted
// by quote) is set and, when mine is not "" (the fan-in layout's condition), that are the tenant's.
func PurgeWhere(t Table, quote func(string) (string, error), mine string) (string, error) {
	deleted, err := quote(t.DeletedAt)
	if err != nil {
		return "", err
	}
	cond := deleted + " IS NOT NULL"
	if mine != "" {
		cond = mine + " AND " + cond
	}
	return " WHERE " + cond, nil
}

// Extend returns a RowSource whose rows are those of rows with the same values before and after
// theirs in every row: how a fan-in Store puts the tenant first, and how the engine appends the values
// of the columns it adds. A RawRowSource stays one: wireBefore and wireAfter are the same values as
// wire text, one for each of before and after. The slices are not copied and must not change while
// the source is read.
func Extend(rows RowSource, before, after []any, wireBefore, wireAfter []WireValue) RowSource {
	e := &extended{src: rows, before: before, after: after}
	if raw, ok := rows.(RawRowSource); ok {
		return &extendedRaw{extended: e, raw: raw, before: wireBefore, after: wireAfter}
	}
	return e
}

type extended struct {
	src           RowSource
	before, after []any
	vals          []any
}

func (e *extended) Next() bool { return e.src.Next() }
func (e *extended) Err() error { return e.src.Err() }

func (e *extended) Values() ([]any, error) {
	vals, err := e.src.Values()
	if err != nil {
		return nil, err
	}
	e.vals = append(append(append(e.vals[:0], e.before...), vals...), e.after...)
	return e.vals, nil
}

type extendedRaw struct {
	*extended
	raw           RawRowSource
	before, after []WireValue
	wire          []WireValue
}

func (e *extendedRaw) Wire() ([]WireValue, error) {
	vals, err := e.raw.Wire()
	if err != nil {
		return nil, err
	}
	e.wire = append(append(append(e.wire[:0], e.before...), vals...), e.after...)
	return e.wire, nil
}

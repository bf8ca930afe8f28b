package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// A route may have mirrorsink add columns of its own to every mirrored table, after the source's
// (dialect/added.go): the soft-delete column, with which a deleted row stays in the mirror with its
// last values, marked with the time of its delete (Deletes: SoftDeletes), and the mirrored-at column,
// the time mirrorsink last wrote the row (MirroredAt). Both are off by default, and a table without
// them is stored, hashed and written exactly as before they existed.
//
// A table's stored schema records which columns were added to it (storedSchema.Added), so that the
// model of a stored table always matches the table as it is. Changing the options changes the
// requested schema's hash: the next TableSchema reconciles the table in place, adding a column (its
// existing rows NULL: live, and written before mirrorsink kept the time) or dropping one. A table that
// stops keeping soft deletes (or renames the column) first purges the rows it kept as deleted, so that
// the mirror holds the source's rows again, without a resend.

// Deletes is how a route's tables take a row that the source deleted.
type Deletes string

// The ways of taking a deleted row.
const (
	// HardDeletes removes the row, as the source did. It is the default ("" means it too).
	HardDeletes Deletes = "hard"
	// SoftDeletes keeps the row with its last values and sets its soft-delete column to the time of the
	// delete; an insert or update of the same key writes NULL there, which revives it. A delete of a key
	// the mirror does not hold does nothing, and a row deleted twice keeps its first time. A Wipe still
	// empties the table: a repopulation is a new truth.
	SoftDeletes Deletes = "soft"
)

// Default names of the columns mirrorsink adds.
const (
	DefaultDeletedAtColumn  = "_deleted_at"
	DefaultMirroredAtColumn = "_mirrored_at"
)

// TableOptions override a route's options for one table.
type TableOptions struct {
	// Deletes, when not "", replaces the route's Deletes.
	Deletes Deletes
	// MirroredAt, when not nil, replaces the route's MirroredAt.
	MirroredAt *bool
}

// The roles of the columns mirrorsink adds, as a stored schema records them.
const (
	roleDeletedAt  = "deleted_at"
	roleMirroredAt = "mirrored_at"
)

// addedColumn is a column that mirrorsink adds to a table, as its stored schema records it.
type addedColumn struct {
	Name string `json:"name"`
	// Role is roleDeletedAt or roleMirroredAt.
	Role string `json:"role"`
}

// describeRole names a role and its setting for messages.
func describeRole(role string) string {
	if role == roleDeletedAt {
		return "the soft-delete column (deleted_at_column)"
	}
	return "the mirrored-at column (mirrored_at_column)"
}

// AddedColumns returns the names of the columns mirrorsink adds to table on this route: the
// soft-delete column and the mirrored-at column, each "" when the table has none.
func (r Route) AddedColumns(table string) (deletedAt, mirroredAt string) {
	deletes, mirrored := r.Deletes, r.MirroredAt
	if o, ok := r.Tables[table]; ok {
		if o.Deletes != "" {
			deletes = o.Deletes
		}
		if o.MirroredAt != nil {
			mirrored = *o.MirroredAt
		}
	}
	if deletes == SoftDeletes {
		deletedAt = r.deletedAtColumn()
	}
	if mirrored {
		mirroredAt = r.mirroredAtColumn()
	}
	return deletedAt, mirroredAt
}

func (r Route) deletedAtColumn() string {
	if r.DeletedAtColumn == "" {
		return DefaultDeletedAtColumn
	}
	return r.DeletedAtColumn
}

func (r Route) mirroredAtColumn() string {
	if r.MirroredAtColumn == "" {
		return DefaultMirroredAtColumn
	}
	return r.MirroredAtColumn
}

// added returns the columns mirrorsink adds to table, in the order the table has them.
func (r Route) added(table string) []addedColumn {
	deletedAt, mirroredAt := r.AddedColumns(table)
	var out []addedColumn
	if deletedAt != "" {
		out = append(out, addedColumn{Name: deletedAt, Role: roleDeletedAt})
	}
	if mirroredAt != "" {
		out = append(out, addedColumn{Name: mirroredAt, Role: roleMirroredAt})
	}
	return out
}

// checkAdded checks the route's options of the columns mirrorsink adds.
func (r Route) checkAdded() error {
	checkDeletes := func(what string, d Deletes) error {
		switch d {
		case "", HardDeletes, SoftDeletes:
			return nil
		}
		return fmt.Errorf("%s %q is not known (hard or soft)", what, d)
	}
	if err := checkDeletes("deletes", r.Deletes); err != nil {
		return err
	}
	for _, table := range slices.Sorted(maps.Keys(r.Tables)) {
		if table == "" {
			return errors.New("tables: a table without a name")
		}
		if err := checkDeletes("tables: "+table+": deletes", r.Tables[table].Deletes); err != nil {
			return err
		}
	}
	deletedAt, mirroredAt := r.deletedAtColumn(), r.mirroredAtColumn()
	for _, c := range []struct{ setting, name string }{{"deleted_at_column", deletedAt}, {"mirrored_at_column", mirroredAt}} {
		if strings.TrimSpace(c.name) != c.name || len(c.name) > 63 || !utf8.ValidString(c.name) || strings.ContainsRune(c.name, 0) {
			return fmt.Errorf("%s %q: a name of 1 to 63 bytes without surrounding spaces", c.setting, c.name)
		}
		if tc := r.TenantColumnName(); tc != "" && strings.EqualFold(c.name, tc) {
			return fmt.Errorf("%s %q is the name of the fan-in layout's tenant column; give one of them another name", c.setting, c.name)
		}
	}
	if strings.EqualFold(deletedAt, mirroredAt) {
		return fmt.Errorf("deleted_at_column and mirrored_at_column both name the column %q; give them different names", deletedAt)
	}
	return nil
}

// addedSignature says what a route adds to which tables, so that routes sharing a fan-in schema can be
// compared: they must add the same columns to the same tables.
func (r Route) addedSignature() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q %q %q %v", r.Deletes, r.deletedAtColumn(), r.mirroredAtColumn(), r.MirroredAt)
	for _, table := range slices.Sorted(maps.Keys(r.Tables)) {
		d, m := r.AddedColumns(table)
		fmt.Fprintf(&b, " %q:%q,%q", table, d, m)
	}
	return b.String()
}

// addedColumns returns the columns of a table definition for the columns mirrorsink adds, and the
// names of the first of each role; a name that a source column has (compared without case, as some
// databases compare column names) is an error naming both.
func addedColumns(table string, source []typemap.Column, added []addedColumn) (cols []typemap.Column, deletedAt, mirroredAt string, err error) {
	for i, a := range added {
		for _, c := range source {
			if strings.EqualFold(c.Name, a.Name) {
				return nil, "", "", fmt.Errorf("table %q: column %q has the name of %s that mirrorsink adds to the table; "+
					"give that column another name in the route's configuration", table, c.Name, describeRole(a.Role))
			}
		}
		for _, b := range added[:i] {
			if strings.EqualFold(a.Name, b.Name) {
				return nil, "", "", fmt.Errorf("table %q: two columns that mirrorsink adds are both named %q", table, a.Name)
			}
		}
		cols = append(cols, typemap.Column{Name: a.Name, Type: dialect.AddedTimeType, Nullable: true})
		switch {
		case a.Role == roleDeletedAt && deletedAt == "":
			deletedAt = a.Name
		case a.Role == roleMirroredAt && mirroredAt == "":
			mirroredAt = a.Name
		}
	}
	return cols, deletedAt, mirroredAt, nil
}

// unionAdded returns the columns of first and then those of the others that first lacks: the columns a
// shared table must keep while any of its tenants writes them.
func unionAdded(first []addedColumn, others ...[]addedColumn) []addedColumn {
	out := slices.Clone(first)
	for _, o := range others {
		for _, a := range o {
			if !slices.ContainsFunc(out, func(b addedColumn) bool { return strings.EqualFold(a.Name, b.Name) }) {
				out = append(out, a)
			}
		}
	}
	return out
}

// addedValues are the values a batch writes into the columns mirrorsink adds, after each row's own: NULL
// in the soft-delete column (which revives a row marked deleted), the batch's time in the mirrored-at
// column; as Go values and as wire text, for both forms of a dialect.RawRowSource.
type addedValues struct {
	values []any
	wire   []dialect.WireValue
}

// newAddedValues prepares the values of the columns that target has beyond source's, at the time at.
func newAddedValues(source, target dialect.Table, at time.Time) (addedValues, error) {
	var v addedValues
	for _, c := range target.Columns[len(source.Columns):] {
		if c.Name != target.MirroredAt {
			v.values = append(v.values, nil)
			v.wire = append(v.wire, dialect.WireValue{Null: true})
			continue
		}
		// The wire text and the value its decoder gives, so that both forms of a row agree exactly.
		text, err := typemap.EncodeWire(c.Type, at)
		if err != nil {
			return v, fmt.Errorf("table %q, column %q: %w", target.Name, c.Name, err)
		}
		val, err := typemap.DecoderFor(c.Type)([]byte(text))
		if err != nil {
			return v, fmt.Errorf("table %q, column %q: %w", target.Name, c.Name, err)
		}
		v.values = append(v.values, val)
		v.wire = append(v.wire, dialect.WireValue{Text: []byte(text)})
	}
	return v, nil
}

// purgeDeleted removes the rows that a table kept as deleted when its new model no longer keeps them
// in the same column (soft deletes turned off, or the column renamed): afterwards the mirror holds the
// source's rows only, as it would had it always deleted them. table names the table that holds the
// rows (in the fan-in layout, of the tenant's rows only).
func (e *Engine) purgeDeleted(ctx context.Context, t *tenant, tx dialect.Tx, table string, old, next *tableModel) error {
	if old == nil || old.table.DeletedAt == "" || old.table.DeletedAt == next.table.DeletedAt {
		return nil
	}
	tbl := old.table
	tbl.Name = table
	n, err := tx.Rows().PurgeDeleted(ctx, tbl)
	if err != nil {
		return fmt.Errorf("table %q: remove the rows kept as deleted: %w", table, err)
	}
	e.log.Info("the table no longer keeps deleted rows in their column; the rows it kept as deleted are removed",
		"tenant", t.name, "table", old.table.Name, "column", old.table.DeletedAt, "rows", n)
	return nil
}

package dialect

import "github.com/mirrorsink/mirrorsink/typemap"

// The fan-in layout puts every tenant of a route into one schema: each mirrored table exists once,
// shared by the tenants, with a leading tenant column that is the first column of its primary key.
// The engine decides what the shared table looks like (the union of the tenants' columns) and when
// it may be created, changed, recreated or dropped; a dialect opened with OpenOptions.TenantColumn
// carries it out:
//
//   - Tables().Create and Recreate create the table with the tenant column first (text of up to
//     MaxTenantBytes bytes, compared byte for byte, NOT NULL, no default) and the primary key
//     (tenant column, key columns…). The table's other columns have no default either: a tenant
//     writes only its own columns, and those it lacks must stay NULL in its rows, never take a
//     default meant for another tenant's. Alter, Drop and Exists work on the shared table as usual.
//   - Rows().Insert, Upsert and Delete write and delete the rows of the Store's tenant only (OpenOptions.Tenant
//     in the tenant column); the table they are given holds the tenant's columns, which may be fewer
//     than the shared table's: Insert leaves the others NULL, Upsert leaves them as they are.
//   - Tables().Truncate removes the tenant's rows only; Count and Read see the tenant's rows only.
//   - Meta() reads and writes mirrorsink's own tables, which the tenants share too (SharedMetaTables,
//     each with a tenant column), limited to the tenant's rows; Shared, PutShared and DeleteShared
//     reach across tenants for what the engine must know of a shared table.

// MaxTenantBytes is the longest tenant name (^[A-Za-z0-9_]{1,50}$): the width of a tenant column.
const MaxTenantBytes = 50

// SharedDefinition is the tenant under which the metadata table of a fan-in mirror records a shared
// table's own definition (PutShared): no tenant has this name, as a tenant name is letters, digits
// and underscores.
const SharedDefinition = "*"

// SharedMetaTables returns the names of mirrorsink's own tables in a fan-in mirror, which every tenant
// there shares (each row has the tenant in a column named "tenant").
func SharedMetaTables() MetaTableNames { return MetaTables("mirrorsink") }

// SharedTable is what the metadata of a fan-in mirror holds about one table.
type SharedTable struct {
	// Definition is the shared table's own row: its definition as it was last created or changed (in
	// SchemaJSON), which may be wider than any one tenant's (a shared column is never narrowed); nil
	// when there is none.
	Definition *TableMeta
	// Mine is the tenant's own row of the table, nil when it has none.
	Mine *TableMeta
	// Others are the other tenants' schemas of the table: one entry for each distinct schema and place
	// (StoredIn), with how many tenants have it. Thousands of tenants of one SuperOffice version give a
	// few entries, so that what a change of the table reads does not grow with the tenants.
	Others []SharedSchema
}

// SharedSchema is a schema of a table that other tenants of a fan-in mirror have.
type SharedSchema struct {
	// SchemaJSON is the schema, as the engine stores it; StoredIn is where those tenants' rows are
	// ("" for the shared table).
	SchemaJSON, StoredIn string
	// Tenants is how many tenants have it.
	Tenants int64
}

// FanInSQL is what the fan-in layout adds to a dialect's statements: the tenant column and the
// tenant, each as the dialect writes it. A dialect's pure SQL part keeps a nil *FanInSQL outside the
// layout, on which Mine renders nothing.
type FanInSQL struct {
	// Column is the tenant column as the database holds it, Quoted as the dialect quotes it.
	Column, Quoted string
	// Tenant is the tenant (letters, digits and underscores), Literal the dialect's string literal of it.
	Tenant, Literal string
}

// Mine renders the condition that limits a statement to the tenant's rows, the column after prefix
// (an alias and a dot, or ""); "" outside the layout.
func (f *FanInSQL) Mine(prefix string) string {
	if f == nil {
		return ""
	}
	return prefix + f.Quoted + " = " + f.Literal
}

// Where renders " WHERE cond", or "" for no condition.
func Where(cond string) string {
	if cond == "" {
		return ""
	}
	return " WHERE " + cond
}

// TenantColumn is the tenant column of a fan-in table as the type table sees it: text of up to
// MaxTenantBytes characters, NOT NULL; kind is the dialect's text kind for it (VarChar, NVarChar).
func TenantColumn(name string, kind typemap.Kind) typemap.Column {
	return typemap.Column{Name: name, Type: typemap.Type{Kind: kind, Length: MaxTenantBytes}}
}

// WithLeadingKey returns t as a fan-in Store creates it: c first among its columns and first in its
// key, the key's other columns after it.
func (t Table) WithLeadingKey(c typemap.Column) Table {
	out := Table{Name: t.Name, Columns: append([]typemap.Column{c}, t.Columns...), Key: []int{0},
		DeletedAt: t.DeletedAt, MirroredAt: t.MirroredAt}
	for _, k := range t.Key {
		out.Key = append(out.Key, k+1)
	}
	return out
}

// PrependTenant returns a RowSource whose rows are those of rows with tenant before their first
// value: how a fan-in Store hands a tenant's rows, its tenant column first, to a bulk path that writes
// every column it is given. A RawRowSource stays one, the tenant's name being its wire text (a text
// column's wire form is the text itself).
func PrependTenant(rows RowSource, tenant string) RowSource {
	return Extend(rows, []any{tenant}, nil, []WireValue{{Text: []byte(tenant)}}, nil)
}

package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// storedSchema is what the metadata table keeps of a table's schema: the columns as SuperOffice sent
// them and the key the engine chose. It is stored as JSON so that an operator can read it.
type storedSchema struct {
	Columns []contract.Column `json:"columns"`
	Key     []string          `json:"key"`
	// Added are the columns mirrorsink adds after the source's (added.go), in order. It is left out
	// when there are none, so that the schema of a table without them is stored, and hashes, as it
	// did before they existed.
	Added []addedColumn `json:"added,omitempty"`
}

// tableModel is a table's schema in every form the engine needs.
type tableModel struct {
	// table is the table as the mirror has it: the source's columns, then those mirrorsink adds.
	table  dialect.Table
	stored storedSchema
	hash   string
	json   string
}

// columns returns the source's columns, without those mirrorsink adds.
func (m *tableModel) columns() []typemap.Column { return m.table.Columns[:len(m.stored.Columns)] }

// source returns the table with the source's columns only: what a batch's rows hold.
func (m *tableModel) source() dialect.Table {
	return dialect.Table{Name: m.table.Name, Columns: m.columns(), Key: m.table.Key}
}

// buildModel parses a TableSchemaInfo into the typed model, choosing the key: the configured override
// for the table, else the first column (PROTOCOL.md's decision, true for all SuperOffice tables). The
// columns mirrorsink adds (added) come after the source's.
func buildModel(ts contract.TableSchema, keyOverride []string, added []addedColumn) (*tableModel, error) {
	if ts.Name == "" {
		return nil, fmt.Errorf("a table has no name")
	}
	if len(ts.Columns) == 0 {
		return nil, fmt.Errorf("table %q has no columns", ts.Name)
	}
	m := &tableModel{table: dialect.Table{Name: ts.Name}}
	seen := make(map[string]int, len(ts.Columns))
	for i, c := range ts.Columns {
		if c.Name == "" {
			return nil, fmt.Errorf("table %q: column %d has no name", ts.Name, i+1)
		}
		if prev, dup := seen[strings.ToLower(c.Name)]; dup {
			return nil, fmt.Errorf("table %q: column %q appears twice (columns %d and %d)", ts.Name, c.Name, prev+1, i+1)
		}
		seen[strings.ToLower(c.Name)] = i
		col, err := typemap.ParseColumn(c)
		if err != nil {
			return nil, fmt.Errorf("table %q, column %q: %w", ts.Name, c.Name, err)
		}
		m.table.Columns = append(m.table.Columns, col)
	}
	keyNames := keyOverride
	if len(keyNames) == 0 {
		keyNames = []string{ts.Columns[0].Name}
	}
	for _, k := range keyNames {
		idx := -1
		for i, c := range ts.Columns {
			if c.Name == k {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("table %q: configured key column %q is not in the table", ts.Name, k)
		}
		m.table.Key = append(m.table.Key, idx)
		// A key column is NOT NULL in the mirror whatever the source says (a key configured by an
		// override may be nullable there): no database takes a primary key over NULL, and a change of
		// its nullability at the source is then no change at all.
		m.table.Columns[idx].Nullable = false
	}
	if len(added) > 0 {
		cols, deletedAt, mirroredAt, err := addedColumns(ts.Name, m.table.Columns, added)
		if err != nil {
			return nil, err
		}
		m.table.Columns = append(m.table.Columns, cols...)
		m.table.DeletedAt, m.table.MirroredAt = deletedAt, mirroredAt
	}
	m.stored = storedSchema{Columns: ts.Columns, Key: keyNames, Added: added}
	raw, err := json.Marshal(m.stored)
	if err != nil {
		return nil, err
	}
	m.json = string(raw)
	sum := sha256.Sum256(raw)
	m.hash = hex.EncodeToString(sum[:])
	return m, nil
}

// parseStored rebuilds the model of a table from its metadata row.
func parseStored(name, schemaJSON string) (*tableModel, error) {
	var s storedSchema
	if err := json.Unmarshal([]byte(schemaJSON), &s); err != nil {
		return nil, fmt.Errorf("table %q: stored schema is unreadable: %w", name, err)
	}
	return buildModel(contract.TableSchema{Name: name, Columns: s.Columns}, s.Key, s.Added)
}

// sameShape reports whether a RowData batch's TableInfo matches the accepted schema: the same column
// names, order and types. Defaults and nullability may differ (PROTOCOL.md).
func sameShape(accepted *tableModel, info contract.TableSchema) error {
	cols := accepted.stored.Columns
	if len(info.Columns) != len(cols) {
		return fmt.Errorf("table %q: the batch has %d columns, the accepted schema %d; send TableSchema again", info.Name, len(info.Columns), len(cols))
	}
	for i, c := range info.Columns {
		if c.Name != cols[i].Name {
			return fmt.Errorf("table %q: batch column %d is %q, the accepted schema has %q", info.Name, i+1, c.Name, cols[i].Name)
		}
		if c.Type == cols[i].Type {
			continue
		}
		got, err1 := typemap.ParseType(c.Type)
		want, err2 := typemap.ParseType(cols[i].Type)
		if err1 != nil || err2 != nil || got != want {
			return fmt.Errorf("table %q: column %q is %s in the batch but %s in the accepted schema", info.Name, c.Name, c.Type, cols[i].Type)
		}
	}
	return nil
}

// plan is how to bring a stored table to a requested schema.
type plan struct {
	changes  []dialect.Change
	recreate bool
	reason   string
}

// planChanges compares the stored and the requested model. In-place changes keep the data and the
// stored LSN; anything else (a key change, a narrowing or incompatible type change) recreates the table.
func planChanges(old, new *tableModel) plan {
	if !sameKey(old, new) {
		return plan{recreate: true, reason: "key columns changed"}
	}
	oldByName := make(map[string]typemap.Column, len(old.table.Columns))
	for _, c := range old.table.Columns {
		oldByName[c.Name] = c
	}
	var p plan
	newNames := make(map[string]bool, len(new.table.Columns))
	for _, c := range new.table.Columns {
		newNames[c.Name] = true
		o, ok := oldByName[c.Name]
		if !ok {
			p.changes = append(p.changes, dialect.Change{Kind: dialect.AddColumn, Column: c})
			continue
		}
		if o.Type != c.Type {
			if !typemap.Widens(o.Type, c.Type) {
				return plan{recreate: true, reason: fmt.Sprintf("column %q changes type from %s to %s", c.Name, o.Type, c.Type)}
			}
			p.changes = append(p.changes, dialect.Change{Kind: dialect.AlterType, Column: c, Old: o})
		}
		if o.Nullable != c.Nullable {
			p.changes = append(p.changes, dialect.Change{Kind: dialect.AlterNullability, Column: c, Old: o})
		}
		if !sameDefault(o.Default, c.Default) {
			p.changes = append(p.changes, dialect.Change{Kind: dialect.AlterDefault, Column: c, Old: o})
		}
	}
	for _, o := range old.table.Columns {
		if !newNames[o.Name] {
			p.changes = append(p.changes, dialect.Change{Kind: dialect.DropColumn, Old: o})
		}
	}
	return p
}

func sameKey(a, b *tableModel) bool {
	if len(a.stored.Key) != len(b.stored.Key) {
		return false
	}
	for i := range a.stored.Key {
		if a.stored.Key[i] != b.stored.Key[i] {
			return false
		}
	}
	return true
}

func sameDefault(a, b *typemap.Default) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Raw == b.Raw
}

package engine

import (
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
)

func sharedModel(t *testing.T, cols ...contract.Column) *tableModel {
	t.Helper()
	m, err := buildModel(contract.TableSchema{Name: "contact", Columns: cols}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func kinds(changes []dialect.Change) string {
	var out []string
	for _, c := range changes {
		name := c.Column.Name
		if c.Kind == dialect.DropColumn {
			name = c.Old.Name
		}
		out = append(out, c.Kind.String()+" "+name)
	}
	return strings.Join(out, ", ")
}

func columnsOf(m *tableModel) string {
	var out []string
	for _, c := range m.stored.Columns {
		s := c.Name + " " + c.Type
		if !c.IsNullable {
			s += " not null"
		}
		if c.DefaultValue != "" {
			s += " " + c.DefaultValue
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// TestPlanShared pins how a shared table takes one tenant's schema beside the others'.
func TestPlanShared(t *testing.T) {
	id := col("id", "int", false, "")
	name := col("name", "nvarchar(50)", true, "")
	wide := col("name", "nvarchar(100)", true, "")
	score := col("x_score", "int", true, "")
	scoreText := col("x_score", "nvarchar(20)", true, "")
	updated := contract.Column{Name: "updated", Type: "datetime", DefaultValue: "default (getdate())"}
	for _, tc := range []struct {
		name          string
		def           *tableModel
		others        []*tableModel
		old, next     *tableModel
		wantCols      string
		wantDrops     string
		wantChanges   string
		create        bool
		recreate      bool
		repopulate    bool
		conflictWords string
	}{
		{name: "the first tenant creates it, without defaults", next: sharedModel(t, id, name, updated),
			wantCols: "id int not null, name nvarchar(50), updated datetime not null", create: true},
		{name: "a second tenant without a column relaxes it", def: sharedModel(t, id, name, col("updated", "datetime", false, "")),
			others: []*tableModel{sharedModel(t, id, name, updated)}, next: sharedModel(t, id, name),
			wantCols: "id int not null, name nvarchar(50), updated datetime", wantChanges: "alter nullability updated"},
		{name: "a custom column is added, nullable", def: sharedModel(t, id, name), others: []*tableModel{sharedModel(t, id, name)},
			next:     sharedModel(t, id, name, col("x_score", "int", false, "")),
			wantCols: "id int not null, name nvarchar(50), x_score int", wantChanges: "add column x_score"},
		{name: "a wider type widens the shared column", def: sharedModel(t, id, name), others: []*tableModel{sharedModel(t, id, name)},
			next: sharedModel(t, id, wide), wantCols: "id int not null, name nvarchar(100)", wantChanges: "alter type name"},
		{name: "a narrower type fits as it is", def: sharedModel(t, id, wide), others: []*tableModel{sharedModel(t, id, wide)},
			next: sharedModel(t, id, name), wantCols: "id int not null, name nvarchar(100)"},
		{name: "a tenant's own narrowing sends its rows again, the shared column stays", def: sharedModel(t, id, wide),
			others: []*tableModel{sharedModel(t, id, wide)}, old: sharedModel(t, id, wide), next: sharedModel(t, id, name),
			wantCols: "id int not null, name nvarchar(100)", repopulate: true},
		{name: "a column no tenant has any more is dropped", def: sharedModel(t, id, name, score), others: []*tableModel{sharedModel(t, id, name)},
			old: sharedModel(t, id, name, score), next: sharedModel(t, id, name), wantCols: "id int not null, name nvarchar(50)", wantDrops: "drop column x_score"},
		{name: "a column others keep stays, and the tenant's stale values go with its rows", def: sharedModel(t, id, name, score),
			others: []*tableModel{sharedModel(t, id, name, score)}, old: sharedModel(t, id, name, score), next: sharedModel(t, id, name),
			wantCols: "id int not null, name nvarchar(50), x_score int", repopulate: true},
		{name: "an incompatible type of a column only this tenant has is dropped and added", def: sharedModel(t, id, name, score),
			others: []*tableModel{sharedModel(t, id, name)}, old: sharedModel(t, id, name, score), next: sharedModel(t, id, name, scoreText),
			wantCols: "id int not null, name nvarchar(50), x_score nvarchar(20)", wantDrops: "drop column x_score",
			wantChanges: "add column x_score", repopulate: true},
		{name: "an incompatible type of a column others have cannot share", def: sharedModel(t, id, name, score),
			others: []*tableModel{sharedModel(t, id, name, score)}, next: sharedModel(t, id, name, scoreText), conflictWords: `column "x_score" is nvarchar(20) here but int`},
		{name: "another key cannot share", def: sharedModel(t, id, name), others: []*tableModel{sharedModel(t, id, name)},
			next: sharedModel(t, name, id), conflictWords: "its key (name) is not the shared table's (id)"},
		{name: "another key with no other tenant recreates", def: sharedModel(t, id, name), old: sharedModel(t, id, name),
			next: sharedModel(t, name, id), wantCols: "name nvarchar(50) not null, id int not null", recreate: true, repopulate: true},
		{name: "a column differing in case cannot share", def: sharedModel(t, id, name), others: []*tableModel{sharedModel(t, id, name)},
			next: sharedModel(t, id, col("Name", "nvarchar(50)", true, "")), conflictWords: "differs only in case"},
		{name: "a new column with a value for existing rows sends them again", def: sharedModel(t, id, name),
			others: []*tableModel{sharedModel(t, id, name)}, old: sharedModel(t, id, name), next: sharedModel(t, id, name, updated),
			wantCols: "id int not null, name nvarchar(50), updated datetime", wantChanges: "add column updated", repopulate: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := planShared("contact", tc.def, tc.others, tc.old, tc.next)
			if tc.conflictWords != "" {
				if err == nil || !strings.Contains(err.Error(), tc.conflictWords) {
					t.Fatalf("conflict %v, want one saying %q", err, tc.conflictWords)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := columnsOf(p.def); got != tc.wantCols {
				t.Errorf("shared columns %q, want %q", got, tc.wantCols)
			}
			if got := kinds(p.drops); got != tc.wantDrops {
				t.Errorf("drops %q, want %q", got, tc.wantDrops)
			}
			if got := kinds(p.changes); got != tc.wantChanges {
				t.Errorf("changes %q, want %q", got, tc.wantChanges)
			}
			if p.create != tc.create || p.recreate != tc.recreate || p.repopulate != tc.repopulate {
				t.Errorf("create %v recreate %v repopulate %v (%s), want %v %v %v", p.create, p.recreate, p.repopulate, p.reason, tc.create, tc.recreate, tc.repopulate)
			}
		})
	}
}

// TestUnionDefinition: a table created for tenants that already have schemas of it takes all of them.
func TestUnionDefinition(t *testing.T) {
	a := sharedModel(t, col("id", "int", false, ""), col("name", "nvarchar(50)", false, ""))
	b := sharedModel(t, col("id", "int", false, ""), col("name", "nvarchar(80)", false, ""), col("x", "int", false, ""))
	u, err := unionDefinition("contact", a, []*tableModel{b})
	if err != nil {
		t.Fatal(err)
	}
	if got := columnsOf(u); got != "id int not null, name nvarchar(80) not null, x int" {
		t.Fatalf("union %q", got)
	}
	c := sharedModel(t, col("id", "int", false, ""), col("name", "int", false, ""))
	if _, err := unionDefinition("contact", a, []*tableModel{c}); err == nil {
		t.Fatal("incompatible types made a union")
	}
}

package engine

import (
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
)

var (
	softDelete = addedColumn{Name: DefaultDeletedAtColumn, Role: roleDeletedAt}
	mirroredAt = addedColumn{Name: DefaultMirroredAtColumn, Role: roleMirroredAt}
)

func addedModel(t *testing.T, ts contract.TableSchema, added ...addedColumn) *tableModel {
	t.Helper()
	m, err := buildModel(ts, nil, added)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAddedColumnsInTheModel: a table without added columns is stored and hashed as before they existed;
// with them, its stored schema records them, they come after the source's columns (which a batch's
// rows hold), and turning them on or off is an in-place change.
func TestAddedColumnsInTheModel(t *testing.T) {
	ts := table("contact", col("contact_id", "int", false, ""), col("name", "nvarchar(20)", true, ""))
	plain := addedModel(t, ts)
	if want := `{"columns":[{"Name":"contact_id","Type":"int","DefaultValue":"","IsNullable":false},` +
		`{"Name":"name","Type":"nvarchar(20)","DefaultValue":"","IsNullable":true}],"key":["contact_id"]}`; plain.json != want {
		t.Fatalf("the stored schema of a table without added columns changed:\n got %s\nwant %s", plain.json, want)
	}
	soft := addedModel(t, ts, softDelete, mirroredAt)
	if soft.hash == plain.hash || !strings.Contains(soft.json, `"added":[{"name":"_deleted_at","role":"deleted_at"},{"name":"_mirrored_at","role":"mirrored_at"}]`) {
		t.Fatalf("added columns are not in the stored schema: %s", soft.json)
	}
	if len(soft.table.Columns) != 4 || soft.table.DeletedAt != "_deleted_at" || soft.table.MirroredAt != "_mirrored_at" ||
		soft.table.Columns[2].Type != dialect.AddedTimeType || !soft.table.Columns[3].Nullable {
		t.Fatalf("the table with added columns: %+v", soft.table)
	}
	if src := soft.source(); len(src.Columns) != 2 || src.DeletedAt != "" || len(soft.columns()) != 2 {
		t.Fatalf("the source's part of the table: %+v", src)
	}
	back, err := parseStored("contact", soft.json)
	if err != nil || back.hash != soft.hash || back.table.DeletedAt != "_deleted_at" {
		t.Fatalf("the stored schema does not read back: %+v, %v", back, err)
	}
	if got := kinds(planChanges(plain, soft).changes); got != "add column _deleted_at, add column _mirrored_at" {
		t.Errorf("turning the columns on: %s", got)
	}
	if p := planChanges(soft, plain); p.recreate || kinds(p.changes) != "drop column _deleted_at, drop column _mirrored_at" {
		t.Errorf("turning the columns off: %+v", p)
	}
}

// TestAddedColumnCollision: a source column named like an added column, without regard to case, fails
// its table with a message naming table, column and setting.
func TestAddedColumnCollision(t *testing.T) {
	ts := table("contact", col("contact_id", "int", false, ""), col("_Deleted_At", "datetime", true, ""))
	_, err := buildModel(ts, nil, []addedColumn{softDelete})
	want := `table "contact": column "_Deleted_At" has the name of the soft-delete column (deleted_at_column) that mirrorsink adds`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%v, want %q", err, want)
	}
	ts = table("contact", col("contact_id", "int", false, ""), col("_MIRRORED_AT", "datetime", true, ""))
	if _, err := buildModel(ts, nil, []addedColumn{mirroredAt}); err == nil || !strings.Contains(err.Error(), "mirrored-at column (mirrored_at_column)") {
		t.Fatalf("a mirrored-at collision: %v", err)
	}
}

// TestPlanSharedAddedColumns: a shared table keeps an added column while any of its tenants writes it,
// adds it with the first tenant that does, and drops it with the last.
func TestPlanSharedAddedColumns(t *testing.T) {
	ts := table("contact", col("id", "int", false, ""), col("name", "nvarchar(50)", true, ""))
	none := addedModel(t, ts)
	soft := addedModel(t, ts, softDelete)
	both := addedModel(t, ts, softDelete, mirroredAt)
	for _, tc := range []struct {
		name             string
		def, next        *tableModel
		others           []*tableModel
		drops, changes   string
		wantDeletedAt    string
		wantAddedColumns int
	}{
		{"the first tenant turns soft deletes on", none, soft, []*tableModel{none}, "", "add column _deleted_at", "_deleted_at", 1},
		{"another tenant still has them", soft, none, []*tableModel{soft}, "", "", "_deleted_at", 1},
		{"the last tenant turns them off", soft, none, nil, "drop column _deleted_at", "", "", 0},
		{"mirrored_at goes, soft deletes stay", both, soft, nil, "drop column _mirrored_at", "", "_deleted_at", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := planShared("contact", tc.def, tc.others, tc.def, tc.next)
			if err != nil {
				t.Fatal(err)
			}
			if kinds(p.drops) != tc.drops || kinds(p.changes) != tc.changes || p.repopulate || p.recreate {
				t.Fatalf("drops %q, changes %q (repopulate %v), want %q, %q", kinds(p.drops), kinds(p.changes), p.repopulate, tc.drops, tc.changes)
			}
			if p.def.table.DeletedAt != tc.wantDeletedAt || len(p.def.stored.Added) != tc.wantAddedColumns {
				t.Fatalf("the shared definition: %+v", p.def.stored)
			}
		})
	}
	// A new shared table has the union of its tenants' added columns.
	def, err := unionDefinition("contact", none, []*tableModel{both})
	if err != nil || len(def.table.Columns) != 4 || def.table.MirroredAt != "_mirrored_at" {
		t.Fatalf("a new shared table: %+v, %v", def, err)
	}
}

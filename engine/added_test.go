package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// clock is a settable Options.Now.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// contactSchema is the table of the soft-delete tests.
var contactSchema = contract.TableSchema{Name: "contact", Columns: []contract.Column{
	{Name: "contact_id", Type: "int"}, {Name: "name", Type: "nvarchar(20)", IsNullable: true},
}}

// send applies one batch of contact rows: each "op id name" (name "-" for a delete of the key only).
func send(t *testing.T, e *engine.Engine, lsn int64, rowsText ...string) {
	t.Helper()
	b := &contract.Batch{Table: contactSchema, LSN: lsn, Rows: &rows{}}
	r := b.Rows.(*rows)
	for _, line := range rowsText {
		f := strings.Fields(line)
		op := map[string]contract.Operation{"I": contract.Insert, "U": contract.Update, "D": contract.Delete}[f[0]]
		vals := []string{"[I:" + f[1] + "]"}
		if f[2] != "-" {
			vals = append(vals, f[2])
		}
		r.data, r.ops = append(r.data, vals), append(r.ops, op)
	}
	if err := e.RowData(context.Background(), contract.Call{Tenant: "Cust1"}, &batches{b}); err != nil {
		t.Fatal(err)
	}
}

// readContact reads the mirror's contact table as "id name deleted_at mirrored_at" lines (times as
// offsets from base in seconds, "-" for NULL), sorted by id; added lists the added columns to read.
func readContact(t *testing.T, dir string, base time.Time, added ...string) ([]string, error) {
	t.Helper()
	ctx := context.Background()
	d, err := dialect.Lookup("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	// A transaction of its own, ended at once: SQLite's transactions hold the file's write lock.
	store, err := d.Open(ctx, dir+"/Cust1.db", dialect.OpenOptions{Tenant: "Cust1"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tx, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	tbl := dialect.Table{Name: "contact", Key: []int{0}, Columns: []typemap.Column{
		{Name: "contact_id", Type: typemap.Type{Kind: typemap.Int}},
		{Name: "name", Type: typemap.Type{Kind: typemap.NVarChar, Length: 20}, Nullable: true},
	}}
	for _, name := range added {
		tbl.Columns = append(tbl.Columns, typemap.Column{Name: name, Type: dialect.AddedTimeType, Nullable: true})
	}
	byID := map[int64]string{}
	var ids []int64
	err = tx.Tables().Read(ctx, tbl, func(v []any) error {
		line := fmt.Sprint(v[0], " ", v[1])
		for _, x := range v[2:] {
			if x == nil {
				line += " -"
				continue
			}
			line += fmt.Sprintf(" %.0f", x.(time.Time).Sub(base).Seconds())
		}
		byID[v[0].(int64)] = line
		ids = append(ids, v[0].(int64))
		return nil
	})
	var out []string
	for id := int64(0); len(out) < len(ids); id++ {
		if line, ok := byID[id]; ok {
			out = append(out, line)
		}
	}
	return out, err
}

func expectContact(t *testing.T, dir string, base time.Time, want []string, added ...string) {
	t.Helper()
	got, err := readContact(t, dir, base, added...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the mirror's contact rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSoftDeletes: a delete keeps the row's last values and marks it with the batch's time, also in
// the mirrored-at column; a delete of an unknown key does nothing; a delete of a row marked already
// keeps the first time; an insert or update of the key revives it; a Wipe empties the table.
func TestSoftDeletes(t *testing.T) {
	base := time.Date(2026, 5, 18, 10, 0, 0, 0, time.UTC)
	clk := &clock{now: base.Add(123456789)} // the time's nanoseconds are cut to microseconds
	e, dir := newEngine(t, func(o *engine.Options) {
		o.Default.Deletes, o.Default.MirroredAt, o.Now = engine.SoftDeletes, true, clk.Now
	})
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust1"}
	if _, err := e.TableSchema(ctx, call, []contract.TableSchema{contactSchema}); err != nil {
		t.Fatal(err)
	}
	if err := e.Wipe(ctx, call, "contact"); err != nil {
		t.Fatal(err)
	}
	clk.now = base.Add(time.Second)
	send(t, e, 1, "I 1 one", "I 2 two", "I 3 three") // the bulk path
	clk.now = base.Add(2 * time.Second)
	send(t, e, 2, "D 2 -", "U 3 three+", "D 99 -")
	expectContact(t, dir, base, []string{"1 one - 1", "2 two 2 2", "3 three+ - 2"}, "_deleted_at", "_mirrored_at")
	clk.now = base.Add(3 * time.Second)
	send(t, e, 3, "I 2 two-again", "D 1 one")
	clk.now = base.Add(4 * time.Second)
	send(t, e, 4, "D 1 one") // sent again: the first time stays
	expectContact(t, dir, base, []string{"1 one 3 3", "2 two-again - 3", "3 three+ - 2"}, "_deleted_at", "_mirrored_at")
	if err := e.Wipe(ctx, call, "contact"); err != nil {
		t.Fatal(err)
	}
	expectContact(t, dir, base, nil, "_deleted_at", "_mirrored_at")
}

// TestAddedColumnsChangeInPlace: turning soft deletes and mirrored_at on for a mirror that has rows adds
// the columns in place (the rows stay, NULL there, and the LSN is kept: nothing is sent again);
// turning soft deletes off removes the rows kept as deleted and drops the column, again in place.
func TestAddedColumnsChangeInPlace(t *testing.T) {
	base := time.Date(2026, 5, 18, 10, 0, 0, 0, time.UTC)
	clk := &clock{now: base}
	dir := t.TempDir()
	open := func(deletes engine.Deletes, mirrored bool) *engine.Engine {
		e, _ := newEngine(t, func(o *engine.Options) {
			o.Default.DSN = dir + "/{ctx}.db"
			o.Default.Deletes, o.Default.MirroredAt, o.Now = deletes, mirrored, clk.Now
		})
		return e
	}
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust1"}
	schema := func(e *engine.Engine) int64 {
		t.Helper()
		lsns, err := e.TableSchema(ctx, call, []contract.TableSchema{contactSchema})
		if err != nil {
			t.Fatal(err)
		}
		return lsns[0].LSN
	}
	e := open(engine.HardDeletes, false)
	schema(e)
	if err := e.Wipe(ctx, call, "contact"); err != nil {
		t.Fatal(err)
	}
	send(t, e, 5, "I 1 one", "I 2 two")
	e.Close()

	e = open(engine.SoftDeletes, true)
	if lsn := schema(e); lsn != 5 {
		t.Fatalf("turning the added columns on answered LSN %d, want 5 (kept)", lsn)
	}
	expectContact(t, dir, base, []string{"1 one - -", "2 two - -"}, "_deleted_at", "_mirrored_at")
	clk.now = base.Add(time.Second)
	send(t, e, 6, "D 2 -")
	expectContact(t, dir, base, []string{"1 one - -", "2 two 1 1"}, "_deleted_at", "_mirrored_at")
	e.Close()

	e = open(engine.HardDeletes, true)
	if lsn := schema(e); lsn != 6 {
		t.Fatalf("turning soft deletes off answered LSN %d, want 6 (kept)", lsn)
	}
	expectContact(t, dir, base, []string{"1 one -"}, "_mirrored_at")
	if _, err := readContact(t, dir, base, "_deleted_at"); err == nil {
		t.Fatal("the soft-delete column is still there")
	}
	st, err := e.Status(ctx, "Cust1")
	if err != nil || len(st.Tables) != 1 || st.Tables[0].Rows != 1 || st.Tables[0].LSN != 6 {
		t.Fatalf("status %+v, %v", st, err)
	}
}

// TestAddedColumnCollisionFailsItsTable: a source column named like an added column fails its table
// only, naming table and column; the call's other tables are created.
func TestAddedColumnCollisionFailsItsTable(t *testing.T) {
	e, _ := newEngine(t, func(o *engine.Options) { o.Default.Deletes = engine.SoftDeletes })
	clash := contract.TableSchema{Name: "person", Columns: []contract.Column{{Name: "person_id", Type: "int"}, {Name: "_DELETED_AT", Type: "datetime", IsNullable: true}}}
	_, err := e.TableSchema(context.Background(), contract.Call{Tenant: "Cust1"}, []contract.TableSchema{contactSchema, clash})
	want := `1 of 2 tables failed (the others were applied): table "person": table "person": column "_DELETED_AT" has the name of the soft-delete column (deleted_at_column)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%v, want %q", err, want)
	}
}

// TestFanInRoutesAgreeOnAddedColumns: fan-in routes sharing a schema must add the same columns.
func TestFanInRoutesAgreeOnAddedColumns(t *testing.T) {
	dsn := "postgres://u@h/analytics"
	_, err := engine.New(engine.Options{Tenants: map[string]engine.Route{
		"A": {Dialect: "postgres", DSN: dsn, Layout: engine.FanIn, Deletes: engine.SoftDeletes},
		"B": {Dialect: "postgres", DSN: dsn, Layout: engine.FanIn},
	}})
	if err == nil || !strings.Contains(err.Error(), "share a fan-in schema with different deletes, mirrored_at") {
		t.Fatalf("%v", err)
	}
}

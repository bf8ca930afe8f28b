package enginetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
)

// Cases of issue 11: what partners put on a mirror, and table shapes every target must take.

// testPartnerView puts a partner's view on contact, then changes contact as SuperOffice does: a column
// widened (in place), an incompatible type change (a recreate), a column the view reads dropped. Every
// change succeeds, together with a new table in the same call; the view reads the table after each
// change it can survive, and when one costs the view, status names it and the metric counts it.
func testPartnerView(t *testing.T, h *harness) {
	contact, company := simple("contact"), simple("company")
	h.schema(contact)
	h.wipe(contact.Name)
	rows := []wireRow{simpleRow(contract.Insert, 1, "a"), simpleRow(contract.Insert, 2, "b"), simpleRow(contract.Insert, 3, "c")}
	h.mustRowData(batch(contact, 10, rows...))
	h.exec("CREATE VIEW " + h.quoted("contact_names") + " AS SELECT id, name FROM " + h.quoted("contact"))
	viewRows := func(want int64) {
		t.Helper()
		n, err := h.count("contact_names")
		if err != nil || n != want {
			t.Fatalf("the partner's view: %d rows, %v; want %d rows", n, err, want)
		}
	}
	noneLost := func() {
		t.Helper()
		if lost := h.status("contact").LostObjects; len(lost) > 0 {
			t.Fatalf("status says the change lost %v", lost)
		}
	}

	// SuperOffice widens contact.name: an in-place change, which keeps the rows and the LSN.
	widened := simple("contact")
	widened.Columns[1].Type = "nvarchar(100)"
	if got := h.schema(widened, company); got["contact"] != 10 || got["company"] != -1 {
		t.Fatalf("widening a column the partner's view reads: %v, want contact at 10 and company new", got)
	}
	viewRows(3)
	noneLost()
	h.compare(widened, h.want(widened, rows...))

	// A change no database makes in place: the table is recreated, empty, and the view with it.
	recreated := widened
	recreated.Columns = append([]contract.Column{}, widened.Columns...)
	recreated.Columns[2] = contract.Column{Name: "amount", Type: "nvarchar(20)", IsNullable: true}
	if got := h.schema(recreated, company); got["contact"] != -1 {
		t.Fatalf("an incompatible change answered %d, want -1", got["contact"])
	}
	viewRows(0)
	noneLost()
	h.wipe(recreated.Name)
	again := []wireRow{row(contract.Insert, str("[I:1]"), str("a"), str("1"), str("[DT:05/18/2020 10:40:43.0000000]"))}
	h.mustRowData(batch(recreated, 11, again...))
	viewRows(1)

	// The source drops the column the view reads: the change goes ahead. Where the database cannot
	// keep the view (PostgreSQL drops and re-creates it around the change), status names it.
	before := h.eng.Metrics().SchemaWork().PartnerObjectsFailed
	dropped := recreated
	dropped.Columns = append([]contract.Column{recreated.Columns[0]}, recreated.Columns[2:]...)
	h.schema(dropped, company)
	lost := h.status("contact").LostObjects
	counted := h.eng.Metrics().SchemaWork().PartnerObjectsFailed - before
	if counted != int64(len(lost)) {
		t.Fatalf("status names %d lost objects, the metric counted %d", len(lost), counted)
	}
	for _, o := range lost {
		if !strings.Contains(o.Object, "contact_names") || o.Reason == "" {
			t.Fatalf("status names lost object %+v, want the view contact_names with a reason", o)
		}
	}
	if h.tgt.Dialect == "postgres" && len(lost) != 1 {
		t.Fatalf("PostgreSQL cannot keep a view of a dropped column, but status names %v as lost", lost)
	}
	// The next change that keeps everything forgets the loss.
	kept := dropped
	kept.Columns = append(append([]contract.Column{}, dropped.Columns...), contract.Column{Name: "note", Type: "nvarchar(10)", IsNullable: true})
	h.schema(kept, company)
	noneLost()
}

// testBlockedRecreate: a partner's table references contact with a foreign key, which keeps some
// databases from dropping contact. A change that must recreate contact then fails for contact
// alone: the new table of the same call is created, the call names contact, and contact keeps its
// rows and LSN until the partner's object is gone, when the same request succeeds.
func testBlockedRecreate(t *testing.T, h *harness) {
	contact, company := simple("contact"), simple("company")
	h.schema(contact)
	h.wipe(contact.Name)
	h.mustRowData(batch(contact, 10, simpleRow(contract.Insert, 1, "a")))
	if h.fanIn() {
		// A shared table's key begins with the tenant column. Citus refuses a foreign key from a local
		// table to a distributed one: there is no such partner object to test.
		if err := h.tryExec("CREATE TABLE " + h.quoted("partner_ref") + " (id int PRIMARY KEY, tenant varchar(50), contact_id int, " +
			"FOREIGN KEY (tenant, contact_id) REFERENCES " + h.quoted("contact") + " (tenant, id))"); err != nil {
			t.Skipf("the database refuses a partner's foreign key to a shared table: %v", err)
		}
	} else {
		h.exec("CREATE TABLE " + h.quoted("partner_ref") + " (id int PRIMARY KEY, contact_id int, FOREIGN KEY (contact_id) REFERENCES " +
			h.quoted("contact") + " (id))")
	}
	changed := simple("contact")
	changed.Columns[2] = contract.Column{Name: "amount", Type: "nvarchar(20)", IsNullable: true}
	_, err := h.eng.TableSchema(h.ctx, h.call(), []contract.TableSchema{changed, company})
	if n, cerr := h.count("company"); cerr != nil || n != 0 {
		t.Fatalf("the new table of the call: %d rows, %v; want it created", n, cerr)
	}
	if err == nil {
		t.Logf("%s dropped a table that a foreign key references", h.tgt.Dialect)
		return
	}
	var te *engine.TableErrors
	if !errors.As(err, &te) || len(te.Tables) != 1 || te.Tables[0] != "contact" {
		t.Fatalf("the call failed with %v, want it to name contact alone", err)
	}
	// Its rows stay. Where DDL commits by itself the table was marked for repopulation before the
	// recreate began (a recreate stopped half way must not keep an LSN for rows that are gone), so it
	// answers -1 and is sent again; elsewhere the failed change left everything as it was.
	wantLSN := int64(10)
	if !h.caps.TransactionalDDL {
		wantLSN = -1
	}
	if st := h.status("contact"); st.LSN != wantLSN || st.Rows != 1 {
		t.Fatalf("contact after its failed change: LSN %d, %d rows; want %d and 1", st.LSN, st.Rows, wantLSN)
	}
	h.exec("DROP TABLE " + h.quoted("partner_ref"))
	if got := h.schema(changed, company); got["contact"] != -1 || got["company"] != -1 {
		t.Fatalf("the retry: %v", got)
	}
}

// linkTable is a Northwind-style table whose columns are all key columns (the harness's engine has
// the key override).
const linkTable = "EmployeeTerritories"

// testLinkTable runs an incremental cycle on a table of key columns only: a resent insert of an
// existing key (the bulk path falls back to the upsert), an update, a new key and a delete. The upsert
// has nothing to update and must keep the existing keys (MariaDB once refused it: "Column
// 'EmployeeID' in UPDATE is ambiguous").
func testLinkTable(t *testing.T, h *harness) {
	ts := contract.TableSchema{Name: linkTable, Columns: []contract.Column{{Name: "EmployeeID", Type: "int"}, {Name: "TerritoryID", Type: "nvarchar(20)"}}}
	h.schema(ts)
	h.wipe(ts.Name)
	w := func(op contract.Operation, e, terr string) wireRow { return row(op, str("[I:"+e+"]"), str(terr)) }
	h.mustRowData(batch(ts, 5, w(contract.Insert, "1", "06897"), w(contract.Insert, "1", "19713"), w(contract.Insert, "2", "01581")))
	h.mustRowData(batch(ts, 6, w(contract.Insert, "1", "06897"), w(contract.Insert, "3", "30346")))
	h.mustRowData(batch(ts, 7, w(contract.Update, "2", "01581"), w(contract.Update, "4", "44122"), w(contract.Delete, "1", "19713")))
	h.compare(ts, [][]string{{"1", "06897"}, {"2", "01581"}, {"3", "30346"}, {"4", "44122"}})
	if got := h.lsn(ts); got != 7 {
		t.Fatalf("LSN %d, want 7", got)
	}
}

// testSystemNames mirrors tables named like the catalogs of the targets (pg_description, pg_class,
// sysobjects): every name is qualified, so a delete in the mirror's pg_description is one there, and
// nothing else. Names SQLite reserves (sqlite_*) are refused with a clear error, nothing else of the
// call.
func testSystemNames(t *testing.T, h *harness) {
	var tables []contract.TableSchema
	for _, name := range []string{"pg_description", "pg_class", "sysobjects"} {
		tables = append(tables, contract.TableSchema{Name: name, Columns: []contract.Column{
			{Name: "objoid", Type: "int"}, {Name: "description", Type: "nvarchar(50)", IsNullable: true}}})
	}
	h.schema(tables...)
	for i, ts := range tables {
		h.wipe(ts.Name)
		h.mustRowData(batch(ts, int64(10+i), row(contract.Insert, str("[I:1]"), str("one")), row(contract.Insert, str("[I:2]"), str("two"))))
		h.mustRowData(batch(ts, int64(20+i), row(contract.Delete, str("[I:1]"))))
		h.compare(ts, [][]string{{"2", "two"}})
	}
	reserved := contract.TableSchema{Name: "sqlite_stat9", Columns: tables[0].Columns}
	_, err := h.eng.TableSchema(h.ctx, h.call(), append(tables, reserved))
	if h.tgt.Dialect != "sqlite" {
		if err != nil {
			t.Fatalf("a table named %q: %v", reserved.Name, err)
		}
		return
	}
	var te *engine.TableErrors
	if !errors.As(err, &te) || len(te.Tables) != 1 || te.Tables[0] != reserved.Name || !errors.Is(err, dialect.ErrBadName) {
		t.Fatalf("a table named %q on SQLite: %v, want it alone refused with ErrBadName", reserved.Name, err)
	}
	for i, ts := range tables {
		if got := h.status(ts.Name).LSN; got != int64(20+i) {
			t.Fatalf("%s after the refused name: LSN %d, want %d", ts.Name, got, 20+i)
		}
	}
}

package enginetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/webhook"
	"github.com/mirrorsink/mirrorsink/internal/webhook/webhooktest"
)

// The operator's cases: the admin events as SQL hooks and webhooks, pause and resume across engines
// on one mirror (replicas), and the failure log.

// engine returns another engine on the harness's mirror (a replica), configured by tune.
func (h *harness) engine(tune func(*engine.Options)) *engine.Engine {
	h.t.Helper()
	opts := engine.Options{
		Tenants: map[string]engine.Route{h.tenant: h.route},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if tune != nil {
		tune(&opts)
	}
	e, err := engine.New(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { e.Close() })
	return e
}

// partnerTable creates a table of the partner's own in the mirror (not a mirrored one).
func (h *harness) partnerTable(name string, key []string, cols ...contract.Column) dialect.Table {
	h.t.Helper()
	tbl, err := conformance.MakeTable(name, cols, key...)
	if err != nil {
		h.t.Fatal(err)
	}
	// Through the raw store: in the fan-in layout the harness's store would give it a tenant column.
	tx, err := h.raw.Begin(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := tx.Tables().Create(h.ctx, tbl); err != nil {
		tx.Rollback(h.ctx)
		h.t.Fatal(err)
	}
	if err := tx.Commit(h.ctx, dialect.Durable); err != nil {
		h.t.Fatal(err)
	}
	return tbl
}

// inTx runs fn in a transaction of the harness's own store and commits it.
func (h *harness) inTx(fn func(tx dialect.Tx) error) {
	h.t.Helper()
	tx, err := h.store.Begin(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback(h.ctx)
		h.t.Fatal(err)
	}
	if err := tx.Commit(h.ctx, dialect.Durable); err != nil {
		h.t.Fatal(err)
	}
}

// readTable reads a mirrored table (the tenant's rows) as canonical text, sorted.
func (h *harness) readTable(tbl dialect.Table) [][]string {
	h.t.Helper()
	return h.readFrom(h.store, tbl)
}

// readPartner reads a table of the partner's own as canonical text, sorted, through the raw store
// (in the fan-in layout the harness's store would look for a tenant column).
func (h *harness) readPartner(tbl dialect.Table) [][]string {
	h.t.Helper()
	return h.readFrom(h.raw, tbl)
}

func (h *harness) readFrom(st dialect.Store, tbl dialect.Table) [][]string {
	h.t.Helper()
	tx, err := st.Begin(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	defer tx.Rollback(h.ctx)
	out, err := conformance.ReadCanonical(h.ctx, tx, tbl, h.caps.Losses())
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// statementFails reports the error of one statement run in a transaction that is rolled back.
func (h *harness) statementFails(stmt string) error {
	tx, err := h.store.Begin(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	defer tx.Rollback(h.ctx)
	return tx.RunStatement(h.ctx, stmt)
}

func nvarchar(name string, n int) contract.Column {
	return contract.Column{Name: name, Type: fmt.Sprintf("nvarchar(%d)", n)}
}

func integer(name, typ string) contract.Column { return contract.Column{Name: name, Type: typ} }

// record is a hook that keeps the latest event of each kind and table in the partner's table seen.
func record(kind, table, changed, recreated string) engine.Hook {
	return engine.Hook{Statements: []string{
		"DELETE FROM seen WHERE kind = '" + kind + "' AND tablename = " + table,
		"INSERT INTO seen (kind, tablename, changed, recreated, tenant) VALUES ('" + kind + "', " + table + ", " + changed + ", " + recreated + ", {ctx_literal})",
	}}
}

// testEvents raises every event with a SQL hook and a webhook on each: before_table as a table is
// created, left unchanged, changed in place and recreated (its flags each time); after_wipe; and
// after_cycle, whose hook reads the cycle it just recorded through {cycles_table} and {cycle_id} to
// refresh a derived table. A before_table hook creates an index when a table's schema changed; when
// that fails (the index survived an in-place change), the call still succeeds and the failure is in
// the tenant's failure log.
func testEvents(t *testing.T, h *harness) {
	seen := h.partnerTable("seen", []string{"kind", "tablename"}, nvarchar("kind", 20), nvarchar("tablename", 128),
		integer("changed", "int"), integer("recreated", "int"), nvarchar("tenant", 60))
	derived := h.partnerTable("derived", []string{"cycleid"}, integer("cycleid", "bigint"), integer("evtrows", "bigint"), integer("inserts", "bigint"))
	recv := webhooktest.New(t)
	hooks, err := webhook.New(webhook.Options{Endpoints: []webhook.Endpoint{recv.Endpoint()}, RootCAs: recv.RootCAs, Workers: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hooks.Close(context.Background()) })
	e := h.engine(func(o *engine.Options) {
		o.Hooks = engine.Hooks{
			BeforeTable: []engine.Hook{
				record("before_table", "{table_literal}", "{schema_changed}", "{recreated}"),
				{ChangedOnly: true, Statements: []string{"CREATE UNIQUE INDEX evt_name_u ON {table} (name)"}},
			},
			AfterWipe: []engine.Hook{record("after_wipe", "{table_literal}", "0", "0")},
			AfterCycle: []engine.Hook{
				record("after_cycle", "'-'", "0", "0"),
				{Statements: []string{
					"DELETE FROM derived",
					"INSERT INTO derived (cycleid, evtrows, inserts) SELECT c.id, (SELECT COUNT(*) FROM evt), c.inserts FROM {cycles_table} c WHERE c.id = {cycle_id}",
				}},
			},
		}
		o.Notifier = hooks
	})
	call := h.call()
	schema := func(ts contract.TableSchema) int64 {
		t.Helper()
		got, err := e.TableSchema(h.ctx, call, []contract.TableSchema{ts})
		if err != nil {
			t.Fatalf("TableSchema: %v", err)
		}
		return got[0].LSN
	}
	// expect checks the partner table seen for one event, and the webhook that came with it.
	expect := func(step, kind, table, changed, recreated string) webhooktest.Attempt {
		t.Helper()
		want := []string{kind, table, changed, recreated, h.tenant}
		var got []string
		for _, r := range h.readPartner(seen) {
			if r[0] == kind && r[1] == table {
				got = r
			}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s: the SQL hook recorded %q, want %q", step, got, want)
		}
		a := recv.Next(t)
		if !a.Signed || a.Body.Event != kind || a.Body.Tenant != h.tenant || a.Event != kind {
			t.Fatalf("%s: webhook %s", step, a.Raw)
		}
		if kind == "before_table" {
			if a.Body.Table != table || a.Body.SchemaChanged == nil || a.Body.Recreated == nil ||
				fmt.Sprint(b2i(*a.Body.SchemaChanged), b2i(*a.Body.Recreated)) != changed+" "+recreated {
				t.Fatalf("%s: webhook %s, want table %s, schema_changed %s, recreated %s", step, a.Raw, table, changed, recreated)
			}
		}
		return a
	}
	indexExists := func(step string) {
		t.Helper()
		err := h.statementFails("CREATE UNIQUE INDEX evt_name_u ON evt (name)")
		if err == nil || !strings.Contains(err.Error(), "evt_name_u") {
			t.Fatalf("%s: creating the hook's index again: %v, want an error saying evt_name_u exists", step, err)
		}
	}

	evt := contract.TableSchema{Name: "evt", Columns: []contract.Column{
		{Name: "id", Type: "int"}, {Name: "name", Type: "nvarchar(50)", IsNullable: true}}}
	if lsn := schema(evt); lsn != -1 {
		t.Fatalf("a new table answered %d", lsn)
	}
	expect("created", "before_table", "evt", "1", "0")
	indexExists("created")

	if err := e.Wipe(h.ctx, call, "evt"); err != nil {
		t.Fatal(err)
	}
	if a := expect("wiped", "after_wipe", "evt", "0", "0"); a.Body.Table != "evt" || a.Body.SchemaChanged != nil {
		t.Fatalf("after_wipe webhook: %s", a.Raw)
	}
	if err := e.RowData(h.ctx, call, &memBatches{batches: []*contract.Batch{batch(evt, 10,
		row(contract.Insert, str("[I:1]"), str("a")), row(contract.Insert, str("[I:2]"), str("b")))}}); err != nil {
		t.Fatal(err)
	}

	if lsn := schema(evt); lsn != 10 {
		t.Fatalf("an unchanged table answered %d", lsn)
	}
	expect("unchanged", "before_table", "evt", "0", "0")

	if err := e.ReplicationCompleted(h.ctx, call, []contract.Summary{{Table: "evt", Inserts: 2}}); err != nil {
		t.Fatal(err)
	}
	a := expect("cycle", "after_cycle", "-", "0", "0")
	got := h.readPartner(derived)
	if a.Body.Cycle == 0 || a.Body.Summary == nil || len(*a.Body.Summary) != 1 || (*a.Body.Summary)[0] != (engine.TableSummary{Table: "evt", Inserts: 2}) {
		t.Fatalf("after_cycle webhook: %s", a.Raw)
	}
	if len(got) != 1 || strings.Join(got[0], " ") != fmt.Sprintf("%d 2 2", a.Body.Cycle) {
		t.Fatalf("the derived table holds %v, want the cycle %d with 2 rows of evt and 2 inserts", got, a.Body.Cycle)
	}

	// In place: the index survives, so the hook that creates it fails. The call does not.
	evt.Columns = append(evt.Columns, contract.Column{Name: "note", Type: "nvarchar(10)", IsNullable: true})
	if lsn := schema(evt); lsn != 10 {
		t.Fatalf("a table changed in place answered %d, want its LSN 10", lsn)
	}
	expect("changed in place", "before_table", "evt", "1", "0")
	fs, err := e.Failures(h.ctx, h.tenant, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Operation != "hook before_table" || fs[0].Table != "evt" || fs[0].Class != engine.ClassHook ||
		!strings.Contains(fs[0].Message, "evt_name_u") {
		t.Fatalf("the failure log's newest entry after a failed hook: %+v", fs)
	}
	if n := e.Metrics().HookFailures(engine.BeforeTable, "sql"); n != 1 {
		t.Fatalf("mirrorsink_hook_failures_total{event=before_table,kind=sql} = %d, want 1", n)
	}

	// A narrowed column cannot change in place: the table is recreated.
	evt.Columns[1].Type = "nvarchar(20)"
	if lsn := schema(evt); lsn != -1 {
		t.Fatalf("a recreated table answered %d", lsn)
	}
	expect("recreated", "before_table", "evt", "1", "1")
	indexExists("recreated")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// testRequiredHook: a required hook's failure fails the call, after the event's own change committed;
// SuperOffice's retry raises the event again, also a before_table whose schema change the failed
// call had already committed (so the retry would otherwise see the table unchanged).
func testRequiredHook(t *testing.T, h *harness) {
	e := h.engine(func(o *engine.Options) {
		o.Hooks = engine.Hooks{
			BeforeTable: []engine.Hook{{Required: true, ChangedOnly: true, Statements: []string{"INSERT INTO gate (tablename) VALUES ({table_literal})"}}},
			AfterWipe:   []engine.Hook{{Required: true, Statements: []string{"INSERT INTO gate (tablename) VALUES ('wiped')"}}},
		}
	})
	call := h.call()
	ts := simple("guarded")
	_, err := e.TableSchema(h.ctx, call, []contract.TableSchema{ts})
	var te *engine.TableErrors
	if !errors.As(err, &te) || len(te.Tables) != 1 || te.Tables[0] != "guarded" || !strings.Contains(err.Error(), "required before_table hook failed") {
		t.Fatalf("TableSchema with a failing required hook: %v", err)
	}
	if strings.Contains(err.Error(), "gate") {
		t.Fatalf("the call's message shows the partner's SQL error: %v", err)
	}
	h.inTx(func(tx dialect.Tx) error {
		if ok, err := tx.Tables().Exists(h.ctx, "guarded"); err != nil || !ok {
			return fmt.Errorf("the table whose required hook failed was not kept: %v, %v", ok, err)
		}
		return nil
	})
	if err := e.Wipe(h.ctx, call, "guarded"); err == nil || !strings.Contains(err.Error(), "required after_wipe hook failed") {
		t.Fatalf("Wipe with a failing required hook: %v", err)
	}

	gate := h.partnerTable("gate", []string{"tablename"}, nvarchar("tablename", 128))
	if got, err := e.TableSchema(h.ctx, call, []contract.TableSchema{ts}); err != nil || got[0].LSN != -1 {
		t.Fatalf("the retried TableSchema: %v, %v", got, err)
	}
	if err := e.Wipe(h.ctx, call, "guarded"); err != nil {
		t.Fatalf("the retried Wipe: %v", err)
	}
	if got := h.readPartner(gate); fmt.Sprint(got) != "[[guarded] [wiped]]" {
		t.Fatalf("the hooks recorded %v, want the table's schema change raised again on the retry, and the wipe", got)
	}
	// Unchanged now: a changed_only hook does not run again (it would fail on the duplicate key).
	if _, err := e.TableSchema(h.ctx, call, []contract.TableSchema{ts}); err != nil {
		t.Fatalf("TableSchema of the unchanged table: %v", err)
	}
	fs, err := e.Failures(h.ctx, h.tenant, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, f := range fs {
		ops = append(ops, f.Operation+"/"+f.Class)
	}
	if fmt.Sprint(ops) != "[Wipe/hook hook after_wipe/hook TableSchema/hook hook before_table/hook]" {
		t.Fatalf("the failure log holds %v", ops)
	}
}

// testPauseAcrossReplicas pauses through one engine and sees it in another on the same mirror at
// once: Authenticate answers doNotReplicate, every writing call is refused with nothing written, and
// status says who paused, when and why; a resume through the second is seen by the first.
func testPauseAcrossReplicas(t *testing.T, h *harness) {
	a, b := h.eng, h.engine(nil)
	call := h.call()
	kept, added := simple("kept"), simple("added")
	h.schema(kept)
	before := time.Now().Add(-time.Second)
	if err := a.Pause(h.ctx, h.tenant, "ops@host", "moving the database"); err != nil {
		t.Fatal(err)
	}
	if res, err := b.Authenticate(h.ctx, call); err != nil || !res.DoNotReplicate {
		t.Fatalf("Authenticate at the other replica: %+v, %v", res, err)
	}
	for name, do := range map[string]func() error{
		"TableSchema": func() error {
			_, err := b.TableSchema(h.ctx, call, []contract.TableSchema{kept, added})
			return err
		},
		"Wipe": func() error { return b.Wipe(h.ctx, call, "kept") },
		"RowData": func() error {
			return b.RowData(h.ctx, call, &memBatches{batches: []*contract.Batch{batch(kept, 5, simpleRow(contract.Insert, 1, "x"))}})
		},
		"ReplicationCompleted": func() error { return b.ReplicationCompleted(h.ctx, call, nil) },
	} {
		if err := do(); !errors.Is(err, engine.ErrPaused) {
			t.Errorf("%s at the other replica of a paused tenant: %v, want ErrPaused", name, err)
		}
	}
	h.inTx(func(tx dialect.Tx) error {
		n, err := tx.Tables().Count(h.ctx, "kept")
		if ok, _ := tx.Tables().Exists(h.ctx, "added"); ok || err != nil || n != 0 {
			return fmt.Errorf("a paused tenant's mirror was written: added exists %v, kept has %d rows (%v)", ok, n, err)
		}
		return nil
	})
	st, err := b.Status(h.ctx, h.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Paused; p == nil || p.Pinned || p.By != "ops@host" || p.Reason != "moving the database" || p.At.Before(before) || p.At.After(time.Now().Add(time.Second)) {
		t.Fatalf("status of the paused tenant: %+v", st.Paused)
	}
	var refused int
	for _, f := range st.Failures {
		if f.Class == engine.ClassPaused {
			refused++
		}
	}
	if refused != 4 {
		t.Fatalf("the failure log holds %d refusals of the paused tenant's calls, want 4: %+v", refused, st.Failures)
	}

	if had, err := b.Resume(h.ctx, h.tenant); err != nil || !had {
		t.Fatalf("Resume: %v, %v", had, err)
	}
	if res, err := a.Authenticate(h.ctx, call); err != nil || res.DoNotReplicate {
		t.Fatalf("Authenticate at the first replica after the resume: %+v, %v", res, err)
	}
	if got, err := a.TableSchema(h.ctx, call, []contract.TableSchema{kept, added}); err != nil || len(got) != 2 {
		t.Fatalf("TableSchema after the resume: %v, %v", got, err)
	}
	if had, err := a.Resume(h.ctx, h.tenant); err != nil || had {
		t.Fatalf("Resume of a tenant that is not paused: %v, %v", had, err)
	}
	if st, err := a.Status(h.ctx, h.tenant); err != nil || st.Paused != nil {
		t.Fatalf("status after the resume: %+v, %v", st.Paused, err)
	}
}

// testFailureLog: each failed call is recorded with its operation, table and class, without the row
// data SuperOffice's message carries, newest first, and the log keeps its bound.
func testFailureLog(t *testing.T, h *harness) {
	e := h.engine(func(o *engine.Options) { o.FailureLog = 5 })
	call := h.call()
	ts := simple("logged")
	if _, err := e.TableSchema(h.ctx, call, []contract.TableSchema{ts}); err != nil {
		t.Fatal(err)
	}
	bad := batch(ts, 5, row(contract.Insert, str("[I:1]"), str("x"), str("[F:secret-value-42]"), str("[DT:05/18/2020 10:40:43.0000000]")))
	err := e.RowData(h.ctx, call, &memBatches{batches: []*contract.Batch{bad}})
	if err == nil || !strings.Contains(err.Error(), "secret-value-42") {
		t.Fatalf("RowData with a bad value: %v (SuperOffice's message names the value)", err)
	}
	fs, err := e.Failures(h.ctx, h.tenant, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Operation != "RowData" || fs[0].Table != "logged" || fs[0].Class != engine.ClassValue ||
		!strings.Contains(fs[0].Message, `"amount"`) || strings.Contains(fs[0].Message, "secret-value-42") {
		t.Fatalf("the recorded failure: %+v", fs)
	}
	if fs[0].At.Before(time.Now().Add(-time.Minute)) {
		t.Fatalf("the failure's time %s", fs[0].At)
	}
	for i := range 7 {
		if err := e.Wipe(h.ctx, call, fmt.Sprintf("missing%d", i)); err == nil {
			t.Fatal("Wipe of an unknown table succeeded")
		}
	}
	fs, err = e.Failures(h.ctx, h.tenant, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 5 || fs[0].Table != "missing6" || fs[4].Table != "missing2" || fs[0].Operation != "Wipe" || fs[0].Class != engine.ClassError {
		t.Fatalf("the bounded log: %+v, want the newest 5 Wipe failures, newest first", fs)
	}
}

package sqlserver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/internal/golden"
)

// recorder is a transaction that writes down what the metadata store sends instead of sending it, so
// that the T-SQL of mirrorsink's own tables can be read and golden-checked where no SQL Server runs.
// Queries answer the rows queued in answers, in order (none when the queue is empty); statements say
// they changed affected rows.
type recorder struct {
	s        *conformance.Script
	answers  [][][]any
	affected int64
}

func (r *recorder) Exec(_ context.Context, query string, args ...any) (int64, error) {
	r.s.Add(query + params(args))
	return r.affected, nil
}

func (r *recorder) Query(_ context.Context, query string, args []any, each func(scan func(dest ...any) error) error) error {
	r.s.Add(query + params(args))
	if len(r.answers) == 0 {
		return nil
	}
	rows := r.answers[0]
	r.answers = r.answers[1:]
	for _, row := range rows {
		err := each(func(dest ...any) error {
			if len(dest) != len(row) {
				return fmt.Errorf("scan of %d columns into %d destinations", len(row), len(dest))
			}
			for i, v := range row {
				switch d := dest[i].(type) {
				case *int64:
					*d = v.(int64)
				case *string:
					*d = v.(string)
				case *any:
					*d = v
				default:
					return fmt.Errorf("cannot scan into %T", d)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// params renders bound parameters as a comment after the statement: what the driver sends beside it.
// A nil parameter would be untyped on the wire, which some TDS servers refuse; the golden file would
// show it as <nil>.
func params(args []any) string {
	if len(args) == 0 {
		return ""
	}
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = fmt.Sprintf("@p%d = %#v", i+1, a)
		if t, ok := a.(time.Time); ok {
			parts[i] = fmt.Sprintf("@p%d = %s", i+1, t.Format(time.RFC3339Nano))
		}
	}
	return "\n-- " + strings.Join(parts, ", ")
}

// TestMetadataGolden renders every statement of the metadata store, migrations included, for a
// tenant in a schema whose name needs quoting: SQL Server has no IF NOT EXISTS for tables (hence
// OBJECT_ID over a literal), no LIMIT (the store reads ids in order instead), and no untyped NULL
// parameters (none are sent).
func TestMetadataGolden(t *testing.T) {
	metadataGolden(t, SQL{Schema: "tenant's ]one"}, "../../testdata/golden/sqlserver/meta.sql")
}

// TestMetadataGoldenFanIn renders the same for a tenant of a fan-in schema, whose rows of the shared
// metadata tables carry its name, with the reads and writes across tenants of the shared tables.
func TestMetadataGoldenFanIn(t *testing.T) {
	q, err := SQL{Schema: "analytics"}.FanIn("tenant", "Cust1")
	if err != nil {
		t.Fatal(err)
	}
	metadataGolden(t, q, "../../testdata/golden/sqlserver/meta_fan_in.sql")
}

func metadataGolden(t *testing.T, q SQL, path string) {
	ctx := context.Background()
	var s conformance.Script
	st, err := newMeta(q, "Cust1")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{s: &s}
	m := st.In(rec)
	at := time.Date(2026, 5, 18, 10, 40, 43, 123456000, time.UTC)
	step := func(title string, answers [][][]any, fn func() error) {
		s.Head(title)
		rec.answers, rec.affected = answers, 1
		if err := fn(); err != nil {
			s.Fail(err)
		}
	}
	step("migrate a new mirror", nil, func() error { return m.Migrate(ctx, at) })
	step("pause a tenant that is not paused: no row to update, so one is inserted", nil, func() error {
		rec.affected = 0
		return m.SetPause(ctx, dialect.Pause{By: "ops@host", At: at, Reason: "maintenance"})
	})
	step("read the pause", [][][]any{{{"ops@host", any(at), "maintenance"}}}, func() error {
		_, _, err := m.Pause(ctx)
		return err
	})
	step("resume", nil, func() error {
		_, err := m.ClearPause(ctx)
		return err
	})
	step("record a failure; the log is within its bound", [][][]any{{{int64(3)}}}, func() error {
		return m.RecordFailure(ctx, dialect.Failure{ID: 42, At: at, Operation: "RowData", Table: "contact", Class: "value", Message: `column "x", row 1: …`}, 10)
	})
	step("record a failure; the log is pruned to its bound", [][][]any{{{int64(12)}}, ids(12)}, func() error {
		return m.RecordFailure(ctx, dialect.Failure{ID: 43, At: at, Operation: "Wipe", Class: "timeout", Message: "it took too long"}, 10)
	})
	step("read the newest failures", nil, func() error {
		_, err := m.Failures(ctx, 50)
		return err
	})
	step("store a table's row: an update first (which renames a row spelled in another case), else an insert", nil, func() error {
		rec.affected = 0
		return m.PutTable(ctx, dialect.TableMeta{Table: "Contact", LSN: -1, SchemaHash: "abc", SchemaJSON: "{}", SchemaChanged: at})
	})
	step("record a batch and its LSN", nil, func() error { return m.SetLSN(ctx, "Contact", 500, at) })
	step("mark every table for repopulation", nil, func() error {
		_, err := m.ResetLSN(ctx, "")
		return err
	})
	step("delete a table's row, under its exact name only (the collation compares names without case)", nil, func() error {
		return m.DeleteTable(ctx, "contact")
	})
	step("read the last cycle", nil, func() error {
		_, _, err := m.LastCycle(ctx)
		return err
	})
	step("journal a batch: take the tenant's journal lock and numbers with one UPDATE of its counter row, then read the last number and the newest cycle",
		[][][]any{{{int64(12), int64(77)}}}, func() error {
			first, cycle, err := st.ReserveJournal(ctx, rec, 3)
			if err == nil && (first != 10 || cycle != 77) {
				err = fmt.Errorf("reserved from %d in cycle %d, want 10 in 77", first, cycle)
			}
			return err
		})
	step("read the journal after a number, in order", nil, func() error {
		return m.ReadJournal(ctx, 41, 0, func(dialect.JournalEntry) error { return nil })
	})
	step("prune the journal to its newest 1000 entries (by the counter's last number) and to 30 days", [][][]any{{{int64(5000)}}}, func() error {
		_, err := m.PruneJournal(ctx, dialect.JournalRetention{MaxEntries: 1000, MaxAge: 30 * 24 * time.Hour}, at)
		return err
	})
	if q.fanIn != nil {
		step("read the tenant's row of a table, the shared table's definition, and the other tenants' distinct schemas of it (one schema read for each)",
			[][][]any{nil, nil, {{"abc", "", int64(3), "Cust2"}}}, func() error {
				_, err := m.Shared(ctx, "contact")
				return err
			})
		step("store the shared table's definition: an update first, else an insert", nil, func() error {
			rec.affected = 0
			return m.PutShared(ctx, dialect.TableMeta{Table: "contact", LSN: -1, SchemaHash: "def", SchemaJSON: "{}", SchemaChanged: at})
		})
		step("a shared table that is gone takes its definition and its tenants' rows", nil, func() error {
			return m.DeleteShared(ctx, "contact")
		})
	}
	golden.Assert(t, path, []byte(s.String()))
	for _, stmt := range strings.Split(s.String(), ";\n\n") {
		if strings.Contains(stmt, "<nil>") {
			t.Errorf("an untyped NULL parameter:\n%s", stmt)
		}
	}
}

// ids answers a read of failure ids, newest first.
func ids(n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(100 - i)}
	}
	return rows
}

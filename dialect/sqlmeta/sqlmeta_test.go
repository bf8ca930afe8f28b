package sqlmeta

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/Masterminds/squirrel"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// recorder is a Querier that keeps every statement's arguments and changes one row each time.
type recorder struct{ args [][]any }

func (r *recorder) Exec(_ context.Context, _ string, args ...any) (int64, error) {
	r.args = append(r.args, args)
	return 1, nil
}

func (r *recorder) Query(_ context.Context, _ string, args []any, _ func(scan func(dest ...any) error) error) error {
	r.args = append(r.args, args)
	return nil
}

// TestNoUntypedNullParameters: the writes of the metadata store never bind a nil, which go-mssqldb
// sends as an untyped NULL (TDS type 0x1F) that some servers refuse; where a value is absent, a column
// default or a typed value ("" for no lost objects) stands in.
func TestNoUntypedNullParameters(t *testing.T) {
	quote := func(s string) (string, error) { return "[" + s + "]", nil }
	st, err := New(Config{
		Placeholder: squirrel.AtP,
		Names:       dialect.MetaTables("Cust1"),
		Table:       quote,
		Column:      quote,
		Migrations:  fstest.MapFS{"0001_init.sql": {Data: []byte("CREATE TABLE {{meta}} (x int)")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2026, 5, 18, 10, 40, 43, 0, time.UTC)
	for name, write := range map[string]func(m dialect.MetaStore) error{
		"PutTable": func(m dialect.MetaStore) error {
			return m.PutTable(ctx, dialect.TableMeta{Table: "contact", LSN: -1, SchemaHash: "h", SchemaJSON: "{}", SchemaChanged: now})
		},
		"PutTable with lost objects": func(m dialect.MetaStore) error {
			return m.PutTable(ctx, dialect.TableMeta{Table: "contact", LSN: 5, SchemaHash: "h", SchemaJSON: "{}", SchemaChanged: now,
				LostObjects: []dialect.LostObject{{Object: "view v", Reason: "gone"}}})
		},
		"SetLSN":   func(m dialect.MetaStore) error { return m.SetLSN(ctx, "contact", 7, now) },
		"KeepLSN":  func(m dialect.MetaStore) error { return m.SetLSN(ctx, "contact", dialect.KeepLSN, now) },
		"ResetLSN": func(m dialect.MetaStore) error { _, err := m.ResetLSN(ctx, ""); return err },
		"Delete":   func(m dialect.MetaStore) error { return m.DeleteTable(ctx, "contact") },
		"RecordCyc": func(m dialect.MetaStore) error {
			return m.RecordCycle(ctx, dialect.Cycle{ID: 1, Completed: now, Summary: "[]"})
		},
		"PruneJournal": func(m dialect.MetaStore) error {
			_, err := m.PruneJournal(ctx, dialect.JournalRetention{MaxAge: time.Hour, MaxEntries: 10}, now)
			return err
		},
	} {
		var r recorder
		if err := write(st.In(&r)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, args := range r.args {
			for i, a := range args {
				if a == nil {
					t.Errorf("%s binds nil as parameter %d", name, i+1)
				}
				if s, ok := a.(string); ok && strings.Contains(s, "view v") && !strings.HasPrefix(s, "[") {
					t.Errorf("%s: lost objects are stored as %q, want a JSON array", name, s)
				}
			}
		}
	}
}

// TestLostObjectsRoundTrip: what PutTable stores of the lost objects reads back the same.
func TestLostObjectsRoundTrip(t *testing.T) {
	lost := []dialect.LostObject{{Object: `view "public"."v"`, Reason: `column "name" does not exist (SQLSTATE 42703)`}}
	s, err := encodeLost(lost)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeLost(s)
	if err != nil || len(back) != 1 || back[0] != lost[0] {
		t.Fatalf("decodeLost(encodeLost(%v)) = %v, %v", lost, back, err)
	}
	if s, err := encodeLost(nil); err != nil || s != "" {
		t.Fatalf("no lost objects are stored as %q, %v; want the column's default, \"\"", s, err)
	}
	if back, err := decodeLost(""); err != nil || back != nil {
		t.Fatalf(`decodeLost("") = %v, %v`, back, err)
	}
}

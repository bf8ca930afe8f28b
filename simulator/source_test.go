package simulator

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// drain reads a cursor's rows as op + key text.
func drain(t *testing.T, c *Cursor) []string {
	t.Helper()
	defer c.Close()
	var out []string
	for c.Next() {
		op, vals := c.Row()
		if op == contract.Delete && len(vals) != 1 {
			t.Fatalf("a delete carries %d values, want only the key", len(vals))
		}
		out = append(out, op.String()+string(vals[0].Text))
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestChangeTracking(t *testing.T) {
	ctx := context.Background()
	src, err := Open(ctx, filepath.Join(t.TempDir(), "src.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tbl := Table{Name: "order", Columns: []Column{{Name: "id", Type: "int"}, {Name: "name", Type: "nvarchar(20)", Nullable: true}}}
	var base int64
	err = src.Write(ctx, func(w *Writer) error {
		if err := w.CreateTable(tbl); err != nil {
			return err
		}
		for id := int64(1); id <= 3; id++ {
			if err := w.Load("order", []any{id, "loaded"}); err != nil {
				return err
			}
		}
		base = w.LSN()
		return w.SetNextID("order", 4)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Write(ctx, func(w *Writer) error {
		steps := []func() error{
			func() error { return w.Update("order", []any{int64(1), "updated"}) },
			func() error { return w.Insert("order", []any{int64(4), "new"}) },
			func() error { return w.Update("order", []any{int64(4), "new, then updated"}) },
			func() error { return w.Delete("order", int64(2)) },
			func() error { return w.Insert("order", []any{int64(5), nil}) },
			func() error { return w.Delete("order", int64(5)) },
		}
		for _, s := range steps {
			if err := s(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	lsn, err := src.LSN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lsn != base+6 {
		t.Fatalf("LSN %d after 6 changes from %d", lsn, base)
	}
	for _, tc := range []struct {
		name      string
		mirrorLSN int64
		full      bool
		want      []string
	}{
		{"wiped mirror", -1, true, []string{"I[I:1]", "I[I:3]", "I[I:4]"}},
		{"mirror before the history", base - 1, true, []string{"I[I:1]", "I[I:3]", "I[I:4]"}},
		{"everything since the load", base, false, []string{"U[I:1]", "I[I:4]", "D[I:2]", "D[I:5]"}},
		{"since the first insert", base + 2, false, []string{"U[I:4]", "D[I:2]", "D[I:5]"}},
		{"up to date", lsn, false, nil},
		{"mirror ahead (restore)", lsn + 10, true, []string{"I[I:1]", "I[I:3]", "I[I:4]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := src.OpenCursor(ctx, tbl, tc.mirrorLSN)
			if err != nil {
				t.Fatal(err)
			}
			if c.Full != tc.full || c.LSN != lsn {
				t.Fatalf("Full %v LSN %d, want %v %d", c.Full, c.LSN, tc.full, lsn)
			}
			got := drain(t, c)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	ctx := context.Background()
	sum := func(dataset string) []TableCheck {
		src, err := Open(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := Generate(ctx, src, GenerateOptions{Dataset: dataset, Rows: 300, Seed: 7}); err != nil {
			t.Fatal(err)
		}
		if _, err := Churn(ctx, src, ChurnOptions{Dataset: dataset, Inserts: 20, Updates: 20, Deletes: 10, Seed: 3}); err != nil {
			t.Fatal(err)
		}
		tables, err := src.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []TableCheck
		for _, tb := range tables {
			types, err := tb.types()
			if err != nil {
				t.Fatal(err)
			}
			s, err := sourceSums(ctx, src, tb, types, canon.Losses{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, TableCheck{Table: tb.Name, SourceRows: s.rows, SourceCheck: s.sum})
		}
		return out
	}
	for _, ds := range Datasets {
		t.Run(ds, func(t *testing.T) {
			a, b := sum(ds), sum(ds)
			if len(a) == 0 || len(a) != len(b) {
				t.Fatalf("%d and %d tables", len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("two generations with one seed differ: %+v vs %+v", a[i], b[i])
				}
			}
		})
	}
}

func TestGenerateTables(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		tables  []string
		want    []string // the source's tables, by name
		wantErr bool
	}{
		{name: "all", want: []string{"access_script", "appointment", "binaryobject", "contact", "invitation", "person", "sale", "text"}},
		{name: "contact only", tables: []string{"contact"}, want: []string{"contact"}},
		{name: "two", tables: []string{"sale", "person"}, want: []string{"person", "sale"}},
		{name: "unknown", tables: []string{"contact", "nosuch"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Open(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			err = Generate(ctx, src, GenerateOptions{Dataset: "crm", Rows: 50, Seed: 1, Tables: tc.tables})
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error for a table the dataset lacks")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tables, err := src.Tables(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tb := range tables {
				got = append(got, tb.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("tables %v, want %v", got, tc.want)
			}
			n, err := src.RowCount(ctx, tc.want[0])
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatalf("table %s has no rows", tc.want[0])
			}
		})
	}
}

// Schema changes run again and again on one source each create a table of their own, also when their
// seeds would name the same one.
func TestRepeatedSchemaChanges(t *testing.T) {
	ctx := context.Background()
	src, err := Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := Generate(ctx, src, GenerateOptions{Dataset: "crm", Rows: 20, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	created := map[string]bool{}
	for _, seed := range []uint64{7, 1007, 2007, 8} {
		res, err := SchemaChange(ctx, src, seed)
		if err != nil {
			t.Fatalf("schema change with seed %d: %v", seed, err)
		}
		if created[res.Created] {
			t.Fatalf("schema change with seed %d created %s again", seed, res.Created)
		}
		created[res.Created] = true
	}
}

package dialect_test

import (
	"fmt"
	"testing"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// wireRows is a RawRowSource over rows of wire text.
type wireRows struct {
	rows [][]string
	i    int
	vals []any
	wire []dialect.WireValue
}

func (w *wireRows) Next() bool { w.i++; return w.i <= len(w.rows) }
func (w *wireRows) Err() error { return nil }
func (w *wireRows) Values() ([]any, error) {
	w.vals = w.vals[:0]
	for _, v := range w.rows[w.i-1] {
		w.vals = append(w.vals, v)
	}
	return w.vals, nil
}
func (w *wireRows) Wire() ([]dialect.WireValue, error) {
	w.wire = w.wire[:0]
	for _, v := range w.rows[w.i-1] {
		w.wire = append(w.wire, dialect.WireValue{Text: []byte(v)})
	}
	return w.wire, nil
}

// TestPrependTenant: the tenant comes first in every row, as a value and as wire text, and a source of
// wire text stays one.
func TestPrependTenant(t *testing.T) {
	src := &wireRows{rows: [][]string{{"[I:1]", "a"}, {"[I:2]", "b"}}}
	rows := dialect.PrependTenant(src, "Cust1")
	raw, ok := rows.(dialect.RawRowSource)
	if !ok {
		t.Fatal("a source of wire text lost its wire text")
	}
	var got []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		wire, err := raw.Wire()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(vals), fmt.Sprintf("%s %s %s", wire[0].Text, wire[1].Text, wire[2].Text))
	}
	if fmt.Sprint(got) != "[[Cust1 [I:1] a] Cust1 [I:1] a [Cust1 [I:2] b] Cust1 [I:2] b]" {
		t.Fatalf("rows %q", got)
	}
	if _, ok := dialect.PrependTenant(struct{ dialect.RowSource }{src}, "Cust1").(dialect.RawRowSource); ok {
		t.Fatal("a source without wire text gained it")
	}
}

// TestWithLeadingKey: the tenant column leads the columns and the key.
func TestWithLeadingKey(t *testing.T) {
	tbl := dialect.Table{Name: "t", Columns: []typemap.Column{{Name: "a"}, {Name: "b"}, {Name: "c"}}, Key: []int{2, 0}}
	got := tbl.WithLeadingKey(dialect.TenantColumn("tenant", typemap.VarChar))
	if len(got.Columns) != 4 || got.Columns[0].Name != "tenant" || got.Columns[0].Type.Length != dialect.MaxTenantBytes ||
		fmt.Sprint(got.Key) != "[0 3 1]" || len(tbl.Columns) != 3 {
		t.Fatalf("%+v", got)
	}
}

package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/engine"
)

// BenchmarkJournal compares a batch applied with the change journal off and on, on SQLite, whose
// database work runs in this process: a repopulation's bulk load of 10,000 rows (after a Wipe), and
// 10,000 updates through the upsert path. It reports the time per row; the difference is the
// journal's whole cost, the engine's and the database's.
func BenchmarkJournal(b *testing.B) {
	const n = 10_000
	table := contract.TableSchema{Name: "contact", Columns: []contract.Column{
		{Name: "contact_id", Type: "int"}, {Name: "name", Type: "nvarchar(100)", IsNullable: true},
		{Name: "department", Type: "nvarchar(100)", IsNullable: true}, {Name: "number", Type: "nvarchar(40)", IsNullable: true},
		{Name: "registered", Type: "datetime", IsNullable: true}, {Name: "amount", Type: "decimal(19,4)", IsNullable: true},
		{Name: "category", Type: "int", IsNullable: true}, {Name: "memo", Type: "nvarchar(max)", IsNullable: true},
	}}
	batch := func(op contract.Operation, lsn int64) *contract.Batch {
		r := &rows{}
		for i := range n {
			r.data = append(r.data, []string{fmt.Sprintf("[I:%d]", i+1), fmt.Sprintf("Contact %d", i), "Sales", fmt.Sprintf("%08d", i),
				"[DT:05/18/2020 10:40:43.0000000]", "[F:1234.5]", "[I:3]", "a short memo of a few words"})
			r.ops = append(r.ops, op)
		}
		return &contract.Batch{Table: table, LSN: lsn, Rows: r}
	}
	for _, journal := range []bool{false, true} {
		e, _ := newEngine(b, func(o *engine.Options) { o.Default.Journal = journal })
		ctx, call := context.Background(), contract.Call{Tenant: "Bench1"}
		if _, err := e.TableSchema(ctx, call, []contract.TableSchema{table}); err != nil {
			b.Fatal(err)
		}
		name := map[bool]string{false: "off", true: "on"}[journal]
		b.Run("load/journal_"+name, func(b *testing.B) {
			for range b.N {
				if err := e.Wipe(ctx, call, table.Name); err != nil {
					b.Fatal(err)
				}
				bs := batches{batch(contract.Insert, 1)}
				if err := e.RowData(ctx, call, &bs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
		b.Run("upsert/journal_"+name, func(b *testing.B) {
			for i := range b.N {
				bs := batches{batch(contract.Update, int64(i+2))}
				if err := e.RowData(ctx, call, &bs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}

package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// batchList is a contract.Batches of the batches it holds.
type batchList []*contract.Batch

func (l *batchList) Next(context.Context) (*contract.Batch, error) {
	if len(*l) == 0 {
		return nil, io.EOF
	}
	b := (*l)[0]
	*l = (*l)[1:]
	return b, nil
}

// intRows are n inserts into a table of one int key column, of keys from+1 to from+n.
type intRows struct {
	from, n, i int
	cur        contract.Row
}

func (r *intRows) Next() bool {
	if r.i >= r.n {
		return false
	}
	r.i++
	r.cur = contract.Row{Op: contract.Insert, Values: []contract.Value{{Text: fmt.Appendf(nil, "[I:%d]", r.from+r.i)}}}
	return true
}
func (r *intRows) Row() contract.Row       { return r.cur }
func (r *intRows) Err() error              { return nil }
func (r *intRows) Reset() error            { r.i = 0; return nil }
func (r *intRows) Len() int                { return r.n }
func (r *intRows) Counts() (int, int, int) { return r.n, 0, 0 }

// loadedTable is a table of one int key column, as intRows fill it.
var loadedTable = contract.TableSchema{Name: "loaded", Columns: []contract.Column{{Name: "id", Type: "int"}}}

// startRepopulation starts an engine that routes tenant to route (closed at the end of the test),
// creates loadedTable in the tenant's mirror and wipes it, as a cycle does before it sends a table
// whole.
func startRepopulation(ctx context.Context, t *testing.T, tenant string, route engine.Route) (*engine.Engine, contract.Call) {
	t.Helper()
	eng, err := engine.New(engine.Options{
		Tenants: map[string]engine.Route{tenant: route},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	call := contract.Call{Tenant: tenant}
	if _, err := eng.TableSchema(ctx, call, []contract.TableSchema{loadedTable}); err != nil {
		t.Fatal(err)
	}
	if err := eng.Wipe(ctx, call, loadedTable.Name); err != nil {
		t.Fatal(err)
	}
	return eng, call
}

// TestStatisticsAfterRepopulation checks that the engine has the dialect refresh a table's statistics
// once its repopulation completes (Rows().Analyze), on PostgreSQL, whose planner needs them: a table
// loaded by COPY alone has no statistics, and the next cycle's deletes would be planned as if it were
// empty.
func TestStatisticsAfterRepopulation(t *testing.T) {
	dsn := testenv.Postgres(t)
	tenant := fmt.Sprintf("Analyze%d", rand.IntN(1_000_000))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Cleanup(func() { pgAdmin(t, "DROP SCHEMA IF EXISTS "+pgx.Identifier{tenant}.Sanitize()+" CASCADE") })
	eng, call := startRepopulation(ctx, t, tenant, engine.Route{Dialect: "postgres", DSN: dsn, Schema: "{ctx}"})
	if err := eng.RowData(ctx, call, &batchList{{Table: loadedTable, LSN: 9, Rows: &intRows{n: 5000}}}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var reltuples float64
	if err := conn.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = ($1 || '.loaded')::regclass",
		pgx.Identifier{tenant}.Sanitize()).Scan(&reltuples); err != nil {
		t.Fatal(err)
	}
	if reltuples != 5000 {
		t.Fatalf("pg_class.reltuples = %v after the repopulation, want 5000 (the table was not analyzed)", reltuples)
	}
}

package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/protocol"
)

// arrivingRows encodes a RowData request of n inserts into table.
func arrivingRows(t *testing.T, table contract.TableSchema, n int) []byte {
	t.Helper()
	var body bytes.Buffer
	e := protocol.NewRowDataEncoder(&body, "token", "")
	if err := e.BeginBatch(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		vals := []contract.Value{{Text: []byte("[I:" + strconv.Itoa(i) + "]")}, {Text: []byte("row " + strconv.Itoa(i) + " of a batch still arriving")}}
		if err := e.Row(contract.Insert, vals); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.EndBatch(0, table); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return body.Bytes()
}

// loadProbe reports how many rows of a tenant's table a load in progress has stored, as another
// session of the database sees them.
type loadProbe func(ctx context.Context, tenant, table string) (int64, error)

// TestRowsLoadWhileTheyArrive: during a repopulation, a RowData batch's rows reach the database's bulk
// load while the request is still arriving, before its TableInfo has been read: the database works
// while the request is received and decoded, instead of after.
func TestRowsLoadWhileTheyArrive(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		dsn := testenv.Postgres(t)
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		route := engine.Route{Dialect: "postgres", DSN: dsn, Schema: "{ctx}"}
		drop := func(tenant string) { pgAdmin(t, "DROP SCHEMA IF EXISTS "+pgx.Identifier{tenant}.Sanitize()+" CASCADE") }
		// COPY reports its progress as it goes.
		probe := func(ctx context.Context, tenant, table string) (n int64, err error) {
			err = conn.QueryRow(ctx, `SELECT coalesce(sum(p.tuples_processed), 0) FROM pg_stat_progress_copy p
				JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = $1 AND c.relname = $2`, tenant, table).Scan(&n)
			return n, err
		}
		testRowsLoadWhileTheyArrive(t, route, drop, probe)
	})
	t.Run("mysql", func(t *testing.T) {
		cfg, err := mysql.ParseDSN(testenv.MySQL(t))
		if err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("mysql", testenv.MySQL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		cfg.DBName = "e2e_{ctx}"
		route := engine.Route{Dialect: "mysql", DSN: cfg.FormatDSN()}
		drop := func(tenant string) { mysqlAdmin(t, "DROP DATABASE IF EXISTS `e2e_"+tenant+"`") }
		// The rows that LOAD DATA has stored so far count as modified by its transaction.
		probe := func(ctx context.Context, tenant, _ string) (n int64, err error) {
			err = db.QueryRowContext(ctx, `SELECT coalesce(sum(t.trx_rows_modified), 0) FROM information_schema.INNODB_TRX t
				JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE p.DB = ?`, "e2e_"+tenant).Scan(&n)
			return n, err
		}
		testRowsLoadWhileTheyArrive(t, route, drop, probe)
	})
}

func testRowsLoadWhileTheyArrive(t *testing.T, route engine.Route, drop func(tenant string), probe loadProbe) {
	tenant := fmt.Sprintf("Arriving%d", rand.IntN(1_000_000))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() { drop(tenant) })
	eng, err := engine.New(engine.Options{
		Tenants: map[string]engine.Route{tenant: route},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	call := contract.Call{Tenant: tenant}
	ts := contract.TableSchema{Name: "arriving", Columns: []contract.Column{{Name: "id", Type: "int"}, {Name: "name", Type: "nvarchar(100)"}}}
	if _, err := eng.TableSchema(ctx, call, []contract.TableSchema{ts}); err != nil {
		t.Fatal(err)
	}
	if err := eng.Wipe(ctx, call, ts.Name); err != nil {
		t.Fatal(err)
	}

	const rows = 30000
	body := arrivingRows(t, ts, rows)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		d := protocol.NewRequestDecoder(pr, protocol.DecodeOptions{})
		defer d.Close()
		if _, err := d.ReadHeader(); err != nil {
			done <- err
			return
		}
		req, err := d.RowData()
		if err != nil {
			done <- err
			return
		}
		done <- eng.RowData(ctx, call, req.Batches)
	}()
	// Two thirds of the request: many rows, not the batch's end, and not its TableInfo.
	head := len(body) * 2 / 3
	if _, err := pw.Write(body[:head]); err != nil {
		t.Fatal(err)
	}
	var loaded int64
	deadline := time.Now().Add(30 * time.Second)
	for loaded == 0 && time.Now().Before(deadline) {
		if loaded, err = probe(ctx, tenant, ts.Name); err != nil {
			t.Fatal(err)
		}
		if loaded == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if loaded == 0 {
		pw.CloseWithError(io.ErrUnexpectedEOF)
		<-done
		t.Fatal("no row reached the database while two thirds of the request had arrived: the batch is loaded only after it has been received")
	}
	t.Logf("%d of %d rows loaded while the request was still arriving", loaded, rows)
	if _, err := pw.Write(body[head:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if streamed, missed := eng.Metrics().Streaming(); streamed != 1 || missed != 0 {
		t.Fatalf("%d batches streamed, %d guesses missed; want 1 and 0", streamed, missed)
	}
	// The batch is the table's, whole: TableSchema with it alone answers its LSN and leaves it.
	lsns, err := eng.TableSchema(ctx, call, []contract.TableSchema{ts})
	if err != nil || len(lsns) != 1 || lsns[0].LSN != -1 {
		t.Fatalf("TableSchema after the batch: %v, %v", lsns, err)
	}
	d, _ := dialect.Lookup(route.Dialect)
	dsn, schema := route.Resolve(tenant)
	st, err := d.Open(ctx, dsn, dialect.OpenOptions{Tenant: tenant, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	n, err := tx.Tables().Count(ctx, ts.Name)
	if err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Fatalf("%d rows in the mirror, want %d", n, rows)
	}
}

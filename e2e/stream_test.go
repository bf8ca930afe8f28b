package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/contract"
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

// TestRowsLoadWhileTheyArrive: during a repopulation, a RowData batch's rows reach PostgreSQL's COPY
// while the request is still arriving, before its TableInfo has been read: the database works while
// the request is received and decoded, instead of after.
func TestRowsLoadWhileTheyArrive(t *testing.T) {
	dsn := testenv.Postgres(t)
	tenant := fmt.Sprintf("Arriving%d", rand.IntN(1_000_000))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() { pgAdmin(t, "DROP SCHEMA IF EXISTS "+pgx.Identifier{tenant}.Sanitize()+" CASCADE") })
	eng, err := engine.New(engine.Options{
		Tenants: map[string]engine.Route{tenant: {Dialect: "postgres", DSN: dsn, Schema: "{ctx}"}},
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

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var loaded int64
	deadline := time.Now().Add(30 * time.Second)
	for loaded == 0 && time.Now().Before(deadline) {
		err := conn.QueryRow(ctx, `SELECT coalesce(sum(p.tuples_processed), 0) FROM pg_stat_progress_copy p
			JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2`, tenant, ts.Name).Scan(&loaded)
		if err != nil {
			t.Fatal(err)
		}
		if loaded == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if loaded == 0 {
		pw.CloseWithError(io.ErrUnexpectedEOF)
		<-done
		t.Fatal("no row reached the COPY while two thirds of the request had arrived: the batch is loaded only after it has been received")
	}
	t.Logf("%d of %d rows loaded while the request was still arriving", loaded, rows)
	if _, err := pw.Write(body[head:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{tenant, ts.Name}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Fatalf("%d rows in the mirror, want %d", n, rows)
	}
	if streamed, missed := eng.Metrics().Streaming(); streamed != 1 || missed != 0 {
		t.Fatalf("%d batches streamed, %d guesses missed; want 1 and 0", streamed, missed)
	}
}

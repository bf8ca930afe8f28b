package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/dbserver"
)

// TestAnsweredBatchesSurviveADatabaseCrash: a RowData call whose batches carry no LSN (a table's
// batches before its last) is answered; PostgreSQL then crashes and is started again before the
// table's next call, which carries the LSN and so ends the table's cycle. Every row of both calls
// must be in the mirror: SuperOffice sends no row twice once the stored LSN has moved past it.
//
// The fault suite found this (TestChaos/restarts/postgres, a crash at a RowData call's answer, started
// again at once): batches without an LSN committed with synchronous_commit off, on the reasoning that
// a crash that lost them would leave the stored LSN behind their rows. But the engine takes a fresh
// connection from the pool after a crash, so the next call commits the LSN on the restarted server,
// and the rows of the answered call were gone: 5 to 14 rows of a table, on every replay of the seed.
// The server's WAL writer here waits 10 s between flushes, so that an asynchronous commit is still
// unwritten when the crash comes, as it is for up to 200 ms by default.
func TestAnsweredBatchesSurviveADatabaseCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and crashes a PostgreSQL server")
	}
	server := dbserver.Postgres(t, dbserver.Options{MaxConnections: 20, Settings: []string{"wal_writer_delay=10000ms"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, call := startRepopulation(ctx, t, "Crash1", engine.Route{Dialect: "postgres", DSN: server.DSN("postgres"), Schema: "{ctx}", MaxConns: 2})
	ts := loadedTable
	// The first call: two batches without an LSN, answered.
	if err := eng.RowData(ctx, call, &batchList{{Table: ts, Rows: &intRows{n: 2000}}, {Table: ts, Rows: &intRows{from: 2000, n: 2000}}}); err != nil {
		t.Fatal(err)
	}
	server.Crash()
	server.Start()
	// The table's last call, with its LSN: its commit may come on a new connection to the restarted
	// server, and the call then succeeds.
	if err := eng.RowData(ctx, call, &batchList{{Table: ts, LSN: 9, Rows: &intRows{from: 4000, n: 1000}}}); err != nil {
		t.Fatalf("the table's last call after the crash: %v", err)
	}
	conn, err := pgx.Connect(ctx, server.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, lsn int64
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM "Crash1"."loaded"), (SELECT lsn FROM "Crash1"."Crash1_mirroring" WHERE tablename = 'loaded')`).Scan(&rows, &lsn); err != nil {
		t.Fatal(err)
	}
	if lsn == 9 && rows != 5000 {
		t.Fatalf("the mirror stores LSN 9 but holds %d of the 5000 rows sent: rows of an answered call were lost in the crash", rows)
	}
	if lsn != 9 || rows != 5000 {
		t.Fatalf("the mirror holds %d rows at LSN %d, want 5000 at LSN 9", rows, lsn)
	}
}

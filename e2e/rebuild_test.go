package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/simulator"
)

// These tests throw a tenant's mirror away, or part of it, or restore an older copy of it, by hand
// while the service runs, as a partner's operator may; the next cycle must succeed against the same
// running service and leave the mirror equal to the source.

// dropDatabase drops the tenant's whole mirror: its database, or its SQLite file (leaving the -wal and
// -shm files, as an operator deleting "the database" would).
func dropDatabase(t *testing.T, tg target, svc *service, tenant string) {
	t.Helper()
	switch tg.name {
	case "sqlite":
		file, _ := svc.route.Resolve(tenant)
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
	case "postgres", "mysql", "sqlserver":
		tg.drop(t, tenant)
	default:
		t.Skipf("this test does not know how to drop a %s database", tg.name)
	}
}

// dropInMirror drops one table of the tenant's mirror through a Store of its own.
func dropInMirror(t *testing.T, tn *tenant, table string) {
	t.Helper()
	ctx := context.Background()
	st, err := tn.mirror.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Tables().Drop(ctx, table); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx, dialect.Durable); err != nil {
		t.Fatal(err)
	}
}

// checkResent fails unless exactly the tables for which resent says so were sent whole.
func checkResent(t *testing.T, res simulator.CycleResult, resent func(table string) bool) {
	t.Helper()
	for _, tr := range res.Tables {
		if tr.Full != resent(tr.Table) {
			t.Errorf("table %s: sent whole %v (mirror answered LSN %d, %s), want %v", tr.Table, tr.Full, tr.MirrorLSN, tr.Reason, resent(tr.Table))
		}
	}
}

// TestMirrorThrownAwayWhileServing: a tenant's mirror database, its metadata table or one mirrored
// table dropped by hand while serve runs is re-created by the next cycle, which resends what was lost
// and nothing else. Before, the open mirror was cached with its migrations and every later call failed
// until a restart (a dropped table answered its stored LSN and was never recreated).
func TestMirrorThrownAwayWhileServing(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		svc := startService(t, tg.route(t))
		all := func(string) bool { return true }
		for _, c := range []struct {
			name   string
			throw  func(t *testing.T, tn *tenant)
			resent func(table string) bool
		}{
			{"database", func(t *testing.T, tn *tenant) { dropDatabase(t, tg, svc, tn.name) }, all},
			{"metadata table", func(t *testing.T, tn *tenant) { dropInMirror(t, tn, dialect.MetaTables(tn.name).Meta) }, all},
			{"one mirrored table", func(t *testing.T, tn *tenant) { dropInMirror(t, tn, "contact") },
				func(table string) bool { return table == "contact" }},
		} {
			t.Run(c.name, func(t *testing.T) {
				tn := newTenant(t, tg, svc, "crm", 200, 40_000)
				tn.cycle(t)
				tn.churn(t, 10, 10, 5, 3)
				tn.cycle(t)
				c.throw(t, tn)
				tn.churn(t, 10, 10, 5, 4)
				checkResent(t, tn.cycle(t), c.resent)
				// And the cycle after it is an ordinary one.
				tn.churn(t, 10, 10, 5, 5)
				checkResent(t, tn.cycle(t), func(string) bool { return false })
			})
		}
	})
}

// TestSchemaThrownAwayWhileServing: a tenant mirrored into a schema of a shared database, whose schema
// is dropped while serve runs, is re-created by the next cycle.
func TestSchemaThrownAwayWhileServing(t *testing.T) {
	base := testenv.Postgres(t)
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Host: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))),
		Path: "/" + cfg.Database, RawQuery: "sslmode=disable"}
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	}
	tg := target{name: "postgres", drop: func(t *testing.T, tenant string) {
		pgAdmin(t, `DROP SCHEMA IF EXISTS "e2e_`+tenant+`" CASCADE`)
	}}
	svc := startService(t, engine.Route{Dialect: "postgres", DSN: u.String(), Schema: "e2e_{ctx}", MaxConns: 2})
	tn := newTenant(t, tg, svc, "crm", 200, 40_000)
	tn.cycle(t)
	tg.drop(t, tn.name)
	tn.churn(t, 10, 10, 5, 4)
	checkResent(t, tn.cycle(t), func(string) bool { return true })
}

// TestMirrorRestoredWhileServing: a mirror restored from an older copy while serve runs answers the
// copy's LSNs, and the next cycle brings it up to date with the changes since them: nothing is sent
// whole.
func TestMirrorRestoredWhileServing(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		svc := startService(t, tg.route(t))
		tn := newTenant(t, tg, svc, "crm", 200, 40_000)
		tn.cycle(t)
		tn.churn(t, 10, 10, 5, 3)
		res := tn.cycle(t)
		stored := map[string]int64{}
		for _, tr := range res.Tables {
			stored[tr.Table] = max(tr.LSN, tr.MirrorLSN)
		}
		restore := backup(t, tg, svc, tn.name)
		tn.churn(t, 20, 20, 10, 4)
		tn.cycle(t)
		restore()
		tn.churn(t, 10, 10, 5, 5)
		res = tn.cycle(t)
		checkResent(t, res, func(string) bool { return false })
		for _, tr := range res.Tables {
			if tr.MirrorLSN != stored[tr.Table] {
				t.Errorf("table %s: the restored mirror answered LSN %d, want the copy's %d", tr.Table, tr.MirrorLSN, stored[tr.Table])
			}
		}
	})
}

// backup copies the tenant's mirror as an operator's backup would, and returns the restore, which
// puts the copy in the mirror's place (the mirror is replaced while serve runs).
func backup(t *testing.T, tg target, svc *service, tenant string) (restore func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	switch tg.name {
	case "sqlite":
		file, _ := svc.route.Resolve(tenant)
		db, err := sql.Open("sqlite", file)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "VACUUM INTO ?", file+".bak"); err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := os.Rename(file+".bak", file); err != nil {
				t.Fatal(err)
			}
		}
	case "postgres":
		db := `"e2e_` + tenant + `"`
		bak := `"e2e_` + tenant + `_bak"`
		t.Cleanup(func() { pgAdmin(t, "DROP DATABASE IF EXISTS "+bak+" WITH (FORCE)") })
		// A template must have no other sessions: the service's idle connections go (it reconnects).
		pgAdmin(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'e2e_`+tenant+`'`)
		pgAdmin(t, "CREATE DATABASE "+bak+" TEMPLATE "+db)
		return func() {
			pgAdmin(t, "DROP DATABASE "+db+" WITH (FORCE)")
			pgAdmin(t, "CREATE DATABASE "+db+" TEMPLATE "+bak)
		}
	case "mysql":
		db, bak := "e2e_"+tenant, "e2e_"+tenant+"_bak"
		t.Cleanup(func() { mysqlAdmin(t, "DROP DATABASE IF EXISTS `"+bak+"`") })
		mysqlAdmin(t, "CREATE DATABASE `"+bak+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
		for _, table := range mysqlTables(t, db) {
			mysqlAdmin(t, fmt.Sprintf("CREATE TABLE `%s`.`%s` LIKE `%s`.`%s`", bak, table, db, table))
			mysqlAdmin(t, fmt.Sprintf("INSERT INTO `%s`.`%s` SELECT * FROM `%s`.`%s`", bak, table, db, table))
		}
		return func() {
			mysqlAdmin(t, "DROP DATABASE `"+db+"`")
			mysqlAdmin(t, "CREATE DATABASE `"+db+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
			for _, table := range mysqlTables(t, bak) {
				mysqlAdmin(t, fmt.Sprintf("RENAME TABLE `%s`.`%s` TO `%s`.`%s`", bak, table, db, table))
			}
		}
	}
	t.Skipf("this test does not know how to back up a %s mirror", tg.name)
	return nil
}

// mysqlTables lists the base tables of a MySQL database.
func mysqlTables(t *testing.T, database string) []string {
	t.Helper()
	rows, err := mysqlDB(t).Query("SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'", database)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

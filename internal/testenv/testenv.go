// Package testenv finds the live database servers that tests run against. A test whose server is
// missing skips with a message, unless MIRRORSINK_REQUIRE_SERVICES names that service (CI sets
// "postgres,mysql"), in which case it fails: a green run must never hide an untested dialect.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	// The MySQL driver registers "mysql" with database/sql for the reachability probe.
	_ "github.com/go-sql-driver/mysql"
)

// Default DSNs of the machine's local services, used when the environment names none.
const (
	DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultMySQL    = "root@tcp(127.0.0.1:3306)/test"
)

// Required reports whether service (postgres, mysql, sqlserver) is named in MIRRORSINK_REQUIRE_SERVICES.
func Required(service string) bool {
	for _, s := range strings.Split(os.Getenv("MIRRORSINK_REQUIRE_SERVICES"), ",") {
		if strings.TrimSpace(s) == service {
			return true
		}
	}
	return false
}

// Unavailable skips the test, or fails it when the service is required. Tests that need more of a
// service than a reachable server (its programs, to start a private one) call it themselves.
func Unavailable(t testing.TB, service, why string) {
	t.Helper()
	if Required(service) {
		t.Fatalf("%s is required (MIRRORSINK_REQUIRE_SERVICES) but not usable: %s", service, why)
	}
	t.Skipf("%s not available, skipping: %s", service, why)
}

// unavailable is Unavailable for a server that could not be reached.
func unavailable(t testing.TB, service, why string) {
	t.Helper()
	Unavailable(t, service, fmt.Sprintf("%s; set MIRRORSINK_TEST_%s to a reachable server", why, strings.ToUpper(service)))
}

// Postgres returns a DSN of a reachable PostgreSQL server, from MIRRORSINK_TEST_POSTGRES or the default.
func Postgres(t testing.TB) string {
	t.Helper()
	dsn := envOr("MIRRORSINK_TEST_POSTGRES", DefaultPostgres)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		unavailable(t, "postgres", err.Error())
		return ""
	}
	defer conn.Close(ctx)
	if err := conn.Ping(ctx); err != nil {
		unavailable(t, "postgres", err.Error())
	}
	return dsn
}

// MySQL returns a DSN (go-sql-driver format) of a reachable MySQL or MariaDB server, from
// MIRRORSINK_TEST_MYSQL or the default.
func MySQL(t testing.TB) string {
	t.Helper()
	dsn := envOr("MIRRORSINK_TEST_MYSQL", DefaultMySQL)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		unavailable(t, "mysql", err.Error())
		return ""
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		unavailable(t, "mysql", err.Error())
	}
	return dsn
}

// SQLServer returns the DSN in MIRRORSINK_TEST_SQLSERVER. There is no default: without it the test
// skips (or fails, when sqlserver is required). Reachability is left to the test, which needs the
// go-mssqldb driver that this package does not import.
func SQLServer(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("MIRRORSINK_TEST_SQLSERVER")
	if dsn == "" {
		unavailable(t, "sqlserver", "MIRRORSINK_TEST_SQLSERVER is not set; without it the SQL Server dialect is covered by golden SQL and unit tests only")
	}
	return dsn
}

// Citus returns the DSN in MIRRORSINK_TEST_CITUS: a database of a Citus coordinator (PostgreSQL with
// the citus extension created in it). There is no default: without it the test skips (or fails, when
// citus is named in MIRRORSINK_REQUIRE_SERVICES), and the Citus statements are covered by golden SQL
// only. A server that answers without the extension fails the test: the variable is misnamed.
func Citus(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("MIRRORSINK_TEST_CITUS")
	if dsn == "" {
		unavailable(t, "citus", "MIRRORSINK_TEST_CITUS is not set; without a Citus coordinator the Citus statements are covered by golden SQL only (testdata/scenarios/fan_in_citus.txtar)")
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		unavailable(t, "citus", err.Error())
		return ""
	}
	defer conn.Close(ctx)
	var has bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')").Scan(&has); err != nil || !has {
		t.Fatalf("MIRRORSINK_TEST_CITUS names a database without the citus extension (%v): CREATE EXTENSION citus there, on a coordinator", err)
	}
	return dsn
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

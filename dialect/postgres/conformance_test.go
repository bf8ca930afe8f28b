package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	_ "github.com/mirrorsink/mirrorsink/dialect/postgres"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// TestConformanceSchemaPerTenant runs the suite with each tenant in a schema of the test database,
// which Open creates.
func TestConformanceSchemaPerTenant(t *testing.T) {
	dsn := testenv.Postgres(t)
	conformance.Run(t, conformance.Target{Dialect: "postgres", Mirror: func(t *testing.T, tenant string) (string, string) {
		t.Cleanup(func() { adminExec(t, dsn, "DROP SCHEMA IF EXISTS "+pgx.Identifier{tenant}.Sanitize()+" CASCADE") })
		return dsn, tenant
	}, Exists: func(t *testing.T, dsn, schema string) bool {
		return adminExists(t, dsn, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema)
	}})
}

// TestConformanceDatabasePerTenant runs the suite with each tenant in a database of its own, which
// Open creates.
func TestConformanceDatabasePerTenant(t *testing.T) {
	dsn := testenv.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, conformance.Target{Dialect: "postgres", Mirror: func(t *testing.T, tenant string) (string, string) {
		db := "mirrorsink_" + tenant
		t.Cleanup(func() { adminExec(t, dsn, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)") })
		tu := *u
		tu.Path = "/" + db
		return tu.String(), ""
	}, Exists: func(t *testing.T, tenantDSN, _ string) bool {
		tu, err := url.Parse(tenantDSN)
		if err != nil {
			t.Fatal(err)
		}
		return adminExists(t, dsn, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", strings.TrimPrefix(tu.Path, "/"))
	}})
}

// adminExec runs a statement on the test database itself, outside the dialect.
func adminExec(t *testing.T, dsn, sql string) {
	admin(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Errorf("cleanup %s: %v", sql, err)
		}
	})
}

// adminExists runs a query that answers whether something exists on the test database, outside the
// dialect.
func adminExists(t *testing.T, dsn, query string, arg any) (exists bool) {
	t.Helper()
	admin(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		if err := conn.QueryRow(ctx, query, arg).Scan(&exists); err != nil {
			t.Fatal(err)
		}
	})
	return exists
}

// admin calls fn with a connection of its own to the test database.
func admin(t *testing.T, dsn string, fn func(ctx context.Context, conn *pgx.Conn)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("connect to the test database: %v", err)
		return
	}
	defer conn.Close(ctx)
	fn(ctx, conn)
}

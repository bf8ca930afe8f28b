package postgres_test

import (
	"context"
	"net/url"
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
	}})
}

// adminExec runs a statement on the test database itself, outside the dialect.
func adminExec(t *testing.T, dsn, sql string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Errorf("cleanup %s: %v", sql, err)
	}
}

package sqlserver_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/dialect/sqlserver"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// TestConformance runs the shared suite live when MIRRORSINK_TEST_SQLSERVER names a server (it skips
// with a message otherwise): each tenant in a database of its own, then each in a schema of the
// DSN's database. Open creates either; the cleanup drops it.
func TestConformance(t *testing.T) {
	dsn := testenv.SQLServer(t)
	base, err := msdsn.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	run := hex.EncodeToString(b)
	t.Run("DatabasePerTenant", func(t *testing.T) {
		conformance.Run(t, conformance.Target{Dialect: "sqlserver", Mirror: func(t *testing.T, tenant string) (string, string) {
			cfg := base
			cfg.Database = "mirrorsink_c" + run + "_" + tenant
			t.Cleanup(func() { dropDatabase(t, base, cfg.Database) })
			return cfg.URL().String(), ""
		}, Exists: func(t *testing.T, dsn, _ string) bool {
			cfg, err := msdsn.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			return exists(t, base, "SELECT CASE WHEN DB_ID(@p1) IS NULL THEN 0 ELSE 1 END", cfg.Database)
		}})
	})
	t.Run("SchemaPerTenant", func(t *testing.T) {
		if base.Database == "" {
			t.Skip("the DSN names no database to hold the tenants' schemas")
		}
		conformance.Run(t, conformance.Target{Dialect: "sqlserver", Mirror: func(t *testing.T, tenant string) (string, string) {
			schema := "mirrorsink_c" + run + "_" + tenant
			t.Cleanup(func() { dropSchema(t, base, schema) })
			return dsn, schema
		}, Exists: func(t *testing.T, _, schema string) bool {
			return exists(t, base, "SELECT CASE WHEN SCHEMA_ID(@p1) IS NULL THEN 0 ELSE 1 END", schema)
		}})
	})
}

// admin runs a statement for a test's cleanup on a connection of its own.
func admin(t *testing.T, cfg msdsn.Config, stmt string, args ...any) {
	db := sql.OpenDB(mssql.NewConnectorConfig(cfg))
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt, args...); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// exists runs a query that yields 1 when something exists and 0 when not, on a connection of its own.
func exists(t *testing.T, cfg msdsn.Config, query string, args ...any) bool {
	t.Helper()
	db := sql.OpenDB(mssql.NewConnectorConfig(cfg))
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func dropDatabase(t *testing.T, base msdsn.Config, name string) {
	q, err := sqlserver.SQL{}.Quote(name)
	if err != nil {
		t.Error(err)
		return
	}
	master := base
	master.Database = "master"
	admin(t, master, "IF DB_ID(@p1) IS NOT NULL BEGIN ALTER DATABASE "+q+" SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE "+q+" END", name)
}

// dropSchema drops the schema's tables, then the schema: SQL Server drops only an empty schema.
func dropSchema(t *testing.T, base msdsn.Config, schema string) {
	admin(t, base, `DECLARE @stmt nvarchar(max) = N'';
SELECT @stmt += N'DROP TABLE ' + QUOTENAME(s.name) + N'.' + QUOTENAME(o.name) + N'; '
FROM sys.objects AS o JOIN sys.schemas AS s ON s.schema_id = o.schema_id WHERE s.name = @p1 AND o.type = 'U';
SET @stmt += N'IF SCHEMA_ID(' + QUOTENAME(@p1, '''') + N') IS NOT NULL DROP SCHEMA ' + QUOTENAME(@p1) + N';';
EXEC sp_executesql @stmt;`, schema)
}

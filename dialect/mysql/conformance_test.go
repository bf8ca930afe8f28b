package mysql

import (
	"database/sql"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// TestConformance runs the shared suite with each tenant in a database of its own, which Open creates
// on first use.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Dialect: "mysql",
		Mirror: func(t *testing.T, tenant string) (string, string) {
			return tenantDSN(t, "mirrorsink_c_"+tenant), ""
		},
		Exists: func(t *testing.T, dsn, _ string) bool {
			cfg, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("mysql", testenv.MySQL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", cfg.DBName).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n > 0
		},
	})
}

package e2e

import (
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/engine/enginetest"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// TestEngineSuite runs the engine's suite (engine/enginetest) against every target: each case a fresh
// tenant mirror of its own.
func TestEngineSuite(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		route := tg.route(t)
		enginetest.Run(t, enginetest.Target{Dialect: tg.name, Route: func(t *testing.T, tenant string) engine.Route {
			t.Cleanup(func() { tg.drop(t, tenant) })
			return route
		}})
	})
	// PostgreSQL with every tenant in a schema of one database.
	t.Run("postgres-schema", func(t *testing.T) {
		dsn := testenv.Postgres(t)
		enginetest.Run(t, enginetest.Target{Dialect: "postgres", Route: func(t *testing.T, tenant string) engine.Route {
			t.Cleanup(func() { pgAdmin(t, "DROP SCHEMA IF EXISTS "+pgx.Identifier{tenant}.Sanitize()+" CASCADE") })
			return engine.Route{Dialect: "postgres", DSN: dsn, Schema: "{ctx}", MaxConns: 2}
		}})
	})
}

// TestEngineSuiteFanIn runs the engine's suite with each tenant in the fan-in layout: its tables shared
// (with their tenant column), in a schema (or database) of its own per case.
func TestEngineSuiteFanIn(t *testing.T) {
	for _, tgt := range fanInTargets() {
		t.Run(tgt.Name, func(t *testing.T) {
			if tgt.Available != nil {
				tgt.Available(t)
			}
			enginetest.Run(t, enginetest.Target{Dialect: tgt.Dialect, Route: func(t *testing.T, _ string) engine.Route { return tgt.Route(t) }})
		})
	}
}

// fanInTargets are the databases that take the fan-in layout, each giving a fresh shared schema (or
// database) per case.
func fanInTargets() []enginetest.FanInTarget {
	// pgSchema gives each case a schema of its own in the database of dsn.
	pgSchema := func(t *testing.T, dsn string) engine.Route {
		schema := "fanin_" + strings.ToLower(tenantName(t))
		t.Cleanup(func() { pgExec(t, dsn, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE") })
		return engine.Route{Dialect: "postgres", DSN: dsn, Schema: schema, MaxConns: 2, Layout: engine.FanIn}
	}
	return []enginetest.FanInTarget{
		{Name: "postgres", Dialect: "postgres", Route: func(t *testing.T) engine.Route { return pgSchema(t, testenv.Postgres(t)) }},
		// Only where MIRRORSINK_TEST_CITUS names a Citus coordinator (testenv skips it otherwise): the
		// shared tables distributed on the tenant column.
		{Name: "citus", Dialect: "postgres", Route: func(t *testing.T) engine.Route { return pgSchema(t, testenv.Citus(t)) },
			Available: func(t *testing.T) { testenv.Citus(t) }},
		{Name: "mysql", Dialect: "mysql", Route: func(t *testing.T) engine.Route {
			cfg, err := mysql.ParseDSN(testenv.MySQL(t))
			if err != nil {
				t.Fatal(err)
			}
			cfg.DBName = "fanin_" + tenantName(t)
			t.Cleanup(func() { mysqlAdmin(t, "DROP DATABASE IF EXISTS `"+cfg.DBName+"`") })
			return engine.Route{Dialect: "mysql", DSN: cfg.FormatDSN(), MaxConns: 2, Layout: engine.FanIn}
		}},
	}
}

// TestFanIn runs the cases of several tenants in one fan-in schema (engine/enginetest.RunFanIn) on
// every database that takes the layout.
func TestFanIn(t *testing.T) {
	for _, tgt := range fanInTargets() {
		t.Run(tgt.Name, func(t *testing.T) { enginetest.RunFanIn(t, tgt) })
	}
}

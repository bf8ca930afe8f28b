package mysql

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/Masterminds/squirrel"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/sqlmeta"
)

// migrationFiles are the DDL of mirrorsink's own tables in a MySQL mirror. They must stay
// byte-compatible with the mirrors that exist: change a table with a new migration, never by editing
// one that has run.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// newMeta configures the shared metadata store for one tenant. The driver binds and returns times as
// time.Time in UTC (parseTime, loc=UTC, time_zone '+00:00'), which is the store's default codec.
//
// MySQL commits before every ALTER TABLE, so a migration that adds a column may have run without being
// recorded (a crash in between); it asks information_schema first, which needs the metadata table's
// name as a string literal: {{meta_name}} ({{cycles_name}}, {{pause_name}}, {{failures_name}} for the others). With shared, the
// tenants of a fan-in database share the tables (dialect.SharedMetaTables).
func newMeta(tenant string, shared bool) (*sqlmeta.Store, error) {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("mysql: migrations: %w", err)
	}
	names := dialect.MetaTables(tenant)
	if shared {
		names = dialect.SharedMetaTables()
	}
	st, err := sqlmeta.New(sqlmeta.Config{
		Placeholder: squirrel.Question,
		Names:       names,
		Table:       quote,
		Column:      quote,
		Migrations:  files,
		Vars: map[string]string{"meta_name": stringLiteral(names.Meta), "cycles_name": stringLiteral(names.Cycles),
			"pause_name": stringLiteral(names.Pause), "failures_name": stringLiteral(names.Failures)},
		Shared: shared,
		Tenant: tenant,
	})
	if err != nil {
		return nil, fmt.Errorf("mysql: tenant %q: %w", tenant, err)
	}
	return st, nil
}

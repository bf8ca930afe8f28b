package postgres

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/Masterminds/squirrel"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/sqlmeta"
)

// migrationFiles create and upgrade mirrorsink's own tables. They must stay byte-compatible with the
// mirrors that already exist: a change is a new numbered file, never an edit.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// newMeta configures the shared metadata store for a tenant's mirror: $n placeholders, the mirror's
// qualified table names, and pgx's own binding of time.Time to the migrations' timestamp(6) columns
// (the wall clock of a UTC time, read back in UTC). In the fan-in layout the tenants share the tables
// (dialect.SharedMetaTables), whose primary keys the fan_in migrations name ({{meta_pkey}} and
// the like: the names PostgreSQL gave them) and, on Citus, distribute ({{meta_literal}} and the like,
// {{changes_literal}} and {{changes_seq_literal}} for the change journal's tables).
func newMeta(sql SQL, tenant string) (*sqlmeta.Store, error) {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	names, flags := dialect.MetaTables(tenant), []string(nil)
	if sql.fanIn != nil {
		names = dialect.SharedMetaTables()
		if sql.fanIn.citus {
			flags = append(flags, "citus")
		}
	}
	vars := map[string]string{}
	for placeholder, table := range map[string]string{"meta": names.Meta, "cycles": names.Cycles, "pause": names.Pause, "failures": names.Failures,
		"changes": names.Changes, "changes_seq": names.ChangesSeq} {
		q, err := sql.Table(table)
		if err != nil {
			return nil, err
		}
		vars[placeholder+"_literal"] = quoteLiteral(q)
		// The name PostgreSQL gives a table's primary key when it is declared with its column.
		vars[placeholder+"_pkey"] = quoteUnchecked(table + "_pkey")
	}
	st, err := sqlmeta.New(sqlmeta.Config{
		Placeholder: squirrel.Dollar,
		Names:       names,
		Table:       sql.Table,
		Column:      quoteIdent,
		Migrations:  files,
		Vars:        vars,
		Flags:       flags,
		Shared:      sql.fanIn != nil,
		Tenant:      tenant,
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return st, nil
}

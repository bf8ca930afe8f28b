package sqlserver

import (
	"embed"
	"io/fs"

	"github.com/Masterminds/squirrel"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/sqlmeta"
)

// migrationFiles create mirrorsink's own tables in a tenant's mirror.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// newMeta configures the metadata store of a tenant, its tables named by q (in the tenant's schema,
// when there is one). The migrations create a table only when it is missing (SQL Server has no
// CREATE TABLE IF NOT EXISTS before 2016), asking OBJECT_ID about its name, which they take as a
// string literal: {{meta_literal}}, {{cycles_literal}}, {{migrations_literal}}, {{pause_literal}},
// {{failures_literal}}, {{changes_literal}} and {{changes_seq_literal}}. The driver binds and returns
// datetime2 as a time.Time (in UTC: Open sets the session's time zone), which the store takes as it
// is. In the fan-in layout the tenants share the tables (dialect.SharedMetaTables), whose primary keys
// the fan_in migrations name: {{meta_pk}} and the like, and compare as {{meta_pk_literal}} and the
// like.
func newMeta(q SQL, tenant string) (*sqlmeta.Store, error) {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	names := dialect.MetaTables(tenant)
	if q.fanIn != nil {
		names = dialect.SharedMetaTables()
	}
	vars := map[string]string{}
	for placeholder, table := range map[string]string{"meta": names.Meta, "cycles": names.Cycles, "pause": names.Pause, "failures": names.Failures,
		"changes": names.Changes, "changes_seq": names.ChangesSeq} {
		pk := "[PK_" + table + "]"
		vars[placeholder+"_pk"], vars[placeholder+"_pk_literal"] = pk, literal(pk)
	}
	for placeholder, table := range map[string]string{
		"meta_literal": names.Meta, "cycles_literal": names.Cycles, "migrations_literal": names.Migrations,
		"pause_literal": names.Pause, "failures_literal": names.Failures,
		"changes_literal": names.Changes, "changes_seq_literal": names.ChangesSeq,
	} {
		tn, err := q.Table(table)
		if err != nil {
			return nil, err
		}
		vars[placeholder] = literal(tn)
	}
	return sqlmeta.New(sqlmeta.Config{
		Placeholder: squirrel.AtP,
		Names:       names,
		Table:       q.Table,
		Column:      quote,
		Migrations:  files,
		Vars:        vars,
		// The metadata table's names take the database's collation, which is usually
		// case-insensitive; a row is deleted only under its exact name.
		ExactName: func(col string) string { return col + " COLLATE Latin1_General_100_BIN2" },
		Shared:    q.fanIn != nil,
		Tenant:    tenant,
	})
}

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
// (the wall clock of a UTC time, read back in UTC).
func newMeta(sql SQL, tenant string) (*sqlmeta.Store, error) {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	st, err := sqlmeta.New(sqlmeta.Config{
		Placeholder: squirrel.Dollar,
		Names:       dialect.MetaTables(tenant),
		Table:       sql.Table,
		Column:      quoteIdent,
		Migrations:  files,
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return st, nil
}

package sqlite

import (
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/Masterminds/squirrel"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/sqlmeta"
)

// migrations creates mirrorsink's own tables in a tenant's database file.
//
//go:embed migrations/*.sql
var migrations embed.FS

// newMeta configures the metadata store for a tenant. Its timestamps are TEXT columns: the driver
// writes a time.Time as text, and reads it back as that text. Migration 0004 is the other dialects'
// fan-in migration, which SQLite (no fan-in layout) records without running anything, so that a
// version means the same migration in every dialect.
func newMeta(tenant string) (*sqlmeta.Store, error) {
	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	q := SQL{}
	return sqlmeta.New(sqlmeta.Config{
		Placeholder: squirrel.Question,
		Names:       dialect.MetaTables(tenant),
		Table:       q.Quote,
		Column:      q.Quote,
		ScanTime:    scanMetaTime,
		Migrations:  files,
	})
}

// metaTimeLayouts are the text forms of a timestamp in the metadata tables: the driver's own, which is
// what it writes for a time.Time, and RFC 3339 forms an operator might write by hand.
var metaTimeLayouts = []string{
	driverTimeLayout,
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// scanMetaTime reads a timestamp of the metadata tables.
func scanMetaTime(v any) (time.Time, error) {
	var s string
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return time.Time{}, fmt.Errorf("a timestamp of Go type %T", v)
	}
	for _, l := range metaTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable timestamp %q", s)
}

// Package migrations holds the versioned SQL of mirrorsink's own tables in each tenant's mirror, one
// folder per dialect, embedded in the binary.
//
// Each tenant's mirror holds three tables, named after the tenant (PROTOCOL.md, "The metadata table"):
//   - <ctx>_mirroring: one row per mirrored table (LSN, schema hash, the schema it came from, times);
//   - <ctx>_mirroring_cycles: one row per completed replication cycle;
//   - <ctx>_mirroring_migrations: which of these migrations have been applied.
//
// A migration file is named NNNN_description.sql and holds statements separated by lines that contain
// only "--;". The placeholders {{meta}}, {{cycles}} and {{migrations}} stand for the quoted table names;
// {{meta_literal}}, {{cycles_literal}} and {{migrations_literal}} for those quoted names as SQL string
// literals (for SQL Server's OBJECT_ID).
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed postgres/*.sql mysql/*.sql sqlite/*.sql sqlserver/*.sql
var files embed.FS

// Names are the unquoted names of a tenant's own tables.
type Names struct {
	Meta       string
	Cycles     string
	Migrations string
}

// TenantNames returns the names of the tables that mirrorsink keeps for tenant.
func TenantNames(tenant string) Names {
	return Names{
		Meta:       tenant + "_mirroring",
		Cycles:     tenant + "_mirroring_cycles",
		Migrations: tenant + "_mirroring_migrations",
	}
}

// Migration is one versioned step: its statements with the names already filled in.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

// For returns the migrations of dialect, in version order, with the tenant's table names quoted by
// quote. Version 1 creates the migrations table itself, so it must be idempotent.
func For(dialect string, names Names, quote func(string) (string, error)) ([]Migration, error) {
	entries, err := fs.ReadDir(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations: no migrations for dialect %q", dialect)
	}
	repl := []string{}
	for _, pair := range [][2]string{{"meta", names.Meta}, {"cycles", names.Cycles}, {"migrations", names.Migrations}} {
		q, err := quote(pair[1])
		if err != nil {
			return nil, fmt.Errorf("migrations: table name %q: %w", pair[1], err)
		}
		repl = append(repl, "{{"+pair[0]+"_literal}}", "'"+strings.ReplaceAll(q, "'", "''")+"'", "{{"+pair[0]+"}}", q)
	}
	replacer := strings.NewReplacer(repl...)
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migrations: %s/%s is not named NNNN_description.sql", dialect, name)
		}
		body, err := files.ReadFile(path.Join(dialect, name))
		if err != nil {
			return nil, err
		}
		m := Migration{Version: version, Name: strings.TrimSuffix(name, ".sql")}
		for _, stmt := range splitStatements(string(body)) {
			m.Statements = append(m.Statements, replacer.Replace(stmt))
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations: %s: version %d follows %d", dialect, m.Version, i)
		}
	}
	return out, nil
}

func splitStatements(body string) []string {
	var stmts []string
	for _, part := range strings.Split(body, "\n--;\n") {
		if s := strings.TrimSpace(part); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts
}

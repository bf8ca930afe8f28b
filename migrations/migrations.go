// Package migrations is the shared runner of the versioned SQL that creates and upgrades mirrorsink's
// own tables in each tenant's mirror. The SQL itself lives in each dialect's folder
// (dialect/<name>/migrations/NNNN_description.sql, embedded there), because it is that database's
// DDL; this package only reads, orders and applies it, the same way for every dialect.
//
// A migration file is named NNNN_description.sql and holds statements separated by lines that contain
// only "--;". Placeholders {{name}} are replaced by the values the dialect passes (its quoted table
// names, and whatever else its statements need); a placeholder without a value is an error, so that a
// typo never reaches the database. A statement whose first line is "-- only if <flag>" runs only in
// mirrors for which the dialect passes that flag (fan_in: mirrorsink's own tables are shared by the
// tenants of a fan-in schema; citus: the database has the citus extension); elsewhere the migration
// is recorded without it.
package migrations

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one versioned step: its statements with the placeholders filled in.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

var placeholder = regexp.MustCompile(`\{\{[a-z_]+\}\}`)

// Parse reads every NNNN_description.sql file at the root of fsys, in version order, fills in the
// placeholders from vars (keyed without braces) and keeps the statements guarded by "-- only if" only
// for the flags given. Versions must run 1, 2, 3, … without gaps. Version 1 creates the migrations
// table itself, so it must be idempotent.
func Parse(fsys fs.FS, vars map[string]string, flags ...string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migrations: %s is not named NNNN_description.sql", name)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		m := Migration{Version: version, Name: strings.TrimSuffix(name, ".sql")}
		for _, stmt := range splitStatements(string(body)) {
			stmt, keep, err := guarded(stmt, flags)
			if err != nil {
				return nil, fmt.Errorf("migrations: %s: %w", name, err)
			}
			if !keep {
				continue
			}
			var missing string
			filled := placeholder.ReplaceAllStringFunc(stmt, func(p string) string {
				v, ok := vars[p[2:len(p)-2]]
				if !ok && missing == "" {
					missing = p
				}
				return v
			})
			if missing != "" {
				return nil, fmt.Errorf("migrations: %s: placeholder %s has no value", name, missing)
			}
			m.Statements = append(m.Statements, filled)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations: version %d follows %d", m.Version, i)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("migrations: none found")
	}
	return out, nil
}

// onlyIf is the first line of a statement that runs only under a flag.
const onlyIf = "-- only if "

// guarded strips a statement's "-- only if <flag>" line and reports whether it runs under flags.
func guarded(stmt string, flags []string) (string, bool, error) {
	if !strings.HasPrefix(stmt, onlyIf) {
		return stmt, true, nil
	}
	first, rest, _ := strings.Cut(stmt, "\n")
	flag := strings.TrimSpace(strings.TrimPrefix(first, onlyIf))
	if flag == "" || strings.ContainsAny(flag, " \t") {
		return "", false, fmt.Errorf("%q does not name one flag", first)
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return "", false, fmt.Errorf("%q guards no statement", first)
	}
	for _, f := range flags {
		if f == flag {
			return rest, true, nil
		}
	}
	return "", false, nil
}

func splitStatements(body string) []string {
	var stmts []string
	for _, part := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n--;\n") {
		if s := strings.TrimSpace(part); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts
}

// Target is a tenant mirror's transaction as the runner needs it.
type Target interface {
	// Exec runs one migration statement.
	Exec(ctx context.Context, statement string) error
	// Applied returns the versions recorded in the migrations table.
	Applied(ctx context.Context) (map[int]bool, error)
	// Record notes that version was applied at at.
	Record(ctx context.Context, version int, at time.Time) error
}

// Apply runs the migrations that target has not recorded yet, in order, and records each. Version 1 runs
// every time (it creates the migrations table, idempotently) and is recorded once. The caller holds
// the transaction and a lock, so that replicas starting together do not race.
func Apply(ctx context.Context, target Target, ms []Migration, now time.Time) error {
	if len(ms) == 0 || ms[0].Version != 1 {
		return fmt.Errorf("migrations: version 1 is missing")
	}
	for _, s := range ms[0].Statements {
		if err := target.Exec(ctx, s); err != nil {
			return fmt.Errorf("migration %s: %w", ms[0].Name, err)
		}
	}
	applied, err := target.Applied(ctx)
	if err != nil {
		return fmt.Errorf("read applied migrations: %w", err)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if m.Version > 1 {
			for _, s := range m.Statements {
				if err := target.Exec(ctx, s); err != nil {
					return fmt.Errorf("migration %s: %w", m.Name, err)
				}
			}
		}
		if err := target.Record(ctx, m.Version, now); err != nil {
			return fmt.Errorf("record migration %s: %w", m.Name, err)
		}
	}
	return nil
}

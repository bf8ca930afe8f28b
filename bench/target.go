package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// benchDatabase is the database every benchmark mirror goes to; it is dropped before and after.
const benchDatabase = "mirrorsink_bench"

// target is a database server the benchmark loads: how the service routes to it and how the raw tool
// loads the same rows. Administration goes through the servers' own command-line clients, which the
// raw limit needs anyway.
type target struct {
	name    string // "postgres", "mysql": the report's prefix
	dialect string // the route's dialect
	dsn     string // the route's DSN, naming benchDatabase
	flavor  tsvFlavor
	// rawTool names the raw limit in the report.
	rawTool string
	// sql runs statements in database db ("" for none) and returns the output, unaligned.
	sql func(ctx context.Context, db, stmt string) (string, error)
	// dropDatabase drops benchDatabase if it exists.
	dropDatabase string
	// createRaw makes the raw table, identical to the mirror's table, in benchDatabase.
	createRaw func(table, like string) string
	// rawLoad loads file into table of benchDatabase with the raw tool.
	rawLoad func(ctx context.Context, file, table string, cols []string) error
	quote   func(string) string
}

func postgresTarget(addr string) target {
	host, port := splitAddr(addr)
	psql := func(ctx context.Context, db string, args ...string) (string, error) {
		if db == "" {
			db = "postgres"
		}
		base := []string{"-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "postgres", "-d", db}
		return command(ctx, "psql", append(base, args...)...)
	}
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	return target{
		name:    "postgres",
		dialect: "postgres",
		dsn:     fmt.Sprintf("postgres://postgres@%s:%s/%s?sslmode=disable", host, port, benchDatabase),
		flavor:  flavorPostgres,
		rawTool: `psql \copy`,
		sql: func(ctx context.Context, db, stmt string) (string, error) {
			return psql(ctx, db, "-c", stmt)
		},
		dropDatabase: "DROP DATABASE IF EXISTS " + quote(benchDatabase) + " WITH (FORCE)",
		createRaw: func(table, like string) string {
			return fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING ALL)", quote(table), quote(like))
		},
		rawLoad: func(ctx context.Context, file, table string, cols []string) error {
			qc := make([]string, len(cols))
			for i, c := range cols {
				qc[i] = quote(c)
			}
			_, err := psql(ctx, benchDatabase, "-c", fmt.Sprintf(`\copy %s (%s) from '%s'`, quote(table), strings.Join(qc, ", "), file))
			return err
		},
		quote: quote,
	}
}

func mysqlTarget(addr string) target {
	host, port := splitAddr(addr)
	quote := func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	client := func(ctx context.Context, db string, args ...string) (string, error) {
		base := []string{"-h", host, "-P", port, "-u", "root", "-N", "-B"}
		if db != "" {
			base = append(base, "-D", db)
		}
		return command(ctx, "mariadb", append(base, args...)...)
	}
	return target{
		name:    "mysql",
		dialect: "mysql",
		dsn:     fmt.Sprintf("root@tcp(%s:%s)/%s", host, port, benchDatabase),
		flavor:  flavorMySQL,
		rawTool: "mariadb LOAD DATA LOCAL INFILE",
		sql: func(ctx context.Context, db, stmt string) (string, error) {
			return client(ctx, db, "-e", stmt)
		},
		dropDatabase: "DROP DATABASE IF EXISTS " + quote(benchDatabase),
		createRaw: func(table, like string) string {
			return fmt.Sprintf("CREATE TABLE %s LIKE %s", quote(table), quote(like))
		},
		rawLoad: func(ctx context.Context, file, table string, cols []string) error {
			qc := make([]string, len(cols))
			for i, c := range cols {
				qc[i] = quote(c)
			}
			// The defaults of LOAD DATA are the format written: tab-separated, backslash escapes, \N for NULL.
			stmt := fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE %s CHARACTER SET utf8mb4 (%s)", file, quote(table), strings.Join(qc, ", "))
			_, err := client(ctx, benchDatabase, "--local-infile=1", "-e", stmt)
			return err
		},
		quote: quote,
	}
}

// count returns the rows of a table of benchDatabase.
func (t target) count(ctx context.Context, table string) (int64, error) {
	out, err := t.sql(ctx, benchDatabase, "SELECT count(*) FROM "+t.quote(table))
	if err != nil {
		return 0, fmt.Errorf("%s: count %s: %w", t.name, table, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: count %s: %q: %w", t.name, table, out, err)
	}
	return n, nil
}

// drop drops benchDatabase, with its own deadline so that it runs after an interrupt too.
func (t target) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := t.sql(ctx, "", t.dropDatabase); err != nil {
		return fmt.Errorf("%s: drop database %s: %w", t.name, benchDatabase, err)
	}
	return nil
}

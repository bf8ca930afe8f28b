package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// benchDatabase is the database every benchmark mirror goes to; it is dropped before and after. The
// -database flag names another, so that two runs on one machine keep out of each other's way.
var benchDatabase = "mirrorsink_bench"

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
	// rawApplyTool names the raw limit of an incremental cycle in the report.
	rawApplyTool string
	// rawApply applies a change set to table of benchDatabase with the raw tool, set-based, in one
	// transaction; cols are the table's columns, the first its key.
	rawApply func(ctx context.Context, dir, table string, cols []string, cs changeSet) error
	// sessions finds the database's sessions for benchDatabase (see measure).
	sessions sessionFinder
	quote    func(string) string
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
		rawApplyTool: `psql: \copy into temporary tables, UPDATE … FROM, DELETE … USING, one transaction`,
		rawApply: func(ctx context.Context, dir, table string, cols []string, cs changeSet) error {
			qc, set := applyColumns(cols, quote, "")
			key := qc[0]
			script := strings.Join([]string{
				fmt.Sprintf("CREATE TEMPORARY TABLE changed (LIKE %s);", quote(table)),
				fmt.Sprintf(`\copy changed (%s) from '%s'`, strings.Join(qc, ", "), cs.updPath),
				fmt.Sprintf("CREATE TEMPORARY TABLE gone AS SELECT %s FROM %s WITH NO DATA;", key, quote(table)),
				fmt.Sprintf(`\copy gone from '%s'`, cs.delPath),
				"ANALYZE changed;",
				"ANALYZE gone;",
				fmt.Sprintf("UPDATE %s AS t SET %s FROM changed AS c WHERE t.%s = c.%s;", quote(table), strings.Join(set, ", "), key, key),
				fmt.Sprintf("DELETE FROM %s AS t USING gone AS g WHERE t.%s = g.%s;", quote(table), key, key),
			}, "\n") + "\n"
			path := filepath.Join(dir, "apply-"+table+".psql")
			if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
				return err
			}
			_, err := psql(ctx, benchDatabase, "--single-transaction", "-f", path)
			return err
		},
		sessions: &pgSessions{addr: net.JoinHostPort(host, port)},
		quote:    quote,
	}
}

// applyColumns quotes a table's columns for a raw apply, and renders the assignments of every column
// but the key (the first) from the changed rows' table "c", each target column prefixed with target.
func applyColumns(cols []string, quote func(string) string, target string) (quoted, set []string) {
	quoted = make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quote(c)
		if i > 0 {
			set = append(set, target+quoted[i]+" = c."+quoted[i])
		}
	}
	return quoted, set
}

// pgSessions finds PostgreSQL's backends for benchDatabase through pg_stat_activity, on a connection
// of its own to the postgres database (so that it is not one of them). A backend is one process.
type pgSessions struct {
	addr string
	conn *pgx.Conn
}

func (s *pgSessions) find(ctx context.Context) ([]string, error) {
	if s.conn == nil {
		c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", s.addr))
		if err != nil {
			return nil, err
		}
		s.conn = c
	}
	rows, err := s.conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1", benchDatabase)
	if err != nil {
		s.close()
		return nil, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	out := make([]string, len(pids))
	for i, pid := range pids {
		out[i] = fmt.Sprintf("/proc/%d/schedstat", pid)
	}
	return out, nil
}

func (s *pgSessions) close() {
	if s.conn != nil {
		s.conn.Close(context.Background())
		s.conn = nil
	}
}

// mysqlSessions finds the server's threads for the sessions on benchDatabase (PROCESSLIST's TID), in
// the server process on this machine.
type mysqlSessions struct {
	addr   string
	db     *sql.DB
	server int
}

func (s *mysqlSessions) find(ctx context.Context) ([]string, error) {
	if s.server == 0 {
		if s.server = processNamed("mariadbd", "mysqld"); s.server == 0 {
			return nil, errors.New("no mariadbd or mysqld process on this machine")
		}
	}
	if s.db == nil {
		db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/", s.addr))
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		s.db = db
	}
	rows, err := s.db.QueryContext(ctx, "SELECT TID FROM information_schema.PROCESSLIST WHERE DB = ?", benchDatabase)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var tid int64
		if err := rows.Scan(&tid); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("/proc/%d/task/%d/schedstat", s.server, tid))
	}
	return out, rows.Err()
}

func (s *mysqlSessions) close() {
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
}

// processNamed returns the pid of a process of this machine with one of the names, or 0.
func processNamed(names ...string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue
		}
		for _, n := range names {
			if strings.TrimSpace(string(comm)) == n {
				return pid
			}
		}
	}
	return 0
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
		rawApplyTool: "mariadb: LOAD DATA LOCAL into temporary tables, UPDATE … JOIN, DELETE … JOIN, one transaction",
		rawApply: func(ctx context.Context, _, table string, cols []string, cs changeSet) error {
			qc, set := applyColumns(cols, quote, "t.")
			key := qc[0]
			script := strings.Join([]string{
				"START TRANSACTION",
				fmt.Sprintf("CREATE TEMPORARY TABLE changed LIKE %s", quote(table)),
				fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE changed CHARACTER SET utf8mb4 (%s)", cs.updPath, strings.Join(qc, ", ")),
				fmt.Sprintf("CREATE TEMPORARY TABLE gone SELECT %s FROM %s LIMIT 0", key, quote(table)),
				fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE gone CHARACTER SET utf8mb4 (%s)", cs.delPath, key),
				fmt.Sprintf("UPDATE %s AS t JOIN changed AS c ON t.%s = c.%s SET %s", quote(table), key, key, strings.Join(set, ", ")),
				fmt.Sprintf("DELETE t FROM %s AS t JOIN gone AS g ON t.%s = g.%s", quote(table), key, key),
				"COMMIT",
			}, ";\n")
			_, err := client(ctx, benchDatabase, "--local-infile=1", "-e", script)
			return err
		},
		sessions: &mysqlSessions{addr: net.JoinHostPort(host, port)},
		quote:    quote,
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

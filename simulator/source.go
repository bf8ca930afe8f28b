// Package simulator stands in for SuperOffice's Mirroring Task: a source database with change
// tracking (a SQLite file whose every change bumps a database-wide LSN), datasets shaped like
// SuperOffice's CRM schema or covering every SQL Server type, scenarios that change the source, the
// cycle driver that calls a mirroring service over HTTP as the real task does (docs/PROTOCOL.md), and a
// verifier that compares the source with the mirror.
package simulator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/typemap"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Column is one source column, declared with SQL Server type and default text.
type Column struct {
	Name string
	// Type is the SQL Server type text, e.g. "nvarchar(255)".
	Type string
	// Default is empty or SQL Server default text, e.g. "default ((0))".
	Default  string
	Nullable bool
}

// Table is one source table. Its first column is the primary key, as in SuperOffice's schema.
type Table struct {
	Name    string
	Columns []Column
}

// Schema returns the table as TableSchema and RowData's TableInfo carry it.
func (t Table) Schema() contract.TableSchema {
	cs := make([]contract.Column, len(t.Columns))
	for i, c := range t.Columns {
		cs[i] = contract.Column{Name: c.Name, Type: c.Type, DefaultValue: c.Default, IsNullable: c.Nullable}
	}
	return contract.TableSchema{Name: t.Name, Columns: cs}
}

// types parses the column types.
func (t Table) types() ([]typemap.Type, error) {
	ts := make([]typemap.Type, len(t.Columns))
	for i, c := range t.Columns {
		ty, err := typemap.ParseType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("source: table %s column %s: %w", t.Name, c.Name, err)
		}
		ts[i] = ty
	}
	return ts, nil
}

// Source is a source database with change tracking, kept in a SQLite file. Values are stored as their
// wire text (typemap.EncodeWire), so what the driver sends is exactly what was written.
//
// Bookkeeping tables (their names start with "_sim_") hold the catalog (SQL Server type and default
// text per column), the database-wide LSN, per table the lowest LSN from which changes are known
// (like SQL Server's CHANGE_TRACKING_MIN_VALID_VERSION) and the next key, and per changed row its last
// LSN, the LSN that created it and whether it is deleted. The current values come from the table.
type Source struct {
	path string
	temp string // the temporary folder of a source opened without a path, removed by Close
	db   *sql.DB
	// mu serialises writers: SQLite has one writer at a time, and the LSN counter must not interleave.
	mu sync.Mutex
}

const sourceSchema = `
CREATE TABLE IF NOT EXISTS "_sim_catalog" ("tbl" TEXT NOT NULL, "ord" INTEGER NOT NULL, "name" TEXT NOT NULL,
  "type" TEXT NOT NULL, "dflt" TEXT NOT NULL, "nullable" INTEGER NOT NULL, PRIMARY KEY ("tbl", "ord"));
CREATE TABLE IF NOT EXISTS "_sim_tables" ("tbl" TEXT PRIMARY KEY, "min_valid" INTEGER NOT NULL, "next_id" INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS "_sim_state" ("k" TEXT PRIMARY KEY, "v" INTEGER NOT NULL);
INSERT OR IGNORE INTO "_sim_state" ("k", "v") VALUES ('lsn', 0);
CREATE TABLE IF NOT EXISTS "_sim_changes" ("tbl" TEXT NOT NULL, "key" TEXT NOT NULL, "lsn" INTEGER NOT NULL,
  "created" INTEGER NOT NULL, "deleted" INTEGER NOT NULL, PRIMARY KEY ("tbl", "key")) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS "_sim_changes_lsn" ON "_sim_changes" ("tbl", "lsn");
`

// Open opens (creating when missing) the source in the SQLite file at path. An empty path makes a
// source in a temporary folder that Close removes.
func Open(ctx context.Context, path string) (*Source, error) {
	s := &Source{path: path}
	if path == "" {
		dir, err := os.MkdirTemp("", "mirrorsink-source-")
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		s.temp = dir
		s.path = filepath.Join(dir, "source.db")
	}
	if err := s.open(ctx); err != nil {
		if s.temp != "" {
			os.RemoveAll(s.temp)
		}
		return nil, err
	}
	return s, nil
}

func (s *Source) open(ctx context.Context) error {
	if dir := filepath.Dir(s.path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("source: %w", err)
		}
	}
	// WAL lets the driver read several tables at once while nothing writes; busy_timeout covers the
	// moments a reader and the writer meet. Reading through a memory map rather than a read call per
	// page halves the CPU a full read of a large table costs, which matters when the simulator shares
	// the machine with the service it measures.
	dsn := "file:" + s.path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(OFF)&_pragma=mmap_size(4294967296)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.path, err)
	}
	db.SetMaxOpenConns(16)
	if _, err := db.ExecContext(ctx, sourceSchema); err != nil {
		db.Close()
		return fmt.Errorf("source %s: create bookkeeping tables: %w", s.path, err)
	}
	s.db = db
	return nil
}

// Path is the source's SQLite file.
func (s *Source) Path() string { return s.path }

// Close closes the source, and removes it when it was opened without a path.
func (s *Source) Close() error {
	err := s.db.Close()
	if s.temp != "" {
		if rerr := os.RemoveAll(s.temp); err == nil {
			err = rerr
		}
	}
	return err
}

// LSN returns the source's current LSN: the LSN of its last change.
func (s *Source) LSN(ctx context.Context) (int64, error) {
	var lsn int64
	if err := s.db.QueryRowContext(ctx, `SELECT "v" FROM "_sim_state" WHERE "k" = 'lsn'`).Scan(&lsn); err != nil {
		return 0, fmt.Errorf("source: read LSN: %w", err)
	}
	return lsn, nil
}

// Tables returns the source's tables with their columns, ordered by name.
func (s *Source) Tables(ctx context.Context) ([]Table, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT "tbl", "name", "type", "dflt", "nullable" FROM "_sim_catalog" ORDER BY "tbl", "ord"`)
	if err != nil {
		return nil, fmt.Errorf("source: read catalog: %w", err)
	}
	defer rows.Close()
	var tables []Table
	for rows.Next() {
		var tbl string
		var c Column
		if err := rows.Scan(&tbl, &c.Name, &c.Type, &c.Default, &c.Nullable); err != nil {
			return nil, fmt.Errorf("source: read catalog: %w", err)
		}
		if len(tables) == 0 || tables[len(tables)-1].Name != tbl {
			tables = append(tables, Table{Name: tbl})
		}
		t := &tables[len(tables)-1]
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("source: read catalog: %w", err)
	}
	return tables, nil
}

// Table returns one table of the source.
func (s *Source) Table(ctx context.Context, name string) (Table, error) {
	tables, err := s.Tables(ctx)
	if err != nil {
		return Table{}, err
	}
	for _, t := range tables {
		if t.Name == name {
			return t, nil
		}
	}
	return Table{}, fmt.Errorf("source: no table %q", name)
}

// quoteIdent quotes a SQLite identifier.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// Snapshot writes a consistent copy of the source to path (which must not exist), to restore later.
func (s *Source) Snapshot(ctx context.Context, path string) error {
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("source: snapshot to %s: %w", path, err)
	}
	return nil
}

// Restore replaces the source with a snapshot taken earlier, as a database restore from a backup
// would: its LSN goes back to the snapshot's, behind what a mirror may already hold.
func (s *Source) Restore(ctx context.Context, snapshot string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("source: restore: close: %w", err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(s.path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("source: restore: %w", err)
		}
	}
	if err := copyFile(snapshot, s.path); err != nil {
		return fmt.Errorf("source: restore from %s: %w", snapshot, err)
	}
	return s.open(ctx)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// RowCount returns the number of rows of a table.
func (s *Source) RowCount(ctx context.Context, table string) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("source: count %s: %w", table, err)
	}
	return n, nil
}

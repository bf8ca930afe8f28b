// Package sqlmeta is the metadata store (dialect.MetaStore) that every dialect configures for its own
// database: the typed reads and writes of mirrorsink's own tables (PROTOCOL.md, "The metadata
// table"), written once with squirrel, and the shared migration runner over the dialect's embedded
// migrations. A dialect supplies its placeholder format, its quoting and how its driver binds and
// returns timestamps; it never has to write these statements again, and the engine never sees them.
//
// Adding a column to the metadata table is: one migration file per dialect (its DDL), and the column
// in the statements below.
package sqlmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/Masterminds/squirrel"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/migrations"
)

// Querier is one open transaction as the store needs it. sqlexec.Tx and the PostgreSQL dialect's Tx
// implement it.
type Querier interface {
	// Exec runs a statement and returns the rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a statement and calls each once per row with the row's Scan.
	Query(ctx context.Context, query string, args []any, each func(scan func(dest ...any) error) error) error
}

// Config is what a dialect tells the store. It is built once per Store and shared by its transactions.
type Config struct {
	// Placeholder is the dialect's bind parameter format (squirrel.Question, squirrel.Dollar, …).
	Placeholder squirrel.PlaceholderFormat
	// Names are the tenant's own tables (dialect.MetaTables).
	Names dialect.MetaTableNames
	// Table quotes (and qualifies, where the mirror needs it) a table name; Column quotes a column
	// name.
	Table, Column func(name string) (string, error)
	// BindTime turns a time into the parameter the driver stores in a timestamp column of the
	// migrations; nil passes the time.Time, in UTC.
	BindTime func(time.Time) any
	// ScanTime turns what the driver returns for such a column into a time; nil expects a time.Time.
	ScanTime func(any) (time.Time, error)
	// Migrations holds the dialect's NNNN_description.sql files at its root.
	Migrations fs.FS
	// ExactName, where the metadata table compares names without case (SQL Server's default
	// collation), turns the quoted name column into an expression that compares exactly (a binary
	// COLLATE clause); nil means the column already does.
	ExactName func(column string) string
	// Vars are placeholders of the migrations beyond {{meta}}, {{cycles}}, {{migrations}}, {{pause}},
	// {{failures}}, {{changes}} and {{changes_seq}} (the quoted table names), which the store fills in
	// itself.
	Vars map[string]string
	// Flags are the conditions of the migrations' guarded statements that hold for this mirror
	// (migrations.Parse); the store adds fan_in itself when Shared, and per_tenant when not.
	Flags []string
	// Shared makes the store one tenant's view of own tables that every tenant of a fan-in schema
	// shares (dialect.SharedMetaTables): each row of the metadata and cycles tables has its tenant in
	// a "tenant" column, every read and write is limited to Tenant's rows, and the metadata rows also
	// hold StoredIn and Conflict. The migrations' fan_in statements add those columns.
	Shared bool
	// Tenant is the tenant whose rows a Shared store reads and writes.
	Tenant string
}

// Store is a dialect's metadata store for one tenant. Bind it to a transaction with In.
type Store struct {
	cfg      Config
	sb       squirrel.StatementBuilderType
	meta     string
	cycles   string
	migr     string
	pause    string
	failures string
	// changes is the change journal, changesSeq its counter (dialect/journal.go).
	changes, changesSeq string
	col                 columns
	ms                  []migrations.Migration
}

// columns are the quoted column names; a field, not a map lookup, so that a typo fails to compile.
type columns struct {
	version, applied                                                    string
	table, lsn, hash, schema, changed, lastApplied, lost                string
	id, completed, tables, inserts, updates, deletes, summary, maxOfIDs string
	pausedBy, pausedAt, reason                                          string
	failedAt, operation, errorClass, message                            string
	tenant, storedIn, conflict                                          string
	seq, rowKey, op, afterCycle, appliedAt, lastSeq                     string
}

// New quotes every name once and parses the migrations, so that a bad name or migration fails when the
// tenant is opened.
func New(cfg Config) (*Store, error) {
	s := &Store{cfg: cfg, sb: squirrel.StatementBuilder.PlaceholderFormat(cfg.Placeholder)}
	var err error
	table := func(name string) string {
		q, qerr := cfg.Table(name)
		err = errors.Join(err, qerr)
		return q
	}
	col := func(name string) string {
		q, qerr := cfg.Column(name)
		err = errors.Join(err, qerr)
		return q
	}
	s.meta, s.cycles, s.migr = table(cfg.Names.Meta), table(cfg.Names.Cycles), table(cfg.Names.Migrations)
	s.pause, s.failures = table(cfg.Names.Pause), table(cfg.Names.Failures)
	s.changes, s.changesSeq = table(cfg.Names.Changes), table(cfg.Names.ChangesSeq)
	s.col = columns{
		version: col("version"), applied: col("applied"),
		table: col("tablename"), lsn: col("lsn"), hash: col("schemahash"), schema: col("schemajson"),
		changed: col("schemachanged"), lastApplied: col("lastapplied"), lost: col("lostobjects"),
		id: col("id"), completed: col("completed"), tables: col("tables"), inserts: col("inserts"),
		updates: col("updates"), deletes: col("deletes"), summary: col("summary"),
		pausedBy: col("pausedby"), pausedAt: col("pausedat"), reason: col("reason"),
		failedAt: col("failedat"), operation: col("operation"), errorClass: col("errorclass"), message: col("message"),
		seq: col("seq"), rowKey: col("rowkey"), op: col("op"), afterCycle: col("aftercycle"), appliedAt: col("appliedat"),
		lastSeq: col("lastseq"),
	}
	flags := cfg.Flags
	if cfg.Shared {
		s.col.tenant, s.col.storedIn, s.col.conflict = col("tenant"), col("storedin"), col("conflict")
		flags = append([]string{"fan_in"}, flags...)
	} else {
		flags = append([]string{"per_tenant"}, flags...)
	}
	if err != nil {
		return nil, fmt.Errorf("metadata tables: %w", err)
	}
	s.col.maxOfIDs = "MAX(" + s.col.id + ")"
	vars := map[string]string{"meta": s.meta, "cycles": s.cycles, "migrations": s.migr, "pause": s.pause, "failures": s.failures,
		"changes": s.changes, "changes_seq": s.changesSeq}
	for k, v := range cfg.Vars {
		vars[k] = v
	}
	if s.ms, err = migrations.Parse(cfg.Migrations, vars, flags...); err != nil {
		return nil, err
	}
	return s, nil
}

// Migrations returns the store's migrations as they run in its mirror: placeholders filled in,
// guarded statements kept for its flags only (for golden tests).
func (s *Store) Migrations() []migrations.Migration { return s.ms }

// In returns the store's view of one transaction.
func (s *Store) In(q Querier) dialect.MetaStore { return &txStore{s: s, q: q} }

type txStore struct {
	s *Store
	q Querier
}

func (t *txStore) bind(at time.Time) any {
	at = at.UTC()
	if t.s.cfg.BindTime != nil {
		return t.s.cfg.BindTime(at)
	}
	return at
}

func (t *txStore) scanTime(v any) (time.Time, error) {
	if t.s.cfg.ScanTime != nil {
		return t.s.cfg.ScanTime(v)
	}
	if at, ok := v.(time.Time); ok {
		return at.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("a timestamp of Go type %T", v)
}

func (t *txStore) exec(ctx context.Context, b squirrel.Sqlizer, what string) (int64, error) {
	q, args, err := b.ToSql()
	if err != nil {
		return 0, err
	}
	n, err := t.q.Exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

func (t *txStore) query(ctx context.Context, b squirrel.Sqlizer, what string, each func(scan func(...any) error) error) error {
	q, args, err := b.ToSql()
	if err != nil {
		return err
	}
	if err := t.q.Query(ctx, q, args, each); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Migrate runs the dialect's migrations (migrations.Apply), then gives the tenant its journal
// counter row when it has none.
func (t *txStore) Migrate(ctx context.Context, now time.Time) error {
	if err := migrations.Apply(ctx, migrationTarget{t}, t.s.ms, now); err != nil {
		return err
	}
	return t.ensureJournalCounter(ctx)
}

type migrationTarget struct{ t *txStore }

func (m migrationTarget) Exec(ctx context.Context, stmt string) error {
	_, err := m.t.q.Exec(ctx, stmt)
	return err
}

func (m migrationTarget) Applied(ctx context.Context) (map[int]bool, error) {
	out := map[int]bool{}
	err := m.t.query(ctx, m.t.s.sb.Select(m.t.s.col.version).From(m.t.s.migr), "read "+m.t.s.cfg.Names.Migrations,
		func(scan func(...any) error) error {
			var v int64
			if err := scan(&v); err != nil {
				return err
			}
			out[int(v)] = true
			return nil
		})
	return out, err
}

func (m migrationTarget) Record(ctx context.Context, version int, at time.Time) error {
	s := m.t.s
	_, err := m.t.exec(ctx, s.sb.Insert(s.migr).Columns(s.col.version, s.col.applied).Values(version, m.t.bind(at)),
		"insert into "+s.cfg.Names.Migrations)
	return err
}

// selectMeta selects the metadata rows: the tenant's own, or (across, in a shared store) every
// tenant's, the tenant first among the columns.
func (t *txStore) selectMeta(across bool) squirrel.SelectBuilder {
	c := t.s.col
	cols := []string{c.table, c.lsn, c.hash, c.schema, c.changed, c.lastApplied, c.lost}
	if t.s.cfg.Shared {
		cols = append(cols, c.storedIn, c.conflict)
	}
	if across {
		return t.s.sb.Select(append([]string{c.tenant}, cols...)...).From(t.s.meta)
	}
	return mine(t, t.s.sb.Select(cols...).From(t.s.meta))
}

// withTenant adds the tenant column and its value to an INSERT's columns and values in a shared
// store.
func (t *txStore) withTenant(cols []string, vals []any) ([]string, []any) {
	if !t.s.cfg.Shared {
		return cols, vals
	}
	return append(cols, t.s.col.tenant), append(vals, t.s.cfg.Tenant)
}

// mine limits a statement to the tenant's rows in a shared store, and leaves it as it is otherwise.
func mine[B interface{ Where(any, ...any) B }](t *txStore, b B) B {
	if !t.s.cfg.Shared {
		return b
	}
	return b.Where(squirrel.Eq{t.s.col.tenant: t.s.cfg.Tenant})
}

// readMeta reads metadata rows selected by selectMeta(across); tenant is the row's tenant when across.
func (t *txStore) readMeta(ctx context.Context, b squirrel.SelectBuilder, across bool, out func(tenant string, m dialect.TableMeta)) error {
	return t.query(ctx, b, "read "+t.s.cfg.Names.Meta, func(scan func(...any) error) error {
		var (
			m                dialect.TableMeta
			changed, applied any
			lost, tenant     string
		)
		dest := []any{&m.Table, &m.LSN, &m.SchemaHash, &m.SchemaJSON, &changed, &applied, &lost}
		if t.s.cfg.Shared {
			dest = append(dest, &m.StoredIn, &m.Conflict)
		}
		if across {
			dest = append([]any{&tenant}, dest...)
		}
		if err := scan(dest...); err != nil {
			return err
		}
		var err error
		if m.LostObjects, err = decodeLost(lost); err != nil {
			return fmt.Errorf("lostobjects of %q: %w", m.Table, err)
		}
		if m.SchemaChanged, err = t.scanTime(changed); err != nil {
			return fmt.Errorf("schemachanged of %q: %w", m.Table, err)
		}
		if applied != nil {
			if m.LastApplied, err = t.scanTime(applied); err != nil {
				return fmt.Errorf("lastapplied of %q: %w", m.Table, err)
			}
		}
		out(tenant, m)
		return nil
	})
}

// Tables reads every metadata row.
func (t *txStore) Tables(ctx context.Context) (map[string]dialect.TableMeta, error) {
	out := map[string]dialect.TableMeta{}
	err := t.readMeta(ctx, t.selectMeta(false), false, func(_ string, m dialect.TableMeta) { out[m.Table] = m })
	return out, err
}

// Table reads one table's metadata row.
func (t *txStore) Table(ctx context.Context, name string) (dialect.TableMeta, bool, error) {
	var (
		found dialect.TableMeta
		ok    bool
	)
	err := t.readMeta(ctx, t.selectMeta(false).Where(squirrel.Eq{t.s.col.table: name}), false, func(_ string, m dialect.TableMeta) {
		// A database that compares names without case may return a row of another spelling.
		if m.Table == name {
			found, ok = m, true
		}
	})
	return found, ok, err
}

// PutTable is UPDATE, then INSERT when no row was updated: portable across dialects, and safe because
// the caller holds the table's lock. The INSERT leaves lastapplied to its NULL default, and no lost
// objects are "" rather than NULL, so that no untyped NULL parameter is ever sent.
func (t *txStore) PutTable(ctx context.Context, m dialect.TableMeta) error {
	s := t.s
	lost, err := encodeLost(m.LostObjects)
	if err != nil {
		return fmt.Errorf("table %q: %w", m.Table, err)
	}
	return t.putRow(ctx, s.cfg.Tenant, m, lost)
}

// putRow updates the metadata row of (tenant, m.Table), or inserts it when there is none; tenant
// matters in a shared store only.
func (t *txStore) putRow(ctx context.Context, tenant string, m dialect.TableMeta, lost string) error {
	s, c := t.s, t.s.col
	// The name is set too: where the database compares names without case, the row found may spell it
	// as the source did before.
	upd := s.sb.Update(s.meta).
		Set(c.table, m.Table).Set(c.lsn, m.LSN).Set(c.hash, m.SchemaHash).Set(c.schema, m.SchemaJSON).Set(c.changed, t.bind(m.SchemaChanged)).
		Set(c.lost, lost).
		Where(squirrel.Eq{c.table: m.Table})
	cols := []string{c.table, c.lsn, c.hash, c.schema, c.changed, c.lost}
	vals := []any{m.Table, m.LSN, m.SchemaHash, m.SchemaJSON, t.bind(m.SchemaChanged), lost}
	if s.cfg.Shared {
		upd = upd.Set(c.storedIn, m.StoredIn).Set(c.conflict, m.Conflict).Where(squirrel.Eq{c.tenant: tenant})
		cols = append(cols, c.tenant, c.storedIn, c.conflict)
		vals = append(vals, tenant, m.StoredIn, m.Conflict)
	}
	n, err := t.exec(ctx, upd, fmt.Sprintf("update %s for %q", s.cfg.Names.Meta, m.Table))
	if err != nil || n > 0 {
		return err
	}
	_, err = t.exec(ctx, s.sb.Insert(s.meta).Columns(cols...).Values(vals...),
		fmt.Sprintf("insert into %s for %q", s.cfg.Names.Meta, m.Table))
	return err
}

// encodeLost stores lost objects as a JSON array that an operator can read in the table, and none as
// "" (the column's default, also what rows written before the column existed hold).
func encodeLost(lost []dialect.LostObject) (string, error) {
	if len(lost) == 0 {
		return "", nil
	}
	raw, err := json.Marshal(lost)
	if err != nil {
		return "", fmt.Errorf("encode the lost objects: %w", err)
	}
	return string(raw), nil
}

// decodeLost reads what encodeLost stored.
func decodeLost(s string) ([]dialect.LostObject, error) {
	if s == "" {
		return nil, nil
	}
	var lost []dialect.LostObject
	if err := json.Unmarshal([]byte(s), &lost); err != nil {
		return nil, err
	}
	return lost, nil
}

// SetLSN records an application, and the LSN unless it is dialect.KeepLSN.
func (t *txStore) SetLSN(ctx context.Context, table string, lsn int64, applied time.Time) error {
	s, c := t.s, t.s.col
	upd := s.sb.Update(s.meta).Set(c.lastApplied, t.bind(applied))
	if lsn != dialect.KeepLSN {
		upd = upd.Set(c.lsn, lsn)
	}
	n, err := t.exec(ctx, mine(t, upd.Where(squirrel.Eq{c.table: table})), fmt.Sprintf("update %s for %q", s.cfg.Names.Meta, table))
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("table %q: %w in %s", table, dialect.ErrNoMeta, s.cfg.Names.Meta)
	}
	return nil
}

// DeleteTable removes a table's metadata row.
//
// The row must be the table's own spelling: where names compare without case, a source that renamed
// "Foo" to "foo" has its row renamed by PutTable, and deleting the row of the vanished "Foo" must not
// take the new one with it.
func (t *txStore) DeleteTable(ctx context.Context, table string) error {
	s := t.s
	col := s.col.table
	if s.cfg.ExactName != nil {
		col = s.cfg.ExactName(col)
	}
	_, err := t.exec(ctx, mine(t, s.sb.Delete(s.meta).Where(squirrel.Eq{col: table})),
		fmt.Sprintf("delete from %s for %q", s.cfg.Names.Meta, table))
	return err
}

// ResetLSN marks one table, or every table, for repopulation.
func (t *txStore) ResetLSN(ctx context.Context, table string) (int64, error) {
	s := t.s
	upd := mine(t, s.sb.Update(s.meta).Set(s.col.lsn, -1))
	if table != "" {
		upd = upd.Where(squirrel.Eq{s.col.table: table})
	}
	return t.exec(ctx, upd, "update "+s.cfg.Names.Meta)
}

// RecordCycle stores a completed cycle.
func (t *txStore) RecordCycle(ctx context.Context, cy dialect.Cycle) error {
	s, c := t.s, t.s.col
	cols, vals := t.withTenant([]string{c.id, c.completed, c.tables, c.inserts, c.updates, c.deletes, c.summary},
		[]any{cy.ID, t.bind(cy.Completed), cy.Tables, cy.Inserts, cy.Updates, cy.Deletes, cy.Summary})
	_, err := t.exec(ctx, s.sb.Insert(s.cycles).Columns(cols...).Values(vals...), "insert into "+s.cfg.Names.Cycles)
	return err
}

// LastCycle reads the newest cycle by id, without LIMIT/TOP so that every dialect reads it the same way.
func (t *txStore) LastCycle(ctx context.Context) (dialect.Cycle, bool, error) {
	s, c := t.s, t.s.col
	// The subquery keeps "?" placeholders, which the outer statement numbers with its own: squirrel
	// would number a nested statement's from 1 again.
	newest := mine(t, squirrel.Select(c.maxOfIDs).From(s.cycles))
	var (
		cy    dialect.Cycle
		found bool
	)
	err := t.query(ctx, mine(t, s.sb.Select(c.id, c.completed, c.tables, c.inserts, c.updates, c.deletes, c.summary).
		From(s.cycles).Where(squirrel.Expr(c.id+" = (?)", newest))), "read "+s.cfg.Names.Cycles,
		func(scan func(...any) error) error {
			var completed any
			if err := scan(&cy.ID, &completed, &cy.Tables, &cy.Inserts, &cy.Updates, &cy.Deletes, &cy.Summary); err != nil {
				return err
			}
			var err error
			cy.Completed, err = t.scanTime(completed)
			found = true
			return err
		})
	return cy, found, err
}

// pauseRow is the key of the pause table's only row.
const pauseRow = 1

// Pause reads the stored pause.
func (t *txStore) Pause(ctx context.Context) (dialect.Pause, bool, error) {
	s, c := t.s, t.s.col
	var (
		p     dialect.Pause
		found bool
	)
	err := t.query(ctx, mine(t, s.sb.Select(c.pausedBy, c.pausedAt, c.reason).From(s.pause).Where(squirrel.Eq{c.id: pauseRow})),
		"read "+s.cfg.Names.Pause, func(scan func(...any) error) error {
			var at any
			if err := scan(&p.By, &at, &p.Reason); err != nil {
				return err
			}
			var err error
			p.At, err = t.scanTime(at)
			found = true
			return err
		})
	return p, found, err
}

// SetPause is UPDATE, then INSERT when there was no row; the caller serialises pauses with a lock.
func (t *txStore) SetPause(ctx context.Context, p dialect.Pause) error {
	s, c := t.s, t.s.col
	n, err := t.exec(ctx, mine(t, s.sb.Update(s.pause).Set(c.pausedBy, p.By).Set(c.pausedAt, t.bind(p.At)).Set(c.reason, p.Reason).
		Where(squirrel.Eq{c.id: pauseRow})), "update "+s.cfg.Names.Pause)
	if err != nil || n > 0 {
		return err
	}
	cols, vals := t.withTenant([]string{c.id, c.pausedBy, c.pausedAt, c.reason}, []any{pauseRow, p.By, t.bind(p.At), p.Reason})
	_, err = t.exec(ctx, s.sb.Insert(s.pause).Columns(cols...).Values(vals...), "insert into "+s.cfg.Names.Pause)
	return err
}

// ClearPause deletes the pause.
func (t *txStore) ClearPause(ctx context.Context) (bool, error) {
	s := t.s
	n, err := t.exec(ctx, mine(t, s.sb.Delete(s.pause).Where(squirrel.Eq{s.col.id: pauseRow})), "delete from "+s.cfg.Names.Pause)
	return n > 0, err
}

// RecordFailure inserts f, then prunes the log in steps of a tenth of keep, so that most inserts
// cost one COUNT(*) of a small table besides the INSERT. The cut-off is found by reading the ids
// rather than with LIMIT/OFFSET, which every dialect spells differently.
func (t *txStore) RecordFailure(ctx context.Context, f dialect.Failure, keep int) error {
	s, c := t.s, t.s.col
	cols, vals := t.withTenant([]string{c.id, c.failedAt, c.operation, c.table, c.errorClass, c.message},
		[]any{f.ID, t.bind(f.At), f.Operation, f.Table, f.Class, f.Message})
	_, err := t.exec(ctx, s.sb.Insert(s.failures).Columns(cols...).Values(vals...), "insert into "+s.cfg.Names.Failures)
	if err != nil || keep <= 0 {
		return err
	}
	var n int64
	if err := t.query(ctx, mine(t, s.sb.Select("COUNT(*)").From(s.failures)), "count "+s.cfg.Names.Failures,
		func(scan func(...any) error) error { return scan(&n) }); err != nil {
		return err
	}
	if n <= int64(keep+keep/10) {
		return nil
	}
	ids := make([]int64, 0, n)
	if err := t.query(ctx, mine(t, s.sb.Select(c.id).From(s.failures)).OrderBy(c.id+" DESC"), "read "+s.cfg.Names.Failures,
		func(scan func(...any) error) error {
			var id int64
			err := scan(&id)
			ids = append(ids, id)
			return err
		}); err != nil {
		return err
	}
	if len(ids) <= keep {
		return nil // another transaction pruned meanwhile
	}
	_, err = t.exec(ctx, mine(t, s.sb.Delete(s.failures).Where(squirrel.Lt{c.id: ids[keep-1]})), "prune "+s.cfg.Names.Failures)
	return err
}

// Failures reads the newest failures. The log is bounded (RecordFailure), so reading it in id order
// and stopping at limit costs little, and needs no LIMIT/TOP.
func (t *txStore) Failures(ctx context.Context, limit int) ([]dialect.Failure, error) {
	s, c := t.s, t.s.col
	var out []dialect.Failure
	err := t.query(ctx, mine(t, s.sb.Select(c.id, c.failedAt, c.operation, c.table, c.errorClass, c.message).
		From(s.failures)).OrderBy(c.id+" DESC"), "read "+s.cfg.Names.Failures,
		func(scan func(...any) error) error {
			var (
				f  dialect.Failure
				at any
			)
			if err := scan(&f.ID, &at, &f.Operation, &f.Table, &f.Class, &f.Message); err != nil {
				return err
			}
			if len(out) >= limit {
				return nil
			}
			var err error
			if f.At, err = t.scanTime(at); err != nil {
				return fmt.Errorf("failedat of failure %d: %w", f.ID, err)
			}
			out = append(out, f)
			return nil
		})
	return out, err
}

// errNotShared answers the cross-tenant writes of a store that is not shared.
var errNotShared = errors.New("the mirror is not in the fan-in layout: it has no shared tables")

// Shared reads the tenant's row of table, the shared table's own row, and the other tenants'
// distinct schemas of it: a grouped read of their hashes and places, then one schema text for each
// distinct hash (a store that is not shared has only its tenant's row).
func (t *txStore) Shared(ctx context.Context, table string) (dialect.SharedTable, error) {
	var out dialect.SharedTable
	m, ok, err := t.Table(ctx, table)
	if err != nil {
		return out, err
	}
	if ok {
		out.Mine = &m
	}
	if !t.s.cfg.Shared {
		return out, nil
	}
	s, c := t.s, t.s.col
	err = t.readMeta(ctx, t.selectMeta(true).Where(squirrel.Eq{c.table: table, c.tenant: dialect.SharedDefinition}), true,
		func(_ string, m dialect.TableMeta) {
			if m.Table == table { // a database that compares names without case
				out.Definition = &m
			}
		})
	if err != nil {
		return out, err
	}
	// Where names compare without case, only the table's exact spelling is another tenant's table;
	// the plain condition beside it lets the database find the rows by the index on the name.
	byName := squirrel.And{squirrel.Eq{c.table: table}}
	if s.cfg.ExactName != nil {
		byName = append(byName, squirrel.Eq{s.cfg.ExactName(c.table): table})
	}
	type variant struct {
		hash, storedIn, tenant string
		tenants                int64
	}
	var variants []variant
	err = t.query(ctx, s.sb.Select(c.hash, c.storedIn, "COUNT(*)", "MIN("+c.tenant+")").From(s.meta).
		Where(byName).Where(squirrel.NotEq{c.tenant: []string{s.cfg.Tenant, dialect.SharedDefinition}}).
		GroupBy(c.hash, c.storedIn), "read "+s.cfg.Names.Meta, func(scan func(...any) error) error {
		var v variant
		err := scan(&v.hash, &v.storedIn, &v.tenants, &v.tenant)
		variants = append(variants, v)
		return err
	})
	if err != nil {
		return out, err
	}
	for _, v := range variants {
		var schema string
		found := false
		err := t.query(ctx, s.sb.Select(c.table, c.schema).From(s.meta).Where(byName).Where(squirrel.Eq{c.tenant: v.tenant}),
			"read "+s.cfg.Names.Meta, func(scan func(...any) error) error {
				var name, text string
				if err := scan(&name, &text); err != nil {
					return err
				}
				if name == table {
					schema, found = text, true
				}
				return nil
			})
		if err != nil {
			return out, err
		}
		if found {
			out.Others = append(out.Others, dialect.SharedSchema{SchemaJSON: schema, StoredIn: v.storedIn, Tenants: v.tenants})
		}
	}
	return out, nil
}

// PutShared writes the shared table's own row.
func (t *txStore) PutShared(ctx context.Context, def dialect.TableMeta) error {
	if !t.s.cfg.Shared {
		return errNotShared
	}
	return t.putRow(ctx, dialect.SharedDefinition, def, "")
}

// DeleteShared removes the shared table's own row and the rows of the tenants whose rows it holds.
func (t *txStore) DeleteShared(ctx context.Context, table string) error {
	s := t.s
	if !s.cfg.Shared {
		return errNotShared
	}
	col := s.col.table
	if s.cfg.ExactName != nil {
		col = s.cfg.ExactName(col)
	}
	_, err := t.exec(ctx, s.sb.Delete(s.meta).Where(squirrel.Eq{col: table}).Where(squirrel.Eq{s.col.storedIn: ""}),
		fmt.Sprintf("delete from %s for %q", s.cfg.Names.Meta, table))
	return err
}

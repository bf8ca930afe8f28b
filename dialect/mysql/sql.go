package mysql

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// MaxIdentifierLength is the longest identifier MySQL accepts, in characters.
const MaxIdentifierLength = 64

// SQL renders the statements of one tenant's mirror. It is pure: values in, statements and warnings
// out. A mirror's tables live in the database its connections use, so names are quoted but never
// qualified. The zero value is a server that compares table names with case
// (lower_case_table_names = 0, the default on Linux).
type SQL struct {
	// foldNames: the server compares table names without case (lower_case_table_names ≠ 0).
	foldNames bool
	// fanIn is set in the fan-in layout (dialect.OpenOptions.TenantColumn).
	fanIn *dialect.FanInSQL
}

// FanIn returns the SQL of tenant's view of a fan-in mirror (see dialect.OpenOptions.TenantColumn):
// every table it creates has column first (varchar(50) in the tables' binary collation) and in its
// primary key, and its reads and writes touch tenant's rows only.
func (s SQL) FanIn(column, tenant string) (SQL, error) {
	q, err := quote(column)
	if err != nil {
		return SQL{}, fmt.Errorf("mysql: tenant column: %w", err)
	}
	s.fanIn = &dialect.FanInSQL{Column: column, Quoted: q, Tenant: tenant, Literal: stringLiteral(tenant)}
	return s, nil
}

// physical returns t as the database holds it: in the fan-in layout, with the tenant column first
// and first in the key, so that the row budget and the key's size count it too.
func (s SQL) physical(t dialect.Table) dialect.Table {
	if s.fanIn == nil {
		return t
	}
	return t.WithLeadingKey(dialect.TenantColumn(s.fanIn.Column, typemap.VarChar))
}

// stagingPrefix begins the name of every staging table: LoadData sets the tenant column of the rows
// it loads into any other table of a fan-in mirror.
const stagingPrefix = "~mirrorsink staging "

// Table quotes a table name (dialect.Namer).
func (SQL) Table(name string) (string, error) { return quote(name) }

// Literal quotes s as a MySQL string literal (dialect.Namer).
func (SQL) Literal(s string) string { return stringLiteral(s) }

// Fold returns the form under which the server compares table names (dialect.Namer): the name
// itself, or its lower case where lower_case_table_names makes the server ignore case.
func (s SQL) Fold(name string) string {
	if s.foldNames {
		return strings.ToLower(name)
	}
	return name
}

// quote quotes one identifier with backticks, doubling backticks inside. A name MySQL cannot hold
// exactly (empty, invalid UTF-8, NUL, outside the Basic Multilingual Plane, longer than 64
// characters, a trailing space) fails with dialect.ErrBadName.
func quote(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("mysql: empty name: %w", dialect.ErrBadName)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("mysql: name %q is not valid UTF-8: %w", name, dialect.ErrBadName)
	}
	n := 0
	for _, r := range name {
		n++
		switch {
		case r == 0:
			return "", fmt.Errorf("mysql: name %q contains NUL: %w", name, dialect.ErrBadName)
		case r > 0xFFFF:
			return "", fmt.Errorf("mysql: name %q contains %U, outside the Basic Multilingual Plane that MySQL identifiers allow: %w", name, r, dialect.ErrBadName)
		}
	}
	if n > MaxIdentifierLength {
		return "", fmt.Errorf("mysql: name %.40q… is too long: %d characters, MySQL allows %d: %w", name, n, MaxIdentifierLength, dialect.ErrBadName)
	}
	if strings.HasSuffix(name, " ") {
		return "", fmt.Errorf("mysql: name %q ends with a space, which MySQL does not allow: %w", name, dialect.ErrBadName)
	}
	return quoteIdent(name), nil
}

// quoteIdent quotes a name that is known to be valid (quote checks the others).
func quoteIdent(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// quoteColumns quotes the names of the columns idx of t.
func quoteColumns(t dialect.Table, idx []int) ([]string, error) {
	q := make([]string, len(idx))
	for n, i := range idx {
		var err error
		if q[n], err = quote(t.Columns[i].Name); err != nil {
			return nil, err
		}
	}
	return q, nil
}

func allColumns(t dialect.Table) []int {
	cols := make([]int, len(t.Columns))
	for i := range cols {
		cols[i] = i
	}
	return cols
}

// stringLiteral quotes s as a MySQL string literal for sessions without NO_BACKSLASH_ESCAPES (the mode
// every mirror session runs in, see SQLMode).
func stringLiteral(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// tableOptions are the options every mirrored table gets.
const tableOptions = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC"

// warnings collects what a rendering left out, for one table.
type warnings struct {
	table string
	list  []dialect.Warning
}

func (w *warnings) add(column, format string, args ...any) {
	w.list = append(w.list, dialect.Warning{Table: w.table, Column: column, Reason: fmt.Sprintf(format, args...)})
}

// columnDef renders one column definition: name, type, NULL/NOT NULL and default.
func columnDef(c typemap.Column, ct colType, w *warnings) (string, error) {
	q, err := quote(c.Name)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(q)
	b.WriteByte(' ')
	b.WriteString(ct.sql)
	if c.Nullable {
		b.WriteString(" NULL")
	} else {
		b.WriteString(" NOT NULL")
	}
	if d, ok := defaultSQL(c, ct, w); ok {
		b.WriteString(" DEFAULT ")
		b.WriteString(d)
	}
	return b.String(), nil
}

// defaultSQL renders c's default, or reports false when there is none or it cannot be expressed (then
// a warning says why: a default never fails a table). Literal defaults of text/blob columns use the
// expression form ('x'), which MySQL 8.0.13+ requires and MariaDB accepts.
func defaultSQL(c typemap.Column, ct colType, w *warnings) (string, bool) {
	d := c.Default
	if d == nil {
		return "", false
	}
	drop := func(why string) (string, bool) {
		w.add(c.Name, "default %q dropped: %s", d.Raw, why)
		return "", false
	}
	r, err := ruleFor(c.Type)
	if err != nil {
		return drop(err.Error())
	}
	switch d.Kind {
	case typemap.DefaultNull:
		if !c.Nullable {
			return drop("NULL default on a NOT NULL column")
		}
		return "NULL", true
	case typemap.DefaultNow, typemap.DefaultUTCNow, typemap.DefaultNowOffset:
		if r.now == nil {
			return drop("a current-time default on a " + ct.sql + " column")
		}
		return r.now(fracDigits(c.Type)), true
	case typemap.DefaultNewID:
		if r.newID == "" {
			return drop("newid() on a column that is not uniqueidentifier")
		}
		return r.newID, true
	case typemap.DefaultLiteral:
		// In strict mode MySQL refuses the whole table for a default that does not fit its column (a
		// string longer than the column, a number with more digits), where SQL Server accepts it.
		if c.Type.IsText() || c.Type.IsDecimal() {
			if _, err := typemap.DecoderFor(c.Type)([]byte(d.Literal)); err != nil {
				return drop("it does not fit the column: " + err.Error())
			}
		}
		lit, err := r.literal(d.Literal)
		if err != nil {
			return drop(err.Error())
		}
		if ct.isLOB() {
			return "(" + lit + ")", true
		}
		return lit, true
	}
	return drop("not expressible in MySQL")
}

// CreateTable renders CREATE TABLE for t with its planned types (see planTable), NOT NULL, defaults
// and primary key, and the warnings of what it left out.
func (s SQL) CreateTable(t dialect.Table) (string, []dialect.Warning, error) {
	t = s.physical(t)
	qt, err := quote(t.Name)
	if err != nil {
		return "", nil, err
	}
	p, err := planTable(t, nil)
	if err != nil {
		return "", nil, err
	}
	keys, err := quoteColumns(t, t.Key)
	if err != nil {
		return "", nil, err
	}
	w := &warnings{table: t.Name}
	var b strings.Builder
	b.WriteString("CREATE TABLE ")
	b.WriteString(qt)
	b.WriteString(" (\n")
	for i := range t.Columns {
		def, err := columnDef(t.Declared(i), p.types[i], w)
		if err != nil {
			return "", nil, err
		}
		b.WriteString("  ")
		b.WriteString(def)
		b.WriteString(",\n")
	}
	b.WriteString("  PRIMARY KEY (")
	b.WriteString(strings.Join(keys, ", "))
	b.WriteString(")\n) ")
	b.WriteString(tableOptions)
	return b.String(), w.list, nil
}

// AlterTable renders one ALTER TABLE statement that applies changes to t (its new definition): MySQL
// applies the clauses of one statement together or not at all. offRow names the columns that are
// stored as text/blob now: they stay so, and columns stored in the row that the new definition's row
// budget moves off it get a MODIFY too, so that the stored table matches the plan. It returns "" when
// there is nothing to do.
func (s SQL) AlterTable(t dialect.Table, changes []dialect.Change, offRow map[string]bool) (string, []dialect.Warning, error) {
	t = s.physical(t)
	qt, err := quote(t.Name)
	if err != nil {
		return "", nil, err
	}
	p, err := planTable(t, offRow)
	if err != nil {
		return "", nil, err
	}
	a := &alteration{t: t, p: p, w: &warnings{table: t.Name}, index: map[string]int{}, defined: map[string]bool{}}
	for i, c := range t.Columns {
		a.index[c.Name] = i
	}
	added := map[string]bool{}
	for _, ch := range changes {
		switch ch.Kind {
		case dialect.AddColumn:
			added[ch.Column.Name] = true
			err = a.define("ADD COLUMN", ch.Column.Name)
		case dialect.DropColumn:
			err = a.drop(ch.Old.Name)
		case dialect.AlterType, dialect.AlterNullability:
			err = a.define("MODIFY COLUMN", ch.Column.Name)
		case dialect.AlterDefault:
			err = a.setDefault(ch.Column.Name)
		default:
			err = fmt.Errorf("mysql: alter %q: unknown change kind %s", t.Name, ch.Kind)
		}
		if err != nil {
			return "", nil, err
		}
	}
	for i, c := range t.Columns {
		if p.types[i].moved && !offRow[c.Name] && !added[c.Name] {
			if err := a.define("MODIFY COLUMN", c.Name); err != nil {
				return "", nil, err
			}
		}
	}
	if len(a.clauses) == 0 {
		return "", a.w.list, nil
	}
	return "ALTER TABLE " + qt + "\n  " + strings.Join(a.clauses, ",\n  "), a.w.list, nil
}

// alteration collects the clauses of one ALTER TABLE against the new definition t and its plan.
type alteration struct {
	t       dialect.Table
	p       tablePlan
	w       *warnings
	index   map[string]int // column position by name
	clauses []string
	// defined holds the columns whose full definition a clause already carries (with its default).
	defined map[string]bool
}

func (a *alteration) column(name string) (int, error) {
	i, ok := a.index[name]
	if !ok {
		return 0, fmt.Errorf("mysql: alter %q: column %q is not in the new definition", a.t.Name, name)
	}
	return i, nil
}

// define adds a clause (ADD or MODIFY COLUMN) with the column's full definition, once per column.
func (a *alteration) define(verb, name string) error {
	i, err := a.column(name)
	if err != nil || a.defined[name] {
		return err
	}
	def, err := columnDef(a.t.Declared(i), a.p.types[i], a.w)
	if err != nil {
		return err
	}
	a.defined[name] = true
	a.clauses = append(a.clauses, verb+" "+def)
	return nil
}

func (a *alteration) drop(name string) error {
	q, err := quote(name)
	if err != nil {
		return err
	}
	a.clauses = append(a.clauses, "DROP COLUMN "+q)
	return nil
}

// setDefault sets or drops a column's default, unless a clause already defines the column in full.
func (a *alteration) setDefault(name string) error {
	i, err := a.column(name)
	if err != nil || a.defined[name] {
		return err
	}
	q, err := quote(name)
	if err != nil {
		return err
	}
	if d, ok := defaultSQL(a.t.Declared(i), a.p.types[i], a.w); ok {
		a.clauses = append(a.clauses, "ALTER COLUMN "+q+" SET DEFAULT "+d)
	} else {
		a.clauses = append(a.clauses, "ALTER COLUMN "+q+" DROP DEFAULT")
	}
	return nil
}

// DropTable renders DROP TABLE IF EXISTS.
func (SQL) DropTable(name string) (string, error) {
	q, err := quote(name)
	if err != nil {
		return "", err
	}
	return "DROP TABLE IF EXISTS " + q, nil
}

// showCreateTable renders SHOW CREATE TABLE, whose text Recreate reads the table's indexes and
// constraints from.
func showCreateTable(name string) (string, error) {
	q, err := quote(name)
	if err != nil {
		return "", err
	}
	return "SHOW CREATE TABLE " + q, nil
}

// keptDefinition is an index or constraint that others put on a table, as SHOW CREATE TABLE writes it.
type keptDefinition struct {
	object string // "index `ix`", "constraint `fk`"
	add    string // ALTER TABLE … ADD of it
}

// keptDefinitions picks from SHOW CREATE TABLE's text of table the index and constraint definitions
// other than the primary key (mirrorsink's), each with the ALTER TABLE that adds it to a table of the
// same name again. The server writes one definition per line, in a form its ALTER TABLE … ADD takes.
func keptDefinitions(table, createTable string) ([]keptDefinition, error) {
	qt, err := quote(table)
	if err != nil {
		return nil, err
	}
	var out []keptDefinition
	for _, line := range strings.Split(createTable, "\n") {
		def := strings.TrimSuffix(strings.TrimSpace(line), ",")
		var kind string
		switch {
		case strings.HasPrefix(def, "KEY "), strings.HasPrefix(def, "UNIQUE KEY "),
			strings.HasPrefix(def, "FULLTEXT KEY "), strings.HasPrefix(def, "SPATIAL KEY "):
			kind = "index"
		case strings.HasPrefix(def, "CONSTRAINT "):
			kind = "constraint"
		default:
			continue
		}
		name := def
		if i := strings.IndexByte(def, '`'); i >= 0 {
			if j := strings.Index(def[i+1:], "`"); j >= 0 {
				name = def[i : i+j+2]
			}
		}
		out = append(out, keptDefinition{object: kind + " " + name + " on " + qt, add: "ALTER TABLE " + qt + " ADD " + def})
	}
	return out, nil
}

// Truncate empties a table with DELETE, not TRUNCATE TABLE: TRUNCATE commits implicitly and would
// split the wipe from the LSN that the engine stores in the same transaction. DELETE is slower on big
// tables (it writes undo for every row), which is the price of that atomicity. In the fan-in layout it
// deletes the tenant's rows.
func (s SQL) Truncate(name string) (string, error) {
	q, err := quote(name)
	if err != nil {
		return "", err
	}
	return "DELETE FROM " + q + dialect.Where(s.fanIn.Mine("")), nil
}

// Count renders the count of a table's rows (the tenant's, in the fan-in layout).
func (s SQL) Count(name string) (string, error) {
	q, err := quote(name)
	if err != nil {
		return "", err
	}
	return "SELECT COUNT(*) FROM " + q + dialect.Where(s.fanIn.Mine("")), nil
}

// Select renders the read of every column of t, in t.Columns order (of the tenant's rows, in the
// fan-in layout).
func (s SQL) Select(t dialect.Table) (string, error) {
	qt, err := quote(t.Name)
	if err != nil {
		return "", err
	}
	cols, err := quoteColumns(t, allColumns(t))
	if err != nil {
		return "", err
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + qt + dialect.Where(s.fanIn.Mine("")), nil
}

// HasNull renders the check for a NULL in one column, which a change to NOT NULL makes before it
// alters the table: MySQL's DDL commits, so a change that would fail must be found before.
func (SQL) HasNull(table, column string) (string, error) {
	qt, err := quote(table)
	if err != nil {
		return "", err
	}
	qc, err := quote(column)
	if err != nil {
		return "", err
	}
	return "SELECT 1 FROM " + qt + " WHERE " + qc + " IS NULL LIMIT 1", nil
}

// StagingTable renders CREATE TEMPORARY TABLE for a staging table holding the columns cols of t
// (which must include every key column), with the types of t's plan, without NOT NULL on other
// columns (the move into t checks those) and with t's primary key. CREATE TEMPORARY TABLE does not
// commit.
//
// The primary key makes the staging table hold its rows in key order, so that the set-based statement
// that reads it visits t's clustered index front to back instead of at random: a batch's keys are
// scattered over t, and a table larger than the buffer pool then reads every page at most once. On a
// million-row table (365 MB, 128 MB buffer pool) the upsert of 50,000 random keys took 2.5 s in key
// order against 4.6 to 5.3 s in arrival order. Keys are unique within a call (the engine guarantees
// it), so the key cannot reject a row; a NULL key value becomes a load warning, that is a
// *dialect.ValueError.
func (SQL) StagingTable(staging string, t dialect.Table, cols []int) (string, error) {
	qs, err := quote(staging)
	if err != nil {
		return "", err
	}
	p, err := planTable(t, nil)
	if err != nil {
		return "", err
	}
	q, err := quoteColumns(t, cols)
	if err != nil {
		return "", err
	}
	keys, err := quoteColumns(t, t.Key)
	if err != nil {
		return "", err
	}
	staged := make(map[int]bool, len(cols))
	var b strings.Builder
	b.WriteString("CREATE TEMPORARY TABLE ")
	b.WriteString(qs)
	b.WriteString(" (")
	for n, i := range cols {
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(q[n])
		b.WriteByte(' ')
		b.WriteString(p.types[i].sql)
		if t.IsKey(i) {
			b.WriteString(" NOT NULL")
		} else {
			b.WriteString(" NULL")
		}
		staged[i] = true
	}
	for _, k := range t.Key {
		if !staged[k] {
			return "", fmt.Errorf("mysql: staging table for %q lacks key column %q", t.Name, t.Columns[k].Name)
		}
	}
	b.WriteString(", PRIMARY KEY (")
	b.WriteString(strings.Join(keys, ", "))
	b.WriteString(")) ")
	b.WriteString(tableOptions)
	return b.String(), nil
}

// DropStaging renders DROP TEMPORARY TABLE, which (unlike DROP TABLE) does not commit.
func (SQL) DropStaging(staging string) (string, error) {
	q, err := quote(staging)
	if err != nil {
		return "", err
	}
	return "DROP TEMPORARY TABLE IF EXISTS " + q, nil
}

// LoadData renders the LOAD DATA LOCAL INFILE statement that reads the registered reader into table,
// the values being those of cols in the bulk path's text form. Columns whose kind travels as hex
// arrive in user variables and are stored with UNHEX. In the fan-in layout, rows loaded into a
// mirrored table (not a staging table) get the tenant in the tenant column, by a SET clause: the
// data itself stays that of cols.
func (s SQL) LoadData(reader, table string, cols []typemap.Column) (string, error) {
	qt, err := quote(table)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("LOAD DATA LOCAL INFILE ")
	b.WriteString(stringLiteral("Reader::" + reader))
	b.WriteString(" INTO TABLE ")
	b.WriteString(qt)
	b.WriteString(loadFormat + " (")
	var sets []string
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		q, err := quote(c.Name)
		if err != nil {
			return "", err
		}
		r, err := ruleFor(c.Type)
		if err != nil {
			return "", fmt.Errorf("mysql: load %q column %q: %w", table, c.Name, err)
		}
		if r.hex {
			v := "@v" + strconv.Itoa(i)
			b.WriteString(v)
			sets = append(sets, q+" = UNHEX("+v+")")
			continue
		}
		b.WriteString(q)
	}
	b.WriteString(")")
	if s.fanIn != nil && !strings.HasPrefix(table, stagingPrefix) {
		sets = append(sets, s.fanIn.Mine(""))
	}
	if len(sets) > 0 {
		b.WriteString(" SET ")
		b.WriteString(strings.Join(sets, ", "))
	}
	return b.String(), nil
}

// loadFormat is the line format of every LOAD DATA: tab-separated fields, backslash escapes, a line
// per row, in UTF-8 (see rowEncoder).
const loadFormat = " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'"

// LoadJournal renders the LOAD DATA of a batch of the change journal into table, its columns cols
// (the journal's name and columns as the metadata store quotes them: sqlmeta.Store.JournalTable and
// JournalColumns), in the line format of LoadData.
func (SQL) LoadJournal(reader, table string, cols []string) string {
	return "LOAD DATA LOCAL INFILE " + stringLiteral("Reader::"+reader) + " INTO TABLE " + table +
		loadFormat + " (" + strings.Join(cols, ", ") + ")"
}

// Upsert renders INSERT … SELECT … ON DUPLICATE KEY UPDATE from the staging table, in key order
// (which the staging table's primary key gives without sorting, see StagingTable). It uses VALUES(c):
// deprecated in MySQL 8.0.20+ but accepted, and the only form MariaDB knows (it does not accept the
// row-alias syntax).
//
// A table of key columns only has nothing to update: an existing key must be kept as it is, and must
// not fail. Its clause assigns the first key column to itself, qualified with the table's name: a bare
// name would be ambiguous between the table and the SELECT's (MySQL: "Column 'k' in field list is
// ambiguous"). INSERT IGNORE would do too, but it also turns every other error into a warning.
func (s SQL) Upsert(t dialect.Table, staging string) (string, error) {
	qt, err := quote(t.Name)
	if err != nil {
		return "", err
	}
	qs, err := quote(staging)
	if err != nil {
		return "", err
	}
	q, err := quoteColumns(t, allColumns(t))
	if err != nil {
		return "", err
	}
	keys, err := quoteColumns(t, t.Key)
	if err != nil {
		return "", err
	}
	list := strings.Join(q, ", ")
	var upd []string
	for i, c := range q {
		if !t.IsKey(i) {
			upd = append(upd, c+" = VALUES("+c+")")
		}
	}
	if len(upd) == 0 {
		k := qt + "." + keys[0]
		upd = append(upd, k+" = "+k)
	}
	into, values := list, list
	if s.fanIn != nil {
		into, values = s.fanIn.Quoted+", "+list, s.fanIn.Literal+", "+list
	}
	return "INSERT INTO " + qt + " (" + into + ")\nSELECT " + values + " FROM " + qs + " ORDER BY " + strings.Join(keys, ", ") +
		"\nON DUPLICATE KEY UPDATE " + strings.Join(upd, ", "), nil
}

// Delete renders the set-based delete of the keys held in the staging table. (Measured and
// rejected: DELETE … WHERE key IN (SELECT …), ten times slower.)
func (s SQL) Delete(t dialect.Table, staging string) (string, error) {
	join, err := s.keyJoin(t, staging)
	if err != nil {
		return "", err
	}
	return "DELETE t FROM " + join, nil
}

// keyJoin renders "<table> AS t JOIN <staging> AS s ON <keys match>": in the fan-in layout, of the
// tenant's rows only.
func (s SQL) keyJoin(t dialect.Table, staging string) (string, error) {
	qt, err := quote(t.Name)
	if err != nil {
		return "", err
	}
	qs, err := quote(staging)
	if err != nil {
		return "", err
	}
	keys, err := quoteColumns(t, t.Key)
	if err != nil {
		return "", err
	}
	on := make([]string, len(keys))
	for n, k := range keys {
		on[n] = "t." + k + " = s." + k
	}
	if s.fanIn != nil {
		on = append([]string{s.fanIn.Mine("t.")}, on...)
	}
	return qt + " AS t JOIN " + qs + " AS s ON " + strings.Join(on, " AND "), nil
}

// SoftDelete renders the set-based soft delete of the keys held in the staging table
// (dialect.RowWriter's SoftDelete): its parameters, one for t.DeletedAt and one for t.MirroredAt when
// the table has it, are the time of the delete, which goes to the rows whose DeletedAt is still NULL,
// so that a row deleted twice keeps the first time.
func (s SQL) SoftDelete(t dialect.Table, staging string) (string, error) {
	join, err := s.keyJoin(t, staging)
	if err != nil {
		return "", err
	}
	deleted, set, err := dialect.SoftDeleteSet(t, quote, "t.", "?")
	if err != nil {
		return "", err
	}
	return "UPDATE " + join + " SET " + set + " WHERE t." + deleted + " IS NULL", nil
}

// PurgeDeleted renders the removal of the rows that t.DeletedAt marks as deleted.
func (s SQL) PurgeDeleted(t dialect.Table) (string, error) {
	qt, err := quote(t.Name)
	if err != nil {
		return "", err
	}
	where, err := dialect.PurgeWhere(t, quote, s.fanIn.Mine(""))
	return "DELETE FROM " + qt + where, err
}

// Statements that take no names from the wire.
const (
	// existsQuery finds a base table of the session's database; information_schema may compare names
	// without case, so the caller compares the names it returns by Fold.
	existsQuery = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME = ?"
	// triggersQuery lists the triggers of a table (by exact name) of the session's database.
	triggersQuery = "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ? ORDER BY ACTION_ORDER"
	// columnsQuery reads how a table's columns are stored now (for AlterTable's checks and offRow).
	columnsQuery = "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
	// lockQuery takes a named lock, waiting at most the given seconds; it returns 1 when it got it.
	lockQuery = "SELECT GET_LOCK(?, ?)"
	// unlockStatement releases a named lock of the session.
	unlockStatement = "DO RELEASE_LOCK(?)"
	// showWarnings reads what the last statement warned about (LOAD DATA LOCAL reports duplicate keys
	// and bad values only so).
	showWarnings = "SHOW WARNINGS LIMIT 20"
)

// restartTransaction starts the next transaction after a statement that committed implicitly (DDL),
// at the isolation level of every mirror transaction.
var restartTransaction = []string{"SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "START TRANSACTION"}

// savepoint and rollbackTo render the executor's savepoint statements.
func savepoint(name string) string  { return "SAVEPOINT " + quoteIdent(name) }
func rollbackTo(name string) string { return "ROLLBACK TO SAVEPOINT " + quoteIdent(name) }

// createDatabase renders the creation of a tenant's database, which a replica starting at the same
// time may be creating too.
func createDatabase(qdb string) string {
	return "CREATE DATABASE IF NOT EXISTS " + qdb + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
}

// lockName maps a lock key to a GET_LOCK name: a fixed prefix and a SHA-256 prefix, 51 characters,
// within MySQL's 64-character limit whatever the key.
func lockName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "mirrorsink:" + hex.EncodeToString(sum[:20])
}

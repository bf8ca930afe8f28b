package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// Layout is how a route lays out its tenants' mirrors.
type Layout string

// The layouts of a route.
const (
	// PerTenant gives each tenant a mirror of its own: a database, file or schema named with {ctx}.
	// It is the default ("" means it too).
	PerTenant Layout = "per_tenant"
	// FanIn puts every tenant of the route into one schema (no {ctx} in the DSN or schema): each
	// mirrored table exists once, shared by the tenants, with a leading tenant column that is part of
	// its primary key.
	//
	// The shared table's columns are the union of its tenants' columns, with no defaults; a column a
	// tenant lacks is NULL in its rows, and a column is NOT NULL only where every tenant has it NOT
	// NULL. A tenant's wider type widens the shared column (typemap.Widens); a shared column is never
	// narrowed, and is dropped only when no tenant has it any more. Wipe, a repopulation and a table
	// the source dropped remove that tenant's rows only. A tenant whose table cannot share the shared
	// table's rows (a type that neither widens nor fits, another key) keeps its rows in a table of
	// its own, named "<table>@<tenant>", until a later change of its schema fits the shared table
	// again; its metadata row and `mirrorsink status` say where and why. Locks are per (tenant, table),
	// except for a change of the shared table's definition, which takes the table's shared lock.
	FanIn Layout = "fan_in"
)

// DefaultTenantColumn is the tenant column's name in the fan-in layout when the route names none.
const DefaultTenantColumn = "tenant"

// checkLayout checks a route's layout against its DSN, schema and dialect.
func (r Route) checkLayout(d dialect.Dialect) error {
	switch r.Layout {
	case "", PerTenant:
		if r.TenantColumn != "" {
			return errors.New("it names a tenant column, which only layout fan_in has")
		}
		return nil
	case FanIn:
	default:
		return fmt.Errorf("layout %q is not known (per_tenant or fan_in)", r.Layout)
	}
	if !d.Capabilities().FanIn {
		return fmt.Errorf("layout fan_in is not supported by dialect %s: its database has no schemas to share "+
			"(use postgres, mysql or sqlserver, or a mirror per tenant)", d.Name())
	}
	if r.perTenant() {
		return errors.New("layout fan_in puts every tenant into one schema, but its dsn or schema has {ctx}; remove it")
	}
	if c := r.TenantColumn; c != "" && (strings.TrimSpace(c) != c || len(c) > 63) {
		return fmt.Errorf("tenant column %q: a name of 1 to 63 bytes without surrounding spaces", c)
	}
	return nil
}

// TenantColumnName returns the route's tenant column in the fan-in layout, "" in a mirror per
// tenant: what dialect.OpenOptions.TenantColumn must be to open a tenant's mirror as the engine does.
func (r Route) TenantColumnName() string {
	if r.Layout != FanIn {
		return ""
	}
	if r.TenantColumn == "" {
		return DefaultTenantColumn
	}
	return r.TenantColumn
}

// checkSharedSchemas refuses routes that would meet in a fan-in schema without sharing it the same
// way: a route of a mirror per tenant whose mirror is a fan-in route's schema, or two fan-in routes on
// one schema with different dialects, tenant columns or added columns (deletes, mirrored_at, their
// names and table overrides: the tenants of a shared table must write the same columns).
func checkSharedSchemas(opts Options) error {
	type shared struct{ who, dialect, column, added string }
	schemas := map[[2]string]shared{}
	add := func(who string, r Route) error {
		for _, tmpl := range r.dsnTemplates() {
			key := [2]string{tmpl, r.Schema}
			prev, ok := schemas[key]
			if ok && (prev.dialect != r.Dialect || prev.column != r.TenantColumnName()) {
				return fmt.Errorf("%s and %s share a fan-in schema with different dialects or tenant columns", prev.who, who)
			}
			if ok && prev.added != r.addedSignature() {
				return fmt.Errorf("%s and %s share a fan-in schema with different deletes, mirrored_at, their columns or their tables overrides; "+
					"the tenants of a shared table must add the same columns to it", prev.who, who)
			}
			schemas[key] = shared{who, r.Dialect, r.TenantColumnName(), r.addedSignature()}
		}
		return nil
	}
	if d := opts.Default; d != nil && d.Layout == FanIn {
		if err := add("the default route", *d); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(opts.Tenants) {
		if r := opts.Tenants[name]; r.Layout == FanIn {
			if err := add("tenant "+name, r); err != nil {
				return err
			}
		}
	}
	for _, name := range sortedKeys(opts.Tenants) {
		r := opts.Tenants[name]
		if r.Layout == FanIn {
			continue
		}
		dsn, schema := r.Resolve(name)
		if prev, ok := schemas[[2]string{dsn, schema}]; ok {
			return fmt.Errorf("tenant %s: its mirror is the fan-in schema of %s, whose tenants share its tables; give it a mirror of its own, or layout fan_in", name, prev.who)
		}
	}
	return nil
}

// fanIn is what an open tenant of a fan-in route knows of the schema it shares.
type fanIn struct {
	// column is the tenant column.
	column string
	// scope names the shared schema for the engine's process locks of shared tables; it is never
	// printed.
	scope string
	// lockKey prefixes the database locks of shared tables' definitions (and of the shared own tables'
	// migrations).
	lockKey string
}

func newFanIn(route Route, dsn, schema string) *fanIn {
	return &fanIn{column: route.TenantColumnName(), scope: "\x00fan_in\x00" + dsn + "\x00" + schema,
		lockKey: "mirrorsink/#fan_in/" + schema + "/"}
}

// ownTableSeparator joins a table's name and a tenant's into the name of the table that holds the
// tenant's rows when they cannot share the shared table. SuperOffice's table names never hold it.
const ownTableSeparator = "@"

// ownTable is the name of the table that holds a tenant's rows of table when they cannot be shared.
func ownTable(table, tenant string) string { return table + ownTableSeparator + tenant }

// place is where a tenant's rows of a table are: the name of the table that holds them.
func place(m dialect.TableMeta) string {
	if m.StoredIn != "" {
		return m.StoredIn
	}
	return m.Table
}

// placeOf is where the rows of the tenants with another schema of table source are.
func placeOf(o dialect.SharedSchema, source string) string {
	if o.StoredIn != "" {
		return o.StoredIn
	}
	return source
}

// checkTenantColumn refuses a table that has a column named like the tenant column: its rows could
// not say whose they are. Names are compared without case, as some databases do.
func (f *fanIn) checkTenantColumn(m *tableModel) error {
	for _, c := range m.columns() {
		if strings.EqualFold(c.Name, f.column) {
			return fmt.Errorf("it has a column %q, the name of the fan-in layout's tenant column; "+
				"give the route another tenant_column", c.Name)
		}
	}
	return nil
}

// sharedPlan is how the table that holds a tenant's rows takes the tenant's new schema.
type sharedPlan struct {
	// def is the table's definition afterwards (table.Name is the table that holds the rows).
	def *tableModel
	// create says that the table does not exist yet; recreate that it holds no other tenant's rows
	// and cannot take the change in place.
	create, recreate bool
	// drops are the columns no tenant has any more; changes add, widen and relax the others. Drops
	// run first, in an Alter of their own, so that a column may be dropped and added again.
	drops, changes []dialect.Change
	// repopulate says that the tenant's rows there must go and be sent again (-1), and why.
	repopulate bool
	reason     string
}

// planShared plans how a table (its recorded definition def, nil when it does not exist) takes a
// tenant's new schema next, beside the schemas of the other tenants whose rows it holds. old is the
// tenant's previous schema when its rows are already there, else nil. The error says why the tenant
// cannot share the table.
func planShared(name string, def *tableModel, others []*tableModel, old, next *tableModel) (sharedPlan, error) {
	p := sharedPlan{}
	if old != nil {
		if own := planChanges(old, next); own.recreate {
			p.repopulate, p.reason = true, own.reason
		}
	}
	if def == nil {
		def, err := unionDefinition(name, next, others)
		p.def, p.create = def, true
		return p, err
	}
	if !slices.Equal(def.stored.Key, next.stored.Key) {
		if len(others) > 0 {
			return p, fmt.Errorf("its key (%s) is not the shared table's (%s)", strings.Join(next.stored.Key, ", "), strings.Join(def.stored.Key, ", "))
		}
		// No other tenant's rows are there: the table starts afresh with this tenant's schema.
		def, err := unionDefinition(name, next, nil)
		p.def, p.recreate, p.repopulate, p.reason = def, true, true, "key columns changed"
		return p, err
	}
	has := func(tm *tableModel, col string) (typemap.Column, bool) {
		if tm == nil {
			return typemap.Column{}, false
		}
		for _, c := range tm.columns() {
			if c.Name == col {
				return c, true
			}
		}
		return typemap.Column{}, false
	}
	othersHave := func(col string) (all, any bool) {
		all = true
		for _, o := range others {
			c, ok := has(o, col)
			any = any || ok
			all = all && ok && !c.Nullable
		}
		return all, any
	}
	var cols []contract.Column
	for i, d := range def.columns() {
		dc := def.stored.Columns[i]
		n, ok := has(next, d.Name)
		allNotNull, someHave := othersHave(d.Name)
		if !ok {
			if other, folded := foldedColumn(next, d.Name); folded {
				return p, fmt.Errorf("column %q differs only in case from the shared table's %q", other, d.Name)
			}
			if !someHave {
				p.drops = append(p.drops, dialect.Change{Kind: dialect.DropColumn, Old: d})
				continue
			}
			if _, had := has(old, d.Name); had {
				p.repopulate, p.reason = true, fmt.Sprintf("column %q, which other tenants keep, is gone from its rows", d.Name)
			}
			cols = append(cols, relaxed(&p, def, i, d, dc))
			continue
		}
		nc := next.stored.Columns[slices.IndexFunc(next.columns(), func(c typemap.Column) bool { return c.Name == d.Name })]
		cur := d
		switch {
		case d.Type == n.Type, typemap.Widens(n.Type, d.Type):
			// The tenant's values fit the shared column as it is.
		case typemap.Widens(d.Type, n.Type):
			cur.Type = n.Type
			p.changes = append(p.changes, dialect.Change{Kind: dialect.AlterType, Column: cur, Old: d})
			dc.Type = nc.Type
		case !someHave:
			// No other tenant has the column: it is dropped and added again with the new type, and the
			// tenant's values of it go with it.
			p.drops = append(p.drops, dialect.Change{Kind: dialect.DropColumn, Old: d})
			added := contract.Column{Name: nc.Name, Type: nc.Type, IsNullable: true}
			p.changes = append(p.changes, addition(added))
			cols = append(cols, added)
			if old != nil {
				p.repopulate, p.reason = true, fmt.Sprintf("column %q changes type from %s to %s", d.Name, dc.Type, nc.Type)
			}
			continue
		default:
			return p, fmt.Errorf("column %q is %s here but %s in the shared table, and neither type holds the other's values", d.Name, nc.Type, dc.Type)
		}
		if d.Nullable || def.table.IsKey(i) || (!n.Nullable && allNotNull) {
			dc.DefaultValue = ""
			cols = append(cols, dc)
			continue
		}
		cols = append(cols, relaxed(&p, def, i, cur, dc))
	}
	for i, n := range next.columns() {
		if _, ok := has(def, n.Name); ok {
			continue
		}
		if other, folded := foldedColumn(def, n.Name); folded {
			return p, fmt.Errorf("column %q differs only in case from the shared table's %q", n.Name, other)
		}
		nc := next.stored.Columns[i]
		added := contract.Column{Name: nc.Name, Type: nc.Type, IsNullable: true}
		p.changes = append(p.changes, addition(added))
		cols = append(cols, added)
		if _, had := has(old, n.Name); old != nil && !had && (!n.Nullable || n.Default != nil) {
			// The source gave the tenant's existing rows a value in the new column; the shared table gives
			// them NULL.
			p.repopulate, p.reason = true, fmt.Sprintf("column %q was added with a value for the existing rows", n.Name)
		}
	}
	added := unionAdded(next.stored.Added, othersAdded(others)...)
	planAdded(&p, def.stored.Added, added)
	def, err := buildModel(contract.TableSchema{Name: name, Columns: cols}, next.stored.Key, added)
	p.def = def
	return p, err
}

// othersAdded returns the columns mirrorsink adds to each of the other tenants' tables.
func othersAdded(others []*tableModel) [][]addedColumn {
	out := make([][]addedColumn, len(others))
	for i, o := range others {
		out[i] = o.stored.Added
	}
	return out
}

// planAdded plans the changes that take a shared table's added columns from had to want: a column no
// tenant writes any more is dropped, a new one added (nullable, without a default). Like a source
// column, an added column stays while any tenant of the table has it (unionAdded), so that a tenant
// whose schema was not reconciled yet after a change of the options never writes a column that is
// gone.
func planAdded(p *sharedPlan, had, want []addedColumn) {
	named := func(list []addedColumn, name string) bool {
		return slices.ContainsFunc(list, func(a addedColumn) bool { return a.Name == name })
	}
	col := func(name string) typemap.Column {
		return typemap.Column{Name: name, Type: dialect.AddedTimeType, Nullable: true}
	}
	for _, a := range had {
		if !named(want, a.Name) {
			p.drops = append(p.drops, dialect.Change{Kind: dialect.DropColumn, Old: col(a.Name)})
		}
	}
	for _, a := range want {
		if !named(had, a.Name) {
			p.changes = append(p.changes, dialect.Change{Kind: dialect.AddColumn, Column: col(a.Name)})
		}
	}
}

// relaxed returns the shared table's column i (cur, as it is after any widening; dc on the wire) as
// nullable, planning the change when it is NOT NULL.
func relaxed(p *sharedPlan, def *tableModel, i int, cur typemap.Column, dc contract.Column) contract.Column {
	dc.DefaultValue = ""
	if !dc.IsNullable && !def.table.IsKey(i) {
		c := cur
		c.Nullable = true
		p.changes = append(p.changes, dialect.Change{Kind: dialect.AlterNullability, Column: c, Old: cur})
		dc.IsNullable = true
	}
	return dc
}

// addition is the change that adds a column to a shared table: nullable, without a default.
func addition(c contract.Column) dialect.Change {
	col, _ := typemap.ParseColumn(c) // parsed before, from the tenant's schema
	return dialect.Change{Kind: dialect.AddColumn, Column: col}
}

// foldedColumn finds a column of tm whose name equals col without case but not exactly.
func foldedColumn(tm *tableModel, col string) (string, bool) {
	for _, c := range tm.columns() {
		if c.Name != col && strings.EqualFold(c.Name, col) {
			return c.Name, true
		}
	}
	return "", false
}

// unionDefinition is the definition of a new shared table: the columns of next, then those of the
// other tenants' schemas that next lacks, without defaults, NOT NULL where every tenant has them NOT
// NULL, each of the widest type.
func unionDefinition(name string, next *tableModel, others []*tableModel) (*tableModel, error) {
	all := append([]*tableModel{next}, others...)
	var cols []contract.Column
	index := map[string]int{}
	for _, tm := range all {
		if !slices.Equal(tm.stored.Key, next.stored.Key) {
			return nil, fmt.Errorf("another tenant's key (%s) is not this one's (%s)", strings.Join(tm.stored.Key, ", "), strings.Join(next.stored.Key, ", "))
		}
		for i, c := range tm.stored.Columns {
			c.DefaultValue = ""
			c.IsNullable = c.IsNullable && !tm.table.IsKey(i)
			j, ok := index[c.Name]
			if !ok {
				index[c.Name] = len(cols)
				cols = append(cols, c)
				continue
			}
			prev, _ := typemap.ParseType(cols[j].Type)
			cur := tm.table.Columns[i].Type
			switch {
			case typemap.Widens(cur, prev):
			case typemap.Widens(prev, cur):
				cols[j].Type = c.Type
			default:
				return nil, fmt.Errorf("column %q is %s for one tenant and %s for another", c.Name, cols[j].Type, c.Type)
			}
			cols[j].IsNullable = cols[j].IsNullable || c.IsNullable
		}
	}
	// A column that some tenant lacks is nullable.
	for j := range cols {
		for _, tm := range all {
			if slices.IndexFunc(tm.stored.Columns, func(c contract.Column) bool { return c.Name == cols[j].Name }) < 0 {
				cols[j].IsNullable = true
			}
		}
	}
	return buildModel(contract.TableSchema{Name: name, Columns: cols}, next.stored.Key, unionAdded(next.stored.Added, othersAdded(others)...))
}

// sharedState is what reconcileFanIn reads of a table before it changes anything.
type sharedState struct {
	// mine is the tenant's metadata row, nil when it has none.
	mine *dialect.TableMeta
	// old is the tenant's previous schema, when its rows are where they are to stay.
	old *tableModel
	// at is the table that holds the tenant's rows now ("" when nowhere); to is the one that will.
	at, to string
	// conflict says why the tenant's rows cannot share the shared table ("" when they can).
	conflict string
	plan     sharedPlan
	// present says whether the table that will hold the rows exists; recorded is the hash of its
	// recorded definition ("" when none is recorded).
	present  bool
	recorded string
}

// reconcileFanIn brings one table of a fan-in tenant to the requested schema and returns the LSN to
// answer (see FanIn). It holds the table's shared lock, in this process and in the database, besides
// the (tenant, table) lock, so that two tenants never change one shared table's definition at once.
func (e *Engine) reconcileFanIn(ctx context.Context, t *tenant, m *tableModel) (int64, error) {
	name := m.table.Name
	if err := t.fanIn.checkTenantColumn(m); err != nil {
		return -1, err
	}
	unlock, err := e.lockTable(ctx, t.fanIn.scope, name)
	if err != nil {
		return -1, err
	}
	defer unlock()
	if !t.dialect.Capabilities().TransactionalDDL {
		// The database commits DDL by itself, and with it a delete of the tenant's rows that comes
		// before: the metadata must already say that the rows are to be sent again.
		var st *sharedState
		if err := e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
			var err error
			st, err = e.readShared(ctx, t, tx, m)
			return err
		}); err != nil {
			return -1, err
		}
		if st.mine != nil && st.mine.LSN != -1 && (st.plan.repopulate || st.at != st.to || st.plan.recreate) {
			if err := e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
				_, err := tx.Meta().ResetLSN(ctx, name)
				return err
			}); err != nil {
				return -1, fmt.Errorf("table %q: mark it for repopulation before changing the shared table: %w", name, err)
			}
		}
	}
	var (
		lsn  int64 = -1
		st   *sharedState
		lost []dialect.LostObject
	)
	err = e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
		var err error
		if st, err = e.readShared(ctx, t, tx, m); err != nil {
			return err
		}
		if st.mine != nil && st.mine.SchemaHash == m.hash && st.at == st.to {
			lsn = st.mine.LSN // a concurrent call got here first
			return nil
		}
		lost, lsn, err = e.applyShared(ctx, t, tx, m, st)
		return err
	})
	if err != nil {
		return -1, err
	}
	e.reportLost(t, name, lost)
	if st.conflict != "" && st.at != st.to {
		e.log.Warn("a table of the tenant cannot share the fan-in table; its rows go to a table of its own",
			"tenant", t.name, "table", name, "stored_in", st.to, "reason", st.conflict)
	}
	return lsn, nil
}

// readShared reads where the tenant's rows of m's table are and plans where they go (under the
// table's shared lock, which it takes in the database; the caller holds it in this process).
func (e *Engine) readShared(ctx context.Context, t *tenant, tx dialect.Tx, m *tableModel) (*sharedState, error) {
	name := m.table.Name
	if err := tx.Lock(ctx, t.fanIn.lockKey+name); err != nil {
		return nil, fmt.Errorf("lock the shared table %q: %w", name, err)
	}
	sh, err := tx.Meta().Shared(ctx, name)
	if err != nil {
		return nil, err
	}
	// The shared table first: the tenant's rows go there unless they cannot share it.
	shared, err := e.sharedDefinition(ctx, t, tx, name, name, &sh)
	if err != nil {
		return nil, err
	}
	st := &sharedState{}
	if r := sh.Mine; r != nil {
		st.mine, st.at = r, place(*r)
		if st.old, err = parseStored(name, r.SchemaJSON); err != nil {
			st.old = nil // unreadable: its rows are sent again
		}
	}
	// old is the tenant's schema where its rows stay; elsewhere it has none.
	oldAt := func(table string, present bool) *tableModel {
		if st.at != table || !present {
			return nil
		}
		return st.old
	}
	st.to, st.present, st.recorded = name, shared.present, shared.hash()
	st.plan, err = planShared(name, shared.def, shared.others, oldAt(name, shared.present), m)
	if err == nil {
		return st, nil
	}
	st.conflict = err.Error()
	own := ownTable(name, t.name)
	if err := t.checkTableName(own); err != nil {
		return nil, fmt.Errorf("it cannot share the fan-in table (%s), and a table of its own cannot be named: %w", st.conflict, err)
	}
	ownSh, err := tx.Meta().Shared(ctx, own)
	if err != nil {
		return nil, err
	}
	mine, err := e.sharedDefinition(ctx, t, tx, own, name, &ownSh)
	if err != nil {
		return nil, err
	}
	st.to, st.present, st.recorded = own, mine.present, mine.hash()
	if st.plan, err = planShared(own, mine.def, nil, oldAt(own, mine.present), m); err != nil {
		return nil, fmt.Errorf("it cannot share the fan-in table (%s), nor be kept in a table of its own: %w", st.conflict, err)
	}
	return st, nil
}

// sharedDef is what the metadata and the database say of a table that holds tenants' rows.
type sharedDef struct {
	// def is its recorded definition, nil when there is none.
	def *tableModel
	// others are the schemas of the other tenants whose rows it holds.
	others []*tableModel
	// present says whether the table exists.
	present bool
}

// hash is the recorded definition's hash, "" when none is recorded.
func (d sharedDef) hash() string {
	if d.def == nil {
		return ""
	}
	return d.def.hash
}

// sharedDefinition reads what is known of the table named table, the shared one or a tenant's own,
// that holds tenants' rows of the source table source (sh is table's Shared record). A table whose definition is recorded but which is gone (dropped by hand)
// takes its records with it, sh's too: every tenant that had rows there answers -1 at its next
// TableSchema. A table that exists without a recorded definition and holds no tenant's rows is of
// unknown shape and content, and starts afresh (a recreate); one that holds other tenants' rows fails.
func (e *Engine) sharedDefinition(ctx context.Context, t *tenant, tx dialect.Tx, table, source string, sh *dialect.SharedTable) (sharedDef, error) {
	var out sharedDef
	var err error
	if out.present, err = tx.Tables().Exists(ctx, table); err != nil {
		return out, fmt.Errorf("table %q: %w", table, err)
	}
	if sh.Definition != nil && !out.present {
		e.log.Warn("a table of the fan-in layout is gone from the mirror; every tenant's rows of it are sent again",
			"tenant", t.name, "table", table)
		if err := tx.Meta().DeleteShared(ctx, table); err != nil {
			return out, err
		}
		if sh.Mine != nil && place(*sh.Mine) != table {
			*sh = dialect.SharedTable{Mine: sh.Mine} // the tenant's rows are elsewhere, and stay
		} else {
			*sh = dialect.SharedTable{}
		}
		return out, nil
	}
	for _, o := range sh.Others {
		if placeOf(o, source) != table {
			continue
		}
		m, err := parseStored(source, o.SchemaJSON)
		if err != nil {
			return out, fmt.Errorf("table %q: another tenant's stored schema: %w", table, err)
		}
		out.others = append(out.others, m)
	}
	if sh.Definition == nil {
		if out.present && len(out.others) > 0 {
			return out, fmt.Errorf("the shared table %q exists and holds other tenants' rows, but its definition is not recorded", table)
		}
		return out, nil
	}
	if out.def, err = parseStored(table, sh.Definition.SchemaJSON); err != nil {
		return out, fmt.Errorf("the shared table %q: its recorded definition is unreadable: %w", table, err)
	}
	return out, nil
}

// applyShared carries out what readShared planned, in the caller's transaction: the tenant's rows
// leave the table that held them when they move (or are deleted when they must be sent again), the
// table that will hold them is created, recreated or changed, and its definition and the tenant's
// metadata row are written. It returns what the change could not keep of others' objects and the
// LSN to answer.
func (e *Engine) applyShared(ctx context.Context, t *tenant, tx dialect.Tx, m *tableModel, st *sharedState) ([]dialect.LostObject, int64, error) {
	name, p := m.table.Name, st.plan
	lsn := int64(-1)
	if st.mine != nil && st.at == st.to && !p.repopulate && !p.create && !p.recreate {
		lsn = st.mine.LSN
	}
	// The tenant's rows go (they move, the table starts afresh, or they are sent again): one W, before
	// the changes where DDL commits by itself, else after them (see emptying).
	emptied := st.at != "" && st.at != st.to || p.create || p.recreate || p.repopulate
	transactional := t.dialect.Capabilities().TransactionalDDL
	if emptied && !transactional {
		if err := e.journalWipe(ctx, t, tx, name); err != nil {
			return nil, -1, err
		}
	}
	if st.at != "" && st.at != st.to {
		if err := e.leave(ctx, tx, st); err != nil {
			return nil, -1, err
		}
	}
	var lost []dialect.LostObject
	var err error
	switch {
	case p.recreate || p.create && st.present:
		if lost, err = tx.Tables().Recreate(ctx, p.def.table); err != nil {
			return nil, -1, fmt.Errorf("recreate table %q: %w", p.def.table.Name, err)
		}
		e.metrics.tablesRecreated.Add(1)
	case p.create:
		if err := tx.Tables().Create(ctx, p.def.table); err != nil {
			return nil, -1, fmt.Errorf("create table %q: %w", p.def.table.Name, err)
		}
		e.metrics.tablesCreated.Add(1)
	default:
		if p.repopulate && st.at == st.to && st.mine != nil {
			// The tenant's rows go; the others' stay. (Truncate needs only the table's name.)
			if err := tx.Tables().Truncate(ctx, dialect.Table{Name: st.to}); err != nil {
				return nil, -1, fmt.Errorf("delete the tenant's rows of %q: %w", st.to, err)
			}
		} else if st.at == st.to {
			// Rows the tenant kept as deleted go when its table stops keeping them in that column.
			if err := e.purgeDeleted(ctx, t, tx, st.to, st.old, m); err != nil {
				return nil, -1, err
			}
		}
		for _, changes := range [][]dialect.Change{p.drops, p.changes} {
			if len(changes) == 0 {
				continue
			}
			l, err := tx.Tables().Alter(ctx, p.def.table, changes)
			if err != nil {
				return nil, -1, fmt.Errorf("change the shared table %q: %w", p.def.table.Name, err)
			}
			lost = append(lost, l...)
		}
		if len(p.drops)+len(p.changes) > 0 {
			e.metrics.tablesAltered.Add(1)
		}
	}
	if emptied && transactional {
		if err := e.journalWipe(ctx, t, tx, name); err != nil {
			return nil, -1, err
		}
	}
	if p.repopulate {
		e.log.Info("the tenant's rows of a fan-in table are sent again", "tenant", t.name, "table", name, "reason", p.reason)
	}
	// A tenant that joins a table as it is changes nothing of it, and writes nothing of it either.
	if p.def.hash != st.recorded || p.create || p.recreate {
		if err := tx.Meta().PutShared(ctx, dialect.TableMeta{Table: p.def.table.Name, LSN: -1, SchemaHash: p.def.hash,
			SchemaJSON: p.def.json, SchemaChanged: e.now(), LostObjects: lost}); err != nil {
			return nil, -1, err
		}
	}
	row := dialect.TableMeta{Table: name, LSN: lsn, SchemaHash: m.hash, SchemaJSON: m.json, SchemaChanged: e.now(),
		LostObjects: lost, Conflict: st.conflict}
	if st.to != name {
		row.StoredIn = st.to
	}
	return lost, lsn, tx.Meta().PutTable(ctx, row)
}

// leave removes the tenant's rows from the table that held them, as they move to another: a table of
// the tenant's own is dropped with its definition; from the shared table only its rows go.
func (e *Engine) leave(ctx context.Context, tx dialect.Tx, st *sharedState) error {
	if st.at != st.mine.Table {
		if _, err := tx.Tables().Drop(ctx, st.at); err != nil {
			return fmt.Errorf("drop table %q: %w", st.at, err)
		}
		return tx.Meta().DeleteShared(ctx, st.at)
	}
	if err := tx.Tables().Truncate(ctx, dialect.Table{Name: st.at}); err != nil {
		return fmt.Errorf("delete the tenant's rows of %q: %w", st.at, err)
	}
	return nil
}

// dropFanIn removes a table that the source no longer has from a fan-in tenant's mirror: the
// tenant's rows and its metadata row go, and the shared table itself only when no other tenant's rows
// are left in it (a table of the tenant's own always goes). sameTable says that the database does not
// tell the name from a requested table's: then only the metadata row goes.
func (e *Engine) dropFanIn(ctx context.Context, t *tenant, r dialect.TableMeta, sameTable bool, failed *tableFailures) {
	name := r.Table
	unlock, err := e.lockTable(ctx, t.fanIn.scope, name)
	if err != nil {
		failed.add(name, err)
		return
	}
	defer unlock()
	var lost []dialect.LostObject
	dropped := false
	err = e.inTx(ctx, t, name, dialect.Durable, func(tx dialect.Tx) error {
		if err := tx.Lock(ctx, t.fanIn.lockKey+name); err != nil {
			return fmt.Errorf("lock the shared table %q: %w", name, err)
		}
		if sameTable {
			return tx.Meta().DeleteTable(ctx, name)
		}
		sh, err := tx.Meta().Shared(ctx, name)
		if err != nil {
			return err
		}
		if sh.Mine == nil {
			return nil // a concurrent call got here first
		}
		at, others := place(*sh.Mine), false
		for _, o := range sh.Others {
			others = others || placeOf(o, name) == at && o.Tenants > 0
		}
		if err := tx.Meta().DeleteTable(ctx, name); err != nil {
			return err
		}
		caps := t.dialect.Capabilities()
		if others {
			return e.emptying(ctx, t, tx, name, caps.TransactionalTruncate, func() error {
				if err := tx.Tables().Truncate(ctx, dialect.Table{Name: at}); err != nil {
					return fmt.Errorf("delete the tenant's rows of %q: %w", at, err)
				}
				return nil
			})
		}
		err = e.emptying(ctx, t, tx, name, caps.TransactionalDDL, func() error {
			var err error
			if lost, err = tx.Tables().Drop(ctx, at); err != nil {
				return fmt.Errorf("drop table %q: %w", at, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		dropped = true
		return tx.Meta().DeleteShared(ctx, at)
	})
	if err != nil {
		failed.add(name, err)
		return
	}
	if dropped {
		e.log.Info("dropped a table that the source no longer has, and no other tenant of the fan-in schema either", "tenant", t.name, "table", place(r))
		e.metrics.tablesDropped.Add(1)
		e.reportLost(t, name, lost)
	} else {
		e.log.Info("removed the tenant's rows of a table that its source no longer has", "tenant", t.name, "table", name)
	}
}

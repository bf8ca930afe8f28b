package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
)

// EventKind names one of the events SuperOffice's own mirroring client gives partners (its IMirrorAdmin
// interface): OnBeforeReplicateTable, OnWipe and OnReplicationCompleted.
type EventKind string

// The three events, as hooks and webhooks name them.
const (
	// BeforeTable fires once per table per cycle, after TableSchema settled the table's schema (and
	// committed it), in the order of the request, whether or not the schema changed.
	BeforeTable EventKind = "before_table"
	// AfterWipe fires after a Wipe's truncate committed.
	AfterWipe EventKind = "after_wipe"
	// AfterCycle fires after ReplicationCompleted recorded the cycle.
	AfterCycle EventKind = "after_cycle"
)

// EventKinds lists the events in the order a cycle raises them.
var EventKinds = []EventKind{BeforeTable, AfterWipe, AfterCycle}

// Event is one event in a tenant's mirror, as SQL hooks see it (through placeholders) and as the
// Notifier receives it.
type Event struct {
	Kind   EventKind
	Tenant string
	// Table is the event's table (BeforeTable, AfterWipe).
	Table string
	// SchemaChanged says that this TableSchema call created or changed the table (BeforeTable).
	SchemaChanged bool
	// Recreated says that the table must be repopulated from scratch after a schema change: it was
	// dropped and created again, or it was already waiting for a repopulation (BeforeTable). Objects a
	// partner keeps on a recreated table may need to be created again.
	Recreated bool
	// Cycle is the id of the cycle's row in the tenant's cycles table (AfterCycle).
	Cycle int64
	// Summary is the cycle's per-table counts as ReplicationCompleted gave them (AfterCycle).
	Summary []TableSummary
	// Time is when the event happened (UTC).
	Time time.Time
}

// TableSummary is one table's counts in a cycle. The cycles table stores a cycle's summary as the JSON
// array of these.
type TableSummary struct {
	Table   string `json:"table"`
	Inserts int64  `json:"inserts"`
	Updates int64  `json:"updates"`
	Deletes int64  `json:"deletes"`
}

// Notifier hands events to a partner's code outside the mirror's database: the webhooks.
type Notifier interface {
	// Notify delivers ev. Deliveries that must succeed for the call to succeed (required webhooks)
	// happen before it returns, and their failure is its error. The others are queued and delivered
	// later; a delivery that finally fails is reported through failed, from another goroutine.
	Notify(ctx context.Context, ev Event, failed func(error)) error
}

// Hook is one SQL hook: statements run in one transaction of the tenant's mirror after an event's own
// transaction committed. Placeholders (see Placeholders) stand for the event's values.
type Hook struct {
	Statements []string
	// Required makes the hook's failure fail the call, so that SuperOffice retries it (and the event
	// fires again); otherwise a failure is logged, counted and recorded, and the call succeeds.
	Required bool
	// ChangedOnly runs a before_table hook only for a table whose schema changed.
	ChangedOnly bool
}

// Hooks are the SQL hooks of each event.
type Hooks struct {
	BeforeTable []Hook
	AfterWipe   []Hook
	AfterCycle  []Hook
}

// For returns the hooks of one event.
func (h Hooks) For(kind EventKind) []Hook {
	switch kind {
	case BeforeTable:
		return h.BeforeTable
	case AfterWipe:
		return h.AfterWipe
	case AfterCycle:
		return h.AfterCycle
	}
	return nil
}

// Placeholders are what a hook statement may say for the event's values; the events that have each.
// Names from SuperOffice are data: {table} is always a quoted identifier and {table_literal} and
// {ctx_literal} always quoted string literals, so that no name can change a statement's meaning.
var Placeholders = []struct {
	Name   string
	Events []EventKind
	Means  string
}{
	{"{table}", []EventKind{BeforeTable, AfterWipe}, "the table as a quoted (and, where the mirror needs it, qualified) identifier"},
	{"{table_literal}", []EventKind{BeforeTable, AfterWipe}, "the table's name as a quoted string literal"},
	{"{schema_changed}", []EventKind{BeforeTable}, "1 when this cycle created or changed the table, else 0"},
	{"{recreated}", []EventKind{BeforeTable}, "1 when the table is to be repopulated from scratch after a schema change, else 0"},
	{"{ctx_literal}", []EventKind{BeforeTable, AfterWipe, AfterCycle}, "the tenant as a quoted string literal"},
	{"{cycles_table}", []EventKind{AfterCycle}, "the tenant's cycles table as a quoted identifier"},
	{"{cycle_id}", []EventKind{AfterCycle}, "the id of the cycle's row in the cycles table"},
}

// validateHooks refuses a hook without statements, or one that uses a placeholder its event does not
// have (after_cycle has no table): the statement would otherwise run with a hole in it.
func validateHooks(opts Options) error {
	check := func(where string, hs Hooks) error {
		for _, kind := range EventKinds {
			for i, h := range hs.For(kind) {
				if len(h.Statements) == 0 {
					return fmt.Errorf("%s.%s[%d]: a hook needs at least one statement", where, kind, i)
				}
				if h.ChangedOnly && kind != BeforeTable {
					return fmt.Errorf("%s.%s[%d]: changed_only applies to before_table hooks only", where, kind, i)
				}
				for _, stmt := range h.Statements {
					if strings.TrimSpace(stmt) == "" {
						return fmt.Errorf("%s.%s[%d]: an empty statement", where, kind, i)
					}
					for _, p := range Placeholders {
						if strings.Contains(stmt, p.Name) && !hasKind(p.Events, kind) {
							return fmt.Errorf("%s.%s[%d]: %s has no value in a %s hook", where, kind, i, p.Name, kind)
						}
					}
					if p, ok := placeholderInString(stmt); ok {
						return fmt.Errorf("%s.%s[%d]: %s stands inside a quoted string; placeholders are quoted already "+
							"(a name where SQL wants a value is {table_literal} or {ctx_literal}, unquoted)", where, kind, i, p)
					}
				}
			}
		}
		return nil
	}
	if err := check("hooks", opts.Hooks); err != nil {
		return err
	}
	for name, r := range opts.Tenants {
		if err := check("tenants."+name+".hooks", r.Hooks); err != nil {
			return err
		}
	}
	if opts.Default != nil {
		return check("default.hooks", opts.Default.Hooks)
	}
	return nil
}

// placeholderInString reports a placeholder written inside a single-quoted SQL string, as in
// VALUES ('{table}'): the value's own quoting would end the string, which is how a crafted table name
// injects SQL. Doubled quotes inside a string are its content.
func placeholderInString(stmt string) (string, bool) {
	in := false
	for i := 0; i < len(stmt); i++ {
		switch {
		case stmt[i] == '\'':
			if in && i+1 < len(stmt) && stmt[i+1] == '\'' {
				i++ // '' is a quote inside the string
				continue
			}
			in = !in
		case in && stmt[i] == '{':
			for _, p := range Placeholders {
				if strings.HasPrefix(stmt[i:], p.Name) {
					return p.Name, true
				}
			}
		}
	}
	return "", false
}

func hasKind(kinds []EventKind, k EventKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// hookError is a failed hook or webhook delivery. Its message, which fails the call when the hook was
// required, says only which event's hook failed: the partner's SQL and endpoints are not
// SuperOffice's business. The cause goes to the log and the tenant's failure log. It does not unwrap
// to its cause: a hook whose statement names a table that does not exist is the partner's mistake,
// and must not read as the mirror's own tables gone (dialect.ErrMissing), which would reopen the
// mirror and run the call again.
type hookError struct {
	kind EventKind
	err  error
}

func (h *hookError) Error() string {
	return fmt.Sprintf("a required %s hook failed (the mirror's status and the service log say why)", h.kind)
}

// emit runs the event's SQL hooks (the global ones, then the route's) and hands the event to the
// Notifier. A failure is logged, counted, and recorded in the tenant's failure log; it is returned,
// as a *hookError, only when the hook was required.
func (e *Engine) emit(ctx context.Context, t *tenant, ev Event) error {
	var errs []error
	hooks := append(append([]Hook(nil), e.opts.Hooks.For(ev.Kind)...), t.route.Hooks.For(ev.Kind)...)
	for _, h := range hooks {
		if h.ChangedOnly && !ev.SchemaChanged {
			continue
		}
		if err := e.runHook(ctx, t, ev, h); err != nil {
			e.hookFailed(t.name, ev, "sql", err)
			if h.Required {
				errs = append(errs, err)
			}
		}
	}
	if e.opts.Notifier != nil {
		err := e.opts.Notifier.Notify(ctx, ev, func(err error) {
			e.hookFailed(t.name, ev, "webhook", err)
		})
		if err != nil {
			e.hookFailed(t.name, ev, "webhook", err)
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return &hookError{kind: ev.Kind, err: err}
	}
	return nil
}

// runHook runs one hook's statements, placeholders filled in, in one transaction.
func (e *Engine) runHook(ctx context.Context, t *tenant, ev Event, h Hook) error {
	fill, err := e.placeholders(t, ev)
	if err != nil {
		return err
	}
	return e.inTx(ctx, t, "", dialect.Durable, func(tx dialect.Tx) error {
		for i, stmt := range h.Statements {
			if err := tx.RunStatement(ctx, fill.Replace(stmt)); err != nil {
				return fmt.Errorf("statement %d of %d: %w", i+1, len(h.Statements), err)
			}
		}
		return nil
	})
}

// placeholders returns the replacer of an event's placeholders. Those an event does not have are
// refused when the engine is built (validateHooks), so their empty values are never used.
func (e *Engine) placeholders(t *tenant, ev Event) (*strings.Replacer, error) {
	var table, tableLiteral, cycles string
	if ev.Table != "" {
		q, err := t.names.Table(ev.Table)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", shortName(ev.Table), err)
		}
		table, tableLiteral = q, t.names.Literal(ev.Table)
	}
	if ev.Kind == AfterCycle {
		q, err := t.names.Table(t.own.Cycles)
		if err != nil {
			return nil, err
		}
		cycles = q
	}
	return strings.NewReplacer(
		"{table_literal}", tableLiteral,
		"{table}", table,
		"{schema_changed}", bit(ev.SchemaChanged),
		"{recreated}", bit(ev.Recreated),
		"{ctx_literal}", t.names.Literal(t.name),
		"{cycles_table}", cycles,
		"{cycle_id}", strconv.FormatInt(ev.Cycle, 10),
	), nil
}

// bit is a boolean as SQL hooks get it: an integer, since SQL Server has no boolean literal.
func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// hookFailed logs, counts and records a failed hook or webhook delivery.
func (e *Engine) hookFailed(tenant string, ev Event, kind string, err error) {
	e.metrics.hookFailed(ev.Kind, kind)
	e.log.Warn("hook failed", "tenant", tenant, "event", string(ev.Kind), "kind", kind, "table", ev.Table, "err", err)
	op := "hook " + string(ev.Kind)
	if kind == "webhook" {
		op = "webhook " + string(ev.Kind)
	}
	e.record(tenant, []dialect.Failure{e.failure(e.now(), op, ev.Table, &hookError{kind: ev.Kind, err: err})})
}

// failureText is what the failure log says of err: a hook's own error, or the message SuperOffice got
// without row data.
func failureText(err error) string {
	var h *hookError
	if errors.As(err, &h) {
		err = h.err
	}
	var redacted contract.RedactedError
	if errors.As(err, &redacted) {
		return redacted.Redacted()
	}
	return err.Error()
}

// beforeTable raises before_table for each table a TableSchema call settled, in request order. A
// required hook that fails fails its table; when the table's schema had changed, the change is
// re-armed so that the next TableSchema reports it again (and the hook runs again with
// {schema_changed} = 1) instead of seeing an unchanged table.
func (e *Engine) beforeTable(ctx context.Context, t *tenant, events []Event, failed *tableFailures) {
	for _, ev := range events {
		err := e.emit(ctx, t, ev)
		if err == nil {
			continue
		}
		if ev.SchemaChanged {
			if rerr := e.rearmSchemaChange(ctx, t, ev.Table); rerr != nil {
				e.log.Warn("cannot mark a table's schema change for the next cycle after its required hook failed",
					"tenant", t.name, "table", ev.Table, "err", rerr)
			}
		}
		failed.add(ev.Table, err)
	}
}

// rearmHash is the schema hash stored for a table whose schema change must be reported again: no
// schema hashes to it, so the next TableSchema reconciles the table, finds its stored schema already
// equal to the requested one (no DDL), stores the real hash and reports a change.
var rearmHash = strings.Repeat("0", 64)

// rearmSchemaChange stores rearmHash as the table's schema hash, under the table's lock.
func (e *Engine) rearmSchemaChange(ctx context.Context, t *tenant, table string) error {
	return e.inTx(ctx, t, table, dialect.Durable, func(tx dialect.Tx) error {
		m, ok, err := tx.Meta().Table(ctx, table)
		if err != nil || !ok {
			return err
		}
		m.SchemaHash = rearmHash
		return tx.Meta().PutTable(ctx, m)
	})
}

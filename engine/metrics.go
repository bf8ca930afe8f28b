package engine

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// Metrics are the engine's counters since the process started. WritePrometheus exposes them in the
// Prometheus text format; the service serves them at /metrics.
type Metrics struct {
	rowsBulk, rowsUpserted, rowsDeleted atomic.Int64
	bulkFallbacks, batchFailures        atomic.Int64
	wipes, cycles                       atomic.Int64
	tablesCreated, tablesAltered        atomic.Int64
	tablesRecreated, tablesDropped      atomic.Int64
	nulsReplaced, keysMerged            atomic.Int64
	batchesStreamed, streamMisses       atomic.Int64
	partnerObjectsFailed                atomic.Int64
	journalEntries, journalPruned       atomic.Int64
	mirrorsReopened, tenantsClosedIdle  atomic.Int64
	tenantsOpen                         atomic.Int64 // a gauge
	// servers reports the connection gates, by database server.
	servers func() map[string]dialect.GateStats

	// hookFailures counts failed hooks by event (EventKinds' order) and kind (hookKinds' order).
	hookFailures [3][2]atomic.Int64
}

// hookKinds are the kinds of hook: SQL in the mirror, and webhooks.
var hookKinds = [2]string{"sql", "webhook"}

// hookFailed counts one failed hook.
func (m *Metrics) hookFailed(event EventKind, kind string) {
	for i, ev := range EventKinds {
		for j, k := range hookKinds {
			if ev == event && k == kind {
				m.hookFailures[i][j].Add(1)
			}
		}
	}
}

// HookFailures returns how many hooks of an event and kind ("sql", "webhook") have failed.
func (m *Metrics) HookFailures(event EventKind, kind string) int64 {
	for i, ev := range EventKinds {
		for j, k := range hookKinds {
			if ev == event && k == kind {
				return m.hookFailures[i][j].Load()
			}
		}
	}
	return 0
}

func newMetrics() *Metrics { return &Metrics{} }

// events is how the dialects report to these counters.
func (m *Metrics) events() *dialect.Events {
	return &dialect.Events{OnNULsReplaced: func(n int) { m.nulsReplaced.Add(int64(n)) }}
}

// SchemaWork is a snapshot of the schema counters: how many tables were created, altered in place,
// recreated and dropped since the process started, and how many objects of others' those changes
// could not keep.
type SchemaWork struct {
	Created, Altered, Recreated, Dropped int64
	PartnerObjectsFailed                 int64
}

// SchemaWork returns the schema counters now.
func (m *Metrics) SchemaWork() SchemaWork {
	return SchemaWork{m.tablesCreated.Load(), m.tablesAltered.Load(), m.tablesRecreated.Load(), m.tablesDropped.Load(),
		m.partnerObjectsFailed.Load()}
}

// Streaming returns how many batches were loaded while they arrived, and how many such loads were
// rolled back for a wrong guess of their table (see stream.go), since the process started.
func (m *Metrics) Streaming() (streamed, missed int64) {
	return m.batchesStreamed.Load(), m.streamMisses.Load()
}

// WritePrometheus writes every counter in the Prometheus text exposition format.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	counters := []struct {
		name, help string
		v          int64
	}{
		{"mirrorsink_rows_bulk_inserted_total", "Rows written through a dialect's bulk path.", m.rowsBulk.Load()},
		{"mirrorsink_rows_upserted_total", "Rows inserted or updated through the staging path.", m.rowsUpserted.Load()},
		{"mirrorsink_rows_deleted_total", "Rows deleted (D operations applied).", m.rowsDeleted.Load()},
		{"mirrorsink_bulk_fallbacks_total", "Bulk loads that met an existing key and were applied as upserts.", m.bulkFallbacks.Load()},
		{"mirrorsink_batch_failures_total", "RowData batches that failed and were rolled back.", m.batchFailures.Load()},
		{"mirrorsink_batches_streamed_total", "RowData batches bulk-loaded while they arrived, into the table guessed from the tenant's previous batches.", m.batchesStreamed.Load()},
		{"mirrorsink_stream_guesses_missed_total", "Batches whose load while they arrived was rolled back (another table, not only inserts, or a failed load) and that were applied the usual way.", m.streamMisses.Load()},
		{"mirrorsink_wipes_total", "Wipe calls applied.", m.wipes.Load()},
		{"mirrorsink_cycles_total", "Replication cycles completed.", m.cycles.Load()},
		{"mirrorsink_tables_created_total", "Tables created.", m.tablesCreated.Load()},
		{"mirrorsink_tables_altered_total", "Tables changed in place.", m.tablesAltered.Load()},
		{"mirrorsink_tables_recreated_total", "Tables dropped and recreated for a schema change.", m.tablesRecreated.Load()},
		{"mirrorsink_tables_dropped_total", "Tables dropped because the source no longer has them.", m.tablesDropped.Load()},
		{"mirrorsink_keys_merged_at_target_precision_total", "Rows superseded in their batch by a later row whose key differs only below the target's time precision (e.g. 100 ns apart on a microsecond target).", m.keysMerged.Load()},
		{"mirrorsink_partner_objects_failed_total", "Objects that mirrorsink did not create (views, indexes, triggers, constraints, grants) and that a change of their table could not keep; the log and status name them.", m.partnerObjectsFailed.Load()},
		{"mirrorsink_nul_characters_replaced_total", "NUL characters replaced with U+FFFD for targets that cannot store them.", m.nulsReplaced.Load()},
		{"mirrorsink_mirrors_reopened_total", "Tenant mirrors found missing (database, schema or a table dropped) and opened again, re-creating what was missing.", m.mirrorsReopened.Load()},
		{"mirrorsink_tenants_closed_idle_total", "Tenant mirrors closed after idle_tenant_timeout without a call.", m.tenantsClosedIdle.Load()},
		{"mirrorsink_journal_entries_total", "Entries appended to change journals (routes with journal: true), committed or rolled back with their rows.", m.journalEntries.Load()},
		{"mirrorsink_journal_pruned_total", "Change journal entries deleted by journal_keep after cycles.", m.journalPruned.Load()},
	}
	for _, c := range counters {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.name, c.help, c.name, c.name, c.v); err != nil {
			return err
		}
	}
	const hooks = "mirrorsink_hook_failures_total"
	if _, err := fmt.Fprintf(w, "# HELP %s Hooks that failed (SQL hooks, and webhook deliveries that gave up), by event and kind.\n# TYPE %s counter\n", hooks, hooks); err != nil {
		return err
	}
	for i, ev := range EventKinds {
		for j, kind := range hookKinds {
			if _, err := fmt.Fprintf(w, "%s{event=%q,kind=%q} %d\n", hooks, ev, kind, m.hookFailures[i][j].Load()); err != nil {
				return err
			}
		}
	}
	if _, err := fmt.Fprintf(w, "# HELP mirrorsink_tenants_open Tenant mirrors open now.\n# TYPE mirrorsink_tenants_open gauge\nmirrorsink_tenants_open %d\n", m.tenantsOpen.Load()); err != nil {
		return err
	}
	return m.writeServers(w)
}

// writeServers writes the connection gates' numbers, one series per database server.
func (m *Metrics) writeServers(w io.Writer) error {
	if m.servers == nil {
		return nil
	}
	stats := m.servers()
	servers := slices.Sorted(maps.Keys(stats))
	series := []struct {
		name, kind, help string
		value            func(dialect.GateStats) string
	}{
		{"mirrorsink_server_connections", "gauge", "Connections open to the database server, in use or idle, across all tenants.",
			func(s dialect.GateStats) string { return strconv.Itoa(s.Open) }},
		{"mirrorsink_server_connections_max", "gauge", "The bound on connections to the database server (max_server_conns).",
			func(s dialect.GateStats) string { return strconv.Itoa(s.Limit) }},
		{"mirrorsink_server_connection_waiting", "gauge", "Calls waiting now for a connection to the database server.",
			func(s dialect.GateStats) string { return strconv.Itoa(s.Waiting) }},
		{"mirrorsink_server_connection_waits_total", "counter", "Calls that had to wait for a connection to the database server.",
			func(s dialect.GateStats) string { return strconv.FormatInt(s.Waits, 10) }},
		{"mirrorsink_server_connection_wait_seconds_total", "counter", "Time calls spent waiting for a connection to the database server.",
			func(s dialect.GateStats) string { return strconv.FormatFloat(s.WaitTime.Seconds(), 'f', -1, 64) }},
	}
	for _, sr := range series {
		if len(servers) == 0 {
			break
		}
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", sr.name, sr.help, sr.name, sr.kind); err != nil {
			return err
		}
		for _, server := range servers {
			if _, err := fmt.Fprintf(w, "%s{server=%s} %s\n", sr.name, strconv.Quote(server), sr.value(stats[server])); err != nil {
				return err
			}
		}
	}
	return nil
}

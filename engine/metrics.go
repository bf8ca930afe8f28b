package engine

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// Metrics are the engine's counters since the process started. WritePrometheus exposes them in the
// Prometheus text format; the service serves them at /metrics.
type Metrics struct {
	rowsBulk, rowsUpserted, rowsDeleted atomic.Int64
	bulkFallbacks, batchFailures        atomic.Int64
	wipes, cycles, hookFailures         atomic.Int64
	tablesCreated, tablesAltered        atomic.Int64
	tablesRecreated, tablesDropped      atomic.Int64
	nulsReplaced, keysMerged            atomic.Int64
	batchesStreamed, streamMisses       atomic.Int64
}

func newMetrics() *Metrics { return &Metrics{} }

// events is how the dialects report to these counters.
func (m *Metrics) events() *dialect.Events {
	return &dialect.Events{OnNULsReplaced: func(n int) { m.nulsReplaced.Add(int64(n)) }}
}

// SchemaWork is a snapshot of the schema counters: how many tables were created, altered in place,
// recreated and dropped since the process started.
type SchemaWork struct {
	Created, Altered, Recreated, Dropped int64
}

// SchemaWork returns the schema counters now.
func (m *Metrics) SchemaWork() SchemaWork {
	return SchemaWork{m.tablesCreated.Load(), m.tablesAltered.Load(), m.tablesRecreated.Load(), m.tablesDropped.Load()}
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
		{"mirrorsink_hook_failures_total", "Hook runs that failed.", m.hookFailures.Load()},
		{"mirrorsink_tables_created_total", "Tables created.", m.tablesCreated.Load()},
		{"mirrorsink_tables_altered_total", "Tables changed in place.", m.tablesAltered.Load()},
		{"mirrorsink_tables_recreated_total", "Tables dropped and recreated for a schema change.", m.tablesRecreated.Load()},
		{"mirrorsink_tables_dropped_total", "Tables dropped because the source no longer has them.", m.tablesDropped.Load()},
		{"mirrorsink_keys_merged_at_target_precision_total", "Rows superseded in their batch by a later row whose key differs only below the target's time precision (e.g. 100 ns apart on a microsecond target).", m.keysMerged.Load()},
		{"mirrorsink_nul_characters_replaced_total", "NUL characters replaced with U+FFFD for targets that cannot store them.", m.nulsReplaced.Load()},
	}
	for _, c := range counters {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.name, c.help, c.name, c.name, c.v); err != nil {
			return err
		}
	}
	return nil
}

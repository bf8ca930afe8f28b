package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
)

// A RowData batch carries its TableInfo after its rows, so that the engine cannot know whose rows
// they are until it has read them all. Applying a batch only then would leave the database idle while
// the request arrives and is decoded, and the service idle while the database loads the rows. During
// a repopulation, however, the Mirroring Task sends one table's rows call after call, all inserts:
// after Wipe(T), and after a batch that bulk-loaded T without completing it, the next batch is very
// likely T's again. So the engine guesses: it begins T's transaction, checks that T is being
// repopulated, and starts T's bulk load on the batch's rows while they are decoded (the dialect pulls
// them as it sends them, so decoding overlaps the database's work). Once the TableInfo arrives:
//
//   - it names T and matches T's accepted schema, and every row was an insert that loaded: the batch
//     is applied, and commits with its LSN like any other;
//   - it names T but does not match T's accepted schema: the call fails, as it would have;
//   - anything else (another table, an update or delete, a failed load, T not being repopulated): the
//     speculative transaction is rolled back and the batch, every row of which protocol spooled as it
//     passed, is applied the usual way, which also reports any error as it would have.
//
// A wrong guess costs a rolled-back load, never a wrong result: nothing of the speculative
// transaction commits unless the batch is T's as the usual path would have applied it.

// tableGuess is a tenant's guess of the table its next batch is for.
type tableGuess struct {
	mu    sync.Mutex
	table string
}

func (g *tableGuess) get() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.table
}

func (g *tableGuess) set(table string) {
	g.mu.Lock()
	g.table = table
	g.mu.Unlock()
}

// after updates the guess once a batch of table has been applied: the next batch is table's again if
// this one was bulk-loaded into it and did not complete its repopulation (a batch with an LSN is a
// table's last).
func (g *tableGuess) after(table string, lsn int64, res batchResult) {
	if res.bulk && lsn <= 0 {
		g.set(table)
		return
	}
	g.set("")
}

// errMissed says that the speculative load of a batch did not hold: the batch is applied the usual way.
var errMissed = errors.New("the streamed batch is applied the usual way")

// errNotInsert stops a speculative load at a row that is not an insert, which the bulk path cannot
// apply.
var errNotInsert = errors.New("the batch holds a row that is not an insert")

// speculate begins the next batch and, while it is decoded, loads its rows into table, the tenant's
// guess. applied is true when the guess held and the batch is committed. Otherwise nothing of it was
// kept, and speculate returns the whole batch to be applied the usual way, or the error that fails the
// call (a decoding error, a TableInfo that does not match table's accepted schema, io.EOF after the
// last batch).
func (e *Engine) speculate(ctx context.Context, t *tenant, streamer contract.BatchStreamer, table string) (b *contract.Batch, res batchResult, applied bool, err error) {
	stream, err := streamer.Stream(ctx)
	if err != nil {
		return nil, res, false, err
	}
	// A call for table in progress in this process would make this one wait for it while holding the
	// request: not worth a guess.
	unlock, ok := e.tryLockTable(t.name, table)
	if !ok {
		b, err = stream.Batch()
		return b, res, false, err
	}
	defer unlock()
	// The batch is read whole exactly once: inside the transaction once the rows are loaded, or after
	// it when the transaction ended before it could load them.
	var batchErr error
	read, loaded := false, false
	readBatch := func() error {
		if !read {
			read = true
			b, batchErr = stream.Batch()
		}
		return batchErr
	}
	err = e.runTx(ctx, t, table, func(tx dialect.Tx) (dialect.Durability, error) {
		r, err := t.tableMeta(ctx, tx, table)
		if err != nil || r == nil || r.LSN != -1 {
			// Not being repopulated (or unreadable, which the usual path will report).
			return 0, errMissed
		}
		m, err := t.model(r)
		if err != nil {
			return 0, errMissed
		}
		j := t.newJournal()
		a, err := e.newApplier(t, m, &streamedRows{s: stream}, j)
		if err != nil {
			return 0, errMissed
		}
		loadErr := a.bulk(ctx, tx, true)
		loaded = true
		if err := readBatch(); err != nil {
			return 0, err
		}
		if b.Table.Name != table {
			return 0, errMissed
		}
		if err := sameShape(m, b.Table); err != nil {
			e.metrics.batchFailures.Add(1)
			return 0, err
		}
		if loadErr != nil {
			return 0, errMissed
		}
		inserts, _, _ := b.Rows.Counts()
		e.metrics.rowsBulk.Add(int64(inserts))
		if err := e.finishBatch(ctx, tx, table, b.LSN, j); err != nil {
			return 0, err
		}
		res = batchResult{bulk: true, repopulated: b.LSN > 0}
		// Durably, as every batch (see applyBatch).
		return dialect.Durable, nil
	})
	if err == nil {
		e.metrics.batchesStreamed.Add(1)
		return b, res, true, nil
	}
	if err := readBatch(); err != nil {
		return nil, batchResult{}, false, err
	}
	if errors.Is(err, errMissed) || !loaded {
		// A wrong guess, or a transaction that ended before the load (the usual path meets the same
		// trouble, if it lasts, and reports it).
		e.metrics.streamMisses.Add(1)
		return b, batchResult{}, false, nil
	}
	return nil, batchResult{}, false, err
}

// streamedRows is a contract.Rows over a batch being decoded, for the bulk path: it is read once, and
// stops with errNotInsert at a row that is not an insert.
type streamedRows struct {
	s   contract.BatchStream
	n   int
	err error
}

func (r *streamedRows) Next() bool {
	if r.err != nil || !r.s.Next() {
		if r.err == nil {
			r.err = r.s.Err()
		}
		return false
	}
	if r.s.Row().Op != contract.Insert {
		r.err = errNotInsert
		return false
	}
	r.n++
	return true
}

func (r *streamedRows) Row() contract.Row { return r.s.Row() }
func (r *streamedRows) Err() error        { return r.err }

// Reset is a no-op before the first row; a streamed batch cannot be read twice.
func (r *streamedRows) Reset() error {
	if r.n > 0 || r.err != nil {
		return fmt.Errorf("a streamed batch cannot be read twice")
	}
	return nil
}

func (r *streamedRows) Len() int                    { return r.n }
func (r *streamedRows) Counts() (ins, upd, del int) { return r.n, 0, 0 }

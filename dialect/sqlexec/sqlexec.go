// Package sqlexec is the transaction executor shared by the dialects that use database/sql (MySQL,
// SQL Server, SQLite): statements and queries with the dialect's error classification, savepoints
// that keep a failed step from spoiling the transaction, and the end of a transaction (commit or
// rollback, then the session's own cleanup, then the connection back to the pool), written once.
//
// PostgreSQL has an executor of its own on pgx with the same method set (Exec and Query as the
// metadata store needs them, Atomically), so that dialect/sqlmeta serves all of them.
package sqlexec

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// Config is what one dialect tells the executor.
type Config struct {
	// Dialect prefixes error messages ("mysql: …").
	Dialect string
	// Savepoint and RollbackTo render the statements that set a savepoint and roll back to it.
	Savepoint, RollbackTo func(name string) string
	// MapError classifies a driver error into the dialect's sentinels (dialect.ErrDuplicateKey,
	// dialect.ErrMissing, …), wrapping it; nil leaves errors as they are. It sees the errors of
	// getting a connection and beginning too, where a dropped database shows first.
	MapError func(error) error
	// PrepareQueries runs queries through a prepared statement. MySQL needs it: its text protocol
	// prints FLOAT columns with six significant digits, the binary protocol sends them exactly.
	PrepareQueries bool
	// SessionClosed reports a driver's own error for a session it has closed (go-sql-driver's
	// ErrInvalidConn), beyond the ones every driver shares (a cancelled or expired context, which
	// drivers answer by closing the connection, and driver.ErrBadConn). nil: only those.
	SessionClosed func(error) bool
}

// Tx is one transaction, on a connection it holds until the transaction ends.
type Tx struct {
	cfg  *Config
	conn *sql.Conn
	tx   *sql.Tx
	// onEnd runs after the transaction ended, on its connection (MySQL releases its named locks).
	onEnd  []func(ctx context.Context, conn *sql.Conn) error
	seq    int
	done   bool
	broken bool // the driver closed the session: discard the connection
}

// Begin takes a connection of db and starts a transaction on it. The connection stays the
// transaction's until Commit or Rollback, so that session state (named locks, temporary tables) is
// the transaction's too.
func Begin(ctx context.Context, db *sql.DB, opts *sql.TxOptions, cfg *Config) (*Tx, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: get a connection: %w", cfg.Dialect, mapError(cfg, err))
	}
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("%s: begin: %w", cfg.Dialect, mapError(cfg, err))
	}
	return &Tx{cfg: cfg, conn: conn, tx: tx}, nil
}

// SQL returns the underlying transaction, for driver-specific work (bulk copy, LOAD DATA).
func (t *Tx) SQL() *sql.Tx { return t.tx }

// Conn returns the transaction's connection.
func (t *Tx) Conn() *sql.Conn { return t.conn }

// Done reports whether the transaction has ended.
func (t *Tx) Done() bool { return t.done }

// OnEnd registers fn to run on the connection once the transaction has ended, before the connection
// goes back to the pool. When fn fails the connection is discarded instead, so that the server frees
// whatever the session held.
func (t *Tx) OnEnd(fn func(ctx context.Context, conn *sql.Conn) error) {
	t.onEnd = append(t.onEnd, fn)
}

// Err classifies err through the dialect's MapError.
func (t *Tx) Err(err error) error { return mapError(t.cfg, err) }

func mapError(cfg *Config, err error) error {
	if err == nil || cfg.MapError == nil {
		return err
	}
	return cfg.MapError(err)
}

// Exec runs a statement and returns the rows it affected.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, t.Err(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: rows affected: %w", t.cfg.Dialect, err)
	}
	return n, nil
}

// Query runs a statement that returns rows and calls each once per row with the row's Scan.
func (t *Tx) Query(ctx context.Context, query string, args []any, each func(scan func(dest ...any) error) error) error {
	var (
		rows *sql.Rows
		err  error
	)
	if t.cfg.PrepareQueries {
		stmt, perr := t.tx.PrepareContext(ctx, query)
		if perr != nil {
			return t.Err(perr)
		}
		defer stmt.Close()
		rows, err = stmt.QueryContext(ctx, args...)
	} else {
		rows, err = t.tx.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return t.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return t.Err(err)
	}
	return t.Err(rows.Close())
}

// QueryRow runs a query that returns at most one row and scans it into dest; found is false when it
// returned none.
func (t *Tx) QueryRow(ctx context.Context, query string, args []any, dest ...any) (found bool, err error) {
	err = t.Query(ctx, query, args, func(scan func(...any) error) error {
		if found {
			return nil
		}
		found = true
		return scan(dest...)
	})
	return found, err
}

// Atomically runs fn inside a savepoint: when fn fails, everything it did is rolled back and the
// transaction stays usable, so that the caller can try another way. (On databases whose DDL commits
// by itself, such as MySQL, a savepoint cannot undo DDL; those dialects check before they change.)
func (t *Tx) Atomically(ctx context.Context, fn func() error) error {
	t.seq++
	name := "mirrorsink_sp" + strconv.Itoa(t.seq)
	if _, err := t.tx.ExecContext(ctx, t.cfg.Savepoint(name)); err != nil {
		return fmt.Errorf("%s: savepoint: %w", t.cfg.Dialect, t.Err(err))
	}
	if err := fn(); err != nil {
		if _, rbErr := t.tx.ExecContext(context.WithoutCancel(ctx), t.cfg.RollbackTo(name)); rbErr != nil {
			return failedRollback(t.cfg.Dialect, err, rbErr)
		}
		return err
	}
	return nil
}

// failedRollback reports a step whose savepoint could not be rolled back. The transaction is not as it
// was, so dialect.ErrDuplicateKey, which invites the caller to go on in it, is kept as text only; any
// other cause (a cancelled context, say) stays in the chain.
func failedRollback(dialectName string, err, rbErr error) error {
	rb := fmt.Errorf("%s: rolling back to the savepoint failed: %w", dialectName, rbErr)
	if errors.Is(err, dialect.ErrDuplicateKey) {
		return fmt.Errorf("%v; %w", err, rb)
	}
	return errors.Join(err, rb)
}

// Commit commits, runs the end hooks and returns the connection. Its error is the commit's alone: an
// end hook that fails after a successful commit has its session discarded (which frees whatever the
// session held), and must not make committed work look failed.
func (t *Tx) Commit(ctx context.Context) error {
	if t.done {
		return fmt.Errorf("%s: commit: %w", t.cfg.Dialect, sql.ErrTxDone)
	}
	err := t.tx.Commit()
	if err != nil {
		err = fmt.Errorf("%s: commit: %w", t.cfg.Dialect, t.Err(err))
	}
	_ = t.end(ctx)
	return err
}

// Rollback rolls back, runs the end hooks and returns the connection; after the end it does nothing.
// When the driver has closed the session (a statement interrupted by its context, a broken
// connection), the server has rolled the transaction back and freed what it held with the session:
// that is a rollback, not an error, and the connection is discarded.
func (t *Tx) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	err := t.tx.Rollback()
	switch {
	case err == nil || errors.Is(err, sql.ErrTxDone):
		err = nil
	case t.sessionClosed(err):
		t.broken = true
		err = nil
	default:
		err = fmt.Errorf("%s: rollback: %w", t.cfg.Dialect, err)
	}
	return errors.Join(err, t.end(ctx))
}

func (t *Tx) sessionClosed(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) || t.cfg.SessionClosed != nil && t.cfg.SessionClosed(err)
}

func (t *Tx) end(ctx context.Context) error {
	t.done = true
	var err error
	if !t.broken {
		for _, fn := range t.onEnd {
			if err = fn(context.WithoutCancel(ctx), t.conn); err != nil {
				break
			}
		}
	}
	t.onEnd = nil
	if err != nil || t.broken {
		// Discard the session: whatever it still holds goes with it.
		_ = t.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = t.conn.Close()
	return err
}

// ReadRows runs query, whose result columns are a table's columns in order, and calls fn with each
// row: every value that is not NULL passed through its column's read rule (the dialect's type table
// turns what the driver returns into the plain values of dialect.TableEditor.Read), NULL as nil.
// columns names the columns in errors. The slice handed to fn is reused.
func (t *Tx) ReadRows(ctx context.Context, query string, columns []string, read []func(any) (any, error), fn func([]any) error) error {
	raw := make([]any, len(read))
	dest := make([]any, len(read))
	for i := range raw {
		dest[i] = &raw[i]
	}
	values := make([]any, len(read))
	return t.Query(ctx, query, nil, func(scan func(...any) error) error {
		clear(raw)
		if err := scan(dest...); err != nil {
			return err
		}
		for i, v := range raw {
			values[i] = nil
			if v == nil {
				continue
			}
			var err error
			if values[i], err = read[i](v); err != nil {
				return fmt.Errorf("column %q: %w", columns[i], err)
			}
		}
		return fn(values)
	})
}

package sqlexec

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// Connector makes a driver's connections through the server's gate, each within the connect timeout
// (dialect.ConnGate.Connect). The driver must dial through dialect.Dial, so that each connection's
// socket holds its slot of the gate until it closes.
type Connector struct {
	// Inner is the driver's own connector.
	Inner driver.Connector
	// Gate bounds the server's connections across tenants; nil bounds nothing.
	Gate *dialect.ConnGate
	// Timeout bounds each new connection, from the dial to a usable session.
	Timeout time.Duration
}

// Connect makes one connection, waiting under ctx for a slot of the gate first.
func (c Connector) Connect(ctx context.Context) (driver.Conn, error) {
	var conn driver.Conn
	err := c.Gate.Connect(ctx, c.Timeout, func(ctx context.Context) error {
		dc, err := c.Inner.Connect(ctx)
		if err == nil {
			// Kept only on success: a driver may return a typed nil with its error.
			conn = dc
		}
		return err
	})
	if err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		return nil, err
	}
	return conn, nil
}

// Driver returns the inner connector's driver.
func (c Connector) Driver() driver.Driver { return c.Inner.Driver() }

// OpenDB returns a pool of at most maxConns connections made by c. At most dialect.MaxIdleConns of
// them stay open unused, each for idleTimeout (database/sql's cleaner closes them on a timer), and
// they are closed at once when a caller of another Store waits for a slot of the gate. close
// releases the pool and its registration with the gate.
func OpenDB(c Connector, maxConns int, idleTimeout time.Duration) (db *sql.DB, close func() error) {
	db = sql.OpenDB(c)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(min(dialect.MaxIdleConns, maxConns))
	db.SetConnMaxIdleTime(idleTimeout)
	unregister := c.Gate.OnShortage(func() bool {
		if db.Stats().Idle == 0 {
			return false
		}
		// database/sql closes the idle connections beyond the new bound at once.
		db.SetMaxIdleConns(-1)
		db.SetMaxIdleConns(min(dialect.MaxIdleConns, maxConns))
		return true
	})
	return db, func() error {
		unregister()
		return db.Close()
	}
}

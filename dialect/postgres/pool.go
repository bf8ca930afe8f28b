package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// connPool is a bounded pool of pgx connections. (pgxpool would need github.com/jackc/puddle/v2 and
// golang.org/x/sync in go.mod; the engine only ever needs "a connection for one transaction", which
// this gives.)
type connPool struct {
	cfg *pgx.ConnConfig
	sem chan struct{} // one token per open or opening connection in use

	mu     sync.Mutex
	idle   []idleConn
	closed bool
}

type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

// pingAfter is how long a connection may sit idle before it is checked on acquire: a server restart
// or an idle timeout would otherwise surface as a failed Begin.
const pingAfter = time.Second

// maxIdle bounds the connections a tenant's pool keeps open between calls, and idleTimeout how long it
// keeps them: with a database per tenant, hundreds of tenants' idle connections would otherwise add up
// to the server's max_connections.
const (
	maxIdle     = 2
	idleTimeout = time.Minute
)

var errPoolClosed = errors.New("postgres: store is closed")

func newConnPool(cfg *pgx.ConnConfig, maxConns int) *connPool {
	return &connPool{cfg: cfg, sem: make(chan struct{}, maxConns)}
}

// acquire returns a connection that is the caller's until release.
func (p *connPool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.sem
			return nil, errPoolClosed
		}
		var ic idleConn
		if n := len(p.idle); n > 0 {
			ic = p.idle[n-1]
			p.idle = p.idle[:n-1]
		}
		p.mu.Unlock()
		if ic.conn == nil {
			break
		}
		if time.Since(ic.since) < pingAfter || ic.conn.Ping(ctx) == nil {
			return ic.conn, nil
		}
		ic.conn.Close(context.Background())
	}
	conn, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return conn, nil
}

// release hands a connection back; one that is broken or still inside a transaction is closed.
func (p *connPool) release(conn *pgx.Conn) {
	defer func() { <-p.sem }()
	if conn.IsClosed() || conn.PgConn().TxStatus() != 'I' {
		conn.Close(context.Background())
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		conn.Close(context.Background())
		return
	}
	now := time.Now()
	var stale []*pgx.Conn
	keep := p.idle[:0]
	for _, ic := range p.idle {
		if now.Sub(ic.since) > idleTimeout {
			stale = append(stale, ic.conn)
		} else {
			keep = append(keep, ic)
		}
	}
	p.idle = keep
	if len(p.idle) >= maxIdle {
		stale = append(stale, conn)
	} else {
		p.idle = append(p.idle, idleConn{conn: conn, since: now})
	}
	p.mu.Unlock()
	for _, c := range stale {
		c.Close(context.Background())
	}
}

// close closes the idle connections; connections in use close when released.
func (p *connPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, ic := range idle {
		ic.conn.Close(context.Background())
	}
}

package dialect

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of the connection settings in OpenOptions.
const (
	// DefaultConnectTimeout bounds a new connection when OpenOptions.ConnectTimeout is 0.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultIdleTimeout is how long a pool keeps an unused connection when OpenOptions.IdleTimeout is 0.
	DefaultIdleTimeout = time.Minute
	// MaxIdleConns is how many unused connections a tenant's pool keeps at most: with a database per
	// tenant, hundreds of tenants' idle connections would otherwise add up to the server's limit.
	MaxIdleConns = 2
)

// ErrConnectTimeout: a new connection to the database server was not made within
// OpenOptions.ConnectTimeout (a server that accepts TCP and never answers, a dropped route). The engine
// does not try again at once: the server is not answering.
var ErrConnectTimeout = errors.New("the database server did not answer within the connect timeout")

// ConnGate bounds the connections open to one database server across every Store that connects to
// it, so that hundreds of tenants on one server stay below its max_connections: each new connection
// first takes one of the gate's slots, waiting in line under its caller's context while the server is
// at the limit, and keeps it until the connection closes. A connection counts whether it is in use or
// idle in a pool, as it does on the server. Pools that keep idle connections register with
// OnShortage, so that a caller waiting for a slot makes another tenant's idle connection close rather
// than wait for its idle timeout.
//
// A nil *ConnGate bounds nothing; its Connect still applies the connect timeout.
type ConnGate struct {
	limit int

	mu       sync.Mutex
	open     int
	waiters  list.List // of chan struct{}, closed when the slot is handed over
	sheds    map[int]func() bool
	nextShed int
	shedding bool // a shed timer is pending

	waits    atomic.Int64
	waitTime atomic.Int64 // nanoseconds
}

// NewConnGate returns a gate of limit slots; limit < 1 is taken as 1.
func NewConnGate(limit int) *ConnGate {
	return &ConnGate{limit: max(limit, 1), sheds: map[int]func() bool{}}
}

// GateStats is a snapshot of a gate, for metrics.
type GateStats struct {
	// Limit is the number of slots, Open how many connections hold one, Waiting how many callers wait.
	Limit, Open, Waiting int
	// Waits counts the callers that had to wait for a slot; WaitTime is their total wait.
	Waits    int64
	WaitTime time.Duration
}

// Stats returns the gate's numbers now.
func (g *ConnGate) Stats() GateStats {
	if g == nil {
		return GateStats{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return GateStats{Limit: g.limit, Open: g.open, Waiting: g.waiters.Len(), Waits: g.waits.Load(), WaitTime: time.Duration(g.waitTime.Load())}
}

// Waiting reports whether a caller waits for a slot: a pool then closes a connection it would keep
// idle, handing its slot over.
func (g *ConnGate) Waiting() bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiters.Len() > 0
}

// OnShortage registers shed, which closes one idle connection of a pool and reports whether it had
// one; the gate calls it while callers wait for a slot. remove unregisters it (when the pool closes).
// shed must not call back into the gate except by closing connections.
func (g *ConnGate) OnShortage(shed func() bool) (remove func()) {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	id := g.nextShed
	g.nextShed++
	g.sheds[id] = shed
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		delete(g.sheds, id)
	}
}

// shedInterval is how often the gate asks pools again for idle connections while callers wait: a
// pool on database/sql cannot hand a released connection to another pool's waiter by itself.
const shedInterval = 50 * time.Millisecond

// acquire takes a slot, waiting in line under ctx.
func (g *ConnGate) acquire(ctx context.Context) error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	if g.open < g.limit && g.waiters.Len() == 0 {
		g.open++
		g.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	el := g.waiters.PushBack(ready)
	g.mu.Unlock()
	g.waits.Add(1)
	start := time.Now()
	defer func() { g.waitTime.Add(int64(time.Since(start))) }()
	g.shed()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		select {
		case <-ready:
			// Handed over just now: pass the slot on.
			g.mu.Unlock()
			g.release()
		default:
			g.waiters.Remove(el)
			g.mu.Unlock()
		}
		return ctx.Err()
	}
}

// release gives a slot back, to the first caller in line if there is one.
func (g *ConnGate) release() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if front := g.waiters.Front(); front != nil {
		g.waiters.Remove(front)
		close(front.Value.(chan struct{}))
		return
	}
	g.open--
}

// shed asks the registered pools, in turn, to close idle connections, one per waiting caller, and
// keeps asking every shedInterval while callers wait.
func (g *ConnGate) shed() {
	g.mu.Lock()
	want := g.waiters.Len()
	fns := make([]func() bool, 0, len(g.sheds))
	for _, fn := range g.sheds {
		fns = append(fns, fn)
	}
	g.mu.Unlock()
	for _, fn := range fns {
		if want == 0 {
			break
		}
		if fn() {
			want--
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.waiters.Len() > 0 && !g.shedding {
		g.shedding = true
		time.AfterFunc(shedInterval, func() {
			g.mu.Lock()
			g.shedding = false
			g.mu.Unlock()
			g.shed()
		})
	}
}

// Connect makes one new connection to the gate's server: it takes a slot (waiting under ctx, for as
// long as ctx allows), then runs connect under a context that timeout bounds (0: only ctx). The
// network connection that connect opens through Dial keeps the slot until it closes; when connect
// opens none, the slot is given back. Past the timeout, the connections connect opened are closed,
// so that a driver blocked in a read that does not watch its context returns too, and the error
// wraps ErrConnectTimeout. When connect fails after it has made a connection of its own, the caller
// closes it.
func (g *ConnGate) Connect(ctx context.Context, timeout time.Duration, connect func(ctx context.Context) error) error {
	if err := g.acquire(ctx); err != nil {
		return fmt.Errorf("waiting for a connection slot of the database server: %w", err)
	}
	a := &attempt{gate: g, held: g != nil}
	cctx := context.WithValue(ctx, attemptKey{}, a)
	if timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(cctx, timeout)
		defer cancel()
	}
	stop := context.AfterFunc(cctx, a.cut)
	err := connect(cctx)
	if !stop() && err == nil {
		// The connection was cut as connect returned: it is of no use.
		err = cctx.Err()
	}
	a.mu.Lock()
	held := a.held
	a.held = false
	a.mu.Unlock()
	if held {
		g.release()
	}
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (%s): %w", ErrConnectTimeout, timeout, err)
	}
	return err
}

// attemptKey is the context key under which Connect hands its attempt to Dial.
type attemptKey struct{}

// attempt is one Connect: the slot it took, and the connections opened under it.
type attempt struct {
	gate  *ConnGate
	mu    sync.Mutex
	held  bool // the slot is taken and no connection has it yet
	conns []net.Conn
	isCut bool
}

// cut closes the attempt's connections: its time is up, or its caller gave up.
func (a *attempt) cut() {
	a.mu.Lock()
	a.isCut = true
	conns := a.conns
	a.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

var dialer = net.Dialer{KeepAlive: 30 * time.Second}

// Dial opens a network connection as net.Dialer does, under the slot that ConnGate.Connect took for
// it: give it to the driver as its dialer (pgconn's DialFunc, go-sql-driver's DialFunc, go-mssqldb's
// Dialer). A driver that dials again within the same Connect (another address of the host) takes
// another slot. Outside Connect it dials without a slot.
func Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	if a == nil {
		return dialer.DialContext(ctx, network, addr)
	}
	a.mu.Lock()
	take := a.held
	a.held = false
	a.mu.Unlock()
	if !take {
		if err := a.gate.acquire(ctx); err != nil {
			return nil, err
		}
	}
	c, err := dialer.DialContext(ctx, network, addr)
	if err != nil {
		a.gate.release()
		return nil, err
	}
	gc := &gatedConn{Conn: c, gate: a.gate}
	a.mu.Lock()
	a.conns = append(a.conns, gc)
	cut := a.isCut
	a.mu.Unlock()
	if cut {
		gc.Close()
		return nil, ctx.Err()
	}
	if _, ok := c.(syscall.Conn); ok {
		// go-sql-driver checks a pooled connection's socket before reusing it, through syscall.Conn.
		return &gatedSyscallConn{gc}, nil
	}
	return gc, nil
}

// closeWait bounds how long a closing connection waits for the server to close its end.
const closeWait = 250 * time.Millisecond

// gatedConn gives its slot back when it closes.
type gatedConn struct {
	net.Conn
	gate   *ConnGate
	closed atomic.Bool
}

// Close closes the connection and, the first time, gives its slot back. A connection counts on the
// server until the server has noticed that it closed: before the slot goes to the next caller, Close
// waits (up to closeWait) for the server to close its end, after the driver's goodbye (PostgreSQL's
// Terminate, MySQL's COM_QUIT) and our end of the stream.
func (c *gatedConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return c.Conn.Close()
	}
	if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok && hc.CloseWrite() == nil {
		if c.Conn.SetReadDeadline(time.Now().Add(closeWait)) == nil {
			_, _ = io.Copy(io.Discard, c.Conn)
		}
	}
	err := c.Conn.Close()
	c.gate.release()
	return err
}

// gatedSyscallConn is a gatedConn whose socket is reachable through syscall.Conn.
type gatedSyscallConn struct{ *gatedConn }

// SyscallConn returns the socket's raw connection.
func (c *gatedSyscallConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

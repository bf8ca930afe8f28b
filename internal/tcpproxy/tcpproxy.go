// Package tcpproxy is a small TCP proxy for fault tests. It forwards each connection it accepts to one
// of its targets, taking them in turn (round-robin, as a load balancer in front of replicas does), and
// it can break what it carries: Cut resets every open connection at once, and an Inspector sees each
// connection's client bytes before they are forwarded and may have that connection reset at an exact
// point of its protocol (in the middle of a COPY, say).
package tcpproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Inspector watches the bytes one connection's client sends.
type Inspector interface {
	// ClientBytes is called with each chunk the client sends, in order, before the chunk is forwarded.
	// Returning true resets the connection instead: the target never receives the chunk.
	ClientBytes(p []byte) (cut bool)
}

// Options configure a Proxy.
type Options struct {
	// Targets are the host:port addresses connections are forwarded to, in turn.
	Targets []string
	// Inspect, when set, makes the Inspector of each new connection.
	Inspect func() Inspector
	// DialTimeout bounds the connection to a target (default 5 s).
	DialTimeout time.Duration
}

// Stats count what a proxy has done.
type Stats struct {
	// Accepted connections; Forwarded of them reached a target.
	Accepted, Forwarded int64
	// Cut connections: by Cut, or by an Inspector.
	Cut int64
	// Failed connections: no target accepted them.
	Failed int64
	// PerTarget counts the connections forwarded to each target, in the order of Options.Targets.
	PerTarget []int64
}

// Proxy forwards connections from its loopback listener to its targets.
type Proxy struct {
	opts Options
	ln   net.Listener
	next atomic.Uint64

	mu    sync.Mutex
	conns map[*pair]struct{}
	wg    sync.WaitGroup

	accepted, forwarded, cut, failed atomic.Int64
	perTarget                        []atomic.Int64
}

// pair is a client connection and its connection to a target.
type pair struct {
	client, target net.Conn
	once           sync.Once
}

// reset closes both sides at once.
func (c *pair) reset() {
	c.once.Do(func() {
		resetConn(c.client)
		resetConn(c.target)
	})
}

// resetConn closes conn with RST rather than FIN where the socket allows it, as a failing network
// path or a crashed middlebox would leave it.
func resetConn(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// Start listens on a free loopback port and forwards connections to targets, in turn.
func Start(targets ...string) (*Proxy, error) {
	return StartWith(Options{Targets: targets})
}

// StartWith listens on a free loopback port and forwards connections as opts say.
func StartWith(opts Options) (*Proxy, error) {
	if len(opts.Targets) == 0 {
		return nil, errors.New("tcpproxy: no targets")
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tcpproxy: %w", err)
	}
	p := &Proxy{opts: opts, ln: ln, conns: map[*pair]struct{}{}, perTarget: make([]atomic.Int64, len(opts.Targets))}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the host:port clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	s := Stats{Accepted: p.accepted.Load(), Forwarded: p.forwarded.Load(), Cut: p.cut.Load(), Failed: p.failed.Load()}
	for i := range p.perTarget {
		s.PerTarget = append(s.PerTarget, p.perTarget[i].Load())
	}
	return s
}

// Cut resets every connection open now and returns how many there were. New connections are
// accepted as before.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	open := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		open = append(open, c)
	}
	p.mu.Unlock()
	for _, c := range open {
		c.reset()
	}
	p.cut.Add(int64(len(open)))
	return len(open)
}

// Close stops accepting, resets every open connection and waits for the proxy's goroutines.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.reset()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.serve(client)
	}
}

// serve connects client to the next target that accepts, and copies both ways until either side
// closes or the connection is cut.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	target, err := p.dial()
	if err != nil {
		p.failed.Add(1)
		resetConn(client)
		return
	}
	p.forwarded.Add(1)
	c := &pair{client: client, target: target}
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()

	var inspector Inspector
	if p.opts.Inspect != nil {
		inspector = p.opts.Inspect()
	}
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(client, target)
		done <- struct{}{}
	}()
	go func() {
		p.clientToTarget(c, inspector)
		done <- struct{}{}
	}()
	<-done
	// One direction ended (a close, an error or a cut): the other is of no use any more.
	c.reset()
	<-done
}

// dial connects to the targets in turn, starting with the next one, until one accepts: a load
// balancer that skips a dead replica.
func (p *Proxy) dial() (net.Conn, error) {
	n := len(p.opts.Targets)
	start := p.next.Add(1) - 1
	var err error
	for i := range n {
		var conn net.Conn
		k := (int(start) + i) % n
		conn, err = net.DialTimeout("tcp", p.opts.Targets[k], p.opts.DialTimeout)
		if err == nil {
			p.perTarget[k].Add(1)
			return conn, nil
		}
	}
	return nil, err
}

// clientToTarget copies the client's bytes to the target, showing each chunk to the inspector first.
func (p *Proxy) clientToTarget(c *pair, inspector Inspector) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			if inspector != nil && inspector.ClientBytes(buf[:n]) {
				p.cut.Add(1)
				c.reset()
				return
			}
			if _, werr := c.target.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

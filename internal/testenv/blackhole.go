package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
)

// BlackHole returns the address of a TCP listener that accepts connections and never answers, nor
// closes them, standing in for a database server that does so (a hung host, a firewall that swallows
// the traffic after the handshake). It closes everything when the test ends.
func BlackHole(t testing.TB) string {
	t.Helper()
	return listen(t, func(net.Conn) {})
}

// Listener returns the address of a TCP listener that reads what each connection sends and closes it
// when its client has, as a database server does after the client's goodbye.
func Listener(t testing.TB) string {
	t.Helper()
	return listen(t, func(c net.Conn) {
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	})
}

// listen accepts connections on a loopback port and hands each to serve, in a goroutine of its own;
// the listener and every connection close when the test ends.
func listen(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

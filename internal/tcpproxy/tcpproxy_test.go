package tcpproxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoServer answers each line with its name and the line, until the client closes.
func echoServer(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(conn, name+":"+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func start(t *testing.T, opts Options) *Proxy {
	t.Helper()
	p, err := StartWith(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// roundTrip sends one line over conn and reads the answer.
func roundTrip(t *testing.T, conn net.Conn, r *bufio.Reader, line string) (string, error) {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", err
	}
	s, err := r.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

func TestRoundRobinSkipsADeadTarget(t *testing.T) {
	dead := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	p := start(t, Options{Targets: []string{echoServer(t, "a"), echoServer(t, "b"), dead}})
	var got []string
	for i := range 6 {
		conn, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		ans, err := roundTrip(t, conn, bufio.NewReader(conn), "hello")
		conn.Close()
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		got = append(got, strings.TrimSuffix(ans, ":hello"))
	}
	// Turns go a, b, dead, a, b, dead, ...; the dead target passes its turns to the next one, a.
	if want := "a b a a b a"; strings.Join(got, " ") != want {
		t.Fatalf("targets in turn: %v, want %s", got, want)
	}
	if s := p.Stats(); s.Accepted != 6 || s.Forwarded != 6 || s.Failed != 0 || fmt.Sprint(s.PerTarget) != "[4 2 0]" {
		t.Fatalf("stats %+v, want 6 accepted and forwarded: 4 to a, 2 to b", s)
	}
}

func TestCutResetsOpenConnections(t *testing.T) {
	p := start(t, Options{Targets: []string{echoServer(t, "a")}})
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if _, err := roundTrip(t, conn, r, "before"); err != nil {
		t.Fatal(err)
	}
	if n := p.Cut(); n != 1 {
		t.Fatalf("Cut reset %d connections, want 1", n)
	}
	if ans, err := roundTrip(t, conn, r, "after"); err == nil {
		t.Fatalf("the cut connection still answered %q", ans)
	}
	// New connections still work.
	conn2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if ans, err := roundTrip(t, conn2, bufio.NewReader(conn2), "again"); err != nil || ans != "a:again" {
		t.Fatalf("after a cut, a new connection got %q, %v", ans, err)
	}
}

// cutAt cuts its connection at the first chunk that holds marker, and records what passed.
type cutAt struct {
	marker []byte
	mu     *sync.Mutex
	seen   *bytes.Buffer
}

func (c cutAt) ClientBytes(p []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Contains(p, c.marker) {
		return true
	}
	c.seen.Write(p)
	return false
}

func TestInspectorCutsBeforeForwarding(t *testing.T) {
	var mu sync.Mutex
	var seen bytes.Buffer
	p := start(t, Options{Targets: []string{echoServer(t, "a")},
		Inspect: func() Inspector { return cutAt{marker: []byte("COPY"), mu: &mu, seen: &seen} }})
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if ans, err := roundTrip(t, conn, r, "SELECT 1"); err != nil || ans != "a:SELECT 1" {
		t.Fatalf("got %q, %v", ans, err)
	}
	if ans, err := roundTrip(t, conn, r, "COPY t FROM STDIN"); err == nil {
		t.Fatalf("the connection was not cut at the marker: %q", ans)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen.String() != "SELECT 1\n" {
		t.Fatalf("the inspector let %q through", seen.String())
	}
	if s := p.Stats(); s.Cut != 1 {
		t.Fatalf("stats %+v, want 1 cut", s)
	}
}

package dialect

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// open makes one connection through g to addr.
func open(ctx context.Context, g *ConnGate, addr string) (net.Conn, error) {
	var c net.Conn
	err := g.Connect(ctx, time.Second, func(ctx context.Context) error {
		var err error
		c, err = Dial(ctx, "tcp", addr)
		return err
	})
	return c, err
}

func TestGateBoundsAndQueuesInOrder(t *testing.T) {
	addr := testenv.Listener(t)
	g := NewConnGate(2)
	ctx := context.Background()
	a, err := open(ctx, g, addr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := open(ctx, g, addr)
	if err != nil {
		t.Fatal(err)
	}
	// Three more callers wait in line; each gets a slot when a connection closes, first come first.
	got := make(chan int, 3)
	conns := make(chan net.Conn, 3)
	for i := range 3 {
		go func() {
			c, err := open(ctx, g, addr)
			if err != nil {
				t.Error(err)
				return
			}
			got <- i
			conns <- c
		}()
		for g.Stats().Waiting != i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	if st := g.Stats(); st.Open != 2 || st.Waiting != 3 {
		t.Fatalf("stats %+v, want 2 open and 3 waiting", st)
	}
	a.Close()
	if first := <-got; first != 0 {
		t.Fatalf("caller %d got the first free slot, want caller 0", first)
	}
	b.Close()
	if second := <-got; second != 1 {
		t.Fatalf("caller %d got the second free slot, want caller 1", second)
	}
	(<-conns).Close()
	<-got
	(<-conns).Close()
	(<-conns).Close()
	if st := g.Stats(); st.Open != 0 || st.Waiting != 0 || st.Waits != 3 {
		t.Fatalf("stats %+v after every connection closed, want none open or waiting, 3 waits", st)
	}
}

func TestGateWaitIsBoundedByContext(t *testing.T) {
	addr := testenv.Listener(t)
	g := NewConnGate(1)
	c, err := open(context.Background(), g, addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := open(ctx, g, addr); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a wait past its deadline: %v", err)
	}
	c.Close()
	if st := g.Stats(); st.Open != 0 || st.Waiting != 0 {
		t.Fatalf("stats %+v: the caller that gave up kept a slot", st)
	}
}

func TestGateShedsIdleConnections(t *testing.T) {
	addr := testenv.Listener(t)
	g := NewConnGate(1)
	idle, err := open(context.Background(), g, addr)
	if err != nil {
		t.Fatal(err)
	}
	// Another pool's idle connection: the gate asks for it when a caller waits.
	var shed sync.Once
	remove := g.OnShortage(func() bool {
		done := false
		shed.Do(func() { idle.Close(); done = true })
		return done
	})
	defer remove()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := open(ctx, g, addr)
	if err != nil {
		t.Fatalf("a caller waiting while another pool held an idle connection: %v", err)
	}
	c.Close()
}

func TestConnectTimeoutCutsABlockedDriver(t *testing.T) {
	addr := testenv.BlackHole(t)
	g := NewConnGate(1)
	start := time.Now()
	err := g.Connect(context.Background(), 100*time.Millisecond, func(ctx context.Context) error {
		c, err := Dial(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		// A driver reading its login answer without watching its context (go-mssqldb).
		_, err = c.Read(make([]byte, 1))
		return err
	})
	if !errors.Is(err, ErrConnectTimeout) || time.Since(start) > 2*time.Second {
		t.Fatalf("a server that never answers: %v after %v, want ErrConnectTimeout after 100ms", err, time.Since(start))
	}
	if !strings.HasPrefix(err.Error(), "the database server did not answer within the connect timeout (100ms): ") {
		t.Errorf("message %q does not say which timeout passed", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for g.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: the cut connection kept its slot", g.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNilGateOnlyTimesOut(t *testing.T) {
	var g *ConnGate
	addr := testenv.Listener(t)
	c, err := open(context.Background(), g, addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if g.Waiting() || g.Stats() != (GateStats{}) {
		t.Fatal("a nil gate reports something")
	}
	g.OnShortage(func() bool { return false })()
}

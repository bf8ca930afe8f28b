package sqlexec

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// A driver whose connections are bare sockets to a server that closes each when its client does: the
// pool and the gate are what is tested, as the MySQL and SQL Server dialects use them.
type socketConnector struct{ addr string }

func (c socketConnector) Connect(ctx context.Context) (driver.Conn, error) {
	nc, err := dialect.Dial(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	return socketConn{nc}, nil
}

func (socketConnector) Driver() driver.Driver { return socketDriver{} }

type socketDriver struct{}

func (socketDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("open through the connector")
}

type socketConn struct{ net.Conn }

func (socketConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("no statements") }
func (socketConn) Begin() (driver.Tx, error)           { return nil, errors.New("no transactions") }

// take opens n connections of db at once and hands them back.
func take(t *testing.T, ctx context.Context, db *sql.DB, n int) {
	t.Helper()
	var conns []*sql.Conn
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 5 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPoolKeepsFewIdleForAWhile(t *testing.T) {
	g := dialect.NewConnGate(10)
	db, closeDB := OpenDB(Connector{Inner: socketConnector{testenv.Listener(t)}, Gate: g, Timeout: time.Second}, 4, 500*time.Millisecond)
	defer closeDB()
	take(t, context.Background(), db, 4)
	if idle, open := db.Stats().Idle, g.Stats().Open; idle != dialect.MaxIdleConns || open != dialect.MaxIdleConns {
		t.Fatalf("after 4 connections at once: %d idle in the pool, %d open at the gate; want %d", idle, open, dialect.MaxIdleConns)
	}
	// Nothing else happens in the pool: a timer closes them.
	eventually(t, "idle connections closed after the idle timeout", func() bool { return g.Stats().Open == 0 })
}

func TestPoolGivesIdleConnectionsUp(t *testing.T) {
	addr := testenv.Listener(t)
	g := dialect.NewConnGate(2)
	ctx := context.Background()
	first, closeFirst := OpenDB(Connector{Inner: socketConnector{addr}, Gate: g, Timeout: time.Second}, 2, time.Hour)
	defer closeFirst()
	second, closeSecond := OpenDB(Connector{Inner: socketConnector{addr}, Gate: g, Timeout: time.Second}, 2, time.Hour)
	defer closeSecond()
	take(t, ctx, first, 2)
	if open := g.Stats().Open; open != 2 {
		t.Fatalf("%d connections open at the gate, want the first pool's 2 idle ones", open)
	}
	// The server's slots are all held by the first pool's idle connections: the second pool's caller
	// waits until the first pool gives one up, not for the idle timeout.
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	take(t, waitCtx, second, 2)
	if st := g.Stats(); st.Open != 2 || st.Waits == 0 {
		t.Fatalf("stats %+v, want 2 open and the second pool's waits counted", st)
	}
}

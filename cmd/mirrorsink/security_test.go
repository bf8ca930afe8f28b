package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/protocol"
)

// serve refuses to start without a client id, saying where to find it, before it touches anything
// (the old one started and accepted tokens addressed to any application).
func TestServeRequiresClientID(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("MIRRORSINK_CONFIG", "")
	t.Setenv("MIRRORSINK_CLIENT_ID", "")
	code, _, errOut := runCmd(t, "serve", "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "no application client id") || !strings.Contains(errOut, "developer portal") {
		t.Fatalf("serve without a client id: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(defaultDataDir); !os.IsNotExist(err) {
		t.Errorf("serve created %s before refusing to start: %v", defaultDataDir, err)
	}

	cfgPath := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfgPath, []byte("application:\n  client_id: from-file\ndefault:\n  dialect: sqlite\n  dsn: x.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, flag, env, want string }{
		{cfgPath, "", "", "from-file"},
		{cfgPath, "", "from-env", "from-env"},
		{cfgPath, "from-flag", "from-env", "from-flag"},
		{"", "", "from-env", "from-env"},
		{"", "from-flag", "", "from-flag"},
	} {
		t.Setenv("MIRRORSINK_CLIENT_ID", tc.env)
		cfg, err := serveConfig(tc.path, tc.flag, "", "")
		if err != nil || cfg.Application.ClientID != tc.want {
			t.Errorf("file %q, flag %q, env %q: client id %q, %v; want %q", tc.path, tc.flag, tc.env, cfg.Application.ClientID, err, tc.want)
		}
	}
	t.Setenv("MIRRORSINK_CLIENT_ID", "")
	if _, err := serveConfig("", "  ", "", ""); err != errNoClientID {
		t.Errorf("a blank client id: %v", err)
	}
}

func TestConfigLimits(t *testing.T) {
	load := func(body string) (*Config, error) { return loadBody(t, body) }
	cfg, err := load("")
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits
	if l.MaxHeaderBytes != 16<<10 || l.MaxValueBytes != l.MaxBodyBytes || l.MaxCalls != 64 || l.MaxConnections != 256 ||
		l.HeaderTimeout != 10*time.Second || l.ReadTimeout != 5*time.Minute || cfg.SuperOffice.MaxTokenLifetime != 10*time.Minute ||
		cfg.PublicURL != "" || cfg.TrustProxy {
		t.Errorf("defaults: %+v, max token lifetime %s", l, cfg.SuperOffice.MaxTokenLifetime)
	}
	if cfg, err := load("limits:\n  max_body_bytes: 1000000\n"); err != nil || cfg.Limits.MaxValueBytes != 1000000 {
		t.Errorf("max_value_bytes must follow max_body_bytes: %v", err)
	}
	for body, want := range map[string]string{
		"limits:\n  max_body_bytes: 1000\n  max_value_bytes: 1001\n": "limits.max_value_bytes (1001) exceeds limits.max_body_bytes (1000)",
		"limits:\n  max_calls: -1\n":                                 "limits.max_calls must not be negative",
		"limits:\n  header_timeout: -1s\n":                           "limits.header_timeout must not be negative",
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	if _, err := newService(&Config{}, nil); err != errNoClientID {
		t.Errorf("newService without a client id: %v", err)
	}
}

// The listener holds no more than its limit of connections open; the next one is accepted when one
// closes.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted while two were open")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	first.Close() // a second Close must not give back a second slot
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the third connection was not accepted after one closed")
	}
	second.Close()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-accepted; ok {
		t.Error("Accept returned a connection after Close")
	}
}

// Slow and idle clients cannot hold the service: with two connections allowed, two that send nothing
// delay a third client only until header_timeout closes them, and a body trickled byte by byte is cut
// off at header_timeout (the old service held each for read_timeout, 5 minutes, and any number of them).
func TestServeSlowClients(t *testing.T) {
	const headerTimeout = time.Second
	ts := newTestService(t, func(c *Config) {
		c.Limits.MaxConnections = 2
		c.Limits.HeaderTimeout = headerTimeout
	})
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ts.svc.serve(ctx, ts.ln) }()
	defer func() {
		stop()
		<-served
	}()
	addr := ts.ln.Addr().String()

	var idle []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond) // both are accepted and waiting for a request
	start := time.Now()
	// Without keep-alive, so that this client gives its connection back at once.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(ts.url + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if waited := time.Since(start); waited < headerTimeout/2 || waited > headerTimeout+3*time.Second {
		t.Errorf("a third client was served after %s, want about header_timeout (%s)", waited, headerTimeout)
	}
	for _, c := range idle {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("an idle connection was not closed (read %d bytes)", n)
		}
	}

	// A Wipe trickled one byte every 50 ms, with a valid token: the token does not arrive within
	// header_timeout, so neither does the rest.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:SignedToken xmlns:h="` + protocol.NSService + `">` +
		ts.token() + `</h:SignedToken></s:Header><s:Body><WipeRequest xmlns="` + protocol.NSService + `"><TableName>t</TableName></WipeRequest></s:Body></s:Envelope>`
	start = time.Now()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n", len(body))
	go func() {
		for i := 0; i < len(body); i++ {
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	r, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body after %s: %v", time.Since(start), err)
	}
	msg, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusRequestTimeout || time.Since(start) > headerTimeout+3*time.Second {
		t.Fatalf("a slow body got %d %q after %s, want 408 after about %s", r.StatusCode, msg, time.Since(start), headerTimeout)
	}
}

// TestServeBoundsHeadersAndIdleConnections: before anything is authenticated, a connection may send no
// more than 16 KiB of HTTP headers (net/http's default is 1 MiB: 256 connections took serve to 300 MB),
// and a kept-alive connection that sends nothing more is closed after header_timeout, so that idle
// connections cannot hold every one of max_connections.
func TestServeBoundsHeadersAndIdleConnections(t *testing.T) {
	const headerTimeout = time.Second
	ts := newTestService(t, func(c *Config) { c.Limits.HeaderTimeout = headerTimeout })
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ts.svc.serve(ctx, ts.ln) }()
	defer func() {
		stop()
		<-served
	}()
	addr := ts.ln.Addr().String()

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: %s\r\n\r\n", strings.Repeat("j", 64<<10))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB of headers: status %d, want 431", resp.StatusCode)
	}

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprint(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(idle)
	resp, err = http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	start := time.Now()
	_ = idle.SetReadDeadline(time.Now().Add(headerTimeout + 5*time.Second))
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("the server sent something on an idle connection")
	}
	if waited := time.Since(start); waited > headerTimeout+3*time.Second {
		t.Fatalf("an idle kept-alive connection was held for %s, want about header_timeout (%s)", waited, headerTimeout)
	}
}

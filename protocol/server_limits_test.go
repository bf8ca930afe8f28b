package protocol

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tests in this file are the pre-authentication limits: what a caller without a valid token can
// make the server read, hold and wait for.

// loggedBytes returns the value of the last "<key>=N" in the fixture's log.
func (f *fixture) loggedBytes(key string) int64 {
	f.t.Helper()
	m := regexp.MustCompile(`\b`+key+`=(\d+)`).FindAllStringSubmatch(f.logs.String(), -1)
	if len(m) == 0 {
		f.t.Fatalf("no %s in the log:\n%s", key, f.logs.String())
	}
	n, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	return n
}

// postStream posts a body of n bytes read from body, without holding it, and returns the status and
// the response body. The server may close the connection while the body is still being sent; that is
// only an error when no response came.
func (f *fixture) postStream(body io.Reader, n int64, headers map[string]string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/mirror", body)
	if err != nil {
		f.t.Fatal(err)
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(rb)
}

// hugeTokenRequest streams a RowData request whose SignedToken is n bytes long.
func hugeTokenRequest(n int64) (io.Reader, int64) {
	before := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:SignedToken xmlns:h="` + NSService + `">eyJ`
	after := `</h:SignedToken></s:Header><s:Body><RowDataRequest xmlns="` + NSService + `"/></s:Body></s:Envelope>`
	return io.MultiReader(strings.NewReader(before), io.LimitReader(repeatByte('A'), n), strings.NewReader(after)),
		int64(len(before)) + n + int64(len(after))
}

// A 60 MiB token is refused with 413 after the server has read no more than the header limit; the
// old server read and decoded all of it (~290 MB resident) before refusing it.
func TestServerHugeToken(t *testing.T) {
	h := newRecorder()
	f := newFixture(t, h, nil)
	body, n := hugeTokenRequest(60 << 20)
	status, resp := f.postStream(body, n, nil)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(resp, "the SOAP header exceeds the limit of 16384 bytes") {
		t.Fatalf("status %d %q, want 413 naming the header limit", status, resp)
	}
	if read := f.loggedBytes("bytes"); read > DefaultMaxHeaderSize {
		t.Errorf("the server read %d bytes of the body, more than the %d of the header limit", read, DefaultMaxHeaderSize)
	}
	if !strings.Contains(f.logs.String(), `reason="SOAP header over the limit"`) {
		t.Errorf("the log does not give the reason:\n%s", f.logs.String())
	}
	if len(h.Calls()) != 0 {
		t.Error("the handler was called")
	}
}

// A gzip bomb (64 KB inflating to a 64 MiB token) is inflated no further than the header limit; the
// old server inflated up to max_body_bytes and buffered it as a token (ten of them: ~1.46 GB).
func TestServerGzipBombToken(t *testing.T) {
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	body, _ := hugeTokenRequest(64 << 20)
	if _, err := io.Copy(zw, body); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if zb.Len() > 128<<10 {
		t.Fatalf("the bomb is %d bytes compressed", zb.Len())
	}
	for _, tc := range []struct {
		name    string
		maxBody int64
	}{
		{"default body limit", 0},
		{"body limit above the inflated size", 256 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRecorder()
			f := newFixture(t, h, func(c *ServerConfig) { c.MaxBodyBytes = tc.maxBody })
			status, resp := f.postStream(bytes.NewReader(zb.Bytes()), int64(zb.Len()), map[string]string{"Content-Encoding": "gzip"})
			if status != http.StatusRequestEntityTooLarge || !strings.Contains(resp, "the SOAP header exceeds the limit") {
				t.Fatalf("status %d %q, want 413 naming the header limit", status, resp)
			}
			if inflated := f.loggedBytes("bytes_decompressed"); inflated > DefaultMaxHeaderSize {
				t.Errorf("the server inflated %d bytes, more than the %d of the header limit", inflated, DefaultMaxHeaderSize)
			}
			if len(h.Calls()) != 0 {
				t.Error("the handler was called")
			}
		})
	}
}

// rawPost writes a POST over a raw connection: the HTTP head and first at once, then rest one byte
// every pace, and returns the response's status and body and how long it took to come. Bytes the
// server no longer reads are dropped.
func (f *fixture) rawPost(first, rest string, pace time.Duration) (int, string, time.Duration) {
	f.t.Helper()
	conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	head := fmt.Sprintf("POST /mirror HTTP/1.1\r\nHost: test\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n", len(first)+len(rest))
	if _, err := io.WriteString(conn, head+first); err != nil {
		f.t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(rest); i++ {
			select {
			case <-stop:
				return
			case <-time.After(pace):
			}
			if _, err := conn.Write([]byte{rest[i]}); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		f.t.Fatalf("no response after %s: %v", time.Since(start), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start)
}

// A body trickled one byte at a time is cut off by the http.Server's short ReadTimeout until its token
// has been verified, and only then gets ServerConfig.ReadTimeout.
func TestServerSlowBodies(t *testing.T) {
	const short = 300 * time.Millisecond
	h := newRecorder()
	tuneHTTP := func(s *http.Server) { s.ReadTimeout = short }
	f := newFixtureHTTP(t, h, func(c *ServerConfig) { c.ReadTimeout = 10 * time.Second }, tuneHTTP)
	wipe := string(envelope(f.token("Cust1", "N"), wipeBody))
	split := strings.Index(wipe, "<ClientState/>") // the header ends at the WipeRequest start tag

	t.Run("before the token", func(t *testing.T) {
		status, body, took := f.rawPost("", wipe, 20*time.Millisecond)
		if status != http.StatusRequestTimeout || !strings.Contains(body, "did not arrive in time") {
			t.Fatalf("status %d %q, want 408", status, body)
		}
		if took > short+2*time.Second {
			t.Errorf("the slow body held the connection for %s", took)
		}
	})
	t.Run("after the token", func(t *testing.T) {
		// The rest takes about 1.5 s to arrive, five times the short deadline.
		status, body, _ := f.rawPost(wipe[:split], wipe[split:], 20*time.Millisecond)
		if status != http.StatusOK || !strings.Contains(body, "<IsSuccessful>true</IsSuccessful>") {
			t.Fatalf("status %d %q: an authenticated call lost the longer read timeout", status, body)
		}
	})
	t.Run("after the token, over the read timeout", func(t *testing.T) {
		g := newFixtureHTTP(t, newRecorder(), func(c *ServerConfig) { c.ReadTimeout = short }, tuneHTTP)
		wipe := string(envelope(g.token("Cust1", "N"), wipeBody))
		split := strings.Index(wipe, "<ClientState/>")
		status, body, _ := g.rawPost(wipe[:split], wipe[split:], 20*time.Millisecond)
		if status != http.StatusRequestTimeout || !strings.Contains(body, "the request body did not arrive within 300ms") {
			t.Fatalf("status %d %q, want 408", status, body)
		}
	})
	if n := len(h.Calls()); n != 1 {
		t.Errorf("%d handler calls, want 1 (the authenticated one)", n)
	}
}

// Calls beyond MaxCalls are refused at once with 503 and a SOAP Fault that asks to retry.
func TestServerMaxCalls(t *testing.T) {
	h := newRecorder()
	h.block = make(chan struct{})
	h.ctxErr = make(chan error, 1)
	f := newFixture(t, h, func(c *ServerConfig) { c.MaxCalls = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, err := f.client.Wipe(ctx, f.token("Cust1", "N"), WipeRequest{TableName: "t"})
		first <- err
	}()
	<-h.block // the first call is in the handler

	start := time.Now()
	status, hdr, body := f.post(envelope(f.token("Cust1", "N"), wipeBody), nil)
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q, want 503 with Retry-After", status, hdr.Get("Retry-After"))
	}
	_, err := DecodeResponse(bytes.NewReader(body), OpWipe)
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Code != "s:Server" || !strings.Contains(fe.Message, "the service is busy (1 calls in flight); retry later") {
		t.Fatalf("body %s: %v", body, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the refusal took %s", took)
	}

	cancel()
	<-h.ctxErr
	<-first
	h.block = nil
	// The server frees the slot when its handler has returned, which may be a moment after the
	// client saw its call end.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := f.client.Wipe(context.Background(), f.token("Cust1", "N"), WipeRequest{TableName: "t"})
		if err == nil && r.IsSuccessful {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first call ended: %+v %v", r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServerSlowCallersTakeNoCallSlots: a call takes one of the MaxCalls slots only once its token is
// verified, so that connections trickling an unauthenticated body cannot keep SuperOffice out (they
// are bounded by the connection limit and the header deadline instead).
func TestServerSlowCallersTakeNoCallSlots(t *testing.T) {
	h := newRecorder()
	f := newFixture(t, h, func(c *ServerConfig) { c.MaxCalls = 2 })
	addr := f.srv.Listener.Addr().String()
	var conns []net.Conn
	for range 4 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 100000\r\n\r\n<")
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond) // the four are in the server, each before its token
	r, err := f.client.Wipe(context.Background(), f.token("Cust1", "N"), WipeRequest{TableName: "t"})
	if err != nil || !r.IsSuccessful {
		t.Fatalf("a signed call while four unauthenticated ones trickle: %+v, %v", r, err)
	}
}

// Table names longer than SQL Server allows are refused before the handler sees them, so junk names
// cannot make the engine keep per-table state (the old server passed a 120 KB name on).
func TestServerLongTableNames(t *testing.T) {
	h := newRecorder()
	f := newFixture(t, h, nil)
	tok := f.token("Cust1", "N")
	junk := strings.Repeat("x", 120_000)
	_, err := f.client.Wipe(context.Background(), tok, WipeRequest{TableName: junk})
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Code != "s:Client" || !strings.Contains(fe.Message, "TableName is longer than 128 characters") {
		t.Fatalf("Wipe of a 120 KB name: %v", err)
	}
	if strings.Contains(f.logs.String(), "xxxxxxxx") {
		t.Error("the name reached the log")
	}
	max := strings.Repeat("é", 128) // 128 characters, 256 bytes
	if r, err := f.client.Wipe(context.Background(), tok, WipeRequest{TableName: max}); err != nil || !r.IsSuccessful {
		t.Fatalf("Wipe of a 128-character name: %+v %v", r, err)
	}
	if calls := h.Calls(); len(calls) != 1 || calls[0].Table != max {
		t.Fatalf("handler calls %+v, want only the 128-character one", calls)
	}
}

// The value limit defaults to the body limit and never exceeds it; a smaller one is enforced.
func TestServerValueLimit(t *testing.T) {
	for _, tc := range []struct {
		maxBody int64
		value   int
		want    int
	}{
		{0, 0, DefaultMaxBodyBytes},
		{1 << 20, 0, 1 << 20},
		{1 << 20, 2 << 20, 1 << 20},
		{1 << 20, 4096, 4096},
	} {
		f := newFixture(t, newRecorder(), func(c *ServerConfig) { c.MaxBodyBytes, c.Decode.MaxValueSize = tc.maxBody, tc.value })
		s := f.srv.Config.Handler.(*Server)
		if got := s.cfg.Decode.MaxValueSize; got != tc.want {
			t.Errorf("max body %d, max value %d: value limit %d, want %d", tc.maxBody, tc.value, got, tc.want)
		}
	}
	f := newFixture(t, newRecorder(), func(c *ServerConfig) { c.Decode.MaxValueSize = 4096 })
	rows := []recRow{{Op: 'I', Values: []string{"[I:1]", strings.Repeat("v", 5000), nullMark}}}
	r, err := f.client.RowData(context.Background(), f.token("Cust1", "N"), "", writeBatches([]recBatch{{Table: testTables[0], Rows: rows}}))
	if err != nil || r.IsSuccessful || !strings.Contains(r.ErrorMessage, "text longer than 4096 bytes") {
		t.Fatalf("a 5000-byte value with a 4096-byte limit: %+v %v", r, err)
	}
}

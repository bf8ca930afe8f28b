package e2e

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
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/internal/servetest"
	"github.com/mirrorsink/mirrorsink/protocol"
	"github.com/mirrorsink/mirrorsink/simulator"
)

// peakRSSLimit is the most 'mirrorsink serve' may hold resident while it is attacked and mirrors.
const peakRSSLimit = 150 << 20

// hostileHeaderTimeout is serve's header_timeout in TestServeUnderAttack: short, so that the slow
// clients are cut off several times during the cycle.
const hostileHeaderTimeout = 2 * time.Second

// TestServeUnderAttack builds the real binary and starts 'serve' (SQLite mirrors, default limits but a
// shorter header_timeout). While a real replication cycle runs against it, 50 clients keep sending it
// what an attacker on the open internet would: 60 MiB tokens, gzip bombs that inflate to huge tokens,
// deeply nested XML, bodies trickled one byte at a time, and Wipe calls with 120 KB table names. The
// cycle must succeed and verify, every hostile request must be refused, and serve's peak resident set
// (VmHWM) must stay under 150 MB.
func TestServeUnderAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and attacks the serve binary")
	}
	testKeys(t)
	dir := t.TempDir()
	svc := servetest.Start(t, servetest.Config{
		Binary: servetest.Build(t, dir), Dir: dir, ClientID: clientID, AppKey: keys.app, Certificate: keys.cert,
		Settings: fmt.Sprintf("limits:\n  header_timeout: %s\n  shutdown_period: 5s\ndefault:\n  dialect: sqlite\n  dsn: %q\nlog:\n  level: error\n",
			hostileHeaderTimeout, filepath.Join(dir, "{ctx}.db")),
	})
	url, pid := svc.URL, svc.PID()

	ctx := context.Background()
	const tenant = "Cust7001"
	src, err := simulator.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if err := simulator.Generate(ctx, src, simulator.GenerateOptions{Dataset: "crm", Rows: 5000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	driver, err := simulator.NewDriver(simulator.DriverConfig{
		URL: url, Tenant: tenant, ClientID: clientID,
		SigningKey: keys.so, KeyID: protocol.CertificateThumbprint(keys.cert), AppPublicKey: &keys.app.PublicKey,
		BatchBytes: 256 << 10, Parallel: 3,
	})
	if err != nil {
		t.Fatal(err)
	}

	attacks := hostileRequests(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	results := make(chan attackResult, 1024)
	for i := 0; i < 50; i++ {
		a := attacks[i%len(attacks)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every client attacks at least once, and keeps attacking until the cycle is over.
			for {
				results <- a.send(url)
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	var outcomes []attackResult
	collected := make(chan struct{})
	go func() {
		for r := range results {
			outcomes = append(outcomes, r)
		}
		close(collected)
	}()

	cycleCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	res, cycleErr := driver.Cycle(cycleCtx, src)
	close(stop)
	wg.Wait()
	close(results)
	<-collected
	peak := peakRSS(t, pid)

	if cycleErr != nil {
		t.Fatalf("the cycle under attack failed: %v", cycleErr)
	}
	mirror := simulator.Mirror{Dialect: "sqlite", DSN: filepath.Join(dir, "{ctx}.db"), Tenant: tenant}
	verifyCtx, cancelVerify := context.WithTimeout(ctx, 60*time.Second)
	defer cancelVerify()
	if _, err := mirror.Verify(verifyCtx, src); err != nil {
		t.Fatalf("the mirror after the cycle under attack: %v", err)
	}
	t.Logf("cycle under attack: %s", res.Summary())
	checkAttackOutcomes(t, attacks, outcomes)
	t.Logf("serve's peak RSS (VmHWM) under attack: %.1f MB (limit %d MB)", float64(peak)/(1<<20), peakRSSLimit>>20)
	if peak > peakRSSLimit {
		t.Fatalf("serve's peak RSS %.1f MB exceeds %d MB", float64(peak)/(1<<20), peakRSSLimit>>20)
	}
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("peak RSS needs /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	t.Fatalf("no VmHWM in kB in /proc/%d/status", pid)
	return 0
}

// attack is one kind of hostile request.
type attack struct {
	name string
	// send makes one request and reports what came back.
	send func(url string) attackResult
	// status is the answer it must get; a connection the server closes while the request is still
	// being sent also counts as refused, as long as some request of the kind got the status.
	status int
	// message is a part of the answer's body.
	message string
	// within bounds how long the server may take to answer (0: no bound checked).
	within time.Duration
}

// attackResult is what one hostile request got.
type attackResult struct {
	name   string
	status int // 0: no response (the connection was closed or reset)
	body   string
	err    error
	took   time.Duration
}

// hostileRequests returns the attacks of TestServeUnderAttack. The valid token of the junk-name Wipe
// is one SuperOffice could have signed for another tenant of this service.
func hostileRequests(t *testing.T) []attack {
	t.Helper()
	soapOpen := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:SignedToken xmlns:h="` + protocol.NSService + `">`
	soapTail := `</h:SignedToken></s:Header><s:Body><RowDataRequest xmlns="` + protocol.NSService + `"/></s:Body></s:Envelope>`

	// A 64 KB gzip body that inflates to a 64 MiB token.
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	io.WriteString(zw, soapOpen+"eyJ")
	if _, err := io.Copy(zw, io.LimitReader(repeated{'A'}, 64<<20)); err != nil {
		t.Fatal(err)
	}
	io.WriteString(zw, soapTail)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	deep := []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>` + strings.Repeat("<x>", 100_000))
	now := time.Now()
	tok, err := protocol.SignTestToken(keys.so, protocol.CertificateThumbprint(keys.cert), protocol.TestTokenClaims{
		Tenant: "Cust7002", Nonce: "N", ClientID: clientID, NotBefore: now.Add(-time.Minute), Expires: now.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	junkWipe := []byte(soapOpen + tok + `</h:SignedToken></s:Header><s:Body><WipeRequest xmlns="` + protocol.NSService + `"><TableName>` +
		strings.Repeat("x", 120_000) + `</TableName></WipeRequest></s:Body></s:Envelope>`)
	slow := soapOpen + "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl" + soapTail

	const hugeToken = 60 << 20
	return []attack{
		{name: "60 MiB token", status: http.StatusRequestEntityTooLarge, message: "the SOAP header exceeds the limit", within: 5 * time.Second,
			send: func(url string) attackResult {
				body := io.MultiReader(strings.NewReader(soapOpen), io.LimitReader(repeated{'A'}, hugeToken), strings.NewReader(soapTail))
				return post(url, "60 MiB token", body, int64(len(soapOpen)+hugeToken+len(soapTail)), nil)
			}},
		{name: "gzip bomb", status: http.StatusRequestEntityTooLarge, message: "the SOAP header exceeds the limit", within: 5 * time.Second,
			send: func(url string) attackResult {
				return post(url, "gzip bomb", bytes.NewReader(bomb.Bytes()), int64(bomb.Len()), map[string]string{"Content-Encoding": "gzip"})
			}},
		{name: "deep XML", status: http.StatusInternalServerError, message: "nested deeper than", within: 5 * time.Second,
			send: func(url string) attackResult {
				return post(url, "deep XML", bytes.NewReader(deep), int64(len(deep)), nil)
			}},
		{name: "slow body", status: http.StatusRequestTimeout, message: "did not arrive in time", within: hostileHeaderTimeout + 3*time.Second,
			send: func(url string) attackResult { return trickle(url, "slow body", slow, 50*time.Millisecond) }},
		{name: "120 KB Wipe name", status: http.StatusInternalServerError, message: "TableName is longer than 128 characters", within: 5 * time.Second,
			send: func(url string) attackResult {
				return post(url, "120 KB Wipe name", bytes.NewReader(junkWipe), int64(len(junkWipe)), nil)
			}},
	}
}

// repeated is an endless stream of one byte.
type repeated struct{ b byte }

func (z repeated) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = z.b
	}
	return len(p), nil
}

// hostileClient sends the hostile requests. It does not ask for "Connection: close": a client that does
// tells net/http not to wait for it before closing a connection whose body it left unread, and then
// mostly sees the reset rather than the answer. The server closes those connections either way.
var hostileClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 50}, Timeout: 60 * time.Second}

// post sends one request of n bytes from body.
func post(url, name string, body io.Reader, n int64, headers map[string]string) attackResult {
	start := time.Now()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		return attackResult{name: name, err: err}
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := hostileClient.Do(req)
	if err != nil {
		return attackResult{name: name, err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return attackResult{name: name, status: resp.StatusCode, body: string(b), took: time.Since(start)}
}

// trickle sends body one byte every pace over a raw connection.
func trickle(url, name, body string, pace time.Duration) attackResult {
	start := time.Now()
	conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"))
	if err != nil {
		return attackResult{name: name, err: err}
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n", len(body)); err != nil {
		return attackResult{name: name, err: err}
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for i := 0; i < len(body); i++ {
			select {
			case <-done:
				return
			case <-time.After(pace):
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return attackResult{name: name, err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return attackResult{name: name, status: resp.StatusCode, body: string(b), took: time.Since(start)}
}

// checkAttackOutcomes fails unless every hostile request was refused as its kind must be, in time,
// and each kind got its answer at least once.
func checkAttackOutcomes(t *testing.T, attacks []attack, outcomes []attackResult) {
	t.Helper()
	byName := map[string]attack{}
	for _, a := range attacks {
		byName[a.name] = a
	}
	answered := map[string]int{}
	closed := map[string]int{}
	for _, r := range outcomes {
		a := byName[r.name]
		switch {
		case r.status == 0 && isConnectionClosed(r.err):
			closed[r.name]++
		case r.status == 0:
			t.Errorf("%s: %v", r.name, r.err)
		case r.status != a.status || !strings.Contains(r.body, a.message):
			t.Errorf("%s: status %d %q, want %d with %q", r.name, r.status, r.body, a.status, a.message)
		case a.within > 0 && r.took > a.within:
			t.Errorf("%s: answered after %s, want within %s", r.name, r.took, a.within)
		default:
			answered[r.name]++
		}
	}
	var summary []string
	for _, a := range attacks {
		if answered[a.name] == 0 {
			t.Errorf("%s: never answered %d", a.name, a.status)
		}
		summary = append(summary, fmt.Sprintf("%s: %d× HTTP %d, %d× connection closed while sending", a.name, answered[a.name], a.status, closed[a.name]))
	}
	sort.Strings(summary)
	t.Logf("hostile requests (%d):\n  %s", len(outcomes), strings.Join(summary, "\n  "))
}

// isConnectionClosed reports whether err is the server closing or resetting the connection while a
// request was still being sent, which is how it sheds a body it does not want.
func isConnectionClosed(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	msg := err.Error()
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &ne) && !ne.Timeout()) ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe")
}

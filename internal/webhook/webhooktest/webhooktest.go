// Package webhooktest is a partner's webhook endpoint for tests: a real HTTPS server that checks each
// delivery's signature the way a partner would (an HMAC-SHA256 of the raw body under the shared
// secret, compared in constant time), answers each attempt from a script, and keeps what it got.
package webhooktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/internal/webhook"
)

// Secret is a secret long enough for webhook.Endpoint.
const Secret = "0123456789abcdef0123456789abcdef"

// Attempt is one request the receiver got.
type Attempt struct {
	Body webhook.Body
	// Raw is the body as sent; Fields is it decoded into a map, to see which fields are present.
	Raw    string
	Fields map[string]any
	// Event and ID are the X-Mirrorsink-Event and X-Mirrorsink-Delivery headers.
	Event, ID string
	// Signed says that the signature header was right for the raw body and the method, content type
	// and path were the expected ones.
	Signed bool
	// Status is what the receiver answered.
	Status int
}

// Receiver is a running endpoint.
type Receiver struct {
	// URL is the endpoint's address (path /hooks/mirrorsink).
	URL string
	// RootCAs trust the server's certificate; CertPEM is that certificate in PEM, as a ca_file.
	RootCAs *x509.CertPool
	CertPEM []byte

	t        testing.TB
	srv      *httptest.Server
	mu       sync.Mutex
	answers  []int
	attempts []Attempt
	accepted chan Attempt
}

// New starts a receiver, closed when the test ends. answers are the statuses of the first attempts, in
// turn; 200 once they run out. A request whose signature is wrong is answered 401 whatever the script.
func New(t testing.TB, answers ...int) *Receiver {
	r := &Receiver{t: t, answers: answers, accepted: make(chan Attempt, 10000)}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	r.URL = r.srv.URL + "/hooks/mirrorsink"
	r.RootCAs = r.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	r.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.srv.Certificate().Raw})
	return r
}

// Endpoint returns an endpoint configuration for the receiver.
func (r *Receiver) Endpoint() webhook.Endpoint {
	return webhook.Endpoint{URL: r.URL, Secret: Secret}
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		r.t.Errorf("webhook receiver: reading a delivery: %v", err)
		return
	}
	mac := hmac.New(sha256.New, []byte(Secret))
	mac.Write(raw)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	a := Attempt{Raw: string(raw), Event: req.Header.Get("X-Mirrorsink-Event"), ID: req.Header.Get("X-Mirrorsink-Delivery")}
	a.Signed = hmac.Equal([]byte(want), []byte(req.Header.Get("X-Mirrorsink-Signature"))) &&
		req.Method == http.MethodPost && req.Header.Get("Content-Type") == "application/json" && req.URL.Path == "/hooks/mirrorsink"
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		r.t.Errorf("webhook receiver: a delivery's body is not JSON: %v: %s", err, raw)
	}
	_ = json.Unmarshal(raw, &a.Fields)
	r.mu.Lock()
	a.Status = http.StatusOK
	if len(r.answers) > 0 {
		a.Status, r.answers = r.answers[0], r.answers[1:]
	}
	if !a.Signed {
		a.Status = http.StatusUnauthorized
	}
	r.attempts = append(r.attempts, a)
	r.mu.Unlock()
	w.WriteHeader(a.Status)
	if a.Status == http.StatusOK {
		r.accepted <- a
	}
}

// Next returns the next accepted delivery, failing the test when none arrives within 10 s.
func (r *Receiver) Next(t testing.TB) Attempt {
	t.Helper()
	select {
	case a := <-r.accepted:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("webhook receiver: no delivery arrived within 10 s")
		return Attempt{}
	}
}

// Attempts returns every request so far, in the order they arrived.
func (r *Receiver) Attempts() []Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Attempt(nil), r.attempts...)
}

package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/webhook"
	"github.com/mirrorsink/mirrorsink/internal/webhook/webhooktest"
)

const secret = webhooktest.Secret

func newDispatcher(t *testing.T, r *webhooktest.Receiver, tune func(*webhook.Options)) *webhook.Dispatcher {
	t.Helper()
	opts := webhook.Options{
		Endpoints: []webhook.Endpoint{r.Endpoint()},
		RootCAs:   r.RootCAs,
		Backoff:   20 * time.Millisecond,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		UserAgent: "mirrorsink/test",
	}
	if tune != nil {
		tune(&opts)
	}
	d, err := webhook.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

var at = time.Date(2026, 5, 18, 10, 40, 43, 123456789, time.UTC)

// TestDeliveryIsSignedAndRetried: a queued delivery reaches a real HTTPS receiver, signed, with the
// documented body, after two failed attempts, each with the same id; the call never waits for it.
func TestDeliveryIsSignedAndRetried(t *testing.T) {
	r := webhooktest.New(t, http.StatusInternalServerError, http.StatusBadGateway)
	d := newDispatcher(t, r, nil)
	failed := make(chan error, 1)
	ev := engine.Event{Kind: engine.AfterCycle, Tenant: "Cust1", Cycle: 1779100843123456789, Time: at,
		Summary: []engine.TableSummary{{Table: "contact", Inserts: 3, Updates: 2, Deletes: 1}}}
	if err := d.Notify(context.Background(), ev, func(err error) { failed <- err }); err != nil {
		t.Fatal(err)
	}
	a := r.Next(t)
	want := `{"id":"` + a.ID + `","event":"after_cycle","tenant":"Cust1","cycle":1779100843123456789,` +
		`"summary":[{"table":"contact","inserts":3,"updates":2,"deletes":1}],"time":"2026-05-18T10:40:43.123456789Z"}`
	if a.Raw != want || a.Event != "after_cycle" || len(a.ID) != 32 {
		t.Fatalf("delivery:\n got %s (event %q, id %q)\nwant %s", a.Raw, a.Event, a.ID, want)
	}
	log := r.Attempts()
	if len(log) != 3 || log[0].Status != 500 || log[1].Status != 502 {
		t.Fatalf("attempts: %+v, want 500, 502, then 200", log)
	}
	for _, l := range log {
		if !l.Signed || l.ID != a.ID || l.Raw != a.Raw {
			t.Fatalf("a retry differs from the delivery or is not signed: %+v", l)
		}
	}
	select {
	case err := <-failed:
		t.Fatalf("a delivery that succeeded was reported failed: %v", err)
	default:
	}
}

// TestEveryEventsBody checks the body of the two table events: which fields each has.
func TestEveryEventsBody(t *testing.T) {
	r := webhooktest.New(t)
	d := newDispatcher(t, r, nil)
	for _, ev := range []engine.Event{
		{Kind: engine.BeforeTable, Tenant: "Cust1", Table: "contact", SchemaChanged: true, Recreated: false, Time: at},
		{Kind: engine.AfterWipe, Tenant: "Cust1", Table: "person", Time: at},
		{Kind: engine.AfterCycle, Tenant: "Cust1", Cycle: 7, Time: at},
	} {
		if err := d.Notify(context.Background(), ev, nil); err != nil {
			t.Fatal(err)
		}
		a := r.Next(t)
		delete(a.Fields, "id")
		got, _ := json.Marshal(a.Fields)
		want := map[engine.EventKind]string{
			engine.BeforeTable: `{"event":"before_table","recreated":false,"schema_changed":true,"table":"contact","tenant":"Cust1","time":"2026-05-18T10:40:43.123456789Z"}`,
			engine.AfterWipe:   `{"event":"after_wipe","table":"person","tenant":"Cust1","time":"2026-05-18T10:40:43.123456789Z"}`,
			engine.AfterCycle:  `{"cycle":7,"event":"after_cycle","summary":[],"tenant":"Cust1","time":"2026-05-18T10:40:43.123456789Z"}`,
		}[ev.Kind]
		if string(got) != want {
			t.Errorf("%s:\n got %s\nwant %s", ev.Kind, got, want)
		}
	}
}

// TestGivesUpAndReports: a delivery that keeps failing is reported through the callback once, after
// its attempts, with a message that names the endpoint without its query (which may hold a secret).
func TestGivesUpAndReports(t *testing.T) {
	r := webhooktest.New(t, 503, 503, 503, 503)
	d := newDispatcher(t, r, func(o *webhook.Options) {
		o.Attempts = 3
		o.Endpoints[0].URL += "?token=hunter2"
	})
	failed := make(chan error, 2)
	if err := d.Notify(context.Background(), engine.Event{Kind: engine.AfterWipe, Tenant: "Cust1", Table: "contact", Time: at},
		func(err error) { failed <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-failed:
		msg := err.Error()
		if !strings.Contains(msg, "HTTP 503") || !strings.Contains(msg, "3 attempts") || strings.Contains(msg, "hunter2") ||
			!strings.Contains(msg, "/hooks/mirrorsink") {
			t.Fatalf("failure report: %q", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a delivery that kept failing was not reported")
	}
	if n := len(r.Attempts()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	if d.Pending() != 0 {
		t.Fatalf("%d deliveries still pending", d.Pending())
	}
}

// TestRequiredIsDeliveredBeforeNotifyReturns: a required endpoint is delivered within the call, and
// its failure is Notify's error (the call's), after a few quick attempts.
func TestRequiredIsDeliveredBeforeNotifyReturns(t *testing.T) {
	r := webhooktest.New(t, 500)
	d := newDispatcher(t, r, func(o *webhook.Options) { o.Endpoints[0].Required = true })
	ev := engine.Event{Kind: engine.AfterWipe, Tenant: "Cust1", Table: "contact", Time: at}
	if err := d.Notify(context.Background(), ev, nil); err != nil {
		t.Fatalf("a required delivery that succeeded on its second attempt: %v", err)
	}
	if n := len(r.Attempts()); n != 2 {
		t.Fatalf("%d attempts had been made when Notify returned, want 2", n)
	}

	down := webhooktest.New(t, 500, 500, 500, 500)
	d = newDispatcher(t, down, func(o *webhook.Options) { o.Endpoints[0].Required = true })
	err := d.Notify(context.Background(), ev, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("a required delivery that failed: %v", err)
	}
	if n := len(down.Attempts()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

// TestFiltersAndRoutes: endpoints receive only their events, changed_only skips unchanged tables,
// and a named tenant gets its own endpoints and not the default route's.
func TestFiltersAndRoutes(t *testing.T) {
	all, cycles, named, deflt := webhooktest.New(t), webhooktest.New(t), webhooktest.New(t), webhooktest.New(t)
	ep := func(r *webhooktest.Receiver, events ...engine.EventKind) webhook.Endpoint {
		e := r.Endpoint()
		e.Events = events
		return e
	}
	changed := ep(all, engine.BeforeTable)
	changed.ChangedOnly = true
	d, err := webhook.New(webhook.Options{
		Endpoints: []webhook.Endpoint{changed, ep(cycles, engine.AfterCycle)},
		Tenants:   map[string][]webhook.Endpoint{"Named": {ep(named)}, "Bare": nil},
		Default:   []webhook.Endpoint{ep(deflt)},
		RootCAs:   all.RootCAs, // every httptest TLS server has the same certificate
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	for _, ev := range []engine.Event{
		{Kind: engine.BeforeTable, Tenant: "Named", Table: "unchanged"},
		{Kind: engine.BeforeTable, Tenant: "Named", Table: "changed", SchemaChanged: true},
		{Kind: engine.AfterCycle, Tenant: "Other"},
		{Kind: engine.AfterWipe, Tenant: "Bare", Table: "t"},
	} {
		if err := d.Notify(context.Background(), ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	summary := func(r *webhooktest.Receiver) string {
		var parts []string
		for _, a := range r.Attempts() {
			parts = append(parts, a.Body.Tenant+"/"+a.Body.Event+"/"+a.Body.Table)
		}
		return strings.Join(parts, " ")
	}
	for name, c := range map[string]struct {
		r    *webhooktest.Receiver
		want []string
	}{
		"changed_only before_table": {all, []string{"Named/before_table/changed"}},
		"after_cycle only":          {cycles, []string{"Other/after_cycle/"}},
		"the named tenant's own":    {named, []string{"Named/before_table/unchanged", "Named/before_table/changed"}},
		"the default route's":       {deflt, []string{"Other/after_cycle/"}},
	} {
		got := strings.Fields(summary(c.r))
		if strings.Join(sorted(got), " ") != strings.Join(sorted(c.want), " ") {
			t.Errorf("%s: got %v, want %v", name, got, c.want)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestQueueIsBounded: with the queue full, a new delivery is dropped and reported at once, and
// nothing waits.
func TestQueueIsBounded(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer slow.Close()
	d, err := webhook.New(webhook.Options{
		Endpoints: []webhook.Endpoint{{URL: slow.URL, Secret: secret}},
		Client:    slow.Client(), Queue: 2, Workers: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	defer close(release)
	var mu sync.Mutex
	var reports []error
	failed := func(err error) { mu.Lock(); reports = append(reports, err); mu.Unlock() }
	start := time.Now()
	for range 5 {
		if err := d.Notify(context.Background(), engine.Event{Kind: engine.AfterCycle, Tenant: "Cust1"}, failed); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Notify waited %s with the queue full", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 3 || !errors.Is(reports[0], webhook.ErrQueueFull) {
		t.Fatalf("reports with a queue of 2 and 5 deliveries: %v, want 3 × queue full", reports)
	}
}

// TestEndpointsAreChecked: plain http only to loopback, a secret long enough, known events.
func TestEndpointsAreChecked(t *testing.T) {
	for _, c := range []struct {
		ep   webhook.Endpoint
		want string
	}{
		{webhook.Endpoint{URL: "http://partner.example.com/h", Secret: secret}, "https"},
		{webhook.Endpoint{URL: "https://user:pw@partner.example.com/h?k=v", Secret: "short"}, "at least 16"},
		{webhook.Endpoint{URL: "https://partner.example.com/h", Secret: secret, Events: []engine.EventKind{"after_lunch"}}, "after_lunch"},
		{webhook.Endpoint{URL: "/relative", Secret: secret}, "absolute"},
		{webhook.Endpoint{URL: "https://partner.example.com/h", Secret: secret, Events: []engine.EventKind{engine.AfterCycle}, ChangedOnly: true}, "changed_only"},
	} {
		_, err := webhook.New(webhook.Options{Endpoints: []webhook.Endpoint{c.ep}})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "pw@") {
			t.Errorf("%+v: %v, want an error about %s", c.ep, err, c.want)
		}
	}
	for _, ok := range []string{"http://127.0.0.1:9000/h", "http://[::1]:9000/h", "http://localhost/h", "https://partner.example.com/h"} {
		d, err := webhook.New(webhook.Options{Endpoints: []webhook.Endpoint{{URL: ok, Secret: secret}}})
		if err != nil {
			t.Errorf("%s: %v", ok, err)
			continue
		}
		d.Close(context.Background())
	}
}

// TestRedirectIsNotFollowed: a signed delivery goes to the configured URL only.
func TestRedirectIsNotFollowed(t *testing.T) {
	elsewhere := webhooktest.New(t)
	redirect := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	ev := engine.Event{Kind: engine.AfterWipe, Tenant: "Cust1", Table: "t"}
	// The package's own client, first with the system's roots: the test server's certificate is not
	// trusted, and nothing is sent.
	untrusting, err := webhook.New(webhook.Options{Endpoints: []webhook.Endpoint{{URL: elsewhere.URL, Secret: secret, Required: true}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer untrusting.Close(context.Background())
	if err := untrusting.Notify(context.Background(), ev, nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a delivery to a server with an untrusted certificate: %v", err)
	}
	// Then trusting it: the redirect is answered as a failure, not followed.
	roots := redirect.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	d, err := webhook.New(webhook.Options{Endpoints: []webhook.Endpoint{{URL: redirect.URL, Secret: secret, Required: true}},
		RootCAs: roots, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	if err := d.Notify(context.Background(), ev, nil); err == nil || !strings.Contains(err.Error(), "HTTP 307") {
		t.Fatalf("a delivery answered with a redirect: %v, want a failure naming HTTP 307", err)
	}
	if n := len(elsewhere.Attempts()); n != 0 {
		t.Fatalf("the redirect was followed: %d deliveries elsewhere", n)
	}
}

// TestCloseDrainsTheQueue: shutting down makes the deliveries waiting for a retry at once.
func TestCloseDrainsTheQueue(t *testing.T) {
	r := webhooktest.New(t, 500)
	d := newDispatcher(t, r, func(o *webhook.Options) { o.Backoff = time.Hour; o.MaxBackoff = time.Hour })
	if err := d.Notify(context.Background(), engine.Event{Kind: engine.AfterWipe, Tenant: "Cust1", Table: "t"}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(r.Attempts()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if log := r.Attempts(); len(log) != 2 || log[1].Status != 200 {
		t.Fatalf("attempts: %+v, want the failed one and the last one at shutdown", log)
	}
}

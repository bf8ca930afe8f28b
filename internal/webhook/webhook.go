// Package webhook delivers the engine's events (before_table, after_wipe, after_cycle) to a partner's
// own code: an HTTPS POST of a JSON body signed with HMAC-SHA256 (docs/CONFIGURATION.md, Webhooks).
//
// SuperOffice's Mirroring Task waits on every call, so by default a delivery is queued and made by a
// few workers while the call goes on, and retried with exponential backoff; it never fails a call. An
// endpoint marked required is delivered before the call answers instead, and its failure fails the
// call, so that SuperOffice retries the call and the event fires again. Either way a delivery is at
// least once: receivers dedupe on the body's id.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mirrorsink/mirrorsink/engine"
)

// Headers of a delivery.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the body under the endpoint's secret.
	HeaderSignature = "X-Mirrorsink-Signature"
	// HeaderEvent names the event (before_table, after_wipe, after_cycle).
	HeaderEvent = "X-Mirrorsink-Event"
	// HeaderDelivery is the body's id: the same on every attempt of one event.
	HeaderDelivery = "X-Mirrorsink-Delivery"
)

// Defaults of Options and Endpoint.
const (
	DefaultQueue      = 10000
	DefaultWorkers    = 4
	DefaultAttempts   = 8
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	DefaultTimeout    = 10 * time.Second
	// MinSecret is the shortest secret accepted, in bytes.
	MinSecret = 16
	// requiredAttempts is how often a required endpoint is tried within the call before the call fails:
	// a few quick tries, since SuperOffice waits, and its own retry of the call tries again.
	requiredAttempts = 3
)

// Endpoint is one partner URL that receives events.
type Endpoint struct {
	// URL is where the events are POSTed: https, or http to a loopback address (a local relay).
	URL string
	// Secret keys the HMAC-SHA256 signature of every body; at least MinSecret bytes.
	Secret string
	// Events are the events the endpoint receives; empty means all three.
	Events []engine.EventKind
	// Timeout bounds one attempt (DefaultTimeout when 0).
	Timeout time.Duration
	// Required delivers the event before the call answers, and fails the call when every attempt
	// failed.
	Required bool
	// ChangedOnly sends before_table only for tables whose schema changed.
	ChangedOnly bool
}

// Options configure a Dispatcher.
type Options struct {
	// Endpoints receive the events of every tenant.
	Endpoints []Endpoint
	// Tenants are the named tenants' own endpoints, added to Endpoints. A tenant that is a key here is
	// a named tenant, even with no endpoints of its own: Default's are not for it.
	Tenants map[string][]Endpoint
	// Default are the endpoints of every tenant not in Tenants (the default route's).
	Default []Endpoint
	// Queue bounds the deliveries waiting, for a worker or for a retry (DefaultQueue). When it is full
	// a new delivery is dropped, logged and reported as failed.
	Queue int
	// Workers is how many deliveries are made at once (DefaultWorkers).
	Workers int
	// Attempts is how often a queued delivery is tried before it is given up (DefaultAttempts).
	Attempts int
	// Backoff is the wait before the first retry, doubled before each next one up to MaxBackoff, with
	// ±20% jitter (DefaultBackoff, DefaultMaxBackoff).
	Backoff, MaxBackoff time.Duration
	// Client sends the requests; nil means one that verifies TLS (1.2 or later) against RootCAs,
	// honours the proxy environment variables, and never follows a redirect.
	Client *http.Client
	// RootCAs are the certificate authorities the default client trusts; nil means the system's.
	RootCAs *x509.CertPool
	// UserAgent is sent with every request.
	UserAgent string
	Logger    *slog.Logger
}

// endpoint is a validated Endpoint.
type endpoint struct {
	Endpoint
	url    *url.URL
	name   string // the URL without credentials or query, for messages
	events map[engine.EventKind]bool
}

// Dispatcher is the engine's Notifier for webhooks. It is safe for concurrent use.
type Dispatcher struct {
	opts    Options
	log     *slog.Logger
	client  *http.Client
	global  []*endpoint
	tenants map[string][]*endpoint
	deflt   []*endpoint

	queue   chan *delivery
	pending atomic.Int64 // deliveries queued, being sent, or waiting for a retry
	base    context.Context
	cancel  context.CancelFunc
	stop    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	waiting map[*delivery]*time.Timer

	delivered, retried, dropped atomic.Int64
}

var _ engine.Notifier = (*Dispatcher)(nil)

// delivery is one event for one endpoint.
type delivery struct {
	ep      *endpoint
	event   engine.EventKind
	tenant  string
	id      string
	body    []byte
	attempt int
	failed  func(error)
	// last marks the one attempt a delivery gets once the dispatcher is closing.
	last bool
}

// New validates the endpoints and starts the workers.
func New(opts Options) (*Dispatcher, error) {
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Dispatcher{opts: opts, log: opts.Logger, client: opts.Client, tenants: map[string][]*endpoint{},
		queue: make(chan *delivery, opts.Queue), stop: make(chan struct{}), waiting: map[*delivery]*time.Timer{}}
	if d.client == nil {
		d.client = defaultClient(opts.RootCAs)
	}
	var err error
	if d.global, err = validate("webhooks", opts.Endpoints); err != nil {
		return nil, err
	}
	if d.deflt, err = validate("default.webhooks", opts.Default); err != nil {
		return nil, err
	}
	for name, eps := range opts.Tenants {
		if d.tenants[name], err = validate("tenants."+name+".webhooks", eps); err != nil {
			return nil, err
		}
	}
	d.base, d.cancel = context.WithCancel(context.Background())
	for range opts.Workers {
		d.wg.Add(1)
		go d.work()
	}
	return d, nil
}

// defaultClient verifies TLS and does not follow redirects: a redirect is answered as a failure,
// so that a delivery (and its signature) never goes anywhere but the configured URL.
func defaultClient(roots *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func validate(where string, eps []Endpoint) ([]*endpoint, error) {
	out := make([]*endpoint, 0, len(eps))
	for i, ep := range eps {
		at := fmt.Sprintf("%s[%d]", where, i)
		u, err := url.Parse(ep.URL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%s: url %q is not an absolute URL", at, redactURL(ep.URL))
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopback(u.Hostname()):
		default:
			return nil, fmt.Errorf("%s: url %s: webhooks go over https (plain http only to a loopback address)", at, redactURL(ep.URL))
		}
		if len(ep.Secret) < MinSecret {
			return nil, fmt.Errorf("%s: the secret has %d bytes; it needs at least %d (e.g. openssl rand -hex 32), and comes best from the environment: secret: ${NAME}", at, len(ep.Secret), MinSecret)
		}
		if ep.Timeout < 0 {
			return nil, fmt.Errorf("%s: timeout must not be negative", at)
		}
		if ep.Timeout == 0 {
			ep.Timeout = DefaultTimeout
		}
		e := &endpoint{Endpoint: ep, url: u, name: redactURL(ep.URL), events: map[engine.EventKind]bool{}}
		for _, ev := range ep.Events {
			if !slices.Contains(engine.EventKinds, ev) {
				return nil, fmt.Errorf("%s: event %q is not one of %v", at, ev, engine.EventKinds)
			}
			e.events[ev] = true
		}
		if len(e.events) == 0 {
			for _, ev := range engine.EventKinds {
				e.events[ev] = true
			}
		}
		if ep.ChangedOnly && !e.events[engine.BeforeTable] {
			return nil, fmt.Errorf("%s: changed_only applies to before_table, which the endpoint does not receive", at)
		}
		out = append(out, e)
	}
	return out, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL is a URL as messages may show it: no credentials, no query (either may hold a secret).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// Body is the JSON every delivery POSTs. Fields that an event does not have are left out.
type Body struct {
	// ID identifies the event; every attempt, and every endpoint, gets the same.
	ID     string `json:"id"`
	Event  string `json:"event"`
	Tenant string `json:"tenant"`
	// Table: before_table and after_wipe.
	Table string `json:"table,omitempty"`
	// SchemaChanged and Recreated: before_table.
	SchemaChanged *bool `json:"schema_changed,omitempty"`
	Recreated     *bool `json:"recreated,omitempty"`
	// Cycle is the id of the cycle's row in the tenant's cycles table: after_cycle.
	Cycle int64 `json:"cycle,omitempty"`
	// Summary has the cycle's counts per table (possibly none): after_cycle.
	Summary *[]engine.TableSummary `json:"summary,omitempty"`
	// Time is when the event happened, in UTC.
	Time time.Time `json:"time"`
}

// body builds an event's JSON.
func body(id string, ev engine.Event) ([]byte, error) {
	b := Body{ID: id, Event: string(ev.Kind), Tenant: ev.Tenant, Table: ev.Table, Time: ev.Time.UTC()}
	switch ev.Kind {
	case engine.BeforeTable:
		b.SchemaChanged, b.Recreated = &ev.SchemaChanged, &ev.Recreated
	case engine.AfterCycle:
		summary := ev.Summary
		if summary == nil {
			summary = []engine.TableSummary{}
		}
		b.Cycle, b.Summary = ev.Cycle, &summary
	}
	return json.Marshal(b)
}

// Sign returns the signature header's value for body under secret: "sha256=" and the hex HMAC.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature (the header's value) signs body under secret, in constant time.
// Receivers written in Go can use it as it is.
func Verify(secret string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// ErrQueueFull is reported for a delivery dropped because the queue was full.
var ErrQueueFull = errors.New("the webhook queue is full; the delivery was dropped")

// Notify delivers ev to the tenant's endpoints that take it: the required ones now, the others
// through the queue. Only required deliveries can make it return an error.
func (d *Dispatcher) Notify(ctx context.Context, ev engine.Event, failed func(error)) error {
	eps := d.endpointsFor(ev)
	if len(eps) == 0 {
		return nil
	}
	id := newID()
	b, err := body(id, ev)
	if err != nil {
		return err
	}
	var errs []error
	for _, ep := range eps {
		dl := &delivery{ep: ep, event: ev.Kind, tenant: ev.Tenant, id: id, body: b, failed: failed}
		if ep.Required {
			if err := d.deliverNow(ctx, dl); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		d.enqueue(dl)
	}
	return errors.Join(errs...)
}

func (d *Dispatcher) endpointsFor(ev engine.Event) []*endpoint {
	own, named := d.tenants[ev.Tenant]
	if !named {
		own = d.deflt
	}
	var out []*endpoint
	for _, ep := range append(slices.Clip(d.global), own...) {
		if !ep.events[ev.Kind] || (ep.ChangedOnly && ev.Kind == engine.BeforeTable && !ev.SchemaChanged) {
			continue
		}
		out = append(out, ep)
	}
	return out
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b[:])
}

// deliverNow tries a required delivery a few times within the call.
func (d *Dispatcher) deliverNow(ctx context.Context, dl *delivery) error {
	var err error
	for attempt := range requiredAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (after %d attempts: %w)", err, attempt, ctx.Err())
			case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
			}
		}
		if err = d.send(ctx, dl); err == nil {
			d.delivered.Add(1)
			return nil
		}
	}
	return fmt.Errorf("%w (after %d attempts)", err, requiredAttempts)
}

// enqueue queues a delivery, or drops it when the queue is full or closed.
func (d *Dispatcher) enqueue(dl *delivery) {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		d.drop(dl, errors.New("the service is shutting down; the delivery was dropped"))
		return
	}
	if d.pending.Add(1) > int64(d.opts.Queue) {
		d.pending.Add(-1)
		d.drop(dl, ErrQueueFull)
		return
	}
	d.queue <- dl // never blocks: at most Queue deliveries are pending, and the channel holds Queue
}

func (d *Dispatcher) drop(dl *delivery, err error) {
	d.dropped.Add(1)
	if dl.failed != nil {
		dl.failed(fmt.Errorf("webhook %s: %w", dl.ep.name, err))
	}
}

func (d *Dispatcher) work() {
	defer d.wg.Done()
	for {
		select {
		case dl := <-d.queue:
			d.attempt(dl)
		case <-d.stop:
			return
		}
	}
}

// attempt makes one attempt of a queued delivery, and schedules the next one or gives up.
func (d *Dispatcher) attempt(dl *delivery) {
	err := d.send(d.base, dl)
	dl.attempt++
	if err == nil {
		d.delivered.Add(1)
		d.pending.Add(-1)
		return
	}
	d.mu.Lock()
	closed := d.closed
	if dl.attempt < d.opts.Attempts && closed && !dl.last {
		// Closing: no more waiting, but one last attempt, as the deliveries waiting for a retry get.
		dl.last = true
		d.mu.Unlock()
		d.queue <- dl
		return
	}
	if dl.attempt < d.opts.Attempts && !closed {
		wait := d.backoff(dl.attempt)
		d.retried.Add(1)
		d.log.Info("webhook delivery failed; retrying", "tenant", dl.tenant, "event", string(dl.event),
			"endpoint", dl.ep.name, "attempt", dl.attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		d.waiting[dl] = time.AfterFunc(wait, func() { d.retry(dl) })
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	d.pending.Add(-1)
	if dl.failed != nil {
		dl.failed(fmt.Errorf("%w (gave up after %d attempts)", err, dl.attempt))
	}
}

// retry puts a delivery whose backoff is over back into the queue; it keeps its place in the bound.
func (d *Dispatcher) retry(dl *delivery) {
	d.mu.Lock()
	_, ok := d.waiting[dl]
	delete(d.waiting, dl)
	d.mu.Unlock()
	if ok {
		d.queue <- dl
	}
}

// backoff is Backoff·2^(attempt-1), at most MaxBackoff, ±20%.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	wait := d.opts.Backoff
	for i := 1; i < attempt && wait < d.opts.MaxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, d.opts.MaxBackoff)
	return time.Duration(float64(wait) * (0.8 + 0.4*mrand.Float64()))
}

// send makes one attempt: any 2xx answer is a delivery, anything else a failure. The answer's body
// is read (a little of it) so that the connection can be reused, and otherwise ignored.
func (d *Dispatcher) send(ctx context.Context, dl *delivery) error {
	ctx, cancel := context.WithTimeout(ctx, dl.ep.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.ep.url.String(), bytes.NewReader(dl.body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", dl.ep.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderSignature, Sign(dl.ep.Secret, dl.body))
	req.Header.Set(HeaderEvent, string(dl.event))
	req.Header.Set(HeaderDelivery, dl.id)
	if d.opts.UserAgent != "" {
		req.Header.Set("User-Agent", d.opts.UserAgent)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %s", dl.ep.name, transportError(err, dl.ep))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook %s: answered HTTP %d", dl.ep.name, resp.StatusCode)
	}
	return nil
}

// transportError describes a failed request without the URL that net/http puts in its message (its
// query or credentials may hold a secret).
func transportError(err error, ep *endpoint) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", ep.Timeout)
	}
	return strings.TrimSpace(err.Error())
}

// Pending returns how many deliveries are queued, being sent or waiting for a retry.
func (d *Dispatcher) Pending() int64 { return d.pending.Load() }

// Close stops taking deliveries, makes one last attempt of those waiting for a retry (and of those
// whose attempt fails meanwhile), and waits until the queue is empty or ctx ends; what is left then is
// dropped, reported as failed and logged.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	var now []*delivery
	for dl, tm := range d.waiting {
		// A timer that has fired already is retry's to queue.
		if tm.Stop() {
			dl.last = true
			now = append(now, dl)
			delete(d.waiting, dl)
		}
	}
	d.mu.Unlock()
	for _, dl := range now {
		d.queue <- dl
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for d.pending.Load() > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			break wait
		}
	}
	d.cancel() // ends attempts under way
	close(d.stop)
	d.wg.Wait()
	left := int(d.pending.Load())
	for range left {
		select {
		case dl := <-d.queue:
			d.pending.Add(-1)
			d.drop(dl, errors.New("the service shut down before the delivery was made"))
		default:
		}
	}
	if left > 0 {
		d.log.Warn("webhook deliveries dropped at shutdown", "count", left)
		return fmt.Errorf("%d webhook deliveries were dropped at shutdown", left)
	}
	return nil
}

// WritePrometheus writes the dispatcher's counters and its queue length.
func (d *Dispatcher) WritePrometheus(w io.Writer) error {
	for _, c := range []struct {
		name, kind, help string
		v                int64
	}{
		{"mirrorsink_webhook_deliveries_total", "counter", "Webhook deliveries a partner's endpoint accepted (2xx).", d.delivered.Load()},
		{"mirrorsink_webhook_retries_total", "counter", "Webhook attempts that failed and were scheduled again.", d.retried.Load()},
		{"mirrorsink_webhook_dropped_total", "counter", "Webhook deliveries dropped because the queue was full or the service shut down.", d.dropped.Load()},
		{"mirrorsink_webhook_queue_length", "gauge", "Webhook deliveries queued, being sent, or waiting for a retry.", d.pending.Load()},
	} {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", c.name, c.help, c.name, c.kind, c.name, c.v); err != nil {
			return err
		}
	}
	return nil
}

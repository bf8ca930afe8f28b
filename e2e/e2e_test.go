package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/simulator"
)

func TestScenarios(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		svc := startService(t, tg.route(t))
		for _, sc := range simulator.Scenarios {
			t.Run(sc, func(t *testing.T) {
				tn := newTenant(t, tg, svc, "crm", 300, 40_000)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				var steps []string
				err := simulator.RunScenario(ctx, tn.driver, tn.src, simulator.ScenarioConfig{
					Scenario: sc,
					Churn:    simulator.ChurnOptions{Dataset: "crm", Inserts: 40, Updates: 60, Deletes: 20},
					Cycles:   2,
					Seed:     5,
					Verify: func(ctx context.Context, absent []string) error {
						_, err := tn.mirror.Verify(ctx, tn.src, absent...)
						return err
					},
					Reset: tn.mirror.Reset,
					Report: func(step string, res *simulator.CycleResult) {
						if res != nil {
							step += ": " + res.Summary()
						}
						steps = append(steps, step)
					},
				})
				if err != nil {
					t.Fatalf("%v\nsteps:\n%s", err, strings.Join(steps, "\n"))
				}
			})
		}
	})
}

func TestEveryType(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		svc := startService(t, tg.route(t))
		tn := newTenant(t, tg, svc, "types", 150, 100_000)
		res := tn.cycle(t)
		if tr := tableResult(t, res, "alltypes"); !tr.Full || tr.Inserts != 154 {
			t.Fatalf("first cycle of alltypes: %+v, want a full load of 154 rows", tr)
		}
		if _, err := simulator.Churn(context.Background(), tn.src, simulator.ChurnOptions{Dataset: "types", Inserts: 10, Updates: 30, Deletes: 10, Seed: 9}); err != nil {
			t.Fatal(err)
		}
		res = tn.cycle(t)
		// A row inserted and then updated or deleted by the same churn is sent once, in its final state.
		if tr := tableResult(t, res, "alltypes"); tr.Full || tr.Inserts+tr.Updates+tr.Deletes == 0 || tr.Inserts+tr.Updates+tr.Deletes > 50 {
			t.Fatalf("churn cycle of alltypes: %+v, want up to 50 changes", tr)
		}
	})
}

func TestTwentyTenantsAtOnce(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		svc := startService(t, tg.route(t))
		tenants := make([]*tenant, 20)
		for i := range tenants {
			tenants[i] = newTenant(t, tg, svc, "crm", 60, 30_000)
		}
		for round := range 2 {
			cycleAll(t, tenants, round, len(tenants), len(tenants))
		}
	})
}

// interrupter wraps the SOAP handler and breaks the n-th RowData call.
type interrupter struct {
	next    http.Handler
	n       int64
	calls   atomic.Int64
	mode    string // "cut-body": the request dies half-way; "twice": the call is served twice
	onCall  func()
	tripped atomic.Bool
}

func (h *interrupter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.Header.Get("SOAPAction"), "RowData") || h.calls.Add(1) != h.n {
		h.next.ServeHTTP(w, r)
		return
	}
	h.tripped.Store(true)
	switch h.mode {
	case "twice":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		first := r.Clone(r.Context())
		first.Body = io.NopCloser(bytes.NewReader(body))
		h.next.ServeHTTP(discard{}, first)
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.next.ServeHTTP(w, r)
	case "cut-db":
		h.onCall()
		h.next.ServeHTTP(w, r)
	default:
		// The server dies half-way through reading the call: the engine sees a broken stream, and the
		// client a cut connection.
		r.Body = &failingBody{r: r.Body, left: 20_000}
		h.next.ServeHTTP(discard{}, r)
		if h.onCall != nil {
			h.onCall()
		}
		panic(http.ErrAbortHandler)
	}
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}

type failingBody struct {
	r    io.ReadCloser
	left int
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

func (b *failingBody) Close() error { return b.r.Close() }

func TestInterruptedCycleHeals(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		for _, mode := range []string{"server-stopped", "cut-db"} {
			t.Run(mode, func(t *testing.T) {
				if mode == "cut-db" && tg.kill == nil {
					t.Skip("no connections to cut for this dialect")
				}
				svc := startService(t, tg.route(t))
				h := &interrupter{n: 4, mode: mode}
				svc.wrap(func(next http.Handler) http.Handler { h.next = next; return h })
				addr := svc.ln.Addr().String()
				tn := newTenant(t, tg, svc, "crm", 1500, 60_000)
				switch mode {
				case "server-stopped":
					h.onCall = svc.stop
				case "cut-db":
					h.onCall = func() { tg.kill(t, tn.name) }
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_, err := tn.driver.Cycle(ctx, tn.src)
				if !h.tripped.Load() {
					t.Fatal("the cycle made fewer RowData calls than the interruption needs")
				}
				if mode == "server-stopped" && err == nil {
					t.Fatal("the cycle succeeded although the server stopped under it")
				}
				t.Logf("interrupted cycle: %v", err)
				if mode == "server-stopped" {
					svc.listen(t, addr) // the service comes back
				} else {
					// The next cycle comes minutes later in production; the pool checks connections that
					// have been idle for a second before reusing them, so cut ones are replaced by then.
					time.Sleep(1500 * time.Millisecond)
				}
				res := tn.cycle(t)
				// A cut connection may be absorbed (the engine retries Begin on a fresh connection), and
				// then the interrupted cycle succeeded and there is nothing left to heal; either way the
				// mirror was verified above.
				if err != nil && res.Rows == 0 {
					t.Fatal("the healing cycle sent nothing after a failed cycle")
				}
				tn.churn(t, 20, 20, 20, 1)
				tn.cycle(t)
			})
		}
	})
}

func TestBatchSentTwice(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		svc := startService(t, tg.route(t))
		h := &interrupter{mode: "twice"}
		svc.wrap(func(next http.Handler) http.Handler { h.next = next; return h })
		tn := newTenant(t, tg, svc, "crm", 300, 30_000)
		tn.cycle(t)
		// The next cycle's first RowData call (changes: updates, inserts and deletes) is applied twice.
		tn.churn(t, 30, 40, 20, 2)
		h.n = h.calls.Load() + 1
		tn.cycle(t)
		if !h.tripped.Load() {
			t.Fatal("no RowData call was sent twice")
		}
		tn.churn(t, 10, 10, 10, 3)
		tn.cycle(t)
	})
}

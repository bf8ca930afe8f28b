package engine

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
)

// DefaultFailureLog is how many failures each tenant's mirror keeps by default.
const DefaultFailureLog = 1000

// recordTimeout bounds writing one failure: the call has failed already and must not wait long for
// its record (the database may be what failed).
const recordTimeout = 5 * time.Second

// Error classes of the failure log.
const (
	ClassPaused        = "paused"
	ClassUnknownTenant = "unknown_tenant"
	ClassHook          = "hook"
	ClassValue         = "value"
	ClassBadName       = "bad_name"
	ClassNoMetadata    = "no_metadata"
	ClassTimeout       = "timeout"
	ClassCanceled      = "canceled"
	ClassError         = "error"
)

// opsState is the engine's operating state in this process: the tenants that have called, and the
// failure log's id sequence. Everything an operator acts on (pauses, failures) lives in the tenants'
// mirrors, so that every replica sees it.
type opsState struct {
	lastFailureID atomic.Int64

	recMu     sync.Mutex
	recording int                        // failure records being written
	pending   map[string][]chan struct{} // by tenant: each closed when its record is written

	knownMu      sync.Mutex
	known        map[string]time.Time   // tenant → its last call to this process that opened its mirror
	openFailures map[string]openFailure // tenant → why its mirror could not be opened, until it can
}

// openFailure is a tenant's mirror that a call could not open.
type openFailure struct {
	at  time.Time
	err string
}

// noteTenant remembers that a tenant called and its mirror opened, for the status page and readiness.
func (e *Engine) noteTenant(name string) {
	e.ops.knownMu.Lock()
	defer e.ops.knownMu.Unlock()
	if e.ops.known == nil {
		e.ops.known = map[string]time.Time{}
	}
	e.ops.known[name] = e.now()
	delete(e.ops.openFailures, name)
}

// noteOpenFailure remembers that a call could not open a tenant's mirror, so that readiness can say so
// without opening anything itself. A caller that gave up waiting is not the mirror's failure.
func (e *Engine) noteOpenFailure(ctx context.Context, name string, err error) {
	if ctx.Err() != nil {
		return
	}
	e.ops.knownMu.Lock()
	defer e.ops.knownMu.Unlock()
	if e.ops.openFailures == nil {
		e.ops.openFailures = map[string]openFailure{}
	}
	e.ops.openFailures[name] = openFailure{at: e.now(), err: err.Error()}
}

// KnownTenants lists the tenants named in the configuration and those that have called this process
// since it started, sorted. (A tenant of the default route that has never called this replica is in
// no list: its mirror is found only by its name.)
func (e *Engine) KnownTenants() []string {
	set := map[string]bool{}
	for n := range e.opts.Tenants {
		set[n] = true
	}
	e.ops.knownMu.Lock()
	for n := range e.ops.known {
		set[n] = true
	}
	e.ops.knownMu.Unlock()
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// openTenant returns a tenant's mirror if this process has it open, without opening it, for the
// caller to use until it calls release; nil when it is not open (or is being opened, or closed).
func (e *Engine) openTenant(name string) *tenant {
	e.mu.Lock()
	defer e.mu.Unlock()
	slot, ok := e.tenants[name]
	if !ok || slot.retired {
		return nil
	}
	select {
	case <-slot.ready:
	default:
		return nil
	}
	if slot.t == nil {
		return nil
	}
	slot.refs++
	if slot.idle != nil {
		slot.idle.Stop()
		slot.idle = nil
	}
	return slot.t
}

// failureID returns a failure log id: the time in nanoseconds, made strictly increasing in this
// process, so that ids sort as the failures happened and two failures of one instant do not collide.
func (e *Engine) failureID(now time.Time) int64 {
	id := now.UnixNano()
	for {
		last := e.ops.lastFailureID.Load()
		if id <= last {
			id = last + 1
		}
		if e.ops.lastFailureID.CompareAndSwap(last, id) {
			return id
		}
	}
}

// classify sorts an error for the failure log.
func classify(err error) string {
	var (
		h  *hookError
		be *BatchError
	)
	switch {
	case errors.Is(err, ErrPaused):
		return ClassPaused
	case errors.Is(err, contract.ErrUnknownTenant):
		return ClassUnknownTenant
	case errors.As(err, &h):
		return ClassHook
	case errors.As(err, &be), errors.Is(err, dialect.ErrValue):
		return ClassValue
	case errors.Is(err, dialect.ErrBadName):
		return ClassBadName
	case errors.Is(err, dialect.ErrNoMeta):
		return ClassNoMetadata
	case errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	}
	return ClassError
}

// callFailed records a failed call in the tenant's failure log: one entry per failed table when the
// call failed for some tables only, else one for the call.
func (e *Engine) callFailed(tenant, op, table string, err error) {
	if err == nil {
		return
	}
	now := e.now()
	var te *TableErrors
	if errors.As(err, &te) && len(te.Tables) == len(te.errs) {
		fs := make([]dialect.Failure, len(te.Tables))
		for i, name := range te.Tables {
			fs[i] = e.failure(now, op, name, te.errs[i])
		}
		e.record(tenant, fs)
		return
	}
	e.record(tenant, []dialect.Failure{e.failure(now, op, table, err)})
}

// failure is the failure log's entry for err.
func (e *Engine) failure(now time.Time, op, table string, err error) dialect.Failure {
	return dialect.Failure{ID: e.failureID(now), At: now, Operation: clip(op, 64), Table: clip(table, 128),
		Class: classify(err), Message: clip(failureText(err), 2000)}
}

// failuresLock is the lock name under which the failure log is written. It cannot clash with a
// table's lock in a harmful way: at worst the two serialise.
const failuresLock = "#failures"

// maxRecordings bounds the failure records being written at once, so that a storm of failures cannot
// pile up goroutines; beyond it a failure is only in the service's log.
const maxRecordings = 32

// record writes failures into the tenant's mirror, in one transaction, when this process has the
// mirror open (a tenant that could not be opened has nowhere to keep them: the service log has
// them). It does so in the background: the call has failed already, and its answer must not wait
// for a database that may be what failed, or that the failed call's table still holds. A failure to
// record is only logged.
func (e *Engine) record(tenant string, fs []dialect.Failure) {
	t := e.openTenant(tenant)
	if t == nil {
		return
	}
	done, ok := e.startRecording(tenant)
	if !ok {
		e.release(t, nil)
		e.log.Warn("too many failures are being recorded at once; this one is only in the log", "tenant", tenant, "operation", fs[0].Operation)
		return
	}
	go func() {
		defer done()
		defer e.release(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		defer cancel()
		// Under a lock of its own, so that records (of any replica) take turns and the log's bound
		// counts every one of them.
		err := e.inTx(ctx, t, failuresLock, dialect.Durable, func(tx dialect.Tx) error {
			for _, f := range fs {
				if err := tx.Meta().RecordFailure(ctx, f, e.opts.FailureLog); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			e.log.Warn("cannot record a failure in the tenant's mirror", "tenant", tenant, "operation", fs[0].Operation, "err", err)
		}
	}()
}

// startRecording counts a recording under way for tenant, and returns what ends it; ok is false when
// maxRecordings are under way already.
func (e *Engine) startRecording(tenant string) (done func(), ok bool) {
	o := &e.ops
	o.recMu.Lock()
	defer o.recMu.Unlock()
	if o.recording >= maxRecordings {
		return nil, false
	}
	o.recording++
	if o.pending == nil {
		o.pending = map[string][]chan struct{}{}
	}
	ch := make(chan struct{})
	o.pending[tenant] = append(o.pending[tenant], ch)
	return func() {
		o.recMu.Lock()
		o.recording--
		rest := slices.DeleteFunc(o.pending[tenant], func(c chan struct{}) bool { return c == ch })
		if len(rest) == 0 {
			delete(o.pending, tenant)
		} else {
			o.pending[tenant] = rest
		}
		o.recMu.Unlock()
		close(ch)
	}, true
}

// awaitRecordings waits until the failures of tenant that were being recorded when it was called are
// written (each gives up within recordTimeout), or ctx ends; an empty tenant waits for every tenant's.
// A read of the failure log right after a failed call then shows it.
func (e *Engine) awaitRecordings(ctx context.Context, tenant string) {
	o := &e.ops
	o.recMu.Lock()
	var chans []chan struct{}
	for name, cs := range o.pending {
		if tenant == "" || name == tenant {
			chans = append(chans, cs...)
		}
	}
	o.recMu.Unlock()
	for _, ch := range chans {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// clip shortens s to at most n characters, marking the cut, so that it fits a column of n.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return cut([]byte(s), n-1)
}

// FailureStatus is one entry of a tenant's failure log.
type FailureStatus struct {
	At        time.Time `json:"at"`
	Operation string    `json:"operation"`
	Table     string    `json:"table,omitempty"`
	Class     string    `json:"class"`
	Message   string    `json:"message"`
}

func failureStatus(f dialect.Failure) FailureStatus {
	return FailureStatus{At: f.At, Operation: f.Operation, Table: f.Table, Class: f.Class, Message: f.Message}
}

// Failures returns the newest entries of a tenant's failure log, at most limit, newest first. It never
// creates the mirror: one that does not exist fails with ErrNoMirror.
func (e *Engine) Failures(ctx context.Context, tenantName string, limit int) (_ []FailureStatus, err error) {
	t, err := e.existing(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	defer e.release(t, &err)
	e.awaitRecordings(ctx, tenantName)
	var out []FailureStatus
	err = e.metaTx(ctx, t, func(ctx context.Context, tx dialect.Tx) error {
		fs, err := tx.Meta().Failures(ctx, limit)
		for _, f := range fs {
			out = append(out, failureStatus(f))
		}
		return err
	})
	return out, err
}

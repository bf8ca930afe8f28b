package engine

import (
	"context"
	"errors"
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

	knownMu sync.Mutex
	known   map[string]time.Time // tenant → its last call to this process
}

// noteTenant remembers that a tenant called, for the status page and readiness.
func (e *Engine) noteTenant(name string) {
	e.ops.knownMu.Lock()
	defer e.ops.knownMu.Unlock()
	if e.ops.known == nil {
		e.ops.known = map[string]time.Time{}
	}
	e.ops.known[name] = e.now()
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

// openTenant returns a tenant's mirror if this process has it open, without opening it.
func (e *Engine) openTenant(name string) *tenant {
	e.mu.Lock()
	slot, ok := e.tenants[name]
	e.mu.Unlock()
	if !ok {
		return nil
	}
	select {
	case <-slot.ready:
		return slot.t
	default:
		return nil
	}
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
func (e *Engine) callFailed(ctx context.Context, tenant, op, table string, err error) {
	if err == nil {
		return
	}
	var te *TableErrors
	if errors.As(err, &te) && len(te.Tables) == len(te.errs) {
		for i, name := range te.Tables {
			e.recordFailure(ctx, tenant, op, name, te.errs[i])
		}
		return
	}
	e.recordFailure(ctx, tenant, op, table, err)
}

// recordFailure writes one failure into the tenant's mirror, when this process has the mirror open
// (a tenant that could not be opened has nowhere to keep it: the service log has it). Its own failure
// is only logged.
func (e *Engine) recordFailure(ctx context.Context, tenant, op, table string, err error) {
	t := e.openTenant(tenant)
	if t == nil {
		return
	}
	now := e.now()
	f := dialect.Failure{
		ID: e.failureID(now), At: now, Operation: clip(op, 64), Table: clip(table, 128),
		Class: classify(err), Message: clip(failureText(err), 2000),
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	werr := e.metaTx(ctx, t, func(ctx context.Context, tx dialect.Tx) error {
		return tx.Meta().RecordFailure(ctx, f, e.opts.FailureLog)
	})
	if werr != nil {
		e.log.Warn("cannot record a failure in the tenant's mirror", "tenant", tenant, "operation", op, "err", werr)
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

// Failures returns the newest entries of a tenant's failure log, at most limit, newest first.
func (e *Engine) Failures(ctx context.Context, tenantName string, limit int) ([]FailureStatus, error) {
	t, err := e.tenant(ctx, tenantName)
	if err != nil {
		return nil, err
	}
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

package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// pauseLock is the lock name under which pauses are written, so that two operators pausing at once
// do not both insert the pause's row. It cannot clash with a table's lock in a harmful way.
const pauseLock = "#pause"

// PauseStatus is a tenant's pause as status shows it.
type PauseStatus struct {
	// Pinned says that the configuration pauses the tenant (paused: true on its route); the mirror may
	// hold a pause of its own as well.
	Pinned bool      `json:"pinned,omitempty"`
	By     string    `json:"by,omitempty"`
	At     time.Time `json:"at,omitzero"`
	Reason string    `json:"reason,omitempty"`
}

// Pause stores a pause in the tenant's mirror: from the next call on, on every replica and without a
// restart, Authenticate answers doNotReplicate and writing calls are refused. Calls already running
// finish. Pausing a paused tenant replaces the pause's who, when and why. It creates the mirror when
// there is none yet (unlike the looks that only read): pausing a new tenant before its first cycle is
// how an operator keeps that cycle from running, and the pause lives in the mirror.
func (e *Engine) Pause(ctx context.Context, tenantName, by, reason string) (err error) {
	t, err := e.tenant(ctx, tenantName)
	if err != nil {
		return err
	}
	defer e.release(t, &err)
	p := dialect.Pause{By: clip(by, 200), At: e.now(), Reason: clip(reason, 1000)}
	err = e.inTx(ctx, t, pauseLock, dialect.Durable, func(tx dialect.Tx) error {
		return tx.Meta().SetPause(ctx, p)
	})
	if err != nil {
		return fmt.Errorf("tenant %s: pause: %w", tenantName, err)
	}
	e.log.Info("tenant paused", "tenant", tenantName, "by", p.By, "reason", p.Reason)
	return nil
}

// Resume removes the pause stored in the tenant's mirror and reports whether there was one. A pause
// pinned by the configuration stays. It never creates the mirror: a tenant without one holds no pause
// to lift, and fails with ErrNoMirror, which also tells an operator who mistyped the name.
func (e *Engine) Resume(ctx context.Context, tenantName string) (_ bool, err error) {
	t, err := e.existing(ctx, tenantName)
	if err != nil {
		return false, err
	}
	defer e.release(t, &err)
	var had bool
	err = e.inTx(ctx, t, pauseLock, dialect.Durable, func(tx dialect.Tx) error {
		had, err = tx.Meta().ClearPause(ctx)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("tenant %s: resume: %w", tenantName, err)
	}
	if had {
		e.log.Info("tenant resumed", "tenant", tenantName)
	}
	return had, nil
}

// storedPause reads the pause stored in the tenant's mirror; nil when there is none.
func (e *Engine) storedPause(ctx context.Context, t *tenant) (*PauseStatus, error) {
	var (
		p  dialect.Pause
		ok bool
	)
	err := e.metaTx(ctx, t, func(ctx context.Context, tx dialect.Tx) error {
		var err error
		p, ok, err = tx.Meta().Pause(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenant %s: read its pause: %w", t.name, err)
	}
	if !ok {
		return nil, nil
	}
	return &PauseStatus{By: p.By, At: p.At, Reason: p.Reason}, nil
}

// refuseIfPaused fails with ErrPaused when the tenant's mirror holds a pause. It reads the pause on
// every writing call, so that a pause takes effect at once on every replica; the read is one small
// query beside a call that writes.
func (e *Engine) refuseIfPaused(ctx context.Context, t *tenant) error {
	p, err := e.storedPause(ctx, t)
	if err != nil {
		return err
	}
	if p != nil {
		return fmt.Errorf("tenant %s: %w", t.name, ErrPaused)
	}
	return nil
}

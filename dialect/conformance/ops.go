package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// testPauseAndFailures checks the operator's part of the metadata store: a pause that is stored,
// replaced, read back to the microsecond and cleared, and a failure log that keeps its newest entries
// (text that needs quoting and characters outside Latin-1 included) within its bound.
func testPauseAndFailures(t *testing.T, h *harness) {
	at := time.Date(2026, 5, 18, 10, 40, 43, 123456000, time.UTC)
	h.do(func(tx dialect.Tx) error {
		m := tx.Meta()
		if _, ok, err := m.Pause(h.ctx); ok || err != nil {
			return fmt.Errorf("Pause of a new mirror: ok %v, err %v", ok, err)
		}
		if cleared, err := m.ClearPause(h.ctx); cleared || err != nil {
			return fmt.Errorf("ClearPause of a mirror that is not paused: %v, %v", cleared, err)
		}
		if err := m.SetPause(h.ctx, dialect.Pause{By: "first", At: at.Add(-time.Hour), Reason: ""}); err != nil {
			return err
		}
		return m.SetPause(h.ctx, dialect.Pause{By: "ops@host", At: at, Reason: "it's 'maintenance' — Ω"})
	})
	h.do(func(tx dialect.Tx) error {
		p, ok, err := tx.Meta().Pause(h.ctx)
		if err != nil || !ok || p.By != "ops@host" || !p.At.Equal(at) || p.Reason != "it's 'maintenance' — Ω" {
			return fmt.Errorf("the stored pause: %+v (ok %v, err %v)", p, ok, err)
		}
		cleared, err := tx.Meta().ClearPause(h.ctx)
		if !cleared || err != nil {
			return fmt.Errorf("ClearPause: %v, %v", cleared, err)
		}
		if _, ok, err := tx.Meta().Pause(h.ctx); ok || err != nil {
			return fmt.Errorf("Pause after ClearPause: ok %v, err %v", ok, err)
		}
		return nil
	})

	if got, err := h.failures(10); err != nil || len(got) != 0 {
		t.Fatalf("the failures of a new mirror: %v, %v", got, err)
	}
	const keep = 10
	long := strings.Repeat("é", 1000)
	for i := range 25 {
		h.do(func(tx dialect.Tx) error {
			return tx.Meta().RecordFailure(h.ctx, dialect.Failure{
				ID: int64(1000 + i), At: at.Add(time.Duration(i) * time.Second), Operation: "RowData",
				Table: fmt.Sprintf("table'%d", i), Class: "value", Message: fmt.Sprintf("row %d: %s", i, long),
			}, keep)
		})
	}
	got, err := h.failures(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < keep || len(got) > keep+keep/10 {
		t.Fatalf("%d failures kept, want between %d and %d", len(got), keep, keep+keep/10)
	}
	newest := got[0]
	if newest.ID != 1024 || !newest.At.Equal(at.Add(24*time.Second)) || newest.Operation != "RowData" ||
		newest.Table != "table'24" || newest.Class != "value" || newest.Message != "row 24: "+long {
		t.Fatalf("the newest failure: %+v", newest)
	}
	for i, f := range got {
		if f.ID != int64(1024-i) {
			t.Fatalf("failure %d has id %d, want %d (newest first, none missing)", i, f.ID, 1024-i)
		}
	}
	if few, err := h.failures(3); err != nil || len(few) != 3 || few[2].ID != 1022 {
		t.Fatalf("the newest 3 failures: %v, %v", few, err)
	}
}

// failures reads the newest failures in a transaction of their own.
func (h *harness) failures(limit int) ([]dialect.Failure, error) {
	var out []dialect.Failure
	err := h.try(func(tx dialect.Tx) error {
		var err error
		out, err = tx.Meta().Failures(h.ctx, limit)
		return err
	})
	return out, err
}

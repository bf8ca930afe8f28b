package enginetest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
)

// testLooksCreateNothing: Status, Failures, Resync and Resume of a tenant that has no mirror yet (in
// the fan-in layout: whose shared schema, which exists, holds nothing of it) fail with ErrNoMirror naming the tenant,
// keep no mirror open, and leave nothing behind: the dialect, asked without creating, still finds no
// mirror (or, fan-in, no row of the tenant's). A writing call then creates the mirror as before.
func testLooksCreateNothing(t *testing.T, h *harness) {
	tenant := h.tenant + "x"
	route := h.tgt.Route(t, tenant)
	if h.fanIn() {
		// The schema the harness's tenant shares, which exists: the looks find its tables, with
		// nothing of this tenant in them.
		route = h.route
	}
	e, err := engine.New(engine.Options{Tenants: map[string]engine.Route{tenant: route}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	want := fmt.Sprintf("tenant %q has no mirror at ", tenant)
	for name, look := range map[string]func() error{
		"Status":   func() error { _, err := e.Status(h.ctx, tenant); return err },
		"Failures": func() error { _, err := e.Failures(h.ctx, tenant, 10); return err },
		"Resync":   func() error { _, err := e.Resync(h.ctx, tenant, ""); return err },
		"Resume":   func() error { _, err := e.Resume(h.ctx, tenant); return err },
	} {
		if err := look(); !errors.Is(err, engine.ErrNoMirror) || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("%s of a tenant without a mirror: %v, want ErrNoMirror saying %q…", name, err, want)
		}
		if n := e.OpenTenants(); n != 0 {
			t.Fatalf("%s of a tenant without a mirror keeps %d mirrors open", name, n)
		}
	}

	d, err := dialect.Lookup(h.tgt.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	dsn, schema := route.Resolve(tenant)
	st, err := d.Open(h.ctx, dsn, dialect.OpenOptions{Tenant: tenant, Schema: schema, TenantColumn: route.TenantColumnName(), NoCreate: true})
	switch {
	case route.Layout != engine.FanIn && !errors.Is(err, dialect.ErrMissing):
		if err == nil {
			st.Close()
		}
		t.Fatalf("after the looks, the dialect finds the mirror they should not have created (%v)", err)
	case route.Layout == engine.FanIn:
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		tx, err := st.Begin(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(h.ctx)
		tables, err := tx.Meta().Tables(h.ctx)
		_, paused, perr := tx.Meta().Pause(h.ctx)
		if len(tables) > 0 || paused || err != nil || perr != nil {
			t.Fatalf("after the looks, the shared tables hold the tenant's tables %v, pause %v (%v, %v)", tables, paused, err, perr)
		}
	}

	if _, err := e.Authenticate(h.ctx, contract.Call{Tenant: tenant}); err != nil {
		t.Fatalf("Authenticate, which creates the mirror: %v", err)
	}
	if _, err := e.Status(h.ctx, tenant); err != nil {
		t.Fatalf("status of the mirror Authenticate created: %v", err)
	}
}

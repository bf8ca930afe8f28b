package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/webhook/webhooktest"
	"github.com/mirrorsink/mirrorsink/protocol"
)

// TestHooksAndWebhooksConfig reads both forms of a hook, a route's own hooks and webhooks, and the
// secret from the environment; unknown keys in a hook are refused like everywhere else.
func TestHooksAndWebhooksConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MS_HOOK_SECRET", webhooktest.Secret)
	p := filepath.Join(dir, "c.yaml")
	body := `
default:
  dialect: sqlite
  dsn: ` + filepath.Join(dir, "{ctx}.db") + `
  hooks:
    after_wipe: ["SELECT 2"]
tenants:
  Cust1:
    dialect: sqlite
    dsn: ` + filepath.Join(dir, "c1_{ctx}.db") + `
    webhooks:
      - url: https://hooks.example.com/cust1
        secret: ${MS_HOOK_SECRET}
        events: [after_cycle]
hooks:
  before_table:
    - sql: CREATE INDEX IF NOT EXISTS x ON {table} (a)
      changed_only: true
  after_cycle:
    - REFRESH MATERIALIZED VIEW summary
    - sql: ["DELETE FROM derived", "INSERT INTO derived SELECT 1"]
      required: true
webhooks:
  - url: https://hooks.example.com/all
    secret: ${MS_HOOK_SECRET}
    timeout: 3s
    required: true
webhook_delivery:
  queue: 50
  attempts: 3
failure_log: 200
`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.engineOptions()
	h := opts.Hooks
	if len(h.BeforeTable) != 1 || !h.BeforeTable[0].ChangedOnly || h.BeforeTable[0].Required ||
		len(h.AfterCycle) != 2 || h.AfterCycle[0].Statements[0] != "REFRESH MATERIALIZED VIEW summary" ||
		len(h.AfterCycle[1].Statements) != 2 || !h.AfterCycle[1].Required || opts.FailureLog != 200 {
		t.Fatalf("hooks %+v, failure log %d", h, opts.FailureLog)
	}
	if d := opts.Default.Hooks.AfterWipe; len(d) != 1 || d[0].Statements[0] != "SELECT 2" {
		t.Fatalf("the default route's hooks: %+v", opts.Default.Hooks)
	}
	wh, any, err := cfg.webhooks()
	if err != nil || !any {
		t.Fatalf("webhooks: %v, %v", any, err)
	}
	if len(wh.Endpoints) != 1 || wh.Endpoints[0].Secret != webhooktest.Secret || wh.Endpoints[0].Timeout != 3*time.Second ||
		!wh.Endpoints[0].Required || len(wh.Tenants["Cust1"]) != 1 || wh.Tenants["Cust1"][0].Events[0] != engine.AfterCycle ||
		wh.Queue != 50 || wh.Attempts != 3 {
		t.Fatalf("webhook options: %+v", wh)
	}

	for bad, want := range map[string]string{
		"hooks:\n  after_wipe:\n    - sql: SELECT 1\n      requird: true\n": "requird",
		"hooks:\n  after_wipe:\n    - required: true\n":                     "without sql",
		"webhooks:\n  - url: https://x.example\n    secrt: y\n":             "secrt",
	} {
		if err := os.WriteFile(p, []byte("default:\n  dialect: sqlite\n  dsn: x.db\n"+bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadConfig(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", bad, err, want)
		}
	}
}

// TestAdminListenNeedsTokenOffLoopback: the status page is on loopback unless a token guards it.
func TestAdminListenNeedsTokenOffLoopback(t *testing.T) {
	cfg := defaultConfig()
	cfg.Application.ClientID = "app"
	cfg.Admin.Enabled = true
	cfg.applyDefaults()
	if cfg.Admin.Listen != "127.0.0.1:8081" || cfg.validate() != nil {
		t.Fatalf("admin enabled: listen %q, %v", cfg.Admin.Listen, cfg.validate())
	}
	cfg.Admin.Listen = "0.0.0.0:8081"
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "admin.token") {
		t.Fatalf("a public admin listener without a token: %v", err)
	}
	cfg.Admin.Token = "t0ken"
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
}

// TestPauseAndResumeCommands pause a tenant through its mirror, as an operator would on any
// machine with the configuration: status shows who, when and why, and resume lifts it.
func TestPauseAndResumeCommands(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfgPath, []byte("default:\n  dialect: sqlite\n  dsn: "+filepath.Join(dir, "{ctx}.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCmd(t, "pause", "--config", cfgPath, "--tenant", "Cust7", "--reason", "restoring a backup", "--by", "kim"); code != 0 || !strings.Contains(out, "Cust7 is paused (by kim)") {
		t.Fatalf("pause: exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut := runCmd(t, "status", "--config", cfgPath, "--tenant", "Cust7")
	if code != 0 || !strings.Contains(out, "PAUSED: by kim at ") || !strings.Contains(out, ": restoring a backup") {
		t.Fatalf("status of a paused tenant: exit %d, %q, %q", code, out, errOut)
	}
	if code, out, _ := runCmd(t, "resume", "--config", cfgPath, "--tenant", "Cust7"); code != 0 || !strings.Contains(out, "Cust7 is resumed") {
		t.Fatalf("resume: exit %d, %q", code, out)
	}
	if code, out, _ := runCmd(t, "resume", "--config", cfgPath, "--tenant", "Cust7"); code != 0 || !strings.Contains(out, "was not paused") {
		t.Fatalf("resume again: exit %d, %q", code, out)
	}
	if _, out, _ := runCmd(t, "status", "--config", cfgPath, "--tenant", "Cust7"); strings.Contains(out, "PAUSED") {
		t.Fatalf("status after resume: %q", out)
	}
	if code, _, errOut := runCmd(t, "pause", "--config", cfgPath); code != 2 || !strings.Contains(errOut, "Usage: mirrorsink pause") {
		t.Fatalf("pause without a tenant: exit %d, %q", code, errOut)
	}
}

// TestStatusShowsFailures: the status command answers "what went wrong": the newest failures.
func TestStatusShowsFailures(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfgPath, []byte("default:\n  dialect: sqlite\n  dsn: "+filepath.Join(dir, "{ctx}.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eng, err := openEngine(cfgPath, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	call := contract.Call{Tenant: "Cust8"}
	if _, err := eng.TableSchema(ctx, call, []contract.TableSchema{{Name: "t", Columns: []contract.Column{{Name: "id", Type: "int"}}}}); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"gone1", "gone2", "gone3"} {
		if err := eng.Wipe(ctx, call, table); err == nil {
			t.Fatal("Wipe of an unknown table succeeded")
		}
	}
	eng.Close()
	code, out, errOut := runCmd(t, "status", "--config", cfgPath, "--tenant", "Cust8", "--failures", "2")
	if code != 0 || !strings.Contains(out, "last 2 failures, newest first:") || !strings.Contains(out, "Wipe       gone3") ||
		!strings.Contains(out, "gone2") || strings.Contains(out, "gone1") || !strings.Contains(out, "TableSchema must come first") {
		t.Fatalf("status: exit %d:\n%s\n%s", code, out, errOut)
	}
}

// TestAdminEndpoints: the admin listener serves the status page, /metrics, /healthz and a detailed
// /readyz; with a token the main listener serves the page too, to those who present it (as a bearer
// token or as the password a browser sends), and its /readyz does not say why a route fails.
func TestAdminEndpoints(t *testing.T) {
	recv := webhooktest.New(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeRoots(t, recv, caFile)
	ts := newTestService(t, func(c *Config) {
		c.Admin.Listen = "127.0.0.1:0"
		c.Admin.Token = "s3cret-token"
		c.Tenants = map[string]RouteConfig{"Broken": {Dialect: "sqlite", DSN: "/dev/null/no/{ctx}.db"}}
		c.Webhooks = []WebhookConfig{{URL: recv.URL, Secret: webhooktest.Secret}}
		c.WebhookDelivery.CAFile = caFile
	})
	admin := ts.serveWithAdmin()
	main := strings.TrimSuffix(ts.url, "/")

	// A cycle's first calls, so that the default route has a tenant, and a webhook is sent.
	client := &protocol.Client{URL: ts.url}
	if r, err := client.Authenticate(context.Background(), ts.token(), protocol.AuthenticateRequest{}); err != nil || !r.IsSuccessful {
		t.Fatalf("Authenticate: %+v, %v", r, err)
	}
	schema := func(table contract.TableSchema) {
		t.Helper()
		if r, err := client.TableSchema(context.Background(), ts.token(), protocol.TableSchemaRequest{Tables: []contract.TableSchema{table}}); err != nil || !r.IsSuccessful {
			t.Fatalf("TableSchema: %+v, %v", r, err)
		}
		if a := recv.Next(t); a.Body.Event != "before_table" || a.Body.Table != "t" || a.Body.Tenant != "Cust1" {
			t.Fatalf("the webhook of TableSchema: %s", a.Raw)
		}
	}
	table := contract.TableSchema{Name: "t", Columns: []contract.Column{{Name: "id", Type: "int"}, {Name: "note", Type: "nvarchar(10)", IsNullable: true}}}
	schema(table)
	// A partner's index on a column that the next schema change drops: the tenant's page lists it.
	runInMirror(t, strings.ReplaceAll(ts.svc.cfg.Default.DSN, "{ctx}", "Cust1"), "Cust1", "CREATE INDEX partner_note ON t (note)")
	table.Columns = table.Columns[:1]
	schema(table)
	// The receiver has answered; the dispatcher counts the delivery once it has read the answer.
	for deadline := time.Now().Add(10 * time.Second); ts.svc.webhooks.Pending() > 0; {
		if time.Now().After(deadline) {
			t.Fatal("the webhook delivery is still pending after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	get := func(url string, auth func(*http.Request)) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth != nil {
			auth(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-token") }
	basic := func(r *http.Request) { r.SetBasicAuth("anyone", "s3cret-token") }
	wrong := func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-tokem") }

	for _, c := range []struct {
		url    string
		auth   func(*http.Request)
		status int
		want   []string
	}{
		{admin + "/status", bearer, 200, []string{"<title>All tenants", `href="/status/tenant/Cust1"`, "Broken", "unavailable", `href="/metrics"`}},
		{admin + "/status", nil, 401, nil},
		{admin + "/status/tenant/Cust1", basic, 200, []string{"<td data-label=\"Table\">t</td>", "−1 (repopulating)", "partner_note"}},
		{admin + "/status/tenant/No_Such", bearer, 404, nil},
		{admin + "/status/tenant/bad;name", bearer, 404, nil},
		{main + "/status", bearer, 200, []string{"Cust1"}},
		{main + "/status", wrong, 401, nil},
		{main + "/status", nil, 401, nil},
		{admin + "/metrics", nil, 200, []string{`mirrorsink_hook_failures_total{event="before_table",kind="webhook"} 0`, "mirrorsink_webhook_deliveries_total 2"}},
		{admin + "/healthz", nil, 200, []string{"ok"}},
		{admin + "/readyz", nil, 200, []string{"ready\n", "unchecked tenant Broken (sqlite): no mirror of this route is open", "ok default (sqlite) via Cust1"}},
		{main + "/readyz", nil, 200, []string{"unchecked tenant Broken (sqlite)\n", "ok default (sqlite) via Cust1"}},
	} {
		status, body, hdr := get(c.url, c.auth)
		if status != c.status {
			t.Errorf("GET %s: %d, want %d: %s", c.url, status, c.status, body)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: the answer lacks %q:\n%s", c.url, w, body)
			}
		}
		if status == 401 && !strings.Contains(hdr.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("GET %s: 401 without a Basic challenge, so a browser would not ask", c.url)
		}
		if strings.HasSuffix(c.url, "/status") && status == 200 && !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: no content security policy", c.url)
		}
	}
}

// TestReadyzFailsWhenNoDatabaseAnswers: a replica whose every route's database fails is not ready,
// and only the admin listener says why; the answer is cached, so that probes do not each reach the
// databases.
func TestReadyzFailsWhenNoDatabaseAnswers(t *testing.T) {
	ts := newTestService(t, func(c *Config) {
		c.Default = nil
		c.Tenants = map[string]RouteConfig{"Cust1": {Dialect: "sqlite", DSN: "/dev/null/no/{ctx}.db"}}
		c.Readiness.Cache = time.Hour
		c.Admin.Listen = "127.0.0.1:0"
	})
	admin := ts.serveWithAdmin()
	client := &protocol.Client{URL: ts.url}
	if r, err := client.Authenticate(context.Background(), ts.token(), protocol.AuthenticateRequest{}); err != nil || r.IsSuccessful {
		t.Fatalf("Authenticate of a tenant whose mirror cannot be opened: %+v, %v", r, err)
	}
	for _, c := range []struct{ url, want, not string }{
		{ts.url + "readyz", "failing tenant Cust1 (sqlite) via Cust1\n", "cannot be opened"},
		{admin + "/readyz", "failing tenant Cust1 (sqlite) via Cust1: its mirror could not be opened at ", ""},
		{ts.url + "readyz", "failing tenant Cust1", "cannot be opened"}, // the same round, cached
	} {
		resp, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready") || !strings.Contains(body, c.want) ||
			(c.not != "" && strings.Contains(body, c.not)) {
			t.Fatalf("GET %s with every database down: %d\n%s", c.url, resp.StatusCode, body)
		}
	}
}

// TestSystemdUnit checks deploy/mirrorsink.service with systemd-analyze verify, where systemd is
// installed.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed here; deploy/mirrorsink.service is not verified")
	}
	unit, err := filepath.Abs("../../deploy/mirrorsink.service")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	// verify wants the unit's ExecStart binary to exist: build it, and point a copy of the unit at it.
	dir := t.TempDir()
	bin := filepath.Join(dir, "mirrorsink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	const installed = "ExecStart=/usr/local/bin/mirrorsink "
	if !strings.Contains(string(raw), installed) {
		t.Fatalf("the unit does not start %s", installed)
	}
	copied := filepath.Join(dir, "mirrorsink.service")
	if err := os.WriteFile(copied, []byte(strings.Replace(string(raw), installed, "ExecStart="+bin+" ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copied).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// serveWithAdmin serves the service and its admin listener until the test ends, and returns the admin
// listener's base URL.
func (ts *testService) serveWithAdmin() string {
	ts.t.Helper()
	if err := ts.svc.listenAdmin(); err != nil {
		ts.t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ts.t.Cleanup(stop)
	go ts.svc.serve(ctx, ts.ln)
	return "http://" + ts.svc.adminLn.Addr().String()
}

// runInMirror runs one statement in a tenant's SQLite mirror, as a partner would.
func runInMirror(t *testing.T, dsn, tenant, stmt string) {
	t.Helper()
	ctx := context.Background()
	d, err := dialect.Lookup("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	store, err := d.Open(ctx, dsn, dialect.OpenOptions{Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tx, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.RunStatement(ctx, stmt); err != nil {
		tx.Rollback(ctx)
		t.Fatal(err)
	}
	if err := tx.Commit(ctx, dialect.Durable); err != nil {
		t.Fatal(err)
	}
}

func writeRoots(t *testing.T, recv *webhooktest.Receiver, path string) {
	t.Helper()
	if err := os.WriteFile(path, recv.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

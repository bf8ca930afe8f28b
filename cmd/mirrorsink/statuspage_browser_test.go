package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mirrorsink/mirrorsink/protocol"
	"github.com/mirrorsink/mirrorsink/simulator"
)

// screenshotPath is where TestStatusPageInChromium copies its wide screenshot, so that it can be
// attached to a report; the phone and tenant pages go beside it.
const screenshotPath = "/tmp/mirrorsink-status.png"

// findChromium returns the browser to drive: $MIRRORSINK_CHROMIUM, else the first of Debian's and
// Google's names on PATH.
func findChromium() string {
	if p := os.Getenv("MIRRORSINK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestStatusPageInChromium loads the status page in a real browser while replication cycles run
// against the service (the simulator, over HTTP): one tenant healthy after two cycles, one paused
// with a reason, one with a failed call, and one whose first cycle is under way. It checks what the
// page says on a wide screen and that a phone-sized one needs no sideways scrolling, follows the
// link to a tenant's page, and saves screenshots.
func TestStatusPageInChromium(t *testing.T) {
	chrome := findChromium()
	if chrome == "" {
		t.Skip("chromium cannot be found (install Debian's chromium, as .ci/run does, or set MIRRORSINK_CHROMIUM): the status page is not checked in a browser")
	}
	ts := newTestService(t, func(c *Config) { c.Admin.Listen = "127.0.0.1:0" })
	svc := ts.svc
	admin := ts.serveWithAdmin()
	ctx := context.Background()

	cycle := func(tenant string, rows int64, churn bool, src *simulator.Source) *simulator.Source {
		t.Helper()
		if src == nil {
			var err error
			if src, err = simulator.Open(ctx, ""); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { src.Close() })
			if err := simulator.Generate(ctx, src, simulator.GenerateOptions{Dataset: "crm", Rows: rows, Seed: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if churn {
			if _, err := simulator.Churn(ctx, src, simulator.ChurnOptions{Dataset: "crm", Inserts: 20, Updates: 30, Deletes: 5, Seed: 2}); err != nil {
				t.Fatal(err)
			}
		}
		d, err := simulator.NewDriver(simulator.DriverConfig{URL: ts.url, Tenant: tenant, ClientID: "app", SigningKey: ts.soKey, KeyID: ts.kid, Parallel: 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Cycle(ctx, src); err != nil {
			t.Fatalf("tenant %s: %v", tenant, err)
		}
		return src
	}
	src := cycle("CustHealthy", 200, false, nil)
	cycle("CustHealthy", 0, true, src)
	cycle("CustPaused", 100, false, nil)
	if err := svc.engine.Pause(ctx, "CustPaused", "kim@ops", "moving to a new database server"); err != nil {
		t.Fatal(err)
	}
	cycle("CustFailing", 100, false, nil)
	tok, err := protocol.SignTestToken(ts.soKey, ts.kid, protocol.TestTokenClaims{Tenant: "CustFailing", Nonce: "N", ClientID: "app",
		NotBefore: time.Now().Add(-time.Minute), Expires: time.Now().Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	client := &protocol.Client{URL: ts.url}
	if r, err := client.Wipe(ctx, tok, protocol.WipeRequest{TableName: "no_such_table"}); err != nil || r.IsSuccessful {
		t.Fatalf("a Wipe of an unknown table: %+v, %v", r, err)
	}
	// A first cycle under way while the page is loaded.
	var loadingDone atomic.Bool
	loading := make(chan error, 1)
	go func() {
		defer loadingDone.Store(true)
		s, err := simulator.Open(ctx, "")
		if err == nil {
			defer s.Close()
			err = simulator.Generate(ctx, s, simulator.GenerateOptions{Dataset: "crm", Rows: 15000, Seed: 3})
		}
		if err == nil {
			var d *simulator.Driver
			if d, err = simulator.NewDriver(simulator.DriverConfig{URL: ts.url, Tenant: "CustLoading", ClientID: "app", SigningKey: ts.soKey, KeyID: ts.kid, Parallel: 1}); err == nil {
				_, err = d.Cycle(ctx, s)
			}
		}
		loading <- err
	}()
	for !known(svc, "CustLoading") {
		if loadingDone.Load() {
			t.Fatalf("the loading tenant's cycle ended without calling: %v", <-loading)
		}
		time.Sleep(20 * time.Millisecond)
	}

	bctx, cancel := browser(t, chrome)
	defer cancel()
	dir := t.TempDir()

	// A wide screen, during CustLoading's cycle.
	body := load(t, bctx, 1400, 900, admin+"/status")
	t.Logf("the overview was loaded while CustLoading's first cycle was %s", map[bool]string{true: "already over", false: "under way"}[loadingDone.Load()])
	for _, want := range []string{
		"CustHealthy", "CustPaused", "paused by kim@ops", "moving to a new database server",
		"CustFailing", "Wipe no_such_table", "TableSchema must come first", "CustLoading", "/metrics",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the overview lacks %q:\n%s", want, body)
		}
	}
	if href, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(`header nav a[href="/metrics"]`), "href")); err != nil || !href.Exists {
		t.Errorf("no link to /metrics: %+v, %v", href, err)
	}
	// The style sheet applied (the page's content security policy lets it through).
	if bg, err := chromedp.Run(bctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header")).backgroundColor`)); err != nil || bg != "rgb(243, 245, 247)" {
		t.Errorf("the header's background is %q (%v): the style sheet did not apply", bg, err)
	}
	if err := <-loading; err != nil {
		t.Fatalf("CustLoading's cycle: %v", err)
	}
	// Once it is over, the screenshots: wide, then as a phone shows it.
	load(t, bctx, 1400, 900, admin+"/status")
	wide := screenshot(t, bctx, filepath.Join(dir, "status-wide.png"), screenshotPath)
	phoneBody := load(t, bctx, 390, 844, admin+"/status")
	if !strings.Contains(phoneBody, "CustHealthy") {
		t.Errorf("the phone-sized overview lacks the tenants:\n%s", phoneBody)
	}
	fits, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	if err != nil || !fits {
		w, _ := chromedp.Run(bctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		t.Errorf("on a 390 px wide screen the page is %d px wide (%v): it must not scroll sideways", w, err)
	}
	screenshot(t, bctx, filepath.Join(dir, "status-phone.png"), strings.Replace(screenshotPath, ".png", "-phone.png", 1))

	// The link to a tenant's page, on a wide screen.
	load(t, bctx, 1400, 900, admin+"/status")
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`a[href="/status/tenant/CustHealthy"]`)), chromedp.WaitVisible(chromedp.CSS("h2"))); err != nil {
		t.Fatal(err)
	}
	tenantBody, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CustHealthy", "Tables", "contact", "Recent failures", "None recorded", "Partner objects not kept"} {
		if !strings.Contains(tenantBody, want) {
			t.Errorf("the tenant page lacks %q:\n%s", want, tenantBody)
		}
	}
	screenshot(t, bctx, filepath.Join(dir, "status-tenant.png"), strings.Replace(screenshotPath, ".png", "-tenant.png", 1))
	t.Logf("screenshots: %s (and -phone, -tenant beside it); copied to %s", wide, screenshotPath)
}

func known(svc *service, tenant string) bool {
	for _, n := range svc.engine.KnownTenants() {
		if n == tenant {
			return true
		}
	}
	return false
}

// browser starts headless Chromium as this machine allows it (no sandbox, no GPU, no network of its
// own beyond the page's), with a profile of its own.
func browser(t *testing.T, chrome string) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	tctx, cancelTimeout := context.WithTimeout(bctx, 2*time.Minute)
	if err := chromedp.Do(tctx); err != nil { // starts the browser
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("starting %s: %v", chrome, err)
	}
	return tctx, func() { cancelTimeout(); cancelBrowser(); cancelAlloc() }
}

// load opens url in a viewport of width × height and returns the text of its body.
func load(t *testing.T, ctx context.Context, width, height int64, url string) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height), chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// screenshot saves the whole page as a PNG at path, and a copy at stable; it returns path.
func screenshot(t *testing.T, ctx context.Context, path, stable string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stable, png, 0o644); err != nil && !errors.Is(err, os.ErrPermission) {
		t.Logf("copying the screenshot to %s: %v", stable, err)
	}
	return path
}

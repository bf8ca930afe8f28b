package main

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/protocol"
)

// testService is a service configured like serve's default (SQLite mirrors) with a generated
// application key and a test "SuperOffice" signing key that it trusts; it is not serving yet.
type testService struct {
	t     *testing.T
	svc   *service
	ln    net.Listener
	url   string
	soKey *rsa.PrivateKey
	kid   string
}

func newTestService(t *testing.T, tune func(*Config)) *testService {
	t.Helper()
	dir := t.TempDir()
	soKey, err := protocol.GenerateKeyPair(2048)
	if err != nil {
		t.Fatal(err)
	}
	cert, certPEM, err := protocol.SelfSignedCertificate(soKey, "test SuperOffice", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certPath := filepath.Join(dir, "so.crt")
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	appKey, err := protocol.GenerateKeyPair(2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.WriteKeyPair(dir, "app", appKey); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{}
	cfg.Application.ClientID = "app"
	cfg.Application.PrivateKey = filepath.Join(dir, "app.private.pem")
	cfg.SuperOffice.Certificates = certPath
	cfg.Default = &RouteConfig{Dialect: "sqlite", DSN: filepath.Join(dir, "{ctx}.db")}
	if tune != nil {
		tune(cfg)
	}
	cfg.applyDefaults()
	svc, err := newService(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &testService{t: t, svc: svc, ln: ln, url: "http://" + ln.Addr().String() + "/", soKey: soKey, kid: protocol.CertificateThumbprint(cert)}
}

// token signs a token for tenant Cust1, addressed to the service's client id.
func (ts *testService) token() string {
	ts.t.Helper()
	tok, err := protocol.SignTestToken(ts.soKey, ts.kid, protocol.TestTokenClaims{
		Tenant: "Cust1", Nonce: "N", ClientID: "app", NotBefore: time.Now().Add(-time.Minute), Expires: time.Now().Add(5 * time.Minute),
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	return tok
}

// TestGracefulShutdown starts the service, begins a RowData call whose body is still arriving, stops
// the service (as SIGTERM does), and checks that the call is finished and answered before serve
// returns, and that its rows are in the mirror.
func TestGracefulShutdown(t *testing.T) {
	ts := newTestService(t, nil)
	svc, ln := ts.svc, ts.ln
	// The body arriving is not enough: until net/http has read the request's headers off a kept-alive
	// connection, Shutdown may close it as idle. The test stops the service once the call is in the
	// handler.
	started := make(chan struct{}, 1)
	soap := svc.http.Handler
	svc.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("SOAPAction"), "RowData") {
			started <- struct{}{}
		}
		soap.ServeHTTP(w, r)
	})
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- svc.serve(ctx, ln) }()

	client := &protocol.Client{URL: ts.url}
	token := ts.token
	bg := context.Background()
	table := contract.TableSchema{Name: "t", Columns: []contract.Column{{Name: "id", Type: "int"}}}
	if r, err := client.TableSchema(bg, token(), protocol.TableSchemaRequest{Tables: []contract.TableSchema{table}}); err != nil || !r.IsSuccessful {
		t.Fatalf("TableSchema: %+v, %v", r, err)
	}

	const rowCount = 20000
	midway := make(chan struct{})
	answered := make(chan protocol.RowDataResponse, 1)
	go func() {
		r, err := client.RowData(bg, token(), "", func(enc *protocol.RowDataEncoder) error {
			if err := enc.BeginBatch(); err != nil {
				return err
			}
			for i := range rowCount {
				if i == rowCount/2 {
					// Half the body (well past the client's write buffer) is on its way. The service
					// is told to stop meanwhile.
					close(midway)
					time.Sleep(300 * time.Millisecond)
				}
				if err := enc.Row(contract.Insert, []contract.Value{{Text: fmt.Appendf(nil, "[I:%d]", i)}}); err != nil {
					return err
				}
			}
			return enc.EndBatch(7, table)
		})
		if err != nil {
			t.Errorf("RowData during shutdown: %v", err)
		}
		answered <- r
	}()
	<-midway
	<-started
	stop()
	select {
	case err := <-served:
		t.Fatalf("serve returned (%v) while a call was still running", err)
	case <-time.After(100 * time.Millisecond):
	}
	if r := <-answered; !r.IsSuccessful {
		t.Fatalf("the running call failed during shutdown: %s", r.ErrorMessage)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	st, err := svc.engine.Status(bg, "Cust1")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tables) != 1 || st.Tables[0].Rows != rowCount || st.Tables[0].LSN != 7 {
		t.Fatalf("after shutdown the mirror holds %+v, want %d rows at LSN 7", st.Tables, rowCount)
	}
}

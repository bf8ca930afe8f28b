package protocol

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
)

// recRow is a copied row: NULL values are recorded as nullMark.
type recRow struct {
	Op     contract.Operation
	Values []string
}

const nullMark = "\x00NULL"

type recBatch struct {
	Table contract.TableSchema
	LSN   int64
	Rows  []recRow
}

// recCall is one call as the handler saw it.
type recCall struct {
	Op      string
	Call    contract.Call
	Tables  []contract.TableSchema
	Table   string
	Batches []recBatch
	Changed []contract.Summary
}

// recorder is a contract.Handler that records what it is given.
type recorder struct {
	mu    sync.Mutex
	calls []recCall

	err       error // returned by every operation
	panicWith any   // panics with this when set
	auth      contract.AuthResult
	lsns      []contract.TableLSN
	drain     bool                         // RowData reads every batch (default in newRecorder)
	block     chan struct{}                // when set, operations wait for ctx.Done and report it here
	ctxErr    chan error                   // receives ctx.Err() of a blocked call
	onRowData func(contract.Batches) error // replaces the default RowData behaviour
}

func newRecorder() *recorder { return &recorder{drain: true} }

func (h *recorder) record(c recCall) {
	h.mu.Lock()
	h.calls = append(h.calls, c)
	h.mu.Unlock()
}

func (h *recorder) Calls() []recCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]recCall(nil), h.calls...)
}

func (h *recorder) common(ctx context.Context) error {
	if h.panicWith != nil {
		panic(h.panicWith)
	}
	if h.block != nil {
		close(h.block)
		<-ctx.Done()
		h.ctxErr <- ctx.Err()
		return ctx.Err()
	}
	return h.err
}

func (h *recorder) Authenticate(ctx context.Context, call contract.Call) (contract.AuthResult, error) {
	h.record(recCall{Op: "Authenticate", Call: call})
	return h.auth, h.common(ctx)
}

func (h *recorder) TableSchema(ctx context.Context, call contract.Call, tables []contract.TableSchema) ([]contract.TableLSN, error) {
	h.record(recCall{Op: "TableSchema", Call: call, Tables: tables})
	return h.lsns, h.common(ctx)
}

func (h *recorder) Wipe(ctx context.Context, call contract.Call, table string) error {
	h.record(recCall{Op: "Wipe", Call: call, Table: table})
	return h.common(ctx)
}

func (h *recorder) RowData(ctx context.Context, call contract.Call, batches contract.Batches) error {
	if h.onRowData != nil {
		h.record(recCall{Op: "RowData", Call: call})
		return h.onRowData(batches)
	}
	rc := recCall{Op: "RowData", Call: call}
	var err error
	for h.drain {
		var b *contract.Batch
		b, err = batches.Next(ctx)
		if errors.Is(err, io.EOF) {
			err = nil
			break
		}
		if err != nil {
			break
		}
		rb := recBatch{Table: b.Table, LSN: b.LSN}
		for b.Rows.Next() {
			r := b.Rows.Row()
			row := recRow{Op: r.Op}
			for _, v := range r.Values {
				if v.Null {
					row.Values = append(row.Values, nullMark)
				} else {
					row.Values = append(row.Values, string(v.Text))
				}
			}
			rb.Rows = append(rb.Rows, row)
		}
		if err = b.Rows.Err(); err != nil {
			break
		}
		rc.Batches = append(rc.Batches, rb)
	}
	h.record(rc)
	if err != nil {
		return err
	}
	return h.common(ctx)
}

func (h *recorder) ReplicationCompleted(ctx context.Context, call contract.Call, changed []contract.Summary) error {
	h.record(recCall{Op: "ReplicationCompleted", Call: call, Changed: changed})
	return h.common(ctx)
}

// syncBuffer collects log output from concurrent requests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is a server over loopback with a test "SuperOffice" key that signs its tokens.
type fixture struct {
	t      *testing.T
	h      *recorder
	srv    *httptest.Server
	client *Client
	kid    string
	logs   *syncBuffer
	cfg    ServerConfig
}

const testBuild = "mirrorsink test"

func newFixture(t *testing.T, h *recorder, tune func(*ServerConfig)) *fixture {
	t.Helper()
	return newFixtureHTTP(t, h, tune, nil)
}

// newFixtureHTTP is newFixture with the http.Server's settings tuned too (e.g. its ReadTimeout).
func newFixtureHTTP(t *testing.T, h *recorder, tune func(*ServerConfig), tuneHTTP func(*http.Server)) *fixture {
	t.Helper()
	soKey, appKey := testKeys(t)
	cert, _, err := SelfSignedCertificate(soKey, "Test SuperOffice", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewTokenVerifier(VerifierConfig{Certificates: []*x509.Certificate{cert}, ClientID: "app"})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := ServerConfig{
		Handler:        h,
		Verifier:       v,
		ApplicationKey: appKey,
		Build:          testBuild,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tune != nil {
		tune(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s)
	if tuneHTTP != nil {
		tuneHTTP(srv.Config)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	f := &fixture{t: t, h: h, srv: srv, client: &Client{URL: srv.URL + "/mirror", HTTP: srv.Client()},
		kid: CertificateThumbprint(cert), logs: logs, cfg: cfg}
	t.Cleanup(func() {
		if os.Getenv("SHOWLOG") != "" {
			t.Log(logs.String())
		}
		if l := logs.String(); strings.Contains(l, "eyJ") {
			t.Errorf("a token reached the log:\n%s", l)
		}
	})
	return f
}

func (f *fixture) token(tenant, nonce string) string {
	f.t.Helper()
	soKey, _ := testKeys(f.t)
	now := time.Now()
	tok, err := SignTestToken(soKey, f.kid, TestTokenClaims{Tenant: tenant, Nonce: nonce, ClientID: "app",
		NotBefore: now.Add(-time.Minute), Expires: now.Add(5 * time.Minute)})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// post sends a raw body and returns the status, the headers and the (decompressed) body.
func (f *fixture) post(body []byte, headers map[string]string) (int, http.Header, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/mirror", bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, rb
}

func wantFault(t *testing.T, status int, body []byte, code, msg string) {
	t.Helper()
	if status != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500; body %s", status, body)
	}
	_, err := DecodeResponse(bytes.NewReader(body), OpWipe)
	var fe *FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("not a fault: %v; body %s", err, body)
	}
	if !strings.HasSuffix(fe.Code, code) || !strings.Contains(fe.Message, msg) {
		t.Fatalf("fault %q %q, want %q containing %q", fe.Code, fe.Message, code, msg)
	}
}

var testTables = []contract.TableSchema{
	{Name: "contact", Columns: []contract.Column{
		{Name: "contact_id", Type: "int", DefaultValue: "default ((0))"},
		{Name: "name", Type: "nvarchar(255)", DefaultValue: "default (N'')", IsNullable: true},
		{Name: "registered", Type: "datetime"},
	}},
	{Name: "person", Columns: []contract.Column{{Name: "person_id", Type: "int"}}},
}

// testBatches are written by writeBatches and what the handler must see.
var testBatches = []recBatch{
	{Table: testTables[0], LSN: 0, Rows: []recRow{
		{contract.Insert, []string{"[I:1]", "Müller & <Söhne> \"AS\"", "[DT:05/18/2020 10:40:43.0000000]"}},
		{contract.Update, []string{"[I:2]", "", nullMark}},
		{contract.Delete, []string{"[I:3]", nullMark, nullMark}},
	}},
	{Table: testTables[1], LSN: 1506269, Rows: []recRow{
		{contract.Insert, []string{"[I:7]"}},
	}},
}

func writeBatches(batches []recBatch) func(*RowDataEncoder) error {
	return func(enc *RowDataEncoder) error {
		for _, b := range batches {
			if err := enc.BeginBatch(); err != nil {
				return err
			}
			for _, r := range b.Rows {
				vals := make([]contract.Value, len(r.Values))
				for i, v := range r.Values {
					if v == nullMark {
						vals[i] = contract.Value{Null: true}
					} else {
						vals[i] = contract.Value{Text: []byte(v)}
					}
				}
				if err := enc.Row(r.Op, vals); err != nil {
					return err
				}
			}
			if err := enc.EndBatch(b.LSN, b.Table); err != nil {
				return err
			}
		}
		return nil
	}
}

func eq(a, b any) bool { return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b) }

func TestServerOperations(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			h := newRecorder()
			h.lsns = []contract.TableLSN{{Table: "contact", LSN: 42}, {Table: "person", LSN: -1}}
			f := newFixture(t, h, nil)
			f.client.Gzip = gz
			ctx := context.Background()
			call := contract.Call{Tenant: "Cust10003", ClientState: "state-1"}

			_, appKey := testKeys(t)
			ar, err := f.client.Authenticate(ctx, f.token("Cust10003", "NONCE1"), AuthenticateRequest{ClientState: "state-1"})
			if err != nil {
				t.Fatal(err)
			}
			if !ar.IsSuccessful || ar.ErrorMessage != "" || ar.SupportedInterfaces != "1" || ar.SuperOfficeMirroringBuild != testBuild ||
				ar.ClientState != "state-1" || ar.AdditionalInformationJson != "" {
				t.Errorf("authenticate: %+v", ar)
			}
			if err := VerifyApplicationToken(&appKey.PublicKey, ar.SignedApplicationToken, "NONCE1", time.Now(), 15*time.Minute); err != nil {
				t.Errorf("application token: %v", err)
			}

			tr, err := f.client.TableSchema(ctx, f.token("Cust10003", "N2"), TableSchemaRequest{ClientState: "state-1", Tables: testTables})
			if err != nil {
				t.Fatal(err)
			}
			if !tr.IsSuccessful || !eq(tr.MirrorLSN, h.lsns) {
				t.Errorf("table schema: %+v", tr)
			}

			wr, err := f.client.Wipe(ctx, f.token("Cust10003", "N3"), WipeRequest{ClientState: "state-1", TableName: "contact"})
			if err != nil || !wr.IsSuccessful {
				t.Fatalf("wipe: %+v %v", wr, err)
			}

			rr, err := f.client.RowData(ctx, f.token("Cust10003", "N4"), "state-1", writeBatches(testBatches))
			if err != nil || !rr.IsSuccessful {
				t.Fatalf("row data: %+v %v", rr, err)
			}

			changed := []contract.Summary{{Table: "contact", Inserts: 1, Updates: 2, Deletes: 3}}
			cr, err := f.client.ReplicationCompleted(ctx, f.token("Cust10003", "N5"), ReplicationCompletedRequest{ClientState: "state-1", ChangedTables: changed})
			if err != nil || !cr.IsSuccessful {
				t.Fatalf("replication completed: %+v %v", cr, err)
			}

			want := []recCall{
				{Op: "Authenticate", Call: call},
				{Op: "TableSchema", Call: call, Tables: testTables},
				{Op: "Wipe", Call: call, Table: "contact"},
				{Op: "RowData", Call: call, Batches: testBatches},
				{Op: "ReplicationCompleted", Call: call, Changed: changed},
			}
			got := h.Calls()
			if len(got) != len(want) {
				t.Fatalf("%d calls, want %d: %+v", len(got), len(want), got)
			}
			for i := range want {
				if !eq(got[i], want[i]) {
					t.Errorf("call %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}
			if l := f.logs.String(); strings.Count(l, "mirroring call") != 5 || !strings.Contains(l, "tenant=Cust10003") {
				t.Errorf("log:\n%s", l)
			}
		})
	}
}

func TestServerDoNotReplicate(t *testing.T) {
	h := newRecorder()
	h.auth.DoNotReplicate = true
	f := newFixture(t, h, nil)
	ar, err := f.client.Authenticate(context.Background(), f.token("Cust1", "N"), AuthenticateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !ar.IsSuccessful || ar.AdditionalInformationJson != `{"doNotReplicate":"true"}` || ar.SignedApplicationToken == "" {
		t.Errorf("%+v", ar)
	}
}

func TestServerHandlerErrors(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"short", fmt.Errorf("engine: %w", contract.ErrUnknownTenant), "engine: tenant is not accepted by this mirror"},
		{"long", errors.New(long), strings.Repeat("é", 250)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newRecorder()
			h.err = c.err
			h.lsns = []contract.TableLSN{{Table: "x", LSN: 1}}
			f := newFixture(t, h, nil)
			ctx := context.Background()
			tok := f.token("Cust1", "N")
			ar, err1 := f.client.Authenticate(ctx, tok, AuthenticateRequest{ClientState: "cs"})
			tr, err2 := f.client.TableSchema(ctx, tok, TableSchemaRequest{Tables: testTables})
			wr, err3 := f.client.Wipe(ctx, tok, WipeRequest{TableName: "t"})
			rr, err4 := f.client.RowData(ctx, tok, "", writeBatches(testBatches))
			cr, err5 := f.client.ReplicationCompleted(ctx, tok, ReplicationCompletedRequest{})
			if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
				t.Fatal(err)
			}
			if ar.IsSuccessful || ar.SignedApplicationToken != "" || ar.ClientState != "cs" {
				t.Errorf("authenticate %+v", ar)
			}
			if len(tr.MirrorLSN) != 0 {
				t.Errorf("a failed TableSchema reported LSNs: %+v", tr.MirrorLSN)
			}
			results := []struct {
				ok  bool
				msg string
			}{{ar.IsSuccessful, ar.ErrorMessage}, {tr.IsSuccessful, tr.ErrorMessage}, {wr.IsSuccessful, wr.ErrorMessage},
				{rr.IsSuccessful, rr.ErrorMessage}, {cr.IsSuccessful, cr.ErrorMessage}}
			for i, r := range results {
				if r.ok || r.msg != c.want {
					t.Errorf("op %d: ok=%v message %q (%d bytes), want %q", i, r.ok, r.msg, len(r.msg), c.want)
				}
			}
			if !strings.Contains(f.logs.String(), "level=WARN") {
				t.Error("failures not logged at Warn")
			}
		})
	}
}

func TestServerTokenFailures(t *testing.T) {
	h := newRecorder()
	f := newFixture(t, h, nil)
	soKey, otherKey := testKeys(t)
	now := time.Now()
	mk := func(k interface{}, c TestTokenClaims) string {
		tok, err := SignTestToken(soKey, f.kid, c)
		if k != nil {
			tok, err = SignTestToken(otherKey, f.kid, c)
		}
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := TestTokenClaims{Tenant: "Cust1", Nonce: "N", ClientID: "app", NotBefore: now.Add(-time.Minute), Expires: now.Add(time.Minute)}
	expired := good
	expired.Expires = now.Add(-10 * time.Minute)
	wrongAud := good
	wrongAud.ClientID = "other"
	noNonce := good
	noNonce.Nonce = ""
	cases := []struct {
		name  string
		token string
		ops   []Op
		want  string
	}{
		{"expired", mk(nil, expired), allOps, "authentication failed: token expired at"},
		{"wrong audience", mk(nil, wrongAud), allOps, `authentication failed: token audience is "spn:other", want spn:app`},
		{"other key", mk(1, good), allOps, "authentication failed: token signature is invalid"},
		{"no nonce", mk(nil, noNonce), []Op{OpAuthenticate}, "authentication failed: token has no nonce"},
	}
	ctx := context.Background()
	for _, c := range cases {
		for _, op := range c.ops {
			t.Run(c.name+"/"+op.String(), func(t *testing.T) {
				var ok bool
				var msg string
				var err error
				switch op {
				case OpAuthenticate:
					var r AuthenticateResponse
					r, err = f.client.Authenticate(ctx, c.token, AuthenticateRequest{})
					ok, msg = r.IsSuccessful, r.ErrorMessage
					if r.SignedApplicationToken != "" {
						t.Error("signed a nonce for a bad token")
					}
				case OpTableSchema:
					var r TableSchemaResponse
					r, err = f.client.TableSchema(ctx, c.token, TableSchemaRequest{Tables: testTables})
					ok, msg = r.IsSuccessful, r.ErrorMessage
				case OpWipe:
					var r WipeResponse
					r, err = f.client.Wipe(ctx, c.token, WipeRequest{TableName: "t"})
					ok, msg = r.IsSuccessful, r.ErrorMessage
				case OpRowData:
					var r RowDataResponse
					r, err = f.client.RowData(ctx, c.token, "", writeBatches(testBatches))
					ok, msg = r.IsSuccessful, r.ErrorMessage
				case OpReplicationCompleted:
					var r ReplicationCompletedResponse
					r, err = f.client.ReplicationCompleted(ctx, c.token, ReplicationCompletedRequest{})
					ok, msg = r.IsSuccessful, r.ErrorMessage
				}
				if err != nil {
					t.Fatal(err)
				}
				if ok || !strings.HasPrefix(msg, c.want) {
					t.Errorf("ok=%v message %q, want %q", ok, msg, c.want)
				}
			})
		}
	}
	// The decoder rejects a missing token as a malformed request, before the operation is known.
	_, err := f.client.Wipe(ctx, "", WipeRequest{TableName: "t"})
	var fe *FaultError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "SignedToken") {
		t.Errorf("no token: %v", err)
	}
	if n := len(h.Calls()); n != 0 {
		t.Errorf("the handler was called %d times for bad tokens", n)
	}
}

var allOps = []Op{OpAuthenticate, OpTableSchema, OpWipe, OpRowData, OpReplicationCompleted}

// envelope builds a request around body with token.
func envelope(token, body string) []byte {
	return []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>` +
		`<h:SignedToken s:mustUnderstand="1" xmlns:h="http://www.superoffice.com/online/mirroring/0.1">` + token +
		`</h:SignedToken></s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
}

const wipeBody = `<WipeRequest xmlns="http://www.superoffice.com/online/mirroring/0.1"><ClientState/><TableName>t</TableName></WipeRequest>`

func TestServerFaults(t *testing.T) {
	h := newRecorder()
	f := newFixture(t, h, nil)
	tok := f.token("Cust1", "N")
	wipe := envelope(tok, wipeBody)
	cases := []struct {
		name    string
		body    []byte
		headers map[string]string
		code    string
		msg     string
	}{
		{"not xml", []byte("hello, world"), nil, "Client", "not a SOAP 1.1 envelope"},
		{"json", []byte(`{"op":"Wipe"}`), nil, "Client", "not a SOAP 1.1 envelope"},
		{"other root", []byte(`<html><body>hi</body></html>`), nil, "Client", "not a SOAP 1.1 envelope"},
		{"empty", nil, nil, "Client", ""},
		{"truncated", wipe[:len(wipe)-40], nil, "Client", "malformed request"},
		{"unknown operation", envelope(tok, `<FooRequest xmlns="http://www.superoffice.com/online/mirroring/0.1"/>`), nil, "Client", "malformed request"},
		{"wrong namespace", envelope(tok, strings.Replace(wipeBody, "mirroring/0.1", "mirroring/0.2", 1)), nil, "Client", "malformed request"},
		{"SOAPAction mismatch", wipe, map[string]string{"SOAPAction": OpRowData.SOAPAction()}, "Client", "SOAPAction names RowData but the body holds WipeRequest"},
		{"unknown SOAPAction", wipe, map[string]string{"SOAPAction": `"urn:foo"`}, "Client", "unknown SOAPAction"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, body := f.post(c.body, c.headers)
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
				t.Errorf("content type %q", ct)
			}
			wantFault(t, status, body, c.code, c.msg)
		})
	}
	// The same Wipe with a matching, an unquoted or no SOAPAction succeeds.
	for _, action := range []string{OpWipe.SOAPAction(), strings.Trim(OpWipe.SOAPAction(), `"`), "", `""`} {
		status, _, body := f.post(wipe, map[string]string{"SOAPAction": action})
		if status != 200 || !bytes.Contains(body, []byte("<IsSuccessful>true</IsSuccessful>")) {
			t.Errorf("SOAPAction %q: %d %s", action, status, body)
		}
	}
	if n := len(h.Calls()); n != 4 {
		t.Errorf("%d handler calls, want 4", n)
	}
}

func TestServerHTTPErrors(t *testing.T) {
	f := newFixture(t, newRecorder(), nil)
	wipe := envelope(f.token("Cust1", "N"), wipeBody)
	cases := []struct {
		method, query, ctype string
		status               int
	}{
		{http.MethodPut, "", "text/xml", http.StatusMethodNotAllowed},
		{http.MethodDelete, "", "", http.StatusMethodNotAllowed},
		{http.MethodGet, "", "", http.StatusMethodNotAllowed},
		{http.MethodPost, "", "application/json", http.StatusUnsupportedMediaType},
		{http.MethodPost, "", "text/xml", http.StatusOK},
		{http.MethodPost, "", "text/xml;charset=UTF-8", http.StatusOK},
		{http.MethodPost, "", "application/soap+xml; charset=utf-8", http.StatusOK},
		{http.MethodPost, "", "", http.StatusOK},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, f.srv.URL+"/x"+c.query, bytes.NewReader(wipe))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %q: status %d, want %d", c.method, c.ctype, resp.StatusCode, c.status)
		}
	}
	status, _, _ := f.post(wipe, map[string]string{"Content-Encoding": "br"})
	if status != http.StatusUnsupportedMediaType {
		t.Errorf("Content-Encoding br: %d", status)
	}
}

func compressBody(t *testing.T, kind string, data []byte) []byte {
	var b bytes.Buffer
	var w io.WriteCloser
	switch kind {
	case "gzip":
		w = gzip.NewWriter(&b)
	case "zlib":
		w = zlib.NewWriter(&b)
	case "flate":
		w, _ = flate.NewWriter(&b, flate.DefaultCompression)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestServerCompressedBodies(t *testing.T) {
	f := newFixture(t, newRecorder(), nil)
	wipe := envelope(f.token("Cust1", "N"), wipeBody)
	cases := []struct{ kind, encoding string }{{"gzip", "gzip"}, {"gzip", "x-gzip"}, {"zlib", "deflate"}, {"flate", "deflate"}}
	for _, c := range cases {
		status, _, body := f.post(compressBody(t, c.kind, wipe), map[string]string{"Content-Encoding": c.encoding})
		if status != 200 || !bytes.Contains(body, []byte("<IsSuccessful>true</IsSuccessful>")) {
			t.Errorf("%s as %s: %d %s", c.kind, c.encoding, status, body)
		}
	}
	status, _, body := f.post([]byte("not gzip at all"), map[string]string{"Content-Encoding": "gzip"})
	if status != http.StatusUnsupportedMediaType {
		t.Errorf("bad gzip: %d %s", status, body)
	}
}

func TestServerBodyLimit(t *testing.T) {
	const limit = 64 << 10
	h := newRecorder()
	f := newFixture(t, h, func(c *ServerConfig) { c.MaxBodyBytes = limit })
	tok := f.token("Cust1", "N")
	pad := strings.Repeat(" ", 2*limit)
	big := envelope(tok, `<WipeRequest xmlns="http://www.superoffice.com/online/mirroring/0.1"><ClientState>`+
		strings.Repeat("x", 2*limit)+`</ClientState><TableName>t</TableName></WipeRequest>`)
	// A body of a few KB that inflates past the limit: whitespace inside the envelope.
	bomb := compressBody(t, "gzip", envelope(tok+pad+pad+pad, wipeBody))
	if len(bomb) > limit/4 {
		t.Fatalf("bomb is %d bytes compressed", len(bomb))
	}
	exact := envelope(tok, wipeBody)

	cases := []struct {
		name    string
		body    []byte
		headers map[string]string
		status  int
	}{
		{"plain over the limit", big, nil, http.StatusRequestEntityTooLarge},
		{"gzip bomb", bomb, map[string]string{"Content-Encoding": "gzip"}, http.StatusRequestEntityTooLarge},
		{"gzip of a big body", compressBody(t, "gzip", big), map[string]string{"Content-Encoding": "gzip"}, http.StatusRequestEntityTooLarge},
		{"deflate bomb", compressBody(t, "zlib", envelope(tok+pad+pad, wipeBody)), map[string]string{"Content-Encoding": "deflate"}, http.StatusRequestEntityTooLarge},
		{"small", exact, nil, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := f.post(c.body, c.headers)
			if status != c.status {
				t.Fatalf("status %d, want %d: %.200s", status, c.status, body)
			}
			if status == http.StatusRequestEntityTooLarge && !bytes.Contains(body, []byte("exceeds the limit")) {
				t.Errorf("body %q", body)
			}
		})
	}

	// A streamed RowData (no Content-Length) over the limit, through the client.
	rows := make([]recRow, 200)
	for i := range rows {
		rows[i] = recRow{contract.Insert, []string{fmt.Sprintf("[I:%d]", i), strings.Repeat("y", 1000), nullMark}}
	}
	_, err := f.client.RowData(context.Background(), tok, "", writeBatches([]recBatch{{Table: testTables[0], Rows: rows}}))
	if err == nil || !strings.Contains(err.Error(), "413") {
		t.Fatalf("streamed RowData over the limit: %v", err)
	}
}

// postSample posts a captured request unchanged to a server that trusts SuperOffice's Development
// certificate, with the clock pinned inside the sample token's lifetime.
func postSample(t *testing.T, file string, op Op) (*recorder, Response) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "superoffice", file))
	if err != nil {
		t.Fatal(err)
	}
	clock := sampleClock(t, sampleToken(t, file))
	h := newRecorder()
	f := newFixture(t, h, func(c *ServerConfig) {
		c.Verifier = devVerifier(t, clock, sampleClientID)
		c.Now = clock
	})
	status, hdr, body := f.post(data, map[string]string{"SOAPAction": op.SOAPAction()})
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var rb io.Reader = bytes.NewReader(body)
	if hdr.Get("Content-Encoding") == "gzip" {
		if rb, err = gzip.NewReader(rb); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := DecodeResponse(rb, op)
	if err != nil {
		t.Fatalf("decode response: %v\n%s", err, body)
	}
	return h, resp
}

func TestServerCapturedSamples(t *testing.T) {
	t.Run("Authenticate", func(t *testing.T) {
		h, resp := postSample(t, "SampleAuthenticateRequest.xml", OpAuthenticate)
		r := resp.(AuthenticateResponse)
		_, appKey := testKeys(t)
		at := sampleClock(t, sampleToken(t, "SampleAuthenticateRequest.xml"))()
		if !r.IsSuccessful || !strings.HasPrefix(r.SignedApplicationToken, "BDB65A558F193A8DD88E50E7416C0D86.202109161125.") {
			t.Fatalf("%+v", r)
		}
		if err := VerifyApplicationToken(&appKey.PublicKey, r.SignedApplicationToken, "BDB65A558F193A8DD88E50E7416C0D86", at, 15*time.Minute); err != nil {
			t.Error(err)
		}
		want := []recCall{{Op: "Authenticate", Call: contract.Call{Tenant: "Cust10003"}}}
		if got := h.Calls(); !eq(got, want) {
			t.Errorf("calls %+v", got)
		}
	})
	t.Run("Wipe", func(t *testing.T) {
		h, resp := postSample(t, "SampleWipeRequest.xml", OpWipe)
		want := []recCall{{Op: "Wipe", Call: contract.Call{Tenant: "Cust24709"}, Table: "projstatusgrouplink"}}
		if got := h.Calls(); !resp.(WipeResponse).IsSuccessful || !eq(got, want) {
			t.Errorf("calls %+v", got)
		}
	})
	t.Run("ReplicationCompleted", func(t *testing.T) {
		h, resp := postSample(t, "ReplicationCompletedRequest.xml", OpReplicationCompleted)
		got := h.Calls()
		if !resp.(ReplicationCompletedResponse).IsSuccessful || len(got) != 1 || got[0].Call.Tenant != "Cust24709" || len(got[0].Changed) != 0 {
			t.Errorf("calls %+v", got)
		}
	})
	t.Run("TableSchema", func(t *testing.T) {
		h, resp := postSample(t, "TableSchemaRequest-excerpt.xml", OpTableSchema)
		got := h.Calls()
		if !resp.(TableSchemaResponse).IsSuccessful || len(got) != 1 || got[0].Call.Tenant != "Cust24709" {
			t.Fatalf("calls %+v", got)
		}
		var names []string
		cols := 0
		for _, tb := range got[0].Tables {
			names = append(names, tb.Name)
			cols += len(tb.Columns)
		}
		if strings.Join(names, ",") != "access_script,appointment,binaryobject,invitation" || cols != 83 {
			t.Errorf("tables %v, %d columns", names, cols)
		}
	})
	t.Run("RowData", func(t *testing.T) {
		h, resp := postSample(t, "SampleRowDataRequest.xml", OpRowData)
		got := h.Calls()
		if !resp.(RowDataResponse).IsSuccessful || len(got) != 1 || got[0].Call.Tenant != "Cust24709" || len(got[0].Batches) != 1 {
			t.Fatalf("calls %+v", got)
		}
		b := got[0].Batches[0]
		if b.Table.Name != "invitation" || b.LSN != 1506269 || len(b.Table.Columns) != 14 || b.Table.Columns[0].Name != "invitation_id" {
			t.Errorf("batch %s lsn %d, %d columns", b.Table.Name, b.LSN, len(b.Table.Columns))
		}
		if len(b.Rows) != 2 || b.Rows[0].Op != contract.Insert || len(b.Rows[0].Values) != 14 ||
			b.Rows[0].Values[0] != "[I:1]" || b.Rows[0].Values[11] != "Nonnast, Leon" ||
			b.Rows[1].Values[0] != "[I:2]" || b.Rows[1].Values[12] != "[DT:01/01/1760 00:00:00.0000000]" {
			t.Errorf("rows %+v", b.Rows)
		}
	})
}

func TestServerPanic(t *testing.T) {
	h := newRecorder()
	h.panicWith = "boom with a secret"
	f := newFixture(t, h, nil)
	status, _, body := f.post(envelope(f.token("Cust1", "N"), wipeBody), nil)
	wantFault(t, status, body, "Server", "internal error")
	if bytes.Contains(body, []byte("boom")) || bytes.Contains(body, []byte("goroutine")) {
		t.Errorf("panic details reached the client: %s", body)
	}
	l := f.logs.String()
	if !strings.Contains(l, "panic") || !strings.Contains(l, "server.go") {
		t.Errorf("panic not logged with a stack:\n%.500s", l)
	}
	// The client reports the fault as a *FaultError.
	_, err := f.client.Wipe(context.Background(), f.token("Cust1", "N"), WipeRequest{TableName: "t"})
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Message != "internal error" {
		t.Errorf("client error %v", err)
	}
}

func TestServerWSDL(t *testing.T) {
	f := newFixture(t, newRecorder(), nil)
	for _, q := range []string{"?wsdl", "?WSDL", "?Wsdl&x=1"} {
		resp, err := f.srv.Client().Get(f.srv.URL + "/svc/Mirror.svc" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if err := xml.Unmarshal(body, new(struct{})); err != nil {
			t.Fatalf("%s: WSDL is not XML: %v", q, err)
		}
		want := `<soap:address location="` + f.srv.URL + `/svc/Mirror.svc"/>`
		if !bytes.Contains(body, []byte(want)) || bytes.Contains(body, []byte("localhost:44334")) {
			t.Errorf("%s: no %s", q, want)
		}
		for _, op := range allOps {
			if !bytes.Contains(body, []byte(strings.Trim(op.SOAPAction(), `"`))) {
				t.Errorf("WSDL lacks %s", op)
			}
		}
	}
	// The address is escaped.
	if w := string(WSDL(`https://h/a"b<c`)); !strings.Contains(w, `location="https://h/a&#34;b&lt;c"`) {
		t.Error("address not escaped")
	}
}

// The WSDL's address is the configured public URL, or what a trusted proxy forwarded; a forwarded
// header from anyone else is ignored.
func TestServerWSDLAddress(t *testing.T) {
	proxied := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "mirror.example.com"}
	cases := []struct {
		name       string
		publicURL  string
		trustProxy bool
		headers    map[string]string
		want       string // "" means the address the test server was called at
	}{
		{name: "default", want: ""},
		{name: "forwarded headers not trusted", headers: proxied, want: ""},
		{name: "public URL", publicURL: "https://mirror.example.com/mirroring", headers: map[string]string{"X-Forwarded-Host": "evil.example"},
			want: "https://mirror.example.com/mirroring"},
		{name: "trusted proxy", trustProxy: true, headers: proxied, want: "https://mirror.example.com/svc"},
		{name: "trusted proxy, first of several values", trustProxy: true,
			headers: map[string]string{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.example:8443, b.example"},
			want:    "https://a.example:8443/svc"},
		{name: "trusted proxy, nonsense values ignored", trustProxy: true,
			headers: map[string]string{"X-Forwarded-Proto": "gopher", "X-Forwarded-Host": `evil"/><x y="`}, want: ""},
		{name: "public URL wins over a trusted proxy", publicURL: "https://m.example/", trustProxy: true, headers: proxied,
			want: "https://m.example/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, newRecorder(), func(cfg *ServerConfig) { cfg.PublicURL, cfg.TrustProxy = c.publicURL, c.trustProxy })
			req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/svc?wsdl", nil)
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			want := c.want
			if want == "" {
				want = f.srv.URL + "/svc"
			}
			if loc := `<soap:address location="` + want + `"/>`; !bytes.Contains(body, []byte(loc)) {
				t.Errorf("WSDL lacks %s", loc)
			}
		})
	}
	for _, bad := range []string{"mirror.example.com", "ftp://m.example/", "https:///x", "https://m.example/?wsdl", "https://u:p@m.example/"} {
		_, err := NewServer(ServerConfig{Handler: newRecorder(), Verifier: &TokenVerifier{}, ApplicationKey: &rsa.PrivateKey{}, PublicURL: bad})
		if err == nil || !strings.Contains(err.Error(), "public URL") {
			t.Errorf("public URL %q: %v, want a refusal", bad, err)
		}
	}
}

func TestServerCancellation(t *testing.T) {
	h := newRecorder()
	h.block = make(chan struct{})
	h.ctxErr = make(chan error, 1)
	f := newFixture(t, h, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := f.client.Wipe(ctx, f.token("Cust1", "N"), WipeRequest{TableName: "t"})
		done <- err
	}()
	<-h.block
	cancel()
	select {
	case err := <-h.ctxErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler context: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled when the client went away")
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("client error %v", err)
	}
}

func TestServerRowDataSpoolCleanup(t *testing.T) {
	// 200 rows of ~600 bytes exceed the spool's minimum memory (64 KiB), so batches spill to files.
	rows := make([]recRow, 200)
	for i := range rows {
		rows[i] = recRow{contract.Insert, []string{fmt.Sprintf("[I:%d]", i), strings.Repeat("z", 600), nullMark}}
	}
	batches := []recBatch{{Table: testTables[0], Rows: rows}, {Table: testTables[0], LSN: 9, Rows: rows}}
	var spoolDir string
	cases := []struct {
		name   string
		handle func(contract.Batches) error
		ok     bool
	}{
		{"drains", func(b contract.Batches) error {
			for {
				if _, err := b.Next(context.Background()); errors.Is(err, io.EOF) {
					return nil
				} else if err != nil {
					return err
				}
			}
		}, true},
		{"reads one batch", func(b contract.Batches) error { _, err := b.Next(context.Background()); return err }, true},
		{"fails after one batch", func(b contract.Batches) error {
			if _, err := b.Next(context.Background()); err != nil {
				return err
			}
			// The batch is larger than SpoolMemory, so it has spilled to a file, which was unlinked as
			// soon as it was open.
			if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
				return fmt.Errorf("spool files visible while a batch is held: %v", left)
			}
			if open, err := openDeletedFiles(spoolDir); err == nil && open == 0 {
				return errors.New("no open spool file while a batch is held")
			}
			return errors.New("apply failed")
		}, false},
		{"reads nothing", func(contract.Batches) error { return nil }, true},
		{"panics", func(b contract.Batches) error { _, _ = b.Next(context.Background()); panic("boom") }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			spoolDir = dir
			h := newRecorder()
			h.onRowData = c.handle
			f := newFixture(t, h, func(cfg *ServerConfig) { cfg.Decode = DecodeOptions{SpoolMemory: 1, SpoolDir: dir} })
			r, err := f.client.RowData(context.Background(), f.token("Cust1", "N"), "", writeBatches(batches))
			if c.name == "panics" {
				var fe *FaultError
				if !errors.As(err, &fe) {
					t.Fatalf("panic: %v", err)
				}
			} else if err != nil || r.IsSuccessful != c.ok {
				t.Fatalf("%+v %v", r, err)
			} else if !c.ok && r.ErrorMessage != "apply failed" {
				t.Fatalf("message %q", r.ErrorMessage)
			}
			left, _ := os.ReadDir(dir)
			if len(left) != 0 {
				t.Errorf("spool files left: %v", left)
			}
		})
	}
}

// redactedErr quotes row data in its message and leaves it out of Redacted, like the engine's batch errors.
type redactedErr struct{}

func (redactedErr) Error() string {
	return `table "t", column "c", row 1: too long (value "SECRET-ROW-DATA")`
}
func (redactedErr) Redacted() string { return `table "t", column "c", row 1: too long` }

func TestServerLogsNoRowData(t *testing.T) {
	h := newRecorder()
	h.err = redactedErr{}
	f := newFixture(t, h, nil)
	rr, err := f.client.RowData(context.Background(), f.token("Cust1", "N"), "", writeBatches(testBatches))
	if err != nil {
		t.Fatal(err)
	}
	if rr.IsSuccessful || !strings.Contains(rr.ErrorMessage, "SECRET-ROW-DATA") {
		t.Fatalf("SuperOffice must see the offending value: %+v", rr)
	}
	logs := f.logs.String()
	if strings.Contains(logs, "SECRET-ROW-DATA") {
		t.Fatalf("the log holds row data:\n%s", logs)
	}
	if !strings.Contains(logs, `row 1: too long`) {
		t.Fatalf("the log lacks the redacted reason:\n%s", logs)
	}
}

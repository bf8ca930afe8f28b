package protocol

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
)

// encodingRecorder notes the Content-Encoding of every response the client receives.
type encodingRecorder struct {
	mu        sync.Mutex
	encodings []string
	next      http.RoundTripper
}

func (e *encodingRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := e.next.RoundTrip(r)
	if err == nil {
		e.mu.Lock()
		e.encodings = append(e.encodings, resp.Header.Get("Content-Encoding"))
		e.mu.Unlock()
	}
	return resp, err
}

func TestClientDecodesGzipResponses(t *testing.T) {
	h := newRecorder()
	for i := range 200 {
		h.lsns = append(h.lsns, contract.TableLSN{Table: fmt.Sprintf("table_%03d", i), LSN: int64(i) * 1000})
	}
	f := newFixture(t, h, nil)
	rec := &encodingRecorder{next: f.srv.Client().Transport}
	f.client.HTTP = &http.Client{Transport: rec}
	r, err := f.client.TableSchema(context.Background(), f.token("Cust1", "N"), TableSchemaRequest{Tables: testTables})
	if err != nil {
		t.Fatal(err)
	}
	if !r.IsSuccessful || !eq(r.MirrorLSN, h.lsns) {
		t.Fatalf("%d LSNs", len(r.MirrorLSN))
	}
	// A small answer is not worth compressing.
	if _, err := f.client.Wipe(context.Background(), f.token("Cust1", "N"), WipeRequest{TableName: "t"}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(rec.encodings, ",") != "gzip," {
		t.Errorf("response encodings %q, want gzip then none", rec.encodings)
	}
}

// fixedServer answers every request with status, headers and body.
func fixedServer(t *testing.T, status int, headers map[string]string, body []byte) *Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return &Client{URL: srv.URL, HTTP: srv.Client()}
}

func TestClientResponses(t *testing.T) {
	var ok bytes.Buffer
	if err := EncodeResponse(&ok, WipeResponse{IsSuccessful: true}); err != nil {
		t.Fatal(err)
	}
	var failed bytes.Buffer
	if err := EncodeResponse(&failed, WipeResponse{ErrorMessage: "table is locked"}); err != nil {
		t.Fatal(err)
	}
	var fault bytes.Buffer
	if err := EncodeFault(&fault, "s:Client", "bad request"); err != nil {
		t.Fatal(err)
	}
	var zl, raw bytes.Buffer
	zw := zlib.NewWriter(&zl)
	_, _ = zw.Write(ok.Bytes())
	_ = zw.Close()
	fw, _ := flate.NewWriter(&raw, 5)
	_, _ = fw.Write(ok.Bytes())
	_ = fw.Close()
	html := "<html>" + strings.Repeat("Bad Gateway ", 50) + "</html>"

	cases := []struct {
		name    string
		status  int
		headers map[string]string
		body    []byte
		want    WipeResponse
		err     string
	}{
		{"success", 200, nil, ok.Bytes(), WipeResponse{IsSuccessful: true}, ""},
		{"unsuccessful is not an error", 200, nil, failed.Bytes(), WipeResponse{ErrorMessage: "table is locked"}, ""},
		{"zlib deflate", 200, map[string]string{"Content-Encoding": "deflate"}, zl.Bytes(), WipeResponse{IsSuccessful: true}, ""},
		{"raw deflate", 200, map[string]string{"Content-Encoding": "deflate"}, raw.Bytes(), WipeResponse{IsSuccessful: true}, ""},
		{"fault", 500, nil, fault.Bytes(), WipeResponse{}, "protocol: SOAP fault s:Client: bad request"},
		{"fault with status 200", 200, nil, fault.Bytes(), WipeResponse{}, "protocol: SOAP fault s:Client: bad request"},
		{"html error", 502, nil, []byte(html), WipeResponse{}, "HTTP 502 Bad Gateway: " + html[:200]},
		{"wrong response element", 200, nil, bytes.Replace(ok.Bytes(), []byte("WipeResponse"), []byte("RowDataResponse"), 2), WipeResponse{}, "expected WipeResponse"},
		{"unknown encoding", 200, map[string]string{"Content-Encoding": "br"}, ok.Bytes(), WipeResponse{}, "unsupported Content-Encoding"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := fixedServer(t, c.status, c.headers, c.body)
			got, err := cl.Wipe(context.Background(), "tok", WipeRequest{TableName: "t"})
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Fatalf("got %+v, want %+v", got, c.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want it to contain %q", err, c.err)
			}
			if c.status == 502 && strings.Contains(err.Error(), html[:201]) {
				t.Error("more than 200 bytes of the body in the error")
			}
			var fe *FaultError
			if strings.Contains(c.name, "fault") && !errors.As(err, &fe) {
				t.Errorf("%T is not a *FaultError", err)
			}
		})
	}
}

// TestClientRequestHeaders checks what the client sends, as SuperOffice's Mirroring Task does.
func TestClientRequestHeaders(t *testing.T) {
	var got http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		body, _ = io.ReadAll(r.Body)
		_ = EncodeResponse(w, ReplicationCompletedResponse{IsSuccessful: true})
	}))
	defer srv.Close()
	cl := &Client{URL: srv.URL, HTTP: srv.Client()}
	if _, err := cl.ReplicationCompleted(context.Background(), "TOKEN123", ReplicationCompletedRequest{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Content-Type":    "text/xml; charset=utf-8",
		"Soapaction":      `"http://www.superoffice.com/online/mirroring/0.1/IMirroringClientService/ReplicationCompleted"`,
		"Accept-Encoding": "gzip, deflate",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s: %q, want %q", k, got.Get(k), v)
		}
	}
	if got.Get("Content-Encoding") != "" || !bytes.Contains(body, []byte("TOKEN123")) {
		t.Errorf("body %s", body)
	}
}

func TestClientRowDataWriteError(t *testing.T) {
	h := newRecorder()
	f := newFixture(t, h, nil)
	boom := errors.New("source failed")
	_, err := f.client.RowData(context.Background(), f.token("Cust1", "N"), "", func(enc *RowDataEncoder) error {
		if err := writeBatches(testBatches)(enc); err != nil {
			return err
		}
		if err := enc.BeginBatch(); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	// The server saw an incomplete body: whatever the handler did, it must not have reported success
	// for a body it never finished reading.
	for _, c := range h.Calls() {
		if c.Op == "RowData" && len(c.Batches) > len(testBatches) {
			t.Errorf("handler saw %d batches", len(c.Batches))
		}
	}
}

// TestClientRowDataEarlyAnswer: a server that answers before reading the body (a bad token) must not
// leave the client's writer blocked.
func TestClientRowDataEarlyAnswer(t *testing.T) {
	f := newFixture(t, newRecorder(), nil)
	soKey, _ := testKeys(t)
	expired, err := SignTestToken(soKey, f.kid, TestTokenClaims{Tenant: "Cust1", Nonce: "N", ClientID: "app",
		NotBefore: time.Now().Add(-time.Hour), Expires: time.Now().Add(-30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]recRow, 5000)
	for i := range rows {
		rows[i] = recRow{contract.Insert, []string{fmt.Sprintf("[I:%d]", i), strings.Repeat("q", 1000), nullMark}}
	}
	done := make(chan struct{})
	var r RowDataResponse
	go func() {
		defer close(done)
		r, err = f.client.RowData(context.Background(), expired, "", writeBatches([]recBatch{{Table: testTables[0], Rows: rows}}))
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("RowData did not return")
	}
	if err != nil {
		t.Fatalf("error %v", err)
	}
	if r.IsSuccessful || !strings.HasPrefix(r.ErrorMessage, "authentication failed: token expired") {
		t.Fatalf("%+v", r)
	}
}

func TestClientTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	cl := &Client{URL: url}
	if _, err := cl.Authenticate(context.Background(), "t", AuthenticateRequest{}); err == nil || !strings.Contains(err.Error(), "Authenticate") {
		t.Errorf("closed server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cl.RowData(ctx, "t", "", writeBatches(testBatches)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	bad := &Client{URL: "::not a url"}
	if _, err := bad.Wipe(context.Background(), "t", WipeRequest{}); err == nil {
		t.Error("bad URL accepted")
	}
}

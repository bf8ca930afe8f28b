package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The simulator's driver reads its source through pure-Go SQLite and encodes the XML on the same two
// cores that the service and the database use; in production that work happens at SuperOffice. So
// besides the cycle driven live, the bench records the cycle's requests and replays them, byte for
// byte, against a fresh mirror: the replay measures the service (HTTP → SOAP → engine → bulk path)
// with a client that costs next to nothing. Both figures are reported.

// recordedCall is one request of a recorded cycle.
type recordedCall struct {
	action, contentType, path string
}

// recorder is an http.RoundTripper that copies each request body to a file before sending it.
type recorder struct {
	dir  string
	next http.RoundTripper

	mu    sync.Mutex
	calls []recordedCall
}

func newRecorder(dir string) (*recorder, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	return &recorder{dir: dir, next: http.DefaultTransport}, nil
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	path := filepath.Join(r.dir, fmt.Sprintf("call-%06d.xml", len(r.calls)))
	r.calls = append(r.calls, recordedCall{action: req.Header.Get("SOAPAction"), contentType: req.Header.Get("Content-Type"), path: path})
	r.mu.Unlock()
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if req.Body != nil {
		req.Body = &teeBody{r: io.TeeReader(req.Body, f), c: req.Body, f: f}
	} else {
		f.Close()
	}
	return r.next.RoundTrip(req)
}

// teeBody closes the recording file with the body.
type teeBody struct {
	r io.Reader
	c io.Closer
	f *os.File
}

func (t *teeBody) Read(p []byte) (int, error) { return t.r.Read(p) }
func (t *teeBody) Close() error {
	t.f.Close()
	return t.c.Close()
}

// replay posts the recorded calls in order, one at a time as the Mirroring Task sends one table's
// calls, and returns the wall time. Every answer must be a success.
func replay(ctx context.Context, url string, calls []recordedCall) (time.Duration, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	defer client.CloseIdleConnections()
	start := time.Now()
	for i, c := range calls {
		f, err := os.Open(c.path)
		if err != nil {
			return 0, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, f)
		if err != nil {
			f.Close()
			return 0, err
		}
		req.Header.Set("SOAPAction", c.action)
		req.Header.Set("Content-Type", c.contentType)
		resp, err := client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("replay call %d (%s): %w", i, c.action, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("replay call %d: %w", i, err)
		}
		if resp.StatusCode != http.StatusOK || !successful(body) {
			return 0, fmt.Errorf("replay call %d (%s): HTTP %d: %.300s", i, c.action, resp.StatusCode, body)
		}
	}
	return time.Since(start), nil
}

// successful reports whether a response body says IsSuccessful true.
func successful(body []byte) bool {
	return bytes.Contains(body, []byte("<IsSuccessful>true</IsSuccessful>"))
}

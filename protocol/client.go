package protocol

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// errRequestFinished stops a RowData writer whose request is over.
var errRequestFinished = errors.New("request finished")

// maxFaultBody is how much of a non-200 response the client reads looking for a Fault.
const maxFaultBody = 1 << 20

// Client calls a mirroring service, as SuperOffice's Mirroring Task does. The simulator and tests use it.
// An IsSuccessful=false answer is returned as a response, not as an error; errors are transport
// failures, SOAP Faults (*FaultError) and undecodable answers.
type Client struct {
	// URL is the service address.
	URL string
	// HTTP is the HTTP client; nil means http.DefaultClient.
	HTTP *http.Client
	// Gzip compresses request bodies.
	Gzip bool
}

// Authenticate calls Authenticate with token.
func (c *Client) Authenticate(ctx context.Context, token string, req AuthenticateRequest) (AuthenticateResponse, error) {
	return callWhole[AuthenticateResponse](ctx, c, token, req)
}

// TableSchema calls TableSchema with token.
func (c *Client) TableSchema(ctx context.Context, token string, req TableSchemaRequest) (TableSchemaResponse, error) {
	return callWhole[TableSchemaResponse](ctx, c, token, req)
}

// Wipe calls Wipe with token.
func (c *Client) Wipe(ctx context.Context, token string, req WipeRequest) (WipeResponse, error) {
	return callWhole[WipeResponse](ctx, c, token, req)
}

// ReplicationCompleted calls ReplicationCompleted with token.
func (c *Client) ReplicationCompleted(ctx context.Context, token string, req ReplicationCompletedRequest) (ReplicationCompletedResponse, error) {
	return callWhole[ReplicationCompletedResponse](ctx, c, token, req)
}

// RowData calls RowData, streaming the request body: write fills the encoder (BeginBatch, Row,
// EndBatch) while the body is being sent, and the client closes the envelope after it returns. An
// error from write aborts the request and is returned.
func (c *Client) RowData(ctx context.Context, token, clientState string, write func(*RowDataEncoder) error) (RowDataResponse, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := c.compress(pw, func(w io.Writer) error {
			enc := NewRowDataEncoder(w, token, clientState)
			if err := write(enc); err != nil {
				return err
			}
			return enc.Close()
		})
		_ = pw.CloseWithError(err) // CloseWithError(nil) is a clean EOF
		done <- err
	}()
	resp, err := c.post(ctx, OpRowData, pr)
	// Stop the writer if the server answered without reading everything (e.g. a failed token).
	_ = pr.CloseWithError(errRequestFinished)
	writeErr := <-done
	// A write that failed because the body was closed under it is a consequence, not the cause.
	ownErr := writeErr != nil && !errors.Is(writeErr, io.ErrClosedPipe) && !errors.Is(writeErr, errRequestFinished)
	if ownErr && err != nil {
		return RowDataResponse{}, fmt.Errorf("mirroring client: RowData: writing the request: %w", writeErr)
	}
	if err != nil {
		return RowDataResponse{}, err
	}
	return as[RowDataResponse](resp)
}

// callWhole sends a request that is encoded in full before sending.
func callWhole[T Response](ctx context.Context, c *Client, token string, req Request) (T, error) {
	var zero T
	var body bytes.Buffer
	if err := c.compress(&body, func(w io.Writer) error { return EncodeRequest(w, token, req) }); err != nil {
		return zero, fmt.Errorf("mirroring client: %s: encoding the request: %w", req.Op(), err)
	}
	resp, err := c.post(ctx, req.Op(), bytes.NewReader(body.Bytes()))
	if err != nil {
		return zero, err
	}
	return as[T](resp)
}

// compress runs fill on w, through gzip when the client compresses.
func (c *Client) compress(w io.Writer, fill func(io.Writer) error) error {
	if !c.Gzip {
		return fill(w)
	}
	zw := gzip.NewWriter(w)
	if err := fill(zw); err != nil {
		return err
	}
	return zw.Close()
}

// as converts a decoded response to the operation's response type.
func as[T Response](r Response) (T, error) {
	if v, ok := r.(T); ok {
		return v, nil
	}
	var zero T
	return zero, fmt.Errorf("mirroring client: unexpected response type %T", r)
}

// post sends one request body and decodes the answer.
func (c *Client) post(ctx context.Context, op Op, body io.Reader) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, body)
	if err != nil {
		return nil, fmt.Errorf("mirroring client: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", op.SOAPAction())
	// Setting Accept-Encoding ourselves turns off the transport's transparent gzip, so we decode here.
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	if c.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mirroring client: %s: %w", op, err)
	}
	defer resp.Body.Close()
	rb, err := responseBody(resp)
	if err != nil {
		return nil, fmt.Errorf("mirroring client: %s: HTTP %d: %w", op, resp.StatusCode, err)
	}
	if resp.StatusCode == http.StatusOK {
		r, err := DecodeResponse(rb, op)
		if err != nil {
			return nil, fmt.Errorf("mirroring client: %s: %w", op, err)
		}
		return r, nil
	}
	raw, _ := io.ReadAll(io.LimitReader(rb, maxFaultBody))
	var fe *FaultError
	if _, err := DecodeResponse(bytes.NewReader(raw), op); errors.As(err, &fe) {
		return nil, fe
	}
	head := raw
	if len(head) > 200 {
		head = head[:200]
	}
	return nil, fmt.Errorf("mirroring client: %s: HTTP %s: %s", op, resp.Status, strings.TrimSpace(string(head)))
}

// responseBody undoes the response's Content-Encoding.
func responseBody(resp *http.Response) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))) {
	case "", "identity":
		return resp.Body, nil
	case "gzip", "x-gzip":
		return gzip.NewReader(resp.Body)
	case "deflate":
		// HTTP's deflate is zlib-wrapped, but some servers send raw DEFLATE; decodeDeflate tells them apart.
		return decodeDeflate(resp.Body)
	default:
		return nil, fmt.Errorf("unsupported Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
}

// decodeDeflate reads a zlib stream, or a raw DEFLATE stream when there is no zlib header.
func decodeDeflate(r io.Reader) (io.Reader, error) {
	buf := make([]byte, 2)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	full := io.MultiReader(bytes.NewReader(buf[:n]), r)
	if n == 2 && isZlibHeader(buf[0], buf[1]) {
		return zlib.NewReader(full)
	}
	return flate.NewReader(full), nil
}

// isZlibHeader reports whether two bytes are a zlib header (RFC 1950: CM=8, FCHECK).
func isZlibHeader(cmf, flg byte) bool {
	return cmf&0x0f == 8 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}

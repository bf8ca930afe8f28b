package protocol

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/contract"
)

// DefaultMaxBodyBytes is the default limit on a request body, compressed and decompressed.
const DefaultMaxBodyBytes = 64 << 20

// DefaultMaxCalls is the default of ServerConfig.MaxCalls.
const DefaultMaxCalls = 64

// DefaultReadTimeout is the default of ServerConfig.ReadTimeout.
const DefaultReadTimeout = 5 * time.Minute

// busyRetryAfter is the Retry-After (seconds) of a call refused because too many are in flight.
const busyRetryAfter = "5"

// maxErrorMessage is the longest ErrorMessage sent to SuperOffice.
const maxErrorMessage = 500

// gzipResponseMin is the response size above which a response is gzipped for a caller that accepts it.
const gzipResponseMin = 1400

// ServerConfig configures a Server.
type ServerConfig struct {
	// Handler carries out the operations (the engine). Required.
	Handler contract.Handler
	// Verifier validates the SignedToken of every call. Required.
	Verifier *TokenVerifier
	// ApplicationKey signs the Authenticate nonce (SignedApplicationToken). Required.
	ApplicationKey *rsa.PrivateKey
	// Build is the SuperOfficeMirroringBuild answered by Authenticate, e.g. "mirrorsink 0.1.0".
	Build string
	// MaxBodyBytes limits a request body, both as sent and decompressed; 0 means DefaultMaxBodyBytes.
	// A larger body is answered with HTTP 413.
	MaxBodyBytes int64
	// Decode configures the request decoder: RowData spooling, the SOAP header limit (a longer header
	// is answered with HTTP 413 before the token is looked at) and the value limit, which is at most
	// MaxBodyBytes and by default equal to it.
	Decode DecodeOptions
	// MaxCalls bounds the calls in flight (POST requests being read or carried out); 0 means
	// DefaultMaxCalls. A call beyond it is refused at once with HTTP 503 and a SOAP Fault, which
	// SuperOffice retries.
	MaxCalls int
	// ReadTimeout is how long the rest of a call's body may take to arrive once its token has been
	// verified; 0 means DefaultReadTimeout. Until then the http.Server's ReadTimeout bounds the call,
	// and it should be short (seconds): it is all an unauthenticated caller gets. A body cut off by
	// either deadline is answered with HTTP 408.
	ReadTimeout time.Duration
	// Logger receives one line per call; nil discards. Tokens, secrets and row data are never logged.
	Logger *slog.Logger
	// Now is the clock for the application token; nil means time.Now.
	Now func() time.Time
	// PublicURL, when set, is the service's address as SuperOffice calls it, e.g.
	// https://mirror.example.com/mirroring; the WSDL gives it as the service's address.
	PublicURL string
	// TrustProxy lets the WSDL's address follow a reverse proxy's X-Forwarded-Proto and
	// X-Forwarded-Host when PublicURL is not set. Set it only when every request comes through a
	// proxy that sets (or strips) both headers: anyone else could put any host there.
	TrustProxy bool
}

// Server is the mirroring SOAP endpoint: an http.Handler that serves every operation on any path, and
// the WSDL on GET ?wsdl. It keeps no state between calls.
type Server struct {
	cfg   ServerConfig
	log   *slog.Logger
	now   func() time.Time
	calls chan struct{} // one token per call in flight
}

// NewServer returns a Server for cfg.
func NewServer(cfg ServerConfig) (*Server, error) {
	switch {
	case cfg.Handler == nil:
		return nil, errors.New("protocol server: no handler")
	case cfg.Verifier == nil:
		return nil, errors.New("protocol server: no token verifier")
	case cfg.ApplicationKey == nil:
		return nil, errors.New("protocol server: no application key")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Decode.MaxValueSize <= 0 || int64(cfg.Decode.MaxValueSize) > cfg.MaxBodyBytes {
		// No value can be larger than the call that carries it.
		cfg.Decode.MaxValueSize = int(cfg.MaxBodyBytes)
	}
	if cfg.Decode.MaxHeaderSize <= 0 {
		cfg.Decode.MaxHeaderSize = DefaultMaxHeaderSize
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.PublicURL != "" {
		if err := checkPublicURL(cfg.PublicURL); err != nil {
			return nil, fmt.Errorf("protocol server: %w", err)
		}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, calls: make(chan struct{}, cfg.MaxCalls)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// errBodyTooLarge is returned by a limitedReader past its limit.
var errBodyTooLarge = errors.New("request body too large")

// limitedReader fails with errBodyTooLarge once more than max bytes have been read, and remembers that
// it did, and the first error of the reader below, because decoders may not wrap their reader's errors.
type limitedReader struct {
	r   io.Reader
	max int64
	n   int64
	hit bool
	err error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.hit {
		return 0, errBodyTooLarge
	}
	// Read one byte past the limit to tell "exactly max" from "more than max".
	if rest := l.max - l.n + 1; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if err != nil && err != io.EOF && l.err == nil {
		l.err = err
	}
	if l.n > l.max {
		l.hit = true
		return n - int(l.n-l.max), errBodyTooLarge
	}
	return n, err
}

// call is the per-request state for logging.
type call struct {
	op      Op
	tenant  string
	ok      bool
	reason  string
	status  int
	wireIn  *limitedReader
	plainIn *limitedReader
	rc      *http.ResponseController
	// verified says the token was verified: from then on the call has ReadTimeout to arrive.
	verified bool
	// headerTooLarge says the SOAP header went over Decode.MaxHeaderSize.
	headerTooLarge bool
	// busy says every call slot was taken when the token had been verified.
	busy bool
}

func (c *call) tooLarge() bool {
	return c.wireIn.hit || (c.plainIn != nil && c.plainIn.hit)
}

// timedOut reports whether reading the body ran into the connection's read deadline.
func (c *call) timedOut() bool {
	return errors.Is(c.wireIn.err, os.ErrDeadlineExceeded)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if wantsWSDL(r) {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			doc := WSDL(s.serviceURL(r))
			w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
			if r.Method == http.MethodGet {
				_, _ = w.Write(doc)
			}
			return
		}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, GET")
		http.Error(w, "mirroring service: POST a SOAP request, or GET ?wsdl", http.StatusMethodNotAllowed)
		return
	}

	start := time.Now()
	c := &call{wireIn: &limitedReader{r: r.Body, max: s.cfg.MaxBodyBytes}, rc: http.NewResponseController(w)}
	defer func() {
		s.logCall(r, c, time.Since(start))
	}()

	if r.ContentLength > s.cfg.MaxBodyBytes {
		c.wireIn.hit = true
		s.writeRefusal(w, c)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "text/xml" || mt == "application/xml" || strings.HasSuffix(mt, "+xml")) {
			c.status, c.reason = http.StatusUnsupportedMediaType, "content type "+quoteClip(ct, 60)
			http.Error(w, "mirroring service: Content-Type must be text/xml", http.StatusUnsupportedMediaType)
			return
		}
	}
	body, err := decompress(r.Header.Get("Content-Encoding"), c.wireIn)
	if err != nil {
		if s.writeRefusal(w, c) {
			return
		}
		c.status, c.reason = http.StatusUnsupportedMediaType, err.Error()
		http.Error(w, "mirroring service: "+err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	if body != io.Reader(c.wireIn) {
		c.plainIn = &limitedReader{r: body, max: s.cfg.MaxBodyBytes}
		body = c.plainIn
	}

	var out bytes.Buffer
	status := s.serveSOAP(r, c, body, &out)
	if s.writeRefusal(w, c) {
		return
	}
	c.status = status
	if c.busy {
		w.Header().Set("Retry-After", busyRetryAfter)
	}
	s.writeXML(w, r, status, out.Bytes())
}

// serveSOAP decodes and carries out one call, writing the response envelope to out, and returns the
// HTTP status. A panic below it becomes a Server fault.
func (s *Server) serveSOAP(r *http.Request, c *call, body io.Reader, out *bytes.Buffer) (status int) {
	dec := NewRequestDecoder(body, s.cfg.Decode)
	// Closing removes RowData spool files whatever happened, including a panic in the handler.
	defer func() {
		if err := dec.Close(); err != nil {
			s.log.Warn("mirroring: closing request decoder", "op", c.op.String(), "error", err)
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("mirroring: panic in call", "op", c.op.String(), "tenant", c.tenant,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			c.ok, c.reason = false, "panic"
			out.Reset()
			status = s.fault(out, "s:Server", "internal error")
		}
	}()

	hdr, err := dec.ReadHeader()
	if err != nil {
		c.headerTooLarge = errors.Is(err, ErrHeaderTooLarge)
		return s.clientFault(out, c, err)
	}
	c.op = hdr.Op
	if action := strings.Trim(strings.TrimSpace(r.Header.Get("SOAPAction")), `"`); action != "" {
		aop, ok := OpFromSOAPAction(action)
		if !ok {
			c.reason = "unknown SOAPAction"
			return s.fault(out, "s:Client", "unknown SOAPAction "+quoteClip(action, 200))
		}
		if aop != hdr.Op {
			c.reason = "SOAPAction mismatch"
			return s.fault(out, "s:Client", fmt.Sprintf("SOAPAction names %s but the body holds %sRequest", aop, hdr.Op))
		}
	}

	claims, err := s.cfg.Verifier.Verify(hdr.SignedToken)
	if err == nil && hdr.Op == OpAuthenticate && claims.Nonce == "" {
		err = errors.New("token has no nonce")
	}
	if err != nil {
		c.reason = "authentication failed: " + err.Error()
		return s.respond(out, failed(hdr.Op, s.authenticateShape(""), c.reason))
	}
	c.tenant = claims.Tenant
	// A call takes one of the MaxCalls slots only once its token is verified: before that, a caller is
	// bounded by max_connections and the header deadline, and unauthenticated traffic cannot keep
	// SuperOffice's calls out.
	select {
	case s.calls <- struct{}{}:
		defer func() { <-s.calls }()
	default:
		c.busy, c.reason = true, "too many calls in flight"
		s.fault(out, "s:Server", fmt.Sprintf("the service is busy (%d calls in flight); retry later", s.cfg.MaxCalls))
		return http.StatusServiceUnavailable
	}
	s.allowBody(c)
	ctx := r.Context()

	var resp Response
	switch hdr.Op {
	case OpAuthenticate:
		req, err := dec.Authenticate()
		if err != nil {
			return s.clientFault(out, c, err)
		}
		resp = s.authenticate(ctx, c, claims, req)
	case OpTableSchema:
		req, err := dec.TableSchema()
		if err != nil {
			return s.clientFault(out, c, err)
		}
		lsns, err := s.cfg.Handler.TableSchema(ctx, contract.Call{Tenant: claims.Tenant, ClientState: req.ClientState}, req.Tables)
		if err != nil {
			lsns = nil // a failed call reports no LSNs, whatever the handler left in them
		}
		resp = TableSchemaResponse{IsSuccessful: err == nil, ErrorMessage: c.handlerError(err), MirrorLSN: lsns}
	case OpWipe:
		req, err := dec.Wipe()
		if err != nil {
			return s.clientFault(out, c, err)
		}
		err = s.cfg.Handler.Wipe(ctx, contract.Call{Tenant: claims.Tenant, ClientState: req.ClientState}, req.TableName)
		resp = WipeResponse{IsSuccessful: err == nil, ErrorMessage: c.handlerError(err)}
	case OpRowData:
		req, err := dec.RowData()
		if err != nil {
			return s.clientFault(out, c, err)
		}
		err = s.cfg.Handler.RowData(ctx, contract.Call{Tenant: claims.Tenant, ClientState: req.ClientState}, req.Batches)
		resp = RowDataResponse{IsSuccessful: err == nil, ErrorMessage: c.handlerError(err)}
	case OpReplicationCompleted:
		req, err := dec.ReplicationCompleted()
		if err != nil {
			return s.clientFault(out, c, err)
		}
		err = s.cfg.Handler.ReplicationCompleted(ctx, contract.Call{Tenant: claims.Tenant, ClientState: req.ClientState}, req.ChangedTables)
		resp = ReplicationCompletedResponse{IsSuccessful: err == nil, ErrorMessage: c.handlerError(err)}
	default:
		// ReadHeader only returns known operations; this guards against a future one.
		c.reason = "unsupported operation"
		return s.fault(out, "s:Client", "unsupported operation "+hdr.Op.String())
	}
	if c.reason == "" {
		c.ok = true
	}
	return s.respond(out, resp)
}

// allowBody gives a call whose token has been verified ReadTimeout for the rest of its body, in place
// of the http.Server's short deadline for unauthenticated input.
func (s *Server) allowBody(c *call) {
	c.verified = true
	err := c.rc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.Warn("mirroring: extending the read deadline", "op", c.op.String(), "error", err)
	}
}

// authenticate answers Authenticate: the engine's verdict plus our signature over the token's nonce.
func (s *Server) authenticate(ctx context.Context, c *call, claims Claims, req AuthenticateRequest) AuthenticateResponse {
	resp := s.authenticateShape(req.ClientState)
	res, err := s.cfg.Handler.Authenticate(ctx, contract.Call{Tenant: claims.Tenant, ClientState: req.ClientState})
	if err != nil {
		resp.ErrorMessage = c.handlerError(err)
		return resp
	}
	tok, err := SignNonce(s.cfg.ApplicationKey, claims.Nonce, s.now())
	if err != nil {
		s.log.Error("mirroring: signing the application token", "error", err)
		resp.ErrorMessage = c.handlerError(errors.New("cannot sign the application token"))
		return resp
	}
	resp.IsSuccessful = true
	resp.SignedApplicationToken = tok
	if res.DoNotReplicate {
		resp.AdditionalInformationJson = `{"doNotReplicate":"true"}`
	}
	return resp
}

// authenticateShape is the part of an Authenticate answer that does not depend on the outcome.
func (s *Server) authenticateShape(clientState string) AuthenticateResponse {
	return AuthenticateResponse{SupportedInterfaces: "1", SuperOfficeMirroringBuild: s.cfg.Build, ClientState: clientState}
}

// failed is op's response with IsSuccessful=false and msg. auth is used for Authenticate.
func failed(op Op, auth AuthenticateResponse, msg string) Response {
	msg = cutMessage(msg, maxErrorMessage)
	switch op {
	case OpAuthenticate:
		auth.ErrorMessage = msg
		return auth
	case OpTableSchema:
		return TableSchemaResponse{ErrorMessage: msg}
	case OpWipe:
		return WipeResponse{ErrorMessage: msg}
	case OpRowData:
		return RowDataResponse{ErrorMessage: msg}
	default:
		return ReplicationCompletedResponse{ErrorMessage: msg}
	}
}

// handlerError records err as the call's failure and returns the ErrorMessage for it ("" for nil).
func (c *call) handlerError(err error) string {
	if err == nil {
		return ""
	}
	msg := cutMessage(err.Error(), maxErrorMessage)
	c.reason = msg
	var redacted contract.RedactedError
	if errors.As(err, &redacted) {
		c.reason = cutMessage(redacted.Redacted(), maxErrorMessage)
	}
	return msg
}

// cutMessage shortens s to at most n bytes without splitting a UTF-8 sequence.
func cutMessage(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (s *Server) respond(out *bytes.Buffer, resp Response) int {
	if err := EncodeResponse(out, resp); err != nil {
		// Encoding into memory fails only on a bug; the caller gets a fault rather than half a document.
		s.log.Error("mirroring: encoding response", "op", resp.Op().String(), "error", err)
		out.Reset()
		return s.fault(out, "s:Server", "internal error")
	}
	return http.StatusOK
}

// clientFault answers a request that could not be decoded.
func (s *Server) clientFault(out *bytes.Buffer, c *call, err error) int {
	msg := "malformed request: " + cutMessage(err.Error(), 300)
	if errors.Is(err, ErrNotSOAP) {
		msg = "the request body is not a SOAP 1.1 envelope"
	}
	c.reason = msg
	return s.fault(out, "s:Client", msg)
}

func (s *Server) fault(out *bytes.Buffer, code, msg string) int {
	if err := EncodeFault(out, code, msg); err != nil {
		s.log.Error("mirroring: encoding fault", "error", err)
		out.Reset()
	}
	return http.StatusInternalServerError
}

// writeRefusal answers a call whose body went over a limit or did not arrive in time, in place of
// whatever the decoder or the handler made of the cut-off body, and reports whether it did. The
// connection is closed, since the rest of the body is not read.
func (s *Server) writeRefusal(w http.ResponseWriter, c *call) bool {
	var msg string
	switch {
	case c.tooLarge():
		c.status, c.reason = http.StatusRequestEntityTooLarge, "body over the limit"
		msg = fmt.Sprintf("request body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes)
	case c.headerTooLarge:
		c.status, c.reason = http.StatusRequestEntityTooLarge, "SOAP header over the limit"
		msg = fmt.Sprintf("the SOAP header exceeds the limit of %d bytes", s.cfg.Decode.MaxHeaderSize)
	case c.timedOut() && c.verified:
		c.status, c.reason = http.StatusRequestTimeout, "body not received within the read timeout"
		msg = fmt.Sprintf("the request body did not arrive within %s", s.cfg.ReadTimeout)
	case c.timedOut():
		c.status, c.reason = http.StatusRequestTimeout, "SOAP header not received in time"
		msg = "the request did not arrive in time: its token must be received within seconds"
	default:
		return false
	}
	w.Header().Set("Connection", "close")
	http.Error(w, "mirroring service: "+msg, c.status)
	return true
}

// writeXML sends an envelope, gzipped when it is large enough and the caller accepts gzip.
func (s *Server) writeXML(w http.ResponseWriter, r *http.Request, status int, doc []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	if len(doc) >= gzipResponseMin && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		if _, err := zw.Write(doc); err == nil && zw.Close() == nil {
			h.Set("Content-Encoding", "gzip")
			h.Add("Vary", "Accept-Encoding")
			doc = zb.Bytes()
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(status)
	_, _ = w.Write(doc)
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip (q=0 refuses it).
func acceptsGzip(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return !(q == "q=0" || strings.HasPrefix(q, "q=0.0") && strings.Trim(q[3:], "0.") == "")
	}
	return false
}

// decompress wraps body for its Content-Encoding: gzip, deflate (zlib, or raw DEFLATE as some clients
// send), or identity.
func decompress(encoding string, body io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			if errors.Is(err, errBodyTooLarge) {
				return nil, err
			}
			return nil, fmt.Errorf("bad gzip body: %w", err)
		}
		return zr, nil
	case "deflate":
		zr, err := decodeDeflate(body)
		if err != nil {
			return nil, fmt.Errorf("bad deflate body: %w", err)
		}
		return zr, nil
	}
	return nil, fmt.Errorf("unsupported Content-Encoding %s", quoteClip(encoding, 40))
}

func (s *Server) logCall(r *http.Request, c *call, d time.Duration) {
	op := "unknown"
	if c.op.valid() {
		op = c.op.String()
	}
	attrs := []any{
		"op", op, "tenant", c.tenant, "duration", d.Round(time.Microsecond),
		"success", c.ok, "status", c.status, "bytes", c.wireIn.n, "remote", r.RemoteAddr,
	}
	if c.plainIn != nil {
		attrs = append(attrs, "bytes_decompressed", c.plainIn.n)
	}
	if c.ok {
		s.log.Info("mirroring call", attrs...)
		return
	}
	if r.Context().Err() != nil {
		attrs = append(attrs, "canceled", true)
	}
	s.log.Warn("mirroring call failed", append(attrs, "reason", c.reason)...)
}

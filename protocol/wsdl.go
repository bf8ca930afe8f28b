package protocol

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// wsdlDocument is SuperOffice's published WSDL, unchanged. It is the self-contained ("Full") variant:
// the short one imports its types from http://localhost:9006, which no reader of ours could resolve.
//
//go:embed MirroringClientService.wsdl
var wsdlDocument []byte

// wsdlAddress is the service address in wsdlDocument, replaced with the URL the WSDL was fetched from.
const wsdlAddress = `location="https://localhost:44334/MirroringClientService.svc"`

// WSDL returns the service's WSDL with serviceURL as its soap:address.
func WSDL(serviceURL string) []byte {
	var esc bytes.Buffer
	// EscapeText also escapes quotes, so the value is safe inside the attribute. Writes to a
	// bytes.Buffer cannot fail.
	_ = xml.EscapeText(&esc, []byte(serviceURL))
	return bytes.Replace(wsdlDocument, []byte(wsdlAddress), []byte(`location="`+esc.String()+`"`), 1)
}

// wantsWSDL reports whether the request's query is "?wsdl" in any case (possibly with other parameters).
func wantsWSDL(r *http.Request) bool {
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		key, _, _ := strings.Cut(part, "=")
		if strings.EqualFold(key, "wsdl") {
			return true
		}
	}
	return false
}

// serviceURL is the address the WSDL gives for the service: the configured public URL; else, when the
// server trusts its proxy, the scheme and host the proxy says the caller used (X-Forwarded-Proto,
// X-Forwarded-Host); else the connection's scheme and the Host header. Only the first is right behind
// a proxy that changes the path.
func (s *Server) serviceURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.cfg.TrustProxy {
		if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(h) {
			host = h
		}
	}
	return scheme + "://" + host + r.URL.EscapedPath()
}

// firstValue is the first of a comma-separated header's values: the one the outermost proxy set.
func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// validHost reports whether h is a plausible host[:port]: letters, digits, dots, hyphens, and the
// colons and brackets of a port or an IPv6 address. It keeps a forwarded header from putting anything
// else into the WSDL.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-:[]", c) >= 0) {
			return false
		}
	}
	return true
}

// checkPublicURL validates a configured public URL: an absolute http or https URL with a host and
// without a query or fragment.
func checkPublicURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("public URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("public URL %q: want an absolute http(s) URL without user, query or fragment, e.g. https://mirror.example.com/mirroring", raw)
	}
	return nil
}

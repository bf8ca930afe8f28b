package protocol

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"net/http"
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

// requestURL is the address a caller used for r: scheme from the connection, host from the Host header.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

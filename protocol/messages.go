// Package protocol speaks SuperOffice's mirroring contract on the wire: SOAP 1.1 envelopes decoded as a
// stream by a purpose-built scanner, responses and faults encoded in the WSDL's element order, token
// validation, and the client side of the same contract.
package protocol

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mirrorsink/mirrorsink/contract"
)

// Namespaces of the mirroring contract. Elements are always matched by these URIs, never by prefix.
const (
	// NSSoapEnv is the SOAP 1.1 envelope namespace.
	NSSoapEnv = "http://schemas.xmlsoap.org/soap/envelope/"
	// NSService is the service namespace: operation elements, their fields and the SignedToken header.
	NSService = "http://www.superoffice.com/online/mirroring/0.1"
	// NSContract is the data contract namespace (TableSchemaInfo, RowDataBatch, ...).
	NSContract = "http://schemas.datacontract.org/2004/07/SuperOffice.Online.Mirroring.Contract.V1"
	// NSArrays is the namespace of the string arrays that carry ColumnValues.
	NSArrays = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
	// NSXSI is the XML Schema instance namespace, home of the nil attribute.
	NSXSI = "http://www.w3.org/2001/XMLSchema-instance"
)

// soapActionPrefix precedes the operation name in a SOAPAction header.
const soapActionPrefix = "http://www.superoffice.com/online/mirroring/0.1/IMirroringClientService/"

// Op identifies one of the five operations.
type Op uint8

// The five operations, in the order SuperOffice calls them in a cycle.
const (
	OpAuthenticate Op = iota + 1
	OpTableSchema
	OpRowData
	OpWipe
	OpReplicationCompleted
)

var opNames = [...]string{
	OpAuthenticate:         "Authenticate",
	OpTableSchema:          "TableSchema",
	OpRowData:              "RowData",
	OpWipe:                 "Wipe",
	OpReplicationCompleted: "ReplicationCompleted",
}

// String returns the operation's name as it appears in the WSDL, e.g. "Authenticate".
func (o Op) String() string {
	if o.valid() {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

func (o Op) valid() bool { return o >= OpAuthenticate && o <= OpReplicationCompleted }

// requestElement is the local name of the operation's request body element.
func (o Op) requestElement() string { return o.String() + "Request" }

// responseElement is the local name of the operation's response body element.
func (o Op) responseElement() string { return o.String() + "Response" }

// SOAPAction returns the quoted SOAPAction header value for requests of this operation.
func (o Op) SOAPAction() string { return `"` + soapActionPrefix + o.String() + `"` }

// OpFromSOAPAction maps a SOAPAction header value, quoted or not, to its operation.
func OpFromSOAPAction(action string) (Op, bool) {
	a := strings.TrimSpace(action)
	if len(a) >= 2 && a[0] == '"' && a[len(a)-1] == '"' {
		a = a[1 : len(a)-1]
	}
	name, ok := strings.CutPrefix(a, soapActionPrefix)
	if !ok {
		return 0, false
	}
	return opByName(name)
}

func opByName(name string) (Op, bool) {
	for o := OpAuthenticate; o <= OpReplicationCompleted; o++ {
		if opNames[o] == name {
			return o, true
		}
	}
	return 0, false
}

// opByRequestElement maps the local name of a body element to its operation.
func opByRequestElement(local []byte) (Op, bool) {
	name, ok := strings.CutSuffix(string(local), "Request")
	if !ok {
		return 0, false
	}
	return opByName(name)
}

// Header is what ReadHeader learns before the operation's fields: which operation the body carries
// and the SignedToken header's text.
type Header struct {
	// Op is the operation named by the body's element.
	Op Op
	// SignedToken is the JWT of the SignedToken header, whitespace-trimmed.
	SignedToken string
}

// AuthenticateRequest is the body of an Authenticate call.
type AuthenticateRequest struct {
	ClientState string
}

// TableSchemaRequest is the body of a TableSchema call: every table SuperOffice mirrors.
type TableSchemaRequest struct {
	ClientState string
	Tables      []contract.TableSchema
}

// WipeRequest is the body of a Wipe call.
type WipeRequest struct {
	ClientState string
	TableName   string
}

// RowDataRequest is the body of a RowData call. Batches decodes lazily from the request stream, so it
// is valid only until the RequestDecoder is closed.
type RowDataRequest struct {
	ClientState string
	Batches     contract.Batches
}

// ReplicationCompletedRequest is the body of a ReplicationCompleted call.
type ReplicationCompletedRequest struct {
	ClientState   string
	ChangedTables []contract.Summary
}

// Op reports OpAuthenticate.
func (AuthenticateRequest) Op() Op { return OpAuthenticate }

// Op reports OpTableSchema.
func (TableSchemaRequest) Op() Op { return OpTableSchema }

// Op reports OpWipe.
func (WipeRequest) Op() Op { return OpWipe }

// Op reports OpRowData.
func (RowDataRequest) Op() Op { return OpRowData }

// Op reports OpReplicationCompleted.
func (ReplicationCompletedRequest) Op() Op { return OpReplicationCompleted }

// AuthenticateResponse answers Authenticate. Fields are encoded in this (the WSDL's) order.
type AuthenticateResponse struct {
	IsSuccessful              bool
	ErrorMessage              string
	SignedApplicationToken    string
	SupportedInterfaces       string
	SuperOfficeMirroringBuild string
	ClientState               string
	AdditionalInformationJson string
}

// TableSchemaResponse answers TableSchema with the mirror's LSN of every requested table.
type TableSchemaResponse struct {
	IsSuccessful bool
	ErrorMessage string
	MirrorLSN    []contract.TableLSN
}

// RowDataResponse answers RowData.
type RowDataResponse struct {
	IsSuccessful bool
	ErrorMessage string
}

// WipeResponse answers Wipe.
type WipeResponse struct {
	IsSuccessful bool
	ErrorMessage string
}

// ReplicationCompletedResponse answers ReplicationCompleted.
type ReplicationCompletedResponse struct {
	IsSuccessful bool
	ErrorMessage string
}

// Op reports OpAuthenticate.
func (AuthenticateResponse) Op() Op { return OpAuthenticate }

// Op reports OpTableSchema.
func (TableSchemaResponse) Op() Op { return OpTableSchema }

// Op reports OpRowData.
func (RowDataResponse) Op() Op { return OpRowData }

// Op reports OpWipe.
func (WipeResponse) Op() Op { return OpWipe }

// Op reports OpReplicationCompleted.
func (ReplicationCompletedResponse) Op() Op { return OpReplicationCompleted }

// Response is one of the five response types (as a value or a pointer).
type Response interface{ Op() Op }

// Request is one of the request types that EncodeRequest writes whole: AuthenticateRequest,
// TableSchemaRequest, WipeRequest and ReplicationCompletedRequest. RowData goes through RowDataEncoder.
type Request interface{ Op() Op }

// FaultError is a SOAP 1.1 Fault received in place of a response.
type FaultError struct {
	// Code is the faultcode text as sent, e.g. "s:Client".
	Code string
	// Message is the faultstring text.
	Message string
}

// Error describes the fault.
func (e *FaultError) Error() string {
	return fmt.Sprintf("protocol: SOAP fault %s: %s", e.Code, e.Message)
}

// ErrNotSOAP reports a body that is not a SOAP envelope at all (not XML, or another root element).
// A server answers it with a Fault and HTTP 500.
var ErrNotSOAP = errors.New("not a SOAP envelope")

// DecodeError is a failure to decode a request or response: what was wrong and where.
type DecodeError struct {
	// Offset is the byte offset in the stream at which the problem was found.
	Offset int64
	// Msg says what was expected and what was found.
	Msg string
	// Err is an underlying cause, if any (ErrNotSOAP, an I/O error, a spool error).
	Err error
}

// Error describes the failure with its byte offset.
func (e *DecodeError) Error() string {
	s := fmt.Sprintf("protocol: decode: %s (at byte %d)", e.Msg, e.Offset)
	if e.Err != nil && e.Err != ErrNotSOAP {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *DecodeError) Unwrap() error { return e.Err }

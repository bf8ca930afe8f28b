package protocol

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/contract"
)

// Encoding writes the shapes WCF writes (and the captured samples show): the envelope prefix s:, the
// service namespace as the default namespace of the operation element, a: for the data contract, b: for
// string arrays, i: for xsi, h: for the SignedToken header, and empty strings as <X/>.
//
// Text is escaped the way WCF escapes it: & < > as entities, and every character below 0x20 other than
// tab and newline (also \r, which XML would otherwise normalize away) as a hexadecimal character
// reference such as &#x1; or &#x0;, which our decoder accepts. Invalid UTF-8 cannot be represented in
// XML at all: each invalid byte is written as U+FFFD, so that the document stays well-formed.

const (
	envelopeOpen  = `<s:Envelope xmlns:s="` + NSSoapEnv + `">`
	envelopeClose = `</s:Body></s:Envelope>`
	contractAttrs = ` xmlns:a="` + NSContract + `" xmlns:i="` + NSXSI + `"`
)

// xmlWriter accumulates the first write error, so that encoders can check once at the end.
type xmlWriter struct {
	w   *bufio.Writer
	err error
}

func newXMLWriter(w io.Writer) *xmlWriter {
	return &xmlWriter{w: bufio.NewWriterSize(w, 32<<10)}
}

func (x *xmlWriter) raw(s string) {
	if x.err == nil {
		_, x.err = x.w.WriteString(s)
	}
}

// escapeNeeded marks the bytes that escapeText must look at.
var escapeNeeded = func() (t [256]bool) {
	for i := 0; i < 0x20; i++ {
		t[i] = i != '\t' && i != '\n'
	}
	t['&'], t['<'], t['>'] = true, true, true
	for i := utf8.RuneSelf; i < 256; i++ {
		t[i] = true
	}
	return
}()

const hexDigits = "0123456789ABCDEF"

// text writes s escaped as element content.
func (x *xmlWriter) text(s []byte) {
	if x.err != nil {
		return
	}
	w := x.w
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if !escapeNeeded[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size > 1 {
				i += size
				continue
			}
		}
		w.Write(s[last:i])
		switch {
		case c == '&':
			w.WriteString("&amp;")
		case c == '<':
			w.WriteString("&lt;")
		case c == '>':
			w.WriteString("&gt;")
		case c < 0x20:
			w.WriteString("&#x")
			if c >= 0x10 {
				w.WriteByte(hexDigits[c>>4])
			}
			w.WriteByte(hexDigits[c&0xF])
			w.WriteByte(';')
		default: // an invalid UTF-8 byte
			w.WriteString("\uFFFD")
		}
		i++
		last = i
	}
	_, x.err = w.Write(s[last:])
}

func (x *xmlWriter) textString(s string) {
	// The conversion does not escape for short strings, and field values are short.
	x.text([]byte(s))
}

// field writes <name>value</name>, or <name/> for an empty value.
func (x *xmlWriter) field(name, value string) {
	if value == "" {
		x.raw("<" + name + "/>")
		return
	}
	x.raw("<" + name + ">")
	x.textString(value)
	x.raw("</" + name + ">")
}

func (x *xmlWriter) boolField(name string, v bool) {
	x.raw("<" + name + ">" + strconv.FormatBool(v) + "</" + name + ">")
}

func (x *xmlWriter) intField(name string, v int64) {
	x.raw("<" + name + ">" + strconv.FormatInt(v, 10) + "</" + name + ">")
}

func (x *xmlWriter) flush() error {
	if x.err == nil {
		x.err = x.w.Flush()
	}
	return x.err
}

// EncodeResponse writes a response envelope, fields in the WSDL's order. r may be a value or a pointer.
func EncodeResponse(w io.Writer, r Response) error {
	if r == nil {
		return errors.New("protocol: encode response: nil response")
	}
	x := newXMLWriter(w)
	name := r.Op().responseElement()
	x.raw(envelopeOpen + `<s:Body><` + name + ` xmlns="` + NSService + `">`)
	switch v := r.(type) {
	case AuthenticateResponse:
		encodeAuthenticate(x, &v)
	case *AuthenticateResponse:
		encodeAuthenticate(x, v)
	case TableSchemaResponse:
		encodeTableSchema(x, &v)
	case *TableSchemaResponse:
		encodeTableSchema(x, v)
	case RowDataResponse:
		encodeResult(x, v.IsSuccessful, v.ErrorMessage)
	case *RowDataResponse:
		encodeResult(x, v.IsSuccessful, v.ErrorMessage)
	case WipeResponse:
		encodeResult(x, v.IsSuccessful, v.ErrorMessage)
	case *WipeResponse:
		encodeResult(x, v.IsSuccessful, v.ErrorMessage)
	case ReplicationCompletedResponse:
		encodeResult(x, v.IsSuccessful, v.ErrorMessage)
	case *ReplicationCompletedResponse:
		encodeResult(x, v.IsSuccessful, v.ErrorMessage)
	default:
		return fmt.Errorf("protocol: encode response: unsupported type %T", r)
	}
	x.raw(`</` + name + `>` + envelopeClose)
	if err := x.flush(); err != nil {
		return fmt.Errorf("protocol: encode %s: %w", name, err)
	}
	return nil
}

func encodeResult(x *xmlWriter, ok bool, msg string) {
	x.boolField("IsSuccessful", ok)
	x.field("ErrorMessage", msg)
}

func encodeAuthenticate(x *xmlWriter, r *AuthenticateResponse) {
	encodeResult(x, r.IsSuccessful, r.ErrorMessage)
	x.field("SignedApplicationToken", r.SignedApplicationToken)
	x.field("SupportedInterfaces", r.SupportedInterfaces)
	x.field("SuperOfficeMirroringBuild", r.SuperOfficeMirroringBuild)
	x.field("ClientState", r.ClientState)
	x.field("AdditionalInformationJson", r.AdditionalInformationJson)
}

func encodeTableSchema(x *xmlWriter, r *TableSchemaResponse) {
	encodeResult(x, r.IsSuccessful, r.ErrorMessage)
	if len(r.MirrorLSN) == 0 {
		x.raw(`<MirrorLSN` + contractAttrs + `/>`)
		return
	}
	x.raw(`<MirrorLSN` + contractAttrs + `>`)
	for _, l := range r.MirrorLSN {
		x.raw(`<a:TableLSN>`)
		x.intField("a:LSN", l.LSN)
		x.field("a:TableName", l.Table)
		x.raw(`</a:TableLSN>`)
	}
	x.raw(`</MirrorLSN>`)
}

// EncodeFault writes a SOAP 1.1 Fault. faultCode is a qualified name in the envelope namespace such as
// "s:Client" or "s:Server".
func EncodeFault(w io.Writer, faultCode, faultString string) error {
	x := newXMLWriter(w)
	x.raw(envelopeOpen + `<s:Body><s:Fault>`)
	x.field("faultcode", faultCode)
	x.raw(`<faultstring xml:lang="en-US">`)
	x.textString(faultString)
	x.raw(`</faultstring></s:Fault>` + envelopeClose)
	if err := x.flush(); err != nil {
		return fmt.Errorf("protocol: encode fault: %w", err)
	}
	return nil
}

// requestOpen writes the envelope, the SignedToken header and the operation element's start tag.
func requestOpen(x *xmlWriter, token string, op Op) {
	x.raw(envelopeOpen + `<s:Header><h:SignedToken s:mustUnderstand="1" xmlns:h="` + NSService + `">`)
	x.textString(token)
	x.raw(`</h:SignedToken></s:Header><s:Body><` + op.requestElement() + ` xmlns="` + NSService + `">`)
}

func requestClose(x *xmlWriter, op Op) {
	x.raw(`</` + op.requestElement() + `>` + envelopeClose)
}

// EncodeRequest writes a whole request envelope with its SignedToken header, shaped like the requests
// SuperOffice sends. RowData requests are written with a RowDataEncoder instead.
func EncodeRequest(w io.Writer, token string, r Request) error {
	if r == nil {
		return errors.New("protocol: encode request: nil request")
	}
	x := newXMLWriter(w)
	op := r.Op()
	switch v := r.(type) {
	case AuthenticateRequest:
		requestOpen(x, token, op)
		x.field("ClientState", v.ClientState)
	case *AuthenticateRequest:
		requestOpen(x, token, op)
		x.field("ClientState", v.ClientState)
	case TableSchemaRequest:
		requestOpen(x, token, op)
		encodeTables(x, &v)
	case *TableSchemaRequest:
		requestOpen(x, token, op)
		encodeTables(x, v)
	case WipeRequest:
		requestOpen(x, token, op)
		x.field("ClientState", v.ClientState)
		x.field("TableName", v.TableName)
	case *WipeRequest:
		requestOpen(x, token, op)
		x.field("ClientState", v.ClientState)
		x.field("TableName", v.TableName)
	case ReplicationCompletedRequest:
		requestOpen(x, token, op)
		encodeCompleted(x, &v)
	case *ReplicationCompletedRequest:
		requestOpen(x, token, op)
		encodeCompleted(x, v)
	default:
		return fmt.Errorf("protocol: encode request: unsupported type %T (RowData goes through RowDataEncoder)", r)
	}
	requestClose(x, op)
	if err := x.flush(); err != nil {
		return fmt.Errorf("protocol: encode %s: %w", op.requestElement(), err)
	}
	return nil
}

func encodeTables(x *xmlWriter, r *TableSchemaRequest) {
	x.field("ClientState", r.ClientState)
	if len(r.Tables) == 0 {
		x.raw(`<Tables` + contractAttrs + `/>`)
		return
	}
	x.raw(`<Tables` + contractAttrs + `>`)
	for i := range r.Tables {
		x.raw(`<a:TableSchemaInfo>`)
		encodeTableBody(x, &r.Tables[i])
		x.raw(`</a:TableSchemaInfo>`)
	}
	x.raw(`</Tables>`)
}

// encodeTableBody writes the Columns and TableName of a TableSchemaInfo or TableInfo.
func encodeTableBody(x *xmlWriter, t *contract.TableSchema) {
	x.raw(`<a:Columns>`)
	for _, c := range t.Columns {
		x.raw(`<a:ColumnInfo>`)
		x.field("a:DefaultValue", c.DefaultValue)
		x.boolField("a:IsNullable", c.IsNullable)
		x.field("a:Name", c.Name)
		x.field("a:Type", c.Type)
		x.raw(`</a:ColumnInfo>`)
	}
	x.raw(`</a:Columns>`)
	x.field("a:TableName", t.Name)
}

func encodeCompleted(x *xmlWriter, r *ReplicationCompletedRequest) {
	x.field("ClientState", r.ClientState)
	if len(r.ChangedTables) == 0 {
		x.raw(`<ChangedTables` + contractAttrs + `/>`)
		return
	}
	x.raw(`<ChangedTables` + contractAttrs + `>`)
	for _, s := range r.ChangedTables {
		x.raw(`<a:ReplicationSummary>`)
		x.intField("a:Deletes", int64(s.Deletes))
		x.intField("a:Inserts", int64(s.Inserts))
		x.field("a:TableName", s.Table)
		x.intField("a:Updates", int64(s.Updates))
		x.raw(`</a:ReplicationSummary>`)
	}
	x.raw(`</ChangedTables>`)
}

// RowDataEncoder streams a RowData request: BeginBatch, Row for each row, EndBatch, and Close.
type RowDataEncoder struct {
	x       *xmlWriter
	inBatch bool
	closed  bool
}

// NewRowDataEncoder writes the envelope's start, the header and the ClientState to w.
func NewRowDataEncoder(w io.Writer, token, clientState string) *RowDataEncoder {
	x := newXMLWriter(w)
	requestOpen(x, token, OpRowData)
	x.field("ClientState", clientState)
	x.raw(`<DataBatches` + contractAttrs + `>`)
	return &RowDataEncoder{x: x}
}

// BeginBatch starts a RowDataBatch and its Data.
func (e *RowDataEncoder) BeginBatch() error {
	if e.closed || e.inBatch {
		return errors.New("protocol: RowDataEncoder: BeginBatch out of order")
	}
	e.inBatch = true
	e.x.raw(`<a:RowDataBatch><a:Data>`)
	return e.x.err
}

// Row writes one RowData: its ColumnValues, then its Operation (the WSDL's order).
func (e *RowDataEncoder) Row(op contract.Operation, values []contract.Value) error {
	if !e.inBatch {
		return errors.New("protocol: RowDataEncoder: Row outside a batch")
	}
	x := e.x
	x.raw(`<a:RowData><a:ColumnValues xmlns:b="` + NSArrays + `">`)
	for _, v := range values {
		switch {
		case v.Null:
			x.raw(`<b:string i:nil="true"/>`)
		case len(v.Text) == 0:
			x.raw(`<b:string/>`)
		default:
			x.raw(`<b:string>`)
			x.text(v.Text)
			x.raw(`</b:string>`)
		}
	}
	x.raw(`</a:ColumnValues><a:Operation>`)
	x.raw(string(rune(op)))
	x.raw(`</a:Operation></a:RowData>`)
	return x.err
}

// EndBatch closes the batch's Data and writes its LSN and TableInfo, in the WSDL's order.
func (e *RowDataEncoder) EndBatch(lsn int64, table contract.TableSchema) error {
	if !e.inBatch {
		return errors.New("protocol: RowDataEncoder: EndBatch without BeginBatch")
	}
	e.inBatch = false
	x := e.x
	x.raw(`</a:Data>`)
	x.intField("a:LSN", lsn)
	x.raw(`<a:TableInfo>`)
	encodeTableBody(x, &table)
	x.raw(`</a:TableInfo></a:RowDataBatch>`)
	return x.err
}

// Close ends the envelope and flushes; it does not close the underlying writer.
func (e *RowDataEncoder) Close() error {
	if e.closed {
		return e.x.err
	}
	if e.inBatch {
		return errors.New("protocol: RowDataEncoder: Close inside a batch")
	}
	e.closed = true
	e.x.raw(`</DataBatches>`)
	requestClose(e.x, OpRowData)
	if err := e.x.flush(); err != nil {
		return fmt.Errorf("protocol: encode RowDataRequest: %w", err)
	}
	return nil
}

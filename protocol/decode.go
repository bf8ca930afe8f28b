package protocol

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mirrorsink/mirrorsink/contract"
)

// DecodeOptions tune a RequestDecoder.
type DecodeOptions struct {
	// SpoolMemory is how many bytes of one batch's rows are kept in memory before they spill to a
	// temporary file (default 8 MiB).
	SpoolMemory int64
	// SpoolDir is where spill files go (default os.TempDir()); Close removes them.
	SpoolDir string
	// MaxValueSize bounds the text of any one element, e.g. a single column value (default 64 MiB).
	MaxValueSize int
	// MaxHeaderSize bounds the envelope up to and including the operation element's start tag, which
	// holds the SignedToken (default DefaultMaxHeaderSize). ReadHeader reads no further than this, so
	// the token is bounded before it is buffered, let alone verified.
	MaxHeaderSize int
}

// DefaultMaxHeaderSize is the default of DecodeOptions.MaxHeaderSize. SuperOffice's SOAP header is
// about 1.5 KB, its token about 1 KB.
const DefaultMaxHeaderSize = 16 << 10

// ErrHeaderTooLarge reports a request whose SOAP header exceeds DecodeOptions.MaxHeaderSize.
var ErrHeaderTooLarge = errors.New("SOAP header too large")

// maxNameLength is the longest table or column name accepted. SQL Server's identifiers (sysname) have
// at most 128 characters, so no longer name can come from SuperOffice's database; refusing one at the
// wire keeps junk names away from the engine and its per-table state.
const maxNameLength = 128

// RequestDecoder decodes one request envelope as a stream: ReadHeader first, then exactly the method
// that matches Header.Op, then Close.
type RequestDecoder struct {
	s     *scanner
	opts  DecodeOptions
	hdr   Header
	state decState
	sp    *spool
	err   error
}

type decState uint8

const (
	stateFresh decState = iota
	stateHeader
	stateBody
	stateDone
)

// NewRequestDecoder returns a decoder reading r. It buffers r itself.
func NewRequestDecoder(r io.Reader, opts DecodeOptions) *RequestDecoder {
	s := newScanner(r)
	if opts.MaxValueSize > 0 {
		s.maxText = opts.MaxValueSize
	}
	if opts.MaxHeaderSize <= 0 {
		opts.MaxHeaderSize = DefaultMaxHeaderSize
	}
	return &RequestDecoder{s: s, opts: opts}
}

// elemDecoder holds the element-level reading shared by requests and responses.
type elemDecoder struct{ s *scanner }

func (d elemDecoder) errorf(format string, args ...any) error {
	return &DecodeError{Offset: d.s.tokOff, Msg: fmt.Sprintf(format, args...)}
}

// wrap turns a scanner failure into a DecodeError.
func (d elemDecoder) wrap(err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	if se, ok := isScanError(err); ok {
		return &DecodeError{Offset: se.off, Msg: "malformed XML: " + se.msg}
	}
	if err == io.EOF {
		return &DecodeError{Offset: d.s.offset(), Msg: "unexpected end of input"}
	}
	return &DecodeError{Offset: d.s.offset(), Msg: "reading", Err: err}
}

// next returns the next start or end element, skipping whitespace between elements. Other text where
// only elements belong is an error.
func (d elemDecoder) next() (tokenKind, error) {
	for {
		k, err := d.s.next()
		if err != nil {
			return tokNone, d.wrap(err)
		}
		if k != tokText {
			return k, nil
		}
		if !blankText(d.s.text) {
			return tokNone, d.errorf("unexpected text %q where an element was expected", clipText(d.s.text, 40))
		}
	}
}

func blankText(b []byte) bool {
	for _, c := range b {
		if !isXMLSpace(c) {
			return false
		}
	}
	return true
}

func clipText(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// is reports whether the current token's element is space:local.
func (d elemDecoder) is(space, local string) bool {
	return d.s.space == space && string(d.s.local) == local
}

// elemName describes the current element for error messages.
func (d elemDecoder) elemName() string {
	if d.s.space == "" {
		return "<" + string(d.s.local) + ">"
	}
	return fmt.Sprintf("<%s> in namespace %q", d.s.local, d.s.space)
}

// skip consumes the rest of the element whose start tag was just read.
func (d elemDecoder) skip() error {
	for depth := 1; depth > 0; {
		k, err := d.s.next()
		if err != nil {
			return d.wrap(err)
		}
		switch k {
		case tokStart:
			depth++
		case tokEnd:
			depth--
		}
	}
	return nil
}

// text reads the content of a simple element whose start tag was just read. The bytes are valid until
// the next read.
func (d elemDecoder) text() (b []byte, isNil bool, err error) {
	isNil = d.s.isNil
	name := d.s.local
	k, err := d.s.next()
	if err != nil {
		return nil, false, d.wrap(err)
	}
	if k == tokText {
		if k, err = d.s.next(); err != nil {
			return nil, false, d.wrap(err)
		}
		// Read text only now: reading the end tag may have moved it out of the scanner's buffer.
		b = d.s.text
	}
	if k != tokEnd {
		return nil, false, d.errorf("unexpected element %s inside <%s>, which holds only text", d.elemName(), name)
	}
	if b == nil {
		b = []byte{}
	}
	return b, isNil && len(b) == 0, nil
}

func (d elemDecoder) str() (string, error) {
	b, _, err := d.text()
	return string(b), err
}

// name reads a table or column name; field names it in the error for one over maxNameLength.
func (d elemDecoder) name(field string) (string, error) {
	b, _, err := d.text()
	if err != nil {
		return "", err
	}
	if len(b) > maxNameLength && utf8.RuneCount(b) > maxNameLength {
		return "", d.errorf("%s is longer than %d characters", field, maxNameLength)
	}
	return string(b), nil
}

func (d elemDecoder) boolean() (bool, error) {
	b, _, err := d.text()
	if err != nil {
		return false, err
	}
	switch string(bytes.TrimSpace(b)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, d.errorf("invalid boolean %q", clipText(b, 20))
}

func (d elemDecoder) integer(bits int) (int64, error) {
	b, _, err := d.text()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, bits)
	if err != nil {
		return 0, d.errorf("invalid integer %q", clipText(b, 30))
	}
	return n, nil
}

// fields calls field for each child element of the current element until its end; field returns
// handled=false to have an unknown child skipped (the WSDL makes every field optional).
func (d elemDecoder) fields(field func() (handled bool, err error)) error {
	for {
		k, err := d.next()
		if err != nil {
			return err
		}
		if k == tokEnd {
			return nil
		}
		ok, err := field()
		if err != nil {
			return err
		}
		if !ok {
			if err := d.skip(); err != nil {
				return err
			}
		}
	}
}

// envelopeStart reads the Envelope start tag. A body that is not a SOAP envelope gives an error
// wrapping ErrNotSOAP.
func (d elemDecoder) envelopeStart() error {
	var k tokenKind
	var err error
	for {
		if k, err = d.s.next(); err != nil {
			break
		}
		// .NET writers may start with a byte order mark.
		if k != tokText || !blankText(bytes.TrimPrefix(d.s.text, []byte("\uFEFF"))) {
			break
		}
	}
	if err != nil {
		if err == io.EOF {
			return &DecodeError{Offset: d.s.offset(), Msg: "not a SOAP envelope: empty body", Err: ErrNotSOAP}
		}
		err = d.wrap(err)
		var de *DecodeError
		if errors.As(err, &de) && de.Err == nil {
			de.Err = ErrNotSOAP
			de.Msg = "not a SOAP envelope: " + de.Msg
		}
		return err
	}
	if k == tokText {
		return &DecodeError{Offset: d.s.tokOff, Msg: fmt.Sprintf("not a SOAP envelope: text %q before the root element", clipText(d.s.text, 40)), Err: ErrNotSOAP}
	}
	if !d.is(NSSoapEnv, "Envelope") {
		return &DecodeError{Offset: d.s.tokOff, Msg: "not a SOAP envelope: root element is " + d.elemName(), Err: ErrNotSOAP}
	}
	return nil
}

// finish checks that the envelope closes properly after the operation element: </Body>, </Envelope>
// and nothing but whitespace, comments or processing instructions after it.
func (d elemDecoder) finish() error {
	for _, want := range []string{"Body", "Envelope"} {
		k, err := d.next()
		if err != nil {
			return err
		}
		if k != tokEnd {
			return d.errorf("unexpected element %s, want the end of %s", d.elemName(), want)
		}
	}
	for {
		k, err := d.s.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return d.wrap(err)
		}
		if k == tokText && blankText(d.s.text) {
			continue
		}
		return d.errorf("unexpected content after the envelope")
	}
}

// ReadHeader reads the envelope up to and including the start tag of the body's operation element,
// reading no more than DecodeOptions.MaxHeaderSize bytes: a longer header fails with an error that
// wraps ErrHeaderTooLarge.
func (d *RequestDecoder) ReadHeader() (Header, error) {
	if d.state != stateFresh {
		return Header{}, errors.New("protocol: ReadHeader called twice")
	}
	d.state = stateHeader
	d.s.readLimit = int64(d.opts.MaxHeaderSize)
	hdr, err := d.readHeader()
	d.s.readLimit = 0
	if d.s.rerr == errReadLimit {
		if err == nil {
			// The header ended within the limit, yet a look-ahead ran into it (no operation's start
			// tag is short enough for today's scanner to do so): the body must still be readable.
			d.s.eof, d.s.rerr = false, nil
			return hdr, nil
		}
		// Whatever the scanner made of the cut-off input, the limit is the cause.
		err = &DecodeError{Offset: int64(d.opts.MaxHeaderSize),
			Msg: fmt.Sprintf("the SOAP header is longer than %d bytes", d.opts.MaxHeaderSize), Err: ErrHeaderTooLarge}
		d.err = err
	}
	return hdr, err
}

func (d *RequestDecoder) readHeader() (Header, error) {
	e := elemDecoder{d.s}
	if err := e.envelopeStart(); err != nil {
		return d.fail(err)
	}
	k, err := e.next()
	if err != nil {
		return d.fail(err)
	}
	if k != tokStart || !e.is(NSSoapEnv, "Header") {
		return d.fail(e.errorf("missing SOAP Header with the SignedToken: found %s", e.elemName()))
	}
	haveToken := false
	err = e.fields(func() (bool, error) {
		if !e.is(NSService, "SignedToken") {
			return false, nil
		}
		b, _, err := e.text()
		if err != nil {
			return true, err
		}
		d.hdr.SignedToken = strings.TrimSpace(string(b))
		haveToken = d.hdr.SignedToken != ""
		return true, nil
	})
	if err != nil {
		return d.fail(err)
	}
	if !haveToken {
		return d.fail(e.errorf("missing or empty SignedToken header"))
	}
	if k, err = e.next(); err != nil {
		return d.fail(err)
	}
	if k != tokStart || !e.is(NSSoapEnv, "Body") {
		return d.fail(e.errorf("expected SOAP Body, found %s", e.elemName()))
	}
	if k, err = e.next(); err != nil {
		return d.fail(err)
	}
	if k != tokStart {
		return d.fail(e.errorf("empty SOAP Body: no operation"))
	}
	op, ok := opByRequestElement(d.s.local)
	if !ok || d.s.space != NSService {
		return d.fail(e.errorf("unknown operation %s", e.elemName()))
	}
	d.hdr.Op = op
	return d.hdr, nil
}

func (d *RequestDecoder) fail(err error) (Header, error) {
	d.err = err
	d.state = stateDone
	return Header{}, err
}

// begin checks that the operation method called matches the body.
func (d *RequestDecoder) begin(op Op) error {
	if d.err != nil {
		return d.err
	}
	if d.state != stateHeader || d.hdr.Op == 0 {
		return errors.New("protocol: decode: ReadHeader must succeed first, and only one operation may be read")
	}
	d.state = stateBody
	if d.hdr.Op != op {
		d.err = &DecodeError{Offset: d.s.tokOff, Msg: fmt.Sprintf("wrong operation: the body holds %s, not %s", d.hdr.Op.requestElement(), op.requestElement())}
		return d.err
	}
	return nil
}

// end finishes the envelope after the operation element's end tag.
func (d *RequestDecoder) end(err error) error {
	if err == nil {
		err = elemDecoder{d.s}.finish()
	}
	d.state = stateDone
	if err != nil {
		d.err = err
	}
	return err
}

// Authenticate reads an Authenticate request's fields.
func (d *RequestDecoder) Authenticate() (AuthenticateRequest, error) {
	var req AuthenticateRequest
	if err := d.begin(OpAuthenticate); err != nil {
		return req, err
	}
	e := elemDecoder{d.s}
	err := e.fields(func() (bool, error) {
		if e.is(NSService, "ClientState") {
			var err error
			req.ClientState, err = e.str()
			return true, err
		}
		return false, nil
	})
	return req, d.end(err)
}

// Wipe reads a Wipe request's fields.
func (d *RequestDecoder) Wipe() (WipeRequest, error) {
	var req WipeRequest
	if err := d.begin(OpWipe); err != nil {
		return req, err
	}
	e := elemDecoder{d.s}
	err := e.fields(func() (bool, error) {
		var err error
		switch {
		case e.is(NSService, "ClientState"):
			req.ClientState, err = e.str()
		case e.is(NSService, "TableName"):
			req.TableName, err = e.name("TableName")
		default:
			return false, nil
		}
		return true, err
	})
	if err == nil && req.TableName == "" {
		err = e.errorf("WipeRequest has no TableName")
	}
	return req, d.end(err)
}

// TableSchema reads a TableSchema request with all its tables.
func (d *RequestDecoder) TableSchema() (TableSchemaRequest, error) {
	var req TableSchemaRequest
	if err := d.begin(OpTableSchema); err != nil {
		return req, err
	}
	e := elemDecoder{d.s}
	err := e.fields(func() (bool, error) {
		var err error
		switch {
		case e.is(NSService, "ClientState"):
			req.ClientState, err = e.str()
		case e.is(NSService, "Tables"):
			req.Tables, err = items(e, "TableSchemaInfo", e.tableSchemaInfo)
		default:
			return false, nil
		}
		return true, err
	})
	return req, d.end(err)
}

// items reads the elements named local (contract namespace) of an array element, parsing each with
// parse; other elements are skipped, as everywhere minOccurs allows.
func items[T any](e elemDecoder, local string, parse func() (T, error)) ([]T, error) {
	var out []T
	err := e.fields(func() (bool, error) {
		if !e.is(NSContract, local) {
			return false, nil
		}
		v, err := parse()
		out = append(out, v)
		return true, err
	})
	return out, err
}

// tableSchemaInfo reads a TableSchemaInfo (or a TableInfo, which has the same type).
func (e elemDecoder) tableSchemaInfo() (contract.TableSchema, error) {
	var t contract.TableSchema
	err := e.fields(func() (bool, error) {
		var err error
		switch {
		case e.is(NSContract, "TableName"):
			t.Name, err = e.name("TableName")
		case e.is(NSContract, "Columns"):
			t.Columns, err = items(e, "ColumnInfo", e.columnInfo)
		default:
			return false, nil
		}
		return true, err
	})
	if err == nil && t.Name == "" {
		err = e.errorf("table schema without TableName")
	}
	return t, err
}

func (e elemDecoder) columnInfo() (contract.Column, error) {
	var c contract.Column
	err := e.fields(func() (bool, error) {
		var err error
		switch {
		case e.is(NSContract, "DefaultValue"):
			c.DefaultValue, err = e.str()
		case e.is(NSContract, "IsNullable"):
			c.IsNullable, err = e.boolean()
		case e.is(NSContract, "Name"):
			c.Name, err = e.name("column Name")
		case e.is(NSContract, "Type"):
			c.Type, err = e.str()
		default:
			return false, nil
		}
		return true, err
	})
	if err == nil && (c.Name == "" || c.Type == "") {
		err = e.errorf("ColumnInfo without Name or Type")
	}
	return c, err
}

// ReplicationCompleted reads a ReplicationCompleted request.
func (d *RequestDecoder) ReplicationCompleted() (ReplicationCompletedRequest, error) {
	var req ReplicationCompletedRequest
	if err := d.begin(OpReplicationCompleted); err != nil {
		return req, err
	}
	e := elemDecoder{d.s}
	err := e.fields(func() (bool, error) {
		var err error
		switch {
		case e.is(NSService, "ClientState"):
			req.ClientState, err = e.str()
		case e.is(NSService, "ChangedTables"):
			req.ChangedTables, err = items(e, "ReplicationSummary", e.summary)
		default:
			return false, nil
		}
		return true, err
	})
	return req, d.end(err)
}

func (e elemDecoder) summary() (contract.Summary, error) {
	var s contract.Summary
	err := e.fields(func() (bool, error) {
		var err error
		var n int64
		switch {
		case e.is(NSContract, "TableName"):
			s.Table, err = e.name("TableName")
		case e.is(NSContract, "Deletes"):
			n, err = e.integer(32)
			s.Deletes = int32(n)
		case e.is(NSContract, "Inserts"):
			n, err = e.integer(32)
			s.Inserts = int32(n)
		case e.is(NSContract, "Updates"):
			n, err = e.integer(32)
			s.Updates = int32(n)
		default:
			return false, nil
		}
		return true, err
	})
	return s, err
}

// RowData reads a RowData request's ClientState; its batches are decoded lazily by Batches.Next.
func (d *RequestDecoder) RowData() (RowDataRequest, error) {
	var req RowDataRequest
	if err := d.begin(OpRowData); err != nil {
		return req, err
	}
	e := elemDecoder{d.s}
	b := &batchReader{d: d}
	req.Batches = b
	for {
		k, err := e.next()
		if err != nil {
			return req, d.end(err)
		}
		if k == tokEnd {
			// No DataBatches at all.
			b.done = true
			return req, d.end(nil)
		}
		switch {
		case e.is(NSService, "ClientState"):
			if req.ClientState, err = e.str(); err != nil {
				return req, d.end(err)
			}
		case e.is(NSService, "DataBatches"):
			return req, nil
		default:
			if err := e.skip(); err != nil {
				return req, d.end(err)
			}
		}
	}
}

// batchReader implements contract.BatchStreamer over the DataBatches element. A batch is read in
// steps, so that its rows can be handed out while they are decoded (Stream): begin reads up to the
// start of the batch's Data, nextRow spools one row of it, finish reads the rest.
type batchReader struct {
	d     *RequestDecoder
	n     int
	done  bool
	batch contract.Batch
	// The state of the batch being read: begun and not yet finished; its TableInfo has been read; the
	// read position is inside its Data; its end tag has been read.
	open, haveTable, inData, ended bool
	stream                         batchStream
}

var _ contract.BatchStreamer = (*batchReader)(nil)

// Next decodes the next RowDataBatch; after the last it checks that the envelope closes properly and
// returns io.EOF.
func (b *batchReader) Next(ctx context.Context) (*contract.Batch, error) {
	if err := b.begin(ctx); err != nil {
		return nil, err
	}
	return b.finish()
}

// Stream begins the next RowDataBatch and returns its rows as they are decoded; after the last batch
// it checks that the envelope closes properly and returns io.EOF.
func (b *batchReader) Stream(ctx context.Context) (contract.BatchStream, error) {
	if err := b.begin(ctx); err != nil {
		return nil, err
	}
	b.stream = batchStream{b: b, vals: b.stream.vals[:0]}
	return &b.stream, nil
}

// begin finds the next RowDataBatch and reads it up to the start of its Data.
func (b *batchReader) begin(ctx context.Context) error {
	d := b.d
	if b.done {
		if d.err != nil {
			return d.err
		}
		return io.EOF
	}
	if d.err != nil {
		return d.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.open {
		// A streamed batch that was not read to its end: read past it.
		if _, err := b.finish(); err != nil {
			return err
		}
	}
	e := elemDecoder{d.s}
	for {
		k, err := e.next()
		if err != nil {
			return b.fail(err)
		}
		if k == tokEnd {
			// </DataBatches>: skip whatever follows inside the operation element, then close.
			err := e.fields(func() (bool, error) { return false, nil })
			b.done = true
			if err = d.end(err); err != nil {
				return err
			}
			return io.EOF
		}
		if !e.is(NSContract, "RowDataBatch") {
			if err := e.skip(); err != nil {
				return b.fail(err)
			}
			continue
		}
		b.n++
		if d.s.isNil {
			if err := e.skip(); err != nil {
				return b.fail(err)
			}
			continue
		}
		break
	}
	if d.sp == nil {
		d.sp = newSpool(d.opts.SpoolMemory, d.opts.SpoolDir)
	}
	d.sp.reset()
	b.batch = contract.Batch{}
	b.open, b.haveTable, b.inData, b.ended = true, false, false, false
	if err := b.fields(); err != nil {
		return b.fail(err)
	}
	return nil
}

func (b *batchReader) fail(err error) error {
	b.done = true
	b.d.state = stateDone
	b.d.err = err
	return err
}

// fields reads the batch's child elements up to the start of a Data element (inData) or the batch's
// end (ended). The WSDL orders them Data, LSN, TableInfo, but any order is accepted.
func (b *batchReader) fields() error {
	d := b.d
	e := elemDecoder{d.s}
	for {
		k, err := e.next()
		if err != nil {
			return err
		}
		if k == tokEnd {
			b.ended = true
			return nil
		}
		switch {
		case e.is(NSContract, "Data"):
			b.inData = true
			return nil
		case e.is(NSContract, "LSN"):
			b.batch.LSN, err = e.integer(64)
		case e.is(NSContract, "TableInfo") && !d.s.isNil:
			b.batch.Table, err = e.tableSchemaInfo()
			b.haveTable = true
		default:
			err = e.skip()
		}
		if err != nil {
			return err
		}
	}
}

// finish reads the rest of the batch and returns it, its rows rewound.
func (b *batchReader) finish() (*contract.Batch, error) {
	d := b.d
	b.open = false
	for !b.ended {
		if !b.inData {
			if err := b.fields(); err != nil {
				return nil, b.fail(err)
			}
			continue
		}
		for {
			ok, err := b.nextRow()
			if err != nil {
				return nil, b.fail(err)
			}
			if !ok {
				break
			}
		}
	}
	if !b.haveTable {
		return nil, b.fail(elemDecoder{d.s}.errorf("RowDataBatch %d has no TableInfo", b.n))
	}
	rows, err := d.sp.finish()
	if err != nil {
		return nil, b.fail(&DecodeError{Offset: d.s.offset(), Msg: fmt.Sprintf("RowDataBatch %d", b.n), Err: err})
	}
	b.batch.Rows = rows
	return &b.batch, nil
}

// nextRow spools the next RowData element of the batch's Data; it is false at the end of the Data.
func (b *batchReader) nextRow() (bool, error) {
	d := b.d
	e := elemDecoder{d.s}
	sp := d.sp
	for {
		k, err := e.next()
		if err != nil {
			return false, err
		}
		if k == tokEnd {
			b.inData = false
			return false, nil
		}
		if !e.is(NSContract, "RowData") || d.s.isNil {
			if err := e.skip(); err != nil {
				return false, err
			}
			continue
		}
		break
	}
	if err := sp.beginRow(); err != nil {
		return false, &DecodeError{Offset: d.s.offset(), Msg: fmt.Sprintf("RowDataBatch %d", b.n), Err: err}
	}
	var op contract.Operation
	err := e.fields(func() (bool, error) {
		switch {
		case e.is(NSContract, "ColumnValues"):
			return true, b.readValues()
		case e.is(NSContract, "Operation"):
			t, _, err := e.text()
			if err != nil {
				return true, err
			}
			o, ok := parseOperation(t)
			if !ok {
				return true, e.errorf("row %d of RowDataBatch %d: invalid Operation %q", sp.rows+1, b.n, clipText(t, 20))
			}
			op = o
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return false, err
	}
	if op == 0 {
		return false, e.errorf("row %d of RowDataBatch %d has no Operation", sp.rows+1, b.n)
	}
	sp.endRow(op)
	return true, nil
}

// batchStream is the contract.BatchStream of a batchReader: each row it hands out is spooled first,
// and read back from the spool.
type batchStream struct {
	b    *batchReader
	row  contract.Row
	vals []contract.Value
	err  error
	// over says that the stream has handed out its last row, or that Batch was called.
	over bool
}

// Next decodes and spools the next row of the batch.
func (s *batchStream) Next() bool {
	if s.over || s.err != nil || !s.b.inData {
		return false
	}
	ok, err := s.b.nextRow()
	if err != nil {
		s.err = s.b.fail(err)
		return false
	}
	if !ok {
		s.over = true
		return false
	}
	s.row, s.vals = s.b.d.sp.lastRow(s.vals)
	return true
}

// Row returns the current row.
func (s *batchStream) Row() contract.Row { return s.row }

// Err returns the decoding error that stopped Next.
func (s *batchStream) Err() error { return s.err }

// Batch reads the rest of the batch and returns it whole.
func (s *batchStream) Batch() (*contract.Batch, error) {
	if s.err != nil {
		return nil, s.err
	}
	s.over, s.row = true, contract.Row{}
	b, err := s.b.finish()
	s.err = err
	return b, err
}

// readValues spools the strings of one ColumnValues. This is the hot loop of the whole decoder.
func (b *batchReader) readValues() error {
	s := b.d.s
	e := elemDecoder{s}
	sp := b.d.sp
	for {
		// Most values take the fast path; the rest, the end of ColumnValues and every error take the
		// general one.
		if err := s.fastValues(sp); err != nil {
			return &DecodeError{Offset: s.offset(), Msg: fmt.Sprintf("RowDataBatch %d", b.n), Err: err}
		}
		k, err := e.next()
		if err != nil {
			return err
		}
		if k == tokEnd {
			return nil
		}
		// WCF writes the items in the serialization-arrays namespace; SOAP tools generating from the
		// WSDL (node-soap) put them in the data-contract namespace of the surrounding elements.
		if (s.space != NSArrays && s.space != NSContract) || string(s.local) != "string" {
			return e.errorf("unexpected element %s in ColumnValues of row %d of RowDataBatch %d", e.elemName(), sp.rows+1, b.n)
		}
		t, isNil, err := e.text()
		if err != nil {
			return err
		}
		if err := sp.addValue(t, isNil); err != nil {
			return &DecodeError{Offset: s.offset(), Msg: fmt.Sprintf("RowDataBatch %d", b.n), Err: err}
		}
	}
}

// parseOperation accepts I, U, D and the words Insert, Update, Delete, in any case.
func parseOperation(b []byte) (contract.Operation, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 1 {
		switch b[0] | 0x20 {
		case 'i':
			return contract.Insert, true
		case 'u':
			return contract.Update, true
		case 'd':
			return contract.Delete, true
		}
		return 0, false
	}
	switch {
	case bytes.EqualFold(b, []byte("insert")):
		return contract.Insert, true
	case bytes.EqualFold(b, []byte("update")):
		return contract.Update, true
	case bytes.EqualFold(b, []byte("delete")):
		return contract.Delete, true
	}
	return 0, false
}

// Close releases the spool's memory and removes its file. It is safe to call more than once.
func (d *RequestDecoder) Close() error {
	if d.state != stateDone {
		d.state = stateDone
		if d.err == nil {
			d.err = errors.New("protocol: decoder closed")
		}
	}
	if d.s.buf != nil {
		d.s.release()
	}
	if d.sp == nil {
		return nil
	}
	err := d.sp.close()
	d.sp = nil
	return err
}

// DecodeResponse decodes the response to op. A SOAP Fault comes back as a *FaultError. Responses are
// returned as values (AuthenticateResponse, ...).
func DecodeResponse(r io.Reader, op Op) (Response, error) {
	if !op.valid() {
		return nil, fmt.Errorf("protocol: decode response: unknown operation %v", op)
	}
	e := elemDecoder{newScanner(r)}
	if err := e.envelopeStart(); err != nil {
		return nil, err
	}
	k, err := e.next()
	if err != nil {
		return nil, err
	}
	if k == tokStart && e.is(NSSoapEnv, "Header") {
		if err := e.skip(); err != nil {
			return nil, err
		}
		if k, err = e.next(); err != nil {
			return nil, err
		}
	}
	if k != tokStart || !e.is(NSSoapEnv, "Body") {
		return nil, e.errorf("expected SOAP Body, found %s", e.elemName())
	}
	if k, err = e.next(); err != nil {
		return nil, err
	}
	if k != tokStart {
		return nil, e.errorf("empty SOAP Body")
	}
	if e.is(NSSoapEnv, "Fault") {
		f := &FaultError{}
		err := e.fields(func() (bool, error) {
			var err error
			switch {
			case e.is("", "faultcode"):
				f.Code, err = e.str()
			case e.is("", "faultstring"):
				f.Message, err = e.str()
			default:
				return false, nil
			}
			return true, err
		})
		if err == nil {
			err = e.finish()
		}
		if err != nil {
			return nil, err
		}
		f.Code = strings.TrimSpace(f.Code)
		return nil, f
	}
	if !e.is(NSService, op.responseElement()) {
		return nil, e.errorf("expected %s, found %s", op.responseElement(), e.elemName())
	}
	var ok bool
	var msg string
	common := func() (bool, error) {
		var err error
		switch {
		case e.is(NSService, "IsSuccessful"):
			ok, err = e.boolean()
		case e.is(NSService, "ErrorMessage"):
			msg, err = e.str()
		default:
			return false, nil
		}
		return true, err
	}
	var resp Response
	switch op {
	case OpAuthenticate:
		var a AuthenticateResponse
		err = e.fields(func() (bool, error) {
			if h, err := common(); h || err != nil {
				return h, err
			}
			var err error
			switch {
			case e.is(NSService, "SignedApplicationToken"):
				a.SignedApplicationToken, err = e.str()
			case e.is(NSService, "SupportedInterfaces"):
				a.SupportedInterfaces, err = e.str()
			case e.is(NSService, "SuperOfficeMirroringBuild"):
				a.SuperOfficeMirroringBuild, err = e.str()
			case e.is(NSService, "ClientState"):
				a.ClientState, err = e.str()
			case e.is(NSService, "AdditionalInformationJson"):
				a.AdditionalInformationJson, err = e.str()
			default:
				return false, nil
			}
			return true, err
		})
		a.IsSuccessful, a.ErrorMessage = ok, msg
		resp = a
	case OpTableSchema:
		var t TableSchemaResponse
		err = e.fields(func() (bool, error) {
			if h, err := common(); h || err != nil {
				return h, err
			}
			if !e.is(NSService, "MirrorLSN") {
				return false, nil
			}
			return true, e.fields(func() (bool, error) {
				if !e.is(NSContract, "TableLSN") {
					return false, nil
				}
				var l contract.TableLSN
				err := e.fields(func() (bool, error) {
					var err error
					switch {
					case e.is(NSContract, "LSN"):
						l.LSN, err = e.integer(64)
					case e.is(NSContract, "TableName"):
						l.Table, err = e.str()
					default:
						return false, nil
					}
					return true, err
				})
				t.MirrorLSN = append(t.MirrorLSN, l)
				return true, err
			})
		})
		t.IsSuccessful, t.ErrorMessage = ok, msg
		resp = t
	default:
		err = e.fields(common)
		switch op {
		case OpRowData:
			resp = RowDataResponse{IsSuccessful: ok, ErrorMessage: msg}
		case OpWipe:
			resp = WipeResponse{IsSuccessful: ok, ErrorMessage: msg}
		default:
			resp = ReplicationCompletedResponse{IsSuccessful: ok, ErrorMessage: msg}
		}
	}
	if err == nil {
		err = e.finish()
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

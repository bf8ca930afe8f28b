package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// The scanner is a byte-level XML tokenizer built for this contract: it resolves namespaces, reports
// start elements (with the one attribute we care about, xsi:nil), end elements and character data, and
// allocates nothing per token once its buffers have grown. It follows encoding/xml's Decoder.Token (the
// oracle of FuzzScannerMatchesEncodingXML) with these deliberate differences:
//
//   - It accepts every numeric character reference, also those of characters XML 1.0 forbids (&#x1;,
//     &#0;), because WCF writes control characters that way; encoding/xml rejects them.
//   - It does not check that raw characters are in XML's Char range (e.g. a raw 0x01 byte or U+FFFE)
//     nor that names consist of XML name characters; it does reject invalid UTF-8 in text.
//   - It accepts "]]>" in ordinary text.
//   - It rejects DTDs and every other <!...> directive (encoding/xml returns them as Directive tokens),
//     so no entity can be declared.
//   - It bounds element depth (maxDepth), tag length (maxTagSize) and text length (maxText), and
//     reads no further than readLimit when one is set.
//   - Character data is reported as one token between two tags: comments and processing instructions
//     inside text are skipped and CDATA sections are merged into the surrounding text.
//
// Its fast paths (scanner_fast.go: column values spooled without tokens, remembered start tags, end
// tags compared with the open name) only ever take input that the general path would decode the same
// way; tests and fuzz targets decode with them on and off (noFast) and require identical results.

type tokenKind uint8

const (
	tokNone tokenKind = iota
	tokStart
	tokEnd
	tokText
)

const (
	scanBufSize    = 128 << 10
	maxTagSize     = 64 << 10
	maxDepth       = 64
	defaultMaxText = 64 << 20
	maxInterned    = 256
	xmlURL         = "http://www.w3.org/XML/1998/namespace"
)

// scanError is the scanner's own failure, kept apart from I/O errors so that the fuzz test can tell
// deliberate differences from encoding/xml by kind.
type scanError struct {
	off  int64
	kind scanErrKind
	msg  string
}

type scanErrKind uint8

const (
	errSyntax    scanErrKind = iota // malformed XML that encoding/xml also rejects
	errDirective                    // <!DOCTYPE ...> or another directive: deliberately rejected
	errLimit                        // depth, tag or text bound exceeded: deliberately rejected
)

func (e *scanError) Error() string { return e.msg }

// errReadLimit is the read error of a scanner that has reached its readLimit.
var errReadLimit = errors.New("read limit reached")

type nsBinding struct {
	prefix string
	uri    string
}

type frame struct {
	nameStart int32 // offset in scanner.names of the element's raw qualified name
	localOff  int32 // offset of the local part within the raw name
	nsMark    int32 // len(scanner.ns) before the element's own declarations
	space     string
}

type rawAttr struct {
	prefix, local []byte
	nameOff       int // offset of the attribute's name in the tag
	valStart      int
	valEnd        int
}

// scanner tokenizes one XML stream.
type scanner struct {
	r    io.Reader
	buf  []byte
	pos  int
	end  int
	base int64 // stream offset of buf[0]
	eof  bool
	rerr error
	err  error

	maxText int
	// readLimit, when positive, is the stream offset past which fill reads nothing and fails with
	// errReadLimit: the decoder bounds the SOAP header with it before the token is verified.
	readLimit int64

	// The current token; local and text are valid until the next call to next.
	// text stays valid through the following call to next, so that an element's text can be read
	// together with its end tag.
	kind   tokenKind
	space  string
	local  []byte
	isNil  bool
	text   []byte
	tokOff int64

	pendingEnd bool
	popFrame   bool
	// textInBuf reports that text aliases buf (the fast path); it stays valid through the next token.
	textInBuf bool

	textBuf []byte
	attrBuf []byte
	attrs   []rawAttr
	names   []byte
	frames  []frame
	ns      []nsBinding
	intern  map[string]string

	// vals holds the byte shapes of column values for fastValues; noFast turns the fast paths off, so
	// that tests can compare them with the general path.
	vals   valueShapes
	tags   [tagMemos]tagMemo
	tick   uint64
	nils   []memoNil
	noFast bool
}

// scanBufs keeps scanner buffers between requests: every call would otherwise allocate, and clear, one.
var scanBufs = sync.Pool{New: func() any { b := make([]byte, scanBufSize); return &b }}

func newScanner(r io.Reader) *scanner {
	return &scanner{
		r:       r,
		buf:     *scanBufs.Get().(*[]byte),
		maxText: defaultMaxText,
		intern: map[string]string{
			NSSoapEnv: NSSoapEnv, NSService: NSService, NSContract: NSContract,
			NSArrays: NSArrays, NSXSI: NSXSI, "": "",
		},
	}
}

// release gives the scanner's buffer back for another request; the scanner must not be used after.
func (s *scanner) release() {
	if len(s.buf) == scanBufSize {
		b := s.buf
		scanBufs.Put(&b)
	}
	s.buf, s.text = nil, nil
}

// offset is the stream offset of the scanner's read position.
func (s *scanner) offset() int64 { return s.base + int64(s.pos) }

func (s *scanner) fail(kind scanErrKind, format string, args ...any) error {
	if s.err == nil {
		s.err = &scanError{off: s.offset(), kind: kind, msg: fmt.Sprintf(format, args...)}
	}
	return s.err
}

func (s *scanner) internBytes(b []byte) string {
	if v, ok := s.intern[string(b)]; ok {
		return v
	}
	v := string(b)
	if len(s.intern) < maxInterned {
		s.intern[v] = v
	}
	return v
}

// fill reads more input, keeping buf[keep:end]. It reports whether new bytes arrived. Positions held
// by callers must be rebased by the returned shift (bytes moved toward the front).
func (s *scanner) fill(keep int) (shift int, ok bool) {
	if s.eof {
		return 0, false
	}
	if s.textInBuf {
		// The last text token points into buf, and callers read it together with the end tag that
		// follows it: move it out of the way before the buffer shifts.
		s.textBuf = append(s.textBuf[:0], s.text...)
		s.text = s.textBuf
		s.textInBuf = false
	}
	if keep > 0 {
		n := copy(s.buf, s.buf[keep:s.end])
		s.end = n
		s.pos -= keep
		s.base += int64(keep)
		shift = keep
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= maxTagSize*4 {
			// Only a tag is ever held whole, and tags are bounded well below this.
			return shift, false
		}
		nb := make([]byte, len(s.buf)*2)
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	room := s.buf[s.end:]
	if s.readLimit > 0 {
		left := s.readLimit - (s.base + int64(s.end))
		if left <= 0 {
			s.eof = true
			s.rerr = errReadLimit
			return shift, false
		}
		if int64(len(room)) > left {
			room = room[:left]
		}
	}
	for tries := 0; tries < 100; tries++ {
		n, err := s.r.Read(room)
		s.end += n
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.rerr = err
			}
			return shift, n > 0
		}
		if n > 0 {
			return shift, true
		}
	}
	s.eof = true
	s.rerr = io.ErrNoProgress
	return shift, false
}

// eofError is the error for input that ends in the middle of something.
func (s *scanner) eofError(what string) error {
	if s.rerr != nil {
		if s.err == nil {
			s.err = &DecodeError{Offset: s.offset(), Msg: "reading " + what, Err: s.rerr}
		}
		return s.err
	}
	return s.fail(errSyntax, "unexpected end of input in %s", what)
}

// next advances to the next token. At the end of a well-formed stream it returns io.EOF.
func (s *scanner) next() (tokenKind, error) {
	if s.err != nil {
		return tokNone, s.err
	}
	if s.popFrame {
		s.pop()
	}
	if s.pendingEnd {
		s.pendingEnd = false
		s.kind = tokEnd
		s.isNil = false
		s.popFrame = true
		return tokEnd, nil
	}
	if s.pos >= s.end {
		if _, ok := s.fill(s.pos); !ok {
			if s.rerr != nil {
				return tokNone, s.eofError("document")
			}
			if len(s.frames) > 0 {
				return tokNone, s.fail(errSyntax, "unexpected end of input inside <%s>", s.frameName(len(s.frames)-1))
			}
			s.kind = tokNone
			return tokNone, io.EOF
		}
	}
	s.tokOff = s.offset()
	if s.buf[s.pos] != '<' {
		return s.scanText()
	}
	// A tag, or a comment/PI/CDATA that belongs with the text around it.
	if s.pos+1 >= s.end {
		s.fill(s.pos)
	}
	if s.pos+1 < s.end {
		switch s.buf[s.pos+1] {
		case '!', '?':
			return s.scanText()
		case '/':
			return s.scanEndTag()
		}
	}
	return s.scanStartTag()
}

// pop removes the frame of the element whose end was reported last.
func (s *scanner) pop() {
	s.popFrame = false
	f := s.frames[len(s.frames)-1]
	s.frames = s.frames[:len(s.frames)-1]
	s.names = s.names[:f.nameStart]
	s.ns = s.ns[:f.nsMark]
}

func (s *scanner) frameName(i int) string {
	start := s.frames[i].nameStart
	end := int32(len(s.names))
	if i+1 < len(s.frames) {
		end = s.frames[i+1].nameStart
	}
	return string(s.names[start:end])
}

// textSpecial marks the bytes at which the text fast path must stop.
var textSpecial = func() (t [256]bool) {
	t['<'], t['&'], t['\r'] = true, true, true
	for i := utf8.RuneSelf; i < 256; i++ {
		t[i] = true
	}
	return
}()

// fastStop marks the bytes at which the fast path of scanText stops.
var fastStop = func() (t [256]bool) {
	t['<'], t['&'], t['\r'] = true, true, true
	return
}()

// scanText reads character data up to the next tag. Comments and processing instructions are skipped
// and CDATA sections are merged; an empty result (e.g. only a comment between tags) is not reported.
func (s *scanner) scanText() (tokenKind, error) {
	// Fast path: text without references or \r that ends within the buffer at a tag.
	i := s.pos
	buf := s.buf[:s.end]
	var high byte
	for i < len(buf) && !fastStop[buf[i]] {
		high |= buf[i]
		i++
	}
	if i < len(buf) && buf[i] == '<' && i+1 < len(buf) && buf[i+1] != '!' && buf[i+1] != '?' &&
		(high < utf8.RuneSelf || utf8.Valid(buf[s.pos:i])) {
		if i-s.pos > s.maxText {
			return tokNone, s.fail(errLimit, "text longer than %d bytes", s.maxText)
		}
		s.text = buf[s.pos:i]
		s.textInBuf = true
		s.pos = i
		s.kind = tokText
		return tokText, nil
	}
	s.textInBuf = false
	s.textBuf = s.textBuf[:0]
	for {
		if s.pos >= s.end {
			if _, ok := s.fill(s.pos); !ok {
				if s.rerr != nil {
					return tokNone, s.eofError("text")
				}
				break
			}
		}
		c := s.buf[s.pos]
		if !textSpecial[c] {
			j := s.pos + 1
			for j < s.end && !textSpecial[s.buf[j]] {
				j++
			}
			if err := s.appendText(s.buf[s.pos:j]); err != nil {
				return tokNone, err
			}
			s.pos = j
			continue
		}
		switch {
		case c == '&':
			if err := s.scanRef(&s.textBuf); err != nil {
				return tokNone, err
			}
		case c == '\r':
			if err := s.scanCR(&s.textBuf); err != nil {
				return tokNone, err
			}
		case c >= utf8.RuneSelf:
			if err := s.scanRune(&s.textBuf); err != nil {
				return tokNone, err
			}
		default: // '<'
			more, err := s.scanMarkupInText()
			if err != nil {
				return tokNone, err
			}
			if !more {
				goto done
			}
		}
		if len(s.textBuf) > s.maxText {
			return tokNone, s.fail(errLimit, "text longer than %d bytes", s.maxText)
		}
	}
done:
	if len(s.textBuf) == 0 {
		return s.next()
	}
	s.text = s.textBuf
	s.kind = tokText
	return tokText, nil
}

func (s *scanner) appendText(b []byte) error {
	if len(s.textBuf)+len(b) > s.maxText {
		return s.fail(errLimit, "text longer than %d bytes", s.maxText)
	}
	s.textBuf = append(s.textBuf, b...)
	return nil
}

// ensure makes at least n bytes available from pos, if the input has them.
func (s *scanner) ensure(n int) bool {
	for s.end-s.pos < n {
		if _, ok := s.fill(s.pos); !ok {
			return false
		}
	}
	return true
}

// scanCR normalizes a raw \r or \r\n to \n, as XML requires.
func (s *scanner) scanCR(dst *[]byte) error {
	s.pos++
	s.ensure(1)
	if s.pos < s.end && s.buf[s.pos] == '\n' {
		s.pos++
	}
	*dst = append(*dst, '\n')
	return nil
}

// scanRune copies one multi-byte UTF-8 sequence, rejecting invalid UTF-8.
func (s *scanner) scanRune(dst *[]byte) error {
	s.ensure(utf8.UTFMax)
	r, size := utf8.DecodeRune(s.buf[s.pos:s.end])
	if r == utf8.RuneError && size <= 1 {
		return s.fail(errSyntax, "invalid UTF-8")
	}
	*dst = append(*dst, s.buf[s.pos:s.pos+size]...)
	s.pos += size
	return nil
}

// scanRef resolves an entity or character reference at pos ('&'). Any numeric reference up to
// U+10FFFF is accepted, including those XML 1.0 forbids, because WCF writes control characters so.
func (s *scanner) scanRef(dst *[]byte) error {
	// The reference runs over name bytes (and '#') up to ';'. Numeric references may carry any number
	// of leading zeros, so its length is bounded only generously.
	const maxRef = 1024
	start := s.pos
	j := s.pos + 1
	for {
		for j < s.end && (isNameByte(s.buf[j]) || s.buf[j] == '#' || s.buf[j] >= utf8.RuneSelf) {
			j++
		}
		if j < s.end {
			break
		}
		if j-start > maxRef {
			return s.fail(errLimit, "character reference longer than %d bytes", maxRef)
		}
		shift, ok := s.fill(start)
		start -= shift
		j -= shift
		if !ok {
			return s.eofError("character reference")
		}
	}
	if s.buf[j] != ';' {
		return s.fail(errSyntax, "invalid character entity %q (no semicolon)", clipText(s.buf[start:j], 20))
	}
	if err := s.resolveRef(s.buf[start+1:j], dst); err != nil {
		return err
	}
	s.pos = j + 1
	return nil
}

// scanMarkupInText handles '<' met while reading text: comments and PIs are skipped and CDATA is
// appended (more=true); anything else ends the text (more=false).
func (s *scanner) scanMarkupInText() (more bool, err error) {
	s.ensure(9)
	rest := s.buf[s.pos:s.end]
	switch {
	case bytes.HasPrefix(rest, []byte("<!--")):
		return true, s.skipComment()
	case bytes.HasPrefix(rest, []byte("<![CDATA[")):
		return true, s.scanCDATA()
	case bytes.HasPrefix(rest, []byte("<?")):
		return true, s.skipPI()
	case bytes.HasPrefix(rest, []byte("<!")):
		if len(rest) < 9 && (bytes.HasPrefix([]byte("<![CDATA["), rest) || bytes.HasPrefix([]byte("<!--"), rest)) {
			s.pos = s.end
			return false, s.eofError("markup")
		}
		if len(rest) > 2 && rest[2] == '-' {
			return false, s.fail(errSyntax, "invalid sequence <!- not part of <!--")
		}
		return false, s.fail(errDirective, "DTDs and other <! directives are not accepted")
	}
	return false, nil
}

// skipComment skips <!-- ... -->; like encoding/xml it rejects "--" inside.
func (s *scanner) skipComment() error {
	s.pos += 4
	for {
		i := bytes.Index(s.buf[s.pos:s.end], []byte("--"))
		if i >= 0 {
			s.pos += i
			if !s.ensure(3) {
				return s.eofError("comment")
			}
			if s.buf[s.pos+2] != '>' {
				return s.fail(errSyntax, `invalid sequence "--" not allowed in comments`)
			}
			s.pos += 3
			return nil
		}
		// Keep a trailing '-' that may start the terminator.
		keep := s.end
		if keep > s.pos && s.buf[keep-1] == '-' {
			keep--
		}
		s.pos = keep
		if _, ok := s.fill(s.pos); !ok {
			return s.eofError("comment")
		}
	}
}

// skipPI skips a processing instruction, checking an XML declaration's version and encoding the way
// encoding/xml does (only version 1.0, only UTF-8).
func (s *scanner) skipPI() error {
	start := s.pos
	s.pos += 2
	// The target must be a name.
	if !s.ensure(1) {
		return s.eofError("processing instruction")
	}
	n := s.pos
	for {
		for n < s.end && (s.buf[n] >= utf8.RuneSelf || isNameByte(s.buf[n])) {
			n++
		}
		if n < s.end || s.eof {
			break
		}
		shift, _ := s.fill(start)
		start -= shift
		n -= shift
		if s.end-start > maxTagSize {
			return s.fail(errLimit, "processing instruction target too long")
		}
	}
	if n == s.pos {
		return s.fail(errSyntax, "expected target name after <?")
	}
	isXML := string(s.buf[s.pos:n]) == "xml"
	s.pos = n
	for {
		i := bytes.Index(s.buf[s.pos:s.end], []byte("?>"))
		if i >= 0 {
			if isXML {
				if err := s.checkXMLDecl(string(s.buf[start+5 : s.pos+i])); err != nil {
					return err
				}
			}
			s.pos += i + 2
			return nil
		}
		keep := s.end
		if keep > s.pos && s.buf[keep-1] == '?' {
			keep--
		}
		s.pos = keep
		if isXML {
			// Keep the declaration whole to check it; it is short.
			if s.end-start > maxTagSize {
				return s.fail(errLimit, "XML declaration too long")
			}
			shift, ok := s.fill(start)
			start -= shift
			if !ok {
				return s.eofError("XML declaration")
			}
			continue
		}
		if _, ok := s.fill(s.pos); !ok {
			return s.eofError("processing instruction")
		}
	}
}

func (s *scanner) checkXMLDecl(content string) error {
	content = strings.TrimLeft(content, " \t\r\n")
	if v := procInstParam("version", content); v != "" && v != "1.0" {
		return s.fail(errSyntax, "unsupported XML version %q", v)
	}
	if enc := procInstParam("encoding", content); enc != "" && !strings.EqualFold(enc, "utf-8") {
		return s.fail(errSyntax, "unsupported encoding %q: only UTF-8 is accepted", enc)
	}
	return nil
}

// procInstParam finds param="value" in a processing instruction's content, as loosely as
// encoding/xml does, so that both accept the same declarations.
func procInstParam(param, s string) string {
	param += "="
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || len(param)+k >= len(sub) {
			return ""
		}
		i += len(param) + k + 1
		if c := sub[len(param)+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}

// scanCDATA appends a CDATA section's content (with \r normalized) to the text.
func (s *scanner) scanCDATA() error {
	s.pos += 9
	for {
		if s.pos >= s.end {
			if _, ok := s.fill(s.pos); !ok {
				return s.eofError("CDATA section")
			}
		}
		c := s.buf[s.pos]
		switch {
		case c == ']':
			if !s.ensure(3) {
				return s.eofError("CDATA section")
			}
			if s.buf[s.pos+1] == ']' && s.buf[s.pos+2] == '>' {
				s.pos += 3
				return nil
			}
			s.textBuf = append(s.textBuf, ']')
			s.pos++
		case c == '\r':
			s.scanCR(&s.textBuf)
		case c >= utf8.RuneSelf:
			if err := s.scanRune(&s.textBuf); err != nil {
				return err
			}
		default:
			j := s.pos + 1
			for j < s.end && s.buf[j] != ']' && s.buf[j] != '\r' && s.buf[j] < utf8.RuneSelf {
				j++
			}
			s.textBuf = append(s.textBuf, s.buf[s.pos:j]...)
			s.pos = j
		}
		if len(s.textBuf) > s.maxText {
			return s.fail(errLimit, "text longer than %d bytes", s.maxText)
		}
	}
}

func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// loadTag makes the whole tag starting at pos ('<') available in the buffer and returns the index of
// its closing '>'. Quoted attribute values may contain '>'.
func (s *scanner) loadTag() (int, error) {
	i := s.pos + 1
	var quote byte
	for {
		for ; i < s.end; i++ {
			c := s.buf[i]
			if quote != 0 {
				if c == quote {
					quote = 0
				}
				continue
			}
			switch c {
			case '>':
				return i, nil
			case '"', '\'':
				quote = c
			case '<':
				// Let the tag parser report the precise error.
				return i, nil
			}
		}
		if i-s.pos > maxTagSize {
			return 0, s.fail(errLimit, "tag longer than %d bytes", maxTagSize)
		}
		shift, ok := s.fill(s.pos)
		i -= shift
		if !ok {
			return 0, s.eofError("tag")
		}
	}
}

// name reads a name from buf[i:lim] as encoding/xml does: name bytes and any non-ASCII byte.
func (s *scanner) name(i, lim int) int {
	for i < lim && (s.buf[i] >= utf8.RuneSelf || isNameByte(s.buf[i])) {
		i++
	}
	return i
}

// splitName splits a qualified name the way encoding/xml does: "p:l" has prefix p; a name with an
// empty side (":l", "p:") is all local. It reports false for more than one colon.
func splitName(b []byte) (prefix, local []byte, ok bool) {
	c := bytes.IndexByte(b, ':')
	if c < 0 {
		return nil, b, true
	}
	if bytes.IndexByte(b[c+1:], ':') >= 0 {
		return nil, nil, false
	}
	if c == 0 || c == len(b)-1 {
		return nil, b, true
	}
	return b[:c], b[c+1:], true
}

func (s *scanner) scanEndTag() (tokenKind, error) {
	if n := len(s.frames); n > 0 && !s.noFast {
		// Usually the tag closes the open element exactly as it was named: compare the bytes first.
		f := s.frames[n-1]
		open := s.names[f.nameStart:]
		if e := s.pos + 2 + len(open); e < s.end && s.buf[e] == '>' && bytes.Equal(s.buf[s.pos+2:e], open) {
			s.pos = e + 1
			s.kind = tokEnd
			s.space = f.space
			s.local = open[f.localOff:]
			s.isNil = false
			s.popFrame = true
			return tokEnd, nil
		}
	}
	gt, err := s.loadTag()
	if err != nil {
		return tokNone, err
	}
	i := s.pos + 2
	n := s.name(i, gt)
	if n == i {
		return tokNone, s.fail(errSyntax, "expected element name after </")
	}
	qname := s.buf[i:n]
	for n < gt && isXMLSpace(s.buf[n]) {
		n++
	}
	if n != gt || s.buf[gt] != '>' {
		return tokNone, s.fail(errSyntax, "invalid characters between </%s and >", qname)
	}
	if _, _, ok := splitName(qname); !ok {
		return tokNone, s.fail(errSyntax, "invalid element name %q", qname)
	}
	if len(s.frames) == 0 {
		return tokNone, s.fail(errSyntax, "unexpected end element </%s>", qname)
	}
	f := s.frames[len(s.frames)-1]
	open := s.names[f.nameStart:]
	if !bytes.Equal(open, qname) {
		return tokNone, s.fail(errSyntax, "element <%s> closed by </%s>", open, qname)
	}
	s.pos = gt + 1
	s.kind = tokEnd
	s.space = f.space
	s.local = open[f.localOff:]
	s.isNil = false
	s.popFrame = true
	return tokEnd, nil
}

func (s *scanner) scanStartTag() (tokenKind, error) {
	if m := s.recall(); m != nil {
		return s.replay(m)
	}
	gt, err := s.loadTag()
	if err != nil {
		return tokNone, err
	}
	i := s.pos + 1
	n := s.name(i, gt)
	if n == i {
		return tokNone, s.fail(errSyntax, "expected element name after <")
	}
	qname := s.buf[i:n]
	prefix, local, ok := splitName(qname)
	if !ok {
		return tokNone, s.fail(errSyntax, "invalid element name %q", qname)
	}
	s.attrs = s.attrs[:0]
	s.attrBuf = s.attrBuf[:0]
	selfClose := false
	i = n
	for {
		for i < gt && isXMLSpace(s.buf[i]) {
			i++
		}
		if i >= gt {
			break
		}
		if s.buf[i] == '/' {
			if i+1 != gt || s.buf[gt] != '>' {
				return tokNone, s.fail(errSyntax, "expected /> in element <%s>", qname)
			}
			selfClose = true
			break
		}
		n = s.name(i, gt)
		if n == i {
			return tokNone, s.fail(errSyntax, "expected attribute name in element <%s>", qname)
		}
		ap, al, ok := splitName(s.buf[i:n])
		if !ok {
			return tokNone, s.fail(errSyntax, "invalid attribute name %q", s.buf[i:n])
		}
		nameOff := i - s.pos
		i = n
		for i < gt && isXMLSpace(s.buf[i]) {
			i++
		}
		if i >= gt || s.buf[i] != '=' {
			return tokNone, s.fail(errSyntax, "attribute name without = in element <%s>", qname)
		}
		i++
		for i < gt && isXMLSpace(s.buf[i]) {
			i++
		}
		if i >= gt || (s.buf[i] != '"' && s.buf[i] != '\'') {
			return tokNone, s.fail(errSyntax, "unquoted or missing attribute value in element <%s>", qname)
		}
		q := s.buf[i]
		close := bytes.IndexByte(s.buf[i+1:gt], q)
		if close < 0 {
			return tokNone, s.fail(errSyntax, "unterminated attribute value in element <%s>", qname)
		}
		vs := len(s.attrBuf)
		if err := s.attrValue(s.buf[i+1 : i+1+close]); err != nil {
			return tokNone, err
		}
		s.attrs = append(s.attrs, rawAttr{prefix: ap, local: al, nameOff: nameOff, valStart: vs, valEnd: len(s.attrBuf)})
		i += close + 2
	}
	if s.buf[gt] != '>' {
		return tokNone, s.fail(errSyntax, "unexpected < in element <%s>", qname)
	}
	if len(s.frames) >= maxDepth {
		return tokNone, s.fail(errLimit, "elements nested deeper than %d", maxDepth)
	}

	nsMark := len(s.ns)
	for _, a := range s.attrs {
		switch {
		case string(a.prefix) == "xmlns":
			s.ns = append(s.ns, nsBinding{prefix: s.internBytes(a.local), uri: s.internBytes(s.attrBuf[a.valStart:a.valEnd])})
		case a.prefix == nil && string(a.local) == "xmlns":
			s.ns = append(s.ns, nsBinding{prefix: "", uri: s.internBytes(s.attrBuf[a.valStart:a.valEnd])})
		}
	}
	s.isNil = false
	s.nils = s.nils[:0]
	for _, a := range s.attrs {
		if string(a.local) == "nil" && a.prefix != nil {
			v := bytes.TrimSpace(s.attrBuf[a.valStart:a.valEnd])
			isTrue := string(v) == "true" || string(v) == "1"
			s.nils = append(s.nils, memoNil{off: a.nameOff, n: len(a.prefix), isTrue: isTrue})
			if s.resolve(a.prefix, a.local, true) == NSXSI {
				s.isNil = isTrue
			}
		}
	}
	s.space = s.resolve(prefix, local, false)
	s.pushFrame(qname, len(qname)-len(local), nsMark)
	s.remember(s.buf[s.pos:gt+1], len(qname), len(qname)-len(local), prefix != nil, selfClose, s.ns[nsMark:])
	s.pos = gt + 1
	s.kind = tokStart
	s.pendingEnd = selfClose
	return tokStart, nil
}

// pushFrame enters the element named qname whose start tag was just read.
func (s *scanner) pushFrame(qname []byte, localOff, nsMark int) {
	f := frame{nameStart: int32(len(s.names)), localOff: int32(localOff), nsMark: int32(nsMark), space: s.space}
	s.names = append(s.names, qname...)
	s.frames = append(s.frames, f)
	s.local = s.names[int(f.nameStart)+int(f.localOff):]
}

// resolve maps a name's prefix to its namespace URI the way encoding/xml translates names: an unbound
// prefix stays as it is (and so matches no namespace of the contract); an unprefixed attribute has no
// namespace.
func (s *scanner) resolve(prefix, local []byte, isAttr bool) string {
	switch {
	case string(prefix) == "xmlns":
		return "xmlns"
	case prefix == nil && isAttr:
		return ""
	case string(prefix) == "xml":
		return xmlURL
	case prefix == nil && string(local) == "xmlns":
		return ""
	}
	for i := len(s.ns) - 1; i >= 0; i-- {
		if s.ns[i].prefix == string(prefix) {
			return s.ns[i].uri
		}
	}
	if prefix == nil {
		return ""
	}
	return s.internBytes(prefix)
}

// attrValue decodes one attribute value into attrBuf.
func (s *scanner) attrValue(v []byte) error {
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == '<':
			return s.fail(errSyntax, "unescaped < inside quoted string")
		case c == '&':
			j := i + 1
			for j < len(v) && (isNameByte(v[j]) || v[j] == '#' || v[j] >= utf8.RuneSelf) {
				j++
			}
			if j >= len(v) || v[j] != ';' {
				return s.fail(errSyntax, "invalid character entity in attribute value")
			}
			if err := s.resolveRef(v[i+1:j], &s.attrBuf); err != nil {
				return err
			}
			i = j + 1
		case c == '\r':
			s.attrBuf = append(s.attrBuf, '\n')
			i++
			if i < len(v) && v[i] == '\n' {
				i++
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(v[i:])
			if r == utf8.RuneError && size <= 1 {
				return s.fail(errSyntax, "invalid UTF-8")
			}
			s.attrBuf = append(s.attrBuf, v[i:i+size]...)
			i += size
		default:
			s.attrBuf = append(s.attrBuf, c)
			i++
		}
	}
	return nil
}

// resolveRef appends the character that the reference &ref; stands for.
func (s *scanner) resolveRef(ref []byte, dst *[]byte) error {
	b, ok := appendRef(*dst, ref)
	if !ok {
		if len(ref) > 1 && ref[0] == '#' {
			return s.fail(errSyntax, "invalid character reference &%s;", ref)
		}
		return s.fail(errSyntax, "invalid character entity &%s;", ref)
	}
	*dst = b
	return nil
}

// appendRef appends the character that the reference &ref; stands for; ok is false for an invalid
// reference. Any numeric reference up to U+10FFFF is accepted (see scanRef).
func appendRef(dst, ref []byte) (_ []byte, ok bool) {
	if len(ref) > 1 && ref[0] == '#' {
		digits, base := ref[1:], 10
		if digits[0] == 'x' {
			digits, base = digits[1:], 16
		}
		if len(digits) == 0 || bytes.ContainsAny(digits, "+-_") {
			return dst, false
		}
		n, err := strconv.ParseUint(string(digits), base, 32)
		if err != nil || n > utf8.MaxRune {
			return dst, false
		}
		return utf8.AppendRune(dst, rune(n)), true
	}
	// A switch rather than a map: it neither hashes nor converts ref.
	switch string(ref) {
	case "lt":
		return append(dst, '<'), true
	case "gt":
		return append(dst, '>'), true
	case "amp":
		return append(dst, '&'), true
	case "apos":
		return append(dst, '\''), true
	case "quot":
		return append(dst, '"'), true
	}
	return dst, false
}

// isScanError reports whether err came from the scanner's syntax checks (as opposed to I/O).
func isScanError(err error) (*scanError, bool) {
	var se *scanError
	ok := errors.As(err, &se)
	return se, ok
}

package protocol

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// The Data section of a RowData request is almost all column values, and the Mirroring Task writes
// each in one of three shapes:
//
//	<b:string>text</b:string>   <b:string/>   <b:string i:nil="true"/>
//
// fastValues recognises exactly these shapes byte for byte, with the prefixes that the namespace
// bindings in scope give NSArrays (or, where nothing is bound to it, NSContract, in which SOAP tools
// generating from the WSDL write the items) and NSXSI, and spools the values without producing tokens. It
// stops at anything else (another prefix or attribute, whitespace inside a tag, CDATA, comments, a
// raw \r, a value that does not end within the buffer, the end of ColumnValues) and leaves that to the
// general path, which also reports every error. Since a recognised element declares no namespace,
// the bindings in scope are the same before every value of one ColumnValues.

// valueShapes caches the byte shapes of column values for one set of namespace bindings.
type valueShapes struct {
	ok      bool        // some prefix (or the default namespace) is bound to NSArrays or NSContract
	key     []nsBinding // the bindings the shapes were derived from
	open    pattern     // "<b:string"
	close   pattern     // "</b:string>"
	nilTail pattern     // ` i:nil="true"/>`; empty when no prefix is bound to NSXSI
}

// pattern is a byte string to look for at a position; patterns of 8 to 16 bytes, which the usual
// prefixes give, are compared as two overlapping words.
type pattern struct {
	b          []byte
	head, tail uint64
	words      bool
}

func (p *pattern) set(b []byte) {
	p.b = b
	p.words = len(b) >= 8 && len(b) <= 16
	if p.words {
		p.head = binary.LittleEndian.Uint64(b)
		p.tail = binary.LittleEndian.Uint64(b[len(b)-8:])
	}
}

// at reports whether buf[i:] starts with p.
func (p *pattern) at(buf []byte, i int) bool {
	if !p.words {
		return bytes.HasPrefix(buf[i:], p.b)
	}
	e := i + len(p.b)
	return e <= len(buf) && binary.LittleEndian.Uint64(buf[i:]) == p.head &&
		binary.LittleEndian.Uint64(buf[e-8:]) == p.tail
}

// prepareValues brings s.vals up to date with the namespace bindings in scope.
func (s *scanner) prepareValues() bool {
	v := &s.vals
	if v.key != nil && len(v.key) == len(s.ns) {
		same := true
		for i := range s.ns {
			if v.key[i] != s.ns[i] {
				same = false
				break
			}
		}
		if same {
			return v.ok
		}
	}
	v.key = append(v.key[:0], s.ns...)
	if v.key == nil {
		v.key = []nsBinding{}
	}
	arrays, contract, xsi := -1, -1, -1
	for i := len(s.ns) - 1; i >= 0; i-- {
		b := s.ns[i]
		// resolve gives these two prefixes fixed meanings whatever they are bound to.
		if b.prefix == "xml" || b.prefix == "xmlns" || shadowed(s.ns, i) {
			continue
		}
		if arrays < 0 && b.uri == NSArrays {
			arrays = i
		}
		if contract < 0 && b.uri == NSContract {
			contract = i
		}
		// An unprefixed attribute has no namespace, so only a prefix can mark xsi:nil.
		if xsi < 0 && b.prefix != "" && b.uri == NSXSI {
			xsi = i
		}
	}
	// Items are accepted in both namespaces (readValues); WCF's own is the one worth recognising fast
	// when both are bound.
	if arrays < 0 {
		arrays = contract
	}
	v.ok = arrays >= 0
	if !v.ok {
		return false
	}
	p := s.ns[arrays].prefix
	open := append(v.open.b[:0], '<')
	close := append(v.close.b[:0], "</"...)
	if p != "" {
		open = append(append(open, p...), ':')
		close = append(append(close, p...), ':')
	}
	v.open.set(append(open, "string"...))
	v.close.set(append(close, "string>"...))
	nilTail := v.nilTail.b[:0]
	if xsi >= 0 {
		nilTail = append(append(append(nilTail, ' '), s.ns[xsi].prefix...), `:nil="true"/>`...)
	}
	v.nilTail.set(nilTail)
	return true
}

// shadowed reports whether a later binding in ns redeclares the prefix of ns[i].
func shadowed(ns []nsBinding, i int) bool {
	for j := i + 1; j < len(ns); j++ {
		if ns[j].prefix == ns[i].prefix {
			return true
		}
	}
	return false
}

// fastValues spools the column values at the read position that have one of the usual shapes (see
// above) and returns at the first thing that has not; the caller goes on with next. It is called
// between the children of a ColumnValues element. The only error it returns is the spool's.
func (s *scanner) fastValues(sp *spool) error {
	if s.noFast || s.err != nil || s.pendingEnd {
		return nil
	}
	if s.popFrame {
		s.pop()
	}
	if len(s.frames) >= maxDepth || !s.prepareValues() {
		return nil
	}
	// The last text token is consumed: nothing needs to survive a refill.
	s.textInBuf = false
	v := &s.vals
	buf := s.buf[:s.end]
	for {
		i := s.pos
		// Whitespace between elements is text that the general path would skip as blank.
		for i < len(buf) && isXMLSpace(buf[i]) {
			i++
		}
		if i-s.pos > s.maxText || !v.open.at(buf, i) {
			return nil
		}
		j := i + len(v.open.b)
		if j >= len(buf) {
			return nil
		}
		switch buf[j] {
		case '>':
			j++
			start := j
			var amp, high bool
			for {
				if j = nextSpecial(buf, j); j >= len(buf) {
					return nil
				}
				c := buf[j]
				if c == '<' {
					break
				}
				switch {
				case c == '&':
					amp = true
				case c == '\r':
					return nil
				default:
					high = true
				}
				j++
			}
			if !v.close.at(buf, j) {
				return nil
			}
			text := buf[start:j]
			if len(text) > s.maxText || high && !utf8.Valid(text) {
				return nil
			}
			if amp {
				var ok bool
				if text, ok = s.unescape(text); !ok {
					return nil
				}
			}
			s.pos = j + len(v.close.b)
			if err := sp.addValue(text, false); err != nil {
				return err
			}
		case '/':
			if j+1 >= len(buf) || buf[j+1] != '>' {
				return nil
			}
			s.pos = j + 2
			if err := sp.addValue(nil, false); err != nil {
				return err
			}
		case ' ':
			if len(v.nilTail.b) == 0 || !v.nilTail.at(buf, j) {
				return nil
			}
			s.pos = j + len(v.nilTail.b)
			if err := sp.addValue(nil, true); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// nextSpecial returns the index of the first byte of b[j:] that textSpecial marks, or len(b). It looks
// at eight bytes at a time: a byte equal to c is a zero byte of x^(c*ones), and (v-ones)&^v&highs marks
// the lowest zero byte of v exactly (it may mark bytes above it too, which do not matter).
func nextSpecial(b []byte, j int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; j+8 <= len(b); j += 8 {
		x := binary.LittleEndian.Uint64(b[j:])
		lt, amp, cr := x^('<'*ones), x^('&'*ones), x^('\r'*ones)
		m := ((lt-ones)&^lt | (amp-ones)&^amp | (cr-ones)&^cr | x) & highs
		if m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
	}
	for j < len(b) && !textSpecial[b[j]] {
		j++
	}
	return j
}

// unescape resolves the references in t into textBuf the way scanRef does; ok is false for anything
// scanRef would reject, which the general path then reports.
func (s *scanner) unescape(t []byte) (_ []byte, ok bool) {
	out := s.textBuf[:0]
	for {
		k := bytes.IndexByte(t, '&')
		if k < 0 {
			out = append(out, t...)
			break
		}
		out = append(out, t[:k]...)
		t = t[k+1:]
		n := 0
		for n < len(t) && (isNameByte(t[n]) || t[n] == '#' || t[n] >= utf8.RuneSelf) {
			n++
		}
		if n >= len(t) || t[n] != ';' {
			return nil, false
		}
		if out, ok = appendRef(out, t[:n]); !ok {
			return nil, false
		}
		t = t[n+1:]
	}
	s.textBuf = out
	return out, true
}

// Outside the values, a RowData request repeats a few start tags over and over (<a:RowData>,
// <a:ColumnValues xmlns:b="...">, <a:Operation>). The scanner remembers the parse of the last few start
// tags, keyed by their exact bytes, and replays it when the same bytes come again: only what depends on
// the namespace bindings in scope (the element's namespace, xsi:nil) is resolved afresh.

const (
	tagMemos      = 8
	minMemoTag    = 8 // the key's first word
	maxMemoTag    = 512
	memoKeyLength = 8
)

// tagMemo is the parse of one start tag.
type tagMemo struct {
	raw       []byte // the tag, from '<' to '>'
	first     uint64 // raw's first memoKeyLength bytes
	qnameLen  int    // the name is raw[1 : 1+qnameLen]
	localOff  int    // offset of the local part in the name
	hasPrefix bool
	selfClose bool
	decls     []nsBinding // the bindings the tag declares, in order
	nils      []memoNil   // its prefixed nil attributes, in order
	used      uint64
}

// memoNil is a prefixed nil attribute: its prefix at raw[off:off+n], and whether its value says true.
type memoNil struct {
	off, n int
	isTrue bool
}

// recall returns the memo of the start tag at pos, if its bytes are remembered.
func (s *scanner) recall() *tagMemo {
	if s.noFast || s.end-s.pos < memoKeyLength {
		return nil
	}
	rest := s.buf[s.pos:s.end]
	w := binary.LittleEndian.Uint64(rest)
	for i := range s.tags {
		m := &s.tags[i]
		if m.first == w && len(m.raw) > 0 && bytes.HasPrefix(rest, m.raw) {
			s.tick++
			m.used = s.tick
			return m
		}
	}
	return nil
}

// remember keeps the parse of the start tag raw in place of the least recently used memo.
func (s *scanner) remember(raw []byte, qnameLen, localOff int, hasPrefix, selfClose bool, decls []nsBinding) {
	if s.noFast || len(raw) < minMemoTag || len(raw) > maxMemoTag {
		return
	}
	m := &s.tags[0]
	for i := range s.tags {
		if s.tags[i].used < m.used {
			m = &s.tags[i]
		}
	}
	s.tick++
	m.used = s.tick
	m.raw = append(m.raw[:0], raw...)
	m.first = binary.LittleEndian.Uint64(raw)
	m.qnameLen, m.localOff = qnameLen, localOff
	m.hasPrefix, m.selfClose = hasPrefix, selfClose
	m.decls = append(m.decls[:0], decls...)
	m.nils = append(m.nils[:0], s.nils...)
}

// replay reports the remembered start tag m at pos as scanStartTag would.
func (s *scanner) replay(m *tagMemo) (tokenKind, error) {
	if len(s.frames) >= maxDepth {
		return tokNone, s.fail(errLimit, "elements nested deeper than %d", maxDepth)
	}
	nsMark := len(s.ns)
	s.ns = append(s.ns, m.decls...)
	s.isNil = false
	for _, n := range m.nils {
		if s.resolve(m.raw[n.off:n.off+n.n], nilName, true) == NSXSI {
			s.isNil = n.isTrue
		}
	}
	qname := m.raw[1 : 1+m.qnameLen]
	var prefix []byte
	if m.hasPrefix {
		prefix = qname[:m.localOff-1]
	}
	s.space = s.resolve(prefix, qname[m.localOff:], false)
	s.pushFrame(qname, m.localOff, nsMark)
	s.pos += len(m.raw)
	s.kind = tokStart
	s.pendingEnd = m.selfClose
	return tokStart, nil
}

var nilName = []byte("nil")

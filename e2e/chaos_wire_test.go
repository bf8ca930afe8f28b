package e2e

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
)

// bulkCut is the plan shared by the watches of every proxied connection: while it is armed, the first
// bulk load to reach its at-th data message is cut, once.
type bulkCut struct {
	mu    sync.Mutex
	armed bool
	at    int
	fired bool
}

// arm plans a cut at the at-th data message of a bulk load.
func (c *bulkCut) arm(at int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.at, c.fired = true, at, false
}

// disarm cancels the plan and reports whether a cut came.
func (c *bulkCut) disarm() (fired bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = false
	return c.fired
}

// claim is called at a bulk load's n-th data message and reports whether to cut there.
func (c *bulkCut) claim(n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed || n < c.at {
		return false
	}
	c.armed, c.fired = false, true
	return true
}

// copyWatch reads the frontend side of PostgreSQL's wire protocol: a startup message of a 4-byte
// length (after an 8-byte SSL or GSS request, when the client sends one), then messages of a type
// byte and a 4-byte length that counts itself. It asks its bulkCut at every CopyData message ('d')
// of a COPY … FROM STDIN, counting from the COPY's first.
type copyWatch struct {
	cut     *bulkCut
	started bool   // the startup message is behind
	hdr     []byte // the current message's header, while incomplete
	skip    int    // bytes of the current message still to pass
	data    int    // CopyData messages since the last other message
}

func newCopyWatch(cut *bulkCut) *copyWatch { return &copyWatch{cut: cut} }

// ClientBytes implements tcpproxy.Inspector.
func (w *copyWatch) ClientBytes(p []byte) bool {
	for len(p) > 0 {
		if w.skip > 0 {
			n := min(w.skip, len(p))
			w.skip, p = w.skip-n, p[n:]
			continue
		}
		need := 5
		if !w.started {
			need = 4
		}
		n := min(need-len(w.hdr), len(p))
		w.hdr, p = append(w.hdr, p[:n]...), p[n:]
		if len(w.hdr) < need {
			return false
		}
		length := int(binary.BigEndian.Uint32(w.hdr[need-4:]))
		w.skip = length - 4
		if !w.started {
			// An SSLRequest or GSSENCRequest is 8 bytes; the startup message that follows is longer.
			w.started = length != 8
		} else if w.hdr[0] == 'd' {
			w.data++
			if w.cut.claim(w.data) {
				return true
			}
		} else {
			w.data = 0
		}
		w.hdr = w.hdr[:0]
	}
	return false
}

// loadDataWatch reads the client side of MySQL's wire protocol: packets of a 3-byte length and a
// sequence number. A command starts with sequence number 0; a COM_QUERY (0x03) whose text starts
// with LOAD DATA is followed, once the server has asked for the file, by the file's content in
// packets of higher sequence numbers, which the watch counts, asking its bulkCut at each.
type loadDataWatch struct {
	cut    *bulkCut
	hdr    []byte // the current packet's header, while incomplete
	skip   int    // bytes of the current packet still to pass
	head   []byte // the first bytes of a command, to recognise LOAD DATA
	want   int    // how many of them are still to come
	inLoad bool
	data   int
}

func newLoadDataWatch(cut *bulkCut) *loadDataWatch { return &loadDataWatch{cut: cut} }

// loadDataPrefix is what a LOAD DATA command's packet starts with: COM_QUERY and the statement.
var loadDataPrefix = []byte("\x03LOAD DATA")

// ClientBytes implements tcpproxy.Inspector.
func (w *loadDataWatch) ClientBytes(p []byte) bool {
	for len(p) > 0 {
		if w.skip > 0 {
			n := min(w.skip, len(p))
			if w.want > 0 {
				k := min(w.want, n)
				w.head, w.want = append(w.head, p[:k]...), w.want-k
				if w.want == 0 {
					w.inLoad = bytes.EqualFold(w.head, loadDataPrefix)
				}
			}
			w.skip, p = w.skip-n, p[n:]
			continue
		}
		n := min(4-len(w.hdr), len(p))
		w.hdr, p = append(w.hdr, p[:n]...), p[n:]
		if len(w.hdr) < 4 {
			return false
		}
		length, seq := int(w.hdr[0])|int(w.hdr[1])<<8|int(w.hdr[2])<<16, w.hdr[3]
		w.hdr, w.skip = w.hdr[:0], length
		switch {
		case seq == 0: // a new command
			w.inLoad, w.data = false, 0
			w.head, w.want = w.head[:0], min(length, len(loadDataPrefix))
		case w.inLoad && length > 0: // a packet of the file's content
			w.data++
			if w.cut.claim(w.data) {
				return true
			}
		}
	}
	return false
}

// cutOffset feeds stream to the inspector in chunks of size and returns how many bytes it let
// through before it cut (-1: no cut).
func cutOffset(ins interface{ ClientBytes([]byte) bool }, stream []byte, size int) int {
	for off := 0; off < len(stream); off += size {
		if ins.ClientBytes(stream[off:min(off+size, len(stream))]) {
			return off
		}
	}
	return -1
}

// checkCut checks, for every chunk size, that the watch cuts at the chunk that completes the header
// of the at-th data message, whose last header byte is at stream[last].
func checkCut(t *testing.T, name string, newWatch func(*bulkCut) interface{ ClientBytes([]byte) bool }, stream []byte, lasts []int) {
	t.Helper()
	for at := 1; at <= len(lasts)+1; at++ {
		for _, size := range []int{1, 2, 3, 5, 7, 64, len(stream)} {
			cut := &bulkCut{}
			cut.arm(at)
			got := cutOffset(newWatch(cut), stream, size)
			want := -1
			if at <= len(lasts) {
				want = lasts[at-1] / size * size
			}
			if got != want || cut.disarm() != (want >= 0) {
				t.Errorf("%s: cut at data message %d, chunks of %d: cut after %d bytes, want %d", name, at, size, got, want)
			}
		}
	}
}

func TestCopyWatch(t *testing.T) {
	var s []byte
	msg := func(typ byte, body string) {
		if typ != 0 {
			s = append(s, typ)
		}
		s = binary.BigEndian.AppendUint32(s, uint32(4+len(body)))
		s = append(s, body...)
	}
	var lasts []int
	msg(0, "\x04\xd2\x16\x2f")                                // SSLRequest
	msg(0, "\x00\x03\x00\x00user\x00postgres\x00\x00")        // startup
	msg('Q', "COPY \"t\" FROM STDIN BINARY\x00")              // the COPY
	for _, body := range []string{"PGCOPY d-d-d", "", "dd"} { // data, an empty one among them
		lasts = append(lasts, len(s)+4)
		msg('d', body)
	}
	msg('c', "")
	msg('Q', "SELECT 'd'\x00")
	checkCut(t, "copy", func(c *bulkCut) interface{ ClientBytes([]byte) bool } { return newCopyWatch(c) }, s, lasts)
}

func TestLoadDataWatch(t *testing.T) {
	var s []byte
	packet := func(seq byte, body string) {
		s = append(s, byte(len(body)), byte(len(body)>>8), byte(len(body)>>16), seq)
		s = append(s, body...)
	}
	var lasts []int
	packet(1, "handshake response, root")
	packet(0, "\x03SELECT 'LOAD DATA'")
	packet(1, "no LOAD here")
	packet(0, "\x03load data local infile 'Reader::x' INTO TABLE `t`")
	for _, body := range []string{"1\tLOAD\n", "2\tx\n"} {
		lasts = append(lasts, len(s)+3)
		packet(byte(2+len(lasts)), body)
	}
	packet(4, "") // the end of the file
	packet(0, "\x03COMMIT")
	packet(1, "not a file")
	checkCut(t, "load data", func(c *bulkCut) interface{ ClientBytes([]byte) bool } { return newLoadDataWatch(c) }, s, lasts)
}

package protocol

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"testing"
	"testing/iotest"
)

// decodeBoth decodes data with the fast paths on and off and fails unless both give the same rows
// and the same error; it returns the fast path's result.
func decodeBoth(t testing.TB, data []byte, opts DecodeOptions) (string, error) {
	t.Helper()
	fast, fastErr := decodeDoc(bytes.NewReader(data), opts)
	d := NewRequestDecoder(bytes.NewReader(data), opts)
	d.s.noFast = true
	slow, slowErr := decodeRequest(d)
	if fast != slow || errString(fastErr) != errString(slowErr) {
		t.Fatalf("fast and general paths differ for %q:\nfast:    %q %v\ngeneral: %q %v", data, fast, fastErr, slow, slowErr)
	}
	// Streaming the rows before the batch is handed out decodes the same.
	streamed, streamedErr := decodeStreamed(data, opts)
	if fast != streamed || errString(fastErr) != errString(streamedErr) {
		t.Fatalf("Next and Stream differ for %q:\nNext:   %q %v\nStream: %q %v", data, fast, fastErr, streamed, streamedErr)
	}
	return fast, fastErr
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// The fast path must decode exactly as the general path does, falling back on every unusual shape.
func TestFastValuesFallbacks(t *testing.T) {
	const (
		arrays = `xmlns:b="` + NSArrays + `"`
		xsi    = `xmlns:i="` + NSXSI + `"`
	)
	// A batch of rows whose ColumnValues are given whole, so that the element itself can vary.
	rows := func(cvs ...string) string {
		s := ""
		for _, cv := range cvs {
			s += `<a:RowData>` + cv + `<a:Operation>I</a:Operation></a:RowData>`
		}
		return rowDataDoc(batchDoc(s))
	}
	plain := `<b:string>x</b:string><b:string/><b:string i:nil="true"/>`
	for _, tc := range []struct {
		name, doc string
		opts      DecodeOptions
		want      string // the rows, one per line, or a part of the error
		wantErr   bool
	}{
		{name: "usual shapes", doc: rowDataDoc(batchDoc(rowDoc("I", plain))), want: `I "x" "" NULL`},
		{name: "empty element with end tag", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string></b:string><b:string i:nil="true"></b:string>`))), want: `I "" NULL`},
		{name: "nil with content is not NULL", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string i:nil="true">v</b:string>`))), want: `I "v"`},
		{name: "nil=1 and other quotes", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string i:nil="1"/><b:string i:nil='true'/><b:string i:nil=" true "/><b:string i:nil="false"/>`))), want: `I NULL NULL NULL ""`},
		{name: "attributes in another order", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string x="1" i:nil="true"/><b:string i:nil="true" x="1"/>`))), want: `I NULL NULL`},
		{name: "whitespace inside tags", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string >a</b:string ><b:string  i:nil="true" /><b:string i:nil = "true"/><b:string/ >`))), wantErr: true},
		{name: "whitespace inside tags, well-formed", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string >a</b:string ><b:string  i:nil="true" /><b:string i:nil = "true"/><b:string
/>`))), want: `I "a" NULL NULL ""`},
		{name: "whitespace between values", doc: rowDataDoc(batchDoc(rowDoc("I", "\n\t<b:string>a</b:string>\r\n  <b:string/> "))), want: `I "a" ""`},
		{name: "entities and character references", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string>a &amp; b &lt;&gt;&quot;&apos;&#x1;&#233;&#x1F600;</b:string><b:string>&amp;</b:string>`))), want: `I "a & b <>\"'\x01é😀" "&"`},
		{name: "bad entity", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string>a &nbsp; b</b:string>`))), wantErr: true},
		{name: "entity without semicolon", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string>a &amp b</b:string>`))), wantErr: true},
		{name: "CDATA and comments in values", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string>a<![CDATA[<&>]]>b</b:string><b:string>c<!-- x -->d</b:string><b:string><?pi x?></b:string>`))), want: `I "a<&>b" "cd" ""`},
		{name: "raw carriage returns", doc: rowDataDoc(batchDoc(rowDoc("I", "<b:string>a\r\nb\rc</b:string>"))), want: `I "a\nb\nc"`},
		{name: "non-ASCII text", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string>Müller – 東京</b:string>`))), want: `I "Müller – 東京"`},
		{name: "invalid UTF-8", doc: rowDataDoc(batchDoc(rowDoc("I", "<b:string>a\xffb</b:string>"))), wantErr: true},
		{name: "another prefix for the arrays namespace", doc: rows(`<a:ColumnValues xmlns:arr="` + NSArrays + `"><arr:string>x</arr:string><arr:string i:nil="true"/><arr:string/></a:ColumnValues>`), want: `I "x" NULL ""`},
		{name: "arrays as the default namespace", doc: rows(`<a:ColumnValues xmlns="` + NSArrays + `"><string>x</string><string i:nil="true"/><string/></a:ColumnValues>`), want: `I "x" NULL ""`},
		// node-soap, generating from SuperOffice's WSDL, writes the items in the data-contract namespace.
		{name: "strings in the data-contract namespace", doc: rows(`<a:ColumnValues><a:string>x</a:string><a:string i:nil="true"/><a:string/></a:ColumnValues>`), want: `I "x" NULL ""`},
		{name: "data contract as the default namespace", doc: rows(`<a:ColumnValues xmlns="` + NSContract + `"><string>x</string><string i:nil="true"/><string/></a:ColumnValues>`), want: `I "x" NULL ""`},
		{name: "both namespaces in one row", doc: rows(`<a:ColumnValues ` + arrays + `><b:string>x</b:string><a:string>y</a:string><b:string/><a:string i:nil="true"/></a:ColumnValues>`), want: `I "x" "y" "" NULL`},
		{name: "other data-contract element", doc: rows(`<a:ColumnValues><a:string>x</a:string><a:Operation>I</a:Operation></a:ColumnValues>`), wantErr: true},
		{name: "string in a third namespace", doc: rows(`<a:ColumnValues xmlns:c="urn:other"><a:string>x</a:string><c:string>y</c:string></a:ColumnValues>`), wantErr: true},
		{name: "prefix rebound mid-stream", doc: rows(
			`<a:ColumnValues `+arrays+`>`+plain+`</a:ColumnValues>`,
			`<a:ColumnValues xmlns:b="urn:other"><b:string>x</b:string></a:ColumnValues>`,
			`<a:ColumnValues xmlns:c="`+NSArrays+`" xmlns:b="urn:other"><c:string>y</c:string></a:ColumnValues>`,
			`<a:ColumnValues `+arrays+`>`+plain+`</a:ColumnValues>`), wantErr: true},
		{name: "prefix rebound mid-stream, valid", doc: rows(
			`<a:ColumnValues `+arrays+`>`+plain+`</a:ColumnValues>`,
			`<a:ColumnValues xmlns:c="`+NSArrays+`" xmlns:b="urn:other"><c:string>y</c:string><c:string i:nil="true"/></a:ColumnValues>`,
			`<a:ColumnValues xmlns:b="`+NSArrays+`" xmlns:i="urn:other"><b:string i:nil="true"/></a:ColumnValues>`,
			`<a:ColumnValues xmlns:b="`+NSArrays+`" xmlns:j="`+NSXSI+`"><b:string j:nil="true"/><b:string i:nil="true"/></a:ColumnValues>`,
			`<a:ColumnValues `+arrays+`>`+plain+`</a:ColumnValues>`),
			want: "I \"x\" \"\" NULL\nI \"y\" NULL\nI \"\"\nI NULL NULL\nI \"x\" \"\" NULL"},
		{name: "element rebinding its own prefix", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string xmlns:b="urn:other">x</b:string>`))), wantErr: true},
		{name: "element rebinding its own prefix to the same URI", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string `+arrays+`>x</b:string><b:string>y</b:string>`))), want: `I "x" "y"`},
		{name: "xsi prefix rebound on the value", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string xmlns:i="urn:other" i:nil="true"/>`))), want: `I ""`},
		{name: "xsi prefix unbound", doc: rowDataDoc(`<a:RowDataBatch xmlns:i="urn:x"><a:Data>` + rowDoc("I", `<b:string i:nil="true"/>`) + `</a:Data><a:TableInfo><a:TableName>t</a:TableName></a:TableInfo></a:RowDataBatch>`), want: `I ""`},
		{name: "unbound prefix", doc: rows(`<a:ColumnValues><b:string>x</b:string></a:ColumnValues>`), wantErr: true},
		{name: "other local name", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:strings>x</b:strings>`))), wantErr: true},
		{name: "nested element", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string>x<b:string/></b:string>`))), wantErr: true},
		{name: "mismatched end tag", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string>x</b:strin>`))), wantErr: true},
		{name: "text between values", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string>x</b:string>oops<b:string/>`))), wantErr: true},
		{name: "value over MaxValueSize", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string>1234567890123</b:string>`))), opts: DecodeOptions{MaxValueSize: 12}, wantErr: true},
		{name: "whitespace over MaxValueSize", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string>12</b:string>             <b:string/>`))), opts: DecodeOptions{MaxValueSize: 12}, wantErr: true},
		{name: "entities under MaxValueSize", doc: rowDataDoc(batchDoc(rowDoc("I", `<b:string>&amp;&amp;&amp;</b:string><b:string>123456789012</b:string>           <b:string/>`))), opts: DecodeOptions{MaxValueSize: 12}, want: `I "&&&" "123456789012" ""`},
		{name: "self-closed ColumnValues", doc: rows(`<a:ColumnValues ` + arrays + `/>`), want: `I`},
		{name: "truncated inside a value", doc: rowDataDoc(batchDoc(rowDoc("I", plain)))[:len(envOpen)+len(hdr)+400], wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeBoth(t, []byte(tc.doc), tc.opts)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error; rows:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rows := batchRows(got); rows != tc.want {
				t.Errorf("rows:\n%s\nwant:\n%s", rows, tc.want)
			}
		})
	}
}

// batchRows drops the table line(s) of formatBatch's output.
func batchRows(out string) string {
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "{") {
			continue
		}
		rows = append(rows, l)
	}
	return strings.Join(rows, "\n")
}

// fastValuesOf runs fastValues once inside the root element of doc, spooling into a row of a new
// spool, and returns where it stopped and the spool.
func fastValuesOf(t *testing.T, doc string) (rest string, sp *spool) {
	t.Helper()
	s := newScanner(strings.NewReader(doc))
	if k, err := s.next(); k != tokStart || err != nil {
		t.Fatal(k, err)
	}
	sp = newSpool(0, t.TempDir())
	t.Cleanup(func() { sp.close() })
	if err := sp.beginRow(); err != nil {
		t.Fatal(err)
	}
	if err := s.fastValues(sp); err != nil {
		t.Fatal(err)
	}
	return doc[s.pos:], sp
}

// fastValues itself consumes the usual shapes and stops at the first other one.
func TestFastValuesConsumes(t *testing.T) {
	doc := `<c xmlns:b="` + NSArrays + `" xmlns:i="` + NSXSI + `"><b:string>x&amp;y</b:string> <b:string/>` +
		"\n" + `<b:string i:nil="true"/><b:string><![CDATA[z]]></b:string></c>`
	rest, sp := fastValuesOf(t, doc)
	if !strings.HasPrefix(rest, "<b:string><![CDATA[") {
		t.Fatalf("stopped at %q", rest)
	}
	if sp.nvals != 3 {
		t.Fatalf("%d values spooled, want 3", sp.nvals)
	}
	sp.endRow('I')
	rows, err := sp.finish()
	if err != nil || !rows.Next() {
		t.Fatal(err)
	}
	v := rows.Row().Values
	if string(v[0].Text) != "x&y" || v[0].Null || len(v[1].Text) != 0 || v[1].Null || !v[2].Null {
		t.Fatalf("values %+v", v)
	}
}

// Items in the data-contract namespace (node-soap's) take the fast path too when nothing is bound to
// the arrays namespace.
func TestFastValuesDataContractNamespace(t *testing.T) {
	doc := `<c xmlns:a="` + NSContract + `" xmlns:i="` + NSXSI + `"><a:string>x</a:string><a:string/><a:string i:nil="true"/><a:Operation>`
	if rest, sp := fastValuesOf(t, doc); rest != "<a:Operation>" || sp.nvals != 3 {
		t.Fatalf("spooled %d values and stopped at %q", sp.nvals, rest)
	}
}

// Reads of every size must not change what the fast path decodes.
func TestFastValuesChunked(t *testing.T) {
	body := rowDataBody(t, 64<<10)
	want, err := decodeBoth(t, body, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 5, 64, 1000, 4093} {
		got, err := decodeDoc(&chunkReader{b: body, n: n}, DecodeOptions{SpoolMemory: 1})
		if err != nil || got != want {
			t.Fatalf("chunks of %d: %v, same=%v", n, err, got == want)
		}
	}
	if got, err := decodeDoc(iotest.HalfReader(bytes.NewReader(body)), DecodeOptions{}); err != nil || got != want {
		t.Fatalf("half reads: %v, same=%v", err, got == want)
	}
}

// FuzzFastValuesMatchGeneral puts arbitrary bytes inside a ColumnValues, where the fast path runs,
// and checks that it decodes them as the general path does.
func FuzzFastValuesMatchGeneral(f *testing.F) {
	for _, s := range []string{
		`<b:string>x</b:string><b:string/><b:string i:nil="true"/>`,
		`<b:string>a &amp; b&#x1;</b:string><b:string>é</b:string>`,
		`<b:string xmlns:b="urn:x">x</b:string><b:string i:nil='1'/>`,
		"<b:string>a\r\n<![CDATA[b]]><!--c--></b:string> <b:string >x</b:string >",
		`</a:ColumnValues><a:ColumnValues xmlns:c="` + NSArrays + `"><c:string>y</c:string>`,
		`</a:ColumnValues><a:ColumnValues><a:string>y</a:string><a:string i:nil="true"/><b:string/>`,
	} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, values string, maxValue int) {
		doc := rowDataDoc(batchDoc(rowDoc("I", values)))
		decodeBoth(t, []byte(doc), DecodeOptions{MaxValueSize: maxValue % 64, SpoolMemory: 1})
	})
}

// Decoding must not allocate per row: a body four times larger costs no more allocations.
func TestDecodeAllocationsPerRow(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 2.5 MB")
	}
	// Buffers are pooled between calls, and a collection empties the pools: that costs allocations per
	// call, not per row, so collections are kept out of the measurement.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	allocs := func(body []byte) float64 {
		return testing.AllocsPerRun(3, func() {
			if rows, _, err := consumeRowData(bytes.NewReader(body), DecodeOptions{}, nil); err != nil || rows == 0 {
				t.Fatal(rows, err)
			}
		})
	}
	small, large := rowDataBody(t, 500<<10), rowDataBody(t, 2<<20)
	a, b := allocs(small), allocs(large)
	t.Logf("%v allocations for %d bytes, %v for %d bytes", a, len(small), b, len(large))
	if b > a+2 {
		t.Fatalf("%v allocations for %d bytes but %v for %d bytes: the decoder allocates per row", a, len(small), b, len(large))
	}
}

// A remembered start tag is resolved afresh under the bindings in scope when it comes again; the
// end-tag shortcut reports what the general path reports.
func TestTagMemo(t *testing.T) {
	const xsi = `xmlns:i="` + NSXSI + `"`
	for _, tc := range []struct{ name, doc string }{
		{"prefix rebound between repeats", `<r xmlns:p="u1"><p:elem1234/><q xmlns:p="u2"><p:elem1234/></q><p:elem1234/></r>`},
		{"default namespace rebound", `<r xmlns="u1"><element1/><q xmlns="u2"><element1/><element1 xmlns=""/></q><element1/></r>`},
		{"xsi prefix rebound", `<r ` + xsi + `><e i:nil="true"/><q xmlns:i="urn:x"><e i:nil="true"/></q><e i:nil="true"/></r>`},
		{"tag declaring its own prefix", `<r xmlns:p="u1"><p:e xmlns:p="u2" i:nil="1" ` + xsi + `/><p:e xmlns:p="u2" i:nil="1" ` + xsi + `/></r>`},
		{"several nil attributes", `<r ` + xsi + ` xmlns:j="urn:x"><e j:nil="true" i:nil="false"/><e j:nil="true" i:nil="false"/><w xmlns:j="` + NSXSI + `"><e j:nil="true" i:nil="false"/></w></r>`},
		{"unbound prefix", `<r><p:element/><p:element/></r>`},
		{"xml and xmlns prefixes", `<r xmlns:xml="urn:x"><xml:elem/><xml:elem/><xmlns:elem/><xmlns:elem/></r>`},
		{"end tags with space", `<r><element1></element1 ><element1></element1></r>`},
		{"wrong end tag after memo", `<r><element1></element1><element1></element2></r>`},
		{"end tag prefix of the open name", `<r><element12></element1></r>`},
		{"depth limit on a remembered tag", strings.Repeat("<element1>", maxDepth+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkAgainstOracle(t, []byte(tc.doc))
			fast, fastErr := scanEvents(strings.NewReader(tc.doc))
			s := newScanner(strings.NewReader(tc.doc))
			s.noFast = true
			slow, slowErr := scanAll(s)
			if fmt.Sprint(fast) != fmt.Sprint(slow) || errString(fastErr) != errString(slowErr) {
				t.Fatalf("fast and general paths differ:\nfast:    %q %v\ngeneral: %q %v", fast, fastErr, slow, slowErr)
			}
		})
	}
}

// scanAll runs s to the end as scanEvents does.
func scanAll(s *scanner) ([]event, error) {
	var evs []event
	for {
		k, err := s.next()
		if err == io.EOF {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		switch k {
		case tokStart:
			evs = append(evs, event(fmt.Sprintf("S {%s}%s nil=%v", s.space, s.local, s.isNil)))
		case tokEnd:
			evs = append(evs, event(fmt.Sprintf("E {%s}%s", s.space, s.local)))
		case tokText:
			evs = append(evs, event(fmt.Sprintf("T %q", s.text)))
		}
	}
}

// nextSpecial finds what a byte-by-byte search finds, at every alignment.
func TestNextSpecial(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab<&\r\n\x00\x7f\x80\xc3\xff;=/ ")
	for n := 0; n < 20000; n++ {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = byte('0' + rng.IntN(40))
			}
		}
		for j := 0; j <= len(b); j++ {
			want := j
			for want < len(b) && !textSpecial[b[want]] {
				want++
			}
			if got := nextSpecial(b, j); got != want {
				t.Fatalf("nextSpecial(%q, %d) = %d, want %d", b, j, got, want)
			}
		}
	}
}

package protocol

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
)

const (
	envOpen  = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">`
	hdr      = `<s:Header><h:SignedToken s:mustUnderstand="1" xmlns:h="http://www.superoffice.com/online/mirroring/0.1">tok.en.sig</h:SignedToken></s:Header>`
	envClose = `</s:Body></s:Envelope>`
)

// rowDataDoc wraps batches (the inside of DataBatches) in a RowData request.
func rowDataDoc(batches string) string {
	return envOpen + hdr + `<s:Body><RowDataRequest xmlns="http://www.superoffice.com/online/mirroring/0.1"><ClientState/>` +
		`<DataBatches xmlns:a="` + NSContract + `" xmlns:i="` + NSXSI + `">` + batches + `</DataBatches></RowDataRequest>` + envClose
}

func batchDoc(rows string) string {
	return `<a:RowDataBatch><a:Data>` + rows + `</a:Data><a:LSN>7</a:LSN><a:TableInfo><a:Columns><a:ColumnInfo><a:DefaultValue/><a:IsNullable>false</a:IsNullable><a:Name>id</a:Name><a:Type>int</a:Type></a:ColumnInfo></a:Columns><a:TableName>t</a:TableName></a:TableInfo></a:RowDataBatch>`
}

func rowDoc(op string, values ...string) string {
	s := `<a:RowData><a:ColumnValues xmlns:b="` + NSArrays + `">`
	for _, v := range values {
		s += v
	}
	return s + `</a:ColumnValues><a:Operation>` + op + `</a:Operation></a:RowData>`
}

// tableSchemaDoc is a TableSchema request of one table with one column.
func tableSchemaDoc(table, column string) string {
	return envOpen + hdr + `<s:Body><TableSchemaRequest xmlns="` + NSService + `"><Tables xmlns:a="` + NSContract + `"><a:TableSchemaInfo><a:Columns><a:ColumnInfo>` +
		`<a:Name>` + column + `</a:Name><a:Type>int</a:Type></a:ColumnInfo></a:Columns><a:TableName>` + table + `</a:TableName></a:TableSchemaInfo></Tables></TableSchemaRequest>` + envClose
}

// decodeDoc decodes any request fully and returns the first error; rows are rendered into out.
func decodeDoc(doc io.Reader, opts DecodeOptions) (out string, err error) {
	return decodeRequest(NewRequestDecoder(doc, opts))
}

// decodeRequest decodes d's request fully, as decodeDoc does, and closes d.
func decodeRequest(d *RequestDecoder) (out string, err error) {
	defer d.Close()
	h, err := d.ReadHeader()
	if err != nil {
		return "", err
	}
	switch h.Op {
	case OpAuthenticate:
		_, err = d.Authenticate()
	case OpWipe:
		_, err = d.Wipe()
	case OpTableSchema:
		_, err = d.TableSchema()
	case OpReplicationCompleted:
		_, err = d.ReplicationCompleted()
	case OpRowData:
		var req RowDataRequest
		if req, err = d.RowData(); err != nil {
			return "", err
		}
		var sb strings.Builder
		for {
			b, err := req.Batches.Next(context.Background())
			if err == io.EOF {
				return sb.String(), nil
			}
			if err != nil {
				return sb.String(), err
			}
			sb.WriteString(formatBatch(b))
		}
	}
	return "", err
}

func TestDecodeValues(t *testing.T) {
	for _, tc := range []struct {
		name, rows, want string
	}{
		{"nil vs empty", rowDoc("I", `<b:string i:nil="true"/>`, `<b:string/>`, `<b:string></b:string>`, `<b:string i:nil="false"/>`), `I NULL "" "" ""`},
		{"nil with end tag", rowDoc("I", `<b:string i:nil="true"></b:string>`), `I NULL`},
		{"control refs", rowDoc("U", `<b:string>&#x1;&#0;&#x0;&#31;&#xD;</b:string>`), `U "\x01\x00\x00\x1f\r"`},
		{"entities", rowDoc("D", `<b:string>&lt;&gt;&amp;&quot;&apos;&#233;&#x1F600;</b:string>`), `D "<>&\"'é😀"`},
		{"cdata", rowDoc("I", `<b:string><![CDATA[<x> & ]] ]]]]><![CDATA[>]]>tail</b:string>`), `I "<x> & ]] ]]>tail"`},
		{"comment and PI inside", rowDoc("I", `<b:string>a<!-- c -->b<?pi x?>c</b:string>`), `I "abc"`},
		{"line ends", rowDoc("I", "<b:string>a\r\nb\rc\n</b:string>"), `I "a\nb\nc\n"`},
		{"whitespace kept in values", rowDoc("I", "<b:string>  x  </b:string>"), `I "  x  "`},
		{"op words", rowDoc("insert", `<b:string>1</b:string>`) + rowDoc(" UPDATE ", `<b:string>2</b:string>`) + rowDoc("Delete", `<b:string>3</b:string>`) + rowDoc("d", `<b:string>4</b:string>`), "I \"1\"\nU \"2\"\nD \"3\"\nD \"4\""},
		{"other prefixes", strings.NewReplacer("b:", "zz:", "xmlns:b", "xmlns:zz").Replace(rowDoc("I", `<b:string>v</b:string>`)), `I "v"`},
		{"default namespace for arrays", `<a:RowData><a:ColumnValues><string xmlns="` + NSArrays + `">v</string><string xmlns="` + NSArrays + `" i:nil="true"/></a:ColumnValues><a:Operation>I</a:Operation></a:RowData>`, `I "v" NULL`},
		{"unknown elements skipped", `<a:Extra><x/></a:Extra>` + rowDoc("I", `<b:string>v</b:string>`), `I "v"`},
		{"no rows", ``, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := decodeDoc(strings.NewReader(rowDataDoc(batchDoc(tc.rows))), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitN(out, "\n", 2)
			if got := strings.TrimSpace(lines[1]); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestDecodeXMLDeclarationAndComments(t *testing.T) {
	doc := "\ufeff" + `<?xml version="1.0" encoding="utf-8"?><!-- hi -->` + "\n" + rowDataDoc(batchDoc(rowDoc("I", `<b:string>v</b:string>`))) + "<!-- bye -->\n"
	if _, err := decodeDoc(strings.NewReader(doc), DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeNamespaceByURI(t *testing.T) {
	// The prefix a is bound to the wrong namespace: the batch is not a RowDataBatch of the contract.
	doc := strings.Replace(rowDataDoc(batchDoc(rowDoc("I", `<b:string>v</b:string>`))), `xmlns:a="`+NSContract, `xmlns:a="urn:other`, 1)
	out, err := decodeDoc(strings.NewReader(doc), DecodeOptions{})
	if err != nil || out != "" {
		t.Fatalf("foreign elements must be skipped, got %q %v", out, err)
	}
	// Envelope with the right local name in the SOAP 1.2 namespace.
	doc = strings.Replace(rowDataDoc(""), "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope", 1)
	if _, err := decodeDoc(strings.NewReader(doc), DecodeOptions{}); !errors.Is(err, ErrNotSOAP) {
		t.Fatalf("SOAP 1.2 envelope: %v", err)
	}
}

func TestDecodeBadInput(t *testing.T) {
	wipe := func(body string) string { return envOpen + hdr + `<s:Body>` + body + envClose }
	rows := func(r string) string { return rowDataDoc(batchDoc(r)) }
	deep := envOpen + hdr + `<s:Body><WipeRequest xmlns="` + NSService + `">` + strings.Repeat("<x>", 100000)
	for _, tc := range []struct {
		name, doc string
		notSOAP   bool
		want      string
		opts      DecodeOptions
	}{
		{"empty", "", true, "not a SOAP envelope", DecodeOptions{}},
		{"not XML", "hello world", true, "not a SOAP envelope", DecodeOptions{}},
		{"JSON", `{"a": 1}`, true, "not a SOAP envelope", DecodeOptions{}},
		{"HTML", `<html><body>x</body></html>`, true, "root element is <html>", DecodeOptions{}},
		{"garbage bytes", "\x00\x01\x02<<<>>>", true, "not a SOAP envelope", DecodeOptions{}},
		{"missing header", envOpen + `<s:Body><WipeRequest xmlns="` + NSService + `"><TableName>t</TableName></WipeRequest>` + envClose, false, "missing SOAP Header", DecodeOptions{}},
		{"missing token", envOpen + `<s:Header><Other xmlns="urn:x">y</Other></s:Header><s:Body/></s:Envelope>`, false, "SignedToken", DecodeOptions{}},
		{"token in wrong namespace", envOpen + `<s:Header><SignedToken xmlns="urn:x">tok</SignedToken></s:Header><s:Body/></s:Envelope>`, false, "SignedToken", DecodeOptions{}},
		{"blank token", envOpen + `<s:Header><h:SignedToken xmlns:h="` + NSService + `">  </h:SignedToken></s:Header><s:Body/></s:Envelope>`, false, "SignedToken", DecodeOptions{}},
		{"unknown operation", wipe(`<PurgeRequest xmlns="` + NSService + `"/>`), false, "unknown operation <PurgeRequest>", DecodeOptions{}},
		{"operation in wrong namespace", wipe(`<WipeRequest xmlns="urn:x"/>`), false, "unknown operation", DecodeOptions{}},
		{"empty body", envOpen + hdr + `<s:Body></s:Body></s:Envelope>`, false, "empty SOAP Body", DecodeOptions{}},
		{"wipe without table", wipe(`<WipeRequest xmlns="` + NSService + `"><ClientState/></WipeRequest>`), false, "no TableName", DecodeOptions{}},
		{"mismatched tags", wipe(`<WipeRequest xmlns="` + NSService + `"><TableName>t</Table></WipeRequest>`), false, "closed by </Table>", DecodeOptions{}},
		{"undefined entity", wipe(`<WipeRequest xmlns="` + NSService + `"><TableName>&nbsp;</TableName></WipeRequest>`), false, "invalid character entity", DecodeOptions{}},
		{"DOCTYPE", `<!DOCTYPE x [<!ENTITY e "boom">]>` + wipe(""), true, "directives", DecodeOptions{}},
		{"content after envelope", wipe(`<WipeRequest xmlns="`+NSService+`"><TableName>t</TableName></WipeRequest>`) + `<x/>`, false, "after the envelope", DecodeOptions{}},
		{"text where elements belong", wipe(`<WipeRequest xmlns="` + NSService + `">junk<TableName>t</TableName></WipeRequest>`), false, `unexpected text "junk"`, DecodeOptions{}},
		{"element inside a string", wipe(`<WipeRequest xmlns="` + NSService + `"><TableName>t<b/></TableName></WipeRequest>`), false, "holds only text", DecodeOptions{}},
		{"deep nesting", deep, false, "nested deeper than", DecodeOptions{}},
		{"huge attribute", wipe(`<WipeRequest xmlns="` + NSService + `"><ClientState x="` + strings.Repeat("a", 1<<20) + `"/></WipeRequest>`), false, "tag longer than", DecodeOptions{}},
		{"huge attribute in the header", wipe(`<WipeRequest xmlns="` + NSService + `" x="` + strings.Repeat("a", 1<<20) + `"/>`), false, "the SOAP header is longer than 16384 bytes", DecodeOptions{}},
		{"table name too long", wipe(`<WipeRequest xmlns="` + NSService + `"><TableName>` + strings.Repeat("t", 129) + `</TableName></WipeRequest>`), false, "TableName is longer than 128 characters", DecodeOptions{}},
		{"table schema name too long", tableSchemaDoc(strings.Repeat("é", 129), "id"), false, "TableName is longer than 128 characters", DecodeOptions{}},
		{"column name too long", tableSchemaDoc("t", strings.Repeat("c", 129)), false, "column Name is longer than 128 characters", DecodeOptions{}},
		{"batch table name too long", rowDataDoc(strings.Replace(batchDoc(""), "<a:TableName>t<", "<a:TableName>"+strings.Repeat("t", 200)+"<", 1)), false, "TableName is longer than 128 characters", DecodeOptions{}},
		{"summary table name too long", wipe(`<ReplicationCompletedRequest xmlns="` + NSService + `"><ChangedTables xmlns:a="` + NSContract + `"><a:ReplicationSummary><a:TableName>` +
			strings.Repeat("t", 129) + `</a:TableName></a:ReplicationSummary></ChangedTables></ReplicationCompletedRequest>`), false, "TableName is longer than 128 characters", DecodeOptions{}},
		{"string in a third namespace", rows(`<a:RowData><a:ColumnValues xmlns:c="urn:x"><c:string>1</c:string></a:ColumnValues><a:Operation>I</a:Operation></a:RowData>`), false, "unexpected element <string> in namespace \"urn:x\"", DecodeOptions{}},
		{"other element in the data-contract namespace", rows(`<a:RowData><a:ColumnValues><a:int>1</a:int></a:ColumnValues><a:Operation>I</a:Operation></a:RowData>`), false, "unexpected element <int>", DecodeOptions{}},
		{"huge text", wipe(`<WipeRequest xmlns="` + NSService + `"><TableName>` + strings.Repeat("a", 5000) + `</TableName></WipeRequest>`), false, "text longer than 4096", DecodeOptions{MaxValueSize: 4096}},
		{"huge value with entities", rows(rowDoc("I", `<b:string>`+strings.Repeat("&amp;", 5000)+`</b:string>`)), false, "text longer than 4096", DecodeOptions{MaxValueSize: 4096}},
		{"bad operation", rows(rowDoc("I", `<b:string>1</b:string>`) + rowDoc("X", `<b:string>2</b:string>`)), false, `row 2 of RowDataBatch 1: invalid Operation "X"`, DecodeOptions{}},
		{"missing operation", rows(`<a:RowData><a:ColumnValues/></a:RowData>`), false, "row 1 of RowDataBatch 1 has no Operation", DecodeOptions{}},
		{"batch without TableInfo", rowDataDoc(`<a:RowDataBatch><a:Data/><a:LSN>1</a:LSN></a:RowDataBatch>`), false, "has no TableInfo", DecodeOptions{}},
		{"bad LSN", rowDataDoc(`<a:RowDataBatch><a:LSN>x1</a:LSN></a:RowDataBatch>`), false, "invalid integer", DecodeOptions{}},
		{"foreign element in ColumnValues", rows(rowDoc("I", `<b:int>1</b:int>`)), false, "unexpected element <int>", DecodeOptions{}},
		{"invalid UTF-8", rows(rowDoc("I", "<b:string>\xff</b:string>")), false, "invalid UTF-8", DecodeOptions{}},
		{"bad char ref", rows(rowDoc("I", "<b:string>&#x110000;</b:string>")), false, "invalid character reference", DecodeOptions{}},
		{"utf-16 declaration", `<?xml version="1.0" encoding="utf-16"?>` + wipe(""), true, "unsupported encoding", DecodeOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeDoc(strings.NewReader(tc.doc), tc.opts)
			if err == nil {
				t.Fatal("decoded without error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if errors.Is(err, ErrNotSOAP) != tc.notSOAP {
				t.Errorf("errors.Is(ErrNotSOAP) = %v, want %v (%v)", !tc.notSOAP, tc.notSOAP, err)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Errorf("error %T is not a *DecodeError", err)
			}
		})
	}
}

// repeatByte is an endless stream of one byte.
type repeatByte byte

func (b repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ReadHeader reads no more than MaxHeaderSize bytes, whatever follows: a huge token is refused before
// it is buffered.
func TestDecodeHeaderLimit(t *testing.T) {
	const (
		before = envOpen + `<s:Header><h:SignedToken xmlns:h="` + NSService + `">`
		after  = `</h:SignedToken></s:Header><s:Body><WipeRequest xmlns="` + NSService + `">`
		rest   = `<TableName>t</TableName></WipeRequest>` + envClose
	)
	// withToken streams a Wipe request whose token is n bytes of 'A', without holding it.
	withToken := func(n int) io.Reader {
		return io.MultiReader(strings.NewReader(before), io.LimitReader(repeatByte('A'), int64(n)), strings.NewReader(after+rest))
	}
	pad := len(before + after) // the header's bytes besides the token
	for _, tc := range []struct {
		name  string
		doc   io.Reader
		limit int
		ok    bool
	}{
		{"60 MiB token", withToken(60 << 20), 0, false},
		{"token just over the default", withToken(DefaultMaxHeaderSize - pad + 1), 0, false},
		{"token at the default", withToken(DefaultMaxHeaderSize - pad), 0, true},
		{"1 KB token, 512 byte limit", withToken(1024), 512, false},
		{"whitespace and comments count", strings.NewReader(before + "tok" + strings.Repeat(" <!-- x --> ", 2000) + after + rest), 0, false},
		{"deep nesting in the header", strings.NewReader(envOpen + `<s:Header>` + strings.Repeat("<x>", 100000)), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = DefaultMaxHeaderSize
			}
			cr := &countingReader{r: tc.doc}
			d := NewRequestDecoder(cr, DecodeOptions{MaxHeaderSize: tc.limit})
			defer d.Close()
			_, err := d.ReadHeader()
			if cr.n > int64(limit) {
				t.Errorf("ReadHeader read %d bytes, limit %d", cr.n, limit)
			}
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if req, err := d.Wipe(); err != nil || req.TableName != "t" {
					t.Fatalf("after the header: %+v %v", req, err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tc.name == "deep nesting in the header" {
				if !strings.Contains(err.Error(), "nested deeper than") {
					t.Errorf("error %q", err)
				}
				return
			}
			want := fmt.Sprintf("the SOAP header is longer than %d bytes", limit)
			if !errors.Is(err, ErrHeaderTooLarge) || !strings.Contains(err.Error(), want) {
				t.Errorf("error %q, want ErrHeaderTooLarge saying %q", err, want)
			}
		})
	}
}

func TestWrongOperationCall(t *testing.T) {
	d := NewRequestDecoder(bytes.NewReader(sample(t, "SampleWipeRequest.xml")), DecodeOptions{})
	defer d.Close()
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RowData(); err == nil || !strings.Contains(err.Error(), "wrong operation: the body holds WipeRequest, not RowDataRequest") {
		t.Fatalf("got %v", err)
	}
	if _, err := d.Wipe(); err == nil {
		t.Fatal("a second operation call must fail")
	}
}

func TestErrorOffset(t *testing.T) {
	doc := envOpen + hdr + `<s:Body><WipeRequest xmlns="` + NSService + `"><TableName>t</Tablename>`
	_, err := decodeDoc(strings.NewReader(doc), DecodeOptions{})
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("got %v", err)
	}
	if want := int64(strings.Index(doc, "</Tablename>")); de.Offset != want {
		t.Errorf("offset %d, want %d (%v)", de.Offset, want, err)
	}
}

// Every truncation of a request must fail: never a hang, never a silent success.
func TestTruncatedStreams(t *testing.T) {
	for _, file := range []string{"SampleRowDataRequest.xml", "TableSchemaRequest-excerpt.xml", "SampleAuthenticateRequest.xml", "ReplicationCompletedRequest.xml"} {
		full := sample(t, file)
		end := bytes.LastIndex(full, []byte("</s:Envelope>")) + len("</s:Envelope>")
		for n := 0; n < end; n += 1 + n/200 {
			out, err := decodeDoc(bytes.NewReader(full[:n]), DecodeOptions{})
			if err == nil {
				t.Fatalf("%s cut at %d of %d decoded without error (%q)", file, n, len(full), out)
			}
		}
	}
}

// stallReader returns no data and no error forever.
type stallReader struct{}

func (stallReader) Read([]byte) (int, error) { return 0, nil }

type failReader struct{ r io.Reader }

func (f failReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

func TestReaderFailures(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		_, err := decodeDoc(stallReader{}, DecodeOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("no error from a stalled reader")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hang on a reader that makes no progress")
	}
	body := sample(t, "SampleRowDataRequest.xml")
	_, err := decodeDoc(failReader{bytes.NewReader(body[:len(body)/2])}, DecodeOptions{})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("I/O error not reported: %v", err)
	}
}

func TestBatchesContextCancel(t *testing.T) {
	d := NewRequestDecoder(bytes.NewReader(sample(t, "SampleRowDataRequest.xml")), DecodeOptions{})
	defer d.Close()
	d.ReadHeader()
	req, err := d.RowData()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := req.Batches.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestRowDataWithoutBatches(t *testing.T) {
	for _, body := range []string{
		`<RowDataRequest xmlns="` + NSService + `"><ClientState>cs</ClientState></RowDataRequest>`,
		`<RowDataRequest xmlns="` + NSService + `"><ClientState>cs</ClientState><DataBatches xmlns:i="` + NSXSI + `" i:nil="true"/></RowDataRequest>`,
		`<RowDataRequest xmlns="` + NSService + `"><ClientState>cs</ClientState><DataBatches/></RowDataRequest>`,
	} {
		d := NewRequestDecoder(strings.NewReader(envOpen+hdr+`<s:Body>`+body+envClose), DecodeOptions{})
		d.ReadHeader()
		req, err := d.RowData()
		if err != nil || req.ClientState != "cs" {
			t.Fatalf("%v %+v", err, req)
		}
		if b, err := req.Batches.Next(context.Background()); err != io.EOF {
			t.Fatalf("got %v %v", b, err)
		}
		d.Close()
	}
	var _ contract.Batches = (*batchReader)(nil)
}

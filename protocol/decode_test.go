package protocol

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mirrorsink/mirrorsink/contract"
)

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "superoffice", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readHeader(t *testing.T, body []byte, want Op) *RequestDecoder {
	t.Helper()
	d := NewRequestDecoder(bytes.NewReader(body), DecodeOptions{})
	t.Cleanup(func() { d.Close() })
	h, err := d.ReadHeader()
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	if h.Op != want {
		t.Fatalf("Op = %v, want %v", h.Op, want)
	}
	if strings.TrimSpace(h.SignedToken) != h.SignedToken || !strings.HasPrefix(h.SignedToken, "eyJhbGciOiJSUzI1NiIs") || strings.Count(h.SignedToken, ".") != 2 {
		t.Fatalf("SignedToken not a trimmed JWT: %q", h.SignedToken)
	}
	return d
}

func TestSampleAuthenticate(t *testing.T) {
	body := sample(t, "SampleAuthenticateRequest.xml")
	d := readHeader(t, body, OpAuthenticate)
	req, err := d.Authenticate()
	if err != nil {
		t.Fatal(err)
	}
	if req.ClientState != "" {
		t.Errorf("ClientState = %q", req.ClientState)
	}
	d2 := NewRequestDecoder(bytes.NewReader(body), DecodeOptions{})
	h, _ := d2.ReadHeader()
	const wantEnd = ".R5lFq1LaxMcYCyrnv7sdjMuAY92rv6VCimG_KZcOWuXqPBPNjY9dBH2CjM9KJJ7yoGJszlcVPK8nYa6I6WhMsoy0jgRZmmqZqIAhlT8DV88nJqCc_aANP4yZjPuquzTMAyNo2M7xzSeqRMv5ZAzjoALrssXtEjcMlaIQ_z8K6r7EKDYwgkCMBt2YlamLwivQSJhs3Xq-dZ4C61gD9PsQBh258QO1QgzQVV96F84S6LK0tljKRlGnQEmKQhYM9xsmzTD-2WDELpUn4YUWW_aY7INxqR2pRKb-ZxlgcyPj6mQCTDj_HXgA8pulfxiocD3aop3GCyxmYQ03yXZIsyNmwg"
	if !strings.HasSuffix(h.SignedToken, wantEnd) {
		t.Errorf("token tail = %q", h.SignedToken[len(h.SignedToken)-40:])
	}
}

func TestSampleWipe(t *testing.T) {
	d := readHeader(t, sample(t, "SampleWipeRequest.xml"), OpWipe)
	req, err := d.Wipe()
	if err != nil {
		t.Fatal(err)
	}
	if req.TableName != "projstatusgrouplink" || req.ClientState != "" {
		t.Errorf("got %+v", req)
	}
}

func TestSampleReplicationCompleted(t *testing.T) {
	d := readHeader(t, sample(t, "ReplicationCompletedRequest.xml"), OpReplicationCompleted)
	req, err := d.ReplicationCompleted()
	if err != nil {
		t.Fatal(err)
	}
	if len(req.ChangedTables) != 0 || req.ClientState != "" {
		t.Errorf("got %+v", req)
	}
}

func TestSampleTableSchema(t *testing.T) {
	d := readHeader(t, sample(t, "TableSchemaRequest-excerpt.xml"), OpTableSchema)
	req, err := d.TableSchema()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range req.Tables {
		names = append(names, tb.Name)
	}
	if got := strings.Join(names, ","); got != "access_script,appointment,binaryobject,invitation" {
		t.Fatalf("tables = %s", got)
	}
	as := req.Tables[0]
	want := []contract.Column{
		{Name: "id", Type: "int", IsNullable: false},
		{Name: "access_table_name", Type: "nvarchar(255)", DefaultValue: "default (N'')"},
		{Name: "body", Type: "nvarchar(max)", IsNullable: true},
	}
	if len(as.Columns) != len(want) {
		t.Fatalf("access_script columns = %+v", as.Columns)
	}
	for i := range want {
		if as.Columns[i] != want[i] {
			t.Errorf("access_script column %d = %+v, want %+v", i, as.Columns[i], want[i])
		}
	}
	ap := req.Tables[1]
	if ap.Columns[0] != (contract.Column{Name: "appointment_id", Type: "int"}) {
		t.Errorf("appointment col 0 = %+v", ap.Columns[0])
	}
	if c := ap.Columns[5]; c.Name != "registered" || c.Type != "datetime" || c.IsNullable {
		t.Errorf("appointment col 5 = %+v", c)
	}
	if c := ap.Columns[9]; c.Name != "leadtime" || c.Type != "smallint" || !c.IsNullable {
		t.Errorf("appointment col 9 = %+v", c)
	}
	inv := req.Tables[3]
	if last := inv.Columns[len(inv.Columns)-1]; last.Name != "recurring_start_date" || last.Type != "datetime" || !last.IsNullable {
		t.Errorf("invitation last column = %+v", last)
	}
}

func TestSampleRowData(t *testing.T) {
	d := readHeader(t, sample(t, "SampleRowDataRequest.xml"), OpRowData)
	req, err := d.RowData()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := req.Batches.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.LSN != 1506269 || b.Table.Name != "invitation" || len(b.Table.Columns) != 14 {
		t.Fatalf("batch LSN=%d table=%s columns=%d", b.LSN, b.Table.Name, len(b.Table.Columns))
	}
	if c := b.Table.Columns[0]; c.Name != "invitation_id" || c.Type != "int" || c.IsNullable {
		t.Errorf("column 0 = %+v", c)
	}
	if c := b.Table.Columns[10]; c.Name != "organizer_email" || c.Type != "nvarchar(255)" || !c.IsNullable {
		t.Errorf("column 10 = %+v", c)
	}
	if b.Rows.Len() != 2 {
		t.Fatalf("Len = %d", b.Rows.Len())
	}
	if i, u, dl := b.Rows.Counts(); i != 2 || u != 0 || dl != 0 {
		t.Errorf("Counts = %d %d %d", i, u, dl)
	}
	want := [][]string{
		{"[I:1]", "040000008200E00074C5B7101A82E00800000000DD1E2178E92CD6010000000000000000100000005315E9D8BC5F824BA6502093D637FCB2", "[I:0]", "[DT:05/18/2020 10:40:43.0000000]", "[I:135]", "[DT:05/18/2020 08:40:44.0000000]", "[I:6]", "[DT:05/18/2020 08:40:45.0000000]", "[I:6]", "[S:0]", "Leon.Nonnast@melchers.de", "Nonnast, Leon", "[DT:01/01/1760 00:00:00.0000000]", "[DT:01/01/1760 00:00:00.0000000]"},
		{"[I:2]", "040000008200E00074C5B7101A82E00800000000988F117FD02DD60100000000000000001000000092F615EF82CB3246A3B47744F464A3DA", "[I:0]", "[DT:05/19/2020 15:10:48.0000000]", "[I:137]", "[DT:05/19/2020 13:10:49.0000000]", "[I:6]", "[DT:05/19/2020 13:10:50.0000000]", "[I:6]", "[S:0]", "Dennis.Kessler@melchers.de", "Kessler, Dennis"},
	}
	for pass := 0; pass < 2; pass++ {
		n := 0
		for b.Rows.Next() {
			r := b.Rows.Row()
			if r.Op != contract.Insert || len(r.Values) != 14 {
				t.Fatalf("row %d: op %v, %d values", n, r.Op, len(r.Values))
			}
			for i, w := range want[n] {
				if r.Values[i].Null || string(r.Values[i].Text) != w {
					t.Errorf("row %d value %d = %q (null %v), want %q", n, i, r.Values[i].Text, r.Values[i].Null, w)
				}
			}
			n++
		}
		if err := b.Rows.Err(); err != nil || n != 2 {
			t.Fatalf("pass %d: %d rows, err %v", pass, n, err)
		}
		if err := b.Rows.Reset(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := req.Batches.Next(ctx); err != io.EOF {
		t.Fatalf("after last batch: %v, want io.EOF", err)
	}
	if _, err := req.Batches.Next(ctx); err != io.EOF {
		t.Fatalf("again: %v, want io.EOF", err)
	}
}

// Every sample must decode whatever the read sizes are (the scanner refills at every byte).
func TestSamplesOneByteReader(t *testing.T) {
	for _, tc := range []struct {
		file string
		op   Op
	}{
		{"SampleAuthenticateRequest.xml", OpAuthenticate},
		{"SampleWipeRequest.xml", OpWipe},
		{"ReplicationCompletedRequest.xml", OpReplicationCompleted},
		{"TableSchemaRequest-excerpt.xml", OpTableSchema},
		{"SampleRowDataRequest.xml", OpRowData},
	} {
		t.Run(tc.file, func(t *testing.T) {
			whole := decodeAll(t, bytes.NewReader(sample(t, tc.file)))
			split := decodeAll(t, iotest.OneByteReader(bytes.NewReader(sample(t, tc.file))))
			if whole != split {
				t.Fatalf("one-byte reads differ:\n%s\n%s", whole, split)
			}
		})
	}
}

// decodeAll decodes any request into a printable summary.
func decodeAll(t testing.TB, r io.Reader) string {
	t.Helper()
	d := NewRequestDecoder(r, DecodeOptions{})
	defer d.Close()
	h, err := d.ReadHeader()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	out.WriteString(h.Op.String() + " " + h.SignedToken + "\n")
	var v any
	switch h.Op {
	case OpAuthenticate:
		v, err = d.Authenticate()
	case OpWipe:
		v, err = d.Wipe()
	case OpTableSchema:
		v, err = d.TableSchema()
	case OpReplicationCompleted:
		v, err = d.ReplicationCompleted()
	case OpRowData:
		var req RowDataRequest
		req, err = d.RowData()
		for err == nil {
			var b *contract.Batch
			b, err = req.Batches.Next(context.Background())
			if err != nil {
				break
			}
			out.WriteString(formatBatch(b))
		}
		if err == io.EOF {
			err = nil
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	out.WriteString(strings.TrimSpace(strings.ReplaceAll(fmtAny(v), "\n", " ")))
	return out.String()
}

func fmtAny(v any) string { return strings.TrimSpace(sprint(v)) }

func formatBatch(b *contract.Batch) string {
	var sb strings.Builder
	sb.WriteString(sprint(b.Table) + " " + sprint(b.LSN) + "\n")
	for b.Rows.Next() {
		sb.WriteString(formatRow(b.Rows.Row()))
	}
	return sb.String()
}

func formatRow(r contract.Row) string {
	var sb strings.Builder
	sb.WriteString(r.Op.String())
	for _, v := range r.Values {
		if v.Null {
			sb.WriteString(" NULL")
		} else {
			sb.WriteString(" " + quote(v.Text))
		}
	}
	return sb.String() + "\n"
}

func TestOpFromSOAPAction(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Op
		ok   bool
	}{
		{`"http://www.superoffice.com/online/mirroring/0.1/IMirroringClientService/Authenticate"`, OpAuthenticate, true},
		{`http://www.superoffice.com/online/mirroring/0.1/IMirroringClientService/RowData`, OpRowData, true},
		{` "http://www.superoffice.com/online/mirroring/0.1/IMirroringClientService/ReplicationCompleted" `, OpReplicationCompleted, true},
		{`"http://www.superoffice.com/online/mirroring/0.1/IMirroringClientService/Nope"`, 0, false},
		{`"http://example.com/IMirroringClientService/Wipe"`, 0, false},
		{``, 0, false},
	} {
		got, ok := OpFromSOAPAction(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("OpFromSOAPAction(%q) = %v, %v", tc.in, got, ok)
		}
	}
	for o := OpAuthenticate; o <= OpReplicationCompleted; o++ {
		if got, ok := OpFromSOAPAction(o.SOAPAction()); !ok || got != o {
			t.Errorf("round trip of %v: %v %v", o, got, ok)
		}
	}
}

func sprint(v any) string { return fmt.Sprintf("%+v", v) }

func quote(b []byte) string { return strconv.Quote(string(b)) }

// chunkReader hands out at most n bytes per Read, so that tokens straddle the scanner's refills.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.b))
	copy(p, c.b[:k])
	c.b = c.b[k:]
	return k, nil
}

func TestChunkedReads(t *testing.T) {
	body := rowDataBody(t, 300<<10)
	want, err := decodeDoc(bytes.NewReader(body), DecodeOptions{})
	if err != nil || strings.Count(want, "\n") < 100 {
		t.Fatalf("%v, %d lines", err, strings.Count(want, "\n"))
	}
	for _, n := range []int{1, 2, 3, 7, 1000, 4093, 32 << 10} {
		got, err := decodeDoc(&chunkReader{b: body, n: n}, DecodeOptions{SpoolMemory: 1})
		if err != nil {
			t.Fatalf("chunks of %d: %v", n, err)
		}
		if got != want {
			t.Fatalf("chunks of %d: decoded differently", n)
		}
	}
}

// The tokens of the captured requests name their tenants; the header must carry them intact.
func TestSampleTokensTenant(t *testing.T) {
	for file, tenant := range map[string]string{
		"SampleAuthenticateRequest.xml":   "Cust10003",
		"SampleWipeRequest.xml":           "Cust24709",
		"SampleRowDataRequest.xml":        "Cust24709",
		"ReplicationCompletedRequest.xml": "Cust24709",
		"TableSchemaRequest-excerpt.xml":  "Cust24709",
	} {
		d := NewRequestDecoder(bytes.NewReader(sample(t, file)), DecodeOptions{})
		h, err := d.ReadHeader()
		d.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		parts := strings.Split(h.SignedToken, ".")
		if len(parts) != 3 {
			t.Fatalf("%s: token %q", file, h.SignedToken)
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !strings.Contains(string(payload), `"sub":"`+tenant+`"`) || !strings.Contains(string(payload), `"http://schemes.superoffice.net/identity/ctx":"`+tenant+`"`) {
			t.Errorf("%s: payload %s does not name %s", file, payload, tenant)
		}
	}
}

func TestDecodeCapturedResponses(t *testing.T) {
	for _, tc := range []struct {
		file string
		op   Op
		want Response
	}{
		{"SampleAuthenticateResponse.xml", OpAuthenticate, AuthenticateResponse{IsSuccessful: true, SignedApplicationToken: "BDB65A558F193A8DD88E50E7416C0D86.202109161125.OKNE8l9YOXm4AJRCfzNx4egvU/jTjwii6XU+fM2P6bFjQpYSBi0w4VH0dN82CQdWEkcuGW9yjsLU82za08myMWelFKWvwqIY0oaaTYAPzhj27JNa5OZw3tUc1zunR7DrwpLSkwC3cEK3s3u3VDN8GKoMMeQVOogxS7f1hT3a4/Q=", SupportedInterfaces: "1", SuperOfficeMirroringBuild: "4.0.0.0/Release_1"}},
		{"SampleRowDataResponse.xml", OpRowData, RowDataResponse{IsSuccessful: true}},
		{"SampleWipeResponse.xml", OpWipe, WipeResponse{IsSuccessful: true}},
		{"ReplicationCompletedResponse.xml", OpReplicationCompleted, ReplicationCompletedResponse{IsSuccessful: true}},
	} {
		got, err := DecodeResponse(bytes.NewReader(sample(t, tc.file)), tc.op)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.file, got, tc.want)
		}
	}
}

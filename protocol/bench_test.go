package protocol

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
)

// benchTable is a realistic ~30-column CRM table: ints, nvarchars, datetimes, floats.
func benchTable() contract.TableSchema {
	t := contract.TableSchema{Name: "contact"}
	for i := 0; i < 30; i++ {
		var typ string
		switch i % 6 {
		case 0, 3:
			typ = "int"
		case 1, 4:
			typ = "nvarchar(255)"
		case 2:
			typ = "datetime"
		default:
			typ = "float"
		}
		t.Columns = append(t.Columns, contract.Column{Name: "col" + strconv.Itoa(i), Type: typ, IsNullable: i > 0})
	}
	return t
}

// rowValues fills vals with row n's values, reusing its buffers. Some values are NULL, some empty,
// some need escaping.
func rowValues(n int, vals []contract.Value, scratch [][]byte) {
	for i := range vals {
		b := scratch[i][:0]
		null := false
		switch i % 6 {
		case 0, 3:
			b = append(b, "[I:"...)
			b = strconv.AppendInt(b, int64(n*31+i), 10)
			b = append(b, ']')
		case 1:
			b = append(b, "Nonnast & Partner "...)
			b = strconv.AppendInt(b, int64(n%977), 10)
		case 4:
			switch n % 7 {
			case 0:
				null = true
			case 1:
			default:
				b = append(b, "leon.nonnast."...)
				b = strconv.AppendInt(b, int64(n), 10)
				b = append(b, "@melchers.example.com"...)
			}
		case 2:
			b = append(b, "[DT:05/18/2020 10:40:43.0000000]"...)
		default:
			b = append(b, "[F:"...)
			b = strconv.AppendFloat(b, float64(n)*1.25+float64(i), 'g', -1, 64)
			b = append(b, ']')
		}
		scratch[i] = b
		vals[i] = contract.Value{Text: b, Null: null}
	}
}

// writeRowData encodes a RowData request with one batch of rows rows to w.
func writeRowData(w io.Writer, rows int) error {
	table := benchTable()
	e := NewRowDataEncoder(w, "eyJhbGciOiJSUzI1NiJ9.e30.sig", "")
	if err := e.BeginBatch(); err != nil {
		return err
	}
	vals := make([]contract.Value, len(table.Columns))
	scratch := make([][]byte, len(vals))
	for n := 0; n < rows; n++ {
		rowValues(n, vals, scratch)
		op := contract.Insert
		if n%10 == 9 {
			op = contract.Update
		}
		if err := e.Row(op, vals); err != nil {
			return err
		}
	}
	if err := e.EndBatch(1506269, table); err != nil {
		return err
	}
	return e.Close()
}

// rowDataBody is an encoded RowData request of about size bytes.
func rowDataBody(tb testing.TB, size int) []byte {
	var probe bytes.Buffer
	if err := writeRowData(&probe, 100); err != nil {
		tb.Fatal(err)
	}
	rows := size / (probe.Len() / 100)
	var buf bytes.Buffer
	if err := writeRowData(&buf, rows); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// consumeRowData decodes a whole RowData request, touching every value; it returns rows and bytes.
func consumeRowData(r io.Reader, opts DecodeOptions, perRow func()) (rows, valueBytes int, err error) {
	d, req, err := openRowData(r, opts)
	if err != nil {
		return 0, 0, err
	}
	defer d.Close()
	for {
		b, err := req.Batches.Next(context.Background())
		if err == io.EOF {
			return rows, valueBytes, nil
		}
		if err != nil {
			return rows, valueBytes, err
		}
		for b.Rows.Next() {
			for _, v := range b.Rows.Row().Values {
				valueBytes += len(v.Text)
			}
			rows++
			if perRow != nil {
				perRow()
			}
		}
		if err := b.Rows.Err(); err != nil {
			return rows, valueBytes, err
		}
	}
}

// openRowData reads a RowData request's header and ClientState; the caller closes the decoder.
func openRowData(r io.Reader, opts DecodeOptions) (*RequestDecoder, RowDataRequest, error) {
	d := NewRequestDecoder(r, opts)
	if _, err := d.ReadHeader(); err != nil {
		d.Close()
		return nil, RowDataRequest{}, err
	}
	req, err := d.RowData()
	if err != nil {
		d.Close()
		return nil, req, err
	}
	return d, req, nil
}

func BenchmarkDecodeRowData(b *testing.B) {
	body := rowDataBody(b, 4<<20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	rowBytes := 0.0
	for i := 0; i < b.N; i++ {
		rows, _, err := consumeRowData(bytes.NewReader(body), DecodeOptions{}, nil)
		if err != nil || rows == 0 {
			b.Fatal(rows, err)
		}
		rowBytes = float64(len(body)) / float64(rows)
	}
	b.ReportMetric(rowBytes, "bytes/row")
}

func BenchmarkDecodeRowDataEncodingXML(b *testing.B) {
	body := rowDataBody(b, 4<<20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := xml.NewDecoder(bytes.NewReader(body))
		n := 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if cd, ok := tok.(xml.CharData); ok {
				n += len(cd)
			}
		}
		if n == 0 {
			b.Fatal("no text")
		}
	}
}

func ExampleNewRowDataEncoder() {
	var buf bytes.Buffer
	e := NewRowDataEncoder(&buf, "token", "")
	e.BeginBatch()
	e.Row(contract.Insert, []contract.Value{{Text: []byte("[I:1]")}, {Null: true}})
	e.EndBatch(42, contract.TableSchema{Name: "t", Columns: []contract.Column{{Name: "id", Type: "int"}, {Name: "x", Type: "nvarchar(10)", IsNullable: true}}})
	e.Close()
	rows, n, err := consumeRowData(&buf, DecodeOptions{}, nil)
	fmt.Println(rows, n, err)
	// Output: 1 5 <nil>
}

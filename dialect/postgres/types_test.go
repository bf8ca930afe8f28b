package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

func TestTypeTableHasEveryKind(t *testing.T) {
	conformance.EveryKind(t, func(k typemap.Kind) bool {
		r, ok := types[k]
		return ok && r.ddl != nil && r.encode != nil && r.read != nil && r.literal != nil && rawEncoders[k] != nil
	})
}

// rawAndGeneric returns a column's two encoders, with the same NUL replacement.
func rawAndGeneric(col typemap.Column) (conformance.Encoders, error) {
	r, err := ruleOf(col.Type)
	if err != nil {
		return conformance.Encoders{}, err
	}
	nul := func(s string) string { return strings.ReplaceAll(s, "\x00", "\uFFFD") }
	raw, err := rawEncoderOf(col.Type, nul)
	if err != nil {
		return conformance.Encoders{}, err
	}
	return conformance.Encoders{Generic: r.encode(col.Type, nul), Raw: raw}, nil
}

// TestRawEncoders: the raw encoders write exactly the binary COPY fields of the generic path.
func TestRawEncoders(t *testing.T) { conformance.RawEncoders(t, rawAndGeneric) }

func FuzzRawEncoders(f *testing.F) { conformance.FuzzRawEncoders(f, rawAndGeneric) }

// column parses a wire column, as the engine would.
func column(t testing.TB, name, typ string) typemap.Column {
	t.Helper()
	c, err := typemap.ParseColumn(contract.Column{Name: name, Type: typ, IsNullable: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pgxTypeNames are pgx's names of the PostgreSQL types that the type table's DDL spells otherwise.
var pgxTypeNames = map[string]string{
	"boolean": "bool", "smallint": "int2", "integer": "int4", "bigint": "int8", "real": "float4",
	"double precision": "float8", "char": "bpchar",
}

// TestTypeTableAgrees checks, offline and for every kind, that a rule's DDL type, encoder and read rule
// belong together: every value of conformance.TypeRows, encoded by the rule, is decoded by pgx's codec
// of the rule's DDL type, and the read rule turns that into the same canonical value. (The live
// conformance suite checks the same against the server.)
func TestTypeTableAgrees(t *testing.T) {
	m := pgtype.NewMap()
	schema := conformance.AllTypes()
	tbl, err := conformance.MakeTable(schema.Name, schema.Columns)
	if err != nil {
		t.Fatal(err)
	}
	losses := Dialect{}.Capabilities().Losses()
	seen := map[typemap.Kind]bool{}
	for _, row := range conformance.TypeRows(1) {
		for i, wire := range row {
			c := tbl.Columns[i]
			if wire == nil {
				continue
			}
			seen[c.Type.Kind] = true
			v, err := typemap.DecoderFor(c.Type)([]byte(*wire))
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			r, err := ruleOf(c.Type)
			if err != nil {
				t.Fatal(err)
			}
			ddl, _, _ := strings.Cut(r.ddl(c.Type), "(")
			if alias, ok := pgxTypeNames[ddl]; ok {
				ddl = alias
			}
			pt, ok := m.TypeForName(ddl)
			if !ok {
				t.Fatalf("%s: pgx knows no type %q", c.Name, ddl)
			}
			field, err := r.encode(c.Type, strings.NewReplacer("\x00", "\uFFFD").Replace)(nil, v)
			if err != nil {
				t.Fatalf("%s: encode: %v", c.Name, err)
			}
			var decoded any
			if err := m.Scan(pt.OID, pgtype.BinaryFormatCode, field[4:], &decoded); err != nil {
				t.Fatalf("%s: pgx cannot decode the field as %s: %v", c.Name, ddl, err)
			}
			got, err := r.read(decoded)
			if err != nil {
				t.Fatalf("%s: read: %v", c.Name, err)
			}
			want, err1 := canon.Value(c.Type, v, losses)
			have, err2 := canon.Value(c.Type, got, losses)
			if err1 != nil || err2 != nil || have != want {
				t.Errorf("%s: %.60q came back as %.60q (%v, %v)", c.Name, want, have, err1, err2)
			}
		}
	}
	for _, k := range typemap.Kinds() {
		if !seen[k] {
			t.Errorf("no value of kind %s was checked", k)
		}
	}
}

// TestReadRules checks the conversions that the round trip above meets only in part.
func TestReadRules(t *testing.T) {
	plus2 := time.FixedZone("+02", 2*3600)
	for _, tc := range []struct {
		name string
		read func(any) (any, error)
		in   any
		want any
	}{
		{"int2", readInt, int16(-3), int64(-3)},
		{"int4", readInt, int32(70000), int64(70000)},
		{"float4", readFloat, float32(0.1), float64(float32(0.1))},
		{"numeric", readNumeric, pgtype.Numeric{Int: big.NewInt(-12340), Exp: -3, Valid: true}, typemap.DecimalValue("-12.34")},
		{"numeric zero", readNumeric, pgtype.Numeric{Int: big.NewInt(0), Exp: -4, Valid: true}, typemap.DecimalValue("0")},
		{"numeric small", readNumeric, pgtype.Numeric{Int: big.NewInt(5), Exp: -10, Valid: true}, typemap.DecimalValue("0.0000000005")},
		{"numeric large", readNumeric, pgtype.Numeric{Int: big.NewInt(12), Exp: 3, Valid: true}, typemap.DecimalValue("12000")},
		{"time", readTimeOfDay, pgtype.Time{Microseconds: 3723000001, Valid: true}, typemap.TimeOfDay(3723000001000)},
		{"timestamptz", readInstant, time.Date(2020, 1, 1, 2, 0, 0, 0, plus2), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"uuid", readUUID, [16]byte{1, 15: 2}, typemap.UUID{1, 15: 2}},
	} {
		got, err := tc.read(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tt, ok := got.(time.Time); ok {
			if tt != tc.want.(time.Time) {
				t.Errorf("%s: %v (%v), want %v", tc.name, tt, tt.Location(), tc.want)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s: %#v, want %#v", tc.name, got, tc.want)
		}
	}
	for _, bad := range []any{pgtype.Numeric{NaN: true, Valid: true}, pgtype.Numeric{Int: big.NewInt(1), InfinityModifier: pgtype.Infinity, Valid: true}, 1.5} {
		if _, err := readNumeric(bad); err == nil {
			t.Errorf("readNumeric(%#v) succeeded", bad)
		}
	}
}

// TestEncodersMatchPgx compares each fixed-format encoder with pgx's binary codec for the same value,
// as an offline check next to the live round trips.
func TestEncodersMatchPgx(t *testing.T) {
	m := pgtype.NewMap()
	ts := func(y int, mo time.Month, d, h, mi, s, us int, loc *time.Location) time.Time {
		return time.Date(y, mo, d, h, mi, s, us*1000, loc)
	}
	zone := time.FixedZone("-0930", -(9*3600 + 1800))
	for _, tc := range []struct {
		name string
		enc  encodeFunc
		oid  uint32
		v    any // our value
		pgx  any // pgx's value for the same thing
	}{
		{"bool", encodeBool, pgtype.BoolOID, true, true},
		{"int2", encodeInt2, pgtype.Int2OID, int64(-2), int16(-2)},
		{"int4", encodeInt4, pgtype.Int4OID, int64(math.MinInt32), int32(math.MinInt32)},
		{"int8", encodeInt8, pgtype.Int8OID, int64(math.MaxInt64), int64(math.MaxInt64)},
		{"float8", encodeFloat8, pgtype.Float8OID, -1.25e-300, -1.25e-300},
		{"float4", encodeFloat4, pgtype.Float4OID, float64(float32(3.3)), float32(3.3)},
		{"date", encodeDate, pgtype.DateOID, ts(1969, 7, 20, 20, 17, 0, 0, time.UTC), pgtype.Date{Time: ts(1969, 7, 20, 0, 0, 0, 0, time.UTC), Valid: true}},
		{"date 0001", encodeDate, pgtype.DateOID, ts(1, 1, 1, 0, 0, 0, 0, time.UTC), pgtype.Date{Time: ts(1, 1, 1, 0, 0, 0, 0, time.UTC), Valid: true}},
		{"time", encodeTime, pgtype.TimeOID, typemap.TimeOfDay(45296123456000), pgtype.Time{Microseconds: 45296123456, Valid: true}},
		{"timestamp", encodeTimestamp, pgtype.TimestampOID, ts(1850, 3, 4, 5, 6, 7, 890123, time.UTC), pgtype.Timestamp{Time: ts(1850, 3, 4, 5, 6, 7, 890123, time.UTC), Valid: true}},
		{"timestamp 2100", encodeTimestamp, pgtype.TimestampOID, ts(2100, 12, 31, 23, 59, 59, 999999, time.UTC), pgtype.Timestamp{Time: ts(2100, 12, 31, 23, 59, 59, 999999, time.UTC), Valid: true}},
		{"timestamptz", encodeTimestamptz, pgtype.TimestamptzOID, ts(1999, 12, 31, 20, 0, 0, 1, zone), pgtype.Timestamptz{Time: ts(1999, 12, 31, 20, 0, 0, 1, zone), Valid: true}},
		{"uuid", encodeUUID, pgtype.UUIDOID, typemap.UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, pgtype.UUID{Bytes: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Valid: true}},
		{"bytea", encodeBytea, pgtype.ByteaOID, []byte{0, 1, 2}, []byte{0, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := m.Encode(tc.oid, pgtype.BinaryFormatCode, tc.pgx, nil)
			if err != nil {
				t.Fatal(err)
			}
			want = append(binary.BigEndian.AppendUint32(nil, uint32(len(want))), want...)
			got, err := tc.enc([]byte("prefix"), tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[6:], want) {
				t.Errorf("encoded % x, want % x", got[6:], want)
			}
		})
	}
}

// TestNumericEncoding checks numeric's binary form field by field: digit count, weight, sign, display
// scale and base-10000 digits.
func TestNumericEncoding(t *testing.T) {
	for _, tc := range []struct {
		text   string
		scale  int
		weight int16
		sign   uint16
		dscale uint16
		digits []uint16
	}{
		{"0", 2, 0, 0, 2, nil},
		{"-0.000", 2, 0, 0, 3, nil},
		{"1", 0, 0, 0, 0, []uint16{1}},
		{"-1", 0, 0, 0x4000, 0, []uint16{1}},
		{"10000", 0, 1, 0, 0, []uint16{1}},
		{"12345.678", 4, 1, 0, 4, []uint16{1, 2345, 6780}},
		{"0012345.6780", 2, 1, 0, 4, []uint16{1, 2345, 6780}},
		{".5", 0, -1, 0, 1, []uint16{5000}},
		{"0.0000000001", 10, -3, 0, 10, []uint16{100}},
		{"-922337203685477.5808", 4, 3, 0x4000, 4, []uint16{922, 3372, 368, 5477, 5808}},
		{"100000000.00000001", 8, 2, 0, 8, []uint16{1, 0, 0, 0, 1}},
		{"99990000", 0, 1, 0, 0, []uint16{9999}},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, err := appendNumeric(nil, typemap.DecimalValue(tc.text), tc.scale)
			if err != nil {
				t.Fatal(err)
			}
			want := binary.BigEndian.AppendUint32(nil, uint32(8+2*len(tc.digits)))
			want = binary.BigEndian.AppendUint16(want, uint16(len(tc.digits)))
			want = binary.BigEndian.AppendUint16(want, uint16(tc.weight))
			want = binary.BigEndian.AppendUint16(want, tc.sign)
			want = binary.BigEndian.AppendUint16(want, tc.dscale)
			for _, d := range tc.digits {
				want = binary.BigEndian.AppendUint16(want, d)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encoded % x, want % x", got, want)
			}
		})
	}
	// money and smallmoney take their scale from the type table too.
	got, err := encodeNumericOf(typemap.Type{Kind: typemap.Money}, nil)(nil, typemap.DecimalValue("1"))
	if err != nil || binary.BigEndian.Uint16(got[10:]) != 4 {
		t.Errorf("money's display scale: % x, %v; want 4", got, err)
	}
}

// rowsOf is a dialect.RowSource over rows held in memory.
type rowsOf struct {
	rows [][]any
	i    int
}

func (r *rowsOf) Next() bool {
	r.i++
	return r.i <= len(r.rows)
}
func (r *rowsOf) Values() ([]any, error) { return r.rows[r.i-1], nil }
func (r *rowsOf) Err() error             { return nil }

func source(rows ...[]any) *rowsOf { return &rowsOf{rows: rows} }

// TestCopyStream reads a whole stream as pgconn does and parses it back: header, one field count per
// row, each field, trailer. It also checks that the buffer stays near one message however many rows
// there are.
func TestCopyStream(t *testing.T) {
	tbl := dialect.Table{Name: "t", Key: []int{0}, Columns: []typemap.Column{column(t, "id", "bigint"), column(t, "s", "nvarchar(max)")}}
	const rows = 20000
	var data [][]any
	for i := range rows {
		s := any(strings.Repeat("x", i%50))
		if i%7 == 0 {
			s = nil
		}
		data = append(data, []any{int64(i), s})
	}
	big := strings.Repeat("y", 300_000) // one field larger than a message
	data = append(data, []any{int64(rows), big})
	src, err := newCopySource(context.Background(), slog.Default(), tbl, tbl.Columns, source(data...))
	if err != nil {
		t.Fatal(err)
	}
	var stream []byte
	p := make([]byte, 65531) // what pgconn passes
	maxCap := 0
	for {
		n, err := src.Read(p)
		stream = append(stream, p[:n]...)
		maxCap = max(maxCap, cap(src.buf))
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("Read returned 0 bytes without an error")
		}
	}
	if maxCap > 4*copyChunk+len(big) {
		t.Errorf("buffer grew to %d bytes", maxCap)
	}
	if !bytes.HasPrefix(stream, []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")) {
		t.Fatalf("header % x", stream[:min(len(stream), 19)])
	}
	r := stream[19:]
	for i, row := range data {
		if len(r) < 2 || binary.BigEndian.Uint16(r) != 2 {
			t.Fatalf("row %d: no field count of 2", i+1)
		}
		r = r[2:]
		if n := int32(binary.BigEndian.Uint32(r)); n != 8 || int64(binary.BigEndian.Uint64(r[4:])) != row[0] {
			t.Fatalf("row %d: id field %d bytes", i+1, n)
		}
		r = r[12:]
		n := int32(binary.BigEndian.Uint32(r))
		r = r[4:]
		switch s := row[1].(type) {
		case nil:
			if n != -1 {
				t.Fatalf("row %d: NULL has length %d", i+1, n)
			}
		case string:
			if int(n) != len(s) || string(r[:n]) != s {
				t.Fatalf("row %d: text field of %d bytes, want %d", i+1, n, len(s))
			}
			r = r[n:]
		}
	}
	if !bytes.Equal(r, []byte{0xff, 0xff}) {
		t.Errorf("after the rows: % x, want the trailer ff ff", r[:min(len(r), 8)])
	}
	if _, err := src.Read(p); err != io.EOF {
		t.Errorf("Read after the end: %v, want io.EOF", err)
	}
	src.end()
	if _, err := src.Read(p); err != errCopyEnded {
		t.Errorf("Read after end(): %v, want errCopyEnded", err)
	}
}

// TestCopyNULs checks that U+0000 in text is replaced, counted once per character, and that the
// warnings stop after maxNULWarnings.
func TestCopyNULs(t *testing.T) {
	tbl := dialect.Table{Name: "t", Key: []int{0}, Columns: []typemap.Column{column(t, "id", "int"), column(t, "s", "nvarchar(20)")}}
	var rows [][]any
	for i := range maxNULWarnings + 5 {
		rows = append(rows, []any{int64(i + 1), "a\x00b\x00"})
	}
	var logs bytes.Buffer
	src, err := newCopySource(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), tbl, tbl.Columns, source(rows...))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := io.ReadAll(src)
	if err != nil {
		t.Fatal(err)
	}
	if src.nuls != 2*len(rows) {
		t.Errorf("%d NULs counted, want %d", src.nuls, 2*len(rows))
	}
	if bytes.IndexByte(stream[19:], 0xef) < 0 || bytes.Contains(stream, []byte("a\x00b")) {
		t.Error("the stream does not hold U+FFFD in place of U+0000")
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != maxNULWarnings+1 {
		t.Errorf("%d warnings, want %d:\n%s", n, maxNULWarnings+1, logs.String())
	}
	if first := strings.SplitN(logs.String(), "\n", 2)[0]; !strings.Contains(first, "table=t") || !strings.Contains(first, "column=s") || !strings.Contains(first, "row=1") || strings.Contains(first, "key=") {
		t.Errorf("the warning does not name table, column and row, or names the key (row data): %s", first)
	}
}

// TestEncoderTypeErrors checks that a value of the wrong Go type is an error, not a panic or a
// silently wrong field: a ValueError, as in every dialect, so that the batch's row and column are named.
func TestEncoderTypeErrors(t *testing.T) {
	for _, k := range typemap.Kinds() {
		r := types[k]
		enc := r.encode(typemap.Type{Kind: k, Precision: 7, Length: 10}, func(s string) string { return s })
		out, err := enc(nil, struct{}{})
		if err == nil || len(out) != 0 {
			t.Errorf("%s: struct{}{} encoded as % x, %v; want an error", k, out, err)
		}
		var ve *dialect.ValueError
		if !errors.As(err, &ve) {
			t.Errorf("%s: a wrong Go type is not a ValueError: %v", k, err)
		}
	}
}

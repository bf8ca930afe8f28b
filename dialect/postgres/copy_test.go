package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

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
			got, err := numericEncoder(tc.scale)(nil, typemap.DecimalValue(tc.text))
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
}

// TestCopyStream reads a whole stream as pgconn does and parses it back: header, one field count per
// row, each field, trailer. It also checks that the buffer stays near one message however many rows
// there are.
func TestCopyStream(t *testing.T) {
	cols := []typemap.Column{col(t, "id", "bigint", false, ""), col(t, "s", "nvarchar(max)", true, "")}
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
	src := &copySource{ctx: context.Background(), src: source(data...), cols: cols, table: "t", log: slog.Default()}
	for i := range cols {
		enc, err := src.encoder(i)
		if err != nil {
			t.Fatal(err)
		}
		src.enc = append(src.enc, enc)
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

// TestEncoderTypeErrors checks that a value of the wrong Go type is an error, not a panic or a
// silently wrong field.
func TestEncoderTypeErrors(t *testing.T) {
	src := &copySource{log: slog.Default()}
	for _, typ := range []string{"bit", "tinyint", "int", "bigint", "decimal(5,2)", "money", "float", "real", "date",
		"time", "datetime", "datetimeoffset", "uniqueidentifier", "varbinary(10)", "nvarchar(10)"} {
		src.cols = []typemap.Column{col(t, "c", typ, true, "")}
		enc, err := src.encoder(0)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if out, err := enc(nil, struct{}{}); err == nil || len(out) != 0 {
			t.Errorf("%s: struct{}{} encoded as % x, %v; want an error", typ, out, err)
		}
		var ve *dialect.ValueError
		if _, err := enc(nil, struct{}{}); err != nil && errors.As(err, &ve) {
			t.Errorf("%s: a wrong Go type is a ValueError: %v", typ, err)
		}
	}
}

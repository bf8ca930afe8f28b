package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// TestLiveBinaryEncodings round-trips the shapes each hand-written binary encoding must get right
// (signs, zero, digit-group boundaries, the 2000 epoch and dates before 1970, rounding half up) and
// compares the server's text of what it stored.
func TestLiveBinaryEncodings(t *testing.T) {
	st, _ := openTenant(t)
	ctx := context.Background()
	plus14 := time.FixedZone("+14", 14*3600)
	minus1 := time.FixedZone("-01", -3600)
	india := time.FixedZone("+0530", 5*3600+1800)
	dec := func(s string) any { return typemap.DecimalValue(s) }
	cases := []struct {
		typ  string
		vals []any
		want []string
	}{
		{"bit", []any{true, false}, []string{"true", "false"}},
		{"tinyint", []any{int64(0), int64(255)}, []string{"0", "255"}},
		{"smallint", []any{int64(-1), int64(256), int64(-32768)}, []string{"-1", "256", "-32768"}},
		{"int", []any{int64(-1), int64(65536), int64(-2147483648)}, []string{"-1", "65536", "-2147483648"}},
		{"bigint", []any{int64(-1), int64(1) << 40, int64(math.MinInt64)}, []string{"-1", "1099511627776", "-9223372036854775808"}},
		{"decimal(38,10)", []any{
			dec("0"), dec("-0.00"), dec("000123.4500"), dec(".5"), dec("5."), dec("-5"),
			dec("1234567890123456789012345678.0123456789"), dec("-0.0000000001"), dec("10000"), dec("9999.9999"),
			dec("0.00010000"), dec("100000000.00000001"), dec("1.00000000005"), dec("-1.00000000005"),
			dec("0.00000000004"), dec("-0.00000000004"), dec("1000000000000"), dec("0.1"),
		}, []string{
			"0.0000000000", "0.0000000000", "123.4500000000", "0.5000000000", "5.0000000000", "-5.0000000000",
			"1234567890123456789012345678.0123456789", "-0.0000000001", "10000.0000000000", "9999.9999000000",
			"0.0001000000", "100000000.0000000100", "1.0000000001", "-1.0000000001",
			"0.0000000000", "0.0000000000", "1000000000000.0000000000", "0.1000000000",
		}},
		{"decimal(18,0)", []any{dec("123456789012345678"), dec("-1"), dec("0.5"), dec("12.49"), dec("-0.5")},
			[]string{"123456789012345678", "-1", "1", "12", "-1"}},
		{"decimal(4,4)", []any{dec("0.9999"), dec("-0.0001"), dec("0")}, []string{"0.9999", "-0.0001", "0.0000"}},
		{"money", []any{dec("1"), dec("-12345.6789"), dec("0.00005")}, []string{"1.0000", "-12345.6789", "0.0001"}},
		{"float", []any{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0.1, -1e300},
			[]string{"NaN", "Infinity", "-Infinity", "-0", "0.1", "-1e+300"}},
		{"real", []any{math.NaN(), math.Inf(-1), float64(float32(1.5)), float64(float32(-0.1))},
			[]string{"NaN", "-Infinity", "1.5", "-0.1"}},
		{"date", []any{
			dt(2000, 1, 1, 0, 0, 0, 0), dt(1999, 12, 31, 23, 59, 59, 999999999), dt(1970, 1, 1, 0, 0, 0, 0),
			dt(1969, 12, 31, 12, 0, 0, 0), dt(1, 1, 1, 0, 0, 0, 0), dt(9999, 12, 31, 23, 0, 0, 0),
			time.Date(2020, 3, 1, 0, 30, 0, 0, minus1), // the wall clock's date, not UTC's
		}, []string{"2000-01-01", "1999-12-31", "1970-01-01", "1969-12-31", "0001-01-01", "9999-12-31", "2020-03-01"}},
		{"time(7)", []any{
			typemap.TimeOfDay(0), typemap.TimeOfDay(500), typemap.TimeOfDay(400), typemap.TimeOfDay(24*time.Hour - 100),
			typemap.TimeOfDay(13*time.Hour + 1500),
		}, []string{"00:00:00", "00:00:00.000001", "00:00:00", "23:59:59.999999", "13:00:00.000002"}},
		{"datetime2(7)", []any{
			dt(2000, 1, 1, 0, 0, 0, 0), dt(1999, 12, 31, 23, 59, 59, 999999500), dt(1999, 12, 31, 23, 59, 59, 999999400),
			dt(1969, 12, 31, 23, 59, 59, 999999400), dt(1, 1, 1, 0, 0, 0, 500), dt(9999, 12, 31, 23, 59, 59, 999999900),
			dt(2024, 2, 29, 12, 34, 56, 789012300),
		}, []string{
			"2000-01-01 00:00:00", "2000-01-01 00:00:00", "1999-12-31 23:59:59.999999",
			"1969-12-31 23:59:59.999999", "0001-01-01 00:00:00.000001", "9999-12-31 23:59:59.999999",
			"2024-02-29 12:34:56.789012",
		}},
		{"datetime", []any{dt(1753, 1, 1, 0, 0, 0, 0), dt(2023, 6, 1, 23, 59, 59, 997000000)},
			[]string{"1753-01-01 00:00:00", "2023-06-01 23:59:59.997"}},
		{"smalldatetime", []any{dt(1900, 1, 1, 0, 0, 0, 0), dt(2079, 6, 6, 23, 59, 0, 0)},
			[]string{"1900-01-01 00:00:00", "2079-06-06 23:59:00"}},
		{"datetimeoffset(7)", []any{
			time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, plus14),
			time.Date(1969, 12, 31, 23, 0, 0, 500, minus1), time.Date(9999, 12, 31, 23, 59, 59, 999999900, plus14),
			time.Date(2020, 6, 30, 23, 59, 59, 999999500, india),
		}, []string{
			"2000-01-01 00:00:00+00", "1999-12-31 10:00:00+00", "1970-01-01 00:00:00.000001+00",
			"9999-12-31 09:59:59.999999+00", "2020-06-30 18:30:00+00",
		}},
		{"nvarchar(20)", []any{"", "ünïcödé 😀", "a\x00b", "\t\\N"}, []string{"", "ünïcödé 😀", "a\uFFFDb", "\t\\N"}},
		{"nchar(3)", []any{"a", "abc"}, []string{"a  ", "abc"}},
		{"varbinary(max)", []any{[]byte{}, []byte{0, 0xff}}, []string{`\x`, `\x00ff`}},
		{"uniqueidentifier", []any{typemap.UUID{15: 1}, typemap.UUID{0: 0xf0, 8: 0x80}},
			[]string{"00000000-0000-0000-0000-000000000001", "f0000000-0000-0000-8000-000000000000"}},
	}
	tx := begin(t, st)
	for n, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			tbl := dialect.Table{Name: fmt.Sprintf("enc_%d", n), Key: []int{0}, Columns: []typemap.Column{
				col(t, "id", "int", false, ""), col(t, "v", tc.typ, true, ""),
			}}
			must(t, tx.CreateTable(ctx, tbl))
			var rows [][]any
			for i, v := range tc.vals {
				rows = append(rows, []any{int64(i + 1), v})
			}
			rows = append(rows, []any{int64(len(rows) + 1), nil})
			n, err := tx.BulkInsert(ctx, tbl, source(rows...))
			must(t, err)
			if n != int64(len(rows)) {
				t.Fatalf("BulkInsert = %d rows, want %d", n, len(rows))
			}
			expr := `"v"::text`
			if strings.HasPrefix(tc.typ, "nchar") {
				expr = `"v"`
			}
			got := queryStrings(t, tx, "SELECT "+expr+" FROM "+quoteUnchecked(tbl.Name)+" ORDER BY id")
			for i, want := range append(tc.want, "<NULL>") {
				if got[i][0] != want {
					t.Errorf("%s value %d (%v) = %q, want %q", tc.typ, i+1, rows[i][1], got[i][0], want)
				}
			}
		})
	}
}

// TestLiveBinaryValueErrors checks that values outside the column's type are ValueErrors naming the
// column and row, whether the encoder or the server finds them.
func TestLiveBinaryValueErrors(t *testing.T) {
	st, _ := openTenant(t)
	ctx := context.Background()
	for n, tc := range []struct {
		typ    string
		ok, v  any
		reason string
	}{
		{"tinyint", int64(255), int64(32768), "out of range for smallint"},
		{"smallint", int64(-32768), int64(-32769), "out of range for smallint"},
		{"int", int64(-2147483648), int64(-2147483649), "out of range for integer"},
		{"real", float64(math.MaxFloat32), 1e39, "out of range for real"},
		{"decimal(5,2)", typemap.DecimalValue("999.994"), typemap.DecimalValue("999.995"), "numeric field overflow"},
		{"decimal(5,2)", typemap.DecimalValue("-1"), typemap.DecimalValue("-"), "not an exact decimal number"},
		{"decimal(5,2)", typemap.DecimalValue("1"), typemap.DecimalValue("1.2.3"), "not an exact decimal number"},
		{"decimal(5,2)", typemap.DecimalValue("1"), typemap.DecimalValue("+1"), "not an exact decimal number"},
		{"decimal(5,2)", typemap.DecimalValue("1"), typemap.DecimalValue(strings.Repeat("9", 140000)), "out of range for numeric"},
		{"nvarchar(3)", "abc", "abcd", "value too long"},
		{"nvarchar(3)", "abc", "\xff", "invalid byte sequence"},
		{"date", dt(1, 1, 1, 0, 0, 0, 0), time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC), "date out of range"},
		{"datetime2", dt(1, 1, 1, 0, 0, 0, 0), dt(294277, 1, 2, 0, 0, 0, 0), "timestamp out of range"},
		{"datetime2", dt(1, 1, 1, 0, 0, 0, 0), dt(300000, 1, 1, 0, 0, 0, 0), "out of range for timestamp"},
		{"datetimeoffset", dt(1, 1, 1, 0, 0, 0, 0), dt(-300000, 1, 1, 0, 0, 0, 0), "out of range for timestamptz"},
	} {
		t.Run(fmt.Sprintf("%s %.20v", tc.typ, tc.v), func(t *testing.T) {
			tx := begin(t, st)
			tbl := dialect.Table{Name: fmt.Sprintf("err_%d", n), Key: []int{0}, Columns: []typemap.Column{
				col(t, "id", "int", false, ""), col(t, "my col", tc.typ, true, ""),
			}}
			must(t, tx.CreateTable(ctx, tbl))
			_, err := tx.BulkInsert(ctx, tbl, source([]any{int64(1), tc.ok}, []any{int64(2), nil}, []any{int64(3), tc.v}))
			var ve *dialect.ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("BulkInsert: %v, want a *ValueError", err)
			}
			if ve.Column != "my col" || ve.Row != 3 || !strings.Contains(ve.Reason, tc.reason) {
				t.Errorf("ValueError column %q row %d reason %q, want %q row 3 reason containing %q",
					ve.Column, ve.Row, ve.Reason, "my col", tc.reason)
			}
		})
	}
}

// failingSource fails after some rows, from Values or from Err.
type failingSource struct {
	rows    int
	after   int
	inErr   bool
	cancel  context.CancelFunc
	err     error
	pulled  int
	current []any
}

var errSourceBroke = errors.New("source broke")

func (f *failingSource) Next() bool {
	if f.pulled == f.after {
		if f.cancel != nil {
			f.cancel()
		}
		if f.inErr {
			return false
		}
	}
	f.pulled++
	return f.pulled <= f.rows
}

func (f *failingSource) Values() ([]any, error) {
	if f.pulled > f.after && !f.inErr && f.cancel == nil {
		return nil, errSourceBroke
	}
	return []any{int64(f.pulled), "row", nil}, nil
}

func (f *failingSource) Err() error {
	if f.inErr {
		return errSourceBroke
	}
	return nil
}

// TestLiveCopyStops checks that a failing source or a cancelled context ends the COPY with that
// cause, after the stream has already sent several messages, and leaves the transaction to roll back.
func TestLiveCopyStops(t *testing.T) {
	st, _ := openTenant(t)
	for _, tc := range []struct {
		name   string
		src    func(cancel context.CancelFunc) *failingSource
		wantIs error
	}{
		{"Values fails", func(context.CancelFunc) *failingSource { return &failingSource{rows: 50000, after: 20000} }, errSourceBroke},
		{"Err fails", func(context.CancelFunc) *failingSource {
			return &failingSource{rows: 50000, after: 20000, inErr: true}
		}, errSourceBroke},
		{"context cancelled", func(cancel context.CancelFunc) *failingSource {
			return &failingSource{rows: 50000, after: 20000, cancel: cancel}
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tx := begin(t, st)
			tbl := simpleTable(t, "stops")
			must(t, tx.CreateTable(ctx, tbl))
			_, err := tx.BulkInsert(ctx, tbl, tc.src(cancel))
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("BulkInsert: %v, want %v", err, tc.wantIs)
			}
			// A cancelled context closes the connection (pgconn's deadline), so only the other causes
			// leave a connection that rolls back cleanly.
			if err := tx.Rollback(context.Background()); err != nil && tc.wantIs != context.Canceled {
				t.Errorf("Rollback: %v", err)
			}
		})
	}
	// The pool is still usable afterwards.
	tx := begin(t, st)
	tbl := simpleTable(t, "after")
	must(t, tx.CreateTable(context.Background(), tbl))
	n, err := tx.BulkInsert(context.Background(), tbl, source([]any{int64(1), "x", int64(2)}))
	must(t, err)
	if n != 1 {
		t.Errorf("BulkInsert after the failures = %d rows, want 1", n)
	}
}

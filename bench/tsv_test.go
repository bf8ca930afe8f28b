package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/simulator"
	"github.com/mirrorsink/mirrorsink/typemap"
)

func TestAppendField(t *testing.T) {
	at := time.Date(2021, 3, 4, 5, 6, 7, 123_000_000, time.UTC)
	cases := []struct {
		name     string
		v        any
		pg, my   string
		wantErrs bool
	}{
		{name: "null", v: nil, pg: `\N`, my: `\N`},
		{name: "int", v: int64(-42), pg: "-42", my: "-42"},
		{name: "float", v: 12345.67, pg: "12345.67", my: "12345.67"},
		{name: "float exponent", v: 1e21, pg: "1e+21", my: "1e+21"},
		{name: "bool", v: true, pg: "t", my: "1"},
		{name: "plain text", v: "Ærø café", pg: "Ærø café", my: "Ærø café"},
		{name: "separators", v: "a\tb\nc\r\nd", pg: `a\tb\nc\r\nd`, my: `a\tb\nc\r\nd`},
		{name: "backslash and null marker", v: `\N and C:\x`, pg: `\\N and C:\\x`, my: `\\N and C:\\x`},
		{name: "NUL", v: "a\x00b", pg: "a\x00b", my: `a\0b`},
		{name: "datetime", v: at, pg: "2021-03-04 05:06:07.123", my: "2021-03-04 05:06:07.123"},
		{name: "whole second", v: at.Truncate(time.Second), pg: "2021-03-04 05:06:07", my: "2021-03-04 05:06:07"},
		{name: "offset", v: at.In(time.FixedZone("", 3600)), pg: "2021-03-04 06:06:07.123+01:00", my: "2021-03-04 05:06:07.123"},
		{name: "decimal", v: typemap.DecimalValue("-1.5"), pg: "-1.5", my: "-1.5"},
		{name: "bytes", v: []byte{0, 0xab, '\t'}, pg: `\\x00ab09`, my: "\\0\xab\\t"},
		{name: "unknown type", v: struct{}{}, wantErrs: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []struct {
				flavor tsvFlavor
				want   string
			}{{flavorPostgres, tc.pg}, {flavorMySQL, tc.my}} {
				got, err := appendField([]byte("x"), f.flavor, tc.v)
				if tc.wantErrs {
					if err == nil {
						t.Fatalf("%s: no error for %T", f.flavor, tc.v)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", f.flavor, err)
				}
				if string(got) != "x"+f.want {
					t.Errorf("%s: got %q, want %q", f.flavor, got[1:], f.want)
				}
			}
		})
	}
}

func TestWriteTSV(t *testing.T) {
	ctx := context.Background()
	src, err := simulator.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := simulator.Generate(ctx, src, simulator.GenerateOptions{Dataset: "crm", Rows: 200, Seed: 3, Tables: []string{"contact"}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "contact.tsv")
	cols, rows, err := writeTSV(ctx, src, "contact", flavorPostgres, path)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 200 || len(cols) != 32 || cols[0] != "contact_id" {
		t.Fatalf("%d rows, columns %v", rows, cols)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 200 {
		t.Fatalf("%d lines, want 200", len(lines))
	}
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != len(cols) {
			t.Fatalf("line %d has %d fields, want %d", i+1, len(f), len(cols))
		}
		if want := strconv.Itoa(i + 1); f[0] != want {
			t.Fatalf("line %d starts with key %q, want %q", i+1, f[0], want)
		}
	}
}

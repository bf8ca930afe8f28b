package protocol

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// event is one scanner event in a form both tokenizers can produce.
type event string

// scanEvents runs our scanner over r.
func scanEvents(r io.Reader) ([]event, error) {
	return scanAll(newScanner(r))
}

// oracleEvents runs encoding/xml's Decoder.Token over data, merging adjacent character data and
// dropping comments, processing instructions and directives, as our scanner does.
func oracleEvents(data []byte) ([]event, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var evs []event
	var text []byte
	flush := func() {
		if len(text) > 0 {
			evs = append(evs, event(fmt.Sprintf("T %q", text)))
			text = text[:0]
		}
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			flush()
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			flush()
			isNil := false
			for _, a := range t.Attr {
				if a.Name.Space == NSXSI && a.Name.Local == "nil" {
					v := strings.TrimSpace(a.Value)
					isNil = v == "true" || v == "1"
				}
			}
			evs = append(evs, event(fmt.Sprintf("S {%s}%s nil=%v", t.Name.Space, t.Name.Local, isNil)))
		case xml.EndElement:
			flush()
			evs = append(evs, event(fmt.Sprintf("E {%s}%s", t.Name.Space, t.Name.Local)))
		case xml.CharData:
			text = append(text, t...)
		}
	}
}

// Deliberate differences (see scanner.go): inputs that encoding/xml rejects for one of these reasons
// and our scanner accepts.
var oracleOnlyRejects = []string{
	"illegal character code", // &#x1; &#0; (WCF's control characters), raw control characters, U+FFFE
	"invalid XML name",       // we do not check name characters
	"unescaped ]]> not in CDATA section",
}

// and inputs that our scanner rejects for one of these reasons and encoding/xml accepts.
var scannerOnlyRejects = []scanErrKind{errDirective, errLimit}

func checkAgainstOracle(t *testing.T, data []byte) {
	ours, ourErr := scanEvents(bytes.NewReader(data))
	// Refills at every byte must not change anything.
	split, splitErr := scanEvents(iotest.OneByteReader(bytes.NewReader(data)))
	if (ourErr == nil) != (splitErr == nil) || fmt.Sprint(ours) != fmt.Sprint(split) {
		t.Fatalf("one-byte reads differ:\nwhole: %v %v\nsplit: %v %v", ours, ourErr, split, splitErr)
	}
	want, oracleErr := oracleEvents(data)
	switch {
	case ourErr == nil && oracleErr == nil:
		if fmt.Sprint(ours) != fmt.Sprint(want) {
			t.Fatalf("events differ for %q:\nscanner: %q\noracle:  %q", data, ours, want)
		}
	case ourErr != nil && oracleErr != nil:
		// Both reject.
	case ourErr == nil:
		for _, reason := range oracleOnlyRejects {
			if strings.Contains(oracleErr.Error(), reason) {
				return
			}
		}
		t.Fatalf("scanner accepts %q, encoding/xml rejects it: %v\nscanner: %q", data, oracleErr, ours)
	default:
		if se, ok := isScanError(ourErr); ok {
			for _, k := range scannerOnlyRejects {
				if se.kind == k {
					return
				}
			}
		}
		t.Fatalf("scanner rejects %q (%v), encoding/xml accepts it:\noracle: %q", data, ourErr, want)
	}
}

func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "superoffice", "*.xml"))
	for _, f := range files {
		if strings.Contains(f, "MirroringClientService") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, s := range []string{
		rowDataDoc(batchDoc(rowDoc("I", `<b:string i:nil="true"/>`, `<b:string>&#x1;&lt;&amp;</b:string>`, `<b:string><![CDATA[x]]></b:string>`))),
		`<?xml version="1.0" encoding="utf-8"?><!-- c --><a xmlns="u" xmlns:p="v"><p:b p:x='1'>t&#233;&#x1F600;</p:b><?pi?></a>`,
		`<a xmlns:i="` + NSXSI + `" i:nil="1"/><b xmlns:i="urn:x" i:nil="true"/>`,
		"<a>\r\n\r</a>",
		`<a><![CDATA[]]]]><![CDATA[>]]></a>`,
		`<x:a xmlns:x="u"></x:a>`,
		`<!DOCTYPE a><a/>`,
		`<a>]]></a>`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

func FuzzScannerMatchesEncodingXML(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstOracle(t, data)
		// The decoder built on the scanner must never panic or hang, whatever the input, and its fast
		// paths must decode exactly as its general path does.
		decodeBoth(t, data, DecodeOptions{SpoolMemory: 1})
	})
}

func TestScannerDifferences(t *testing.T) {
	for _, tc := range []struct {
		name, doc  string
		oursOK     bool
		oracleOK   bool
		wantEvents string
	}{
		{"control character reference", `<a>&#x1;&#0;</a>`, true, false, `[S {}a nil=false T "\x01\x00" E {}a]`},
		{"raw control character", "<a>\x01</a>", true, false, `[S {}a nil=false T "\x01" E {}a]`},
		{"]]> in text", `<a>]]></a>`, true, false, `[S {}a nil=false T "]]>" E {}a]`},
		{"DOCTYPE", `<!DOCTYPE a><a/>`, false, true, ``},
		{"deep nesting", strings.Repeat("<a>", maxDepth+1), false, false, ``},
		{"unbound prefix keeps the prefix", `<p:a/>`, true, true, `[S {p}a nil=false E {p}a]`},
		{"namespaces by URI", `<x:a xmlns:x="` + NSContract + `"><b xmlns="` + NSArrays + `"/></x:a>`, true, true, "[S {" + NSContract + "}a nil=false S {" + NSArrays + "}b nil=false E {" + NSArrays + "}b E {" + NSContract + "}a]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ours, err := scanEvents(strings.NewReader(tc.doc))
			if (err == nil) != tc.oursOK {
				t.Fatalf("scanner error %v, want ok=%v", err, tc.oursOK)
			}
			if _, oerr := oracleEvents([]byte(tc.doc)); (oerr == nil) != tc.oracleOK {
				t.Fatalf("encoding/xml error %v, want ok=%v", oerr, tc.oracleOK)
			}
			if tc.oursOK && fmt.Sprint(ours) != tc.wantEvents {
				t.Errorf("events %q, want %s", ours, tc.wantEvents)
			}
			checkAgainstOracle(t, []byte(tc.doc))
		})
	}
}

func TestScannerIsScanError(t *testing.T) {
	_, err := scanEvents(strings.NewReader("<a></b>"))
	if se, ok := isScanError(err); !ok || se.kind != errSyntax {
		t.Fatalf("got %v", err)
	}
	var de *DecodeError
	if errors.As(err, &de) {
		t.Fatal("raw scanner errors are not DecodeErrors")
	}
}

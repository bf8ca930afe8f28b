// Package golden compares generated text (SQL, XML) with files under testdata/, and rewrites them when
// tests run with -update.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// Assert compares got with the file at path (relative to the test's package directory). With -update
// it writes got to the file instead.
func Assert(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s: %v (run the test with -update to create it)", path, err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the generated output (rerun with -update after checking the change):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// Archive is a text file of named sections, in the txtar layout: free text (a comment), then sections
// each opened by a line "-- name --". It holds one scenario: its input and every dialect's output.
type Archive struct {
	Comment  string
	Sections []Section
}

// Section is one named part of an Archive.
type Section struct {
	Name string
	Data string
}

// ParseArchive reads the layout that Format writes.
func ParseArchive(text string) Archive {
	var a Archive
	cur := -1
	var b strings.Builder
	flush := func() {
		if cur < 0 {
			a.Comment = b.String()
		} else {
			a.Sections[cur].Data = b.String()
		}
		b.Reset()
	}
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimRight(line, "\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			flush()
			a.Sections = append(a.Sections, Section{Name: strings.TrimSpace(trimmed[3 : len(trimmed)-3])})
			cur = len(a.Sections) - 1
			continue
		}
		b.WriteString(line)
	}
	flush()
	return a
}

// Get returns a section's data; ok is false when the archive has no such section.
func (a Archive) Get(name string) (data string, ok bool) {
	for _, s := range a.Sections {
		if s.Name == name {
			return s.Data, true
		}
	}
	return "", false
}

// Set replaces a section's data, or appends the section.
func (a *Archive) Set(name, data string) {
	for i := range a.Sections {
		if a.Sections[i].Name == name {
			a.Sections[i].Data = data
			return
		}
	}
	a.Sections = append(a.Sections, Section{Name: name, Data: data})
}

// Format writes the archive; every section's data ends with a newline.
func (a Archive) Format() string {
	var b strings.Builder
	b.WriteString(a.Comment)
	for _, s := range a.Sections {
		b.WriteString("-- " + s.Name + " --\n")
		b.WriteString(s.Data)
		if s.Data != "" && !strings.HasSuffix(s.Data, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// AssertSection compares got with the named section of the archive at path; with -update it rewrites
// that section only, keeping the others.
func AssertSection(t testing.TB, path, section, got string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("scenario %s: %v", path, err)
	}
	a := ParseArchive(string(raw))
	if !strings.HasSuffix(got, "\n") {
		got += "\n"
	}
	if *update {
		a.Set(section, got)
		if err := os.WriteFile(path, []byte(a.Format()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, ok := a.Get(section)
	if !ok {
		t.Fatalf("%s has no section %q (run the test with -update to add it, then read it)", path, section)
	}
	if want != got {
		t.Errorf("%s, section %s, differs from the generated output (rerun with -update after checking the change):\n--- want\n%s\n--- got\n%s", path, section, want, got)
	}
}

package typemap

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestTypesDocParses parses every SQL Server type named in the first column of docs/TYPES.md, with
// sample arguments for its placeholders, so that the table and ParseType cannot drift apart.
func TestTypesDocParses(t *testing.T) {
	doc, err := os.ReadFile("../docs/TYPES.md")
	if err != nil {
		t.Fatalf("read TYPES.md: %v", err)
	}
	placeholders := strings.NewReplacer("(p,s)", "(10,2)", "(p)", "(3)", "(n)", "(10)", "(25..53)", "(30)",
		"(1..24)", "(12)")
	remark := regexp.MustCompile(`\s*\([^)]*\s[^)]*\)`) // "(a version counter, not a time)"
	seen := map[Kind]bool{}
	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| SQL Server") || strings.HasPrefix(line, "|---") {
			continue
		}
		rows++
		cell := strings.TrimSpace(strings.Split(line, "|")[1])
		cell = remark.ReplaceAllString(cell, "")
		cell = placeholders.Replace(cell)
		for _, part := range strings.FieldsFunc(cell, func(r rune) bool { return r == ',' || r == '/' }) {
			name := strings.TrimSpace(part)
			if strings.Contains(name, "(") && !strings.Contains(name, ")") {
				// "decimal(10" from splitting "decimal(10,2)" on the comma: rebuild it.
				name = strings.TrimSpace(part + ",2)")
			}
			if name == "2)" || name == "" {
				continue
			}
			for _, variant := range []string{name, strings.ToUpper(name), " " + strings.ReplaceAll(name, "(", " ( ") + " "} {
				typ, err := ParseType(variant)
				if err != nil {
					t.Errorf("TYPES.md type %q (from %q): %v", variant, line, err)
					continue
				}
				seen[typ.Kind] = true
			}
		}
	}
	if rows < 20 {
		t.Fatalf("found only %d rows in TYPES.md's table", rows)
	}
	for k := Bit; k <= SysName; k++ {
		if !seen[k] {
			t.Errorf("kind %v is not named in TYPES.md", k)
		}
	}
}

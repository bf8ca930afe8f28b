package migrations

import (
	"strings"
	"testing"
)

func quoteDouble(s string) (string, error) { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`, nil }

func TestForEveryDialect(t *testing.T) {
	names := TenantNames("Cust10003")
	for _, d := range []string{"postgres", "mysql", "sqlite", "sqlserver"} {
		ms, err := For(d, names, quoteDouble)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if len(ms) == 0 || ms[0].Version != 1 {
			t.Fatalf("%s: migrations %+v", d, ms)
		}
		all := ""
		for _, m := range ms {
			for _, s := range m.Statements {
				if strings.Contains(s, "{{") {
					t.Errorf("%s %s: placeholder left in %q", d, m.Name, s)
				}
				all += s + "\n"
			}
		}
		for _, want := range []string{`"Cust10003_mirroring"`, `"Cust10003_mirroring_cycles"`, `"Cust10003_mirroring_migrations"`, "tablename", "lsn", "schemahash", "schemajson"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: migrations lack %s", d, want)
			}
		}
	}
}

func TestUnknownDialect(t *testing.T) {
	if _, err := For("oracle", TenantNames("x"), quoteDouble); err == nil {
		t.Fatal("want an error for an unknown dialect")
	}
}

func TestSplitStatements(t *testing.T) {
	got := splitStatements("a\n--;\n\n--;\nb\n")
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("got %q", got)
	}
}

package migrations

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestParseOrdersAndFillsPlaceholders(t *testing.T) {
	fsys := fstest.MapFS{
		"0002_more.sql":     {Data: []byte("ALTER TABLE {{meta}} ADD x int\n--;\nSELECT {{meta_literal}}\n")},
		"0001_metadata.sql": {Data: []byte("CREATE TABLE {{meta}} (a int)\n--;\n\n--;\nCREATE TABLE {{cycles}} (b int)\n")},
	}
	ms, err := Parse(fsys, map[string]string{"meta": `"T_mirroring"`, "cycles": `"T_cycles"`, "meta_literal": `'x'`})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[1].Version != 2 || ms[0].Name != "0001_metadata" {
		t.Fatalf("got %+v", ms)
	}
	if got := strings.Join(ms[0].Statements, "|"); got != `CREATE TABLE "T_mirroring" (a int)|CREATE TABLE "T_cycles" (b int)` {
		t.Fatalf("statements %q", got)
	}
	if ms[1].Statements[1] != "SELECT 'x'" {
		t.Fatalf("statement %q", ms[1].Statements[1])
	}
}

func TestParseRefusesWhatWouldReachTheDatabaseWrong(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"unknown placeholder": {"0001_a.sql": {Data: []byte("CREATE TABLE {{mta}} (a int)")}},
		"bad name":            {"1_a.sql": {Data: []byte("SELECT 1")}},
		"gap":                 {"0001_a.sql": {Data: []byte("SELECT 1")}, "0003_c.sql": {Data: []byte("SELECT 1")}},
		"a guard of nothing":  {"0001_a.sql": {Data: []byte("-- only if fan_in\n")}},
		"none":                {},
	} {
		if _, err := Parse(fsys, map[string]string{"meta": "m"}); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// memTarget records what the runner does.
type memTarget struct {
	execs   []string
	applied map[int]bool
	failOn  string
}

func (m *memTarget) Exec(_ context.Context, s string) error {
	if s == m.failOn {
		return errors.New("boom")
	}
	m.execs = append(m.execs, s)
	return nil
}
func (m *memTarget) Applied(context.Context) (map[int]bool, error) { return m.applied, nil }
func (m *memTarget) Record(_ context.Context, v int, _ time.Time) error {
	m.applied[v] = true
	return nil
}

func TestApplyRunsVersionOneAlwaysAndTheRestOnce(t *testing.T) {
	ms := []Migration{{Version: 1, Name: "0001_a", Statements: []string{"v1"}}, {Version: 2, Name: "0002_b", Statements: []string{"v2a", "v2b"}}}
	tg := &memTarget{applied: map[int]bool{}}
	if err := Apply(context.Background(), tg, ms, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := Apply(context.Background(), tg, ms, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tg.execs, ","); got != "v1,v2a,v2b,v1" {
		t.Fatalf("executed %s", got)
	}
	tg = &memTarget{applied: map[int]bool{}, failOn: "v2b"}
	err := Apply(context.Background(), tg, ms, time.Now())
	if err == nil || !strings.Contains(err.Error(), "0002_b") || tg.applied[2] {
		t.Fatalf("a failing statement: err %v, applied %v", err, tg.applied)
	}
}

func TestSplitStatements(t *testing.T) {
	got := splitStatements("a\r\n--;\r\n\n--;\nb\n")
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("got %q", got)
	}
}

// TestParseKeepsGuardedStatementsForTheirFlagOnly: "-- only if" statements run where the dialect passes
// the flag; elsewhere the migration has the others only.
func TestParseKeepsGuardedStatementsForTheirFlagOnly(t *testing.T) {
	fsys := fstest.MapFS{
		"0001_a.sql": {Data: []byte("CREATE TABLE {{meta}} (a int)")},
		"0002_b.sql": {Data: []byte("-- only if fan_in\nALTER TABLE {{meta}} ADD tenant int\n--;\n-- only if citus\nSELECT 1\n--;\nSELECT 2")},
	}
	vars := map[string]string{"meta": "m"}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "SELECT 2"},
		{[]string{"fan_in"}, "ALTER TABLE m ADD tenant int|SELECT 2"},
		{[]string{"fan_in", "citus"}, "ALTER TABLE m ADD tenant int|SELECT 1|SELECT 2"},
	} {
		ms, err := Parse(fsys, vars, tc.flags...)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 2 || ms[1].Version != 2 {
			t.Fatalf("flags %v: %+v", tc.flags, ms)
		}
		if got := strings.Join(ms[1].Statements, "|"); got != tc.want {
			t.Errorf("flags %v: statements %q, want %q", tc.flags, got, tc.want)
		}
	}
}

package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/internal/golden"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// Scenario is one shared input of the golden SQL tests: a table as the engine would hand it to a
// dialect and, for scenarios about schema evolution, the in-place changes to render. Every dialect
// renders every scenario; the expected SQL of each lives in the same file, one section per dialect,
// so that a reviewer sees the four databases' answers to one question side by side.
type Scenario struct {
	// Name is the file's base name.
	Name string
	// Table is the table (its new definition, for Changes).
	Table dialect.Table
	// Changes are in-place changes of Table, when the scenario has any.
	Changes []dialect.Change
	// FanIn, when set, renders the table as a tenant of the fan-in layout sees it
	// (dialect.OpenOptions.TenantColumn).
	FanIn *ScenarioFanIn
}

// ScenarioFanIn is the tenant of a fan-in scenario.
type ScenarioFanIn struct {
	// Column is the tenant column, Tenant the tenant.
	Column string `json:"column"`
	Tenant string `json:"tenant"`
	// Citus renders the statements for a PostgreSQL database with the citus extension; the other
	// dialects have nothing to render then (CitusOnly).
	Citus bool `json:"citus"`
}

// CitusOnly is what a dialect other than PostgreSQL renders for a Citus scenario.
func CitusOnly(dialectName string) string {
	return "-- Citus is distributed PostgreSQL: nothing for " + dialectName + "\n"
}

// scenarioInput is the JSON of a scenario's "input.json" section.
type scenarioInput struct {
	Table struct {
		Name    string            `json:"name"`
		Columns []contract.Column `json:"columns"`
		// Key names the key columns; empty means the first column.
		Key []string `json:"key"`
	} `json:"table"`
	Changes []struct {
		// Kind is add, drop, type, nullability or default.
		Kind   string           `json:"kind"`
		Column *contract.Column `json:"column"`
		Old    *contract.Column `json:"old"`
	} `json:"changes"`
	FanIn *ScenarioFanIn `json:"fanIn"`
	// Added names the columns mirrorsink adds after the source's (dialect/added.go); a dialect renders
	// its soft delete and purge for a table that has the soft-delete column.
	Added *struct {
		DeletedAt  string `json:"deletedAt"`
		MirroredAt string `json:"mirroredAt"`
	} `json:"added"`
}

var changeKinds = map[string]dialect.ChangeKind{
	"add": dialect.AddColumn, "drop": dialect.DropColumn, "type": dialect.AlterType,
	"nullability": dialect.AlterNullability, "default": dialect.AlterDefault,
}

// ScenarioDir is the folder of the shared scenarios, testdata/scenarios at the module's root.
func ScenarioDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "scenarios")
}

// Scenarios reads every scenario of ScenarioDir, sorted by name.
func Scenarios() ([]Scenario, error) {
	paths, err := filepath.Glob(filepath.Join(ScenarioDir(), "*.txtar"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []Scenario
	for _, p := range paths {
		sc, err := readScenario(p)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenarios in %s", ScenarioDir())
	}
	return out, nil
}

func readScenario(path string) (Scenario, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, err
	}
	data, ok := golden.ParseArchive(string(raw)).Get("input.json")
	if !ok {
		return Scenario{}, fmt.Errorf("%s: no input.json section", path)
	}
	var in scenarioInput
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Scenario{}, fmt.Errorf("%s: input.json: %w", path, err)
	}
	sc := Scenario{Name: strings.TrimSuffix(filepath.Base(path), ".txtar"), FanIn: in.FanIn}
	if sc.Table, err = MakeTable(in.Table.Name, in.Table.Columns, in.Table.Key...); err != nil {
		return Scenario{}, fmt.Errorf("%s: %w", path, err)
	}
	if a := in.Added; a != nil {
		sc.Table = sc.Table.WithAdded(a.DeletedAt, a.MirroredAt)
	}
	parse := func(c *contract.Column) (typemap.Column, error) {
		if c == nil {
			return typemap.Column{}, nil
		}
		return typemap.ParseColumn(*c)
	}
	for i, ch := range in.Changes {
		kind, ok := changeKinds[ch.Kind]
		if !ok {
			return Scenario{}, fmt.Errorf("%s: change %d: unknown kind %q", path, i+1, ch.Kind)
		}
		col, err := parse(ch.Column)
		if err != nil {
			return Scenario{}, fmt.Errorf("%s: change %d: %w", path, i+1, err)
		}
		old, err := parse(ch.Old)
		if err != nil {
			return Scenario{}, fmt.Errorf("%s: change %d: %w", path, i+1, err)
		}
		sc.Changes = append(sc.Changes, dialect.Change{Kind: kind, Column: col, Old: old})
	}
	return sc, nil
}

// MakeTable builds a dialect.Table from wire columns, keyed by the named columns (the first column
// when none is named), as the engine does.
func MakeTable(name string, columns []contract.Column, key ...string) (dialect.Table, error) {
	t := dialect.Table{Name: name}
	for _, c := range columns {
		col, err := typemap.ParseColumn(c)
		if err != nil {
			return t, fmt.Errorf("table %q, column %q: %w", name, c.Name, err)
		}
		t.Columns = append(t.Columns, col)
	}
	if len(key) == 0 && len(columns) > 0 {
		key = []string{columns[0].Name}
	}
	for _, k := range key {
		idx := -1
		for i, c := range columns {
			if c.Name == k {
				idx = i
			}
		}
		if idx < 0 {
			return t, fmt.Errorf("table %q: key column %q is not in the table", name, k)
		}
		t.Key = append(t.Key, idx)
	}
	return t, nil
}

// Golden renders every shared scenario with render and compares the result with the scenario's
// section named after the dialect ("<dialect>.sql"). Run the test with -update to rewrite the
// sections of this dialect, then read the diff. render writes whatever SQL the dialect would send for
// the scenario (create, alter, staging, upsert, delete, truncate, drop), with its warnings as
// comments; an error is rendered too, so that refusals are pinned down as well.
func Golden(t *testing.T, dialectName string, render func(Scenario) (string, error)) {
	t.Helper()
	scenarios, err := Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			out, err := render(sc)
			if err != nil {
				out += "-- error: " + err.Error() + "\n"
			}
			golden.AssertSection(t, filepath.Join(ScenarioDir(), sc.Name+".txtar"), dialectName+".sql", out)
		})
	}
}

// Script collects rendered statements and warnings for a golden section.
type Script struct {
	b strings.Builder
}

// Head starts a part of the script ("create", "upsert", …).
func (s *Script) Head(title string) { fmt.Fprintf(&s.b, "-- %s\n", title) }

// Add appends statements, each terminated by ";" and a blank line.
func (s *Script) Add(stmts ...string) {
	for _, st := range stmts {
		s.b.WriteString(st)
		s.b.WriteString(";\n\n")
	}
}

// Change starts the part of the script that renders one in-place change, titled the same way in
// every dialect's section.
func (s *Script) Change(ch dialect.Change) {
	switch ch.Kind {
	case dialect.AddColumn:
		s.Head(fmt.Sprintf("%s %q %s null=%v default=%v", ch.Kind, ch.Column.Name, ch.Column.Type, ch.Column.Nullable, defaultText(ch.Column.Default)))
	case dialect.DropColumn:
		s.Head(fmt.Sprintf("%s %q", ch.Kind, ch.Old.Name))
	default:
		s.Head(fmt.Sprintf("%s %q: %s null=%v default=%v -> %s null=%v default=%v", ch.Kind, ch.Column.Name,
			ch.Old.Type, ch.Old.Nullable, defaultText(ch.Old.Default), ch.Column.Type, ch.Column.Nullable, defaultText(ch.Column.Default)))
	}
}

func defaultText(d *typemap.Default) string {
	if d == nil {
		return "none"
	}
	return d.Raw
}

// Warn appends warnings as comments.
func (s *Script) Warn(ws []dialect.Warning) {
	for _, w := range ws {
		fmt.Fprintf(&s.b, "-- warning: column %q: %s\n", w.Column, w.Reason)
	}
}

// Fail appends an error as a comment: a refusal is an answer too.
func (s *Script) Fail(err error) { fmt.Fprintf(&s.b, "-- error: %v\n", err) }

// String returns the script.
func (s *Script) String() string { return s.b.String() }

package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/dialect"
)

func table(name string, cols ...contract.Column) contract.TableSchema {
	return contract.TableSchema{Name: name, Columns: cols}
}

func col(name, typ string, nullable bool, def string) contract.Column {
	return contract.Column{Name: name, Type: typ, IsNullable: nullable, DefaultValue: def}
}

func mustModel(t *testing.T, ts contract.TableSchema, key ...string) *tableModel {
	t.Helper()
	m, err := buildModel(ts, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBuildModelKeyAndHash(t *testing.T) {
	base := table("contact", col("contact_id", "int", false, ""), col("name", "nvarchar(255)", true, "default (N'')"))
	m := mustModel(t, base)
	if len(m.table.Key) != 1 || m.table.Key[0] != 0 {
		t.Fatalf("default key %v, want the first column", m.table.Key)
	}
	if m2 := mustModel(t, base); m2.hash != m.hash {
		t.Fatal("the hash of one schema is not stable")
	}
	changed := table("contact", col("contact_id", "int", false, ""), col("name", "nvarchar(255)", true, "default (N'x')"))
	if mustModel(t, changed).hash == m.hash {
		t.Fatal("a default change does not change the hash")
	}
	over := mustModel(t, base, "name", "contact_id")
	if len(over.table.Key) != 2 || over.table.Key[0] != 1 || over.hash == m.hash {
		t.Fatalf("key override: key %v", over.table.Key)
	}
	back, err := parseStored("contact", over.json)
	if err != nil || back.hash != over.hash || len(back.table.Key) != 2 {
		t.Fatalf("stored schema does not round-trip: %v", err)
	}
}

func TestBuildModelErrors(t *testing.T) {
	for _, tc := range []struct {
		ts   contract.TableSchema
		key  []string
		want string
	}{
		{table(""), nil, "no name"},
		{table("t"), nil, "no columns"},
		{table("t", col("a", "int", false, ""), col("A", "int", false, "")), nil, "appears twice"},
		{table("t", col("a", "varchar2(10)", false, "")), nil, `column "a"`},
		{table("t", col("a", "int", false, "")), []string{"b"}, `key column "b"`},
	} {
		_, err := buildModel(tc.ts, tc.key, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to say %q", tc.ts, err, tc.want)
		}
	}
}

func TestPlanChanges(t *testing.T) {
	old := mustModel(t, table("t", col("id", "int", false, ""), col("name", "nvarchar(50)", true, ""), col("gone", "int", true, "")))
	kinds := func(p plan) []dialect.ChangeKind {
		var k []dialect.ChangeKind
		for _, c := range p.changes {
			k = append(k, c.Kind)
		}
		return k
	}
	widened := mustModel(t, table("t", col("id", "int", false, ""), col("name", "nvarchar(100)", false, "default (N'')"), col("added", "int", true, "")))
	p := planChanges(old, widened)
	want := []dialect.ChangeKind{dialect.AlterType, dialect.AlterNullability, dialect.AlterDefault, dialect.AddColumn, dialect.DropColumn}
	if p.recreate || len(kinds(p)) != len(want) {
		t.Fatalf("plan %+v, want %v", p, want)
	}
	for i, k := range want {
		if kinds(p)[i] != k {
			t.Fatalf("change %d is %v, want %v", i, kinds(p)[i], k)
		}
	}
	narrowed := mustModel(t, table("t", col("id", "int", false, ""), col("name", "nvarchar(10)", true, ""), col("gone", "int", true, "")))
	if p := planChanges(old, narrowed); !p.recreate || !strings.Contains(p.reason, "name") {
		t.Fatalf("a narrowing must recreate: %+v", p)
	}
	rekeyed := mustModel(t, table("t", col("id", "int", false, ""), col("name", "nvarchar(50)", true, ""), col("gone", "int", true, "")), "name")
	if p := planChanges(old, rekeyed); !p.recreate {
		t.Fatal("a key change must recreate")
	}
	if p := planChanges(old, old); p.recreate || len(p.changes) != 0 {
		t.Fatalf("no change planned %+v", p)
	}
}

func TestSameShape(t *testing.T) {
	m := mustModel(t, table("t", col("id", "int", false, ""), col("name", "nvarchar(50)", true, "")))
	if err := sameShape(m, table("t", col("id", "INT", true, "default ((1))"), col("name", "nvarchar (50)", false, ""))); err != nil {
		t.Fatalf("defaults, nullability and spelling differ only: %v", err)
	}
	for _, bad := range []contract.TableSchema{
		table("t", col("id", "int", false, "")),
		table("t", col("id", "int", false, ""), col("other", "nvarchar(50)", true, "")),
		table("t", col("id", "int", false, ""), col("name", "nvarchar(60)", true, "")),
	} {
		if err := sameShape(m, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestCut(t *testing.T) {
	if got := cut([]byte(strings.Repeat("é", 150)), 100); got != strings.Repeat("é", 100)+"…" {
		t.Fatalf("cut: %q", got)
	}
	if got := cut([]byte("short"), 100); got != "short" {
		t.Fatal(got)
	}
}

func TestBatchErrorRedacts(t *testing.T) {
	var err error = &BatchError{Table: "contact", Column: "name", Row: 3, Reason: "value is 300 characters, column holds 255", Value: "secret row data"}
	var r contract.RedactedError
	if !errors.As(err, &r) {
		t.Fatal("BatchError does not implement contract.RedactedError")
	}
	if !strings.Contains(err.Error(), "secret row data") || strings.Contains(r.Redacted(), "secret") {
		t.Fatalf("message %q / redacted %q", err.Error(), r.Redacted())
	}
	for _, want := range []string{`"contact"`, `"name"`, "row 3"} {
		if !strings.Contains(r.Redacted(), want) {
			t.Fatalf("redacted message %q lacks %s", r.Redacted(), want)
		}
	}
}

func TestRouteResolve(t *testing.T) {
	for tmpl, want := range map[string]string{
		"postgres://h/crm_{ctx}?sslmode=disable":     "postgres://h/crm_Cust1?sslmode=disable",
		"postgres://h/crm_%7Bctx%7D?sslmode=disable": "postgres://h/crm_Cust1?sslmode=disable",
		"root@tcp(h:3306)/crm_%7bctx%7d":             "root@tcp(h:3306)/crm_Cust1",
		"/var/lib/{ctx}/{ctx}.db":                    "/var/lib/Cust1/Cust1.db",
	} {
		dsn, schema := Route{DSN: tmpl, Schema: "s_{ctx}"}.Resolve("Cust1")
		if dsn != want || schema != "s_Cust1" {
			t.Errorf("Resolve(%q) = %q, %q; want %q", tmpl, dsn, schema, want)
		}
	}
}

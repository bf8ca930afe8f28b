package sqlite

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/dialect/conformance"
)

// render writes what the dialect sends for a scenario's table: its creation, each in-place change on
// its own (as the table stood before it), the row statements of the bulk path, the upsert and the
// delete, the count, truncate and drop.
func render(sc conformance.Scenario) (string, error) {
	if f := sc.FanIn; f != nil {
		if f.Citus {
			return conformance.CitusOnly("sqlite"), nil
		}
		_, err := Dialect{}.Open(context.Background(), "unused.db", dialect.OpenOptions{Tenant: f.Tenant, TenantColumn: f.Column})
		return "", err
	}
	var s conformance.Script
	q := SQL{}
	t := sc.Table
	create, warnings, err := q.CreateTable(t)
	if err != nil {
		return "", err
	}
	s.Head("create")
	s.Add(create)
	s.Warn(warnings)
	for _, ch := range sc.Changes {
		s.Change(ch)
		stmts, warnings, err := q.Alter(t, storedBefore(t, ch), []dialect.Change{ch})
		if err != nil {
			s.Fail(err)
			continue
		}
		if len(stmts) == 0 {
			s.Head("(nothing to do)")
		}
		s.Add(stmts...)
		s.Warn(warnings)
	}
	type part struct {
		title string
		sql   func() (string, error)
	}
	parts := []part{
		{"insert, 2 rows", func() (string, error) { return q.Insert(t, 2) }},
		{"upsert, 2 rows", func() (string, error) { return q.Upsert(t, 2) }},
		{"delete, 2 keys", func() (string, error) { return q.Delete(t, 2) }},
		{"read", func() (string, error) { return q.Select(t) }},
		{"count", func() (string, error) { return q.Count(t.Name) }},
		{"truncate", func() (string, error) { return q.Truncate(t.Name) }},
		{"drop", func() (string, error) { return q.DropTable(t.Name) }},
	}
	if t.DeletedAt != "" {
		parts = append(parts[:3:3], append([]part{
			{"soft delete, 2 keys, at 2026-05-18 10:40:43.123456 UTC", func() (string, error) {
				return q.SoftDelete(t, 2, "2026-05-18 10:40:43.1234560+00:00")
			}},
			{"purge the rows kept as deleted", func() (string, error) { return q.PurgeDeleted(t) }},
		}, parts[3:]...)...)
	}
	for _, part := range parts {
		s.Head(part.title)
		stmt, err := part.sql()
		if err != nil {
			s.Fail(err)
			continue
		}
		s.Add(stmt)
	}
	return s.String(), nil
}

// storedBefore is the table's stored columns as they were before ch: without a column ch adds, with
// one it drops.
func storedBefore(t dialect.Table, ch dialect.Change) []storedColumn {
	var cols []storedColumn
	pk := 0
	for i, c := range t.Columns {
		if ch.Kind == dialect.AddColumn && c.Name == ch.Column.Name {
			continue
		}
		sc := storedColumn{name: c.Name}
		for pos, k := range t.Key {
			if k == i {
				sc.pk = pos + 1
				pk++
			}
		}
		cols = append(cols, sc)
	}
	if ch.Kind == dialect.DropColumn {
		cols = append(cols, storedColumn{name: ch.Old.Name})
	}
	return cols
}

func TestGolden(t *testing.T) {
	conformance.Golden(t, "sqlite", render)
}

func TestQuote(t *testing.T) {
	q := SQL{}
	for name, want := range map[string]string{
		"user": `"user"`, "MixedCase": `"MixedCase"`, `a"b`: `"a""b"`, "a`b[c]'d": "\"a`b[c]'d\"", "名前": `"名前"`,
		strings.Repeat("x", MaxNameBytes): `"` + strings.Repeat("x", MaxNameBytes) + `"`,
	} {
		if got, err := q.Quote(name); err != nil || got != want {
			t.Errorf("Quote(%.20q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, bad := range []string{"", "a\x00b", "bad\xff", strings.Repeat("x", MaxNameBytes+1), strings.Repeat("é", MaxNameBytes/2+1)} {
		if _, err := q.Quote(bad); !errors.Is(err, dialect.ErrBadName) {
			t.Errorf("Quote(%.20q): %v, want ErrBadName", bad, err)
		}
	}
	for _, reserved := range []string{"sqlite_master", "SQLITE_sequence", "sqlite_"} {
		if _, err := q.Table(reserved); !errors.Is(err, dialect.ErrBadName) || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("Table(%q): %v, want ErrBadName saying the name is reserved", reserved, err)
		}
	}
	if _, err := q.Table("sqlitex"); err != nil {
		t.Errorf("Table(\"sqlitex\"): %v", err)
	}
}

func TestLiteralAndFold(t *testing.T) {
	q := SQL{}
	for in, want := range map[string]string{"it's": `'it''s'`, "": `''`, "a\x00b": `('a' || char(0) || 'b')`} {
		if got := q.Literal(in); got != want {
			t.Errorf("Literal(%q) = %s, want %s", in, got, want)
		}
	}
	if q.Fold("Contact") != q.Fold("CONTACT") || q.Fold("Ä") == q.Fold("ä") {
		t.Error("Fold must fold ASCII letters only, as SQLite compares names")
	}
}

func TestCanonicalDecimal(t *testing.T) {
	cases := map[string]string{
		"0": "0", "-0": "0", "-0.000": "0", "+1.50": "1.5", "007.0100": "7.01", ".5": "0.5", "12.": "12",
		"-123.4500": "-123.45",
	}
	for in, want := range cases {
		got, err := canonicalDecimal(in)
		if err != nil || got != want {
			t.Errorf("canonicalDecimal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e5", "1.2.3", "abc", "--1"} {
		if got, err := canonicalDecimal(bad); err == nil {
			t.Errorf("canonicalDecimal(%q) = %q, want an error", bad, got)
		}
	}
}

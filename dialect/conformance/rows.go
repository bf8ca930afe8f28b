package conformance

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// Helpers that the engine's suite (engine/enginetest) shares with this one: reading a mirrored table
// back as canonical text, ordering rows, and showing them in messages.

// ReadCanonical reads every row of t in tx as canonical text (canon.Value with the target's losses),
// sorted by SortRows.
func ReadCanonical(ctx context.Context, tx dialect.Tx, t dialect.Table, losses canon.Losses) ([][]string, error) {
	var out [][]string
	err := tx.Tables().Read(ctx, t, func(vals []any) error {
		if len(vals) != len(t.Columns) {
			return fmt.Errorf("Read handed %d values for %d columns", len(vals), len(t.Columns))
		}
		line := make([]string, len(vals))
		for i, v := range vals {
			var err error
			if line[i], err = canon.Value(t.Columns[i].Type, v, losses); err != nil {
				return fmt.Errorf("%s.%s: %w", t.Name, t.Columns[i].Name, err)
			}
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.Name, err)
	}
	SortRows(out)
	return out, nil
}

// SortRows orders rows of canonical text column by column, non-negative integers numerically.
func SortRows(rows [][]string) {
	less := func(a, b string) bool {
		if len(a) != len(b) && isDigits(a) && isDigits(b) {
			return len(a) < len(b)
		}
		return a < b
	}
	sort.Slice(rows, func(i, j int) bool {
		for k := range rows[i] {
			if rows[i][k] != rows[j][k] {
				return less(rows[i][k], rows[j][k])
			}
		}
		return false
	})
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Clip quotes a canonical text for a message: NULL as NULL, long text cut to 80 bytes.
func Clip(s string) string {
	if s == canon.Null {
		return "NULL"
	}
	if len(s) > 80 {
		return fmt.Sprintf("%q…(%d bytes)", s[:80], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// Abbreviate shows the first five rows for a message.
func Abbreviate(rows [][]string) string {
	var b strings.Builder
	for i, r := range rows {
		if i == 5 {
			b.WriteString(" …")
			break
		}
		parts := make([]string, len(r))
		for j, v := range r {
			parts[j] = Clip(v)
		}
		fmt.Fprintf(&b, "%v", parts)
	}
	return b.String()
}

package conformance

import (
	"testing"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// EveryKind fails t for each SQL Server type kind for which a dialect's type table has no rule, so
// that a kind added to typemap cannot be forgotten by any dialect. has reports whether the table has
// a rule for k.
func EveryKind(t *testing.T, has func(k typemap.Kind) bool) {
	t.Helper()
	for _, k := range typemap.Kinds() {
		if !has(k) {
			t.Errorf("the type table has no rule for SQL Server type %s", k)
		}
	}
}

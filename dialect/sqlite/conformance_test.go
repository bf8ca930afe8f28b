package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	_ "github.com/mirrorsink/mirrorsink/dialect/sqlite"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Dialect: "sqlite",
		Mirror: func(t *testing.T, tenant string) (string, string) {
			return filepath.Join(t.TempDir(), tenant+".db"), ""
		},
	})
}

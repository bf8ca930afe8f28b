package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	_ "github.com/mirrorsink/mirrorsink/dialect/sqlite"
)

// TestConformance runs the shared suite with each tenant in a file of its own, in a folder of its own
// that Open creates.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Dialect: "sqlite",
		Mirror: func(t *testing.T, tenant string) (string, string) {
			return filepath.Join(t.TempDir(), "mirror", tenant+".db"), ""
		},
		Exists: func(t *testing.T, dsn, _ string) bool {
			for _, p := range []string{dsn, filepath.Dir(dsn)} {
				if _, err := os.Stat(p); err == nil {
					return true
				} else if !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
			return false
		},
	})
}

package mysql

import (
	"testing"

	"github.com/mirrorsink/mirrorsink/dialect/conformance"
)

// TestConformance runs the shared suite with each tenant in a database of its own, which Open creates
// on first use.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Dialect: "mysql",
		Mirror: func(t *testing.T, tenant string) (string, string) {
			return tenantDSN(t, "mirrorsink_c_"+tenant), ""
		},
	})
}

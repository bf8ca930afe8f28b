package contract

import (
	"strings"
	"testing"
)

func TestValidTenant(t *testing.T) {
	for _, ok := range []string{"Cust10003", "a", "A_b_9", strings.Repeat("x", 50)} {
		if !ValidTenant(ok) {
			t.Errorf("ValidTenant(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 51), "x;drop", "a-b", "a b", "é", "a\x00"} {
		if ValidTenant(bad) {
			t.Errorf("ValidTenant(%q) = true", bad)
		}
	}
}

//go:build !unix

package testenv

import "testing"

// PostgresCluster is not available here: it runs the server as another user, which needs unix.
func PostgresCluster(t testing.TB, settings ...string) string {
	t.Helper()
	unavailable(t, "postgres", "a test's own PostgreSQL cluster needs a unix system")
	return ""
}

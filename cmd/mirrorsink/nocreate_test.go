package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// TestStatusOfAMistypedTenantCreatesNothing: `status --tenant typo`, whose default route is SQLite,
// exits 1 saying that the tenant has no mirror and where it was looked for, and leaves no file or
// folder behind; before, it created typo.db with mirrorsink's tables. Without --tenant, a configured
// tenant that has not replicated yet is reported and the command goes on.
func TestStatusOfAMistypedTenantCreatesNothing(t *testing.T) {
	mirrors := filepath.Join(t.TempDir(), "mirrors")
	p := writeConfig(t, "default:\n  dialect: sqlite\n  dsn: "+filepath.Join(mirrors, "{ctx}.db")+"\n"+
		"tenants:\n  Named:\n    dialect: sqlite\n    dsn: "+filepath.Join(mirrors, "named", "{ctx}.db")+"\n")
	code, out, errOut := runCmd(t, "status", "--config", p, "--tenant", "typo")
	want := `mirrorsink status: tenant "typo" has no mirror at ` + filepath.Join(mirrors, "typo.db") + "; nothing was created"
	if code != 1 || !strings.HasPrefix(errOut, want) {
		t.Fatalf("status --tenant typo: exit %d, stdout %q, stderr %q; want exit 1 and %q…", code, out, errOut, want)
	}
	if _, err := os.Stat(mirrors); !os.IsNotExist(err) {
		t.Fatalf("status --tenant typo left %s behind (%v)", mirrors, err)
	}

	code, _, errOut = runCmd(t, "status", "--config", p)
	if want := `tenant "Named" has no mirror at ` + filepath.Join(mirrors, "named", "Named.db") + ": it has not replicated yet"; code != 0 || !strings.Contains(errOut, want) {
		t.Fatalf("status of every configured tenant: exit %d, stderr %q; want exit 0 and %q", code, errOut, want)
	}
	if _, err := os.Stat(mirrors); !os.IsNotExist(err) {
		t.Fatalf("status left %s behind (%v)", mirrors, err)
	}
}

// TestStatusPageCreatesNoMirror: the status page's overview and tenant page show a configured tenant
// that has not replicated yet as not mirrored yet (not as failing), and create no mirror for it;
// before, loading the overview created one for every tenant it listed.
func TestStatusPageCreatesNoMirror(t *testing.T) {
	mirrors := filepath.Join(t.TempDir(), "mirrors")
	eng, err := engine.New(engine.Options{
		Tenants: map[string]engine.Route{"Named": {Dialect: "sqlite", DSN: filepath.Join(mirrors, "{ctx}.db")}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	page, err := newStatusPage(eng, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	page.register(mux, "/status", func(h http.Handler) http.Handler { return h })
	get := func(path string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	overview := get("/status")
	for _, want := range []string{"not mirrored yet", "<b class=\"bad\">0</b> failing", "has no mirror at " + filepath.Join(mirrors, "Named.db")} {
		if !strings.Contains(overview, want) {
			t.Errorf("the overview lacks %q:\n%s", want, overview)
		}
	}
	if body := get("/status/tenant/Named"); !strings.Contains(body, "Nothing is mirrored yet") {
		t.Errorf("the tenant's page does not say that nothing is mirrored yet:\n%s", body)
	}
	if _, err := os.Stat(mirrors); !os.IsNotExist(err) {
		t.Fatalf("the status page left %s behind (%v)", mirrors, err)
	}
}

// TestStatusOfAMistypedTenantCreatesNoDatabase: the same against PostgreSQL with a database per
// tenant ({ctx} in the database's name): exit 1, the message names the server and the database but
// not the DSN's password, and no database was created.
func TestStatusOfAMistypedTenantCreatesNoDatabase(t *testing.T) {
	base, err := url.Parse(testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	tenant := "typo" + hex.EncodeToString(b)
	db := "msnc_" + tenant
	t.Cleanup(func() {
		pg(t, base.String(), func(ctx context.Context, conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
			return err
		})
	})
	// The server trusts its local connections, so the password is never checked; it must never be shown.
	dsn := fmt.Sprintf("postgres://%s:s3cr3t-pw@%s/msnc_{ctx}?%s", base.User.Username(), base.Host, base.RawQuery)
	p := writeConfig(t, fmt.Sprintf("default:\n  dialect: postgres\n  dsn: %q\n", dsn))

	code, out, errOut := runCmd(t, "status", "--config", p, "--tenant", tenant)
	want := fmt.Sprintf(`mirrorsink status: tenant %q has no mirror at postgres://%s/%s; nothing was created`, tenant, base.Host, db)
	if code != 1 || !strings.HasPrefix(errOut, want) || strings.Contains(errOut+out, "s3cr3t") {
		t.Fatalf("status --tenant %s: exit %d, stdout %q, stderr %q; want exit 1 and %q…, without the password", tenant, code, out, errOut, want)
	}
	exists := true
	pg(t, base.String(), func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists)
	})
	if exists {
		t.Fatalf("status --tenant %s created database %s", tenant, db)
	}
}

// pg calls fn with a connection of its own to the test server, outside mirrorsink.
func pg(t *testing.T, dsn string, fn func(ctx context.Context, conn *pgx.Conn) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = fn(ctx, conn)
		conn.Close(ctx)
	}
	if err != nil {
		t.Error(err)
	}
}

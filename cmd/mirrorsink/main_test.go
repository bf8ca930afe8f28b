package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpListsEveryCommand(t *testing.T) {
	code, out, _ := runCmd(t, "--help")
	if code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, c := range []string{"serve", "status", "resync", "pause", "resume", "keygen", "simulate", "demo", "version"} {
		if !strings.Contains(out, "  "+c) {
			t.Errorf("--help does not list %s:\n%s", c, out)
		}
	}
	if code, _, errOut := runCmd(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: exit %d, %q", code, errOut)
	}
	for _, c := range []string{"serve", "status", "resync", "pause", "resume", "keygen", "simulate", "demo"} {
		if code, _, errOut := runCmd(t, c, "--help"); code != 0 || !strings.Contains(errOut, "Usage: mirrorsink "+c) {
			t.Errorf("%s --help: exit %d, %q", c, code, errOut)
		}
	}
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd(t, "keygen", "--dir", dir, "--name", "app")
	if code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errOut)
	}
	for _, f := range []string{"app.private.xml", "app.public.xml", "app.private.pem", "app.public.pem"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(f, "private") && st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if !strings.Contains(out, "app.public.xml") {
		t.Errorf("keygen does not say what to register: %s", out)
	}
	if code, _, errOut := runCmd(t, "keygen", "--dir", dir, "--name", "app"); code == 0 || !strings.Contains(errOut, "exist") {
		t.Fatalf("keygen overwrote existing keys: exit %d, %q", code, errOut)
	}
	if code, _, _ := runCmd(t, "keygen", "--dir", dir, "--bits", "1024"); code == 0 {
		t.Fatal("keygen accepted a 1024-bit key")
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("MS_TEST_PW", "s3cr$t")
	cfg, err := loadConfig(write("tenants:\n  Cust1:\n    dialect: postgres\n    dsn: \"postgres://u:${MS_TEST_PW}@h/db_{ctx}\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.engineOptions()
	if got := opts.Tenants["Cust1"].DSN; got != "postgres://u:s3cr$t@h/db_{ctx}" {
		t.Fatalf("dsn %q", got)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.Limits.MaxBodyBytes != 64<<20 || cfg.SuperOffice.Certificates != "production" {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
	if _, err := loadConfig(write("tenants: {}\nlisten: x\nbogus: 1\n")); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("an unknown key must be an error naming it, got %v", err)
	}
	if _, err := loadConfig(write("listen: \":9\"\n")); err == nil || !strings.Contains(err.Error(), "no tenants") {
		t.Fatalf("a configuration that serves no tenant must be refused, got %v", err)
	}
	if _, err := loadConfig(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("a missing file must be an error")
	}
	t.Setenv("MIRRORSINK_CONFIG", "")
	def, err := loadConfig("")
	if err != nil || def.Default == nil || def.Default.Dialect != "sqlite" {
		t.Fatalf("no configuration must mean SQLite under ./data: %+v, %v", def, err)
	}
}

func TestExpandEnv(t *testing.T) {
	t.Setenv("MS_A", "alpha")
	for in, want := range map[string]string{
		"x${MS_A}y":       "xalphay",
		"pa$$word":        "pa$$word",
		"$MS_A":           "$MS_A",
		"${MS_UNSET_ZZ}!": "!",
		"open ${":         "open ${",
	} {
		if got := expandEnv(in); got != want {
			t.Errorf("expandEnv(%q) = %q, want %q", in, got, want)
		}
	}
}

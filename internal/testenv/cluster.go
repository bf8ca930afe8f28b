//go:build unix

package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// DefaultPostgresBin is where the PostgreSQL server's programs are, unless MIRRORSINK_PG_BIN says.
const DefaultPostgresBin = "/usr/lib/postgresql/15/bin"

// PostgresCluster starts a PostgreSQL cluster of the test's own (initdb and pg_ctl from
// MIRRORSINK_PG_BIN, or DefaultPostgresBin) in a temporary folder, listening on a free loopback port,
// with settings added to its postgresql.conf (e.g. "max_connections = 20"), and returns a DSN of its
// postgres database (user postgres, trust authentication). The cluster stops, and its folder goes,
// when the test ends. Without the programs the test skips, or fails when postgres is required. Run as
// root, the server runs as the postgres user, as PostgreSQL refuses to run as root.
func PostgresCluster(t testing.TB, settings ...string) string {
	t.Helper()
	bin := envOr("MIRRORSINK_PG_BIN", DefaultPostgresBin)
	if _, err := os.Stat(filepath.Join(bin, "pg_ctl")); err != nil {
		unavailable(t, "postgres", fmt.Sprintf("no PostgreSQL server programs in %s (set MIRRORSINK_PG_BIN): %v", bin, err))
		return ""
	}
	dir, err := os.MkdirTemp("", "mirrorsink-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, "postgres", "running as root, and there is no postgres user to run a cluster as: "+err.Error())
			return ""
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	data := filepath.Join(dir, "data")
	run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := append([]string{
		fmt.Sprintf("port = %d", port),
		"listen_addresses = '127.0.0.1'",
		fmt.Sprintf("unix_socket_directories = '%s'", dir),
		// A throwaway cluster: no durability, little memory.
		"fsync = off", "synchronous_commit = off", "full_page_writes = off", "shared_buffers = 16MB",
	}, settings...)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("\n" + strings.Join(conf, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start")
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stop the test's PostgreSQL cluster: %v\n%s", err, out)
		}
	})
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}

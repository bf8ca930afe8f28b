// Package dbserver starts private database servers for fault tests: a PostgreSQL cluster (initdb,
// postgres) or a MariaDB instance (mariadb-install-db, mariadbd) in a temporary folder of its own, on
// a free loopback port. A test may crash such a server (its process stopped dead, with no shutdown of
// any kind) and start it again, which the machine's shared servers must never suffer; and it may give
// it a connection limit of its own. The server and its folder go away with the test.
//
// The programs are looked up in PATH and in the usual Debian folders. When they are missing the test
// is skipped, or fails when the service is named in MIRRORSINK_REQUIRE_SERVICES (package testenv).
// Started as root, the servers run as the postgres and mysql users, which both refuse to run as root.
package dbserver

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/mirrorsink/mirrorsink/internal/subprocess"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
)

// Options configure a private server.
type Options struct {
	// MaxConnections is the server's connection limit (default 100).
	MaxConnections int
	// Settings are further server settings, name=value: given to postgres as -c name=value, to
	// mariadbd as --name=value.
	Settings []string
}

func (o Options) withDefaults() Options {
	if o.MaxConnections <= 0 {
		o.MaxConnections = 100
	}
	return o
}

// Server is a private database server.
type Server struct {
	// Kind is "postgres" or "mysql" (a MariaDB server, which the mysql dialect serves).
	Kind string
	// Addr is the host:port it listens on.
	Addr string

	t     testing.TB
	dir   string
	user  *subprocess.User
	proc  *subprocess.Process
	ready func(ctx context.Context) error
	stop  os.Signal // the signal that stops the server dead
}

// Postgres initialises a PostgreSQL cluster (superuser postgres, trust authentication) and starts it.
func Postgres(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := postgresBin(t)
	opts = opts.withDefaults()
	s := newServer(t, "postgres", "postgres")
	data := filepath.Join(s.dir, "data")
	s.run(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")
	_, port, _ := net.SplitHostPort(s.Addr)
	s.proc.Program = filepath.Join(bin, "postgres")
	s.proc.Args = []string{"-D", data, "-p", port, "-k", s.dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=" + strconv.Itoa(opts.MaxConnections), "-c", "shared_buffers=32MB",
		// A crash here is the server process's, never the machine's: what the kernel has been given
		// survives it, so flushing to the disk would only slow the machine's other tests down.
		"-c", "fsync=off", "-c", "full_page_writes=off"}
	for _, kv := range opts.Settings {
		s.proc.Args = append(s.proc.Args, "-c", kv)
	}
	// SIGQUIT is PostgreSQL's immediate shutdown: every process exits at once, without a checkpoint
	// and without writing what is still in the WAL buffers; the next start runs crash recovery.
	s.stop = syscall.SIGQUIT
	s.ready = func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	}
	s.Start()
	return s
}

// MariaDB initialises a MariaDB instance (root without a password) and starts it.
func MariaDB(t testing.TB, opts Options) *Server {
	t.Helper()
	server, install := mariadbPrograms(t)
	opts = opts.withDefaults()
	s := newServer(t, "mysql", "mysql")
	data := filepath.Join(s.dir, "data")
	// A temporary directory of its own: MariaDB removes the #sql files it finds in its tmpdir when it
	// starts, and with the default (/tmp) those are the machine's own server's temporary tables.
	tmp := filepath.Join(s.dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if s.user != nil {
		if err := os.Chown(tmp, int(s.user.UID), int(s.user.GID)); err != nil {
			t.Fatal(err)
		}
	}
	s.run(install, "--no-defaults", "--datadir="+data, "--tmpdir="+tmp, "--auth-root-authentication-method=normal", "--skip-test-db")
	_, port, _ := net.SplitHostPort(s.Addr)
	s.proc.Program = server
	s.proc.Args = []string{"--no-defaults", "--datadir=" + data, "--tmpdir=" + tmp, "--port=" + port, "--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(s.dir, "mysqld.sock"), "--pid-file=" + filepath.Join(s.dir, "mysqld.pid"),
		"--skip-name-resolve", "--max-connections=" + strconv.Itoa(opts.MaxConnections), "--local-infile=1",
		// The character set of Debian's packaged server, which the machine's shared one has.
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
		"--innodb-buffer-pool-size=32M",
		// Commits are written to the kernel at once, so they survive the server process's crash, the
		// only crash these tests cause; they are flushed to the disk once a second.
		"--innodb-flush-log-at-trx-commit=2"}
	for _, kv := range opts.Settings {
		s.proc.Args = append(s.proc.Args, "--"+kv)
	}
	s.stop = os.Kill
	s.ready = func(ctx context.Context) error {
		db, err := sql.Open("mysql", s.DSN(""))
		if err != nil {
			return err
		}
		defer db.Close()
		return db.PingContext(ctx)
	}
	s.Start()
	return s
}

// newServer makes the server's folder, owned by the service user when the test runs as root, and
// takes a free port.
func newServer(t testing.TB, kind, serviceUser string) *Server {
	t.Helper()
	// Not t.TempDir: its parent folders are private to root, and the server's user must reach this one.
	dir, err := os.MkdirTemp("", "mirrorsink-"+kind+"-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Kind: kind, t: t, dir: dir}
	s.proc = &subprocess.Process{Dir: dir, LogPath: filepath.Join(dir, "server.log")}
	t.Cleanup(func() {
		s.Crash()
		if t.Failed() {
			t.Logf("%s server log, last lines:\n%s", kind, s.proc.LogTail(40))
		}
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup(serviceUser)
		if err != nil {
			testenv.Unavailable(t, kind, fmt.Sprintf("running as root, the private server needs the %s user: %v", serviceUser, err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.user = &subprocess.User{UID: uint32(uid), GID: uint32(gid)}
		s.proc.User = s.user
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	ln.Close()
	return s
}

// run runs a setup program as the server's user and fails the test with its output if it fails.
func (s *Server) run(program string, args ...string) {
	s.t.Helper()
	setup := &subprocess.Process{Program: program, Args: args, Dir: s.dir, User: s.user, LogPath: filepath.Join(s.dir, "setup.log")}
	if err := setup.Run(); err != nil {
		s.t.Fatalf("dbserver: %s: %v\n%s", filepath.Base(program), err, setup.LogTail(40))
	}
}

// DSN returns a DSN of database on the server for the dialect of its kind: a postgres:// URL, or a
// go-sql-driver DSN (an empty database names none).
func (s *Server) DSN(database string) string {
	if s.Kind == "postgres" {
		return "postgres://postgres@" + s.Addr + "/" + database + "?sslmode=disable"
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "tcp", s.Addr, database
	return cfg.FormatDSN()
}

// Start starts the server (again) and waits until it accepts connections; crash recovery, when the
// last stop was a crash, happens in that time. It fails the test if the server is running already or
// is not ready within 60 s.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.proc.Start(60*time.Second, s.ready); err != nil {
		s.t.Fatalf("dbserver: the %s server: %v; its log:\n%s", s.Kind, err, s.proc.LogTail(40))
	}
}

// Crash stops the server dead (PostgreSQL: an immediate shutdown; MariaDB: SIGKILL) and waits until
// it is gone. Connections are broken, transactions in flight are lost, and the next Start recovers.
// Crashing a server that is not running does nothing.
func (s *Server) Crash() { s.proc.Stop(s.stop, 30*time.Second) }

// Running reports whether the server process is up (it may still be recovering).
func (s *Server) Running() bool { return s.proc.PID() != 0 }

// postgresBin finds the folder of PostgreSQL's server programs: initdb's folder in PATH, else the
// newest /usr/lib/postgresql/<version>/bin.
func postgresBin(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	testenv.Unavailable(t, "postgres", "a private PostgreSQL server needs initdb and postgres (in PATH or /usr/lib/postgresql/<version>/bin)")
	return ""
}

// version reads the major version out of /usr/lib/postgresql/<version>/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// mariadbPrograms finds mariadbd and mariadb-install-db (or their older mysqld and mysql_install_db
// names).
func mariadbPrograms(t testing.TB) (server, install string) {
	t.Helper()
	find := func(names ...string) string {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
			for _, d := range []string{"/usr/sbin", "/usr/bin"} {
				if _, err := os.Stat(filepath.Join(d, n)); err == nil {
					return filepath.Join(d, n)
				}
			}
		}
		return ""
	}
	server, install = find("mariadbd", "mysqld"), find("mariadb-install-db", "mysql_install_db")
	if server == "" || install == "" {
		testenv.Unavailable(t, "mysql", "a private MariaDB server needs mariadbd and mariadb-install-db (in PATH or /usr/sbin)")
	}
	return server, install
}

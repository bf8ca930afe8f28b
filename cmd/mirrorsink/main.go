// Command mirrorsink is a SuperOffice database-mirroring service: it answers the Mirroring Task's SOAP
// calls and keeps a mirror of each tenant in PostgreSQL, MySQL/MariaDB, SQL Server or SQLite.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// command is one subcommand of the binary.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary: summary, run: run}
}

func init() {
	register("version", "print the version", func(args []string, stdout, _ io.Writer) error {
		fmt.Fprintf(stdout, "mirrorsink %s\n", version)
		return nil
	})
}

// errUsage marks an error that has already been explained with usage text.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintf(w, "mirrorsink %s: mirrors SuperOffice CRM Online tenants into PostgreSQL, MySQL/MariaDB, SQL Server or SQLite.\n\n", version)
	fmt.Fprintln(w, "Usage: mirrorsink <command> [flags]")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'mirrorsink <command> --help' for a command's flags. Documentation: README.md and docs/.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "mirrorsink: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if errors.Is(err, errUsage) {
			return 2
		}
		fmt.Fprintf(stderr, "mirrorsink %s: %s\n", args[0], strings.TrimSpace(err.Error()))
		return 1
	}
	return 0
}

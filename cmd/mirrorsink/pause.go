package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"time"
)

func init() {
	register("pause", "pause a tenant on every replica at once: Authenticate answers doNotReplicate, writes are refused", runPause)
	register("resume", "lift a pause that the pause command stored", runResume)
}

func runPause(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pause", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML); default $MIRRORSINK_CONFIG, else SQLite mirrors under ./data")
	tenant := fs.String("tenant", "", "the tenant (ctx) to pause (required)")
	reason := fs.String("reason", "", "why, for status and the status page")
	by := fs.String("by", "", "who pauses (default: the user and host running the command)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mirrorsink pause --tenant CTX [--reason TEXT] [--by NAME] [--config FILE]")
		fmt.Fprintln(stderr, "\nStores the pause in the tenant's mirror, so that every replica sees it at once, without a restart:")
		fmt.Fprintln(stderr, "Authenticate answers doNotReplicate (SuperOffice skips the tenant's cycles) and TableSchema, Wipe,")
		fmt.Fprintln(stderr, "RowData and ReplicationCompleted are refused. Calls already running finish. Pausing again replaces")
		fmt.Fprintln(stderr, "who, when and why. 'mirrorsink resume' lifts it.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tenant == "" {
		fs.Usage()
		return errUsage
	}
	if *by == "" {
		*by = whoAmI()
	}
	eng, err := openEngine(*configPath, stderr)
	if err != nil {
		return err
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := eng.Pause(ctx, *tenant, *by, *reason); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is paused (by %s); every replica refuses its cycles from its next call on\n", *tenant, *by)
	return nil
}

func runResume(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML); default $MIRRORSINK_CONFIG, else SQLite mirrors under ./data")
	tenant := fs.String("tenant", "", "the tenant (ctx) to resume (required)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mirrorsink resume --tenant CTX [--config FILE]")
		fmt.Fprintln(stderr, "\nRemoves the pause stored by 'mirrorsink pause'; the next cycle runs on every replica. A pause pinned")
		fmt.Fprintln(stderr, "in the configuration (paused: true on the tenant's route) stays until the configuration changes.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tenant == "" {
		fs.Usage()
		return errUsage
	}
	eng, err := openEngine(*configPath, stderr)
	if err != nil {
		return err
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	had, err := eng.Resume(ctx, *tenant)
	if err != nil {
		return err
	}
	if route, err := eng.RouteFor(*tenant); err == nil && route.Paused {
		fmt.Fprintf(stdout, "%s stays paused: its route in the configuration says paused: true\n", *tenant)
		return nil
	}
	if !had {
		fmt.Fprintf(stdout, "%s was not paused\n", *tenant)
		return nil
	}
	fmt.Fprintf(stdout, "%s is resumed; its next cycle runs\n", *tenant)
	return nil
}

// whoAmI names the operator running a command: user@host, as far as the system says.
func whoAmI() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		name += "@" + host
	}
	return name
}

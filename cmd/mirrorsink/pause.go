package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"

	"github.com/mirrorsink/mirrorsink/engine"
)

func init() {
	register("pause", "pause a tenant on every replica at once: Authenticate answers doNotReplicate, writes are refused", runPause)
	register("resume", "lift a pause that the pause command stored", runResume)
}

func runPause(args []string, stdout, stderr io.Writer) error {
	var reason, by *string
	return runTenantCommand(tenantCommand{
		name:  "pause",
		usage: "--tenant CTX [--reason TEXT] [--by NAME] [--config FILE]",
		about: "Stores the pause in the tenant's mirror, so that every replica sees it at once, without a restart:\n" +
			"Authenticate answers doNotReplicate (SuperOffice skips the tenant's cycles) and TableSchema, Wipe,\n" +
			"RowData and ReplicationCompleted are refused. Calls already running finish. Pausing again replaces\n" +
			"who, when and why. 'mirrorsink resume' lifts it.",
		flags: func(fs *flag.FlagSet) {
			reason = fs.String("reason", "", "why, for status and the status page")
			by = fs.String("by", "", "who pauses (default: the user and host running the command)")
		},
		run: func(ctx context.Context, eng *engine.Engine, tenant string, stdout io.Writer) error {
			who := *by
			if who == "" {
				who = whoAmI()
			}
			if err := eng.Pause(ctx, tenant, who, *reason); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s is paused (by %s); every replica refuses its cycles from its next call on\n", tenant, who)
			return nil
		},
	}, args, stdout, stderr)
}

func runResume(args []string, stdout, stderr io.Writer) error {
	return runTenantCommand(tenantCommand{
		name:  "resume",
		usage: "--tenant CTX [--config FILE]",
		about: "Removes the pause stored by 'mirrorsink pause'; the next cycle runs on every replica. A pause pinned\n" +
			"in the configuration (paused: true on the tenant's route) stays until the configuration changes.",
		run: func(ctx context.Context, eng *engine.Engine, tenant string, stdout io.Writer) error {
			had, err := eng.Resume(ctx, tenant)
			if err != nil {
				return err
			}
			switch route, err := eng.RouteFor(tenant); {
			case err == nil && route.Paused:
				fmt.Fprintf(stdout, "%s stays paused: its route in the configuration says paused: true\n", tenant)
			case !had:
				fmt.Fprintf(stdout, "%s was not paused\n", tenant)
			default:
				fmt.Fprintf(stdout, "%s is resumed; its next cycle runs\n", tenant)
			}
			return nil
		},
	}, args, stdout, stderr)
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

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/protocol"
)

func init() {
	register("keygen", "write a new application key pair (RSA XML for SuperOffice's portal, PEM beside it)", runKeygen)
	register("status", "show a tenant's pause, last failures, last cycle, and each table's LSN, row count and last change (and what of others' it could not keep); creates nothing", runStatus)
	register("resync", "mark a tenant's table (or all its tables) for repopulation in the next cycle", runResync)
}

func runKeygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "folder to write the key files into")
	name := fs.String("name", "application", "base name of the key files")
	bits := fs.Int("bits", 2048, "RSA key size in bits")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mirrorsink keygen [--dir DIR] [--name NAME] [--bits N]")
		fmt.Fprintln(stderr, "\nWrites NAME.private.xml and NAME.public.xml (.NET RSA XML, as SuperOffice's portal takes them)")
		fmt.Fprintln(stderr, "and the same keys as NAME.private.pem and NAME.public.pem. Existing files are never overwritten.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bits < 2048 {
		return fmt.Errorf("--bits %d: use at least 2048", *bits)
	}
	key, err := protocol.GenerateKeyPair(*bits)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o750); err != nil {
		return err
	}
	paths, err := protocol.WriteKeyPair(*dir, *name, key)
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintln(stdout, filepath.Clean(p))
	}
	fmt.Fprintf(stdout, "Register %s with SuperOffice; point application.private_key at %s.\n",
		filepath.Join(*dir, *name+".public.xml"), filepath.Join(*dir, *name+".private.pem"))
	return nil
}

// openEngine builds an engine from the configuration for the operator commands.
func openEngine(configPath string, stderr io.Writer) (*engine.Engine, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	opts := cfg.engineOptions()
	opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := engine.New(opts)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return eng, nil
}

func runStatus(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML); default $MIRRORSINK_CONFIG, else SQLite mirrors under ./data")
	tenant := fs.String("tenant", "", "the tenant (ctx, e.g. Cust12345); default: every tenant named in the configuration")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	failures := fs.Int("failures", engine.StatusFailures, "how many of the newest failed calls and hooks to show")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: mirrorsink status [--config FILE] [--tenant CTX] [--failures N] [--json]")
		fmt.Fprintln(stderr, "\nReads the tenants' mirrors and never creates one: a tenant without a mirror (a mistyped name, or a")
		fmt.Fprintln(stderr, "tenant that has not replicated yet) is reported, and --tenant CTX then exits with status 1.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	eng, err := openEngine(*configPath, stderr)
	if err != nil {
		return err
	}
	defer eng.Close()
	tenants := eng.Tenants()
	if *tenant != "" {
		tenants = []string{*tenant}
	}
	if len(tenants) == 0 {
		return fmt.Errorf("no tenant named in the configuration: say which with --tenant")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var all []engine.TenantStatus
	for _, name := range tenants {
		st, err := eng.Status(ctx, name)
		if errors.Is(err, engine.ErrNoMirror) {
			if *tenant != "" {
				return fmt.Errorf("%w; nothing was created (is the name right? a tenant's first cycle creates its mirror)", err)
			}
			// A tenant of the configuration that has not replicated yet: the others are still shown.
			fmt.Fprintf(stderr, "%v: it has not replicated yet\n", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("tenant %s: %w", name, err)
		}
		if *failures != engine.StatusFailures {
			if st.Failures, err = eng.Failures(ctx, name, max(*failures, 0)); err != nil {
				return fmt.Errorf("tenant %s: %w", name, err)
			}
		}
		all = append(all, st)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	for _, st := range all {
		fmt.Fprintf(stdout, "tenant %s (%s), %d tables\n", st.Tenant, st.Dialect, len(st.Tables))
		if p := st.Paused; p != nil {
			fmt.Fprintf(stdout, "PAUSED: %s\n", pauseText(*p))
		}
		if st.LastCycle != nil {
			c := st.LastCycle
			fmt.Fprintf(stdout, "last cycle: %s, %d tables changed, %d inserts, %d updates, %d deletes\n",
				c.Completed.Format(time.RFC3339), c.Tables, c.Inserts, c.Updates, c.Deletes)
		} else {
			fmt.Fprintln(stdout, "last cycle: none recorded")
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TABLE\tLSN\tROWS\tSCHEMA CHANGED\tLAST APPLIED")
		for _, t := range st.Tables {
			applied := "-"
			if t.LastApplied != nil {
				applied = t.LastApplied.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", t.Table, t.LSN, t.Rows, t.SchemaChanged.Format(time.RFC3339), applied)
		}
		tw.Flush()
		for _, t := range st.Tables {
			for _, o := range t.LostObjects {
				fmt.Fprintf(stdout, "lost by the last schema change of %s: %s (%s)\n", t.Table, o.Object, o.Reason)
			}
			if t.StoredIn != "" {
				fmt.Fprintf(stdout, "%s is kept in a table of the tenant's own, %s, as it cannot share the fan-in table: %s\n", t.Table, t.StoredIn, t.Conflict)
			}
		}
		if len(st.Failures) > 0 {
			fmt.Fprintf(stdout, "\nlast %d failures, newest first:\n", len(st.Failures))
			tw = tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WHEN\tOPERATION\tTABLE\tCLASS\tMESSAGE")
			for _, f := range st.Failures {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.At.Format(time.RFC3339), f.Operation, orDash(f.Table), f.Class, oneLine(f.Message))
			}
			tw.Flush()
		} else {
			fmt.Fprintln(stdout, "\nno failures recorded")
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// pauseText says who paused a tenant, when and why.
func pauseText(p engine.PauseStatus) string {
	var parts []string
	if p.Pinned {
		parts = append(parts, "by the configuration (paused: true)")
	}
	if p.By != "" {
		s := "by " + p.By + " at " + p.At.Format(time.RFC3339)
		if p.Reason != "" {
			s += ": " + p.Reason
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; and ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a message on its line of the table.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func runResync(args []string, stdout, stderr io.Writer) error {
	var table *string
	return runTenantCommand(tenantCommand{
		name:  "resync",
		usage: "--tenant CTX [--table T] [--config FILE]",
		about: "Sets the stored LSN to -1: the next cycle's TableSchema answers -1, and SuperOffice wipes and resends.",
		flags: func(fs *flag.FlagSet) {
			table = fs.String("table", "", "the table to resync; default: every table of the tenant")
		},
		run: func(ctx context.Context, eng *engine.Engine, tenant string, stdout io.Writer) error {
			n, err := eng.Resync(ctx, tenant, *table)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%d table(s) of %s marked for repopulation in the next cycle\n", n, tenant)
			return nil
		},
	}, args, stdout, stderr)
}

// tenantCommand is an operator command on one tenant's mirror: --config and --tenant (required), the
// flags of its own, and what it does with an engine built from the configuration.
type tenantCommand struct {
	name, usage, about string
	flags              func(fs *flag.FlagSet)
	run                func(ctx context.Context, eng *engine.Engine, tenant string, stdout io.Writer) error
}

func runTenantCommand(c tenantCommand, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML); default $MIRRORSINK_CONFIG, else SQLite mirrors under ./data")
	tenant := fs.String("tenant", "", "the tenant (ctx, e.g. Cust12345) (required)")
	if c.flags != nil {
		c.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: mirrorsink %s %s\n\n%s\n", c.name, c.usage, c.about)
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
	return c.run(ctx, eng, *tenant, stdout)
}

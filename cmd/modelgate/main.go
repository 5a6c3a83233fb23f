// Command modelgate gates machine-learning model promotions: it validates
// manifests, runs data and model checks, evaluates governance policies, keeps a
// tamper-evident audit log, and runs the GitHub App.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "(devel)"

// Exit codes of every command (SPEC §5).
const (
	exitOK      = 0
	exitFailed  = 1 // invalid, denied, tampered
	exitCantRun = 2 // bad flags, missing file, unreadable data
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// cli is what every command reads and writes besides its arguments.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
}

// exitCode ends a command that has already said why it stopped.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now}
	return c.run(ctx, args)
}

// run runs the command that args name and returns its exit code.
func (c *cli) run(ctx context.Context, args []string) int {
	root := c.command()
	// Never nil: cobra reads os.Args when it is given no arguments at all.
	root.SetArgs(append([]string{}, args...))
	cmd, err := root.ExecuteContextC(ctx)
	if code, ok := errors.AsType[exitCode](err); ok {
		return int(code)
	}
	if err != nil && cmd.HasParent() {
		// Cobra's own errors (flags, arguments) do not say whose they are.
		err = fmt.Errorf("%s: %w", strings.TrimPrefix(cmd.CommandPath(), root.Name()+" "), err)
	}
	if err != nil {
		return c.fail(err)
	}
	return exitOK
}

// command is the tree of modelgate's commands. Errors are printed by run,
// once and in one line, so cobra prints none and no usage after them.
func (c *cli) command() *cobra.Command {
	root := &cobra.Command{
		Use:           "modelgate",
		Short:         "modelgate gates machine-learning model promotions made as pull requests",
		Long:          "modelgate gates machine-learning model promotions made as pull requests: it validates manifests,\nruns data and model checks, evaluates governance policies, keeps a tamper-evident audit log,\nand runs the GitHub App.",
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate("modelgate {{.Version}}\n")
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	c.group(root,
		c.validateCommand(),
		c.checkCommand(),
		c.gateCommand(),
		c.policyCommand(),
		c.auditCommand(),
		c.statusCommand(),
		c.proposeCommand(),
		c.deployCommand(),
		c.evidenceCommand(),
		c.serveCommand(),
		c.setupAppCommand(),
		c.healthcheckCommand(),
	)
	// Made now rather than on Execute, so that the tree holds every
	// command that its walkers (the help test, the CLI reference) see.
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	return root
}

// group makes cmd a command that only holds subs: run without one, it
// shows its usage and fails; with an unknown one, it says which it knows.
func (c *cli) group(cmd *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	cmd.AddCommand(subs...)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			fmt.Fprint(c.stderr, cmd.UsageString())
			return exitCode(exitCantRun)
		}
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		return fmt.Errorf("unknown subcommand %q (expected %s)", args[0], strings.Join(names, ", "))
	}
	return cmd
}

// do adapts a command's body, which reports its own failures and returns
// its exit code, to cobra.
func do(body func(ctx context.Context, args []string) int) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if code := body(cmd.Context(), args); code != exitOK {
			return exitCode(code)
		}
		return nil
	}
}

// fail reports that a command could not run, in one line.
func (c *cli) fail(err error) int {
	var parts []string
	for line := range strings.Lines(err.Error()) {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	fmt.Fprintf(c.stderr, "modelgate: %s\n", strings.Join(parts, "; "))
	return exitCantRun
}

// databaseFlag registers --database with its environment default.
func (c *cli) databaseFlag(fs *pflag.FlagSet) *string {
	def := c.getenv("MODELGATE_DATABASE")
	if def == "" {
		def = "modelgate.db"
	}
	dsn := fs.String("database", def, "audit store: a SQLite file path or a postgres:// URL (env MODELGATE_DATABASE)")
	// Help shows the default, which may hold the database's password.
	if u, err := url.Parse(def); err == nil && u.User != nil {
		fs.Lookup("database").DefValue = u.Redacted()
	}
	return dsn
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// choice is a flag whose value must be one of a few words.
type choice struct {
	value   string
	allowed []string
}

// choiceFlag registers a choice flag of cmd, completed with its words; the
// first allowed value is the default.
func choiceFlag(cmd *cobra.Command, name, usage string, allowed ...string) *string {
	c := &choice{value: allowed[0], allowed: allowed}
	cmd.Flags().Var(c, name, usage)
	_ = cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(allowed, cobra.ShellCompDirectiveNoFileComp))
	return &c.value
}

func (c *choice) String() string { return c.value }

// Type is what help shows as the flag's value.
func (c *choice) Type() string { return strings.Join(c.allowed, "|") }

func (c *choice) Set(s string) error {
	if !slices.Contains(c.allowed, s) {
		return fmt.Errorf("expected one of %s", strings.Join(c.allowed, ", "))
	}
	c.value = s
	return nil
}

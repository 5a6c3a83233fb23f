// Command modelgate gates machine-learning model promotions: it validates
// manifests, runs data and model checks, evaluates governance policies, keeps a
// tamper-evident audit log, and runs the GitHub App.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
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

type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, c *cli, args []string) int
}

func commands() []command {
	return []command{
		{"validate", "validate [--kind KIND] [--format text|json] PATH...", "validate manifests, environment files and config", runValidate},
		{"check", checkUsage, "run the data, drift, evaluation and fairness checks a manifest declares and write the evidence", runCheck},
		{"gate", gateUsage, "judge a change of a git checkout as the App judges a pull request, and record the decision", runGate},
		{"policy", "policy test [DIR] | policy eval --input FILE", "run the Rego unit tests, or evaluate the policies on an input document", runPolicy},
		{"audit", auditVerifyUsage + " | " + auditCheckpointUsage + " | " + auditKeyUsage + " | " + auditReportUsage + " | " + auditExportUsage + " | " + auditImportUsage, "work with the audit log: verify it, sign checkpoints of it, report on a model, export and import it", runAudit},
		{"status", statusUsage, "show where each model stands in each stage: version, since, deployment, soak left, analysis", runStatus},
		{"propose", proposeUsage, "open or update the pull request that adds a model version to a GitOps repository and pins it in a stage", runPropose},
		{"deploy", deployStatusUsage, "report a deployer's progress on a deployment modelgate created, proving the artifact it deployed", runDeploy},
		{"evidence", evidenceUploadUsage, "upload evidence from a GitHub Actions job to the App, authenticated by the job's OIDC token", runEvidence},
		{"serve", serveUsage, "run the GitHub App: webhooks, check runs, approvals and merges", runServe},
		{"setup-app", setupAppUsage, "register the GitHub App from app.yml with GitHub's manifest flow and save its credentials where serve reads them", runSetupApp},
		{"healthcheck", healthcheckUsage, "exit 0 when the running App answers its health check, for container health checks", runHealthcheck},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now}
	if len(args) == 0 {
		c.usage(stderr)
		return exitCantRun
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		c.usage(stdout)
		return exitOK
	case "-version", "--version", "version":
		fmt.Fprintf(stdout, "modelgate %s\n", version)
		return exitOK
	}
	for _, cmd := range commands() {
		if cmd.name == args[0] {
			return cmd.run(ctx, c, args[1:])
		}
	}
	return c.fail(fmt.Errorf("unknown command %q (run modelgate --help)", args[0]))
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintln(w, "modelgate gates machine-learning model promotions made as pull requests.")
	fmt.Fprintln(w, "\nUsage:")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  modelgate %s\n      %s\n", cmd.usage, cmd.summary)
	}
	fmt.Fprintln(w, "\nRun modelgate COMMAND --help for a command's flags. modelgate --version prints the version.")
}

// flags returns a flag set for a command whose errors and help go to the cli.
func (c *cli) flags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: modelgate %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a command's flags. It returns the exit code to stop with when the
// command must not go on: help was asked for, or the flags are wrong.
func (c *cli) parse(fs *flag.FlagSet, args []string) (int, bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(c.stdout)
		fs.Usage()
		return exitOK, false
	}
	if err != nil {
		return exitCantRun, false // the flag package has said why
	}
	return 0, true
}

// fail reports that a command could not run, in one line.
func (c *cli) fail(err error) int {
	fmt.Fprintf(c.stderr, "modelgate: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	return exitCantRun
}

// databaseFlag registers --database with its environment default.
func (c *cli) databaseFlag(fs *flag.FlagSet) *string {
	def := c.getenv("MODELGATE_DATABASE")
	if def == "" {
		def = "modelgate.db"
	}
	return fs.String("database", def, "audit store: a SQLite file path or a postgres:// URL (env MODELGATE_DATABASE)")
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

// choiceFlag registers a choice flag; the first allowed value is the default.
func choiceFlag(fs *flag.FlagSet, name, usage string, allowed ...string) *string {
	c := &choice{value: allowed[0], allowed: allowed}
	fs.Var(c, name, usage+": "+strings.Join(allowed, "|"))
	return &c.value
}

func (c *choice) String() string { return c.value }

func (c *choice) Set(s string) error {
	if !slices.Contains(c.allowed, s) {
		return fmt.Errorf("expected one of %s", strings.Join(c.allowed, ", "))
	}
	c.value = s
	return nil
}

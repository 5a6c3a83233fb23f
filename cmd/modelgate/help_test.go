package main

import (
	"cmp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestEveryCommandHelps runs --help of every command in the tree, so that a
// command added to it is covered without a line here: its help is printed
// once, on standard output, names every flag, and exits 0.
func TestEveryCommandHelps(t *testing.T) {
	var paths [][]string
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		paths = append(paths, strings.Fields(cmd.CommandPath())[1:])
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				walk(sub)
			}
		}
	}
	root := (&cli{getenv: func(string) string { return "" }}).command()
	walk(root)
	// The tree has modelgate's own commands and cobra's completion: a walk
	// that finds fewer has missed a branch.
	if len(paths) < 25 {
		t.Fatalf("walked %d commands: %v", len(paths), paths)
	}
	for _, path := range paths {
		t.Run(strings.Join(append([]string{"modelgate"}, path...), " "), func(t *testing.T) {
			cmd, _, err := root.Find(path)
			if err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCLI(t, append(path, "--help")...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr)
			}
			if n := strings.Count(stdout, "Usage:"); n != 1 {
				t.Errorf("help shows its usage %d times:\n%s", n, stdout)
			}
			if what := cmp.Or(cmd.Long, cmd.Short); !strings.Contains(stdout, what) {
				t.Errorf("help does not say what the command does (%q):\n%s", what, stdout)
			}
			for _, fs := range []*pflag.FlagSet{cmd.LocalFlags(), cmd.InheritedFlags()} {
				fs.VisitAll(func(f *pflag.Flag) {
					if !strings.Contains(stdout, "--"+f.Name+" ") {
						t.Errorf("help does not name --%s:\n%s", f.Name, stdout)
					}
				})
			}
		})
	}
}

func TestHelpShowsNoPassword(t *testing.T) {
	env := map[string]string{"MODELGATE_DATABASE": "postgres://modelgate:s3cret@db.internal/audit"}
	code, stdout, _ := runCLIEnv(t, env, "audit", "verify", "--help")
	if code != exitOK || strings.Contains(stdout, "s3cret") || !strings.Contains(stdout, `(default "postgres://modelgate:xxxxx@db.internal/audit")`) {
		t.Errorf("exit %d, help\n%s", code, stdout)
	}
}

func TestHelpOnRequestOnly(t *testing.T) {
	for _, args := range [][]string{{}, {"audit"}, {"policy"}, {"deploy"}, {"evidence"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitCantRun || stdout != "" || !strings.Contains(stderr, "Usage:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and the usage on stderr", args, code, stdout, stderr)
		}
	}
	code, stdout, stderr := runCLI(t, "help", "gate")
	if code != exitOK || stderr != "" || !strings.Contains(stdout, "--approved-by") {
		t.Errorf("help gate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_modelgate", "zsh": "#compdef modelgate", "fish": "complete -c modelgate"} {
		code, stdout, stderr := runCLI(t, "completion", shell)
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("completion %s: exit %d, stderr %q; want a script with %q", shell, code, stderr, want)
		}
	}
	// The words of a choice flag are offered, as cobra's scripts ask for them.
	code, stdout, _ := runCLI(t, cobra.ShellCompRequestCmd, "gate", "--format", "")
	if code != exitOK || !strings.Contains(stdout, "markdown\n") || !strings.Contains(stdout, "github\n") {
		t.Errorf("completing gate --format: exit %d, %q", code, stdout)
	}
}

func TestFlagsAnywhere(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "--format", "json", "--kind", "model", "../../examples/gitops/models"},
		{"validate", "../../examples/gitops/models", "--format=json", "--kind", "model"},
		{"validate", "--kind=model", "../../examples/gitops/models", "--format", "json"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitOK || !strings.HasPrefix(stdout, "[") || !strings.Contains(stdout, `"kind": "model"`) || strings.Contains(stdout, `"kind": "environment"`) {
			t.Errorf("%v: exit %d, stdout %.80q, stderr %q", args, code, stdout, stderr)
		}
	}
	// A single dash is no long flag: it is refused, never read as another.
	if code, _, stderr := runCLI(t, "validate", "-format", "json", "../../examples"); code != exitCantRun || !strings.HasPrefix(stderr, "modelgate: validate: ") {
		t.Errorf("-format: exit %d, stderr %q", code, stderr)
	}
}

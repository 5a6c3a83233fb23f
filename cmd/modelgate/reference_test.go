package main

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite docs/cli.md from the command tree (make docs)")

// cliReference is docs/cli.md: every command of the tree, what it does, its
// usage and its flags, from the same text its --help prints. The tree is
// built without environment, so that no one's settings land in the page.
func cliReference() []byte {
	root := (&cli{getenv: func(string) string { return "" }}).command()
	var b bytes.Buffer
	b.WriteString("# Command reference\n\n")
	b.WriteString("<!-- Generated from modelgate's command tree (`make docs`): edit the commands, not this file. -->\n\n")
	b.WriteString("Every command takes `--help` (or `-h`), which prints what is below. Flags are written `--name value`\n" +
		"or `--name=value`, before or after the arguments; a single dash (`-format`) is not a flag.\n" +
		"Exit codes: 0 done, 1 invalid, denied, tampered or refused (each command says which), 2 could not run.\n")
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if cmd.HasParent() {
			use := cmd.UseLine()
			if cmd.HasAvailableSubCommands() {
				use = cmd.CommandPath() + " COMMAND"
			}
			fmt.Fprintf(&b, "\n## %s\n\n%s\n\n```\n%s\n```\n", cmd.CommandPath(), strings.TrimSpace(cmp.Or(cmd.Long, cmd.Short)), use)
			if flags := cmd.LocalNonPersistentFlags(); flags.HasAvailableFlags() {
				fmt.Fprintf(&b, "\n```\n%s```\n", flags.FlagUsages())
			}
		}
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub)
			}
		}
	}
	walk(root)
	return b.Bytes()
}

func TestCLIReferenceIsCurrent(t *testing.T) {
	file := filepath.Join("..", "..", "docs", "cli.md")
	want := cliReference()
	if *update {
		if err := os.WriteFile(file, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v; run `make docs`", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/cli.md is stale: the commands say otherwise; run `make docs` and commit it")
	}
}

// Command mutate checks that the test suite protects each of modelgate's
// guarantees. Every file in mutations/ lists deliberate bugs, one per guarantee;
// mutate builds each bug into the code in turn and runs the tests of the
// packages it names, and fails when any bug survives them.
//
// The bugs are applied with the go command's -overlay flag, never written to
// the work tree: an interrupted run leaves nothing broken behind, and the
// source that a mutation names must still be there, exactly once, or the
// mutation is reported stale rather than silently skipped.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Mutation is one guarantee-breaking change.
type Mutation struct {
	Name      string `yaml:"name"`
	Guarantee string `yaml:"guarantee"`
	File      string `yaml:"file"`
	From      string `yaml:"from"`
	To        string `yaml:"to"`
	// Packages are the test packages that must catch the bug.
	Packages []string `yaml:"packages"`
	// Run narrows the tests run (go test -run); empty runs them all.
	Run string `yaml:"run"`
}

type outcome int

const (
	killed outcome = iota
	survived
	broken // stale or does not compile: the list needs fixing
)

func main() {
	dir := flag.String("dir", "mutations", "folder of mutation lists (*.yaml)")
	only := flag.String("only", "", "run only the mutation of this name")
	timeout := flag.Duration("timeout", 10*time.Minute, "time limit of one mutation's tests")
	flag.Parse()

	muts, err := load(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	if *only != "" {
		muts = slices.DeleteFunc(muts, func(m Mutation) bool { return m.Name != *only })
		if len(muts) == 0 {
			fmt.Fprintf(os.Stderr, "mutate: no mutation named %q in %s\n", *only, *dir)
			os.Exit(2)
		}
	}
	tmp, err := os.MkdirTemp("", "modelgate-mutate-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	defer os.RemoveAll(tmp)

	var bad []string
	for i, m := range muts {
		start := time.Now()
		res, detail := run(m, filepath.Join(tmp, fmt.Sprint(i)), *timeout)
		verdict := map[outcome]string{killed: "caught", survived: "SURVIVED", broken: "BROKEN"}[res]
		fmt.Printf("%-8s %-40s %5.1fs  %s\n", verdict, m.Name, time.Since(start).Seconds(), m.Guarantee)
		if res != killed {
			bad = append(bad, m.Name)
			if detail != "" {
				fmt.Println(indent(detail))
			}
		}
	}
	fmt.Printf("%d mutations: %d caught, %d not\n", len(muts), len(muts)-len(bad), len(bad))
	if len(bad) > 0 {
		os.Exit(1)
	}
}

// load reads every mutation list, refusing incomplete entries and repeated
// names so that a typo cannot turn a mutation into a no-op.
func load(dir string) ([]Mutation, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no mutation lists in %s", dir)
	}
	var all []Mutation
	seen := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var list []Mutation
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&list); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for i, m := range list {
			where := fmt.Sprintf("%s: mutation %d (%s)", f, i+1, m.Name)
			switch {
			case m.Name == "" || m.Guarantee == "" || m.File == "" || m.From == "" || len(m.Packages) == 0:
				return nil, fmt.Errorf("%s: name, guarantee, file, from and packages are required", where)
			case m.From == m.To:
				return nil, fmt.Errorf("%s: from and to are the same", where)
			case seen[m.Name] != "":
				return nil, fmt.Errorf("%s: name already used in %s", where, seen[m.Name])
			}
			seen[m.Name] = f
			all = append(all, m)
		}
	}
	return all, nil
}

// run applies one mutation through an overlay and runs its tests.
func run(m Mutation, dir string, timeout time.Duration) (outcome, string) {
	src, err := os.ReadFile(m.File)
	if err != nil {
		return broken, err.Error()
	}
	if n := bytes.Count(src, []byte(m.From)); n != 1 {
		return broken, fmt.Sprintf("%s: the text to change occurs %d times, not once: the mutation is stale", m.File, n)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return broken, err.Error()
	}
	abs, err := filepath.Abs(m.File)
	if err != nil {
		return broken, err.Error()
	}
	mutated := filepath.Join(dir, filepath.Base(m.File))
	if err := os.WriteFile(mutated, bytes.Replace(src, []byte(m.From), []byte(m.To), 1), 0o644); err != nil {
		return broken, err.Error()
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {abs: mutated}})
	if err != nil {
		return broken, err.Error()
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		return broken, err.Error()
	}

	// Building first tells a mutation that does not compile, which proves
	// nothing, from one that the tests catch.
	if out, err := goCmd(timeout, overlayFile, append([]string{"test", "-count=1", "-run", "^$"}, m.Packages...)...); err != nil {
		return broken, "does not build:\n" + tail(out)
	}
	// go test's own time limit makes a bug that hangs the tests a failure
	// they report, and so a caught one.
	args := []string{"test", "-count=1", "-failfast", "-timeout", timeout.String()}
	if m.Run != "" {
		args = append(args, "-run", m.Run)
	}
	out, err := goCmd(timeout, overlayFile, append(args, m.Packages...)...)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return survived, "the tests of " + strings.Join(m.Packages, " ") + " pass with this bug in " + m.File
	case errors.As(err, &exit):
		return killed, ""
	default:
		return broken, err.Error() + "\n" + tail(out)
	}
}

// goCmd runs go with the overlay in GOFLAGS rather than as a flag, so that
// the binaries tests build with go build (those that run modelgate as a
// process) carry the bug too.
func goCmd(timeout time.Duration, overlay string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -overlay="+overlay))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("timed out after %s", timeout)
	}
	return string(out), err
}

func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

func indent(s string) string {
	return "         " + strings.ReplaceAll(s, "\n", "\n         ")
}

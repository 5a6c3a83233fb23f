// Package runnertest runs the scripts of the composite actions as a GitHub
// Actions runner runs a step: a real bash process with the runner's
// environment (GITHUB_WORKSPACE, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
// RUNNER_TEMP, GITHUB_EVENT_PATH, ...) in temporary files, and the modelgate
// that the setup action's script built first on PATH.
package runnertest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Setup runs the setup action's install.sh (in the folder action), as its
// step does, with tmp as RUNNER_TEMP, and returns the folder it put on PATH.
func Setup(action, tmp string) (string, error) {
	action, err := filepath.Abs(action)
	if err != nil {
		return "", err
	}
	path, output := filepath.Join(tmp, "path"), filepath.Join(tmp, "output")
	cmd := exec.Command(filepath.Join(action, "install.sh"))
	cmd.Env = append(os.Environ(), "GITHUB_ACTION_PATH="+action, "RUNNER_TEMP="+tmp, "GITHUB_PATH="+path,
		"GITHUB_OUTPUT="+output, "ACTION_REF=v0.0.0-test")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install.sh: %v\n%s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if out, _ := os.ReadFile(output); string(out) != "version=v0.0.0-test\n" {
		return "", fmt.Errorf("install.sh wrote the outputs %q", out)
	}
	return strings.TrimSpace(string(data)), nil
}

// Step is the environment a runner gives one step.
type Step struct {
	// Bin is the folder of modelgate, first on PATH.
	Bin string
	// Workspace, Temp, OutputFile, SummaryFile and EventFile are
	// GITHUB_WORKSPACE, RUNNER_TEMP, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and
	// GITHUB_EVENT_PATH (unset when empty).
	Workspace, Temp, OutputFile, SummaryFile, EventFile string
	// Env are more of the runner's variables, NAME=VALUE.
	Env []string
}

// New returns a step in workspace whose temporary files are the test's.
func New(t testing.TB, bin, workspace string) *Step {
	t.Helper()
	tmp := t.TempDir()
	s := &Step{Bin: bin, Workspace: workspace, Temp: filepath.Join(tmp, "temp"),
		OutputFile: filepath.Join(tmp, "output"), SummaryFile: filepath.Join(tmp, "summary")}
	if err := os.Mkdir(s.Temp, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// Run runs an action's script with the inputs (as INPUT_NAME, the way the
// actions pass theirs) and returns its exit code and standard output.
func (s *Step) Run(t testing.TB, script string, inputs map[string]string) (int, string) {
	t.Helper()
	path, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatal("the actions' scripts need jq, which GitHub's runners have: install it (apt-get install jq)")
	}
	cmd := exec.Command(path)
	for _, kv := range os.Environ() {
		// The job's own token would be used to upload.
		if !strings.HasPrefix(kv, "ACTIONS_") && !strings.HasPrefix(kv, "GITHUB_") && !strings.HasPrefix(kv, "INPUT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+s.Bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GITHUB_ACTION_PATH="+filepath.Dir(path), "GITHUB_WORKSPACE="+s.Workspace, "RUNNER_TEMP="+s.Temp,
		"GITHUB_OUTPUT="+s.OutputFile, "GITHUB_STEP_SUMMARY="+s.SummaryFile,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	if s.EventFile != "" {
		cmd.Env = append(cmd.Env, "GITHUB_EVENT_PATH="+s.EventFile)
	}
	cmd.Env = append(cmd.Env, s.Env...)
	for k, v := range inputs {
		cmd.Env = append(cmd.Env, "INPUT_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatal(err)
		}
		code = exit.ExitCode()
	}
	t.Logf("%s exited %d\nstdout:\n%s\nstderr:\n%s", script, code, stdout.String(), stderr.String())
	return code, stdout.String()
}

// Outputs reads GITHUB_OUTPUT as the runner does: name=value lines, and
// name<<DELIMITER blocks.
func (s *Step) Outputs(t testing.TB) map[string]string {
	t.Helper()
	data, err := os.ReadFile(s.OutputFile)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if name, delim, ok := strings.Cut(line, "<<"); ok {
			var value []string
			for sc.Scan() && sc.Text() != delim {
				value = append(value, sc.Text())
			}
			out[name] = strings.Join(value, "\n")
			continue
		}
		name, value, _ := strings.Cut(line, "=")
		out[name] = value
	}
	return out
}

// Summary is what the step wrote to GITHUB_STEP_SUMMARY.
func (s *Step) Summary(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(s.SummaryFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Package actions_test runs the scripts of the composite actions as a GitHub
// runner runs them: with the runner's environment, on real git repositories
// built from the examples, with modelgate built by the setup action's script.
package actions_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/runnertest"
	"github.com/modelgate/modelgate/internal/schema"
)

// bin is the folder of the modelgate that the setup action's script built.
var bin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		tmp, err := os.MkdirTemp("", "modelgate-actions")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer os.RemoveAll(tmp)
		if bin, err = runnertest.Setup("setup", tmp); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		return m.Run()
	}())
}

// pullRequest serves the repository in the GitHub emulator, opens a pull
// request of branch head into main, and writes its pull_request event where
// the runner keeps it.
func pullRequest(t *testing.T, r *runnertest.Step, repo *gittest.Repo, head, author string) {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddApp(1, "modelgate", nil)
	inst := gh.AddInstallation(1, "acme")
	repo.Checkout("main")
	gh.AddRepo(inst, "acme/gitops", repo.Dir)
	repo.Checkout(head)
	gh.Push("acme/gitops", head, author)
	n := gh.OpenPullRequest("acme/gitops", githubtest.PullRequestOptions{Head: head, Author: author, Title: "Promote"})
	r.EventFile = filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(r.EventFile, gh.PullRequestEvent("acme/gitops", n, "opened").Body, 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	fraud23  = "../examples/gitops/models/fraud-detector/2.3.0"
	demand15 = "../examples/gitops/models/demand-forecast/1.5.0"
)

// The evidence workflow on a promotion pull request: the manifests the pull
// request adds are found from the event's base, checked with the base's
// config, their numbers are in the job summary, and the policies' verdict and
// the evidence files are the step's outputs.
func TestCheckPullRequest(t *testing.T) {
	repo := gittest.New(t)
	repo.CopyDir("../examples/gitops")
	repo.Commit("Base state", time.Now().Add(-96*time.Hour))
	repo.Branch("propose")
	// What the training pipeline proposes: the training repository's manifest
	// with the data DVC pulls and the predictions its train step writes.
	fraud := "models/fraud-detector/2.4.0"
	copyFile(t, "../examples/training-repo/model/model.yaml", filepath.Join(repo.Dir, fraud, "model.yaml"))
	for _, f := range []string{"data/reference.csv", "data/current.csv", "eval/predictions.csv", "eval/baseline_predictions.csv"} {
		copyFile(t, filepath.Join(fraud23, f), filepath.Join(repo.Dir, fraud, f))
	}
	// And a version that regresses.
	demand := "models/demand-forecast/1.6.0"
	for _, f := range []string{"model.yaml", "data/reference.csv", "data/current.csv", "eval/predictions.csv", "eval/baseline_predictions.csv"} {
		copyFile(t, filepath.Join(demand15, f), filepath.Join(repo.Dir, demand, f))
	}
	rewrite(t, filepath.Join(repo.Dir, demand, "model.yaml"), `version: "1.5.0"`, `version: "1.6.0"`)
	// The pull request's own rules would let the regression through: the
	// base's judge it.
	appendFile(t, filepath.Join(repo.Dir, ".modelgate/config.yaml"), "thresholds: {evaluation: {maxRegression: 100}, drift: {shareDrifted: 1}}\n")
	// Nor do the pull request's own policies judge it.
	if err := os.MkdirAll(filepath.Join(repo.Dir, ".modelgate/policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo.Dir, ".modelgate/policies/never.rego"), []byte("package modelgate.never\n\ndeny contains \"denied by the pull request\" if true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo.Commit("Propose fraud-detector 2.4.0 and demand-forecast 1.6.0", time.Now())

	r := runnertest.New(t, bin, repo.Dir)
	pullRequest(t, r, repo, "propose", "alice")
	if code, _ := r.Run(t, "check/check.sh", map[string]string{"upload": "false"}); code != 0 {
		t.Fatalf("check.sh exited %d", code)
	}

	out := r.Outputs(t)
	if out["allowed"] != "false" {
		t.Errorf("allowed = %q, want false: demand-forecast 1.6.0 regresses", out["allowed"])
	}
	paths := strings.Split(out["evidence-path"], "\n")
	if len(paths) != 2 {
		t.Fatalf("evidence-path = %q, want the evidence of two manifests", out["evidence-path"])
	}
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	// The manifests in path order: demand-forecast before fraud-detector.
	for i, want := range []struct{ dir, name, version string }{{demand, "demand-forecast", "1.6.0"}, {fraud, "fraud-detector", "2.4.0"}} {
		doc, err := os.ReadFile(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		var ev checks.Evidence
		if err := v.Decode(schema.Evidence, paths[i], doc, &ev); err != nil {
			t.Fatalf("evidence of %s: %v", want.dir, err)
		}
		if ev.Model.Name != want.name || ev.Model.Version != want.version {
			t.Errorf("%s is the evidence of %s %s, want %s %s", paths[i], ev.Model.Name, ev.Model.Version, want.name, want.version)
		}
		for _, in := range ev.Inputs {
			if got := fileSHA256(t, filepath.Join(repo.Dir, want.dir, in.Path)); in.SHA256 != got {
				t.Errorf("%s: %s has sha256 %s in the evidence, %s on disk", want.dir, in.Path, in.SHA256, got)
			}
		}
	}

	summary := r.Summary(t)
	// Numbers measured on the example data (examples/README.md), and the
	// group sizes counted here from the predictions file.
	groups := countColumn(t, filepath.Join(repo.Dir, fraud, "eval/predictions.csv"), "sex")
	for _, want := range []string{
		"### fraud-detector 2.4.0",
		"| roc_auc | 0.871",
		fmt.Sprintf("| F | %d |", groups["F"]),
		fmt.Sprintf("| M | %d |", groups["M"]),
		"Fairness by age\\_band (disparate impact 0.87",
		"| amount | numeric |",
		"| merchant\\_category | categorical |",
		"Data contract: passed.",
		"### demand-forecast 1.6.0",
		"| price | numeric |",
		"| evaluation.regression | demand-forecast 1.6.0: rmse rose to 9.835",
		"**Policies: ❌ denied**",
		"**Policies: ✅ allowed**",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("the job summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Index(summary, "### demand-forecast") > strings.Index(summary, "**Policies: ❌ denied**") {
		t.Error("the denial is not under demand-forecast's section")
	}
}

// Upload defaults to the job's OIDC token, and without the App's URL the step
// refuses rather than skip the upload silently; a job without a token may not
// ask for one.
func TestCheckUploadNeeds(t *testing.T) {
	repo := gittest.New(t)
	repo.CopyDir(fraud23)
	repo.Commit("Version", time.Now())
	for _, c := range []struct {
		env   []string
		input map[string]string
	}{
		{nil, map[string]string{"manifests": "model.yaml", "upload": "true", "app-url": "https://modelgate.example"}},
		{[]string{"ACTIONS_ID_TOKEN_REQUEST_URL=http://127.0.0.1:1/token", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=secret"}, map[string]string{"manifests": "model.yaml"}},
	} {
		r := runnertest.New(t, bin, repo.Dir)
		r.Env = c.env
		code, _ := r.Run(t, "check/check.sh", c.input)
		if code != 2 {
			t.Errorf("%v %v: check.sh exited %d, want 2", c.env, c.input, code)
		}
		if _, err := os.Stat(r.OutputFile); err == nil {
			t.Errorf("%v %v: outputs were written before the step refused", c.env, c.input)
		}
	}
}

// The gate action on a denied promotion: the job fails, each denial is an
// annotation on the line of the file it is about, the report is in the job
// summary.
func TestGateAnnotations(t *testing.T) {
	repo := gittest.New(t)
	repo.CopyDir("../examples/gitops")
	repo.Commit("Base state", time.Now().Add(-96*time.Hour))
	repo.Branch("promote")
	repo.CopyDir("../examples/promotions/demand-forecast-1.5.0-production")
	repo.Commit("Promote demand-forecast 1.5.0 to production", time.Now())

	r := runnertest.New(t, bin, repo.Dir)
	pullRequest(t, r, repo, "promote", "alice")
	code, stdout := r.Run(t, "gate/gate.sh", map[string]string{"approvals": "bob:compliance\ncarol"})
	if code != 1 {
		t.Fatalf("gate.sh exited %d, want 1 (denied)", code)
	}
	if got := r.Outputs(t)["allowed"]; got != "false" {
		t.Errorf("allowed = %q, want false", got)
	}
	manifest := "models/demand-forecast/1.5.0/model.yaml"
	drift := lineOf(t, filepath.Join(repo.Dir, manifest), "drift: {columns: [price")
	evaluation := lineOf(t, filepath.Join(repo.Dir, manifest), "evaluation:")
	pin := lineOf(t, filepath.Join(repo.Dir, "environments/production.yaml"), "demand-forecast:")
	for _, want := range []string{
		fmt.Sprintf("::error file=%s,line=%d,col=%d,title=data.drift::demand-forecast 1.5.0: share_drifted is 0.5", manifest, drift.line, drift.col+len("drift: {columns: [")),
		fmt.Sprintf("::error file=%s,line=%d,col=%d,title=evaluation.regression::demand-forecast 1.5.0: rmse rose", manifest, evaluation.line+1, evaluation.col+2),
		fmt.Sprintf("::error file=environments/production.yaml,line=%d,col=%d,title=stage.skipped::", pin.line, pin.col+len(`demand-forecast: `)),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the annotations lack %q:\n%s", want, stdout)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if !regexp.MustCompile(`^::(error|warning) file=[^,:]+,line=\d+,col=\d+,title=[a-z_.]+::\S`).MatchString(l) {
			t.Errorf("not a workflow command: %q", l)
		}
	}
	if s := r.Summary(t); !strings.Contains(s, "## modelgate: ❌ denied") || !strings.Contains(s, "| demand-forecast | 1.4.0 → 1.5.0 | staging → production | promotion | ❌ denied |") {
		t.Errorf("the job summary lacks the report:\n%s", s)
	}
}

// The scripts pass shellcheck.
func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("MODELGATE_REQUIRE_SHELLCHECK") == "1" {
			t.Fatal("shellcheck is not installed")
		}
		t.Skip("shellcheck is not installed (apt-get install shellcheck); MODELGATE_REQUIRE_SHELLCHECK=1 fails instead")
	}
	scripts, err := filepath.Glob("*/*.sh")
	if err != nil || len(scripts) < 3 {
		t.Fatalf("scripts: %v %v", scripts, err)
	}
	if out, err := exec.Command(sc, append([]string{"--severity=style"}, scripts...)...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

type position struct{ line, col int }

// lineOf is where text first stands in a file, 1-based.
func lineOf(t *testing.T, path, text string) position {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if c := strings.Index(l, text); c >= 0 {
			return position{i + 1, c + 1}
		}
	}
	t.Fatalf("%s has no %q", path, text)
	return position{}
}

func countColumn(t *testing.T, path, column string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := -1
	for i, name := range rows[0] {
		if name == column {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("%s has no column %s", path, column)
	}
	counts := map[string]int{}
	for _, row := range rows[1:] {
		counts[row[col]]++
	}
	return counts
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func rewrite(t *testing.T, path, from, to string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(from)) {
		t.Fatalf("%s has no %q", path, from)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(from), []byte(to), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

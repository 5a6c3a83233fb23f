package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
)

const (
	gitopsRepo   = "acme/gitops"
	trainingRepo = "acme/fraud-training"
	proposed     = "modelgate/propose/fraud-detector-2.3.0-dev"
)

// proposeScenario is an emulated GitHub holding a GitOps repository whose
// dev stage runs fraud-detector 2.2.0, and a training pipeline's output: the
// 2.3.0 manifest, its data and the evidence modelgate check wrote.
type proposeScenario struct {
	gh       *githubtest.Server
	inst     int64
	manifest string // the training pipeline's manifest
	evidence string
	env      map[string]string
}

func newProposeScenario(t *testing.T) *proposeScenario {
	t.Helper()
	gh, inst := emulatedGitHub(t)
	w := gittest.New(t)
	w.Write(".modelgate/config.yaml", readExample(t, ".modelgate/config.yaml"))
	w.Write("environments/dev.yaml", "# what runs in dev\nstage: dev\nmodels:\n  fraud-detector: \"2.2.0\"   # the current one\n  demand-forecast: \"1.5.0\"\n")
	w.Write("models/fraud-detector/2.2.0/model.yaml", readExample(t, "models/fraud-detector/2.2.0/model.yaml"))
	w.Commit("initial", time.Now().Add(-time.Hour))
	gh.AddRepo(inst, gitopsRepo, w.Dir)
	training := gittest.New(t)
	training.Write("README.md", "training\n")
	training.Commit("initial", time.Now().Add(-time.Hour))
	gh.AddRepo(inst, trainingRepo, training.Dir)

	s := &proposeScenario{gh: gh, inst: inst, manifest: filepath.Join(copyModel(t), "model.yaml")}
	s.evidence = filepath.Join(t.TempDir(), "evidence.json")
	s.check(t)
	s.env = map[string]string{"GITHUB_TOKEN": gh.InstallationToken(inst), "GITHUB_API_URL": gh.URL() + "/api/v3"}
	return s
}

// check runs modelgate check on the manifest, as the training pipeline does
// before it proposes.
func (s *proposeScenario) check(t *testing.T) {
	t.Helper()
	if code, _, stderr := runCLI(t, "check", s.manifest, "--out", s.evidence); code != exitOK {
		t.Fatalf("check: %d %s", code, stderr)
	}
}

func (s *proposeScenario) propose(t *testing.T, extra ...string) (code int, stdout, stderr string) {
	t.Helper()
	args := append([]string{"propose", "--repo", gitopsRepo, "--manifest", s.manifest, "--evidence", s.evidence, "--format", "json"}, extra...)
	return runCLIEnv(t, s.env, args...)
}

func (s *proposeScenario) proposeOK(t *testing.T) proposeResult {
	t.Helper()
	code, stdout, stderr := s.propose(t)
	if code != exitOK {
		t.Fatalf("propose: exit %d\n%s%s", code, stdout, stderr)
	}
	var res proposeResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("propose output %q: %v", stdout, err)
	}
	return res
}

// git runs git in the emulator's copy of the GitOps repository.
func (s *proposeScenario) git(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", s.gh.GitDir(gitopsRepo)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// writes are the calls that changed something on GitHub.
func writes(calls []githubtest.Call) []string {
	var out []string
	for _, c := range calls {
		if c.Method != "GET" {
			out = append(out, c.String())
		}
	}
	return out
}

func TestProposeOpensThenUpdatesThePullRequest(t *testing.T) {
	s := newProposeScenario(t)
	main := s.gh.Branch(gitopsRepo, "main")
	files := []string{
		"environments/dev.yaml",
		"models/fraud-detector/2.3.0/data/current.csv", "models/fraud-detector/2.3.0/data/reference.csv",
		"models/fraud-detector/2.3.0/eval/baseline_predictions.csv", "models/fraud-detector/2.3.0/eval/predictions.csv",
		"models/fraud-detector/2.3.0/model.yaml",
	}

	first := s.proposeOK(t)
	firstCalls := s.gh.Calls()
	if first.Action != proposeOpened || first.Number == 0 || first.Branch != proposed || first.Base != "main" || first.Stage != "dev" ||
		!slices.Equal(first.Files, files) || !strings.HasSuffix(first.URL, "/acme/gitops/pull/1") {
		t.Fatalf("first run: %+v", first)
	}
	pr := s.gh.PullRequest(gitopsRepo, first.Number)
	if pr.Head != proposed || pr.Base != "main" || pr.HeadSHA != first.Head || pr.Title != "Propose fraud-detector 2.3.0 for dev" {
		t.Fatalf("pull request %+v", pr)
	}
	// One commit on main, holding every file and the pin.
	if parents := s.git(t, "rev-list", "--parents", "-n1", first.Head); parents != first.Head+" "+main {
		t.Errorf("the commit's parents: %s; want main %s", parents, main)
	}
	if changed := strings.Fields(s.git(t, "diff", "--name-only", main, first.Head)); !slices.Equal(changed, files) {
		t.Errorf("the commit changes %v; want %v", changed, files)
	}
	for _, f := range files[1:] {
		want, err := os.ReadFile(filepath.Join(filepath.Dir(s.manifest), strings.TrimPrefix(f, "models/fraud-detector/2.3.0/")))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.git(t, "show", first.Head+":"+f); got != strings.TrimSpace(string(want)) {
			t.Errorf("%s differs from the training pipeline's", f)
		}
	}
	// The pin is set by editing the file: comments and the other pins stay.
	if env := s.git(t, "show", first.Head+":environments/dev.yaml"); env != "# what runs in dev\nstage: dev\nmodels:\n  fraud-detector: \"2.3.0\"   # the current one\n  demand-forecast: \"1.5.0\"" {
		t.Errorf("environments/dev.yaml:\n%s", env)
	}
	for _, want := range []string{"**fraud-detector 2.3.0**", "in place of 2.2.0", "| `models/fraud-detector/2.3.0/model.yaml` |", "<summary>Evaluation</summary>", "| roc_auc |", "Fairness by sex", "<summary>Drift"} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("the body lacks %q:\n%s", want, pr.Body)
		}
	}
	if got := writes(firstCalls); !slices.Equal(got, append(slices.Repeat([]string{"POST /repos/{owner}/{repo}/git/blobs"}, len(files)),
		"POST /repos/{owner}/{repo}/git/trees", "POST /repos/{owner}/{repo}/git/commits", "POST /repos/{owner}/{repo}/git/refs", "POST /repos/{owner}/{repo}/pulls")) {
		t.Errorf("first run writes %v", got)
	}

	// The pipeline runs again with a changed manifest: a new commit on the
	// branch, the same pull request, a new body.
	data, err := os.ReadFile(s.manifest)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "Scores are not calibrated", "Scores are still not calibrated", 1)
	if err := os.WriteFile(s.manifest, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	s.check(t)
	s.gh.ResetCalls()
	second := s.proposeOK(t)
	secondCalls := s.gh.Calls()
	if second.Action != proposeUpdated || second.Number != first.Number || second.Head == first.Head {
		t.Fatalf("second run: %+v; first %+v", second, first)
	}
	if parent := s.git(t, "rev-parse", second.Head+"^"); parent != first.Head {
		t.Errorf("the new commit's parent is %s; want the branch's head %s", parent, first.Head)
	}
	if changed := s.git(t, "diff", "--name-only", first.Head, second.Head); changed != "models/fraud-detector/2.3.0/model.yaml" {
		t.Errorf("the new commit changes %q", changed)
	}
	if prs := s.gh.PullRequests(gitopsRepo); len(prs) != 1 || prs[0].HeadSHA != second.Head || prs[0].Body == pr.Body {
		t.Errorf("pull requests after the second run: %+v", prs)
	}
	if got := writes(secondCalls); !slices.Equal(got, []string{
		"POST /repos/{owner}/{repo}/git/blobs", "POST /repos/{owner}/{repo}/git/trees", "POST /repos/{owner}/{repo}/git/commits",
		"PATCH /repos/{owner}/{repo}/git/refs/{ref}", "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
	}) {
		t.Errorf("second run writes %v", got)
	}

	// The same inputs once more: nothing to write.
	s.gh.ResetCalls()
	third := s.proposeOK(t)
	if third.Action != proposeUnchanged || third.Number != first.Number || third.Head != second.Head {
		t.Errorf("third run: %+v", third)
	}
	if got := writes(s.gh.Calls()); len(got) != 0 {
		t.Errorf("third run writes %v", got)
	}
	t.Logf("API calls: first run %d, second %d, third %d", len(firstCalls), len(secondCalls), len(s.gh.Calls()))
	for _, c := range firstCalls {
		t.Logf("first: %s %d", c, c.Status)
	}
	for _, c := range secondCalls {
		t.Logf("second: %s %d", c, c.Status)
	}
}

// TestProposeAfterTheBaseMoved: a second run after main moved merges main
// into the branch, so that the pull request still shows only its own files.
func TestProposeAfterTheBaseMoved(t *testing.T) {
	s := newProposeScenario(t)
	first := s.proposeOK(t)
	work := gittest.New(t)
	work.Git("fetch", "-q", s.gh.GitDir(gitopsRepo), "main")
	work.Git("checkout", "-q", "-B", "main", "FETCH_HEAD")
	work.Write("README.md", "the GitOps repository\n")
	work.Commit("readme", time.Now())
	work.Git("push", "-q", s.gh.GitDir(gitopsRepo), "main:main")
	main := s.gh.Branch(gitopsRepo, "main")

	second := s.proposeOK(t)
	if second.Action != proposeUpdated || second.Number != first.Number {
		t.Fatalf("second run: %+v", second)
	}
	if parents := s.git(t, "rev-list", "--parents", "-n1", second.Head); parents != second.Head+" "+first.Head+" "+main {
		t.Errorf("parents %s; want the branch's head and main's", parents)
	}
	if changed := strings.Fields(s.git(t, "diff", "--name-only", main, second.Head)); len(changed) != 6 || slices.Contains(changed, "README.md") {
		t.Errorf("against main the branch changes %v", changed)
	}
	if third := s.proposeOK(t); third.Action != proposeUnchanged || third.Head != second.Head {
		t.Errorf("third run: %+v", third)
	}
}

func TestProposeNamesTheMissingPermission(t *testing.T) {
	s := newProposeScenario(t)
	token := s.gh.ScopedToken(s.inst, githubtest.TokenScope{Permissions: map[string]string{"contents": "read", "pull_requests": "write"}})
	s.env["GITHUB_TOKEN"] = token
	code, stdout, stderr := s.propose(t)
	if code != exitCantRun || !strings.Contains(stderr, "lacks the permission contents=write on acme/gitops") || strings.Contains(stdout+stderr, token) {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	if got := s.gh.Branch(gitopsRepo, "main"); len(s.gh.PullRequests(gitopsRepo)) != 0 || got == "" {
		t.Error("a pull request was opened")
	}

	// Contents but not pull requests: the branch is written, the pull
	// request refused, and the message names pull_requests=write.
	s.env["GITHUB_TOKEN"] = s.gh.ScopedToken(s.inst, githubtest.TokenScope{Permissions: map[string]string{"contents": "write"}})
	if code, _, stderr := s.propose(t); code != exitCantRun || !strings.Contains(stderr, "pull_requests=write") {
		t.Errorf("without pull requests: exit %d %s", code, stderr)
	}
}

// TestProposeWithTheWorkflowsOwnToken: GitHub Actions' GITHUB_TOKEN reaches
// only the workflow's repository; GitHub answers 404 for any other, and the
// message says what token to use instead.
func TestProposeWithTheWorkflowsOwnToken(t *testing.T) {
	s := newProposeScenario(t)
	s.env["GITHUB_TOKEN"] = s.gh.ScopedToken(s.inst, githubtest.TokenScope{Repositories: []string{trainingRepo}})
	s.env["GITHUB_ACTIONS"], s.env["GITHUB_REPOSITORY"] = "true", trainingRepo
	code, _, stderr := s.propose(t)
	for _, want := range []string{"cannot see acme/gitops", "GitHub App must be installed", "GITHUB_TOKEN reaches only acme/fraud-training", "actions/create-github-app-token"} {
		if code != exitCantRun || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr lacks %q: %s", code, want, stderr)
		}
	}
	// From a token file, the hint about the workflow's token does not apply.
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(s.env["GITHUB_TOKEN"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	delete(s.env, "GITHUB_TOKEN")
	if code, _, stderr := s.propose(t, "--token-file", file); code != exitCantRun || !strings.Contains(stderr, "cannot see acme/gitops") || strings.Contains(stderr, "GITHUB_TOKEN reaches") {
		t.Errorf("token file: exit %d %s", code, stderr)
	}
}

func TestProposeRefusesToChangeALandedVersion(t *testing.T) {
	s := newProposeScenario(t)
	w := gittest.New(t)
	w.Git("fetch", "-q", s.gh.GitDir(gitopsRepo), "main")
	w.Git("checkout", "-q", "-B", "main", "FETCH_HEAD")
	w.Write("models/fraud-detector/2.3.0/model.yaml", readExample(t, "models/fraud-detector/2.3.0/model.yaml")+"# landed\n")
	w.Commit("land 2.3.0", time.Now())
	w.Git("push", "-q", s.gh.GitDir(gitopsRepo), "main:main")
	s.gh.ResetCalls()
	code, _, stderr := s.propose(t)
	if code != exitFailed || !strings.Contains(stderr, "models/fraud-detector/2.3.0/ exists on main with other content") || !strings.Contains(stderr, "immutable") {
		t.Errorf("exit %d %s", code, stderr)
	}
	if got := writes(s.gh.Calls()); len(got) != 0 {
		t.Errorf("writes %v", got)
	}
}

func TestProposeRefusesAnInvalidManifest(t *testing.T) {
	s := newProposeScenario(t)
	data, err := os.ReadFile(s.manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.manifest, []byte(strings.Replace(string(data), "riskTier: high", "riskTier: extreme", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	s.gh.ResetCalls()
	code, _, stderr := s.propose(t)
	if code != exitFailed || !strings.Contains(stderr, filepath.ToSlash(s.manifest)+":7:13: metadata.riskTier") {
		t.Errorf("exit %d %s", code, stderr)
	}
	if n := len(s.gh.Calls()); n != 0 {
		t.Errorf("%d calls to GitHub for an invalid manifest", n)
	}
}

func TestProposeRefusesEvidenceOfAnotherModel(t *testing.T) {
	s := newProposeScenario(t)
	data, err := os.ReadFile(s.evidence)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.evidence, []byte(strings.Replace(string(data), `"version": "2.3.0"`, `"version": "2.2.0"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := s.propose(t); code != exitFailed || !strings.Contains(stderr, "evidence for fraud-detector 2.2.0, not for fraud-detector 2.3.0") {
		t.Errorf("exit %d %s", code, stderr)
	}
}

func TestProposeNothingWhenTheBaseHoldsIt(t *testing.T) {
	s := newProposeScenario(t)
	first := s.proposeOK(t)
	s.git(t, "update-ref", "refs/heads/main", first.Head)
	s.gh.ClosePullRequest(gitopsRepo, first.Number)
	if res := s.proposeOK(t); res.Action != proposeNone {
		t.Errorf("with main at the proposal: %+v", res)
	}
	if code, _, stderr := s.propose(t, "--stage", "qa"); code != exitFailed || !strings.Contains(stderr, `stage "qa" is not one of main's stages (dev, staging, production)`) {
		t.Errorf("an unknown stage: exit %d %s", code, stderr)
	}
}

// TestProposeAction runs the action's script as the runner does, with the
// inputs in its environment and modelgate on PATH, twice: it opens the pull
// request, then finds it unchanged, and writes the outputs each time.
func TestProposeAction(t *testing.T) {
	s := newProposeScenario(t)
	action, err := os.ReadFile("../../actions/propose/action.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"PROPOSE_REPO", "PROPOSE_MANIFEST", "PROPOSE_STAGE", "PROPOSE_BASE", "PROPOSE_EVIDENCE", "PROPOSE_GITHUB_URL", "GITHUB_TOKEN", `"$GITHUB_ACTION_PATH/propose.sh"`} {
		if !strings.Contains(string(action), name) {
			t.Errorf("action.yml does not pass %s", name)
		}
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "modelgate"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script, err := filepath.Abs("../../actions/propose/propose.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func(output string) string {
		t.Helper()
		cmd := exec.Command("bash", "--noprofile", "--norc", script)
		cmd.Env = []string{
			"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + t.TempDir(),
			"GITHUB_OUTPUT=" + output, "GITHUB_TOKEN=" + s.env["GITHUB_TOKEN"],
			"PROPOSE_REPO=" + gitopsRepo, "PROPOSE_MANIFEST=" + s.manifest, "PROPOSE_STAGE=dev", "PROPOSE_BASE=",
			"PROPOSE_EVIDENCE=" + s.evidence, "PROPOSE_GITHUB_URL=" + s.env["GITHUB_API_URL"],
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the script failed: %v\n%s", err, out)
		}
		written, err := os.ReadFile(output)
		if err != nil {
			t.Fatal(err)
		}
		return string(written)
	}
	dir := t.TempDir()
	prs := func() []githubtest.PullRequest { return s.gh.PullRequests(gitopsRepo) }
	first := run(filepath.Join(dir, "first"))
	if n := prs(); len(n) != 1 || first != "action=opened\npull-request-number=1\npull-request-url="+s.gh.URL()+"/acme/gitops/pull/1\n" {
		t.Errorf("first GITHUB_OUTPUT:\n%s(pull requests %+v)", first, n)
	}
	if second := run(filepath.Join(dir, "second")); second != strings.Replace(first, "opened", "unchanged", 1) {
		t.Errorf("second GITHUB_OUTPUT:\n%s", second)
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	gogithub "github.com/google/go-github/v62/github"

	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
)

const (
	deployRepo   = "acme/models"
	deployDigest = "sha256:1170c26f59c31de7345adfbc0be233ac7950992df35235006855a6e59b45b07f"
	otherDigest  = "sha256:9990c26f59c31de7345adfbc0be233ac7950992df35235006855a6e59b45b07f"
)

// deployScenario is an emulated GitHub holding one deployment of
// fraud-detector 2.3.0 to staging that modelgate created, and the
// environment a deployer's job has: its repository and token.
type deployScenario struct {
	gh  *githubtest.Server
	id  int64
	env map[string]string
}

func newDeployScenario(t *testing.T) *deployScenario {
	t.Helper()
	gh, inst := emulatedGitHub(t)
	w := gittest.New(t)
	w.Write("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: 2.3.0}\n")
	sha := w.Commit("promote fraud-detector 2.3.0 to staging", time.Now())
	gh.AddRepo(inst, deployRepo, w.Dir)
	token := gh.InstallationToken(inst)

	client, err := github.NewTokenClient(github.TokenConfig{Token: token, BaseURL: gh.URL() + "/api/v3/"})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := client.Repo(deployRepo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := repo.CreateDeployment(context.Background(), sha, "staging", deploy.Payload{
		Model: "fraud-detector", Version: "2.3.0", PreviousVersion: "2.2.0",
		ManifestPath: "models/fraud-detector/2.3.0/model.yaml",
		Artifact:     deploy.Artifact{URI: "s3://models/fraud-detector/2.3.0/model.onnx", Digest: deployDigest},
	})
	if err != nil {
		t.Fatal(err)
	}
	gh.ResetCalls()
	return &deployScenario{gh: gh, id: d.ID, env: map[string]string{
		"GITHUB_TOKEN": token, "GITHUB_REPOSITORY": deployRepo, "GITHUB_API_URL": gh.URL() + "/api/v3",
	}}
}

// emulatedGitHub is an emulated GitHub with modelgate's App installed on
// the organization acme.
func emulatedGitHub(t *testing.T) (*githubtest.Server, int64) {
	t.Helper()
	gh := githubtest.New(t)
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	gh.AddApp(77, "modelgate", &key.PublicKey)
	return gh, gh.AddInstallation(77, "acme")
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// newGoGitHub is a go-github client with the deployer's token, for what
// another tool does on the repository.
func newGoGitHub(t *testing.T, s *deployScenario) *gogithub.Client {
	t.Helper()
	c, err := gogithub.NewClient(nil).WithAuthToken(s.env["GITHUB_TOKEN"]).WithEnterpriseURLs(s.gh.URL(), s.gh.URL())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// run runs modelgate in the deployer's environment.
func (s *deployScenario) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, func(k string) string { return s.env[k] })
	return code, out.String(), errOut.String()
}

func (s *deployScenario) statuses(t *testing.T) []githubtest.DeploymentStatus {
	t.Helper()
	for _, d := range s.gh.Deployments(deployRepo) {
		if d.ID == s.id {
			return d.Statuses
		}
	}
	t.Fatalf("no deployment %d", s.id)
	return nil
}

func (s *deployScenario) posts() int {
	n := 0
	for _, c := range s.gh.Calls() {
		if c.Method == http.MethodPost {
			n++
		}
	}
	return n
}

func TestDeployStatusSuccessNamesTheDigest(t *testing.T) {
	s := newDeployScenario(t)
	id := itoa(s.id)
	code, stdout, stderr := s.run(t, "deploy", "status", "--deployment", id, "--state", "in_progress")
	if code != exitOK {
		t.Fatalf("in_progress: exit %d: %s", code, stderr)
	}
	s.gh.ResetCalls()
	code, stdout, stderr = s.run(t, "deploy", "status", "--deployment", id, "--state", "success", "--digest", deployDigest,
		"--log-url", "https://argocd.example.com/applications/fraud", "--description", "argo sync 42")
	if code != exitOK {
		t.Fatalf("success: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "fraud-detector 2.3.0 to staging): success posted") {
		t.Errorf("stdout = %q", stdout)
	}
	// One report costs three calls: the deployment, its statuses, the post.
	var calls []string
	for _, c := range s.gh.Calls() {
		calls = append(calls, c.String())
	}
	if want := "GET /repos/{owner}/{repo}/deployments/{deployment_id}, GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses, POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"; strings.Join(calls, ", ") != want {
		t.Errorf("calls = %v, want %s", calls, want)
	}
	st := s.statuses(t)
	if len(st) != 2 || st[1].State != "success" || st[1].Description != "deployed "+deployDigest+"; argo sync 42" ||
		st[1].LogURL != "https://argocd.example.com/applications/fraud" {
		t.Fatalf("statuses = %+v", st)
	}
	if got, ok := deploy.DeployedDigest(st[1].Description); !ok || got != deployDigest {
		t.Errorf("the App reads the digest %q, %v", got, ok)
	}
}

func TestDeployStatusRefusesAnotherDigest(t *testing.T) {
	s := newDeployScenario(t)
	code, _, stderr := s.run(t, "deploy", "status", "--deployment", itoa(s.id), "--state", "success", "--digest", otherDigest)
	if code != exitFailed {
		t.Errorf("exit %d, want %d: %s", code, exitFailed, stderr)
	}
	if !strings.Contains(stderr, "refused, nothing posted") || !strings.Contains(stderr, "deployed "+otherDigest+", but fraud-detector 2.3.0 is "+deployDigest) {
		t.Errorf("stderr = %q", stderr)
	}
	if st := s.statuses(t); len(st) != 0 || s.posts() != 0 || len(s.gh.Calls()) != 1 {
		t.Errorf("posted: %+v, calls %v", st, s.gh.Calls())
	}
	// A failure about another artifact is refused too: it is not this
	// deployment's.
	if code, _, _ := s.run(t, "deploy", "status", "--deployment", itoa(s.id), "--state", "failure", "--digest", otherDigest); code != exitFailed {
		t.Errorf("failure with another digest: exit %d, want %d", code, exitFailed)
	}
}

func TestDeployStatusSuccessNeedsDigest(t *testing.T) {
	s := newDeployScenario(t)
	code, _, stderr := s.run(t, "deploy", "status", "--deployment", itoa(s.id), "--state", "success")
	if code != exitCantRun || !strings.Contains(stderr, "--state success needs --digest") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if n := len(s.gh.Calls()); n != 0 {
		t.Errorf("%d calls to GitHub", n)
	}
}

func TestDeployStatusRefusesAStateThatMayNotFollow(t *testing.T) {
	s := newDeployScenario(t)
	if code, _, stderr := s.run(t, "deploy", "status", "--deployment", itoa(s.id), "--state", "failure", "--description", "crash loop"); code != exitOK {
		t.Fatalf("failure: exit %d: %s", code, stderr)
	}
	code, _, stderr := s.run(t, "deploy", "status", "--deployment", itoa(s.id), "--state", "success", "--digest", deployDigest)
	if code != exitFailed || !strings.Contains(stderr, "deployment state may not follow failure: success") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if st := s.statuses(t); len(st) != 1 || st[0].Description != "crash loop" {
		t.Errorf("statuses = %+v", st)
	}
}

func TestDeployStatusNamesTheMissingPermission(t *testing.T) {
	s := newDeployScenario(t)
	s.gh.FailNext("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", http.StatusForbidden, nil, 1)
	code, _, stderr := s.run(t, "deploy", "status", "--deployment", itoa(s.id), "--state", "queued")
	if code != exitCantRun || !strings.Contains(stderr, "needs the permission deployments: write") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("403: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = s.run(t, "deploy", "status", "--deployment", itoa(s.id+999), "--state", "queued")
	if code != exitCantRun || !strings.Contains(stderr, "no such deployment, or the token cannot see it") {
		t.Errorf("404: exit %d, stderr %q", code, stderr)
	}
	s.env["GITHUB_TOKEN"] = "ghs_expired"
	code, _, stderr = s.run(t, "deploy", "status", "--deployment", itoa(s.id), "--state", "queued")
	if code != exitCantRun || !strings.Contains(stderr, "the token is not valid") {
		t.Errorf("401: exit %d, stderr %q", code, stderr)
	}
}

func TestDeployStatusTokenFileAndURL(t *testing.T) {
	s := newDeployScenario(t)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(s.env["GITHUB_TOKEN"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// MODELGATE_GITHUB_URL wins over GITHUB_API_URL; the flags over the
	// environment.
	s.env = map[string]string{"MODELGATE_GITHUB_URL": s.gh.URL() + "/api/v3/", "GITHUB_API_URL": "http://127.0.0.1:1", "GITHUB_TOKEN": "ghs_wrong"}
	code, stdout, stderr := s.run(t, "deploy", "status", "--deployment", itoa(s.id), "--state", "queued",
		"--repo", deployRepo, "--token-file", file, "--format", "json")
	if code != exitOK || !strings.Contains(stdout, `"state": "queued"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestDeployStatusRefusesOthersDeployments(t *testing.T) {
	s := newDeployScenario(t)
	other, _, err := newGoGitHub(t, s).Repositories.CreateDeployment(context.Background(), "acme", "models", &gogithub.DeploymentRequest{
		Ref: gogithub.String("main"), Environment: gogithub.String("staging"), AutoMerge: gogithub.Bool(false), RequiredContexts: &[]string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := s.run(t, "deploy", "status", "--deployment", itoa(other.GetID()), "--state", "success", "--digest", deployDigest)
	if code != exitCantRun || !strings.Contains(stderr, `is not modelgate's: its task is "deploy", not "deploy:model"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestDeployStatusBadFlags(t *testing.T) {
	s := newDeployScenario(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--state", "success", "--digest", deployDigest}, "--deployment must be the deployment's numeric ID"},
		{[]string{"--deployment", "1", "--state", "done"}, `--state: deployment state "done" is not one of`},
		{[]string{"--deployment", "1", "--state", "success", "--digest", "sha256:abc"}, `--digest: "sha256:abc" is not a digest`},
		{[]string{"--deployment", "1", "--state", "queued", "--repo", "nope"}, `invalid repository name "nope"`},
		{[]string{"--deployment", "1", "--state", "queued", "extra"}, `unexpected argument "extra"`},
		{[]string{"--deployment", "1", "--state", "queued", "--token-file", "/nonexistent/token"}, "read the token"},
	}
	for _, tt := range tests {
		code, _, stderr := s.run(t, append([]string{"deploy", "status"}, tt.args...)...)
		if code != exitCantRun || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, code, stderr, tt.want)
		}
	}
	delete(s.env, "GITHUB_TOKEN")
	if code, _, stderr := s.run(t, "deploy", "status", "--deployment", "1", "--state", "queued"); code != exitCantRun || !strings.Contains(stderr, "no GitHub token") {
		t.Errorf("no token: exit %d, stderr %q", code, stderr)
	}
	delete(s.env, "GITHUB_REPOSITORY")
	if code, _, stderr := s.run(t, "deploy", "status", "--deployment", "1", "--state", "queued"); code != exitCantRun || !strings.Contains(stderr, "--repo (or GITHUB_REPOSITORY) is required") {
		t.Errorf("no repo: exit %d, stderr %q", code, stderr)
	}
	if n := len(s.gh.Calls()); n != 0 {
		t.Errorf("%d calls to GitHub", n)
	}
	if code, stdout, _ := s.run(t, "deploy", "--help"); code != exitOK || !strings.Contains(stdout, "\n  status ") {
		t.Errorf("help: exit %d, %q", code, stdout)
	}
}

func TestDeployStatusLongDescriptionStillPosted(t *testing.T) {
	s := newDeployScenario(t)
	// A deployer's failure report carries whatever its tool said; GitHub
	// refuses more than 140 characters, and the report must not be lost.
	long := "pod fraud-detector-7c9f: " + strings.Repeat("CrashLoopBackOff ", 20)
	code, _, stderr := s.run(t, "deploy", "status", "--deployment", itoa(s.id), "--state", "failure", "--description", long)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	st := s.statuses(t)
	if len(st) != 1 || st[0].State != "failure" || len([]rune(st[0].Description)) != 140 || !strings.HasPrefix(long, st[0].Description) {
		t.Errorf("statuses = %+v", st)
	}
}

// TestDeployStatusAction runs the composite action's step that posts the
// status, as the runner runs it (bash -e, inputs in the environment), with
// the modelgate that go install would have put on GOPATH.
func TestDeployStatusAction(t *testing.T) {
	data, err := os.ReadFile("../../actions/deploy-status/action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Runs struct {
			Steps []struct {
				ID  string            `yaml:"id"`
				Env map[string]string `yaml:"env"`
				Run string            `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(data, &action); err != nil {
		t.Fatal(err)
	}
	var script string
	var inputs []string
	for _, st := range action.Runs.Steps {
		if st.ID == "post" {
			script = st.Run
			for k := range st.Env {
				inputs = append(inputs, k)
			}
		}
	}
	if script == "" {
		t.Fatal("the action has no step post")
	}
	gopath := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(gopath, "bin", "modelgate"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	s := newDeployScenario(t)
	output := filepath.Join(t.TempDir(), "output")
	env := map[string]string{
		"GITHUB_TOKEN": s.env["GITHUB_TOKEN"], "GITHUB_API_URL": s.env["GITHUB_API_URL"], "GITHUB_OUTPUT": output,
		"DEPLOYMENT_ID": itoa(s.id), "STATE": "success", "DIGEST": deployDigest, "REPOSITORY": deployRepo,
		"LOG_URL": "https://github.com/acme/models/actions/runs/9", "ENVIRONMENT_URL": "", "DESCRIPTION": "synced by argo",
	}
	for _, k := range inputs {
		if _, ok := env[k]; !ok {
			t.Errorf("the step takes %s, which the test does not set", k)
		}
	}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GOPATH=" + gopath, "GOFLAGS=", "GOCACHE=" + filepath.Join(t.TempDir(), "cache")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the step failed: %v\n%s", err, out)
	}
	st := s.statuses(t)
	if len(st) != 1 || st[0].State != "success" || st[0].Description != "deployed "+deployDigest+"; synced by argo" || st[0].LogURL != env["LOG_URL"] {
		t.Fatalf("statuses = %+v", st)
	}
	written, err := os.ReadFile(output)
	if err != nil || string(written) != "status-id="+itoa(st[0].ID)+"\n" {
		t.Errorf("GITHUB_OUTPUT = %q, %v", written, err)
	}

	// Another digest: the step fails and posts nothing.
	again := exec.Command(cmd.Args[0], cmd.Args[1:]...)
	again.Env = append(cmd.Env, "DIGEST="+otherDigest)
	if out, err := again.CombinedOutput(); err == nil || !strings.Contains(string(out), "refused, nothing posted") {
		t.Errorf("another digest: err = %v\n%s", err, out)
	}
	if n := len(s.statuses(t)); n != 1 {
		t.Errorf("%d statuses after the refusal", n)
	}
}

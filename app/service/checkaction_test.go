package service_test

import (
	"crypto/rand"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/oidctest"
	"github.com/modelgate/modelgate/internal/runnertest"
)

const (
	trainedDir      = "models/fraud-detector/2.4.0"
	trainedManifest = trainedDir + "/model.yaml"
)

// trainedPromotion is the pull request the training repository's pipeline
// proposes: the version it trained, fraud-detector 2.4.0 of the training
// repository's manifest, in its folder with its data (the example's 2.3.0
// data, which DVC would pull), and its pin in the first stage.
func trainedPromotion(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	copyTo := func(src, dst string) {
		t.Helper()
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, dst)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyTo("../../examples/training-repo/model/model.yaml", trainedManifest)
	for _, f := range dataFiles {
		copyTo(filepath.Join(examples, fraudDir, f), trainedDir+"/"+f)
	}
	dev := readFile(t, filepath.Join(examples, "environments/dev.yaml"))
	if !strings.Contains(dev, `fraud-detector: "2.3.0"`) {
		t.Fatalf("the example's dev stage does not pin fraud-detector 2.3.0:\n%s", dev)
	}
	if err := os.MkdirAll(filepath.Join(dir, "environments"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "environments/dev.yaml"), []byte(strings.Replace(dev, `fraud-detector: "2.3.0"`, `fraud-detector: "2.4.0"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkout is what actions/checkout makes of a pull_request run: the
// repository's history fetched from GitHub, with the test merge commit of
// refs/pull/N/merge checked out.
func (u *uploads) checkout(merge string) string {
	u.t.Helper()
	r := gittest.New(u.t)
	r.Git("remote", "add", "origin", u.gh.GitDir(repoName))
	ref := "refs/pull/" + strconv.Itoa(u.n) + "/merge"
	r.Git("fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*", "+"+ref+":refs/remotes/"+strings.TrimPrefix(ref, "refs/"))
	r.Git("checkout", "-q", "--detach", merge)
	return r.Dir
}

// The whole path of trusted evidence: the GitOps repository's pull_request
// workflow runs the training repository's reusable evidence workflow, whose
// check step — actions/check/check.sh, in bash, with the runner's
// environment and a job token of that workflow — checks the manifest the
// pull request adds and uploads the evidence. The App verifies the token
// against the issuer's JWKS, records the upload with the run's claims, and
// judges the pull request on it without reading a data file: the high-risk
// promotion, which its own checks could only deny, is allowed and merged.
func TestCheckActionUploadJudgesPullRequest(t *testing.T) {
	bin, err := runnertest.Setup("../../actions/setup", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	u := newUploads(t, filepath.Join(t.TempDir(), "modelgate.db"), options{promotion: trainedPromotion(t)})
	u.dataDir = trainedDir

	// The control: opened, the pull request is judged on the App's own
	// checks, and the default rule denies it.
	u.deliver(u.gh.PullRequestEvent(repoName, u.n, "opened"), http.StatusAccepted)
	u.settle()
	u.judgedOnOwnChecks()
	if u.gh.PullRequest(repoName, u.n).Merged {
		t.Fatal("the high-risk promotion was merged on the App's own checks")
	}

	// The pull_request run: its job's tokens name the test merge commit and
	// the trusted reusable workflow, one run, a fresh jti for each.
	merge := u.gh.TestMerge(repoName, u.n)
	ref := "refs/pull/" + strconv.Itoa(u.n) + "/merge"
	job := u.claims(merge, ref)
	tokens := u.issuer.TokenService(func() oidctest.Claims {
		c := maps.Clone(job)
		c["jti"] = rand.Text()
		return c
	})
	step := runnertest.New(t, bin, u.checkout(merge))
	step.EventFile = filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(step.EventFile, u.gh.PullRequestEvent(repoName, u.n, "opened").Body, 0o644); err != nil {
		t.Fatal(err)
	}
	step.Env = append(tokens.Environ(), "GITHUB_EVENT_NAME=pull_request", "GITHUB_REPOSITORY="+repoName,
		"GITHUB_SHA="+merge, "GITHUB_REF="+ref, "GITHUB_ACTIONS=true", "CI=true")
	u.gh.ResetCalls()
	if code, _ := step.Run(t, "../../actions/check/check.sh", map[string]string{
		"app-url": u.url, "audience": oidcAudience, "upload": "true",
	}); code != 0 {
		t.Fatalf("check.sh exited %d", code)
	}
	u.settle()

	out := step.Outputs(t)
	// The step judges its evidence as the App judges an upload of a
	// workflow it trusts; whether it trusts this one only the App can say.
	if out["allowed"] != "true" {
		t.Errorf("allowed = %q; want true: the numbers pass, and the evidence is uploaded", out["allowed"])
	}
	if paths := strings.Split(out["evidence-path"], "\n"); len(paths) != 1 || !strings.HasSuffix(paths[0], ".json") {
		t.Errorf("evidence-path = %q; want the evidence of the one manifest the pull request adds", out["evidence-path"])
	}
	if summary := step.Summary(t); !strings.Contains(summary, "### fraud-detector 2.4.0") || !strings.Contains(summary, "| roc_auc | 0.871") {
		t.Errorf("the job summary lacks the evidence of fraud-detector 2.4.0:\n%s", summary)
	}
	if tokens.Requests() != 1 {
		t.Errorf("%d token requests; want one, for the one upload", tokens.Requests())
	}

	recs := u.records(audit.Filter{Kind: audit.KindEvidence, PullRequest: u.n})
	if len(recs) != 1 || recs[0].HeadSHA != u.head || recs[0].Actor != "ci-bot" || recs[0].Model != "fraud-detector" || recs[0].Version != "2.4.0" {
		t.Fatalf("evidence records %+v; want the upload of fraud-detector 2.4.0 at the head, by the token's actor", recs)
	}
	p := payloads[audit.EvidencePayload](t, recs)[0]
	if c := p.Claims; c.JobWorkflowRef != evidenceWorkflow || c.RunID != job["run_id"] || c.Actor != "ci-bot" || c.Repository != repoName ||
		c.RepositoryID != job["repository_id"] || c.SHA != merge || c.Ref != ref || c.EventName != "pull_request" {
		t.Errorf("the evidence record's claims %+v; want the job token's", c)
	}
	if p.MergeCommit != merge || p.Manifest != trainedManifest || p.ManifestSHA256 != fileDigest(t, "../../examples/training-repo/model/model.yaml") {
		t.Errorf("evidence record of manifest %s (sha256 %s), merge commit %s; want %s as the training repository wrote it, and %s",
			p.Manifest, p.ManifestSHA256, p.MergeCommit, trainedManifest, merge)
	}
	u.judgedOnUpload(job["run_id"].(string))
	if !u.gh.PullRequest(repoName, u.n).Merged {
		t.Error("the promotion judged on trusted evidence was not merged into dev")
	}
}

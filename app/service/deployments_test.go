package service_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// fraudDigest is the artifact digest of the example manifest of
// fraud-detector 2.3.0.
const fraudDigest = "sha256:1170c26f59c31de7345adfbc0be233ac7950992df35235006855a6e59b45b07f"

// merged opens the example promotion, approves it as production needs and
// returns the pull request once the App has merged it.
func (w *world) merged() githubtest.PullRequest {
	w.t.Helper()
	n := w.open("alice")
	w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
	w.settle()
	w.approve(n, "bob")
	w.approve(n, "carol")
	w.settle()
	pr := w.gh.PullRequest(repoName, n)
	if !pr.Merged {
		w.t.Fatalf("the example promotion was not merged")
	}
	return pr
}

// deployer is the repository as a deployer reaches it, with an installation
// token, as `modelgate deploy status` does.
func (w *world) deployer() *github.Repo {
	w.t.Helper()
	client, err := github.NewTokenClient(github.TokenConfig{Token: w.gh.InstallationToken(w.inst), BaseURL: w.gh.URL() + "/api/v3/"})
	if err != nil {
		w.t.Fatal(err)
	}
	repo, err := client.Repo(repoName)
	if err != nil {
		w.t.Fatal(err)
	}
	return repo
}

// report posts a status as a deployer and delivers its webhook.
func (w *world) report(repo *github.Repo, id int64, state deploy.State, description string) github.DeploymentStatus {
	w.t.Helper()
	st, err := repo.CreateDeploymentStatus(w.t.Context(), id, github.NewDeploymentStatus{State: state, Description: description,
		LogURL: "https://ci.example.com/deploy/1"})
	if err != nil {
		w.t.Fatal(err)
	}
	w.gh.ResetCalls()
	w.deliver(w.gh.DeploymentStatusEvent(repoName, st.ID), http.StatusAccepted)
	w.settle()
	w.t.Logf("API calls for the %s status: %s", state, w.calls())
	return st
}

// calls lists the API calls made since the emulator's log was last reset.
func (w *world) calls() string {
	var calls []string
	for _, c := range w.gh.Calls() {
		calls = append(calls, c.String())
	}
	return fmt.Sprintf("%d: %s", len(calls), strings.Join(calls, ", "))
}

func TestMergeCreatesDeployment(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		pr := w.merged()

		w.gh.ResetCalls()
		push := w.gh.PushEvent(repoName, "main")
		w.deliver(push, http.StatusAccepted)
		w.settle()
		t.Logf("API calls for the deployment of one merged pin: %s", w.calls())

		deps := w.gh.Deployments(repoName)
		if len(deps) != 1 {
			t.Fatalf("%d deployments after the merge's push; want 1: %+v", len(deps), deps)
		}
		d := deps[0]
		if d.Environment != "production" || d.Ref != pr.MergeCommitSHA || d.Task != deploy.Task || d.AutoMerge ||
			d.RequiredContexts == nil || len(d.RequiredContexts) != 0 || d.Creator != "modelgate[bot]" {
			t.Errorf("deployment %+v; want production at %s, task %s, no auto-merge, no required contexts, by the App",
				d, pr.MergeCommitSHA, deploy.Task)
		}
		payload, err := deploy.ParsePayload(d.Payload)
		if err != nil {
			t.Fatal(err)
		}
		want := deploy.Payload{Model: "fraud-detector", Version: "2.3.0", PreviousVersion: "2.2.0",
			ManifestPath: "models/fraud-detector/2.3.0/model.yaml",
			Artifact:     deploy.Artifact{URI: "s3://acme-models/fraud-detector/2.3.0/model.onnx", Digest: fraudDigest}}
		if payload != want {
			t.Errorf("payload %+v; want %+v", payload, want)
		}
		recs := w.records(audit.Filter{Kind: audit.KindDeployment})
		if len(recs) != 1 || recs[0].Model != "fraud-detector" || recs[0].Version != "2.3.0" || recs[0].Stage != "production" ||
			recs[0].HeadSHA != pr.MergeCommitSHA || !strings.Contains(string(recs[0].Payload), `"deployment_id":`) {
			t.Fatalf("deployment records %+v", recs)
		}

		// The same push again, redelivered or delivered anew, deploys nothing
		// more.
		w.deliver(push, http.StatusOK)
		w.gh.ResetCalls()
		w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
		w.settle()
		t.Logf("API calls for the push delivered again: %s", w.calls())
		if n := len(w.gh.Deployments(repoName)); n != 1 {
			t.Errorf("%d deployments after the push was delivered again; want 1", n)
		}
		if n := len(w.records(audit.Filter{Kind: audit.KindDeployment})); n != 1 {
			t.Errorf("%d deployment records after the push was delivered again; want 1", n)
		}
		if _, err := w.db.Verify(t.Context()); err != nil {
			t.Errorf("audit chain: %v", err)
		}
	})
}

// pushByHand writes one file on main's tip as pusher, past the App.
func (w *world) pushByHand(path, content, pusher string) {
	w.t.Helper()
	w.work.Git("fetch", "-q", w.gh.GitDir(repoName), "main")
	w.work.Git("reset", "-q", "--hard", "FETCH_HEAD")
	w.work.Write(path, content)
	w.work.Commit("by hand", time.Now())
	w.gh.Push(repoName, "main", pusher)
}

// A push the App did not merge deploys nothing, though the App merged a
// promotion into the same branch before.
func TestPushNotMergedByTheAppDeploysNothing(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		w.merged()
		w.pushByHand("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: \"2.3.0\", demand-forecast: \"1.4.0\"}\n", "mallory")
		w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
		w.settle()
		if deps := w.gh.Deployments(repoName); len(deps) != 0 {
			t.Errorf("a push by hand was deployed: %+v", deps)
		}
	})
}

// dropFirstDeployment lets the first deployment the App creates reach GitHub
// and then loses GitHub's answer, as a crash between the two would.
type dropFirstDeployment struct{ dropped atomic.Bool }

func (d *dropFirstDeployment) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/deployments") && d.dropped.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, errors.New("connection reset after the request was sent")
	}
	return resp, err
}

// The attempt after a deployment was created but not recorded finds it on
// GitHub rather than creating another.
func TestDeploymentCreatedButNotRecordedIsNotDuplicated(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		drop := &dropFirstDeployment{}
		w := newWorld(t, dsn, options{transport: drop})
		w.merged()
		w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
		w.settle()
		if !drop.dropped.Load() {
			t.Fatal("no deployment was created")
		}
		deps := w.gh.Deployments(repoName)
		recs := w.records(audit.Filter{Kind: audit.KindDeployment})
		if len(deps) != 1 || len(recs) != 1 || !strings.Contains(string(recs[0].Payload), fmt.Sprintf(`"deployment_id":%d,`, deps[0].ID)) {
			t.Fatalf("%d deployments, %d records %+v; want one of each, for the same deployment", len(deps), len(recs), recs)
		}
	})
}

func TestDeploymentStatusesRecorded(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		w.merged()
		w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
		w.settle()
		id := w.gh.Deployments(repoName)[0].ID
		repo := w.deployer()

		w.report(repo, id, deploy.InProgress, "syncing")
		ok := w.report(repo, id, deploy.Success, deploy.StatusDescription(deploy.Success, fraudDigest, "argo sync 42"))
		// GitHub may deliver the same status twice under two delivery ids.
		w.gh.ResetCalls()
		w.deliver(w.gh.DeploymentStatusEvent(repoName, ok.ID), http.StatusAccepted)
		w.settle()
		t.Logf("API calls for the status delivered again: %s", w.calls())

		got := payloads[audit.DeploymentStatusPayload](t, w.records(audit.Filter{Kind: audit.KindDeploymentStatus, Model: "fraud-detector", Version: "2.3.0", Stage: "production"}))
		if len(got) != 2 {
			t.Fatalf("%d deployment status records; want 2 (in_progress, success once): %+v", len(got), got)
		}
		if got[0].State != "in_progress" || got[0].Refused != "" || got[1].State != "success" || got[1].Refused != "" ||
			got[1].StatusID != ok.ID || got[1].DeploymentID != id || got[1].LogURL != "https://ci.example.com/deploy/1" || got[1].BaseRef != "main" {
			t.Errorf("deployment status records %+v", got)
		}
	})
}

func TestDeploymentSuccessOfAnotherDigestRefused(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		w.merged()
		w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
		w.settle()
		id := w.gh.Deployments(repoName)[0].ID
		repo := w.deployer()

		other := "sha256:" + strings.Repeat("ab", 32)
		w.report(repo, id, deploy.Success, deploy.StatusDescription(deploy.Success, other, ""))
		w.report(repo, id, deploy.Success, "deployed")
		got := payloads[audit.DeploymentStatusPayload](t, w.records(audit.Filter{Kind: audit.KindDeploymentStatus}))
		if len(got) != 2 || got[0].Refused != audit.RefusedDigestMismatch || got[1].Refused != audit.RefusedDigestMismatch ||
			!strings.Contains(got[0].Reason, other) {
			t.Fatalf("deployment status records %+v; want both successes refused for their digest", got)
		}
		// Neither counts: the deployment is still new, so a success naming the
		// right digest follows.
		w.report(repo, id, deploy.Success, deploy.StatusDescription(deploy.Success, fraudDigest, ""))
		if got := payloads[audit.DeploymentStatusPayload](t, w.records(audit.Filter{Kind: audit.KindDeploymentStatus})); len(got) != 3 || got[2].Refused != "" {
			t.Errorf("deployment status records %+v; want the third accepted", got)
		}
		// A deployment that failed is over: a later success is refused.
		w.report(repo, id, deploy.Failure, "health check failed")
		w.report(repo, id, deploy.Success, deploy.StatusDescription(deploy.Success, fraudDigest, ""))
		got = payloads[audit.DeploymentStatusPayload](t, w.records(audit.Filter{Kind: audit.KindDeploymentStatus}))
		if len(got) != 5 || got[3].Refused != "" || got[4].Refused != audit.RefusedTransition {
			t.Errorf("deployment status records %+v; want the success after the failure refused", got)
		}
	})
}

// Statuses of deployments the App did not create are not modelgate's, even
// with modelgate's task.
func TestDeploymentStatusOfAnotherDeploymentIgnored(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		w.merged()
		w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
		w.settle()
		repo := w.deployer()
		d, err := repo.CreateDeployment(t.Context(), w.gh.Branch(repoName, "main"), "production", deploy.Payload{
			Model: "fraud-detector", Version: "2.3.0", ManifestPath: "models/fraud-detector/2.3.0/model.yaml",
			Artifact: deploy.Artifact{URI: "s3://acme-models/fraud-detector/2.3.0/model.onnx", Digest: fraudDigest}})
		if err != nil {
			t.Fatal(err)
		}
		w.report(repo, d.ID, deploy.Success, deploy.StatusDescription(deploy.Success, fraudDigest, ""))
		if got := w.records(audit.Filter{Kind: audit.KindDeploymentStatus}); len(got) != 0 {
			t.Errorf("a status of a deployment the App did not create was recorded: %+v", got)
		}
	})
}

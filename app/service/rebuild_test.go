package service_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// restartEmpty stops the App and starts it again on a new, empty database
// of the same kind, as after losing the store.
func (w *world) restartEmpty() {
	w.t.Helper()
	w.stop()
	dsn := filepath.Join(w.t.TempDir(), "new.db")
	if strings.HasPrefix(w.dsn, "postgres") {
		dsn = sqlstoretest.PostgresDSN(w.t)
	}
	w.useDatabase(dsn)
	w.start(options{})
}

// sweep runs the reconciler's sweep of the installation, as the
// installation event asks for, and returns the API calls it made.
func (w *world) sweep() string {
	w.t.Helper()
	w.gh.ResetCalls()
	w.deliver(w.gh.InstallationEvent(w.inst, "created", "alice"), http.StatusAccepted)
	w.settle()
	return w.calls()
}

// deployedAndSucceeded merges the example promotion, delivers its push and
// reports its deployment in progress and then deployed, half a minute apart.
func (w *world) deployedAndSucceeded() (githubtest.PullRequest, githubtest.Deployment) {
	w.t.Helper()
	pr := w.merged()
	w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
	w.settle()
	d := w.gh.Deployments(repoName)[0]
	repo := w.deployer()
	w.report(repo, d.ID, deploy.InProgress, "syncing")
	w.gh.Advance(30 * time.Second)
	w.report(repo, d.ID, deploy.Success, deploy.StatusDescription(deploy.Success, fraudDigest, "argo sync 42"))
	return pr, w.gh.Deployments(repoName)[0]
}

// checkRebuilt wants the store to hold the deployment d of pr's merge, as
// rebuilt from GitHub, and its statuses once each, at GitHub's times.
func (w *world) checkRebuilt(pr githubtest.PullRequest, d githubtest.Deployment) {
	t := w.t.(*testing.T)
	t.Helper()
	recs := w.records(audit.Filter{Kind: audit.KindDeployment})
	deps := payloads[audit.DeploymentPayload](t, recs)
	if len(recs) != 1 || recs[0].Model != "fraud-detector" || recs[0].Version != "2.3.0" || recs[0].Stage != "production" ||
		recs[0].HeadSHA != pr.MergeCommitSHA || recs[0].Actor != "modelgate[bot]" {
		t.Fatalf("deployment records %+v; want the App's one deployment", recs)
	}
	if p := deps[0]; !p.Rebuilt || p.DeploymentID != d.ID || p.Ref != pr.MergeCommitSHA || p.BaseRef != "main" ||
		p.Environment != "production" || p.Deployment.Artifact.Digest != fraudDigest || !p.CreatedAt.Equal(d.CreatedAt) || p.Soak != "72h0m0s" {
		t.Errorf("deployment payload %+v", p)
	}
	got := payloads[audit.DeploymentStatusPayload](t, w.records(audit.Filter{Kind: audit.KindDeploymentStatus}))
	if len(got) != 2 || len(d.Statuses) != 2 {
		t.Fatalf("%d status records of %d statuses; want each once: %+v", len(got), len(d.Statuses), got)
	}
	for i, st := range d.Statuses {
		if got[i].StatusID != st.ID || got[i].State != st.State || got[i].Refused != "" || got[i].DeploymentID != d.ID ||
			!got[i].CreatedAt.Equal(st.CreatedAt) {
			t.Errorf("status record %d %+v; want status %d %s accepted, created at %s", i, got[i], st.ID, st.State, st.CreatedAt)
		}
	}
}

func TestRebuildFromGitHubOnAnEmptyStore(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		pr, d := w.deployedAndSucceeded()
		// Anyone with write access can create a deployment with the App's
		// task and a payload it would write: it is not the App's.
		forged, err := json.Marshal(deploy.Payload{Model: "fraud-detector", Version: "2.3.0",
			ManifestPath: "models/fraud-detector/2.3.0/model.yaml",
			Artifact:     deploy.Artifact{URI: "s3://acme-models/fraud-detector/2.3.0/model.onnx", Digest: fraudDigest}})
		if err != nil {
			t.Fatal(err)
		}
		other := w.gh.CreateDeploymentAs(repoName, "mallory", pr.MergeCommitSHA, "production", deploy.Task, forged)
		w.report(w.deployer(), other, deploy.Success, deploy.StatusDescription(deploy.Success, fraudDigest, ""))
		before := w.records(audit.Filter{Kind: audit.KindDeploymentStatus})

		w.restartEmpty()
		w.gh.Advance(30 * time.Second)
		t.Logf("API calls of a rebuild: %s", w.sweep())
		w.checkRebuilt(pr, d)
		if got := payloads[audit.DeploymentStatusPayload](t, w.records(audit.Filter{Kind: audit.KindDeploymentStatus})); !got[1].CreatedAt.Equal(payloads[audit.DeploymentStatusPayload](t, before)[1].CreatedAt) {
			t.Errorf("the success was posted at %s; the first store recorded %s", got[1].CreatedAt, payloads[audit.DeploymentStatusPayload](t, before)[1].CreatedAt)
		}

		// Sweeping again, or a status of the other deployment, changes
		// nothing.
		t.Logf("API calls of a sweep after the rebuild: %s", w.sweep())
		w.report(w.deployer(), other, deploy.Inactive, "")
		w.checkRebuilt(pr, d)
		if jobs := sqlstoretest.Jobs(t, w.dsn, app.EventRecover); len(jobs) != 1 {
			t.Errorf("%d recovery jobs after two sweeps; want 1: %+v", len(jobs), jobs)
		}
		if _, err := w.db.Verify(t.Context()); err != nil {
			t.Errorf("audit chain: %v", err)
		}
	})
}

// A status delivered to a new store before any sweep rebuilds the
// deployment it belongs to first.
func TestRebuildOnADeploymentStatus(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		pr := w.merged()
		w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
		w.settle()
		id := w.gh.Deployments(repoName)[0].ID
		repo := w.deployer()
		w.report(repo, id, deploy.InProgress, "syncing")

		w.restartEmpty()
		w.report(repo, id, deploy.Success, deploy.StatusDescription(deploy.Success, fraudDigest, ""))
		w.checkRebuilt(pr, w.gh.Deployments(repoName)[0])
	})
}

// A merge whose push never arrived is deployed by the next sweep, once.
func TestSweepDeploysALostPush(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		pr := w.merged()
		t.Logf("API calls of the sweep that deploys a lost push: %s", w.sweep())
		deps := w.gh.Deployments(repoName)
		recs := w.records(audit.Filter{Kind: audit.KindDeployment})
		if len(deps) != 1 || deps[0].SHA != pr.MergeCommitSHA || deps[0].Environment != "production" || len(recs) != 1 ||
			payloads[audit.DeploymentPayload](t, recs)[0].DeploymentID != deps[0].ID || payloads[audit.DeploymentPayload](t, recs)[0].Rebuilt {
			t.Fatalf("deployments %+v, records %+v; want the merge deployed and recorded once", deps, recs)
		}

		t.Logf("API calls of the next sweep: %s", w.sweep())
		w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
		w.settle()
		if n, m := len(w.gh.Deployments(repoName)), len(w.records(audit.Filter{Kind: audit.KindDeployment})); n != 1 || m != 1 {
			t.Errorf("%d deployments, %d records after another sweep and the late push; want 1 of each", n, m)
		}
	})
}

// A merge whose pin was replaced since is not deployed late: it would run
// an older version than the branch pins.
func TestSweepSkipsAReplacedMerge(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		w.merged()
		w.pushByHand("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \"2.2.0\", demand-forecast: \"1.4.0\"}\n", "dave")
		w.sweep()
		if deps := w.gh.Deployments(repoName); len(deps) != 0 {
			t.Errorf("a replaced merge was deployed: %+v", deps)
		}
	})
}

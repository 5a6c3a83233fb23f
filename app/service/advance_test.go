package service_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/queue"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// The pull requests the App opens itself: fraud-detector 2.3.0 is promoted
// from dev into staging by a person's pull request, the App deploys it, and
// advance jobs — queued here as the scheduler queues them — move it on.

const (
	stagingBefore = "stage: staging\nmodels:\n  # the fraud model\n  fraud-detector: \"2.2.0\"\n  demand-forecast: \"1.4.0\" # unchanged\n"
	stagingAfter  = "stage: staging\nmodels:\n  # the fraud model\n  fraud-detector: \"2.3.0\"\n  demand-forecast: \"1.4.0\" # unchanged\n"
	fraud220      = "sha256:0f3949271d19579237b28cdccaf34ee52bcbc25e710ab34dd58dbed775b46f3f"
)

// stagedOptions is a repository whose staging runs fraud-detector 2.2.0 and
// whose promotion branch pins 2.3.0 there; the stages are the defaults but
// for staging's soak and production's promote.
func stagedOptions(t *testing.T, stagingSoak, productionPromote, production string) options {
	return options{
		promotion: promotionOf(t, stagingAfter),
		mainEdits: func(r *gittest.Repo) {
			r.Write(".modelgate/config.yaml", fmt.Sprintf(`stages:
  - {name: dev}
  - {name: staging, soak: %s}
  - {name: production, soak: 72h, promote: %s}
approvals:
  staging: {count: 1}
  production: {count: 2, teams: [compliance]}
  policyChange: {count: 2, teams: [compliance]}
# As in the example: the App's own checks judge its high-risk model too.
evidence: {requireTrustedFor: []}
`, stagingSoak, productionPromote))
			r.Write("environments/staging.yaml", stagingBefore)
			if production != "" {
				r.Write("environments/production.yaml", production)
			}
		},
	}
}

// promotionOf is a promotion branch's change that pins staging as given.
func promotionOf(t *testing.T, staging string) string {
	t.Helper()
	promotion := t.TempDir()
	if err := os.MkdirAll(filepath.Join(promotion, "environments"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(promotion, "environments", "staging.yaml"), []byte(staging), 0o644); err != nil {
		t.Fatal(err)
	}
	return promotion
}

// deployedToStaging merges the promotion into staging, delivers the push
// that creates its deployment and posts state on it as the deployer, and
// returns the deployment's ID.
func (w *world) deployedToStaging(state deploy.State) int64 {
	w.t.Helper()
	n := w.open("alice")
	w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
	w.settle()
	w.approve(n, "bob")
	w.settle()
	if !w.gh.PullRequest(repoName, n).Merged {
		w.t.Fatalf("the promotion into staging was not merged; policy check:\n%s", w.runs(w.gh.PullRequest(repoName, n).HeadSHA)[app.CheckPolicy].Summary)
	}
	w.gh.ResetCalls()
	w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
	w.settle()
	w.t.Logf("API calls for the push of the merge: %s", w.calls())
	deps := w.gh.Deployments(repoName)
	if len(deps) == 0 || deps[len(deps)-1].Environment != "staging" {
		w.t.Fatalf("no deployment to staging after the merge: %+v", deps)
	}
	id := deps[len(deps)-1].ID
	description := string(state)
	if state == deploy.Success {
		description = deploy.StatusDescription(deploy.Success, fraudDigest, "argo sync")
	}
	w.report(w.deployer(), id, state, description)
	return id
}

// seedRun records a good run of fraud-detector 2.2.0 in stage, as the App
// would have recorded its deployment and the deployer's success, before the
// scenario starts.
func (w *world) seedRun(stage string) int64 {
	w.t.Helper()
	ctx := w.t.Context()
	sha := w.gh.Branch(repoName, "main")
	payload := deploy.Payload{Model: "fraud-detector", Version: "2.2.0", ManifestPath: "models/fraud-detector/2.2.0/model.yaml",
		Artifact: deploy.Artifact{URI: "s3://acme-models/fraud-detector/2.2.0/model.onnx", Digest: fraud220}}
	d, err := w.deployer().CreateDeployment(ctx, sha, stage, payload)
	if err != nil {
		w.t.Fatal(err)
	}
	entry := audit.Entry{Kind: audit.KindDeployment, Repository: repoName, Model: "fraud-detector", Version: "2.2.0", Stage: stage,
		HeadSHA: sha, Actor: "modelgate[bot]"}
	entry.Payload, _ = json.Marshal(audit.DeploymentPayload{DeploymentID: d.ID, Environment: stage, Ref: sha, BaseRef: "main", Deployment: payload})
	if _, err := w.db.Append(ctx, entry); err != nil {
		w.t.Fatal(err)
	}
	entry.Kind, entry.Actor = audit.KindDeploymentStatus, "deployer"
	entry.Payload, _ = json.Marshal(audit.DeploymentStatusPayload{DeploymentID: d.ID, StatusID: d.ID + 1, State: "success",
		Description: deploy.StatusDescription(deploy.Success, fraud220, ""), BaseRef: "main", CreatedAt: w.gh.Now().Add(-48 * time.Hour)})
	if _, err := w.db.Append(ctx, entry); err != nil {
		w.t.Fatal(err)
	}
	return d.ID
}

// advance queues an advance job of a deployment as the scheduler does, as
// a delivery of its own (the job coming again, or early), and waits for it.
func (w *world) advance(deployment int64, trigger string) {
	w.t.Helper()
	body, err := json.Marshal(app.DeploymentJobPayload{Installation: w.inst, Repository: repoName, DeploymentID: deployment, Trigger: trigger})
	if err != nil {
		w.t.Fatal(err)
	}
	w.enqueue(fmt.Sprintf("test-advance:%d:%s:%d", deployment, trigger, testJobs.Add(1)), body)
}

var testJobs atomic.Int64

func (w *world) enqueue(delivery string, body []byte) {
	w.t.Helper()
	if _, err := w.db.Enqueue(w.t.Context(), queue.Job{Delivery: delivery, Event: app.EventAdvance, Key: repoName, Payload: body}); err != nil {
		w.t.Fatal(err)
	}
	w.settle()
}

// appPulls returns the pull requests the App opened.
func (w *world) appPulls() []githubtest.PullRequest {
	var out []githubtest.PullRequest
	for _, pr := range w.gh.PullRequests(repoName) {
		if pr.Author == "modelgate[bot]" {
			out = append(out, pr)
		}
	}
	return out
}

func (w *world) proposals() []audit.ProposalPayload {
	w.t.Helper()
	var out []audit.ProposalPayload
	for _, r := range w.records(audit.Filter{Kind: audit.KindProposal}) {
		var p audit.ProposalPayload
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// commitOf checks that the App's branch is one commit on top of base that
// changes only path, and returns the file there.
func (w *world) commitOf(branch, base, path string) string {
	w.t.Helper()
	w.work.Git("fetch", "-q", w.gh.GitDir(repoName), "+refs/heads/"+branch+":refs/remotes/emulator/proposal", "+refs/heads/main:refs/remotes/emulator/main")
	if got := strings.TrimSpace(w.work.Git("rev-list", "--count", base+"..emulator/proposal")); got != "1" {
		w.t.Errorf("%s is %s commits on top of %s; want 1", branch, got, base)
	}
	if got := strings.TrimSpace(w.work.Git("rev-parse", "emulator/proposal~1")); got != base {
		w.t.Errorf("%s's commit is on %s; want the base's head %s", branch, got, base)
	}
	if got := strings.TrimSpace(w.work.Git("diff", "--name-only", base, "emulator/proposal")); got != path {
		w.t.Errorf("%s changes %q; want only %s", branch, got, path)
	}
	// Git's output loses the file's last newline.
	return w.work.Git("show", "emulator/proposal:"+path) + "\n"
}

func TestSoakedVersionPromotedByTheApp(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, stagedOptions(t, "24h", "auto", ""))
		id := w.deployedToStaging(deploy.Success)
		base := w.gh.Branch(repoName, "main")
		w.tick(23 * time.Hour)
		if prs := w.appPulls(); len(prs) != 0 {
			t.Fatalf("the App opened %+v before the soak was over", prs)
		}
		// The job the App scheduled at the soak's end opens the pull request.
		w.tick(time.Hour)
		t.Log("the API calls after 1h0m0s are those of the next-stage pull request and its evaluation")
		prs := w.appPulls()
		if len(prs) != 1 {
			t.Fatalf("the App opened %d pull requests; want 1: %+v", len(prs), prs)
		}
		pr := prs[0]
		const branch = "modelgate/promote/fraud-detector-2.3.0-production"
		if pr.Head != branch || pr.Base != "main" || pr.Title != "Promote fraud-detector 2.3.0 to production" || pr.State != "open" {
			t.Errorf("pull request %+v", pr)
		}
		for _, want := range []string{"`2.2.0` → `2.3.0` in `production`", "trigger: `soak`", fmt.Sprintf("deployment %d", id),
			"Evidence of the decision on #1", "roc_auc", "No live analysis"} {
			if !strings.Contains(pr.Body, want) {
				t.Errorf("the body lacks %q:\n%s", want, pr.Body)
			}
		}
		got := w.commitOf(branch, base, "environments/production.yaml")
		if want := "stage: production\nmodels:\n  fraud-detector: \"2.3.0\"\n  demand-forecast: \"1.4.0\"\n"; got != want {
			t.Errorf("environments/production.yaml on the branch:\n%s\nwant\n%s", got, want)
		}
		ps := w.proposals()
		if len(ps) != 1 || ps[0].Purpose != audit.ProposePromotion || ps[0].Trigger != audit.TriggerSoak || ps[0].FromStage != "staging" ||
			ps[0].Replaces != "2.2.0" || ps[0].DeploymentID != id || ps[0].Branch != branch || ps[0].BaseRef != "main" {
			t.Errorf("proposal records %+v", ps)
		}
		rec := w.records(audit.Filter{Kind: audit.KindProposal})[0]
		if rec.Model != "fraud-detector" || rec.Version != "2.3.0" || rec.Stage != "production" || rec.PullRequest != pr.Number || rec.HeadSHA != pr.HeadSHA {
			t.Errorf("proposal record %+v", rec)
		}
		// Judged without waiting for a webhook.
		runs := w.runs(pr.HeadSHA)
		for _, name := range []string{app.CheckValidate, app.CheckChecks, app.CheckPolicy} {
			if _, ok := runs[name]; !ok {
				t.Fatalf("no %s check run on the App's pull request; runs: %v", name, runs)
			}
		}

		// A redelivered job opens nothing more.
		w.gh.ResetCalls()
		w.advance(id, audit.TriggerSoak)
		w.advance(id, "analysis") // a verdict's advance
		t.Logf("API calls for the advance job delivered again: %s", w.calls())
		if n := len(w.appPulls()); n != 1 || len(w.proposals()) != 1 {
			t.Errorf("after the job came again: %d pull requests, %d proposals; want 1 of each", n, len(w.proposals()))
		}

		w.approve(pr.Number, "bob")
		w.approve(pr.Number, "carol")
		w.settle()
		if got := w.gh.PullRequest(repoName, pr.Number); !got.Merged {
			t.Fatalf("the App's pull request was not merged after the approvals; policy check:\n%s", w.runs(pr.HeadSHA)[app.CheckPolicy].Summary)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Into a stage whose promote is command, the soak's end opens nothing; a
// soak not over opens nothing either.
func TestSoakOpensNothing(t *testing.T) {
	for _, tc := range []struct{ name, soak, promote string }{
		{"promote command", "0s", "command"},
		{"soak not over", "24h", "auto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sqlstoretest.Each(t, func(t *testing.T, dsn string) {
				w := newWorld(t, dsn, stagedOptions(t, tc.soak, tc.promote, ""))
				id := w.deployedToStaging(deploy.Success)
				w.advance(id, audit.TriggerSoak)
				if prs := w.appPulls(); len(prs) != 0 {
					t.Errorf("the App opened %+v", prs)
				}
				if ps := w.proposals(); len(ps) != 0 {
					t.Errorf("proposal records %+v", ps)
				}
				if tc.promote != "command" {
					return
				}
				// The command does what the soak's end does not.
				w.enqueue("command:promote", mustMarshal(t, app.DeploymentJobPayload{Installation: w.inst, Repository: repoName,
					Trigger: audit.TriggerCommand, Command: &app.CommandRequest{Purpose: audit.ProposePromotion, Branch: "main",
						Model: "fraud-detector", Stage: "production", Issue: 1, Actor: "bob"}}))
				prs := w.appPulls()
				if len(prs) != 1 || prs[0].Title != "Promote fraud-detector 2.3.0 to production" {
					t.Fatalf("pull requests %+v; want the promotion", prs)
				}
				if ps := w.proposals(); len(ps) != 1 || ps[0].Trigger != audit.TriggerCommand || ps[0].DeploymentID != id {
					t.Errorf("proposal records %+v", ps)
				}
				cs := w.gh.Comments(repoName, 1)
				if !slices.ContainsFunc(cs, func(c githubtest.Comment) bool {
					return strings.Contains(c.Body, fmt.Sprintf("Opened #%d", prs[0].Number)) && strings.Contains(c.Body, "@bob")
				}) {
					t.Errorf("no answer on #1: %+v", cs)
				}
			})
		})
	}
}

func TestDeploymentFailureOpensRollback(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, stagedOptions(t, "0s", "auto", ""))
		good := w.seedRun("staging")
		// The failure status queues the advance: the rollback is opened at once.
		id := w.deployedToStaging(deploy.Failure)
		base := w.gh.Branch(repoName, "main")
		w.advance(id, audit.TriggerDeploymentFailed) // and the job coming again opens nothing more
		prs := w.appPulls()
		if len(prs) != 1 {
			t.Fatalf("the App opened %d pull requests; want the rollback: %+v", len(prs), prs)
		}
		pr := prs[0]
		const branch = "modelgate/rollback/fraud-detector-2.2.0-staging"
		if pr.Head != branch || pr.Title != "Roll back fraud-detector in staging to 2.2.0" {
			t.Errorf("pull request %+v", pr)
		}
		for _, want := range []string{"failed to deploy", fmt.Sprintf("deployment %d", good), "`2.3.0` → `2.2.0` in `staging`"} {
			if !strings.Contains(pr.Body, want) {
				t.Errorf("the body lacks %q:\n%s", want, pr.Body)
			}
		}
		if got := w.commitOf(branch, base, "environments/staging.yaml"); got != stagingBefore {
			t.Errorf("environments/staging.yaml on the branch:\n%s\nwant\n%s", got, stagingBefore)
		}
		ps := w.proposals()
		if len(ps) != 1 || ps[0].Purpose != audit.ProposeRollback || ps[0].Trigger != audit.TriggerDeploymentFailed || ps[0].Replaces != "2.3.0" {
			t.Errorf("proposal records %+v", ps)
		}
		if _, ok := w.runs(pr.HeadSHA)[app.CheckPolicy]; !ok {
			t.Fatal("the rollback pull request was not judged")
		}
		// The one approval a rollback needs merges it.
		w.approve(pr.Number, "dave")
		w.settle()
		if !w.gh.PullRequest(repoName, pr.Number).Merged {
			t.Fatalf("the rollback was not merged on its approval; policy check:\n%s", w.runs(pr.HeadSHA)[app.CheckPolicy].Summary)
		}
		if !w.decided(pr.Number) {
			t.Error("the rollback was not judged as one")
		}
	})
}

// Without a good earlier run in the stage no rollback can be right: the App
// opens nothing.
func TestDeploymentFailureWithoutPreviousGood(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, stagedOptions(t, "0s", "auto", ""))
		id := w.deployedToStaging(deploy.Error)
		w.advance(id, audit.TriggerDeploymentFailed)
		if prs := w.appPulls(); len(prs) != 0 {
			t.Errorf("the App opened %+v", prs)
		}
	})
}

// A newer version's promotion closes the older one's, naming it.
func TestNewerVersionSupersedes(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, stagedOptions(t, "0s", "auto", "stage: production\nmodels:\n  fraud-detector: \"2.1.0\"\n"))
		older := w.seedRun("staging")
		w.advance(older, audit.TriggerSoak)
		first := w.appPulls()
		if len(first) != 1 || first[0].Title != "Promote fraud-detector 2.2.0 to production" {
			t.Fatalf("pull requests %+v; want 2.2.0's promotion", first)
		}

		id := w.deployedToStaging(deploy.Success)
		w.advance(id, audit.TriggerSoak)
		prs := w.appPulls()
		if len(prs) != 2 {
			t.Fatalf("pull requests %+v; want 2.2.0's and 2.3.0's", prs)
		}
		newer := prs[1]
		if newer.Title != "Promote fraud-detector 2.3.0 to production" || newer.State != "open" {
			t.Errorf("newer %+v", newer)
		}
		if old := w.gh.PullRequest(repoName, first[0].Number); old.State != "closed" || old.Merged {
			t.Errorf("the older pull request is %s (merged %v); want closed", old.State, old.Merged)
		}
		comments := w.gh.Comments(repoName, first[0].Number)
		if !slices.ContainsFunc(comments, func(c githubtest.Comment) bool {
			return c.User == "modelgate[bot]" && strings.Contains(c.Body, fmt.Sprintf("Superseded by #%d", newer.Number))
		}) {
			t.Errorf("no comment naming #%d on the older pull request: %+v", newer.Number, comments)
		}
		ps := w.proposals()
		if len(ps) != 2 || !slices.Equal(ps[1].Superseded, []int{first[0].Number}) {
			t.Errorf("proposal records %+v; want the second to name #%d superseded", ps, first[0].Number)
		}
	})
}

// A crash after the branch was made and before the pull request was opened:
// the retry reuses the branch and its commit.
func TestCrashBetweenBranchAndPullRequest(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, stagedOptions(t, "24h", "auto", ""))
		w.deployedToStaging(deploy.Success)
		base := w.gh.Branch(repoName, "main")
		w.gh.FailNext("POST", "/repos/{owner}/{repo}/pulls", http.StatusBadGateway, nil, 1)
		w.tick(25 * time.Hour)
		var commits, opened int
		for _, c := range w.gh.Calls() {
			switch c.String() {
			case "PUT /repos/{owner}/{repo}/contents/{path}":
				commits++
			case "POST /repos/{owner}/{repo}/pulls":
				opened++
			}
		}
		if commits != 1 || opened != 2 {
			t.Errorf("%d commits written, %d pull requests asked for; want 1 and 2 (one failed): %s", commits, opened, w.calls())
		}
		if prs := w.appPulls(); len(prs) != 1 {
			t.Fatalf("pull requests %+v; want one", prs)
		}
		w.commitOf("modelgate/promote/fraud-detector-2.3.0-production", base, "environments/production.yaml")
		if ps := w.proposals(); len(ps) != 1 {
			t.Errorf("proposal records %+v; want one", ps)
		}
	})
}

// Commands, authorized by the engineer who parses them, arrive as advance
// jobs: the App carries them out and answers where they were given.
func TestCommands(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, stagedOptions(t, "24h", "command", ""))
		w.seedRun("staging")
		id := w.deployedToStaging(deploy.Success)
		merged := w.records(audit.Filter{Kind: audit.KindDeployment, Version: "2.3.0"})[0].PullRequest
		command := func(delivery string, c app.CommandRequest) {
			c.Branch, c.Model, c.Issue, c.Actor = "main", "fraud-detector", merged, "bob"
			w.enqueue(delivery, mustMarshal(t, app.DeploymentJobPayload{Installation: w.inst, Repository: repoName,
				Trigger: audit.TriggerCommand, Command: &c}))
		}
		answer := func() string {
			cs := w.gh.Comments(repoName, merged)
			for i := len(cs) - 1; i >= 0; i-- {
				if strings.Contains(cs[i].Body, "modelgate:answer") {
					return cs[i].Body
				}
			}
			t.Fatalf("no answer on #%d: %+v", merged, cs)
			return ""
		}

		// Not soaked yet: refused, with when.
		command("command:1", app.CommandRequest{Purpose: audit.ProposePromotion, Stage: "production"})
		if a := answer(); !strings.Contains(a, "Nothing opened") || !strings.Contains(a, "soaks in staging until") {
			t.Errorf("answer %q", a)
		}
		if prs := w.appPulls(); len(prs) != 0 {
			t.Fatalf("opened %+v before the soak was over", prs)
		}

		// A rollback to the previous good version.
		command("command:2", app.CommandRequest{Purpose: audit.ProposeRollback, Stage: "staging"})
		prs := w.appPulls()
		if len(prs) != 1 || prs[0].Title != "Roll back fraud-detector in staging to 2.2.0" {
			t.Fatalf("pull requests %+v; want the rollback", prs)
		}
		if a := answer(); !strings.Contains(a, fmt.Sprintf("Opened #%d", prs[0].Number)) {
			t.Errorf("answer %q", a)
		}
		ps := w.proposals()
		if len(ps) != 1 || ps[0].Trigger != audit.TriggerCommand || ps[0].DeploymentID != id {
			t.Errorf("proposal records %+v", ps)
		}
		if recs := w.records(audit.Filter{Kind: audit.KindProposal}); recs[0].Actor != "bob" {
			t.Errorf("proposal actor %q; want bob", recs[0].Actor)
		}

		// Once the soak is over, the promote command opens the promotion that
		// the soak's end did not (promote: command).
		w.tick(25 * time.Hour)
		if n := len(w.appPulls()); n != 1 {
			t.Fatalf("%d pull requests after the soak's end; want only the rollback", n)
		}
		command("command:4", app.CommandRequest{Purpose: audit.ProposePromotion, Stage: "production"})
		prs = w.appPulls()
		if len(prs) != 2 || prs[1].Title != "Promote fraud-detector 2.3.0 to production" {
			t.Fatalf("pull requests %+v; want the promotion too", prs)
		}
		if a := answer(); !strings.Contains(a, fmt.Sprintf("Opened #%d", prs[1].Number)) {
			t.Errorf("answer %q", a)
		}

		// A version that never ran there is no rollback.
		command("command:3", app.CommandRequest{Purpose: audit.ProposeRollback, Stage: "staging", Version: "2.0.0"})
		if a := answer(); !strings.Contains(a, "fraud-detector 2.0.0 never ran in staging") || len(w.appPulls()) != 2 {
			t.Errorf("answer %q, %d pull requests", a, len(w.appPulls()))
		}
	})
}

// A branch of the App's name that holds something else — pushed by anyone —
// is reset to the base and written anew: the pull request shows only the pin.
func TestForeignBranchContentReplaced(t *testing.T) {
	const want = "stage: production\nmodels:\n  fraud-detector: \"2.3.0\"\n  demand-forecast: \"1.4.0\"\n"
	for name, files := range map[string]map[string]string{
		"another file": {"environments/production.yaml": want, ".modelgate/config.yaml": "stages: [{name: production}]\n"},
		"another pin":  {"environments/production.yaml": "stage: production\nmodels:\n  fraud-detector: \"2.3.0\"\n  demand-forecast: \"1.5.0\"\n"},
	} {
		t.Run(name, func(t *testing.T) {
			sqlstoretest.Each(t, func(t *testing.T, dsn string) {
				w := newWorld(t, dsn, stagedOptions(t, "24h", "auto", ""))
				w.deployedToStaging(deploy.Success)
				base := w.gh.Branch(repoName, "main")
				const branch = "modelgate/promote/fraud-detector-2.3.0-production"
				w.work.Git("fetch", "-q", w.gh.GitDir(repoName), "main")
				w.work.Git("checkout", "-q", "-B", branch, "FETCH_HEAD")
				for path, content := range files {
					w.work.Write(path, content)
				}
				w.work.Commit("by hand", time.Now())
				w.work.Checkout("main")
				w.gh.Push(repoName, branch, "mallory")

				w.tick(25 * time.Hour)
				if prs := w.appPulls(); len(prs) != 1 {
					t.Fatalf("pull requests %+v; want one", prs)
				}
				if got := w.commitOf(branch, base, "environments/production.yaml"); got != want {
					t.Errorf("environments/production.yaml on the branch:\n%s\nwant\n%s", got, want)
				}
			})
		})
	}
}

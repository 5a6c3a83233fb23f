package service_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// The journeys of a model version through the example repository's stages,
// driven only by GitHub's deliveries, the deployer's statuses and the
// emulator's clock.

// journeyOptions is the example repository with staging's fraud-detector at
// 2.2.0, a promotion branch that pins 2.3.0 there, staging analysed by
// Prometheus at address, and production taking a soaked version by itself.
func journeyOptions(t *testing.T, address string) options {
	analysed := withAnalysis(t, "staging", address)
	return options{
		promotion: promotionOf(t, stagingAfter),
		mainEdits: func(r *gittest.Repo) {
			analysed(r)
			autoProduction(t, r)
			r.Write("environments/staging.yaml", stagingBefore)
		},
	}
}

// autoProduction makes the example repository's production stage take a
// version that soaked in staging without a command.
func autoProduction(t *testing.T, r *gittest.Repo) {
	t.Helper()
	const old = "  - {name: production, soak: 72h}\n"
	data, err := os.ReadFile(filepath.Join(r.Dir, ".modelgate", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(data)
	if !strings.Contains(cfg, old) {
		t.Fatalf(".modelgate/config.yaml has no line %q to replace", old)
	}
	r.Write(".modelgate/config.yaml", strings.Replace(cfg, old, "  - {name: production, soak: 72h, promote: auto}\n", 1))
}

// decided wants the last decision on pull request n's head to allow, and
// reports whether it judged a rollback.
func (w *world) decided(n int) (rollback bool) {
	w.t.Helper()
	head := w.gh.PullRequest(repoName, n).HeadSHA
	recs := w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n, HeadSHA: head})
	if len(recs) == 0 {
		w.t.Fatalf("no decision record of #%d at %s", n, head)
	}
	var d gate.DecisionRecord
	if err := json.Unmarshal(recs[len(recs)-1].Payload, &d); err != nil {
		w.t.Fatal(err)
	}
	if !d.Decision.Allow {
		w.t.Errorf("the last decision on #%d does not allow it", n)
	}
	return strings.Contains(string(recs[len(recs)-1].Payload), `"rollback":true`)
}

// soakEnds moves the clock to a second before at, wants no pull request of
// the App's more than before, then moves it past at and returns the one
// opened, logging the API calls and the wall-clock time its opening took.
func (w *world) soakEnds(at time.Time, before int) githubtest.PullRequest {
	w.t.Helper()
	w.tick(at.Sub(w.gh.Now()) - time.Second)
	if prs := w.appPulls(); len(prs) != before {
		w.t.Fatalf("the App has %d pull requests a second before the soak's end at %s; want %d: %+v", len(prs), at, before, prs)
	}
	w.gh.ResetCalls()
	start := time.Now()
	w.gh.Advance(time.Second)
	w.settle()
	took := time.Since(start)
	prs := w.appPulls()
	if len(prs) != before+1 {
		w.t.Fatalf("the App has %d pull requests after the soak's end at %s; want %d: %+v", len(prs), at, before+1, prs)
	}
	w.t.Logf("the soak's end to the opened pull request and its evaluation: %s of wall-clock time; API calls %s", took, w.calls())
	return prs[before]
}

// succeeded returns when the deployment's last status, a success, was
// posted: GitHub's time, from which the soak counts.
func (w *world) succeeded(id int64) time.Time {
	w.t.Helper()
	for _, d := range w.gh.Deployments(repoName) {
		if d.ID == id && len(d.Statuses) > 0 && d.Statuses[len(d.Statuses)-1].State == string(deploy.Success) {
			return d.Statuses[len(d.Statuses)-1].CreatedAt
		}
	}
	w.t.Fatalf("deployment %d has not succeeded: %+v", id, w.gh.Deployments(repoName))
	return time.Time{}
}

// kinds counts the audit records of each kind of the model's version in a
// stage.
func (w *world) kinds(version, stage string) map[audit.Kind]int {
	out := map[audit.Kind]int{}
	for _, r := range w.records(audit.Filter{Model: "fraud-detector", Version: version, Stage: stage}) {
		out[r.Kind]++
	}
	return out
}

func TestJourneyDevToStagingToProduction(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		prom := startPrometheus(t, 5)
		w := newWorld(t, dsn, journeyOptions(t, prom.URL))
		staging := w.deployedToStaging(deploy.Success)
		start := w.succeeded(staging)
		if ms := w.measurements(staging); len(ms) != 1 || ms[0].Phase != analysis.Successful {
			t.Fatalf("measurements %+v after the success; want the first Successful", ms)
		}

		// The analysis passes while the version soaks: no pull request yet.
		w.tick(analysisCount * analysisInterval)
		var states []analysis.Phase
		for _, r := range w.records(audit.Filter{Kind: audit.KindAnalysis, Stage: "staging"}) {
			var p audit.AnalysisPayload
			if err := json.Unmarshal(r.Payload, &p); err != nil {
				t.Fatal(err)
			}
			states = append(states, p.State.Phase)
		}
		if len(states) != 2 || states[1] != analysis.Successful {
			t.Fatalf("staging's analysis records %v; want Running, Successful", states)
		}
		if prs := w.appPulls(); len(prs) != 0 {
			t.Fatalf("the App opened %+v before the soak was over", prs)
		}

		pr := w.soakEnds(start.Add(analyzedSoak), 0)
		if pr.Title != "Promote fraud-detector 2.3.0 to production" || pr.Head != "modelgate/promote/fraud-detector-2.3.0-production" {
			t.Errorf("pull request %+v", pr)
		}
		for _, want := range []string{"trigger: `soak`", fmt.Sprintf("deployment %d", staging), "error-rate"} {
			if !strings.Contains(pr.Body, want) {
				t.Errorf("the body lacks %q:\n%s", want, pr.Body)
			}
		}
		if cr := w.runs(pr.HeadSHA)[app.CheckPolicy]; cr.Conclusion != "failure" || !strings.Contains(cr.Summary, "approvals.") {
			t.Errorf("before approvals the policy check is %s; want only approvals missing:\n%s", cr.Conclusion, cr.Summary)
		}
		w.approve(pr.Number, "bob")
		w.settle()
		if w.gh.PullRequest(repoName, pr.Number).Merged {
			t.Fatal("merged with one approval of the two production needs")
		}
		w.approve(pr.Number, "carol")
		w.settle()
		merged := w.gh.PullRequest(repoName, pr.Number)
		if !merged.Merged {
			t.Fatalf("not merged after production's approvals; policy check:\n%s", w.runs(pr.HeadSHA)[app.CheckPolicy].Summary)
		}
		if w.decided(pr.Number) {
			t.Error("the promotion into production was judged as a rollback")
		}

		w.gh.ResetCalls()
		w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
		w.settle()
		t.Logf("API calls for the push of the production merge: %s", w.calls())
		deps := w.gh.Deployments(repoName)
		if len(deps) != 2 || deps[1].Environment != "production" || deps[1].Ref != merged.MergeCommitSHA {
			t.Fatalf("deployments %+v; want staging's and production's at %s", deps, merged.MergeCommitSHA)
		}
		if p, err := deploy.ParsePayload(deps[1].Payload); err != nil || p.Version != "2.3.0" || p.PreviousVersion != "2.2.0" {
			t.Errorf("production's deployment payload %+v (%v)", p, err)
		}

		// Every step is on the record, of the stage it happened in.
		want := map[string]map[audit.Kind]int{
			// Judged when opened and on its approval.
			"staging": {audit.KindDecision: 2, audit.KindMerge: 1, audit.KindDeployment: 1, audit.KindDeploymentStatus: 1,
				audit.KindMeasurement: analysisCount, audit.KindAnalysis: 2},
			// Judged when the App opened it and on each approval.
			"production": {audit.KindProposal: 1, audit.KindDecision: 3, audit.KindMerge: 1, audit.KindDeployment: 1},
		}
		for stage, kinds := range want {
			got := w.kinds("2.3.0", stage)
			for kind, n := range kinds {
				if got[kind] != n {
					t.Errorf("%d %s records of 2.3.0 in %s; want %d (all: %v)", got[kind], kind, stage, n, got)
				}
			}
		}
		if recs := w.records(audit.Filter{Kind: audit.KindApproval, PullRequest: pr.Number}); len(recs) != 2 {
			t.Errorf("approval records of #%d %+v; want bob's and carol's", pr.Number, recs)
		}
		if recs := w.records(audit.Filter{Kind: audit.KindProposal}); len(recs) != 1 || recs[0].PullRequest != pr.Number {
			t.Errorf("proposal records %+v; want #%d's", recs, pr.Number)
		}
		if _, err := w.db.Verify(t.Context()); err != nil {
			t.Errorf("audit chain: %v", err)
		}
	})
}

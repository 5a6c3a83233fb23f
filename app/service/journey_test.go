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
	deadline := start.Add(settleFor)
	for len(w.appPulls()) == before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polls the emulator; the App's clock stands still
	}
	opened := time.Since(start)
	w.settle()
	judged := time.Since(start)
	prs := w.appPulls()
	if len(prs) != before+1 {
		w.t.Fatalf("the App has %d pull requests after the soak's end at %s; want %d: %+v", len(prs), at, before+1, prs)
	}
	recs := w.records(audit.Filter{Kind: audit.KindProposal, PullRequest: prs[before].Number})
	if len(recs) != 1 {
		w.t.Fatalf("%d proposal records of #%d; want 1", len(recs), prs[before].Number)
	}
	w.t.Logf("the soak's end at %s to the opened pull request: recorded %s after it by the App's clock, %s of wall-clock time after the clock passed it, judged %s after; API calls %s",
		at.UTC().Format(time.RFC3339), recs[0].RecordedAt.Sub(at), opened, judged, w.calls())
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

// The analysis of 2.3.0 in production fails: the App opens the rollback to
// 2.2.0, which ran there good, and merges it on the one approval a rollback
// needs, though production's own rule asks for two and compliance.
func TestJourneyAnalysisFailsRolledBack(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		prom := startPrometheus(t, 500) // 5% of requests fail
		w := newWorld(t, dsn, options{mainEdits: withAnalysis(t, "production", prom.URL)})
		good := w.seedRun("production")
		id, _ := w.deployed(0)

		prs := w.appPulls()
		if len(prs) != 1 {
			t.Fatalf("the App opened %d pull requests after the analysis failed; want the rollback: %+v", len(prs), prs)
		}
		pr := prs[0]
		if pr.Title != "Roll back fraud-detector in production to 2.2.0" || pr.Head != "modelgate/rollback/fraud-detector-2.2.0-production" {
			t.Errorf("pull request %+v", pr)
		}
		for _, want := range []string{"failed its analysis", fmt.Sprintf("deployment %d", good), "`2.3.0` → `2.2.0` in `production`"} {
			if !strings.Contains(pr.Body, want) {
				t.Errorf("the body lacks %q:\n%s", want, pr.Body)
			}
		}
		ps := w.proposals()
		if len(ps) != 1 || ps[0].Purpose != audit.ProposeRollback || ps[0].Trigger != audit.TriggerAnalysisFailed ||
			ps[0].DeploymentID != id || ps[0].Replaces != "2.3.0" {
			t.Errorf("proposal records %+v", ps)
		}
		if cr := w.runs(pr.HeadSHA)[app.CheckPolicy]; cr.Conclusion != "failure" || !strings.Contains(cr.Summary, "approvals.") {
			t.Errorf("before its approval the rollback's policy check is %s:\n%s", cr.Conclusion, cr.Summary)
		}

		w.approve(pr.Number, "dave") // in no team
		w.settle()
		merged := w.gh.PullRequest(repoName, pr.Number)
		if !merged.Merged {
			t.Fatalf("the rollback was not merged on its approval; policy check:\n%s", w.runs(pr.HeadSHA)[app.CheckPolicy].Summary)
		}
		if !w.decided(pr.Number) {
			t.Error("the rollback was not judged as one")
		}
		w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
		w.settle()
		deps := w.gh.Deployments(repoName)
		last := deps[len(deps)-1]
		if p, err := deploy.ParsePayload(last.Payload); err != nil || last.Ref != merged.MergeCommitSHA || p.Version != "2.2.0" || p.PreviousVersion != "2.3.0" {
			t.Errorf("the last deployment %+v (payload %+v, %v); want 2.2.0 back in production at %s", last, p, err, merged.MergeCommitSHA)
		}
	})
}

// The App stops in the middle of staging's soak and starts again, on the
// same store or on an empty one: the next stage's pull request still opens
// at the soak's end, counted from when GitHub has the deployment succeed.
func TestJourneyRestartDuringSoak(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart func(w *world)
	}{
		{"same store", func(w *world) {
			w.stop()
			w.start(options{})
		}},
		{"empty store", func(w *world) {
			w.restartEmpty()
			w.t.Logf("API calls of the sweep that rebuilds the run: %s", w.sweep())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sqlstoretest.Each(t, func(t *testing.T, dsn string) {
				w := newWorld(t, dsn, stagedOptions(t, "24h", "auto", ""))
				id := w.deployedToStaging(deploy.Success)
				start := w.succeeded(id)
				w.tick(10 * time.Hour)
				tc.restart(w)
				w.tick(time.Hour)

				pr := w.soakEnds(start.Add(24*time.Hour), 0)
				if pr.Title != "Promote fraud-detector 2.3.0 to production" {
					t.Errorf("pull request %+v", pr)
				}
				if ps := w.proposals(); len(ps) != 1 || ps[0].DeploymentID != id || ps[0].Trigger != audit.TriggerSoak {
					t.Errorf("proposal records %+v", ps)
				}
				if _, ok := w.runs(pr.HeadSHA)[app.CheckPolicy]; !ok {
					t.Error("the pull request was not judged")
				}
				// The pull request lacks only its approvals, and names the
				// deployment it rests on, whether or not the store knows the
				// promotion that made it.
				if cr := w.runs(pr.HeadSHA)[app.CheckPolicy]; cr.Conclusion != "failure" || !strings.Contains(cr.Summary, "approvals.count") ||
					strings.Contains(cr.Summary, "`stage.") {
					t.Errorf("policy check %s; want only the approvals missing:\n%s", cr.Conclusion, cr.Summary)
				}
				if want := fmt.Sprintf("(deployment %d", id); !strings.Contains(pr.Body, want) || strings.Contains(pr.Body, "#0") {
					t.Errorf("the body does not name deployment %d as %q, or names a pull request #0:\n%s", id, want, pr.Body)
				}
			})
		})
	}
}

// Both models of the example repository are promoted into staging by one
// pull request: each gets its deployment, its soak from its own success and
// its own next-stage pull request. demand-forecast 1.4.0 is the version
// that runs in dev here (1.5.0 regresses, and the gate denies it) and has
// not yet reached staging or production.
func TestJourneyTwoModels(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		o := stagedOptions(t, "24h", "auto", "stage: production\nmodels:\n  fraud-detector: \"2.2.0\"\n")
		staged := o.mainEdits
		o.mainEdits = func(r *gittest.Repo) {
			staged(r)
			r.Write("environments/dev.yaml", "stage: dev\nmodels:\n  fraud-detector: \"2.3.0\"\n  demand-forecast: \"1.4.0\"\n")
			r.Write("environments/staging.yaml", "stage: staging\nmodels:\n  fraud-detector: \"2.2.0\"\n")
		}
		o.promotion = promotionOf(t, "stage: staging\nmodels:\n  fraud-detector: \"2.3.0\"\n  demand-forecast: \"1.4.0\"\n")
		w := newWorld(t, dsn, o)
		n := w.open("alice")
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "bob")
		w.settle()
		if !w.gh.PullRequest(repoName, n).Merged {
			t.Fatalf("the promotion of both models was not merged; policy check:\n%s", w.runs(w.gh.PullRequest(repoName, n).HeadSHA)[app.CheckPolicy].Summary)
		}
		w.gh.ResetCalls()
		w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
		w.settle()
		t.Logf("API calls for the push of a merge of two pins: %s", w.calls())
		deps := w.gh.Deployments(repoName)
		byModel := map[string]int64{}
		for _, d := range deps {
			p, err := deploy.ParsePayload(d.Payload)
			if err != nil || d.Environment != "staging" {
				t.Fatalf("deployment %+v (%v)", d, err)
			}
			byModel[p.Model+" "+p.Version] = d.ID
		}
		fraudID, demandID := byModel["fraud-detector 2.3.0"], byModel["demand-forecast 1.4.0"]
		if len(deps) != 2 || fraudID == 0 || demandID == 0 {
			t.Fatalf("deployments %+v; want one of each model", deps)
		}

		// demand-forecast is deployed an hour after fraud-detector.
		w.report(w.deployer(), fraudID, deploy.Success, deploy.StatusDescription(deploy.Success, fraudDigest, ""))
		w.gh.Advance(time.Hour)
		w.report(w.deployer(), demandID, deploy.Success, deploy.StatusDescription(deploy.Success, demandDigest(t), ""))

		first := w.soakEnds(w.succeeded(fraudID).Add(24*time.Hour), 0)
		second := w.soakEnds(w.succeeded(demandID).Add(24*time.Hour), 1)
		if first.Title != "Promote fraud-detector 2.3.0 to production" || second.Title != "Promote demand-forecast 1.4.0 to production" {
			t.Errorf("pull requests %q and %q", first.Title, second.Title)
		}
		if first.State != "open" || w.gh.PullRequest(repoName, first.Number).State != "open" || second.State != "open" {
			t.Error("one model's pull request closed the other's")
		}
		if got := w.commitOf(second.Head, w.gh.Branch(repoName, "main"), "environments/production.yaml"); got != "stage: production\nmodels:\n  fraud-detector: \"2.2.0\"\n  demand-forecast: 1.4.0\n" {
			t.Errorf("environments/production.yaml on %s:\n%s", second.Head, got)
		}
		ps := w.proposals()
		if len(ps) != 2 || ps[0].DeploymentID != fraudID || ps[1].DeploymentID != demandID || len(ps[1].Superseded) != 0 {
			t.Errorf("proposal records %+v", ps)
		}
	})
}

// demandDigest is the artifact digest of the example manifest of
// demand-forecast 1.4.0.
func demandDigest(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(examples + "/models/demand-forecast/1.4.0/model.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "digest: ")
	if !ok {
		t.Fatal("the manifest of demand-forecast 1.4.0 names no digest")
	}
	digest, _, _ := strings.Cut(rest, "\n")
	return digest
}

// A writer's commands on the merged promotion into staging, given as
// comments, open the pull requests end to end: the promotion into
// production (promote: command) once the soak is over, and the rollback.
func TestJourneyCommands(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, stagedOptions(t, "24h", "command", ""))
		w.seedRun("staging")
		id := w.deployedToStaging(deploy.Success)
		merged := w.records(audit.Filter{Kind: audit.KindDeployment, Version: "2.3.0"})[0].PullRequest
		w.gh.SetRole(repoName, "dave", "write")
		w.tick(24 * time.Hour)
		if prs := w.appPulls(); len(prs) != 0 {
			t.Fatalf("the App opened %+v into a stage that takes a command", prs)
		}

		w.gh.ResetCalls()
		w.command(merged, "dave", "Soaked well.\n/modelgate promote production\n")
		t.Logf("API calls for a promote command to its pull request: %s", w.calls())
		prs := w.appPulls()
		if len(prs) != 1 || prs[0].Title != "Promote fraud-detector 2.3.0 to production" {
			t.Fatalf("pull requests %+v; want the promotion", prs)
		}
		w.command(merged, "dave", "/modelgate rollback staging")
		prs = w.appPulls()
		if len(prs) != 2 || prs[1].Title != "Roll back fraud-detector in staging to 2.2.0" {
			t.Fatalf("pull requests %+v; want the rollback too", prs)
		}
		ps := w.proposals()
		if len(ps) != 2 || ps[0].Trigger != audit.TriggerCommand || ps[1].Trigger != audit.TriggerCommand || ps[1].DeploymentID != id {
			t.Errorf("proposal records %+v", ps)
		}
		for _, pr := range prs {
			if _, ok := w.runs(pr.HeadSHA)[app.CheckPolicy]; !ok {
				t.Errorf("#%d was not judged", pr.Number)
			}
		}
		var answered int
		for _, c := range w.gh.Comments(repoName, merged) {
			if c.User == "modelgate[bot]" && strings.Contains(c.Body, "@dave") &&
				(strings.Contains(c.Body, fmt.Sprintf("Opened #%d", prs[0].Number)) || strings.Contains(c.Body, fmt.Sprintf("Opened #%d", prs[1].Number))) {
				answered++
			}
		}
		if answered != 2 {
			t.Errorf("%d answers naming the pull requests opened on #%d; want 2: %+v", answered, merged, w.gh.Comments(repoName, merged))
		}
		recs := w.records(audit.Filter{Kind: audit.KindProposal})
		if len(recs) != 2 || recs[0].Actor != "dave" || recs[1].Actor != "dave" {
			t.Errorf("proposal records %+v; want dave's", recs)
		}

		// The change is dave's, whoever opened it: his approval of the
		// rollback he asked for does not count, anyone else's does.
		rollback := prs[1].Number
		w.approve(rollback, "dave")
		w.settle()
		if pr := w.gh.PullRequest(repoName, rollback); pr.Merged {
			t.Fatal("the rollback merged on the approval of the user who asked for it")
		}
		if c := w.comment(rollback); !strings.Contains(c.Body, "asked the App for the pull request") {
			t.Errorf("the comment does not say why dave's approval does not count:\n%s", c.Body)
		}
		w.approve(rollback, "bob")
		w.settle()
		if pr := w.gh.PullRequest(repoName, rollback); !pr.Merged {
			t.Fatalf("the rollback did not merge on bob's approval; comment:\n%s", w.comment(rollback).Body)
		}
	})
}

package gate_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/policies"
)

// The scenarios judge the example repository end to end: real git history, the
// checks engine on the example data, and the built-in policies.

const (
	fraudPromotion  = "../../examples/promotions/fraud-detector-2.3.0-production"
	demandPromotion = "../../examples/promotions/demand-forecast-1.5.0-production"
)

// approvedByCompliance are the approvals production needs by default.
var approvedByCompliance = []policy.Approval{{User: "bob", Teams: []string{"compliance"}}, {User: "carol", Teams: []string{"risk"}}}

// scenario is the example repository landed four days ago on main, with a
// branch "promote" on which edit has been committed.
func scenario(t *testing.T, edit func(r *gittest.Repo)) *gittest.Repo {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Commit("example repository", now.Add(-96*time.Hour))
	r.Branch("promote")
	edit(r)
	r.Commit("promote", now.Add(-time.Hour))
	return r
}

func judgeReal(t *testing.T, r *gittest.Repo, approvals []policy.Approval) *gate.Result {
	t.Helper()
	return judgeWith(t, r, gate.Checks{}, policies.Modules(), approvals)
}

func codes(res *gate.Result) []string {
	var cs []string
	for _, j := range res.Judgements {
		for _, m := range j.Decision.Deny {
			cs = append(cs, m.Code)
		}
	}
	return cs
}

// wantDenied checks that the change is denied with every code named, and that
// the reason names the model.
func wantDenied(t *testing.T, res *gate.Result, want ...string) {
	t.Helper()
	if res.Allow {
		t.Fatalf("allowed; want a denial with %v", want)
	}
	got := codes(res)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("denials %v lack %s:\n%s", got, w, denials(res))
		}
	}
}

func TestScenarioAllowedPromotion(t *testing.T) {
	res := judgeReal(t, scenario(t, func(r *gittest.Repo) { r.CopyDir(fraudPromotion) }), approvedByCompliance)
	if !res.Allow {
		t.Fatalf("denied:\n%s", denials(res))
	}
	if ev := string(res.Judgements[0].Evidence); !strings.Contains(ev, `"roc_auc"`) || !strings.Contains(ev, `"disparate_impact_ratio"`) {
		t.Errorf("the decision was not made on the checks' evidence: %.300s", ev)
	}
}

func TestScenarioApprovalsStillNeeded(t *testing.T) {
	res := judgeReal(t, scenario(t, func(r *gittest.Repo) { r.CopyDir(fraudPromotion) }),
		[]policy.Approval{{User: "alice", Teams: []string{"compliance"}}, {User: "carol"}})
	wantDenied(t, res, "approvals.count", "approvals.team")
}

// rewriteCSV rewrites a CSV file of the work tree row by row.
func rewriteCSV(t *testing.T, r *gittest.Repo, path string, edit func(header map[string]int, row []string)) {
	t.Helper()
	f, err := os.Open(r.Dir + "/" + path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	header := map[string]int{}
	for i, name := range rows[0] {
		header[name] = i
	}
	for _, row := range rows[1:] {
		edit(header, row)
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	r.Write(path, b.String())
}

// newVersion publishes fraud-detector 2.4.0: 2.3.0's files, edited, pinned in
// dev, where the first stage needs no approval.
func newVersion(t *testing.T, r *gittest.Repo, edit func(r *gittest.Repo)) {
	t.Helper()
	publish(t, r, "2.4.0")
	r.Write("environments/dev.yaml", "stage: dev\nmodels: {fraud-detector: \"2.4.0\", demand-forecast: \"1.5.0\"}\n")
	edit(r)
}

// publish adds fraud-detector version: a copy of 2.3.0, which passes every
// check.
func publish(t *testing.T, r *gittest.Repo, version string) {
	t.Helper()
	src := "../../examples/gitops/models/fraud-detector/2.3.0"
	for _, f := range []string{"model.yaml", "data/reference.csv", "data/current.csv", "eval/predictions.csv", "eval/baseline_predictions.csv"} {
		data, err := os.ReadFile(src + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		content := string(data)
		if f == "model.yaml" {
			content = strings.Replace(content, `version: "2.3.0"`, `version: "`+version+`"`, 1)
		}
		r.Write("models/fraud-detector/"+version+"/"+f, content)
	}
}

// pinFraud pins fraud-detector version in production, where demand-forecast
// runs 1.4.0, and commits that as landed at the given time.
func pinFraud(r *gittest.Repo, version string, at time.Time) {
	r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \""+version+"\", demand-forecast: \"1.4.0\"}\n")
	r.Commit("fraud-detector "+version+" to production", at)
}

func TestScenarioFairnessFailure(t *testing.T) {
	res := judgeReal(t, scenario(t, func(r *gittest.Repo) {
		newVersion(t, r, func(r *gittest.Repo) {
			// The new model flags women far less often than men.
			rewriteCSV(t, r, "models/fraud-detector/2.4.0/eval/predictions.csv", func(h map[string]int, row []string) {
				if row[h["sex"]] == "F" && row[h["prediction"]] == "1" && row[h["txn_id"]][len(row[h["txn_id"]])-1]%2 == 0 {
					row[h["prediction"]], row[h["score"]] = "0", "0.4000"
				}
			})
		})
	}), nil)
	wantDenied(t, res, "fairness.disparate_impact")
	if d := denials(res); !strings.Contains(d, "fraud-detector 2.4.0") || !strings.Contains(d, "below 0.8") {
		t.Errorf("the reason does not name the model and the threshold:\n%s", d)
	}
}

func TestScenarioMetricRegression(t *testing.T) {
	res := judgeReal(t, scenario(t, func(r *gittest.Repo) {
		newVersion(t, r, func(r *gittest.Repo) {
			// The new model is the old one and the old one the new: roc_auc drops
			// by about 0.04 against the baseline.
			preds, _ := os.ReadFile("../../examples/gitops/models/fraud-detector/2.3.0/eval/predictions.csv")
			base, _ := os.ReadFile("../../examples/gitops/models/fraud-detector/2.3.0/eval/baseline_predictions.csv")
			r.Write("models/fraud-detector/2.4.0/eval/predictions.csv", string(base))
			r.Write("models/fraud-detector/2.4.0/eval/baseline_predictions.csv", string(preds))
		})
	}), nil)
	wantDenied(t, res, "evaluation.regression")
}

func TestScenarioDrift(t *testing.T) {
	// demand-forecast 1.5.0 runs in dev; its current data has drifted.
	res := judgeReal(t, scenario(t, func(r *gittest.Repo) {
		r.Write("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: \"2.3.0\", demand-forecast: \"1.5.0\"}\n")
	}), approvedByCompliance)
	wantDenied(t, res, "data.drift")
}

func TestScenarioStageSkipped(t *testing.T) {
	res := judgeReal(t, scenario(t, func(r *gittest.Repo) { r.CopyDir(demandPromotion) }), approvedByCompliance)
	wantDenied(t, res, "stage.skipped")
}

func TestScenarioSoakNotElapsed(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Write("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: \"2.2.0\", demand-forecast: \"1.4.0\"}\n")
	r.Commit("example repository", now.Add(-96*time.Hour))
	r.Write("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: \"2.3.0\", demand-forecast: \"1.4.0\"}\n")
	r.Commit("fraud-detector 2.3.0 enters staging", now.Add(-2*time.Hour))
	r.Branch("promote")
	r.CopyDir(fraudPromotion)
	r.Commit("promote", now.Add(-time.Hour))
	res := judgeReal(t, r, approvedByCompliance)
	wantDenied(t, res, "stage.soak")
	if d := denials(res); !strings.Contains(d, "2h") || !strings.Contains(d, "24h") {
		t.Errorf("the reason does not say how long it ran and must run:\n%s", d)
	}
}

// backTo220 is the example repository, where production ran fraud-detector
// 2.2.0 for four days before 2.3.0; branch promote pins 2.2.0 again.
func backTo220(t *testing.T) *gittest.Repo {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Commit("example repository", now.Add(-96*time.Hour))
	r.CopyDir(fraudPromotion)
	r.Commit("fraud-detector 2.3.0 to production", now.Add(-3*time.Hour))
	r.Branch("promote")
	r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \"2.2.0\", demand-forecast: \"1.4.0\"}\n")
	r.Commit("roll back fraud-detector to 2.2.0", now.Add(-time.Hour))
	return r
}

func TestScenarioRollbackAllowed(t *testing.T) {
	r := backTo220(t)
	res := judgeReal(t, r, approvedByCompliance)
	if !res.Allow || !res.Judgements[0].Promotion.Rollback {
		t.Fatalf("rollback denied or not seen as one:\n%s", denials(res))
	}
}

// A pull request whose net change only adds a version can pin it in production
// and unpin it in two commits; landed by rebase, both sit on main's
// first-parent line with the merge's committer time. Pinning that version in
// production later is no return to anything that ran there.
func TestScenarioPinnedAndUnpinnedIsNoRollback(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Commit("example repository", now.Add(-96*time.Hour))
	r.Branch("sneak")
	publish(t, r, "9.0.0")
	pinFraud(r, "9.0.0", now.Add(-48*time.Hour))
	pinFraud(r, "2.2.0", now.Add(-48*time.Hour))
	r.Checkout("main")
	r.Git("merge", "-q", "--ff-only", "sneak")
	r.Branch("promote")
	pinFraud(r, "9.0.0", now.Add(-time.Hour))
	res := judgeReal(t, r, approvedByCompliance)
	wantDenied(t, res, "stage.skipped")
	if res.Judgements[0].Promotion.Rollback {
		t.Error("judged as a rollback")
	}
}

// A version that ran in production for less than rollback.minPinned (default
// 1h) is no rollback either; the base's config may make that shorter.
func TestScenarioRollbackNeedsMinimumTimePinned(t *testing.T) {
	setup := func(config string) *gittest.Repo {
		r := gittest.New(t)
		r.CopyDir("../../examples/gitops")
		r.Write(".modelgate/config.yaml", config)
		r.Commit("example repository", now.Add(-96*time.Hour))
		pinFraud(r, "2.3.0", now.Add(-30*time.Hour))
		pinFraud(r, "2.2.0", now.Add(-30*time.Hour+30*time.Minute)) // rolled back after 30m
		publish(t, r, "2.4.0")
		r.Write("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: \"2.4.0\", demand-forecast: \"1.4.0\"}\n")
		r.Commit("fraud-detector 2.4.0 to staging", now.Add(-29*time.Hour))
		r.Branch("promote")
		pinFraud(r, "2.3.0", now.Add(-time.Hour))
		return r
	}
	// 2.3.0 soaked in staging before 2.4.0 replaced it: as a promotion it
	// is judged in full, and one approval is not production's two.
	wantNoRollback(t, judgeReal(t, setup(appChecked), approvedOnce))
	res := judgeReal(t, setup("rollback: {minPinned: 30m}\n"+appChecked), approvedOnce)
	if !res.Allow || !res.Judgements[0].Promotion.Rollback {
		t.Fatalf("2.3.0 ran in production for 30m, the minimum: want an allowed rollback, got\n%s", denials(res))
	}
}

// appChecked is the example config's evidence rule, for the configs that
// replace it: the App's own checks judge the example's high-risk model too.
const appChecked = "evidence: {requireTrustedFor: []}\n"

// approvedOnce is the approval a rollback needs by default (approvals.rollback),
// short of what a promotion into production needs.
var approvedOnce = []policy.Approval{{User: "carol"}}

// wantNoRollback checks that the promotion is judged as no rollback, and so
// needs production's approvals.
func wantNoRollback(t *testing.T, res *gate.Result) {
	t.Helper()
	wantDenied(t, res, "approvals.count")
	if res.Judgements[0].Promotion.Rollback {
		t.Error("judged as a rollback")
	}
}

// mergedPromotion records what the App records for a pull request it judged and
// merged: the decision on the promotion, then the merge of the head it judged.
func mergedPromotion(t *testing.T, db *sqlstore.DB, number int, branch string, p gitops.Promotion, allow bool) {
	t.Helper()
	ctx := context.Background()
	head := fmt.Sprintf("%040x", number)
	payload, err := json.Marshal(gate.DecisionRecord{Promotion: &p, Decision: policy.Decision{Allow: allow}})
	if err != nil {
		t.Fatal(err)
	}
	e := audit.Entry{Kind: audit.KindDecision, Repository: "acme/models", Model: p.Model, Version: p.Version, Stage: p.ToStage,
		PullRequest: number, HeadSHA: head, Actor: "alice", Payload: payload}
	if _, err := db.Append(ctx, e); err != nil {
		t.Fatal(err)
	}
	e.Kind, e.Payload = audit.KindMerge, json.RawMessage(`{"method":"squash","base_ref":"`+branch+`"}`)
	if _, err := db.Append(ctx, e); err != nil {
		t.Fatal(err)
	}
}

// returnTo230 is a repository whose production ran fraud-detector 2.3.0 for ten
// minutes, a day ago, and a branch promote that pins it there again while
// staging runs 2.4.0: a rollback only if records show that 2.3.0 ran.
func returnTo230(t *testing.T) *gittest.Repo {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Commit("example repository", now.Add(-96*time.Hour))
	pinFraud(r, "2.3.0", now.Add(-30*time.Hour))
	pinFraud(r, "2.2.0", now.Add(-30*time.Hour+10*time.Minute))
	publish(t, r, "2.4.0")
	r.Write("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: \"2.4.0\", demand-forecast: \"1.4.0\"}\n")
	r.Commit("fraud-detector 2.4.0 to staging", now.Add(-29*time.Hour))
	r.Branch("promote")
	pinFraud(r, "2.3.0", now.Add(-time.Hour))

	return r
}

// Where the App merged a promotion, the audit log shows that the version ran,
// however soon it was undone.
func TestScenarioMergedPromotionMakesARollback(t *testing.T) {
	r := returnTo230(t)
	db := auditLog(t)
	judge := func() *gate.Result {
		t.Helper()
		res, err := judgeOn(t, r, gate.Checks{}, policies.Modules(), approvedOnce, db)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	wantNoRollback(t, judge())

	into := gitops.Promotion{Kind: gitops.KindPromotion, Model: "fraud-detector", Version: "2.3.0", FromStage: "staging", ToStage: "production"}
	mergedPromotion(t, db, 5, "main", into, false) // denied, merged by hand: no run
	removal := *gitops.Removal{Model: "fraud-detector", Version: "2.3.0", Stage: "production"}.Promotion()
	mergedPromotion(t, db, 6, "main", removal, true) // a removal is no run either
	elsewhere := into
	elsewhere.ToStage = "staging"
	mergedPromotion(t, db, 7, "main", elsewhere, true)
	mergedPromotion(t, db, 8, "release/1", into, true) // another branch pins its own stages
	wantNoRollback(t, judge())

	mergedPromotion(t, db, 9, "main", into, true)
	res := judge()
	if !res.Allow || !res.Judgements[0].Promotion.Rollback {
		t.Fatalf("an allowed and merged promotion of 2.3.0 into production: want an allowed rollback, got\n%s", denials(res))
	}

	// Without the audit log there is no verdict: neither a rollback nor a
	// promotion.
	db.Close()
	if res, err := judgeOn(t, r, gate.Checks{}, policies.Modules(), approvedByCompliance, db); err == nil {
		t.Fatalf("judged with the audit log closed: %+v", res)
	}
}

// Removing a pin changes what the stage runs: it needs the stage's approvals,
// and the decision names the removed version.
func TestScenarioRemovalNeedsTheStagesApprovals(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(r *gittest.Repo)
	}{
		{"environment file deleted", func(r *gittest.Repo) { r.Remove("environments/production.yaml") }},
		{"environment file moved away", func(r *gittest.Repo) { r.Git("mv", "environments/production.yaml", "production.yaml") }},
		{"one model dropped", func(r *gittest.Repo) {
			r.Write("environments/production.yaml", "stage: production\nmodels: {demand-forecast: \"1.4.0\"}\n")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := scenario(t, tt.edit)
			res := judgeReal(t, r, nil)
			wantDenied(t, res, "approvals.count", "approvals.team")
			entries, err := res.AuditEntries()
			if err != nil {
				t.Fatal(err)
			}
			var removed []string
			for _, e := range entries {
				var rec gate.DecisionRecord
				if err := json.Unmarshal(e.Payload, &rec); err != nil {
					t.Fatal(err)
				}
				if rec.Promotion != nil && rec.Promotion.Kind == gitops.KindRemoval {
					removed = append(removed, fmt.Sprintf("%s %s %s", e.Model, e.Version, e.Stage))
				}
			}
			if !slices.Contains(removed, "fraud-detector 2.2.0 production") {
				t.Errorf("the audit records name removals %v, not fraud-detector 2.2.0 in production", removed)
			}
			if res := judgeReal(t, r, approvedByCompliance); !res.Allow {
				t.Errorf("denied with production's approvals:\n%s", denials(res))
			}
		})
	}
}

// orgFairness is an organisation's stricter fairness rule on the base branch.
const orgFairness = `package modelgate.org_fairness

deny contains {"code": "org.fairness", "msg": sprintf("%s %s: disparate impact for %s is %v, below the bank's 0.9", [input.promotion.model, input.promotion.version, attr, v])} if {
	some attr, f in input.evidence.fairness
	v := f.disparate_impact_ratio
	v < 0.9
}
`

func TestScenarioPolicyEditJudgedByBase(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Write(".modelgate/policies/org_fairness.rego", orgFairness)
	r.Commit("example repository with the bank's fairness rule", now.Add(-96*time.Hour))
	r.Branch("promote")
	r.Remove(".modelgate/policies/org_fairness.rego")
	r.CopyDir(fraudPromotion)
	r.Commit("promote, and delete the fairness rule", now.Add(-time.Hour))
	res := judgeReal(t, r, approvedByCompliance)
	wantDenied(t, res, "org.fairness")
	if !res.Change.PolicyChange {
		t.Error("deleting a policy is not seen as a policy change")
	}
	// Without a compliance approval the policy change itself is denied too.
	res = judgeReal(t, r, []policy.Approval{{User: "carol"}, {User: "dave"}})
	wantDenied(t, res, "org.fairness", "policy_change.approvals")
}

func TestScenarioBrokenBasePolicy(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Write(".modelgate/policies/typo.rego", "package modelgate.typo\n\ndeny contains msg if {\n\tmsg := \"unclosed\"\n")
	r.Commit("example repository with a broken policy", now.Add(-96*time.Hour))
	r.Branch("promote")
	r.CopyDir(fraudPromotion)
	r.Commit("promote", now.Add(-time.Hour))
	res := judgeReal(t, r, approvedByCompliance)
	wantDenied(t, res, policy.CodeCompile)
	if d := denials(res); !strings.Contains(d, ".modelgate/policies/typo.rego:") {
		t.Errorf("the reason does not name the broken file:\n%s", d)
	}
}

func TestScenarioMissingEvidence(t *testing.T) {
	res := judgeReal(t, scenario(t, func(r *gittest.Repo) {
		newVersion(t, r, func(r *gittest.Repo) { r.Remove("models/fraud-detector/2.4.0/eval/predictions.csv") })
	}), nil)
	wantDenied(t, res, gate.CodeChecks, "evaluation.missing", "fairness.missing")
}

// posted is a deployment status the deployer posted.
type posted struct {
	state   string
	at      time.Time
	refused string
}

// deployed records what the App records of a deployment of fraud-detector
// version to stage from branch, created at created, and of the statuses
// posted on it, in the order they came.
func deployed(t *testing.T, db *sqlstore.DB, id int64, branch, stage, version string, created time.Time, statuses ...posted) {
	t.Helper()
	ctx := context.Background()
	ref := fmt.Sprintf("%040x", id)
	db.Now = func() time.Time { return created }
	payload, err := json.Marshal(audit.DeploymentPayload{DeploymentID: id, Environment: stage, Ref: ref, BaseRef: branch,
		Deployment: deploy.Payload{Model: "fraud-detector", Version: version}})
	if err != nil {
		t.Fatal(err)
	}
	e := audit.Entry{Kind: audit.KindDeployment, Repository: "acme/models", Model: "fraud-detector", Version: version,
		Stage: stage, PullRequest: int(id), HeadSHA: ref, Actor: "modelgate[bot]", Payload: payload}
	if _, err := db.Append(ctx, e); err != nil {
		t.Fatal(err)
	}
	for i, st := range statuses {
		db.Now = func() time.Time { return st.at }
		payload, err := json.Marshal(audit.DeploymentStatusPayload{DeploymentID: id, StatusID: id*100 + int64(i), State: st.state,
			BaseRef: branch, CreatedAt: st.at, Refused: st.refused})
		if err != nil {
			t.Fatal(err)
		}
		e.Kind, e.Actor, e.Payload = audit.KindDeploymentStatus, "deployer", payload
		if _, err := db.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
}

// analyzed records the verdict of the live analysis of a deployment.
func analyzed(t *testing.T, db *sqlstore.DB, id int64, stage, version string, at time.Time, st analysis.State) {
	t.Helper()
	db.Now = func() time.Time { return at }
	payload, err := json.Marshal(audit.AnalysisPayload{DeploymentID: id, BaseRef: "main", State: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Append(context.Background(), audit.Entry{Kind: audit.KindAnalysis, Repository: "acme/models", Model: "fraud-detector",
		Version: version, Stage: stage, HeadSHA: fmt.Sprintf("%040x", id), Actor: "modelgate[bot]", Payload: payload}); err != nil {
		t.Fatal(err)
	}
}

// judgeRecorded judges branch promote of r with the run records of db.
func judgeRecorded(t *testing.T, r *gittest.Repo, db *sqlstore.DB, approvals []policy.Approval) *gate.Result {
	t.Helper()
	res, err := judgeOn(t, r, gate.Checks{}, policies.Modules(), approvals, db)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// A version whose deployment to a stage succeeded ran there (SPEC §1), even
// if no pull request the App merged put it there; a success the App refused,
// or a success from another branch's deployment or in another stage, is no
// run.
func TestScenarioSucceededDeploymentMakesARollback(t *testing.T) {
	r := returnTo230(t)
	db := auditLog(t)
	day := now.Add(-30 * time.Hour)
	deployed(t, db, 1, "release/1", "production", "2.3.0", day, posted{"success", day.Add(time.Minute), ""})
	deployed(t, db, 2, "main", "staging", "2.3.0", day, posted{"success", day.Add(time.Minute), ""})
	deployed(t, db, 3, "main", "production", "2.3.0", day, posted{"success", day.Add(time.Minute), audit.RefusedDigestMismatch})
	wantNoRollback(t, judgeRecorded(t, r, db, approvedOnce))

	deployed(t, db, 4, "main", "production", "2.3.0", day.Add(2*time.Minute), posted{"in_progress", day.Add(3 * time.Minute), ""},
		posted{"success", day.Add(4 * time.Minute), ""})
	res := judgeRecorded(t, r, db, approvedOnce)
	if !res.Allow || !res.Judgements[0].Promotion.Rollback {
		t.Fatalf("2.3.0's deployment to production succeeded: want an allowed rollback, got\n%s", denials(res))
	}
}

// A version whose deployment failed in a stage, or whose analysis there did
// not pass, is no version to roll back to there, whatever the merges say:
// pinning it again is a promotion, judged in full.
func TestScenarioFailedRunIsNoRollback(t *testing.T) {
	into := gitops.Promotion{Kind: gitops.KindPromotion, Model: "fraud-detector", Version: "2.3.0", FromStage: "staging", ToStage: "production"}
	day := now.Add(-30 * time.Hour)
	for name, record := range map[string]func(db *sqlstore.DB){
		"deployment failed after its success": func(db *sqlstore.DB) {
			deployed(t, db, 1, "main", "production", "2.3.0", day, posted{"success", day.Add(time.Minute), ""},
				posted{"failure", day.Add(5 * time.Minute), ""})
		},
		"an earlier deployment erred": func(db *sqlstore.DB) {
			deployed(t, db, 1, "main", "production", "2.3.0", day.Add(-time.Hour), posted{"error", day.Add(-time.Hour), ""})
			deployed(t, db, 2, "main", "production", "2.3.0", day, posted{"success", day.Add(time.Minute), ""})
		},
		"analysis failed": func(db *sqlstore.DB) {
			deployed(t, db, 1, "main", "production", "2.3.0", day, posted{"success", day.Add(time.Minute), ""})
			analyzed(t, db, 1, "production", "2.3.0", day.Add(5*time.Minute), analysis.State{Phase: analysis.Failed})
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := returnTo230(t)
			db := auditLog(t)
			mergedPromotion(t, db, 9, "main", into, true)
			record(db)
			wantNoRollback(t, judgeRecorded(t, r, db, approvedOnce))
		})
	}
}

// However long a version stayed pinned, a failed deployment of it that the
// App recorded in the stage means it did not run well there: returning to
// it is judged as a promotion.
func TestScenarioFailureOutweighsTimePinned(t *testing.T) {
	r := backTo220(t)
	db := auditLog(t)
	day := now.Add(-90 * time.Hour)
	deployed(t, db, 1, "main", "production", "2.2.0", day, posted{"success", day.Add(time.Minute), ""},
		posted{"error", day.Add(time.Hour), ""})
	res := judgeRecorded(t, r, db, approvedByCompliance)
	wantDenied(t, res, "stage.skipped")
	if res.Judgements[0].Promotion.Rollback {
		t.Error("judged as a rollback")
	}
}

// A merged promotion is a run (SPEC §1) while its deployment has not
// reported, or succeeded and was replaced before its analysis concluded:
// only a failure takes the run away.
func TestScenarioMergedPromotionStillRunsWithoutVerdict(t *testing.T) {
	into := gitops.Promotion{Kind: gitops.KindPromotion, Model: "fraud-detector", Version: "2.3.0", FromStage: "staging", ToStage: "production"}
	day := now.Add(-30 * time.Hour)
	for name, record := range map[string]func(db *sqlstore.DB){
		"deployment not reported": func(db *sqlstore.DB) {
			deployed(t, db, 1, "main", "production", "2.3.0", day, posted{"in_progress", day.Add(time.Minute), ""})
		},
		"replaced with its analysis running": func(db *sqlstore.DB) {
			deployed(t, db, 1, "main", "production", "2.3.0", day, posted{"success", day.Add(time.Minute), ""})
			analyzed(t, db, 1, "production", "2.3.0", day.Add(2*time.Minute), analysis.State{Phase: analysis.Running})
			deployed(t, db, 2, "main", "production", "2.4.0", day.Add(time.Hour))
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := returnTo230(t)
			db := auditLog(t)
			mergedPromotion(t, db, 9, "main", into, true)
			record(db)
			res := judgeRecorded(t, r, db, approvedOnce)
			if !res.Allow || !res.Judgements[0].Promotion.Rollback {
				t.Fatalf("want an allowed rollback, got\n%s", denials(res))
			}
		})
	}
}

// stagingPins is the example repository, with fraud-detector 2.3.0 pinned in
// staging four days ago, and whatever pins follow on main; branch promote
// promotes 2.3.0 to production.
func stagingPins(t *testing.T, config string, pins ...func(r *gittest.Repo)) *gittest.Repo {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	if config != "" {
		r.Write(".modelgate/config.yaml", config)
	}
	r.Commit("example repository", now.Add(-96*time.Hour))
	for _, pin := range pins {
		pin(r)
	}
	r.Branch("promote")
	r.CopyDir(fraudPromotion)
	r.Commit("promote", now.Add(-time.Hour))
	return r
}

// pinStaging pins fraud-detector version in staging at the given time.
func pinStaging(t *testing.T, version string, at time.Time) func(r *gittest.Repo) {
	return func(r *gittest.Repo) {
		publish(t, r, version)
		r.Write("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: \""+version+"\", demand-forecast: \"1.4.0\"}\n")
		r.Commit("fraud-detector "+version+" to staging", at)
	}
}

// Where the App holds a deployment of the version in the stage, its soak
// runs from the deployment's success, not from the commit that pinned it.
func TestScenarioSoakFromDeploymentSuccess(t *testing.T) {
	r := stagingPins(t, "")
	if res := judgeRecorded(t, r, auditLog(t), approvedByCompliance); !res.Allow {
		t.Fatalf("pinned in staging four days ago, without deployment records: denied\n%s", denials(res))
	}
	pinned := now.Add(-96 * time.Hour)

	db := auditLog(t)
	deployed(t, db, 1, "main", "staging", "2.3.0", pinned, posted{"in_progress", pinned.Add(time.Minute), ""})
	res := judgeRecorded(t, r, db, approvedByCompliance)
	wantDenied(t, res, "stage.soak")
	if d := denials(res); !strings.Contains(d, "its deployment there has not succeeded (in_progress)") {
		t.Errorf("the reason does not say the deployment has not succeeded:\n%s", d)
	}

	deployed(t, db, 2, "main", "staging", "2.3.0", now.Add(-3*time.Hour), posted{"success", now.Add(-2 * time.Hour), ""})
	res = judgeRecorded(t, r, db, approvedByCompliance)
	wantDenied(t, res, "stage.soak")
	if d := denials(res); !strings.Contains(d, "has run in staging for 2h, less than staging's soak time of 24h") {
		t.Errorf("the soak is not counted from the deployment's success:\n%s", d)
	}

	db = auditLog(t)
	deployed(t, db, 1, "main", "staging", "2.3.0", pinned, posted{"success", now.Add(-24 * time.Hour), ""})
	if res := judgeRecorded(t, r, db, approvedByCompliance); !res.Allow {
		t.Fatalf("deployed in staging 24h ago: denied\n%s", denials(res))
	}
}

// Kargo #4238: a version that completed its soak in staging and was then
// replaced there may still enter production; one replaced before its soak
// ended may not, ever.
func TestScenarioReplacedAfterSoakMayBePromoted(t *testing.T) {
	pinned := now.Add(-96 * time.Hour)
	for _, tt := range []struct {
		name     string
		replaced time.Time
		allow    bool
	}{
		{"after its soak", now.Add(-10 * time.Hour), true},
		{"before its soak ended", pinned.Add(20 * time.Hour), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := stagingPins(t, "", pinStaging(t, "2.4.0", tt.replaced))
			db := auditLog(t)
			deployed(t, db, 1, "main", "staging", "2.3.0", pinned, posted{"success", pinned, ""})
			deployed(t, db, 2, "main", "staging", "2.4.0", tt.replaced, posted{"success", tt.replaced.Add(time.Minute), ""})
			// Judged on the App's records and on git history alone alike.
			for records, db := range map[string]*sqlstore.DB{"deployment records": db, "git history": auditLog(t)} {
				res := judgeRecorded(t, r, db, approvedByCompliance)
				if res.Judgements[0].Promotion.Rollback {
					t.Errorf("%s: judged as a rollback", records)
				}
				if tt.allow && !res.Allow {
					t.Errorf("%s: denied\n%s", records, denials(res))
				}
				if !tt.allow {
					wantDenied(t, res, "stage.soak")
					if d := denials(res); !strings.Contains(d, "ran only, before it was replaced, in staging for 20h") {
						t.Errorf("%s: the reason does not say how long it ran before it was replaced:\n%s", records, d)
					}
				}
			}
		})
	}
}

// stagingAnalysis is the example config with live analysis in staging.
const stagingAnalysis = `stages:
  - {name: dev}
  - name: staging
    soak: 24h
    analysis:
      prometheus: {address: "http://127.0.0.1:9090"}
      metrics:
        - {name: error-rate, query: "sum(rate(model_errors_total[5m]))", successCondition: result < 0.01, count: 12}
  - {name: production, soak: 72h}
` + appChecked

// Out of a stage with live analysis, a version moves on only once its
// analysis there passed.
func TestScenarioAnalysisMustPass(t *testing.T) {
	r := stagingPins(t, stagingAnalysis)
	deployedAt := now.Add(-30 * time.Hour)
	failed := analysis.State{Phase: analysis.Failed, Started: deployedAt, Metrics: []analysis.MetricState{{Name: "error-rate",
		Phase: analysis.Failed, Count: 3, Failed: 1, Message: "measurement 3 failed: result 0.07 does not meet result < 0.01"}}}
	for _, tt := range []struct {
		name  string
		state *analysis.State
		want  string
	}{
		{"no analysis", nil, "its run in staging has no analysis, which staging requires"},
		{"running", &analysis.State{Phase: analysis.Running, Started: deployedAt}, "its analysis in staging has not completed (Running)"},
		{"failed", &failed, "its analysis in staging failed: error-rate: measurement 3 failed: result 0.07 does not meet result < 0.01"},
		{"inconclusive", &analysis.State{Phase: analysis.Inconclusive, Started: deployedAt}, "its analysis in staging was inconclusive"},
		{"successful", &analysis.State{Phase: analysis.Successful, Started: deployedAt}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := auditLog(t)
			deployed(t, db, 1, "main", "staging", "2.3.0", deployedAt, posted{"success", deployedAt, ""})
			if tt.state != nil {
				analyzed(t, db, 1, "staging", "2.3.0", deployedAt.Add(time.Hour), *tt.state)
			}
			res := judgeRecorded(t, r, db, approvedByCompliance)
			if tt.want == "" {
				if !res.Allow {
					t.Fatalf("denied\n%s", denials(res))
				}
				return
			}
			wantDenied(t, res, "stage.analysis")
			if d := denials(res); !strings.Contains(d, "fraud-detector 2.3.0: "+tt.want) {
				t.Errorf("the reason does not say %q:\n%s", tt.want, d)
			}
		})
	}
}

// TestScenarioExampleOrganisationPolicy: the example repository's own policy
// (model_risk.rego) judges from the base branch beside the built-in ones: a
// high-risk model that one person owns does not enter production, however well
// it does otherwise.
func TestScenarioExampleOrganisationPolicy(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	publish(t, r, "2.4.0")
	manifest := "models/fraud-detector/2.4.0/model.yaml"
	data, err := os.ReadFile(r.Dir + "/" + manifest)
	if err != nil {
		t.Fatal(err)
	}
	r.Write(manifest, strings.Replace(string(data), `owner: "@acme/risk-ml"`, `owner: "@dana"`, 1))
	r.Write("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: \"2.4.0\", demand-forecast: \"1.4.0\"}\n")
	r.Commit("fraud-detector 2.4.0 in staging", now.Add(-96*time.Hour))
	r.Branch("promote")
	pinFraud(r, "2.4.0", now.Add(-time.Hour))
	res := judgeReal(t, r, approvedByCompliance)
	if got := codes(res); !slices.Equal(got, []string{"model_risk.owner"}) {
		t.Fatalf("denied %v, want only model_risk.owner:\n%s", got, denials(res))
	}
	if d := denials(res); !strings.Contains(d, "fraud-detector 2.4.0: a high-risk model runs in production only when a team owns it") || !strings.Contains(d, "@dana") {
		t.Errorf("the denial does not say whose model and why:\n%s", d)
	}
}

package gate_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/git"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/manifest"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// accuracyPolicy is a repository policy: the accuracy the checker reports must
// reach 0.9.
const accuracyPolicy = `package modelgate.accuracy

deny contains {"code": "evaluation.minimum", "msg": sprintf("%s %s: accuracy %v below 0.9", [input.promotion.model, input.promotion.version, input.evidence.accuracy])} if {
	input.promotion != null
	input.evidence.accuracy < 0.9
}

warn contains "policy change" if {
	some f in input.pull_request.changed_files
	startswith(f, ".modelgate/")
}
`

// checker reports a fixed accuracy after reading the manifest's current data, so
// that it fails where the data is missing as a real checker would.
type checker struct{ accuracy float64 }

func (c checker) Check(ctx context.Context, m *manifest.Manifest, files fs.FS, _ *gitops.Config) (json.RawMessage, error) {
	if m.Spec.Data != nil {
		if _, err := fs.ReadFile(files, m.Spec.Data.Current); err != nil {
			return nil, err
		}
	}
	return json.Marshal(map[string]any{"schema": "modelgate.evidence/v1", "accuracy": c.accuracy})
}

// repo is the example repository with the accuracy policy on main and a branch
// that promotes fraud-detector 2.3.0 to production.
func repo(t *testing.T, edit func(r *gittest.Repo)) *gittest.Repo {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Write(".modelgate/policies/accuracy.rego", accuracyPolicy)
	r.Commit("example repository", now.Add(-96*time.Hour))
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	if edit != nil {
		edit(r)
	}
	r.Commit("promote", now.Add(-time.Hour))
	return r
}

func judge(t *testing.T, r *gittest.Repo, c gate.Checker) *gate.Result {
	t.Helper()
	return judgeWith(t, r, c, nil, nil)
}

// judgeWith judges branch promote of r against main, as pull request 1 by alice
// with the approvals given on its head, with an empty audit log.
func judgeWith(t *testing.T, r *gittest.Repo, c gate.Checker, builtin []policy.Module, approvals []policy.Approval) *gate.Result {
	t.Helper()
	res, err := judgeOn(t, r, c, builtin, approvals, auditLog(t))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// auditLog is an empty SQLite audit log.
func auditLog(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// judgeOn is judgeWith with the audit log given: the run records and the
// uploaded evidence.
func judgeOn(t *testing.T, r *gittest.Repo, c gate.Checker, builtin []policy.Module, approvals []policy.Approval, db *sqlstore.DB) (*gate.Result, error) {
	t.Helper()
	ctx := context.Background()
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := git.Open(ctx, r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := repo.Resolve(ctx, "main")
	head, _ := repo.Resolve(ctx, "promote")
	onHead := []policy.Approval{}
	for _, a := range approvals {
		a.SHA = head
		onHead = append(onHead, a)
	}
	return gate.New(v, c, builtin, gate.AuditRuns{Log: db}, gate.AuditUploads{Log: db}, func() time.Time { return now }).Judge(ctx, gate.Request{
		Repo: repo, Repository: "acme/models", Base: base, Head: head,
		PullRequest: policy.PullRequest{Number: 1, Author: "alice", BaseRef: "main", Labels: []string{}, Approvals: onHead, Committers: []string{"alice"}},
	})
}

func denials(res *gate.Result) string {
	var codes []string
	for _, j := range res.Judgements {
		for _, m := range j.Decision.Deny {
			codes = append(codes, m.Code+": "+m.Text())
		}
	}
	return strings.Join(codes, "\n")
}

func TestAllowAndDeny(t *testing.T) {
	res := judge(t, repo(t, nil), checker{accuracy: 0.95})
	if !res.Allow || len(res.Judgements) != 1 || res.Judgements[0].Promotion.Model != "fraud-detector" || res.BundleDigest == "" {
		t.Errorf("want allow, got %+v\n%s", res, denials(res))
	}
	if ev := string(res.Judgements[0].Evidence); !strings.Contains(ev, `"accuracy":0.95`) {
		t.Errorf("evidence %s", ev)
	}
	res = judge(t, repo(t, nil), checker{accuracy: 0.85})
	if res.Allow || !strings.Contains(denials(res), "evaluation.minimum: fraud-detector 2.3.0: accuracy 0.85 below 0.9") {
		t.Errorf("want deny, got\n%s", denials(res))
	}
}

func TestAChangeCannotWeakenItsOwnGate(t *testing.T) {
	res := judge(t, repo(t, func(r *gittest.Repo) {
		r.Remove(".modelgate/policies/accuracy.rego")
		r.Write(".modelgate/policies/allow.rego", "package modelgate.allow\n\nwarn contains \"all good\" if true\n")
	}), checker{accuracy: 0.5})
	if res.Allow || !strings.Contains(denials(res), "accuracy 0.5 below 0.9") {
		t.Errorf("the head's policies were used:\n%s", denials(res))
	}
	if !res.Change.PolicyChange {
		t.Error("not flagged as a policy change")
	}
}

func TestBrokenBasePolicyDeniesEverything(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Write(".modelgate/policies/broken.rego", "package modelgate.broken\n\ndeny contains msg if {\n")
	r.Commit("broken policy", now.Add(-96*time.Hour))
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Commit("promote", now)
	res := judge(t, r, checker{accuracy: 0.99})
	if res.Allow || !strings.Contains(denials(res), "policy.compile: .modelgate/policies/broken.rego:4: unexpected eof token") {
		t.Errorf("want a compile denial naming the file:\n%s", denials(res))
	}
}

func TestInvalidChangeDenies(t *testing.T) {
	res := judge(t, repo(t, func(r *gittest.Repo) {
		r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: 2.3}\n")
	}), checker{accuracy: 0.99})
	if res.Allow || !strings.Contains(denials(res), "change.invalid: environments/production.yaml:2:26: models.fraud-detector: expected a string, got float 2.3") {
		t.Errorf("want an invalid change denial:\n%s", denials(res))
	}
	want := policy.Message{Code: gate.CodeInvalid, Msg: "models.fraud-detector: expected a string, got float 2.3", Package: "modelgate",
		Position: &policy.Position{File: "environments/production.yaml", Line: 2, Column: 26}}
	if d := res.Judgements[0].Decision.Deny; len(d) != 1 || !reflect.DeepEqual(d[0], want) {
		t.Errorf("denials %+v; want the problem with its position as data: %+v", d, want)
	}
	entries, err := res.AuditEntries()
	if err != nil || len(entries) != 1 || entries[0].Model != "" {
		t.Errorf("audit entries %+v, %v", entries, err)
	}
}

// TestEveryProblemKeepsItsPosition checks that the problems of several
// documents, joined, each keep their own place as data, and that what an
// error was wrapped in stays in its message.
func TestEveryProblemKeepsItsPosition(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Commit("example repository", now.Add(-96*time.Hour))
	r.Branch("promote")
	r.Write("environments/staging.yaml", "stage: staging\nmodels: [not, a, map]\n")
	r.Write("models/churn/1.0.0/model.yaml", "apiVersion: modelgate/v1\nkind: Model\nmetadata: {name: churn, version: \"1.0.0\", owner: 3}\n")
	r.Commit("promote", now.Add(-time.Hour))
	res := judge(t, r, checker{accuracy: 0.99})
	if res.Allow {
		t.Fatal("an unreadable change was allowed")
	}
	files := map[string]bool{}
	for _, j := range res.Judgements {
		for _, m := range j.Decision.Deny {
			if m.Code != gate.CodeInvalid || m.Position == nil || m.Position.Line < 1 || m.Position.Column < 1 {
				t.Errorf("denial %+v has no position", m)
				continue
			}
			if strings.HasPrefix(m.Msg, m.Position.File) {
				t.Errorf("message %q repeats its position %s", m.Msg, m.Position)
			}
			files[m.Position.File] = true
		}
	}
	if !files["environments/staging.yaml"] || !files["models/churn/1.0.0/model.yaml"] {
		t.Errorf("positions name %v; want both documents", files)
	}
}

func TestWrappedProblemKeepsItsContext(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Write(".modelgate/config.yaml", "stages: 3\n")
	r.Commit("a broken config", now.Add(-96*time.Hour))
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Commit("promote", now.Add(-time.Hour))
	res := judge(t, r, checker{accuracy: 0.99})
	d := res.Judgements[0].Decision.Deny
	if res.Allow || len(d) == 0 || d[0].Position == nil || d[0].Position.File != gitops.ConfigPath || !strings.HasPrefix(d[0].Msg, "base config: stages:") {
		t.Errorf("denials %+v; want the base config's problem at its place, saying it is the base's", d)
	}
}

// TestUnreadableManifestDenialNamesItsVersion checks that a manifest that
// does not parse is denied on the record of the model version its path
// names, so that the denial reaches that version's history.
func TestUnreadableManifestDenialNamesItsVersion(t *testing.T) {
	res := judge(t, repo(t, func(r *gittest.Repo) {
		r.Write("models/fraud-detector/9.0.0/model.yaml", "name: [broken\n")
		r.Write("models/churn/1.0.0/model.yaml", "model: {name: 3}\n")
	}), checker{accuracy: 0.99})
	if res.Allow || !strings.Contains(denials(res), "change.invalid: models/fraud-detector/9.0.0/model.yaml") {
		t.Fatalf("want an invalid change denial naming the manifest:\n%s", denials(res))
	}
	entries, err := res.AuditEntries()
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit entries %+v, %v; want one per model version named", entries, err)
	}
	got := map[string]string{entries[0].Model: entries[0].Version, entries[1].Model: entries[1].Version}
	if got["fraud-detector"] != "9.0.0" || got["churn"] != "1.0.0" || entries[0].Stage != "" {
		t.Errorf("audit entries name %v, want fraud-detector 9.0.0 and churn 1.0.0", got)
	}
	for _, e := range entries {
		if !strings.Contains(string(e.Payload), "models/fraud-detector/9.0.0/model.yaml") || !strings.Contains(string(e.Payload), "models/churn/1.0.0/model.yaml") {
			t.Errorf("record of %s lacks the whole change's denials: %s", e.Model, e.Payload)
		}
	}
}

type failingChecker struct{}

func (failingChecker) Check(context.Context, *manifest.Manifest, fs.FS, *gitops.Config) (json.RawMessage, error) {
	return nil, errors.New("data/current.csv: row 12, column amount: \"abc\" is not a number")
}

func TestChecksThatCannotRunDeny(t *testing.T) {
	res := judge(t, repo(t, nil), failingChecker{})
	if res.Allow || !strings.Contains(denials(res), `checks.failed: fraud-detector 2.3.0: the checks the manifest declares could not run: data/current.csv: row 12`) {
		t.Errorf("want a checks denial:\n%s", denials(res))
	}
}

func TestWaiverFromBase(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Write(".modelgate/policies/accuracy.rego", accuracyPolicy)
	r.Write(".modelgate/waivers.yaml", "waivers:\n  - {model: fraud-detector, version: 2.3.0, code: evaluation.minimum, reason: interim, approvedBy: board, expires: 2026-12-01}\n")
	r.Commit("example repository", now.Add(-96*time.Hour))
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Commit("promote", now)
	res := judge(t, r, checker{accuracy: 0.85})
	if !res.Allow {
		t.Fatalf("the waiver did not apply:\n%s", denials(res))
	}
	if w := res.Judgements[0].Decision.Warn; len(w) != 1 || w[0].Waiver == nil {
		t.Errorf("warnings %+v", w)
	}
}

func TestPolicyChangeWithoutPromotion(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Write(".modelgate/policies/accuracy.rego", accuracyPolicy)
	r.Commit("example repository", now.Add(-96*time.Hour))
	r.Branch("promote")
	r.Write(".modelgate/config.yaml", "# all defaults\n")
	r.Commit("simplify config", now)
	res := judge(t, r, checker{accuracy: 0.5})
	if len(res.Judgements) != 1 || res.Judgements[0].Promotion != nil || !res.Allow {
		t.Fatalf("want one change-level judgement, got %+v\n%s", res.Judgements, denials(res))
	}
	if w := res.Judgements[0].Decision.Warn; len(w) != 1 || w[0].Msg != "policy change" {
		t.Errorf("warnings %+v", w)
	}
}

package gitops_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/git"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/schema"
)

var t0 = time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

// exampleRepo is the example GitOps repository on main, landed at t0.
func exampleRepo(t *testing.T) *gittest.Repo {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Commit("example repository", t0)
	return r
}

func compute(t *testing.T, r *gittest.Repo, base, head string) (*gitops.Change, error) {
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
	b, err := repo.Resolve(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	h, err := repo.Resolve(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	return gitops.Compute(ctx, repo, v, b, h)
}

func mustCompute(t *testing.T, r *gittest.Repo, base, head string) *gitops.Change {
	t.Helper()
	c, err := compute(t, r, base, head)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	return c
}

func wantError(t *testing.T, r *gittest.Repo, want ...string) {
	t.Helper()
	_, err := compute(t, r, "main", "HEAD")
	if err == nil {
		t.Fatalf("Compute accepted the change; want an error with %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error\n%v\ndoes not contain %q", err, w)
		}
	}
}

// fileSHA256 is the hex SHA-256 of a file's bytes.
func fileSHA256(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestPromotionFromExample(t *testing.T) {
	r := exampleRepo(t)
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Commit("promote fraud-detector 2.3.0 to production", t0.Add(time.Hour))

	c := mustCompute(t, r, "main", "promote")
	if len(c.Promotions) != 1 {
		t.Fatalf("promotions = %+v, want one", c.Promotions)
	}
	p := c.Promotions[0]
	want := gitops.Promotion{Kind: gitops.KindPromotion, Model: "fraud-detector", Version: "2.3.0", FromVersion: "2.2.0", FromStage: "staging", ToStage: "production",
		ManifestPath: "models/fraud-detector/2.3.0/model.yaml", ManifestSHA256: fileSHA256(t, "../../examples/gitops/models/fraud-detector/2.3.0/model.yaml")}
	p.Manifest, want.Manifest = nil, nil
	if p != want {
		t.Errorf("promotion = %+v\nwant       %+v", p, want)
	}
	if m := c.Promotions[0].Manifest; m == nil || m.Spec.Fairness == nil || m.Spec.Fairness.ReferenceGroups["sex"] != "M" {
		t.Errorf("manifest not loaded: %+v", m)
	}
	if c.PolicyChange || len(c.Removals) != 0 || strings.Join(c.ChangedFiles, ",") != "environments/production.yaml" {
		t.Errorf("change = %+v", c)
	}
}

func TestRollback(t *testing.T) {
	r := exampleRepo(t)
	r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \"2.3.0\", demand-forecast: \"1.4.0\"}\n")
	r.Commit("promote fraud-detector 2.3.0", t0.Add(time.Hour))
	r.Branch("rollback")
	r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \"2.2.0\", demand-forecast: \"1.4.0\"}\n")
	r.Commit("roll back fraud-detector", t0.Add(2*time.Hour))

	c := mustCompute(t, r, "main", "rollback")
	if len(c.Promotions) != 1 || !c.Promotions[0].Rollback || c.Promotions[0].FromVersion != "2.3.0" {
		t.Errorf("promotions = %+v, want a rollback from 2.3.0 to 2.2.0", c.Promotions)
	}
}

func TestBaseMovedOnSinceBranching(t *testing.T) {
	r := exampleRepo(t)
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Commit("promote fraud-detector", t0.Add(time.Hour))
	r.Checkout("main")
	r.Write("environments/dev.yaml", "stage: dev\nmodels: {fraud-detector: \"2.3.0\", demand-forecast: \"1.4.0\"}\n")
	r.Commit("another change on main", t0.Add(2*time.Hour))

	c := mustCompute(t, r, "main", "promote")
	if len(c.Promotions) != 1 || c.Promotions[0].ToStage != "production" {
		t.Errorf("promotions = %+v; main's own later change must not appear", c.Promotions)
	}
}

func TestRemovalOfWhatTheBaseRunsNow(t *testing.T) {
	r := exampleRepo(t) // production runs fraud-detector 2.2.0 and demand-forecast 1.4.0
	r.Branch("retire")
	r.Write("environments/production.yaml", "stage: production\n")
	r.Commit("production runs nothing", t0.Add(time.Hour))
	r.Checkout("main")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \"2.3.0\"}\n")
	r.Commit("fraud-detector 2.3.0 to production, demand-forecast out", t0.Add(2*time.Hour))

	c := mustCompute(t, r, "main", "retire")
	want := []gitops.Removal{{Model: "fraud-detector", Version: "2.3.0", Stage: "production"}}
	if len(c.Promotions) != 0 || !slices.Equal(c.Removals, want) {
		t.Errorf("promotions %+v removals %+v; want removals %+v", c.Promotions, c.Removals, want)
	}
}

func TestRemovalAndPolicyChange(t *testing.T) {
	r := exampleRepo(t)
	r.Branch("retire")
	r.Write("environments/dev.yaml", "stage: dev\nmodels: {fraud-detector: \"2.3.0\"}\n")
	r.Write(".modelgate/policies/extra.rego", "package modelgate.extra\n")
	r.Commit("retire demand-forecast from dev", t0.Add(time.Hour))

	c := mustCompute(t, r, "main", "retire")
	if len(c.Promotions) != 0 || len(c.Removals) != 1 || c.Removals[0] != (gitops.Removal{Model: "demand-forecast", Version: "1.5.0", Stage: "dev"}) {
		t.Errorf("promotions %+v removals %+v", c.Promotions, c.Removals)
	}
	if !c.PolicyChange {
		t.Error("a change to .modelgate/ is not flagged as a policy change")
	}
}

func TestConfigComesFromBase(t *testing.T) {
	r := exampleRepo(t)
	r.Branch("sneaky")
	r.Write(".modelgate/config.yaml", "stages: [{name: dev}, {name: qa}, {name: staging}, {name: production}]\n")
	r.Write("environments/qa.yaml", "stage: qa\nmodels: {fraud-detector: \"2.3.0\"}\n")
	r.Commit("add a qa stage and use it at once", t0.Add(time.Hour))
	wantError(t, r, `environments/qa.yaml: stage "qa" is not one of the stages of .modelgate/config.yaml (dev, staging, production)`)
}

func TestInvalidChanges(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(r *gittest.Repo)
		wants []string
	}{
		{"malformed environment file", func(r *gittest.Repo) {
			r.Write("environments/production.yaml", "stage: production\nmodels:\n  fraud-detector: 2.3\n")
		}, []string{`environments/production.yaml:3:19: models.fraud-detector: expected a string, got float 2.3`}},
		{"stage disagrees with file name", func(r *gittest.Repo) {
			r.Write("environments/production.yaml", "stage: staging\nmodels: {fraud-detector: \"2.3.0\"}\n")
		}, []string{`environments/production.yaml: declares stage "staging" but the file is named for stage "production"`}},
		{"pin without a manifest", func(r *gittest.Repo) {
			r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \"9.9.9\"}\n")
		}, []string{`environments/production.yaml pins fraud-detector 9.9.9: models/fraud-detector/9.9.9/ does not exist`}},
		{"manifest in the wrong folder", func(r *gittest.Repo) {
			data, err := os.ReadFile("../../examples/gitops/models/fraud-detector/2.3.0/model.yaml")
			if err != nil {
				t.Fatal(err)
			}
			r.Write("models/fraud-detector/2.4.0/model.yaml", string(data))
			r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \"2.4.0\"}\n")
		}, []string{`models/fraud-detector/2.4.0/model.yaml: the manifest declares fraud-detector 2.3.0 but is in models/fraud-detector/2.4.0/`}},
		{"invalid manifest of a new version", func(r *gittest.Repo) {
			r.Write("models/fraud-detector/2.4.0/model.yaml", "apiVersion: modelgate/v1\nkind: Model\nmetadata: {name: fraud-detector, version: 2.4.0, owner: \"@acme\", riskTier: huge}\n")
		}, []string{`models/fraud-detector/2.4.0/model.yaml:3:`, `metadata.riskTier: value "huge" is not one of low, medium, high`}},
		{"edited released version", func(r *gittest.Repo) {
			r.Write("models/fraud-detector/2.2.0/data/current.csv", "txn_id\n1\n")
		}, []string{`models/fraud-detector/2.2.0/data/current.csv: models/fraud-detector/2.2.0 already exists on the base branch and model versions are immutable`}},
		{"not an environment file", func(r *gittest.Repo) {
			r.Write("environments/prod.yml", "stage: prod\n")
		}, []string{`environments/prod.yml: not an environment file (expected environments/<stage>.yaml)`}},
		{"every problem is reported", func(r *gittest.Repo) {
			r.Write("environments/prod.yml", "stage: prod\n")
			r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \"9.9.9\"}\n")
		}, []string{`environments/prod.yml`, `fraud-detector 9.9.9`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := exampleRepo(t)
			r.Branch("change")
			tt.edit(r)
			r.Commit(tt.name, t0.Add(time.Hour))
			wantError(t, r, tt.wants...)
		})
	}
}

func TestPinHistorySince(t *testing.T) {
	r := exampleRepo(t) // staging runs fraud-detector 2.3.0 since t0
	r.Write("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: \"2.3.0\", demand-forecast: \"1.5.0\"}\n")
	head := r.Commit("promote demand-forecast to staging", t0.Add(48*time.Hour))

	ctx := context.Background()
	v, _ := schema.New()
	repo, err := git.Open(ctx, r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := gitops.PinHistory(ctx, repo, v, head, "staging")
	if err != nil {
		t.Fatal(err)
	}
	if since, ok := h.Since("fraud-detector", "2.3.0"); !ok || !since.Equal(t0) {
		t.Errorf("fraud-detector 2.3.0 in staging since %v, %v; want %v", since, ok, t0)
	}
	if since, ok := h.Since("demand-forecast", "1.5.0"); !ok || !since.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("demand-forecast 1.5.0 in staging since %v, %v", since, ok)
	}
	if _, ok := h.Since("demand-forecast", "1.4.0"); ok {
		t.Error("demand-forecast 1.4.0 no longer runs in staging")
	}
	if !h.Ran("demand-forecast", "1.4.0", 48*time.Hour) {
		t.Error("demand-forecast 1.4.0 ran in staging for 48h before")
	}
}

// pinHistory reads the stage's history on main.
func pinHistory(t *testing.T, r *gittest.Repo, stage string) gitops.History {
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
	head, err := repo.Resolve(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	h, err := gitops.PinHistory(ctx, repo, v, head, stage)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func pinProduction(r *gittest.Repo, fraud string, at time.Time) {
	r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \""+fraud+"\", demand-forecast: \"1.4.0\"}\n")
	r.Commit("fraud-detector "+fraud+" in production", at)
}

func TestPinHistoryRanOnlyForLongEnough(t *testing.T) {
	r := exampleRepo(t) // production runs fraud-detector 2.2.0 since t0
	pinProduction(r, "2.3.0", t0.Add(72*time.Hour))
	// Pinned and unpinned by one rebase-merged pull request: both commits
	// carry the merge's committer time.
	pinProduction(r, "9.0.0", t0.Add(80*time.Hour))
	pinProduction(r, "2.3.0", t0.Add(80*time.Hour))
	pinProduction(r, "9.1.0", t0.Add(90*time.Hour))
	pinProduction(r, "2.3.0", t0.Add(90*time.Hour+59*time.Minute))
	h := pinHistory(t, r, "production")
	for _, tt := range []struct {
		version string
		min     time.Duration
		want    bool
	}{
		{"2.2.0", time.Hour, true},       // 72h
		{"2.2.0", 73 * time.Hour, false}, // 72h
		{"9.0.0", time.Hour, false},      // no time at all
		{"9.0.0", 0, true},
		{"9.1.0", time.Hour, false}, // 59m
		{"9.1.0", 59 * time.Minute, true},
		{"2.3.0", time.Hour, true},     // 8h, then 10h: the run going on is not counted
		{"2.3.0", 9 * time.Hour, true}, // 10h
		{"2.3.0", 11 * time.Hour, false},
		{"1.0.0", 0, false},
	} {
		if got := h.Ran("fraud-detector", tt.version, tt.min); got != tt.want {
			t.Errorf("Ran(fraud-detector %s, %v) = %v, want %v", tt.version, tt.min, got, tt.want)
		}
	}
}

func TestPinHistoryDeletionAndMalformedFileEndARun(t *testing.T) {
	r := exampleRepo(t) // production runs fraud-detector 2.2.0 since t0
	r.Remove("environments/production.yaml")
	r.Commit("production runs nothing", t0.Add(time.Minute))
	pinProduction(r, "2.2.0", t0.Add(48*time.Hour))
	r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: 2.2}\n")
	r.Commit("a malformed pin", t0.Add(48*time.Hour+59*time.Minute))
	pinProduction(r, "2.2.0", t0.Add(96*time.Hour))
	pinProduction(r, "2.3.0", t0.Add(96*time.Hour+30*time.Minute))
	h := pinHistory(t, r, "production")
	if h.Ran("fraud-detector", "2.2.0", time.Hour) {
		t.Errorf("2.2.0 ran for 1m, 59m and 30m, never an hour on end; history %+v", h)
	}
	r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: 2.2}\n")
	r.Commit("a malformed pin", t0.Add(97*time.Hour))
	pinProduction(r, "2.3.0", t0.Add(98*time.Hour))
	if since, ok := pinHistory(t, r, "production").Since("fraud-detector", "2.3.0"); !ok || !since.Equal(t0.Add(98*time.Hour)) {
		t.Errorf("2.3.0 in production since %v, %v; want %v, after the malformed pin", since, ok, t0.Add(98*time.Hour))
	}
}

func TestModelVersionOf(t *testing.T) {
	for p, want := range map[string][3]string{
		"models/churn/1.4.0/model.yaml":   {"churn", "1.4.0", "true"},
		"models/churn/1.4.0/data/x.csv":   {"churn", "1.4.0", "true"},
		"models/churn/1.4.0":              {"", "", "false"},
		"environments/production.yaml":    {"", "", "false"},
		"models/../1.4.0/model.yaml":      {"", "", "false"},
		"./models/churn/2.0.0/model.yaml": {"churn", "2.0.0", "true"},
	} {
		m, v, ok := gitops.ModelVersionOf(p)
		if m != want[0] || v != want[1] || fmt.Sprint(ok) != want[2] {
			t.Errorf("ModelVersionOf(%q) = %q, %q, %v; want %v", p, m, v, ok, want)
		}
	}
}

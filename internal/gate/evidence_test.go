package gate_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/manifest"
	"github.com/modelgate/modelgate/policies"
)

const (
	trustedWorkflow = "acme/fraud-training/.github/workflows/evidence.yml@refs/heads/main"
	fraudManifest   = "models/fraud-detector/2.3.0/model.yaml"
)

// trustingConfig is the example's config with the default evidence rule
// (high risk needs trusted evidence) and one trusted workflow.
func trustingConfig(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../examples/gitops/.modelgate/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, ok := strings.Cut(string(data), "\nevidence:\n")
	if !ok {
		t.Fatal("the example config has no evidence key")
	}
	return cfg + "\nevidence:\n  trustedWorkflows: [" + trustedWorkflow + "]\n"
}

// countingChecker is the real checker, counting its runs.
type countingChecker struct{ runs atomic.Int32 }

func (c *countingChecker) Check(ctx context.Context, m *manifest.Manifest, files fs.FS, cfg *gitops.Config) (json.RawMessage, error) {
	c.runs.Add(1)
	return gate.Checks{}.Check(ctx, m, files, cfg)
}

// uploadScenario is the example repository with the trusting config, and
// branch promote promoting fraud-detector 2.3.0 into production; it returns
// the head.
func uploadScenario(t *testing.T, edit func(r *gittest.Repo)) (*gittest.Repo, string) {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Write(".modelgate/config.yaml", trustingConfig(t))
	r.Commit("example repository", now.Add(-96*time.Hour))
	r.Branch("promote")
	r.CopyDir(fraudPromotion)
	if edit != nil {
		edit(r)
	}
	head := r.Commit("promote", now.Add(-time.Hour))
	return r, head
}

// uploaded records an accepted upload for fraud-detector version at the head:
// the checks' evidence on the example's 2.3.0 files, with the ROC AUC given,
// for a manifest of the digest given.
func uploaded(t *testing.T, db *sqlstore.DB, head, version, workflow, digest string, rocAUC float64) {
	t.Helper()
	ctx := context.Background()
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := "../../examples/gitops/models/fraud-detector/2.3.0"
	data, err := os.ReadFile(dir + "/model.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := gitops.ParseManifest(v, fraudManifest, data)
	if err != nil {
		t.Fatal(err)
	}
	var cfg gitops.Config
	if err := v.Decode(schema.Config, gitops.ConfigPath, []byte(trustingConfig(t)), &cfg); err != nil {
		t.Fatal(err)
	}
	doc, err := gate.Checks{}.Check(ctx, m, os.DirFS(dir), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := manifest.Dir("fraud-detector", version) + "/model.yaml"
	var ev map[string]any
	if err := json.Unmarshal(doc, &ev); err != nil {
		t.Fatal(err)
	}
	ev["evaluation"].(map[string]any)["metrics"].(map[string]any)["roc_auc"] = rocAUC
	ev["model"] = map[string]any{"name": "fraud-detector", "version": version}
	ev["manifest"] = map[string]any{"path": path, "sha256": digest}
	doc, _ = json.Marshal(ev)
	verified := now.Add(-30 * time.Minute)
	payload, _ := json.Marshal(audit.EvidencePayload{Manifest: path, ManifestSHA256: digest, Evidence: doc, VerifiedAt: verified,
		Claims: audit.WorkflowClaims{Repository: "acme/models", JobWorkflowRef: workflow, RunID: "7312", Actor: "ci-bot"}})
	if _, err := db.Append(ctx, audit.Entry{Kind: audit.KindEvidence, Repository: "acme/models", PullRequest: 1, HeadSHA: head,
		Model: "fraud-detector", Version: version, Actor: "ci-bot", Payload: payload}); err != nil {
		t.Fatal(err)
	}
}

// headDigest is the digest of a fraud-detector manifest in the work tree.
func headDigest(t *testing.T, r *gittest.Repo, version string) string {
	t.Helper()
	data, err := os.ReadFile(r.Dir + "/" + manifest.Dir("fraud-detector", version) + "/model.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func judgeUploads(t *testing.T, r *gittest.Repo, db *sqlstore.DB, c gate.Checker) *gate.Result {
	t.Helper()
	res, err := judgeOn(t, r, c, policies.Modules(), approvedByCompliance, db)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// By default a high-risk model is judged only on evidence a trusted workflow
// uploaded: the App's own checks on the repository's files do not do.
func TestHighRiskNeedsTrustedEvidence(t *testing.T) {
	r, _ := uploadScenario(t, nil)
	c := &countingChecker{}
	res := judgeUploads(t, r, auditLog(t), c)
	wantDenied(t, res, "evidence.untrusted")
	if src := res.Judgements[0].EvidenceSource; src == nil || src.Kind != policy.EvidenceApp || c.runs.Load() != 1 {
		t.Errorf("evidence source %+v after %d checker runs; want the App's, once", src, c.runs.Load())
	}
	if d := denials(res); !strings.Contains(d, "upload it with modelgate evidence upload from "+trustedWorkflow) {
		t.Errorf("the denial does not say how to upload:\n%s", d)
	}
}

// The newest upload for the head's manifest from a trusted workflow judges
// the promotion, and the checker does not run.
func TestUploadedEvidenceJudges(t *testing.T) {
	r, head := uploadScenario(t, nil)
	db := auditLog(t)
	digest := headDigest(t, r, "2.3.0")
	uploaded(t, db, head, "2.3.0", trustedWorkflow, digest, 0.5) // superseded
	uploaded(t, db, head, "2.3.0", trustedWorkflow, digest, 0.9)
	c := &countingChecker{}
	res := judgeUploads(t, r, db, c)
	if !res.Allow {
		t.Fatalf("denied:\n%s", denials(res))
	}
	j := res.Judgements[0]
	want := policy.EvidenceSource{Kind: policy.EvidenceOIDC, Workflow: trustedWorkflow, RunID: "7312", VerifiedAt: now.Add(-30 * time.Minute).Format(time.RFC3339)}
	if j.EvidenceSource == nil || *j.EvidenceSource != want || c.runs.Load() != 0 {
		t.Errorf("evidence source %+v after %d checker runs; want %+v and none", j.EvidenceSource, c.runs.Load(), want)
	}
	if !strings.Contains(string(j.Evidence), `"roc_auc":0.9`) {
		t.Errorf("not judged on the newest upload: %.300s", j.Evidence)
	}
	entries, err := res.AuditEntries()
	if err != nil {
		t.Fatal(err)
	}
	var rec gate.DecisionRecord
	if err := json.Unmarshal(entries[0].Payload, &rec); err != nil || rec.EvidenceSource == nil || *rec.EvidenceSource != want {
		t.Errorf("the decision record names evidence source %+v (%v); want %+v", rec.EvidenceSource, err, want)
	}
}

// An upload counts only for the manifest it names, byte for byte, at the head
// it was made for, and only from a workflow the base branch trusts now.
func TestUploadsThatDoNotCount(t *testing.T) {
	for _, tt := range []struct {
		name     string
		workflow string
		digest   func(string) string
		head     func(string) string
	}{
		{"untrusted workflow", "acme/models/.github/workflows/evidence.yml@refs/heads/promote", nil, nil},
		{"another manifest", trustedWorkflow, func(string) string { return strings.Repeat("0", 64) }, nil},
		{"another head", trustedWorkflow, nil, func(string) string { return strings.Repeat("1", 40) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, head := uploadScenario(t, nil)
			db := auditLog(t)
			digest := headDigest(t, r, "2.3.0")
			if tt.digest != nil {
				digest = tt.digest(digest)
			}
			at := head
			if tt.head != nil {
				at = tt.head(head)
			}
			uploaded(t, db, at, "2.3.0", tt.workflow, digest, 0.9)
			c := &countingChecker{}
			res := judgeUploads(t, r, db, c)
			wantDenied(t, res, "evidence.untrusted")
			if src := res.Judgements[0].EvidenceSource; src == nil || src.Kind != policy.EvidenceApp || c.runs.Load() != 1 {
				t.Errorf("evidence source %+v after %d checker runs; want the App's own checks", src, c.runs.Load())
			}
		})
	}
}

// The allow-list is the base branch's: one the pull request adds trusts
// nothing.
func TestAllowListOfThePullRequestDoesNotCount(t *testing.T) {
	const own = "acme/models/.github/workflows/evidence.yml@refs/heads/promote"
	r, head := uploadScenario(t, func(r *gittest.Repo) {
		cfg := strings.Replace(trustingConfig(t), "["+trustedWorkflow+"]", "["+trustedWorkflow+", "+own+"]", 1)
		r.Write(".modelgate/config.yaml", cfg)
	})
	db := auditLog(t)
	uploaded(t, db, head, "2.3.0", own, headDigest(t, r, "2.3.0"), 0.9)
	res := judgeUploads(t, r, db, &countingChecker{})
	wantDenied(t, res, "evidence.untrusted")
}

// Data named by URI cannot be read by the gate: without an upload the
// promotion is denied and says why; with one it is judged on it.
func TestDataByURIIsJudgedOnlyOnUploads(t *testing.T) {
	const m240 = "models/fraud-detector/2.4.0/model.yaml"
	r, head := uploadScenario(t, func(r *gittest.Repo) {
		r.Git("checkout", "-q", "main", "--", "environments/production.yaml")
		newVersion(t, r, func(r *gittest.Repo) {
			data, err := os.ReadFile(r.Dir + "/" + m240)
			if err != nil {
				t.Fatal(err)
			}
			r.Write(m240, strings.Replace(string(data), "current: data/current.csv", "current: s3://acme-ml/fraud/current.csv", 1))
			r.Remove("models/fraud-detector/2.4.0/data/current.csv")
		})
	})
	c := &countingChecker{}
	res := judgeUploads(t, r, auditLog(t), c)
	wantDenied(t, res, gate.CodeEvidenceRequired)
	if d := denials(res); !strings.Contains(d, "s3://acme-ml/fraud/current.csv") || !strings.Contains(d, "uploaded by a workflow that config.evidence.trustedWorkflows lists") || c.runs.Load() != 0 {
		t.Errorf("after %d checker runs, the denial does not say the data is judged only on uploads:\n%s", c.runs.Load(), d)
	}

	db := auditLog(t)
	uploaded(t, db, head, "2.4.0", trustedWorkflow, headDigest(t, r, "2.4.0"), 0.9)
	if res := judgeUploads(t, r, db, c); !res.Allow || c.runs.Load() != 0 {
		t.Errorf("with an upload: allow %t after %d checker runs\n%s", res.Allow, c.runs.Load(), denials(res))
	}
}

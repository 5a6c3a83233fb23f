package service_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/oidc"
	"github.com/modelgate/modelgate/internal/oidctest"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
	"github.com/modelgate/modelgate/internal/upload"
)

const (
	oidcAudience     = "https://modelgate.acme.test"
	evidenceWorkflow = "acme/fraud-training/.github/workflows/evidence.yml@refs/heads/main"
	fraudManifest    = "models/fraud-detector/2.3.0/model.yaml"
	fraudDir         = "models/fraud-detector/2.3.0"
)

// trustEvidence makes the base branch's config the example's with the
// default evidence rule, high risk judged only on uploads, and the
// training repository's reusable workflow trusted.
func trustEvidence(t testing.TB) func(r *gittest.Repo) {
	return func(r *gittest.Repo) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(r.Dir, gitops.ConfigPath))
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, ok := strings.Cut(string(data), "\nevidence:\n")
		if !ok {
			t.Fatal("the example config has no evidence key")
		}
		r.Write(gitops.ConfigPath, cfg+"\nevidence:\n  trustedWorkflows: ["+evidenceWorkflow+"]\n")
	}
}

// uploads is a world whose App takes uploads from a loopback OIDC issuer,
// with the promotion of fraud-detector 2.3.0 into production open as n.
type uploads struct {
	*world
	issuer *oidctest.Issuer
	n      int
	head   string
	// dataDir is the folder of the promoted version's data files.
	dataDir string
}

func newUploads(t testing.TB, dsn string, o options) *uploads {
	t.Helper()
	iss := oidctest.NewIssuer(t)
	o.mainEdits, o.oidcIssuer, o.oidcAudience = trustEvidence(t), iss.URL, oidcAudience
	w := newWorld(t, dsn, o)
	iss.Now = w.gh.Now
	n := w.open("alice")
	return &uploads{world: w, issuer: iss, n: n, head: w.gh.PullRequest(repoName, n).HeadSHA, dataDir: fraudDir}
}

// approved has the reviews production needs given, without their webhooks:
// the upload is what has the pull request judged.
func (u *uploads) approved() {
	u.gh.SubmitReview(repoName, u.n, "bob", "APPROVED")
	u.gh.SubmitReview(repoName, u.n, "carol", "APPROVED")
}

// claims are those of a job of the training repository's reusable workflow,
// called by a workflow of acme/models run on sha at ref.
func (u *uploads) claims(sha, ref string) oidctest.Claims {
	c := u.issuer.Claims(repoName, sha, ref, evidenceWorkflow)
	c["aud"] = oidcAudience
	c["repository_id"] = strconv.FormatInt(u.gh.RepoID(repoName), 10)
	c["actor"] = "ci-bot"
	return c
}

// evidence is what modelgate check computes for the example's 2.3.0, naming
// its manifest.
func (u *uploads) evidence() json.RawMessage {
	u.t.Helper()
	v, err := schema.New()
	if err != nil {
		u.t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(u.work.Dir, fraudManifest))
	if err != nil {
		u.t.Fatal(err)
	}
	m, err := gitops.ParseManifest(v, fraudManifest, data)
	if err != nil {
		u.t.Fatal(err)
	}
	var cfg gitops.Config
	if err := v.Decode(schema.Config, gitops.ConfigPath, nil, &cfg); err != nil {
		u.t.Fatal(err)
	}
	ev, err := gate.RunChecks(u.t.Context(), m, os.DirFS(filepath.Join(u.work.Dir, fraudDir)), &cfg)
	if err != nil {
		u.t.Fatal(err)
	}
	ev.Manifest = &checks.ManifestDigest{Path: fraudManifest, SHA256: fileDigest(u.t, filepath.Join(u.work.Dir, fraudManifest))}
	doc, err := json.Marshal(ev)
	if err != nil {
		u.t.Fatal(err)
	}
	return doc
}

// post uploads with the headers given and returns the status and body.
func (u *uploads) post(token string, body []byte, header map[string]string) (int, []byte) {
	u.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u.url+upload.Path, bytes.NewReader(body))
	if err != nil {
		u.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, answer
}

func (u *uploads) body(r upload.Request) []byte {
	u.t.Helper()
	if r.Manifest == "" {
		r.Manifest = fraudManifest
	}
	if r.Evidence == nil {
		r.Evidence = u.evidence()
	}
	b, err := json.Marshal(r)
	if err != nil {
		u.t.Fatal(err)
	}
	return b
}

// accept posts an upload that must be accepted.
func (u *uploads) accept(token string, r upload.Request) upload.Accepted {
	u.t.Helper()
	status, answer := u.post(token, u.body(r), nil)
	var acc upload.Accepted
	if status != http.StatusCreated || json.Unmarshal(answer, &acc) != nil {
		u.t.Fatalf("upload: %d %s; want 201", status, answer)
	}
	if acc.Repository != repoName || acc.PullRequest != u.n || acc.HeadSHA != u.head || acc.Model != "fraud-detector" || acc.Version != "2.3.0" || acc.ID == 0 {
		u.t.Errorf("accepted %+v; want fraud-detector 2.3.0 for %s#%d at %s", acc, repoName, u.n, u.head)
	}
	return acc
}

func fileDigest(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// dataFiles are the data files of the promoted version, as its manifest
// names them.
var dataFiles = []string{"data/reference.csv", "data/current.csv", "eval/predictions.csv", "eval/baseline_predictions.csv"}

// dataBlobs are the blob SHAs of the data files of the promoted version, as
// git names them.
func (u *uploads) dataBlobs() []string {
	u.t.Helper()
	var blobs []string
	for _, f := range dataFiles {
		blobs = append(blobs, strings.TrimSpace(u.work.Git("rev-parse", "promote:"+u.dataDir+"/"+f)))
	}
	return blobs
}

// judgedOnUpload checks that the App's last decision on the head was made
// on the upload, without reading a data file, and allowed the promotion.
func (u *uploads) judgedOnUpload(run string) {
	u.t.Helper()
	if rec := u.onUpload(run); !rec.Decision.Allow {
		u.t.Errorf("the high-risk promotion judged on trusted evidence is denied: %+v", rec.Decision.Deny)
	}
}

// onUpload checks that the App's last decision on the head was made on the
// upload of run, without reading a data file, and returns it.
func (u *uploads) onUpload(run string) gate.DecisionRecord {
	u.t.Helper()
	decisions := u.records(audit.Filter{Kind: audit.KindDecision, PullRequest: u.n, HeadSHA: u.head})
	if len(decisions) == 0 {
		u.t.Fatal("the upload was not judged")
	}
	var rec gate.DecisionRecord
	if err := json.Unmarshal(decisions[len(decisions)-1].Payload, &rec); err != nil {
		u.t.Fatal(err)
	}
	if src := rec.EvidenceSource; src == nil || src.Kind != policy.EvidenceOIDC || src.Workflow != evidenceWorkflow || src.RunID != run {
		u.t.Errorf("judged on evidence from %+v; want the upload of run %s by %s", rec.EvidenceSource, run, evidenceWorkflow)
	}
	for _, c := range u.gh.Calls() {
		for _, b := range u.dataBlobs() {
			if strings.Contains(c.Path, b) {
				u.t.Errorf("the App read a data file (%s %s) though the evidence was uploaded", c.Method, c.Path)
			}
		}
		for _, f := range dataFiles {
			if strings.Contains(c.Path, u.dataDir+"/"+f) {
				u.t.Errorf("the App read a data file by its path (%s %s) though the evidence was uploaded", c.Method, c.Path)
			}
		}
	}
	return rec
}

// judgedOnOwnChecks checks that the App's only decision on the head was
// made on its own checks, and that the default rule denied the high-risk
// promotion on them.
func (u *uploads) judgedOnOwnChecks() {
	u.t.Helper()
	decisions := payloads[gate.DecisionRecord](u.t, u.records(audit.Filter{Kind: audit.KindDecision, PullRequest: u.n}))
	if len(decisions) != 1 || decisions[0].EvidenceSource == nil || decisions[0].EvidenceSource.Kind != policy.EvidenceApp {
		u.t.Fatalf("decisions %+v; want one on the App's own checks", decisions)
	}
	found := false
	for _, m := range decisions[0].Decision.Deny {
		found = found || m.Code == "evidence.untrusted"
	}
	if !found {
		u.t.Errorf("not denied evidence.untrusted: %+v", decisions[0].Decision.Deny)
	}
}

// A pull_request workflow's token names the test merge commit: a merge of
// the head into the base, so the evidence is bound to the head. The App
// judges the pull request again on it, reads none of the data, and the
// high-risk promotion, approved, is merged.
func TestEvidenceUploadedByAPullRequestRun(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		u := newUploads(t, dsn, options{})
		u.approved()
		merge := u.gh.TestMerge(repoName, u.n)
		c := u.claims(merge, "refs/pull/"+strconv.Itoa(u.n)+"/merge")
		acc := u.accept(u.issuer.Sign(c), upload.Request{})
		u.settle()
		u.judgedOnUpload(c["run_id"].(string))
		if !u.gh.PullRequest(repoName, u.n).Merged {
			t.Errorf("the approved promotion judged on trusted evidence was not merged")
		}

		recs := u.records(audit.Filter{Kind: audit.KindEvidence, PullRequest: u.n})
		if len(recs) != 1 || recs[0].Seq != acc.ID || recs[0].HeadSHA != u.head || recs[0].Actor != "ci-bot" || recs[0].Model != "fraud-detector" {
			t.Fatalf("evidence records %+v; want the one accepted, for the head, by the token's actor", recs)
		}
		p := payloads[audit.EvidencePayload](t, recs)[0]
		if p.MergeCommit != merge || p.Claims.JobWorkflowRef != evidenceWorkflow || p.Claims.RunID != c["run_id"] || p.Claims.JTI != c["jti"] ||
			p.Manifest != fraudManifest || p.ManifestSHA256 != fileDigest(t, filepath.Join(u.work.Dir, fraudManifest)) {
			t.Errorf("evidence record %+v", p)
		}
	})
}

// A push workflow's token names the head itself; the upload names the pull
// request.
func TestEvidenceUploadedByAPushRun(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		u := newUploads(t, dsn, options{})
		u.approved()
		c := u.claims(u.head, "refs/heads/promote")
		u.accept(u.issuer.Sign(c), upload.Request{PullRequest: u.n})
		u.settle()
		u.judgedOnUpload(c["run_id"].(string))
		p := payloads[audit.EvidencePayload](t, u.records(audit.Filter{Kind: audit.KindEvidence}))[0]
		if p.MergeCommit != "" || p.Claims.EventName != "push" {
			t.Errorf("evidence record %+v; want no merge commit for a push run", p)
		}
	})
}

// Without an upload the App's own checks judge, and the default rule denies
// the high-risk promotion on them.
func TestHighRiskPromotionWithoutUploadDenied(t *testing.T) {
	u := newUploads(t, filepath.Join(t.TempDir(), "modelgate.db"), options{})
	u.deliver(u.gh.PullRequestEvent(repoName, u.n, "opened"), http.StatusAccepted)
	u.settle()
	u.judgedOnOwnChecks()
	// The App read the data itself: what the tests of uploads look for.
	read := map[string]bool{}
	for _, c := range u.gh.Calls() {
		for _, b := range u.dataBlobs() {
			read[b] = read[b] || strings.Contains(c.Path, b)
		}
	}
	if len(read) != 4 || slices.Contains(slices.Collect(maps.Values(read)), false) {
		t.Errorf("the App's own checks read the data blobs %v; want all four", read)
	}
}

// Every forged or misdirected upload is refused with the reason, as JSON,
// and an audit record; what was verified of its token is recorded with it.
func TestForgedUploadsRefused(t *testing.T) {
	const own = "acme/models/.github/workflows/evidence.yml@refs/heads/promote"
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		u := newUploads(t, dsn, options{extraEdits: func(r *gittest.Repo) {
			// The pull request trusts a workflow of its own.
			data, err := os.ReadFile(filepath.Join(r.Dir, gitops.ConfigPath))
			if err != nil {
				t.Fatal(err)
			}
			r.Write(gitops.ConfigPath, strings.Replace(string(data), "["+evidenceWorkflow+"]", "["+evidenceWorkflow+", "+own+"]", 1))
		}})
		push := func() oidctest.Claims { return u.claims(u.head, "refs/heads/promote") }
		pr := upload.Request{PullRequest: u.n}
		now := u.gh.Now()
		main := u.gh.Branch(repoName, "main")
		otherKey := oidctest.NewKey(t)

		// A commit that is not on the base branch, to merge the head into.
		u.work.Branch("elsewhere")
		u.work.Write("elsewhere.txt", "not on main\n")
		elsewhere := u.work.Commit("elsewhere", now.Add(-30*time.Minute))
		u.work.Checkout("main")
		u.gh.Push(repoName, "elsewhere", "mallory")

		replayed := u.issuer.Sign(push())
		u.accept(replayed, pr)

		// The evidence, edited.
		edited := func(edit func(ev map[string]any)) json.RawMessage {
			var ev map[string]any
			if err := json.Unmarshal(u.evidence(), &ev); err != nil {
				t.Fatal(err)
			}
			edit(ev)
			doc, _ := json.Marshal(ev)
			return doc
		}
		otherManifest := edited(func(ev map[string]any) { ev["manifest"].(map[string]any)["sha256"] = strings.Repeat("0", 64) })
		otherVersion := edited(func(ev map[string]any) { ev["model"].(map[string]any)["version"] = "2.3.1" })
		otherInputs := edited(func(ev map[string]any) {
			ev["inputs"].([]any)[0].(map[string]any)["path"] = "data/elsewhere.csv"
		})

		type variant struct {
			name     string
			token    func() string
			body     []byte
			header   map[string]string
			status   int
			code     string
			verified bool // the record names the token's claims
		}
		with := func(edit func(c oidctest.Claims)) func() string {
			return func() string {
				c := push()
				edit(c)
				return u.issuer.Sign(c)
			}
		}
		variants := []variant{
			{name: "no token", token: func() string { return "" }, status: 401, code: upload.CodeMissingToken},
			{name: "expired", token: with(func(c oidctest.Claims) {
				c["iat"], c["nbf"], c["exp"] = now.Add(-30*time.Minute).Unix(), now.Add(-30*time.Minute).Unix(), now.Add(-10*time.Minute).Unix()
			}), status: 401, code: oidc.ReasonExpired},
			{name: "not yet valid", token: with(func(c oidctest.Claims) {
				c["iat"], c["nbf"], c["exp"] = now.Add(10*time.Minute).Unix(), now.Add(10*time.Minute).Unix(), now.Add(20*time.Minute).Unix()
			}), status: 401, code: oidc.ReasonNotYetValid},
			{name: "wrong audience", token: with(func(c oidctest.Claims) { c["aud"] = "https://github.com/acme" }), status: 401, code: oidc.ReasonAudience},
			{name: "wrong issuer", token: with(func(c oidctest.Claims) { c["iss"] = oidc.GitHubIssuer }), status: 401, code: oidc.ReasonIssuer},
			{name: "bad signature", token: func() string { return u.issuer.Sign(push(), oidctest.SignedWith(otherKey)) }, status: 401, code: oidc.ReasonSignature},
			{name: "unknown key", token: func() string {
				return u.issuer.Sign(push(), oidctest.SignedWith(otherKey), oidctest.KeyIDHeader(oidctest.KeyID(&otherKey.PublicKey)))
			}, status: 401, code: oidc.ReasonUnknownKey},
			{name: "alg none", token: func() string { return u.issuer.Sign(push(), oidctest.AlgNone()) }, status: 401, code: oidc.ReasonAlgorithm},
			{name: "HS256 with the public key", token: func() string { return u.issuer.Sign(push(), oidctest.HS256WithPublicKey()) }, status: 401, code: oidc.ReasonAlgorithm},
			{name: "replayed jti", token: func() string { return replayed }, status: 401, code: upload.CodeReplayedToken},
			{name: "another repository", token: with(func(c oidctest.Claims) { c["repository"] = "acme/other" }), status: 403, code: upload.CodeNotInstalled, verified: true},
			{name: "repository of another owner", token: with(func(c oidctest.Claims) { c["repository"] = "mallory/models" }), status: 403, code: upload.CodeNotInstalled, verified: true},
			{name: "another repository's id", token: with(func(c oidctest.Claims) { c["repository_id"] = "1" }), status: 403, code: upload.CodeRepositoryMismatch, verified: true},
			{name: "different head", token: with(func(c oidctest.Claims) { c["sha"] = main }), status: 409, code: upload.CodeHeadMismatch, verified: true},
			{name: "unknown commit", token: with(func(c oidctest.Claims) { c["sha"] = strings.Repeat("e", 40) }), status: 409, code: upload.CodeHeadMismatch, verified: true},
			{name: "merge of the base into the head", token: with(func(c oidctest.Claims) {
				c["sha"] = u.gh.MergeCommit(repoName, "refs/heads/reversed", u.head, main)
			}), status: 409, code: upload.CodeHeadMismatch, verified: true},
			{name: "merge of another commit into the base", token: with(func(c oidctest.Claims) {
				c["sha"] = u.gh.MergeCommit(repoName, "refs/heads/other-merge", main, elsewhere)
			}), status: 409, code: upload.CodeHeadMismatch, verified: true},
			{name: "merge of the head into another commit", token: with(func(c oidctest.Claims) {
				c["sha"] = u.gh.MergeCommit(repoName, "refs/heads/forged", elsewhere, u.head)
			}), status: 409, code: upload.CodeHeadMismatch, verified: true},
			{name: "pull request run of another pull request", token: func() string {
				c := u.claims(u.gh.TestMerge(repoName, u.n), "refs/pull/"+strconv.Itoa(u.n)+"/merge")
				return u.issuer.Sign(c)
			}, body: u.body(upload.Request{PullRequest: u.n + 1}), status: 409, code: upload.CodeHeadMismatch, verified: true},
			{name: "unknown pull request", token: func() string { return u.issuer.Sign(push()) }, body: u.body(upload.Request{PullRequest: 999}), status: 404, code: upload.CodeUnknownPullRequest, verified: true},
			{name: "no pull request named", token: func() string { return u.issuer.Sign(push()) }, body: u.body(upload.Request{}), status: 404, code: upload.CodeUnknownPullRequest, verified: true},
			{name: "workflow not in the base allow-list", token: with(func(c oidctest.Claims) {
				c["job_workflow_ref"] = "acme/fraud-training/.github/workflows/evidence.yml@refs/heads/dev"
			}), status: 403, code: upload.CodeUntrustedWorkflow, verified: true},
			{name: "allow-list of the pull request", token: with(func(c oidctest.Claims) { c["job_workflow_ref"] = own }), status: 403, code: upload.CodeUntrustedWorkflow, verified: true},
			{name: "another manifest digest", token: func() string { return u.issuer.Sign(push()) },
				body: u.body(upload.Request{PullRequest: u.n, Evidence: otherManifest}), status: 409, code: upload.CodeManifestMismatch, verified: true},
			{name: "another manifest", token: func() string { return u.issuer.Sign(push()) },
				body: u.body(upload.Request{PullRequest: u.n, Manifest: "models/fraud-detector/2.2.0/model.yaml"}), status: 409, code: upload.CodeManifestMismatch, verified: true},
			{name: "evidence of another version", token: func() string { return u.issuer.Sign(push()) },
				body: u.body(upload.Request{PullRequest: u.n, Evidence: otherVersion}), status: 409, code: upload.CodeManifestMismatch, verified: true},
			{name: "evidence of other files", token: func() string { return u.issuer.Sign(push()) },
				body: u.body(upload.Request{PullRequest: u.n, Evidence: otherInputs}), status: 409, code: upload.CodeManifestMismatch, verified: true},
			{name: "invalid evidence", token: func() string { return u.issuer.Sign(push()) },
				body: u.body(upload.Request{PullRequest: u.n, Evidence: json.RawMessage(`{"schema":"modelgate.evidence/v1"}`)}), status: 400, code: upload.CodeInvalidEvidence, verified: true},
			{name: "not JSON", token: func() string { return u.issuer.Sign(push()) }, body: []byte("manifest=x"), status: 400, code: upload.CodeMalformedBody},
			{name: "unknown field", token: func() string { return u.issuer.Sign(push()) }, body: []byte(`{"manifest":"x","evidence":{},"repository":"acme/models"}`), status: 400, code: upload.CodeMalformedBody},
			{name: "not application/json", token: func() string { return u.issuer.Sign(push()) }, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: upload.CodeUnsupportedType},
			{name: "too large", token: func() string { return u.issuer.Sign(push()) }, body: bytes.Repeat([]byte(" "), upload.MaxBody+1), status: 413, code: upload.CodeBodyTooLarge},
		}
		for _, v := range variants {
			body := v.body
			if body == nil {
				body = u.body(pr)
			}
			before := len(u.refusals())
			status, answer := u.post(v.token(), body, v.header)
			var e upload.ErrorBody
			if err := json.Unmarshal(answer, &e); err != nil || status != v.status || e.Error.Code != v.code || e.Error.Message == "" {
				t.Errorf("%s: %d %s; want %d with code %s and a message", v.name, status, answer, v.status, v.code)
				continue
			}
			recs := u.refusals()
			if len(recs) != before+1 {
				t.Errorf("%s: %d refusal records were added; want one", v.name, len(recs)-before)
				continue
			}
			rec := recs[len(recs)-1]
			p := payloads[audit.EvidenceRefusedPayload](t, recs[len(recs)-1:])[0]
			if p.Reason != v.code || p.Message != e.Error.Message {
				t.Errorf("%s: refusal record %+v; want reason %s and the answer's message", v.name, p, v.code)
			}
			if v.verified != (p.Claims != nil) || v.verified != (rec.Repository != "") {
				t.Errorf("%s: refusal record of repository %q with claims %+v; want claims only of a verified token", v.name, rec.Repository, p.Claims)
			}
		}

		// A repository deleted and created again under the same name is
		// another: a token of the old one earns no trust.
		old := push()
		u.gh.RecreateRepo(repoName)
		status, answer := u.post(u.issuer.Sign(old), u.body(pr), nil)
		if status != 403 || !strings.Contains(string(answer), upload.CodeRepositoryMismatch) {
			t.Errorf("a token of the recreated repository's predecessor: %d %s; want 403 %s", status, answer, upload.CodeRepositoryMismatch)
		}
		if got := len(u.records(audit.Filter{Kind: audit.KindEvidence})); got != 1 {
			t.Errorf("%d uploads accepted; want only the first", got)
		}
	})
}

func (u *uploads) refusals() []audit.Record {
	u.t.Helper()
	recs, err := u.db.Records(u.t.Context(), audit.Filter{Kind: audit.KindEvidenceRefused})
	if err != nil {
		u.t.Fatal(err)
	}
	return recs
}

// An issuer that cannot be reached is no verdict on the token: 503, nothing
// recorded, and the upload is accepted once it answers.
func TestIssuerDownIsNoRefusal(t *testing.T) {
	u := newUploads(t, filepath.Join(t.TempDir(), "modelgate.db"), options{})
	u.issuer.SetUnavailable(true)
	status, answer := u.post(u.issuer.Sign(u.claims(u.head, "refs/heads/promote")), u.body(upload.Request{PullRequest: u.n}), nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(string(answer), upload.CodeUnavailable) {
		t.Errorf("issuer down: %d %s; want 503 %s", status, answer, upload.CodeUnavailable)
	}
	if n := len(u.refusals()); n != 0 {
		t.Errorf("%d refusals recorded for an upload that was not checked", n)
	}
	u.issuer.SetUnavailable(false)
	u.gh.Advance(time.Minute) // past the time the verifier waits before it asks a failed issuer again
	u.accept(u.issuer.Sign(u.claims(u.head, "refs/heads/promote")), upload.Request{PullRequest: u.n})
}

// servedCalls tells the App's GitHub calls made while it served an upload
// from those of its workers: the upload handler calls in the request's
// context, which carries the server's local address.
type servedCalls struct {
	mu      sync.Mutex
	handler []string // method and path of each call the handler made
	workers int
}

func (s *servedCalls) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	if req.Context().Value(http.LocalAddrContextKey) != nil {
		s.handler = append(s.handler, req.Method+" "+req.URL.Path)
	} else {
		s.workers++
	}
	s.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (s *servedCalls) counts() (handler []string, workers int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.handler), s.workers
}

func (s *servedCalls) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler, s.workers = nil, 0
}

// deniedOnlyApprovals checks that the App judged the head on the upload of
// run and that the only denials are of the approvals, which nobody gave.
func (u *uploads) deniedOnlyApprovals(run string) {
	u.t.Helper()
	rec := u.onUpload(run)
	if rec.Decision.Allow || len(rec.Decision.Deny) == 0 {
		u.t.Fatalf("the promotion with no approval is allowed: %+v", rec.Decision)
	}
	for _, m := range rec.Decision.Deny {
		if !strings.HasPrefix(m.Code, "approvals.") {
			u.t.Errorf("denied %s on the upload: %s", m.Code, m.Msg)
		}
	}
}

// BenchmarkUploadToCheckRun measures, on the example promotion
// (fraud-detector 2.3.0 into production, high risk), the time from the upload
// of its evidence by a pull_request run to the App's policy check run judged
// on it, and the GitHub API calls of each part: the upload's own checks, the
// first evaluation that follows on the App that took it, and an evaluation on
// the recorded upload by an App that did not take it (a restarted one: cold
// caches, a new installation token). -v lists the calls.
func BenchmarkUploadToCheckRun(b *testing.B) {
	var lat []time.Duration
	var uploadCalls, evalCalls, coldCalls int
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		calls := &servedCalls{}
		u := newUploads(b, b.TempDir()+"/mg.db", options{transport: calls})
		merge := u.gh.TestMerge(repoName, u.n)
		job := u.claims(merge, "refs/pull/"+strconv.Itoa(u.n)+"/merge")
		token, body := u.issuer.Sign(job), u.body(upload.Request{})
		u.gh.ResetCalls()
		calls.reset()
		b.StartTimer()
		t0 := time.Now()
		if status, answer := u.post(token, body, nil); status != http.StatusCreated {
			b.Fatalf("upload: %d %s", status, answer)
		}
		for u.runs(u.head)[app.CheckPolicy].Name == "" {
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		u.settle()
		u.deniedOnlyApprovals(job["run_id"].(string))
		handler, workers := calls.counts()
		all := u.gh.Calls()
		if len(all) != len(handler)+workers {
			b.Fatalf("the emulator saw %d calls, the App made %d", len(all), len(handler)+workers)
		}
		// The handler's calls are all made before the evaluation is queued.
		for j, c := range all[:len(handler)] {
			if c.Method+" "+c.Path != handler[j] {
				b.Fatalf("call %d is %s %s, the upload handler's is %s", j, c.Method, c.Path, handler[j])
			}
		}
		uploadCalls, evalCalls = len(handler), workers
		if i == 0 && testing.Verbose() {
			b.Logf("the upload's %d calls:", len(handler))
			for _, c := range all[:len(handler)] {
				b.Logf("  %s %d (%s)", c, c.Status, c.Path)
			}
			b.Logf("the evaluation's %d calls:", workers)
			for _, c := range all[len(handler):] {
				b.Logf("  %s %d (%s)", c, c.Status, c.Path)
			}
		}

		// Another App, which did not take the upload, judges the pull
		// request on it.
		u.stop()
		u.start(options{transport: calls, oidcIssuer: u.issuer.URL, oidcAudience: oidcAudience})
		u.gh.ResetCalls()
		u.deliver(u.gh.PullRequestEvent(repoName, u.n, "reopened"), http.StatusAccepted)
		u.settle()
		u.deniedOnlyApprovals(job["run_id"].(string))
		coldCalls = len(u.gh.Calls())
		if i == 0 && testing.Verbose() {
			b.Logf("the evaluation of an App that did not take the upload, %d calls:", coldCalls)
			for _, c := range u.gh.Calls() {
				b.Logf("  %s %d (%s)", c, c.Status, c.Path)
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "median-ms")
	b.ReportMetric(float64(uploadCalls), "upload-calls")
	b.ReportMetric(float64(evalCalls), "first-eval-calls")
	b.ReportMetric(float64(coldCalls), "cold-eval-calls")
}

// The evaluation that follows an upload asks GitHub again only what may have
// changed since: the pull request and the comparison with the base branch,
// conditionally. The installation token, the trees and the config and
// manifest blobs the upload read are reused from the caches by SHA.
func TestEvaluationAfterUploadReusesItsReads(t *testing.T) {
	calls := &servedCalls{}
	u := newUploads(t, filepath.Join(t.TempDir(), "modelgate.db"), options{transport: calls})
	merge := u.gh.TestMerge(repoName, u.n)
	token, body := u.issuer.Sign(u.claims(merge, "refs/pull/"+strconv.Itoa(u.n)+"/merge")), u.body(upload.Request{})
	u.gh.ResetCalls()
	calls.reset()
	if status, answer := u.post(token, body, nil); status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, answer)
	}
	u.settle()
	handler, _ := calls.counts()
	all := u.gh.Calls()
	read := map[string]bool{}
	for _, c := range all[:len(handler)] {
		read[c.Method+" "+c.Path] = true
	}
	for _, want := range []string{"/git/trees/", "/git/blobs/", "/access_tokens"} {
		if !slices.ContainsFunc(all[:len(handler)], func(c githubtest.Call) bool { return strings.Contains(c.Path, want) }) {
			t.Errorf("the upload made no call of %s: %v", want, all[:len(handler)])
		}
	}
	for _, c := range all[len(handler):] {
		again := c.Method == http.MethodGet && read[c.Method+" "+c.Path]
		switch {
		case strings.HasSuffix(c.Path, "/access_tokens"):
			t.Errorf("the evaluation made a new installation token (%s)", c.Path)
		case again && (strings.Contains(c.Path, "/git/trees/") || strings.Contains(c.Path, "/git/blobs/")):
			t.Errorf("the evaluation read %s again; the upload had read it", c.Path)
		case again && (c.Route == "/repos/{owner}/{repo}/pulls/{pull_number}" || c.Route == "/repos/{owner}/{repo}/compare/{basehead}") && c.Status != http.StatusNotModified:
			t.Errorf("the evaluation read %s again unconditionally (%d); the upload had read it", c.Path, c.Status)
		}
	}
}

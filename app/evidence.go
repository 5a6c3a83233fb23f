package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/oidc"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/internal/upload"
	"github.com/modelgate/modelgate/manifest"
)

// TokenVerifier verifies GitHub Actions OIDC tokens (oidc.Verifier). It is
// used concurrently.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*oidc.Claims, error)
}

// TokenLedger remembers the tokens used, so that each is used once
// (sqlstore.DB.UseToken). It is used concurrently.
type TokenLedger interface {
	UseToken(ctx context.Context, jti string, expires time.Time) (first bool, err error)
}

// Intake takes the evidence that GitHub Actions workflows upload for a pull
// request's head, and has the pull request judged again on it. It is safe
// for concurrent use.
type Intake struct {
	app      *App
	verifier TokenVerifier
	tokens   TokenLedger
}

// NewIntake returns the App's intake of uploads, verifying tokens with v and
// using each once by tokens.
func NewIntake(a *App, v TokenVerifier, tokens TokenLedger) *Intake {
	return &Intake{app: a, verifier: v, tokens: tokens}
}

// pendingUpload is one upload on its way through the checks, with what they found.
type pendingUpload struct {
	claims       *oidc.Claims
	installation int64
	number       int
	pr           github.PullRequest
	mergeCommit  string
	manifest     *manifest.Manifest
	digest       string
	evidence     checks.Evidence
}

// Upload checks an upload, in the order that trusts nothing before it is
// verified: the token, its single use, the App's installation on the
// token's repository and that repository's id, the pull request and its
// head, the base config's trust in the token's workflow, the manifest at the
// head and the evidence itself. Accepted, it is recorded and the pull request
// is queued to be judged on it. Every refusal is recorded too, and returned as
// an *upload.Error, as is an App that cannot check it now (503).
func (in *Intake) Upload(ctx context.Context, token string, req upload.Request) (*upload.Accepted, error) {
	u := &pendingUpload{}
	if err := in.check(ctx, token, req, u); err != nil {
		var refusal *upload.Error
		if !errors.As(err, &refusal) {
			refusal = unavailable(err)
		}
		return nil, in.refuse(ctx, refusal, u)
	}
	payload := audit.EvidencePayload{Manifest: req.Manifest, ManifestSHA256: u.digest, Evidence: req.Evidence,
		Claims: workflowClaims(u.claims), MergeCommit: u.mergeCommit, VerifiedAt: in.app.now().UTC()}
	rec, err := in.app.store.Append(ctx, audit.Entry{Kind: audit.KindEvidence, Repository: u.claims.Repository,
		PullRequest: u.number, HeadSHA: u.pr.HeadSHA, Model: u.evidence.Model.Name, Version: u.evidence.Model.Version,
		Actor: u.claims.Actor, Payload: mustJSON(payload)})
	if err != nil {
		return nil, unavailable(fmt.Errorf("record the evidence: %w", err))
	}
	if _, err := in.app.enqueueEvaluation(ctx, fmt.Sprintf("evidence:%d", rec.Seq), EvaluatePayload{Installation: u.installation,
		Repository: u.claims.Repository, PullRequest: u.number, Reason: "evidence uploaded"}); err != nil {
		return nil, unavailable(err)
	}
	in.app.log.Info("evidence accepted", "repository", u.claims.Repository, "pr", u.number, "head", u.pr.HeadSHA,
		"model", u.evidence.Model.Name, "version", u.evidence.Model.Version, "workflow", u.claims.JobWorkflowRef, "run_id", u.claims.RunID)
	return &upload.Accepted{ID: rec.Seq, Repository: u.claims.Repository, PullRequest: u.number, HeadSHA: u.pr.HeadSHA,
		Model: u.evidence.Model.Name, Version: u.evidence.Model.Version}, nil
}

// Refuse records the refusal of a request whose body could not be read, and
// returns it.
func (in *Intake) Refuse(ctx context.Context, refusal *upload.Error) error {
	return in.refuse(ctx, refusal, &pendingUpload{})
}

// refuse records a refusal with what was verified of the upload, and returns
// it; a refusal that cannot be recorded is an App that cannot take uploads.
func (in *Intake) refuse(ctx context.Context, refusal *upload.Error, u *pendingUpload) error {
	log := in.app.log.With("reason", refusal.Code, "status", refusal.Status)
	if refusal.Status >= 500 {
		// Nothing was said about the upload: there is nothing to record.
		log.Error("evidence upload not taken", "err", refusal.Message)
		return refusal
	}
	e := audit.Entry{Kind: audit.KindEvidenceRefused}
	p := audit.EvidenceRefusedPayload{Reason: refusal.Code, Message: refusal.Message}
	if u.claims != nil {
		claims := workflowClaims(u.claims)
		p.Claims = &claims
		e.Repository, e.Actor, e.PullRequest, e.HeadSHA = u.claims.Repository, u.claims.Actor, u.number, u.pr.HeadSHA
		log = log.With("repository", u.claims.Repository, "workflow", u.claims.JobWorkflowRef, "run_id", u.claims.RunID)
	}
	e.Payload = mustJSON(p)
	if _, err := in.app.store.Append(ctx, e); err != nil {
		log.Error("record refused evidence upload", "err", err)
		return unavailable(fmt.Errorf("record the refusal: %w", err))
	}
	log.Warn("evidence upload refused", "message", refusal.Message)
	return refusal
}

func (in *Intake) check(ctx context.Context, token string, req upload.Request, u *pendingUpload) error {
	if token == "" {
		return refused(http.StatusUnauthorized, upload.CodeMissingToken, "the request has no Authorization: Bearer header with the workflow's OIDC token")
	}
	claims, err := in.verifier.Verify(ctx, token)
	var bad *oidc.Error
	if errors.As(err, &bad) {
		return refused(http.StatusUnauthorized, bad.Reason, "the OIDC token was refused: "+bad.Error())
	}
	if err != nil {
		return unavailable(fmt.Errorf("verify the token: %w", err))
	}
	first, err := in.tokens.UseToken(ctx, claims.ID, claims.Expiry)
	if err != nil {
		return unavailable(fmt.Errorf("record the token's use: %w", err))
	}
	if !first {
		return refused(http.StatusUnauthorized, upload.CodeReplayedToken, fmt.Sprintf("the OIDC token %s was used before: each upload needs a fresh token", claims.ID))
	}
	u.claims = claims

	repo, err := in.repository(ctx, u)
	if err != nil {
		return err
	}
	if err := in.pullRequest(ctx, repo, req, u); err != nil {
		return err
	}
	if err := in.trust(ctx, repo, u); err != nil {
		return err
	}
	return in.evidence(ctx, repo, req, u)
}

// repository finds the App's installation on the token's repository.
func (in *Intake) repository(ctx context.Context, u *pendingUpload) (*github.Repo, error) {
	id, err := in.app.github.RepositoryInstallation(ctx, u.claims.Repository)
	if errors.Is(err, github.ErrNotInstalled) {
		return nil, refused(http.StatusForbidden, upload.CodeNotInstalled, fmt.Sprintf("the App is not installed on %s", u.claims.Repository))
	}
	if err != nil {
		return nil, unavailable(err)
	}
	u.installation = id
	repo, err := in.app.github.Installation(id).Repo(u.claims.Repository)
	if err != nil {
		return nil, refused(http.StatusForbidden, upload.CodeRepositoryMismatch, err.Error())
	}
	return repo, nil
}

// pullRequest finds the open pull request the upload is for, checks that it
// is the token's repository's, by id, and binds the token's commit to its
// head.
func (in *Intake) pullRequest(ctx context.Context, repo *github.Repo, req upload.Request, u *pendingUpload) error {
	n, err := pullRequestNumber(u.claims.Ref, req.PullRequest)
	if err != nil {
		return err
	}
	u.number = n
	pr, err := repo.PullRequest(ctx, n)
	if github.StatusCode(err) == http.StatusNotFound {
		return refused(http.StatusNotFound, upload.CodeUnknownPullRequest, fmt.Sprintf("%s has no pull request #%d", u.claims.Repository, n))
	}
	if err != nil {
		return unavailable(err)
	}
	// A repository deleted and created again under its name is another
	// repository: its workflows earned no trust of the old one's.
	if strconv.FormatInt(pr.RepoID, 10) != u.claims.RepositoryID {
		return refused(http.StatusForbidden, upload.CodeRepositoryMismatch, fmt.Sprintf("the token is of repository id %s, but %s is repository id %d now",
			u.claims.RepositoryID, u.claims.Repository, pr.RepoID))
	}
	if pr.State != "open" || pr.Merged {
		return refused(http.StatusNotFound, upload.CodeUnknownPullRequest, fmt.Sprintf("pull request #%d of %s is not open", n, u.claims.Repository))
	}
	if pr.BaseSHA, err = repo.BaseTip(ctx, pr.BaseRef, pr.HeadSHA); err != nil {
		return unavailable(fmt.Errorf("resolve base branch %s: %w", pr.BaseRef, err))
	}
	u.pr = pr
	if u.claims.SHA == pr.HeadSHA {
		return nil
	}
	return in.mergeCommit(ctx, repo, u)
}

// pullRequestNumber is the pull request of a pull_request run's ref
// (refs/pull/N/merge), else the one the body names.
func pullRequestNumber(ref string, named int) (int, error) {
	if rest, ok := strings.CutPrefix(ref, "refs/pull/"); ok {
		if num, ok := strings.CutSuffix(rest, "/merge"); ok {
			n, err := strconv.Atoi(num)
			if err != nil || n <= 0 {
				return 0, refused(http.StatusNotFound, upload.CodeUnknownPullRequest, fmt.Sprintf("the token's ref %q names no pull request", ref))
			}
			if named != 0 && named != n {
				return 0, refused(http.StatusConflict, upload.CodeHeadMismatch, fmt.Sprintf("the token is of a run for pull request #%d, but the upload names #%d", n, named))
			}
			return n, nil
		}
	}
	if named <= 0 {
		return 0, refused(http.StatusNotFound, upload.CodeUnknownPullRequest, fmt.Sprintf("the token's ref %q is no pull request's: name the pull request (pull_request, modelgate evidence upload --pull-request)", ref))
	}
	return named, nil
}

// mergeCommit checks that the token's commit is a merge of the head into a
// commit of the base branch: the test merge commit GitHub runs pull_request
// workflows on, whose tree is the head's changes on the base.
func (in *Intake) mergeCommit(ctx context.Context, repo *github.Repo, u *pendingUpload) error {
	mismatch := func(why string) error {
		return refused(http.StatusConflict, upload.CodeHeadMismatch, fmt.Sprintf("the token's commit %s is neither the head %s of pull request #%d nor a merge of it into %s: %s",
			u.claims.SHA, u.pr.HeadSHA, u.number, u.pr.BaseRef, why))
	}
	parents, err := repo.Parents(ctx, u.claims.SHA)
	if unknownCommit(err) {
		return mismatch("GitHub knows no such commit")
	}
	if err != nil {
		return unavailable(err)
	}
	if len(parents) != 2 || parents[1] != u.pr.HeadSHA {
		return mismatch(fmt.Sprintf("its parents are %s", strings.Join(parents, ", ")))
	}
	if parents[0] != u.pr.BaseSHA {
		mb, err := repo.MergeBase(ctx, parents[0], u.pr.BaseSHA)
		if err != nil && !unknownCommit(err) {
			return unavailable(err)
		}
		if err != nil || mb != parents[0] {
			return mismatch(fmt.Sprintf("its first parent %s is no commit of %s", parents[0], u.pr.BaseRef))
		}
	}
	u.mergeCommit = u.claims.SHA
	return nil
}

// trust checks that the config of the commit whose rules judge the pull
// request trusts the token's workflow: never a config the pull request
// brings along.
func (in *Intake) trust(ctx context.Context, repo *github.Repo, u *pendingUpload) error {
	untrusted := func(why string) error {
		return refused(http.StatusForbidden, upload.CodeUntrustedWorkflow, fmt.Sprintf("workflow %s: %s", u.claims.JobWorkflowRef, why))
	}
	log := in.app.log.With("repository", u.claims.Repository, "pr", u.number)
	rules, gated, err := in.app.rulesCommit(ctx, log, repo, u.pr)
	if err != nil {
		return unavailable(err)
	}
	if !gated {
		return untrusted(fmt.Sprintf("modelgate does not gate pull requests into %s of %s", u.pr.BaseRef, u.claims.Repository))
	}
	reads := &readRecorder{Repository: repo}
	cfg, err := gitops.LoadConfig(ctx, reads.Snapshot(rules), in.app.validator)
	if failed := reads.failure(); failed != nil {
		return unavailable(fmt.Errorf("read the config at %s: %w", rules, failed))
	}
	if err != nil {
		return untrusted(fmt.Sprintf("the config at %s is invalid, so it trusts no workflow: %v", shortSHA(rules), err))
	}
	if !cfg.Evidence.Trusts(u.claims.JobWorkflowRef) {
		return untrusted(fmt.Sprintf("the config of %s at %s does not list it in evidence.trustedWorkflows (it lists %s)",
			u.pr.BaseRef, shortSHA(rules), orNone(cfg.Evidence.TrustedWorkflows)))
	}
	return nil
}

// evidence checks that the evidence is a valid document about the manifest
// at the head, byte for byte, and about the files it names.
func (in *Intake) evidence(ctx context.Context, repo *github.Repo, req upload.Request, u *pendingUpload) error {
	mismatch := func(format string, args ...any) error {
		return refused(http.StatusConflict, upload.CodeManifestMismatch, fmt.Sprintf(format, args...))
	}
	if req.Manifest == "" || !fs.ValidPath(req.Manifest) || !slices.Contains(manifest.FileNames, path.Base(req.Manifest)) {
		return mismatch("%q is not the path of a manifest in the repository (models/<name>/<version>/model.yaml)", req.Manifest)
	}
	reads := &readRecorder{Repository: repo}
	data, err := reads.Snapshot(u.pr.HeadSHA).ReadFile(ctx, req.Manifest)
	if failed := reads.failure(); failed != nil {
		return unavailable(fmt.Errorf("read %s at the head: %w", req.Manifest, failed))
	}
	if err != nil {
		return mismatch("%s is not at the head %s of pull request #%d", req.Manifest, shortSHA(u.pr.HeadSHA), u.number)
	}
	m, err := gitops.ParseManifest(in.app.validator, req.Manifest, data)
	if err != nil {
		return mismatch("%s at the head is no valid manifest: %v", req.Manifest, err)
	}
	sum := sha256.Sum256(data)
	u.manifest, u.digest = m, hex.EncodeToString(sum[:])

	if err := in.app.validator.Decode(schema.Evidence, "evidence.json", req.Evidence, &u.evidence); err != nil {
		return refused(http.StatusBadRequest, upload.CodeInvalidEvidence, err.Error())
	}
	ev := u.evidence
	if ev.Manifest == nil {
		return mismatch("the evidence names no manifest (manifest.path, manifest.sha256): make it with modelgate check")
	}
	if ev.Manifest.Path != req.Manifest || ev.Manifest.SHA256 != u.digest {
		return mismatch("the evidence is about %s with sha256 %s, but the manifest at the head is %s with sha256 %s",
			ev.Manifest.Path, ev.Manifest.SHA256, req.Manifest, u.digest)
	}
	if ev.Model.Name != m.Metadata.Name || ev.Model.Version != m.Metadata.Version {
		return mismatch("the evidence is about %s %s, but %s declares %s %s", ev.Model.Name, ev.Model.Version, req.Manifest, m.Metadata.Name, m.Metadata.Version)
	}
	var named, read []string
	for _, f := range m.Files() {
		named = append(named, f.Role+" "+f.Path)
	}
	for _, i := range ev.Inputs {
		read = append(read, i.Role+" "+i.Path)
	}
	slices.Sort(named)
	slices.Sort(read)
	if !slices.Equal(named, read) {
		return mismatch("the evidence was computed from %s, but %s names %s", orNone(read), req.Manifest, orNone(named))
	}
	return nil
}

// unknownCommit tells GitHub's answer that it has no such commit (404, or
// 422 for a SHA it cannot resolve) from one that says nothing of it.
func unknownCommit(err error) bool {
	s := github.StatusCode(err)
	return s == http.StatusNotFound || s == http.StatusUnprocessableEntity
}

func workflowClaims(c *oidc.Claims) audit.WorkflowClaims {
	return audit.WorkflowClaims{Issuer: c.Issuer, Subject: c.Subject, Repository: c.Repository, RepositoryID: c.RepositoryID,
		Ref: c.Ref, SHA: c.SHA, EventName: c.EventName, JobWorkflowRef: c.JobWorkflowRef, WorkflowRef: c.WorkflowRef,
		RunID: c.RunID, RunAttempt: c.RunAttempt, Actor: c.Actor, JTI: c.ID, IssuedAt: c.IssuedAt, Expires: c.Expiry}
}

func refused(status int, code, message string) *upload.Error {
	return &upload.Error{Status: status, Code: code, Message: message}
}

// unavailable is an upload the App cannot check now: GitHub, the issuer or
// the store did not answer. It says nothing of the upload.
func unavailable(err error) *upload.Error {
	var e *upload.Error
	if errors.As(err, &e) {
		return e
	}
	return &upload.Error{Status: http.StatusServiceUnavailable, Code: upload.CodeUnavailable,
		Message: "the App cannot check the upload now; try again with a fresh token: " + err.Error()}
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

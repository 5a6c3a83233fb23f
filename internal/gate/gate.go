// Package gate judges a change as a pull request is judged: it reads the
// promotions the change proposes, runs the checks each manifest declares, and
// evaluates the base branch's policies on each. `modelgate gate` and the GitHub
// App both judge with it; it knows nothing of either.
package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/jsonlist"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/rollout"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/manifest"
)

// Checker runs the checks a manifest declares on the files of its version folder,
// with the base branch's thresholds and limits, and returns the evidence
// document.
type Checker interface {
	Check(ctx context.Context, m *manifest.Manifest, files fs.FS, cfg *gitops.Config) (json.RawMessage, error)
}

// Codes of the denials the gate itself makes.
const (
	CodeInvalid = "change.invalid" // the change could not be read
	CodeChecks  = "checks.failed"  // the declared checks could not run
)

// RunRecords are the records, besides git history, of what ran in the stages
// of a branch: whether a model version ran there, so that a return to it is a
// rollback, and the App's runs of a model there (oldest first), whose times
// judge the soak. Where recorded is true the records decide whether it ran,
// over git history; else git history does. It is used concurrently when the
// gate is.
type RunRecords interface {
	Ran(ctx context.Context, repository, branch, model, version, stage string) (ran, recorded bool, err error)
	Runs(ctx context.Context, repository, branch, model, stage string) ([]rollout.Run, error)
}

// AuditRuns finds runs in the audit log (SPEC §1). A version whose
// deployment or analysis failed in a stage never ran there, whatever else
// the log holds: it is no version to roll back to, and pinning it again is a
// promotion. Otherwise it ran there when its deployment there succeeded, or
// when a pull request promoting it there was allowed and then merged, as of
// the head that was judged, into the same branch: each gated branch pins its
// own stages.
type AuditRuns struct{ Log rollout.Log }

func (a AuditRuns) Runs(ctx context.Context, repository, branch, model, stage string) ([]rollout.Run, error) {
	runs, err := rollout.Ledger{Log: a.Log}.Runs(ctx, repository, branch, model, stage)
	if err != nil {
		return nil, fmt.Errorf("read the runs of %s in %s: %w", model, stage, err)
	}
	return runs, nil
}

func (a AuditRuns) Ran(ctx context.Context, repository, branch, model, version, stage string) (ran, recorded bool, err error) {
	runs, err := a.Runs(ctx, repository, branch, model, stage)
	if err != nil {
		return false, false, err
	}
	deployed := false
	for _, r := range runs {
		if r.Version != version {
			continue
		}
		if r.Bad() {
			return false, true, nil
		}
		deployed = deployed || !r.Deployed.IsZero()
	}
	if deployed {
		return true, true, nil
	}
	f := audit.Filter{Kind: audit.KindMerge, Repository: repository, Model: model, Version: version, Stage: stage}
	merges, err := a.Log.Records(ctx, f)
	if err != nil {
		return false, false, fmt.Errorf("read merges of %s %s into %s: %w", model, version, stage, err)
	}
	for _, m := range merges {
		var merge audit.MergePayload
		if err := json.Unmarshal(m.Payload, &merge); err != nil {
			return false, false, fmt.Errorf("audit record %d: %w", m.Seq, err)
		}
		if merge.BaseRef != branch {
			continue
		}
		f.Kind, f.PullRequest, f.HeadSHA = audit.KindDecision, m.PullRequest, m.HeadSHA
		decisions, err := a.Log.Records(ctx, f)
		if err != nil {
			return false, false, fmt.Errorf("read decisions on pull request #%d: %w", m.PullRequest, err)
		}
		for _, d := range decisions {
			var rec DecisionRecord
			if err := json.Unmarshal(d.Payload, &rec); err != nil {
				return false, false, fmt.Errorf("audit record %d: %w", d.Seq, err)
			}
			if rec.Decision.Allow && rec.Promotion != nil && rec.Promotion.Kind != gitops.KindRemoval {
				return true, true, nil
			}
		}
	}
	return false, false, nil
}

// Gate judges changes.
type Gate struct {
	validator *schema.Validator
	checker   Checker
	builtin   []policy.Module
	runs      RunRecords
	uploads   Uploads
	now       func() time.Time
}

// New returns a gate that judges with the built-in policies, on the evidence
// trusted workflows uploaded or else the checker's, and tells rollbacks by the
// run records and git history.
func New(v *schema.Validator, checker Checker, builtin []policy.Module, runs RunRecords, uploads Uploads, now func() time.Time) *Gate {
	return &Gate{validator: v, checker: checker, builtin: builtin, runs: runs, uploads: uploads, now: now}
}

// Request is a change to judge: two commits of a repository, and the pull request
// that proposes it.
type Request struct {
	Repo       gitops.Repository
	Repository string // its name, for the audit log
	Base, Head string // commit SHAs
	// Rules is the commit whose .modelgate/ Repo serves at Base when that is
	// another commit (a pull request into a branch the default branch's config
	// lists is judged by the default branch's rules); recorded with the decision.
	Rules       string
	PullRequest policy.PullRequest
}

// Result is the verdict on a change.
type Result struct {
	Repository  string             `json:"repository"`
	Base        string             `json:"base_sha"`
	Rules       string             `json:"rules_sha,omitempty"`
	Head        string             `json:"head_sha"`
	PullRequest policy.PullRequest `json:"pull_request"`
	Allow       bool               `json:"allow"`
	Change      *gitops.Change     `json:"change,omitempty"`
	// Judgements holds one judgement per promotion, or one for the whole change
	// when it proposes none or could not be read.
	Judgements   []Judgement `json:"judgements"`
	BundleDigest string      `json:"bundle_digest,omitempty"`
	// Thresholds are the base branch's, which the policies judged by; nil
	// when the change could not be read.
	Thresholds *gitops.Thresholds `json:"thresholds,omitempty"`
	Warnings   []string           `json:"warnings,omitempty"`
	JudgedAt   time.Time          `json:"judged_at"`
}

// Judgement is the decision on one promotion, with what it was made on.
type Judgement struct {
	Promotion *gitops.Promotion `json:"promotion"`
	// Model and Version name the model version of a change that could not be
	// read, as the path of the file it could not read says them
	// (models/<name>/<version>/...), so that the denial reaches that model's
	// history; empty when there is a promotion or no path says them.
	Model          string                 `json:"model,omitempty"`
	Version        string                 `json:"version,omitempty"`
	Evidence       json.RawMessage        `json:"evidence,omitempty"`
	EvidenceSource *policy.EvidenceSource `json:"evidence_source,omitempty"`
	Decision       policy.Decision        `json:"decision"`
}

// Judge judges a change. Whatever stops it from being judged denies it; the only
// errors are the context's, the run records' and the uploads': without them a
// promotion can be judged neither as a rollback nor as not one, nor on the
// evidence a trusted workflow uploaded.
func (g *Gate) Judge(ctx context.Context, req Request) (*Result, error) {
	now := g.now()
	res := &Result{Repository: req.Repository, Base: req.Base, Rules: req.Rules, Head: req.Head, PullRequest: req.PullRequest, JudgedAt: now.UTC()}
	res.PullRequest.HeadSHA = req.Head
	change, err := gitops.Compute(ctx, req.Repo, g.validator, req.Base, req.Head)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.deny(CodeInvalid, err)
		return res, nil
	}
	res.Change = change
	res.Thresholds = &change.Config.Thresholds
	res.PullRequest.ChangedFiles = jsonlist.NonNil(change.ChangedFiles)
	if err := g.rollbacks(ctx, req.Repository, req.PullRequest.BaseRef, change); err != nil {
		return nil, err
	}

	base := req.Repo.Snapshot(req.Base)
	engine, waivers, err := g.policies(ctx, base, change.Config)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.deny(CodeInvalid, err)
		return res, nil
	}
	res.BundleDigest = engine.Digest()
	res.Warnings = waivers.warnings

	histories, err := g.histories(ctx, req.Repo, req.Base, change.Config)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.deny(CodeInvalid, err)
		return res, nil
	}

	input := policy.Input{PullRequest: res.PullRequest}
	if len(change.Promotions) == 0 && len(change.Removals) == 0 {
		res.Judgements = []Judgement{{Decision: engine.Evaluate(ctx, input)}}
	}
	head := req.Repo.Snapshot(req.Head)
	for i := range change.Promotions {
		p := &change.Promotions[i]
		j := Judgement{Promotion: p}
		in := input
		in.Promotion, in.Manifest = p, p.Manifest
		runs, err := g.stageRuns(ctx, req.Repository, req.PullRequest.BaseRef, p.Model, change.Config)
		if err != nil {
			return nil, err
		}
		in.History = policy.NewHistory(now, histories, runs, p.Model)
		evidence, source, missing, err := g.evidence(ctx, req.Repository, req.Head, head, p, change.Config)
		if err != nil {
			return nil, err
		}
		if evidence != nil {
			j.Evidence, in.Evidence = evidence, evidence
		}
		j.EvidenceSource, in.EvidenceSource = source, source
		j.Decision = engine.Evaluate(ctx, in)
		if missing != nil {
			j.Decision.Deny = append(j.Decision.Deny, *missing)
		}
		j.Decision = policy.ApplyWaivers(j.Decision, waivers.list, p.Model, p.Version, now)
		res.Judgements = append(res.Judgements, j)
	}
	for _, r := range change.Removals {
		p := r.Promotion()
		in := input
		in.Promotion = p
		runs, err := g.stageRuns(ctx, req.Repository, req.PullRequest.BaseRef, p.Model, change.Config)
		if err != nil {
			return nil, err
		}
		in.History = policy.NewHistory(now, histories, runs, p.Model)
		d := policy.ApplyWaivers(engine.Evaluate(ctx, in), waivers.list, p.Model, p.Version, now)
		res.Judgements = append(res.Judgements, Judgement{Promotion: p, Decision: d})
	}
	res.Allow = true
	for _, j := range res.Judgements {
		res.Allow = res.Allow && j.Decision.Allow
	}
	return res, nil
}

// rollbacks marks the promotions that the run records show to be rollbacks,
// besides those git history already showed.
func (g *Gate) rollbacks(ctx context.Context, repository, branch string, change *gitops.Change) error {
	for i := range change.Promotions {
		p := &change.Promotions[i]
		ran, recorded, err := g.runs.Ran(ctx, repository, branch, p.Model, p.Version, p.ToStage)
		if err != nil {
			return fmt.Errorf("whether %s %s ran in %s: %w", p.Model, p.Version, p.ToStage, err)
		}
		// A failure the records hold outweighs any time the version stayed
		// pinned: it did not run well there.
		if recorded {
			p.Rollback = ran
		}
	}
	return nil
}

// deny makes the result a denial of the whole change, with one message per
// problem. The denial is judged once for each model version whose files the
// messages name, so that each version's history holds it, and once for the
// change when they name none.
func (r *Result) deny(code string, err error) {
	r.Allow = false
	msgs := problems(code, err)
	type version struct{ model, version string }
	var named []version
	for _, m := range msgs {
		file, _, _ := strings.Cut(m.Msg, ":")
		if m.Position != nil {
			file = m.Position.File
		}
		if model, ver, ok := gitops.ModelVersionOf(file); ok && !slices.Contains(named, version{model, ver}) {
			named = append(named, version{model, ver})
		}
	}
	d := policy.Decision{Deny: msgs, Warn: []policy.Message{}}
	if len(named) == 0 {
		r.Judgements = []Judgement{{Decision: d}}
		return
	}
	r.Judgements = nil
	for _, v := range named {
		r.Judgements = append(r.Judgements, Judgement{Model: v.model, Version: v.version, Decision: d})
	}
}

// problems gives a message for each of the problems err joins. A document
// that could not be read gives one per schema error, with the error's place
// as data, so that a report points at it without reading the message back;
// what the error was wrapped in (the revision it was read at) stays in the
// message. Any other error, and one that says more than its schema errors,
// gives one per line, so that nothing it says is lost.
func problems(code string, err error) []policy.Message {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var msgs []policy.Message
		for _, e := range joined.Unwrap() {
			msgs = append(msgs, problems(code, e)...)
		}
		return msgs
	}
	var list schema.Errors
	if !errors.As(err, &list) || len(list) == 0 {
		return lines(code, err)
	}
	within, wrapped := strings.CutSuffix(err.Error(), list.Error())
	if !wrapped {
		return lines(code, err)
	}
	msgs := make([]policy.Message, len(list))
	for i, e := range list {
		msgs[i] = policy.Message{Code: code, Msg: within + e.Problem(), Package: "modelgate",
			Position: &policy.Position{File: e.File, Line: e.Line, Column: e.Column}}
	}
	return msgs
}

// lines gives a message for each line of err's text.
func lines(code string, err error) []policy.Message {
	var msgs []policy.Message
	for line := range strings.SplitSeq(err.Error(), "\n") {
		msgs = append(msgs, policy.Message{Code: code, Msg: line, Package: "modelgate"})
	}
	return msgs
}

type waiverSet struct {
	list     []policy.Waiver
	warnings []string
}

// policies compiles the built-in policies with the base branch's own, and reads
// the base branch's waivers.
func (g *Gate) policies(ctx context.Context, base gitops.Snapshot, cfg *gitops.Config) (*policy.Engine, waiverSet, error) {
	modules, err := repositoryPolicies(ctx, base)
	if err != nil {
		return nil, waiverSet{}, err
	}
	waivers, warnings, err := policy.LoadWaivers(ctx, base, g.validator)
	if err != nil {
		return nil, waiverSet{}, err
	}
	engine := policy.Compile(ctx, append(append([]policy.Module{}, g.builtin...), modules...), cfg)
	return engine, waiverSet{waivers, warnings}, nil
}

// repositoryPolicies reads .modelgate/policies/*.rego.
func repositoryPolicies(ctx context.Context, snap gitops.Snapshot) ([]policy.Module, error) {
	names, err := snap.ReadDir(ctx, gitops.PoliciesDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", gitops.PoliciesDir, err)
	}
	var modules []policy.Module
	for _, n := range names {
		if path.Ext(n) != ".rego" {
			continue
		}
		p := path.Join(gitops.PoliciesDir, n)
		src, err := snap.ReadFile(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		modules = append(modules, policy.Module{Path: p, Source: src})
	}
	return modules, nil
}

// histories reads each stage's pin history on the base branch.
func (g *Gate) histories(ctx context.Context, repo gitops.Repository, base string, cfg *gitops.Config) (map[string]gitops.History, error) {
	h := make(map[string]gitops.History, len(cfg.Stages))
	for _, s := range cfg.Stages {
		hist, err := gitops.PinHistory(ctx, repo, g.validator, base, s.Name)
		if err != nil {
			return nil, err
		}
		h[s.Name] = hist
	}
	return h, nil
}

// stageRuns reads the App's runs of a model in each stage of the branch.
func (g *Gate) stageRuns(ctx context.Context, repository, branch, model string, cfg *gitops.Config) (map[string][]rollout.Run, error) {
	runs := make(map[string][]rollout.Run, len(cfg.Stages))
	for _, s := range cfg.Stages {
		r, err := g.runs.Runs(ctx, repository, branch, model, s.Name)
		if err != nil {
			return nil, err
		}
		runs[s.Name] = r
	}
	return runs, nil
}

// DecisionRecord is the payload of an audit.KindDecision record: one
// judgement with everything it was made on.
type DecisionRecord struct {
	Base        string             `json:"base_sha"`
	Rules       string             `json:"rules_sha,omitempty"`
	PullRequest policy.PullRequest `json:"pull_request"`
	Promotion   *gitops.Promotion  `json:"promotion"`
	// Manifest is the promoted version's manifest as judged, so that its
	// model card can be read from the audit log alone.
	Manifest *manifest.Manifest `json:"manifest,omitempty"`
	Evidence json.RawMessage    `json:"evidence,omitempty"`
	// EvidenceSource says who computed Evidence: the App, or a workflow
	// whose upload was verified.
	EvidenceSource *policy.EvidenceSource `json:"evidence_source,omitempty"`
	Decision       policy.Decision        `json:"decision"`
	BundleDigest   string                 `json:"bundle_digest,omitempty"`
	// Thresholds are the configured thresholds the decision was made by,
	// so that a report shows each number against its own.
	Thresholds *gitops.Thresholds `json:"thresholds,omitempty"`
	Warnings   []string           `json:"warnings,omitempty"`
}

// AuditEntries are the records the verdict adds to the audit log: one per
// judgement, so that each model version's history reads on its own.
func (r *Result) AuditEntries() ([]audit.Entry, error) {
	var entries []audit.Entry
	for _, j := range r.Judgements {
		var m *manifest.Manifest
		if j.Promotion != nil {
			m = j.Promotion.Manifest
		}
		payload, err := json.Marshal(DecisionRecord{Base: r.Base, Rules: r.Rules, PullRequest: r.PullRequest, Promotion: j.Promotion, Manifest: m,
			Evidence: j.Evidence, EvidenceSource: j.EvidenceSource, Decision: j.Decision, BundleDigest: r.BundleDigest, Thresholds: r.Thresholds, Warnings: r.Warnings})
		if err != nil {
			return nil, fmt.Errorf("encode audit record: %w", err)
		}
		e := audit.Entry{Kind: audit.KindDecision, Repository: r.Repository, PullRequest: r.PullRequest.Number,
			HeadSHA: r.Head, Actor: r.PullRequest.Author, Payload: payload}
		if p := j.Promotion; p != nil {
			e.Model, e.Version, e.Stage = p.Model, p.Version, p.ToStage
		} else {
			e.Model, e.Version = j.Model, j.Version
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// Package compliance builds a model's compliance report from the audit log:
// for every version and stage, who proposed it, what evidence and which policy
// allowed it, who approved, when it was merged and deployed and what it
// replaced, each fact traced to the audit record it comes from.
package compliance

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
)

// ErrNoRecords is wrapped by the error Load returns when the audit log holds
// nothing about the model (or the version) asked for.
var ErrNoRecords = errors.New("no audit records")

// Store is the audit store a report is read from.
type Store interface {
	Records(ctx context.Context, f audit.Filter) ([]audit.Record, error)
	Verify(ctx context.Context) (int64, error)
}

// Report is the compliance report of one model. Its JSON encoding is a
// public interface: keys are only ever added.
type Report struct {
	Model string `json:"model"`
	// Version is the version the report was restricted to; empty for all.
	Version     string    `json:"version,omitempty"`
	GeneratedAt time.Time `json:"generated_at"`
	Chain       Chain     `json:"chain"`
	// Versions are in the order they first appear in the audit log.
	Versions []Version `json:"versions"`
	// Unreadable lists the records of the model whose payload could not be
	// decoded; what could be read of them is still reported.
	Unreadable []Problem `json:"unreadable,omitempty"`
}

// Chain is the verification status of the whole audit log at the time of
// the report.
type Chain struct {
	Intact bool `json:"intact"`
	// Verified is how many records, from the first, were found intact.
	Verified int64 `json:"verified_records"`
	// FirstBad is the sequence number of the first record that breaks the
	// chain; every fact from it or a later record is unverified.
	FirstBad int64  `json:"first_bad_seq,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Verifies reports whether the record numbered seq is covered by an intact
// stretch of the chain.
func (c Chain) Verifies(seq int64) bool {
	return c.Intact || seq < c.FirstBad
}

// Problem is a record that could not be fully read.
type Problem struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// Version is the history of one model version.
type Version struct {
	Version string  `json:"version"`
	Stages  []Stage `json:"stages"`
}

// Stage is the history of a model version in one stage.
type Stage struct {
	Stage string `json:"stage"`
	// Proposals are the changes that promoted the version to the stage, in
	// the order they were first judged.
	Proposals []Proposal `json:"proposals"`
	// Events are deployments, rollbacks and any other records of the version
	// in the stage, in time order.
	Events []Event `json:"events"`
}

// Source names the audit record a fact comes from.
type Source struct {
	Seq        int64     `json:"seq"`
	RecordedAt time.Time `json:"recorded_at"`
}

func sourceOf(r audit.Record) Source {
	return Source{Seq: r.Seq, RecordedAt: r.RecordedAt.UTC()}
}

// Proposal statuses.
const (
	StatusMerged       = "merged"
	StatusMergeRefused = "merge_refused"
	StatusAllowed      = "allowed"
	StatusDenied       = "denied"
)

// Proposal is one pull request (or one head judged by a local gate run)
// promoting the version to the stage or, with Removal, taking it out.
type Proposal struct {
	Repository string `json:"repository"`
	// PullRequest is 0 for a change judged on a local checkout.
	PullRequest int    `json:"pull_request"`
	Author      string `json:"author"`
	BaseRef     string `json:"base_ref,omitempty"`
	// BaseSHA and HeadSHA are those of the latest decision.
	BaseSHA string `json:"base_sha,omitempty"`
	HeadSHA string `json:"head_sha"`
	// Replaced is the version the stage ran before; empty when the model was
	// new to the stage.
	Replaced     string `json:"replaced,omitempty"`
	FromStage    string `json:"from_stage,omitempty"`
	Rollback     bool   `json:"rollback"`
	Removal      bool   `json:"removal"`
	ManifestPath string `json:"manifest_path,omitempty"`
	// Status is merged, merge_refused, allowed or denied: what the latest of
	// its decisions, refusals and merges says.
	Status    string     `json:"status"`
	Decisions []Decision `json:"decisions"`
	Approvals []Approval `json:"approvals"`
	Pushes    []Push     `json:"pushes"`
	Merges    []Merge    `json:"merges"`
	Refusals  []Refusal  `json:"refusals"`
}

// Decision is one gate decision.
type Decision struct {
	Source
	Actor        string    `json:"actor"`
	HeadSHA      string    `json:"head_sha"`
	BaseSHA      string    `json:"base_sha,omitempty"`
	Allow        bool      `json:"allow"`
	Deny         []Message `json:"deny"`
	Warn         []Message `json:"warn"`
	BundleDigest string    `json:"bundle_digest"`
	InputDigest  string    `json:"input_digest"`
	// Approvals are the approvals the decision was given.
	Approvals []policy.Approval `json:"approvals"`
	// Evidence is nil when no evidence was recorded with the decision.
	Evidence *Evidence `json:"evidence,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
}

// Message is a policy's reason to deny or warn.
type Message struct {
	Code string `json:"code"`
	Msg  string `json:"msg"`
	// Waiver is the waiver that turned a deny into this warning.
	Waiver *Waiver `json:"waiver,omitempty"`
}

// Waiver is a waiver used by a decision.
type Waiver struct {
	Code       string `json:"code"`
	Reason     string `json:"reason"`
	ApprovedBy string `json:"approved_by"`
	Expires    string `json:"expires"`
}

// Evidence is the key numbers of an evidence document (SPEC §3). A null
// number was absent or undefined.
type Evidence struct {
	Schema         string   `json:"schema"`
	DataRows       *int64   `json:"data_rows"`
	ContractPassed *bool    `json:"contract_passed"`
	Metrics        []Metric `json:"metrics"`
	ShareDrifted   *float64 `json:"share_drifted"`
	DriftedColumns []string `json:"drifted_columns"`
	// Fairness has one entry per sensitive attribute, by name.
	Fairness []Fairness `json:"fairness"`
}

// Metric is an evaluation metric of the model and of its baseline.
type Metric struct {
	Name     string   `json:"name"`
	Value    *float64 `json:"value"`
	Baseline *float64 `json:"baseline"`
}

// Fairness is the fairness of the model across one sensitive attribute.
type Fairness struct {
	Attribute               string   `json:"attribute"`
	DisparateImpactRatio    *float64 `json:"disparate_impact_ratio"`
	EqualizedOddsDifference *float64 `json:"equalized_odds_difference"`
}

// Approval is an approving review.
type Approval struct {
	Source
	User        string   `json:"user"`
	Teams       []string `json:"teams"`
	HeadSHA     string   `json:"head_sha"`
	SubmittedAt string   `json:"submitted_at,omitempty"`
	ReviewID    int64    `json:"review_id,omitempty"`
}

// Push is someone pushing commits to the pull request.
type Push struct {
	Source
	User    string `json:"user"`
	HeadSHA string `json:"head_sha"`
	HeadRef string `json:"head_ref,omitempty"`
}

// Merge is the pull request being merged.
type Merge struct {
	Source
	Actor     string `json:"actor"`
	Method    string `json:"method"`
	CommitSHA string `json:"merge_commit_sha"`
	BaseRef   string `json:"base_ref"`
	HeadSHA   string `json:"head_sha"`
}

// Refusal is the forge refusing to merge the pull request.
type Refusal struct {
	Source
	Method  string `json:"method"`
	Reason  string `json:"reason"`
	HeadSHA string `json:"head_sha"`
}

// Event is any other record of the version in the stage: a deployment, a
// rollback. Details is its payload as recorded.
type Event struct {
	Source
	Kind        audit.Kind      `json:"kind"`
	Actor       string          `json:"actor"`
	Repository  string          `json:"repository,omitempty"`
	PullRequest int             `json:"pull_request,omitempty"`
	HeadSHA     string          `json:"head_sha,omitempty"`
	Details     json.RawMessage `json:"details"`
}

// Load reads the records of model (of one version, unless version is empty)
// and of the pull requests that promoted it, verifies the audit chain and
// builds the report. A broken chain does not stop the report: it is reported
// in Chain and the facts it no longer vouches for are marked.
func Load(ctx context.Context, s Store, model, version string, now time.Time) (*Report, error) {
	if model == "" {
		return nil, errors.New("compliance report: model is empty")
	}
	records, err := s.Records(ctx, audit.Filter{Model: model, Version: version})
	if err != nil {
		return nil, fmt.Errorf("compliance report: %w", err)
	}
	if len(records) == 0 {
		if version != "" {
			return nil, fmt.Errorf("%w for model %s version %s", ErrNoRecords, model, version)
		}
		return nil, fmt.Errorf("%w for model %s", ErrNoRecords, model)
	}
	chain, err := VerifyChain(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("compliance report: %w", err)
	}
	// Approvals and pushes are recorded per pull request, not per model.
	type pull struct {
		repository string
		number     int
	}
	var pulls []pull
	for _, r := range records {
		p := pull{r.Repository, r.PullRequest}
		if p.number != 0 && !slices.Contains(pulls, p) {
			pulls = append(pulls, p)
		}
	}
	var related []audit.Record
	for _, p := range pulls {
		recs, err := s.Records(ctx, audit.Filter{Repository: p.repository, PullRequest: p.number})
		if err != nil {
			return nil, fmt.Errorf("compliance report: %w", err)
		}
		related = append(related, recs...)
	}
	return build(model, version, now, chain, records, related), nil
}

// VerifyChain verifies the whole audit chain. A broken chain is a Chain, not
// an error: the error is only for a check that could not be made.
func VerifyChain(ctx context.Context, s Store) (Chain, error) {
	n, err := s.Verify(ctx)
	var broken *audit.ChainError
	if errors.As(err, &broken) {
		return Chain{Verified: n, FirstBad: broken.Seq, Reason: broken.Reason}, nil
	}
	if err != nil {
		return Chain{}, err
	}
	return Chain{Intact: true, Verified: n}, nil
}

// proposalKey tells proposals apart: by pull request, or for local gate runs,
// which have none, by the head they judged.
type proposalKey struct {
	repository string
	number     int
	head       string
}

func keyOf(r audit.Record) proposalKey {
	k := proposalKey{repository: r.Repository, number: r.PullRequest}
	if k.number == 0 {
		k.head = r.HeadSHA
	}
	return k
}

// builder accumulates a report; stages and proposals are held by pointer
// until the report is assembled so that records can be added in any order.
type builder struct {
	rep       *Report
	versions  []*versionAcc
	byVersion map[string]*versionAcc
}

type versionAcc struct {
	name    string
	stages  []*stageAcc
	byStage map[string]*stageAcc
}

type stageAcc struct {
	name      string
	proposals []*Proposal
	byKey     map[proposalKey]*Proposal
	events    []Event
}

func build(model, version string, now time.Time, chain Chain, records, related []audit.Record) *Report {
	b := &builder{
		rep:       &Report{Model: model, Version: version, GeneratedAt: now.UTC(), Chain: chain, Versions: []Version{}},
		byVersion: map[string]*versionAcc{},
	}
	// Approvals and pushes are attached once every proposal is known, as
	// they may have been recorded before the decision.
	var later []audit.Record
	for _, r := range records {
		if r.Kind == audit.KindApproval || r.Kind == audit.KindPush {
			later = append(later, r)
			continue
		}
		b.add(r)
	}
	seen := map[int64]bool{}
	for _, r := range append(later, related...) {
		if seen[r.Seq] || (r.Model != "" && r.Model != model) {
			continue
		}
		seen[r.Seq] = true
		b.attach(r)
	}
	return b.report()
}

func (b *builder) stage(r audit.Record) *stageAcc {
	v := b.byVersion[r.Version]
	if v == nil {
		v = &versionAcc{name: r.Version, byStage: map[string]*stageAcc{}}
		b.byVersion[r.Version] = v
		b.versions = append(b.versions, v)
	}
	s := v.byStage[r.Stage]
	if s == nil {
		s = &stageAcc{name: r.Stage, byKey: map[proposalKey]*Proposal{}}
		v.byStage[r.Stage] = s
		v.stages = append(v.stages, s)
	}
	return s
}

func (s *stageAcc) proposal(r audit.Record) *Proposal {
	k := keyOf(r)
	p := s.byKey[k]
	if p == nil {
		p = &Proposal{Repository: r.Repository, PullRequest: r.PullRequest, Author: r.Actor, HeadSHA: r.HeadSHA,
			Decisions: []Decision{}, Approvals: []Approval{}, Pushes: []Push{}, Merges: []Merge{}, Refusals: []Refusal{}}
		s.byKey[k] = p
		s.proposals = append(s.proposals, p)
	}
	return p
}

// add files one record of the model other than an approval or a push.
func (b *builder) add(r audit.Record) {
	s := b.stage(r)
	switch r.Kind {
	case audit.KindDecision:
		p := s.proposal(r)
		d, prom, pr, err := decodeDecision(r)
		if err != nil {
			b.unreadable(r, err)
		}
		p.Decisions = append(p.Decisions, d)
		p.HeadSHA, p.BaseSHA = d.HeadSHA, d.BaseSHA
		if pr.Author != "" {
			p.Author = pr.Author
		}
		if pr.BaseRef != "" {
			p.BaseRef = pr.BaseRef
		}
		if prom != nil {
			p.Replaced, p.FromStage, p.Rollback, p.ManifestPath = prom.FromVersion, prom.FromStage, prom.Rollback, prom.ManifestPath
			p.Removal = prom.Kind == gitops.KindRemoval
		}
	case audit.KindMerge:
		p := s.proposal(r)
		var m audit.MergePayload
		b.decode(r, &m)
		p.Merges = append(p.Merges, Merge{Source: sourceOf(r), Actor: r.Actor, Method: m.Method, CommitSHA: m.CommitSHA, BaseRef: m.BaseRef, HeadSHA: r.HeadSHA})
		if p.BaseRef == "" {
			p.BaseRef = m.BaseRef
		}
	case audit.KindMergeRefused:
		p := s.proposal(r)
		var m audit.MergeRefusedPayload
		b.decode(r, &m)
		p.Refusals = append(p.Refusals, Refusal{Source: sourceOf(r), Method: m.Method, Reason: m.Reason, HeadSHA: r.HeadSHA})
	default:
		s.events = append(s.events, Event{Source: sourceOf(r), Kind: r.Kind, Actor: r.Actor, Repository: r.Repository,
			PullRequest: r.PullRequest, HeadSHA: r.HeadSHA, Details: payloadOf(r)})
	}
}

// attach adds an approval or a push to every proposal of its pull request.
func (b *builder) attach(r audit.Record) {
	if r.Kind != audit.KindApproval && r.Kind != audit.KindPush {
		return
	}
	var ps []*Proposal
	for _, v := range b.versions {
		for _, s := range v.stages {
			for k, p := range s.byKey {
				if k.number != 0 && k.number == r.PullRequest && k.repository == r.Repository {
					ps = append(ps, p)
				}
			}
		}
	}
	if len(ps) == 0 {
		return
	}
	if r.Kind == audit.KindPush {
		var m audit.PushPayload
		b.decode(r, &m)
		for _, p := range ps {
			p.Pushes = append(p.Pushes, Push{Source: sourceOf(r), User: r.Actor, HeadSHA: r.HeadSHA, HeadRef: m.HeadRef})
		}
		return
	}
	var m audit.ApprovalPayload
	b.decode(r, &m)
	a := Approval{Source: sourceOf(r), User: r.Actor, Teams: nonNil(m.Teams), HeadSHA: r.HeadSHA, ReviewID: m.ReviewID}
	if !m.SubmittedAt.IsZero() {
		a.SubmittedAt = m.SubmittedAt.UTC().Format(time.RFC3339)
	}
	for _, p := range ps {
		p.Approvals = append(p.Approvals, a)
	}
}

func (b *builder) decode(r audit.Record, v any) {
	if err := json.Unmarshal(r.Payload, v); err != nil {
		b.unreadable(r, err)
	}
}

func (b *builder) unreadable(r audit.Record, err error) {
	b.rep.Unreadable = append(b.rep.Unreadable, Problem{Seq: r.Seq, Reason: fmt.Sprintf("%s payload: %v", r.Kind, err)})
}

// report assembles the report, with every list in record order.
func (b *builder) report() *Report {
	for _, v := range b.versions {
		ver := Version{Version: v.name, Stages: make([]Stage, 0, len(v.stages))}
		for _, s := range v.stages {
			st := Stage{Stage: s.name, Proposals: make([]Proposal, 0, len(s.proposals)), Events: s.events}
			if st.Events == nil {
				st.Events = []Event{}
			}
			for _, p := range s.proposals {
				sortBySeq(p.Approvals, func(a Approval) int64 { return a.Seq })
				sortBySeq(p.Pushes, func(a Push) int64 { return a.Seq })
				p.Status = status(p)
				st.Proposals = append(st.Proposals, *p)
			}
			ver.Stages = append(ver.Stages, st)
		}
		b.rep.Versions = append(b.rep.Versions, ver)
	}
	sortBySeq(b.rep.Unreadable, func(p Problem) int64 { return p.Seq })
	return b.rep
}

func sortBySeq[T any](s []T, seq func(T) int64) {
	slices.SortStableFunc(s, func(a, b T) int { return cmp.Compare(seq(a), seq(b)) })
}

// status is what the latest word on the proposal says; a merge is final.
func status(p *Proposal) string {
	if len(p.Merges) > 0 {
		return StatusMerged
	}
	var last int64
	st := StatusDenied
	for _, d := range p.Decisions {
		if d.Seq > last {
			last, st = d.Seq, StatusDenied
			if d.Allow {
				st = StatusAllowed
			}
		}
	}
	for _, r := range p.Refusals {
		if r.Seq > last {
			last, st = r.Seq, StatusMergeRefused
		}
	}
	return st
}

// decodeDecision reads a decision record as gate.Result.AuditEntries writes
// it. On error it still returns what the record itself says.
func decodeDecision(r audit.Record) (Decision, *gitops.Promotion, policy.PullRequest, error) {
	d := Decision{Source: sourceOf(r), Actor: r.Actor, HeadSHA: r.HeadSHA, Deny: []Message{}, Warn: []Message{}, Approvals: []policy.Approval{}}
	var payload gate.DecisionRecord
	if err := json.Unmarshal(r.Payload, &payload); err != nil {
		return d, nil, policy.PullRequest{}, err
	}
	d.BaseSHA = payload.Base
	d.Allow = payload.Decision.Allow
	d.Deny = messages(payload.Decision.Deny)
	d.Warn = messages(payload.Decision.Warn)
	d.BundleDigest = payload.Decision.BundleDigest
	if d.BundleDigest == "" {
		d.BundleDigest = payload.BundleDigest
	}
	d.InputDigest = payload.Decision.InputDigest
	if payload.PullRequest.Approvals != nil {
		d.Approvals = payload.PullRequest.Approvals
	}
	d.Warnings = payload.Warnings
	var err error
	if len(payload.Evidence) > 0 && string(payload.Evidence) != "null" {
		d.Evidence, err = summarize(payload.Evidence)
		if err != nil {
			err = fmt.Errorf("evidence: %w", err)
		}
	}
	return d, payload.Promotion, payload.PullRequest, err
}

func messages(ms []policy.Message) []Message {
	out := make([]Message, 0, len(ms))
	for _, m := range ms {
		msg := Message{Code: m.Code, Msg: m.Msg}
		if w := m.Waiver; w != nil {
			msg.Waiver = &Waiver{Code: w.Code, Reason: w.Reason, ApprovedBy: w.ApprovedBy, Expires: w.Expires}
		}
		out = append(out, msg)
	}
	return out
}

// summarize picks the key numbers out of an evidence document.
func summarize(raw json.RawMessage) (*Evidence, error) {
	var doc struct {
		Schema string `json:"schema"`
		Data   struct {
			Rows     *int64 `json:"rows"`
			Contract struct {
				Passed *bool `json:"passed"`
			} `json:"contract"`
		} `json:"data"`
		Drift struct {
			Columns map[string]struct {
				Drifted bool `json:"drifted"`
			} `json:"columns"`
			ShareDrifted *float64 `json:"share_drifted"`
		} `json:"drift"`
		Evaluation struct {
			Metrics  map[string]*float64 `json:"metrics"`
			Baseline struct {
				Metrics map[string]*float64 `json:"metrics"`
			} `json:"baseline"`
		} `json:"evaluation"`
		Fairness map[string]struct {
			DisparateImpactRatio    *float64 `json:"disparate_impact_ratio"`
			EqualizedOddsDifference *float64 `json:"equalized_odds_difference"`
		} `json:"fairness"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	e := &Evidence{Schema: doc.Schema, DataRows: doc.Data.Rows, ContractPassed: doc.Data.Contract.Passed,
		ShareDrifted: doc.Drift.ShareDrifted, Metrics: []Metric{}, DriftedColumns: []string{}, Fairness: []Fairness{}}
	names := map[string]bool{}
	for n := range doc.Evaluation.Metrics {
		names[n] = true
	}
	for n := range doc.Evaluation.Baseline.Metrics {
		names[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		e.Metrics = append(e.Metrics, Metric{Name: n, Value: doc.Evaluation.Metrics[n], Baseline: doc.Evaluation.Baseline.Metrics[n]})
	}
	for _, c := range slices.Sorted(maps.Keys(doc.Drift.Columns)) {
		if doc.Drift.Columns[c].Drifted {
			e.DriftedColumns = append(e.DriftedColumns, c)
		}
	}
	for _, a := range slices.Sorted(maps.Keys(doc.Fairness)) {
		f := doc.Fairness[a]
		e.Fairness = append(e.Fairness, Fairness{Attribute: a, DisparateImpactRatio: f.DisparateImpactRatio, EqualizedOddsDifference: f.EqualizedOddsDifference})
	}
	return e, nil
}

// payloadOf returns a record's payload for embedding in the report's JSON,
// which a payload edited into invalid JSON would otherwise break.
func payloadOf(r audit.Record) json.RawMessage {
	if json.Valid(r.Payload) {
		return r.Payload
	}
	s, _ := json.Marshal(string(r.Payload)) // marshalling a string cannot fail
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

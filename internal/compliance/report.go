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
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/jsonlist"
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

// Schema names the version of the report's JSON encoding, which docs/report.md
// documents field by field: within a version, keys are only ever added.
const Schema = "modelgate.report/v1"

// Query says what a report covers.
type Query struct {
	Model string
	// Version restricts the report to one version; empty for all.
	Version string
	// Since, when not zero, leaves out the records made before it; the
	// summary still says where each version stands as of every record.
	Since time.Time
}

// Report is the compliance report of one model.
type Report struct {
	Schema string `json:"schema"`
	Model  string `json:"model"`
	// Version is the version the report was restricted to; empty for all.
	Version string `json:"version,omitempty"`
	// Since is the time the report's records start at; absent for all.
	Since       *time.Time `json:"since,omitempty"`
	GeneratedAt time.Time  `json:"generated_at"`
	Chain       Chain      `json:"chain"`
	// Summary says where each version stands in each stage, in the order
	// of Versions and their stages.
	Summary []StageState `json:"summary"`
	// Cards are the model cards of the versions, from the latest manifest
	// recorded for each.
	Cards []Card `json:"model_cards"`
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
	// Waivers are the waivers the decision used, each once.
	Waivers []Waiver `json:"waivers"`
	// Approvals are the approvals the decision was given; Counted says
	// which of them counted.
	Approvals []policy.Approval `json:"approvals"`
	Counted   []ApprovalCount   `json:"approvals_counted"`
	// Thresholds are those the decision was judged by; nil when its record
	// has none.
	Thresholds *gitops.Thresholds `json:"thresholds,omitempty"`
	// Evidence is nil when no evidence was recorded with the decision.
	Evidence *Evidence `json:"evidence,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
}

// ApprovalCount says whether an approval a decision was given counted: an
// approval of another head than the one judged does not.
type ApprovalCount struct {
	User    string `json:"user"`
	Counted bool   `json:"counted"`
	Reason  string `json:"reason,omitempty"`
}

// Message is a policy's reason to deny or warn, as the report's v1 JSON
// spells it. It is not policy.Message: schemas/report.cue fixes this
// spelling (code always present, a waiver's approved_by), which no later
// release may rename, while the audit record keeps the spelling of the
// policies' output and of waivers.yaml.
type Message struct {
	Code string `json:"code"`
	// Msg is the message without the note of the waiver that turned it into
	// a warning, which Waiver carries.
	Msg string `json:"msg"`
	// Position is where in the repository the problem is, when the gate
	// knew it; Msg then says what without where.
	Position *policy.Position `json:"position,omitempty"`
	// Waiver is the waiver that turned a deny into this warning.
	Waiver *Waiver `json:"waiver,omitempty"`
}

// Text is the message at its position, for a report that shows no position
// apart.
func (m Message) Text() string { return m.Position.Label(m.Msg) }

// Waiver is a waiver used by a decision, as the report's v1 JSON spells it.
type Waiver struct {
	Code       string `json:"code"`
	Reason     string `json:"reason"`
	ApprovedBy string `json:"approved_by"`
	Expires    string `json:"expires"`
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

// Load reads the records of the model and of the pull requests that
// promoted it, verifies the audit chain and builds the report of q. A broken
// chain does not stop the report: it is reported in Chain and the facts it
// no longer vouches for are marked.
func Load(ctx context.Context, s Store, q Query, now time.Time) (*Report, error) {
	if q.Model == "" {
		return nil, errors.New("compliance report: model is empty")
	}
	// Where a version stands depends on the others (a rollback to one ends
	// another's run), so every record of the model is read.
	all, err := s.Records(ctx, audit.Filter{Model: q.Model})
	if err != nil {
		return nil, fmt.Errorf("compliance report: %w", err)
	}
	var records []audit.Record
	for _, r := range all {
		if (q.Version == "" || r.Version == q.Version) && !r.RecordedAt.Before(q.Since) {
			records = append(records, r)
		}
	}
	if len(records) == 0 {
		if q.Version != "" {
			return nil, fmt.Errorf("%w for model %s version %s", ErrNoRecords, q.Model, q.Version)
		}
		return nil, fmt.Errorf("%w for model %s", ErrNoRecords, q.Model)
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
		for _, r := range recs {
			if !r.RecordedAt.Before(q.Since) {
				related = append(related, r)
			}
		}
	}
	rep := build(q.Model, q.Version, now, chain, records, related)
	if !q.Since.IsZero() {
		since := q.Since.UTC()
		rep.Since = &since
	}
	var problems []Problem
	rep.Summary, problems = summary(all, q.Version, now)
	rep.Unreadable = append(rep.Unreadable, problems...)
	sortBySeq(rep.Unreadable, func(p Problem) int64 { return p.Seq })
	rep.Cards = cards(all, q.Version)
	return rep, nil
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
		rep:       &Report{Schema: Schema, Model: model, Version: version, GeneratedAt: now.UTC(), Chain: chain, Versions: []Version{}},
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
	a := Approval{Source: sourceOf(r), User: r.Actor, Teams: jsonlist.NonNil(m.Teams), HeadSHA: r.HeadSHA, ReviewID: m.ReviewID}
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
	b.rep.Unreadable = append(b.rep.Unreadable, problemOf(r, err))
}

// problemOf is a record whose payload could not be decoded.
func problemOf(r audit.Record, err error) Problem {
	return Problem{Seq: r.Seq, Reason: fmt.Sprintf("%s payload: %v", r.Kind, err)}
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
	d := Decision{Source: sourceOf(r), Actor: r.Actor, HeadSHA: r.HeadSHA, Deny: []Message{}, Warn: []Message{}, Waivers: []Waiver{},
		Approvals: []policy.Approval{}, Counted: []ApprovalCount{}}
	var payload gate.DecisionRecord
	if err := json.Unmarshal(r.Payload, &payload); err != nil {
		return d, nil, policy.PullRequest{}, err
	}
	d.BaseSHA = payload.Base
	d.Allow = payload.Decision.Allow
	d.Deny = messages(payload.Decision.Deny)
	d.Warn = messages(payload.Decision.Warn)
	d.Thresholds = payload.Thresholds
	for _, m := range d.Warn {
		if m.Waiver != nil && !slices.Contains(d.Waivers, *m.Waiver) {
			d.Waivers = append(d.Waivers, *m.Waiver)
		}
	}
	d.BundleDigest = payload.Decision.BundleDigest
	if d.BundleDigest == "" {
		d.BundleDigest = payload.BundleDigest
	}
	d.InputDigest = payload.Decision.InputDigest
	if payload.PullRequest.Approvals != nil {
		d.Approvals = payload.PullRequest.Approvals
	}
	for _, a := range d.Approvals {
		c := ApprovalCount{User: a.User, Counted: a.SHA == d.HeadSHA}
		if !c.Counted {
			c.Reason = fmt.Sprintf("given on head %s, not on the head judged", short(a.SHA))
		}
		d.Counted = append(d.Counted, c)
	}
	d.Warnings = payload.Warnings
	var err error
	if len(payload.Evidence) > 0 && string(payload.Evidence) != "null" {
		d.Evidence, err = summarize(payload.Evidence, payload.Thresholds)
		if err != nil {
			err = fmt.Errorf("evidence: %w", err)
		}
	}
	return d, payload.Promotion, payload.PullRequest, err
}

func messages(ms []policy.Message) []Message {
	out := make([]Message, 0, len(ms))
	for _, m := range ms {
		msg := Message{Code: m.Code, Msg: m.Msg, Position: m.Position}
		if w := m.Waiver; w != nil {
			msg.Waiver = &Waiver{Code: w.Code, Reason: w.Reason, ApprovedBy: w.ApprovedBy, Expires: w.Expires}
			// The report shows the waiver once, from Waiver. Records
			// written before the gate kept waivers apart from messages
			// end each waived message with a note of the waiver.
			msg.Msg = strings.TrimSuffix(m.Msg, fmt.Sprintf(" (waived until %s by %s: %s)", w.Expires, w.ApprovedBy, w.Reason))
		}
		out = append(out, msg)
	}
	return out
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

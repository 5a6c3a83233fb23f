package policy

import (
	"slices"
	"time"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/rollout"
)

// Input is the document every policy judges (policies/README.md). Lists are never
// null, so that policies need not tell an absent list from an empty one.
type Input struct {
	Manifest any `json:"manifest"`
	Evidence any `json:"evidence"`
	// EvidenceSource says where Evidence came from; nil when there is none.
	EvidenceSource *EvidenceSource   `json:"evidence_source"`
	Promotion      *gitops.Promotion `json:"promotion"`
	PullRequest    PullRequest       `json:"pull_request"`
	History        History           `json:"history"`
	Config         any               `json:"config"`
}

// EvidenceSource says who computed the evidence a promotion is judged on.
type EvidenceSource struct {
	// Kind is EvidenceApp when modelgate ran the checks itself (the App on
	// the repository's files, or the CLI), EvidenceOIDC when a workflow
	// whose OIDC token was verified uploaded it.
	Kind string `json:"kind"`
	// Workflow, RunID and VerifiedAt name the upload (EvidenceOIDC only):
	// the token's job_workflow_ref and run_id, and when it was verified
	// (RFC 3339).
	Workflow   string `json:"workflow,omitempty"`
	RunID      string `json:"run_id,omitempty"`
	VerifiedAt string `json:"verified_at,omitempty"`
}

// Kinds of EvidenceSource.
const (
	EvidenceApp  = "app"
	EvidenceOIDC = "oidc"
)

type PullRequest struct {
	Number       int        `json:"number"`
	Author       string     `json:"author"`
	HeadSHA      string     `json:"head_sha"`
	BaseRef      string     `json:"base_ref"`
	Labels       []string   `json:"labels"`
	Approvals    []Approval `json:"approvals"`
	Committers   []string   `json:"committers"`
	ChangedFiles []string   `json:"changed_files"`
}

// Approval is an approving review, with the head SHA it was given on.
type Approval struct {
	User  string   `json:"user"`
	Teams []string `json:"teams"`
	SHA   string   `json:"sha"`
}

// History is the promoted model's past on the base branch.
type History struct {
	Now    string                  `json:"now"`
	Stages map[string]StageHistory `json:"stages"`
}

type StageHistory struct {
	Version  string   `json:"version"`
	Since    string   `json:"since"`
	Versions []string `json:"versions"`
	// Analysis is the live analysis of the stage's current run, nil without
	// one.
	Analysis *analysis.State `json:"analysis"`
	Runs     []Run           `json:"runs"`
}

// Run is one stretch of time in which a stage ran a version of the model.
// Times are RFC 3339, "" for none.
type Run struct {
	Version string `json:"version"`
	// Since is when the deployment succeeded, or, without the App's records,
	// when the commit that pinned the version landed.
	Since string `json:"since"`
	// Until is when the next version replaced it; "" while it runs.
	Until string `json:"until"`
	// Deployment is the last accepted deployment state; "" without the
	// App's records.
	Deployment string `json:"deployment"`
	// Analysis is the run's analysis phase; "" without analysis.
	Analysis string `json:"analysis"`
}

// NewHistory summarises each stage's history for one model: the pins of git
// history, and, for a stage where the App holds deployment records of the
// model (runs, oldest first, as rollout.Ledger returns them), the runs those
// records make. Where those records hold a deployment of the version the
// stage pins, they say since when it runs: from its success, "" before.
func NewHistory(now time.Time, stages map[string]gitops.History, runs map[string][]rollout.Run, model string) History {
	h := History{Now: timestamp(now), Stages: make(map[string]StageHistory, len(stages))}
	for stage, hist := range stages {
		s := StageHistory{Versions: []string{}, Runs: []Run{}}
		if len(hist) > 0 {
			s.Version = hist[0].Models[model]
		}
		if since, ok := hist.Since(model, s.Version); ok && s.Version != "" {
			s.Since = timestamp(since)
		}
		for _, p := range hist {
			if v := p.Models[model]; v != "" && !slices.Contains(s.Versions, v) {
				s.Versions = append(s.Versions, v)
			}
		}
		if recorded := runs[stage]; len(recorded) > 0 {
			s.Runs = deployedRuns(recorded)
			// A version pinned again after its run there ended has no
			// deployment yet: it has run for no time.
			if r, ok := newestRun(recorded, s.Version); ok {
				s.Since = ""
				if r.Current() {
					s.Since, s.Analysis = timestamp(r.Deployed), r.Analysis
				}
			}
		} else {
			s.Runs = pinnedRuns(hist, model)
		}
		h.Stages[stage] = s
	}
	return h
}

// deployedRuns lists the App's runs newest first.
func deployedRuns(runs []rollout.Run) []Run {
	out := make([]Run, 0, len(runs))
	for _, r := range slices.Backward(runs) {
		in := Run{Version: r.Version, Since: timestamp(r.Deployed), Until: timestamp(r.Ended), Deployment: string(r.State)}
		if r.Analysis != nil {
			in.Analysis = string(r.Analysis.Phase)
		}
		out = append(out, in)
	}
	return out
}

func newestRun(runs []rollout.Run, version string) (rollout.Run, bool) {
	for _, r := range slices.Backward(runs) {
		if r.Version == version {
			return r, true
		}
	}
	return rollout.Run{}, false
}

// pinnedRuns reads the runs of git history (newest first): a run starts at
// the oldest commit of a stretch that pins the version and ends at the
// commit after it.
func pinnedRuns(hist gitops.History, model string) []Run {
	out := []Run{}
	for i := 0; i < len(hist); i++ {
		v := hist[i].Models[model]
		if v == "" {
			continue
		}
		r := Run{Version: v}
		if i > 0 {
			r.Until = timestamp(hist[i-1].Commit.Time)
		}
		for i+1 < len(hist) && hist[i+1].Models[model] == v {
			i++
		}
		r.Since = timestamp(hist[i].Commit.Time)
		out = append(out, r)
	}
	return out
}

// timestamp writes t as RFC 3339 in UTC; "" for the zero time.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

package policy

import (
	"slices"
	"time"

	"github.com/modelgate/modelgate/internal/gitops"
)

// Input is the document every policy judges (policies/README.md). Lists are never
// null, so that policies need not tell an absent list from an empty one.
type Input struct {
	Manifest    any               `json:"manifest"`
	Evidence    any               `json:"evidence"`
	Promotion   *gitops.Promotion `json:"promotion"`
	PullRequest PullRequest       `json:"pull_request"`
	History     History           `json:"history"`
	Config      any               `json:"config"`
}

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
}

// NewHistory summarises each stage's pin history for one model.
func NewHistory(now time.Time, stages map[string]gitops.History, model string) History {
	h := History{Now: now.UTC().Format(time.RFC3339), Stages: make(map[string]StageHistory, len(stages))}
	for stage, hist := range stages {
		s := StageHistory{Versions: []string{}}
		if len(hist) > 0 {
			s.Version = hist[0].Models[model]
		}
		if since, ok := hist.Since(model, s.Version); ok && s.Version != "" {
			s.Since = since.UTC().Format(time.RFC3339)
		}
		for _, p := range hist {
			if v := p.Models[model]; v != "" && !slices.Contains(s.Versions, v) {
				s.Versions = append(s.Versions, v)
			}
		}
		h.Stages[stage] = s
	}
	return h
}

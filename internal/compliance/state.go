package compliance

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/rollout"
	"github.com/modelgate/modelgate/manifest"
)

// States of a version in a stage, as the summary gives them.
const (
	StateProposed   = "proposed"    // allowed, or opened by the App, and not merged
	StateDenied     = "denied"      // its latest decision denied it
	StateMerged     = "merged"      // pinned, not yet deployed
	StateDeployed   = "deployed"    // its deployment succeeded
	StateSoaking    = "soaking"     // deployed, its stage's soak not over
	StateFailed     = "failed"      // its deployment or live analysis failed
	StateRolledBack = "rolled back" // a rollback replaced it
)

// StageState is where a version stands in a stage, as of the record (or
// run) that put it there.
type StageState struct {
	Version string    `json:"version"`
	Stage   string    `json:"stage"`
	State   string    `json:"state"`
	Since   time.Time `json:"since"`
	By      string    `json:"by"`
	// Seq is the record that put the version in the state; Decision the
	// latest decision on it in the stage, 0 when there is none.
	Seq      int64 `json:"seq"`
	Decision int64 `json:"decision_seq"`
	// SoakEnds is when a soaking version's soak ends; nil in any other
	// state.
	SoakEnds *time.Time `json:"soak_ends,omitempty"`
}

// summary works out where every version of the model stands in every stage
// at now from all the model's records; version, when not empty, keeps its
// rows alone. Records of runs that cannot be read are left out of the runs
// and returned as problems.
func summary(all []audit.Record, version string, now time.Time) ([]StageState, []Problem) {
	var problems []Problem
	readable := func(r audit.Record, v any) bool {
		if err := json.Unmarshal(r.Payload, v); err != nil {
			problems = append(problems, problemOf(r, err))
			return false
		}
		return true
	}
	type key struct{ version, stage string }
	var order []key
	states := map[key]*StageState{}
	set := func(k key, state string, at time.Time, by string, seq int64) *StageState {
		st := states[k]
		if st == nil {
			st = &StageState{Version: k.version, Stage: k.stage}
			states[k] = st
			order = append(order, k)
		}
		if at.Before(st.Since) {
			return nil
		}
		st.State, st.Since, st.By, st.Seq, st.SoakEnds = state, at.UTC(), by, seq, nil
		return st
	}
	type pull struct {
		repository string
		number     int
		head       string
	}
	rollbacks := map[pull]string{} // the version a rollback pull request replaces
	var deployments, statuses, measurements, analyses []audit.Record
	deployedBy := map[int64]audit.Record{}
	// The soak each run's deployment record names; a run without one is
	// never said to soak, as nothing says for how long.
	soaks := map[int64]time.Duration{}
	judgedAt := map[int64]time.Time{} // a run's latest analysis record
	for _, r := range all {
		k := key{r.Version, r.Stage}
		p := pull{r.Repository, r.PullRequest, ""}
		if p.number == 0 {
			p.head = r.HeadSHA
		}
		switch r.Kind {
		case audit.KindDecision:
			var d gate.DecisionRecord
			if json.Unmarshal(r.Payload, &d) != nil {
				continue // reported as unreadable by the report itself
			}
			state := StateDenied
			if d.Decision.Allow {
				state = StateProposed
			}
			set(k, state, r.RecordedAt, r.Actor, r.Seq)
			states[k].Decision = r.Seq
			if pr := d.Promotion; pr != nil && pr.Rollback && pr.FromVersion != "" {
				rollbacks[p] = pr.FromVersion
			} else {
				delete(rollbacks, p)
			}
		case audit.KindProposal:
			set(k, StateProposed, r.RecordedAt, r.Actor, r.Seq)
		case audit.KindMerge:
			set(k, StateMerged, r.RecordedAt, r.Actor, r.Seq)
			if from, ok := rollbacks[p]; ok {
				set(key{from, r.Stage}, StateRolledBack, r.RecordedAt, r.Actor, r.Seq)
			}
		case audit.KindRollback:
			set(k, StateRolledBack, r.RecordedAt, r.Actor, r.Seq)
		case audit.KindDeployment:
			var d audit.DeploymentPayload
			if readable(r, &d) {
				deployments = append(deployments, r)
				deployedBy[d.DeploymentID] = r
				if soak, err := time.ParseDuration(d.Soak); err == nil {
					soaks[d.DeploymentID] = soak
				} else if d.Soak != "" {
					problems = append(problems, Problem{Seq: r.Seq, Reason: fmt.Sprintf("deployment payload: soak %q: %v", d.Soak, err)})
				}
			}
		case audit.KindDeploymentStatus:
			if readable(r, &audit.DeploymentStatusPayload{}) {
				statuses = append(statuses, r)
			}
		case audit.KindMeasurement:
			if readable(r, &audit.MeasurementPayload{}) {
				measurements = append(measurements, r)
			}
		case audit.KindAnalysis:
			var a audit.AnalysisPayload
			if readable(r, &a) {
				analyses = append(analyses, r)
				judgedAt[a.DeploymentID] = r.RecordedAt
			}
		}
	}
	runs, err := rollout.Project(deployments, statuses, measurements, analyses)
	if err != nil {
		problems = append(problems, Problem{Reason: fmt.Sprintf("runs of the model: %v", err)})
	}
	for _, run := range runs {
		k := key{run.Version, run.Stage}
		rec := deployedBy[run.DeploymentID]
		// A rollback recorded after the run's deployment replaced the run:
		// what the run did before it, its failure above all, which the
		// rollback answered, does not undo it, however close their times.
		if st := states[k]; st != nil && st.State == StateRolledBack && st.Seq > rec.Seq {
			continue
		}
		switch {
		case !run.Failed.IsZero():
			set(k, StateFailed, run.Failed, rec.Actor, rec.Seq)
		case run.Analysis != nil && (run.Analysis.Phase == analysis.Failed || run.Analysis.Phase == analysis.Error):
			set(k, StateFailed, judgedAt[run.DeploymentID], rec.Actor, rec.Seq)
		case !run.Deployed.IsZero() && run.Current() && soaking(soaks, run, now):
			end := run.Deployed.Add(soaks[run.DeploymentID]).UTC()
			if st := set(k, StateSoaking, run.Deployed, rec.Actor, rec.Seq); st != nil {
				st.SoakEnds = &end
			}
		case !run.Deployed.IsZero():
			set(k, StateDeployed, run.Deployed, rec.Actor, rec.Seq)
		}
	}
	out := []StageState{}
	for _, k := range order {
		if version == "" || k.version == version {
			out = append(out, *states[k])
		}
	}
	return out, problems
}

// soaking says whether a run's soak, as its deployment record names it, is
// not over at now.
func soaking(soaks map[int64]time.Duration, run rollout.Run, now time.Time) bool {
	soak, ok := soaks[run.DeploymentID]
	return ok && now.Before(run.Deployed.Add(soak))
}

// Card is a version's model card: what its manifest says of it, and where
// the evidence it was judged on came from.
type Card struct {
	Version string `json:"version"`
	// Seq is the decision record the manifest was read from.
	Seq            int64             `json:"seq"`
	Owner          string            `json:"owner"`
	RiskTier       string            `json:"risk_tier"`
	Description    string            `json:"description,omitempty"`
	Task           string            `json:"task"`
	IntendedUse    string            `json:"intended_use"`
	Limitations    string            `json:"limitations"`
	ArtifactURI    string            `json:"artifact_uri"`
	ArtifactDigest string            `json:"artifact_digest"`
	Framework      string            `json:"framework,omitempty"`
	Lineage        *manifest.Lineage `json:"lineage"`
	// LineageChecks are the evidence's cross-checks of the lineage with DVC
	// and MLflow; nil when the evidence has none.
	LineageChecks *Lineage `json:"lineage_checks"`
	// EvidenceSources are the uploads of evidence for the version by GitHub
	// Actions workflows, as the App verified them.
	EvidenceSources []EvidenceSource `json:"evidence_sources"`
}

// EvidenceSource is one upload of evidence by a workflow run.
type EvidenceSource struct {
	Source
	HeadSHA    string    `json:"head_sha"`
	Manifest   string    `json:"manifest"`
	Workflow   string    `json:"workflow"`
	Repository string    `json:"repository"`
	RunID      string    `json:"run_id"`
	RunAttempt string    `json:"run_attempt"`
	Actor      string    `json:"actor"`
	VerifiedAt time.Time `json:"verified_at"`
}

// cards reads the model card of each version (or of version alone) from
// the latest decision that recorded its manifest.
func cards(all []audit.Record, version string) []Card {
	var out []Card
	index := map[string]int{}
	for _, r := range all {
		if version != "" && r.Version != version {
			continue
		}
		switch r.Kind {
		case audit.KindDecision:
			var d gate.DecisionRecord
			if json.Unmarshal(r.Payload, &d) != nil || d.Manifest == nil {
				continue
			}
			m := d.Manifest
			c := Card{Version: r.Version, Seq: r.Seq, Owner: m.Metadata.Owner, RiskTier: m.Metadata.RiskTier, Description: m.Metadata.Description,
				Task: m.Spec.Task, IntendedUse: m.Spec.IntendedUse, Limitations: m.Spec.Limitations, ArtifactURI: m.Spec.Artifact.URI,
				ArtifactDigest: m.Spec.Artifact.Digest, Framework: m.Spec.Artifact.Framework, Lineage: m.Spec.Lineage, EvidenceSources: []EvidenceSource{}}
			if len(d.Evidence) > 0 {
				// Evidence that cannot be read is reported with its
				// decision; the card goes without its cross-checks.
				if e, err := summarize(d.Evidence, nil); err == nil {
					c.LineageChecks = e.Lineage
				}
			}
			if i, ok := index[r.Version]; ok {
				c.EvidenceSources = out[i].EvidenceSources
				out[i] = c
			} else {
				index[r.Version] = len(out)
				out = append(out, c)
			}
		case audit.KindEvidence:
			var e audit.EvidencePayload
			if json.Unmarshal(r.Payload, &e) != nil {
				continue
			}
			i, ok := index[r.Version]
			if !ok {
				index[r.Version] = len(out)
				i = len(out)
				out = append(out, Card{Version: r.Version, EvidenceSources: []EvidenceSource{}})
			}
			out[i].EvidenceSources = append(out[i].EvidenceSources, EvidenceSource{Source: sourceOf(r), HeadSHA: r.HeadSHA,
				Manifest: e.Manifest, Workflow: e.Claims.JobWorkflowRef, Repository: e.Claims.Repository, RunID: e.Claims.RunID,
				RunAttempt: e.Claims.RunAttempt, Actor: e.Claims.Actor, VerifiedAt: e.VerifiedAt.UTC()})
		}
	}
	if out == nil {
		return []Card{}
	}
	return slices.Clip(out)
}

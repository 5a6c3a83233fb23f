// Package rollout tells where each model version stands in the staged
// deployment: which version runs in which stage, since when its deployment
// there succeeded, whether it failed, and what its live analysis found. The
// App reads it to move a version on or back, the gate to judge soak and
// rollbacks, and `modelgate status` to show it.
//
// The audit log is the only record it reads: every deployment, status,
// measurement and verdict is an audit record, so the state is a projection
// that any replica, or a replica restarted with the same store, computes
// alike, and there is no second table to drift from the log.
package rollout

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
)

// Log is the part of the audit log the ledger reads. It must be safe for
// concurrent use: the App's workers read it at once.
type Log interface {
	Records(ctx context.Context, f audit.Filter) ([]audit.Record, error)
}

// Run is one deployment of a model version to a stage from a branch, and
// what became of it.
type Run struct {
	Repository   string `json:"repository"`
	Branch       string `json:"branch"`
	Model        string `json:"model"`
	Version      string `json:"version"`
	Stage        string `json:"stage"`
	DeploymentID int64  `json:"deployment_id"`
	// Ref is the merge commit deployed; PullRequest the promotion merged.
	Ref         string `json:"ref"`
	PullRequest int    `json:"pull_request"`
	// Payload is what the deployer was asked to run.
	Payload deploy.Payload `json:"payload"`
	// Created is when the App created the deployment, as GitHub says.
	Created time.Time `json:"created"`
	// State is the last accepted status; empty before the first.
	State deploy.State `json:"state"`
	// Deployed is when the first accepted success was posted: the soak
	// clock starts there. Zero before.
	Deployed time.Time `json:"deployed"`
	// Failed is when the first accepted failure or error was posted.
	Failed time.Time `json:"failed"`
	// Ended is when the stage stopped running the version: the merge that
	// pinned the next version there, or an inactive status. Zero while it
	// runs.
	Ended        time.Time              `json:"ended"`
	Measurements []analysis.Measurement `json:"measurements"`
	// Analysis is the run's live analysis as last recorded; nil for a run
	// whose stage has no analysis.
	Analysis *analysis.State `json:"analysis"`
}

// Current reports whether the stage still runs the version.
func (r Run) Current() bool { return r.Ended.IsZero() }

// Good reports whether the version ran well in the stage: its deployment
// succeeded and never failed, and its analysis, if it had one, passed. Only
// a good run makes a version one to roll back to.
func (r Run) Good() bool {
	return !r.Deployed.IsZero() && r.Failed.IsZero() &&
		(r.Analysis == nil || r.Analysis.Phase == analysis.Successful)
}

// Ready reports whether the version may move on from the run's stage at
// now: it still runs there, its deployment succeeded and never failed, it has
// soaked for soak, and its analysis, if it has one, passed. When only time is
// missing, at is when it will be ready; why says what is missing.
func (r Run) Ready(soak time.Duration, now time.Time) (ready bool, at time.Time, why string) {
	switch {
	case !r.Current():
		return false, time.Time{}, fmt.Sprintf("%s no longer runs %s %s", r.Stage, r.Model, r.Version)
	case !r.Failed.IsZero():
		return false, time.Time{}, fmt.Sprintf("the deployment of %s %s to %s failed (%s)", r.Model, r.Version, r.Stage, r.State)
	case r.Deployed.IsZero():
		return false, time.Time{}, fmt.Sprintf("the deployment of %s %s to %s has not succeeded yet", r.Model, r.Version, r.Stage)
	}
	if r.Analysis != nil && r.Analysis.Phase != analysis.Successful {
		if r.Analysis.Phase == analysis.Running {
			return false, time.Time{}, fmt.Sprintf("the live analysis of %s %s in %s is still running", r.Model, r.Version, r.Stage)
		}
		return false, time.Time{}, fmt.Sprintf("the live analysis of %s %s in %s is %s", r.Model, r.Version, r.Stage, r.Analysis.Phase)
	}
	if end := r.Deployed.Add(soak); now.Before(end) {
		return false, end, fmt.Sprintf("%s %s soaks in %s until %s", r.Model, r.Version, r.Stage, end.UTC().Format(time.RFC3339))
	}
	return true, time.Time{}, ""
}

// Bad reports whether the version did not run well in the stage: its
// deployment failed, or its analysis failed or could not conclude. A version
// with a bad run in a stage is never one to return to there.
func (r Run) Bad() bool {
	return !r.Failed.IsZero() ||
		(r.Analysis != nil && r.Analysis.Phase != analysis.Successful && r.Analysis.Phase != analysis.Running)
}

// PreviousGood returns the newest good run of runs (oldest first, as Runs
// returns them) of another version than except: the version a rollback
// returns the stage to. A version that failed in the stage at any time is
// never one, even if another of its runs there was good.
func PreviousGood(runs []Run, except string) (Run, bool) {
	failed := map[string]bool{}
	for _, r := range runs {
		failed[r.Version] = failed[r.Version] || r.Bad()
	}
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.Version != except && !failed[r.Version] && r.Good() {
			return r, true
		}
	}
	return Run{}, false
}

// Ledger reads runs from the audit log.
type Ledger struct{ Log Log }

// Runs returns the model's runs in the stage on the branch, oldest first.
func (l Ledger) Runs(ctx context.Context, repository, branch, model, stage string) ([]Run, error) {
	runs, err := l.read(ctx, audit.Filter{Repository: repository, Model: model, Stage: stage})
	if err != nil {
		return nil, err
	}
	return onBranch(runs, branch), nil
}

// Repository returns every run on the repository's branch, by model, then
// stage, each oldest first.
func (l Ledger) Repository(ctx context.Context, repository, branch string) ([]Run, error) {
	runs, err := l.read(ctx, audit.Filter{Repository: repository})
	if err != nil {
		return nil, err
	}
	return onBranch(runs, branch), nil
}

// Run returns the run of a deployment the App created, and whether there is
// one.
func (l Ledger) Run(ctx context.Context, repository string, deploymentID int64) (Run, bool, error) {
	runs, err := l.read(ctx, audit.Filter{Repository: repository})
	if err != nil {
		return Run{}, false, err
	}
	for _, r := range runs {
		if r.DeploymentID == deploymentID {
			return r, true, nil
		}
	}
	return Run{}, false, nil
}

func onBranch(runs []Run, branch string) []Run {
	return slices.DeleteFunc(runs, func(r Run) bool { return r.Branch != branch })
}

// read projects the runs of the records f selects, of every kind a run is
// made of.
func (l Ledger) read(ctx context.Context, f audit.Filter) ([]Run, error) {
	var recs [4][]audit.Record
	for i, k := range []audit.Kind{audit.KindDeployment, audit.KindDeploymentStatus, audit.KindMeasurement, audit.KindAnalysis} {
		f.Kind = k
		rs, err := l.Log.Records(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("read %s records: %w", k, err)
		}
		recs[i] = rs
	}
	return Project(recs[0], recs[1], recs[2], recs[3])
}

// Project builds the runs that deployment records and the status,
// measurement and analysis records of those deployments make, each list in
// the log's order. Records of deployments not among deployments are ignored.
// Runs come by repository, model, stage and branch, each oldest first.
func Project(deployments, statuses, measurements, analyses []audit.Record) ([]Run, error) {
	runs := make([]Run, 0, len(deployments))
	index := map[runKey]int{}
	for _, rec := range deployments {
		var p audit.DeploymentPayload
		if err := decode(rec, &p); err != nil {
			return nil, err
		}
		k := runKey{rec.Repository, p.DeploymentID}
		if _, dup := index[k]; dup {
			continue
		}
		index[k] = len(runs)
		runs = append(runs, Run{Repository: rec.Repository, Branch: p.BaseRef, Model: rec.Model, Version: rec.Version,
			Stage: rec.Stage, DeploymentID: p.DeploymentID, Ref: p.Ref, PullRequest: rec.PullRequest, Payload: p.Deployment,
			Created: created(p, rec)})
	}
	for _, rec := range statuses {
		var p audit.DeploymentStatusPayload
		if err := decode(rec, &p); err != nil {
			return nil, err
		}
		i, ok := index[runKey{rec.Repository, p.DeploymentID}]
		if !ok || p.Refused != "" {
			continue
		}
		r := &runs[i]
		at := p.CreatedAt
		if at.IsZero() {
			at = rec.RecordedAt
		}
		r.State = deploy.State(p.State)
		switch {
		case r.State == deploy.Success && r.Deployed.IsZero():
			r.Deployed = at
		case r.State.Failed() && r.Failed.IsZero():
			r.Failed = at
		case r.State == deploy.Inactive && r.Ended.IsZero():
			r.Ended = at
		}
	}
	for _, rec := range measurements {
		var p audit.MeasurementPayload
		if err := decode(rec, &p); err != nil {
			return nil, err
		}
		if i, ok := index[runKey{rec.Repository, p.DeploymentID}]; ok {
			runs[i].Measurements = append(runs[i].Measurements, p.Measurement)
		}
	}
	for _, rec := range analyses {
		var p audit.AnalysisPayload
		if err := decode(rec, &p); err != nil {
			return nil, err
		}
		if i, ok := index[runKey{rec.Repository, p.DeploymentID}]; ok {
			st := p.State
			runs[i].Analysis = &st
		}
	}
	slices.SortStableFunc(runs, func(a, b Run) int {
		return cmp.Or(cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Model, b.Model),
			cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Branch, b.Branch))
	})
	// The merge that pins the next version ends the run before it: from then
	// on the stage is meant to run another.
	for i := 0; i+1 < len(runs); i++ {
		a, b := &runs[i], runs[i+1]
		if a.Repository == b.Repository && a.Model == b.Model && a.Stage == b.Stage && a.Branch == b.Branch &&
			(a.Ended.IsZero() || b.Created.Before(a.Ended)) {
			a.Ended = b.Created
		}
	}
	return runs, nil
}

// created is when a deployment was created: as GitHub says, or, in records
// written before the payload said, when it was recorded.
func created(p audit.DeploymentPayload, rec audit.Record) time.Time {
	if p.CreatedAt.IsZero() {
		return rec.RecordedAt
	}
	return p.CreatedAt
}

type runKey struct {
	repository string
	deployment int64
}

func decode(rec audit.Record, v any) error {
	if err := json.Unmarshal(rec.Payload, v); err != nil {
		return fmt.Errorf("audit record %d (%s): %w", rec.Seq, rec.Kind, err)
	}
	return nil
}

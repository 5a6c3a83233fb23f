package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
)

// deployMerges creates the deployments of the merges the App made that a push
// landed: one per promoted pin of each. Only the App's own merge records
// count, so a push nobody judged — to any branch, by anyone — deploys
// nothing. A redelivered push or a retry after a crash finds the deployment
// already recorded, or already on GitHub, and creates none.
func (a *App) deployMerges(ctx context.Context, log *slog.Logger, task Task) error {
	merges, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindMerge, Repository: task.Repository})
	if err != nil {
		return fmt.Errorf("read merges: %w", err)
	}
	var repo *github.Repo
	for _, m := range merges {
		var merge audit.MergePayload
		if err := json.Unmarshal(m.Payload, &merge); err != nil {
			return permanent(fmt.Errorf("audit record %d: %w", m.Seq, err))
		}
		if merge.CommitSHA != task.After || merge.BaseRef != task.Branch || m.Model == "" {
			continue
		}
		if repo == nil {
			if repo, err = a.github.Installation(task.Installation).Repo(task.Repository); err != nil {
				return permanent(err)
			}
		}
		if err := a.deployMerge(ctx, log, repo, m, merge); err != nil {
			return fmt.Errorf("deploy %s %s to %s: %w", m.Model, m.Version, m.Stage, err)
		}
	}
	return nil
}

// deployMerge creates the deployment of one merged pin, unless it exists.
func (a *App) deployMerge(ctx context.Context, log *slog.Logger, repo *github.Repo, m audit.Record, merge audit.MergePayload) error {
	entry := audit.Entry{Kind: audit.KindDeployment, Repository: m.Repository, Model: m.Model, Version: m.Version,
		Stage: m.Stage, PullRequest: m.PullRequest, HeadSHA: merge.CommitSHA, Actor: m.Actor}
	done, err := a.store.HasRecord(ctx, audit.Filter{Kind: entry.Kind, Repository: entry.Repository, Model: entry.Model,
		Version: entry.Version, Stage: entry.Stage, HeadSHA: entry.HeadSHA})
	if err != nil || done {
		return err
	}
	promotion, err := a.mergedPromotion(ctx, m)
	if err != nil || promotion == nil {
		return err
	}
	payload, err := a.deploymentPayload(ctx, repo, merge.CommitSHA, promotion)
	if err != nil {
		return err
	}
	// The run's soak is the one the App will wait for, read from the same
	// commit, recorded so that the log alone says when the run soaks.
	cfg, stage, err := a.stageConfig(ctx, repo, merge.CommitSHA, m.Stage)
	if err != nil {
		return err
	}
	d, err := a.existingDeployment(ctx, repo, merge.CommitSHA, m.Stage, payload)
	if err != nil {
		return err
	}
	if d == nil {
		created, err := repo.CreateDeployment(ctx, merge.CommitSHA, m.Stage, payload)
		if err != nil {
			return err
		}
		d = &created
		log.Info("deployment created", "deployment", d.ID, "model", m.Model, "version", m.Version, "environment", m.Stage)
	}
	entry.Payload = mustJSON(audit.DeploymentPayload{DeploymentID: d.ID, Environment: m.Stage, Ref: merge.CommitSHA,
		BaseRef: merge.BaseRef, Deployment: payload, CreatedAt: d.CreatedAt, Soak: time.Duration(cfg.Stages[stage].Soak).String()})
	_, err = a.store.Append(ctx, entry)
	return err
}

// mergedPromotion is the promotion a merge record merged, as the allowing
// decision on the merged head judged it; nil for a removal, which has no
// deployment.
func (a *App) mergedPromotion(ctx context.Context, m audit.Record) (*gitops.Promotion, error) {
	decisions, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindDecision, Repository: m.Repository,
		PullRequest: m.PullRequest, HeadSHA: m.HeadSHA, Model: m.Model, Version: m.Version, Stage: m.Stage})
	if err != nil {
		return nil, fmt.Errorf("read decisions: %w", err)
	}
	for _, d := range decisions {
		var rec gate.DecisionRecord
		if err := json.Unmarshal(d.Payload, &rec); err != nil {
			return nil, permanent(fmt.Errorf("audit record %d: %w", d.Seq, err))
		}
		if !rec.Decision.Allow || rec.Promotion == nil {
			continue
		}
		if rec.Promotion.Kind == gitops.KindRemoval {
			return nil, nil
		}
		return rec.Promotion, nil
	}
	return nil, permanent(fmt.Errorf("merge record %d of pull request #%d has no allowing decision on head %s", m.Seq, m.PullRequest, m.HeadSHA))
}

// deploymentPayload reads the artifact from the manifest as merged: what the
// deployer must run is what the merge commit pins, whatever the pull request
// said when it was judged.
func (a *App) deploymentPayload(ctx context.Context, repo *github.Repo, sha string, p *gitops.Promotion) (deploy.Payload, error) {
	data, err := repo.Snapshot(sha).ReadFile(ctx, p.ManifestPath)
	if err != nil {
		return deploy.Payload{}, fmt.Errorf("read %s at %s: %w", p.ManifestPath, sha, err)
	}
	m, err := gitops.ParseManifest(a.validator, p.ManifestPath, data)
	if err != nil {
		return deploy.Payload{}, permanent(fmt.Errorf("manifest at %s: %w", sha, err))
	}
	payload := deploy.Payload{Model: p.Model, Version: p.Version, PreviousVersion: p.FromVersion, ManifestPath: p.ManifestPath,
		Artifact: deploy.Artifact{URI: m.Spec.Artifact.URI, Digest: m.Spec.Artifact.Digest}}
	if err := payload.Validate(); err != nil {
		return deploy.Payload{}, permanent(fmt.Errorf("%s at %s: %w", p.ManifestPath, sha, err))
	}
	return payload, nil
}

// existingDeployment finds the deployment the App created at sha before a
// crash kept it from recording it.
func (a *App) existingDeployment(ctx context.Context, repo *github.Repo, sha, environment string, want deploy.Payload) (*github.Deployment, error) {
	bot, err := a.github.BotLogin(ctx)
	if err != nil {
		return nil, err
	}
	list, err := repo.Deployments(ctx, github.DeploymentFilter{SHA: sha, Task: deploy.Task, Environment: environment})
	if err != nil {
		return nil, err
	}
	for _, d := range list {
		// Only a deployment the App's bot created, of exactly the payload the
		// App would create, is taken for its own: anyone with write access
		// can create one of the same task and payload.
		if !strings.EqualFold(d.Creator, bot) {
			continue
		}
		if p, err := deploy.ParsePayload(d.Payload); err == nil && p == want {
			return &d, nil
		}
	}
	return nil, nil
}

// trackStatus records a status a deployer posted on a deployment the App
// created, once, as GitHub holds it: accepted, or refused with the reason.
// Deployments the App has no record of are not modelgate's and are ignored,
// unless the store holds no deployment of the repository at all: a new store
// first records the App's deployments from GitHub.
func (a *App) trackStatus(ctx context.Context, log *slog.Logger, task Task) error {
	dep, rec, err := a.deploymentRecord(ctx, task.Repository, task.Deployment)
	if err != nil {
		return err
	}
	if rec == nil {
		if err := a.rebuildDeployments(ctx, log, task.Installation, task.Repository); err != nil {
			return err
		}
		if dep, rec, err = a.deploymentRecord(ctx, task.Repository, task.Deployment); err != nil || rec == nil {
			if err == nil {
				log.Info("status of a deployment the App did not create; ignored", "deployment", task.Deployment)
			}
			return err
		}
	}
	seen, last, err := a.statusRecords(ctx, rec, task.Deployment)
	if err != nil {
		return err
	}
	repo, err := a.github.Installation(task.Installation).Repo(task.Repository)
	if err != nil {
		return permanent(err)
	}
	if seen[task.Status] {
		// Recorded before a crash, or delivered twice: what it schedules
		// may not have been, and scheduling is idempotent.
		return a.scheduleRun(ctx, log, task, repo)
	}
	statuses, err := repo.DeploymentStatuses(ctx, task.Deployment)
	if err != nil {
		return err
	}
	var st *github.DeploymentStatus
	for i := range statuses {
		if statuses[i].ID == task.Status {
			st = &statuses[i]
		}
	}
	if st == nil {
		return permanent(fmt.Errorf("deployment %d has no status %d", task.Deployment, task.Status))
	}
	if _, err := a.appendStatus(ctx, log, rec, dep, last, st); err != nil {
		return err
	}
	return a.scheduleRun(ctx, log, task, repo)
}

// appendStatus records a status of the deployment whose last accepted state
// is last, and returns the last accepted state after it.
func (a *App) appendStatus(ctx context.Context, log *slog.Logger, rec *audit.Record, dep audit.DeploymentPayload, last deploy.State, st *github.DeploymentStatus) (deploy.State, error) {
	p := audit.DeploymentStatusPayload{DeploymentID: dep.DeploymentID, StatusID: st.ID, State: st.State,
		Description: st.Description, LogURL: st.LogURL, BaseRef: dep.BaseRef, CreatedAt: st.CreatedAt}
	p.Refused, p.Reason = refusal(dep.Deployment, last, st)
	if p.Refused != "" {
		log.Warn("deployment status refused", "deployment", dep.DeploymentID, "state", st.State, "reason", p.Reason)
	} else {
		last = deploy.State(st.State)
	}
	_, err := a.store.Append(ctx, audit.Entry{Kind: audit.KindDeploymentStatus, Repository: rec.Repository,
		Model: rec.Model, Version: rec.Version, Stage: rec.Stage, PullRequest: rec.PullRequest, HeadSHA: rec.HeadSHA,
		Actor: st.Creator, Payload: mustJSON(p)})
	return last, err
}

// refusal says why a status may not count, if it may not: a state that
// cannot follow the last accepted one, or a success whose description does
// not name the digest of the artifact the deployment pins.
func refusal(payload deploy.Payload, last deploy.State, st *github.DeploymentStatus) (refused, reason string) {
	state, err := deploy.ParseState(st.State)
	if err == nil {
		err = deploy.Transition(last, state)
	}
	if err != nil {
		return audit.RefusedTransition, err.Error()
	}
	if state != deploy.Success {
		return "", ""
	}
	digest, ok := deploy.DeployedDigest(st.Description)
	if !ok {
		return audit.RefusedDigestMismatch, fmt.Sprintf("the description %q names no deployed digest", st.Description)
	}
	if err := payload.Deployed(digest); err != nil {
		return audit.RefusedDigestMismatch, err.Error()
	}
	return "", ""
}

// deploymentRecord finds the App's record of the deployment id.
func (a *App) deploymentRecord(ctx context.Context, repository string, id int64) (audit.DeploymentPayload, *audit.Record, error) {
	recs, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindDeployment, Repository: repository})
	if err != nil {
		return audit.DeploymentPayload{}, nil, fmt.Errorf("read deployments: %w", err)
	}
	for _, r := range recs {
		var p audit.DeploymentPayload
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			return p, nil, permanent(fmt.Errorf("audit record %d: %w", r.Seq, err))
		}
		if p.DeploymentID == id {
			return p, &r, nil
		}
	}
	return audit.DeploymentPayload{}, nil, nil
}

// statusRecords returns the statuses of the deployment recorded already, by
// id, and the state of its last accepted status.
func (a *App) statusRecords(ctx context.Context, dep *audit.Record, deployment int64) (map[int64]bool, deploy.State, error) {
	recs, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindDeploymentStatus, Repository: dep.Repository,
		Model: dep.Model, Version: dep.Version, Stage: dep.Stage, HeadSHA: dep.HeadSHA})
	if err != nil {
		return nil, "", fmt.Errorf("read deployment statuses: %w", err)
	}
	seen := map[int64]bool{}
	var last deploy.State
	for _, r := range recs {
		var p audit.DeploymentStatusPayload
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			return nil, "", permanent(fmt.Errorf("audit record %d: %w", r.Seq, err))
		}
		if p.DeploymentID != deployment {
			continue
		}
		seen[p.StatusID] = true
		if p.Refused == "" {
			last = deploy.State(p.State)
		}
	}
	return seen, last, nil
}

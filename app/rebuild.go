package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
)

// recoverDeployments does what an EventRecover job asks: record the App's deployments
// from GitHub if the store lost them, then deploy the merge the job names,
// as its push would have.
func (a *App) recoverDeployments(ctx context.Context, log *slog.Logger, task Task) error {
	if err := a.rebuildDeployments(ctx, log, task.Installation, task.Repository); err != nil {
		return err
	}
	if task.After == "" {
		return nil
	}
	return a.deployMerges(ctx, log.With("after", task.After), task)
}

// errInvalidConfig marks a default branch config that does not parse.
var errInvalidConfig = errors.New("invalid config")

// defaultRules reads the config of the repository's default branch at sha,
// the rules of every branch it gates; watched is false when the branch has
// no .modelgate/, in a repository modelgate does not gate.
func (a *App) defaultRules(ctx context.Context, repo *github.Repo, sha string) (cfg *gitops.Config, watched bool, err error) {
	reads := &readRecorder{Repository: repo}
	if _, err := reads.Snapshot(sha).ReadDir(ctx, gitops.ConfigDir); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("read %s at %s: %w", gitops.ConfigDir, sha, err)
	}
	cfg, err = gitops.LoadConfig(ctx, reads.Snapshot(sha), a.validator)
	if failed := reads.failure(); failed != nil {
		return nil, false, fmt.Errorf("read config at %s: %w", sha, failed)
	}
	if err != nil {
		return nil, true, fmt.Errorf("%w at %s: %w", errInvalidConfig, sha, err)
	}
	return cfg, true, nil
}

// rebuildDeployments records the App's deployments of a repository, and
// their statuses, from GitHub when the store holds no deployment of it: a
// new store must not forget what runs where, nor when a soak began.
//
// Anyone with write access can create a deployment of any task and payload,
// so only those the App's own bot created are taken, with a payload that
// parses, of a stage of the default branch's config, at a commit of the
// default branch. Their statuses go through the same rules as those
// delivered by webhook, in the order they were posted, with the times GitHub
// gives them. A deployment already recorded is skipped by its id: the jobs
// that write deployment records of a repository run one at a time, so a
// rebuild run twice, or racing a deployment_status delivery, records each
// deployment once.
func (a *App) rebuildDeployments(ctx context.Context, log *slog.Logger, installation int64, repository string) error {
	known, err := a.store.HasRecord(ctx, audit.Filter{Kind: audit.KindDeployment, Repository: repository})
	if err != nil || known {
		return err
	}
	repo, err := a.github.Installation(installation).Repo(repository)
	if err != nil {
		return permanent(err)
	}
	branch, err := repo.DefaultBranch(ctx)
	if err != nil {
		return err
	}
	tip, err := repo.BranchTip(ctx, branch)
	if err != nil {
		return err
	}
	cfg, watched, err := a.defaultRules(ctx, repo, tip)
	if errors.Is(err, errInvalidConfig) {
		log.Warn("the default branch's config is invalid; no deployment is rebuilt", "err", err)
		return nil
	}
	if err != nil || !watched {
		return err
	}
	bot, err := a.github.BotLogin(ctx)
	if err != nil {
		return err
	}
	list, err := repo.Deployments(ctx, github.DeploymentFilter{Task: deploy.Task})
	if err != nil {
		return err
	}
	var rebuilt []int64
	for _, d := range slices.Backward(list) { // oldest first, as they were recorded
		dlog := log.With("deployment", d.ID, "environment", d.Environment, "creator", d.Creator)
		payload, why, err := a.rebuildable(ctx, repo, cfg, tip, bot, d)
		if err != nil {
			return err
		}
		if why != "" {
			dlog.Info("deployment not rebuilt", "reason", why)
			continue
		}
		if err := a.rebuildDeployment(ctx, dlog, repo, branch, d, payload); err != nil {
			return fmt.Errorf("rebuild deployment %d: %w", d.ID, err)
		}
		rebuilt = append(rebuilt, d.ID)
	}
	log.Info("deployments rebuilt from GitHub", "deployments", len(rebuilt), "listed", len(list))
	// A new store comes with a new queue: the soak ends and measurements of
	// the runs still current were scheduled in the one lost. Only once every
	// deployment is recorded does a run know whether a later one ended it.
	for _, id := range rebuilt {
		r, ok, err := a.runOf(ctx, repository, id)
		if err != nil {
			return err
		}
		if !ok || !r.Current() {
			continue
		}
		if err := a.scheduleRun(ctx, log, Task{Installation: installation, Repository: repository, Deployment: id}, repo); err != nil {
			return fmt.Errorf("schedule deployment %d: %w", id, err)
		}
	}
	return nil
}

// rebuildable says why a deployment GitHub lists is not one the App may take
// for its own, or returns its payload.
func (a *App) rebuildable(ctx context.Context, repo *github.Repo, cfg *gitops.Config, tip, bot string, d github.Deployment) (deploy.Payload, string, error) {
	if !strings.EqualFold(d.Creator, bot) {
		return deploy.Payload{}, "not created by the App", nil
	}
	if d.Task != deploy.Task || d.Ref != d.SHA {
		return deploy.Payload{}, "not of a commit with task " + deploy.Task, nil
	}
	payload, err := deploy.ParsePayload(d.Payload)
	if err != nil {
		return deploy.Payload{}, "payload: " + err.Error(), nil
	}
	if cfg.StageIndex(d.Environment) < 0 {
		return deploy.Payload{}, "environment is not a stage of the config", nil
	}
	base, err := repo.MergeBase(ctx, tip, d.SHA)
	if err != nil {
		return deploy.Payload{}, "", err
	}
	if base != d.SHA {
		return deploy.Payload{}, "commit is not on the default branch", nil
	}
	return payload, "", nil
}

// rebuildDeployment records one deployment, unless recorded, and then its
// statuses not recorded yet.
func (a *App) rebuildDeployment(ctx context.Context, log *slog.Logger, repo *github.Repo, branch string, d github.Deployment, payload deploy.Payload) error {
	dep, rec, err := a.deploymentRecord(ctx, repo.String(), d.ID)
	if err != nil {
		return err
	}
	if rec == nil {
		cfg, stage, err := a.stageConfig(ctx, repo, d.SHA, d.Environment)
		if err != nil {
			return err
		}
		dep = audit.DeploymentPayload{DeploymentID: d.ID, Environment: d.Environment, Ref: d.SHA, BaseRef: branch,
			Deployment: payload, Rebuilt: true, CreatedAt: d.CreatedAt, Soak: time.Duration(cfg.Stages[stage].Soak).String()}
		r, err := a.store.Append(ctx, audit.Entry{Kind: audit.KindDeployment, Repository: repo.String(), Model: payload.Model,
			Version: payload.Version, Stage: d.Environment, HeadSHA: d.SHA, Actor: d.Creator, Payload: mustJSON(dep)})
		if err != nil {
			return err
		}
		rec = &r
		log.Info("deployment rebuilt", "model", payload.Model, "version", payload.Version)
	}
	statuses, err := repo.DeploymentStatuses(ctx, d.ID)
	if err != nil {
		return err
	}
	seen, last, err := a.statusRecords(ctx, rec, d.ID)
	if err != nil {
		return err
	}
	for _, st := range slices.Backward(statuses) { // oldest first: each state follows the one before
		if seen[st.ID] {
			continue
		}
		if last, err = a.appendStatus(ctx, log, rec, dep, last, &st); err != nil {
			return err
		}
	}
	return nil
}

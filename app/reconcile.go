package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/queue"
	"github.com/modelgate/modelgate/internal/watch"
)

// Reconcile sweeps every installation for open pull requests whose head has
// no decision yet and queues their evaluation: webhooks get lost (GitHub
// outages, downtime), and a pull request must not wait forever for one.
// Queued sweeps are deduplicated by head, so replicas sweeping at once, or a
// sweep racing a webhook, queue each head once.
func (a *App) Reconcile(ctx context.Context) error {
	insts, err := a.github.Installations(ctx)
	if err != nil {
		return fmt.Errorf("list installations: %w", err)
	}
	var errs []error
	for _, inst := range insts {
		if err := a.reconcileInstallation(ctx, a.log, inst.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RunReconciler reconciles now and then every interval until ctx ends.
func (a *App) RunReconciler(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := a.Reconcile(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RecheckInterval is the longest that what is remembered of a repository —
// whether its default branch holds .modelgate/ — is taken for true before
// the sweep asks GitHub again: the deliveries that keep it up to date
// (pushes to the default branch, repositories added to and removed from an
// installation) can be lost, and a repository that came to hold .modelgate/
// unseen is swept within a day.
const RecheckInterval = 24 * time.Hour

// recheckAfter is how long what was checked of a repository holds: between
// half RecheckInterval and all of it, spread by the repository's id, so
// that the repositories an installation's first sweep checked together are
// checked again over many sweeps, not all in one that would spend a large
// part of an hour's rate limit at once.
func recheckAfter(id int64) time.Duration {
	const spread = 1024
	return RecheckInterval/2 + time.Duration(uint64(id)%spread)*(RecheckInterval/2)/spread
}

// reconcileInstallation sweeps the repositories of an installation that
// hold .modelgate/ on their default branch, and those whose state is not
// known: each repository is checked once when first listed, and again
// within every RecheckInterval, and one whose check fails is swept all the
// same. What is remembered of repositories the installation no longer
// lists is forgotten: read before the list, so that a repository a push
// job checks meanwhile is not forgotten for being missing from a list
// made before it was added.
func (a *App) reconcileInstallation(ctx context.Context, log *slog.Logger, id int64) error {
	remembered, err := a.store.Repositories(ctx, id)
	if err != nil {
		return fmt.Errorf("installation %d: %w", id, err)
	}
	client := a.github.Installation(id)
	listed, err := client.Repositories(ctx)
	if err != nil {
		return fmt.Errorf("installation %d: list repositories: %w", id, err)
	}
	known := make(map[int64]watch.Repository, len(remembered))
	for _, r := range remembered {
		known[r.ID] = r
	}
	var errs []error
	swept, checked := 0, 0
	for _, r := range listed {
		state, ok := known[r.ID]
		delete(known, r.ID)
		fresh := ok && a.now().Sub(state.CheckedAt) < recheckAfter(r.ID)
		watched := state.Watched
		if !fresh {
			checked++
			if watched, err = a.checkWatched(ctx, log, client, id, r); err != nil {
				errs = append(errs, fmt.Errorf("installation %d: %s: %w", id, r.FullName, err))
			}
		} else if state.FullName != r.FullName {
			if err := a.store.RenameRepository(ctx, r.ID, r.FullName); err != nil {
				errs = append(errs, err)
			}
		}
		if !watched {
			continue
		}
		swept++
		if err := a.reconcileRepository(ctx, log, client, id, r.FullName, !fresh); err != nil {
			errs = append(errs, fmt.Errorf("installation %d: %s: %w", id, r.FullName, err))
		}
	}
	gone := slices.Collect(maps.Keys(known))
	if err := a.store.ForgetRepositories(ctx, id, gone); err != nil {
		errs = append(errs, err)
	}
	log.Debug("swept an installation", "installation", id, "repositories", len(listed), "swept", swept, "checked", checked, "forgotten", len(gone))
	return errors.Join(errs...)
}

// checkWatched asks GitHub whether a repository's default branch holds
// .modelgate/ and remembers the answer. When GitHub gives none, what was
// remembered of the repository is forgotten and it counts as watched: a
// repository whose state is unknown is swept, never skipped.
func (a *App) checkWatched(ctx context.Context, log *slog.Logger, client *github.Client, installation int64, r github.Repository) (bool, error) {
	watched, err := a.holdsConfig(ctx, client, r.FullName)
	if err != nil {
		log.Warn("could not tell whether the repository holds "+gitops.ConfigDir+"/; it is swept", "repository", r.FullName, "err", err)
		return true, a.store.ForgetRepositories(ctx, installation, []int64{r.ID})
	}
	return watched, a.store.PutRepository(ctx, watch.Repository{ID: r.ID, FullName: r.FullName, Installation: installation,
		Watched: watched, CheckedAt: a.now()})
}

func (a *App) holdsConfig(ctx context.Context, client *github.Client, fullName string) (bool, error) {
	repo, err := client.Repo(fullName)
	if err != nil {
		return false, err
	}
	return repo.HoldsOnDefaultBranch(ctx, gitops.ConfigDir)
}

// learnPush keeps what is remembered of a repository up to date with a
// push to its default branch: one that may have added or removed
// .modelgate/, to a repository not checked yet, has it checked again.
func (a *App) learnPush(ctx context.Context, log *slog.Logger, task Task) error {
	if !task.DefaultBranch {
		return nil
	}
	state, ok, err := a.store.Repository(ctx, task.RepositoryID)
	if err != nil {
		return err
	}
	if ok && !task.TouchesConfig && state.Installation == task.Installation {
		if state.FullName == task.Repository {
			return nil
		}
		return a.store.RenameRepository(ctx, task.RepositoryID, task.Repository)
	}
	_, err = a.checkWatched(ctx, log, a.github.Installation(task.Installation), task.Installation,
		github.Repository{ID: task.RepositoryID, FullName: task.Repository})
	return err
}

// forget does what a Forget task asks.
func (a *App) forget(ctx context.Context, task Task) error {
	if len(task.Forget) == 0 {
		return a.store.ForgetInstallation(ctx, task.Installation)
	}
	return a.store.ForgetRepositories(ctx, task.Installation, task.Forget)
}

// reconcileRepository queues the evaluation of the repository's open pull
// requests whose head has no decision, and the recovery of what the store
// lacks of its deployments; checked tells that the repository was checked
// in this sweep, which looks for deployments of a new store.
func (a *App) reconcileRepository(ctx context.Context, log *slog.Logger, client *github.Client, installation int64, name string, checked bool) error {
	repo, err := client.Repo(name)
	if err != nil {
		return err
	}
	prs, err := repo.OpenPullRequests(ctx)
	if err != nil {
		return fmt.Errorf("list open pull requests: %w", err)
	}
	for _, pr := range prs {
		judged, err := a.store.HasRecord(ctx, audit.Filter{Kind: audit.KindDecision, Repository: name, PullRequest: pr.Number, HeadSHA: pr.HeadSHA})
		if err != nil {
			return err
		}
		if judged {
			continue
		}
		added, err := a.enqueueEvaluation(ctx, fmt.Sprintf("reconcile:%s#%d@%s", name, pr.Number, pr.HeadSHA),
			EvaluatePayload{Installation: installation, Repository: name, PullRequest: pr.Number, Reason: "reconcile"})
		if err != nil {
			return err
		}
		if added {
			a.metrics.reconciled()
			log.Info("queued a pull request that has no decision on its head", "repository", name, "pr", pr.Number, "head", pr.HeadSHA)
		}
	}
	return a.sweepDeployments(ctx, log.With("repository", name), repo, installation, checked)
}

// sweepDeployments queues the recovery of what the store lacks of the
// repository's deployments: all of them, when a new store holds none while
// GitHub lists some of the App's (looked for when the repository is
// checked: a new store remembers no repository, so it checks every one at
// its first sweep); and the deployments of the App's merges
// whose push never arrived, so that a lost push delays a deployment by one
// sweep at most. The sweep only reads; the EventRecover jobs it queues write,
// serialized with the repository's push and deployment_status jobs, under
// delivery ids made of what they recover, so that sweeping again, on any
// replica, queues each once.
func (a *App) sweepDeployments(ctx context.Context, log *slog.Logger, repo *github.Repo, installation int64, checked bool) error {
	name := repo.String()
	var jobs []queue.Job
	lookup := false
	if checked {
		known, err := a.store.HasRecord(ctx, audit.Filter{Kind: audit.KindDeployment, Repository: name})
		if err != nil {
			return err
		}
		lookup = !known
	}
	if lookup {
		newest, err := a.newestAppDeployment(ctx, repo)
		if err != nil {
			return err
		}
		if newest != 0 {
			jobs = append(jobs, recoverJob(fmt.Sprintf("recover:%s:deployments-to-%d", name, newest), RecoverPayload{Installation: installation, Repository: name}))
		}
	}
	lost, err := a.undeployedMerges(ctx, repo)
	if err != nil {
		return err
	}
	for _, m := range lost {
		jobs = append(jobs, recoverJob(fmt.Sprintf("recover:%s:merge-%s", name, m.CommitSHA),
			RecoverPayload{Installation: installation, Repository: name, Branch: m.BaseRef, After: m.CommitSHA}))
	}
	if len(jobs) == 0 {
		return nil
	}
	added, err := a.store.Enqueue(ctx, jobs...)
	if err != nil {
		return fmt.Errorf("queue deployment recovery: %w", err)
	}
	for i, ok := range added {
		if ok {
			log.Info("queued the recovery of deployments the store lacks", "delivery", jobs[i].Delivery)
		}
	}
	return nil
}

func recoverJob(delivery string, p RecoverPayload) queue.Job {
	return queue.Job{Delivery: delivery, Event: EventRecover, Key: Task{Repository: p.Repository}.Key(), Payload: mustJSON(p)}
}

// newestAppDeployment is the id of the newest deployment of task deploy.Task
// that the App created, or 0.
func (a *App) newestAppDeployment(ctx context.Context, repo *github.Repo) (int64, error) {
	bot, err := a.github.BotLogin(ctx)
	if err != nil {
		return 0, err
	}
	list, err := repo.Deployments(ctx, github.DeploymentFilter{Task: deploy.Task})
	if err != nil {
		return 0, err
	}
	for _, d := range list { // newest first
		if strings.EqualFold(d.Creator, bot) {
			return d.ID, nil
		}
	}
	return 0, nil
}

// undeployedMerges returns the App's merges of pins that have no deployment
// record and whose pin the branch still holds: a merge whose pin was replaced
// since is not deployed late, which would run an older version.
func (a *App) undeployedMerges(ctx context.Context, repo *github.Repo) ([]audit.MergePayload, error) {
	merges, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindMerge, Repository: repo.String()})
	if err != nil {
		return nil, fmt.Errorf("read merges: %w", err)
	}
	var lost []audit.MergePayload
	tips := map[string]string{}
	for _, m := range merges {
		var merge audit.MergePayload
		if err := json.Unmarshal(m.Payload, &merge); err != nil {
			return nil, permanent(fmt.Errorf("audit record %d: %w", m.Seq, err))
		}
		if m.Model == "" || slices.ContainsFunc(lost, func(l audit.MergePayload) bool { return l.CommitSHA == merge.CommitSHA }) {
			continue
		}
		deployed, err := a.store.HasRecord(ctx, audit.Filter{Kind: audit.KindDeployment, Repository: m.Repository,
			Model: m.Model, Version: m.Version, Stage: m.Stage, HeadSHA: merge.CommitSHA})
		if err != nil || deployed {
			if err != nil {
				return nil, err
			}
			continue
		}
		tip, ok := tips[merge.BaseRef]
		if !ok {
			if tip, err = repo.BranchTip(ctx, merge.BaseRef); err != nil {
				return nil, err
			}
			tips[merge.BaseRef] = tip
		}
		env, err := gitops.LoadEnvironment(ctx, repo.Snapshot(tip), a.validator, m.Stage)
		if err != nil {
			return nil, fmt.Errorf("environment %s of %s: %w", m.Stage, merge.BaseRef, err)
		}
		if env.Models[m.Model] == m.Version {
			lost = append(lost, merge)
		}
	}
	return lost, nil
}

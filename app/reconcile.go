package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/queue"
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

func (a *App) reconcileInstallation(ctx context.Context, log *slog.Logger, id int64) error {
	client := a.github.Installation(id)
	repos, err := client.Repositories(ctx)
	if err != nil {
		return fmt.Errorf("installation %d: list repositories: %w", id, err)
	}
	var errs []error
	for _, name := range repos {
		if err := a.reconcileRepository(ctx, log, client, id, name); err != nil {
			errs = append(errs, fmt.Errorf("installation %d: %s: %w", id, name, err))
		}
	}
	return errors.Join(errs...)
}

func (a *App) reconcileRepository(ctx context.Context, log *slog.Logger, client *github.Client, installation int64, name string) error {
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
	return a.sweepDeployments(ctx, log.With("repository", name), repo, installation)
}

// sweepDeployments queues the recovery of what the store lacks of the
// repository's deployments: all of them, when a new store holds none while
// GitHub lists some of the App's; and the deployments of the App's merges
// whose push never arrived, so that a lost push delays a deployment by one
// sweep at most. The sweep only reads; the EventRecover jobs it queues write,
// serialized with the repository's push and deployment_status jobs, under
// delivery ids made of what they recover, so that sweeping again, on any
// replica, queues each once.
func (a *App) sweepDeployments(ctx context.Context, log *slog.Logger, repo *github.Repo, installation int64) error {
	name := repo.String()
	known, err := a.store.HasRecord(ctx, audit.Filter{Kind: audit.KindDeployment, Repository: name})
	if err != nil {
		return err
	}
	var jobs []queue.Job
	if !known {
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

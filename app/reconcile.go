package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/github"
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
	return nil
}

// Package app is the GitHub App: it judges every promotion pull request with
// the same gate as `modelgate gate`, reports on the pull request, and merges
// exactly the head it judged when the decision and approvals allow. Webhook
// deliveries reach it as queued jobs (package app/server takes them in); it
// reads and writes GitHub only through internal/github.
package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/queue"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/internal/watch"
)

// Store is what the App keeps: the audit log, its own job queue, and which
// repositories it watches.
type Store interface {
	Append(ctx context.Context, e audit.Entry) (audit.Record, error)
	TreeHead(ctx context.Context) (audit.TreeHead, error)
	HasRecord(ctx context.Context, f audit.Filter) (bool, error)
	Records(ctx context.Context, f audit.Filter) ([]audit.Record, error)
	Enqueue(ctx context.Context, jobs ...queue.Job) ([]bool, error)

	Repositories(ctx context.Context, installation int64) ([]watch.Repository, error)
	Repository(ctx context.Context, id int64) (watch.Repository, bool, error)
	PutRepository(ctx context.Context, r watch.Repository) error
	RenameRepository(ctx context.Context, id int64, fullName string) error
	ForgetRepositories(ctx context.Context, installation int64, ids []int64) error
	ForgetInstallation(ctx context.Context, installation int64) error
}

// App handles jobs. It is safe for concurrent use by several workers.
type App struct {
	github    *github.App
	store     Store
	signer    note.Signer // signs the checkpoints of the audit log it publishes
	gate      *gate.Gate
	validator *schema.Validator
	metrics   *Metrics
	log       *slog.Logger
	now       func() time.Time
}

// New returns an App that judges with g, reads schemas with v, reaches
// GitHub through gh, signs the audit log's checkpoints with signer, and
// tells the time by now: when measurements and soaks are due.
func New(gh *github.App, store Store, signer note.Signer, g *gate.Gate, v *schema.Validator, m *Metrics, log *slog.Logger, now func() time.Time) *App {
	return &App{github: gh, store: store, signer: signer, gate: g, validator: v, metrics: m, log: log, now: now}
}

// Handle does what a queued delivery asks. An error means the job should be
// tried again: nothing that failed was reported as a decision or merged.
func (a *App) Handle(ctx context.Context, job queue.Job) error {
	task, err := ParseEvent(job.Event, job.Payload)
	if err != nil {
		return permanent(err)
	}
	log := a.log.With("delivery", job.Delivery, "event", task.Reason)
	switch task.Action {
	case Evaluate, Explain:
		for _, n := range task.PullRequests {
			if err := a.evaluate(ctx, log.With("repository", task.Repository, "pr", n), task, n); err != nil {
				return fmt.Errorf("%s#%d: %w", task.Repository, n, err)
			}
		}
	case Reconcile:
		return a.reconcileInstallation(ctx, log, task.Installation)
	case Forget:
		return a.forget(ctx, task)
	case Deploy:
		log := log.With("repository", task.Repository, "after", task.After)
		if err := a.learnPush(ctx, log, task); err != nil {
			return err
		}
		return a.deployMerges(ctx, log, task)
	case Track:
		return a.trackStatus(ctx, log.With("repository", task.Repository), task)
	case Analyze:
		return a.analyze(ctx, log.With("repository", task.Repository), task)
	case Command:
		return a.command(ctx, log.With("repository", task.Repository), task)
	case Recover:
		return a.recoverDeployments(ctx, log.With("repository", task.Repository), task)
	case Advance:
		return a.advance(ctx, log.With("repository", task.Repository), job.Delivery, task)
	}
	return nil
}

// enqueueEvaluation queues an evaluation of a pull request under a delivery id
// of the App's own making, so that queuing the same one twice runs it once.
func (a *App) enqueueEvaluation(ctx context.Context, delivery string, p EvaluatePayload) (bool, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("encode evaluation job: %w", err)
	}
	job := queue.Job{Delivery: delivery, Event: EventEvaluate, Payload: body,
		Key: Task{Repository: p.Repository, PullRequests: []int{p.PullRequest}}.Key()}
	added, err := a.store.Enqueue(ctx, job)
	if err != nil {
		return false, fmt.Errorf("queue evaluation of %s#%d: %w", p.Repository, p.PullRequest, err)
	}
	return added[0], nil
}

// permanentError marks a job that no retry can make succeed.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

package app

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/modelgate/modelgate/internal/queue"
)

// Queue is the durable job queue workers take deliveries from.
type Queue interface {
	Claim(ctx context.Context, owner string, lease time.Duration) (queue.Job, bool, error)
	Heartbeat(ctx context.Context, id int64, owner string, lease time.Duration) error
	Complete(ctx context.Context, id int64, owner string) error
	Retry(ctx context.Context, id int64, owner string, at time.Time, reason string) error
	Bury(ctx context.Context, id int64, owner string, reason string) error
	Release(ctx context.Context, id int64, owner string) error
}

// Handler does what a job asks; an error asks for another attempt.
type Handler interface {
	Handle(ctx context.Context, job queue.Job) error
}

// Worker takes jobs from the queue one at a time and hands them to a Handler.
// A job whose worker dies is taken again when its lease expires, so a job is
// never lost; handling is idempotent per pull request head, so a job run
// twice after a crash reports the same decision twice and merges at most once
// (GitHub refuses to merge a merged pull request).
type Worker struct {
	Queue   Queue
	Handler Handler
	Owner   string // unique per worker: a lease names its holder
	Log     *slog.Logger
	Metrics *Metrics

	Lease       time.Duration // how long a claim lasts without a heartbeat
	Poll        time.Duration // how often an idle worker looks for work
	MaxAttempts int           // attempts before a job is dead-lettered
	Backoff     time.Duration // wait before the first retry; doubles each time, capped at MaxBackoff
	MaxBackoff  time.Duration
	// Grace is how long a job in hand may still run after shutdown begins
	// before it is abandoned and released to another worker.
	Grace time.Duration
	// Wake, when not nil, signals that a job was queued.
	Wake <-chan struct{}
	Now  func() time.Time
}

// Run works until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	for ctx.Err() == nil {
		worked, err := w.ProcessNext(ctx)
		if err != nil && ctx.Err() == nil {
			w.Log.Error("queue", "worker", w.Owner, "err", err)
		}
		if worked && err == nil {
			continue
		}
		t := time.NewTimer(w.Poll)
		select {
		case <-ctx.Done():
		case <-w.Wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// ProcessNext handles one job, if any is runnable, and reports whether it
// took one. Once ctx ends, the job in hand gets Grace to finish; after that it
// is cancelled and released to another worker.
func (w *Worker) ProcessNext(ctx context.Context) (bool, error) {
	job, ok, err := w.Queue.Claim(ctx, w.Owner, w.Lease)
	if err != nil || !ok {
		return false, err
	}
	log := w.Log.With("delivery", job.Delivery, "event", job.Event, "job", job.ID, "attempt", job.Attempts)

	jobCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go w.keepLease(ctx, jobCtx, cancel, done, job, log)

	herr := w.Handler.Handle(jobCtx, job)
	// The queue calls below must happen even when ctx has ended.
	qctx, qcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer qcancel()
	switch {
	case herr == nil:
		w.Metrics.job("done")
		return true, w.Queue.Complete(qctx, job.ID, w.Owner)
	case jobCtx.Err() != nil && ctx.Err() != nil:
		log.Warn("shutting down: job released", "err", herr)
		w.Metrics.job("released")
		return true, w.Queue.Release(qctx, job.ID, w.Owner)
	case errors.As(herr, new(permanentError)) || job.Attempts >= w.MaxAttempts:
		log.Error("job dead-lettered", "err", herr)
		w.Metrics.job("dead")
		return true, w.Queue.Bury(qctx, job.ID, w.Owner, herr.Error())
	default:
		delay := w.backoff(job.Attempts)
		log.Warn("job failed; will retry", "err", herr, "in", delay)
		w.Metrics.job("retried")
		return true, w.Queue.Retry(qctx, job.ID, w.Owner, w.Now().Add(delay), herr.Error())
	}
}

// keepLease extends the job's lease while it runs, and cancels it Grace
// after shutdown begins. A lost lease cancels it at once: another worker may
// have taken the job.
func (w *Worker) keepLease(ctx, jobCtx context.Context, cancel context.CancelFunc, done <-chan struct{}, job queue.Job, log *slog.Logger) {
	beat := time.NewTicker(max(w.Lease/3, time.Millisecond))
	defer beat.Stop()
	shutdown := ctx.Done()
	var grace <-chan time.Time
	for {
		select {
		case <-done:
			return
		case <-shutdown:
			shutdown = nil
			t := time.NewTimer(w.Grace)
			defer t.Stop()
			grace = t.C
		case <-grace:
			cancel()
			return
		case <-beat.C:
			if err := w.Queue.Heartbeat(jobCtx, job.ID, w.Owner, w.Lease); err != nil {
				log.Error("lease lost; abandoning job", "err", err)
				cancel()
				return
			}
		}
	}
}

// backoff is the wait before attempt n+1: exponential with jitter, so that
// jobs failing together (GitHub down) do not retry in lockstep.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.Backoff << min(max(attempts-1, 0), 20)
	if d <= 0 || d > w.MaxBackoff {
		d = w.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

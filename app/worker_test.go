package app_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/internal/queue"
	"github.com/modelgate/modelgate/internal/sqlstore"
)

type handlerFunc func(ctx context.Context, job queue.Job) error

func (f handlerFunc) Handle(ctx context.Context, job queue.Job) error { return f(ctx, job) }

func newWorker(t *testing.T, h app.Handler) (*app.Worker, *sqlstore.DB) {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Enqueue(t.Context(), queue.Job{Delivery: "d1", Event: "pull_request", Key: "a/b#1", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	return &app.Worker{Queue: db, Handler: h, Owner: "w1", Log: slog.New(slog.DiscardHandler),
		Lease: time.Minute, Poll: 10 * time.Millisecond, MaxAttempts: 3,
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Grace: 50 * time.Millisecond, Now: time.Now}, db
}

func stats(t *testing.T, db *sqlstore.DB) queue.Stats {
	t.Helper()
	s, err := db.QueueStats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWorkerRetriesThenDeadLetters(t *testing.T) {
	var calls atomic.Int32
	w, db := newWorker(t, handlerFunc(func(context.Context, queue.Job) error {
		calls.Add(1)
		return errors.New("GitHub is down")
	}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for stats(t, db).Dead == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := calls.Load(); got != 3 {
		t.Errorf("handled %d times; want MaxAttempts (3)", got)
	}
	dead, err := db.DeadJobs(t.Context(), 10)
	if err != nil || len(dead) != 1 || dead[0].LastError != "GitHub is down" {
		t.Fatalf("dead letters %+v, %v", dead, err)
	}
}

func TestWorkerShutdownFinishesWithinGrace(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	w, db := newWorker(t, handlerFunc(func(jobCtx context.Context, _ queue.Job) error {
		cancel() // shutdown begins while the job runs
		select {
		case <-time.After(10 * time.Millisecond): // well within Grace
			return nil
		case <-jobCtx.Done():
			return jobCtx.Err()
		}
	}))
	if worked, err := w.ProcessNext(ctx); !worked || err != nil {
		t.Fatalf("ProcessNext = %v, %v", worked, err)
	}
	if s := stats(t, db); s.Pending != 0 || s.Running != 0 {
		t.Errorf("queue %+v; want the job completed", s)
	}
}

func TestWorkerShutdownReleasesAfterGrace(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	w, db := newWorker(t, handlerFunc(func(jobCtx context.Context, _ queue.Job) error {
		cancel()
		<-jobCtx.Done() // a job that cannot finish before Grace ends
		return jobCtx.Err()
	}))
	if worked, err := w.ProcessNext(ctx); !worked || err != nil {
		t.Fatalf("ProcessNext = %v, %v", worked, err)
	}
	if s := stats(t, db); s.Pending != 1 {
		t.Fatalf("queue %+v; want the job released", s)
	}
	job, ok, err := db.Claim(t.Context(), "w2", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim after release: %v %v", ok, err)
	}
	if job.Attempts != 1 {
		t.Errorf("attempts %d after a release; want the released attempt not counted", job.Attempts)
	}
}

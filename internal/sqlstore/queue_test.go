package sqlstore

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/queue"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// manualClock is a clock that moves only when told to.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openQueue opens dsn with a manual clock.
func openQueue(t *testing.T, dsn string) (*DB, *manualClock) {
	t.Helper()
	db := openDB(t, dsn)
	clock := newManualClock()
	db.Now = clock.Now
	return db, clock
}

func enqueue(t *testing.T, db *DB, jobs ...queue.Job) []bool {
	t.Helper()
	added, err := db.Enqueue(t.Context(), jobs...)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return added
}

// claim claims a job and fails the test unless one was runnable.
func claim(t *testing.T, db *DB, owner string, lease time.Duration) queue.Job {
	t.Helper()
	job, ok, err := db.Claim(t.Context(), owner, lease)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if !ok {
		t.Fatalf("Claim found nothing runnable")
	}
	return job
}

// claimNone fails the test if a job is runnable.
func claimNone(t *testing.T, db *DB) {
	t.Helper()
	job, ok, err := db.Claim(t.Context(), "idle", time.Minute)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if ok {
		t.Fatalf("Claim took %s, want nothing runnable", job.Delivery)
	}
}

// claimInOrder claims len(want) jobs and checks they come in that order of
// delivery ids.
func claimInOrder(t *testing.T, db *DB, owner string, want ...string) []queue.Job {
	t.Helper()
	var jobs []queue.Job
	var got []string
	for range want {
		job := claim(t, db, owner, time.Minute)
		jobs = append(jobs, job)
		got = append(got, job.Delivery)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("claimed %q, want %q", got, want)
	}
	return jobs
}

func stats(t *testing.T, db *DB) queue.Stats {
	t.Helper()
	s, err := db.QueueStats(t.Context())
	if err != nil {
		t.Fatalf("QueueStats: %v", err)
	}
	return s
}

func TestQueueFIFO(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db, clock := openQueue(t, dsn)
		enqueue(t, db, queue.Job{Delivery: "d1", Event: "pull_request", Key: "acme/models#1", Payload: []byte(`{"action":"opened"}`)})
		clock.Advance(time.Second)
		// A payload of digits would come back as a number if it were
		// stored as text in a column of numeric affinity.
		enqueue(t, db,
			queue.Job{Delivery: "d2", Event: "push", Payload: []byte("123")},
			queue.Job{Delivery: "d3", Event: "ping"},
		)
		enqueue(t, db, queue.Job{Delivery: "d4", Event: "check_suite", Key: "acme/models#2", Payload: []byte{0, 1, 0xff}})

		jobs := claimInOrder(t, db, "w1", "d1", "d2", "d3", "d4")
		claimNone(t, db)

		want := queue.Job{
			ID:         jobs[0].ID,
			Delivery:   "d1",
			Event:      "pull_request",
			Key:        "acme/models#1",
			Payload:    []byte(`{"action":"opened"}`),
			Attempts:   1,
			EnqueuedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		}
		if got := jobs[0]; !jobsEqual(got, want) {
			t.Errorf("claimed %+v, want %+v", got, want)
		}
		if got := jobs[1]; string(got.Payload) != "123" || !got.EnqueuedAt.Equal(want.EnqueuedAt.Add(time.Second)) {
			t.Errorf("second job = %+v, want payload 123 queued a second later", got)
		}
		if got := jobs[2].Payload; len(got) != 0 {
			t.Errorf("job queued without a payload has payload %q, want none", got)
		}
		if got := jobs[3].Payload; !slices.Equal(got, []byte{0, 1, 0xff}) {
			t.Errorf("binary payload came back as %v", got)
		}
		for i := 1; i < len(jobs); i++ {
			if jobs[i].ID <= jobs[i-1].ID {
				t.Errorf("ids %d then %d do not increase", jobs[i-1].ID, jobs[i].ID)
			}
		}
	})
}

func jobsEqual(a, b queue.Job) bool {
	return a.ID == b.ID && a.Delivery == b.Delivery && a.Event == b.Event && a.Key == b.Key &&
		slices.Equal(a.Payload, b.Payload) && a.Attempts == b.Attempts &&
		a.EnqueuedAt.Equal(b.EnqueuedAt) && a.LastError == b.LastError
}

func TestEnqueueDeduplicatesDeliveries(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db, _ := openQueue(t, dsn)
		added := enqueue(t, db,
			queue.Job{Delivery: "a", Payload: []byte("first")},
			queue.Job{Delivery: "b"},
			queue.Job{Delivery: "a", Payload: []byte("second")},
		)
		if want := []bool{true, true, false}; !slices.Equal(added, want) {
			t.Errorf("first batch added %v, want %v", added, want)
		}
		added = enqueue(t, db, queue.Job{Delivery: "b"}, queue.Job{Delivery: "c"})
		if want := []bool{false, true}; !slices.Equal(added, want) {
			t.Errorf("second batch added %v, want %v", added, want)
		}
		if got, want := stats(t, db), (queue.Stats{Pending: 3}); got != want {
			t.Errorf("stats = %+v, want %+v", got, want)
		}

		jobs := claimInOrder(t, db, "w1", "a", "b", "c")
		if string(jobs[0].Payload) != "first" {
			t.Errorf("payload of a = %q, want the first one queued", jobs[0].Payload)
		}
		for _, j := range jobs {
			if err := db.Complete(t.Context(), j.ID, "w1"); err != nil {
				t.Fatalf("Complete: %v", err)
			}
		}
		if added := enqueue(t, db, queue.Job{Delivery: "a"}); added[0] {
			t.Errorf("a delivery already done was queued again")
		}
		claimNone(t, db)

		if added := enqueue(t, db); len(added) != 0 {
			t.Errorf("Enqueue of nothing = %v", added)
		}
		if _, err := db.Enqueue(t.Context(), queue.Job{Event: "push"}); err == nil {
			t.Errorf("Enqueue of a job without a delivery id succeeded")
		}
	})
}

// Replicas enqueue at the same time, GitHub's redeliveries of one delivery
// reaching several of them: each delivery is queued exactly once, and a call
// that starts after another returned numbers its jobs after the other's.
func TestEnqueueConcurrently(t *testing.T) {
	const (
		replicas   = 4
		deliveries = 120
		batch      = 8
	)
	eachBackend(t, func(t *testing.T, dsn string) {
		var (
			mu    sync.Mutex
			added = map[string]int{}
			calls [replicas][][]string // what each call of each replica added
			wg    sync.WaitGroup
		)
		for r := range replicas {
			db := openDB(t, dsn)
			wg.Go(func() {
				// Each replica goes through every delivery, starting at
				// its own place, two of each in a batch now and then.
				for start := 0; start < deliveries; start += batch {
					var jobs []queue.Job
					for i := start; i < start+batch; i++ {
						d := fmt.Sprintf("d%03d", (i+r*deliveries/replicas)%deliveries)
						jobs = append(jobs, queue.Job{Delivery: d, Event: "pull_request", Key: "acme/models#" + d[len(d)-1:]})
						if i%5 == r {
							jobs = append(jobs, jobs[len(jobs)-1])
						}
					}
					got, err := db.Enqueue(t.Context(), jobs...)
					if err != nil {
						t.Errorf("replica %d: Enqueue: %v", r, err)
						return
					}
					var mine []string
					for i, ok := range got {
						if ok {
							mine = append(mine, jobs[i].Delivery)
						}
					}
					mu.Lock()
					for _, d := range mine {
						added[d]++
					}
					calls[r] = append(calls[r], mine)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(added) != deliveries {
			t.Errorf("%d deliveries queued, want %d", len(added), deliveries)
		}
		for d, n := range added {
			if n != 1 {
				t.Errorf("delivery %s reported queued %d times", d, n)
			}
		}
		ids := map[string]int64{}
		for _, j := range sqlstoretest.Jobs(t, dsn, "") {
			ids[j.Delivery] = j.ID
		}
		if len(ids) != deliveries {
			t.Errorf("the queue holds %d deliveries, want %d", len(ids), deliveries)
		}
		for r, rc := range calls {
			var last int64
			for _, mine := range rc {
				first := last
				for _, d := range mine {
					if ids[d] <= first {
						t.Errorf("replica %d: %s has id %d, not after %d of its call before", r, d, ids[d], first)
					}
					last = max(last, ids[d])
				}
			}
		}
	})
}

// A batch too large for one statement is stored whole, in order, in one
// transaction.
func TestEnqueueLargeBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db, _ := openQueue(t, dsn)
		big := func(b byte) []byte { return bytes.Repeat([]byte{b}, maxInsertBytes/2+1) }
		jobs := []queue.Job{
			{Delivery: "a", Payload: big('a')},
			{Delivery: "b", Payload: big('b')},
			{Delivery: "a", Payload: []byte("again")},
			{Delivery: "c", Payload: big('c')},
			{Delivery: "d", Payload: []byte("small")},
		}
		if got, want := enqueue(t, db, jobs...), []bool{true, true, false, true, true}; !slices.Equal(got, want) {
			t.Errorf("added %v, want %v", got, want)
		}
		stored := map[string][]byte{"a": jobs[0].Payload, "b": jobs[1].Payload, "c": jobs[3].Payload, "d": jobs[4].Payload}
		for _, j := range claimInOrder(t, db, "w1", "a", "b", "c", "d") {
			if !bytes.Equal(j.Payload, stored[j.Delivery]) {
				t.Errorf("%s came back with %d bytes, want its first %d", j.Delivery, len(j.Payload), len(stored[j.Delivery]))
			}
		}
	})
}

func TestClaimOneJobPerKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db, _ := openQueue(t, dsn)
		enqueue(t, db,
			queue.Job{Delivery: "pr1-a", Key: "acme/models#1"},
			queue.Job{Delivery: "pr1-b", Key: "acme/models#1"},
			queue.Job{Delivery: "pr2-a", Key: "acme/models#2"},
			queue.Job{Delivery: "free-a"},
			queue.Job{Delivery: "free-b"},
		)
		jobs := claimInOrder(t, db, "w1", "pr1-a", "pr2-a", "free-a", "free-b")
		claimNone(t, db)

		if err := db.Complete(t.Context(), jobs[0].ID, "w1"); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		claimInOrder(t, db, "w2", "pr1-b")
	})
}

func TestExpiredLeaseIsReclaimed(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db, clock := openQueue(t, dsn)
		enqueue(t, db,
			queue.Job{Delivery: "a", Key: "k"},
			queue.Job{Delivery: "b", Key: "k"},
		)
		first := claim(t, db, "w1", time.Minute)

		clock.Advance(50 * time.Second)
		claimNone(t, db)
		if err := db.Heartbeat(t.Context(), first.ID, "w1", time.Minute); err != nil {
			t.Fatalf("Heartbeat: %v", err)
		}
		clock.Advance(50 * time.Second)
		claimNone(t, db)

		// w1 has died. Its job, not the next one of its key, is taken
		// over, and the takeover counts as an attempt.
		clock.Advance(11 * time.Second)
		again := claim(t, db, "w2", time.Minute)
		if again.ID != first.ID || again.Attempts != 2 {
			t.Errorf("reclaimed %s attempt %d, want %s attempt 2", again.Delivery, again.Attempts, first.Delivery)
		}
		claimNone(t, db)

		for name, err := range map[string]error{
			"Heartbeat": db.Heartbeat(t.Context(), first.ID, "w1", time.Minute),
			"Complete":  db.Complete(t.Context(), first.ID, "w1"),
			"Retry":     db.Retry(t.Context(), first.ID, "w1", clock.Now(), "late"),
			"Bury":      db.Bury(t.Context(), first.ID, "w1", "late"),
			"Release":   db.Release(t.Context(), first.ID, "w1"),
		} {
			if !errors.Is(err, queue.ErrLeaseLost) {
				t.Errorf("%s by the old owner: %v, want ErrLeaseLost", name, err)
			}
		}
		if err := db.Complete(t.Context(), first.ID, "w2"); err != nil {
			t.Fatalf("Complete by the new owner: %v", err)
		}
		if err := db.Complete(t.Context(), first.ID, "w2"); !errors.Is(err, queue.ErrLeaseLost) {
			t.Errorf("second Complete: %v, want ErrLeaseLost", err)
		}
	})
}

func TestExpiredLeaseCannotBeRenewed(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db, clock := openQueue(t, dsn)
		enqueue(t, db, queue.Job{Delivery: "a", Key: "k"})
		job := claim(t, db, "w1", time.Minute)
		clock.Advance(time.Minute)

		if err := db.Heartbeat(t.Context(), job.ID, "w1", time.Minute); !errors.Is(err, queue.ErrLeaseLost) {
			t.Errorf("Heartbeat after the lease expired: %v, want ErrLeaseLost", err)
		}
		// Nobody has taken the job over, so its outcome still counts.
		if err := db.Complete(t.Context(), job.ID, "w1"); err != nil {
			t.Errorf("Complete after the lease expired: %v", err)
		}
		claimNone(t, db)
	})
}

func TestRetryWaitsUntilItsTime(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db, clock := openQueue(t, dsn)
		enqueue(t, db, queue.Job{Delivery: "a", Key: "k"}, queue.Job{Delivery: "b", Key: "k"})
		a := claim(t, db, "w1", time.Minute)
		if err := db.Retry(t.Context(), a.ID, "w1", clock.Now().Add(time.Minute), "GitHub is down"); err != nil {
			t.Fatalf("Retry: %v", err)
		}
		if got, want := stats(t, db), (queue.Stats{Pending: 2}); got != want {
			t.Errorf("stats = %+v, want %+v", got, want)
		}

		// A job waiting for its retry does not hold up its key.
		b := claimInOrder(t, db, "w1", "b")[0]
		if err := db.Complete(t.Context(), b.ID, "w1"); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		clock.Advance(59 * time.Second)
		claimNone(t, db)

		clock.Advance(time.Second)
		again := claim(t, db, "w2", time.Minute)
		if again.ID != a.ID || again.Attempts != 2 || again.LastError != "GitHub is down" {
			t.Errorf("retried job = %+v, want %s on attempt 2 with its last error", again, a.Delivery)
		}
	})
}

func TestScheduledJobWaitsUntilItsTime(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db, clock := openQueue(t, dsn)
		at := clock.Now().Add(time.Hour)
		soak := queue.Job{Delivery: "advance:acme/models:7:soak", Event: "modelgate_advance", Key: "acme/models", RunAt: at}
		if added := enqueue(t, db, soak); !added[0] {
			t.Fatal("the scheduled job was not queued")
		}
		// Scheduling it again, for whatever time, queues nothing.
		if added := enqueue(t, db, soak, queue.Job{Delivery: soak.Delivery, Key: "acme/models", RunAt: at.Add(time.Hour)}); added[0] || added[1] {
			t.Errorf("the same delivery scheduled again was queued: %v", added)
		}
		if got, want := stats(t, db), (queue.Stats{Scheduled: 1}); got != want {
			t.Errorf("stats = %+v, want %+v", got, want)
		}
		// A job of the same key queued later runs first: the scheduled one
		// does not hold up its key while it waits.
		enqueue(t, db, queue.Job{Delivery: "now", Key: "acme/models"}, queue.Job{Delivery: "past", Key: "acme/models", RunAt: clock.Now().Add(-time.Minute)})
		for _, d := range []string{"now", "past"} {
			j := claimInOrder(t, db, "w1", d)[0]
			if err := db.Complete(t.Context(), j.ID, "w1"); err != nil {
				t.Fatalf("Complete: %v", err)
			}
		}
		clock.Advance(time.Hour - time.Millisecond)
		claimNone(t, db)

		clock.Advance(time.Millisecond)
		if got, want := stats(t, db), (queue.Stats{Pending: 1}); got != want {
			t.Errorf("stats at its time = %+v, want %+v", got, want)
		}
		if got := claim(t, db, "w1", time.Minute); got.Delivery != soak.Delivery || got.Attempts != 1 {
			t.Errorf("claimed %+v at its time, want %s on attempt 1", got, soak.Delivery)
		}
	})
}

func TestBury(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db, _ := openQueue(t, dsn)
		enqueue(t, db,
			queue.Job{Delivery: "a", Event: "pull_request", Payload: []byte("{}")},
			queue.Job{Delivery: "b"},
			queue.Job{Delivery: "c"},
		)
		jobs := claimInOrder(t, db, "w1", "a", "b", "c")
		for _, j := range jobs[:2] {
			if err := db.Bury(t.Context(), j.ID, "w1", "bad payload "+j.Delivery); err != nil {
				t.Fatalf("Bury: %v", err)
			}
		}
		claimNone(t, db)
		if err := db.Complete(t.Context(), jobs[0].ID, "w1"); !errors.Is(err, queue.ErrLeaseLost) {
			t.Errorf("Complete of a buried job: %v, want ErrLeaseLost", err)
		}
		if got, want := stats(t, db), (queue.Stats{Running: 1, Dead: 2}); got != want {
			t.Errorf("stats = %+v, want %+v", got, want)
		}

		dead, err := db.DeadJobs(t.Context(), 10)
		if err != nil {
			t.Fatalf("DeadJobs: %v", err)
		}
		if len(dead) != 2 || dead[0].Delivery != "b" || dead[1].Delivery != "a" {
			t.Fatalf("DeadJobs = %+v, want b then a", dead)
		}
		want := jobs[0]
		want.LastError = "bad payload a"
		if !jobsEqual(dead[1], want) {
			t.Errorf("dead job = %+v, want %+v", dead[1], want)
		}
		if dead, err := db.DeadJobs(t.Context(), 1); err != nil || len(dead) != 1 || dead[0].Delivery != "b" {
			t.Errorf("DeadJobs(1) = %+v, %v; want b", dead, err)
		}
		if _, err := db.DeadJobs(t.Context(), 0); err == nil {
			t.Errorf("DeadJobs(0) succeeded")
		}
	})
}

func TestReleaseDoesNotCountTheAttempt(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db, _ := openQueue(t, dsn)
		enqueue(t, db, queue.Job{Delivery: "a", Key: "k"}, queue.Job{Delivery: "b", Key: "k"})
		a := claim(t, db, "w1", time.Minute)
		if err := db.Release(t.Context(), a.ID, "w1"); err != nil {
			t.Fatalf("Release: %v", err)
		}
		again := claim(t, db, "w2", time.Minute)
		if again.ID != a.ID || again.Attempts != 1 {
			t.Errorf("after Release claimed %s attempt %d, want %s attempt 1", again.Delivery, again.Attempts, a.Delivery)
		}
		if err := db.Release(t.Context(), a.ID, "w1"); !errors.Is(err, queue.ErrLeaseLost) {
			t.Errorf("Release by a former owner: %v, want ErrLeaseLost", err)
		}
	})
}

func TestQueueStats(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db, clock := openQueue(t, dsn)
		if got := stats(t, db); got != (queue.Stats{}) {
			t.Errorf("stats of an empty queue = %+v", got)
		}
		for i := range 6 {
			enqueue(t, db, queue.Job{Delivery: fmt.Sprint(i)})
		}
		jobs := claimInOrder(t, db, "w1", "0", "1", "2", "3")
		if err := db.Complete(t.Context(), jobs[0].ID, "w1"); err != nil {
			t.Fatal(err)
		}
		if err := db.Bury(t.Context(), jobs[1].ID, "w1", "no"); err != nil {
			t.Fatal(err)
		}
		if err := db.Retry(t.Context(), jobs[2].ID, "w1", clock.Now().Add(time.Hour), "later"); err != nil {
			t.Fatal(err)
		}
		if got, want := stats(t, db), (queue.Stats{Pending: 3, Running: 1, Dead: 1}); got != want {
			t.Errorf("stats = %+v, want %+v", got, want)
		}
	})
}

func TestClaimValidatesArguments(t *testing.T) {
	db, _ := openQueue(t, filepath.Join(t.TempDir(), "modelgate.db"))
	if _, _, err := db.Claim(t.Context(), "", time.Minute); err == nil {
		t.Errorf("Claim without an owner succeeded")
	}
	if _, _, err := db.Claim(t.Context(), "w1", 0); err == nil {
		t.Errorf("Claim with no lease succeeded")
	}
}

// TestClaimConcurrently has workers with connections of their own, like
// replicas sharing a database, work through jobs of a few keys. Every job
// fails once and is retried a moment later, so that jobs of a key become
// runnable while others of the key are being claimed.
func TestClaimConcurrently(t *testing.T) {
	const (
		jobCount = 300
		keyCount = 10
		workers  = 6
	)
	eachBackend(t, func(t *testing.T, dsn string) {
		jobs := make([]queue.Job, jobCount)
		for i := range jobs {
			jobs[i] = queue.Job{Delivery: fmt.Sprintf("d%03d", i), Key: fmt.Sprintf("acme/models#%d", i%keyCount)}
		}
		enqueue(t, openDB(t, dsn), jobs...)

		var (
			mu        sync.Mutex
			running   = map[string]string{} // key → delivery
			completed = map[string]int{}    // delivery → times
			done      atomic.Int64
		)
		// A queue that stops handing out jobs fails the test rather than
		// hanging it.
		deadline := time.Now().Add(3 * time.Minute)
		var wg sync.WaitGroup
		for w := range workers {
			db := openDB(t, dsn)
			owner := fmt.Sprintf("w%d", w)
			wg.Go(func() {
				for done.Load() < jobCount && time.Now().Before(deadline) {
					job, ok, err := db.Claim(t.Context(), owner, time.Minute)
					if err != nil {
						t.Errorf("Claim: %v", err)
						return
					}
					if !ok {
						time.Sleep(2 * time.Millisecond)
						continue
					}
					mu.Lock()
					if other, busy := running[job.Key]; busy {
						t.Errorf("%s claimed while %s of key %s runs", job.Delivery, other, job.Key)
					}
					running[job.Key] = job.Delivery
					mu.Unlock()

					time.Sleep(100 * time.Microsecond)

					// The key is free in the test's eyes before it is
					// in the database's, never the other way round.
					mu.Lock()
					delete(running, job.Key)
					if job.Attempts > 1 {
						completed[job.Delivery]++
					}
					mu.Unlock()
					if job.Attempts == 1 {
						err = db.Retry(t.Context(), job.ID, owner, time.Now().Add(2*time.Millisecond), "first attempt")
					} else {
						err = db.Complete(t.Context(), job.ID, owner)
						done.Add(1)
					}
					if err != nil {
						t.Errorf("finish %s: %v", job.Delivery, err)
						return
					}
				}
			})
		}
		wg.Wait()

		if len(completed) != jobCount {
			t.Errorf("%d jobs completed, want %d", len(completed), jobCount)
		}
		for delivery, n := range completed {
			if n != 1 {
				t.Errorf("%s completed %d times", delivery, n)
			}
		}
		if got := stats(t, openDB(t, dsn)); got != (queue.Stats{}) {
			t.Errorf("stats after all jobs are done = %+v", got)
		}
	})
}

// BenchmarkEnqueue measures queuing on SQLite, one delivery per transaction
// and many, in ns/job.
func BenchmarkEnqueue(b *testing.B) {
	payload := make([]byte, 8<<10)
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			db, err := Open(b.Context(), filepath.Join(b.TempDir(), "modelgate.db"))
			if err != nil {
				b.Fatalf("Open: %v", err)
			}
			defer db.Close()
			jobs := make([]queue.Job, batch)
			n := 0
			for b.Loop() {
				for i := range jobs {
					n++
					jobs[i] = queue.Job{Delivery: fmt.Sprint(n), Event: "pull_request", Key: "acme/models#1", Payload: payload}
				}
				if _, err := db.Enqueue(b.Context(), jobs...); err != nil {
					b.Fatalf("Enqueue: %v", err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/job")
		})
	}
}

package sqlstoretest

import (
	"database/sql"
	"strings"
	"testing"
	"time"
)

// Job is a row of the job queue, as stored: what a test of scheduling
// checks, when a job is due and whether it ran, which the queue's own API
// shows only to the worker that claims it.
type Job struct {
	ID                          int64
	Delivery, Event, Key, State string
	// RunAt is when a pending job may run; for a running one, when its
	// lease expires.
	RunAt    time.Time
	Payload  []byte
	Attempts int
	// Owner is the worker that last claimed the job; empty if none has.
	Owner string
}

// Jobs returns the jobs of event ("" for every event) in the queue of the
// database at dsn, in whatever state, in the order they were queued: what a
// test asserts was queued, whether or not a worker has run it since.
func Jobs(t testing.TB, dsn, event string) []Job {
	t.Helper()
	driver, query := "sqlite", `SELECT id, delivery, event, job_key, state, run_at, payload, attempts, owner FROM queue_jobs
		WHERE ? IN ('', event) ORDER BY id`
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		driver, query = "pgx", numberPlaceholders(query)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), query, event)
	if err != nil {
		t.Fatalf("read the job queue: %v", err)
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		var j Job
		var runAt int64
		if err := rows.Scan(&j.ID, &j.Delivery, &j.Event, &j.Key, &j.State, &runAt, &j.Payload, &j.Attempts, &j.Owner); err != nil {
			t.Fatalf("read the job queue: %v", err)
		}
		j.RunAt = time.UnixMilli(runAt).UTC()
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read the job queue: %v", err)
	}
	return jobs
}

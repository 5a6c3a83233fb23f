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
	Delivery, Event, State string
	// RunAt is when a pending job may run; for a running one, when its
	// lease expires.
	RunAt   time.Time
	Payload []byte
}

// Jobs returns every job of the queue of the database at dsn, in the order
// they were queued.
func Jobs(t testing.TB, dsn string) []Job {
	t.Helper()
	driver := "sqlite"
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		driver = "pgx"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT delivery, event, state, run_at, payload FROM queue_jobs ORDER BY id`)
	if err != nil {
		t.Fatalf("read the job queue: %v", err)
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		var j Job
		var runAt int64
		if err := rows.Scan(&j.Delivery, &j.Event, &j.State, &runAt, &j.Payload); err != nil {
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

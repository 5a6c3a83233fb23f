package sqlstoretest

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/queue"
)

// Jobs returns the jobs of event in the queue of the database at dsn, in
// whatever state, oldest first: what a test asserts was queued, whether or
// not a worker has run it since.
func Jobs(t testing.TB, dsn, event string) []queue.Job {
	t.Helper()
	driver, query := "sqlite", `SELECT id, delivery, event, job_key, payload, attempts FROM queue_jobs WHERE event = ? ORDER BY id`
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
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var jobs []queue.Job
	for rows.Next() {
		var j queue.Job
		if err := rows.Scan(&j.ID, &j.Delivery, &j.Event, &j.Key, &j.Payload, &j.Attempts); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return jobs
}

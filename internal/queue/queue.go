// Package queue defines the durable queue of GitHub webhook deliveries. A
// delivery is stored as a Job before GitHub is told it arrived, so that no
// delivery is lost when the App stops, and workers, possibly in several
// replicas, take jobs from the queue under a lease that a crashed worker
// cannot hold forever.
package queue

import (
	"errors"
	"time"
)

// Job is one webhook delivery waiting to be handled.
type Job struct {
	ID int64
	// Delivery is the X-GitHub-Delivery id. It is unique: a redelivery of
	// an id already queued, in whatever state, is not queued again.
	Delivery string
	// Event is the X-GitHub-Event name.
	Event string
	// Key names what the job works on, such as "acme/models#12". Jobs with
	// the same key run one at a time; jobs with an empty key are not
	// serialized.
	Key     string
	Payload []byte
	// RunAt is when the job becomes runnable; zero means at once. A job the
	// App schedules for later (a soak's end, the next measurement) waits in
	// the queue, so it survives restarts and runs on whichever replica is up.
	RunAt time.Time
	// Attempts counts the claims so far, including the current one.
	Attempts   int
	EnqueuedAt time.Time
	// LastError is the reason given when the job was last retried or
	// dead-lettered.
	LastError string
}

// Stats counts the jobs not yet done.
type Stats struct {
	// Pending includes jobs waiting for a retry time.
	Pending int
	// Scheduled counts the jobs queued to run later whose time has not
	// come (a soak's end, the next measurement); they are not Pending.
	Scheduled int
	// Running includes jobs whose lease has expired and that are waiting
	// to be claimed again.
	Running int
	// Dead counts the dead-lettered jobs.
	Dead int
}

// ErrLeaseLost is returned to a worker that acts on a job it no longer
// holds.
var ErrLeaseLost = errors.New("job lease lost: the lease expired and another worker may hold the job")

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/modelgate/modelgate/internal/queue"
)

// enqueueLock serializes Enqueue on PostgreSQL. Job ids are allocated after
// MAX(id), because SQLite and PostgreSQL share no syntax for generated keys,
// so one writer at a time must allocate them. That also makes ids increase
// in commit order: a claimer taking the smallest runnable id never passes
// over a job that commits later with a smaller one. Ids need not be
// consecutive.
const enqueueLock int64 = 0x6d67_656e_7175 // "mgenqu"

// keyLockClass is the first half of the two-part PostgreSQL advisory lock
// that a claimer holds on a job key; the second half is a hash of the key.
// Two-part keys are a space of their own, apart from the single-part ones of
// migrationLock and auditLock.
const keyLockClass int32 = 0x6d67_6b79 // "mgky"

// claimCandidates is how many runnable jobs Claim considers at once. On
// PostgreSQL some may be skipped because a concurrent claimer is taking a job
// of the same key; on SQLite the first is always taken.
const claimCandidates = 16

// Enqueue queues jobs in a single transaction, so that many deliveries share
// one commit, and reports for each whether it was queued: false means that
// a job with its delivery id was queued before, earlier in jobs or by an
// earlier call, and is not queued again, wherever its RunAt: scheduling
// the same job twice schedules it once. Only Delivery, Event, Key, Payload
// and RunAt are taken from jobs; a job with a zero RunAt is runnable at
// once, one with a future RunAt not before it. The jobs are durable once
// Enqueue returns; when it fails, none of them was queued, or, if the
// connection broke during the commit, all of them may have been, and
// enqueuing them again queues none twice.
func (db *DB) Enqueue(ctx context.Context, jobs ...queue.Job) ([]bool, error) {
	added := make([]bool, len(jobs))
	if len(jobs) == 0 {
		return added, nil
	}
	// The first job of each delivery id is the one offered to the
	// database; the others are duplicates whatever it answers.
	first := make(map[string]int, len(jobs))
	offered := make([]int, 0, len(jobs))
	for i, j := range jobs {
		if j.Delivery == "" {
			return nil, fmt.Errorf("enqueue jobs: job %d of %d has no delivery id", i+1, len(jobs))
		}
		if _, dup := first[j.Delivery]; !dup {
			first[j.Delivery] = i
			offered = append(offered, i)
		}
	}
	now := db.Now().UnixMilli()
	rows := make([]jobInsert, len(offered))
	for n, i := range offered {
		j := jobs[i]
		// A nil payload would be stored as NULL.
		payload := j.Payload
		if payload == nil {
			payload = []byte{}
		}
		runAt := now
		if !j.RunAt.IsZero() {
			runAt = j.RunAt.UnixMilli()
		}
		rows[n] = jobInsert{delivery: j.Delivery, event: j.Event, key: j.Key, payload: payload, runAt: runAt}
	}
	insert := db.insertJobs
	if db.dialect == postgres {
		insert = db.insertJobsPostgres
	}
	queued, err := insert(ctx, rows, now)
	if err != nil {
		return nil, fmt.Errorf("enqueue jobs: %w", err)
	}
	for _, delivery := range queued {
		i, ok := first[delivery]
		if !ok {
			return nil, fmt.Errorf("enqueue jobs: the database reports delivery %q queued, which was not offered", delivery)
		}
		added[i] = true
	}
	return added, nil
}

// jobInsert is a new job as inserted.
type jobInsert struct {
	delivery, event, key string
	payload              []byte
	runAt                int64
}

// insertJobs inserts rows, whose delivery ids are distinct, in one
// transaction and returns the delivery ids of those inserted: the others
// were queued before. Each row is a statement of its own, which costs
// nothing on SQLite, where statements are calls within the process.
func (db *DB) insertJobs(ctx context.Context, rows []jobInsert, now int64) ([]string, error) {
	var queued []string
	err := db.writeTx(ctx, enqueueLock, func(tx *sqlx.Tx) error {
		var last int64
		if err := tx.GetContext(ctx, &last, `SELECT COALESCE(MAX(id), 0) FROM queue_jobs`); err != nil {
			return fmt.Errorf("read last job id: %w", err)
		}
		insert, err := tx.PrepareContext(ctx, tx.Rebind(insertJobSQL))
		if err != nil {
			return fmt.Errorf("prepare insert: %w", err)
		}
		defer insert.Close()
		for _, r := range rows {
			res, err := insert.ExecContext(ctx, last+1, r.delivery, r.event, r.key, r.payload, r.runAt, now)
			if err != nil {
				return fmt.Errorf("insert delivery %s: %w", r.delivery, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("insert delivery %s: %w", r.delivery, err)
			}
			if n > 0 {
				queued = append(queued, r.delivery)
				last++
			}
		}
		return nil
	})
	return queued, err
}

const insertJobSQL = `INSERT INTO queue_jobs
	(id, delivery, event, job_key, payload, state, run_at, owner, attempts, enqueued_at, last_error)
	VALUES (?, ?, ?, ?, ?, 'pending', ?, '', 0, ?, '')
	ON CONFLICT (delivery) DO NOTHING`

// insertJobsPostgres is insertJobs in one round trip to PostgreSQL, where
// each round trip is a wait for another process: the advisory lock and the
// inserts are pipelined, and commit together when the pipeline ends (an
// implicit transaction). The rows go as arrays, a statement for every
// maxInsertBytes of payload, since a statement's parameters cannot exceed
// 1 GB.
func (db *DB) insertJobsPostgres(ctx context.Context, rows []jobInsert, now int64) ([]string, error) {
	var queued []string
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, enqueueLock)
	for len(rows) > 0 {
		n, size := 0, 0
		for n < len(rows) && (n == 0 || size+len(rows[n].payload) <= maxInsertBytes) {
			size += len(rows[n].payload)
			n++
		}
		var a struct {
			delivery, event, key []string
			payload              [][]byte
			runAt                []int64
		}
		for _, r := range rows[:n] {
			a.delivery = append(a.delivery, r.delivery)
			a.event = append(a.event, r.event)
			a.key = append(a.key, r.key)
			a.payload = append(a.payload, r.payload)
			a.runAt = append(a.runAt, r.runAt)
		}
		rows = rows[n:]
		b.Queue(insertJobsPostgresSQL, a.delivery, a.event, a.key, a.payload, a.runAt, now).Query(func(rs pgx.Rows) error {
			for rs.Next() {
				var delivery string
				if err := rs.Scan(&delivery); err != nil {
					return fmt.Errorf("read queued delivery: %w", err)
				}
				queued = append(queued, delivery)
			}
			return rs.Err()
		})
	}
	conn, err := db.x.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("connection is a %T, not pgx's", driverConn)
		}
		// Close reads up to the end of the pipeline, so it returns only
		// once the commit is durable, and reports a failed commit.
		return c.Conn().SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("insert and commit: %w", err)
	}
	return queued, nil
}

// maxInsertBytes bounds the payloads of one statement of insertJobsPostgres.
const maxInsertBytes = 8 << 20

// insertJobsPostgresSQL numbers its rows after the largest id: the
// subquery, uncorrelated, is evaluated once, before the statement inserts
// any row, and sees the rows of the statements before it in the
// transaction. A row skipped as a duplicate leaves its id unused.
const insertJobsPostgresSQL = `INSERT INTO queue_jobs
	(id, delivery, event, job_key, payload, state, run_at, owner, attempts, enqueued_at, last_error)
	SELECT (SELECT COALESCE(MAX(id), 0) FROM queue_jobs) + j.n, j.delivery, j.event, j.job_key, j.payload,
		'pending', j.run_at, '', 0, $6, ''
	FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[])
		WITH ORDINALITY AS j(delivery, event, job_key, payload, run_at, n)
	ON CONFLICT (delivery) DO NOTHING
	RETURNING delivery`

// Claim gives owner the oldest runnable job, leased for lease, and reports
// whether there was one. A job whose lease has expired is runnable again:
// its worker is presumed dead, and the claim counts as a new attempt. A job is
// not runnable while another job with the same non-empty key is running
// under a lease that has not expired.
func (db *DB) Claim(ctx context.Context, owner string, lease time.Duration) (queue.Job, bool, error) {
	if owner == "" || lease <= 0 {
		return queue.Job{}, false, fmt.Errorf("claim job: need an owner and a positive lease, got %q and %v", owner, lease)
	}
	now := db.Now()
	// Not writeTx: its lock would make claimers on PostgreSQL wait for each
	// other, where row locks and key locks let them proceed side by side.
	// keyFree needs each statement to see what committed before it, which
	// is PostgreSQL's read committed; SQLite's write lock, taken at BEGIN,
	// is stronger.
	var opts *sql.TxOptions
	if db.dialect == postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := db.x.BeginTxx(ctx, opts)
	if err != nil {
		return queue.Job{}, false, fmt.Errorf("claim job: begin transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	job, ok, err := db.claim(ctx, tx, owner, now.UnixMilli(), now.Add(lease).UnixMilli())
	if err != nil {
		return queue.Job{}, false, fmt.Errorf("claim job: %w", err)
	}
	if !ok {
		return queue.Job{}, false, nil
	}
	if err := tx.Commit(); err != nil {
		return queue.Job{}, false, fmt.Errorf("claim job: commit: %w", err)
	}
	return job, true, nil
}

func (db *DB) claim(ctx context.Context, tx *sqlx.Tx, owner string, now, until int64) (queue.Job, bool, error) {
	query := candidatesSQL
	if db.dialect == postgres {
		// Rows another claimer has locked are being taken; skipping them
		// keeps replicas from queueing behind each other.
		query += ` FOR UPDATE SKIP LOCKED`
	}
	var candidates []struct {
		ID  int64  `db:"id"`
		Key string `db:"job_key"`
	}
	if err := tx.SelectContext(ctx, &candidates, tx.Rebind(query), now, now, now, claimCandidates); err != nil {
		return queue.Job{}, false, fmt.Errorf("find runnable jobs: %w", err)
	}
	for _, c := range candidates {
		free, err := db.keyFree(ctx, tx, c.ID, c.Key, now)
		if err != nil {
			return queue.Job{}, false, err
		}
		if !free {
			continue
		}
		var row jobRow
		if err := tx.GetContext(ctx, &row, tx.Rebind(claimSQL), owner, until, c.ID); err != nil {
			return queue.Job{}, false, fmt.Errorf("take job %d: %w", c.ID, err)
		}
		return row.job(), true, nil
	}
	return queue.Job{}, false, nil
}

// candidatesSQL selects runnable jobs, oldest first, whose key is not held by
// a running job. It also leaves out a job when an older one of its key is
// runnable, so that jobs of one key run in order and a single busy key
// cannot fill the candidates.
const candidatesSQL = `SELECT j.id, j.job_key FROM queue_jobs j
	WHERE j.state IN ('pending', 'running') AND j.run_at <= ?
	AND (j.job_key = '' OR NOT EXISTS (
		SELECT 1 FROM queue_jobs o
		WHERE o.job_key = j.job_key AND o.state IN ('pending', 'running') AND o.id <> j.id
		AND ((o.state = 'running' AND o.run_at > ?) OR (o.id < j.id AND o.run_at <= ?))))
	ORDER BY j.id
	LIMIT ?`

const claimSQL = `UPDATE queue_jobs
	SET state = 'running', owner = ?, run_at = ?, attempts = attempts + 1
	WHERE id = ?
	RETURNING ` + jobColumns

// keyFree reports whether job id may run now that it is a candidate. On
// SQLite the candidates were chosen under the database's write lock and are
// all free. On PostgreSQL a concurrent claimer may be taking another job of
// the same key, unseen by the query that chose the candidates: claimers of a
// key take turns through an advisory lock, and the one that gets it checks
// again, in a new snapshot, for a running job of the key.
func (db *DB) keyFree(ctx context.Context, tx *sqlx.Tx, id int64, key string, now int64) (bool, error) {
	if db.dialect != postgres || key == "" {
		return true, nil
	}
	var locked bool
	if err := tx.GetContext(ctx, &locked, `SELECT pg_try_advisory_xact_lock($1, $2)`, keyLockClass, keyHash(key)); err != nil {
		return false, fmt.Errorf("lock job key %q: %w", key, err)
	}
	if !locked {
		return false, nil
	}
	var busy bool
	if err := tx.GetContext(ctx, &busy, runningWithKeySQL, key, now, id); err != nil {
		return false, fmt.Errorf("check job key %q: %w", key, err)
	}
	return !busy, nil
}

const runningWithKeySQL = `SELECT EXISTS (SELECT 1 FROM queue_jobs
	WHERE job_key = $1 AND state = 'running' AND run_at > $2 AND id <> $3)`

// keyHash maps a job key to the second half of its advisory lock. Keys that
// collide only make their claimers take turns.
func keyHash(key string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int32(h.Sum32())
}

// Heartbeat extends to lease from now the lease owner holds on job id. Once
// the lease has expired it fails with queue.ErrLeaseLost even if no other
// worker has claimed the job: another job of the same key may have been
// claimed meanwhile, and renewing would let the two run together.
func (db *DB) Heartbeat(ctx context.Context, id int64, owner string, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("renew lease on job %d: lease %v is not positive", id, lease)
	}
	now := db.Now()
	err := db.updateHeld(ctx, `UPDATE queue_jobs SET run_at = ?
		WHERE id = ? AND owner = ? AND state = 'running' AND run_at > ?`,
		now.Add(lease).UnixMilli(), id, owner, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("renew lease on job %d: %w", id, err)
	}
	return nil
}

// Complete marks job id, which owner holds, done. The job stays in the
// database so that its delivery id is still recognized if GitHub redelivers
// it. Like Retry, Bury and Release, Complete succeeds after the lease has
// expired as long as no other worker has claimed the job since: ending a job
// cannot overlap another.
func (db *DB) Complete(ctx context.Context, id int64, owner string) error {
	err := db.updateHeld(ctx, `UPDATE queue_jobs SET state = 'done'
		WHERE id = ? AND owner = ? AND state = 'running'`, id, owner)
	if err != nil {
		return fmt.Errorf("complete job %d: %w", id, err)
	}
	return nil
}

// Retry puts job id, which owner holds, back in the queue, runnable at at,
// with reason as its LastError.
func (db *DB) Retry(ctx context.Context, id int64, owner string, at time.Time, reason string) error {
	err := db.updateHeld(ctx, `UPDATE queue_jobs SET state = 'pending', run_at = ?, last_error = ?
		WHERE id = ? AND owner = ? AND state = 'running'`, at.UnixMilli(), reason, id, owner)
	if err != nil {
		return fmt.Errorf("retry job %d: %w", id, err)
	}
	return nil
}

// Bury moves job id, which owner holds, to the dead letters, with reason as
// its LastError. It is not run again; DeadJobs lists it.
func (db *DB) Bury(ctx context.Context, id int64, owner string, reason string) error {
	err := db.updateHeld(ctx, `UPDATE queue_jobs SET state = 'dead', last_error = ?
		WHERE id = ? AND owner = ? AND state = 'running'`, reason, id, owner)
	if err != nil {
		return fmt.Errorf("bury job %d: %w", id, err)
	}
	return nil
}

// Release gives back job id, which owner holds but has not finished, to be
// claimed again at once. The attempt is not counted: the job did not fail,
// its worker stopped.
func (db *DB) Release(ctx context.Context, id int64, owner string) error {
	err := db.updateHeld(ctx, `UPDATE queue_jobs SET state = 'pending', run_at = ?, attempts = attempts - 1
		WHERE id = ? AND owner = ? AND state = 'running'`, db.Now().UnixMilli(), id, owner)
	if err != nil {
		return fmt.Errorf("release job %d: %w", id, err)
	}
	return nil
}

// updateHeld runs query, an UPDATE of a job that the caller must hold, and
// fails with queue.ErrLeaseLost when it changes nothing.
func (db *DB) updateHeld(ctx context.Context, query string, args ...any) error {
	res, err := db.x.ExecContext(ctx, db.x.Rebind(query), args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return queue.ErrLeaseLost
	}
	return nil
}

// QueueStats counts the jobs that are not done.
func (db *DB) QueueStats(ctx context.Context) (queue.Stats, error) {
	var counts []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	// A pending job never tried whose time has not come was scheduled for
	// later; a pending job tried before is waiting for its retry.
	err := db.x.SelectContext(ctx, &counts, db.x.Rebind(`SELECT
		CASE WHEN state = 'pending' AND attempts = 0 AND run_at > ? THEN 'scheduled' ELSE state END AS state,
		COUNT(*) AS n FROM queue_jobs
		WHERE state IN ('pending', 'running', 'dead') GROUP BY 1`), db.Now().UnixMilli())
	if err != nil {
		return queue.Stats{}, fmt.Errorf("count queued jobs: %w", err)
	}
	var s queue.Stats
	for _, c := range counts {
		switch c.State {
		case "pending":
			s.Pending = c.N
		case "scheduled":
			s.Scheduled = c.N
		case "running":
			s.Running = c.N
		case "dead":
			s.Dead = c.N
		}
	}
	return s, nil
}

// DeadJobs returns up to limit dead-lettered jobs, the most recently queued
// first.
func (db *DB) DeadJobs(ctx context.Context, limit int) ([]queue.Job, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list dead jobs: limit %d is not positive", limit)
	}
	var rows []jobRow
	err := db.x.SelectContext(ctx, &rows, db.x.Rebind(`SELECT `+jobColumns+` FROM queue_jobs
		WHERE state = 'dead' ORDER BY id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("list dead jobs: %w", err)
	}
	jobs := make([]queue.Job, len(rows))
	for i, row := range rows {
		jobs[i] = row.job()
	}
	return jobs, nil
}

const jobColumns = `id, delivery, event, job_key, payload, attempts, enqueued_at, last_error`

// jobRow is a queue.Job as stored.
type jobRow struct {
	ID         int64  `db:"id"`
	Delivery   string `db:"delivery"`
	Event      string `db:"event"`
	Key        string `db:"job_key"`
	Payload    []byte `db:"payload"`
	Attempts   int    `db:"attempts"`
	EnqueuedAt int64  `db:"enqueued_at"`
	LastError  string `db:"last_error"`
}

func (r jobRow) job() queue.Job {
	return queue.Job{
		ID:         r.ID,
		Delivery:   r.Delivery,
		Event:      r.Event,
		Key:        r.Key,
		Payload:    r.Payload,
		Attempts:   r.Attempts,
		EnqueuedAt: time.UnixMilli(r.EnqueuedAt).UTC(),
		LastError:  r.LastError,
	}
}

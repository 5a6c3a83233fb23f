package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/modelgate/modelgate/internal/audit"
)

// migrations are applied in order, each once; migration i is version i+1.
// Never edit one that has shipped: append a new one. The SQL is common to
// SQLite and PostgreSQL. Audit payloads and times are TEXT, not JSONB or
// timestamps, because the digest covers their exact bytes.
var migrations = [][]string{
	{
		`CREATE TABLE audit_records (
			seq          BIGINT PRIMARY KEY,
			recorded_at  TEXT NOT NULL,
			kind         TEXT NOT NULL,
			repository   TEXT NOT NULL,
			model        TEXT NOT NULL,
			version      TEXT NOT NULL,
			stage        TEXT NOT NULL,
			pull_request BIGINT NOT NULL,
			head_sha     TEXT NOT NULL,
			actor        TEXT NOT NULL,
			payload      TEXT NOT NULL,
			prev_digest  TEXT NOT NULL,
			digest       TEXT NOT NULL
		)`,
		`CREATE INDEX audit_records_model ON audit_records (model, version, stage)`,
		`CREATE TABLE audit_head (
			id     INTEGER PRIMARY KEY CHECK (id = 1),
			seq    BIGINT NOT NULL,
			digest TEXT NOT NULL
		)`,
		`INSERT INTO audit_head (id, seq, digest) VALUES (1, 0, '` + audit.GenesisDigest + `')`,
	},
	// The job queue (queue.go). A job's state is pending, running, done or
	// dead. Its run_at is, while pending, when it may run and, while
	// running, when its lease expires and another worker may take it over:
	// either way the job is runnable once run_at has passed. Times are
	// BIGINT unix milliseconds, which compare the same way on both
	// databases. Rows are kept once done so that delivery ids stay
	// deduplicated; the partial indexes cover only unfinished jobs, so
	// claiming does not slow down as done ones pile up.
	{
		`CREATE TABLE queue_jobs (
			id          BIGINT PRIMARY KEY,
			delivery    TEXT NOT NULL UNIQUE,
			event       TEXT NOT NULL,
			job_key     TEXT NOT NULL,
			payload     BYTEA NOT NULL,
			state       TEXT NOT NULL,
			run_at      BIGINT NOT NULL,
			owner       TEXT NOT NULL,
			attempts    INTEGER NOT NULL,
			enqueued_at BIGINT NOT NULL,
			last_error  TEXT NOT NULL
		)`,
		`CREATE INDEX queue_jobs_active ON queue_jobs (id) WHERE state IN ('pending', 'running')`,
		`CREATE INDEX queue_jobs_active_key ON queue_jobs (job_key, id) WHERE state IN ('pending', 'running')`,
		`CREATE INDEX queue_jobs_state ON queue_jobs (state, id)`,
	},
	// The audit log's Merkle tree: tlog's stored hashes (hex), by stored-hash
	// index, written with each record. The records already there become its
	// first leaves (buildAuditTree); their chain digests stay as they are.
	{
		`CREATE TABLE audit_tree (
			idx  BIGINT PRIMARY KEY,
			hash TEXT NOT NULL
		)`,
	},
	// Single-use tokens (tokens.go): the ids of the tokens used, until
	// they expire (BIGINT unix milliseconds).
	{
		`CREATE TABLE used_tokens (
			jti        TEXT PRIMARY KEY,
			expires_at BIGINT NOT NULL
		)`,
		`CREATE INDEX used_tokens_expires ON used_tokens (expires_at)`,
	},
	// What the reconciler remembers of the repositories its installations
	// can access (watch.go): whether each holds .modelgate/ on its default
	// branch, by repository id, which a rename keeps. watched is 0 or 1;
	// checked_at is BIGINT unix milliseconds.
	{
		`CREATE TABLE watched_repositories (
			repository_id BIGINT PRIMARY KEY,
			full_name     TEXT NOT NULL,
			installation  BIGINT NOT NULL,
			watched       INTEGER NOT NULL,
			checked_at    BIGINT NOT NULL
		)`,
		`CREATE INDEX watched_repositories_installation ON watched_repositories (installation)`,
	},
	// Queued payloads compressed with LZ4 on PostgreSQL (compressQueuePayloads).
	{},
}

// migrationCode runs after the statements of the migration it is keyed by
// (its version), in the same transaction.
var migrationCode = map[int]func(*DB, context.Context, *sqlx.Tx) error{
	3: (*DB).buildAuditTree,
	6: (*DB).compressQueuePayloads,
}

// compressQueuePayloads makes PostgreSQL compress queued payloads with LZ4
// rather than its default, pglz: a webhook payload (tens of KB of JSON) is
// compressed while the enqueue lock is held, and pglz took three times
// LZ4's CPU for it, which all deliveries waited for. Servers built without
// LZ4 (it is a build option, standard since PostgreSQL 14) and SQLite,
// which does not compress, keep what they have; values stored before stay
// as they are, each readable whatever its method.
func (db *DB) compressQueuePayloads(ctx context.Context, tx *sqlx.Tx) error {
	if db.dialect != postgres {
		return nil
	}
	var lz4 bool
	err := tx.GetContext(ctx, &lz4, `SELECT EXISTS (SELECT 1 FROM pg_settings
		WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))`)
	if err != nil {
		return fmt.Errorf("look for LZ4 compression: %w", err)
	}
	if !lz4 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `ALTER TABLE queue_jobs ALTER COLUMN payload SET COMPRESSION lz4`); err != nil {
		return fmt.Errorf("compress queued payloads with LZ4: %w", err)
	}
	return nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT PRIMARY KEY,
	applied_at TEXT NOT NULL
)`

func (db *DB) migrate(ctx context.Context) error {
	for i, statements := range migrations {
		version := i + 1
		err := db.writeTx(ctx, migrationLock, func(tx *sqlx.Tx) error {
			return db.applyMigration(ctx, tx, version, statements)
		})
		if err != nil {
			return fmt.Errorf("apply migration %d: %w", version, err)
		}
	}
	return nil
}

// applyMigration runs statements unless version is already recorded. The
// check happens inside the writer's lock, so concurrent migrators apply each
// version exactly once.
func (db *DB) applyMigration(ctx context.Context, tx *sqlx.Tx, version int, statements []string) error {
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied int
	if err := tx.GetContext(ctx, &applied, tx.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	if applied > 0 {
		return nil
	}
	for _, stmt := range statements {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if code := migrationCode[version]; code != nil {
		if err := code(db, ctx, tx); err != nil {
			return err
		}
	}
	at := db.Now().UTC().Format(time.RFC3339Nano)
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), version, at); err != nil {
		return fmt.Errorf("record migration: %w", err)
	}
	return nil
}

// Package sqlstore implements modelgate's stores on SQL databases: SQLite
// (the pure Go modernc.org/sqlite driver, the default, for a single
// instance) and PostgreSQL (the pgx driver, for several replicas sharing one
// database).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is a modelgate database. Queries are written once with ? placeholders
// and rebound for the dialect.
type DB struct {
	// Now is the clock that stamps appended records. It defaults to
	// time.Now; replace it before first use, not concurrently.
	Now func() time.Time

	x       *sqlx.DB
	dialect dialect
}

// Open connects to the database dsn names and brings its schema up to date.
// A dsn starting with postgres:// or postgresql:// is a PostgreSQL URL;
// anything else is the path of a SQLite file, created if missing.
func Open(ctx context.Context, dsn string) (*DB, error) {
	d, source := parseDSN(dsn)
	x, err := sqlx.Open(d.driver(), source)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", d, err)
	}
	db := &DB{Now: time.Now, x: x, dialect: d}
	if err := db.migrate(ctx); err != nil {
		_ = x.Close()
		return nil, fmt.Errorf("open %s database: %w", d, err)
	}
	return db, nil
}

// ErrNotFound is returned by OpenExisting for a SQLite file that is not there.
var ErrNotFound = errors.New("no such database")

// OpenExisting is Open for readers such as audit verification, which must not
// create an empty database where a mistyped path was meant and report on it.
func OpenExisting(ctx context.Context, dsn string) (*DB, error) {
	if d, _ := parseDSN(dsn); d == sqlite {
		if _, err := os.Stat(dsn); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open SQLite database %s: %w", dsn, ErrNotFound)
		}
	}
	return Open(ctx, dsn)
}

// Redact returns dsn fit for a log: a PostgreSQL URL without its password.
func Redact(dsn string) string {
	if d, _ := parseDSN(dsn); d != postgres {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return u.Redacted()
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.x.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s database: %w", db.dialect, err)
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error {
	if err := db.x.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// sqliteParams make every writing transaction take the write lock at BEGIN
// (_txlock=immediate), so that read-then-write transactions such as Append
// wait for each other instead of failing to upgrade a read lock, and let
// readers proceed alongside the writer (WAL). A writer waits up to 30 s for
// the lock: on a loaded machine a queue's bookkeeping (claim, retry, complete)
// should wait its turn, well inside a job's one-minute lease, not fail.
const sqliteParams = "_txlock=immediate" +
	"&_pragma=busy_timeout(30000)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)"

func parseDSN(dsn string) (dialect, string) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres, dsn
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return sqlite, dsn + sep + sqliteParams
}

// dialect is one of the supported databases. The schema and queries are
// shared; only the points below differ.
type dialect int

const (
	sqlite dialect = iota
	postgres
)

func (d dialect) String() string {
	if d == postgres {
		return "PostgreSQL"
	}
	return "SQLite"
}

func (d dialect) driver() string {
	if d == postgres {
		return "pgx"
	}
	return "sqlite"
}

// Keys of the PostgreSQL advisory locks that serialize writers. They are
// arbitrary but must never change, or replicas of different versions would
// stop excluding each other.
const (
	migrationLock int64 = 0x6d67_6d69_6772 // "mgmigr"
	auditLock     int64 = 0x6d67_6175_6474 // "mgaudt"
)

// serialize makes tx the only writer holding key until it ends. A SQLite
// transaction already holds the database's single write lock from BEGIN
// IMMEDIATE; PostgreSQL has no such lock, so writers share an advisory one.
func (d dialect) serialize(ctx context.Context, tx *sqlx.Tx, key int64) error {
	if d != postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", key); err != nil {
		return fmt.Errorf("take advisory lock: %w", err)
	}
	return nil
}

// writeTx runs fn in a transaction that is the only writer holding key, and
// commits if fn succeeds.
func (db *DB) writeTx(ctx context.Context, key int64, fn func(*sqlx.Tx) error) error {
	tx, err := db.x.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := db.dialect.serialize(ctx, tx, key); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// readTx runs fn in a read-only transaction that sees a single snapshot of
// the database. SQLite transactions always do; PostgreSQL needs repeatable
// read for it.
func (db *DB) readTx(ctx context.Context, fn func(*sqlx.Tx) error) error {
	tx, err := db.x.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/modelgate/modelgate/internal/audit"
)

// Append records e as the next link of the audit chain. Appends from any
// number of goroutines, processes or replicas sharing the database form a
// single chain.
func (db *DB) Append(ctx context.Context, e audit.Entry) (audit.Record, error) {
	e, err := e.Normalize()
	if err != nil {
		return audit.Record{}, fmt.Errorf("append audit record: %w", err)
	}
	var rec audit.Record
	err = db.writeTx(ctx, auditLock, func(tx *sqlx.Tx) error {
		head, err := readHead(ctx, tx)
		if err != nil {
			return err
		}
		rec = head.Next(db.Now(), e)
		if err := insertRecord(ctx, tx, rec); err != nil {
			return err
		}
		return writeHead(ctx, tx, rec.Head())
	})
	if err != nil {
		return audit.Record{}, fmt.Errorf("append audit record: %w", err)
	}
	return rec, nil
}

// Records returns the records f selects, in sequence order.
func (db *DB) Records(ctx context.Context, f audit.Filter) ([]audit.Record, error) {
	where, args := filterClause(f)
	var rows []recordRow
	if err := db.x.SelectContext(ctx, &rows, db.x.Rebind(selectRecords+where+` ORDER BY seq`), args...); err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	records := make([]audit.Record, 0, len(rows))
	for _, row := range rows {
		rec, err := row.record()
		if err != nil {
			return nil, fmt.Errorf("list audit records: %w", err)
		}
		records = append(records, rec)
	}
	return records, nil
}

// HasRecord reports whether any record matches f.
func (db *DB) HasRecord(ctx context.Context, f audit.Filter) (bool, error) {
	where, args := filterClause(f)
	var n int
	if err := db.x.GetContext(ctx, &n, db.x.Rebind(`SELECT COUNT(*) FROM (SELECT 1 FROM audit_records`+where+` LIMIT 1) AS found`), args...); err != nil {
		return false, fmt.Errorf("look up audit records: %w", err)
	}
	return n > 0, nil
}

// Verify checks the whole audit chain and returns how many records were
// intact. Tampering is reported as an *audit.ChainError naming the first bad
// record; any other error means the check could not be completed.
func (db *DB) Verify(ctx context.Context) (int64, error) {
	var checked int64
	err := db.readTx(ctx, func(tx *sqlx.Tx) error {
		// The head is read first, in the same snapshot as the records:
		// the connection cannot run a second query while rows stream.
		head, err := readHead(ctx, tx)
		if err != nil {
			return err
		}
		var v audit.Verifier
		if err := streamRecords(ctx, tx, func(rec audit.Record) error {
			if err := v.Next(rec); err != nil {
				return err
			}
			checked++
			return nil
		}); err != nil {
			return err
		}
		return v.Finish(head)
	})
	if err != nil {
		return checked, fmt.Errorf("verify audit chain: %w", err)
	}
	return checked, nil
}

func streamRecords(ctx context.Context, tx *sqlx.Tx, fn func(audit.Record) error) error {
	rows, err := tx.QueryxContext(ctx, selectRecords+` ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("read audit records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var row recordRow
		if err := rows.StructScan(&row); err != nil {
			return fmt.Errorf("read audit record: %w", err)
		}
		rec, err := row.record()
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read audit records: %w", err)
	}
	return nil
}

func readHead(ctx context.Context, tx *sqlx.Tx) (audit.Head, error) {
	var head audit.Head
	if err := tx.QueryRowxContext(ctx, `SELECT seq, digest FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Digest); err != nil {
		return audit.Head{}, fmt.Errorf("read audit chain head: %w", err)
	}
	return head, nil
}

func writeHead(ctx context.Context, tx *sqlx.Tx, head audit.Head) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE audit_head SET seq = ?, digest = ? WHERE id = 1`), head.Seq, head.Digest); err != nil {
		return fmt.Errorf("update audit chain head: %w", err)
	}
	return nil
}

func insertRecord(ctx context.Context, tx *sqlx.Tx, rec audit.Record) error {
	if _, err := tx.NamedExecContext(ctx, insertRecordSQL, newRecordRow(rec)); err != nil {
		return fmt.Errorf("insert audit record %d: %w", rec.Seq, err)
	}
	return nil
}

const recordColumns = `seq, recorded_at, kind, repository, model, version, stage,
	pull_request, head_sha, actor, payload, prev_digest, digest`

const selectRecords = `SELECT ` + recordColumns + ` FROM audit_records`

const insertRecordSQL = `INSERT INTO audit_records (` + recordColumns + `) VALUES (
	:seq, :recorded_at, :kind, :repository, :model, :version, :stage,
	:pull_request, :head_sha, :actor, :payload, :prev_digest, :digest)`

// filterClause returns the WHERE clause, with ? placeholders, selecting
// the records f matches.
func filterClause(f audit.Filter) (string, []any) {
	conditions := []struct {
		column string
		value  string
	}{
		{"model", f.Model},
		{"version", f.Version},
		{"stage", f.Stage},
		{"repository", f.Repository},
		{"kind", string(f.Kind)},
		{"head_sha", f.HeadSHA},
		{"actor", f.Actor},
	}
	var clauses []string
	var args []any
	for _, c := range conditions {
		if c.value != "" {
			clauses = append(clauses, c.column+` = ?`)
			args = append(args, c.value)
		}
	}
	if f.PullRequest != 0 {
		clauses = append(clauses, `pull_request = ?`)
		args = append(args, f.PullRequest)
	}
	if len(clauses) == 0 {
		return "", nil
	}
	return ` WHERE ` + strings.Join(clauses, ` AND `), args
}

// recordRow is an audit.Record as stored.
type recordRow struct {
	Seq         int64  `db:"seq"`
	RecordedAt  string `db:"recorded_at"`
	Kind        string `db:"kind"`
	Repository  string `db:"repository"`
	Model       string `db:"model"`
	Version     string `db:"version"`
	Stage       string `db:"stage"`
	PullRequest int64  `db:"pull_request"`
	HeadSHA     string `db:"head_sha"`
	Actor       string `db:"actor"`
	Payload     string `db:"payload"`
	PrevDigest  string `db:"prev_digest"`
	Digest      string `db:"digest"`
}

func newRecordRow(r audit.Record) recordRow {
	return recordRow{
		Seq:         r.Seq,
		RecordedAt:  r.RecordedAt.UTC().Format(audit.TimeFormat),
		Kind:        string(r.Kind),
		Repository:  r.Repository,
		Model:       r.Model,
		Version:     r.Version,
		Stage:       r.Stage,
		PullRequest: int64(r.PullRequest),
		HeadSHA:     r.HeadSHA,
		Actor:       r.Actor,
		Payload:     string(r.Payload),
		PrevDigest:  r.PrevDigest,
		Digest:      r.Digest,
	}
}

// record converts a stored row back. A time that does not parse can only
// come from editing the table, so it is reported as tampering.
func (row recordRow) record() (audit.Record, error) {
	at, err := time.Parse(audit.TimeFormat, row.RecordedAt)
	if err != nil {
		return audit.Record{}, &audit.ChainError{Seq: row.Seq, Reason: fmt.Sprintf("recorded_at %q is not a valid time (record edited)", row.RecordedAt)}
	}
	return audit.Record{
		Seq:        row.Seq,
		RecordedAt: at,
		Entry: audit.Entry{
			Kind:        audit.Kind(row.Kind),
			Repository:  row.Repository,
			Model:       row.Model,
			Version:     row.Version,
			Stage:       row.Stage,
			PullRequest: int(row.PullRequest),
			HeadSHA:     row.HeadSHA,
			Actor:       row.Actor,
			Payload:     []byte(row.Payload),
		},
		PrevDigest: row.PrevDigest,
		Digest:     row.Digest,
	}, nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

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
		hashes, err := tlog.StoredHashes(head.Seq, rec.TreeLeaf(), storedHashes{ctx, tx})
		if err != nil {
			return fmt.Errorf("audit tree: %w", err)
		}
		if err := insertHashes(ctx, tx, tlog.StoredHashIndex(0, head.Seq), hashes); err != nil {
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
	checked, _, err := db.VerifyTree(ctx)
	return checked, err
}

// VerifyTree is Verify that also checks that the log is a consistent
// extension of each checkpoint and that the Merkle tree stored beside the
// records is theirs. It returns the tree head the records make, rebuilt from
// the records alone.
func (db *DB) VerifyTree(ctx context.Context, checkpoints ...audit.TreeHead) (int64, audit.TreeHead, error) {
	var checked int64
	var tree audit.TreeHead
	err := db.readTx(ctx, func(tx *sqlx.Tx) error {
		// The head is read first, in the same snapshot as the records: the
		// connection cannot run a second query while rows stream.
		head, err := db.readAuditHead(ctx, tx)
		if err != nil {
			return err
		}
		v := audit.NewVerifier(checkpoints...)
		var broken error
		if err := streamRecords(ctx, tx, func(rec audit.Record) error {
			if broken = v.Next(rec); broken != nil {
				return broken
			}
			checked++
			return nil
		}); err != nil {
			if err != broken {
				return err
			}
			// The rows are closed now, so the stored tree can be read.
			return v.Narrow(storedHashes{ctx, tx})
		}
		if err := v.Finish(head); err != nil {
			return err
		}
		if err := compareStoredTree(ctx, tx, v.Tree()); err != nil {
			return err
		}
		tree, err = v.Tree().Head()
		return err
	})
	if err != nil {
		return checked, audit.TreeHead{}, fmt.Errorf("verify audit log: %w", err)
	}
	return checked, tree, nil
}

// TreeHead returns the log's current tree head from the stored tree, for
// a checkpoint. It costs a few reads however long the log is; VerifyTree is
// what rebuilds the tree from the records.
func (db *DB) TreeHead(ctx context.Context) (audit.TreeHead, error) {
	var th audit.TreeHead
	err := db.readTx(ctx, func(tx *sqlx.Tx) error {
		head, err := readHead(ctx, tx)
		if err != nil {
			return err
		}
		th.Size = head.Seq
		th.Hash, err = tlog.TreeHash(head.Seq, storedHashes{ctx, tx})
		return err
	})
	if err != nil {
		return audit.TreeHead{}, fmt.Errorf("read audit tree head: %w", err)
	}
	return th, nil
}

// compareStoredTree checks that the tree stored beside the records, which
// checkpoints and proofs are made from, is the one the records make.
func compareStoredTree(ctx context.Context, tx *sqlx.Tx, tree *audit.Tree) error {
	rows, err := tx.QueryxContext(ctx, `SELECT idx, hash FROM audit_tree ORDER BY idx`)
	if err != nil {
		return fmt.Errorf("read audit tree: %w", err)
	}
	defer rows.Close()
	want := tlog.StoredHashCount(tree.Size())
	var idx int64
	for ; rows.Next(); idx++ {
		var row struct {
			Idx  int64  `db:"idx"`
			Hash string `db:"hash"`
		}
		if err := rows.StructScan(&row); err != nil {
			return fmt.Errorf("read audit tree: %w", err)
		}
		if row.Idx != idx || idx >= want {
			return treeError(min(idx, want), "is missing or beyond the log (tree hashes deleted or inserted)")
		}
		built, err := tree.ReadHashes([]int64{idx})
		if err != nil {
			return err
		}
		if row.Hash != hex.EncodeToString(built[0][:]) {
			return treeError(idx, "does not match the records (the records or the stored tree were rewritten)")
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read audit tree: %w", err)
	}
	if idx != want {
		return treeError(idx, "is missing (tree hashes deleted)")
	}
	return nil
}

// treeError names a stored tree hash and the records it covers.
func treeError(idx int64, what string) error {
	level, n := tlog.SplitStoredHashIndex(idx)
	first, last := n<<level+1, (n+1)<<level
	if last == first {
		last = 0
	}
	return &audit.ChainError{Seq: first, Through: last, Reason: fmt.Sprintf("stored tree hash %d %s", idx, what)}
}

// auditTables are the tables whose loss is tampering, not a missing
// database.
var auditTables = []string{"audit_records", "audit_head", "audit_tree"}

func (db *DB) requireAuditTables(ctx context.Context, tx *sqlx.Tx) error {
	query := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if db.dialect == postgres {
		query = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	}
	for _, table := range auditTables {
		var n int
		if err := tx.GetContext(ctx, &n, tx.Rebind(query), table); err != nil {
			return fmt.Errorf("look up table %s: %w", table, err)
		}
		if n == 0 {
			return &audit.ChainError{Reason: fmt.Sprintf("table %s is missing (dropped)", table)}
		}
	}
	return nil
}

// readAuditHead reads the chain head of a log that is to be read whole,
// reporting a missing table or head row as the tampering it is.
func (db *DB) readAuditHead(ctx context.Context, tx *sqlx.Tx) (audit.Head, error) {
	if err := db.requireAuditTables(ctx, tx); err != nil {
		return audit.Head{}, err
	}
	head, err := readHead(ctx, tx)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Head{}, &audit.ChainError{Reason: "the chain head row is missing (deleted)"}
	}
	return head, err
}

// buildAuditTree makes the records already in the log the first leaves of
// the tree, under the audit lock so that no append interleaves.
func (db *DB) buildAuditTree(ctx context.Context, tx *sqlx.Tx) error {
	if err := db.dialect.serialize(ctx, tx, auditLock); err != nil {
		return err
	}
	var tree audit.Tree
	var hashes []tlog.Hash
	// A log that was tampered with before it had a tree still migrates, so
	// that verification can name the record as it did: a record whose time
	// does not parse becomes a leaf with the zero time, and the tree stops
	// at a gap in the sequence, which verification reports first.
	errGap := errors.New("gap in the sequence")
	err := scanRecords(ctx, tx, "", nil, func(rec audit.Record, _ error) error {
		if rec.Seq != tree.Size()+1 {
			return errGap
		}
		added, err := tree.Append(rec)
		hashes = append(hashes, added...)
		return err
	})
	if err != nil && !errors.Is(err, errGap) {
		return fmt.Errorf("build audit tree: %w", err)
	}
	return insertHashes(ctx, tx, 0, hashes)
}

// storedHashes reads the stored tree through a transaction.
type storedHashes struct {
	ctx context.Context
	tx  *sqlx.Tx
}

func (s storedHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	query, args, err := sqlx.In(`SELECT idx, hash FROM audit_tree WHERE idx IN (?)`, indexes)
	if err != nil {
		return nil, fmt.Errorf("read audit tree: %w", err)
	}
	var rows []struct {
		Idx  int64  `db:"idx"`
		Hash string `db:"hash"`
	}
	if err := s.tx.SelectContext(s.ctx, &rows, s.tx.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("read audit tree: %w", err)
	}
	found := make(map[int64]tlog.Hash, len(rows))
	for _, row := range rows {
		var h tlog.Hash
		b, err := hex.DecodeString(row.Hash)
		if err != nil || len(b) != len(h) {
			return nil, fmt.Errorf("audit tree hash %d is not %d bytes of hex: %q", row.Idx, len(h), row.Hash)
		}
		copy(h[:], b)
		found[row.Idx] = h
	}
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		h, ok := found[idx]
		if !ok {
			return nil, fmt.Errorf("audit tree hash %d is missing", idx)
		}
		out[i] = h
	}
	return out, nil
}

// insertHashes stores hashes from stored-hash index first on, a few hundred
// rows a statement, so that an append costs one round trip for them.
func insertHashes(ctx context.Context, tx *sqlx.Tx, first int64, hashes []tlog.Hash) error {
	const rows = 500
	for from := 0; from < len(hashes); from += rows {
		batch := hashes[from:min(from+rows, len(hashes))]
		args := make([]any, 0, 2*len(batch))
		for i, h := range batch {
			args = append(args, first+int64(from+i), hex.EncodeToString(h[:]))
		}
		query := `INSERT INTO audit_tree (idx, hash) VALUES (?, ?)` + strings.Repeat(`, (?, ?)`, len(batch)-1)
		if _, err := tx.ExecContext(ctx, tx.Rebind(query), args...); err != nil {
			return fmt.Errorf("insert audit tree hashes %d to %d: %w", first+int64(from), first+int64(from+len(batch)-1), err)
		}
	}
	return nil
}

func streamRecords(ctx context.Context, tx *sqlx.Tx, fn func(audit.Record) error) error {
	return scanRecords(ctx, tx, "", nil, func(rec audit.Record, err error) error {
		if err != nil {
			return err
		}
		return fn(rec)
	})
}

// scanRecords calls fn with every record the WHERE clause where (with ?
// placeholders; empty for all) selects, in sequence order, and with the
// error of a row that does not convert (and the record as far as it does).
func scanRecords(ctx context.Context, tx *sqlx.Tx, where string, args []any, fn func(audit.Record, error) error) error {
	rows, err := tx.QueryxContext(ctx, tx.Rebind(selectRecords+where+` ORDER BY seq`), args...)
	if err != nil {
		return fmt.Errorf("read audit records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var row recordRow
		if err := rows.StructScan(&row); err != nil {
			return fmt.Errorf("read audit record: %w", err)
		}
		if err := fn(row.record()); err != nil {
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
// come from editing the table, so it is reported as tampering, with the
// record as it reads with the zero time.
func (row recordRow) record() (audit.Record, error) {
	at, err := time.Parse(audit.TimeFormat, row.RecordedAt)
	if err != nil {
		err = &audit.ChainError{Seq: row.Seq, Reason: fmt.Sprintf("recorded_at %q is not a valid time (record edited)", row.RecordedAt)}
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
	}, err
}

package sqlstoretest

import (
	"database/sql"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/modelgate/modelgate/internal/audit"
)

// Forge replaces the whole audit log of the database at dsn with records,
// as someone who can write the database would, and who knows how modelgate
// stores it: each record chained to the one before, the chain head on the
// last, and the stored Merkle tree rebuilt over them. Only the entries and
// times of records are kept; sequence numbers and digests are recomputed.
func Forge(t testing.TB, dsn string, records []audit.Record) {
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
	exec := func(query string, args ...any) {
		t.Helper()
		if driver == "pgx" {
			query = numberPlaceholders(query)
		}
		if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	exec(`DELETE FROM audit_records`)
	exec(`DELETE FROM audit_tree`)
	head := audit.Head{Digest: audit.GenesisDigest}
	var tree audit.Tree
	for _, r := range records {
		r := head.Next(r.RecordedAt, r.Entry)
		exec(`INSERT INTO audit_records (seq, recorded_at, kind, repository, model, version, stage,
			pull_request, head_sha, actor, payload, prev_digest, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Seq, r.RecordedAt.Format(audit.TimeFormat), string(r.Kind), r.Repository, r.Model, r.Version, r.Stage,
			r.PullRequest, r.HeadSHA, r.Actor, string(r.Payload), r.PrevDigest, r.Digest)
		hashes, err := tree.Append(r)
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range hashes {
			exec(`INSERT INTO audit_tree (idx, hash) VALUES (?, ?)`, tlog.StoredHashIndex(0, r.Seq-1)+int64(i), hex.EncodeToString(h[:]))
		}
		head = r.Head()
	}
	exec(`UPDATE audit_head SET seq = ?, digest = ? WHERE id = 1`, head.Seq, head.Digest)
}

// numberPlaceholders writes PostgreSQL's $1, $2, … for the ? of a query that
// holds no other question mark.
func numberPlaceholders(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

package sqlstore

import (
	"cmp"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// checkpointsAt returns the tree head after each of appended's records, as
// the App publishes one after every decision.
func checkpointsAt(t *testing.T, records []audit.Record) []audit.TreeHead {
	t.Helper()
	var tree audit.Tree
	var heads []audit.TreeHead
	for _, r := range records {
		if _, err := tree.Append(r); err != nil {
			t.Fatal(err)
		}
		th, err := tree.Head()
		if err != nil {
			t.Fatal(err)
		}
		heads = append(heads, th)
	}
	return heads
}

// chainOnly is the check audit verify made before the tree: every record
// chained to the one before and the head naming the last.
func chainOnly(t *testing.T, db *DB) error {
	t.Helper()
	records, err := db.Records(t.Context(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var head audit.Head
	if err := db.x.QueryRowxContext(t.Context(), `SELECT seq, digest FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Digest); err != nil {
		t.Fatal(err)
	}
	var v audit.Verifier
	for _, r := range records {
		if err := v.Next(r); err != nil {
			return err
		}
	}
	return v.Finish(head)
}

func TestCheckpointsDetectRewrittenHistory(t *testing.T) {
	tests := []struct {
		name string
		// rewrite returns the forged log, given the genuine one.
		rewrite     func(t *testing.T, db *DB, dsn string, records []audit.Record)
		checkpoints func(all []audit.TreeHead) []audit.TreeHead
		wantSeq     int64
		wantThrough int64
		wantReason  string
		// withoutCheckpoints is what Verify says without checkpoints;
		// empty for intact.
		withoutCheckpoints string
	}{
		{
			name: "record edited, chain and head recomputed forward, every checkpoint kept",
			rewrite: func(t *testing.T, db *DB, dsn string, records []audit.Record) {
				records[2].Actor = "mallory"
				sqlstoretest.Forge(t, dsn, records)
			},
			checkpoints: func(all []audit.TreeHead) []audit.TreeHead { return all },
			wantSeq:     3,
			wantReason:  "differs from the checkpoint of size 3: history rewritten from this record on (records 1 to 2 match the checkpoint of size 2)",
		},
		{
			name: "record edited, chain and head recomputed forward, only the last checkpoint kept",
			rewrite: func(t *testing.T, db *DB, dsn string, records []audit.Record) {
				records[2].Actor = "mallory"
				sqlstoretest.Forge(t, dsn, records)
			},
			checkpoints: func(all []audit.TreeHead) []audit.TreeHead { return all[5:] },
			wantSeq:     1,
			wantThrough: 6,
			wantReason:  "do not match the checkpoint of size 6: history rewritten from one of these records on (no earlier checkpoint narrows it down)",
		},
		{
			name: "record edited, chain and head recomputed forward, stored tree left as it was, only the last checkpoint kept",
			rewrite: func(t *testing.T, db *DB, dsn string, records []audit.Record) {
				var tree []struct {
					Idx  int64  `db:"idx"`
					Hash string `db:"hash"`
				}
				if err := db.x.SelectContext(t.Context(), &tree, `SELECT idx, hash FROM audit_tree`); err != nil {
					t.Fatal(err)
				}
				records[2].Actor = "mallory"
				sqlstoretest.Forge(t, dsn, records)
				execRaw(t, db, `DELETE FROM audit_tree`)
				for _, h := range tree {
					execRaw(t, db, `INSERT INTO audit_tree (idx, hash) VALUES (?, ?)`, h.Idx, h.Hash)
				}
			},
			checkpoints:        func(all []audit.TreeHead) []audit.TreeHead { return all[5:] },
			wantSeq:            3,
			wantReason:         "differs from the checkpoint of size 6: the tree stored beside the log still has the checkpoint's hash, and its leaf for this record is another record (history rewritten from this record on)",
			withoutCheckpoints: "audit record 3: stored tree hash 3 does not match the records (the records or the stored tree were rewritten)",
		},
		{
			name: "tail deleted and the head moved back",
			rewrite: func(t *testing.T, db *DB, dsn string, records []audit.Record) {
				sqlstoretest.Forge(t, dsn, records[:4])
			},
			checkpoints: func(all []audit.TreeHead) []audit.TreeHead { return all[5:] },
			wantSeq:     5,
			wantThrough: 6,
			wantReason:  "missing (the checkpoint of size 6 has 6 records, the log only 4: tail cut and the chain head moved back)",
		},
		{
			name: "older copy restored and a different history appended",
			rewrite: func(t *testing.T, db *DB, dsn string, records []audit.Record) {
				sqlstoretest.Forge(t, dsn, records[:4])
				appendAll(t, db, []audit.Entry{
					{Kind: audit.KindDecision, Repository: "acme/models", Model: "churn", Version: "6.6.6", Stage: "production", Actor: "mallory"},
					{Kind: audit.KindMerge, Repository: "acme/models", Model: "churn", Version: "6.6.6", Stage: "production", Actor: "mallory"},
				})
			},
			checkpoints: func(all []audit.TreeHead) []audit.TreeHead { return []audit.TreeHead{all[1], all[3], all[5]} },
			wantSeq:     5,
			wantThrough: 6,
			wantReason:  "do not match the checkpoint of size 6: history rewritten from one of these records on (records 1 to 4 match the checkpoint of size 4)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, dsn string) {
				db := openDB(t, dsn)
				records := appendAll(t, db, sampleEntries())
				all := checkpointsAt(t, records)
				cps := tt.checkpoints(all)
				if _, _, err := db.VerifyTree(t.Context(), cps...); err != nil {
					t.Fatalf("VerifyTree before the rewrite: %v", err)
				}

				tt.rewrite(t, db, dsn, records)

				if err := chainOnly(t, db); err != nil {
					t.Fatalf("the chain alone should not see this rewrite, but says %v", err)
				}
				if _, err := db.Verify(t.Context()); tt.withoutCheckpoints == "" && err != nil ||
					tt.withoutCheckpoints != "" && (err == nil || !strings.HasSuffix(err.Error(), tt.withoutCheckpoints)) {
					t.Fatalf("Verify without checkpoints = %v; want %q", err, cmp.Or(tt.withoutCheckpoints, "intact"))
				}
				_, _, err := db.VerifyTree(t.Context(), cps...)
				var chainErr *audit.ChainError
				if !errors.As(err, &chainErr) {
					t.Fatalf("VerifyTree error = %v, want an *audit.ChainError", err)
				}
				if chainErr.Seq != tt.wantSeq || chainErr.Through != tt.wantThrough || chainErr.Reason != tt.wantReason {
					t.Errorf("VerifyTree error = %v\nwant records %d to %d: %s", err, tt.wantSeq, tt.wantThrough, tt.wantReason)
				}
			})
		})
	}
}

func TestVerifyCallsAMissingPartTampering(t *testing.T) {
	tests := []struct {
		name, sql, want string
	}{
		{"head row deleted", `DELETE FROM audit_head`, "audit log: the chain head row is missing (deleted)"},
		{"records table dropped", `DROP TABLE audit_records`, "audit log: table audit_records is missing (dropped)"},
		{"head table dropped", `DROP TABLE audit_head`, "audit log: table audit_head is missing (dropped)"},
		{"tree table dropped", `DROP TABLE audit_tree`, "audit log: table audit_tree is missing (dropped)"},
		{"tree hash deleted", `DELETE FROM audit_tree WHERE idx = 0`, "audit record 1: stored tree hash 0 is missing or beyond the log (tree hashes deleted or inserted)"},
		{"tree hash edited", `UPDATE audit_tree SET hash = '` + strings.Repeat("ab", 32) + `' WHERE idx = 0`, "audit record 1: stored tree hash 0 does not match the records (the records or the stored tree were rewritten)"},
		{"tree hash over several records edited", `UPDATE audit_tree SET hash = '` + strings.Repeat("ab", 32) + `' WHERE idx = 6`, "audit records 1 to 4: stored tree hash 6 does not match the records (the records or the stored tree were rewritten)"},
		{"tree hash appended", `INSERT INTO audit_tree (idx, hash) VALUES (10, 'ab')`, "audit record 7: stored tree hash 10 is missing or beyond the log (tree hashes deleted or inserted)"},
		{"last tree hash deleted", `DELETE FROM audit_tree WHERE idx = 9`, "audit records 5 to 6: stored tree hash 9 is missing (tree hashes deleted)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, dsn string) {
				db := openDB(t, dsn)
				appendAll(t, db, sampleEntries())
				execRaw(t, db, tt.sql)
				_, err := db.Verify(t.Context())
				var chainErr *audit.ChainError
				if !errors.As(err, &chainErr) || chainErr.Error() != tt.want {
					t.Errorf("Verify error = %v; want the *audit.ChainError %q", err, tt.want)
				}
			})
		})
	}
}

func TestMigrationBuildsTheTreeOverAnExistingChain(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		appended := appendAll(t, db, sampleEntries())
		// The store as the schema before the tree left it.
		execRaw(t, db, `DROP TABLE audit_tree`)
		execRaw(t, db, `DELETE FROM schema_migrations WHERE version = 3`)

		migrated := openDB(t, dsn)
		records, err := migrated.Records(t.Context(), audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(records, appended) {
			t.Errorf("records changed in the migration:\n%+v\nwant\n%+v", records, appended)
		}
		heads := checkpointsAt(t, appended)
		n, th, err := migrated.VerifyTree(t.Context(), heads...)
		if err != nil || n != int64(len(appended)) || th != heads[len(heads)-1] {
			t.Errorf("VerifyTree after migrating = %d, %+v, %v; want %d, %+v, nil", n, th, err, len(appended), heads[len(heads)-1])
		}
		if stored, err := migrated.TreeHead(t.Context()); err != nil || stored != th {
			t.Errorf("TreeHead = %+v, %v; want %+v", stored, err, th)
		}

		next := appendAll(t, migrated, sampleEntries()[:1])
		want := checkpointsAt(t, append(appended, next...))
		if n, th, err := migrated.VerifyTree(t.Context(), want...); err != nil || th != want[len(want)-1] {
			t.Errorf("VerifyTree after appending to the migrated log = %d, %+v, %v; want %+v", n, th, err, want[len(want)-1])
		}
	})
}

func TestMigrationKeepsAnEditedLogDetectable(t *testing.T) {
	tests := []struct {
		name, tamper, want string
	}{
		{"time edited", `UPDATE audit_records SET recorded_at = 'yesterday' WHERE seq = 2`, `audit record 2: recorded_at "yesterday" is not a valid time (record edited)`},
		{"record deleted", `DELETE FROM audit_records WHERE seq = 2`, "audit record 2: missing (expected seq 2, found 3: record deleted)"},
		{"first record deleted", `DELETE FROM audit_records WHERE seq = 1`, "audit record 1: missing (expected seq 1, found 2: record deleted)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, dsn string) {
				db := openDB(t, dsn)
				appendAll(t, db, sampleEntries())
				execRaw(t, db, `DROP TABLE audit_tree`)
				execRaw(t, db, `DELETE FROM schema_migrations WHERE version = 3`)
				execRaw(t, db, tt.tamper)

				_, err := openDB(t, dsn).Verify(t.Context())
				var chainErr *audit.ChainError
				if !errors.As(err, &chainErr) || chainErr.Error() != tt.want {
					t.Errorf("Verify after migrating an edited log = %v; want %q", err, tt.want)
				}
			})
		})
	}
}

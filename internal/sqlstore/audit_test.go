package sqlstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
)

// steppingClock returns a clock that starts at a time with nanoseconds, so
// that truncation to microseconds is exercised, and advances on every call.
func steppingClock() func() time.Time {
	var mu sync.Mutex
	now := time.Date(2025, 3, 1, 13, 0, 0, 123456789, time.FixedZone("CET", 60*60))
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(1500 * time.Millisecond)
		return now
	}
}

func sampleEntries() []audit.Entry {
	return []audit.Entry{
		{Kind: audit.KindDecision, Repository: "acme/models", Model: "churn", Version: "1.0.0", Stage: "staging", PullRequest: 7, HeadSHA: "aaa111", Actor: "alice", Payload: json.RawMessage(`{ "allow": true,  "z": 1, "a": [1, 2] }`)},
		{Kind: audit.KindApproval, Repository: "acme/models", Model: "churn", Version: "1.0.0", Stage: "staging", PullRequest: 7, HeadSHA: "aaa111", Actor: "bob"},
		{Kind: audit.KindMerge, Repository: "acme/models", Model: "churn", Version: "1.0.0", Stage: "staging", PullRequest: 7, HeadSHA: "aaa111", Actor: "modelgate[bot]", Payload: json.RawMessage(`{"note":"ünïcødé \u00e9 \"quoted\""}`)},
		{Kind: audit.KindDeployment, Repository: "acme/models", Model: "churn", Version: "1.0.0", Stage: "production", Actor: "deployer", Payload: json.RawMessage(`{"replaced":"0.9.0"}`)},
		{Kind: audit.KindDecision, Repository: "acme/other", Model: "fraud", Version: "2.1.0", Stage: "production", PullRequest: 12, HeadSHA: "bbb222", Actor: "carol"},
		{Kind: audit.KindRollback, Repository: "acme/models", Model: "churn", Version: "0.9.0", Stage: "production", Actor: "deployer"},
	}
}

// appendAll appends entries in order and returns the records Append made.
func appendAll(t *testing.T, db *DB, entries []audit.Entry) []audit.Record {
	t.Helper()
	records := make([]audit.Record, 0, len(entries))
	for _, e := range entries {
		rec, err := db.Append(t.Context(), e)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		records = append(records, rec)
	}
	return records
}

func TestAppendAndList(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		db.Now = steppingClock()
		appended := appendAll(t, db, sampleEntries())

		first := appended[0]
		if want := time.Date(2025, 3, 1, 12, 0, 1, 623456000, time.UTC); first.RecordedAt != want {
			t.Errorf("RecordedAt = %v, want %v", first.RecordedAt, want)
		}
		if want := `{"allow":true,"z":1,"a":[1,2]}`; string(first.Payload) != want {
			t.Errorf("payload = %s, want %s", first.Payload, want)
		}
		if string(appended[1].Payload) != `{}` {
			t.Errorf("empty payload stored as %s, want {}", appended[1].Payload)
		}
		prev := audit.GenesisDigest
		for i, rec := range appended {
			if rec.Seq != int64(i+1) || rec.PrevDigest != prev || rec.Digest != rec.ComputeDigest() {
				t.Errorf("record %d is not chained: %+v", i+1, rec)
			}
			prev = rec.Digest
		}

		listed, err := db.Records(t.Context(), audit.Filter{})
		if err != nil {
			t.Fatalf("Records: %v", err)
		}
		if !reflect.DeepEqual(listed, appended) {
			t.Errorf("Records() =\n%+v\nwant\n%+v", listed, appended)
		}
	})
}

func TestRecordsFilter(t *testing.T) {
	tests := []struct {
		filter audit.Filter
		want   []int64
	}{
		{audit.Filter{}, []int64{1, 2, 3, 4, 5, 6}},
		{audit.Filter{Model: "churn"}, []int64{1, 2, 3, 4, 6}},
		{audit.Filter{Model: "churn", Version: "1.0.0"}, []int64{1, 2, 3, 4}},
		{audit.Filter{Model: "churn", Version: "1.0.0", Stage: "production"}, []int64{4}},
		{audit.Filter{Stage: "production"}, []int64{4, 5, 6}},
		{audit.Filter{Repository: "acme/other"}, []int64{5}},
		{audit.Filter{Kind: audit.KindDecision}, []int64{1, 5}},
		{audit.Filter{Model: "churn", Kind: audit.KindDecision}, []int64{1}},
		{audit.Filter{Model: "absent"}, nil},
		{audit.Filter{Repository: "acme/models", PullRequest: 7}, []int64{1, 2, 3}},
		{audit.Filter{Repository: "acme/models", PullRequest: 7, HeadSHA: "aaa111", Actor: "bob"}, []int64{2}},
		{audit.Filter{PullRequest: 7, HeadSHA: "bbb222"}, nil},
		{audit.Filter{Kind: audit.KindDecision, PullRequest: 12, HeadSHA: "bbb222"}, []int64{5}},
	}
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		appendAll(t, db, sampleEntries())
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%+v", tt.filter), func(t *testing.T) {
				records, err := db.Records(t.Context(), tt.filter)
				if err != nil {
					t.Fatalf("Records: %v", err)
				}
				if got := seqs(records); !slices.Equal(got, tt.want) {
					t.Errorf("Records(%+v) seqs = %v, want %v", tt.filter, got, tt.want)
				}
				has, err := db.HasRecord(t.Context(), tt.filter)
				if err != nil || has != (len(tt.want) > 0) {
					t.Errorf("HasRecord(%+v) = %v, %v; want %v", tt.filter, has, err, len(tt.want) > 0)
				}
			})
		}
	})
}

func TestModels(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		models, err := db.Models(t.Context())
		if err != nil || len(models) != 0 {
			t.Fatalf("Models of an empty log = %v, %v; want none", models, err)
		}
		appendAll(t, db, append(sampleEntries(),
			audit.Entry{Kind: audit.KindDecision, Repository: "acme/models", Actor: "ci", Model: "anomaly", Version: "0.1.0", Stage: "dev"},
			audit.Entry{Kind: audit.KindPush, Repository: "acme/models", Actor: "ci", PullRequest: 9, HeadSHA: "ccc333"}))
		models, err = db.Models(t.Context())
		if want := []string{"anomaly", "churn", "fraud"}; err != nil || !slices.Equal(models, want) {
			t.Errorf("Models() = %v, %v; want %v", models, err, want)
		}
	})
}

func seqs(records []audit.Record) []int64 {
	var out []int64
	for _, r := range records {
		out = append(out, r.Seq)
	}
	return out
}

func TestConcurrentAppendsFormOneChain(t *testing.T) {
	const writers, perWriter = 8, 25
	eachBackend(t, func(t *testing.T, dsn string) {
		handles := []*DB{openDB(t, dsn), openDB(t, dsn)}
		var wg sync.WaitGroup
		errs := make(chan error, writers*perWriter)
		for w := range writers {
			db := handles[w%len(handles)]
			wg.Go(func() {
				for i := range perWriter {
					entry := audit.Entry{Kind: audit.KindGate, Actor: fmt.Sprintf("writer%d", w), PullRequest: i}
					if _, err := db.Append(t.Context(), entry); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Append: %v", err)
		}

		n, err := handles[0].Verify(t.Context())
		if err != nil || n != writers*perWriter {
			t.Fatalf("Verify = %d, %v; want %d, nil", n, err, writers*perWriter)
		}
		records, err := handles[1].Records(t.Context(), audit.Filter{})
		if err != nil {
			t.Fatalf("Records: %v", err)
		}
		for i, r := range records {
			if r.Seq != int64(i+1) {
				t.Fatalf("record %d has seq %d", i+1, r.Seq)
			}
		}
		if len(records) != writers*perWriter {
			t.Errorf("got %d records, want %d", len(records), writers*perWriter)
		}
	})
}

func TestVerifyEmptyChain(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		if n, err := db.Verify(t.Context()); err != nil || n != 0 {
			t.Errorf("Verify = %d, %v; want 0, nil", n, err)
		}
	})
}

// rewrite overwrites every column of record seq except seq itself with rec.
func rewrite(t *testing.T, db *DB, seq int64, rec audit.Record) {
	t.Helper()
	row := newRecordRow(rec)
	execRaw(t, db, `UPDATE audit_records SET recorded_at = ?, kind = ?, repository = ?, model = ?,
		version = ?, stage = ?, pull_request = ?, head_sha = ?, actor = ?, payload = ?,
		prev_digest = ?, digest = ? WHERE seq = ?`,
		row.RecordedAt, row.Kind, row.Repository, row.Model, row.Version, row.Stage, row.PullRequest,
		row.HeadSHA, row.Actor, row.Payload, row.PrevDigest, row.Digest, seq)
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name       string
		tamper     func(t *testing.T, db *DB, records []audit.Record)
		wantSeq    int64
		wantReason string
	}{
		{
			name: "payload edited",
			tamper: func(t *testing.T, db *DB, _ []audit.Record) {
				execRaw(t, db, `UPDATE audit_records SET payload = ? WHERE seq = 3`, `{"note":"nothing to see"}`)
			},
			wantSeq:    3,
			wantReason: "digest mismatch (record edited)",
		},
		{
			name: "actor edited",
			tamper: func(t *testing.T, db *DB, _ []audit.Record) {
				execRaw(t, db, `UPDATE audit_records SET actor = 'mallory' WHERE seq = 2`)
			},
			wantSeq:    2,
			wantReason: "digest mismatch (record edited)",
		},
		{
			name: "time edited",
			tamper: func(t *testing.T, db *DB, _ []audit.Record) {
				execRaw(t, db, `UPDATE audit_records SET recorded_at = 'yesterday' WHERE seq = 4`)
			},
			wantSeq:    4,
			wantReason: "not a valid time (record edited)",
		},
		{
			name: "middle record deleted",
			tamper: func(t *testing.T, db *DB, _ []audit.Record) {
				execRaw(t, db, `DELETE FROM audit_records WHERE seq = 4`)
			},
			wantSeq:    4,
			wantReason: "missing (expected seq 4, found 5: record deleted)",
		},
		{
			name: "last record deleted",
			tamper: func(t *testing.T, db *DB, _ []audit.Record) {
				execRaw(t, db, `DELETE FROM audit_records WHERE seq = 6`)
			},
			wantSeq:    6,
			wantReason: "missing (chain head says seq 6 but last record is 5: tail deleted)",
		},
		{
			name: "records swapped",
			tamper: func(t *testing.T, db *DB, records []audit.Record) {
				rewrite(t, db, 2, records[3])
				rewrite(t, db, 4, records[1])
			},
			wantSeq:    2,
			wantReason: "previous digest does not match record 1 (records reordered or deleted)",
		},
		{
			name: "edited with recomputed digest",
			tamper: func(t *testing.T, db *DB, records []audit.Record) {
				forged := records[2]
				forged.Actor = "mallory"
				forged.Digest = forged.ComputeDigest()
				rewrite(t, db, 3, forged)
			},
			wantSeq:    4,
			wantReason: "previous digest does not match record 3 (records reordered or deleted)",
		},
		{
			name: "record appended behind the head's back",
			tamper: func(t *testing.T, db *DB, records []audit.Record) {
				forged := records[5].Head().Next(time.Now(), audit.Entry{Kind: audit.KindMerge, Payload: []byte(`{}`)})
				row := newRecordRow(forged)
				if _, err := db.x.NamedExecContext(t.Context(), insertRecordSQL, row); err != nil {
					t.Fatalf("insert forged record: %v", err)
				}
			},
			wantSeq:    7,
			wantReason: "beyond the chain head (head says seq 6: record inserted)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, dsn string) {
				db := openDB(t, dsn)
				records := appendAll(t, db, sampleEntries())
				if n, err := db.Verify(t.Context()); err != nil || n != int64(len(records)) {
					t.Fatalf("Verify before tampering = %d, %v; want %d, nil", n, err, len(records))
				}

				tt.tamper(t, db, records)

				_, err := db.Verify(t.Context())
				var chainErr *audit.ChainError
				if !errors.As(err, &chainErr) {
					t.Fatalf("Verify error = %v, want an *audit.ChainError", err)
				}
				if chainErr.Seq != tt.wantSeq || !strings.Contains(chainErr.Reason, tt.wantReason) {
					t.Errorf("Verify error = %v; want record %d: %s", err, tt.wantSeq, tt.wantReason)
				}
			})
		})
	}
}

func TestAppendRejectsInvalidEntries(t *testing.T) {
	tests := map[string]audit.Entry{
		"no kind":         {Model: "churn"},
		"array payload":   {Kind: audit.KindGate, Payload: json.RawMessage(`[1,2]`)},
		"string payload":  {Kind: audit.KindGate, Payload: json.RawMessage(`"allow"`)},
		"invalid payload": {Kind: audit.KindGate, Payload: json.RawMessage(`{"allow":`)},
	}
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		for name, entry := range tests {
			t.Run(name, func(t *testing.T) {
				if _, err := db.Append(t.Context(), entry); !errors.Is(err, audit.ErrInvalidEntry) {
					t.Errorf("Append error = %v, want ErrInvalidEntry", err)
				}
			})
		}
		if n, err := db.Verify(t.Context()); err != nil || n != 0 {
			t.Errorf("Verify after rejected appends = %d, %v; want 0, nil", n, err)
		}
	})
}

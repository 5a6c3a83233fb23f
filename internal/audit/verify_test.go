package audit

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// chain returns n valid records and the head that names the last of them.
func chain(n int) ([]Record, Head) {
	head := Head{Digest: GenesisDigest}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	records := make([]Record, 0, n)
	for i := range n {
		r := head.Next(at.Add(time.Duration(i)*time.Minute), Entry{
			Kind:    KindDecision,
			Model:   "churn",
			Actor:   fmt.Sprintf("user%d", i),
			Payload: []byte(`{}`),
		})
		records = append(records, r)
		head = r.Head()
	}
	return records, head
}

func verify(records []Record, head Head) (int, error) {
	var v Verifier
	for i, r := range records {
		if err := v.Next(r); err != nil {
			return i, err
		}
	}
	return len(records), v.Finish(head)
}

func TestVerifierAcceptsIntactChains(t *testing.T) {
	for _, n := range []int{0, 1, 5} {
		records, head := chain(n)
		if _, err := verify(records, head); err != nil {
			t.Errorf("chain of %d: %v", n, err)
		}
	}
}

func TestVerifierNamesFirstBadRecord(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func([]Record, Head) ([]Record, Head)
		wantSeq int64
		wantErr string
	}{
		{
			name: "edited record",
			tamper: func(rs []Record, h Head) ([]Record, Head) {
				rs[2].Actor = "mallory"
				return rs, h
			},
			wantSeq: 3,
			wantErr: "audit record 3: digest mismatch (record edited)",
		},
		{
			name: "edited first record",
			tamper: func(rs []Record, h Head) ([]Record, Head) {
				rs[0].Model = "fraud"
				return rs, h
			},
			wantSeq: 1,
			wantErr: "audit record 1: digest mismatch (record edited)",
		},
		{
			name: "edited record with recomputed digest",
			tamper: func(rs []Record, h Head) ([]Record, Head) {
				rs[2].Actor = "mallory"
				rs[2].Digest = rs[2].ComputeDigest()
				return rs, h
			},
			wantSeq: 4,
			wantErr: "audit record 4: previous digest does not match record 3 (records reordered or deleted)",
		},
		{
			name: "deleted record",
			tamper: func(rs []Record, h Head) ([]Record, Head) {
				return append(rs[:4:4], rs[5:]...), h
			},
			wantSeq: 5,
			wantErr: "audit record 5: missing (expected seq 5, found 6: record deleted)",
		},
		{
			name: "deleted first record",
			tamper: func(rs []Record, h Head) ([]Record, Head) {
				return rs[1:], h
			},
			wantSeq: 1,
			wantErr: "audit record 1: missing (expected seq 1, found 2: record deleted)",
		},
		{
			name: "deleted tail",
			tamper: func(rs []Record, h Head) ([]Record, Head) {
				return rs[:7], h
			},
			wantSeq: 8,
			wantErr: "audit record 8: missing (chain head says seq 9 but last record is 7: tail deleted)",
		},
		{
			name: "contents swapped",
			tamper: func(rs []Record, h Head) ([]Record, Head) {
				rs[1], rs[3] = rs[3], rs[1]
				rs[1].Seq, rs[3].Seq = 2, 4
				return rs, h
			},
			wantSeq: 2,
			wantErr: "audit record 2: previous digest does not match record 1 (records reordered or deleted)",
		},
		{
			name: "records out of order",
			tamper: func(rs []Record, h Head) ([]Record, Head) {
				rs[1], rs[2] = rs[2], rs[1]
				return rs, h
			},
			wantSeq: 2,
			wantErr: "audit record 2: missing (expected seq 2, found 3: record deleted)",
		},
		{
			name: "record appended without moving the head",
			tamper: func(rs []Record, h Head) ([]Record, Head) {
				extra := h.Next(time.Now(), Entry{Kind: KindMerge, Payload: []byte(`{}`)})
				return append(rs, extra), h
			},
			wantSeq: 10,
			wantErr: "audit record 10: beyond the chain head (head says seq 9: record inserted)",
		},
		{
			name: "last record replaced",
			tamper: func(rs []Record, h Head) ([]Record, Head) {
				prev := rs[len(rs)-2].Head()
				rs[len(rs)-1] = prev.Next(time.Now(), Entry{Kind: KindMerge, Payload: []byte(`{}`)})
				return rs, h
			},
			wantSeq: 9,
			wantErr: "audit record 9: digest does not match the chain head (record replaced)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			records, head := tt.tamper(chain(9))
			_, err := verify(records, head)
			var chainErr *ChainError
			if !errors.As(err, &chainErr) {
				t.Fatalf("verify error = %v, want a *ChainError", err)
			}
			if chainErr.Seq != tt.wantSeq || err.Error() != tt.wantErr {
				t.Errorf("verify error = %q (seq %d), want %q (seq %d)", err, chainErr.Seq, tt.wantErr, tt.wantSeq)
			}
		})
	}
}

func TestVerifierKeepsFirstError(t *testing.T) {
	records, head := chain(3)
	records[0].Actor = "mallory"
	var v Verifier
	first := v.Next(records[0])
	if first == nil {
		t.Fatal("Next accepted an edited record")
	}
	if err := v.Next(records[1]); err != first {
		t.Errorf("Next after an error = %v, want %v", err, first)
	}
	if err := v.Finish(head); err != first {
		t.Errorf("Finish after an error = %v, want %v", err, first)
	}
}

package audit

import (
	"encoding/json"
	"testing"
	"time"
)

func sampleRecord() Record {
	entry := Entry{
		Kind:        KindDeployment,
		Repository:  "acme/models",
		Model:       "churn",
		Version:     "1.4.0",
		Stage:       "production",
		PullRequest: 42,
		HeadSHA:     "0123456789abcdef0123456789abcdef01234567",
		Actor:       "alice",
		Payload:     json.RawMessage(`{"replaced":"1.3.2"}`),
	}
	at := time.Date(2025, 6, 1, 12, 30, 45, 123456789, time.FixedZone("CEST", 2*60*60))
	return Head{Digest: GenesisDigest}.Next(at, entry)
}

func TestNextStampsRecord(t *testing.T) {
	r := sampleRecord()
	if r.Seq != 1 || r.PrevDigest != GenesisDigest {
		t.Errorf("Seq, PrevDigest = %d, %s; want 1, genesis", r.Seq, r.PrevDigest)
	}
	want := time.Date(2025, 6, 1, 10, 30, 45, 123456000, time.UTC)
	if r.RecordedAt != want {
		t.Errorf("RecordedAt = %v, want %v", r.RecordedAt, want)
	}
	if r.Digest != r.ComputeDigest() {
		t.Errorf("Digest = %s, want %s", r.Digest, r.ComputeDigest())
	}
}

// The digest of stored records must never change, or every existing chain
// would fail verification.
func TestComputeDigestIsStable(t *testing.T) {
	const want = "bb734f64009dcf2fe67bb1d74e35a9209c0277d2bc4a6b31968511f4ec1a6266"
	if got := sampleRecord().Digest; got != want {
		t.Errorf("digest = %s, want %s", got, want)
	}
}

func TestComputeDigestCoversEveryField(t *testing.T) {
	edits := map[string]func(*Record){
		"seq":          func(r *Record) { r.Seq++ },
		"recorded_at":  func(r *Record) { r.RecordedAt = r.RecordedAt.Add(time.Microsecond) },
		"kind":         func(r *Record) { r.Kind = KindRollback },
		"repository":   func(r *Record) { r.Repository = "acme/other" },
		"model":        func(r *Record) { r.Model = "fraud" },
		"version":      func(r *Record) { r.Version = "1.4.1" },
		"stage":        func(r *Record) { r.Stage = "staging" },
		"pull_request": func(r *Record) { r.PullRequest++ },
		"head_sha":     func(r *Record) { r.HeadSHA = "f" + r.HeadSHA[1:] },
		"actor":        func(r *Record) { r.Actor = "mallory" },
		"payload":      func(r *Record) { r.Payload = json.RawMessage(`{"replaced": "1.3.2"}`) },
		"prev_digest":  func(r *Record) { r.PrevDigest = "1" + r.PrevDigest[1:] },
		"field boundary": func(r *Record) {
			r.Model, r.Version = r.Model+r.Version[:1], r.Version[1:]
		},
	}
	base := sampleRecord()
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			r := base
			edit(&r)
			if r.ComputeDigest() == base.Digest {
				t.Errorf("editing %s left the digest unchanged", name)
			}
		})
	}
}

func TestComputeDigestIgnoresTimeZone(t *testing.T) {
	r := sampleRecord()
	r.RecordedAt = r.RecordedAt.In(time.FixedZone("PST", -8*60*60))
	if got := r.ComputeDigest(); got != r.Digest {
		t.Errorf("digest changed with the time zone: %s, want %s", got, r.Digest)
	}
}

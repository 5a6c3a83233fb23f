package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// GenesisDigest is the previous digest of the first record.
const GenesisDigest = "0000000000000000000000000000000000000000000000000000000000000000"

// TimeFormat is how RecordedAt is stored and hashed. Microseconds are the
// finest precision both SQLite and PostgreSQL round-trip exactly.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// digestDomain prefixes the hashed encoding so that a change to it can be
// versioned and the digest cannot collide with SHA-256 used elsewhere.
const digestDomain = "modelgate audit record v1"

// Record is an Entry as stored: numbered, timestamped and chained to the
// record before it.
type Record struct {
	Seq        int64     `json:"seq"`
	RecordedAt time.Time `json:"recorded_at"`
	Entry
	PrevDigest string `json:"prev_digest"`
	Digest     string `json:"digest"`
}

// Head identifies the last record of a chain; an empty chain's head is
// sequence 0 with GenesisDigest.
type Head struct {
	Seq    int64
	Digest string
}

// Head returns the chain head r makes when it is the last record.
func (r Record) Head() Head {
	return Head{Seq: r.Seq, Digest: r.Digest}
}

// Next returns the record that follows h for e, recorded at the given time.
// e must already be normalized (see Entry.Normalize), since the digest is
// over the payload bytes exactly as given.
func (h Head) Next(at time.Time, e Entry) Record {
	r := Record{
		Seq:        h.Seq + 1,
		RecordedAt: at.UTC().Truncate(time.Microsecond),
		Entry:      e,
		PrevDigest: h.Digest,
	}
	r.Digest = r.ComputeDigest()
	return r
}

// ComputeDigest returns the hex SHA-256 of every field of r except Digest.
func (r Record) ComputeDigest() string {
	sum := sha256.Sum256(r.encode())
	return hex.EncodeToString(sum[:])
}

// TreeLeaf returns the data r contributes as a leaf of the log's Merkle tree
// (see tlog.RecordHash): the same encoding the chain digest is taken over,
// so the tree commits to every field, the link to the previous record
// included.
func (r Record) TreeLeaf() []byte {
	return r.encode()
}

// encode returns every field of r except Digest. Each field is
// length-prefixed (or fixed width), so no two different records share an
// encoding, and strings are taken byte for byte rather than through an
// encoder that might normalize them.
func (r Record) encode() []byte {
	var b []byte
	b = appendString(b, digestDomain)
	b = appendInt(b, r.Seq)
	b = appendString(b, r.RecordedAt.UTC().Format(TimeFormat))
	b = appendString(b, string(r.Kind))
	b = appendString(b, r.Repository)
	b = appendString(b, r.Model)
	b = appendString(b, r.Version)
	b = appendString(b, r.Stage)
	b = appendInt(b, int64(r.PullRequest))
	b = appendString(b, r.HeadSHA)
	b = appendString(b, r.Actor)
	b = appendString(b, string(r.Payload))
	return appendString(b, r.PrevDigest)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

func appendInt(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

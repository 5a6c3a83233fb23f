package audit

import (
	"cmp"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// ChainError reports the first record at which a log stops being intact.
// When the evidence only narrows it to a range, Seq is the first record of
// the range and Through its last; a Seq of 0 is about the log as a whole.
type ChainError struct {
	Seq     int64
	Through int64
	Reason  string
}

func (e *ChainError) Error() string {
	switch {
	case e.Seq == 0:
		return "audit log: " + e.Reason
	case e.Through > e.Seq:
		return fmt.Sprintf("audit records %d to %d: %s", e.Seq, e.Through, e.Reason)
	}
	return fmt.Sprintf("audit record %d: %s", e.Seq, e.Reason)
}

// Verifier checks a chain one record at a time, in sequence order, so a
// store can verify a log of any size without loading it, and builds the
// Merkle tree over the records as they come. The zero value is ready to
// check a chain from its first record. After the first error it keeps
// returning that error.
type Verifier struct {
	last Head
	err  error
	tree Tree
	// checkpoints still to compare, smallest first, and the size of the
	// largest one the records matched.
	checkpoints []TreeHead
	matched     int64
	mismatched  *TreeHead // the checkpoint the records did not match
}

// NewVerifier returns a Verifier that also checks that the records are a
// consistent extension of each checkpoint: that the tree over the first
// Size records, rebuilt from the records themselves, has the checkpoint's
// hash. Someone who can write the database can rewrite the chain and its
// head, but not a tree head signed and published elsewhere.
func NewVerifier(checkpoints ...TreeHead) *Verifier {
	cps := slices.SortedFunc(slices.Values(checkpoints), func(a, b TreeHead) int { return cmp.Compare(a.Size, b.Size) })
	return &Verifier{checkpoints: cps}
}

// Next checks that r directly follows the records seen so far and that its
// digest matches its contents.
func (v *Verifier) Next(r Record) error {
	if v.err != nil {
		return v.err
	}
	if v.err = v.check(r); v.err == nil {
		v.last = r.Head()
		v.err = v.grow(r)
	}
	return v.err
}

func (v *Verifier) check(r Record) error {
	return v.head().check(r)
}

// check reports how r fails to be the record that directly follows prev.
func (prev Head) check(r Record) error {
	want := prev.Seq + 1
	switch {
	case r.Seq > want:
		return &ChainError{Seq: want, Reason: fmt.Sprintf("missing (expected seq %d, found %d: record deleted)", want, r.Seq)}
	case r.Seq < want:
		return &ChainError{Seq: r.Seq, Reason: fmt.Sprintf("out of order (expected seq %d: records reordered)", want)}
	case r.PrevDigest != prev.Digest:
		return &ChainError{Seq: r.Seq, Reason: prevMismatch(prev.Seq)}
	case r.Digest != r.ComputeDigest():
		return &ChainError{Seq: r.Seq, Reason: "digest mismatch (record edited)"}
	}
	return nil
}

func prevMismatch(prevSeq int64) string {
	if prevSeq == 0 {
		return "previous digest is not the genesis digest (records reordered or deleted)"
	}
	return fmt.Sprintf("previous digest does not match record %d (records reordered or deleted)", prevSeq)
}

// grow adds r to the tree and compares the checkpoints of the tree's new
// size. A checkpoint pins its records only as a whole, so a mismatch is
// placed after the largest checkpoint that matched, and no closer.
func (v *Verifier) grow(r Record) error {
	if _, err := v.tree.Append(r); err != nil {
		return err
	}
	for len(v.checkpoints) > 0 && v.checkpoints[0].Size <= v.tree.size {
		cp := v.checkpoints[0]
		v.checkpoints = v.checkpoints[1:]
		if cp.Size == 0 {
			continue
		}
		head, err := v.tree.Head()
		if err != nil {
			return err
		}
		if head.Hash == cp.Hash {
			v.matched = cp.Size
			continue
		}
		v.mismatched = &cp
		return v.rewritten(cp)
	}
	return nil
}

func (v *Verifier) rewritten(cp TreeHead) error {
	known := "no earlier checkpoint narrows it down"
	switch {
	case v.matched == 1:
		known = "record 1 matches the checkpoint of size 1"
	case v.matched > 1:
		known = fmt.Sprintf("records 1 to %d match the checkpoint of size %d", v.matched, v.matched)
	}
	first := v.matched + 1
	if first == cp.Size {
		return &ChainError{Seq: first, Reason: fmt.Sprintf("differs from the checkpoint of size %d: history rewritten from this record on (%s)", cp.Size, known)}
	}
	return &ChainError{Seq: first, Through: cp.Size, Reason: fmt.Sprintf("do not match the checkpoint of size %d: history rewritten from one of these records on (%s)", cp.Size, known)}
}

// Narrow pinpoints the first rewritten record of a range that a checkpoint
// mismatch left, with the tree stored beside the records, and otherwise
// returns the error it has. A stored tree that still has the checkpoint's
// hash holds the very leaves the checkpoint signed, however the records
// were rewritten since, so the first record whose leaf differs from its
// stored one is the first rewritten; a stored tree rewritten with the
// records proves nothing, and the range stands.
func (v *Verifier) Narrow(stored tlog.HashReader) error {
	cp := v.mismatched
	if cp == nil || cp.Size == v.matched+1 {
		return v.err
	}
	if h, err := tlog.TreeHash(cp.Size, stored); err != nil || h != cp.Hash {
		return v.err
	}
	const batch = 512
	for from := v.matched; from < cp.Size; from += batch {
		var indexes []int64
		for i := from; i < min(from+batch, cp.Size); i++ {
			indexes = append(indexes, tlog.StoredHashIndex(0, i))
		}
		signed, err := stored.ReadHashes(indexes)
		if err != nil {
			return v.err
		}
		built, err := v.tree.ReadHashes(indexes)
		if err != nil {
			return v.err
		}
		for i := range indexes {
			if signed[i] != built[i] {
				seq := from + int64(i) + 1
				return &ChainError{Seq: seq, Reason: fmt.Sprintf("differs from the checkpoint of size %d: the tree stored beside the log still has the checkpoint's hash, and its leaf for this record is another record (history rewritten from this record on)", cp.Size)}
			}
		}
	}
	return v.err
}

// Finish checks that the stored chain head names the last record seen, and
// that no checkpoint is larger than the log. Without this a deleted tail
// would leave an intact, merely shorter, chain.
func (v *Verifier) Finish(head Head) error {
	if v.err != nil {
		return v.err
	}
	last := v.head()
	switch {
	case head.Seq > last.Seq:
		v.err = &ChainError{Seq: last.Seq + 1, Reason: fmt.Sprintf("missing (chain head says seq %d but last record is %d: tail deleted)", head.Seq, last.Seq)}
	case head.Seq < last.Seq:
		v.err = &ChainError{Seq: head.Seq + 1, Reason: fmt.Sprintf("beyond the chain head (head says seq %d: record inserted)", head.Seq)}
	case head.Digest != last.Digest:
		v.err = &ChainError{Seq: last.Seq, Reason: "digest does not match the chain head (record replaced)"}
	case len(v.checkpoints) > 0:
		largest := v.checkpoints[len(v.checkpoints)-1].Size
		v.err = &ChainError{Seq: last.Seq + 1, Through: largest, Reason: fmt.Sprintf("missing (the checkpoint of size %d has %d records, the log only %d: tail cut and the chain head moved back)",
			largest, largest, last.Seq)}
	}
	return v.err
}

// Tree returns the tree over the records seen so far, built from them.
func (v *Verifier) Tree() *Tree {
	return &v.tree
}

// head returns the head of the chain seen so far.
func (v *Verifier) head() Head {
	if v.last.Seq == 0 {
		return Head{Digest: GenesisDigest}
	}
	return v.last
}

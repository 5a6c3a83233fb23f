package audit

import "fmt"

// ChainError reports the first record at which a chain stops being intact.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit record %d: %s", e.Seq, e.Reason)
}

// Verifier checks a chain one record at a time, in sequence order, so a
// store can verify a log of any size without loading it. The zero value is
// ready to check a chain from its first record. After the first error it
// keeps returning that error.
type Verifier struct {
	last Head
	err  error
}

// Next checks that r directly follows the records seen so far and that its
// digest matches its contents.
func (v *Verifier) Next(r Record) error {
	if v.err != nil {
		return v.err
	}
	if v.err = v.check(r); v.err == nil {
		v.last = r.Head()
	}
	return v.err
}

func (v *Verifier) check(r Record) error {
	prev := v.head()
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

// Finish checks that the stored chain head names the last record seen.
// Without this a deleted tail would leave an intact, merely shorter, chain.
func (v *Verifier) Finish(head Head) error {
	if v.err != nil {
		return v.err
	}
	last := v.head()
	switch {
	case head.Seq > last.Seq:
		return &ChainError{Seq: last.Seq + 1, Reason: fmt.Sprintf("missing (chain head says seq %d but last record is %d: tail deleted)", head.Seq, last.Seq)}
	case head.Seq < last.Seq:
		return &ChainError{Seq: head.Seq + 1, Reason: fmt.Sprintf("beyond the chain head (head says seq %d: record inserted)", head.Seq)}
	case head.Digest != last.Digest:
		return &ChainError{Seq: last.Seq, Reason: "digest does not match the chain head (record replaced)"}
	}
	return nil
}

// head returns the head of the chain seen so far.
func (v *Verifier) head() Head {
	if v.last.Seq == 0 {
		return Head{Digest: GenesisDigest}
	}
	return v.last
}

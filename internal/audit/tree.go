package audit

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// TreeHead identifies the log's Merkle tree after its first Size records:
// what a checkpoint signs.
type TreeHead struct {
	Size int64
	Hash tlog.Hash
}

// Tree is the log's Merkle tree (RFC 6962, as Go's checksum database builds
// it) held in memory. Record seq s is leaf s-1. A verifier builds one from
// the records themselves, so that nothing stored beside them is trusted.
type Tree struct {
	hashes []tlog.Hash // tlog's stored hashes, in stored-hash index order
	size   int64
}

// Append adds r as the next leaf and returns the stored hashes it adds,
// which start at tlog.StoredHashIndex(0, r.Seq-1).
func (t *Tree) Append(r Record) ([]tlog.Hash, error) {
	if r.Seq != t.size+1 {
		return nil, fmt.Errorf("audit tree: record %d cannot follow %d leaves", r.Seq, t.size)
	}
	added, err := tlog.StoredHashes(t.size, r.TreeLeaf(), t)
	if err != nil {
		return nil, fmt.Errorf("audit tree: record %d: %w", r.Seq, err)
	}
	t.hashes = append(t.hashes, added...)
	t.size++
	return added, nil
}

// Size returns how many records the tree holds.
func (t *Tree) Size() int64 { return t.size }

// Head returns the tree head over all the records appended.
func (t *Tree) Head() (TreeHead, error) {
	h, err := tlog.TreeHash(t.size, t)
	if err != nil {
		return TreeHead{}, fmt.Errorf("audit tree: %w", err)
	}
	return TreeHead{Size: t.size, Hash: h}, nil
}

// ReadHashes implements tlog.HashReader.
func (t *Tree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if idx < 0 || idx >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("audit tree: no stored hash %d in a tree of %d records", idx, t.size)
		}
		out[i] = t.hashes[idx]
	}
	return out, nil
}

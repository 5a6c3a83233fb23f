package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrCheckpoint is wrapped by the errors about a checkpoint that cannot be
// used: malformed, or not signed by the key it is checked with.
var ErrCheckpoint = errors.New("invalid audit checkpoint")

// Checkpoint is a tree head as published: the checkpoint text of a
// transparency log, "origin\nsize\nbase64(hash)\n", whose origin is the
// name of the key that signs it.
type Checkpoint struct {
	Origin string
	TreeHead
}

// Text returns the checkpoint text that is signed.
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

// ParseCheckpoint parses a checkpoint text. Lines after the third are
// extensions that this log does not write; they are refused rather than
// ignored, since a signature over them would vouch for something unread.
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("%w: want three lines (origin, size, hash), got %q", ErrCheckpoint, text)
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	size, err := strconv.ParseInt(strings.TrimSuffix(lines[1], "\n"), 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != strings.TrimSuffix(lines[1], "\n") {
		return Checkpoint{}, fmt.Errorf("%w: line 2: tree size %q is not a non-negative integer", ErrCheckpoint, strings.TrimSuffix(lines[1], "\n"))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(raw) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("%w: line 3: tree hash %q is not %d bytes of base64", ErrCheckpoint, strings.TrimSuffix(lines[2], "\n"), tlog.HashSize)
	}
	c := Checkpoint{Origin: origin, TreeHead: TreeHead{Size: size}}
	copy(c.Hash[:], raw)
	return c, nil
}

// SignCheckpoint returns the signed note of th's checkpoint, its origin
// the signer's name.
func SignCheckpoint(th TreeHead, s note.Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: Checkpoint{Origin: s.Name(), TreeHead: th}.Text()}, s)
	if err != nil {
		return nil, fmt.Errorf("sign audit checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint checks that msg is a checkpoint signed by v's key and
// names v's log as its origin, and returns it.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: not signed by %s: %w", ErrCheckpoint, v.Name(), err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("%w: origin %q is another log's than %s", ErrCheckpoint, c.Origin, v.Name())
	}
	return c, nil
}

// GenerateKey returns a new Ed25519 signer key for checkpoints of the log
// called name, and its verifier key, in the note package's text forms.
func GenerateKey(name string) (signer, verifier string, err error) {
	signer, verifier, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("generate audit key: %w", err)
	}
	return signer, verifier, nil
}

// VerifierKey returns the verifier key of a signer key, which is what a
// reviewer needs to check checkpoints without being able to make them.
func VerifierKey(signerKey string) (string, error) {
	s, err := note.NewSigner(signerKey)
	if err != nil {
		return "", fmt.Errorf("audit key: %w", err)
	}
	// A note signer key is PRIVATE+KEY+name+hash+base64(algorithm byte,
	// Ed25519 seed); NewSigner has checked all of it.
	fields := strings.SplitN(strings.TrimSpace(signerKey), "+", 5)
	raw, err := base64.StdEncoding.DecodeString(fields[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return "", fmt.Errorf("audit key: not an Ed25519 signer key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return "", fmt.Errorf("audit key: %w", err)
	}
	return vkey, nil
}

package audit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func newKey(t *testing.T, name string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	derived, err := VerifierKey(skey)
	if err != nil || derived != vkey {
		t.Fatalf("VerifierKey = %q, %v; want %q", derived, err, vkey)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func TestCheckpointRoundTrip(t *testing.T) {
	s, v := newKey(t, "audit.example.com/log")
	th := TreeHead{Size: 42, Hash: tlog.RecordHash([]byte("x"))}
	msg, err := SignCheckpoint(th, s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(msg, []byte("audit.example.com/log\n42\n")) {
		t.Errorf("checkpoint does not open with origin and size:\n%s", msg)
	}
	c, err := OpenCheckpoint(msg, v)
	if err != nil || c.TreeHead != th || c.Origin != "audit.example.com/log" {
		t.Errorf("OpenCheckpoint = %+v, %v; want %+v", c, err, th)
	}
}

func TestCheckpointsThatDoNotVerifyAreRefused(t *testing.T) {
	s, v := newKey(t, "audit.example.com/log")
	other, _ := newKey(t, "audit.example.com/log")
	elsewhere, _ := newKey(t, "other.example.com/log")
	th := TreeHead{Size: 7, Hash: tlog.RecordHash([]byte("x"))}
	sign := func(th TreeHead, s note.Signer) string {
		msg, err := SignCheckpoint(th, s)
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	genuine := sign(th, s)
	// A note whose text says another origin, signed with the right key.
	foreignText, err := note.Sign(&note.Note{Text: Checkpoint{Origin: "other.example.com/log", TreeHead: th}.Text()}, s)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, msg, want string }{
		{"size changed under the signature", strings.Replace(genuine, "\n7\n", "\n8\n", 1), "invalid signature"},
		{"signed with another key of the same name", sign(th, other), "no verifiable signatures"},
		{"signed by another log", sign(th, elsewhere), "not signed by audit.example.com/log"},
		{"another origin in the text", string(foreignText), `origin "other.example.com/log" is another log's`},
		{"not a note", "hello\n", "malformed note"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenCheckpoint([]byte(tt.msg), v)
			if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("OpenCheckpoint error = %v; want ErrCheckpoint saying %q", err, tt.want)
			}
		})
	}
}

func TestParseCheckpointRejectsMalformedText(t *testing.T) {
	hash := "sJzJdG6FFiBA3kJ+F/yU2V9ZD+xvtv5ecHgiJUkqhEQ="
	tests := []struct{ text, want string }{
		{"log\n7\n", "want three lines"},
		{"log\n7\n" + hash + "\nextension\n", "want three lines"},
		{"log\n-1\n" + hash + "\n", "line 2: tree size"},
		{"log\n07\n" + hash + "\n", "line 2: tree size"},
		{"log\n7\nAAAA\n", "line 3: tree hash"},
	}
	for _, tt := range tests {
		if _, err := ParseCheckpoint(tt.text); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCheckpoint(%q) error = %v; want %q", tt.text, err, tt.want)
		}
	}
	if c, err := ParseCheckpoint("log\n7\n" + hash + "\n"); err != nil || c.Size != 7 || c.Origin != "log" {
		t.Errorf("ParseCheckpoint of a valid text = %+v, %v", c, err)
	}
}

func TestVerifierComparesCheckpoints(t *testing.T) {
	var records []Record
	head := Head{Digest: GenesisDigest}
	var tree Tree
	var heads []TreeHead
	for _, actor := range []string{"a", "b", "c", "d"} {
		r := head.Next(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), Entry{Kind: KindGate, Actor: actor, Payload: []byte(`{}`)})
		records = append(records, r)
		head = r.Head()
		if _, err := tree.Append(r); err != nil {
			t.Fatal(err)
		}
		th, err := tree.Head()
		if err != nil {
			t.Fatal(err)
		}
		heads = append(heads, th)
	}
	run := func(cps ...TreeHead) error {
		v := NewVerifier(cps...)
		for _, r := range records {
			if err := v.Next(r); err != nil {
				return err
			}
		}
		return v.Finish(head)
	}
	if err := run(heads[3], TreeHead{}, heads[1]); err != nil {
		t.Errorf("genuine checkpoints, out of order and one empty: %v", err)
	}
	forged := heads[2]
	forged.Hash[0] ^= 1
	var chainErr *ChainError
	if err := run(heads[1], forged); !errors.As(err, &chainErr) || chainErr.Seq != 3 || chainErr.Through != 0 {
		t.Errorf("checkpoint of size 3 that does not match: %v; want record 3 named", err)
	}
	if err := run(TreeHead{Size: 9, Hash: heads[3].Hash}); !errors.As(err, &chainErr) || chainErr.Seq != 5 || chainErr.Through != 9 {
		t.Errorf("checkpoint larger than the log: %v; want records 5 to 9 named missing", err)
	}
}

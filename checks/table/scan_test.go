package table

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSeparators compares the masks with a byte-by-byte count, on every
// length up to a few chunks and on bytes next to the three that matter.
func TestSeparators(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{',', '\n', '"', 'a', '\r', 0, 0x2b, 0x2d, 0x09, 0x0b, 0x21, 0x23, 0xac, 0x8a, 0xa2, 0xff}
	for n := 0; n < 5*chunk; n++ {
		for range 20 {
			data := make([]byte, n)
			for i := range data {
				data[i] = alphabet[rng.IntN(len(alphabet))]
			}
			words := (n + chunk - 1) / chunk
			want := make([]uint64, words)
			wantNewlines := 0
			for i, c := range data {
				if c == ',' || c == '\n' {
					want[i/chunk] |= 1 << (i % chunk)
				}
				if c == '\n' {
					wantNewlines++
				}
			}
			wantQuotes := bytes.IndexByte(data, '"') >= 0
			got := make([]uint64, words)
			newlines, quotes := separators(data, got)
			if !slices.Equal(got, want) || newlines != wantNewlines || quotes != wantQuotes {
				t.Fatalf("separators(%q) = %x, %d, %v; want %x, %d, %v", data, got, newlines, quotes, want, wantNewlines, wantQuotes)
			}
			if whole := n / chunk; whole > 0 {
				got := make([]uint64, whole)
				newlines, quotes := separatorsSWAR(data[:whole*chunk], got)
				wantNewlines := bytes.Count(data[:whole*chunk], newline)
				wantQuotes := bytes.IndexByte(data[:whole*chunk], '"') >= 0
				if !slices.Equal(got, want[:whole]) || newlines != wantNewlines || quotes != wantQuotes {
					t.Fatalf("separatorsSWAR(%q) = %x, %d, %v; want %x, %d, %v", data[:whole*chunk], got, newlines, quotes, want[:whole], wantNewlines, wantQuotes)
				}
			}
		}
	}
}

func TestTopBits(t *testing.T) {
	for b := range 256 {
		var x uint64
		for i := range 8 {
			if b>>i&1 == 1 {
				x |= 0x80 << (8 * i)
			}
		}
		if got := topBits(x); got != uint64(b) {
			t.Fatalf("topBits(%#x) = %#x, want %#x", x, got, b)
		}
	}
}

// TestSplitPlain: a block is split only if every record is plain and has the
// header's number of fields, and then into the fields the record parser finds.
func TestSplitPlain(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("a1,,,\n\r .e")
	var pb plainBlock
	var rp recordParser
	split := 0
	for range 300000 {
		n := 2 + rng.IntN(3)
		var data []byte
		for range rng.IntN(6) {
			if rng.IntN(30) == 0 {
				data = append(data, "\r\n"[rng.IntN(2):]...) // a blank line
			}
			for f := range n {
				if f > 0 {
					data = append(data, ',')
				}
				for range rng.IntN(4) {
					data = append(data, alphabet[rng.IntN(len(alphabet))])
				}
			}
			if rng.IntN(4) == 0 {
				data = append(data, '\r')
			}
			data = append(data, '\n')
		}
		if rng.IntN(3) == 0 && len(data) > 0 {
			data = data[:len(data)-1]
		}
		if rng.IntN(20) == 0 {
			data = append(data, '"')
		}
		var want [][]string
		plain := bytes.IndexByte(data, '"') < 0 && len(data) > 0
		for pos := 0; plain && pos < len(data); {
			next, _, err := rp.parse(data, pos)
			if err != nil {
				t.Fatal(err)
			}
			if len(rp.fields) != n {
				plain = false
				break
			}
			var rec []string
			for _, f := range rp.fields {
				rec = append(rec, string(f))
			}
			want = append(want, rec)
			pos = next
		}
		ok := pb.split(data, n)
		if ok != plain {
			t.Fatalf("split(%q, %d) = %v, want %v", data, n, ok, plain)
		}
		if !ok {
			continue
		}
		split++
		if pb.rows != len(want) {
			t.Fatalf("split(%q, %d): %d rows, want %d", data, n, pb.rows, len(want))
		}
		for f := range n {
			rows := 0
			for r, field := range pb.column(f) {
				if r != rows || string(field) != want[r][f] {
					t.Fatalf("split(%q, %d): row %d field %d = %q, want row %d %q", data, n, r, f, field, rows, want[rows][f])
				}
				rows++
			}
			if rows != len(want) {
				t.Fatalf("split(%q, %d): %d rows of field %d, want %d", data, n, rows, f, len(want))
			}
		}
	}
	if split < 10000 {
		t.Fatalf("only %d blocks split", split)
	}
}

func BenchmarkSeparators(b *testing.B) {
	data := bytes.Repeat([]byte("c0000001,6.586540393269069,16,US,True\n"), 1<<20/38)
	masks := make([]uint64, (len(data)+chunk-1)/chunk)
	b.SetBytes(int64(len(data)))
	b.Run("vector", func(b *testing.B) {
		for b.Loop() {
			separators(data, masks)
		}
	})
	b.Run("swar", func(b *testing.B) {
		whole := len(data) / chunk
		for b.Loop() {
			separatorsSWAR(data[:whole*chunk], masks[:whole])
		}
	})
	b.Run("split", func(b *testing.B) {
		var pb plainBlock
		for b.Loop() {
			if !pb.split(data, 5) {
				b.Fatal("not split")
			}
		}
	})
}

package table

import (
	"encoding/binary"
	"iter"
	"math/bits"
)

// chunk is how many bytes one word of a separator mask covers.
const chunk = 64

// plainBlock is a block of records split in two passes, the way a block of
// plain records, as data tools write them, is fastest to split: first a mask
// of the separators of every 64 bytes, taken with vector instructions where the
// processor has them, then the fields' bounds from the masks' bits. Fields are
// then read a column at a time, so that the work on each value is the same from
// one to the next.
type plainBlock struct {
	data []byte
	// bounds[i] is where field i of the block starts, counting fields across
	// records; field i ends one byte before field i+1 starts, at its separator.
	bounds   []uint32
	masks    []uint64
	n        int // fields in a record
	rows     int
	newlines int
}

// split splits data, whole records, into records of n fields. It reports false,
// having split nothing, unless every record is plain (no quote) and has n
// fields: blank lines, ragged rows and quotes are left to the record parser.
// A file of one column is left to it too, as its blank lines are fields.
func (b *plainBlock) split(data []byte, n int) bool {
	if n < 2 || len(data) == 0 || len(data) >= 1<<32-1 {
		return false
	}
	b.data, b.n, b.rows, b.newlines = data, n, 0, 0
	words := (len(data) + chunk - 1) / chunk
	if cap(b.masks) < words {
		b.masks = make([]uint64, words)
	}
	b.masks = b.masks[:words]
	newlines, quotes := separators(data, b.masks)
	if quotes {
		return false
	}
	rows := newlines
	if data[len(data)-1] != '\n' {
		rows++ // the last record of a file that does not end with a newline
	}
	fields := rows * n
	// Room for a word's separators past the count at which the split fails,
	// so that they are written without a test of room each.
	if cap(b.bounds) < fields+chunk+2 {
		b.bounds = make([]uint32, fields+fields/8+chunk+2)
	}
	bounds := b.bounds[:cap(b.bounds)]
	bounds[0] = 0
	k := 1
	for w, m := range b.masks {
		if k > fields+1 {
			return false
		}
		base := uint32(w*chunk) + 1
		for ; m != 0; m &= m - 1 {
			bounds[k] = base + uint32(bits.TrailingZeros64(m))
			k++
		}
	}
	if data[len(data)-1] != '\n' {
		bounds[k] = uint32(len(data)) + 1
		k++
	}
	if k != fields+1 {
		return false
	}
	bounds = bounds[:k]
	b.bounds = bounds
	// As many newlines as records, and one at the end of each record's n
	// fields: so no record has fewer or more.
	for r := 1; r < rows; r++ {
		if data[bounds[r*n]-1] != '\n' {
			return false
		}
	}
	b.rows, b.newlines = rows, newlines
	return true
}

// column yields field f of each record, with its row.
func (b *plainBlock) column(f int) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		data, bounds, last := b.data, b.bounds, f == b.n-1
		for r, i := 0, f; r < b.rows; r, i = r+1, i+b.n {
			field := data[bounds[i] : bounds[i+1]-1]
			if last {
				field = trimCR(field)
			}
			if !yield(r, field) {
				return
			}
		}
	}
}

// separators sets a bit in masks for each comma and newline of data, bit j of
// masks[w] for data[64w+j], and returns how many newlines and whether any
// quote it found.
func separators(data []byte, masks []uint64) (newlines int, quotes bool) {
	whole := len(data) / chunk
	if whole > 0 {
		newlines, quotes = separatorsOf(data[:whole*chunk], masks[:whole])
	}
	if rest := data[whole*chunk:]; len(rest) > 0 {
		var tail [chunk]byte // zeros, which are neither separators nor quotes
		copy(tail[:], rest)
		n, q := separatorsOf(tail[:], masks[whole:whole+1])
		newlines, quotes = newlines+n, quotes || q
	}
	return newlines, quotes
}

// separatorsSWAR is separators for whole chunks of data, eight bytes at a time.
func separatorsSWAR(data []byte, masks []uint64) (newlines int, quotes bool) {
	var quoted uint64
	for w := range masks {
		var seps uint64
		for k := range chunk / 8 {
			x := binary.LittleEndian.Uint64(data[w*chunk+8*k:])
			nl := zeroBytes(x ^ 0x0a0a0a0a0a0a0a0a)
			newlines += bits.OnesCount64(nl)
			seps |= topBits(nl|zeroBytes(x^0x2c2c2c2c2c2c2c2c)) << (8 * k)
			quoted |= zeroBytes(x ^ 0x2222222222222222)
		}
		masks[w] = seps
	}
	return newlines, quoted != 0
}

// topBits gathers the top bit of each byte of x, which has no other bit set,
// into a byte: the multiplication moves byte i's bit to bit 56+i, and no two
// of the partial products meet.
func topBits(x uint64) uint64 {
	return (x >> 7) * 0x0102040810204080 >> 56
}

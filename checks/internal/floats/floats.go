// Package floats sorts and sums large slices of numbers: a radix sort that is
// several times faster than a comparison sort on millions of values, and a
// compensated sum whose error does not grow with the number of terms.
package floats

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"unsafe"
)

// radixBits is the digit width of the radix sort: 11 bits make counting tables
// that fit in the first-level cache.
const (
	radixBits = 11
	radixSize = 1 << radixBits
)

// maxDigits is the most digits one radix sort takes: four of 11 bits for the
// top 42 bits of hashes, four of 8 bits for the 31 bits below a float's top
// 33.
const maxDigits = 4

// insertionLimit is the length under which an insertion sort beats the radix
// sort's fixed cost of its counting tables.
const insertionLimit = 256

// topBits is how many bits of the values, from the first that is not the same
// in all of them, Sort radix-sorts as a whole column: three digits. Values at
// full precision rarely share that many, so a run of them that do is short and
// is cheap to sort on its own.
const topBits = 3 * radixBits

// runInsertionLimit is the length of a run of values sharing their top bits
// under which an insertion sort beats a radix sort of the run's other bits;
// bigRun is the length over which the run is long enough for the radix sort's
// full-width digits, one pass fewer than narrow ones.
const (
	runInsertionLimit = 64
	bigRun            = 1 << 14
	runBits           = 8
)

// countRange is the widest range of whole numbers that Sort counts rather than
// radix-sorts: hours, ages, labels and codes written as numbers.
const countRange = 1 << 12

// Sort sorts x in ascending order. x must not hold NaN.
func Sort(x []float64) {
	if len(x) < insertionLimit {
		insertionSort(x)
		return
	}
	if countSort(x) {
		return
	}
	// The values' bit patterns are sorted in x's own memory and in scratch
	// space as large, which halves the sort's footprint at tens of millions of
	// values. Bits that every value shares need no pass: values of the same
	// sign share the same bits of their bit patterns and of their sortable
	// keys, and values of both signs differ in the top bit of both.
	b := unsafe.Slice((*uint64)(unsafe.Pointer(&x[0])), len(x))
	s := getSorter(len(b))
	defer sorters.Put(s)
	buf := s.buf[:len(b)]
	// The bits that vary are guessed from a sample, so that one pass can
	// count the digits, find the bits that do vary and move the keys to buf,
	// which an odd number of passes then leaves in x. A wrong guess costs a
	// second count.
	top := sampleVarying(b)
	lo := top - min(top, topBits)
	actual := s.countSortable(b, buf, lo)
	if actual == 0 {
		return
	}
	if actual != top {
		top = actual
		lo = top - min(top, topBits)
		s.count(buf, digitsOf(lo, top, radixBits), lo, radixBits, 0)
	}
	sorted := s.passes(buf, b, digitsOf(lo, top, radixBits), lo, radixBits, false, true)
	if &sorted[0] != &b[0] {
		copy(b, sorted)
	}
	if lo > 0 {
		s.finishRuns(x, b, lo)
	}
}

// sampleVarying returns the number of low bits in which some of a sample of
// the keys differ from the others.
func sampleVarying(keys []uint64) uint {
	var diff uint64
	step := max(1, len(keys)/samples)
	for i := 0; i < len(keys); i += step {
		diff |= keys[i] ^ keys[0]
	}
	return uint(bits.Len64(diff))
}

// samples is the size of the sample of keys that sampleVarying takes: values
// of a column vary in their top bits among a few thousand as among millions,
// unless they come in an order.
const samples = 4096

// countSortable maps the bit patterns b to sortable keys in dst and counts
// their three digits from bit lo up, and returns the number of low bits in
// which some of the keys differ from the others.
func (s *sorter) countSortable(b, dst []uint64, lo uint) uint {
	const m = radixSize - 1
	c0, c1, c2 := &s.counts[0], &s.counts[1], &s.counts[2]
	clear(c0[:])
	clear(c1[:])
	clear(c2[:])
	s0, s1, s2 := lo&63, (lo+radixBits)&63, (lo+2*radixBits)&63
	dst = dst[:len(b)]
	var diff uint64
	for i, v := range b {
		diff |= v ^ b[0]
		k := sortable(v)
		dst[i] = k
		c0[(k>>s0)&m]++
		c1[(k>>s1)&m]++
		c2[(k>>s2)&m]++
	}
	return uint(bits.Len64(diff))
}

// varying returns the number of low bits in which some of the keys differ from
// the others: 0 if they are all the same.
func varying(keys []uint64) uint {
	var diff uint64
	for _, k := range keys {
		diff |= k ^ keys[0]
	}
	return uint(bits.Len64(diff))
}

// finishRuns sorts each run of x's values that share their bits from lo up, b
// being x's bit patterns, which are sorted by those bits. Within a run the
// values have one sign and no -0 and +0 together, so their numeric order is
// the order of the sortable keys of their patterns.
func (s *sorter) finishRuns(x []float64, b []uint64, lo uint) {
	// Runs are rare at full precision, so the test for one is a branch the
	// processor predicts.
	for i := 1; i < len(b); i++ {
		if b[i]>>lo != b[i-1]>>lo {
			continue
		}
		start := i - 1
		for i < len(b) && b[i]>>lo == b[start]>>lo {
			i++
		}
		s.sortRun(x[start:i], b[start:i])
	}
}

// sortRun sorts x, values that share their top bits, b being their bit
// patterns. A long run, of a value repeated or of values close together, is
// radix-sorted on the bits in which its values differ, so that no run costs
// more than a few passes over it however long it is.
func (s *sorter) sortRun(x []float64, b []uint64) {
	if len(x) <= runInsertionLimit {
		insertionSort(x)
		return
	}
	top := varying(b)
	if top == 0 {
		return
	}
	width := uint(runBits)
	if len(b) > bigRun {
		width = radixBits
	}
	s.radix(b, s.buf[:len(b)], 0, top, width, true)
}

// countSort sorts x by counting each value, in two passes over it and without
// scratch space, if its values are whole numbers within countRange of each other
// (and none is -0, which sorts before +0 and would come back as +0); it reports
// whether it did. It gives up at the first value that is not such a number.
func countSort(x []float64) bool {
	lo, hi := x[0], x[0]
	for _, v := range x {
		if v != math.Trunc(v) || math.Abs(v) >= 1<<53 || v == 0 && math.Signbit(v) {
			return false
		}
		lo, hi = min(lo, v), max(hi, v)
		if hi-lo >= countRange {
			return false
		}
	}
	// Whole numbers that close together differ by a whole number that the
	// subtraction gets exactly, so lo+k is each value again, bit for bit.
	var counts [countRange]int
	for _, v := range x {
		counts[int(v-lo)]++
	}
	i := 0
	for k, n := range counts[:int(hi-lo)+1] {
		v := lo + float64(k)
		for range n {
			x[i] = v
			i++
		}
	}
	return true
}

// SortHashes sorts x, keys spread evenly over their 64 bits such as hashes, in
// ascending order. It radix-sorts only their top digits, enough of them that
// about one key in a thousand shares those bits with another, and then sorts
// each run of keys that do: three or four passes instead of six. Keys that are
// not spread, however many share their top bits, are still sorted, by a
// comparison sort of those runs.
func SortHashes(x []uint64) {
	if len(x) < insertionLimit {
		slices.Sort(x)
		return
	}
	shift := uint(64 - 31)
	if len(x) > 1<<21 {
		shift = 64 - 42
	}
	s := getSorter(len(x))
	s.radix(x, s.buf[:len(x)], shift, 64, radixBits, false)
	sorters.Put(s)
	// Runs are rare, so the test for one is a branch the processor predicts.
	for i := 1; i < len(x); i++ {
		if x[i]>>shift != x[i-1]>>shift {
			continue
		}
		start := i - 1
		for i < len(x) && x[i]>>shift == x[start]>>shift {
			i++
		}
		slices.Sort(x[start:i])
	}
}

func insertionSort(x []float64) {
	for i := 1; i < len(x); i++ {
		v := x[i]
		j := i
		for j > 0 && x[j-1] > v {
			x[j] = x[j-1]
			j--
		}
		x[j] = v
	}
}

// sortable maps an IEEE 754 bit pattern to a key whose unsigned order is the
// numeric order: negative values have every bit flipped, others only the sign.
// It has no branch, since signs mixed at random would mispredict it.
func sortable(b uint64) uint64 {
	return b ^ (uint64(int64(b)>>63) | 1<<63)
}

func unsortable(k uint64) uint64 {
	return k ^ (uint64(int64(^k)>>63) | 1<<63)
}

// sorter is the scratch space of a radix sort.
type sorter struct {
	buf    []uint64
	counts [maxDigits][radixSize]int
}

// sorters holds the scratch space of finished sorts. Fresh memory costs a page
// fault per page on first use, which at millions of keys costs more than the
// sort.
var sorters sync.Pool

// getSorter returns a sorter with room for n keys.
func getSorter(n int) *sorter {
	s, _ := sorters.Get().(*sorter)
	if s == nil {
		s = new(sorter)
	}
	if cap(s.buf) < n {
		s.buf = make([]uint64, n)
	}
	return s
}

// radix is a least-significant-digit radix sort of keys by their bits from lo
// up to top, in digits of width bits, with scratch space for as many keys; bits
// from top up must be the same in every key. If patterns is set, keys are
// float64 bit patterns, mapped to sortable keys by the first pass and back by
// the last.
func (s *sorter) radix(keys, scratch []uint64, lo, top, width uint, patterns bool) {
	var flip uint64
	if patterns {
		flip = ^uint64(0)
	}
	digits := digitsOf(lo, top, width)
	s.count(keys, digits, lo, width, flip)
	if sorted := s.passes(keys, scratch, digits, lo, width, patterns, patterns); &sorted[0] != &keys[0] {
		copy(keys, sorted)
	}
}

// digitsOf returns the number of digits of width bits that cover bits lo to
// top.
func digitsOf(lo, top, width uint) int {
	return int((top - lo + width - 1) / width)
}

// count counts the keys' digits, digits of them of width bits from bit lo up,
// each key first mapped to its sortable key if flip is all ones, as bit
// patterns are, and not if it is zero.
func (s *sorter) count(keys []uint64, digits int, lo, width uint, flip uint64) {
	m := uint64(1)<<width - 1&(radixSize-1)
	counts := s.counts[:digits]
	for d := range counts {
		clear(counts[d][:m+1])
	}
	// Shifts known to be under 64 compile to single instructions.
	s0, s1, s2, s3 := lo&63, (lo+width)&63, (lo+2*width)&63, (lo+3*width)&63
	switch digits {
	case 3:
		c0, c1, c2 := &counts[0], &counts[1], &counts[2]
		for _, k := range keys {
			k ^= flip & (uint64(int64(k)>>63) | 1<<63)
			c0[(k>>s0)&m]++
			c1[(k>>s1)&m]++
			c2[(k>>s2)&m]++
		}
	case 4:
		c0, c1, c2, c3 := &counts[0], &counts[1], &counts[2], &counts[3]
		for _, k := range keys {
			k ^= flip & (uint64(int64(k)>>63) | 1<<63)
			c0[(k>>s0)&m]++
			c1[(k>>s1)&m]++
			c2[(k>>s2)&m]++
			c3[(k>>s3)&m]++
		}
	default:
		for _, k := range keys {
			k ^= flip & (uint64(int64(k)>>63) | 1<<63)
			for d := range counts {
				counts[d][(k>>((lo+uint(d)*width)&63))&m]++
			}
		}
	}
}

// passes moves the keys of src, whose digits are counted, between src and dst
// once for each digit in which they differ, lowest first, and returns them
// sorted, in src or in dst, wherever the last pass left them. If in is set,
// the keys are bit patterns that the first pass maps to sortable keys; if out,
// the last pass maps the keys back to bit patterns.
func (s *sorter) passes(src, dst []uint64, digits int, lo, width uint, in, out bool) []uint64 {
	n := len(src)
	mask := uint64(1)<<width - 1&(radixSize-1)
	k0 := src[0]
	if in {
		k0 = sortable(k0)
	}
	first, last := -1, -1
	for d := range digits {
		if s.counts[d][(k0>>((lo+uint(d)*width)&63))&mask] != n {
			if first < 0 {
				first = d
			}
			last = d
		}
	}
	for d := first; d <= last && first >= 0; d++ {
		c := &s.counts[d]
		shift := (lo + uint(d)*width) & 63
		if c[(k0>>shift)&mask] == n {
			continue
		}
		sum := 0
		for i, m := range c[:mask+1] {
			c[i] = sum
			sum += m
		}
		scatter(src, dst, c, shift, mask, in && d == first, out && d == last)
		src, dst = dst, src
	}
	return src
}

// scatter moves each key of src to its place in dst by its digit at shift, c
// holding each digit's next place. If in is set, src holds bit patterns that
// are moved as sortable keys; if out, src holds sortable keys that are moved as
// bit patterns.
func scatter(src, dst []uint64, c *[radixSize]int, shift uint, mask uint64, in, out bool) {
	mask &= radixSize - 1
	shift &= 63
	switch {
	case in && out:
		for _, b := range src {
			d := (sortable(b) >> shift) & mask
			dst[c[d]] = b
			c[d]++
		}
	case in:
		for _, b := range src {
			k := sortable(b)
			d := (k >> shift) & mask
			dst[c[d]] = k
			c[d]++
		}
	case out:
		for _, k := range src {
			d := (k >> shift) & mask
			dst[c[d]] = unsortable(k)
			c[d]++
		}
	default:
		for _, k := range src {
			d := (k >> shift) & mask
			dst[c[d]] = k
			c[d]++
		}
	}
}

// Sum is a Neumaier-compensated sum: accurate to a few units in the last place
// whatever the number of terms.
type Sum struct {
	sum, c float64
}

// Add adds v to the sum.
func (s *Sum) Add(v float64) {
	t := s.sum + v
	if math.Abs(s.sum) >= math.Abs(v) {
		s.c += (s.sum - t) + v
	} else {
		s.c += (v - t) + s.sum
	}
	s.sum = t
}

// Value returns the sum.
func (s *Sum) Value() float64 { return s.sum + s.c }

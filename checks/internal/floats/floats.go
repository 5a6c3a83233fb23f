// Package floats sorts and sums large slices of numbers: a radix sort that is
// several times faster than a comparison sort on millions of values, and a
// compensated sum whose error does not grow with the number of terms.
package floats

import (
	"math"
	"slices"
	"sync"
	"unsafe"
)

// radixBits is the digit width of the radix sort: 11 bits make six passes over
// 64-bit keys with counting tables that fit in the first-level cache.
const (
	radixBits   = 11
	radixSize   = 1 << radixBits
	radixMask   = radixSize - 1
	radixPasses = (64 + radixBits - 1) / radixBits
)

// insertionLimit is the length under which an insertion sort beats the radix sort's
// fixed cost of six counting passes.
const insertionLimit = 256

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
	// The keys are the values' bit patterns, mapped so that unsigned order is
	// numeric order. Sorting them in x's own memory halves the sort's footprint,
	// which matters at tens of millions of values.
	keys := unsafe.Slice((*uint64)(unsafe.Pointer(&x[0])), len(x))
	for i, k := range keys {
		keys[i] = sortable(k)
	}
	radixSortFrom(keys, 0)
	for i, k := range keys {
		keys[i] = unsortable(k)
	}
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
	from := radixPasses - 3
	if len(x) > 1<<21 {
		from = radixPasses - 4
	}
	radixSortFrom(x, from)
	// Runs are rare, so the test for one is a branch the processor predicts.
	shift := uint(from * radixBits)
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
func sortable(b uint64) uint64 {
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

func unsortable(k uint64) uint64 {
	if k>>63 == 1 {
		return k &^ (1 << 63)
	}
	return ^k
}

// scratch holds the scratch space of finished sorts. Fresh memory costs a page
// fault per page on first use, which at millions of keys costs more than the sort.
var scratch sync.Pool

// radixSortFrom is a least-significant-digit radix sort of keys by their digits
// from the digit numbered from (0 is the lowest) up: by whole keys from 0. The
// counts of every digit are taken in one pass, and a digit that is the same in
// every key is skipped.
func radixSortFrom(keys []uint64, from int) {
	bp, _ := scratch.Get().(*[]uint64)
	if bp == nil || cap(*bp) < len(keys) {
		b := make([]uint64, len(keys))
		bp = &b
	}
	defer scratch.Put(bp)
	buf := (*bp)[:len(keys)]

	var counts [radixPasses][radixSize]int
	for _, k := range keys {
		for p := from; p < radixPasses; p++ {
			counts[p][(k>>(p*radixBits))&radixMask]++
		}
	}
	src, dst := keys, buf
	for p := from; p < radixPasses; p++ {
		c := &counts[p]
		if c[(src[0]>>(p*radixBits))&radixMask] == len(src) {
			continue
		}
		sum := 0
		for d, n := range c {
			c[d] = sum
			sum += n
		}
		shift := uint(p * radixBits)
		for _, k := range src {
			d := (k >> shift) & radixMask
			dst[c[d]] = k
			c[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
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

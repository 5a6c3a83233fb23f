package floats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 100, 255, 256, 257, 10000, 100000} {
		x := make([]float64, n)
		for i := range x {
			switch i % 7 {
			case 0:
				x[i] = math.Round(rng.NormFloat64()*10) / 4 // ties
			case 1:
				x[i] = -rng.ExpFloat64() * 1e300
			case 2:
				x[i] = math.Inf(1 - 2*(i%2))
			case 3:
				x[i] = 0
			default:
				x[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
			}
		}
		want := slices.Clone(x)
		slices.Sort(want)
		Sort(x)
		if !slices.Equal(x, want) {
			t.Fatalf("n=%d: not sorted", n)
		}
	}
}

// TestSortWholeNumbers checks the sort of columns of whole numbers, which are
// counted, bit for bit against a comparison sort: values near the edges of the
// range that is counted, far from zero, negative, and next to a -0.
func TestSortWholeNumbers(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct {
		name     string
		lo, span float64
		extra    []float64
	}{
		{"hours", 0, 24, nil},
		{"one value", 7, 1, nil},
		{"negative", -2000, 3000, nil},
		{"widest counted", -10, countRange, nil},
		{"too wide", 0, countRange + 1, nil},
		{"far from zero", 1 << 52, 100, nil},
		{"past 2^53", 1 << 53, 100, nil},
		{"large", 1e300, 1, []float64{math.Nextafter(1e300, math.Inf(1))}},
		{"minus zero", -5, 10, []float64{math.Copysign(0, -1)}},
		{"a fraction", 0, 24, []float64{0.5}},
		{"infinity", 0, 24, []float64{math.Inf(1)}},
	} {
		x := make([]float64, 5000)
		for i := range x {
			x[i] = c.lo + math.Floor(rng.Float64()*c.span)
		}
		x[0], x[1] = c.lo, c.lo+c.span-1 // both ends
		for i, v := range c.extra {
			x[100*i+50] = v
		}
		want := slices.Clone(x)
		slices.SortFunc(want, func(a, b float64) int { return cmpBits(a, b) })
		Sort(x)
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(want[i]) {
				t.Fatalf("%s: [%d] = %v, want %v", c.name, i, x[i], want[i])
			}
		}
	}
}

// cmpBits orders -0 before +0, as the radix sort does.
func cmpBits(a, b float64) int {
	if a == b {
		return int(sortable(math.Float64bits(a))>>63) - int(sortable(math.Float64bits(b))>>63)
	}
	if a < b {
		return -1
	}
	return 1
}

func TestSortHashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// Keys shifted right by up to 63 bits share their top bits in long runs;
	// random keys with repeats, at lengths on both sides of the third digit,
	// share them in short ones.
	shifted := make([]uint64, 50000)
	for i := range shifted {
		shifted[i] = rng.Uint64() >> (i % 64)
	}
	for _, x := range [][]uint64{shifted, spread(rng, 300000), spread(rng, 1<<21+1000)} {
		want := slices.Clone(x)
		slices.Sort(want)
		SortHashes(x)
		if !slices.Equal(x, want) {
			t.Fatalf("%d keys: not sorted", len(x))
		}
	}
}

// spread returns n random keys, a tenth of them repeats of others.
func spread(rng *rand.Rand, n int) []uint64 {
	x := make([]uint64, n)
	for i := range x {
		x[i] = rng.Uint64()
		if i > 0 && i%10 == 0 {
			x[i] = x[rng.IntN(i)]
		}
	}
	return x
}

func TestSum(t *testing.T) {
	var s Sum
	s.Add(1e16)
	for range 1000 {
		s.Add(1)
	}
	s.Add(-1e16)
	if s.Value() != 1000 {
		t.Errorf("sum = %v, want 1000", s.Value())
	}
}

func BenchmarkSort(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := make([]float64, 1000000)
	for i := range x {
		x[i] = math.Round(rng.ExpFloat64()*10000) / 100
	}
	y := make([]float64, len(x))
	b.SetBytes(int64(8 * len(x)))
	for b.Loop() {
		copy(y, x)
		Sort(y)
	}
}

// BenchmarkSortHashes sorts hashes of a million ids.
func BenchmarkSortHashes(b *testing.B) {
	x := spread(rand.New(rand.NewPCG(7, 8)), 1000000)
	y := make([]uint64, len(x))
	b.SetBytes(int64(8 * len(x)))
	for b.Loop() {
		copy(y, x)
		SortHashes(y)
	}
}

// BenchmarkSortHours sorts a column of whole numbers in a small range, which is
// counted.
func BenchmarkSortHours(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := make([]float64, 1000000)
	for i := range x {
		x[i] = float64(rng.IntN(24))
	}
	y := make([]float64, len(x))
	b.SetBytes(int64(8 * len(x)))
	for b.Loop() {
		copy(y, x)
		Sort(y)
	}
}

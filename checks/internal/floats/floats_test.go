package floats

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
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
		slices.SortFunc(want, cmpBits)
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

// TestSortBits checks Sort bit for bit against a comparison sort, on columns
// of every kind and at lengths on both sides of each limit: values at full
// precision, runs of values sharing their top bits as long as an insertion sort
// takes, as a narrow and a wide radix sort takes, a column whose sample misses
// the bits that vary, and zeros, subnormals and infinities of both signs.
func TestSortBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	// run returns values in runs of r that share their top 33 bits below a
	// common 1, whose low bits, below those, are random.
	run := func(r int, low uint) func(int) float64 {
		return func(i int) float64 {
			top := uint64(i/r) * 0x9e3779b97f4a7c15 & (1<<topBits - 1)
			return 1 + float64(top<<low|rng.Uint64()&(1<<low-1))*0x1p-52
		}
	}
	cases := []struct {
		name string
		n    int
		gen  func(i int) float64
	}{
		{"amounts", 100000, func(int) float64 { return amount(rng, 0) }},
		{"scores", 100000, func(int) float64 { return score(rng, 0) }},
		{"mixed signs", 100000, func(int) float64 { return rng.NormFloat64() }},
		{"cents", 100000, func(int) float64 { return math.Round(amount(rng, 0)*100) / 100 }},
		{"one value", 1000, func(int) float64 { return 0.1 }},
		{"one value and another", 1000, func(i int) float64 { return 0.1 + float64(i/999)*0x1p-55 }},
		{"runs of 2", 100000, run(2, 19)},
		{"runs of insertion", 10000, run(runInsertionLimit, 19)},
		{"runs past insertion", 10000, run(runInsertionLimit+1, 19)},
		{"runs of narrow digits", 3 * bigRun, run(bigRun, 19)},
		{"runs of wide digits", 3 * (bigRun + 1), run(bigRun+1, 19)},
		{"runs differing in the last bit", 10000, run(100, 1)},
		{"runs of one value", 10000, run(1000, 0)},
		{"one run", 10000, func(int) float64 { return 1 + float64(rng.IntN(1<<31))*0x1p-52 }},
		{"32 bits vary", 10000, func(int) float64 { return 1 + float64(rng.IntN(1<<32))*0x1p-52 }},
		{"33 bits vary", 10000, func(int) float64 { return 1 + float64(rng.Int64N(1<<33))*0x1p-52 }},
		{"34 bits vary", 10000, func(int) float64 { return 1 + float64(rng.Int64N(1<<34))*0x1p-52 }},
		{"large whole numbers", 10000, func(int) float64 { return float64(rng.Int64N(1 << 40)) }},
		{"outlier off the sample", 100000, func(i int) float64 {
			if i == 1 {
				return 1e300
			}
			return 1 + rng.Float64()
		}},
		{"outlier a bit off the sample", 100000, func(i int) float64 {
			if i == 1 {
				return 1 + 0x1p40*0x1p-52
			}
			return 1 + float64(rng.Int64N(1<<40))*0x1p-52
		}},
		{"negative outlier off the sample", 100000, func(i int) float64 {
			if i == 1 {
				return -1e-300
			}
			return 1 + rng.Float64()
		}},
		{"ascending", 100000, func(i int) float64 { return float64(i) * 1.5 }},
		{"zeros", 10000, func(i int) float64 { return math.Copysign(0, float64(i%2)-0.5) }},
		{"edges", 10000, func(i int) float64 {
			edges := []float64{0, math.Copysign(0, -1), 0x1p-1074, -0x1p-1074, 0x1p-1022, -0x1p-1022,
				math.MaxFloat64, -math.MaxFloat64, math.Inf(1), math.Inf(-1), 0x1p-1060, -0x1p-1060}
			if i%2 == 0 {
				return edges[rng.IntN(len(edges))]
			}
			return float64(rng.IntN(3)-1) * float64(rng.Int64N(1<<52)) * 0x1p-1074
		}},
	}
	for _, c := range cases {
		for _, n := range []int{insertionLimit - 1, insertionLimit, insertionLimit + 1, c.n} {
			x := make([]float64, n)
			for i := range x {
				x[i] = c.gen(i)
			}
			if c.name != "ascending" && !strings.Contains(c.name, "sample") {
				rng.Shuffle(len(x), func(i, j int) { x[i], x[j] = x[j], x[i] })
			}
			want := slices.Clone(x)
			slices.SortFunc(want, cmpBits)
			Sort(x)
			if n < insertionLimit {
				// The insertion sort of a short slice leaves -0 and +0 in
				// their order: the values must be sorted and the same.
				if !slices.IsSorted(x) {
					t.Fatalf("%s, %d values: not sorted", c.name, n)
				}
				slices.SortStableFunc(x, cmpBits)
			}
			for i := range x {
				if math.Float64bits(x[i]) != math.Float64bits(want[i]) {
					t.Fatalf("%s, %d values: [%d] = %v, want %v", c.name, n, i, x[i], want[i])
				}
			}
		}
	}
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

// BenchmarkSortColumns sorts columns as they are read: amounts and scores at full
// precision, short decimals, and keys that share most of their bits.
func BenchmarkSortColumns(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
		gen  func(rng *rand.Rand, i int) float64
	}{
		{"amounts-1M", 1 << 20, amount},
		{"amounts-10M", 10 << 20, amount},
		{"scores-1M", 1 << 20, score},
		{"cents-1M", 1 << 20, func(rng *rand.Rand, _ int) float64 { return math.Round(amount(rng, 0)*100) / 100 }},
		{"integers-1M", 1 << 20, func(rng *rand.Rand, _ int) float64 { return float64(rng.IntN(1 << 30)) }},
		{"one-value-1M", 1 << 20, func(*rand.Rand, int) float64 { return 0.1 }},
		{"tiny-range-1M", 1 << 20, func(rng *rand.Rand, _ int) float64 { return 1 + float64(rng.IntN(1<<20))*0x1p-52 }},
		{"runs-of-40-1M", 1 << 20, func(rng *rand.Rand, i int) float64 {
			return 1 + float64(i/40)*0x1p-20 + float64(rng.IntN(1<<20))*0x1p-52
		}},
	} {
		rng := rand.New(rand.NewPCG(11, 12))
		x := make([]float64, c.n)
		for i := range x {
			x[i] = c.gen(rng, i)
		}
		rng.Shuffle(len(x), func(i, j int) { x[i], x[j] = x[j], x[i] })
		y := make([]float64, len(x))
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(8 * len(x)))
			for b.Loop() {
				copy(y, x)
				Sort(y)
			}
		})
	}
}

// amount is lognormal, as transaction amounts are.
func amount(rng *rand.Rand, _ int) float64 { return math.Exp(3.5 + 1.1*rng.NormFloat64()) }

// score is a probability in (0, 1), most of them small, as a classifier's are.
func score(rng *rand.Rand, _ int) float64 { return 1 / (1 + math.Exp(1.6-1.2*rng.NormFloat64())) }

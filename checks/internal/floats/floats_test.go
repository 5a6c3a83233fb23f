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

func TestSortUint64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]uint64, 50000)
	for i := range x {
		x[i] = rng.Uint64() >> (i % 64)
	}
	want := slices.Clone(x)
	slices.Sort(want)
	SortUint64(x)
	if !slices.Equal(x, want) {
		t.Fatal("not sorted")
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

package drift

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkCompareNumeric compares two sorted samples of a million values.
func BenchmarkCompareNumeric(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ref, cur := make([]float64, 1000000), make([]float64, 1000000)
	for i := range ref {
		ref[i] = math.Round(rng.ExpFloat64()*10000) / 100
		cur[i] = math.Round(rng.ExpFloat64()*11000) / 100
	}
	slices.Sort(ref)
	slices.Sort(cur)
	for b.Loop() {
		CompareNumeric(ref, cur)
	}
}

func TestCompareCategorical(t *testing.T) {
	// Categories in one sample only; a proportion of 0 counts as 0.0001 for PSI.
	c := CompareCategorical([]int{5, 5, 0}, []int{0, 5, 5})
	want := 2 * (0.5 - 0.0001) * math.Log(0.5/0.0001)
	if math.Abs(c.PSI-want) > 1e-12 || math.Abs(c.JensenShannon-math.Sqrt(0.5)) > 1e-12 {
		t.Errorf("got %+v, want psi %v and js %v", c, want, math.Sqrt(0.5))
	}
	if c := CompareCategorical([]int{0, 0}, []int{1, 2}); !math.IsNaN(c.PSI) || !math.IsNaN(c.JensenShannon) {
		t.Errorf("an empty sample gives %+v", c)
	}
}

func TestJudge(t *testing.T) {
	th := Thresholds{NumericMethod: MethodAuto, CategoricalMethod: MethodJensenShannon, KSPValue: 0.05, WassersteinNormed: 0.1, JensenShannon: 0.1, PSI: 0.2}
	n := Numeric{KSPValue: 0.01, WassersteinNormed: 0.05, PSI: 0.3}
	if m, d := th.JudgeNumeric(n, 1000); m != MethodKS || !d {
		t.Errorf("1000 rows: %s %v", m, d)
	}
	if m, d := th.JudgeNumeric(n, 1001); m != MethodWasserstein || d {
		t.Errorf("1001 rows: %s %v", m, d)
	}
	if _, d := th.JudgeNumeric(Numeric{KSPValue: math.NaN()}, 10); !d {
		t.Error("an undefined p-value does not drift")
	}
	th.NumericMethod = MethodPSI
	if m, d := th.JudgeNumeric(n, 10); m != MethodPSI || !d {
		t.Errorf("psi: %s %v", m, d)
	}
	if err := (Thresholds{NumericMethod: "chi2", CategoricalMethod: MethodPSI}).Validate(); err == nil {
		t.Error("an unknown method is valid")
	}
}

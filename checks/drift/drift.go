// Package drift measures how far the distribution of a column has moved between
// a reference sample and a current one, with the statistics that scipy and
// Evidently compute, and judges each column against thresholds.
package drift

import (
	"math"
	"sort"

	"github.com/modelgate/modelgate/checks/internal/floats"
)

// Numeric is the drift of a numeric column. A statistic that is undefined for the
// samples (an empty sample) is NaN.
type Numeric struct {
	KSStatistic       float64
	KSPValue          float64
	PSI               float64
	Wasserstein       float64
	WassersteinNormed float64
}

// CompareNumeric compares two samples of a numeric column. Both must be sorted
// in ascending order and hold no NaN.
//
//   - KSStatistic and KSPValue: scipy.stats.ks_2samp(ref, cur), two-sided, with
//     the p-value of method='asymp'.
//   - Wasserstein: scipy.stats.wasserstein_distance(ref, cur); WassersteinNormed
//     divides it by max(numpy.std(ref), 0.001), as Evidently does.
//   - PSI: see PSI.
func CompareNumeric(ref, cur []float64) Numeric {
	if len(ref) == 0 || len(cur) == 0 {
		nan := math.NaN()
		return Numeric{nan, nan, nan, nan, nan}
	}
	d, w := ksWasserstein(ref, cur)
	return Numeric{
		KSStatistic:       d,
		KSPValue:          ksTwoSampleP(d, len(ref), len(cur)),
		PSI:               psiNumeric(ref, cur),
		Wasserstein:       w,
		WassersteinNormed: w / math.Max(std(ref), 0.001),
	}
}

// ksWasserstein walks the two empirical distribution functions once, over the
// distinct values of both samples: the KS statistic is their largest distance
// (scipy's max of cdf1−cdf2 and of its negation), the Wasserstein distance the
// area between them.
func ksWasserstein(ref, cur []float64) (d, w float64) {
	n1, n2 := float64(len(ref)), float64(len(cur))
	i, j := 0, 0
	maxS, minS := math.Inf(-1), math.Inf(1)
	var area floats.Sum
	for v := nextValue(ref, cur, i, j); ; {
		for i < len(ref) && ref[i] <= v {
			i++
		}
		for j < len(cur) && cur[j] <= v {
			j++
		}
		// Never NaN, nor -0 (which math.Max and math.Min would order before
		// +0): a comparison gives what they would, without their call.
		diff := float64(i)/n1 - float64(j)/n2
		if diff > maxS {
			maxS = diff
		}
		if diff < minS {
			minS = diff
		}
		if i == len(ref) && j == len(cur) {
			break
		}
		next := nextValue(ref, cur, i, j)
		area.Add(math.Abs(diff) * (next - v))
		v = next
	}
	minS = clip01(-minS)
	d = maxS
	if minS > maxS {
		d = minS
	}
	return d, area.Value()
}

// nextValue is the smaller of ref[i] and cur[j], whichever exist: math.Min's
// value for numbers that are not NaN, -0 before +0.
func nextValue(ref, cur []float64, i, j int) float64 {
	switch {
	case i == len(ref):
		return cur[j]
	case j == len(cur):
		return ref[i]
	}
	a, b := ref[i], cur[j]
	if a < b || a == b && math.Signbit(a) {
		return a
	}
	return b
}

// std is numpy.std: the population standard deviation, from the mean.
func std(x []float64) float64 {
	var s floats.Sum
	for _, v := range x {
		s.Add(v)
	}
	mean := s.Value() / float64(len(x))
	var ss floats.Sum
	for _, v := range x {
		ss.Add((v - mean) * (v - mean))
	}
	return math.Sqrt(ss.Value() / float64(len(x)))
}

// psiBins is the number of equal-frequency bins of a numeric column's PSI.
const psiBins = 10

// psiFloor replaces a proportion of 0, whose logarithm PSI cannot take.
const psiFloor = 0.0001

// psiNumeric is the population stability index over 10 bins cut at the deciles of
// the reference, numpy.quantile(ref, [0.1, …, 0.9]) with linear interpolation.
// The outer bins are open; a value equal to a cut falls in the bin above it, as
// numpy.histogram places it.
func psiNumeric(ref, cur []float64) float64 {
	var cuts [psiBins - 1]float64
	for k := range cuts {
		cuts[k] = quantile(ref, float64(k+1)/psiBins)
	}
	var r, c [psiBins]float64
	binCounts(ref, cuts[:], r[:])
	binCounts(cur, cuts[:], c[:])
	return psi(r[:], c[:], float64(len(ref)), float64(len(cur)))
}

// binCounts counts the sorted values below each cut, bin by bin.
func binCounts(sorted []float64, cuts []float64, counts []float64) {
	below := 0
	for k, cut := range cuts {
		n := sort.SearchFloat64s(sorted, cut) // values < cut
		counts[k] = float64(n - below)
		below = n
	}
	counts[len(cuts)] = float64(len(sorted) - below)
}

// psi is Σ (c−r)·ln(c/r) over bins of proportions, a proportion of 0 replaced by
// psiFloor.
func psi(ref, cur []float64, nRef, nCur float64) float64 {
	var s floats.Sum
	for k := range ref {
		r, c := ref[k]/nRef, cur[k]/nCur
		if r == 0 {
			r = psiFloor
		}
		if c == 0 {
			c = psiFloor
		}
		s.Add((c - r) * math.Log(c/r))
	}
	return s.Value()
}

// quantile is numpy.quantile(sorted, q) with the default linear method, to the
// last bit: numpy's virtual index and its two-sided interpolation.
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	vi := float64(n-1) * q
	if vi >= float64(n-1) {
		return sorted[n-1]
	}
	lo := math.Floor(vi)
	a, b := sorted[int(lo)], sorted[int(lo)+1]
	gamma := vi - lo
	diff := b - a
	if gamma >= 0.5 {
		return b - diff*(1-gamma)
	}
	return a + diff*gamma
}

// Categorical is the drift of a categorical column; NaN where undefined.
type Categorical struct {
	PSI           float64
	JensenShannon float64
}

// CompareCategorical compares the counts of each category in two samples;
// ref[k] and cur[k] count the same category, one of either sample.
//
//   - PSI: one bin per category, see psi.
//   - JensenShannon: scipy.spatial.distance.jensenshannon of the proportions,
//     base 2, which is in [0, 1].
func CompareCategorical(ref, cur []int) Categorical {
	var nRef, nCur int
	for k := range ref {
		nRef += ref[k]
		nCur += cur[k]
	}
	if nRef == 0 || nCur == 0 {
		return Categorical{math.NaN(), math.NaN()}
	}
	r, c := make([]float64, len(ref)), make([]float64, len(cur))
	for k := range ref {
		r[k], c[k] = float64(ref[k]), float64(cur[k])
	}
	return Categorical{
		PSI:           psi(r, c, float64(nRef), float64(nCur)),
		JensenShannon: jensenShannon(r, c, float64(nRef), float64(nCur)),
	}
}

// jensenShannon is scipy's jensenshannon(p, q, base=2) of two count vectors.
func jensenShannon(p, q []float64, np, nq float64) float64 {
	var left, right floats.Sum
	for k := range p {
		pk, qk := p[k]/np, q[k]/nq
		m := (pk + qk) / 2
		left.Add(relEntr(pk, m))
		right.Add(relEntr(qk, m))
	}
	js := (left.Value() + right.Value()) / math.Ln2
	return math.Sqrt(js / 2)
}

// relEntr is scipy.special.rel_entr for the arguments jensenShannon gives it.
func relEntr(x, y float64) float64 {
	if x == 0 {
		return 0
	}
	return x * math.Log(x/y)
}

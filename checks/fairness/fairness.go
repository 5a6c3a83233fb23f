// Package fairness compares a binary classifier's behaviour across the groups of
// a sensitive attribute, with fairlearn's definitions. A rate that is undefined
// for a group (no positives for the true positive rate, no negatives for the
// false positive rate) is NaN and takes no part in the differences and ratios.
package fairness

import "math"

// Group is one group's counts and rates.
type Group struct {
	Count         int
	SelectionRate float64 // share predicted positive
	TPR           float64 // true positive rate, NaN without positives
	FPR           float64 // false positive rate, NaN without negatives
	Accuracy      float64
}

// Attribute is the comparison across the groups of one attribute.
type Attribute struct {
	Groups []Group // in the order of the group codes
	// DemographicParityDifference and …Ratio are the max−min and min/max of the
	// selection rates (fairlearn's between_groups).
	DemographicParityDifference float64
	DemographicParityRatio      float64
	// EqualizedOddsDifference is the larger of the max−min of the true positive
	// rates and of the false positive rates.
	EqualizedOddsDifference float64
	// EqualOpportunityDifference is the max−min of the true positive rates.
	EqualOpportunityDifference float64
	// DisparateImpactRatio is the smallest selection rate of a group divided by
	// the reference group's, or DemographicParityRatio without one.
	DisparateImpactRatio float64
}

// Compare computes the attribute's comparison. groups holds each row's group
// code in [0, n), or -1 for a row without one, which is left out; labels and
// predictions are 0 or 1. reference is the code of the reference group, or -1.
func Compare(labels, predictions []int32, groups []int32, n int, reference int) Attribute {
	type counts struct{ tp, fp, tn, fn int }
	c := make([]counts, n)
	for i, g := range groups {
		if g < 0 {
			continue
		}
		k := &c[g]
		switch y, p := labels[i], predictions[i]; {
		case y == 1 && p == 1:
			k.tp++
		case y == 1:
			k.fn++
		case p == 1:
			k.fp++
		default:
			k.tn++
		}
	}
	a := Attribute{Groups: make([]Group, n)}
	var sel, tpr, fpr spread
	for g, k := range c {
		count := k.tp + k.fp + k.tn + k.fn
		grp := Group{
			Count:         count,
			SelectionRate: ratio(k.tp+k.fp, count),
			TPR:           ratio(k.tp, k.tp+k.fn),
			FPR:           ratio(k.fp, k.fp+k.tn),
			Accuracy:      ratio(k.tp+k.tn, count),
		}
		a.Groups[g] = grp
		sel.add(grp.SelectionRate)
		tpr.add(grp.TPR)
		fpr.add(grp.FPR)
	}
	a.DemographicParityDifference = sel.difference()
	a.DemographicParityRatio = sel.ratio()
	a.EqualOpportunityDifference = tpr.difference()
	a.EqualizedOddsDifference = maxDefined(tpr.difference(), fpr.difference())
	a.DisparateImpactRatio = a.DemographicParityRatio
	if reference >= 0 {
		a.DisparateImpactRatio = disparateImpact(a.Groups, reference)
	}
	return a
}

// disparateImpact is min over groups of selection_rate(g)/selection_rate(ref):
// undefined when the reference group selects no one or has no rows.
func disparateImpact(groups []Group, reference int) float64 {
	ref := groups[reference].SelectionRate
	if !(ref > 0) {
		return math.NaN()
	}
	low := math.Inf(1)
	for _, g := range groups {
		if !math.IsNaN(g.SelectionRate) {
			low = math.Min(low, g.SelectionRate/ref)
		}
	}
	return low
}

// spread tracks the smallest and largest defined rate.
type spread struct {
	low, high float64
	n         int
}

func (s *spread) add(v float64) {
	if math.IsNaN(v) {
		return
	}
	if s.n == 0 {
		s.low, s.high = v, v
	}
	s.low, s.high = math.Min(s.low, v), math.Max(s.high, v)
	s.n++
}

func (s *spread) difference() float64 {
	if s.n == 0 {
		return math.NaN()
	}
	return s.high - s.low
}

func (s *spread) ratio() float64 {
	if s.n == 0 || s.high == 0 {
		return math.NaN()
	}
	return s.low / s.high
}

// maxDefined is the larger of a and b where defined.
func maxDefined(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return math.Max(a, b)
}

func ratio(num, den int) float64 {
	if den == 0 {
		return math.NaN()
	}
	return float64(num) / float64(den)
}

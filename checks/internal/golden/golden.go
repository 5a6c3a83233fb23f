// Package golden compares numbers with the reference implementations' to the
// tolerances the evidence promises.
package golden

import "math"

// Tolerances: 1e-9 relative for every statistic, 1e-6 for the KS p-value, whose
// series scipy sums in double-double precision. Below Floor, where the values
// are rounding noise around 0, the difference is absolute.
const (
	Relative      = 1e-9
	KSPValue      = 1e-6
	Floor         = 1e-15
	KSPValueFloor = 1e-300
)

// Close reports whether got equals want to the relative tolerance rel, NaN
// equalling only NaN.
func Close(got, want, rel float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	diff := math.Abs(got - want)
	return diff <= rel*math.Max(math.Abs(got), math.Abs(want)) || diff <= Floor
}

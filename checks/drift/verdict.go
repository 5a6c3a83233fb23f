package drift

import (
	"fmt"
	"math"
)

// Methods of judging a column.
const (
	MethodAuto          = "auto"
	MethodKS            = "ks"
	MethodWasserstein   = "wasserstein"
	MethodPSI           = "psi"
	MethodJensenShannon = "jensen_shannon"
)

// autoKSRows is the largest reference sample that Evidently's default judges
// with the KS test rather than the Wasserstein distance.
const autoKSRows = 1000

// Thresholds decide which columns drift.
type Thresholds struct {
	NumericMethod     string  // auto, ks, wasserstein or psi
	CategoricalMethod string  // jensen_shannon or psi
	KSPValue          float64 // drift below it
	WassersteinNormed float64 // drift at or above it
	JensenShannon     float64 // drift at or above it
	PSI               float64 // drift at or above it
	ShareDrifted      float64
}

// Validate reports thresholds that name an unknown method.
func (t Thresholds) Validate() error {
	switch t.NumericMethod {
	case MethodAuto, MethodKS, MethodWasserstein, MethodPSI:
	default:
		return fmt.Errorf("unknown numeric drift method %q (want auto, ks, wasserstein or psi)", t.NumericMethod)
	}
	switch t.CategoricalMethod {
	case MethodJensenShannon, MethodPSI:
	default:
		return fmt.Errorf("unknown categorical drift method %q (want jensen_shannon or psi)", t.CategoricalMethod)
	}
	return nil
}

// JudgeNumeric returns the method that judges a numeric column and whether it
// drifted. auto is Evidently's default: the KS p-value when the reference has
// at most 1000 rows, else the normed Wasserstein distance. A statistic that is
// undefined cannot show that the column kept its distribution, so it drifts.
func (t Thresholds) JudgeNumeric(n Numeric, referenceRows int) (method string, drifted bool) {
	method = t.NumericMethod
	if method == MethodAuto {
		method = MethodWasserstein
		if referenceRows <= autoKSRows {
			method = MethodKS
		}
	}
	switch method {
	case MethodKS:
		return method, !(n.KSPValue >= t.KSPValue)
	case MethodWasserstein:
		return method, !(n.WassersteinNormed < t.WassersteinNormed)
	}
	return method, !(n.PSI < t.PSI)
}

// JudgeCategorical returns the method that judges a categorical column and
// whether it drifted; an undefined statistic drifts.
func (t Thresholds) JudgeCategorical(c Categorical) (method string, drifted bool) {
	if t.CategoricalMethod == MethodPSI {
		return MethodPSI, !(c.PSI < t.PSI)
	}
	return MethodJensenShannon, !(c.JensenShannon < t.JensenShannon)
}

// ShareDrifted is the share of drifted columns, NaN for none.
func ShareDrifted(drifted, columns int) float64 {
	if columns == 0 {
		return math.NaN()
	}
	return float64(drifted) / float64(columns)
}

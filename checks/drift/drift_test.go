package drift

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/modelgate/modelgate/checks/internal/golden"
)

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// nullable is a golden number; JSON null is NaN.
type nullable float64

func (n *nullable) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = nullable(math.NaN())
		return nil
	}
	var f float64
	err := json.Unmarshal(b, &f)
	*n = nullable(f)
	return err
}

// TestKSTwoSF compares the distribution of the KS statistic with
// scipy.stats.kstwo.sf over each of its regimes.
func TestKSTwoSF(t *testing.T) {
	var cases []struct {
		N  float64  `json:"n"`
		D  float64  `json:"d"`
		SF nullable `json:"sf"`
	}
	readJSON(t, "../testdata/kstwo.json", &cases)
	if len(cases) < 100 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		got := kstwoSF(c.D, c.N)
		if !golden.Close(got, float64(c.SF), golden.KSPValue) && !(got < golden.KSPValueFloor && float64(c.SF) < golden.KSPValueFloor) {
			t.Errorf("kstwo.sf(%v, %v) = %v, want %v", c.D, c.N, got, float64(c.SF))
		}
	}
}

// TestCompareNumeric compares every numeric statistic with scipy's on sample
// pairs from 1 to thousands of values, with ties.
func TestCompareNumeric(t *testing.T) {
	var cases []struct {
		Reference         []float64 `json:"reference"`
		Current           []float64 `json:"current"`
		KSStatistic       nullable  `json:"ks_statistic"`
		KSPValue          nullable  `json:"ks_pvalue"`
		PSI               nullable  `json:"psi"`
		Wasserstein       nullable  `json:"wasserstein"`
		WassersteinNormed nullable  `json:"wasserstein_normed"`
	}
	readJSON(t, "../testdata/drift.json", &cases)
	for _, c := range cases {
		ref, cur := slices.Clone(c.Reference), slices.Clone(c.Current)
		slices.Sort(ref)
		slices.Sort(cur)
		got := CompareNumeric(ref, cur)
		for _, s := range []struct {
			name      string
			got, want float64
			rel       float64
		}{
			{"ks_statistic", got.KSStatistic, float64(c.KSStatistic), golden.Relative},
			{"ks_pvalue", got.KSPValue, float64(c.KSPValue), golden.KSPValue},
			{"psi", got.PSI, float64(c.PSI), golden.Relative},
			{"wasserstein", got.Wasserstein, float64(c.Wasserstein), golden.Relative},
			{"wasserstein_normed", got.WassersteinNormed, float64(c.WassersteinNormed), golden.Relative},
		} {
			if !golden.Close(s.got, s.want, s.rel) {
				t.Errorf("%d vs %d values: %s = %v, want %v", len(ref), len(cur), s.name, s.got, s.want)
			}
		}
	}
}

package compliance

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/modelgate/modelgate/internal/gitops"
)

// Evidence is the key numbers of an evidence document (SPEC §3), each with
// the threshold the decision judged it by where the decision recorded its
// thresholds. A null number was absent or undefined.
type Evidence struct {
	Schema         string   `json:"schema"`
	DataRows       *int64   `json:"data_rows"`
	ContractPassed *bool    `json:"contract_passed"`
	Metrics        []Metric `json:"metrics"`
	// MaxRegression is how much worse than its baseline a metric may be.
	MaxRegression  *float64 `json:"max_regression"`
	ShareDrifted   *float64 `json:"share_drifted"`
	DriftedColumns []string `json:"drifted_columns"`
	// ShareDriftedMax is the share of drifted columns that denies.
	ShareDriftedMax *float64 `json:"share_drifted_max"`
	Drift           []Drift  `json:"drift"`
	// Fairness has one entry per sensitive attribute, by name.
	Fairness []Fairness `json:"fairness"`
	Lineage  *Lineage   `json:"lineage"`
}

// Metric is an evaluation metric of the model and of its baseline.
type Metric struct {
	Name     string   `json:"name"`
	Value    *float64 `json:"value"`
	Baseline *float64 `json:"baseline"`
	// Threshold is the configured bound of the metric for the task: a
	// minimum, or for the metrics where lower is better (LowerIsBetter) a
	// maximum; null without one.
	Threshold     *float64 `json:"threshold"`
	LowerIsBetter bool     `json:"lower_is_better"`
}

// Drift is the drift of one column.
type Drift struct {
	Column string `json:"column"`
	Kind   string `json:"kind"`
	Method string `json:"method"`
	// Statistic is the value of the statistic the method judges by, named
	// by StatisticName; Threshold its configured threshold. A column drifts
	// when a p-value falls below its threshold (LowerDrifts) or any other
	// statistic reaches it.
	StatisticName string   `json:"statistic_name"`
	Statistic     *float64 `json:"statistic"`
	Threshold     *float64 `json:"threshold"`
	LowerDrifts   bool     `json:"lower_drifts"`
	Drifted       bool     `json:"drifted"`
}

// Fairness is the fairness of the model across one sensitive attribute.
type Fairness struct {
	Attribute               string   `json:"attribute"`
	ReferenceGroup          string   `json:"reference_group,omitempty"`
	DisparateImpactRatio    *float64 `json:"disparate_impact_ratio"`
	EqualizedOddsDifference *float64 `json:"equalized_odds_difference"`
	// DisparateImpactMin and EqualizedOddsMax are the thresholds; null when
	// the decision recorded none. Pass is whether both metrics meet them;
	// null when a metric or a threshold is missing.
	DisparateImpactMin *float64 `json:"disparate_impact_min"`
	EqualizedOddsMax   *float64 `json:"equalized_odds_max"`
	Pass               *bool    `json:"pass"`
	// Groups are the attribute's groups, by name.
	Groups []Group `json:"groups"`
}

// Group is one group of a sensitive attribute.
type Group struct {
	Group         string   `json:"group"`
	Count         *int64   `json:"count"`
	SelectionRate *float64 `json:"selection_rate"`
	TPR           *float64 `json:"tpr"`
	FPR           *float64 `json:"fpr"`
}

// Lineage is what the checks found of the model's lineage: DVC-tracked
// files and the MLflow run, and where they disagree with the manifest.
type Lineage struct {
	DVCFiles     *int64     `json:"dvc_files"`
	MLflowRun    string     `json:"mlflow_run,omitempty"`
	MLflowStatus string     `json:"mlflow_status,omitempty"`
	Mismatches   []Mismatch `json:"mismatches"`
}

// Mismatch is a lineage cross-check that failed.
type Mismatch struct {
	Source   string `json:"source"`
	Subject  string `json:"subject"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	Message  string `json:"message"`
}

// lowerIsBetter are the metrics whose configured "minimum" is a maximum
// (policies/evaluation.rego).
var lowerIsBetter = map[string]bool{"log_loss": true, "brier": true, "rmse": true, "mae": true}

// driftStatistics maps a drift method to the statistic it judges by, as
// policies/data.rego reads it.
var driftStatistics = map[string]string{
	"ks": "ks_pvalue", "ks_pvalue": "ks_pvalue", "wasserstein": "wasserstein_normed", "wasserstein_normed": "wasserstein_normed",
	"psi": "psi", "jensen_shannon": "jensen_shannon", "jensenshannon": "jensen_shannon",
}

func driftThreshold(t gitops.DriftThresholds, statistic string) float64 {
	switch statistic {
	case "ks_pvalue":
		return t.KSPValue
	case "wasserstein_normed":
		return t.WassersteinNormed
	case "jensen_shannon":
		return t.JensenShannon
	}
	return t.PSI
}

// summarize picks the key numbers out of an evidence document and puts each
// beside its threshold; th is nil when the decision recorded none.
func summarize(raw json.RawMessage, th *gitops.Thresholds) (*Evidence, error) {
	var doc struct {
		Schema string `json:"schema"`
		Data   struct {
			Rows     *int64 `json:"rows"`
			Contract struct {
				Passed *bool `json:"passed"`
			} `json:"contract"`
		} `json:"data"`
		Drift struct {
			Columns      map[string]map[string]any `json:"columns"`
			ShareDrifted *float64                  `json:"share_drifted"`
		} `json:"drift"`
		Evaluation struct {
			Task     string              `json:"task"`
			Metrics  map[string]*float64 `json:"metrics"`
			Baseline struct {
				Metrics map[string]*float64 `json:"metrics"`
			} `json:"baseline"`
		} `json:"evaluation"`
		Fairness map[string]struct {
			ReferenceGroup          string   `json:"reference_group"`
			DisparateImpactRatio    *float64 `json:"disparate_impact_ratio"`
			EqualizedOddsDifference *float64 `json:"equalized_odds_difference"`
			Groups                  map[string]struct {
				Count         *int64   `json:"count"`
				SelectionRate *float64 `json:"selection_rate"`
				TPR           *float64 `json:"tpr"`
				FPR           *float64 `json:"fpr"`
			} `json:"groups"`
		} `json:"fairness"`
		Lineage *struct {
			DVC *struct {
				Files *int64 `json:"files"`
			} `json:"dvc"`
			MLflow *struct {
				RunID  string `json:"run_id"`
				Status string `json:"status"`
			} `json:"mlflow"`
			Mismatches []Mismatch `json:"mismatches"`
		} `json:"lineage"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	e := &Evidence{Schema: doc.Schema, DataRows: doc.Data.Rows, ContractPassed: doc.Data.Contract.Passed,
		ShareDrifted: doc.Drift.ShareDrifted, Metrics: []Metric{}, DriftedColumns: []string{}, Drift: []Drift{}, Fairness: []Fairness{}}
	if th != nil {
		e.MaxRegression = &th.Evaluation.MaxRegression
		e.ShareDriftedMax = &th.Drift.ShareDrifted
	}
	names := map[string]bool{}
	for n := range doc.Evaluation.Metrics {
		names[n] = true
	}
	for n := range doc.Evaluation.Baseline.Metrics {
		names[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		m := Metric{Name: n, Value: doc.Evaluation.Metrics[n], Baseline: doc.Evaluation.Baseline.Metrics[n], LowerIsBetter: lowerIsBetter[n]}
		if th != nil {
			if v, ok := th.Evaluation.Minimum[doc.Evaluation.Task][n]; ok {
				m.Threshold = &v
			}
		}
		e.Metrics = append(e.Metrics, m)
	}
	for _, c := range slices.Sorted(maps.Keys(doc.Drift.Columns)) {
		col := doc.Drift.Columns[c]
		d := Drift{Column: c}
		d.Kind, _ = col["kind"].(string)
		d.Method, _ = col["method"].(string)
		d.Drifted, _ = col["drifted"].(bool)
		d.StatisticName = driftStatistics[d.Method]
		if v, ok := col[d.StatisticName].(float64); ok {
			d.Statistic = &v
		}
		d.LowerDrifts = d.StatisticName == "ks_pvalue"
		if th != nil && d.StatisticName != "" {
			v := driftThreshold(th.Drift, d.StatisticName)
			d.Threshold = &v
		}
		if d.Drifted {
			e.DriftedColumns = append(e.DriftedColumns, c)
		}
		e.Drift = append(e.Drift, d)
	}
	for _, a := range slices.Sorted(maps.Keys(doc.Fairness)) {
		f := doc.Fairness[a]
		fa := Fairness{Attribute: a, ReferenceGroup: f.ReferenceGroup, DisparateImpactRatio: f.DisparateImpactRatio,
			EqualizedOddsDifference: f.EqualizedOddsDifference, Groups: []Group{}}
		for _, g := range slices.Sorted(maps.Keys(f.Groups)) {
			gr := f.Groups[g]
			fa.Groups = append(fa.Groups, Group{Group: g, Count: gr.Count, SelectionRate: gr.SelectionRate, TPR: gr.TPR, FPR: gr.FPR})
		}
		if th != nil {
			fa.DisparateImpactMin, fa.EqualizedOddsMax = &th.Fairness.DisparateImpactMin, &th.Fairness.EqualizedOddsMax
			if fa.DisparateImpactRatio != nil && fa.EqualizedOddsDifference != nil {
				pass := *fa.DisparateImpactRatio >= *fa.DisparateImpactMin && *fa.EqualizedOddsDifference <= *fa.EqualizedOddsMax
				fa.Pass = &pass
			}
		}
		e.Fairness = append(e.Fairness, fa)
	}
	if l := doc.Lineage; l != nil {
		e.Lineage = &Lineage{Mismatches: l.Mismatches}
		if e.Lineage.Mismatches == nil {
			e.Lineage.Mismatches = []Mismatch{}
		}
		if l.DVC != nil {
			e.Lineage.DVCFiles = l.DVC.Files
		}
		if l.MLflow != nil {
			e.Lineage.MLflowRun, e.Lineage.MLflowStatus = l.MLflow.RunID, l.MLflow.Status
		}
	}
	return e, nil
}

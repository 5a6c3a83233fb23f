package compliance

import "github.com/modelgate/modelgate/internal/chart"

// DecisionCharts are the charts the report draws of a decision's evidence:
// fairness per group and drift per column against their thresholds. A view
// of the report other than its own formats draws these, so that it shows the
// charts the report shows.
func (r *Report) DecisionCharts(d Decision) []chart.Chart {
	if d.Evidence == nil {
		return nil
	}
	return figures(r.evidence(d.Seq, d.Evidence))
}

// TrendCharts are the charts the report draws of each metric across the
// versions, against its threshold; none with fewer than two versions.
func (r *Report) TrendCharts() []chart.Chart {
	return figures(r.trends())
}

func figures(blocks []block) []chart.Chart {
	var out []chart.Chart
	for _, b := range blocks {
		if b.Kind == figure {
			out = append(out, b.Chart)
		}
	}
	return out
}

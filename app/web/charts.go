package web

import (
	"bytes"
	"html/template"
	"math"
	"slices"

	"github.com/modelgate/modelgate/internal/chart"
	"github.com/modelgate/modelgate/internal/compliance"
)

// chartView is a chart drawn for a page.
type chartView struct {
	SVG template.HTML
}

// formatNumber writes a number as the charts label it, so that a table and
// the chart beside it say the same.
func formatNumber(v float64) string { return chart.Label(v) }

func value(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

// draw renders charts for a page. chart.SVG escapes every text it writes,
// which is what makes its output safe to embed as HTML.
func draw(charts ...chart.Chart) []chartView {
	var out []chartView
	for _, c := range charts {
		var buf bytes.Buffer
		if err := chart.SVG(&buf, c); err != nil {
			continue // a bytes.Buffer does not fail
		}
		out = append(out, chartView{SVG: template.HTML(buf.String())})
	}
	return out
}

// evidenceCharts are the charts of a decision's evidence.
func evidenceCharts(e *compliance.Evidence) []chartView {
	if e == nil {
		return nil
	}
	var charts []chart.Chart
	if len(e.Metrics) > 0 {
		b := chart.Bars{Title: "Metrics against the baseline", Series: []string{"model", "baseline"}}
		for _, m := range e.Metrics {
			b.Groups = append(b.Groups, chart.Group{Label: m.Name, Values: []float64{value(m.Value), value(m.Baseline)}})
		}
		charts = append(charts, b)
	}
	if len(e.Fairness) > 0 {
		b := chart.Bars{Title: "Fairness per sensitive attribute", Series: []string{"disparate impact ratio", "equalized odds difference"}}
		for _, f := range e.Fairness {
			b.Groups = append(b.Groups, chart.Group{Label: f.Attribute, Values: []float64{value(f.DisparateImpactRatio), value(f.EqualizedOddsDifference)}})
		}
		charts = append(charts, b)
	}
	return draw(charts...)
}

// metricCharts draw each metric across the model's versions, in the order
// the versions first appear: a version's value is that of the evidence of
// its latest decision.
func metricCharts(rep *compliance.Report) []chartView {
	var points []string
	var evidence []*compliance.Evidence
	var names []string
	for _, v := range rep.Versions {
		e := latestEvidence(v)
		if e == nil {
			continue
		}
		points, evidence = append(points, v.Version), append(evidence, e)
		for _, m := range e.Metrics {
			if !slices.Contains(names, m.Name) {
				names = append(names, m.Name)
			}
		}
	}
	var charts []chart.Chart
	for _, n := range names {
		values := make([]float64, len(evidence))
		for i, e := range evidence {
			values[i] = math.NaN()
			if j := slices.IndexFunc(e.Metrics, func(m compliance.Metric) bool { return m.Name == n }); j >= 0 {
				values[i] = value(e.Metrics[j].Value)
			}
		}
		charts = append(charts, chart.Lines{Title: n + " across versions", Points: points, Series: []chart.Series{{Name: n, Values: values}}})
	}
	return draw(charts...)
}

// latestEvidence is the evidence of the latest decision of a version that
// has any.
func latestEvidence(v compliance.Version) *compliance.Evidence {
	var last int64
	var e *compliance.Evidence
	for _, st := range v.Stages {
		for _, p := range st.Proposals {
			for _, d := range p.Decisions {
				if d.Evidence != nil && d.Seq > last {
					last, e = d.Seq, d.Evidence
				}
			}
		}
	}
	return e
}

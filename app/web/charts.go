package web

import (
	"bytes"
	"html/template"

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

// evidenceCharts are the report's charts of a decision's evidence.
func evidenceCharts(rep *compliance.Report, d compliance.Decision) []chartView {
	return draw(rep.DecisionCharts(d)...)
}

// metricCharts are the report's charts of each metric across the versions.
func metricCharts(rep *compliance.Report) []chartView {
	return draw(rep.TrendCharts()...)
}

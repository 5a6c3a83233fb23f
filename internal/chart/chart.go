// Package chart draws the few charts a compliance reviewer reads at a glance:
// grouped bars against threshold lines (selection rate, TPR and FPR per group;
// a drift statistic per column) and a metric across versions against its
// minimum. A chart is a plain value; SVG renders it as a self-contained SVG
// document and Draw onto a PDF page as vector drawings, both from one layout
// so that the two say the same.
//
// Every number drawn is also written as a text label and listed in the
// chart's description, so that a reader who cannot see the picture, or a
// tool extracting its text, loses nothing.
package chart

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Chart is a chart that can be rendered: a Bars or a Lines.
type Chart interface {
	// plot lays the chart out on a surface w by h units wide, with text
	// measured by width.
	plot(w, h float64, width measure) []shape
	// summary is the chart's description with every number it shows.
	summary() string
	heading() string
}

// Bars is a grouped bar chart: one group of bars per Group, one bar in each
// per Series, with threshold lines across the chart and, per group, an
// optional threshold of its own.
type Bars struct {
	Title string
	// Description says what the chart shows; the numbers are appended to it
	// in the accessible description.
	Description string
	Series      []string
	Groups      []Group
	// Thresholds are drawn as dashed lines across all groups.
	Thresholds []Threshold
}

// Group is one group of bars.
type Group struct {
	Label string
	// Values has one value per series of the chart, in its order; NaN (or a
	// missing value) is drawn as "n/a". A value below zero is drawn as a bar
	// of zero height, labelled with the value.
	Values []float64
	// Limit, when set, is a threshold of this group alone, such as a drift
	// column's own threshold, drawn across its bars.
	Limit *Threshold
}

// Threshold is a horizontal line at Value, labelled with Label.
type Threshold struct {
	Label string
	Value float64
}

// Lines is a chart of values across points in order, such as a metric
// across versions: points joined by lines, one line per series.
type Lines struct {
	Title       string
	Description string
	// Points label the x axis, in order.
	Points []string
	// Series have one value per point; NaN breaks the line.
	Series     []Series
	Thresholds []Threshold
}

// Series is one line of a Lines chart.
type Series struct {
	Name   string
	Values []float64
}

func (b Bars) heading() string  { return b.Title }
func (l Lines) heading() string { return l.Title }

// Label formats a value as the charts write it: four significant digits,
// "n/a" for NaN.
func Label(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func value(vs []float64, i int) float64 {
	if i < len(vs) {
		return vs[i]
	}
	return math.NaN()
}

func (b Bars) summary() string {
	var parts []string
	if b.Description != "" {
		parts = append(parts, strings.TrimSuffix(b.Description, ".")+".")
	}
	for _, g := range b.Groups {
		var vs []string
		for i, s := range b.Series {
			vs = append(vs, s+" "+Label(value(g.Values, i)))
		}
		line := g.Label + ": " + strings.Join(vs, ", ")
		if g.Limit != nil {
			line += fmt.Sprintf(" (%s %s)", g.Limit.Label, Label(g.Limit.Value))
		}
		parts = append(parts, line+".")
	}
	for _, t := range b.Thresholds {
		parts = append(parts, fmt.Sprintf("Threshold %s: %s.", t.Label, Label(t.Value)))
	}
	return strings.Join(parts, " ")
}

func (l Lines) summary() string {
	var parts []string
	if l.Description != "" {
		parts = append(parts, strings.TrimSuffix(l.Description, ".")+".")
	}
	for _, s := range l.Series {
		var vs []string
		for i, p := range l.Points {
			vs = append(vs, p+" "+Label(value(s.Values, i)))
		}
		parts = append(parts, s.Name+": "+strings.Join(vs, ", ")+".")
	}
	for _, t := range l.Thresholds {
		parts = append(parts, fmt.Sprintf("Threshold %s: %s.", t.Label, Label(t.Value)))
	}
	return strings.Join(parts, " ")
}

// Summary is the text alternative of a chart: its title and every number
// it shows, as its SVG's <desc> has them.
func Summary(c Chart) string {
	return c.heading() + ". " + c.summary()
}

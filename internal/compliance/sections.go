package compliance

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/internal/chart"
)

// decision lays out one decision: what it said, what it was judged on, and
// against which thresholds. Every row names the decision's record.
func (r *Report) decision(d Decision) []block {
	out := []block{
		{Kind: heading, Level: 4, ID: anchor(d.Seq), Text: fmt.Sprintf("Decision #%d: %s on head %s", d.Seq, verdict(d), short(d.HeadSHA))},
		{Kind: list, Items: []item{
			r.item(d.Seq, fmt.Sprintf("%s  judged for %s", stamp(d.RecordedAt), orNone(d.Actor))),
			r.item(d.Seq, "Policy bundle: "+orNone(d.BundleDigest)),
			r.item(d.Seq, "Input digest: "+orNone(d.InputDigest)),
		}},
	}
	msgs := table{Header: []string{"Verdict", "Code", "Message"}}
	for _, m := range d.Deny {
		msgs.Rows = append(msgs.Rows, r.row(d.Seq, "deny", orNone(m.Code), m.Text()))
	}
	for _, m := range d.Warn {
		text := m.Text()
		if m.Waiver != nil {
			text += " (waived)"
		}
		msgs.Rows = append(msgs.Rows, r.row(d.Seq, "warn", orNone(m.Code), text))
	}
	for _, w := range d.Warnings {
		msgs.Rows = append(msgs.Rows, r.row(d.Seq, "gate warning", "", w))
	}
	if len(msgs.Rows) > 0 {
		out = append(out, block{Kind: tabular, Table: msgs})
	}
	if len(d.Waivers) > 0 {
		w := table{Header: []string{"Waiver of", "Approved by", "Expires", "Reason"}}
		for _, v := range d.Waivers {
			w.Rows = append(w.Rows, r.row(d.Seq, v.Code, orNone(v.ApprovedBy), orNone(v.Expires), v.Reason))
		}
		out = append(out, block{Kind: tabular, Table: w})
	}
	if len(d.Approvals) == 0 {
		out = append(out, block{Kind: list, Items: []item{r.item(d.Seq, "Approvals given: none")}})
	} else {
		a := table{Header: []string{"Approved by", "Teams", "Head", "Counted"}}
		for i, ap := range d.Approvals {
			counted := "yes"
			if c := d.Counted[i]; !c.Counted {
				counted = "no: " + c.Reason
			}
			a.Rows = append(a.Rows, r.row(d.Seq, ap.User, orNone(strings.Join(ap.Teams, ", ")), short(ap.SHA), counted))
		}
		out = append(out, block{Kind: tabular, Table: a})
	}
	if d.Evidence == nil {
		return append(out, block{Kind: list, Items: []item{r.item(d.Seq, "Evidence: none recorded")}})
	}
	return append(out, r.evidence(d.Seq, d.Evidence)...)
}

func anchor(seq int64) string { return "record-" + strconv.FormatInt(seq, 10) }

func (r *Report) evidence(seq int64, e *Evidence) []block {
	data := "Data: " + optInt(e.DataRows) + " rows"
	if e.ContractPassed != nil {
		data += map[bool]string{true: ", contract passed", false: ", contract FAILED"}[*e.ContractPassed]
	}
	out := []block{{Kind: list, Items: []item{r.item(seq, data)}}}
	if len(e.Metrics) > 0 {
		t := table{Header: []string{"Metric", "Value", "Baseline", "Threshold", "Pass"}}
		for _, m := range e.Metrics {
			th, pass := "n/a", "n/a"
			if m.Threshold != nil {
				bound, ok := "minimum ", m.Value != nil && *m.Value >= *m.Threshold
				if m.LowerIsBetter {
					bound, ok = "maximum ", m.Value != nil && *m.Value <= *m.Threshold
				}
				th, pass = bound+num(m.Threshold), yesNo(ok)
			}
			t.Rows = append(t.Rows, r.row(seq, m.Name, num(m.Value), num(m.Baseline), th, pass))
		}
		out = append(out, block{Kind: tabular, Table: t})
		if e.MaxRegression != nil {
			out = append(out, block{Kind: list, Items: []item{r.item(seq, "Largest regression allowed against the baseline: "+num(e.MaxRegression))}})
		}
	}
	for _, f := range e.Fairness {
		line := fmt.Sprintf("Fairness by %s: disparate impact ratio %s, equalized odds difference %s", f.Attribute, num(f.DisparateImpactRatio), num(f.EqualizedOddsDifference))
		if f.DisparateImpactMin != nil {
			line += fmt.Sprintf("; thresholds: disparate impact at least %s, equalized odds at most %s", num(f.DisparateImpactMin), num(f.EqualizedOddsMax))
		}
		if f.Pass != nil {
			line += map[bool]string{true: "; PASS", false: "; FAIL"}[*f.Pass]
		}
		if f.ReferenceGroup != "" {
			line += "; reference group " + f.ReferenceGroup
		}
		out = append(out, block{Kind: list, Items: []item{r.item(seq, line)}})
		t := table{Header: []string{"Group", "Count", "Selection rate", "TPR", "FPR"}}
		bars := chart.Bars{Title: "Fairness by " + f.Attribute, Description: "Selection rate, true and false positive rate per group",
			Series: []string{"selection rate", "TPR", "FPR"}}
		for _, g := range f.Groups {
			t.Rows = append(t.Rows, r.row(seq, g.Group, optInt(g.Count), num(g.SelectionRate), num(g.TPR), num(g.FPR)))
			bars.Groups = append(bars.Groups, chart.Group{Label: g.Group, Values: []float64{value(g.SelectionRate), value(g.TPR), value(g.FPR)}})
		}
		out = append(out, block{Kind: tabular, Table: t})
		if f.DisparateImpactMin != nil {
			// The four-fifths rule bounds each group's selection rate from
			// below by a share of the highest (or the reference group's).
			ref := math.NaN()
			for _, g := range f.Groups {
				if g.SelectionRate != nil && (g.Group == f.ReferenceGroup || (f.ReferenceGroup == "" && (math.IsNaN(ref) || *g.SelectionRate > ref))) {
					ref = *g.SelectionRate
				}
			}
			if !math.IsNaN(ref) {
				bars.Thresholds = append(bars.Thresholds, chart.Threshold{Label: "lowest selection rate allowed", Value: ref * *f.DisparateImpactMin})
			}
		}
		if len(f.Groups) > 0 {
			out = append(out, block{Kind: figure, Chart: bars})
		}
	}
	if len(e.Drift) > 0 || e.ShareDrifted != nil {
		line := "Drift: share of columns drifted " + num(e.ShareDrifted)
		if e.ShareDriftedMax != nil {
			line += ", denied from " + num(e.ShareDriftedMax)
		}
		if len(e.DriftedColumns) > 0 {
			line += " (" + strings.Join(e.DriftedColumns, ", ") + ")"
		}
		out = append(out, block{Kind: list, Items: []item{r.item(seq, line)}})
	}
	if len(e.Drift) > 0 {
		t := table{Header: []string{"Column", "Method", "Statistic", "Value", "Threshold", "Drifted"}}
		bars := chart.Bars{Title: "Drift per column", Description: "The statistic each column is judged by, against its threshold", Series: []string{"statistic"}}
		for _, c := range e.Drift {
			th := num(c.Threshold)
			if c.Threshold != nil && c.LowerDrifts {
				th = "below " + th
			}
			t.Rows = append(t.Rows, r.row(seq, c.Column, orNone(c.Method), orNone(c.StatisticName), num(c.Statistic), th, yesNo(c.Drifted)))
			g := chart.Group{Label: c.Column + " (" + orNone(c.StatisticName) + ")", Values: []float64{value(c.Statistic)}}
			if c.Threshold != nil {
				g.Limit = &chart.Threshold{Label: "threshold", Value: *c.Threshold}
			}
			bars.Groups = append(bars.Groups, g)
		}
		out = append(out, block{Kind: tabular, Table: t}, block{Kind: figure, Chart: bars})
	}
	return out
}

// cards lays out the model cards, and each metric across the versions.
func (r *Report) cards() []block {
	out := []block{{Kind: heading, Level: 2, Text: "Model card"}}
	if len(r.Cards) == 0 {
		return append(out, block{Kind: paragraph, Text: "No manifest is recorded for the model."})
	}
	for _, c := range r.Cards {
		out = append(out, block{Kind: heading, Level: 3, Text: "Version " + orNone(c.Version)})
		if c.Seq != 0 {
			t := table{Header: []string{"Field", "Value"}}
			for _, f := range [][2]string{{"Owner", c.Owner}, {"Risk tier", c.RiskTier}, {"Description", c.Description}, {"Task", c.Task},
				{"Intended use", c.IntendedUse}, {"Limitations", c.Limitations}, {"Artifact", c.ArtifactURI}, {"Artifact digest", c.ArtifactDigest},
				{"Framework", c.Framework}} {
				t.Rows = append(t.Rows, r.row(c.Seq, f[0], orNone(f[1])))
			}
			if l := c.Lineage; l != nil {
				if l.Code != nil {
					t.Rows = append(t.Rows, r.row(c.Seq, "Code", l.Code.Repository+" at "+l.Code.Commit))
				}
				for _, d := range l.Datasets {
					t.Rows = append(t.Rows, r.row(c.Seq, "Dataset "+d.Name, fmt.Sprintf("%s %s %s", d.URI, d.Path, orNone(d.Digest))))
				}
				if m := l.MLflow; m != nil {
					t.Rows = append(t.Rows, r.row(c.Seq, "MLflow run", strings.TrimSpace(m.TrackingURI+" "+m.RunID)))
				}
			}
			if lc := c.LineageChecks; lc != nil {
				if lc.DVCFiles != nil {
					t.Rows = append(t.Rows, r.row(c.Seq, "DVC cross-check", optInt(lc.DVCFiles)+" tracked files read"))
				}
				if lc.MLflowRun != "" {
					t.Rows = append(t.Rows, r.row(c.Seq, "MLflow cross-check", "run "+lc.MLflowRun+" "+lc.MLflowStatus))
				}
				for _, m := range lc.Mismatches {
					t.Rows = append(t.Rows, r.row(c.Seq, "Lineage MISMATCH ("+m.Source+")", m.Message))
				}
				if len(lc.Mismatches) == 0 {
					t.Rows = append(t.Rows, r.row(c.Seq, "Lineage cross-checks", "no mismatch"))
				}
			}
			out = append(out, block{Kind: tabular, Table: t})
		}
		if len(c.EvidenceSources) == 0 {
			out = append(out, block{Kind: paragraph, Text: "Evidence source: computed by modelgate on the repository's files; no workflow uploaded evidence."})
			continue
		}
		t := table{Header: []string{"Evidence uploaded by workflow", "Run", "Actor", "Head", "Verified"}}
		for _, s := range c.EvidenceSources {
			t.Rows = append(t.Rows, r.row(s.Seq, orNone(s.Workflow), orNone(s.Repository)+" run "+orNone(s.RunID)+" attempt "+orNone(s.RunAttempt),
				orNone(s.Actor), short(s.HeadSHA), stamp(s.VerifiedAt)))
		}
		out = append(out, block{Kind: tabular, Table: t})
	}
	return append(out, r.trends()...)
}

// trends charts each metric across versions, from each version's latest
// decision with evidence.
func (r *Report) trends() []block {
	var versions []string
	latest := map[string]*Decision{}
	for vi := range r.Versions {
		v := &r.Versions[vi]
		for si := range v.Stages {
			for pi := range v.Stages[si].Proposals {
				for di := range v.Stages[si].Proposals[pi].Decisions {
					d := &v.Stages[si].Proposals[pi].Decisions[di]
					if d.Evidence == nil {
						continue
					}
					if latest[v.Version] == nil {
						versions = append(versions, v.Version)
					}
					if latest[v.Version] == nil || d.Seq > latest[v.Version].Seq {
						latest[v.Version] = d
					}
				}
			}
		}
	}
	if len(versions) < 2 {
		return nil
	}
	var names []string
	for _, v := range versions {
		for _, m := range latest[v].Evidence.Metrics {
			if !slices.Contains(names, m.Name) {
				names = append(names, m.Name)
			}
		}
	}
	out := []block{{Kind: heading, Level: 3, Text: "Metrics across versions"}}
	for _, n := range names {
		l := chart.Lines{Title: n + " across versions", Points: versions, Series: []chart.Series{{Name: n}}}
		t := table{Header: []string{"Version", n, "Threshold"}}
		var th *float64
		for _, v := range versions {
			d := latest[v]
			val := math.NaN()
			for _, m := range d.Evidence.Metrics {
				if m.Name == n {
					val = value(m.Value)
					th = cmp.Or(m.Threshold, th) // the latest version's, where it recorded one
					t.Rows = append(t.Rows, r.row(d.Seq, v, num(m.Value), num(m.Threshold)))
				}
			}
			l.Series[0].Values = append(l.Series[0].Values, val)
		}
		if th != nil {
			l.Thresholds = []chart.Threshold{{Label: "threshold", Value: *th}}
		}
		out = append(out, block{Kind: tabular, Table: t}, block{Kind: figure, Chart: l})
	}
	return out
}

func value(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

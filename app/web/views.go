package web

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/compliance"
)

// modelView is a model's page: where each version stands in each stage, and
// every step of its history in time order, in the column of its stage.
type modelView struct {
	Model    string
	Stages   []string
	Versions []versionRow
	Timeline []step
	Formats  []string
	Charts   []chartView
}

// versionRow is one version's state in each stage (a cell per stage of the
// view, empty where the version never went).
type versionRow struct {
	Version string
	Cells   []*cell
}

type cell struct {
	State string
	Since time.Time
	By    string
	Link  string
}

// step is one record of the timeline, shown in column Column of the view's
// stages.
type step struct {
	compliance.Source
	Version, Stage string
	Column         int
	What, Actor    string
	Link           string
	// Tone is "ok", "bad" or "": how the step reads at a glance.
	Tone       string
	Unverified bool
}

func decisionLink(model string, seq int64) string {
	return "/models/" + pathEscape(model) + "/decisions/" + strconv.FormatInt(seq, 10)
}

func newModelView(rep *compliance.Report) modelView {
	v := modelView{Model: rep.Model, Formats: reportFormats}
	for _, ver := range rep.Versions {
		for _, st := range ver.Stages {
			if !slices.Contains(v.Stages, st.Stage) {
				v.Stages = append(v.Stages, st.Stage)
			}
		}
	}
	for _, ver := range rep.Versions {
		row := versionRow{Version: ver.Version, Cells: make([]*cell, len(v.Stages))}
		for _, st := range rep.Summary {
			if st.Version != ver.Version || !slices.Contains(v.Stages, st.Stage) {
				continue
			}
			c := &cell{State: st.State, Since: st.Since, By: st.By}
			if st.Decision != 0 {
				c.Link = decisionLink(rep.Model, st.Decision)
			}
			row.Cells[slices.Index(v.Stages, st.Stage)] = c
		}
		for _, st := range ver.Stages {
			col := slices.Index(v.Stages, st.Stage)
			for _, s := range stageSteps(rep, ver.Version, st) {
				s.Column = col
				v.Timeline = append(v.Timeline, s)
			}
		}
		v.Versions = append(v.Versions, row)
	}
	slices.SortFunc(v.Timeline, func(a, b step) int { return cmp.Compare(a.Seq, b.Seq) })
	v.Charts = metricCharts(rep)
	return v
}

// stageSteps are the records of a version in a stage as timeline steps.
func stageSteps(rep *compliance.Report, version string, st compliance.Stage) []step {
	var steps []step
	add := func(src compliance.Source, what, actor, link, tone string) {
		steps = append(steps, step{Source: src, Version: version, Stage: st.Stage, What: what, Actor: actor, Link: link,
			Tone: tone, Unverified: !rep.Chain.Verifies(src.Seq)})
	}
	for _, p := range st.Proposals {
		for _, d := range p.Decisions {
			what, tone := "denied", "bad"
			if d.Allow {
				what, tone = "allowed", "ok"
			}
			add(d.Source, what+proposalName(p), p.Author, decisionLink(rep.Model, d.Seq), tone)
		}
		for _, m := range p.Merges {
			add(m.Source, "merged"+proposalName(p), m.Actor, "", "ok")
		}
		for _, r := range p.Refusals {
			add(r.Source, "merge refused: "+r.Reason, "", "", "bad")
		}
	}
	for _, e := range st.Events {
		tone := ""
		if e.Kind == audit.KindRollback {
			tone = "bad"
		}
		add(e.Source, string(e.Kind), e.Actor, "", tone)
	}
	return steps
}

func proposalName(p compliance.Proposal) string {
	if p.PullRequest == 0 {
		return ""
	}
	return " (#" + strconv.Itoa(p.PullRequest) + ")"
}

// versionView is a version's page: its proposals and events per stage.
type versionView struct {
	Model   string
	Version compliance.Version
	Chain   compliance.Chain
	Formats []string
}

func newVersionView(rep *compliance.Report, v compliance.Version) versionView {
	return versionView{Model: rep.Model, Version: v, Chain: rep.Chain, Formats: reportFormats}
}

// decisionView is a decision's page.
type decisionView struct {
	Model, Version, Stage string
	Proposal              compliance.Proposal
	Decision              compliance.Decision
	Verified              bool
	Charts                []chartView
}

// located is a decision and where in the report it is.
type located struct {
	Version, Stage string
	Proposal       compliance.Proposal
	Decision       compliance.Decision
}

func findDecision(rep *compliance.Report, seq int64) (located, bool) {
	for _, v := range rep.Versions {
		for _, st := range v.Stages {
			for _, p := range st.Proposals {
				for _, d := range p.Decisions {
					if d.Seq == seq {
						return located{v.Version, st.Stage, p, d}, true
					}
				}
			}
		}
	}
	return located{}, false
}

func newDecisionView(rep *compliance.Report, l located) decisionView {
	return decisionView{Model: rep.Model, Version: l.Version, Stage: l.Stage, Proposal: l.Proposal, Decision: l.Decision,
		Verified: rep.Chain.Verifies(l.Decision.Seq), Charts: evidenceCharts(rep, l.Decision)}
}

package compliance

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The Markdown, HTML and PDF renderings share one outline, so that they say
// the same things in the same order.

type blockKind int

const (
	heading blockKind = iota
	paragraph
	alert // something the reader must not miss: a broken chain, unreadable records
	list
)

type block struct {
	Kind  blockKind
	Level int // of a heading, 1 to 4
	Text  string
	Items []item
}

// item is one line of a list, traced to the record it comes from.
type item struct {
	Text string
	// Seq is the record the line comes from; 0 when it is a summary.
	Seq int64
	// Unverified is set when the record is not covered by an intact chain.
	Unverified bool
	Details    []string
}

// IsHeading and the like let the HTML template tell blocks apart.
func (b block) IsHeading() bool   { return b.Kind == heading }
func (b block) IsParagraph() bool { return b.Kind == paragraph }
func (b block) IsAlert() bool     { return b.Kind == alert }
func (b block) IsList() bool      { return b.Kind == list }

// Ref is how an item names its record in text.
func (it item) Ref() string {
	switch {
	case it.Seq == 0:
		return ""
	case it.Unverified:
		return fmt.Sprintf("record #%d, UNVERIFIED", it.Seq)
	}
	return fmt.Sprintf("record #%d", it.Seq)
}

func (r *Report) title() string {
	if r.Version != "" {
		return fmt.Sprintf("Compliance report: %s %s", r.Model, r.Version)
	}
	return "Compliance report: " + r.Model
}

func (r *Report) outline() []block {
	var out []block
	add := func(b block) { out = append(out, b) }
	add(block{Kind: heading, Level: 1, Text: r.title()})
	add(block{Kind: paragraph, Text: fmt.Sprintf("Generated %s from the audit log. Every line names the audit record it comes from.", stamp(r.GeneratedAt))})
	switch {
	case r.Chain.Intact:
		add(block{Kind: paragraph, Text: fmt.Sprintf("Audit chain intact: %d %s verified.", r.Chain.Verified, plural(r.Chain.Verified, "record"))})
	case r.Chain.FirstBad == 0:
		add(block{Kind: alert, Text: fmt.Sprintf("AUDIT LOG BROKEN: %s. No record is verified; every line is marked UNVERIFIED.", r.Chain.Reason)})
	default:
		add(block{Kind: alert, Text: fmt.Sprintf("AUDIT CHAIN BROKEN at record #%d: %s. Only the records before it are verified; lines from record #%d on are marked UNVERIFIED.",
			r.Chain.FirstBad, r.Chain.Reason, r.Chain.FirstBad)})
	}
	if len(r.Unreadable) > 0 {
		add(block{Kind: alert, Text: "Some records could not be fully read:"})
		var items []item
		for _, p := range r.Unreadable {
			items = append(items, r.item(p.Seq, p.Reason))
		}
		add(block{Kind: list, Items: items})
	}
	for _, v := range r.Versions {
		add(block{Kind: heading, Level: 2, Text: "Version " + orNone(v.Version)})
		for _, s := range v.Stages {
			add(block{Kind: heading, Level: 3, Text: fmt.Sprintf("%s in %s", orNone(v.Version), orNone(s.Stage))})
			add(block{Kind: paragraph, Text: stageSummary(s)})
			for _, p := range s.Proposals {
				out = append(out, r.proposal(p)...)
			}
			if len(s.Events) > 0 {
				add(block{Kind: heading, Level: 4, Text: "Deployments and other records"})
				var items []item
				for _, e := range s.Events {
					items = append(items, r.event(e))
				}
				add(block{Kind: list, Items: items})
			}
		}
	}
	return out
}

func (r *Report) item(seq int64, text string, details ...string) item {
	return item{Text: text, Seq: seq, Unverified: seq != 0 && !r.Chain.Verifies(seq), Details: details}
}

func stageSummary(s Stage) string {
	var merged *Proposal
	for i := range s.Proposals {
		if s.Proposals[i].Status == StatusMerged {
			merged = &s.Proposals[i]
		}
	}
	if merged == nil {
		if len(s.Proposals) == 0 {
			return "No proposal recorded."
		}
		last := s.Proposals[len(s.Proposals)-1]
		return fmt.Sprintf("Not merged. Latest proposal: %s, %s.", proposalName(last), strings.ReplaceAll(last.Status, "_", " "))
	}
	m := merged.Merges[len(merged.Merges)-1]
	replaced := "new to the stage"
	if merged.Replaced != "" {
		replaced = "replacing " + merged.Replaced
	}
	return fmt.Sprintf("Merged %s by %s, commit %s, %s.", stamp(m.RecordedAt), proposalName(*merged), orNone(m.CommitSHA), replaced)
}

func proposalName(p Proposal) string {
	if p.PullRequest == 0 {
		return fmt.Sprintf("local gate run of %s in %s", short(p.HeadSHA), orNone(p.Repository))
	}
	return fmt.Sprintf("pull request #%d of %s", p.PullRequest, orNone(p.Repository))
}

func (r *Report) proposal(p Proposal) []block {
	name := proposalName(p)
	// The summary comes from the latest decision.
	var src int64
	if len(p.Decisions) > 0 {
		src = p.Decisions[len(p.Decisions)-1].Seq
	}
	fields := []item{
		r.item(src, "Proposed by: "+orNone(p.Author)),
		r.item(src, fmt.Sprintf("Base: %s at %s", orNone(p.BaseRef), orNone(p.BaseSHA))),
		r.item(src, "Head: "+orNone(p.HeadSHA)),
	}
	if p.Removal {
		fields = append(fields, r.item(src, "Removes it from the stage"))
	} else if p.Replaced != "" {
		fields = append(fields, r.item(src, "Replaces: "+p.Replaced))
	} else {
		fields = append(fields, r.item(src, "Replaces: nothing (the model was new to the stage)"))
	}
	if p.FromStage != "" {
		fields = append(fields, r.item(src, "Promoted from: "+p.FromStage))
	}
	if p.Rollback {
		fields = append(fields, r.item(src, "Rollback: yes"))
	}
	if p.ManifestPath != "" {
		fields = append(fields, r.item(src, "Manifest: "+p.ManifestPath))
	}
	fields = append(fields, item{Text: "Status: " + strings.ReplaceAll(p.Status, "_", " ")})

	var timeline []item
	for _, d := range p.Decisions {
		timeline = append(timeline, r.decision(d))
	}
	for _, a := range p.Approvals {
		text := fmt.Sprintf("%s  Approved by %s%s on head %s", stamp(a.RecordedAt), a.User, teams(a.Teams), short(a.HeadSHA))
		if a.SubmittedAt != "" {
			text += ", submitted " + a.SubmittedAt
		}
		timeline = append(timeline, r.item(a.Seq, text))
	}
	for _, u := range p.Pushes {
		timeline = append(timeline, r.item(u.Seq, fmt.Sprintf("%s  Pushed by %s, head %s", stamp(u.RecordedAt), u.User, short(u.HeadSHA))))
	}
	for _, m := range p.Merges {
		timeline = append(timeline, r.item(m.Seq, fmt.Sprintf("%s  Merged (%s) into %s as commit %s, head %s",
			stamp(m.RecordedAt), orNone(m.Method), orNone(m.BaseRef), orNone(m.CommitSHA), short(m.HeadSHA))))
	}
	for _, f := range p.Refusals {
		timeline = append(timeline, r.item(f.Seq, fmt.Sprintf("%s  Merge (%s) refused at head %s: %s",
			stamp(f.RecordedAt), orNone(f.Method), short(f.HeadSHA), orNone(f.Reason))))
	}
	sortBySeq(timeline, func(it item) int64 { return it.Seq })
	return []block{
		{Kind: heading, Level: 4, Text: strings.ToUpper(name[:1]) + name[1:]},
		{Kind: list, Items: fields},
		{Kind: paragraph, Text: "In time order:"},
		{Kind: list, Items: timeline},
	}
}

func (r *Report) decision(d Decision) item {
	verdict := "DENIED"
	if d.Allow {
		verdict = "ALLOWED"
	}
	var details []string
	details = append(details, "Policy bundle: "+orNone(d.BundleDigest), "Input digest: "+orNone(d.InputDigest))
	for _, m := range d.Deny {
		details = append(details, fmt.Sprintf("Deny %s: %s", orNone(m.Code), m.Msg))
	}
	for _, m := range d.Warn {
		text := fmt.Sprintf("Warn %s: %s", orNone(m.Code), m.Msg)
		if w := m.Waiver; w != nil {
			text += fmt.Sprintf(" (waiver for %s approved by %s, expires %s: %s)", w.Code, orNone(w.ApprovedBy), orNone(w.Expires), w.Reason)
		}
		details = append(details, text)
	}
	for _, w := range d.Warnings {
		details = append(details, "Gate warning: "+w)
	}
	if len(d.Approvals) > 0 {
		var names []string
		for _, a := range d.Approvals {
			names = append(names, fmt.Sprintf("%s%s on %s", a.User, teams(a.Teams), short(a.SHA)))
		}
		details = append(details, "Approvals given: "+strings.Join(names, "; "))
	} else {
		details = append(details, "Approvals given: none")
	}
	if e := d.Evidence; e != nil {
		details = append(details, evidenceLines(e)...)
	} else {
		details = append(details, "Evidence: none recorded")
	}
	text := fmt.Sprintf("%s  Decision %s on head %s, proposed by %s", stamp(d.RecordedAt), verdict, short(d.HeadSHA), orNone(d.Actor))
	return r.item(d.Seq, text, details...)
}

func evidenceLines(e *Evidence) []string {
	var lines []string
	data := "Data: " + optInt(e.DataRows) + " rows"
	if e.ContractPassed != nil {
		if *e.ContractPassed {
			data += ", contract passed"
		} else {
			data += ", contract FAILED"
		}
	}
	lines = append(lines, data)
	if len(e.Metrics) > 0 {
		var ms []string
		for _, m := range e.Metrics {
			s := m.Name + " " + num(m.Value)
			if m.Baseline != nil {
				s += " (baseline " + num(m.Baseline) + ")"
			}
			ms = append(ms, s)
		}
		lines = append(lines, "Evaluation: "+strings.Join(ms, ", "))
	}
	drift := "Drift: share of columns drifted " + num(e.ShareDrifted)
	if len(e.DriftedColumns) > 0 {
		drift += " (" + strings.Join(e.DriftedColumns, ", ") + ")"
	}
	lines = append(lines, drift)
	for _, f := range e.Fairness {
		lines = append(lines, fmt.Sprintf("Fairness by %s: disparate impact ratio %s, equalized odds difference %s",
			f.Attribute, num(f.DisparateImpactRatio), num(f.EqualizedOddsDifference)))
	}
	return lines
}

func (r *Report) event(e Event) item {
	text := fmt.Sprintf("%s  %s by %s", stamp(e.RecordedAt), e.Kind, orNone(e.Actor))
	if e.PullRequest != 0 {
		text += fmt.Sprintf(", pull request #%d", e.PullRequest)
	}
	if e.HeadSHA != "" {
		text += ", head " + short(e.HeadSHA)
	}
	return r.item(e.Seq, text, "Details: "+string(e.Details))
}

func teams(ts []string) string {
	if len(ts) == 0 {
		return ""
	}
	return " (" + strings.Join(ts, ", ") + ")"
}

func stamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// short abbreviates a commit SHA as git does, keeping enough to be unique in
// any repository a reviewer is likely to meet.
func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return orNone(sha)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func num(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'g', 4, 64)
}

func optInt(v *int64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatInt(*v, 10)
}

func plural(n int64, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

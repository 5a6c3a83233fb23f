package compliance

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/chart"
)

// The Markdown, HTML and PDF renderings share one outline, so that they say
// the same things in the same order.

type blockKind int

const (
	heading blockKind = iota
	paragraph
	alert // something the reader must not miss: a broken chain, unreadable records
	list
	tabular
	figure
)

type block struct {
	Kind  blockKind
	Level int // of a heading, 1 to 4
	// ID is a heading's anchor, which the summary links to.
	ID    string
	Text  string
	Items []item
	Table table
	Chart chart.Chart
}

// table is a table whose every row names the record it comes from.
type table struct {
	Header []string
	Rows   []row
}

type row struct {
	Cells      []string
	Seq        int64
	Unverified bool
	// Link is the anchor of the decision the row links to; empty for none.
	Link string
}

// Ref is how a row names its record in text.
func (r row) Ref() string { return item{Seq: r.Seq, Unverified: r.Unverified}.Ref() }

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
func (b block) IsTable() bool     { return b.Kind == tabular }
func (b block) IsChart() bool     { return b.Kind == figure }

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

// chainStatus is the audit chain's verdict as every page states it, and
// whether it is intact.
func (r *Report) chainStatus() (string, bool) {
	switch {
	case r.Chain.Intact:
		return fmt.Sprintf("Audit chain intact: %d %s verified.", r.Chain.Verified, plural(r.Chain.Verified, "record")), true
	case r.Chain.FirstBad == 0:
		return fmt.Sprintf("AUDIT LOG BROKEN: %s. No record is verified; every line is marked UNVERIFIED.", r.Chain.Reason), false
	}
	return fmt.Sprintf("AUDIT CHAIN BROKEN at record #%d: %s. Only the records before it are verified; lines from record #%d on are marked UNVERIFIED.",
		r.Chain.FirstBad, r.Chain.Reason, r.Chain.FirstBad), false
}

func (r *Report) outline() []block {
	var out []block
	add := func(b block) { out = append(out, b) }
	add(block{Kind: heading, Level: 1, Text: r.title()})
	add(block{Kind: paragraph, Text: fmt.Sprintf("Generated %s from the audit log. Every line names the audit record it comes from.", stamp(r.GeneratedAt))})
	if r.Since != nil {
		add(block{Kind: paragraph, Text: fmt.Sprintf("Records from %s on; the summary counts every record.", stamp(*r.Since))})
	}
	if status, ok := r.chainStatus(); ok {
		add(block{Kind: paragraph, Text: status})
	} else {
		add(block{Kind: alert, Text: status})
	}
	if len(r.Unreadable) > 0 {
		add(block{Kind: alert, Text: "Some records could not be fully read:"})
		var items []item
		for _, p := range r.Unreadable {
			items = append(items, r.item(p.Seq, p.Reason))
		}
		add(block{Kind: list, Items: items})
	}
	add(block{Kind: heading, Level: 2, Text: "Summary"})
	add(block{Kind: paragraph, Text: "Where each version stands in each stage; the record column names the latest decision on it there."})
	sum := table{Header: []string{"Version", "Stage", "State", "Since", "By", "State from"}}
	for _, st := range r.Summary {
		row := r.row(st.Decision, orNone(st.Version), orNone(st.Stage), st.State, stamp(st.Since), orNone(st.By), r.item(st.Seq, "").Ref())
		if st.Decision != 0 {
			row.Link = anchor(st.Decision)
		}
		sum.Rows = append(sum.Rows, row)
	}
	add(block{Kind: tabular, Table: sum})
	out = append(out, r.cards()...)
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
	// The chain's verdict closes the report too, so that no excerpt of it
	// loses the verdict.
	status, ok := r.chainStatus()
	add(block{Kind: map[bool]blockKind{true: paragraph, false: alert}[ok], Text: status})
	return out
}

func (r *Report) row(seq int64, cells ...string) row {
	return row{Cells: cells, Seq: seq, Unverified: seq != 0 && !r.Chain.Verifies(seq)}
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
		timeline = append(timeline, r.item(d.Seq, fmt.Sprintf("%s  Decision %s on head %s, proposed by %s", stamp(d.RecordedAt), verdict(d), short(d.HeadSHA), orNone(d.Actor))))
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
	out := []block{
		{Kind: heading, Level: 4, Text: strings.ToUpper(name[:1]) + name[1:]},
		{Kind: list, Items: fields},
		{Kind: paragraph, Text: "In time order:"},
		{Kind: list, Items: timeline},
	}
	for _, d := range p.Decisions {
		out = append(out, r.decision(d)...)
	}
	return out
}

func verdict(d Decision) string {
	if d.Allow {
		return "ALLOWED"
	}
	return "DENIED"
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

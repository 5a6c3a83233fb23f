// Package report renders a gate result for people: plain text for a terminal, and
// Markdown for a pull request comment or a check run summary.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
)

// Text writes the result for a terminal.
func Text(w io.Writer, res *gate.Result) error {
	p := printer{w: w}
	p.f("modelgate  %s  base %s  head %s\n", res.Repository, short(res.Base), short(res.Head))
	p.f("decision: %s\n", verdict(res.Allow))
	for _, j := range res.Judgements {
		p.f("\n%s: %s\n", title(j.Promotion), verdict(j.Decision.Allow))
		for _, m := range j.Decision.Deny {
			p.f("  deny  %-26s %s\n", m.Code, m.Text())
		}
		for _, m := range j.Decision.Warn {
			p.f("  warn  %-26s %s%s\n", m.Code, m.Text(), waivedMark(m))
		}
		for _, w := range waivers(j.Decision.Warn) {
			p.f("  waiver %-25s %s\n", w.Code, w)
		}
		if ev := parseEvidence(j.Evidence); ev != nil {
			if line := metricsLine(ev); line != "" {
				p.f("  metrics  %s\n", line)
			}
		}
	}
	for _, w := range res.Warnings {
		p.f("\nwarning: %s\n", w)
	}
	if res.BundleDigest != "" {
		p.f("\npolicy bundle %s\n", res.BundleDigest)
	}
	return p.err
}

// Markdown writes the result as GitHub-flavoured Markdown.
func Markdown(w io.Writer, res *gate.Result) error {
	p := printer{w: w}
	p.f("## modelgate: %s\n\n", mdVerdict(res.Allow))
	if res.Change != nil && len(res.Change.Promotions)+len(res.Change.Removals) > 0 {
		p.f("| Model | Version | Stage | Kind | Decision |\n|---|---|---|---|---|\n")
		for _, j := range res.Judgements {
			pr := j.Promotion
			if pr == nil {
				continue // the change as a whole was denied before any promotion was judged
			}
			from, to, stage := orNone(pr.FromVersion), pr.Version, orNone(pr.FromStage)+" → "+pr.ToStage
			if pr.Kind == gitops.KindRemoval {
				to, stage = orNone(""), pr.ToStage+" → "+orNone("")
			}
			p.f("| %s | %s → %s | %s | %s | %s |\n", pr.Model, from, to, stage, kind(pr), mdVerdict(j.Decision.Allow))
		}
		p.f("\n")
	}
	for _, j := range res.Judgements {
		p.f("### %s\n\n", title(j.Promotion))
		messages(&p, "Denied", j.Decision.Deny)
		messages(&p, "Warnings", j.Decision.Warn)
		if len(j.Decision.Deny) == 0 && len(j.Decision.Warn) == 0 {
			p.f("Every policy passed.\n\n")
		}
		evidenceTables(&p, parseEvidence(j.Evidence))
	}
	for _, w := range res.Warnings {
		p.f("> warning: %s\n\n", mdEscape(w))
	}
	if res.BundleDigest != "" {
		p.f("<sub>policy bundle `%s` · head `%s`</sub>\n", res.BundleDigest, short(res.Head))
	}
	return p.err
}

// MarkdownEvidence writes, for each promotion, the numbers its checks produced.
func MarkdownEvidence(w io.Writer, res *gate.Result) error {
	p := printer{w: w}
	for _, j := range res.Judgements {
		if j.Promotion == nil {
			continue
		}
		p.f("### %s\n\n", title(j.Promotion))
		ev := parseEvidence(j.Evidence)
		if ev == nil {
			p.f("No evidence: the checks did not run.\n\n")
			continue
		}
		if line := metricsLine(ev); line != "" {
			p.f("`%s`\n\n", line)
		}
		evidenceTables(&p, ev)
	}
	return p.err
}

// MarkdownMessages writes, for each judgement, the denials and warnings whose
// code keep accepts, or that none were found.
func MarkdownMessages(w io.Writer, res *gate.Result, keep func(code string) bool) error {
	p := printer{w: w}
	for _, j := range res.Judgements {
		deny := slices.DeleteFunc(slices.Clone(j.Decision.Deny), func(m policy.Message) bool { return !keep(m.Code) })
		warn := slices.DeleteFunc(slices.Clone(j.Decision.Warn), func(m policy.Message) bool { return !keep(m.Code) })
		p.f("### %s\n\n", title(j.Promotion))
		messages(&p, "Denied", deny)
		messages(&p, "Warnings", warn)
		if len(deny) == 0 && len(warn) == 0 {
			p.f("No problems found.\n\n")
		}
	}
	return p.err
}

func messages(p *printer, heading string, ms []policy.Message) {
	if len(ms) == 0 {
		return
	}
	p.f("**%s**\n\n", heading)
	for _, m := range ms {
		if m.Code != "" {
			p.f("- `%s` %s%s\n", m.Code, mdEscape(m.Text()), waivedMark(m))
		} else {
			p.f("- %s%s\n", mdEscape(m.Text()), waivedMark(m))
		}
	}
	p.f("\n")
	if ws := waivers(ms); len(ws) > 0 {
		p.f("**Waivers**\n\n")
		for _, w := range ws {
			p.f("- `%s` %s\n", w.Code, mdEscape(w.String()))
		}
		p.f("\n")
	}
}

// waivers returns the waivers that turned messages into warnings, each once:
// one waiver of a code lifts every denial of it, and is stated once.
func waivers(ms []policy.Message) []policy.Waiver {
	var ws []policy.Waiver
	for _, m := range ms {
		if m.Waiver != nil && !slices.Contains(ws, *m.Waiver) {
			ws = append(ws, *m.Waiver)
		}
	}
	return ws
}

// waivedMark marks a message that a waiver, stated once below the messages,
// turned into a warning.
func waivedMark(m policy.Message) string {
	if m.Waiver == nil {
		return ""
	}
	return " (waived)"
}

// EvidenceSummary writes the numbers of one evidence document (SPEC §3) as
// the pull request comments show them: metrics, drift per column, fairness
// per group, contract violations. A document it cannot read writes a line
// that says so.
func EvidenceSummary(w io.Writer, raw json.RawMessage) error {
	p := printer{w: w}
	ev := parseEvidence(raw)
	if ev == nil {
		p.f("The evidence could not be read.\n\n")
		return p.err
	}
	if line := metricsLine(ev); line != "" {
		p.f("`%s`\n\n", line)
	}
	evidenceTables(&p, ev)
	return p.err
}

// evidence is the part of the evidence document the report shows (SPEC §3).
type evidence struct {
	Model struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"model"`
	Inputs []struct {
		Role   string `json:"role"`
		Path   string `json:"path"`
		Rows   int    `json:"rows"`
		SHA256 string `json:"sha256"`
	} `json:"inputs"`
	Data *struct {
		Contract struct {
			Passed     bool `json:"passed"`
			Violations []struct {
				Column  string `json:"column"`
				Rule    string `json:"rule"`
				Count   int    `json:"count"`
				Message string `json:"message"`
			} `json:"violations"`
		} `json:"contract"`
	} `json:"data"`
	Evaluation *struct {
		Metrics  map[string]*float64 `json:"metrics"`
		Baseline *struct {
			Metrics map[string]*float64 `json:"metrics"`
		} `json:"baseline"`
	} `json:"evaluation"`
	Drift *struct {
		Columns map[string]struct {
			Kind              string   `json:"kind"`
			KSPValue          *float64 `json:"ks_pvalue"`
			PSI               *float64 `json:"psi"`
			WassersteinNormed *float64 `json:"wasserstein_normed"`
			JensenShannon     *float64 `json:"jensen_shannon"`
			Drifted           bool     `json:"drifted"`
		} `json:"columns"`
		ShareDrifted *float64 `json:"share_drifted"`
	} `json:"drift"`
	Fairness map[string]struct {
		Groups map[string]struct {
			Count         int      `json:"count"`
			SelectionRate *float64 `json:"selection_rate"`
			TPR           *float64 `json:"tpr"`
			FPR           *float64 `json:"fpr"`
			Accuracy      *float64 `json:"accuracy"`
		} `json:"groups"`
		DisparateImpactRatio    *float64 `json:"disparate_impact_ratio"`
		EqualizedOddsDifference *float64 `json:"equalized_odds_difference"`
	} `json:"fairness"`
}

// parseEvidence reads what the report shows; evidence it cannot read is left out,
// since the decision, not the report, judges it.
func parseEvidence(raw json.RawMessage) *evidence {
	if len(raw) == 0 {
		return nil
	}
	var ev evidence
	if json.Unmarshal(raw, &ev) != nil {
		return nil
	}
	return &ev
}

func metricsLine(ev *evidence) string {
	if ev.Evaluation == nil {
		return ""
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(ev.Evaluation.Metrics)) {
		parts = append(parts, name+"="+num(ev.Evaluation.Metrics[name]))
	}
	return strings.Join(parts, " ")
}

// MarkdownCheck writes an evidence document for a CI job's summary: the
// model, the files its numbers were computed from, and their tables, open.
func MarkdownCheck(w io.Writer, manifestPath string, raw json.RawMessage) error {
	p := printer{w: w, open: true}
	ev := parseEvidence(raw)
	if ev == nil {
		return fmt.Errorf("%s: the evidence is not an evidence document", manifestPath)
	}
	p.f("### %s %s\n\n`%s`\n\n", mdEscape(ev.Model.Name), mdEscape(ev.Model.Version), mdEscape(manifestPath))
	if len(ev.Inputs) > 0 {
		p.f("| Input | File | Rows | SHA-256 |\n|---|---|---|---|\n")
		for _, in := range ev.Inputs {
			p.f("| %s | %s | %d | `%s` |\n", mdEscape(in.Role), mdEscape(in.Path), in.Rows, short(in.SHA256))
		}
		p.f("\n")
	}
	evidenceTables(&p, ev)
	return p.err
}

func evidenceTables(p *printer, ev *evidence) {
	if ev == nil {
		return
	}
	if d := ev.Data; d != nil {
		if vs := d.Contract.Violations; len(vs) > 0 {
			p.f("%s\n\n| Column | Rule | Rows | Message |\n|---|---|---|---|\n", p.details(fmt.Sprintf("Data contract: %d violations", len(vs))))
			for _, v := range vs {
				p.f("| %s | %s | %d | %s |\n", mdEscape(orDash(v.Column)), mdEscape(v.Rule), v.Count, mdEscape(v.Message))
			}
			p.f("\n</details>\n\n")
		} else if d.Contract.Passed {
			p.f("Data contract: passed.\n\n")
		}
	}
	if e := ev.Evaluation; e != nil && len(e.Metrics) > 0 {
		p.f("%s\n\n| Metric | Value | Baseline |\n|---|---|---|\n", p.details("Evaluation"))
		for _, name := range slices.Sorted(maps.Keys(e.Metrics)) {
			base := "—"
			if e.Baseline != nil {
				base = num(e.Baseline.Metrics[name])
			}
			p.f("| %s | %s | %s |\n", name, num(e.Metrics[name]), base)
		}
		p.f("\n</details>\n\n")
	}
	if d := ev.Drift; d != nil && len(d.Columns) > 0 {
		p.f("%s\n\n| Column | Kind | KS p | PSI | Wasserstein (normed) | Jensen–Shannon | Drifted |\n|---|---|---|---|---|---|---|\n", p.details("Drift (share drifted "+num(d.ShareDrifted)+")"))
		for _, name := range slices.Sorted(maps.Keys(d.Columns)) {
			c := d.Columns[name]
			p.f("| %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(name), c.Kind, num(c.KSPValue), num(c.PSI), num(c.WassersteinNormed), num(c.JensenShannon), yesNo(c.Drifted))
		}
		p.f("\n</details>\n\n")
	}
	for _, attr := range slices.Sorted(maps.Keys(ev.Fairness)) {
		f := ev.Fairness[attr]
		p.f("%s\n\n", p.details(fmt.Sprintf("Fairness by %s (disparate impact %s, equalized odds difference %s)", mdEscape(attr), num(f.DisparateImpactRatio), num(f.EqualizedOddsDifference))))
		p.f("| Group | Count | Selection rate | TPR | FPR | Accuracy |\n|---|---|---|---|---|---|\n")
		for _, g := range slices.Sorted(maps.Keys(f.Groups)) {
			s := f.Groups[g]
			p.f("| %s | %d | %s | %s | %s | %s |\n", mdEscape(g), s.Count, num(s.SelectionRate), num(s.TPR), num(s.FPR), num(s.Accuracy))
		}
		p.f("\n</details>\n\n")
	}
}

type printer struct {
	w    io.Writer
	err  error
	open bool // tables shown rather than folded
}

// details opens a folded section with its summary line.
func (p *printer) details(summary string) string {
	if p.open {
		return "<details open><summary>" + summary + "</summary>"
	}
	return "<details><summary>" + summary + "</summary>"
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func title(pr *gitops.Promotion) string {
	if pr == nil {
		return "the change"
	}
	if pr.Kind == gitops.KindRemoval {
		return fmt.Sprintf("%s %s leaves %s (removal)", pr.Model, pr.Version, pr.ToStage)
	}
	return fmt.Sprintf("%s %s → %s (%s)", pr.Model, pr.Version, pr.ToStage, kind(pr))
}

func kind(pr *gitops.Promotion) string {
	if pr.Kind == gitops.KindRemoval {
		return gitops.KindRemoval
	}
	if pr.Rollback {
		return "rollback"
	}
	return "promotion"
}

func verdict(allow bool) string {
	if allow {
		return "ALLOW"
	}
	return "DENY"
}

func mdVerdict(allow bool) string {
	if allow {
		return "✅ allowed"
	}
	return "❌ denied"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// num prints a number with enough digits to tell it from a nearby threshold.
func num(v *float64) string {
	if v == nil || math.IsNaN(*v) {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'g', 6, 64)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func short(sha string) string { return sha[:min(len(sha), 12)] }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// mdEscape keeps text from a repository (messages, column and group names) from
// being read as Markdown or HTML.
func mdEscape(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "|", "\\|", "<", "&lt;", ">", "&gt;", "*", "\\*", "_", "\\_", "`", "\\`", "[", "\\[", "]", "\\]", "\n", " ")
	return r.Replace(s)
}

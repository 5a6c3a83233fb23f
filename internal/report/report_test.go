package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/report"
)

func result() *gate.Result {
	p := gitops.Promotion{Model: "fraud-detector", Version: "2.3.0", FromVersion: "2.2.0", FromStage: "staging", ToStage: "production"}
	evidence := json.RawMessage(`{
		"evaluation": {"metrics": {"roc_auc": 0.8781234567, "f1": null}, "baseline": {"metrics": {"roc_auc": 0.839}}},
		"drift": {"columns": {"amount": {"kind": "numeric", "ks_pvalue": 0.41, "psi": 0.01, "wasserstein_normed": 0.02, "drifted": false}}, "share_drifted": 0},
		"fairness": {"sex": {"groups": {"F": {"count": 1900, "selection_rate": 0.105, "tpr": 0.8, "fpr": 0.05, "accuracy": 0.93}, "M|<b>": {"count": 2100, "selection_rate": 0.118, "tpr": 0.82, "fpr": 0.06, "accuracy": 0.92}},
			"disparate_impact_ratio": 0.8898, "equalized_odds_difference": 0.02}}
	}`)
	return &gate.Result{
		Repository: "acme/models", Base: strings.Repeat("a", 40), Head: strings.Repeat("b", 40),
		Change: &gitops.Change{Promotions: []gitops.Promotion{p}},
		Judgements: []gate.Judgement{{Promotion: &p, Evidence: evidence, Decision: policy.Decision{
			Deny: []policy.Message{{Code: "approvals.count", Msg: "fraud-detector 2.3.0: 1 of 2 approvals"}},
			Warn: []policy.Message{{Code: "data.drift", Msg: "column *amount* drifts"}},
		}}},
		BundleDigest: "sha256:abc",
	}
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := report.Markdown(&b, result()); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"## modelgate: ❌ denied",
		"| fraud-detector | 2.2.0 → 2.3.0 | staging → production | promotion | ❌ denied |",
		"- `approvals.count` fraud-detector 2.3.0: 1 of 2 approvals",
		`- ` + "`data.drift`" + ` column \*amount\* drifts`,
		"| roc_auc | 0.878123 | 0.839 |",
		"| f1 | n/a | n/a |",
		"| amount | numeric | 0.41 | 0.01 | 0.02 | n/a | no |",
		`| M\|&lt;b&gt; | 2100 | 0.118 | 0.82 | 0.06 | 0.92 |`,
		"Fairness by sex (disparate impact 0.8898, equalized odds difference 0.02)",
		"policy bundle `sha256:abc`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestText(t *testing.T) {
	var b bytes.Buffer
	if err := report.Text(&b, result()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"decision: DENY", "fraud-detector 2.3.0 → production (promotion): DENY", "deny  approvals.count", "metrics  f1=n/a roc_auc=0.878123"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestEvidenceSummary(t *testing.T) {
	var b bytes.Buffer
	raw := json.RawMessage(`{"data": {"rows": 40, "contract": {"passed": false, "violations": [{"column": "amount", "rule": "min", "count": 3, "message": "3 rows below 0"}]}},
		"evaluation": {"metrics": {"roc_auc": 0.91}}}`)
	if err := report.EvidenceSummary(&b, raw); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`roc_auc=0.91`", "Data contract: 1 violations", "| amount | min | 3 | 3 rows below 0 |", "| roc_auc | 0.91 | — |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := report.EvidenceSummary(&b, json.RawMessage(`[1]`)); err != nil || !strings.Contains(b.String(), "could not be read") {
		t.Errorf("unreadable evidence: %q, %v", b.String(), err)
	}
}

// TestWaivedWarnings: the reports that list a judgement's messages mark the
// waived ones and state each waiver once below them; an annotation, read on
// its own, states the waiver that lifted its denial.
func TestWaivedWarnings(t *testing.T) {
	w := policy.Waiver{Model: "fraud-detector", Code: "fairness.disparate_impact", Reason: "relabelling", ApprovedBy: "risk-board", Expires: "2026-12-31"}
	res := result()
	res.Judgements[0].Decision.Warn = []policy.Message{
		{Code: w.Code, Msg: "sex: 0.71 below 0.8", Waiver: &w},
		{Code: w.Code, Msg: "age_band: 0.75 below 0.8", Waiver: &w},
	}
	outputs := map[string]func(*bytes.Buffer) error{
		"text":     func(b *bytes.Buffer) error { return report.Text(b, res) },
		"markdown": func(b *bytes.Buffer) error { return report.Markdown(b, res) },
		"messages": func(b *bytes.Buffer) error {
			return report.MarkdownMessages(b, res, func(string) bool { return true })
		},
	}
	for name, write := range outputs {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(b.String(), "waived until 2026-12-31 by risk-board: relabelling"); n != 1 {
			t.Errorf("%s states the waiver %d times, want once:\n%s", name, n, b.String())
		}
		if n := strings.Count(b.String(), "below 0.8 (waived)"); n != 2 {
			t.Errorf("%s marks %d messages as waived, want 2:\n%s", name, n, b.String())
		}
	}
	var b bytes.Buffer
	if err := report.GitHub(&b, res, nil); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "(waived until 2026-12-31 by risk-board: relabelling)"); n != 2 {
		t.Errorf("%d annotations state their waiver, want 2:\n%s", n, b.String())
	}
}

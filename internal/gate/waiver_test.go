package gate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/report"
	"github.com/modelgate/modelgate/manifest"
)

// metricsPolicy denies evaluation.minimum once for each of two metrics below
// 0.9, so that one waiver of the code lifts two denials.
const metricsPolicy = `package modelgate.metrics

deny contains {"code": "evaluation.minimum", "msg": sprintf("%s %s: %s %v below 0.9", [input.promotion.model, input.promotion.version, m, input.evidence[m]])} if {
	input.promotion != null
	some m in ["accuracy", "recall"]
	input.evidence[m] < 0.9
}
`

// metricsChecker reports fixed metrics.
type metricsChecker map[string]float64

func (c metricsChecker) Check(context.Context, *manifest.Manifest, fs.FS, *gitops.Config) (json.RawMessage, error) {
	doc := map[string]any{"schema": "modelgate.evidence/v1"}
	for k, v := range c {
		doc[k] = v
	}
	return json.Marshal(doc)
}

// waiverRepo is the example repository with metricsPolicy and the waivers on
// main, and a branch that promotes fraud-detector 2.3.0 to production.
func waiverRepo(t *testing.T, waivers string) *gittest.Repo {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Write(".modelgate/policies/metrics.rego", metricsPolicy)
	r.Write(".modelgate/waivers.yaml", waivers)
	r.Commit("example repository", now.Add(-96*time.Hour))
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Commit("promote", now.Add(-time.Hour))
	return r
}

func messageCodes(ms []policy.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Code)
	}
	return out
}

// TestAnExpiredWaiverWarnsOnlyWhereItWouldHaveApplied: of the expired
// waivers on the base branch, only the one of the denial's code, model and
// version is reported, and only on a promotion that the denial blocks.
func TestAnExpiredWaiverWarnsOnlyWhereItWouldHaveApplied(t *testing.T) {
	const waivers = `waivers:
  - {model: fraud-detector, version: 2.3.0, code: evaluation.minimum, reason: relabelling, approvedBy: risk-board, expires: 2026-11-01}
  - {model: fraud-detector, code: data.drift, reason: seasonal, approvedBy: carol, expires: 2026-10-01}
  - {model: fraud-detector, version: 2.2.0, code: evaluation.minimum, reason: old model, approvedBy: carol, expires: 2026-10-01}
  - {model: demand-forecast, code: evaluation.minimum, reason: other model, approvedBy: dana, expires: 2026-10-01}
  - {model: fraud-detector, code: approvals.count, reason: not waivable, approvedBy: mallory, expires: 2026-10-01}
`
	approvals := []policy.Approval{{User: "bob", Teams: []string{"compliance"}}, {User: "carol"}}
	res := judgeWith(t, waiverRepo(t, waivers), metricsChecker{"accuracy": 0.85, "recall": 0.95}, nil, approvals)
	if res.Allow || len(res.Judgements) != 1 {
		t.Fatalf("want one denied promotion:\n%s", denials(res))
	}
	d := res.Judgements[0].Decision
	if got := messageCodes(d.Deny); !slices.Equal(got, []string{"evaluation.minimum"}) {
		t.Errorf("denied %v, want the accuracy the expired waiver no longer lifts", got)
	}
	if got := messageCodes(d.Warn); !slices.Equal(got, []string{policy.CodeWaiverExpired}) {
		t.Fatalf("warnings %v, want only the expired waiver of the denial", got)
	}
	if w := d.Warn[0]; !strings.Contains(w.Msg, "evaluation.minimum") || !strings.Contains(w.Msg, "2026-11-01") || w.Fields["waived_code"] != "evaluation.minimum" {
		t.Errorf("expired waiver warning %+v, want the waiver of evaluation.minimum that expired on 2026-11-01", w)
	}

	// Without the denial, no waiver is mentioned: an expired one has
	// nothing to say to a promotion it would not have applied to.
	res = judgeWith(t, waiverRepo(t, waivers), metricsChecker{"accuracy": 0.95, "recall": 0.95}, nil, approvals)
	if !res.Allow || len(res.Judgements[0].Decision.Warn) != 0 {
		t.Errorf("want an allow without warnings, got %v, warnings %+v\n%s", res.Allow, res.Judgements[0].Decision.Warn, denials(res))
	}
}

// TestAWaiverIsStatedOnce: one waiver lifts two denials; the gate's text and
// Markdown reports (terminal, pull request comment, check run) mark both
// warnings as waived and state the waiver's terms once.
func TestAWaiverIsStatedOnce(t *testing.T) {
	const reason = "relabelling the 2026 sample"
	r := waiverRepo(t, "waivers:\n  - {model: fraud-detector, code: evaluation.minimum, reason: "+reason+", approvedBy: risk-board, expires: 2026-12-31}\n")
	approvals := []policy.Approval{{User: "bob", Teams: []string{"compliance"}}, {User: "carol"}}
	res := judgeWith(t, r, metricsChecker{"accuracy": 0.85, "recall": 0.8}, nil, approvals)
	if !res.Allow {
		t.Fatalf("the waiver did not apply:\n%s", denials(res))
	}
	warn := res.Judgements[0].Decision.Warn
	if len(warn) != 2 {
		t.Fatalf("warnings %+v, want the two waived denials", warn)
	}
	for _, m := range warn {
		if m.Waiver == nil || m.Waiver.Reason != reason || strings.Contains(m.Msg, reason) {
			t.Errorf("waived warning %+v: want the waiver beside the message, not in it", m)
		}
	}
	var text, md bytes.Buffer
	if err := report.Text(&text, res); err != nil {
		t.Fatal(err)
	}
	if err := report.Markdown(&md, res); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		if n := strings.Count(out, "risk-board"); n != 1 {
			t.Errorf("%s report states the waiver %d times, want once:\n%s", name, n, out)
		}
		if n := strings.Count(out, "(waived)"); n != 2 {
			t.Errorf("%s report marks %d warnings as waived, want 2:\n%s", name, n, out)
		}
		if !strings.Contains(out, "until 2026-12-31") {
			t.Errorf("%s report does not say until when the waiver holds:\n%s", name, out)
		}
	}
}

package policy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/git"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/schema"
)

func loadWaivers(t *testing.T, content string) ([]policy.Waiver, []string) {
	t.Helper()
	ctx := context.Background()
	r := gittest.New(t)
	if content != "" {
		r.Write(gitops.WaiversPath, content)
	}
	sha := r.Commit("waivers", time.Now())
	repo, err := git.Open(ctx, r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	ws, warnings, err := policy.LoadWaivers(ctx, repo.Snapshot(sha), v)
	if err != nil {
		t.Fatal(err)
	}
	return ws, warnings
}

func TestLoadWaivers(t *testing.T) {
	ws, warnings := loadWaivers(t, `waivers:
  - model: fraud-detector
    version: 2.3.0
    code: fairness.disparate_impact
    reason: "Groups re-weighted in 2.4.0; interim approved by the fairness board."
    approvedBy: "@acme/compliance"
    expires: 2026-12-31
  - model: fraud-detector
    code: data.drift
    reason: no expiry given
    approvedBy: carol
  - model: demand-forecast
    code: evaluation.regression
    reason: seasonal retraining
    approvedBy: dave
    expires: 2026-02-30
`)
	if len(ws) != 1 || ws[0].Code != "fairness.disparate_impact" || ws[0].Version != "2.3.0" {
		t.Errorf("waivers = %+v, want only the well-formed first one", ws)
	}
	joined := strings.Join(warnings, "\n")
	if len(warnings) != 2 || !strings.Contains(joined, "waiver 2 of .modelgate/waivers.yaml ignored: expires: required field is missing") ||
		!strings.Contains(joined, `waiver 3 of .modelgate/waivers.yaml ignored: expires: invalid value "2026-02-30"`) {
		t.Errorf("warnings:\n%s", joined)
	}
}

func TestNoWaiversFile(t *testing.T) {
	if ws, warnings := loadWaivers(t, ""); ws != nil || warnings != nil {
		t.Errorf("got %v %v", ws, warnings)
	}
}

func TestUnreadableWaiversFile(t *testing.T) {
	ws, warnings := loadWaivers(t, "waivers: {this is: not a list}\n")
	if ws != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "all waivers ignored") {
		t.Errorf("got %v %v", ws, warnings)
	}
}

func TestApplyWaivers(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	waivers := []policy.Waiver{
		{Model: "fraud-detector", Version: "2.3.0", Code: "fairness.disparate_impact", Reason: "interim", ApprovedBy: "board", Expires: "2026-11-23"},
		{Model: "fraud-detector", Code: "data.drift", Reason: "old", ApprovedBy: "carol", Expires: "2026-11-22"},
		{Model: "fraud-detector", Code: "approvals.count", Reason: "urgent", ApprovedBy: "mallory", Expires: "2027-01-01"},
	}
	d := policy.Decision{Deny: []policy.Message{
		{Code: "fairness.disparate_impact", Msg: "di 0.71 below 0.8"},
		{Code: "data.drift", Msg: "drifted"},
		{Code: "approvals.count", Msg: "1 of 2 approvals"},
	}}
	got := policy.ApplyWaivers(d, waivers, "fraud-detector", "2.3.0", now)
	if got.Allow {
		t.Fatal("an expired waiver and an approvals waiver must not allow")
	}
	var denied []string
	for _, m := range got.Deny {
		denied = append(denied, m.Code)
	}
	if strings.Join(denied, ",") != "data.drift,approvals.count" {
		t.Errorf("still denied: %v", denied)
	}
	var waived, expired bool
	for _, m := range got.Warn {
		waived = waived || (m.Code == "fairness.disparate_impact" && m.Waiver != nil && m.Waiver.ApprovedBy == "board" && m.Msg == "di 0.71 below 0.8")
		expired = expired || m.Code == "waiver.expired"
	}
	if !waived || !expired {
		t.Errorf("warnings %+v: want the waived deny and the expired waiver", got.Warn)
	}
	other := policy.ApplyWaivers(policy.Decision{Deny: []policy.Message{{Code: "fairness.disparate_impact"}}}, waivers, "fraud-detector", "2.4.0", now)
	if other.Allow {
		t.Error("a waiver for 2.3.0 applied to 2.4.0")
	}
}

// TestWhichWaiverCoversWhichDenial: a waiver covers a denial of its code, of
// its model, at its version (any version without one), unless the code is one
// no waiver lifts; in force through its expires day, it lifts the denial, and
// expired it is reported on that denial only.
func TestWhichWaiverCoversWhichDenial(t *testing.T) {
	now := time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC)
	base := policy.Waiver{Model: "fraud-detector", Version: "2.3.0", Code: "data.drift", Reason: "seasonal", ApprovedBy: "carol", Expires: "2026-11-23"}
	with := func(edit func(*policy.Waiver)) policy.Waiver {
		w := base
		edit(&w)
		return w
	}
	tests := []struct {
		name         string
		waiver       policy.Waiver
		code         string
		waived, warn bool
	}{
		{"in force on its last day", base, "data.drift", true, false},
		{"every version", with(func(w *policy.Waiver) { w.Version = "" }), "data.drift", true, false},
		{"expired", with(func(w *policy.Waiver) { w.Expires = "2026-11-22" }), "data.drift", false, true},
		{"expired, every version", with(func(w *policy.Waiver) { w.Version = ""; w.Expires = "2026-11-22" }), "data.drift", false, true},
		{"another code", base, "data.contract", false, false},
		{"another code, expired", with(func(w *policy.Waiver) { w.Expires = "2026-11-22" }), "data.contract", false, false},
		{"another version", with(func(w *policy.Waiver) { w.Version = "2.2.0" }), "data.drift", false, false},
		{"another version, expired", with(func(w *policy.Waiver) { w.Version = "2.2.0"; w.Expires = "2026-11-22" }), "data.drift", false, false},
		{"another model", with(func(w *policy.Waiver) { w.Model = "demand-forecast" }), "data.drift", false, false},
		{"another model, expired", with(func(w *policy.Waiver) { w.Model = "demand-forecast"; w.Expires = "2026-11-22" }), "data.drift", false, false},
		{"approvals", with(func(w *policy.Waiver) { w.Code = "approvals.team" }), "approvals.team", false, false},
		{"approvals, expired", with(func(w *policy.Waiver) { w.Code = "approvals.team"; w.Expires = "2026-11-22" }), "approvals.team", false, false},
		{"policy change", with(func(w *policy.Waiver) { w.Code = "policy_change.approvals" }), "policy_change.approvals", false, false},
		{"policy evaluation", with(func(w *policy.Waiver) { w.Code = "policy.evaluation" }), "policy.evaluation", false, false},
		{"a message without a code", with(func(w *policy.Waiver) { w.Code = "" }), "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := policy.Decision{Deny: []policy.Message{{Code: tt.code, Msg: "denied"}}}
			got := policy.ApplyWaivers(d, []policy.Waiver{tt.waiver}, "fraud-detector", "2.3.0", now)
			if got.Allow != tt.waived || len(got.Deny) != map[bool]int{true: 0, false: 1}[tt.waived] {
				t.Errorf("allow %v, denials %+v; want waived %v", got.Allow, got.Deny, tt.waived)
			}
			var expired []policy.Message
			for _, m := range got.Warn {
				if m.Code == policy.CodeWaiverExpired {
					expired = append(expired, m)
				}
			}
			if (len(expired) == 1) != tt.warn || len(expired) > 1 {
				t.Errorf("expired waiver warnings %+v; want one: %v", expired, tt.warn)
			}
		})
	}
}

// TestAnExpiredWaiverIsReportedOnce: an expired waiver of a code denied twice
// is reported once, and not at all when a waiver in force lifts the denials.
func TestAnExpiredWaiverIsReportedOnce(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	old := policy.Waiver{Model: "fraud-detector", Code: "fairness.disparate_impact", Reason: "relabelling", ApprovedBy: "board", Expires: "2026-10-31"}
	renewed := old
	renewed.Expires = "2026-12-31"
	d := policy.Decision{Deny: []policy.Message{
		{Code: "fairness.disparate_impact", Msg: "sex: 0.71 below 0.8"},
		{Code: "fairness.disparate_impact", Msg: "age_band: 0.75 below 0.8"},
	}}
	got := policy.ApplyWaivers(d, []policy.Waiver{old}, "fraud-detector", "2.3.0", now)
	if got.Allow || len(got.Deny) != 2 || len(got.Warn) != 1 || got.Warn[0].Code != policy.CodeWaiverExpired {
		t.Errorf("decision %+v; want both denials and one expired waiver warning", got)
	}
	if w := got.Warn[0]; !strings.Contains(w.Msg, "fairness.disparate_impact for fraud-detector 2.3.0 expired on 2026-10-31 (approved by board: relabelling)") {
		t.Errorf("expired waiver warning %q; want the waiver's code, model, version, date and terms", w.Msg)
	}
	got = policy.ApplyWaivers(d, []policy.Waiver{old, renewed}, "fraud-detector", "2.3.0", now)
	if !got.Allow || len(got.Warn) != 2 || got.Warn[0].Waiver == nil || *got.Warn[0].Waiver != renewed || got.Warn[1].Waiver == nil {
		t.Errorf("decision %+v; want both denials waived by the renewed waiver, without a warning of the old one", got)
	}
}

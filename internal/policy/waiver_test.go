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
		waived = waived || (m.Code == "fairness.disparate_impact" && m.Waiver != nil && strings.Contains(m.Msg, "waived until 2026-11-23 by board"))
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

package policy_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/rollout"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func at(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

func ts(h int) string { return at(h).Format(time.RFC3339) }

// pins is staging's history, newest first: 1.2.0 pinned at +30h, a malformed
// file at +20h, 1.1.0 at +10h and +5h (one run), 1.0.0 at +0h.
var pins = gitops.History{
	{Commit: gitops.Commit{SHA: "e", Time: at(30)}, Models: map[string]string{"fraud": "1.2.0"}},
	{Commit: gitops.Commit{SHA: "d", Time: at(20)}, Models: map[string]string{}},
	{Commit: gitops.Commit{SHA: "c", Time: at(10)}, Models: map[string]string{"fraud": "1.1.0"}},
	{Commit: gitops.Commit{SHA: "b", Time: at(5)}, Models: map[string]string{"fraud": "1.1.0", "churn": "3.0.0"}},
	{Commit: gitops.Commit{SHA: "a", Time: at(0)}, Models: map[string]string{"fraud": "1.0.0"}},
}

func TestHistoryRunsFromGit(t *testing.T) {
	h := policy.NewHistory(at(40), map[string]gitops.History{"staging": pins}, nil, "fraud")
	s := h.Stages["staging"]
	if s.Version != "1.2.0" || s.Since != ts(30) || s.Analysis != nil {
		t.Errorf("staging runs %q since %q (analysis %v); want 1.2.0 since %s", s.Version, s.Since, s.Analysis, ts(30))
	}
	want := []policy.Run{
		{Version: "1.2.0", Since: ts(30)},
		{Version: "1.1.0", Since: ts(5), Until: ts(20)},
		{Version: "1.0.0", Since: ts(0), Until: ts(5)},
	}
	if !reflect.DeepEqual(s.Runs, want) {
		t.Errorf("runs %+v; want %+v", s.Runs, want)
	}
	if empty := policy.NewHistory(at(40), map[string]gitops.History{"dev": nil}, nil, "fraud").Stages["dev"]; empty.Runs == nil || empty.Versions == nil {
		t.Errorf("a stage without history has null lists: %+v", empty)
	}
}

func TestHistoryRunsFromDeployments(t *testing.T) {
	passed := analysis.State{Phase: analysis.Successful}
	running := analysis.State{Phase: analysis.Running}
	runs := []rollout.Run{
		{Version: "1.1.0", Created: at(5), State: deploy.Success, Deployed: at(6), Ended: at(30), Analysis: &passed},
		{Version: "1.0.0", Created: at(30), State: deploy.Failure, Deployed: at(31), Failed: at(32), Ended: at(33)},
		{Version: "1.2.0", Created: at(33), State: deploy.Success, Deployed: at(34), Analysis: &running},
	}
	h := policy.NewHistory(at(40), map[string]gitops.History{"staging": pins}, map[string][]rollout.Run{"staging": runs}, "fraud")
	s := h.Stages["staging"]
	// Git pins 1.2.0 since +30h; its deployment succeeded at +34h.
	if s.Version != "1.2.0" || s.Since != ts(34) || s.Analysis == nil || s.Analysis.Phase != analysis.Running {
		t.Errorf("staging runs %q since %q, analysis %v; want 1.2.0 since %s, analysis Running", s.Version, s.Since, s.Analysis, ts(34))
	}
	want := []policy.Run{
		{Version: "1.2.0", Since: ts(34), Deployment: "success", Analysis: "Running"},
		{Version: "1.0.0", Since: ts(31), Until: ts(33), Deployment: "failure"},
		{Version: "1.1.0", Since: ts(6), Until: ts(30), Deployment: "success", Analysis: "Successful"},
	}
	if !reflect.DeepEqual(s.Runs, want) {
		t.Errorf("runs %+v; want %+v", s.Runs, want)
	}

	// Before the success, no time in the stage; a version pinned again after
	// its run ended has not been deployed again.
	pending := []rollout.Run{{Version: "1.1.0", Created: at(5), Deployed: at(6), Ended: at(30)}, {Version: "1.2.0", Created: at(30), State: deploy.InProgress}}
	if s := policy.NewHistory(at(40), map[string]gitops.History{"staging": pins}, map[string][]rollout.Run{"staging": pending}, "fraud").Stages["staging"]; s.Since != "" || s.Runs[0].Since != "" {
		t.Errorf("since %q, run %+v before the deployment succeeded; want none", s.Since, s.Runs[0])
	}
	again := gitops.History{{Commit: gitops.Commit{SHA: "f", Time: at(35)}, Models: map[string]string{"fraud": "1.1.0"}}}
	if s := policy.NewHistory(at(40), map[string]gitops.History{"staging": append(again, pins...)}, map[string][]rollout.Run{"staging": runs}, "fraud").Stages["staging"]; s.Version != "1.1.0" || s.Since != "" || s.Analysis != nil {
		t.Errorf("1.1.0 pinned again: since %q, analysis %v; want none before its new deployment", s.Since, s.Analysis)
	}
}

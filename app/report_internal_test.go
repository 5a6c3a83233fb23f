package app

import (
	"io"
	"testing"

	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
)

// TestAnnotationsFollowPositions checks that a check run's annotations are
// placed by the position a message carries, whatever its text says, and
// others where report.Locate places them.
func TestAnnotationsFollowPositions(t *testing.T) {
	p := &gitops.Promotion{Kind: gitops.KindPromotion, Model: "churn", Version: "1.0.0", ToStage: "dev", ManifestPath: "models/churn/1.0.0/model.yaml"}
	res := &gate.Result{Head: "5f3c9a1e0b7d4c2a9e8f6b5d4c3a2b1f0e9d8c7b", Judgements: []gate.Judgement{
		{Decision: policy.Decision{Deny: []policy.Message{
			{Code: gate.CodeInvalid, Msg: "metadata.owner: expected a string", Position: &policy.Position{File: "models/churn/1.0.0/model.yaml", Line: 3, Column: 40}},
			{Code: gate.CodeInvalid, Msg: "environments/dev.yaml:9:1: read as text, not a place"},
		}}},
		{Promotion: p, Decision: policy.Decision{Warn: []policy.Message{{Code: "approvals.count", Msg: "needs 2 approvals"}}}},
	}}
	files := map[string][]byte{"environments/dev.yaml": []byte("stage: dev\nmodels:\n  churn: 1.0.0\n")}
	run := checkRun(CheckPolicy, "Policy decision", res, func(string) bool { return true }, files, func(io.Writer) error { return nil })
	want := []github.Annotation{
		{Path: "models/churn/1.0.0/model.yaml", StartLine: 3, EndLine: 3, Level: "failure", Title: gate.CodeInvalid, Message: "metadata.owner: expected a string"},
		{Path: gitops.ConfigPath, StartLine: 1, EndLine: 1, Level: "failure", Title: gate.CodeInvalid, Message: "environments/dev.yaml:9:1: read as text, not a place"},
		{Path: "environments/dev.yaml", StartLine: 3, EndLine: 3, Level: "warning", Title: "approvals.count", Message: "needs 2 approvals"},
	}
	if len(run.Annotations) != len(want) {
		t.Fatalf("annotations %+v; want %+v", run.Annotations, want)
	}
	for i := range want {
		if run.Annotations[i] != want[i] {
			t.Errorf("annotation %d = %+v; want %+v", i, run.Annotations[i], want[i])
		}
	}
	if run.Conclusion != "failure" || run.Title != "Policy decision: 2 denied" {
		t.Errorf("check run %s %q", run.Conclusion, run.Title)
	}
}

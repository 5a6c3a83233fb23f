package policies_test

import (
	"context"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/rollout"
	"github.com/modelgate/modelgate/policies"
)

// TestReadyIsWhatStagesAllows pins the App's rollout.Run.Ready, which decides
// when it opens the next stage's pull request, to modelgate.stages, which
// judges that pull request: a current run is ready to move on exactly when
// the built-in stage policy lets its version enter the next stage.
func TestReadyIsWhatStagesAllows(t *testing.T) {
	modules := map[string]string{}
	for _, m := range policies.Modules() {
		modules[m.Path] = string(m.Source)
	}
	compiler, err := ast.CompileModulesWithOpt(modules, ast.CompileOpts{ParserOptions: ast.ParserOptions{RegoVersion: ast.RegoV1}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const soak = 24 * time.Hour
	pinned := now.Add(-96 * time.Hour)
	hist := gitops.History{{Commit: gitops.Commit{SHA: "a", Time: pinned}, Models: map[string]string{"fraud": "2.3.0"}}}
	state := func(p analysis.Phase) *analysis.State { return &analysis.State{Phase: p} }
	analyzed := &gitops.Analysis{Prometheus: gitops.Prometheus{Address: "http://127.0.0.1:9090"},
		Metrics: []gitops.AnalysisMetric{{Name: "error-rate", Query: "up", SuccessCondition: "result < 1"}}}

	type run struct {
		deployed, failed time.Duration // before now; 0 for none
		state            deploy.State
		analysis         *analysis.State
	}
	cases := map[string]run{
		"soaked":                {deployed: 25 * time.Hour, state: deploy.Success},
		"exactly soaked":        {deployed: soak, state: deploy.Success},
		"a second short":        {deployed: soak - time.Second, state: deploy.Success},
		"not deployed yet":      {state: deploy.InProgress},
		"created":               {},
		"failed after success":  {deployed: 30 * time.Hour, failed: 29 * time.Hour, state: deploy.Failure},
		"errored":               {failed: 30 * time.Hour, state: deploy.Error},
		"analysis running":      {deployed: 30 * time.Hour, state: deploy.Success, analysis: state(analysis.Running)},
		"analysis successful":   {deployed: 30 * time.Hour, state: deploy.Success, analysis: state(analysis.Successful)},
		"analysis failed":       {deployed: 30 * time.Hour, state: deploy.Success, analysis: state(analysis.Failed)},
		"analysis inconclusive": {deployed: 30 * time.Hour, state: deploy.Success, analysis: state(analysis.Inconclusive)},
		"analysis passed early": {deployed: 2 * time.Hour, state: deploy.Success, analysis: state(analysis.Successful)},
	}
	for name, c := range cases {
		r := rollout.Run{Model: "fraud", Version: "2.3.0", Stage: "staging", Created: pinned, State: c.state, Analysis: c.analysis}
		if c.deployed > 0 {
			r.Deployed = now.Add(-c.deployed)
		}
		if c.failed > 0 {
			r.Failed = now.Add(-c.failed)
		}
		// The App records analysis of a run exactly when its stage has it.
		stage := gitops.Stage{Name: "staging", Soak: gitops.Duration(soak)}
		if c.analysis != nil {
			stage.Analysis = analyzed
		}
		cfg := gitops.Config{Stages: []gitops.Stage{{Name: "dev"}, stage, {Name: "production", Soak: gitops.Duration(72 * time.Hour)}}}
		in := policy.Input{
			Promotion: &gitops.Promotion{Kind: gitops.KindPromotion, Model: "fraud", Version: "2.3.0", FromStage: "staging", ToStage: "production"},
			History:   policy.NewHistory(now, map[string]gitops.History{"staging": hist}, map[string][]rollout.Run{"staging": {r}}, "fraud"),
			Config:    jsonValue(t, cfg),
		}
		rs, err := rego.New(rego.Compiler(compiler), rego.Query("data.modelgate.stages.deny"), rego.Input(jsonValue(t, in))).Eval(context.Background())
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s: %v %v", name, rs, err)
		}
		denials := rs[0].Expressions[0].Value.([]any)
		ready, _, why := r.Ready(soak, now)
		if ready != (len(denials) == 0) {
			t.Errorf("%s: Ready %v (%s), but modelgate.stages denies %v", name, ready, why, denials)
		}
	}
}

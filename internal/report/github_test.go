package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/report"
	"github.com/modelgate/modelgate/manifest"
)

const manifestText = `apiVersion: modelgate/v1
kind: Model
metadata:
  name: fraud-detector
  version: "2.3.0"
spec:
  data:
    current: data/current.csv
    drift: {columns: [amount, country]}
  fairness:
    sensitiveAttributes: [sex, age_band]
`

func TestGitHubAnnotations(t *testing.T) {
	path := "models/fraud-detector/2.3.0/model.yaml"
	p := gitops.Promotion{Kind: gitops.KindPromotion, Model: "fraud-detector", Version: "2.3.0", ToStage: "dev", ManifestPath: path,
		Manifest: &manifest.Manifest{Spec: manifest.Spec{
			Data:     &manifest.Data{Drift: &manifest.Drift{Columns: []string{"amount", "country"}}},
			Fairness: &manifest.Fairness{SensitiveAttributes: []string{"sex", "age_band"}},
		}}}
	res := &gate.Result{Judgements: []gate.Judgement{
		{Promotion: &p, Decision: policy.Decision{
			Deny: []policy.Message{
				{Code: "fairness.disparate_impact", Msg: "age_band: 0.7, below 0.8", Fields: map[string]any{"attribute": "age_band"}},
				{Code: "data.drift", Msg: "country drifted\n::error::forged", Fields: map[string]any{"columns": []any{"country"}}},
				{Code: "manifest.required", Msg: "spec.lineage is required", Fields: map[string]any{"field": "spec.lineage.datasets[0].digest"}},
				{Code: "approvals.count", Msg: "100% of 0"},
			},
			Warn: []policy.Message{{Code: "evaluation.undefined", Msg: "f1 is null", Fields: map[string]any{"metric": "f1"}}},
		}},
		{Decision: policy.Decision{Deny: []policy.Message{
			{Code: gate.CodeInvalid, Msg: "invalid", Position: &policy.Position{File: "environments/a,b:c.yaml", Line: 3, Column: 7}},
			{Code: policy.CodeCompile, Msg: "unexpected eof token", Position: &policy.Position{File: ".modelgate/policies/a.rego", Line: 4}},
			// A policy's own fields are data about the model, never a place.
			{Code: "org.rule", Msg: "look here", Fields: map[string]any{"file": "README.md", "line": float64(2), "column": float64(1)}},
		}}},
	}}
	files := map[string][]byte{path: []byte(manifestText), "environments/dev.yaml": []byte("stage: dev\nmodels:\n  fraud-detector: 2.3.0\n")}
	var b bytes.Buffer
	if err := report.GitHub(&b, res, files); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"::error file=" + path + ",line=11,col=32,title=fairness.disparate_impact::age_band: 0.7, below 0.8",
		"::error file=" + path + ",line=9,col=31,title=data.drift::country drifted%0A::error::forged",
		// spec.lineage is missing: its nearest enclosing value, spec.
		"::error file=" + path + ",line=7,col=3,title=manifest.required::spec.lineage is required",
		"::error file=environments/dev.yaml,line=3,col=19,title=approvals.count::100%25 of 0",
		"::warning file=" + path + ",line=7,col=3,title=evaluation.undefined::f1 is null",
		"::error file=environments/a%2Cb%3Ac.yaml,line=3,col=7,title=change.invalid::invalid",
		"::error file=.modelgate/policies/a.rego,line=4,col=1,title=policy.compile::unexpected eof token",
		"::error file=.modelgate/config.yaml,line=1,col=1,title=org.rule::look here",
	}
	if got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("annotations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

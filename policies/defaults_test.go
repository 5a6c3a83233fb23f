package policies_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/policies"
)

// TestRegoDefaultsAreTheConfigDefaults holds the built-in policies to the
// config's defaults (schemas/defaults.cue), read from an empty config.yaml:
// every default the Rego spells out for a config that leaves a key out, and
// every threshold and approval rule the rules judge by, both on that config and
// on an empty one.
func TestRegoDefaultsAreTheConfigDefaults(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	var cfg gitops.Config
	if err := v.Decode(schema.Config, gitops.ConfigPath, []byte{}, &cfg); err != nil {
		t.Fatal(err)
	}
	defaults := jsonValue(t, cfg).(map[string]any)
	thresholds := defaults["thresholds"]
	approvals := defaults["approvals"].(map[string]any)

	modules := map[string]string{}
	for _, m := range policies.Modules() {
		modules[m.Path] = string(m.Source)
	}
	compiler, err := ast.CompileModulesWithOpt(modules, ast.CompileOpts{ParserOptions: ast.ParserOptions{RegoVersion: ast.RegoV1}})
	if err != nil {
		t.Fatal(err)
	}
	eval := func(query string, input any) (any, bool) {
		t.Helper()
		rs, err := rego.New(rego.Compiler(compiler), rego.Query(query), rego.Input(input)).Eval(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		if len(rs) == 0 {
			return nil, false
		}
		return jsonValue(t, rs[0].Expressions[0].Value), true
	}
	check := func(what string, got any, defined bool, want any) {
		t.Helper()
		if !defined || !reflect.DeepEqual(got, want) {
			t.Errorf("%s is %v (defined %t), but the config's default is %v", what, got, defined, want)
		}
	}

	spelled, _ := eval("data.modelgate.lib.default_thresholds", nil)
	leaves(spelled, nil, func(path []string, got any) {
		check("modelgate.lib.default_thresholds."+strings.Join(path, "."), got, true, at(thresholds, path))
	})
	rules, _ := eval("data.modelgate.approvals.default_rules", nil)
	byStage, _ := rules.(map[string]any)
	for stage, rule := range byStage {
		check("modelgate.approvals.default_rules."+stage, rule, true, approvals[stage])
	}
	got, defined := eval("data.modelgate.policy_change.default_rule", nil)
	check("modelgate.policy_change.default_rule", got, defined, approvals[gitops.PolicyChange])

	for name, config := range map[string]any{"an empty config": map[string]any{}, "the default config": defaults} {
		in := map[string]any{"config": config}
		for query, path := range map[string][]string{
			"data.modelgate.fairness.di_min":           {"fairness", "disparateImpactMin"},
			"data.modelgate.fairness.eo_max":           {"fairness", "equalizedOddsMax"},
			"data.modelgate.fairness.min_size":         {"fairness", "minGroupSize"},
			"data.modelgate.data.threshold":            {"drift", "shareDrifted"},
			"data.modelgate.evaluation.max_regression": {"evaluation", "maxRegression"},
		} {
			got, defined := eval(query, in)
			check(query+" on "+name, got, defined, at(thresholds, path))
		}
		for task, want := range cfg.Thresholds.Evaluation.Minimum {
			got, defined := eval("data.modelgate.evaluation.minimums", map[string]any{"config": config, "manifest": map[string]any{"spec": map[string]any{"task": task}}})
			check("data.modelgate.evaluation.minimums for "+task+" on "+name, got, defined, jsonValue(t, want))
		}
		for _, s := range cfg.Stages {
			got, defined := eval("data.modelgate.approvals.rule", map[string]any{"config": config, "promotion": map[string]any{"to_stage": s.Name}})
			if want, ok := approvals[s.Name]; ok {
				check("data.modelgate.approvals.rule into "+s.Name+" on "+name, got, defined, want)
			} else if defined {
				t.Errorf("data.modelgate.approvals.rule into %s on %s is %v, but the config's default has no rule", s.Name, name, got)
			}
		}
		rollback := map[string]any{"config": config, "promotion": map[string]any{"model": "m", "version": "1.0.0", "to_stage": "production", "rollback": true},
			"history": map[string]any{"stages": map[string]any{"production": map[string]any{"versions": []any{"1.0.0"}}}}}
		got, defined := eval("data.modelgate.approvals.rule", rollback)
		check("data.modelgate.approvals.rule of a rollback on "+name, got, defined, approvals[gitops.RollbackApprovals])
		got, defined = eval("data.modelgate.policy_change.rule", in)
		check("data.modelgate.policy_change.rule on "+name, got, defined, approvals[gitops.PolicyChange])
		got, defined = eval("data.modelgate.evidence.require_trusted_for", in)
		check("data.modelgate.evidence.require_trusted_for on "+name, got, defined, jsonValue(t, cfg.Evidence.RequireTrustedFor))
	}
}

// jsonValue is v as encoding/json reads it back: maps, slices, float64s.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// leaves calls f with the path and value of every value in doc that is not an
// object.
func leaves(doc any, path []string, f func([]string, any)) {
	obj, ok := doc.(map[string]any)
	if !ok {
		f(path, doc)
		return
	}
	for k, v := range obj {
		leaves(v, append(path[:len(path):len(path)], k), f)
	}
}

// at is the value at path in doc, or nil.
func at(doc any, path []string) any {
	for _, k := range path {
		obj, _ := doc.(map[string]any)
		doc = obj[k]
	}
	return doc
}

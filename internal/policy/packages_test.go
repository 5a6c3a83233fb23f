package policy_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/policy"
)

// builtins stand for modelgate's own policies: a helper package and a rule that
// needs the compliance team unless the promotion is a rollback.
var builtins = []policy.Module{
	{Path: "policies/lib.rego", Builtin: true, Source: []byte("package modelgate.lib\n\nteam_matches(team, want) if team == want\n")},
	{Path: "policies/guard.rego", Builtin: true, Source: []byte(`package modelgate.guard

import data.modelgate.lib

rollback if input.evidence.rollback == true

deny contains "needs compliance" if {
	not rollback
	not lib.team_matches(input.evidence.team, "compliance")
}
`)},
}

func judge(t *testing.T, own string) policy.Decision {
	t.Helper()
	ctx := context.Background()
	ms := append(slices.Clone(builtins), policy.Module{Path: ".modelgate/policies/own.rego", Source: []byte(own)})
	return policy.Compile(ctx, ms, nil).Evaluate(ctx, policy.Input{Evidence: map[string]any{"team": "ml"}})
}

func TestRepositoryPoliciesCannotAddToBuiltinPackages(t *testing.T) {
	tests := []struct {
		name, own, want string
	}{
		{"a helper redefined", "package modelgate.lib\n\nteam_matches(_, _) if true\n",
			"package modelgate.lib is a built-in package"},
		{"every promotion a rollback", "package modelgate.guard\n\nrollback if true\n",
			"package modelgate.guard is a built-in package"},
		{"a package inside a built-in one", "package modelgate.guard.extra\n\nx := 1\n",
			"package modelgate.guard.extra is inside the built-in package modelgate.guard"},
		{"the root package with a ref head", "package modelgate\n\nguard.rollback if true\n",
			"package modelgate holds the built-in package modelgate.lib"},
		{"the root package written as a string", "package modelgate[\"guard\"]\n\nrollback if true\n",
			"package modelgate.guard is a built-in package"},
		{"a package outside modelgate", "package acme\n\nx := 1\n",
			"package acme is not under modelgate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := judge(t, tt.own)
			at := policy.Position{File: ".modelgate/policies/own.rego", Line: 1, Column: 1}
			if d.Allow || len(d.Deny) != 1 || d.Deny[0].Code != policy.CodeCompile || !strings.Contains(d.Deny[0].Msg, tt.want) ||
				d.Deny[0].Position == nil || *d.Deny[0].Position != at {
				t.Errorf("decision %+v; want one %s denial at %s containing %q", d, policy.CodeCompile, at, tt.want)
			}
		})
	}
}

// A repository policy reads the built-in packages but changes nothing in them:
// an import alias or a with in its own rules leaves their decision as it is.
func TestRepositoryPoliciesReadBuiltinPackages(t *testing.T) {
	for name, own := range map[string]string{
		"an import alias": "package modelgate.acme\n\nimport data.modelgate.guard as g\n\ng.rollback if true\n\nwarn contains \"read\" if g.deny\n",
		"with":            "package modelgate.acme\n\nwarn contains \"read\" if {\n\tcount(data.modelgate.guard.deny) == 0 with data.modelgate.guard.rollback as true\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			d := judge(t, own)
			if d.Allow || len(d.Deny) != 1 || d.Deny[0].Msg != "needs compliance" {
				t.Errorf("decision %+v; want the built-in denial alone", d)
			}
		})
	}
}

// A deny or warn rule whose ref head puts it in a package below its module's
// takes part in the decision as that package's.
func TestDecisionRulesWithRefHeads(t *testing.T) {
	d := judge(t, "package modelgate.acme\n\nteam.deny contains \"from a ref head\" if true\n\nteam.warn contains \"warned\" if true\n")
	if d.Allow || len(d.Deny) != 2 || d.Deny[0].Package != "modelgate.acme.team" || d.Deny[0].Msg != "from a ref head" || len(d.Warn) != 1 {
		t.Errorf("decision %+v; want the ref head's denial beside the built-in one, and its warning", d)
	}
}

// OPA keeps one module per file name: a repository module with the path of a
// built-in one would take its place, whatever its package.
func TestModulesShareNoPath(t *testing.T) {
	ctx := context.Background()
	ms := append(slices.Clone(builtins), policy.Module{Path: "policies/guard.rego", Source: []byte("package modelgate.acme\n\nwarn contains \"in place of the guard\" if true\n")})
	d := policy.Compile(ctx, ms, nil).Evaluate(ctx, policy.Input{Evidence: map[string]any{"team": "ml"}})
	want := "policies/guard.rego: two policy files have this path"
	if d.Allow || len(d.Deny) != 1 || d.Deny[0].Code != policy.CodeCompile || !strings.Contains(d.Deny[0].Msg, want) {
		t.Errorf("decision %+v; want one %s denial containing %q", d, policy.CodeCompile, want)
	}
}

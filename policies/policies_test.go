package policies_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/policies"
)

// TestBuiltinPolicies runs the Rego tests of the built-in policies with the
// engine modelgate evaluates them with.
func TestBuiltinPolicies(t *testing.T) {
	results, err := policy.Test(context.Background(), policies.Modules(), func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 100 {
		t.Fatalf("only %d Rego tests ran", len(results))
	}
	for _, r := range results {
		if !r.Pass {
			t.Errorf("%s:%d %s.%s: %s", r.File, r.Line, r.Package, r.Name, r.Error)
		}
	}
}

func TestBuiltinPoliciesCompile(t *testing.T) {
	e := policy.Compile(context.Background(), policies.Modules(), nil)
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestEveryBuiltinPackageIsClosed adds a rule to each built-in package from a
// repository policy: every such bundle denies, and says which file and package.
func TestEveryBuiltinPackageIsClosed(t *testing.T) {
	ctx := context.Background()
	in, cfg := fixtureInput(t)
	for _, m := range policies.Modules() {
		if strings.HasSuffix(m.Path, "_test.rego") {
			continue
		}
		pkg, err := policy.Package(m)
		if err != nil {
			t.Fatal(err)
		}
		own := policy.Module{Path: ".modelgate/policies/own.rego", Source: []byte("package " + pkg + "\n\nextra := true\n")}
		d := policy.Compile(ctx, append(policies.Modules(), own), cfg).Evaluate(ctx, in)
		want, at := "package "+pkg+" is a built-in package", policy.Position{File: own.Path, Line: 1, Column: 1}
		if d.Allow || len(d.Deny) != 1 || d.Deny[0].Code != policy.CodeCompile || !strings.Contains(d.Deny[0].Msg, want) ||
			d.Deny[0].Position == nil || *d.Deny[0].Position != at {
			t.Errorf("%s: decision %+v; want one %s denial at %s containing %q", pkg, d, policy.CodeCompile, at, want)
		}
	}
}

// fixtureInput is the allowed promotion of fraud-detector 2.3.0 to production
// that the Rego tests start from (data.modelgate.testdata.base, written out by
// `opa eval -d policies/ data.modelgate.testdata.base --format raw`).
func fixtureInput(t testing.TB) (policy.Input, any) {
	t.Helper()
	data, err := os.ReadFile("testdata/decision-input.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		policy.Input
		Config any `json:"config"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Input, doc.Config
}

func TestFixtureIsAllowed(t *testing.T) {
	in, cfg := fixtureInput(t)
	d := policy.Compile(context.Background(), policies.Modules(), cfg).Evaluate(context.Background(), in)
	if !d.Allow {
		t.Errorf("the fixture promotion is denied: %+v", d.Deny)
	}
	in.PullRequest.Approvals = in.PullRequest.Approvals[:1]
	d = policy.Compile(context.Background(), policies.Modules(), cfg).Evaluate(context.Background(), in)
	if d.Allow || !slices.ContainsFunc(d.Deny, func(m policy.Message) bool { return strings.HasPrefix(m.Code, "approvals.") }) {
		t.Errorf("one approval for production is enough: %+v", d)
	}
}

// BenchmarkDecision is one decision with every built-in policy, on a prepared
// query, and reports the 99th percentile.
func BenchmarkDecision(b *testing.B) {
	ctx := context.Background()
	in, cfg := fixtureInput(b)
	e := policy.Compile(ctx, policies.Modules(), cfg)
	var durations []time.Duration
	for b.Loop() {
		start := time.Now()
		if d := e.Evaluate(ctx, in); !d.Allow {
			b.Fatalf("denied: %+v", d.Deny)
		}
		durations = append(durations, time.Since(start))
	}
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)*99/100].Microseconds()), "p99-µs")
}

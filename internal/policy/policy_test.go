package policy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
)

const thresholdPolicy = `package modelgate.sample

deny contains {"msg": sprintf("%s: accuracy %v is below %v", [input.promotion.model, input.evidence.accuracy, input.config.min]), "code": "sample.accuracy", "value": input.evidence.accuracy} if {
	input.evidence.accuracy < input.config.min
}

warn contains "plain string warning" if input.evidence.accuracy < 1
`

func modules(srcs ...string) []policy.Module {
	var ms []policy.Module
	for i, s := range srcs {
		ms = append(ms, policy.Module{Path: string(rune('a'+i)) + ".rego", Source: []byte(s)})
	}
	return ms
}

func input(accuracy any) policy.Input {
	return policy.Input{
		Promotion: &gitops.Promotion{Model: "m", Version: "1.0.0", ToStage: "production"},
		Evidence:  map[string]any{"accuracy": accuracy},
	}
}

func TestAllowAndDeny(t *testing.T) {
	ctx := context.Background()
	e := policy.Compile(ctx, modules(thresholdPolicy), map[string]any{"min": 0.9})
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
	d := e.Evaluate(ctx, input(0.95))
	if !d.Allow || len(d.Deny) != 0 || len(d.Warn) != 1 || d.Warn[0].Msg != "plain string warning" {
		t.Errorf("0.95: %+v", d)
	}
	d = e.Evaluate(ctx, input(0.85))
	if d.Allow || len(d.Deny) != 1 {
		t.Fatalf("0.85: %+v", d)
	}
	got := d.Deny[0]
	if got.Code != "sample.accuracy" || got.Msg != "m: accuracy 0.85 is below 0.9" || got.Package != "modelgate.sample" || got.Fields["value"] == nil {
		t.Errorf("deny = %+v", got)
	}
	if !strings.HasPrefix(d.BundleDigest, "sha256:") || !strings.HasPrefix(d.InputDigest, "sha256:") {
		t.Errorf("digests %q %q", d.BundleDigest, d.InputDigest)
	}
}

func TestConfigComesFromTheBundle(t *testing.T) {
	ctx := context.Background()
	e := policy.Compile(ctx, modules(thresholdPolicy), map[string]any{"min": 0.9})
	in := input(0.85)
	in.Config = map[string]any{"min": 0.1} // a caller cannot judge by another config
	if d := e.Evaluate(ctx, in); d.Allow {
		t.Errorf("the input's own config was used: %+v", d)
	}
}

func TestFailClosed(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		modules  []policy.Module
		accuracy any
		code     string
		want     string
	}{
		{"syntax error", modules(thresholdPolicy, "package modelgate.broken\n\ndeny contains x if {"), 0.5, policy.CodeCompile, "b.rego:"},
		{"type error", modules("package modelgate.t\n\ndeny contains x if { x := 1 + \"a\" }"), 0.5, policy.CodeCompile, "a.rego:3"},
		{"no decision rules", modules("package modelgate.other\n\nx := 1"), 0.5, policy.CodeCompile, "no policy defines deny or warn"},
		{"builtin error at evaluation", modules("package modelgate.t\n\ndeny contains \"slow\" if { time.parse_duration_ns(input.evidence.accuracy) > 0 }"),
			"not a duration", policy.CodeEvaluation, "policy evaluation failed"},
		{"conflicting rule values", modules("package modelgate.t\n\nx := 1 if input.evidence.accuracy > 0\n\nx := 2 if input.evidence.accuracy > 0\n\ndeny contains \"x\" if x == 3"),
			0.5, policy.CodeEvaluation, "conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := policy.Compile(ctx, tt.modules, map[string]any{"min": 0.9}).Evaluate(ctx, input(tt.accuracy))
			if d.Allow || len(d.Deny) != 1 || d.Deny[0].Code != tt.code || !strings.Contains(d.Deny[0].Text(), tt.want) {
				t.Errorf("decision %+v; want one deny %s containing %q", d, tt.code, tt.want)
			}
			if d.BundleDigest == "" || d.InputDigest == "" {
				t.Error("a failed decision must still carry its digests")
			}
		})
	}
}

func TestDigests(t *testing.T) {
	ctx := context.Background()
	cfg := map[string]any{"min": 0.9}
	a := policy.Compile(ctx, modules(thresholdPolicy), cfg)
	b := policy.Compile(ctx, modules(thresholdPolicy), cfg)
	c := policy.Compile(ctx, modules(thresholdPolicy), map[string]any{"min": 0.8})
	d := policy.Compile(ctx, modules(thresholdPolicy+"\n"), cfg)
	if a.Digest() != b.Digest() {
		t.Error("the same bundle has two digests")
	}
	if a.Digest() == c.Digest() || a.Digest() == d.Digest() {
		t.Error("a different config or module has the same digest")
	}
	if a.Evaluate(ctx, input(0.95)).InputDigest == a.Evaluate(ctx, input(0.96)).InputDigest {
		t.Error("different inputs have the same digest")
	}
}

func TestTestFilesAreNotPolicy(t *testing.T) {
	ctx := context.Background()
	ms := append(modules(thresholdPolicy), policy.Module{Path: "sample_test.rego", Source: []byte("package modelgate.sample_test\n\ndeny contains \"from a test file\"\n")})
	if d := policy.Compile(ctx, ms, map[string]any{"min": 0.9}).Evaluate(ctx, input(0.95)); !d.Allow {
		t.Errorf("a _test.rego file took part in the decision: %+v", d)
	}
}

func TestEvaluateIsSafeForConcurrentUse(t *testing.T) {
	ctx := context.Background()
	e := policy.Compile(ctx, modules(thresholdPolicy), map[string]any{"min": 0.9})
	done := make(chan bool)
	for i := range 8 {
		go func() {
			acc := 0.8 + float64(i)*0.02
			d := e.Evaluate(ctx, input(acc))
			done <- d.Allow == (acc >= 0.9)
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("a concurrent evaluation decided wrongly")
		}
	}
}

func TestAnEvaluationThatRunsTooLongDenies(t *testing.T) {
	endless := "package modelgate.t\n\nxs := numbers.range(1, 2000)\n\ndeny contains \"never\" if {\n\tsome i in xs\n\tsome j in xs\n\tsome k in xs\n\ti + j + k < 0\n}\n"
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	e := policy.Compile(context.Background(), modules(endless), nil)
	d := e.Evaluate(ctx, input(0.5))
	if d.Allow || len(d.Deny) != 1 || d.Deny[0].Code != policy.CodeEvaluation || !strings.Contains(d.Deny[0].Msg, "cancel") {
		t.Errorf("decision %+v; want a denial for the cancelled evaluation", d)
	}
}

func TestInputDigestIsTheDigestOfTheDocument(t *testing.T) {
	ctx := context.Background()
	cfg := map[string]any{"min": 0.9, "note": "<b>&</b> \u2028 é", "stages": []any{map[string]any{"name": "dev"}}}
	in := input(0.95)
	in.PullRequest.Labels = []string{"a<b"}
	want := in
	want.Config = cfg
	doc, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(doc)
	if got := policy.Compile(ctx, modules(thresholdPolicy), cfg).Evaluate(ctx, in).InputDigest; got != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("input digest %s, want the SHA-256 of %s", got, doc)
	}
}

package policy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/modelgate/modelgate/internal/policy"
)

var update = flag.Bool("update", false, "rewrite capabilities.json from OPA's builtins")

// withheld says which of OPA's builtins no policy may call: a decision must
// depend on its input alone, and a policy must not send it anywhere.
func withheld(b *ast.Builtin) bool {
	switch {
	case b.Nondeterministic:
		// The network (http.send, net.lookup_ip_addr, the remote schemas of
		// json.match_schema), the environment (opa.runtime), the clock
		// (time.now_ns, io.jwt.decode_verify) and randomness (rand.intn,
		// uuid.rfc4122, io.jwt.encode_sign).
		return true
	case strings.HasPrefix(b.Name, "net."), strings.HasPrefix(b.Name, "rand."):
		return true
	case strings.HasPrefix(b.Name, "crypto.x509.parse_and_verify_certificates"):
		// They verify certificates against the clock, though OPA does not
		// mark them so.
		return true
	}
	return false
}

// TestCapabilitiesFile pins capabilities.json, which the engine compiles with
// and `opa check --capabilities` reads, to OPA's builtins less the withheld
// ones; -update writes it.
func TestCapabilitiesFile(t *testing.T) {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, withheld)
	want, err := json.MarshalIndent(caps, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile("capabilities.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("capabilities.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("capabilities.json is not OPA's builtins less the withheld ones: go test ./internal/policy/ -run TestCapabilitiesFile -update")
	}
	for _, name := range []string{"http.send", "net.lookup_ip_addr", "net.cidr_contains", "opa.runtime", "time.now_ns", "rand.intn", "uuid.rfc4122", "crypto.x509.parse_and_verify_certificates"} {
		if slices.ContainsFunc(caps.Builtins, func(b *ast.Builtin) bool { return b.Name == name }) {
			t.Errorf("%s is offered to policies", name)
		}
	}
}

// leak is a policy that would post the input to url.
func leak(url string) string {
	return fmt.Sprintf("package modelgate.leak\n\nwarn contains \"sent\" if {\n\thttp.send({\"method\": \"POST\", \"url\": %q, \"body\": input})\n}\n", url)
}

func TestAPolicyCannotSendTheInputAnywhere(t *testing.T) {
	var received atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
	}))
	defer srv.Close()
	ctx := context.Background()
	d := policy.Compile(ctx, modules(thresholdPolicy, leak(srv.URL)), map[string]any{"min": 0.9}).Evaluate(ctx, input(0.95))
	if n := received.Load(); n != 0 {
		t.Errorf("the server received %d requests from a policy", n)
	}
	if d.Allow || len(d.Deny) != 1 || d.Deny[0].Code != policy.CodeCompile || !strings.Contains(d.Deny[0].Msg, "undefined function http.send") ||
		d.Deny[0].Position == nil || *d.Deny[0].Position != (policy.Position{File: "b.rego", Line: 4, Column: 2}) {
		t.Errorf("decision %+v; want one %s denial naming b.rego:4:2 and http.send", d, policy.CodeCompile)
	}
}

func TestWithheldBuiltinsDoNotCompile(t *testing.T) {
	ctx := context.Background()
	for _, call := range []string{
		`net.lookup_ip_addr("localhost")`,
		`net.cidr_contains("127.0.0.0/8", "127.0.0.1")`,
		`opa.runtime()`,
		`time.now_ns()`,
		`rand.intn("seed", 10)`,
		`uuid.rfc4122("seed")`,
		`crypto.x509.parse_and_verify_certificates("")`,
		`json.match_schema({}, {"$ref": "http://127.0.0.1:1/schema.json"})`,
	} {
		name := call[:strings.IndexByte(call, '(')]
		t.Run(name, func(t *testing.T) {
			src := fmt.Sprintf("package modelgate.t\n\ndeny contains \"called\" if {\n\tx := %s\n\tx == x\n}\n", call)
			d := policy.Compile(ctx, modules(src), nil).Evaluate(ctx, input(0.5))
			if d.Allow || len(d.Deny) != 1 || d.Deny[0].Code != policy.CodeCompile || !strings.Contains(d.Deny[0].Msg, "undefined function "+name) ||
				d.Deny[0].Position == nil || *d.Deny[0].Position != (policy.Position{File: "a.rego", Line: 4, Column: 7}) {
				t.Errorf("decision %+v; want one %s denial naming a.rego:4:7 and %s", d, policy.CodeCompile, name)
			}
		})
	}
}

func TestRegoTestsRunWithTheSameCapabilities(t *testing.T) {
	var received atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
	}))
	defer srv.Close()
	ms := []policy.Module{
		{Path: "leak.rego", Source: []byte(leak(srv.URL))},
		{Path: "leak_test.rego", Source: []byte("package modelgate.leak_test\n\nimport data.modelgate.leak\n\ntest_sends if count(leak.warn) == 1\n")},
	}
	_, err := policy.Test(context.Background(), ms, func(string) bool { return true })
	if n := received.Load(); n != 0 {
		t.Errorf("the server received %d requests from a Rego test", n)
	}
	if err == nil || !strings.Contains(err.Error(), "leak.rego:4:2: undefined function http.send") {
		t.Errorf("error %v; want one naming leak.rego:4:2 and http.send", err)
	}
}

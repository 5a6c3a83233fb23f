package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/gittest"
)

func TestPolicyTestBuiltin(t *testing.T) {
	code, stdout, stderr := runCLI(t, "policy", "test", "../../policies")
	if code != exitOK || !strings.Contains(stdout, " passed, 0 failed") {
		t.Errorf("exit %d\n%s%s", code, tail(stdout), stderr)
	}
}

// TestPolicyTestExample runs the example repository's own policy tests, as
// its README says to: from the repository's root, beside the built-in
// policies they build on.
func TestPolicyTestExample(t *testing.T) {
	code, stdout, stderr := runCLI(t, "policy", "test", "../../examples/gitops")
	if code != exitOK || !strings.Contains(stdout, " passed, 0 failed") || !strings.Contains(stdout, "PASS  modelgate.model_risk_test.") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "policies/lib_test.rego") {
		t.Errorf("the built-in policies' tests ran too:\n%s", tail(stdout))
	}
}

func TestPolicyTestOrganisationPolicies(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("owner.rego", "package modelgate.owner\n\nimport data.modelgate.lib\n\ndeny contains \"no owner\" if {\n\tlib.promotion\n\tnot input.manifest.metadata.owner\n}\n")
	write("owner_test.rego", "package modelgate.owner_test\n\nimport data.modelgate.owner\n\n"+
		"test_denies_without_owner if count(owner.deny) == 1 with input as {\"promotion\": {\"model\": \"m\"}, \"manifest\": {\"metadata\": {}}}\n\n"+
		"test_wrong if count(owner.deny) == 0 with input as {\"promotion\": {\"model\": \"m\"}, \"manifest\": {\"metadata\": {}}}\n")
	code, stdout, _ := runCLI(t, "policy", "test", dir)
	if code != exitFailed || !strings.Contains(stdout, "1 passed, 1 failed") || !strings.Contains(stdout, "FAIL  modelgate.owner_test.test_wrong") {
		t.Errorf("exit %d\n%s", code, stdout)
	}
}

// TestPolicyTestWithoutPolicies runs the README's usage line in a copy of
// the example repository without policies of its own (with them or not in
// examples/gitops): nothing to test is no
// failure, and says so; a folder named that does not exist is.
func TestPolicyTestWithoutPolicies(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../examples/gitops")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, ".modelgate", "policies")); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var usage []string
	for line := range strings.Lines(string(readme)) {
		if cmd, ok := strings.CutPrefix(line, "modelgate policy test"); ok {
			cmd, _, _ = strings.Cut(cmd, "#")
			usage = append([]string{"policy", "test"}, strings.Fields(cmd)...)
		}
	}
	if usage == nil {
		t.Fatal("README.md has no usage line of modelgate policy test")
	}
	t.Chdir(dir)
	for _, args := range [][]string{usage, {"policy", "test", ".modelgate/policies"}, {"policy", "test", "./.modelgate/policies/"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitOK || stdout != "" || !strings.Contains(stderr, ".modelgate/policies does not exist: the organisation has no policies of its own to test") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	if code, stdout, _ := runCLI(t, "policy", "test", "--format", "json"); code != exitOK || stdout != "[]\n" {
		t.Errorf("--format json: exit %d, stdout %q", code, stdout)
	}
	if code, _, stderr := runCLI(t, "policy", "test", "polices"); code != exitCantRun || !strings.Contains(stderr, "polices") {
		t.Errorf("a mistyped folder: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "policy", "test", "a", "b"); code != exitCantRun || !strings.Contains(stderr, "policy test: accepts at most 1 arg") {
		t.Errorf("two folders: exit %d, stderr %q", code, stderr)
	}
}

func TestPolicyEval(t *testing.T) {
	input := "../../policies/testdata/decision-input.json"
	code, stdout, stderr := runCLI(t, "policy", "eval", "--input", input)
	if code != exitOK || !strings.HasPrefix(stdout, "ALLOW") || !strings.Contains(stdout, "policy bundle sha256:") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}

	code, stdout, _ = runCLI(t, "policy", "eval", "--input", inputWithoutApprovals(t), "--format", "json")
	var d struct {
		Allow bool
		Deny  []struct{ Code string }
	}
	if err := json.Unmarshal([]byte(stdout), &d); err != nil {
		t.Fatal(err)
	}
	if code != exitFailed || d.Allow || len(d.Deny) == 0 || d.Deny[0].Code != "approvals.count" {
		t.Errorf("exit %d, decision %+v", code, d)
	}

	if code, _, stderr := runCLI(t, "policy", "eval", "--input", "main.go"); code != exitCantRun || !strings.Contains(stderr, "not an input document") {
		t.Errorf("a file that is not JSON: exit %d, %s", code, stderr)
	}
}

// inputWithoutApprovals writes the allowed input document of the built-in
// policies' tests without its approvals, which the built-in policies deny.
func inputWithoutApprovals(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../policies/testdata/decision-input.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["pull_request"].(map[string]any)["approvals"] = []any{}
	data, _ = json.Marshal(doc)
	path := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

// organisationPolicyRepo is promotionRepo with a policy of the organisation on
// the base branch, committed age ago.
func organisationPolicyRepo(t *testing.T, name, src string, age time.Duration) *gittest.Repo {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Write(".modelgate/policies/"+name, src)
	r.Commit("example repository", time.Now().Add(-age))
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Commit("promote fraud-detector 2.3.0 to production", time.Now())
	return r
}

// Each policy would let through a promotion that the built-in policies deny.
func TestGateRejectsPoliciesInBuiltinPackages(t *testing.T) {
	tests := []struct {
		file, src string
		age       time.Duration // since the version entered staging
		approvers []string
	}{
		{"teams.rego", "package modelgate.lib\n\n# Any team meets the compliance rule.\nteam_matches(_, _) if true\n",
			96 * time.Hour, []string{"bob:ml", "carol"}},
		{"rollback.rego", "package modelgate\n\n# Every promotion a rollback: no soak applies.\nstages.rollback if true\n",
			time.Hour, []string{"bob:compliance", "carol"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := organisationPolicyRepo(t, tt.file, tt.src, tt.age)
			args := []string{"gate", "--repo", r.Dir, "--base", "main", "--head", "promote", "--author", "alice", "--database", filepath.Join(t.TempDir(), "audit.db")}
			for _, a := range tt.approvers {
				args = append(args, "--approved-by", a)
			}
			code, stdout, stderr := runCLI(t, args...)
			want := ".modelgate/policies/" + tt.file + ":1:1: package "
			if code != exitFailed || !strings.Contains(stdout, "policy.compile") || !strings.Contains(stdout, want) || !strings.Contains(stdout, "built-in package") {
				t.Errorf("exit %d; want a policy.compile denial naming %s and the built-in package\n%s%s", code, want, stdout, stderr)
			}
		})
	}
}

func TestGatePoliciesReachNoNetwork(t *testing.T) {
	var received atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
	}))
	defer srv.Close()
	src := fmt.Sprintf("package modelgate.acme\n\nwarn contains \"sent\" if {\n\thttp.send({\"method\": \"POST\", \"url\": %q, \"body\": input})\n}\n", srv.URL)
	r := organisationPolicyRepo(t, "leak.rego", src, 96*time.Hour)
	code, stdout, stderr := runCLI(t, "gate", "--repo", r.Dir, "--base", "main", "--head", "promote",
		"--author", "alice", "--approved-by", "bob:compliance", "--approved-by", "carol", "--database", filepath.Join(t.TempDir(), "audit.db"))
	if n := received.Load(); n != 0 {
		t.Errorf("a policy sent %d requests", n)
	}
	if want := ".modelgate/policies/leak.rego:4:2: undefined function http.send"; code != exitFailed || !strings.Contains(stdout, "policy.compile") || !strings.Contains(stdout, want) {
		t.Errorf("exit %d; want a policy.compile denial naming %s\n%s%s", code, want, stdout, stderr)
	}
}

func TestPolicyEvalKeepsTheBuiltinPolicies(t *testing.T) {
	dir := t.TempDir()
	// In place of the built-in approval rules, none.
	if err := os.WriteFile(filepath.Join(dir, "approvals.rego"), []byte("package modelgate.approvals\n\nwarn contains \"no approvals needed\" if false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "policy", "eval", "--input", inputWithoutApprovals(t), "--policies", dir)
	want := "approvals.rego:1:1: package modelgate.approvals is a built-in package"
	if code != exitFailed || !strings.Contains(stdout, "policy.compile") || !strings.Contains(stdout, want) {
		t.Errorf("exit %d; want a policy.compile denial naming %s\n%s%s", code, want, stdout, stderr)
	}
}

// A manifest and its evidence are judged as the version's entry into the
// first stage: the checks' numbers decide, approvals are not asked for, and
// evidence of another version is refused.
func TestPolicyEvalManifest(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		manifest string
		code     int
		deny     string
	}{
		{"../../examples/gitops/models/fraud-detector/2.3.0/model.yaml", exitOK, ""},
		{"../../examples/gitops/models/demand-forecast/1.5.0/model.yaml", exitFailed, "evaluation.regression"},
	} {
		ev := filepath.Join(dir, filepath.Base(filepath.Dir(c.manifest))+".json")
		if code, _, stderr := runCLI(t, "check", c.manifest, "--out", ev); code != exitOK {
			t.Fatalf("check %s: exit %d: %s", c.manifest, code, stderr)
		}
		code, stdout, stderr := runCLI(t, "policy", "eval", "--manifest", c.manifest, "--evidence", ev,
			"--config", "../../examples/gitops/.modelgate/config.yaml", "--format", "json")
		var d struct{ Deny []struct{ Code string } }
		if err := json.Unmarshal([]byte(stdout), &d); err != nil {
			t.Fatalf("%s: %v\n%s", c.manifest, err, stderr)
		}
		var codes []string
		for _, m := range d.Deny {
			codes = append(codes, m.Code)
		}
		if code != c.code || (c.deny == "") != (len(codes) == 0) || (c.deny != "" && !slices.Contains(codes, c.deny)) {
			t.Errorf("%s: exit %d, denials %v; want exit %d, denial %q", c.manifest, code, codes, c.code, c.deny)
		}
	}
	// Under the default config a high-risk version needs uploaded evidence:
	// its own numbers allow it only as an upload will be judged.
	high, ev := "../../examples/gitops/models/fraud-detector/2.3.0/model.yaml", filepath.Join(dir, "2.3.0.json")
	if code, stdout, _ := runCLI(t, "policy", "eval", "--manifest", high, "--evidence", ev); code != exitFailed || !strings.Contains(stdout, "evidence.untrusted") {
		t.Errorf("a high-risk version on evidence of no upload: exit %d; want an evidence.untrusted denial\n%s", code, stdout)
	}
	if code, stdout, _ := runCLI(t, "policy", "eval", "--manifest", high, "--evidence", ev, "--uploaded"); code != exitOK {
		t.Errorf("a high-risk version on evidence as uploaded: exit %d; want allowed\n%s", code, stdout)
	}
	if code, _, stderr := runCLI(t, "policy", "eval", "--input", ev, "--uploaded"); code != exitCantRun {
		t.Errorf("--uploaded with --input: exit %d; want a usage error: %s", code, stderr)
	}
	code, _, stderr := runCLI(t, "policy", "eval", "--manifest", "../../examples/gitops/models/fraud-detector/2.2.0/model.yaml", "--evidence", filepath.Join(dir, "2.3.0.json"))
	if code != exitCantRun || !strings.Contains(stderr, "is the evidence of fraud-detector 2.3.0, not of fraud-detector 2.2.0") {
		t.Errorf("evidence of another version: exit %d: %s", code, stderr)
	}
}

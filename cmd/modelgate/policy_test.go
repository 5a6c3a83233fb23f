package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyTestBuiltin(t *testing.T) {
	code, stdout, stderr := runCLI(t, "policy", "test", "../../policies")
	if code != exitOK || !strings.Contains(stdout, " passed, 0 failed") {
		t.Errorf("exit %d\n%s%s", code, tail(stdout), stderr)
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

func TestPolicyEval(t *testing.T) {
	input := "../../policies/testdata/decision-input.json"
	code, stdout, stderr := runCLI(t, "policy", "eval", "--input", input)
	if code != exitOK || !strings.HasPrefix(stdout, "ALLOW") || !strings.Contains(stdout, "policy bundle sha256:") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}

	data, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["pull_request"].(map[string]any)["approvals"] = []any{}
	data, _ = json.Marshal(doc)
	denied := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(denied, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLI(t, "policy", "eval", "--input", denied, "--format", "json")
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

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

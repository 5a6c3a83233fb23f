package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles writes files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// validated runs validate --format json and returns the kind of each path
// it validated, and whether it was valid.
func validated(t *testing.T, wantCode int, args ...string) map[string]validation {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"validate", "--format", "json"}, args...)...)
	if code != wantCode {
		t.Fatalf("validate %v: exit %d, want %d\n%s%s", args, code, wantCode, stdout, stderr)
	}
	var results []validation
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	byPath := map[string]validation{}
	for _, r := range results {
		byPath[r.Path] = r
	}
	return byPath
}

func TestValidateTellsDocumentsByWhatTheySay(t *testing.T) {
	model := readExample(t, "models/fraud-detector/2.3.0/model.yaml")
	out := filepath.Join(t.TempDir(), "evidence.json")
	if code, _, stderr := runCLI(t, "check", fraudManifest, "--out", out); code != exitOK {
		t.Fatalf("check: exit %d %s", code, stderr)
	}
	evidence := readFile(t, out)
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{
		"good.yaml":                          model,
		"drafts/fraud.json":                  evidence,
		"drafts/fraud.cue":                   evidence,
		"drafts/typo.yaml":                   strings.Replace(model, "kind: Model", "kind: Modle", 1),
		"models/x/1.0.0/model.yaml":          strings.Replace(model, "apiVersion: modelgate/v1", "apiVersion: v1", 1),
		"deploy/service.yaml":                "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n",
		"notes.yaml":                         "a: 1\n",
		"broken.yaml":                        "a: [\n",
		"data/current.csv":                   "amount\n1\n",
		".github/workflows/ci.yaml":          "on: push\n",
		"environments/production.yaml":       "stage: production\nmodels: {fraud-detector: 2.3.0}\n",
		".modelgate/config.yaml":             "",
		".modelgate/waivers.yaml":            "waivers: []\n",
		"models/y/1.0.0/data/reference.yaml": "x: 1\n",
	})

	got := validated(t, exitFailed, ".")
	want := map[string]struct {
		kind  string
		valid bool
	}{
		"good.yaml":                    {kindModel, true},
		"drafts/fraud.json":            {kindEvidence, true},
		"drafts/fraud.cue":             {kindEvidence, true},
		"drafts/typo.yaml":             {kindModel, false},
		"models/x/1.0.0/model.yaml":    {kindModel, false}, // its path says so: a typo is no way out
		"environments/production.yaml": {kindEnvironment, true},
		".modelgate/config.yaml":       {kindConfig, true},
		".modelgate/waivers.yaml":      {kindWaivers, true},
	}
	for path, w := range want {
		r, ok := got[path]
		if !ok || r.Kind != w.kind || r.Valid != w.valid {
			t.Errorf("%s: validated %v (%+v), want kind %s, valid %v", path, ok, r, w.kind, w.valid)
		}
	}
	if len(got) != len(want) {
		t.Errorf("validated %d documents, want %d: %v", len(got), len(want), got)
	}

	// Named one by one, they are told the same way, and a mistake keeps its place.
	if r := validated(t, exitOK, "good.yaml")["good.yaml"]; r.Kind != kindModel {
		t.Errorf("good.yaml: %+v", r)
	}
	code, stdout, _ := runCLI(t, "validate", "drafts/typo.yaml")
	if code != exitFailed || strings.TrimSpace(stdout) != `drafts/typo.yaml:2:7: kind: expected "Model", got "Modle"` {
		t.Errorf("typo: exit %d, %q", code, stdout)
	}
	for _, name := range []string{"notes.yaml", "deploy/service.yaml", "broken.yaml"} {
		if code, _, stderr := runCLI(t, "validate", name); code != exitCantRun || !strings.Contains(stderr, "cannot tell what "+name+" is") {
			t.Errorf("%s: exit %d, stderr %q", name, code, stderr)
		}
	}
	if r := validated(t, exitFailed, "--kind", "environment", "notes.yaml"); r["notes.yaml"].Kind != kindEnvironment {
		t.Errorf("notes.yaml as an environment: %+v", r)
	}
}

func TestValidateWaivers(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{".modelgate/waivers.yaml": `waivers:
  - model: fraud-detector
    code: fairness.disparate_impact
    reason: reviewed by the risk committee
    approvedBy: carol
    expires: 2026-13-01
  - model: fraud-detector
    reason: none
`})
	code, stdout, stderr := runCLI(t, "validate", ".modelgate/waivers.yaml")
	want := `.modelgate/waivers.yaml:6:14: waivers[0].expires: invalid value "2026-13-01" (does not satisfy time.Format("2006-01-02")): invalid time "2026-13-01"
.modelgate/waivers.yaml:7:5: waivers[1].code: required field is missing
.modelgate/waivers.yaml:7:5: waivers[1].approvedBy: required field is missing
.modelgate/waivers.yaml:7:5: waivers[1].expires: required field is missing`
	if code != exitFailed || strings.TrimSpace(stdout) != want {
		t.Errorf("exit %d, output\n%s\nwant\n%s\n%s", code, stdout, want, stderr)
	}
	writeFiles(t, dir, map[string]string{"exceptions.yaml": "waivers: {}\n"})
	code, stdout, _ = runCLI(t, "validate", "--kind", "waivers", "exceptions.yaml")
	if code != exitFailed || !strings.HasPrefix(stdout, "exceptions.yaml:1:10: waivers: ") {
		t.Errorf("--kind waivers: exit %d, %q", code, stdout)
	}
}

func TestValidateNothing(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"README.md": "# empty\n", "notes.yaml": "a: 1\n"})
	code, stdout, stderr := runCLI(t, "validate", dir)
	if code != exitCantRun || stdout != "" || stderr != "modelgate: validate: nothing to validate in "+dir+": it holds no manifest, environment file, config, waivers or evidence\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, "validate", "--kind", "waivers", "../../examples/gitops/models")
	if code != exitCantRun || !strings.Contains(stderr, "nothing to validate in ../../examples/gitops/models: it holds no waivers document") {
		t.Errorf("--kind waivers: exit %d, stderr %q", code, stderr)
	}
}

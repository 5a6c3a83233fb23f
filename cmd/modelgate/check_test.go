package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/checks"
)

const fraudManifest = "../../examples/gitops/models/fraud-detector/2.3.0/model.yaml"

func TestCheckWritesEvidence(t *testing.T) {
	out := filepath.Join(t.TempDir(), "evidence.json")
	code, stdout, stderr := runCLI(t, "check", fraudManifest, "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "fraud-detector 2.3.0") || !strings.Contains(stdout, "roc_auc") {
		t.Errorf("summary:\n%s", stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev["schema"] != "modelgate.evidence/v1" || len(ev["inputs"].([]any)) != 4 {
		t.Errorf("evidence: %s", data)
	}
	// What check writes, validate accepts.
	if code, _, stderr := runCLI(t, "validate", "--kind", "evidence", out); code != exitOK {
		t.Errorf("validate the evidence: exit %d: %s", code, stderr)
	}
}

func TestCheckPrintsEvidence(t *testing.T) {
	code, stdout, stderr := runCLI(t, "check", "--format", "json", fraudManifest)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ev struct {
		Drift struct {
			ShareDrifted float64 `json:"share_drifted"`
		} `json:"drift"`
		Fairness map[string]any `json:"fairness"`
	}
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if len(ev.Fairness) != 2 {
		t.Errorf("fairness: %v", ev.Fairness)
	}
}

// TestCheckConfig judges drift with the thresholds of a config file.
func TestCheckConfig(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(config, []byte("thresholds:\n  drift:\n    numericMethod: psi\n    psi: 0.0001\n    jensenShannon: 0.001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "check", fraudManifest, "--config", config, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ev struct {
		Drift struct {
			ShareDrifted float64 `json:"share_drifted"`
		} `json:"drift"`
	}
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Drift.ShareDrifted != 1 {
		t.Errorf("share drifted = %v with thresholds every column exceeds", ev.Drift.ShareDrifted)
	}
}

// TestCheckCannotRun: exit 2 and a one-line reason that names what is wrong.
func TestCheckCannotRun(t *testing.T) {
	dir := t.TempDir()
	manifest := `apiVersion: modelgate/v1
kind: Model
metadata: {name: m, version: 1.0.0, owner: "@o/t", riskTier: low}
spec:
  task: binary_classification
  artifact: {uri: s3://m, digest: "sha256:` + strings.Repeat("0", 64) + `"}
  evaluation: {predictions: predictions.csv, label: label, score: score}
`
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("model.yaml", manifest)
	for _, c := range []struct {
		name, predictions string
		args              []string
		want              string
	}{
		{"no manifest", "", []string{"check"}, "name one MANIFEST"},
		{"missing manifest", "", []string{"check", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{"missing file", "", []string{"check", filepath.Join(dir, "model.yaml")}, "predictions.csv"},
		{"bad score", "label,score\n0,0.2\n1,high\n", []string{"check", filepath.Join(dir, "model.yaml")}, `predictions.csv: row 2: column "score": "high" is not a number`},
		{"score out of range", "label,score\n0,0.2\n1,1.5\n", []string{"check", filepath.Join(dir, "model.yaml")}, `row 2: column "score": "1.5" is not a probability`},
		{"bad label", "label,score\n2,0.2\n", []string{"check", filepath.Join(dir, "model.yaml")}, `row 1: column "label": "2" is not a binary label`},
		{"missing label", "label,score\n,0.2\n", []string{"check", filepath.Join(dir, "model.yaml")}, `row 1: column "label" is empty`},
		{"ragged", "label,score\n0,0.2,9\n", []string{"check", filepath.Join(dir, "model.yaml")}, "row 1: 3 fields, the header has 2"},
		{"bare quote", "label,score\n0,0.2\n1,0\"3\n", []string{"check", filepath.Join(dir, "model.yaml")}, "predictions.csv:3: row 2: field 2: a quote"},
		{"bad flag", "", []string{"check", "--format", "xml", filepath.Join(dir, "model.yaml")}, "expected one of text, json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(filepath.Join(dir, "predictions.csv"))
			if c.predictions != "" {
				write("predictions.csv", c.predictions)
			}
			code, _, stderr := runCLI(t, c.args...)
			if code != exitCantRun {
				t.Errorf("exit %d, want %d", code, exitCantRun)
			}
			if !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.HasPrefix(c.name, "bad flag") {
				t.Errorf("stderr %q, want one line containing %q", stderr, c.want)
			}
		})
	}
}

// copyModel copies the example manifest's folder and returns where its copy is.
func copyModel(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fraud-detector", "2.3.0")
	if err := os.CopyFS(dir, os.DirFS(filepath.Dir(fraudManifest))); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCheckStaysInTheModelFolder: a link committed in place of a data file, to
// a file outside the manifest's folder or to one inside it, or a folder linked
// out of it, is refused with the file's name, and what it leads to is never
// read into the evidence.
func TestCheckStaysInTheModelFolder(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "passwd")
	// A file the checks would read well: only the link keeps it out.
	data, err := os.ReadFile(filepath.Join(filepath.Dir(fraudManifest), "data", "current.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, link, target, want string
	}{
		{"file out of the folder", "data/current.csv", secret, "data/current.csv: is a symbolic link"},
		{"file in the folder", "data/current.csv", "reference.csv", "data/current.csv: is a symbolic link"},
		{"folder out of the folder", "data", outside, "data/current.csv: path escapes from parent"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyModel(t)
			link := filepath.Join(dir, filepath.FromSlash(c.link))
			if err := os.RemoveAll(link); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(c.target, link); err != nil {
				t.Fatal(err)
			}
			if c.link == "data" {
				if err := os.Rename(filepath.Join(outside, "passwd"), filepath.Join(outside, "current.csv")); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Rename(filepath.Join(outside, "current.csv"), secret) })
			}
			out := filepath.Join(t.TempDir(), "evidence.json")
			code, stdout, stderr := runCLI(t, "check", filepath.Join(dir, "model.yaml"), "--out", out)
			if code != exitCantRun || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitCantRun, c.want)
			}
			if _, err := os.Stat(out); err == nil || strings.Contains(stdout, "current") {
				t.Errorf("evidence written:\n%s", stdout)
			}
		})
	}
}

// TestCheckConfigLimits: the config's limits bound what check reads, and a
// limit that is not one is an error at its place.
func TestCheckConfigLimits(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ config, want string }{
		{"limits: {rows: 10}\n", ".csv: more than 10 rows, the limit; raise limits.rows in .modelgate/config.yaml"},
		{"limits: {fileBytes: 1000}\n", "bytes, over the limit of 1000; raise limits.fileBytes in .modelgate/config.yaml"},
		{"limits:\n  columns: 0\n", "config.yaml:2:12: limits.columns"},
	} {
		config := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(config, []byte(c.config), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI(t, "check", fraudManifest, "--config", config)
		if code != exitCantRun || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", c.config, code, stderr, c.want)
		}
	}
}

// --summary writes the evidence's tables, with the numbers the evidence holds.
func TestCheckSummary(t *testing.T) {
	dir := t.TempDir()
	out, summary := filepath.Join(dir, "evidence.json"), filepath.Join(dir, "summary.md")
	manifest := "../../examples/gitops/models/demand-forecast/1.5.0/model.yaml"
	if code, _, stderr := runCLI(t, "check", manifest, "--out", out, "--summary", summary); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ev checks.Evidence
	doc, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc, &ev); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	rmse, base := float64(ev.Evaluation.Metrics["rmse"]), float64(ev.Evaluation.Baseline.Metrics["rmse"])
	price := ev.Drift.Columns["price"]
	for _, want := range []string{
		"### demand-forecast 1.5.0",
		fmt.Sprintf("| current | data/current.csv | %d | `%s` |", ev.Inputs[0].Rows, ev.Inputs[0].SHA256[:12]),
		"Data contract: passed.",
		fmt.Sprintf("| rmse | %s | %s |", strconv.FormatFloat(rmse, 'g', 6, 64), strconv.FormatFloat(base, 'g', 6, 64)),
		fmt.Sprintf("| price | numeric | %s | %s | %s | n/a | yes |", strconv.FormatFloat(float64(*price.KSPValue), 'g', 6, 64),
			strconv.FormatFloat(float64(price.PSI), 'g', 6, 64), strconv.FormatFloat(float64(*price.WassersteinNormed), 'g', 6, 64)),
		"| temperature | numeric |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("the summary lacks %q:\n%s", want, md)
		}
	}
	// examples/README.md: RMSE 9.84 against the baseline's 9.41.
	if rmse < 9.835 || rmse > 9.845 || base < 9.405 || base > 9.415 {
		t.Errorf("rmse %v, baseline %v: not the example data's", rmse, base)
	}
}

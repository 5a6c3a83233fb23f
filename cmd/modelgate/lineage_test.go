package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/internal/lineagetest"
)

// TestCheckLineage runs modelgate check on a training repository whose data
// DVC tracks and whose model an MLflow run on a tracking server trained.
func TestCheckLineage(t *testing.T) {
	const runID, token = "3f2a9c1e5b7d4e6fa8c0b1d2e3f4a5b6", "mlflow-token-for-the-test"
	code, stdout, stderr := runCLI(t, "check", "--format", "json", fraudManifest)
	if code != exitOK {
		t.Fatalf("check: exit %d: %s", code, stderr)
	}
	var plain checks.Evidence
	if err := json.Unmarshal([]byte(stdout), &plain); err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	lineagetest.Init(t, root)
	src := filepath.Dir(fraudManifest)
	for _, f := range []string{"data/current.csv", "data/reference.csv", "eval/predictions.csv", "eval/baseline_predictions.csv"} {
		copyFile(t, filepath.Join(src, f), filepath.Join(root, "model", f))
	}
	lineagetest.Add(t, root, "model/data/current.csv")
	ref := lineagetest.Add(t, root, "model/data/reference.csv")
	manifest := readExample(t, "models/fraud-detector/2.3.0/model.yaml")
	start, end := strings.Index(manifest, "    datasets:\n"), strings.Index(manifest, "  data:\n")
	manifest = manifest[:start] +
		"    datasets:\n      - {name: train, uri: s3://acme-data/fraud/reference.csv, path: model/data/reference.csv, digest: md5:" + ref.MD5 + "}\n" +
		"    mlflow:\n      runId: " + runID + "\n      model: {name: fraud-detector, version: \"3\"}\n" +
		manifest[end:]
	manifestPath := filepath.Join(root, "model", "model.yaml")
	if err := os.WriteFile(manifestPath, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}

	srv := lineagetest.NewMLflow(t, token)
	run := lineagetest.Run{ID: runID, ExperimentID: "1", Status: "FINISHED", Models: map[string]string{
		"model": `[{"type": "double", "name": "amount", "required": true}, {"type": "long", "name": "hour", "required": true}]`,
	}}
	for name, v := range plain.Evaluation.Metrics {
		run.Metrics = append(run.Metrics, lineagetest.Metric{Key: name, Value: float64(v), Timestamp: 1760000000000, Step: 3})
	}
	srv.AddRun(run)
	srv.AddModelVersion(lineagetest.ModelVersion{Name: "fraud-detector", Version: "3", RunID: runID, Source: "runs:/" + runID + "/model"})
	env := map[string]string{"MLFLOW_TRACKING_URI": srv.URL, "MLFLOW_TRACKING_TOKEN": token}

	check := func(wantCode int) (*checks.Lineage, string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "evidence.json")
		code, stdout, stderr := runCLIEnv(t, env, "check", manifestPath, "--dvc", root, "--out", out)
		if code != wantCode {
			t.Fatalf("check --dvc --mlflow: exit %d, want %d: %s%s", code, wantCode, stdout, stderr)
		}
		if code != exitOK {
			return nil, stderr
		}
		if code, _, stderr := runCLI(t, "validate", "--kind", "evidence", out); code != exitOK {
			t.Errorf("validate the evidence: exit %d: %s", code, stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var ev checks.Evidence
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Lineage == nil {
			t.Fatalf("evidence without lineage: %s", data)
		}
		return ev.Lineage, stdout
	}

	l, stdout := check(exitOK)
	if len(l.Mismatches) != 0 || l.DVC == nil || len(l.DVC.Tracked) != 2 || l.MLflow == nil || l.MLflow.TrackingURI != srv.URL || len(l.MLflow.Signatures) != 1 {
		t.Fatalf("lineage of a consistent repository: %+v", l)
	}
	if !strings.Contains(stdout, "lineage: consistent") {
		t.Errorf("summary:\n%s", stdout)
	}

	run.Metrics = append(run.Metrics, lineagetest.Metric{Key: "roc_auc", Value: 0.5, Timestamp: 1760000000000, Step: 4})
	srv.AddRun(run)
	if err := os.WriteFile(filepath.Join(root, "model/data/reference.csv.dvc"), []byte(strings.Replace(readFile(t, filepath.Join(root, "model/data/reference.csv.dvc")), ref.MD5, "0123456789abcdef0123456789abcdef", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	l, stdout = check(exitOK)
	var got []string
	for _, m := range l.Mismatches {
		got = append(got, m.Source+" "+m.Subject)
	}
	if strings.Join(got, ", ") != "dvc spec.lineage.datasets[0].digest, dvc inputs[data/reference.csv], mlflow evaluation.metrics.roc_auc" {
		t.Errorf("mismatches %v", got)
	}
	if !strings.Contains(stdout, "lineage: 3 mismatches") || !strings.Contains(stdout, "metric roc_auc: MLflow run "+runID+" logged 0.5") {
		t.Errorf("summary:\n%s", stdout)
	}

	env["MLFLOW_TRACKING_TOKEN"] = "wrong"
	if _, stderr := check(exitCantRun); !strings.Contains(stderr, "lineage: MLflow run "+runID+": GET "+srv.URL+"/api/2.0/mlflow/runs/get?run_id="+runID+": MLflow answered 401") {
		t.Errorf("wrong token: %s", stderr)
	}
	delete(env, "MLFLOW_TRACKING_URI")
	if _, stderr := check(exitCantRun); !strings.Contains(stderr, "--mlflow or MLFLOW_TRACKING_URI") {
		t.Errorf("no tracking URI: %s", stderr)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

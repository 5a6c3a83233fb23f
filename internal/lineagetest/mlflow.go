package lineagetest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Metric is one logged value of a metric.
type Metric struct {
	Key       string
	Value     float64
	Timestamp int64
	Step      int64
}

// Run is an MLflow run. Metrics holds every logged value; the server and the
// file store report each key's latest, by step then timestamp, as MLflow does.
type Run struct {
	ID, ExperimentID string
	Status           string // FINISHED, ...
	Metrics          []Metric
	Params, Tags     map[string]string
	// Models maps an artifact path to the signature inputs' JSON of the model
	// logged there ("" for a model without a signature).
	Models map[string]string
}

// ModelVersion is a registered model's version.
type ModelVersion struct {
	Name, Version, RunID, Source string
}

// MLflow is a fake MLflow tracking server on loopback. It answers
// runs/get and model-versions/get for what the test added, with MLflow's JSON,
// and its error JSON for the rest. It may be used concurrently.
type MLflow struct {
	*httptest.Server
	token string

	mu       sync.Mutex
	runs     map[string]Run
	versions map[[2]string]ModelVersion
	status   int    // answer every request with this status, when set
	body     string // and this body
}

// NewMLflow starts a server that requires the bearer token (none if empty).
func NewMLflow(t testing.TB, token string) *MLflow {
	s := &MLflow{token: token, runs: make(map[string]Run), versions: make(map[[2]string]ModelVersion)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/2.0/mlflow/runs/get", s.getRun)
	mux.HandleFunc("GET /api/2.0/mlflow/model-versions/get", s.getModelVersion)
	s.Server = httptest.NewServer(s.guard(mux))
	t.Cleanup(s.Close)
	return s
}

func (s *MLflow) AddRun(r Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs[r.ID] = r
}

func (s *MLflow) AddModelVersion(v ModelVersion) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions[[2]string{v.Name, v.Version}] = v
}

// Answer makes the server answer every request with status and body, as a
// broken server or proxy would.
func (s *MLflow) Answer(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func (s *MLflow) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		status, body := s.status, s.body
		s.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			fmt.Fprint(w, body)
			return
		}
		if s.token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
				mlflowError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func mlflowError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error_code": code, "message": message})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// latest returns each key's latest value, as MLflow reports a run's metrics.
func latest(metrics []Metric) []Metric {
	best := make(map[string]Metric)
	for _, m := range metrics {
		b, ok := best[m.Key]
		if !ok || m.Step > b.Step || m.Step == b.Step && (m.Timestamp > b.Timestamp || m.Timestamp == b.Timestamp && m.Value > b.Value) {
			best[m.Key] = m
		}
	}
	out := make([]Metric, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Metric) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// metricValue is how MLflow's JSON carries a value: a number, or a string for
// NaN and the infinities.
func metricValue(v float64) any {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return v
}

func keyValues(m map[string]string) []map[string]string {
	out := []map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, map[string]string{"key": k, "value": m[k]})
	}
	return out
}

func (s *MLflow) getRun(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("run_id")
	s.mu.Lock()
	run, ok := s.runs[id]
	s.mu.Unlock()
	if !ok {
		mlflowError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Run '%s' not found", id))
		return
	}
	metrics := []map[string]any{}
	for _, m := range latest(run.Metrics) {
		metrics = append(metrics, map[string]any{"key": m.Key, "value": metricValue(m.Value), "timestamp": m.Timestamp, "step": m.Step})
	}
	tags := make(map[string]string)
	for k, v := range run.Tags {
		tags[k] = v
	}
	if len(run.Models) > 0 {
		tags["mlflow.log-model.history"] = logModelHistory(run)
	}
	artifactURI := fmt.Sprintf("mlflow-artifacts:/%s/%s/artifacts", run.ExperimentID, run.ID)
	writeJSON(w, map[string]any{"run": map[string]any{
		"info": map[string]any{
			"run_uuid": run.ID, "run_id": run.ID, "run_name": "train", "experiment_id": run.ExperimentID,
			"user_id": "ci", "status": run.Status, "start_time": 1760000000000, "end_time": 1760000600000,
			"artifact_uri": artifactURI, "lifecycle_stage": "active",
		},
		"data":   map[string]any{"metrics": metrics, "params": keyValues(run.Params), "tags": keyValues(tags)},
		"inputs": map[string]any{},
	}})
}

// logModelHistory is the mlflow.log-model.history tag of a run: the MLmodel of
// each model it logged, as JSON.
func logModelHistory(run Run) string {
	var items []map[string]any
	for _, p := range slices.Sorted(maps.Keys(run.Models)) {
		item := map[string]any{
			"run_id": run.ID, "artifact_path": p, "utc_time_created": "2025-10-09 08:53:20.000000",
			"flavors":    map[string]any{"python_function": map[string]any{"loader_module": "mlflow.sklearn", "python_version": "3.11.4"}},
			"model_uuid": "5d2b0d6f7e0d4c8a9b1f3e2d1c0b9a88", "mlflow_version": "2.17.2",
		}
		if in := run.Models[p]; in != "" {
			item["signature"] = map[string]any{"inputs": in, "outputs": `[{"type": "long", "required": true}]`, "params": nil}
		}
		items = append(items, item)
	}
	b, _ := json.Marshal(items)
	return string(b)
}

func (s *MLflow) getModelVersion(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	v, ok := s.versions[[2]string{q.Get("name"), q.Get("version")}]
	s.mu.Unlock()
	if !ok {
		mlflowError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Model Version (name=%s, version=%s) not found", q.Get("name"), q.Get("version")))
		return
	}
	writeJSON(w, map[string]any{"model_version": map[string]any{
		"name": v.Name, "version": v.Version, "creation_timestamp": 1760000700000, "last_updated_timestamp": 1760000700000,
		"current_stage": "None", "description": "", "user_id": "ci", "source": v.Source, "run_id": v.RunID,
		"status": "READY", "run_link": "", "aliases": []string{},
	}})
}

// WriteFileStore writes the run into the file store in dir (an mlruns folder)
// as MLflow's FileStore does.
func WriteFileStore(t testing.TB, dir string, run Run) {
	t.Helper()
	runDir := filepath.Join(dir, run.ExperimentID, run.ID)
	status := map[string]int{"RUNNING": 1, "SCHEDULED": 2, "FINISHED": 3, "FAILED": 4, "KILLED": 5}[run.Status]
	write(t, filepath.Join(dir, run.ExperimentID, "meta.yaml"), fmt.Sprintf("artifact_location: file://%s\ncreation_time: 1760000000000\nexperiment_id: '%s'\nlast_update_time: 1760000000000\nlifecycle_stage: active\nname: fraud\n", filepath.Join(dir, run.ExperimentID), run.ExperimentID))
	write(t, filepath.Join(runDir, "meta.yaml"), fmt.Sprintf(`artifact_uri: file://%s/artifacts
end_time: 1760000600000
entry_point_name: ''
experiment_id: '%s'
lifecycle_stage: active
run_id: %s
run_name: train
run_uuid: %s
source_name: ''
source_type: 4
source_version: ''
start_time: 1760000000000
status: %d
tags: []
user_id: ci
`, runDir, run.ExperimentID, run.ID, run.ID, status))
	lines := make(map[string]string)
	for _, m := range run.Metrics {
		lines[m.Key] += fmt.Sprintf("%d %s %d\n", m.Timestamp, pyFloat(m.Value), m.Step)
	}
	for k, v := range lines {
		write(t, filepath.Join(runDir, "metrics", filepath.FromSlash(k)), v)
	}
	for k, v := range run.Params {
		write(t, filepath.Join(runDir, "params", filepath.FromSlash(k)), v)
	}
	for k, v := range run.Tags {
		write(t, filepath.Join(runDir, "tags", filepath.FromSlash(k)), v)
	}
	for p, in := range run.Models {
		mlmodel := fmt.Sprintf("artifact_path: %s\nflavors:\n  python_function:\n    env:\n      conda: conda.yaml\n      virtualenv: python_env.yaml\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n    predict_fn: predict\n    python_version: 3.11.4\n  sklearn:\n    code: null\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n    sklearn_version: 1.5.2\nmlflow_version: 2.17.2\nmodel_size_bytes: 1024\nmodel_uuid: 5d2b0d6f7e0d4c8a9b1f3e2d1c0b9a88\nrun_id: %s\n", p, run.ID)
		if in != "" {
			mlmodel += fmt.Sprintf("signature:\n  inputs: '%s'\n  outputs: '[{\"type\": \"long\", \"required\": true}]'\n  params: null\n", in)
		}
		mlmodel += "utc_time_created: '2025-10-09 08:53:20.000000'\n"
		write(t, filepath.Join(runDir, "artifacts", filepath.FromSlash(p), "MLmodel"), mlmodel)
	}
}

// WriteFileStoreModelVersion registers a model version in the file store.
func WriteFileStoreModelVersion(t testing.TB, dir string, v ModelVersion) {
	t.Helper()
	write(t, filepath.Join(dir, "models", v.Name, "version-"+v.Version, "meta.yaml"), fmt.Sprintf(`creation_timestamp: 1760000700000
current_stage: None
description: ''
last_updated_timestamp: 1760000700000
name: %s
run_id: %s
run_link: ''
source: %s
status: READY
status_message: null
user_id: null
version: %s
`, v.Name, v.RunID, v.Source, v.Version))
}

// pyFloat writes a value as Python's str(float) does.
func pyFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return fmt.Sprint(v)
}

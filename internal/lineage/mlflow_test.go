package lineage_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/internal/lineage"
	"github.com/modelgate/modelgate/internal/lineagetest"
)

const (
	runID = "3f2a9c1e5b7d4e6fa8c0b1d2e3f4a5b6"
	token = "mlflow-token-for-the-test"
)

// signature is the inputs of the model the run logged: columns of the
// example's current data, typed as its contract types them.
const signature = `[{"type": "double", "name": "amount", "required": true}, {"type": "string", "name": "country", "required": true}, {"type": "long", "name": "hour", "required": true}, {"type": "boolean", "name": "card_present", "required": true}]`

// mlflowRun is the run that trained the project's model: it logged the
// metrics the evidence has, after an earlier step with other values.
func mlflowRun(ev *checks.Evidence) lineagetest.Run {
	r := lineagetest.Run{ID: runID, ExperimentID: "1", Status: "FINISHED",
		Params: map[string]string{"n_estimators": "200"},
		Tags:   map[string]string{"mlflow.runName": "train"},
		Models: map[string]string{"model": signature}}
	for name, v := range ev.Evaluation.Metrics {
		r.Metrics = append(r.Metrics,
			lineagetest.Metric{Key: name, Value: float64(v) / 2, Timestamp: 1760000300000, Step: 0},
			lineagetest.Metric{Key: name, Value: float64(v), Timestamp: 1760000200000, Step: 1})
	}
	r.Metrics = append(r.Metrics, lineagetest.Metric{Key: "train_loss", Value: 0.12, Timestamp: 1760000100000})
	return r
}

func setMetric(r *lineagetest.Run, key string, v float64) {
	r.Metrics = append(r.Metrics, lineagetest.Metric{Key: key, Value: v, Timestamp: 1760000400000, Step: 2})
}

const mlflowLineage = "    mlflow:\n      runId: " + runID + "\n      model: {name: fraud-detector, version: \"3\"}\n"

// store is a way to read the run: a tracking server or a file store.
type store struct {
	name string
	open func(t *testing.T, run lineagetest.Run, version lineagetest.ModelVersion) lineage.Tracking
}

var stores = []store{
	{"server", func(t *testing.T, run lineagetest.Run, version lineagetest.ModelVersion) lineage.Tracking {
		srv := lineagetest.NewMLflow(t, token)
		srv.AddRun(run)
		srv.AddModelVersion(version)
		tr, err := lineage.NewServer(srv.URL, token, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}},
	{"file store", func(t *testing.T, run lineagetest.Run, version lineagetest.ModelVersion) lineage.Tracking {
		dir := filepath.Join(t.TempDir(), "mlruns")
		lineagetest.WriteFileStore(t, dir, run)
		version.Source = "file://" + filepath.Join(dir, run.ExperimentID, run.ID, "artifacts", "model")
		lineagetest.WriteFileStoreModelVersion(t, dir, version)
		fs, err := lineage.OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Close() })
		return fs
	}},
}

func modelVersion(runID string) lineagetest.ModelVersion {
	return lineagetest.ModelVersion{Name: "fraud-detector", Version: "3", RunID: runID, Source: "runs:/" + runID + "/model"}
}

func (p *project) checkMLflow(t *testing.T, s store, edit func(*lineagetest.Run, *lineagetest.ModelVersion)) (*checks.Lineage, error) {
	t.Helper()
	p.lineage(t, mlflowLineage)
	cfg, done := p.checkConfig(t)
	defer done()
	run, version := mlflowRun(cfg.Evidence), modelVersion(runID)
	if edit != nil {
		edit(&run, &version)
	}
	cfg.Tracking = s.open(t, run, version)
	return lineage.Check(context.Background(), cfg)
}

func TestMLflowConsistent(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			p := newProject(t)
			l, err := p.checkMLflow(t, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Mismatches) != 0 {
				t.Fatalf("mismatches of a consistent run: %+v", l.Mismatches)
			}
			ml := l.MLflow
			if ml.RunID != runID || ml.Status != "FINISHED" || ml.Model == nil || ml.Model.RunID != runID || ml.Model.Status != "READY" {
				t.Errorf("mlflow lineage %+v, model %+v", ml, ml.Model)
			}
			if ml.Metrics["train_loss"] != 0.12 || ml.Metrics["roc_auc"] == 0 {
				t.Errorf("metrics %v", ml.Metrics)
			}
			if len(ml.Signatures) != 1 || ml.Signatures[0].ArtifactPath != "model" || len(ml.Signatures[0].Inputs) != 4 || ml.Signatures[0].Inputs[0] != (checks.MLflowInput{Name: "amount", Type: "double"}) {
				t.Errorf("signatures %+v", ml.Signatures)
			}
			if l.DVC != nil {
				t.Errorf("DVC lineage without a DVC project: %+v", l.DVC)
			}
		})
	}
}

func TestMLflowMismatches(t *testing.T) {
	tests := []struct {
		name string
		edit func(*lineagetest.Run, *lineagetest.ModelVersion)
		want []string
		say  string
	}{
		{"metric differs", func(r *lineagetest.Run, _ *lineagetest.ModelVersion) {
			setMetric(r, "roc_auc", 0.5)
		}, []string{"evaluation.metrics.roc_auc"}, "metric roc_auc: MLflow run " + runID + " logged 0.5, the evidence has "},
		{"metric undefined in the run", func(r *lineagetest.Run, _ *lineagetest.ModelVersion) {
			setMetric(r, "accuracy", math.NaN())
		}, []string{"evaluation.metrics.accuracy"}, "logged undefined"},
		{"model version of another run", func(_ *lineagetest.Run, v *lineagetest.ModelVersion) {
			*v = modelVersion("0000000000000000000000000000beef")
		}, []string{"spec.lineage.mlflow.runId"}, "comes from run 0000000000000000000000000000beef, not from the manifest's run " + runID},
		{"signature input the data lacks", func(r *lineagetest.Run, _ *lineagetest.ModelVersion) {
			r.Models["model"] = strings.Replace(signature, `"name": "country"`, `"name": "merchant_id"`, 1)
		}, []string{"signature[model].inputs[merchant_id]"}, "takes column merchant_id, which the current data data/current.csv does not have"},
		{"signature input of another type", func(r *lineagetest.Run, _ *lineagetest.ModelVersion) {
			r.Models["model"] = strings.Replace(signature, `{"type": "double", "name": "amount"`, `{"type": "long", "name": "amount"`, 1)
		}, []string{"signature[model].inputs[amount]"}, "takes column amount as long, and the data contract types it float"},
	}
	for _, s := range stores {
		for _, tt := range tests {
			t.Run(s.name+"/"+tt.name, func(t *testing.T) {
				p := newProject(t)
				l, err := p.checkMLflow(t, s, tt.edit)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(subjects(l), " "); got != strings.Join(tt.want, " ") {
					t.Fatalf("mismatches %q, want %q: %+v", got, tt.want, l.Mismatches)
				}
				m := l.Mismatches[0]
				if m.Source != checks.SourceMLflow || m.Expected == m.Actual || !strings.Contains(m.Message, tt.say) {
					t.Errorf("mismatch %+v; want it to say %q", m, tt.say)
				}
			})
		}
	}
}

// TestMLflowMetricTolerance: a metric MLflow logged within 1e-9 relative of
// the evidence's is the same, one just outside is not.
func TestMLflowMetricTolerance(t *testing.T) {
	for _, tt := range []struct {
		rel  float64
		same bool
	}{{0, true}, {1e-12, true}, {-5e-10, true}, {3e-9, false}, {-1e-6, false}} {
		p := newProject(t)
		l, err := p.checkMLflow(t, stores[0], func(r *lineagetest.Run, _ *lineagetest.ModelVersion) {
			for _, m := range r.Metrics {
				if m.Key == "log_loss" && m.Step == 1 {
					setMetric(r, "log_loss", m.Value*(1+tt.rel))
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(l.Mismatches) == 0; got != tt.same {
			t.Errorf("log_loss off by %g relative: same = %v, want %v (%+v)", tt.rel, got, tt.same, l.Mismatches)
		}
	}
	if !lineage.Equal(math.NaN(), math.NaN()) || lineage.Equal(math.Inf(1), 1e308) || lineage.Equal(0, 1e-300) {
		t.Error("Equal on NaN, infinities or zero")
	}
}

// TestMLflowErrors: a run or model version that does not exist, and a server
// that refuses or answers nonsense, stop the check with an error that names
// the URL; nothing passes silently.
func TestMLflowErrors(t *testing.T) {
	p := newProject(t)
	p.lineage(t, mlflowLineage)
	cfg, done := p.checkConfig(t)
	defer done()
	srv := lineagetest.NewMLflow(t, token)
	check := func(tr lineage.Tracking, want ...string) {
		t.Helper()
		c := cfg
		c.Tracking = tr
		l, err := lineage.Check(context.Background(), c)
		if err == nil {
			t.Fatalf("no error (lineage %+v); want %q", l, want)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("error %q holds the token", err)
		}
	}
	server := func(tok string) lineage.Tracking {
		tr, err := lineage.NewServer(srv.URL+"/", tok, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	runURL := srv.URL + "/api/2.0/mlflow/runs/get?run_id=" + runID
	check(server(token), "GET "+runURL, "404 Not Found: RESOURCE_DOES_NOT_EXIST: Run '"+runID+"' not found", "does not exist")
	check(server("wrong"), runURL, "401 Unauthorized: UNAUTHENTICATED", "MLFLOW_TRACKING_TOKEN")

	srv.AddRun(mlflowRun(cfg.Evidence))
	check(server(token), "/api/2.0/mlflow/model-versions/get?name=fraud-detector&version=3", "RESOURCE_DOES_NOT_EXIST")

	srv.Answer(http.StatusForbidden, `{"error_code": "PERMISSION_DENIED", "message": "Permission denied"}`)
	check(server(token), runURL, "403 Forbidden: PERMISSION_DENIED")
	srv.Answer(http.StatusBadGateway, "<html>bad gateway</html>")
	check(server(token), runURL, "502 Bad Gateway")
	srv.Answer(http.StatusOK, "<html>login</html>")
	check(server(token), runURL, "not MLflow's JSON")
	srv.Answer(http.StatusOK, `{"run": {"info": {"run_id": "0000000000000000000000000000beef"}}}`)
	check(server(token), "the answer is about run \"0000000000000000000000000000beef\"")

	down := httptest.NewServer(nil)
	down.Close()
	tr, err := lineage.NewServer(down.URL, token, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	check(tr, "GET "+down.URL+"/api/2.0/mlflow/runs/get")

	empty, err := lineage.OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	check(empty, "MLflow run "+runID+" does not exist in the file store")

	check(nil, "give the tracking server or file store (--mlflow or MLFLOW_TRACKING_URI)")
}

func TestNewServer(t *testing.T) {
	for _, tt := range []struct{ uri, token, want string }{
		{"http://mlflow.internal:5000", "secret", "clear text; use https"},
		{"https://user:pw@mlflow.example.com", "", "credentials in the URL"},
		{"ftp://mlflow.example.com", "", "want an http(s) URL"},
		{"https://", "", "want an http(s) URL"},
	} {
		if _, err := lineage.NewServer(tt.uri, tt.token, http.DefaultClient); err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "pw@") {
			t.Errorf("NewServer(%q) = %v, want %q", tt.uri, err, tt.want)
		}
	}
	for _, uri := range []string{"http://127.0.0.1:5000", "http://localhost:5000", "http://[::1]:5000", "https://mlflow.example.com/"} {
		if _, err := lineage.NewServer(uri, "secret", http.DefaultClient); err != nil {
			t.Errorf("NewServer(%q): %v", uri, err)
		}
	}
}

func TestParseMetricFile(t *testing.T) {
	for _, tt := range []struct {
		data string
		want float64
	}{
		{"1760000000000 0.5 0\n1760000000001 0.7 2\n1760000000002 0.6 1\n", 0.7},
		{"1760000000005 0.5 3\n1760000000001 0.9 3\n", 0.5},
		{"1760000000000 0.5\n1760000000001 0.25\n", 0.25},
		{"1760000000000 nan 4\n1760000000000 0.1 4\n", math.NaN()},
		{"1760000000000 -inf 0\n", math.Inf(-1)},
	} {
		got, err := lineage.ParseMetricFile("m", []byte(tt.data))
		if err != nil || !lineage.Equal(got, tt.want) {
			t.Errorf("ParseMetricFile(%q) = %v, %v; want %v", tt.data, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "1 2 3 4\n", "x 0.5 0\n", "1 zero 0\n", "1 0.5 one\n"} {
		if _, err := lineage.ParseMetricFile("metrics/auc", []byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "metrics/auc") {
			t.Errorf("ParseMetricFile(%q) = %v, want an error naming the file", bad, err)
		}
	}
}

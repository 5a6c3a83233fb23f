package analysis

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/schema"
)

func loadConfig(t *testing.T, yaml string) (*gitops.Config, error) {
	t.Helper()
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	return gitops.ParseConfig(v, []byte(yaml))
}

const stagingAnalysis = `stages:
  - name: dev
  - name: staging
    soak: 24h
    analysis:
      prometheus: {address: "http://prometheus:9090"}
      metrics:
        - name: error-rate
          query: sum(model_errors_total{model="{{model}}",version="{{version}}"}) / sum(model_requests_total{model="{{model}}",version="{{version}}"})
          successCondition: %s
          interval: 5m
          count: 12
          failureLimit: 2
          inconclusiveLimit: 3
`

func TestCompileConfig(t *testing.T) {
	cfg, err := loadConfig(t, strings.Replace(stagingAnalysis, "%s", "result < 0.01", 1))
	if err != nil {
		t.Fatal(err)
	}
	tpls, err := CompileConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(tpls) != 1 || tpls["staging"] == nil {
		t.Fatalf("templates %v; want staging's alone", tpls)
	}
	m := tpls["staging"].Metrics[0]
	if tpls["staging"].Address != "http://prometheus:9090" || m.Name != "error-rate" || m.Count != 12 || m.FailureLimit != 2 ||
		m.InconclusiveLimit != 3 || m.ConsecutiveErrorLimit != 4 || m.Interval != 5*time.Minute || m.InitialDelay != 0 || m.FailureCondition != nil {
		t.Errorf("compiled %+v", m)
	}

	// The defaults: Argo's limits, count 1, a 5m interval.
	cfg, err = loadConfig(t, "stages:\n  - name: staging\n    analysis:\n      prometheus: {address: \"https://prom.example.com/sub/\"}\n      metrics:\n        - {name: up, query: up, successCondition: result == 1}\n")
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Stages[0].Analysis.Metrics[0]
	want := gitops.AnalysisMetric{Name: "up", Query: "up", SuccessCondition: "result == 1", Interval: gitops.Duration(5 * time.Minute), Count: 1, ConsecutiveErrorLimit: 4}
	if got != want {
		t.Errorf("defaults %+v; want %+v", got, want)
	}
}

// TestCompileErrors: a condition or query that does not parse is an error
// naming the field and the column.
func TestCompileErrors(t *testing.T) {
	cfg, err := loadConfig(t, strings.Replace(stagingAnalysis, "%s", `"result <)"`, 1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = CompileConfig(cfg)
	if want := `stages[1].analysis.metrics[0].successCondition:1:9: expected a number or result, found ")"`; err == nil || err.Error() != want {
		t.Errorf("error %v; want %s", err, want)
	}

	cfg.Stages[1].Analysis.Metrics[0].SuccessCondition = "result < 1"
	cfg.Stages[1].Analysis.Metrics[0].FailureCondition = "result >"
	if _, err = CompileConfig(cfg); err == nil || !strings.HasPrefix(err.Error(), "stages[1].analysis.metrics[0].failureCondition:1:9: ") {
		t.Errorf("error %v; want one at failureCondition:1:9", err)
	}

	cfg.Stages[1].Analysis.Metrics[0].FailureCondition = ""
	cfg.Stages[1].Analysis.Metrics[0].Query = "up{model=\"x\"}\n/ up{model={{model}}}"
	if _, err = CompileConfig(cfg); err == nil || !strings.HasPrefix(err.Error(), "stages[1].analysis.metrics[0].query:2:12: {{model}} outside a string literal") {
		t.Errorf("error %v; want one at query:2:12", err)
	}
}

// TestConfigSchema: what the CUE schema refuses, at its place.
func TestConfigSchema(t *testing.T) {
	metric := "        - {name: m, query: up, successCondition: result == 1}\n"
	head := "stages:\n  - name: staging\n    analysis:\n      prometheus: {address: \"http://prometheus:9090\"}\n      metrics:\n"
	for _, c := range []struct{ config, want string }{
		{head + metric + metric, "stages[0].analysis.metrics"},
		{head + "        - {name: m, query: up, successCondition: result == 1, count: 0}\n", "config.yaml:6:70: stages[0].analysis.metrics[0].count"},
		{head + "        - {name: m, query: up, successCondition: result == 1, failureLimit: -1}\n", "stages[0].analysis.metrics[0].failureLimit"},
		{head + "        - {name: m, query: up, successCondition: result == 1, inconclusiveLimit: -1}\n", "stages[0].analysis.metrics[0].inconclusiveLimit"},
		{head + "        - {name: m, query: up, successCondition: result == 1, consecutiveErrorLimit: -1}\n", "stages[0].analysis.metrics[0].consecutiveErrorLimit"},
		{head + "        - {name: m, query: up, successCondition: result == 1, interval: 5 minutes}\n", "stages[0].analysis.metrics[0].interval"},
		{head + "        - {name: m, query: up}\n", "stages[0].analysis.metrics[0].successCondition: required field is missing"},
		{head + "        - {name: m, query: up, successCondition: result == 1, sucessCondition: x}\n", `unknown field "sucessCondition"`},
		{head + "        - {name: M_1, query: up, successCondition: result == 1}\n", "stages[0].analysis.metrics[0].name"},
		{"stages:\n  - name: staging\n    analysis:\n      prometheus: {address: \"prometheus:9090\"}\n      metrics:\n" + metric, "config.yaml:4:29: stages[0].analysis.prometheus.address"},
		{"stages:\n  - name: staging\n    analysis:\n      prometheus: {address: \"file:///etc/passwd\"}\n      metrics:\n" + metric, "stages[0].analysis.prometheus.address"},
		{"stages:\n  - name: staging\n    analysis:\n      prometheus: {address: \"http://p:9090\"}\n      metrics: []\n", "stages[0].analysis.metrics"},
	} {
		_, err := loadConfig(t, c.config)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want one containing %q", c.config, err, c.want)
		}
	}
}

// TestExampleConfig: the example the README points to is valid and compiles.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../../examples/analysis/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(t, string(data))
	if err != nil {
		t.Fatal(err)
	}
	tpls, err := CompileConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(tpls) != 2 || len(tpls["production"].Metrics) != 2 {
		t.Errorf("templates %v; want staging's and production's two metrics", tpls)
	}
	got := tpls["production"].Metrics[0].Query.Render(Vars{Model: "fraud-detector", Version: "2.3.0", Stage: "production"})
	if !strings.Contains(got, `{model="fraud-detector",version="2.3.0",stage="production"}`) {
		t.Errorf("rendered %s", got)
	}
}

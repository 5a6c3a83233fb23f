package analysis

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/prometheustest"
)

const errorRate = `sum(model_errors_total{model="{{model}}",version="{{version}}"}) / sum(model_requests_total{model="{{model}}",version="{{version}}"})`

// exporter serves a model's request and error counters, as a model server
// would, for Prometheus to scrape.
func exporter(t *testing.T) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "model_requests_total", Help: "Requests served."}, []string{"model", "version", "stage"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "model_errors_total", Help: "Requests failed."}, []string{"model", "version", "stage"})
	reg.MustRegister(requests, errs)
	for _, c := range []struct {
		version  string
		requests float64
		errors   float64
	}{
		{"2.3.0", 10000, 5},   // 0.0005: healthy
		{"2.4.0", 10000, 500}, // 0.05: failing
		{"2.5.0", 0, 0},       // 0/0: NaN
	} {
		requests.WithLabelValues("fraud-detector", c.version, "staging").Add(c.requests)
		errs.WithLabelValues("fraud-detector", c.version, "staging").Add(c.errors)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func metric(t *testing.T, query, success string, extra gitops.AnalysisMetric) *Metric {
	t.Helper()
	extra.Name, extra.Query, extra.SuccessCondition = "error-rate", query, success
	if extra.Interval == 0 {
		extra.Interval = gitops.Duration(30 * time.Second)
	}
	tpl, err := Compile("stages[1].analysis", &gitops.Analysis{Metrics: []gitops.AnalysisMetric{extra}})
	if err != nil {
		t.Fatal(err)
	}
	return tpl.Metrics[0]
}

// TestPrometheus measures against a real Prometheus scraping an exporter the
// test controls: passing, failing, empty and NaN results, a hostile template
// value, a run driven to its verdict by an injected clock, and Prometheus gone.
func TestPrometheus(t *testing.T) {
	prom := prometheustest.Start(t, exporter(t))
	prom.WaitForSeries(t, `model_errors_total{version="2.5.0"}`)
	q, err := NewQuerier(prom.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The clock: every query's time parameter, from a time the series have a
	// sample at or before. The counters are constant, so a measurement within
	// Prometheus' 5m lookback after the last scrape reads them; one before the
	// first scrape finds nothing.
	now := time.Now()
	vars := func(version string) Vars { return Vars{Model: "fraud-detector", Version: version, Stage: "staging"} }

	m := metric(t, errorRate, "result < 0.01", gitops.AnalysisMetric{})
	for _, c := range []struct {
		version string
		at      time.Time
		phase   Phase
		value   float64 // -1: none
		message string
	}{
		{"2.3.0", now, Successful, 0.0005, ""},
		{"2.4.0", now, Failed, 0.05, "successCondition result < 0.01 is not met"},
		{"9.9.9", now, Inconclusive, -1, "the query returned no data"},
		{"2.5.0", now, Inconclusive, -1, "the result is NaN"},
		{"2.3.0", now.Add(-24 * time.Hour), Inconclusive, -1, "the query returned no data"},
		{`a"} or vector(1) #`, now, Inconclusive, -1, "the query returned no data"},
		// Every escape the template writes is one PromQL reads.
		{"a\\\n\r\t\x00\x7f\u0085\u2028é'", now, Inconclusive, -1, "the query returned no data"},
	} {
		got := m.Measure(ctx, q, vars(c.version), c.at)
		if got.Phase != c.phase || !strings.Contains(got.Message, c.message) || !got.At.Equal(c.at) || got.Metric != "error-rate" {
			t.Errorf("%s at %v: %+v; want %s, %q", c.version, c.at, got, c.phase, c.message)
		}
		if c.value < 0 && got.Value != nil || c.value >= 0 && (got.Value == nil || *got.Value != c.value) {
			t.Errorf("%s: value %v; want %v", c.version, got.Value, c.value)
		}
	}

	// An empty result and NaN are inconclusive even for a condition that
	// they would meet.
	for version, cond := range map[string]string{"9.9.9": "len(result) == 0", "2.5.0": "len(result) == 1"} {
		if got := metric(t, errorRate, cond, gitops.AnalysisMetric{}).Measure(ctx, q, vars(version), now); got.Phase != Inconclusive {
			t.Errorf("%s, %s: %+v; want Inconclusive", version, cond, got)
		}
	}

	// The hostile value where it would otherwise win outright: unescaped, the
	// query would become up{version="a"} or vector(1).
	hostile := metric(t, `model_requests_total{version="{{version}}"}`, "result == 1", gitops.AnalysisMetric{})
	if got := hostile.Measure(ctx, q, vars(`a"} or vector(1) #`), now); got.Phase == Successful || got.Value != nil {
		t.Errorf("the hostile value changed the query: %+v", got)
	}

	// A vector of several series: result[i] orders them by labels.
	multi := metric(t, `model_requests_total{model="{{model}}"}`, "len(result) == 3 && result[0] == 10000 && result[2] == 0", gitops.AnalysisMetric{})
	if got := multi.Measure(ctx, q, vars(""), now); got.Phase != Successful || len(got.Values) != 3 || got.Value != nil {
		t.Errorf("several series: %+v", got)
	}
	bare := metric(t, `model_requests_total{model="{{model}}"}`, "result > 0", gitops.AnalysisMetric{})
	if got := bare.Measure(ctx, q, vars(""), now); got.Phase != Inconclusive || !strings.Contains(got.Message, "result has 3 elements") {
		t.Errorf("result of several series: %+v", got)
	}

	// A query Prometheus refuses, and a range vector, are errors.
	for _, query := range []string{`sum(model_requests_total{model="{{model}}"}`, `model_requests_total{model="{{model}}"}[1m]`} {
		if got := metric(t, query, "result > 0", gitops.AnalysisMetric{}).Measure(ctx, q, vars(""), now); got.Phase != Error {
			t.Errorf("%s: %+v; want an Error", query, got)
		}
	}

	// A run driven to its verdict, one measurement per interval of the clock.
	run := func(version string, spec gitops.AnalysisMetric) (State, int) {
		m := metric(t, errorRate, "result < 0.01", spec)
		tpl := &Template{Metrics: []*Metric{m}}
		var ms []Measurement
		clock := now
		for n := 1; ; n++ {
			st := tpl.Assess(now, ms, clock)
			if st.Phase != Running {
				return st, len(ms)
			}
			if n > 40 {
				t.Fatalf("%s: no verdict after 40 assessments: %+v", version, st)
			}
			if len(st.Due) == 0 {
				clock = *st.Next
				continue
			}
			for range st.Due {
				ms = append(ms, m.Measure(ctx, q, vars(version), clock))
			}
		}
	}
	if st, n := run("2.3.0", gitops.AnalysisMetric{Count: 4, FailureLimit: 1}); st.Phase != Successful || n != 4 {
		t.Errorf("healthy: %s after %d measurements; want Successful after 4", st.Phase, n)
	}
	// failureLimit+1 failures fail it, before count is reached.
	if st, n := run("2.4.0", gitops.AnalysisMetric{Count: 6, FailureLimit: 2}); st.Phase != Failed || n != 3 || st.Metrics[0].Failed != 3 {
		t.Errorf("failing: %s after %d measurements (%+v); want Failed after 3", st.Phase, n, st.Metrics[0])
	}
	if st, n := run("9.9.9", gitops.AnalysisMetric{Count: 6, InconclusiveLimit: 1}); st.Phase != Inconclusive || n != 2 {
		t.Errorf("no data: %s after %d measurements; want Inconclusive after 2", st.Phase, n)
	}

	// Prometheus gone: every measurement is an Error, retried, and the run
	// ends inconclusive once the errors run past the limit; never a success.
	prom.Stop()
	got := m.Measure(ctx, q, vars("2.3.0"), now)
	if got.Phase != Error || got.Value != nil || got.Message == "" {
		t.Fatalf("Prometheus stopped: %+v; want an Error", got)
	}
	st, n := run("2.3.0", gitops.AnalysisMetric{Count: 1, ConsecutiveErrorLimit: 2})
	if st.Phase != Inconclusive || n != 3 || st.Metrics[0].Errors != 3 || st.Metrics[0].Count != 0 {
		t.Errorf("Prometheus stopped: %s after %d measurements (%+v); want Inconclusive after 3 errors", st.Phase, n, st.Metrics[0])
	}
}

// TestResponseLimit: a response past MaxResponseBytes is an Error, not read
// into memory whole.
func TestResponseLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[`))
		series := []byte(`{"metric":{"__name__":"up","instance":"` + strings.Repeat("x", 1000) + `"},"value":[1,"1"]},`)
		for written := 0; written <= MaxResponseBytes; written += len(series) {
			if _, err := w.Write(series); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`{"metric":{},"value":[1,"1"]}]}}`))
	}))
	defer srv.Close()
	q, err := NewQuerier(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := metric(t, "up", "len(result) > 0", gitops.AnalysisMetric{}).Measure(context.Background(), q, Vars{}, time.Now())
	if got.Phase != Error || !strings.Contains(got.Message, "larger than") {
		t.Errorf("an oversized response: %+v; want an Error naming the limit", got)
	}
}

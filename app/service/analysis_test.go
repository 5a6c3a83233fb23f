package service_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/prometheustest"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// The live analysis runs in production here, the stage the example
// promotion enters (in staging in the journey tests): three measurements a minute apart, taken against a real
// Prometheus, and a soak short enough that the emulator's clock can pass it
// while the App's installation token lasts.
const (
	analysisInterval = time.Minute
	analysisCount    = 3
	analyzedSoak     = 10 * time.Minute
)

// modelExporter serves fraud-detector 2.3.0's request and error counters,
// with errors failed requests in 10000, for Prometheus to scrape.
func modelExporter(t *testing.T, errors float64) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "model_requests_total", Help: "Requests served."}, []string{"model", "version"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "model_errors_total", Help: "Requests failed."}, []string{"model", "version"})
	reg.MustRegister(requests, errs)
	requests.WithLabelValues("fraud-detector", "2.3.0").Add(10000)
	errs.WithLabelValues("fraud-detector", "2.3.0").Add(errors)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// startPrometheus runs a Prometheus scraping the model's exporter and waits
// for two scrapes of its series: the emulator's clock, which dates the
// success a measurement is taken at, counts whole seconds, and may read a
// second earlier than the first scrape.
func startPrometheus(t *testing.T, errors float64) *prometheustest.Server {
	t.Helper()
	prom := prometheustest.Start(t, modelExporter(t, errors))
	prom.WaitForSeries(t, `count_over_time(model_errors_total{model="fraud-detector"}[1m]) >= 2`)
	return prom
}

// withAnalysis gives a stage of the example repository a short soak and a
// live analysis reading Prometheus at address. The query reads the last
// sample over a window, as rate() does over its own, rather than the latest
// point: a scrape that times out on a loaded machine leaves a staleness
// marker, and the bare series would read as no data until the next scrape.
func withAnalysis(t *testing.T, stage, address string) func(r *gittest.Repo) {
	return func(r *gittest.Repo) {
		path := filepath.Join(r.Dir, ".modelgate", "config.yaml")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		prefix := "  - {name: " + stage + ", soak: "
		start := strings.Index(string(data), prefix)
		if start < 0 {
			t.Fatalf("%s has no line starting %q to replace", path, prefix)
		}
		end := start + strings.Index(string(data)[start:], "\n") + 1
		block := fmt.Sprintf(`  - name: %s
    soak: %s
    analysis:
      prometheus: {address: %q}
      metrics:
        - name: error-rate
          query: 'sum(last_over_time(model_errors_total{model="{{model}}",version="{{version}}"}[5m])) / sum(last_over_time(model_requests_total{model="{{model}}",version="{{version}}"}[5m]))'
          successCondition: result < 0.01
          interval: %s
          count: %d
          consecutiveErrorLimit: 2
`, stage, analyzedSoak, address, analysisInterval, analysisCount)
		r.Write(".modelgate/config.yaml", string(data)[:start]+block+string(data)[end:])
	}
}

// deployed merges the example promotion, lets the App create its
// deployment and posts its success as the deployer; GitHub delivers the
// status late after it was posted. It returns the deployment and the
// success.
func (w *world) deployed(late time.Duration) (int64, github.DeploymentStatus) {
	w.t.Helper()
	merge := w.merged().MergeCommitSHA
	w.deliver(w.gh.PushEvent(repoName, "main"), http.StatusAccepted)
	w.settle()
	deps := slices.DeleteFunc(w.gh.Deployments(repoName), func(d githubtest.Deployment) bool { return d.Ref != merge })
	if len(deps) != 1 {
		w.t.Fatalf("%d deployments of the merge %s; want 1", len(deps), merge)
	}
	st, err := w.deployer().CreateDeploymentStatus(w.t.Context(), deps[0].ID, github.NewDeploymentStatus{State: deploy.Success,
		Description: deploy.StatusDescription(deploy.Success, fraudDigest, "synced")})
	if err != nil {
		w.t.Fatal(err)
	}
	w.gh.Advance(late)
	w.gh.ResetCalls()
	w.deliver(w.gh.DeploymentStatusEvent(repoName, st.ID), http.StatusAccepted)
	w.settle()
	w.t.Logf("API calls for the success status: %s", w.calls())
	return deps[0].ID, st
}

// tick moves the clock on by d, lets the queue run what fell due and logs
// the API calls it took.
func (w *world) tick(d time.Duration) {
	w.t.Helper()
	w.gh.ResetCalls()
	w.gh.Advance(d)
	w.settle()
	w.t.Logf("API calls after %s: %s", d, w.calls())
}

func (w *world) measurements(id int64) []analysis.Measurement {
	w.t.Helper()
	var out []analysis.Measurement
	for _, r := range w.records(audit.Filter{Kind: audit.KindMeasurement}) {
		var p audit.MeasurementPayload
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			w.t.Fatal(err)
		}
		if p.DeploymentID == id {
			out = append(out, p.Measurement)
		}
	}
	return out
}

func (w *world) analyses(id int64) []analysis.State {
	w.t.Helper()
	var out []analysis.State
	for _, r := range w.records(audit.Filter{Kind: audit.KindAnalysis}) {
		var p audit.AnalysisPayload
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			w.t.Fatal(err)
		}
		if p.DeploymentID == id && r.Model == "fraud-detector" && r.Version == "2.3.0" && r.Stage == "production" {
			out = append(out, p.State)
		}
	}
	return out
}

func phases(states []analysis.State) []analysis.Phase {
	var out []analysis.Phase
	for _, s := range states {
		out = append(out, s.Phase)
	}
	return out
}

func measuredPhases(ms []analysis.Measurement) []analysis.Phase {
	var out []analysis.Phase
	for _, m := range ms {
		out = append(out, m.Phase)
	}
	return out
}

// jobs returns the App's own jobs of a deployment, by delivery id.
func (w *world) jobs(id int64) map[string]sqlstoretest.Job {
	w.t.Helper()
	out := map[string]sqlstoretest.Job{}
	for _, j := range sqlstoretest.Jobs(w.t, w.dsn, "") {
		if j.Event != app.EventAnalyze && j.Event != app.EventAdvance {
			continue
		}
		var p app.DeploymentJobPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			w.t.Fatal(err)
		}
		if p.DeploymentID == id {
			out[j.Delivery] = j
		}
	}
	return out
}

func advanceID(id int64, trigger string) string {
	return fmt.Sprintf("advance:%s:%d:%s", repoName, id, trigger)
}

func TestAnalysisSucceedsAndSoakEndIsScheduled(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		prom := startPrometheus(t, 5)
		w := newWorld(t, dsn, options{mainEdits: withAnalysis(t, "production", prom.URL)})
		// The success reaches the App half a minute after it was posted:
		// the soak and the measurements count from when it was posted.
		id, success := w.deployed(30 * time.Second)
		start := success.CreatedAt.UTC()

		// The success started the analysis, took its first measurement, as
		// Prometheus saw it when the success was posted, and scheduled the
		// next one and the soak's end.
		if got := phases(w.analyses(id)); len(got) != 1 || got[0] != analysis.Running {
			t.Fatalf("analysis records %v after the success; want one Running", got)
		}
		ms := w.measurements(id)
		if len(ms) != 1 || ms[0].Phase != analysis.Successful || !ms[0].At.Equal(start) || ms[0].Value == nil || *ms[0].Value != 0.0005 {
			t.Fatalf("measurements %+v; want one Successful of 0.0005 at the success %s", ms, start)
		}
		soak := advanceID(id, "soak")
		jobs := w.jobs(id)
		if j, ok := jobs[soak]; !ok || j.State != "pending" || !j.RunAt.Equal(start.Add(analyzedSoak)) {
			t.Fatalf("soak job %+v (queued %v); want one pending at %s; jobs %+v", j, ok, start.Add(analyzedSoak), jobs)
		}
		next := fmt.Sprintf("analyze:%s:%d:%d", repoName, id, start.Add(analysisInterval).Unix())
		if j, ok := jobs[next]; !ok || j.State != "pending" {
			t.Fatalf("no pending measurement at %s; jobs %+v", start.Add(analysisInterval), jobs)
		}
		if s := w.settle(); s.Scheduled != 2 {
			t.Errorf("queue %+v; want the measurement and the soak's end scheduled", s)
		}

		// GitHub delivers the success again: nothing is scheduled twice.
		w.deliver(w.gh.DeploymentStatusEvent(repoName, success.ID), http.StatusAccepted)
		w.settle()
		if got := len(w.jobs(id)); got != len(jobs) {
			t.Errorf("%d jobs after the success was delivered again; want %d", got, len(jobs))
		}
		if got := len(w.analyses(id)); got != 1 {
			t.Errorf("%d analysis records after the success was delivered again; want 1", got)
		}

		w.tick(analysisInterval - 30*time.Second)
		if got := measuredPhases(w.measurements(id)); len(got) != 2 {
			t.Fatalf("measurements %v a minute on; want 2", got)
		}
		if got := phases(w.analyses(id)); len(got) != 1 {
			t.Fatalf("analysis records %v before the count is reached; want only the Running one", got)
		}
		// The queue runs the last measurement half a minute late: it is
		// taken as of when it was due.
		w.tick(analysisInterval + 30*time.Second)
		ms = w.measurements(id)
		for i, m := range ms {
			if want := start.Add(time.Duration(i) * analysisInterval); m.Phase != analysis.Successful || !m.At.Equal(want) {
				t.Errorf("measurement %d %+v; want Successful at %s", i, m, want)
			}
		}
		states := w.analyses(id)
		if got := phases(states); len(got) != 2 || got[1] != analysis.Successful {
			t.Fatalf("analysis records %v after %d measurements; want Running, Successful", got, analysisCount)
		}
		if m := states[1].Metrics; len(m) != 1 || m[0].Count != analysisCount || m[0].Successful != analysisCount || states[1].Next != nil {
			t.Errorf("verdict %+v", states[1])
		}
		jobs = w.jobs(id)
		if j, ok := jobs[advanceID(id, "analysis")]; !ok || j.State != "done" {
			t.Errorf("the verdict's advance %+v (queued %v); want it queued at once and run", j, ok)
		}
		if _, ok := jobs[advanceID(id, audit.TriggerAnalysisFailed)]; ok {
			t.Error("a successful analysis queued a rollback")
		}
		if s := w.settle(); s.Scheduled != 1 {
			t.Errorf("queue %+v after the verdict; want only the soak's end scheduled", s)
		}

		// The soak's end runs at its time, not before.
		w.tick(start.Add(analyzedSoak).Sub(w.gh.Now()) - 5*time.Second)
		if j := w.jobs(id)[soak]; j.State != "pending" {
			t.Fatalf("the soak job is %s five seconds before the soak's end", j.State)
		}
		w.tick(10 * time.Second)
		if j := w.jobs(id)[soak]; j.State != "done" {
			t.Fatalf("the soak job is %s after the soak's end", j.State)
		}
		if got := len(w.measurements(id)); got != analysisCount {
			t.Errorf("%d measurements after the verdict; want no more than %d", got, analysisCount)
		}
		if _, err := w.db.Verify(t.Context()); err != nil {
			t.Errorf("audit chain: %v", err)
		}
	})
}

func TestAnalysisFails(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		prom := startPrometheus(t, 500) // 5% of requests fail
		w := newWorld(t, dsn, options{mainEdits: withAnalysis(t, "production", prom.URL)})
		id, _ := w.deployed(0)

		// failureLimit 0: the first failed measurement fails the run.
		ms := w.measurements(id)
		if len(ms) != 1 || ms[0].Phase != analysis.Failed || ms[0].Value == nil || *ms[0].Value != 0.05 {
			t.Fatalf("measurements %+v; want one Failed of 0.05", ms)
		}
		states := w.analyses(id)
		if got := phases(states); len(got) != 2 || got[1] != analysis.Failed {
			t.Fatalf("analysis records %v; want Running, Failed", got)
		}
		jobs := w.jobs(id)
		if j, ok := jobs[advanceID(id, audit.TriggerAnalysisFailed)]; !ok || j.State != "done" {
			t.Errorf("the rollback's advance %+v (queued %v); want it queued at once and run; jobs %+v", j, ok, jobs)
		}
		for d, j := range jobs {
			if j.Event == app.EventAnalyze && j.State == "pending" {
				t.Errorf("a measurement %s is scheduled after the verdict", d)
			}
		}
		w.tick(2 * analysisInterval)
		if got := len(w.measurements(id)); got != 1 {
			t.Errorf("%d measurements after the verdict; want 1", got)
		}
	})
}

// switchable forwards to Prometheus unless it is down, when it drops every
// connection as a Prometheus that went away does.
type switchable struct {
	proxy *httputil.ReverseProxy
	down  atomic.Bool
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.down.Load() {
		panic(http.ErrAbortHandler)
	}
	s.proxy.ServeHTTP(w, r)
}

// Prometheus unreachable is an Error measurement, retried at the next
// interval and never a success: the analysis recovers when Prometheus is
// back, and goes Inconclusive when it stays away past consecutiveErrorLimit.
func TestAnalysisWithPrometheusDown(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		prom := startPrometheus(t, 5)
		target, err := url.Parse(prom.URL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.ErrorLog = log.New(testWriter{t}, "prometheus proxy: ", 0)
		sw := &switchable{proxy: proxy}
		front := httptest.NewServer(sw)
		t.Cleanup(front.Close)
		w := newWorld(t, dsn, options{mainEdits: withAnalysis(t, "production", front.URL)})
		id, _ := w.deployed(0)

		sw.down.Store(true)
		w.tick(analysisInterval)
		ms := w.measurements(id)
		if got := measuredPhases(ms); len(got) != 2 || got[1] != analysis.Error || ms[1].Message == "" {
			t.Fatalf("measurements %+v with Prometheus unreachable; want Successful, Error with its reason", ms)
		}
		sw.down.Store(false)
		w.tick(analysisInterval)
		if got := measuredPhases(w.measurements(id)); len(got) != 3 || got[2] != analysis.Successful {
			t.Fatalf("measurements %v with Prometheus back; want the third Successful", got)
		}
		if got := phases(w.analyses(id)); len(got) != 1 {
			t.Fatalf("analysis records %v after two judged measurements and an error; want only the Running one", got)
		}

		// Prometheus stops for good: three errors in a row are more than
		// consecutiveErrorLimit 2.
		prom.Stop()
		for i := range 3 {
			if got := phases(w.analyses(id)); len(got) != 1 {
				t.Fatalf("analysis records %v after %d errors in a row; want only the Running one", got, i)
			}
			w.tick(analysisInterval)
		}
		if got := measuredPhases(w.measurements(id)); len(got) != 6 || got[3] != analysis.Error || got[5] != analysis.Error {
			t.Fatalf("measurements %v with Prometheus stopped; want three more errors", got)
		}
		states := w.analyses(id)
		if got := phases(states); len(got) != 2 || got[1] != analysis.Inconclusive {
			t.Fatalf("analysis records %v; want Running, Inconclusive", got)
		}
		if !strings.Contains(states[1].Metrics[0].Message, "consecutiveErrorLimit") {
			t.Errorf("verdict message %q", states[1].Metrics[0].Message)
		}
		if j, ok := w.jobs(id)[advanceID(id, "analysis")]; !ok || j.State != "done" {
			t.Errorf("the verdict's advance %+v (queued %v); want it run", j, ok)
		}
	})
}

// A run whose deployment failed stops measuring; the failure queues its
// rollback at once.
func TestAnalysisStopsWhenDeploymentFails(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		prom := startPrometheus(t, 5)
		w := newWorld(t, dsn, options{mainEdits: withAnalysis(t, "production", prom.URL)})
		id, _ := w.deployed(0)
		w.report(w.deployer(), id, deploy.Failure, "pods crash-looping")
		if j, ok := w.jobs(id)[advanceID(id, audit.TriggerDeploymentFailed)]; !ok || j.State != "done" {
			t.Fatalf("the failure's advance %+v (queued %v); want it queued at once and run", j, ok)
		}
		w.tick(analysisInterval)
		if got := len(w.measurements(id)); got != 1 {
			t.Errorf("%d measurements after the deployment failed; want 1", got)
		}
		for d, j := range w.jobs(id) {
			if j.State == "pending" && j.Event == app.EventAnalyze {
				t.Errorf("measurement %s scheduled after the deployment failed", d)
			}
		}
	})
}

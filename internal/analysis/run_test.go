package analysis

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/gitops"
)

var start = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

// template compiles metrics named a, b, ... with the given limits.
func template(t *testing.T, metrics ...gitops.AnalysisMetric) *Template {
	t.Helper()
	a := &gitops.Analysis{Prometheus: gitops.Prometheus{Address: "http://127.0.0.1:9090"}}
	for i, m := range metrics {
		m.Name = string(rune('a' + i))
		m.Query = `up{model="{{model}}"}`
		m.SuccessCondition = "result < 0.01"
		if m.Interval == 0 {
			m.Interval = gitops.Duration(time.Minute)
		}
		a.Metrics = append(a.Metrics, m)
	}
	tpl, err := Compile("stages[1].analysis", a)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// series returns measurements of metric, one a minute from start, of the
// phases named by the letters of phases: S, F, I, E.
func series(metric, phases string) []Measurement {
	names := map[rune]Phase{'S': Successful, 'F': Failed, 'I': Inconclusive, 'E': Error, '?': "Succesful"}
	var ms []Measurement
	for i, p := range phases {
		ms = append(ms, Measurement{Metric: metric, At: start.Add(time.Duration(i) * time.Minute), Phase: names[p]})
	}
	return ms
}

// TestAssessMetric: a metric's verdict after each measurement, at the edges of
// count, failureLimit, inconclusiveLimit and consecutiveErrorLimit as Argo
// Rollouts defines them.
func TestAssessMetric(t *testing.T) {
	for _, c := range []struct {
		name   string
		metric gitops.AnalysisMetric
		phases string
		want   Phase
	}{
		{"no measurement yet", gitops.AnalysisMetric{Count: 1}, "", Running},
		{"count reached", gitops.AnalysisMetric{Count: 3}, "SSS", Successful},
		{"count not reached", gitops.AnalysisMetric{Count: 3}, "SS", Running},
		{"count 0 means once", gitops.AnalysisMetric{}, "S", Successful},
		{"one failure fails at failureLimit 0", gitops.AnalysisMetric{Count: 12}, "SF", Failed},
		{"failureLimit tolerates its number", gitops.AnalysisMetric{Count: 12, FailureLimit: 2}, "FSF", Running},
		{"one more fails early", gitops.AnalysisMetric{Count: 12, FailureLimit: 2}, "FSFF", Failed},
		{"failures within the limit at count succeed", gitops.AnalysisMetric{Count: 3, FailureLimit: 2}, "FSF", Successful},
		{"one inconclusive at inconclusiveLimit 0", gitops.AnalysisMetric{Count: 12}, "SI", Inconclusive},
		{"inconclusiveLimit tolerates its number", gitops.AnalysisMetric{Count: 12, InconclusiveLimit: 3}, "IIIS", Running},
		{"one more is inconclusive", gitops.AnalysisMetric{Count: 12, InconclusiveLimit: 3}, "IISII", Inconclusive},
		{"failure wins over inconclusive", gitops.AnalysisMetric{Count: 12}, "F", Failed},
		{"errors do not count", gitops.AnalysisMetric{Count: 2, ConsecutiveErrorLimit: 4}, "SEEEE", Running},
		{"errors then a success", gitops.AnalysisMetric{Count: 2, ConsecutiveErrorLimit: 4}, "SEEEES", Successful},
		{"consecutive errors over the limit", gitops.AnalysisMetric{Count: 2, ConsecutiveErrorLimit: 4}, "SEEEEE", Inconclusive},
		{"a success resets the error run", gitops.AnalysisMetric{Count: 3, ConsecutiveErrorLimit: 2}, "EESEE", Running},
		{"consecutiveErrorLimit 0", gitops.AnalysisMetric{Count: 3}, "SE", Inconclusive},
		{"an unknown phase is an error, never a success", gitops.AnalysisMetric{Count: 1, ConsecutiveErrorLimit: 4}, "?", Running},
		// Argo would call these successful; the limits never stand in for good
		// measurements.
		{"count reached with failures only", gitops.AnalysisMetric{Count: 2, FailureLimit: 2}, "FF", Inconclusive},
		{"count reached with inconclusive only", gitops.AnalysisMetric{Count: 2, InconclusiveLimit: 5}, "II", Inconclusive},
		{"measurements after the verdict are ignored", gitops.AnalysisMetric{Count: 1}, "FS", Failed},
	} {
		t.Run(c.name, func(t *testing.T) {
			tpl := template(t, c.metric)
			st := tpl.Assess(start, series("a", c.phases), start.Add(time.Hour))
			if st.Phase != c.want || st.Metrics[0].Phase != c.want {
				t.Fatalf("after %q: run %s, metric %s (%s); want %s", c.phases, st.Phase, st.Metrics[0].Phase, st.Metrics[0].Message, c.want)
			}
			if (st.Next == nil) != (c.want != Running) {
				t.Errorf("after %q (%s): next %v", c.phases, st.Phase, st.Next)
			}
		})
	}
}

func TestAssessSchedule(t *testing.T) {
	tpl := template(t,
		gitops.AnalysisMetric{Count: 3, InitialDelay: gitops.Duration(10 * time.Minute), Interval: gitops.Duration(5 * time.Minute)},
		gitops.AnalysisMetric{Count: 2, Interval: gitops.Duration(30 * time.Minute)},
	)
	st := tpl.Assess(start, nil, start)
	if st.Phase != Running || !st.Next.Equal(start) || strings.Join(st.Due, ",") != "b" {
		t.Fatalf("at the start: %s, next %v, due %v; want Running, next %v, due [b]", st.Phase, st.Next, st.Due, start)
	}
	if got := st.Metrics[0].Next; !got.Equal(start.Add(10 * time.Minute)) {
		t.Errorf("a's first measurement at %v; want after its initial delay", got)
	}

	// Measurements out of order, and of a metric the template no longer has.
	ms := []Measurement{
		{Metric: "a", At: start.Add(15 * time.Minute), Phase: Successful},
		{Metric: "b", At: start, Phase: Successful},
		{Metric: "a", At: start.Add(10 * time.Minute), Phase: Successful},
		{Metric: "gone", At: start, Phase: Failed},
	}
	st = tpl.Assess(start, ms, start.Add(20*time.Minute))
	if st.Phase != Running || !st.Next.Equal(start.Add(20*time.Minute)) || strings.Join(st.Due, ",") != "a" {
		t.Fatalf("after three: %s, next %v, due %v; want Running, a due at +20m", st.Phase, st.Next, st.Due)
	}
	if last := st.Metrics[0].Last; last == nil || !last.At.Equal(start.Add(15*time.Minute)) {
		t.Errorf("a's last measurement %+v; want the one at +15m", last)
	}

	ms = append(ms, Measurement{Metric: "a", At: start.Add(20 * time.Minute), Phase: Successful})
	st = tpl.Assess(start, ms, start.Add(20*time.Minute))
	if st.Phase != Running || st.Metrics[0].Phase != Successful || st.Metrics[0].Next != nil || !st.Next.Equal(start.Add(30*time.Minute)) || len(st.Due) != 0 {
		t.Fatalf("a done: %s, a %s next %v, run next %v, due %v", st.Phase, st.Metrics[0].Phase, st.Metrics[0].Next, st.Next, st.Due)
	}

	ms = append(ms, Measurement{Metric: "b", At: start.Add(31 * time.Minute), Phase: Successful})
	if st = tpl.Assess(start, ms, start.Add(31*time.Minute)); st.Phase != Successful || st.Next != nil {
		t.Fatalf("both done: %s, next %v; want Successful and no next", st.Phase, st.Next)
	}
}

// TestAssessRun: one metric's failure or inconclusive verdict ends the run,
// whatever the others say.
func TestAssessRun(t *testing.T) {
	tpl := template(t, gitops.AnalysisMetric{Count: 3}, gitops.AnalysisMetric{Count: 3})
	for _, c := range []struct {
		a, b string
		want Phase
	}{
		{"SSS", "SSS", Successful},
		{"SSS", "SS", Running},
		{"F", "S", Failed},
		{"I", "S", Inconclusive},
		{"I", "F", Failed},
		{"SSS", "I", Inconclusive},
	} {
		st := tpl.Assess(start, append(series("a", c.a), series("b", c.b)...), start.Add(time.Hour))
		if st.Phase != c.want {
			t.Errorf("a %q, b %q: %s; want %s", c.a, c.b, st.Phase, c.want)
		}
		if c.want != Running && (st.Next != nil || len(st.Due) != 0 || st.Metrics[0].Next != nil || st.Metrics[1].Next != nil) {
			t.Errorf("a %q, b %q: over, yet next %v, due %v", c.a, c.b, st.Next, st.Due)
		}
	}
}

// TestStateJSON: the shape history.stages.<stage>.analysis has in the policy
// input (policies/README.md).
func TestStateJSON(t *testing.T) {
	tpl := template(t, gitops.AnalysisMetric{Count: 2})
	v := 0.004
	st := tpl.Assess(start, []Measurement{{Metric: "a", At: start, Value: &v, Phase: Successful}}, start)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"phase":"Running","started":"2026-11-23T11:00:00Z","next":"2026-11-23T11:01:00Z","metrics":[{"name":"a","phase":"Running","count":1,"successful":1,"failed":0,"inconclusive":0,"errors":0,"consecutive_errors":0,"next":"2026-11-23T11:01:00Z","last":{"metric":"a","at":"2026-11-23T11:00:00Z","value":0.004,"phase":"Successful"}}]}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
}

// TestJudge: the conditions decide a measurement as in Argo Rollouts: a met
// failureCondition fails it whatever successCondition says, and with both
// conditions a result that meets neither is inconclusive.
func TestJudge(t *testing.T) {
	both := &gitops.Analysis{Metrics: []gitops.AnalysisMetric{{Name: "m", Query: "up", SuccessCondition: "result < 0.05", FailureCondition: "result >= 0.02"}}}
	tpl, err := Compile("stages[0].analysis", both)
	if err != nil {
		t.Fatal(err)
	}
	withFailure := tpl.Metrics[0]
	successOnly := template(t, gitops.AnalysisMetric{}).Metrics[0] // result < 0.01
	for _, c := range []struct {
		m    *Metric
		s    sample
		want Phase
	}{
		{withFailure, sample{0.01}, Successful},
		{withFailure, sample{0.03}, Failed}, // meets both: failure wins
		{withFailure, sample{0.07}, Failed},
		{successOnly, sample{0.001}, Successful},
		{successOnly, sample{0.03}, Failed},
		{withFailure, sample{0.01, 0.02}, Inconclusive}, // result of two series
	} {
		if got, msg := c.m.judge(c.s); got != c.want {
			t.Errorf("%s / %v on %v: %s (%s); want %s", c.m.SuccessCondition, c.m.FailureCondition, c.s, got, msg, c.want)
		}
	}
	both.Metrics[0].SuccessCondition, both.Metrics[0].FailureCondition = "result < 0.01", "result > 0.05"
	if tpl, err = Compile("stages[0].analysis", both); err != nil {
		t.Fatal(err)
	}
	if got, _ := tpl.Metrics[0].judge(sample{0.03}); got != Inconclusive {
		t.Errorf("meeting neither condition: %s; want Inconclusive", got)
	}
}

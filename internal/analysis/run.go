package analysis

import (
	"fmt"
	"slices"
	"time"
)

// State is a run's verdict so far: the form of history.stages.<stage>.analysis
// in the policy input (policies/README.md) and of the verdict's audit record.
type State struct {
	Phase   Phase     `json:"phase"`
	Started time.Time `json:"started"`
	// Next is when the next measurement is due; null once the run is over.
	Next    *time.Time    `json:"next"`
	Metrics []MetricState `json:"metrics"`
	// Due names the metrics whose measurement is due at the time of the
	// assessment, in the template's order.
	Due []string `json:"-"`
}

// MetricState is one metric's verdict so far.
type MetricState struct {
	Name  string `json:"name"`
	Phase Phase  `json:"phase"`
	// Count is the measurements judged, errors not counted, as in Argo.
	Count             int          `json:"count"`
	Successful        int          `json:"successful"`
	Failed            int          `json:"failed"`
	Inconclusive      int          `json:"inconclusive"`
	Errors            int          `json:"errors"`
	ConsecutiveErrors int          `json:"consecutive_errors"`
	Next              *time.Time   `json:"next"`
	Last              *Measurement `json:"last"`
	Message           string       `json:"message,omitempty"`
}

// Assess gives the verdict of a run that started at start (when the version's
// deployment in the stage succeeded) after the measurements ms, at now.
//
// A metric is judged after each of its measurements, in time order, as Argo
// Rollouts judges it: more than failureLimit failed measurements fail it, more
// than inconclusiveLimit inconclusive ones make it inconclusive, and more than
// consecutiveErrorLimit errors in a row make it inconclusive too (Argo's Error
// phase: never a success); otherwise it succeeds once count measurements were
// judged, errors not counted. Unlike Argo, a metric that reaches its count
// without one successful measurement is inconclusive: the limits tolerate bad
// measurements, they never stand in for good ones. Measurements after a
// metric's verdict are ignored, as are those of metrics the template lacks.
//
// The run fails when a metric fails, is inconclusive when one is (and none
// failed), succeeds when all succeed, and runs otherwise; as in Argo, a run
// with a verdict takes no more measurements.
func (t *Template) Assess(start time.Time, ms []Measurement, now time.Time) State {
	st := State{Phase: Successful, Started: start.UTC()}
	for _, m := range t.Metrics {
		st.Metrics = append(st.Metrics, m.assess(start, ms))
	}
	for _, m := range st.Metrics {
		st.Phase = worse(st.Phase, m.Phase)
	}
	if st.Phase != Running {
		for i := range st.Metrics {
			st.Metrics[i].Next = nil
		}
		return st
	}
	for _, m := range st.Metrics {
		if m.Next == nil {
			continue
		}
		if st.Next == nil || m.Next.Before(*st.Next) {
			st.Next = m.Next
		}
		if !m.Next.After(now) {
			st.Due = append(st.Due, m.Name)
		}
	}
	return st
}

// rank orders verdicts from best to worst.
var rank = map[Phase]int{Successful: 0, Running: 1, Inconclusive: 2, Failed: 3}

func worse(a, b Phase) Phase {
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func (m *Metric) assess(start time.Time, all []Measurement) MetricState {
	var ms []Measurement
	for _, x := range all {
		if x.Metric == m.Name {
			ms = append(ms, x)
		}
	}
	slices.SortStableFunc(ms, func(a, b Measurement) int { return a.At.Compare(b.At) })

	st := MetricState{Name: m.Name, Phase: Running}
	for i := range ms {
		x := &ms[i]
		st.Last = x
		switch x.Phase {
		case Successful:
			st.Successful++
		case Failed:
			st.Failed++
		case Inconclusive:
			st.Inconclusive++
		default:
			// Anything but the three judged phases is a measurement that was not
			// taken: a stored record of an unknown phase must never count as good.
			st.Errors++
			st.ConsecutiveErrors++
		}
		if x.Phase == Successful || x.Phase == Failed || x.Phase == Inconclusive {
			st.Count++
			st.ConsecutiveErrors = 0
		}
		if st.Phase, st.Message = m.verdict(st); st.Phase != Running {
			return st
		}
	}
	next := start.Add(m.InitialDelay)
	if st.Last != nil {
		next = st.Last.At.Add(m.Interval)
	}
	next = next.UTC()
	st.Next = &next
	return st
}

func (m *Metric) verdict(st MetricState) (Phase, string) {
	switch {
	case st.Failed > m.FailureLimit:
		return Failed, fmt.Sprintf("%d failed measurements, more than failureLimit %d", st.Failed, m.FailureLimit)
	case st.Inconclusive > m.InconclusiveLimit:
		return Inconclusive, fmt.Sprintf("%d inconclusive measurements, more than inconclusiveLimit %d", st.Inconclusive, m.InconclusiveLimit)
	case st.ConsecutiveErrors > m.ConsecutiveErrorLimit:
		return Inconclusive, fmt.Sprintf("%d measurements in a row could not be taken, more than consecutiveErrorLimit %d", st.ConsecutiveErrors, m.ConsecutiveErrorLimit)
	case st.Count >= max(m.Count, 1) && st.Successful == 0:
		return Inconclusive, fmt.Sprintf("%d measurements judged and none successful", st.Count)
	case st.Count >= max(m.Count, 1):
		return Successful, fmt.Sprintf("%d of %d measurements successful", st.Successful, st.Count)
	}
	return Running, ""
}

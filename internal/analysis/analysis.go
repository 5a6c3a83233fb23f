// Package analysis judges a model version while it soaks in a stage, in the
// manner of Argo Rollouts' AnalysisTemplate and AnalysisRun: each metric is a
// PromQL query measured at intervals and judged by conditions, and the
// measurements so far give a verdict per metric and for the run.
//
// The package only measures and judges. The run is a pure function of the
// metrics, the measurements taken and the time: it keeps no state, starts no
// goroutine and never sleeps, so that the App stores the measurements and
// schedules the next one in its durable queue.
package analysis

import (
	"fmt"
	"time"

	"github.com/modelgate/modelgate/internal/gitops"
)

// Phase is a measurement's outcome (Successful, Failed, Inconclusive, Error) or
// a verdict, of a metric or of a run (Running, Successful, Failed,
// Inconclusive).
type Phase string

const (
	Running      Phase = "Running"
	Successful   Phase = "Successful"
	Failed       Phase = "Failed"
	Inconclusive Phase = "Inconclusive"
	// Error is a measurement that could not be taken: Prometheus unreachable, a
	// query it refused, a result of the wrong type.
	Error Phase = "Error"
)

// Template is a stage's analysis, compiled: its queries and conditions parsed.
type Template struct {
	Address string
	Metrics []*Metric
}

// Metric is one metric of a template.
type Metric struct {
	Name             string
	Query            *Query
	SuccessCondition *Condition
	FailureCondition *Condition // nil when the config has none
	// InitialDelay puts the first measurement after the run's start, so that
	// rates over a window have data to cover.
	InitialDelay          time.Duration
	Interval              time.Duration
	Count                 int
	FailureLimit          int
	InconclusiveLimit     int
	ConsecutiveErrorLimit int
}

// Compile parses a's queries and conditions. path is where a stands in the
// config (stages[1].analysis), so that an error names the field and the column
// at fault: stages[1].analysis.metrics[0].successCondition:1:8: ....
func Compile(path string, a *gitops.Analysis) (*Template, error) {
	t := &Template{Address: a.Prometheus.Address}
	for i, m := range a.Metrics {
		at := fmt.Sprintf("%s.metrics[%d]", path, i)
		q, err := ParseQuery(m.Query)
		if err != nil {
			return nil, &FieldError{Path: at + ".query", Err: err}
		}
		success, err := ParseCondition(m.SuccessCondition)
		if err != nil {
			return nil, &FieldError{Path: at + ".successCondition", Err: err}
		}
		var failure *Condition
		if m.FailureCondition != "" {
			if failure, err = ParseCondition(m.FailureCondition); err != nil {
				return nil, &FieldError{Path: at + ".failureCondition", Err: err}
			}
		}
		t.Metrics = append(t.Metrics, &Metric{
			Name:                  m.Name,
			Query:                 q,
			SuccessCondition:      success,
			FailureCondition:      failure,
			InitialDelay:          time.Duration(m.InitialDelay),
			Interval:              time.Duration(m.Interval),
			Count:                 m.Count,
			FailureLimit:          m.FailureLimit,
			InconclusiveLimit:     m.InconclusiveLimit,
			ConsecutiveErrorLimit: m.ConsecutiveErrorLimit,
		})
	}
	return t, nil
}

// FieldError is a query or condition of the config that does not parse: Err,
// a QueryError or ConditionError, places the mistake within the field's value.
type FieldError struct {
	Path string // stages[1].analysis.metrics[0].successCondition
	Err  error
}

func (e *FieldError) Error() string { return e.Path + ":" + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// CompileConfig compiles the analysis of every stage of cfg that has one,
// keyed by stage name: a config whose conditions or queries do not parse is
// refused as a whole.
func CompileConfig(cfg *gitops.Config) (map[string]*Template, error) {
	out := make(map[string]*Template)
	for i, s := range cfg.Stages {
		if s.Analysis == nil {
			continue
		}
		t, err := Compile(fmt.Sprintf("stages[%d].analysis", i), s.Analysis)
		if err != nil {
			return nil, err
		}
		out[s.Name] = t
	}
	return out, nil
}

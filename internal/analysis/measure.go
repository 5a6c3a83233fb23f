package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Querier runs an instant PromQL query at a time; v1.API is one.
type Querier interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...v1.Option) (model.Value, v1.Warnings, error)
}

// MaxResponseBytes bounds what one query's response may hold: a query that
// matches millions of series must not exhaust the App's memory.
const MaxResponseBytes = 4 << 20

// NewQuerier returns a Querier of the Prometheus HTTP API at address.
func NewQuerier(address string) (Querier, error) {
	c, err := api.NewClient(api.Config{Address: address, RoundTripper: limitedTransport{http.DefaultTransport}})
	if err != nil {
		return nil, fmt.Errorf("prometheus address %q: %w", address, err)
	}
	return v1.NewAPI(c), nil
}

// limitedTransport fails the reading of a response body past MaxResponseBytes.
type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxResponseBytes}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

var errResponseTooLarge = fmt.Errorf("the response is larger than %d bytes", MaxResponseBytes)

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// Measurement is one query of one metric and what it showed. It is the form
// the audit log records.
type Measurement struct {
	Metric string    `json:"metric"`
	At     time.Time `json:"at"`
	// Value is the result when it is one number; null when it is none (an
	// error, an empty result, NaN, which JSON cannot hold) or several (then in
	// Values, NaN as null).
	Value   *float64   `json:"value"`
	Values  []*float64 `json:"values,omitempty"`
	Phase   Phase      `json:"phase"`
	Message string     `json:"message,omitempty"`
}

// Measure queries metric at the time at and judges the result by its
// conditions; ctx bounds the query. It never fails: what goes wrong is the
// measurement's Error phase.
func (m *Metric) Measure(ctx context.Context, q Querier, vars Vars, at time.Time) Measurement {
	out := Measurement{Metric: m.Name, At: at.UTC()}
	val, _, err := q.Query(ctx, m.Query.Render(vars), at)
	if err != nil {
		out.Phase, out.Message = Error, err.Error()
		return out
	}
	s, err := samples(val)
	if err != nil {
		out.Phase, out.Message = Error, err.Error()
		return out
	}
	if len(s) == 1 {
		out.Value = number(s[0])
	} else {
		for _, v := range s {
			out.Values = append(out.Values, number(v))
		}
	}
	if slices.ContainsFunc(s, math.IsNaN) {
		out.Phase, out.Message = Inconclusive, "the result is NaN"
		return out
	}
	if len(s) == 0 {
		out.Phase, out.Message = Inconclusive, "the query returned no data"
		return out
	}
	out.Phase, out.Message = m.judge(s)
	return out
}

func number(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

// judge applies the conditions as Argo Rollouts does: a met failure condition
// fails whatever the success condition says; with both conditions, a result that
// meets neither is inconclusive; with a success condition alone, one that does
// not meet it fails.
func (m *Metric) judge(s sample) (Phase, string) {
	if m.FailureCondition != nil {
		failed, err := m.FailureCondition.eval(s)
		if err != nil {
			return Inconclusive, "failureCondition: " + err.Error()
		}
		if failed {
			return Failed, "failureCondition " + m.FailureCondition.String() + " is met"
		}
	}
	ok, err := m.SuccessCondition.eval(s)
	switch {
	case err != nil:
		return Inconclusive, "successCondition: " + err.Error()
	case ok:
		return Successful, ""
	case m.FailureCondition != nil:
		return Inconclusive, "neither successCondition nor failureCondition is met"
	}
	return Failed, "successCondition " + m.SuccessCondition.String() + " is not met"
}

// samples turns a query's value into numbers: a scalar, or a vector's elements
// ordered by their labels, so that result[i] names the same series every time.
func samples(v model.Value) (sample, error) {
	switch v := v.(type) {
	case *model.Scalar:
		return sample{float64(v.Value)}, nil
	case model.Vector:
		vec := slices.Clone(v)
		slices.SortFunc(vec, func(a, b *model.Sample) int { return strings.Compare(a.Metric.String(), b.Metric.String()) })
		s := make(sample, len(vec))
		for i, e := range vec {
			if e.Histogram != nil {
				return nil, errors.New("the query returned a native histogram; query a number (histogram_quantile, histogram_count)")
			}
			s[i] = float64(e.Value)
		}
		return s, nil
	case nil:
		return nil, errors.New("the query returned nothing")
	}
	return nil, fmt.Errorf("the query returned a %s; expected a scalar or an instant vector", v.Type())
}

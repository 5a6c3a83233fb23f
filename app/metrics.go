package app

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/queue"
)

// Metrics are the App's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	Deliveries  *prometheus.CounterVec
	Jobs        *prometheus.CounterVec
	Evaluations prometheus.Histogram
	Decisions   *prometheus.CounterVec
	Merges      *prometheus.CounterVec
	Reconciled  prometheus.Counter
	APICalls    *prometheus.CounterVec
	RateLimit   prometheus.Gauge
}

// NewMetrics registers the App's metrics with reg. stats reports the queue's
// depth when /metrics is scraped.
func NewMetrics(reg prometheus.Registerer, stats func(context.Context) (queue.Stats, error)) *Metrics {
	m := &Metrics{
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_webhook_deliveries_total",
			Help: "Webhook deliveries received, by event and result (queued, duplicate, ignored, rejected)."}, []string{"event", "result"}),
		Jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_jobs_total",
			Help: "Jobs handled, by outcome (done, retried, dead, released)."}, []string{"outcome"}),
		Evaluations: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "modelgate_evaluation_seconds",
			Help: "Time to judge a pull request, from reading it to the decision.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)}),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_decisions_total",
			Help: "Decisions made, by outcome (allow, deny)."}, []string{"outcome"}),
		Merges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_merges_total",
			Help: "Merges attempted, by result (merged, refused, error)."}, []string{"result"}),
		Reconciled: prometheus.NewCounter(prometheus.CounterOpts{Name: "modelgate_reconciled_total",
			Help: "Pull requests the reconciler queued because their head had no decision."}),
		APICalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_github_api_calls_total",
			Help: "GitHub API calls, by method and status."}, []string{"method", "status"}),
		RateLimit: prometheus.NewGauge(prometheus.GaugeOpts{Name: "modelgate_github_rate_limit_remaining",
			Help: "GitHub's X-RateLimit-Remaining on the latest API response."}),
	}
	depth := prometheus.NewDesc("modelgate_queue_jobs", "Jobs in the queue, by state (pending, running, dead).", []string{"state"}, nil)
	reg.MustRegister(m.Deliveries, m.Jobs, m.Evaluations, m.Decisions, m.Merges, m.Reconciled, m.APICalls, m.RateLimit,
		queueCollector{desc: depth, stats: stats})
	return m
}

// ObserveAPI records one GitHub API exchange; it is the github.Config.Observe
// hook.
func (m *Metrics) ObserveAPI(c github.Call) {
	if m == nil {
		return
	}
	m.APICalls.WithLabelValues(c.Method, strconv.Itoa(c.Status)).Inc()
	if c.RateRemaining >= 0 {
		m.RateLimit.Set(float64(c.RateRemaining))
	}
}

// Delivery counts a webhook delivery.
func (m *Metrics) Delivery(event, result string) {
	if m != nil {
		m.Deliveries.WithLabelValues(event, result).Inc()
	}
}

func (m *Metrics) job(outcome string) {
	if m != nil {
		m.Jobs.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) evaluated(allow bool, took time.Duration) {
	if m == nil {
		return
	}
	m.Evaluations.Observe(took.Seconds())
	outcome := "deny"
	if allow {
		outcome = "allow"
	}
	m.Decisions.WithLabelValues(outcome).Inc()
}

func (m *Metrics) merged(result string) {
	if m != nil {
		m.Merges.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) reconciled() {
	if m != nil {
		m.Reconciled.Inc()
	}
}

// queueCollector reads the queue's depth at scrape time, so the figure is the
// database's, shared by every replica, not one process's count.
type queueCollector struct {
	desc  *prometheus.Desc
	stats func(context.Context) (queue.Stats, error)
}

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for state, n := range map[string]int{"pending": s.Pending, "scheduled": s.Scheduled, "running": s.Running, "dead": s.Dead} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), state)
	}
}

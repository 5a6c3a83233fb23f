// Package server is the App's HTTP face: it takes in GitHub's webhook
// deliveries — signature verified, queued durably and deduplicated before
// they are acknowledged — and the evidence workflows upload, and serves
// health checks, Prometheus metrics and, when configured, the reviewers'
// sign-in (package access). It only translates HTTP into queued jobs and
// calls of the App; judging happens in package app.
package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/app/access"
	"github.com/modelgate/modelgate/app/web"
	"github.com/modelgate/modelgate/internal/queue"
	"github.com/modelgate/modelgate/internal/upload"
)

// Enqueuer stores jobs durably; see sqlstore.DB.Enqueue.
type Enqueuer interface {
	Enqueue(ctx context.Context, jobs ...queue.Job) ([]bool, error)
}

// MaxBody is GitHub's cap on a webhook payload: it sends nothing larger.
const MaxBody = 25 << 20

// Config holds the server's dependencies.
type Config struct {
	// Secret is the App's webhook secret. It is required: a server that
	// accepted unsigned deliveries would let anyone trigger merges.
	Secret  []byte
	Queue   Enqueuer
	Ready   func(context.Context) error // readiness beyond the process being up, such as the database answering
	Metrics *app.Metrics
	// Gatherer serves /metrics; nil serves no metrics.
	Gatherer prometheus.Gatherer
	Log      *slog.Logger
	// Wake is signalled, without blocking, when jobs were queued.
	Wake chan<- struct{}
	// Uploads takes evidence uploads (app.Intake); nil takes none.
	Uploads Uploader
	// Reviewers guards the reviewers' UI and API; nil serves neither.
	Reviewers *access.Access
	// UI is the reviewers' UI and API, served behind Reviewers.
	UI *web.UI
}

// Uploader takes evidence uploads; see app.Intake. It is used concurrently.
type Uploader interface {
	Upload(ctx context.Context, token string, req upload.Request) (*upload.Accepted, error)
	Refuse(ctx context.Context, refusal *upload.Error) error
}

// Server serves the App's HTTP endpoints.
type Server struct {
	cfg      Config
	batches  chan *pending
	draining atomic.Bool
	engine   *gin.Engine
}

// New returns a server; Run must be running for deliveries to be queued.
func New(cfg Config) (*Server, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhook secret is empty: refusing to accept unsigned deliveries (set MODELGATE_WEBHOOK_SECRET)")
	}
	if cfg.Queue == nil || cfg.Log == nil {
		return nil, errors.New("server: Queue and Log are required")
	}
	s := &Server{cfg: cfg, batches: make(chan *pending, 1024)}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, err any) {
		cfg.Log.Error("handler panic", "err", err, "path", c.Request.URL.Path)
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
	e.POST(app.WebhookPath, s.webhook)
	e.POST(upload.Path, s.evidence)
	e.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.ready)
	if cfg.Gatherer != nil {
		e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{})))
	}
	if cfg.Reviewers != nil {
		pages, api := cfg.Reviewers.Mount(e)
		if cfg.UI != nil {
			cfg.UI.Register(pages, api)
		}
	}
	s.engine = e
	return s, nil
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Drain makes /readyz fail, so load balancers stop sending deliveries while
// the ones in flight finish.
func (s *Server) Drain() { s.draining.Store(true) }

func (s *Server) ready(c *gin.Context) {
	if s.draining.Load() {
		c.String(http.StatusServiceUnavailable, "shutting down\n")
		return
	}
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			c.String(http.StatusServiceUnavailable, "not ready: %v\n", err)
			return
		}
	}
	c.String(http.StatusOK, "ready\n")
}

// webhook verifies, translates and queues one delivery, and acknowledges it
// only once it is stored.
func (s *Server) webhook(c *gin.Context) {
	event := c.GetHeader("X-GitHub-Event")
	delivery := c.GetHeader("X-GitHub-Delivery")
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.reject(c, event, http.StatusRequestEntityTooLarge, "payload larger than GitHub sends")
			return
		}
		s.reject(c, event, http.StatusBadRequest, "read body")
		return
	}
	if !validSignature(s.cfg.Secret, body, c.GetHeader("X-Hub-Signature-256")) {
		s.reject(c, event, http.StatusUnauthorized, "missing or invalid X-Hub-Signature-256")
		return
	}
	if event == "" || delivery == "" {
		s.reject(c, event, http.StatusBadRequest, "X-GitHub-Event and X-GitHub-Delivery are required")
		return
	}
	if event == app.EventEvaluate {
		// The App's own job kind is never accepted from outside, even signed.
		s.reject(c, event, http.StatusBadRequest, "unknown event")
		return
	}
	task, err := app.ParseEvent(event, body)
	if err != nil {
		s.reject(c, event, http.StatusBadRequest, err.Error())
		return
	}
	log := s.cfg.Log.With("delivery", delivery, "event", task.Reason)
	if task.Action == app.Ignore {
		s.cfg.Metrics.Delivery(event, "ignored")
		c.JSON(http.StatusOK, gin.H{"delivery": delivery, "result": "ignored"})
		return
	}
	jobs, err := splitJobs(delivery, event, body, task)
	if err != nil {
		s.reject(c, event, http.StatusBadRequest, err.Error())
		return
	}
	p := &pending{jobs: jobs, done: make(chan result, 1)}
	select {
	case s.batches <- p:
	case <-c.Request.Context().Done():
		return
	}
	var r result
	select {
	case r = <-p.done:
	case <-c.Request.Context().Done():
		return
	}
	if r.err != nil {
		log.Error("queue delivery", "err", r.err)
		s.cfg.Metrics.Delivery(event, "error")
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "could not store the delivery; GitHub may redeliver it"})
		return
	}
	if !r.added {
		s.cfg.Metrics.Delivery(event, "duplicate")
		log.Info("duplicate delivery ignored")
		c.JSON(http.StatusOK, gin.H{"delivery": delivery, "result": "duplicate"})
		return
	}
	s.cfg.Metrics.Delivery(event, "queued")
	c.JSON(http.StatusAccepted, gin.H{"delivery": delivery, "result": "queued"})
}

func (s *Server) reject(c *gin.Context, event string, status int, reason string) {
	s.cfg.Metrics.Delivery(event, "rejected")
	s.cfg.Log.Warn("webhook rejected", "status", status, "reason", reason, "delivery", c.GetHeader("X-GitHub-Delivery"))
	c.JSON(status, gin.H{"error": reason})
}

// evidence reads an upload and hands it to the App: the token as the
// Authorization header carries it, and the body, which must be one JSON
// object of the upload's shape, no larger than upload.MaxBody.
func (s *Server) evidence(c *gin.Context) {
	if s.cfg.Uploads == nil {
		c.JSON(http.StatusNotFound, upload.ErrorBody{Error: upload.Error{Code: upload.CodeUploadsDisabled,
			Message: "this App takes no evidence uploads: it has no OIDC audience (MODELGATE_OIDC_AUDIENCE)"}})
		return
	}
	ctx := c.Request.Context()
	req, refusal := readUpload(c)
	var err error
	var accepted *upload.Accepted
	if refusal != nil {
		err = s.cfg.Uploads.Refuse(ctx, refusal)
	} else {
		accepted, err = s.cfg.Uploads.Upload(ctx, bearer(c.GetHeader("Authorization")), req)
	}
	if err == nil {
		c.JSON(http.StatusCreated, accepted)
		return
	}
	var e *upload.Error
	if !errors.As(err, &e) {
		e = &upload.Error{Status: http.StatusServiceUnavailable, Code: upload.CodeUnavailable, Message: "the App cannot take the upload now"}
	}
	c.JSON(e.Status, upload.ErrorBody{Error: *e})
}

func readUpload(c *gin.Context) (upload.Request, *upload.Error) {
	var req upload.Request
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		return req, &upload.Error{Status: http.StatusUnsupportedMediaType, Code: upload.CodeUnsupportedType, Message: "the body must be application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, upload.MaxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return req, &upload.Error{Status: http.StatusRequestEntityTooLarge, Code: upload.CodeBodyTooLarge,
			Message: fmt.Sprintf("the body is larger than %d bytes", upload.MaxBody)}
	}
	if err != nil {
		return req, &upload.Error{Status: http.StatusBadRequest, Code: upload.CodeMalformedBody, Message: "the body could not be read"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, &upload.Error{Status: http.StatusBadRequest, Code: upload.CodeMalformedBody, Message: "the body is not an upload: " + err.Error()}
	}
	if dec.More() {
		return req, &upload.Error{Status: http.StatusBadRequest, Code: upload.CodeMalformedBody, Message: "the body holds more than one JSON value"}
	}
	if len(req.Evidence) == 0 || string(req.Evidence) == "null" {
		return req, &upload.Error{Status: http.StatusBadRequest, Code: upload.CodeMalformedBody, Message: "the body has no evidence"}
	}
	return req, nil
}

// bearer is the credential of an Authorization: Bearer header; "" for any
// other.
func bearer(header string) string {
	scheme, credential, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(credential)
}

// validSignature checks X-Hub-Signature-256 as GitHub computes it: the
// HMAC-SHA256 of the raw body, hex, prefixed "sha256=". The comparison takes
// the same time whatever the mismatch, so it leaks nothing of the expected
// value.
func validSignature(secret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// splitJobs makes a delivery into jobs: one, or, for a delivery naming
// several pull requests (a check suite's), one per pull request, so that each
// runs under its own pull request's key.
func splitJobs(delivery, event string, body []byte, task app.Task) ([]queue.Job, error) {
	if len(task.PullRequests) <= 1 {
		return []queue.Job{{Delivery: delivery, Event: event, Key: task.Key(), Payload: body}}, nil
	}
	var jobs []queue.Job
	for _, n := range task.PullRequests {
		payload, err := json.Marshal(app.EvaluatePayload{Installation: task.Installation, Repository: task.Repository, PullRequest: n, Reason: task.Reason})
		if err != nil {
			return nil, fmt.Errorf("encode job: %w", err)
		}
		t := app.Task{Repository: task.Repository, PullRequests: []int{n}}
		jobs = append(jobs, queue.Job{Delivery: delivery + "/" + strconv.Itoa(n), Event: app.EventEvaluate, Key: t.Key(), Payload: payload})
	}
	return jobs, nil
}

// pending is a delivery's jobs waiting for the group commit.
type pending struct {
	jobs []queue.Job
	done chan result
}

type result struct {
	added bool // false: every job was a duplicate
	err   error
}

// maxBatch bounds one group commit.
const maxBatch = 256

// Run stores queued deliveries until ctx ends. Deliveries that arrive while a
// commit is in progress are stored together in the next one: one
// transaction, one fsync, for many deliveries, which is what lets a single
// SQLite file acknowledge thousands a second durably.
func (s *Server) Run(ctx context.Context) {
	for {
		var batch []*pending
		select {
		case <-ctx.Done():
			return
		case p := <-s.batches:
			batch = append(batch, p)
		}
		n := len(batch[0].jobs)
	fill:
		for n < maxBatch {
			select {
			case p := <-s.batches:
				batch = append(batch, p)
				n += len(p.jobs)
			default:
				break fill
			}
		}
		s.commit(ctx, batch)
	}
}

func (s *Server) commit(ctx context.Context, batch []*pending) {
	var jobs []queue.Job
	for _, p := range batch {
		jobs = append(jobs, p.jobs...)
	}
	added, err := s.cfg.Queue.Enqueue(context.WithoutCancel(ctx), jobs...)
	i := 0
	for _, p := range batch {
		r := result{err: err}
		for range p.jobs {
			r.added = r.added || (err == nil && added[i])
			i++
		}
		p.done <- r
	}
	if err == nil && s.cfg.Wake != nil {
		select {
		case s.cfg.Wake <- struct{}{}:
		default:
		}
	}
}

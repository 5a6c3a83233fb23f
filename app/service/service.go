// Package service assembles the running GitHub App: the database, the GitHub
// client, the gate, the webhook server, the workers and the reconciler, and
// shuts them down in the order that loses no delivery.
package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/mod/sumdb/note"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/app/access"
	"github.com/modelgate/modelgate/app/server"
	"github.com/modelgate/modelgate/app/web"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/oidc"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/policies"
)

// Config is the App's configuration. Zero durations and counts take the
// defaults below.
type Config struct {
	AppID         int64
	PrivateKey    []byte // PEM
	WebhookSecret []byte
	AuditKey      string // signs the audit log's checkpoints; see modelgate audit key
	Database      string // SQLite path or postgres:// URL
	GitHubURL     string // API base; empty for github.com
	Transport     http.RoundTripper
	// OIDCAudience is the audience the OIDC tokens of evidence uploads
	// (POST /api/v1/evidence) must name; without one the App takes no
	// uploads. OIDCIssuer is their issuer, by default GitHub Actions' for
	// GitHubURL (oidc.DefaultIssuer).
	OIDCIssuer, OIDCAudience string

	Workers           int           // default 2
	ReconcileInterval time.Duration // default 10m; negative: no sweeps (another replica sweeps)
	Lease             time.Duration // default 2m
	Poll              time.Duration // default 1s
	MaxAttempts       int           // default 8
	Backoff           time.Duration // default 5s
	MaxBackoff        time.Duration // default 10m
	Grace             time.Duration // default 20s
	Log               *slog.Logger
	// Reviewers configures the reviewers' sign-in; nil serves no reviewers'
	// UI or API. Its GitHubURL, Transport, Log and Now are the App's.
	Reviewers *access.Config
	// Now is the clock of the App, its workers and its queue (default
	// time.Now): what decides when a soak ends and a measurement is due.
	Now func() time.Time
}

// Serve runs the App on ln until ctx ends, then stops taking deliveries,
// lets the jobs in hand finish (or releases them) and returns.
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	log := cmp.Or(cfg.Log, slog.Default())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if len(cfg.WebhookSecret) == 0 {
		return errors.New("webhook secret is empty (MODELGATE_WEBHOOK_SECRET): refusing to accept unsigned deliveries")
	}
	// Without a key no checkpoint leaves the database, and the log could be
	// rewritten by whoever can write it without anyone being able to tell.
	if cfg.AuditKey == "" {
		return errors.New("audit key is empty (MODELGATE_AUDIT_KEY_FILE): refusing to record decisions without publishing signed checkpoints")
	}
	signer, err := note.NewSigner(cfg.AuditKey)
	if err != nil {
		return fmt.Errorf("audit key: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	db, err := sqlstore.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	db.Now = now

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := app.NewMetrics(reg, db.QueueStats)

	gh, err := github.NewApp(github.Config{AppID: cfg.AppID, PrivateKey: cfg.PrivateKey, BaseURL: cfg.GitHubURL,
		Transport: cfg.Transport, Observe: metrics.ObserveAPI, Now: now})
	if err != nil {
		return err
	}
	v, err := schema.New()
	if err != nil {
		return err
	}
	g := gate.New(v, gate.Checks{}, policies.Modules(), gate.AuditRuns{Log: db}, gate.AuditUploads{Log: db}, now)
	a := app.New(gh, db, signer, g, v, metrics, log, now)
	var uploads server.Uploader
	if cfg.OIDCAudience != "" {
		issuer := cmp.Or(cfg.OIDCIssuer, oidc.DefaultIssuer(cfg.GitHubURL))
		verifier, err := oidc.New(oidc.Config{Issuer: issuer, Audience: cfg.OIDCAudience, Now: now})
		if err != nil {
			return fmt.Errorf("evidence uploads: %w", err)
		}
		uploads = app.NewIntake(a, verifier, db)
		log.Info("taking evidence uploads", "oidc_issuer", issuer, "oidc_audience", cfg.OIDCAudience)
	}

	var reviewers *access.Access
	var ui *web.UI
	if cfg.Reviewers == nil {
		log.Info("reviewers' UI and API not served: no OAuth client configured (MODELGATE_OAUTH_CLIENT_ID)")
	} else {
		rc := *cfg.Reviewers
		rc.GitHubURL, rc.Transport, rc.Log, rc.Now = cfg.GitHubURL, cfg.Transport, log, now
		if reviewers, err = access.New(rc); err != nil {
			return err
		}
		if ui, err = web.New(web.Config{Store: db, Log: log, Now: now}); err != nil {
			return err
		}
	}

	wake := make(chan struct{}, 1)
	srv, err := server.New(server.Config{Secret: cfg.WebhookSecret, Queue: db, Ready: db.Ping, Metrics: metrics,
		Gatherer: reg, Log: log, Wake: wake, Uploads: uploads, Reviewers: reviewers, UI: ui})
	if err != nil {
		return err
	}

	// Intake outlives the HTTP server, so every acknowledged delivery is
	// stored; workers outlive nothing and release what they cannot finish.
	intakeCtx, stopIntake := context.WithCancel(context.WithoutCancel(ctx))
	defer stopIntake()
	var intake sync.WaitGroup
	intake.Go(func() { srv.Run(intakeCtx) })

	var workers sync.WaitGroup
	host, _ := os.Hostname()
	for i := range cmp.Or(cfg.Workers, 2) {
		w := &app.Worker{Queue: db, Handler: a, Log: log, Metrics: metrics, Wake: wake, Now: now,
			Owner:       fmt.Sprintf("%s/%d/%d/%s", host, os.Getpid(), i, strconv.FormatInt(time.Now().UnixNano(), 36)),
			Lease:       cmp.Or(cfg.Lease, 2*time.Minute),
			Poll:        cmp.Or(cfg.Poll, time.Second),
			MaxAttempts: cmp.Or(cfg.MaxAttempts, 8),
			Backoff:     cmp.Or(cfg.Backoff, 5*time.Second),
			MaxBackoff:  cmp.Or(cfg.MaxBackoff, 10*time.Minute),
			Grace:       cmp.Or(cfg.Grace, 20*time.Second),
		}
		workers.Go(func() { w.Run(ctx) })
	}
	if cfg.ReconcileInterval >= 0 {
		workers.Go(func() { a.RunReconciler(ctx, cmp.Or(cfg.ReconcileInterval, 10*time.Minute)) })
	}

	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("modelgate serving", "addr", ln.Addr().String(), "database", sqlstore.Redact(cfg.Database))

	select {
	case err = <-served:
		cancel()
	case <-ctx.Done():
		srv.Drain()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err = hs.Shutdown(shutdownCtx)
		cancel()
	}
	stopIntake()
	intake.Wait()
	workers.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

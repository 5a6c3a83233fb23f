package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/app/service"
)

func (c *cli) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "run the GitHub App: webhooks, check runs, approvals and merges",
	}
	fl := cmd.Flags()
	addr := fl.String("addr", cmp.Or(c.getenv("MODELGATE_ADDR"), ":8080"), "address to listen on (env MODELGATE_ADDR)")
	appID := fl.String("app-id", c.getenv("MODELGATE_APP_ID"), "the GitHub App's ID (env MODELGATE_APP_ID)")
	keyFile := fl.String("private-key-file", c.getenv("MODELGATE_PRIVATE_KEY_FILE"), "the App's private key, PEM (env MODELGATE_PRIVATE_KEY_FILE)")
	secretFile := fl.String("webhook-secret-file", c.getenv("MODELGATE_WEBHOOK_SECRET_FILE"), "a file holding the webhook secret (env MODELGATE_WEBHOOK_SECRET_FILE; default: env MODELGATE_WEBHOOK_SECRET)")
	auditKeyFile := fl.String("audit-key-file", c.getenv("MODELGATE_AUDIT_KEY_FILE"), "the key that signs the audit log's checkpoints, as audit key --new writes it (env MODELGATE_AUDIT_KEY_FILE)")
	githubURL := fl.String("github-url", c.getenv("MODELGATE_GITHUB_URL"), "GitHub API base URL, for GitHub Enterprise Server (env MODELGATE_GITHUB_URL)")
	issuer := fl.String("oidc-issuer", c.getenv("MODELGATE_OIDC_ISSUER"), "issuer of the OIDC tokens of evidence uploads (env MODELGATE_OIDC_ISSUER; default GitHub Actions' for --github-url)")
	audience := fl.String("oidc-audience", c.getenv("MODELGATE_OIDC_AUDIENCE"), "audience the OIDC tokens of evidence uploads must name (env MODELGATE_OIDC_AUDIENCE; default the App's URL, --public-url); without one the App takes no uploads")
	dsn := c.databaseFlag(fl)
	workers := fl.Int("workers", 2, "evaluations run at once")
	lease := fl.Duration("lease", 2*time.Minute, "how long a worker holds a job without renewing its claim: the longest a crashed replica's jobs wait before another replica takes them")
	reconcile := fl.Duration("reconcile-interval", 10*time.Minute, "how often open pull requests are swept for heads with no decision")
	reviewers := c.reviewerFlags(fl)
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if *lease <= 0 {
			return c.fail(fmt.Errorf("serve: --lease %v: must be positive", *lease))
		}
		rc, err := reviewers.config()
		if err != nil {
			return c.fail(fmt.Errorf("serve: %w", err))
		}
		cfg := service.Config{Database: *dsn, GitHubURL: *githubURL, OIDCIssuer: *issuer, OIDCAudience: cmp.Or(*audience, *reviewers.publicURL), Workers: *workers, Lease: *lease, ReconcileInterval: *reconcile,
			Reviewers: rc, Log: slog.New(slog.NewJSONHandler(c.stderr, nil))}
		if cfg.AppID, err = strconv.ParseInt(*appID, 10, 64); err != nil || cfg.AppID <= 0 {
			return c.fail(errors.New("serve: --app-id (or MODELGATE_APP_ID) must be the App's numeric ID"))
		}
		if *keyFile == "" {
			return c.fail(errors.New("serve: --private-key-file (or MODELGATE_PRIVATE_KEY_FILE) is required"))
		}
		if cfg.PrivateKey, err = os.ReadFile(*keyFile); err != nil {
			return c.fail(fmt.Errorf("serve: read private key: %w", err))
		}
		secret := c.getenv("MODELGATE_WEBHOOK_SECRET")
		if *secretFile != "" {
			b, err := os.ReadFile(*secretFile)
			if err != nil {
				return c.fail(fmt.Errorf("serve: read webhook secret: %w", err))
			}
			secret = strings.TrimRight(string(b), "\r\n")
		}
		if secret == "" {
			return c.fail(errors.New("serve: the webhook secret is required (MODELGATE_WEBHOOK_SECRET, or --webhook-secret-file or MODELGATE_WEBHOOK_SECRET_FILE): deliveries are never accepted unverified"))
		}
		cfg.WebhookSecret = []byte(secret)
		if *auditKeyFile == "" {
			return c.fail(errors.New("serve: the audit key is required (MODELGATE_AUDIT_KEY_FILE or --audit-key-file; make one with modelgate audit key --new): every decision is published with a signed checkpoint of the audit log"))
		}
		if cfg.AuditKey, err = readSignerKey(*auditKeyFile); err != nil {
			return c.fail(fmt.Errorf("serve: %w", err))
		}
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return c.fail(fmt.Errorf("serve: %w", err))
		}
		if err := service.Serve(ctx, ln, cfg); err != nil {
			return c.fail(fmt.Errorf("serve: %w", err))
		}
		return exitOK
	})
	return cmd
}

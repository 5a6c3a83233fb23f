package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/github"
)

func (c *cli) deployCommand() *cobra.Command {
	return c.group(&cobra.Command{
		Use:   "deploy",
		Short: "report a deployer's progress on a deployment modelgate created, proving the artifact it deployed",
	}, c.deployStatusCommand())
}

// deployStatus posts a deployer's status on one of modelgate's deployments.
// A success must name the digest of the artifact that runs, which must be
// the one the deployment's payload names; the status then carries it in
// the form deploy.DeployedDigest reads, so the App can check it too.
func (c *cli) deployStatusCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status --deployment ID --state STATE [flags]",
		Short: "report what a deployer did with a deployment modelgate created: exit 0 posted, 1 refused (the digest is not the deployment's artifact, or the state may not follow the last one)",
	}
	fl := cmd.Flags()
	id := fl.Int64("deployment", 0, "the deployment's ID (the deployment event's deployment.id)")
	stateName := fl.String("state", "", "queued, in_progress, success, failure, error or inactive")
	digest := fl.String("digest", "", "the digest of the artifact that now runs, sha256:<64 hex>; required with --state success")
	repoName := fl.String("repo", c.getenv("GITHUB_REPOSITORY"), "the repository, OWNER/NAME (env GITHUB_REPOSITORY)")
	logURL := fl.String("log-url", "", "where the deployer's log is")
	envURL := fl.String("environment-url", "", "where the deployed model serves")
	description := fl.String("description", "", "a note for people, after the digest on a success (GitHub keeps 140 characters)")
	tokenFile := fl.String("token-file", "", "a file holding the GitHub token (default: env GITHUB_TOKEN); it needs deployments: write")
	format := choiceFlag(cmd, "format", "output", "text", "json")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) > 0 {
			return c.fail(fmt.Errorf("deploy status: unexpected argument %q", args[0]))
		}
		if *id <= 0 {
			return c.fail(errors.New("deploy status: --deployment must be the deployment's numeric ID"))
		}
		state, err := deploy.ParseState(*stateName)
		if err != nil {
			return c.fail(fmt.Errorf("deploy status: --state: %w", err))
		}
		if *digest != "" {
			if err := deploy.CheckDigest("deploy status: --digest", *digest); err != nil {
				return c.fail(err)
			}
		} else if state == deploy.Success {
			return c.fail(errors.New("deploy status: --state success needs --digest, the digest of the artifact that now runs: a success is only reported for the artifact the deployment names"))
		}
		if *repoName == "" {
			return c.fail(errors.New("deploy status: --repo (or GITHUB_REPOSITORY) is required"))
		}
		token := c.getenv("GITHUB_TOKEN")
		if *tokenFile != "" {
			b, err := os.ReadFile(*tokenFile)
			if err != nil {
				return c.fail(fmt.Errorf("deploy status: read the token: %w", err))
			}
			token = strings.TrimSpace(string(b))
		}
		if token == "" {
			return c.fail(errors.New("deploy status: no GitHub token: set GITHUB_TOKEN or --token-file"))
		}
		client, err := github.NewTokenClient(github.TokenConfig{
			Token: token, BaseURL: cmp.Or(c.getenv("MODELGATE_GITHUB_URL"), c.getenv("GITHUB_API_URL")),
		})
		if err != nil {
			return c.fail(fmt.Errorf("deploy status: %w", err))
		}
		repo, err := client.Repo(*repoName)
		if err != nil {
			return c.fail(fmt.Errorf("deploy status: %w", err))
		}

		d, err := repo.Deployment(ctx, *id)
		if err != nil {
			return c.fail(fmt.Errorf("deploy status: %w%s", err, permissionHint(err, "read")))
		}
		if d.Task != deploy.Task {
			return c.fail(fmt.Errorf("deploy status: deployment %d of %s is not modelgate's: its task is %q, not %q", d.ID, repo, d.Task, deploy.Task))
		}
		payload, err := deploy.ParsePayload(d.Payload)
		if err != nil {
			return c.fail(fmt.Errorf("deploy status: deployment %d of %s: %w", d.ID, repo, err))
		}
		what := fmt.Sprintf("deployment %d (%s %s to %s)", d.ID, payload.Model, payload.Version, d.Environment)
		if *digest != "" {
			if err := payload.Deployed(*digest); err != nil {
				fmt.Fprintf(c.stderr, "modelgate: %s: refused, nothing posted: %v\n", what, err)
				return exitFailed
			}
		}
		statuses, err := repo.DeploymentStatuses(ctx, d.ID)
		if err != nil {
			return c.fail(fmt.Errorf("deploy status: %w%s", err, permissionHint(err, "read")))
		}
		var last deploy.State
		if len(statuses) > 0 {
			last = deploy.State(statuses[0].State)
		}
		if err := deploy.Transition(last, state); err != nil {
			fmt.Fprintf(c.stderr, "modelgate: %s: refused, nothing posted: %v\n", what, err)
			return exitFailed
		}
		st, err := repo.CreateDeploymentStatus(ctx, d.ID, github.NewDeploymentStatus{
			State: state, Description: deploy.StatusDescription(state, *digest, *description),
			LogURL: *logURL, EnvironmentURL: *envURL,
		})
		if err != nil {
			return c.fail(fmt.Errorf("deploy status: %w%s", err, permissionHint(err, "write")))
		}
		if *format == "json" {
			if err := writeJSON(c.stdout, map[string]any{
				"deployment": d.ID, "status": st.ID, "state": st.State, "environment": d.Environment,
				"model": payload.Model, "version": payload.Version, "description": st.Description,
			}); err != nil {
				return c.fail(err)
			}
			return exitOK
		}
		fmt.Fprintf(c.stdout, "%s: %s posted (status %d)\n", what, st.State, st.ID)
		return exitOK
	})
	return cmd
}

// permissionHint names the permission a token lacks when GitHub refuses it,
// which GitHub's own message does not.
func permissionHint(err error, access string) string {
	switch github.StatusCode(err) {
	case http.StatusUnauthorized:
		return " (the token is not valid)"
	case http.StatusForbidden:
		return " (the token needs the permission deployments: " + access + ")"
	case http.StatusNotFound:
		return " (no such deployment, or the token cannot see it: it needs the permission deployments: " + access + " on the repository)"
	}
	return ""
}

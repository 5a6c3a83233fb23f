package github

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/modelgate/modelgate/internal/deploy"
)

// Deployment is a GitHub deployment: a request to run a commit in an
// environment. Payload is as GitHub holds it; deploy.ParsePayload reads the
// payloads of modelgate's deployments (Task deploy.Task).
type Deployment struct {
	ID          int64
	SHA, Ref    string
	Task        string
	Environment string
	Description string
	Payload     json.RawMessage
	Creator     string // login
	CreatedAt   time.Time
}

func deployment(d *gh.Deployment) Deployment {
	return Deployment{
		ID: d.GetID(), SHA: d.GetSHA(), Ref: d.GetRef(), Task: d.GetTask(), Environment: d.GetEnvironment(),
		Description: d.GetDescription(), Payload: d.Payload, Creator: d.GetCreator().GetLogin(),
		CreatedAt: d.GetCreatedAt().Time,
	}
}

// DeploymentStatus is a status a deployer posted on a deployment.
type DeploymentStatus struct {
	ID             int64
	State          string // queued, in_progress, success, failure, error, inactive or pending
	Description    string
	Environment    string
	LogURL         string
	EnvironmentURL string
	Creator        string // login
	CreatedAt      time.Time
}

func deploymentStatus(s *gh.DeploymentStatus) DeploymentStatus {
	return DeploymentStatus{
		ID: s.GetID(), State: s.GetState(), Description: s.GetDescription(), Environment: s.GetEnvironment(),
		LogURL: s.GetLogURL(), EnvironmentURL: s.GetEnvironmentURL(), Creator: s.GetCreator().GetLogin(),
		CreatedAt: s.GetCreatedAt().Time,
	}
}

// CreateDeployment creates the deployment of a model version to the
// environment named for its stage, at the commit sha. It is created as
// modelgate's (task deploy.Task) without GitHub's auto-merge, which would
// merge the default branch into sha, and without required contexts: the
// gate has judged the commit, and commit statuses of other tools must not
// hold the deployment back.
func (r *Repo) CreateDeployment(ctx context.Context, sha, environment string, payload deploy.Payload) (Deployment, error) {
	if err := checkSHA(sha); err != nil {
		return Deployment{}, fmt.Errorf("create deployment: %w", err)
	}
	if err := payload.Validate(); err != nil {
		return Deployment{}, fmt.Errorf("create deployment of %s to %s: %w", sha, environment, err)
	}
	d, _, err := r.c.gh.Repositories.CreateDeployment(ctx, r.owner, r.name, &gh.DeploymentRequest{
		Ref: gh.String(sha), Task: gh.String(deploy.Task), Environment: gh.String(environment),
		Payload: payload, AutoMerge: gh.Bool(false), RequiredContexts: &[]string{},
		Description: gh.String(payload.Model + " " + payload.Version),
	})
	if err != nil {
		return Deployment{}, fmt.Errorf("create deployment of %s %s to %s at %s in %s: %w", payload.Model, payload.Version, environment, sha, r, err)
	}
	return deployment(d), nil
}

// DeploymentFilter selects deployments; an empty field selects any.
type DeploymentFilter struct {
	SHA, Ref, Task, Environment string
}

// Deployments lists the deployments that filter selects, newest first.
func (r *Repo) Deployments(ctx context.Context, filter DeploymentFilter) ([]Deployment, error) {
	list, err := collect(func(o gh.ListOptions) ([]*gh.Deployment, *gh.Response, error) {
		return r.c.gh.Repositories.ListDeployments(ctx, r.owner, r.name, &gh.DeploymentsListOptions{
			SHA: filter.SHA, Ref: filter.Ref, Task: filter.Task, Environment: filter.Environment, ListOptions: o,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("deployments of %s (%+v): %w", r, filter, err)
	}
	out := make([]Deployment, 0, len(list))
	for _, d := range list {
		out = append(out, deployment(d))
	}
	return out, nil
}

// Deployment returns a deployment of the repository.
func (r *Repo) Deployment(ctx context.Context, id int64) (Deployment, error) {
	d, _, err := r.c.gh.Repositories.GetDeployment(ctx, r.owner, r.name, id)
	if err != nil {
		return Deployment{}, fmt.Errorf("deployment %d of %s: %w", id, r, err)
	}
	return deployment(d), nil
}

// NewDeploymentStatus is a status to post on a deployment.
type NewDeploymentStatus struct {
	State          deploy.State
	Description    string
	LogURL         string
	EnvironmentURL string
}

// CreateDeploymentStatus posts a status on a deployment.
func (r *Repo) CreateDeploymentStatus(ctx context.Context, id int64, st NewDeploymentStatus) (DeploymentStatus, error) {
	req := &gh.DeploymentStatusRequest{State: gh.String(string(st.State))}
	if st.Description != "" {
		req.Description = gh.String(st.Description)
	}
	if st.LogURL != "" {
		req.LogURL = gh.String(st.LogURL)
	}
	if st.EnvironmentURL != "" {
		req.EnvironmentURL = gh.String(st.EnvironmentURL)
	}
	s, _, err := r.c.gh.Repositories.CreateDeploymentStatus(ctx, r.owner, r.name, id, req)
	if err != nil {
		return DeploymentStatus{}, fmt.Errorf("post %s on deployment %d of %s: %w", st.State, id, r, err)
	}
	return deploymentStatus(s), nil
}

// DeploymentStatuses lists the statuses of a deployment, newest first.
func (r *Repo) DeploymentStatuses(ctx context.Context, id int64) ([]DeploymentStatus, error) {
	list, err := collect(func(o gh.ListOptions) ([]*gh.DeploymentStatus, *gh.Response, error) {
		return r.c.gh.Repositories.ListDeploymentStatuses(ctx, r.owner, r.name, id, &o)
	})
	if err != nil {
		return nil, fmt.Errorf("statuses of deployment %d of %s: %w", id, r, err)
	}
	out := make([]DeploymentStatus, 0, len(list))
	for _, s := range list {
		out = append(out, deploymentStatus(s))
	}
	return out, nil
}

package github

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/deploy"
)

const (
	routeDeployments = "/repos/{owner}/{repo}/deployments"
	routeStatuses    = "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
	testDigest       = "sha256:1170c26f59c31de7345adfbc0be233ac7950992df35235006855a6e59b45b07f"
)

func testPayload(version string) deploy.Payload {
	return deploy.Payload{
		Model: "a", Version: version, PreviousVersion: "1.0.0", ManifestPath: "models/a/" + version + "/model.yaml",
		Artifact: deploy.Artifact{URI: "s3://models/a/" + version + "/model.onnx", Digest: testDigest},
	}
}

func TestCreateDeployment(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	d, err := s.repo.CreateDeployment(ctx, s.base, "staging", testPayload("2.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if d.SHA != s.base || d.Ref != s.base || d.Task != "deploy:model" || d.Environment != "staging" || d.Creator != "modelgate[bot]" || d.Description != "a 2.0.0" {
		t.Errorf("deployment = %+v", d)
	}
	got, err := deploy.ParsePayload(d.Payload)
	if err != nil || got != testPayload("2.0.0") {
		t.Errorf("payload = %+v, %v", got, err)
	}
	// What GitHub holds: not auto-merged, no required contexts.
	held := s.gh.Deployments(testRepo)
	if len(held) != 1 || held[0].AutoMerge || held[0].RequiredContexts == nil || len(held[0].RequiredContexts) != 0 || held[0].Task != deploy.Task {
		t.Errorf("deployment on GitHub = %+v", held)
	}
	var payload map[string]any
	if err := json.Unmarshal(held[0].Payload, &payload); err != nil || payload["artifact"].(map[string]any)["digest"] != testDigest {
		t.Errorf("payload on GitHub = %s, %v", held[0].Payload, err)
	}

	again, err := s.repo.Deployment(ctx, d.ID)
	if err != nil || again.ID != d.ID || string(again.Payload) != string(d.Payload) {
		t.Errorf("Deployment = %+v, %v", again, err)
	}
	if _, err := s.repo.Deployment(ctx, d.ID+1000); StatusCode(err) != http.StatusNotFound {
		t.Errorf("Deployment of an unknown ID: err = %v, want 404", err)
	}
}

func TestCreateDeploymentRefusesBeforeAsking(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	bad := testPayload("2.0.0")
	bad.Artifact.Digest = "sha256:abc"
	s.gh.ResetCalls()
	if _, err := s.repo.CreateDeployment(ctx, s.base, "staging", bad); err == nil || !strings.Contains(err.Error(), "payload.artifact.digest") {
		t.Errorf("invalid payload: err = %v", err)
	}
	if _, err := s.repo.CreateDeployment(ctx, "main", "staging", testPayload("2.0.0")); err == nil || !strings.Contains(err.Error(), "not a full commit SHA") {
		t.Errorf("branch name as the ref: err = %v", err)
	}
	if n := s.count("POST", routeDeployments); n != 0 {
		t.Errorf("%d deployments requested", n)
	}
}

func TestDeploymentsAllPages(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	var first int64
	for i := range 103 {
		env := "staging"
		if i%2 == 1 {
			env = "dev"
		}
		d, err := s.repo.CreateDeployment(ctx, s.base, env, testPayload("2.0.0"))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = d.ID
		}
	}
	staging, err := s.repo.Deployments(ctx, DeploymentFilter{Environment: "staging", Task: deploy.Task, SHA: s.base})
	if err != nil || len(staging) != 52 {
		t.Fatalf("staging deployments: %d, %v", len(staging), err)
	}
	if staging[len(staging)-1].ID != first || staging[0].ID < staging[1].ID {
		t.Errorf("not newest first: %d ... %d", staging[0].ID, staging[len(staging)-1].ID)
	}
	all, err := s.repo.Deployments(ctx, DeploymentFilter{})
	if err != nil || len(all) != 103 {
		t.Errorf("all deployments: %d, %v", len(all), err)
	}
	none, err := s.repo.Deployments(ctx, DeploymentFilter{Ref: s.head})
	if err != nil || len(none) != 0 {
		t.Errorf("deployments of another ref: %v, %v", none, err)
	}
	if n := s.count("GET", routeDeployments); n != 1+2+1 {
		t.Errorf("%d list requests, want 4 (100 a page)", n)
	}
}

func TestDeploymentStatuses(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	d, err := s.repo.CreateDeployment(ctx, s.base, "staging", testPayload("2.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := s.repo.CreateDeploymentStatus(ctx, d.ID, NewDeploymentStatus{State: deploy.InProgress}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.repo.CreateDeploymentStatus(ctx, d.ID, NewDeploymentStatus{
		State: deploy.Success, Description: deploy.StatusDescription(deploy.Success, testDigest, ""),
		LogURL: "https://ci.example.com/run/7", EnvironmentURL: "https://staging.example.com/a",
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "success" || st.Environment != "staging" || st.LogURL != "https://ci.example.com/run/7" || st.EnvironmentURL != "https://staging.example.com/a" || st.Creator != "modelgate[bot]" {
		t.Errorf("status = %+v", st)
	}
	list, err := s.repo.DeploymentStatuses(ctx, d.ID)
	if err != nil || len(list) != 101 || list[0].ID != st.ID || list[0].Description != "deployed "+testDigest {
		t.Fatalf("statuses: %d, %v", len(list), err)
	}
	if n := s.count("GET", routeStatuses); n != 2 {
		t.Errorf("%d list requests, want 2", n)
	}
	if _, err := s.repo.CreateDeploymentStatus(ctx, d.ID+1000, NewDeploymentStatus{State: deploy.Success}); StatusCode(err) != http.StatusNotFound {
		t.Errorf("status on an unknown deployment: err = %v, want 404", err)
	}
}

func TestTokenClient(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	d, err := s.repo.CreateDeployment(ctx, s.base, "staging", testPayload("2.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewTokenClient(TokenConfig{Token: s.gh.InstallationToken(s.inst), BaseURL: s.gh.URL() + "/api/v3/"})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.Repo(testRepo)
	if err != nil {
		t.Fatal(err)
	}
	got, err := repo.Deployment(ctx, d.ID)
	if err != nil || got.ID != d.ID {
		t.Fatalf("Deployment with a token = %+v, %v", got, err)
	}
	if _, err := repo.CreateDeploymentStatus(ctx, d.ID, NewDeploymentStatus{State: deploy.Failure}); err != nil {
		t.Errorf("status with a token: %v", err)
	}
	if held := s.gh.Deployments(testRepo)[0]; len(held.Statuses) != 1 || held.Statuses[0].State != "failure" {
		t.Errorf("statuses on GitHub = %+v", held.Statuses)
	}

	bad, err := NewTokenClient(TokenConfig{Token: "ghs_revoked", BaseURL: s.gh.URL() + "/api/v3/"})
	if err != nil {
		t.Fatal(err)
	}
	badRepo, err := bad.Repo(testRepo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := badRepo.Deployment(ctx, d.ID); StatusCode(err) != http.StatusUnauthorized {
		t.Errorf("bad token: err = %v, want 401", err)
	}
	for _, cfg := range []TokenConfig{{}, {Token: "t", BaseURL: "ftp://x"}, {Token: "t", MaxWait: -1}} {
		if _, err := NewTokenClient(cfg); err == nil {
			t.Errorf("NewTokenClient(%+v) accepted", cfg)
		}
	}
}

package github

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/githubtest"
)

func TestCommitTree(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	files := map[string][]byte{
		"models/a/2.0.0/model.yaml": []byte("metadata: {name: a}\n"),
		"models/a/2.0.0/data.bin":   {0, 1, 2, 0xff, '\n', '\r'},
		"README.md":                 []byte("models\n"), // as the base has it: no blob to write
	}
	tc := TreeCommit{Message: "Propose a 2.0.0", Base: s.base, Parents: []string{s.base}, Files: files}
	if ok, err := s.repo.Holds(ctx, s.base, tc); err != nil || ok {
		t.Fatalf("Holds(base) = %v, %v; want false", ok, err)
	}
	s.gh.ResetCalls()
	sha, err := s.repo.CommitTree(ctx, tc)
	if err != nil {
		t.Fatal(err)
	}
	var blobs int
	for _, c := range s.gh.Calls() {
		if c.String() == "POST /repos/{owner}/{repo}/git/blobs" {
			blobs++
		}
	}
	if blobs != 2 {
		t.Errorf("%d blobs written; want 2, the files the base lacks: %v", blobs, s.gh.Calls())
	}
	changed, err := s.repo.ChangedFiles(ctx, s.base, sha)
	if err != nil || !slices.Equal(changed, []string{"models/a/2.0.0/data.bin", "models/a/2.0.0/model.yaml"}) {
		t.Errorf("ChangedFiles = %v, %v", changed, err)
	}
	for p, want := range files {
		if got, err := s.repo.Snapshot(sha).ReadFile(ctx, p); err != nil || string(got) != string(want) {
			t.Errorf("%s at the commit = %q, %v; want %q", p, got, err, want)
		}
	}
	if ok, err := s.repo.Holds(ctx, sha, tc); err != nil || !ok {
		t.Errorf("Holds(the commit) = %v, %v; want true", ok, err)
	}
	other := tc
	other.Files = map[string][]byte{"models/a/2.0.0/model.yaml": []byte("metadata: {name: b}\n")}
	if ok, err := s.repo.Holds(ctx, sha, other); err != nil || ok {
		t.Errorf("Holds(other files) = %v, %v; want false (a file differs, and the commit has one more)", ok, err)
	}

	const branch = "modelgate/propose/a-2.0.0-dev"
	if err := s.repo.CreateBranch(ctx, branch, sha); err != nil {
		t.Fatal(err)
	}
	next, err := s.repo.CommitTree(ctx, TreeCommit{Message: "again", Base: sha, Parents: []string{sha}, Files: other.Files})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.repo.FastForward(ctx, branch, next); err != nil {
		t.Fatal(err)
	}
	// Back to the first commit is no fast-forward: GitHub refuses.
	if err := s.repo.FastForward(ctx, branch, sha); StatusCode(err) != http.StatusUnprocessableEntity {
		t.Errorf("FastForward backwards: %v; want 422", err)
	}
	if head := s.gh.Branch(testRepo, branch); head != next {
		t.Errorf("branch at %s; want %s", head, next)
	}

	// A path under a file, and a file where a folder is, are refused before
	// anything is written.
	for _, bad := range []string{"README.md/x", "environments"} {
		if _, err := s.repo.CommitTree(ctx, TreeCommit{Message: "x", Base: s.base, Parents: []string{s.base}, Files: map[string][]byte{bad: []byte("x")}}); err == nil {
			t.Errorf("CommitTree of %s: no error", bad)
		}
	}
}

func TestPullRequestsFromAndEdit(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	prs, err := s.repo.PullRequestsFrom(ctx, "promote")
	if err != nil || len(prs) != 1 || prs[0].Number != s.number || !strings.HasSuffix(prs[0].URL, "/pull/1") {
		t.Fatalf("PullRequestsFrom = %+v, %v", prs, err)
	}
	edited, err := s.repo.EditPullRequest(ctx, s.number, "Promote a 2.0.0", "new body")
	if err != nil || edited.Title != "Promote a 2.0.0" {
		t.Fatalf("EditPullRequest = %+v, %v", edited, err)
	}
	if pr := s.gh.PullRequest(testRepo, s.number); pr.Body != "new body" {
		t.Errorf("body %q", pr.Body)
	}
}

func TestAcceptedPermissions(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	token := s.gh.ScopedToken(s.inst, githubtest.TokenScope{Permissions: map[string]string{"contents": "read"}})
	c, err := NewTokenClient(TokenConfig{Token: token, BaseURL: s.gh.URL() + "/api/v3/"})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.Repo(testRepo)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := repo.BranchHead(ctx, "main"); err != nil {
		t.Fatalf("a read with contents read: %v", err)
	}
	err = repo.CreateBranch(ctx, "x", s.base)
	if StatusCode(err) != http.StatusForbidden {
		t.Fatalf("a write with contents read: %v; want 403", err)
	}
	if got := AcceptedPermissions(err); !slices.EqualFunc(got, [][]string{{"contents=write"}}, slices.Equal) {
		t.Errorf("AcceptedPermissions = %v", got)
	}
	_, err = repo.PullRequestsFrom(ctx, "promote")
	if got := AcceptedPermissions(err); !slices.EqualFunc(got, [][]string{{"pull_requests=read"}}, slices.Equal) {
		t.Errorf("AcceptedPermissions of a list of pull requests = %v (%v)", got, err)
	}
	if AcceptedPermissions(nil) != nil {
		t.Error("AcceptedPermissions(nil) is not nil")
	}
}

func TestRepositoryInstallation(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	id, err := s.app.RepositoryInstallation(ctx, testRepo)
	if err != nil || id != s.inst {
		t.Errorf("RepositoryInstallation(%s) = %d, %v; want %d", testRepo, id, err, s.inst)
	}
	for _, other := range []string{"acme/other", "mallory/models"} {
		if id, err := s.app.RepositoryInstallation(ctx, other); !errors.Is(err, ErrNotInstalled) {
			t.Errorf("RepositoryInstallation(%s) = %d, %v; want ErrNotInstalled", other, id, err)
		}
	}
	if _, err := s.app.RepositoryInstallation(ctx, "acme/../models"); err == nil || errors.Is(err, ErrNotInstalled) {
		t.Errorf("an invalid name: %v", err)
	}
}

func TestParents(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	repo, err := s.app.Installation(s.inst).Repo(testRepo)
	if err != nil {
		t.Fatal(err)
	}
	merge := s.gh.TestMerge(testRepo, s.number)
	s.gh.ResetCalls()
	for range 2 {
		parents, err := repo.Parents(ctx, merge)
		if err != nil || !slices.Equal(parents, []string{s.base, s.head}) {
			t.Errorf("Parents of the test merge commit = %v, %v; want [%s %s]", parents, err, s.base, s.head)
		}
	}
	reads := 0
	for _, c := range s.gh.Calls() {
		if c.Route == "/repos/{owner}/{repo}/commits" {
			reads++
		}
	}
	if reads != 1 {
		t.Errorf("%d reads of commits for the parents of one commit, asked twice; want 1: %v", reads, s.gh.Calls())
	}
	if parents, err := repo.Parents(ctx, s.head); err != nil || !slices.Equal(parents, []string{s.base}) {
		t.Errorf("Parents of the head = %v, %v; want [%s]", parents, err, s.base)
	}
	_, err = repo.Parents(ctx, "0123456789012345678901234567890123456789")
	if st := StatusCode(err); st != http.StatusNotFound && st != http.StatusUnprocessableEntity {
		t.Errorf("Parents of an unknown commit: %v (status %d); want GitHub's 404 or 422", err, st)
	}
}

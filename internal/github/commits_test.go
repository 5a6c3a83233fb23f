package github

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
)

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

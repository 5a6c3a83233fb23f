package github

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestProposalPullRequest(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	const branch = "modelgate/promote/a-2.0.0-dev"
	if _, ok, err := s.repo.BranchHead(ctx, branch); ok || err != nil {
		t.Fatalf("BranchHead of a missing branch = %v, %v", ok, err)
	}
	main, ok, err := s.repo.BranchHead(ctx, "main")
	if err != nil || !ok || main != s.base {
		t.Fatalf("BranchHead(main) = %s, %v, %v; want %s", main, ok, err, s.base)
	}
	if err := s.repo.CreateBranch(ctx, branch, main); err != nil {
		t.Fatal(err)
	}
	if err := s.repo.CreateBranch(ctx, branch, main); !errors.Is(err, ErrBranchExists) {
		t.Fatalf("CreateBranch twice: %v; want ErrBranchExists", err)
	}
	old := []byte("stage: dev\nmodels: {a: \"1.0.0\"}\n")
	want := []byte("stage: dev\nmodels: {a: \"2.0.0\"}\n")
	if _, err := s.repo.CommitFile(ctx, FileCommit{Branch: branch, Path: "environments/dev.yaml", Message: "x", Content: want, Previous: []byte("other")}); StatusCode(err) != 422 {
		t.Errorf("CommitFile over a file it has not seen: %v; want 422", err)
	}
	sha, err := s.repo.CommitFile(ctx, FileCommit{Branch: branch, Path: "environments/dev.yaml", Message: "Promote a 2.0.0 to dev", Content: want, Previous: old})
	if err != nil {
		t.Fatal(err)
	}
	if head, _, _ := s.repo.BranchHead(ctx, branch); head != sha {
		t.Errorf("branch head %s; want the commit %s", head, sha)
	}
	files, err := s.repo.ChangedFiles(ctx, main, sha)
	if err != nil || !slices.Equal(files, []string{"environments/dev.yaml"}) {
		t.Errorf("ChangedFiles = %v, %v", files, err)
	}
	got, err := s.repo.Snapshot(sha).ReadFile(ctx, "environments/dev.yaml")
	if err != nil || string(got) != string(want) {
		t.Errorf("file at the commit = %q, %v", got, err)
	}
	// A file the branch does not have yet: no previous content to name.
	qa, err := s.repo.CommitFile(ctx, FileCommit{Branch: branch, Path: "environments/qa.yaml", Message: "qa", Content: []byte("stage: qa\n")})
	if err != nil {
		t.Fatal(err)
	}
	if files, err := s.repo.ChangedFiles(ctx, sha, qa); err != nil || !slices.Equal(files, []string{"environments/qa.yaml"}) {
		t.Errorf("ChangedFiles of the new file's commit = %v, %v", files, err)
	}
	if err := s.repo.ResetBranch(ctx, branch, sha); err != nil {
		t.Fatal(err)
	}
	if n := s.gh.Branch(testRepo, "main"); n != main {
		t.Errorf("main moved to %s", n)
	}

	pr, err := s.repo.OpenPullRequest(ctx, NewPullRequest{Title: "Promote a 2.0.0 to dev", Body: "body", Head: branch, Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if pr.HeadSHA != sha || pr.BaseRef != "main" || pr.Author != "modelgate[bot]" || pr.State != "open" {
		t.Errorf("pull request = %+v", pr)
	}
	if _, err := s.repo.OpenPullRequest(ctx, NewPullRequest{Title: "again", Head: branch, Base: "main"}); StatusCode(err) != 422 {
		t.Errorf("a second pull request of the branch: %v; want 422", err)
	}
	own, err := s.repo.OwnPullRequests(ctx, branch)
	if err != nil || len(own) != 1 || own[0].Number != pr.Number {
		t.Errorf("OwnPullRequests = %+v, %v", own, err)
	}
	// alice's pull request from "promote" is not the App's.
	if own, err := s.repo.OwnPullRequests(ctx, "promote"); err != nil || len(own) != 0 {
		t.Errorf("OwnPullRequests(promote) = %+v, %v", own, err)
	}

	if err := s.repo.ResetBranch(ctx, branch, main); err != nil {
		t.Fatal(err)
	}
	if head, _, _ := s.repo.BranchHead(ctx, branch); head != main {
		t.Errorf("after ResetBranch the head is %s; want %s", head, main)
	}

	const marker = "<!-- superseded -->"
	for range 2 { // a retry comments once
		if err := s.repo.ClosePullRequest(ctx, pr.Number, marker, marker+"\nSuperseded by #9."); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.gh.PullRequest(testRepo, pr.Number); st.State != "closed" || st.Merged {
		t.Errorf("closed pull request = %+v", st)
	}
	comments := s.gh.Comments(testRepo, pr.Number)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "Superseded by #9.") {
		t.Errorf("comments = %+v", comments)
	}
	if own, err := s.repo.OwnPullRequests(ctx, branch); err != nil || len(own) != 0 {
		t.Errorf("OwnPullRequests after closing = %+v, %v", own, err)
	}
}

package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/modelgate/modelgate/internal/gitops"
)

// ErrBranchExists is returned by CreateBranch when the branch is there
// already: a retry after a crash, or a race with another replica.
var ErrBranchExists = errors.New("github: branch exists")

// BranchHead returns the commit a branch points at, and false when there is
// no such branch. It is one call, answered from the ETag cache (free of the
// rate limit) while the branch has not moved.
func (r *Repo) BranchHead(ctx context.Context, branch string) (string, bool, error) {
	if branch == "" {
		return "", false, fmt.Errorf("head of a branch of %s: no branch", r)
	}
	ref, _, err := r.c.gh.Git.GetRef(ctx, r.owner, r.name, "heads/"+branch)
	if StatusCode(err) == http.StatusNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("head of %s in %s: %w", branch, r, err)
	}
	// One ref of another name is not the branch.
	if ref.GetRef() != "refs/heads/"+branch || !isSHA(ref.GetObject().GetSHA()) {
		return "", false, nil
	}
	return ref.GetObject().GetSHA(), true, nil
}

// CreateBranch creates branch at the commit sha; ErrBranchExists when it is
// there already.
func (r *Repo) CreateBranch(ctx context.Context, branch, sha string) error {
	if err := checkSHA(sha); err != nil {
		return fmt.Errorf("create branch %s in %s: %w", branch, r, err)
	}
	_, _, err := r.c.gh.Git.CreateRef(ctx, r.owner, r.name, &gh.Reference{Ref: gh.String("refs/heads/" + branch), Object: &gh.GitObject{SHA: gh.String(sha)}})
	var e *gh.ErrorResponse
	if errors.As(err, &e) && e.Response != nil && e.Response.StatusCode == http.StatusUnprocessableEntity && strings.Contains(e.Message, "already exists") {
		return fmt.Errorf("create branch %s in %s: %w", branch, r, ErrBranchExists)
	}
	if err != nil {
		return fmt.Errorf("create branch %s at %s in %s: %w", branch, sha, r, err)
	}
	return nil
}

// ResetBranch moves branch to the commit sha, whatever it held: for a branch
// only the App writes, whose content is not what it would write.
func (r *Repo) ResetBranch(ctx context.Context, branch, sha string) error {
	return r.moveBranch(ctx, branch, sha, true)
}

// FastForward moves branch to the commit sha, which must have the branch's
// head in its history: GitHub refuses, rather than dropping commits that
// someone pushed meanwhile.
func (r *Repo) FastForward(ctx context.Context, branch, sha string) error {
	return r.moveBranch(ctx, branch, sha, false)
}

func (r *Repo) moveBranch(ctx context.Context, branch, sha string, force bool) error {
	if err := checkSHA(sha); err != nil {
		return fmt.Errorf("move branch %s in %s: %w", branch, r, err)
	}
	_, _, err := r.c.gh.Git.UpdateRef(ctx, r.owner, r.name, &gh.Reference{Ref: gh.String("heads/" + branch), Object: &gh.GitObject{SHA: gh.String(sha)}}, force)
	if err != nil {
		return fmt.Errorf("move branch %s to %s in %s: %w", branch, sha, r, err)
	}
	return nil
}

// FileCommit is a commit of one file to a branch.
type FileCommit struct {
	Branch, Path, Message string
	Content               []byte
	// Previous is the file's content at the branch's head, which GitHub
	// requires (as its blob SHA) to overwrite it; nil for a new file.
	Previous []byte
}

// CommitFile writes one file to a branch as one commit on top of its head,
// in one call (the contents API builds the blob, tree and commit that the
// git data API takes four calls for), and returns the commit's SHA. GitHub
// refuses it, rather than overwriting a change, when the file at the head is
// not Previous.
func (r *Repo) CommitFile(ctx context.Context, fc FileCommit) (string, error) {
	if err := gitops.CheckPath(fc.Path); err != nil {
		return "", fmt.Errorf("commit %s to %s in %s: %w", fc.Path, fc.Branch, r, err)
	}
	opts := &gh.RepositoryContentFileOptions{Message: gh.String(fc.Message), Content: fc.Content, Branch: gh.String(fc.Branch)}
	if fc.Previous != nil {
		opts.SHA = gh.String(blobSHA(fc.Previous))
	}
	res, _, err := r.c.gh.Repositories.UpdateFile(ctx, r.owner, r.name, fc.Path, opts)
	if err != nil {
		return "", fmt.Errorf("commit %s to %s in %s: %w", fc.Path, fc.Branch, r, err)
	}
	if !isSHA(res.GetSHA()) {
		return "", fmt.Errorf("commit %s to %s in %s: GitHub named no commit", fc.Path, fc.Branch, r)
	}
	return res.GetSHA(), nil
}

// NewPullRequest is a pull request to open from a branch of the repository.
type NewPullRequest struct {
	Title, Body, Head, Base string
}

// OpenPullRequest opens a pull request.
func (r *Repo) OpenPullRequest(ctx context.Context, n NewPullRequest) (PullRequest, error) {
	p, _, err := r.c.gh.PullRequests.Create(ctx, r.owner, r.name, &gh.NewPullRequest{
		Title: gh.String(n.Title), Body: gh.String(clip(n.Body, maxBodyBytes)), Head: gh.String(n.Head), Base: gh.String(n.Base),
		MaintainerCanModify: gh.Bool(false),
	})
	if err != nil {
		return PullRequest{}, fmt.Errorf("open a pull request from %s into %s in %s: %w", n.Head, n.Base, r, err)
	}
	return pullRequest(p), nil
}

// maxBodyBytes is GitHub's limit on a pull request's body.
const maxBodyBytes = maxCommentBytes

// OwnPullRequests lists the App's open pull requests from branch, newest
// first: one GitHub lists by head, so the cost is one call whatever the
// number of open pull requests. Another author's pull request from the
// same branch is not the App's.
func (r *Repo) OwnPullRequests(ctx context.Context, branch string) ([]PullRequest, error) {
	list, err := r.PullRequestsFrom(ctx, branch)
	if err != nil {
		return nil, err
	}
	bot, err := r.c.app.botLogin(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list, func(pr PullRequest) bool { return !strings.EqualFold(pr.Author, bot) }), nil
}

// PullRequestsFrom lists the open pull requests from branch of the
// repository itself (not a fork's branch of the same name), newest first,
// in one call whatever the number of open pull requests.
func (r *Repo) PullRequestsFrom(ctx context.Context, branch string) ([]PullRequest, error) {
	list, err := collect(func(o gh.ListOptions) ([]*gh.PullRequest, *gh.Response, error) {
		return r.c.gh.PullRequests.List(ctx, r.owner, r.name, &gh.PullRequestListOptions{State: "open", Head: r.owner + ":" + branch, ListOptions: o})
	})
	if err != nil {
		return nil, fmt.Errorf("open pull requests from %s in %s: %w", branch, r, err)
	}
	var out []PullRequest
	for _, p := range list {
		if pr := pullRequest(p); pr.HeadRef == branch && pr.HeadRepo == r.String() {
			out = append(out, pr)
		}
	}
	return out, nil
}

// EditPullRequest sets the title and body of a pull request.
func (r *Repo) EditPullRequest(ctx context.Context, number int, title, body string) (PullRequest, error) {
	p, _, err := r.c.gh.PullRequests.Edit(ctx, r.owner, r.name, number, &gh.PullRequest{Title: gh.String(title), Body: gh.String(clip(body, maxBodyBytes))})
	if err != nil {
		return PullRequest{}, fmt.Errorf("edit %s#%d: %w", r, number, err)
	}
	return pullRequest(p), nil
}

// ClosePullRequest closes a pull request without merging it, after a comment
// saying why, which marker makes the App's own: a retry edits it rather
// than writing it twice.
func (r *Repo) ClosePullRequest(ctx context.Context, number int, marker, comment string) error {
	if _, err := r.StickyComment(ctx, number, marker, comment); err != nil {
		return err
	}
	_, _, err := r.c.gh.PullRequests.Edit(ctx, r.owner, r.name, number, &gh.PullRequest{State: gh.String("closed")})
	if err != nil {
		return fmt.Errorf("close %s#%d: %w", r, number, err)
	}
	return nil
}

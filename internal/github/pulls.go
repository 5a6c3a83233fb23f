package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// PullRequest is what modelgate needs of a pull request.
type PullRequest struct {
	Number  int
	URL     string // the pull request's page, html_url
	Title   string
	Body    string
	Author  string // login
	State   string // "open" or "closed"
	Draft   bool
	Merged  bool // always false in OpenPullRequests, which GitHub lists without it
	HeadSHA string
	HeadRef string
	// HeadRepo is the repository the head branch lives in, "owner/name":
	// another one than the pull request's for a pull request from a fork.
	HeadRepo string
	BaseRef  string
	BaseSHA  string
	Labels   []string
	// DefaultBranch is the repository's default branch, as GitHub names it
	// in the pull request's base.
	DefaultBranch string
	// Comments is how many comments its conversation held when read; -1
	// where GitHub does not say (OpenPullRequests).
	Comments int
	// RepoID is the id of the pull request's repository, as its base names
	// it: a repository deleted and created again under the same name has
	// another.
	RepoID int64
}

func pullRequest(p *gh.PullRequest) PullRequest {
	pr := PullRequest{
		Number: p.GetNumber(), URL: p.GetHTMLURL(), Title: p.GetTitle(), Body: p.GetBody(), Author: p.GetUser().GetLogin(),
		State: p.GetState(), Draft: p.GetDraft(), Merged: p.GetMerged(),
		HeadSHA: p.GetHead().GetSHA(), HeadRef: p.GetHead().GetRef(), HeadRepo: p.GetHead().GetRepo().GetFullName(),
		BaseRef: p.GetBase().GetRef(), BaseSHA: p.GetBase().GetSHA(),
		Labels: []string{}, DefaultBranch: p.GetBase().GetRepo().GetDefaultBranch(), RepoID: p.GetBase().GetRepo().GetID(),
		Comments: -1,
	}
	if p.Comments != nil {
		pr.Comments = *p.Comments
	}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.GetName())
	}
	return pr
}

// PullRequest returns a pull request of the repository.
func (r *Repo) PullRequest(ctx context.Context, number int) (PullRequest, error) {
	p, _, err := r.c.gh.PullRequests.Get(ctx, r.owner, r.name, number)
	if err != nil {
		return PullRequest{}, fmt.Errorf("pull request %s#%d: %w", r, number, err)
	}
	return pullRequest(p), nil
}

// OpenPullRequests lists the repository's open pull requests, newest first.
func (r *Repo) OpenPullRequests(ctx context.Context) ([]PullRequest, error) {
	list, err := collect(func(o gh.ListOptions) ([]*gh.PullRequest, *gh.Response, error) {
		return r.c.gh.PullRequests.List(ctx, r.owner, r.name, &gh.PullRequestListOptions{State: "open", ListOptions: o})
	})
	if err != nil {
		return nil, fmt.Errorf("open pull requests of %s: %w", r, err)
	}
	out := make([]PullRequest, 0, len(list))
	for _, p := range list {
		out = append(out, pullRequest(p))
	}
	return out, nil
}

// Review is a review of a pull request.
type Review struct {
	ID          int64
	User        string // login; "" for a deleted account
	State       string // APPROVED, CHANGES_REQUESTED, DISMISSED or COMMENTED
	CommitID    string // the head the review was given on
	SubmittedAt time.Time
}

// Reviews lists the reviews of a pull request, oldest first.
func (r *Repo) Reviews(ctx context.Context, number int) ([]Review, error) {
	list, err := collect(func(o gh.ListOptions) ([]*gh.PullRequestReview, *gh.Response, error) {
		return r.c.gh.PullRequests.ListReviews(ctx, r.owner, r.name, number, &o)
	})
	if err != nil {
		return nil, fmt.Errorf("reviews of %s#%d: %w", r, number, err)
	}
	out := make([]Review, 0, len(list))
	for _, rv := range list {
		out = append(out, Review{
			ID: rv.GetID(), User: rv.GetUser().GetLogin(), State: rv.GetState(),
			CommitID: rv.GetCommitID(), SubmittedAt: rv.GetSubmittedAt().UTC(),
		})
	}
	return out, nil
}

// activity is what modelgate reads of an entry of a repository's activity
// log (GET /repos/{owner}/{repo}/activity), which go-github does not cover.
type activity struct {
	Actor *gh.User `json:"actor"`
}

// Pushers lists the logins of everyone GitHub's activity log names as having
// changed branch — pushed, force-pushed, created, deleted or merged into it —
// each once. Unlike the authors and committers of commits, which whoever
// writes a commit chooses, these are the accounts that did it. Entries whose
// account was deleted name nobody.
func (r *Repo) Pushers(ctx context.Context, branch string) ([]string, error) {
	if branch == "" {
		return nil, fmt.Errorf("pushers of %s: no branch", r)
	}
	q := url.Values{"ref": {"refs/heads/" + branch}, "per_page": {"100"}}
	seen := map[string]bool{}
	var logins []string
	for {
		req, err := r.c.gh.NewRequest(http.MethodGet, "repos/"+url.PathEscape(r.owner)+"/"+url.PathEscape(r.name)+"/activity?"+q.Encode(), nil)
		if err != nil {
			return nil, fmt.Errorf("pushers of %s %s: %w", r, branch, err)
		}
		var page []activity
		resp, err := r.c.gh.Do(ctx, req, &page)
		if err != nil {
			return nil, fmt.Errorf("pushers of %s %s: %w", r, branch, err)
		}
		for _, a := range page {
			if login := a.Actor.GetLogin(); login != "" && !seen[login] {
				seen[login] = true
				logins = append(logins, login)
			}
		}
		if resp.After == "" {
			return logins, nil
		}
		q.Set("after", resp.After)
	}
}

// TeamMember tells whether user is an active member of the organization's
// team (its slug).
func (r *Repo) TeamMember(ctx context.Context, org, teamSlug, user string) (bool, error) {
	return r.c.TeamMember(ctx, org, teamSlug, user)
}

// TeamMember tells whether user is an active member of the organization's
// team (its slug), as the client's credential lets it see: GitHub answers
// 404, read as not a member, for a team the credential cannot see.
func (c *Client) TeamMember(ctx context.Context, org, teamSlug, user string) (bool, error) {
	m, _, err := c.gh.Teams.GetTeamMembershipBySlug(ctx, url.PathEscape(org), url.PathEscape(teamSlug), url.PathEscape(user))
	if StatusCode(err) == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("membership of %s in %s/%s: %w", user, org, teamSlug, err)
	}
	return m.GetState() == "active", nil
}

// User returns the login of the user whose token the client holds
// (GET /user).
func (c *Client) User(ctx context.Context) (string, error) {
	u, _, err := c.gh.Users.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("the token's user: %w", err)
	}
	if u.GetLogin() == "" {
		return "", errors.New("the token's user: GitHub named no login")
	}
	return u.GetLogin(), nil
}

// Merge merges a pull request with method ("merge", "squash" or "rebase")
// and commit title, only if its head is still sha, and returns the merge
// commit's SHA. When GitHub refuses because the pull request cannot be
// merged or its head moved, the error wraps ErrMergeRefused.
func (r *Repo) Merge(ctx context.Context, number int, sha, method, title string) (string, error) {
	if err := checkSHA(sha); err != nil {
		return "", fmt.Errorf("merge %s#%d: %w", r, number, err)
	}
	res, _, err := r.c.gh.PullRequests.Merge(ctx, r.owner, r.name, number, "", &gh.PullRequestOptions{SHA: sha, MergeMethod: method, CommitTitle: title})
	var refused *gh.ErrorResponse
	if errors.As(err, &refused) && refused.Response != nil &&
		(refused.Response.StatusCode == http.StatusMethodNotAllowed || refused.Response.StatusCode == http.StatusConflict) {
		return "", fmt.Errorf("merge %s#%d at %s: %s: %w", r, number, sha, refused.Message, ErrMergeRefused)
	}
	if err != nil {
		return "", fmt.Errorf("merge %s#%d at %s: %w", r, number, sha, err)
	}
	if !res.GetMerged() || !isSHA(res.GetSHA()) {
		return "", fmt.Errorf("merge %s#%d at %s: GitHub did not merge: %s", r, number, sha, res.GetMessage())
	}
	return res.GetSHA(), nil
}

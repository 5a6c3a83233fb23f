package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	gh "github.com/google/go-github/v62/github"
)

// ErrNotInstalled is returned when the App is not installed on a
// repository, or the repository does not exist: GitHub tells neither apart.
var ErrNotInstalled = errors.New("github: the app is not installed on the repository")

// RepositoryInstallation returns the id of the App's installation on a
// repository ("owner/name"), asked as the App itself.
func (a *App) RepositoryInstallation(ctx context.Context, fullName string) (int64, error) {
	owner, name, err := splitName(fullName)
	if err != nil {
		return 0, err
	}
	inst, _, err := a.client.Apps.FindRepositoryInstallation(ctx, owner, name)
	if StatusCode(err) == http.StatusNotFound {
		return 0, fmt.Errorf("installation of %s: %w", fullName, ErrNotInstalled)
	}
	if err != nil {
		return 0, fmt.Errorf("installation of %s: %w", fullName, err)
	}
	return inst.GetID(), nil
}

// Parents returns the parents of a commit, in order. A commit never changes,
// so the answer is kept with the commit graph History reads.
func (r *Repo) Parents(ctx context.Context, sha string) ([]string, error) {
	if err := checkSHA(sha); err != nil {
		return nil, err
	}
	key := r.key("commit", sha)
	if n, ok := r.c.app.commits.get(key); ok {
		return n.parents, nil
	}
	list, _, err := r.c.gh.Repositories.ListCommits(immutable(ctx), r.owner, r.name,
		&gh.CommitsListOptions{SHA: sha, ListOptions: gh.ListOptions{PerPage: 1}})
	if err != nil {
		return nil, fmt.Errorf("commit %s of %s: %w", sha, r, err)
	}
	if len(list) == 0 || list[0].GetSHA() != sha {
		return nil, fmt.Errorf("commit %s of %s: GitHub did not list it", sha, r)
	}
	g := &graph{r: r, nodes: map[string]commitNode{}}
	return g.add(list[0]).parents, nil
}

package github

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v62/github"
)

// Permission is a user's permission on a repository as GitHub reports it:
// "admin", "write", "read" or "none". GitHub folds the maintain role into
// write and triage into read; Role keeps the role itself.
type Permission struct {
	Permission string
	Role       string
}

// CanWrite tells whether the permission lets its holder push: write,
// maintain or admin.
func (p Permission) CanWrite() bool {
	return p.Permission == "admin" || p.Permission == "write"
}

// Permission returns user's permission on the repository.
func (r *Repo) Permission(ctx context.Context, user string) (Permission, error) {
	if user == "" {
		return Permission{}, fmt.Errorf("permission on %s: no user named", r)
	}
	u := fmt.Sprintf("repos/%s/%s/collaborators/%s/permission", r.owner, r.name, url.PathEscape(user))
	req, err := r.c.gh.NewRequest("GET", u, nil)
	if err != nil {
		return Permission{}, err
	}
	// go-github's RepositoryPermissionLevel leaves role_name out.
	var body struct {
		Permission string `json:"permission"`
		RoleName   string `json:"role_name"`
	}
	if _, err := r.c.gh.Do(ctx, req, &body); err != nil {
		return Permission{}, fmt.Errorf("permission of %s on %s: %w", user, r, err)
	}
	return Permission{Permission: body.Permission, Role: body.RoleName}, nil
}

// AcceptedPermissions returns the sets of permissions GitHub names, in its
// X-Accepted-GitHub-Permissions header, as those that would have let a
// refused request through, such as [["contents=write"]]: any one set will
// do, and a set needs all its permissions. It is nil when err holds no such
// answer.
func AcceptedPermissions(err error) [][]string {
	var e *gh.ErrorResponse
	if !errors.As(err, &e) || e.Response == nil {
		return nil
	}
	var sets [][]string
	for set := range strings.SplitSeq(e.Response.Header.Get("X-Accepted-GitHub-Permissions"), ";") {
		var perms []string
		for p := range strings.SplitSeq(set, ",") {
			if p = strings.TrimSpace(p); p != "" {
				perms = append(perms, p)
			}
		}
		if len(perms) > 0 {
			sets = append(sets, perms)
		}
	}
	return sets
}

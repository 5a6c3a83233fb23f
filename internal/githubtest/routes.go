package githubtest

import (
	"net/url"
	"slices"
	"strings"
)

// authKind is the credential a route takes.
type authKind int

const (
	installationAuth authKind = iota // an installation token
	appAuth                          // an App JWT
	userAuth                         // a user's token of an App
	tokenAuth                        // an installation token or a user's token
	noAuth                           // none: the code in the path is the credential
)

// route is an operation of GitHub's description that the emulator implements.
type route struct {
	method, template string
	auth             authKind
	// query lists the query parameters that the handler honours: a client
	// relying on another one would be tested against behaviour the emulator
	// does not have, so using one fails the test.
	query []string
	// permission is what a token needs, as GitHub's
	// X-Accepted-GitHub-Permissions header writes it: sets separated by
	// "; ", any one of which will do, of permissions separated by ",".
	permission string
	handle     func(*Server, *request) *response
}

func (rt *route) permissionSets() [][]string {
	var sets [][]string
	for set := range strings.SplitSeq(rt.permission, ";") {
		if set = strings.TrimSpace(set); set != "" {
			sets = append(sets, strings.Split(set, ","))
		}
	}
	return sets
}

var pageQuery = []string{"per_page", "page"}

var routes = []*route{
	{method: "POST", template: "/app-manifests/{code}/conversions", auth: noAuth, handle: (*Server).convertManifest},
	{method: "GET", template: "/app/installations", auth: appAuth, query: pageQuery, handle: (*Server).listInstallations},
	{method: "POST", template: "/app/installations/{installation_id}/access_tokens", auth: appAuth, handle: (*Server).createToken},
	{method: "GET", template: "/installation/repositories", query: pageQuery, handle: (*Server).listInstallationRepos},
	{method: "GET", template: "/repos/{owner}/{repo}", permission: "metadata=read", handle: (*Server).getRepo},
	{method: "GET", template: "/repos/{owner}/{repo}/installation", auth: appAuth, handle: (*Server).getRepoInstallation},
	{method: "GET", template: "/repos/{owner}/{repo}/pulls", query: append([]string{"state", "head", "base", "direction"}, pageQuery...), permission: "pull_requests=read", handle: (*Server).listPulls},
	{method: "POST", template: "/repos/{owner}/{repo}/pulls", permission: "pull_requests=write", handle: (*Server).createPull},
	{method: "GET", template: "/repos/{owner}/{repo}/pulls/{pull_number}", permission: "pull_requests=read", handle: (*Server).getPull},
	{method: "PATCH", template: "/repos/{owner}/{repo}/pulls/{pull_number}", permission: "pull_requests=write", handle: (*Server).updatePull},
	{method: "GET", template: "/repos/{owner}/{repo}/pulls/{pull_number}/files", query: pageQuery, permission: "pull_requests=read", handle: (*Server).listPullFiles},
	{method: "GET", template: "/repos/{owner}/{repo}/pulls/{pull_number}/commits", query: pageQuery, permission: "pull_requests=read", handle: (*Server).listPullCommits},
	{method: "GET", template: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", query: pageQuery, permission: "pull_requests=read", handle: (*Server).listReviews},
	{method: "PUT", template: "/repos/{owner}/{repo}/pulls/{pull_number}/merge", permission: "contents=write", handle: (*Server).mergePull},
	{method: "GET", template: "/repos/{owner}/{repo}/compare/{basehead}", query: pageQuery, permission: "contents=read", handle: (*Server).compare},
	{method: "GET", template: "/repos/{owner}/{repo}/activity", query: []string{"ref", "per_page", "after"}, permission: "contents=read", handle: (*Server).listActivities},
	{method: "GET", template: "/repos/{owner}/{repo}/commits", query: append([]string{"sha", "path"}, pageQuery...), permission: "contents=read", handle: (*Server).listCommits},
	{method: "GET", template: "/repos/{owner}/{repo}/contents/{path}", query: []string{"ref"}, permission: "contents=read", handle: (*Server).getContents},
	{method: "PUT", template: "/repos/{owner}/{repo}/contents/{path}", permission: "contents=write", handle: (*Server).putContents},
	{method: "GET", template: "/repos/{owner}/{repo}/git/ref/{ref}", permission: "contents=read", handle: (*Server).getRef},
	{method: "POST", template: "/repos/{owner}/{repo}/git/refs", permission: "contents=write", handle: (*Server).createRef},
	{method: "PATCH", template: "/repos/{owner}/{repo}/git/refs/{ref}", permission: "contents=write", handle: (*Server).updateRef},
	{method: "GET", template: "/repos/{owner}/{repo}/git/trees/{tree_sha}", query: []string{"recursive"}, permission: "contents=read", handle: (*Server).getTree},
	{method: "GET", template: "/repos/{owner}/{repo}/git/blobs/{file_sha}", permission: "contents=read", handle: (*Server).getBlob},
	{method: "POST", template: "/repos/{owner}/{repo}/git/blobs", permission: "contents=write", handle: (*Server).createBlob},
	{method: "POST", template: "/repos/{owner}/{repo}/git/trees", permission: "contents=write", handle: (*Server).createTree},
	{method: "POST", template: "/repos/{owner}/{repo}/git/commits", permission: "contents=write", handle: (*Server).createCommit},
	{method: "POST", template: "/repos/{owner}/{repo}/check-runs", permission: "checks=write", handle: (*Server).createCheckRun},
	{method: "PATCH", template: "/repos/{owner}/{repo}/check-runs/{check_run_id}", permission: "checks=write", handle: (*Server).updateCheckRun},
	{method: "GET", template: "/repos/{owner}/{repo}/commits/{ref}/check-runs", query: append([]string{"check_name", "status", "filter", "app_id"}, pageQuery...), permission: "checks=read", handle: (*Server).listCheckRuns},
	{method: "GET", template: "/repos/{owner}/{repo}/issues/{issue_number}/comments", query: append([]string{"since"}, pageQuery...), permission: "issues=read; pull_requests=read", handle: (*Server).listComments},
	{method: "POST", template: "/repos/{owner}/{repo}/issues/{issue_number}/comments", permission: "issues=write; pull_requests=write", handle: (*Server).createComment},
	{method: "PATCH", template: "/repos/{owner}/{repo}/issues/comments/{comment_id}", permission: "issues=write; pull_requests=write", handle: (*Server).updateComment},
	{method: "GET", template: "/orgs/{org}/teams/{team_slug}/memberships/{username}", auth: tokenAuth, permission: "members=read", handle: (*Server).getTeamMembership},
	{method: "GET", template: "/user", auth: userAuth, handle: (*Server).getAuthenticatedUser},
	{method: "GET", template: "/repos/{owner}/{repo}/collaborators/{username}/permission", permission: "metadata=read", handle: (*Server).getCollaboratorPermission},
	{method: "POST", template: "/repos/{owner}/{repo}/deployments", permission: "deployments=write", handle: (*Server).createDeployment},
	{method: "GET", template: "/repos/{owner}/{repo}/deployments", query: append([]string{"sha", "ref", "task", "environment"}, pageQuery...), permission: "deployments=read", handle: (*Server).listDeployments},
	{method: "GET", template: "/repos/{owner}/{repo}/deployments/{deployment_id}", permission: "deployments=read", handle: (*Server).getDeployment},
	{method: "POST", template: "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", permission: "deployments=write", handle: (*Server).createDeploymentStatus},
	{method: "GET", template: "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", query: pageQuery, permission: "deployments=read", handle: (*Server).listDeploymentStatuses},
}

// slashParams are the path parameters that may span several segments: file
// paths, and refs or base...head pairs whose branch names hold slashes.
var slashParams = []string{"path", "ref", "basehead"}

// matchRoute finds the route of a request and its unescaped path parameters.
func matchRoute(method, escapedPath string) (*route, map[string]string) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	for _, rt := range routes {
		if rt.method != method {
			continue
		}
		if params, ok := rt.match(segs); ok {
			return rt, params
		}
	}
	return nil, nil
}

func (rt *route) match(segs []string) (map[string]string, bool) {
	tmpl := strings.Split(strings.TrimPrefix(rt.template, "/"), "/")
	extra := len(segs) - len(tmpl)
	if extra < 0 {
		return nil, false
	}
	params := map[string]string{}
	for _, ts := range tmpl {
		name, isParam := strings.CutPrefix(ts, "{")
		if !isParam {
			if len(segs) == 0 || segs[0] != ts {
				return nil, false
			}
			segs = segs[1:]
			continue
		}
		name = strings.TrimSuffix(name, "}")
		n := 1
		if slices.Contains(slashParams, name) {
			n += extra
			extra = 0
		}
		value, err := url.PathUnescape(strings.Join(segs[:n], "/"))
		if err != nil || value == "" {
			return nil, false
		}
		params[name] = value
		segs = segs[n:]
	}
	return params, len(segs) == 0
}

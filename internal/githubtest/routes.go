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
)

// route is an operation of GitHub's description that the emulator implements.
type route struct {
	method, template string
	auth             authKind
	// query lists the query parameters that the handler honours: a client
	// relying on another one would be tested against behaviour the emulator
	// does not have, so using one fails the test.
	query  []string
	handle func(*Server, *request) *response
}

var pageQuery = []string{"per_page", "page"}

var routes = []*route{
	{method: "GET", template: "/app/installations", auth: appAuth, query: pageQuery, handle: (*Server).listInstallations},
	{method: "POST", template: "/app/installations/{installation_id}/access_tokens", auth: appAuth, handle: (*Server).createToken},
	{method: "GET", template: "/installation/repositories", query: pageQuery, handle: (*Server).listInstallationRepos},
	{method: "GET", template: "/repos/{owner}/{repo}", handle: (*Server).getRepo},
	{method: "GET", template: "/repos/{owner}/{repo}/installation", auth: appAuth, handle: (*Server).getRepoInstallation},
	{method: "GET", template: "/repos/{owner}/{repo}/pulls", query: append([]string{"state", "head", "base", "direction"}, pageQuery...), handle: (*Server).listPulls},
	{method: "POST", template: "/repos/{owner}/{repo}/pulls", handle: (*Server).createPull},
	{method: "GET", template: "/repos/{owner}/{repo}/pulls/{pull_number}", handle: (*Server).getPull},
	{method: "PATCH", template: "/repos/{owner}/{repo}/pulls/{pull_number}", handle: (*Server).updatePull},
	{method: "GET", template: "/repos/{owner}/{repo}/pulls/{pull_number}/files", query: pageQuery, handle: (*Server).listPullFiles},
	{method: "GET", template: "/repos/{owner}/{repo}/pulls/{pull_number}/commits", query: pageQuery, handle: (*Server).listPullCommits},
	{method: "GET", template: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", query: pageQuery, handle: (*Server).listReviews},
	{method: "PUT", template: "/repos/{owner}/{repo}/pulls/{pull_number}/merge", handle: (*Server).mergePull},
	{method: "GET", template: "/repos/{owner}/{repo}/compare/{basehead}", query: pageQuery, handle: (*Server).compare},
	{method: "GET", template: "/repos/{owner}/{repo}/activity", query: []string{"ref", "per_page", "after"}, handle: (*Server).listActivities},
	{method: "GET", template: "/repos/{owner}/{repo}/commits", query: append([]string{"sha", "path"}, pageQuery...), handle: (*Server).listCommits},
	{method: "GET", template: "/repos/{owner}/{repo}/contents/{path}", query: []string{"ref"}, handle: (*Server).getContents},
	{method: "PUT", template: "/repos/{owner}/{repo}/contents/{path}", handle: (*Server).putContents},
	{method: "GET", template: "/repos/{owner}/{repo}/git/ref/{ref}", handle: (*Server).getRef},
	{method: "POST", template: "/repos/{owner}/{repo}/git/refs", handle: (*Server).createRef},
	{method: "PATCH", template: "/repos/{owner}/{repo}/git/refs/{ref}", handle: (*Server).updateRef},
	{method: "GET", template: "/repos/{owner}/{repo}/git/trees/{tree_sha}", query: []string{"recursive"}, handle: (*Server).getTree},
	{method: "GET", template: "/repos/{owner}/{repo}/git/blobs/{file_sha}", handle: (*Server).getBlob},
	{method: "POST", template: "/repos/{owner}/{repo}/check-runs", handle: (*Server).createCheckRun},
	{method: "PATCH", template: "/repos/{owner}/{repo}/check-runs/{check_run_id}", handle: (*Server).updateCheckRun},
	{method: "GET", template: "/repos/{owner}/{repo}/commits/{ref}/check-runs", query: append([]string{"check_name", "status", "filter", "app_id"}, pageQuery...), handle: (*Server).listCheckRuns},
	{method: "GET", template: "/repos/{owner}/{repo}/issues/{issue_number}/comments", query: append([]string{"since"}, pageQuery...), handle: (*Server).listComments},
	{method: "POST", template: "/repos/{owner}/{repo}/issues/{issue_number}/comments", handle: (*Server).createComment},
	{method: "PATCH", template: "/repos/{owner}/{repo}/issues/comments/{comment_id}", handle: (*Server).updateComment},
	{method: "GET", template: "/orgs/{org}/teams/{team_slug}/memberships/{username}", handle: (*Server).getTeamMembership},
	{method: "GET", template: "/repos/{owner}/{repo}/collaborators/{username}/permission", handle: (*Server).getCollaboratorPermission},
	{method: "POST", template: "/repos/{owner}/{repo}/deployments", handle: (*Server).createDeployment},
	{method: "GET", template: "/repos/{owner}/{repo}/deployments", query: append([]string{"sha", "ref", "task", "environment"}, pageQuery...), handle: (*Server).listDeployments},
	{method: "GET", template: "/repos/{owner}/{repo}/deployments/{deployment_id}", handle: (*Server).getDeployment},
	{method: "POST", template: "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", handle: (*Server).createDeploymentStatus},
	{method: "GET", template: "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", query: pageQuery, handle: (*Server).listDeploymentStatuses},
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

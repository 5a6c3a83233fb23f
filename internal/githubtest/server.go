// Package githubtest is a stateful in-process GitHub for tests: installations,
// installation tokens, repositories backed by real git repositories, pull
// requests, reviews, teams, check runs, comments, merges and deployments,
// served over HTTP to the code under test's ordinary go-github client.
//
// Every request and every response is checked against GitHub's official
// OpenAPI description (npm @octokit/openapi) and a violation fails the test, so
// the emulator answers with complete GitHub objects and the client must send
// what GitHub accepts. A call to an endpoint that the emulator does not
// implement fails the test too. Webhook deliveries start from GitHub's real
// example payloads (npm @octokit/webhooks-examples), are rewritten to the
// scenario's repository, numbers, SHAs and users, checked against the webhook
// schemas of the description and signed as GitHub signs them.
//
// The descriptions are fixtures that `make github-fixtures` fetches into the
// module's .cache/github (or the folder that MODELGATE_GITHUB_FIXTURES names);
// without them New fails the test.
//
// # A scenario
//
//	gh := githubtest.New(t)
//	gh.AddApp(appID, "modelgate", &key.PublicKey)
//	inst := gh.AddInstallation(appID, "acme")
//	gh.AddRepo(inst, "acme/models", work.Dir) // a gittest work tree
//	n := gh.OpenPullRequest("acme/models", githubtest.PullRequestOptions{Head: "promote", Author: "alice"})
//	resp, err := gh.PullRequestEvent("acme/models", n, "opened").Deliver(appURL + "/webhooks")
//	gh.SubmitReview("acme/models", n, "bob", "APPROVED")
//	gh.Push("acme/models", "promote", "alice") // after committing to the work tree
//
// and then the server's state (PullRequest, CheckRuns, Comments, Deployments,
// Branch) and the API calls it received (Calls) tell what the client did.
// A client that uses a query parameter the emulator does not honour fails the
// test rather than getting an answer that ignores it.
//
// # Connecting a client
//
// The emulator answers both at its root and under /api/v3/, so either form of
// go-github configuration works:
//
//	client, err := github.NewClient(httpClient).WithEnterpriseURLs(srv.URL(), srv.URL())
//
// (go-github appends /api/v3/, as for GitHub Enterprise Server), or
//
//	client.BaseURL, _ = url.Parse(srv.URL() + "/")
//
// The URLs inside the objects it returns are under URL()+"/api/v3".
//
// # Authentication and limits
//
// /app/... endpoints take an App JWT (RS256, iss = the app ID, exp at most ten
// minutes ahead) signed with the key given to AddApp; the others take an
// installation token from POST /app/installations/{id}/access_tokens, valid for
// an hour, as "Authorization: token <t>" or "Bearer <t>". Every response carries
// GitHub's X-RateLimit-* headers and each installation's primary limit counts
// down; FailNext injects errors. GET responses carry an ETag, and a request
// with a matching If-None-Match gets 304, which does not count against the
// limit, as on GitHub.
//
// A user signs in through the App's web flow (OAuthClient, SignIn, and the
// /login/oauth/ endpoints of "Authorizing OAuth apps"), or gets a token from
// UserToken; a user's token serves GET /user and the team memberships of the
// organizations the App is installed on.
package githubtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is the emulated GitHub. Its methods may be called from any goroutine.
type Server struct {
	t    testing.TB
	srv  *httptest.Server
	spec *spec
	api  string // base of API URLs in responses
	web  string // base of web (html_url) URLs in responses

	mu            sync.Mutex
	offset        time.Duration // added to the wall clock by Advance
	lastID        int64
	hookID        int64
	secret        string
	users         map[string]*user
	apps          map[int64]*app
	installations map[int64]*installation
	tokens        map[string]*token
	repos         map[string]*repo
	teams         map[string]*team  // by lower-case "org/team-slug"
	grants        map[string]*grant // authorization codes
	manifestCodes map[string]*manifestApp
	signedIn      string // the user that approves authorization requests
	limits        map[string]*bucket
	faults        []*fault
	calls         []Call
}

// New starts an emulated GitHub that lives until the end of the test.
func New(t testing.TB) *Server {
	t.Helper()
	sp, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		t:             t,
		spec:          sp,
		lastID:        1000,
		secret:        "githubtest-webhook-secret",
		users:         map[string]*user{},
		apps:          map[int64]*app{},
		installations: map[int64]*installation{},
		tokens:        map[string]*token{},
		repos:         map[string]*repo{},
		teams:         map[string]*team{},
		grants:        map[string]*grant{},
		manifestCodes: map[string]*manifestApp{},
		limits:        map[string]*bucket{},
	}
	s.hookID = s.newID()
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	s.api = s.srv.URL + apiPrefix
	s.web = s.srv.URL
	return s
}

// apiPrefix is where GitHub Enterprise Server serves the API, and where
// go-github's WithEnterpriseURLs sends requests.
const apiPrefix = "/api/v3"

// URL returns the root URL of the server.
func (s *Server) URL() string { return s.srv.URL }

// Now returns the emulator's clock: the wall clock moved by Advance.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func (s *Server) now() time.Time { return time.Now().Add(s.offset).UTC().Truncate(time.Second) }

// Advance moves the emulator's clock, to expire tokens and reset rate limits.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

func (s *Server) newID() int64 {
	s.lastID++
	return s.lastID
}

// Call is an API call that the server received.
type Call struct {
	Method string
	// Route is the operation's path template in GitHub's description, such as
	// /repos/{owner}/{repo}/pulls/{pull_number}, or the raw path of a request
	// to an endpoint that the emulator does not implement.
	Route string
	// Path is the request's path, which names what was read: a blob by its
	// SHA, a pull request by its number.
	Path   string
	Status int
	// Received is when the request arrived, by the wall clock (not the
	// emulator's, which Advance moves and which counts whole seconds): the
	// calls of clients in other processes order by it.
	Received time.Time
	// Client tells apart the credentials the calls were made with, without
	// holding them: the first 12 hex digits of the SHA-256 of the
	// Authorization header's credential, empty without one. Each process of
	// an App mints installation tokens of its own, so it tells the processes
	// apart too.
	Client string
}

func (c Call) String() string { return c.Method + " " + c.Route }

// Calls returns the API calls made since the start or the last ResetCalls.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// ResetCalls forgets the calls made so far.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

type fault struct {
	method, pattern string
	status          int
	header          map[string]string
	left            int
}

// FailNext makes the next n authenticated calls of method to pathPattern fail
// with status and GitHub's error body, before rate limiting, with
// headers added to (or replacing) the usual ones: 403 with
// X-RateLimit-Remaining: 0 is GitHub's primary rate limit, 429 or 403 with
// Retry-After its secondary one. pathPattern is a route template as in Call,
// or a path.Match pattern for the request's path (such as
// /repos/acme/models/pulls/*).
func (s *Server) FailNext(method, pathPattern string, status int, headers map[string]string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, pattern: pathPattern, status: status, header: maps.Clone(headers), left: n})
}

func (s *Server) takeFault(method, template, urlPath string) *fault {
	for _, f := range s.faults {
		if f.left == 0 || f.method != method {
			continue
		}
		if ok, _ := path.Match(f.pattern, urlPath); ok || f.pattern == template {
			f.left--
			return f
		}
	}
	return nil
}

// request is a call being served.
type request struct {
	*http.Request
	route  *route
	params map[string]string
	body   []byte
	caller *caller
	repo   *repo // the repository of /repos/{owner}/{repo}/... routes
}

func (r *request) decode(v any) error {
	if len(r.body) == 0 {
		return nil
	}
	return json.Unmarshal(r.body, v)
}

func (r *request) intParam(name string) int64 {
	// The request was validated: integer parameters are integers.
	n, _ := strconv.ParseInt(r.params[name], 10, 64)
	return n
}

// response is what a handler answers; its body is encoded as JSON.
type response struct {
	status int
	body   any
	header http.Header
}

func reply(status int, body any) *response {
	return &response{status: status, body: body, header: http.Header{}}
}

// docsURL is the documentation_url of the emulator's errors.
const docsURL = "https://docs.github.com/rest"

func errorReply(status int, message string) *response {
	return reply(status, object{"message": message, "documentation_url": docsURL, "status": strconv.Itoa(status)})
}

func notFound() *response { return errorReply(http.StatusNotFound, "Not Found") }

func validationFailed(message string) *response {
	return reply(http.StatusUnprocessableEntity, object{"message": message, "documentation_url": docsURL, "status": "422"})
}

// ServeHTTP serves one API call, or a step of the OAuth web flow: it routes it, validates the request, applies
// injected faults, authentication and rate limits, runs the handler and
// validates the response before sending it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/login/oauth/") {
		s.serveOAuth(w, r)
		return
	}
	if m := newAppPath.FindStringSubmatch(r.URL.Path); m != nil {
		s.serveNewApp(w, r, m[1])
		return
	}
	received := time.Now()
	rt, params := matchRoute(r.Method, strings.TrimPrefix(r.URL.EscapedPath(), apiPrefix))
	if rt == nil {
		s.t.Errorf("githubtest: %s %s is not an endpoint that the emulator implements", r.Method, r.URL.Path)
		s.send(w, r, nil, notFound(), received)
		return
	}
	s.send(w, r, rt, s.answer(r, rt, params), received)
}

// answer validates a request to a route and serves it.
func (s *Server) answer(r *http.Request, rt *route, params map[string]string) *response {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return errorReply(http.StatusBadRequest, "Problems parsing JSON")
	}
	for name := range r.URL.Query() {
		if !slices.Contains(rt.query, name) {
			s.t.Errorf("githubtest: %s %s: the emulator does not honour the query parameter %q", r.Method, rt.template, name)
		}
	}
	if err := s.spec.validateRequest(r, rt.template, params, body); err != nil {
		s.t.Errorf("githubtest: %s %s: the request violates GitHub's OpenAPI description: %v", r.Method, r.URL, err)
		return validationFailed("Invalid request: " + err.Error())
	}
	return s.serve(&request{Request: r, route: rt, params: params, body: body})
}

// send validates a response to a route that the emulator implements (rt is
// nil for the others) against the description, records the call and writes
// the response.
func (s *Server) send(w http.ResponseWriter, r *http.Request, rt *route, resp *response, received time.Time) {
	resp.header.Set("Content-Type", "application/json; charset=utf-8")
	s.mu.Lock()
	// Answers given before authentication (a request that breaks the
	// description) carry the unauthenticated limit, as on GitHub.
	if resp.header.Get("X-RateLimit-Limit") == "" {
		s.rateHeaders(resp.header, s.anonymousBucket())
	}
	s.mu.Unlock()
	var data []byte
	if resp.status != http.StatusNotModified {
		var err error
		if data, err = json.Marshal(resp.body); err != nil {
			s.t.Errorf("githubtest: %s %s: encode response: %v", r.Method, r.URL.Path, err)
		}
	}
	call := Call{Method: r.Method, Route: r.URL.Path, Path: r.URL.Path, Status: resp.status, Received: received, Client: client(r)}
	if rt != nil {
		call.Route = rt.template
		if err := s.spec.validateResponse(r, rt.template, resp.status, resp.header, data); err != nil {
			s.t.Errorf("githubtest: %s %s: the emulator's %d response violates GitHub's OpenAPI description: %v", r.Method, r.URL.Path, resp.status, err)
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	maps.Copy(w.Header(), resp.header)
	w.WriteHeader(resp.status)
	if _, err := w.Write(data); err != nil {
		s.t.Logf("githubtest: %s %s: write response: %v", r.Method, r.URL.Path, err)
	}
}

// client is Call.Client of r.
func client(r *http.Request) string {
	_, credential, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if credential == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(credential))
	return hex.EncodeToString(sum[:6])
}

// serve runs a validated request through authentication, injected faults,
// rate limiting and its handler, all under the server's lock.
func (s *Server) serve(req *request) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, resp := s.authenticate(req)
	if resp != nil {
		return resp
	}
	req.caller = c
	b := s.bucketFor(c)
	if f := s.takeFault(req.Method, req.route.template, strings.TrimPrefix(req.URL.Path, apiPrefix)); f != nil {
		return s.faultReply(f, b)
	}
	if !b.take(s.now()) {
		resp := errorReply(http.StatusForbidden, b.exceeded)
		s.rateHeaders(resp.header, b)
		return resp
	}
	resp = s.handle(req)
	if resp.status == http.StatusOK && req.Method == http.MethodGet {
		resp = s.conditional(req, resp, b)
	}
	s.rateHeaders(resp.header, b)
	return resp
}

// handle resolves the repository of /repos/{owner}/{repo}/... routes, which
// must be one the caller's installation can see, or for an App's route one it
// is installed on (GitHub answers 404 for the others), and runs the route's
// handler.
func (s *Server) handle(req *request) *response {
	if owner, ok := req.params["owner"]; ok {
		r := s.repos[strings.ToLower(owner+"/"+req.params["repo"])]
		// An App sees the repositories it is installed on; an installation,
		// those its token may access.
		if r == nil || (req.route.auth == appAuth && (r.installation == nil || r.installation.app != req.caller.app)) ||
			(req.route.auth != appAuth && !req.caller.canSee(r)) {
			return notFound()
		}
		req.repo = r
	}
	if req.caller.token == nil || req.route.permission == "" {
		return req.route.handle(s, req)
	}
	// GitHub names the permissions a route takes to the tokens of Apps and
	// fine-grained tokens, and refuses one that lacks them.
	resp := errorReply(http.StatusForbidden, "Resource not accessible by integration")
	if req.caller.token.allows(req.route.permissionSets()) {
		resp = req.route.handle(s, req)
	}
	resp.header.Set("X-Accepted-GitHub-Permissions", req.route.permission)
	return resp
}

// conditional answers 304 Not Modified, which GitHub does not count against
// the rate limit, when the client already holds the response's ETag.
func (s *Server) conditional(req *request, resp *response, b *bucket) *response {
	data, err := json.Marshal(resp.body)
	if err != nil {
		return resp
	}
	sum := sha256.Sum256(data)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	resp.header.Set("ETag", etag)
	for tag := range strings.SplitSeq(req.Header.Get("If-None-Match"), ",") {
		if t := strings.TrimPrefix(strings.TrimSpace(tag), "W/"); t == etag {
			b.refund()
			notModified := reply(http.StatusNotModified, nil)
			notModified.header.Set("ETag", etag)
			return notModified
		}
	}
	return resp
}

// faultReply is an injected error with GitHub's body for its status, and the
// caller's rate limit headers unless the fault sets its own.
func (s *Server) faultReply(f *fault, b *bucket) *response {
	message := http.StatusText(f.status)
	docs := docsURL
	switch {
	case f.status == http.StatusForbidden && f.header["X-RateLimit-Remaining"] == "0":
		message = "API rate limit exceeded. See the documentation for details."
		docs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
	case f.status == http.StatusTooManyRequests || f.status == http.StatusForbidden && f.header["Retry-After"] != "":
		// go-github recognises a secondary rate limit by this documentation URL.
		message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
		docs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	}
	resp := reply(f.status, object{"message": message, "documentation_url": docs, "status": strconv.Itoa(f.status)})
	s.rateHeaders(resp.header, b)
	for k, v := range f.header {
		resp.header.Set(k, v)
	}
	return resp
}

// page slices a list by the per_page and page query parameters as GitHub
// does (30 a page by default, at most 100) and sets the Link header that
// go-github follows.
func page[T any](req *request, resp *response, items []T) []T {
	q := req.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	n, err := strconv.Atoi(q.Get("page"))
	if err != nil || n <= 0 {
		n = 1
	}
	last := max(1, (len(items)+perPage-1)/perPage)
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		u := *req.URL
		u.RawQuery = q.Encode()
		return fmt.Sprintf(`<http://%s%s>; rel="%s"`, req.Host, u.RequestURI(), rel)
	}
	var links []string
	if n < last {
		links = append(links, link(n+1, "next"), link(last, "last"))
	}
	if n > 1 {
		links = append(links, link(1, "first"), link(min(n-1, last), "prev"))
	}
	if len(links) > 0 {
		resp.header.Set("Link", strings.Join(links, ", "))
	}
	lo := min((n-1)*perPage, len(items))
	return items[lo:min(lo+perPage, len(items))]
}

package githubtest

import (
	"cmp"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/jsonlist"
)

// A GitHub App: its JWTs are verified with its public key.
type app struct {
	id      int64
	slug    string
	key     *rsa.PublicKey
	created time.Time
	oauth   *oauthApp // nil until OAuthClient enables user authorization
}

func (a *app) bot() string { return a.slug + "[bot]" }

type installation struct {
	id      int64
	app     *app
	account string // the organization the App is installed on
	created time.Time
}

// permissions are those of every installation: what an App that reads code,
// reports checks, comments, merges and deploys asks for.
var permissions = map[string]string{
	"checks": "write", "contents": "write", "deployments": "write", "issues": "write",
	"members": "read", "metadata": "read", "pull_requests": "write",
}

// Permissions returns what the emulator grants every installation, and so
// what every call of a client under test is checked against: a call that
// needs more is refused 403, as GitHub refuses it.
func Permissions() map[string]string { return maps.Clone(permissions) }

// RoutePermissions returns, for each permission that an installation
// token's call of an implemented endpoint may need, the highest access any
// of them needs.
func RoutePermissions() map[string]string {
	out := map[string]string{}
	for _, rt := range routes {
		for _, set := range rt.permissionSets() {
			for _, p := range set {
				name, level, _ := strings.Cut(p, "=")
				if accessLevels[level] > accessLevels[out[name]] {
					out[name] = level
				}
			}
		}
	}
	return out
}

// appEvents are the webhook events every App subscribes to; installation
// events come to every App without a subscription.
var appEvents = []string{"check_run", "check_suite", "deployment_status", "issue_comment", "pull_request", "pull_request_review", "push"}

// token is an installation's token, or a user's token of an App (user set,
// installation nil).
type token struct {
	value        string
	installation *installation
	app          *app   // a user token's App
	user         string // a user token's login
	expires      time.Time
	repos        []string          // the full names the token is limited to; nil for all
	permissions  map[string]string // what the token may do; nil for the installation's
}

// granted is the access ("read", "write", "admin") the token has to a
// permission, "" for none. Metadata is read by every token, as on GitHub.
func (t *token) granted(permission string) string {
	perms := permissions
	if t.permissions != nil {
		perms = t.permissions
	}
	if permission == "metadata" {
		return cmp.Or(perms[permission], "read")
	}
	return perms[permission]
}

// accessLevels orders the access a permission grants: write includes read.
var accessLevels = map[string]int{"read": 1, "write": 2, "admin": 3}

// allows tells whether the token holds every permission of one of the sets
// a route accepts ("contents=write" or "issues=write,pull_requests=read").
func (t *token) allows(sets [][]string) bool {
	if len(sets) == 0 {
		return true
	}
	for _, set := range sets {
		ok := true
		for _, p := range set {
			name, level, _ := strings.Cut(p, "=")
			if accessLevels[t.granted(name)] < accessLevels[level] {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// caller is who makes a request: an App (JWT), an installation (token), or
// a user (a user token of app).
type caller struct {
	app          *app
	installation *installation
	token        *token
	user         string
}

func (c *caller) canSee(r *repo) bool {
	if c.installation == nil || r.installation != c.installation {
		return false
	}
	return c.token.repos == nil || slices.Contains(c.token.repos, r.fullName())
}

// AddApp registers a GitHub App whose JWTs are signed with the private key of
// key; its bot account is "<slug>[bot]".
func (s *Server) AddApp(id int64, slug string, key *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[id] = &app{id: id, slug: slug, key: key, created: s.now()}
	s.user(slug + "[bot]").kind = "Bot"
}

// AddInstallation installs the App on an organization and returns the
// installation's ID.
func (s *Server) AddInstallation(appID int64, org string) int64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appID]
	if a == nil {
		s.t.Fatalf("githubtest: AddInstallation: no app %d; call AddApp first", appID)
	}
	s.user(org).kind = "Organization"
	inst := &installation{id: s.newID(), app: a, account: org, created: s.now()}
	s.installations[inst.id] = inst
	return inst.id
}

// InstallationToken issues a token of an installation for all its
// repositories, valid for an hour, as GitHub Actions hands a job its
// GITHUB_TOKEN: for clients that authenticate with a token, not as an App.
func (s *Server) InstallationToken(installationID int64) string {
	s.t.Helper()
	return s.ScopedToken(installationID, TokenScope{})
}

// TokenScope narrows a token, as a workflow's permissions narrow its
// GITHUB_TOKEN, actions/create-github-app-token narrows an App's token, or
// a fine-grained personal access token is made for some repositories and
// permissions only.
type TokenScope struct {
	// Repositories are the full names ("owner/name") the token can see;
	// empty for all the installation's.
	Repositories []string
	// Permissions are what the token may do, such as {"contents": "read"};
	// nil for the installation's. Metadata is always readable.
	Permissions map[string]string
}

// ScopedToken issues a token of an installation, valid for an hour, limited
// to scope. A call the token lacks a permission for is answered 403 with
// the X-Accepted-GitHub-Permissions header naming what it needs; a
// repository it cannot see, 404.
func (s *Server) ScopedToken(installationID int64, scope TokenScope) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installations[installationID]
	if inst == nil {
		s.t.Fatalf("githubtest: ScopedToken: no installation %d", installationID)
	}
	tok := &token{value: "ghs_" + rand.Text(), installation: inst, expires: s.now().Add(time.Hour),
		repos: slices.Clone(scope.Repositories), permissions: maps.Clone(scope.Permissions)}
	s.tokens[tok.value] = tok
	return tok.value
}

// authenticate checks the request's credential against what its route takes.
func (s *Server) authenticate(req *request) (*caller, *response) {
	if req.route.auth == noAuth {
		return &caller{}, nil
	}
	scheme, credential, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	scheme = strings.ToLower(scheme)
	if req.route.auth == appAuth {
		if scheme != "bearer" {
			return nil, errorReply(http.StatusUnauthorized, "A JSON web token could not be decoded")
		}
		a, err := s.verifyJWT(credential)
		if err != nil {
			return nil, errorReply(http.StatusUnauthorized, err.Error())
		}
		return &caller{app: a}, nil
	}
	if scheme != "token" && scheme != "bearer" {
		return nil, errorReply(http.StatusUnauthorized, "Requires authentication")
	}
	tok := s.tokens[credential]
	if tok == nil || !s.now().Before(tok.expires) {
		return nil, errorReply(http.StatusUnauthorized, "Bad credentials")
	}
	if tok.installation == nil {
		if req.route.auth != userAuth && req.route.auth != tokenAuth {
			s.t.Errorf("githubtest: %s %s: the emulator does not serve this endpoint to user tokens", req.Method, req.route.template)
			return nil, errorReply(http.StatusForbidden, "Resource not accessible by integration")
		}
		return &caller{app: tok.app, token: tok, user: tok.user}, nil
	}
	if req.route.auth == userAuth {
		return nil, errorReply(http.StatusForbidden, "Resource not accessible by integration")
	}
	return &caller{app: tok.installation.app, installation: tok.installation, token: tok}, nil
}

// verifyJWT checks an App JWT as GitHub does: RS256 signed by the App's key,
// iss the App's ID, issued in the past and expiring within ten minutes. The
// errors are GitHub's messages.
func (s *Server) verifyJWT(jwt string) (*app, error) {
	undecodable := errors.New("A JSON web token could not be decoded")
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, undecodable
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Iat int64           `json:"iat"`
		Exp int64           `json:"exp"`
	}
	if decodeSegment(parts[0], &header) != nil || decodeSegment(parts[1], &claims) != nil || header.Alg != "RS256" {
		return nil, undecodable
	}
	// iss may be a JSON number or a string holding the number.
	id, err := strconv.ParseInt(strings.Trim(string(claims.Iss), `"`), 10, 64)
	if err != nil {
		return nil, errors.New("'Issuer' claim ('iss') must be an Integer")
	}
	a := s.apps[id]
	if a == nil {
		return nil, fmt.Errorf("Integration not found: %d", id)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, undecodable
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(a.key, crypto.SHA256, digest[:], sig) != nil {
		return nil, errors.New("A JSON web token could not be decoded: signature does not match")
	}
	now := s.now().Unix()
	switch {
	case claims.Iat == 0 || claims.Iat > now:
		return nil, errors.New("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
	case claims.Exp <= now:
		return nil, errors.New("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	case claims.Exp > now+int64((10*time.Minute).Seconds()):
		return nil, errors.New("'Expiration time' claim ('exp') is too far in the future")
	}
	return a, nil
}

func decodeSegment(seg string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// GET /app/installations
func (s *Server) listInstallations(req *request) *response {
	var list []object
	for _, inst := range s.sortedInstallations() {
		if inst.app == req.caller.app {
			list = append(list, s.installationObject(inst))
		}
	}
	resp := reply(http.StatusOK, nil)
	resp.body = jsonlist.NonNil(page(req, resp, list))
	return resp
}

// GET /repos/{owner}/{repo}/installation
func (s *Server) getRepoInstallation(req *request) *response {
	return reply(http.StatusOK, s.installationObject(req.repo.installation))
}

func (s *Server) sortedInstallations() []*installation {
	return slices.SortedFunc(maps.Values(s.installations), func(a, b *installation) int { return cmp.Compare(a.id, b.id) })
}

// POST /app/installations/{installation_id}/access_tokens
func (s *Server) createToken(req *request) *response {
	inst := s.installations[req.intParam("installation_id")]
	if inst == nil || inst.app != req.caller.app {
		return notFound()
	}
	var body struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	tok := &token{value: "ghs_" + rand.Text(), installation: inst, expires: s.now().Add(time.Hour)}
	for _, r := range s.sortedRepos() {
		if r.installation == inst && (slices.Contains(body.Repositories, r.name) || slices.Contains(body.RepositoryIDs, r.id)) {
			tok.repos = append(tok.repos, r.fullName())
		}
	}
	if len(tok.repos) != len(body.Repositories)+len(body.RepositoryIDs) {
		return validationFailed("There is at least one repository that does not exist or is not accessible to the parent installation.")
	}
	// The token has the installation's permissions, or the subset asked for.
	granted := permissions
	if body.Permissions != nil {
		granted = body.Permissions
		tok.permissions = maps.Clone(body.Permissions)
	}
	s.tokens[tok.value] = tok
	out := object{
		"token":                tok.value,
		"expires_at":           timestamp(tok.expires),
		"permissions":          granted,
		"repository_selection": "all",
	}
	if tok.repos != nil {
		out["repository_selection"] = "selected"
		var repos []object
		for _, name := range tok.repos {
			repos = append(repos, s.repoObject(s.repos[strings.ToLower(name)], false))
		}
		out["repositories"] = repos
	}
	return reply(http.StatusCreated, out)
}

func (s *Server) installationObject(inst *installation) object {
	account := s.user(inst.account)
	// GET /app/installations declares the account as allOf(simple-user,
	// enterprise), where the installation schema says anyOf: with the
	// enterprise's fields too, the account satisfies both readings.
	accountObject := s.userObject(inst.account)
	accountObject["name"], accountObject["slug"] = inst.account, inst.account
	accountObject["created_at"], accountObject["updated_at"] = timestamp(inst.created), timestamp(inst.created)
	return object{
		"id":                        inst.id,
		"client_id":                 fmt.Sprintf("Iv1.%016x", inst.app.id),
		"account":                   accountObject,
		"repository_selection":      "all",
		"access_tokens_url":         fmt.Sprintf("%s/app/installations/%d/access_tokens", s.api, inst.id),
		"repositories_url":          s.api + "/installation/repositories",
		"html_url":                  fmt.Sprintf("%s/organizations/%s/settings/installations/%d", s.web, inst.account, inst.id),
		"app_id":                    inst.app.id,
		"app_slug":                  inst.app.slug,
		"target_id":                 account.id,
		"target_type":               account.kind,
		"permissions":               permissions,
		"events":                    appEvents,
		"created_at":                timestamp(inst.created),
		"updated_at":                timestamp(inst.created),
		"single_file_name":          nil,
		"has_multiple_single_files": false,
		"single_file_paths":         []string{},
		"suspended_by":              nil,
		"suspended_at":              nil,
	}
}

// appObject is the App as GitHub shows it in check runs and comments.
func (s *Server) appObject(a *app) object {
	return object{
		"id":           a.id,
		"slug":         a.slug,
		"node_id":      nodeID("Integration", a.id),
		"client_id":    fmt.Sprintf("Iv1.%016x", a.id),
		"owner":        s.userObject(s.appOwner(a)),
		"name":         a.slug,
		"description":  nil,
		"external_url": s.web + "/apps/" + a.slug,
		"html_url":     s.web + "/apps/" + a.slug,
		"created_at":   timestamp(a.created),
		"updated_at":   timestamp(a.created),
		"permissions":  permissions,
		"events":       appEvents,
	}
}

// appOwner is the account of the App's first installation, or the App's bot
// when it has none.
func (s *Server) appOwner(a *app) string {
	for _, inst := range s.sortedInstallations() {
		if inst.app == a {
			return inst.account
		}
	}
	return a.bot()
}

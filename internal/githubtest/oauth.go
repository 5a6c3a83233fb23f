package githubtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The web flow of "Authorizing OAuth apps" in GitHub's documentation, as a
// GitHub App's user authorization uses it: GET /login/oauth/authorize sends
// the browser back to the App's callback URL with a code and the App's
// state, and POST /login/oauth/access_token exchanges the code for a user
// access token. These endpoints are on GitHub's web host, not its API, and
// GitHub's OpenAPI description does not cover them: their shapes follow the
// documentation instead, and a request that does not is refused as GitHub
// refuses it.

// oauthApp is the OAuth side of an App: its client credentials and its one
// callback URL.
type oauthApp struct {
	secret   string
	callback string
}

// grant is an authorization code not yet exchanged.
type grant struct {
	app      *app
	login    string
	redirect string // the redirect_uri of the authorization request, "" when it named none
	expires  time.Time
}

// userTokenLifetime is how long GitHub's expiring user access tokens of a
// GitHub App last. The emulator issues no refresh tokens.
const userTokenLifetime = 8 * time.Hour

// codeLifetime is how long GitHub accepts an authorization code.
const codeLifetime = 10 * time.Minute

// clientID is the App's OAuth client ID, as its objects show it.
func (a *app) clientID() string { return fmt.Sprintf("Iv1.%016x", a.id) }

// OAuthClient enables the App's user authorization with callback as its
// callback URL and returns its client ID and a new client secret.
func (s *Server) OAuthClient(appID int64, callback string) (clientID, clientSecret string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appID]
	if a == nil {
		s.t.Fatalf("githubtest: OAuthClient: no app %d; call AddApp first", appID)
	}
	a.oauth = &oauthApp{secret: rand.Text(), callback: callback}
	return a.clientID(), a.oauth.secret
}

// SignIn makes login the user signed in to the emulated GitHub in every
// browser: authorization requests are approved as login without a prompt.
// SignIn("") signs out; authorization requests are then refused.
func (s *Server) SignIn(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if login != "" {
		s.user(login)
	}
	s.signedIn = login
}

// UserToken issues a user access token of the App for login, as the web flow
// would, valid for eight hours.
func (s *Server) UserToken(appID int64, login string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appID]
	if a == nil {
		s.t.Fatalf("githubtest: UserToken: no app %d", appID)
	}
	return s.userToken(a, login)
}

func (s *Server) userToken(a *app, login string) string {
	tok := &token{value: "ghu_" + rand.Text(), app: a, user: s.user(login).login, expires: s.now().Add(userTokenLifetime)}
	s.tokens[tok.value] = tok
	return tok.value
}

// serveOAuth serves the web flow's two endpoints.
func (s *Server) serveOAuth(w http.ResponseWriter, r *http.Request) {
	status := s.oauthEndpoint(w, r)
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Route: r.URL.Path, Status: status})
	s.mu.Unlock()
}

func (s *Server) oauthEndpoint(w http.ResponseWriter, r *http.Request) int {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/login/oauth/authorize":
		return s.authorize(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/login/oauth/access_token":
		return s.accessToken(w, r)
	}
	s.t.Errorf("githubtest: %s %s is not an endpoint that the emulator implements", r.Method, r.URL.Path)
	http.NotFound(w, r)
	return http.StatusNotFound
}

// appByClientID returns the App whose user authorization has that client ID.
func (s *Server) appByClientID(id string) *app {
	for _, a := range s.apps {
		if a.oauth != nil && a.clientID() == id {
			return a
		}
	}
	return nil
}

// GET /login/oauth/authorize
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) int {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appByClientID(q.Get("client_id"))
	if a == nil {
		http.Error(w, "The client_id is not that of an application.", http.StatusNotFound)
		return http.StatusNotFound
	}
	back := url.Values{}
	if state := q.Get("state"); state != "" {
		back.Set("state", state)
	}
	redirect := q.Get("redirect_uri")
	// A GitHub App's redirect_uri must be one of its callback URLs exactly;
	// GitHub sends the browser to the callback it has with the error.
	if redirect != "" && redirect != a.oauth.callback {
		back.Set("error", "redirect_uri_mismatch")
		back.Set("error_description", "The redirect_uri MUST match the registered callback URL for this application.")
		back.Set("error_uri", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch")
		return redirectTo(w, r, a.oauth.callback, back)
	}
	if s.signedIn == "" {
		http.Error(w, "Sign in to GitHub to continue.", http.StatusUnauthorized)
		return http.StatusUnauthorized
	}
	code := rand.Text()
	s.grants[code] = &grant{app: a, login: s.signedIn, redirect: redirect, expires: s.now().Add(codeLifetime)}
	back.Set("code", code)
	return redirectTo(w, r, a.oauth.callback, back)
}

func redirectTo(w http.ResponseWriter, r *http.Request, target string, q url.Values) int {
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	http.Redirect(w, r, target+sep+q.Encode(), http.StatusFound)
	return http.StatusFound
}

// POST /login/oauth/access_token
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) int {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Problems parsing the request", http.StatusBadRequest)
		return http.StatusBadRequest
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		id, secret = user, pass
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appByClientID(id)
	if a == nil || subtle.ConstantTimeCompare([]byte(secret), []byte(a.oauth.secret)) != 1 {
		return tokenAnswer(w, r, url.Values{"error": {"incorrect_client_credentials"},
			"error_description": {"The client_id and/or client_secret passed are incorrect."}})
	}
	code := r.PostForm.Get("code")
	g := s.grants[code]
	if g == nil || g.app != a || !s.now().Before(g.expires) {
		return tokenAnswer(w, r, url.Values{"error": {"bad_verification_code"},
			"error_description": {"The code passed is incorrect or expired."}})
	}
	if redirect := r.PostForm.Get("redirect_uri"); redirect != "" && redirect != g.redirect && redirect != a.oauth.callback {
		return tokenAnswer(w, r, url.Values{"error": {"redirect_uri_mismatch"},
			"error_description": {"The redirect_uri MUST match the registered callback URL for this application."}})
	}
	delete(s.grants, code) // a code is used once
	return tokenAnswer(w, r, url.Values{"access_token": {s.userToken(a, g.login)}, "token_type": {"bearer"}, "scope": {""},
		"expires_in": {strconv.Itoa(int(userTokenLifetime.Seconds()))}})
}

// tokenAnswer writes an answer of the token endpoint as GitHub does: form
// encoded unless the client accepts JSON, and 200 even for errors.
func tokenAnswer(w http.ResponseWriter, r *http.Request, v url.Values) int {
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		w.Write([]byte(v.Encode()))
		return http.StatusOK
	}
	out := map[string]any{}
	for k := range v {
		out[k] = v.Get(k)
	}
	if n, err := strconv.Atoi(v.Get("expires_in")); err == nil {
		out["expires_in"] = n
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(out)
	return http.StatusOK
}

// GET /user
func (s *Server) getAuthenticatedUser(req *request) *response {
	u := s.user(req.caller.user)
	out := s.userObject(u.login)
	created := timestamp(s.now())
	for k, v := range map[string]any{"name": nil, "company": nil, "blog": "", "location": nil, "email": nilIfEmpty(u.email),
		"hireable": nil, "bio": nil, "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
		"created_at": created, "updated_at": created} {
		out[k] = v
	}
	return reply(http.StatusOK, out)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

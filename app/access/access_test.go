package access_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/modelgate/modelgate/app/access"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/webtest"
)

const (
	appID = 4242
	org   = "acme"
	team  = "reviewers"
)

// site is the reviewers' side of a modelgate server on loopback, signing in
// through an emulated GitHub on which rita is a reviewer and mallory is in
// the organization but not in the reviewer team.
type site struct {
	t    *testing.T
	gh   *githubtest.Server
	url  string
	logs *bytes.Buffer
}

type siteOptions struct {
	gh  *githubtest.Server // shared with another site; nil: a new one
	key []byte             // nil: a new key
	// lifetime is the sessions' (0: the default).
	lifetime time.Duration
}

func newSite(t *testing.T, opts siteOptions) *site {
	t.Helper()
	gh := opts.gh
	if gh == nil {
		gh = githubtest.New(t)
		// The App never authenticates as itself here: no key.
		gh.AddApp(appID, "modelgate", nil)
		gh.AddInstallation(appID, org)
		gh.AddTeamMember(org, team, "rita")
		gh.AddTeamMember(org, "platform", "mallory")
	}
	key := opts.key
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	id, secret := gh.OAuthClient(appID, base+"/callback")
	logs := &bytes.Buffer{}
	acc, err := access.New(access.Config{
		ClientID: id, ClientSecret: secret, SessionKey: key, PublicURL: base,
		GitHubURL: gh.URL() + "/api/v3/", Teams: []access.Team{{Org: org, Slug: team}},
		Log: slog.New(slog.NewJSONHandler(logs, nil)), Now: gh.Now, SessionLifetime: opts.lifetime,
	})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	pages, api := acc.Mount(e)
	page := func(c *gin.Context) {
		r, _ := access.ReviewerOf(c)
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte("<p>hello "+r.Login+"</p><form method=post>"+string(access.CSRFInput(c))+"</form>"))
	}
	pages.GET("/", page)
	pages.GET("/models", page)
	pages.POST("/notes", func(c *gin.Context) { c.String(http.StatusOK, "noted") })
	api.POST("/notes", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"noted": true}) })
	api.POST("/evidence", func(c *gin.Context) { c.JSON(http.StatusAccepted, gin.H{"evidence": "its own authentication"}) })
	api.GET("/evidence/:id", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"id": c.Param("id")}) })
	srv := &http.Server{Handler: e}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &site{t: t, gh: gh, url: base, logs: logs}
}

// signIn signs login in through the web flow from a protected page.
func (s *site) signIn(b *webtest.Browser, login string) webtest.Page {
	s.t.Helper()
	s.gh.SignIn(login)
	return b.Open(s.url + "/models")
}

// session returns the browser's session cookie for the site.
func (s *site) session(b *webtest.Browser) *http.Cookie {
	u, _ := url.Parse(s.url)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "modelgate_session" {
			return c
		}
	}
	return nil
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

func csrfOf(t *testing.T, a webtest.Page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(a.Body)
	if m == nil || m[1] == "" {
		t.Fatalf("no CSRF token in the page: %s", a.Body)
	}
	return m[1]
}

func wantStatus(t *testing.T, what string, a webtest.Page, status int) {
	t.Helper()
	if a.Status != status {
		t.Fatalf("%s: status %d, want %d; body: %s", what, a.Status, status, a.Body)
	}
}

func routes(calls []githubtest.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.String())
	}
	return out
}

const membership = "GET /orgs/{org}/teams/{team_slug}/memberships/{username}"

func TestSignInRoundTrip(t *testing.T) {
	s := newSite(t, siteOptions{})
	b := webtest.NewBrowser(t, true)
	a := s.signIn(b, "rita")
	wantStatus(t, "the page after sign-in", a, http.StatusOK)
	if a.URL.Path != "/models" || !strings.Contains(a.Body, "hello rita") {
		t.Fatalf("signed in at %s: %s", a.URL, a.Body)
	}
	want := []string{"GET /login/oauth/authorize", "POST /login/oauth/access_token", "GET /user", membership}
	if got := routes(s.gh.Calls()); !slices.Equal(got, want) {
		t.Fatalf("GitHub was asked %q, want %q", got, want)
	}
	api := b.Open(s.url + "/api/v1/user")
	wantStatus(t, "GET /api/v1/user", api, http.StatusOK)
	var who access.Reviewer
	if err := json.Unmarshal([]byte(api.Body), &who); err != nil || who != (access.Reviewer{Login: "rita", Via: "session"}) {
		t.Fatalf("GET /api/v1/user = %s (%v)", api.Body, err)
	}
	if strings.Contains(s.logs.String(), s.session(b).Value) {
		t.Fatal("the session cookie was logged")
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	s := newSite(t, siteOptions{})
	b := webtest.NewBrowser(t, false)
	s.gh.SignIn("rita")
	login := b.Open(s.url + "/login?next=/models")
	wantStatus(t, "GET /login", login, http.StatusSeeOther)
	authorize, err := url.Parse(login.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(authorize.String(), s.gh.URL()+"/login/oauth/authorize?") {
		t.Fatalf("/login sends the browser to %q, want the emulated GitHub's authorize page", authorize)
	}
	q := authorize.Query()
	if q.Get("client_id") == "" || q.Get("redirect_uri") != s.url+"/callback" || len(q.Get("state")) < 26 {
		t.Fatalf("authorize URL %s: want the client ID, the callback and a long state", authorize)
	}
	back := b.Open(authorize.String())
	callback := b.Open(back.Header.Get("Location"))
	wantStatus(t, "the callback", callback, http.StatusSeeOther)
	if loc := callback.Header.Get("Location"); loc != "/models" {
		t.Fatalf("the callback sends the browser to %q, want the page it came from", loc)
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: callback.Header}).Cookies() {
		if c.Name == "modelgate_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.MaxAge <= 0 || session.MaxAge > int((8*time.Hour).Seconds()) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, expiring within eight hours", session)
	}
	if session.Secure {
		t.Fatal("a session cookie on http to a loopback address is Secure: the browser would never send it back")
	}
}

func TestSecureCookiesOnHTTPS(t *testing.T) {
	gh := githubtest.New(t)
	gh.AddApp(appID, "modelgate", nil)
	id, secret := gh.OAuthClient(appID, "https://modelgate.example.com/callback")
	key := make([]byte, 32)
	rand.Read(key)
	cfg := access.Config{ClientID: id, ClientSecret: secret, SessionKey: key, PublicURL: "https://modelgate.example.com",
		GitHubURL: "https://ghe.example.com/api/v3/", Teams: []access.Team{{Org: org, Slug: team}}}
	acc, err := access.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	acc.Mount(e)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	a := webtest.NewBrowser(t, false).Open("http://" + ln.Addr().String() + "/login")
	if loc := a.Header.Get("Location"); !strings.HasPrefix(loc, "https://ghe.example.com/login/oauth/authorize?") {
		t.Fatalf("on GitHub Enterprise Server /login sends the browser to %q", loc)
	}
	cookies := (&http.Response{Header: a.Header}).Cookies()
	if len(cookies) != 1 || cookies[0].Name != "__Host-modelgate_oauth_state" || !cookies[0].Secure || !cookies[0].HttpOnly {
		t.Fatalf("state cookie on https: %+v, want a Secure, HttpOnly __Host- cookie", cookies)
	}

	for name, bad := range map[string]func(*access.Config){
		"http public URL": func(c *access.Config) { c.PublicURL = "http://modelgate.example.com" },
		"short key":       func(c *access.Config) { c.SessionKey = key[:31] },
		"no team":         func(c *access.Config) { c.Teams = nil },
		"no secret":       func(c *access.Config) { c.ClientSecret = "" },
	} {
		c := cfg
		bad(&c)
		if _, err := access.New(c); err == nil {
			t.Errorf("%s: New accepted the configuration", name)
		}
	}
}

func TestOutsiderGets403(t *testing.T) {
	s := newSite(t, siteOptions{})
	b := webtest.NewBrowser(t, true)
	a := s.signIn(b, "mallory")
	wantStatus(t, "mallory's sign-in", a, http.StatusForbidden)
	if a.URL.Path != "/callback" || s.session(b) != nil {
		t.Fatalf("mallory was given a session (at %s)", a.URL)
	}
	wantStatus(t, "mallory's API call", b.Open(s.url+"/api/v1/user"), http.StatusUnauthorized)
}

func TestNoSession(t *testing.T) {
	s := newSite(t, siteOptions{})
	b := webtest.NewBrowser(t, false)
	page := b.Open(s.url + "/models?model=fraud")
	wantStatus(t, "a page without a session", page, http.StatusSeeOther)
	if loc := page.Header.Get("Location"); loc != "/login?next="+url.QueryEscape("/models?model=fraud") {
		t.Fatalf("redirect to %q", loc)
	}
	api := b.Open(s.url + "/api/v1/user")
	wantStatus(t, "an API call without a session", api, http.StatusUnauthorized)
	if !strings.HasPrefix(api.Header.Get("Content-Type"), "application/json") || api.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("401 webtest.Page: %v %s", api.Header, api.Body)
	}
	wantStatus(t, "GET /api/v1/evidence/1 without a session", b.Open(s.url+"/api/v1/evidence/1"), http.StatusUnauthorized)
	wantStatus(t, "POST /api/v1/notes without a session", b.Send(http.MethodPost, s.url+"/api/v1/notes", url.Values{}, nil), http.StatusUnauthorized)
}

// The evidence upload authenticates CI jobs with their OIDC tokens itself:
// the reviewers' guard lets it through untouched.
func TestEvidenceRouteIsExempt(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := webtest.NewBrowser(t, false).Send(http.MethodPost, s.url+access.EvidenceRoute, url.Values{}, map[string]string{"Authorization": "Bearer an-oidc-token"})
	wantStatus(t, "POST "+access.EvidenceRoute, a, http.StatusAccepted)
	if len(s.gh.Calls()) != 0 {
		t.Fatalf("the guard asked GitHub about the evidence upload's token: %v", s.gh.Calls())
	}
}

func TestInvalidCookiesGet403(t *testing.T) {
	// Sessions end well before the user's GitHub token, which still works
	// after the session expired.
	s := newSite(t, siteOptions{lifetime: time.Hour})
	signedIn := webtest.NewBrowser(t, true)
	wantStatus(t, "sign-in", s.signIn(signedIn, "rita"), http.StatusOK)
	valid := s.session(signedIn).Value

	// The same emulated GitHub and user, another session key.
	other := newSite(t, siteOptions{gh: s.gh})
	elsewhere := webtest.NewBrowser(t, true)
	wantStatus(t, "sign-in elsewhere", other.signIn(elsewhere, "rita"), http.StatusOK)

	tampered := []byte(valid)
	tampered[len(tampered)/2] ^= 1
	for name, value := range map[string]string{
		"forged":                  "bm90IGEgc2Vzc2lvbg==",
		"tampered":                string(tampered),
		"sealed with another key": other.session(elsewhere).Value,
	} {
		cookie := map[string]string{"Cookie": "modelgate_session=" + value}
		b := webtest.NewBrowser(t, false)
		page := b.Send(http.MethodGet, s.url+"/models", nil, cookie)
		wantStatus(t, name+" cookie, page", page, http.StatusForbidden)
		if !strings.Contains(page.Header.Get("Set-Cookie"), "modelgate_session=;") {
			t.Errorf("%s cookie: not cleared (%q)", name, page.Header.Get("Set-Cookie"))
		}
		wantStatus(t, name+" cookie, API", b.Send(http.MethodGet, s.url+"/api/v1/user", nil, cookie), http.StatusForbidden)
	}

	// Expired: the clock moves past the session's end.
	wantStatus(t, "a fresh session", signedIn.Open(s.url+"/models"), http.StatusOK)
	s.gh.Advance(time.Hour + time.Second)
	b := webtest.NewBrowser(t, false)
	cookie := map[string]string{"Cookie": "modelgate_session=" + valid}
	wantStatus(t, "an expired session, page", b.Send(http.MethodGet, s.url+"/models", nil, cookie), http.StatusForbidden)
	wantStatus(t, "an expired session, API", b.Send(http.MethodGet, s.url+"/api/v1/user", nil, cookie), http.StatusForbidden)
}

// authorizeURL starts a sign-in in b and returns where /login sends it.
func (s *site) authorizeURL(b *webtest.Browser) *url.URL {
	s.t.Helper()
	login := b.Open(s.url + "/login")
	u, err := url.Parse(login.Header.Get("Location"))
	if err != nil {
		s.t.Fatal(err)
	}
	return u
}

// callbackURL is where the emulated GitHub sends the browser back to.
func (s *site) callbackURL(b *webtest.Browser, authorize *url.URL) string {
	s.t.Helper()
	a := b.Open(authorize.String())
	wantStatus(s.t, "GitHub's authorization", a, http.StatusFound)
	return a.Header.Get("Location")
}

func TestStateChecked(t *testing.T) {
	s := newSite(t, siteOptions{})
	s.gh.SignIn("rita")
	withState := func(state string, keep bool) func(*webtest.Browser) string {
		return func(b *webtest.Browser) string {
			u := s.authorizeURL(b)
			q := u.Query()
			q.Del("state")
			if keep {
				q.Set("state", state)
			}
			u.RawQuery = q.Encode()
			return s.callbackURL(b, u)
		}
	}
	for name, callback := range map[string]func(*webtest.Browser) string{
		"tampered state": func(b *webtest.Browser) string {
			u := s.authorizeURL(b)
			state := []byte(u.Query().Get("state"))
			state[0] ^= 1
			q := u.Query()
			q.Set("state", string(state))
			u.RawQuery = q.Encode()
			return s.callbackURL(b, u)
		},
		"missing state": withState("", false),
		// A callback started by another browser: an attacker's own sign-in
		// fed to a reviewer's browser.
		"another browser's state": func(b *webtest.Browser) string { return s.callbackURL(b, s.authorizeURL(webtest.NewBrowser(t, false))) },
		"expired state": func(b *webtest.Browser) string {
			cb := s.callbackURL(b, s.authorizeURL(b))
			s.gh.Advance(10*time.Minute + time.Second)
			return cb
		},
	} {
		b := webtest.NewBrowser(t, false)
		a := b.Open(callback(b))
		wantStatus(t, name, a, http.StatusForbidden)
		if s.session(b) != nil {
			t.Errorf("%s: a session was created", name)
		}
	}
	// The same state is good once.
	b := webtest.NewBrowser(t, false)
	cb := s.callbackURL(b, s.authorizeURL(b))
	wantStatus(t, "the callback", b.Open(cb), http.StatusSeeOther)
	wantStatus(t, "the callback replayed", b.Open(cb), http.StatusForbidden)
}

func TestOpenRedirectRefused(t *testing.T) {
	s := newSite(t, siteOptions{})
	s.gh.SignIn("rita")
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example"} {
		b := webtest.NewBrowser(t, true)
		a := b.Open(s.url + "/login?next=" + url.QueryEscape(next))
		wantStatus(t, "sign-in with next="+next, a, http.StatusOK)
		if a.URL.String() != s.url+"/" {
			t.Errorf("next=%s: the sign-in ended at %s", next, a.URL)
		}
	}
}

func TestCSRF(t *testing.T) {
	s := newSite(t, siteOptions{})
	b := webtest.NewBrowser(t, true)
	page := s.signIn(b, "rita")
	token := csrfOf(t, page)

	wantStatus(t, "a form without its CSRF token", b.Send(http.MethodPost, s.url+"/notes", url.Values{"note": {"x"}}, nil), http.StatusForbidden)
	wantStatus(t, "a form with a wrong CSRF token", b.Send(http.MethodPost, s.url+"/notes", url.Values{"csrf_token": {token[1:] + "A"}}, nil), http.StatusForbidden)
	wantStatus(t, "an API call without the CSRF header", b.Send(http.MethodPost, s.url+"/api/v1/notes", url.Values{}, nil), http.StatusForbidden)
	wantStatus(t, "a form with its CSRF token", b.Send(http.MethodPost, s.url+"/notes", url.Values{"csrf_token": {token}}, nil), http.StatusOK)
	wantStatus(t, "an API call with the CSRF header", b.Send(http.MethodPost, s.url+"/api/v1/notes", url.Values{}, map[string]string{access.CSRFHeader: token}), http.StatusOK)

	// Another session's token is no good.
	other := webtest.NewBrowser(t, true)
	otherToken := csrfOf(t, s.signIn(other, "rita"))
	wantStatus(t, "a form with another session's CSRF token", b.Send(http.MethodPost, s.url+"/notes", url.Values{"csrf_token": {otherToken}}, nil), http.StatusForbidden)

	wantStatus(t, "logout without the CSRF token", b.Send(http.MethodPost, s.url+"/logout", url.Values{}, nil), http.StatusForbidden)
	wantStatus(t, "still signed in", b.Open(s.url+"/models"), http.StatusOK)
	wantStatus(t, "logout", b.Send(http.MethodPost, s.url+"/logout", url.Values{"csrf_token": {token}}, nil), http.StatusOK)
	if s.session(b) != nil {
		t.Fatal("the session cookie outlived the logout")
	}
	wantStatus(t, "a GET of /logout", webtest.NewBrowser(t, false).Open(s.url+"/logout"), http.StatusNotFound)
}

func TestRemovedReviewerLosesAccess(t *testing.T) {
	s := newSite(t, siteOptions{})
	b := webtest.NewBrowser(t, true)
	wantStatus(t, "sign-in", s.signIn(b, "rita"), http.StatusOK)

	s.gh.ResetCalls()
	s.gh.Advance(access.DefaultRecheck + time.Second)
	wantStatus(t, "a member after the recheck interval", b.Open(s.url+"/models"), http.StatusOK)
	if got := routes(s.gh.Calls()); !slices.Equal(got, []string{membership}) {
		t.Fatalf("the recheck asked GitHub %q", got)
	}
	s.gh.ResetCalls()
	s.gh.Advance(access.DefaultRecheck - 2*time.Second)
	wantStatus(t, "a member within the interval", b.Open(s.url+"/api/v1/user"), http.StatusOK)
	if calls := s.gh.Calls(); len(calls) != 0 {
		t.Fatalf("GitHub was asked again within the interval: %v", calls)
	}

	s.gh.RemoveTeamMember(org, team, "rita")
	wantStatus(t, "within the interval of the last check", b.Open(s.url+"/models"), http.StatusOK)
	s.gh.Advance(2 * time.Second)
	wantStatus(t, "removed, after the interval", b.Open(s.url+"/models"), http.StatusForbidden)
	if s.session(b) != nil {
		t.Fatal("the session of a removed reviewer was kept")
	}
}

func TestBearerToken(t *testing.T) {
	s := newSite(t, siteOptions{})
	b := webtest.NewBrowser(t, false)
	call := func(header string) webtest.Page {
		return b.Send(http.MethodGet, s.url+"/api/v1/user", nil, map[string]string{"Authorization": header})
	}
	rita := s.gh.UserToken(appID, "rita")
	a := call("Bearer " + rita)
	wantStatus(t, "a reviewer's token", a, http.StatusOK)
	if !strings.Contains(a.Body, `"via":"token"`) || !strings.Contains(a.Body, `"login":"rita"`) {
		t.Fatalf("GET /api/v1/user = %s", a.Body)
	}
	wantStatus(t, "a POST with a reviewer's token needs no CSRF token",
		b.Send(http.MethodPost, s.url+"/api/v1/notes", url.Values{}, map[string]string{"Authorization": "Bearer " + rita}), http.StatusOK)
	wantStatus(t, "a page with a token", b.Send(http.MethodGet, s.url+"/models", nil, map[string]string{"Authorization": "Bearer " + rita}), http.StatusSeeOther)

	wantStatus(t, "an outsider's token", call("token "+s.gh.UserToken(appID, "mallory")), http.StatusForbidden)
	wantStatus(t, "a garbage token", call("Bearer ghu_garbage"), http.StatusUnauthorized)
	wantStatus(t, "another scheme", call("Basic cml0YTpwYXNz"), http.StatusUnauthorized)
	wantStatus(t, "an empty bearer", call("Bearer "), http.StatusUnauthorized)

	// What GitHub said is kept briefly, then asked again.
	s.gh.ResetCalls()
	wantStatus(t, "a reviewer's token again", call("Bearer "+rita), http.StatusOK)
	if calls := s.gh.Calls(); len(calls) != 0 {
		t.Fatalf("the verified token was verified again at once: %v", calls)
	}
	s.gh.RemoveTeamMember(org, team, "rita")
	s.gh.Advance(access.DefaultTokenCache)
	wantStatus(t, "a removed reviewer's token", call("Bearer "+rita), http.StatusForbidden)
	if strings.Contains(s.logs.String(), rita) {
		t.Fatal("a token was logged")
	}
}

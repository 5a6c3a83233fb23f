// Package access decides who may read the reviewers' web UI and JSON API:
// members of the GitHub teams the server names, signed in with GitHub through
// the App's OAuth user flow, or presenting a GitHub token of their own to the
// API.
//
// Mount registers /login, /callback and /logout and returns the two groups
// the UI registers its routes on:
//
//	pages, api := acc.Mount(engine)
//	pages.GET("/models", listModels)     // no session: 303 to /login
//	api.GET("/models", listModelsJSON)   // under /api/v1; no credential: 401 JSON
//
// A handler under either group knows its caller from ReviewerOf. Every
// POST, PUT, PATCH and DELETE made with a session must carry the session's
// CSRF token, in the form field CSRFField (templates put CSRFInput in each
// form) or the header CSRFHeader; the guard checks it before the handler
// runs, so no handler can forget to.
//
// Sessions live in the browser only, in a cookie that is signed and
// encrypted with the session key: nothing is stored server-side, so every
// replica serves every session. The cookie carries its own expiry, checked
// against the server's clock, and the user's GitHub token, with which the
// team membership is checked again every Recheck: a reviewer removed from
// the teams loses access within that interval.
package access

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"
)

// EvidenceRoute is exempt from the API's guard: CI jobs upload evidence to
// it with an OIDC token of their own, which its handler verifies, and have
// neither a session nor a reviewer's GitHub token.
const EvidenceRoute = "/api/v1/evidence"

// APIPrefix is the base of the JSON API.
const APIPrefix = "/api/v1"

// CSRFField is the form field, and CSRFHeader the header, that carry the
// session's CSRF token.
const (
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

// MinKeyLength is the shortest session key accepted, in bytes.
const MinKeyLength = 32

// Defaults of the durations of Config.
const (
	DefaultSessionLifetime = 8 * time.Hour // GitHub's user tokens of a GitHub App last as long
	DefaultRecheck         = 5 * time.Minute
	DefaultTokenCache      = time.Minute
)

// Team is a GitHub team: an organization's login and the team's slug.
type Team struct{ Org, Slug string }

func (t Team) String() string { return t.Org + "/" + t.Slug }

// loginRE is what GitHub allows in an organization's login and in a team's
// slug.
var loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$`)

// ParseTeam reads "ORG/TEAM-SLUG".
func ParseTeam(s string) (Team, error) {
	org, slug, ok := strings.Cut(s, "/")
	if !ok || !loginRE.MatchString(org) || !loginRE.MatchString(slug) {
		return Team{}, fmt.Errorf("reviewer team %q: want ORG/TEAM-SLUG", s)
	}
	return Team{Org: org, Slug: slug}, nil
}

// Config configures the reviewers' access.
type Config struct {
	// ClientID and ClientSecret are the App's OAuth credentials (its settings
	// page, "Client ID" and "Client secrets").
	ClientID, ClientSecret string
	// SessionKey signs and encrypts the session cookies: at least
	// MinKeyLength bytes, the same on every replica.
	SessionKey []byte
	// PublicURL is the App's base URL as browsers reach it; the OAuth
	// callback is PublicURL + "/callback". It must be https, except on a
	// loopback host, where cookies then go without the Secure attribute.
	PublicURL string
	// GitHubURL is the API's base URL as in service.Config: "" for
	// github.com. The OAuth endpoints are on the same host, or on github.com
	// for api.github.com.
	GitHubURL string
	// Teams are the teams whose members may sign in; at least one.
	Teams []Team
	// Transport makes the requests to GitHub; nil means http.DefaultTransport.
	Transport http.RoundTripper
	Log       *slog.Logger
	// Now is the clock that session expiry and rechecks are measured by;
	// nil means time.Now.
	Now func() time.Time
	// SessionLifetime bounds a session (default DefaultSessionLifetime, and
	// never beyond the expiry of the user's GitHub token); Recheck is how
	// often a session's team membership is confirmed again (default
	// DefaultRecheck); TokenCache is how long the API trusts its
	// verification of a GitHub token (default DefaultTokenCache).
	SessionLifetime, Recheck, TokenCache time.Duration
}

// Access guards the reviewers' UI and API. It is safe for concurrent use.
type Access struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	oauth   oauth2.Config
	client  *http.Client // for the token exchange
	cookies *cookies
	members *members
	tokens  *tokenCache
}

// New checks cfg and returns the guard.
func New(cfg Config) (*Access, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("reviewers' sign-in: the OAuth client ID and secret are required (MODELGATE_OAUTH_CLIENT_ID, MODELGATE_OAUTH_CLIENT_SECRET_FILE)")
	}
	if len(cfg.Teams) == 0 {
		return nil, errors.New("reviewers' sign-in: no reviewer team (--reviewer-team ORG/TEAM): nobody could sign in")
	}
	public, secure, err := parsePublicURL(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	web, err := WebURL(cfg.GitHubURL)
	if err != nil {
		return nil, fmt.Errorf("reviewers' sign-in: %w", err)
	}
	cs, err := newCookies(cfg.SessionKey, secure)
	if err != nil {
		return nil, err
	}
	tr := cmp.Or[http.RoundTripper](cfg.Transport, http.DefaultTransport)
	cfg.SessionLifetime = cmp.Or(cfg.SessionLifetime, DefaultSessionLifetime)
	cfg.Recheck = cmp.Or(cfg.Recheck, DefaultRecheck)
	cfg.TokenCache = cmp.Or(cfg.TokenCache, DefaultTokenCache)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	a := &Access{
		cfg: cfg,
		log: cmp.Or(cfg.Log, slog.Default()),
		now: now,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  public.JoinPath("callback").String(),
			Endpoint: oauth2.Endpoint{
				AuthURL:   web.JoinPath("login/oauth/authorize").String(),
				TokenURL:  web.JoinPath("login/oauth/access_token").String(),
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
		client:  &http.Client{Transport: tr, Timeout: githubTimeout},
		cookies: cs,
		members: &members{baseURL: cfg.GitHubURL, transport: tr, teams: cfg.Teams},
		tokens:  newTokenCache(cfg.TokenCache),
	}
	return a, nil
}

// githubTimeout bounds each exchange with GitHub made while a reviewer
// waits.
const githubTimeout = 10 * time.Second

// parsePublicURL checks the App's public URL and tells whether its cookies
// must be Secure: always, but on plain http to a loopback address, where a
// browser would not send them back.
func parsePublicURL(s string) (*url.URL, bool, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, false, fmt.Errorf("reviewers' sign-in: public URL %q (MODELGATE_PUBLIC_URL): want the App's base URL, such as https://modelgate.example.com", s)
	}
	switch u.Scheme {
	case "https":
		return u, true, nil
	case "http":
		if loopback(u.Hostname()) {
			return u, false, nil
		}
	}
	return nil, false, fmt.Errorf("reviewers' sign-in: public URL %q (MODELGATE_PUBLIC_URL) must be https: session cookies are never sent in the clear", s)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WebURL is GitHub's web host for an API base URL: github.com for
// api.github.com, the host itself for GitHub Enterprise Server.
func WebURL(api string) (*url.URL, error) {
	if api == "" {
		return &url.URL{Scheme: "https", Host: "github.com"}, nil
	}
	u, err := url.Parse(api)
	if err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("GitHub URL %q is not an http or https URL", api)
	}
	if strings.EqualFold(u.Hostname(), "api.github.com") {
		return &url.URL{Scheme: "https", Host: "github.com"}, nil
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// Mount registers the sign-in routes (GET /login, GET /callback,
// POST /logout) and GET /api/v1/user, and returns the group of the pages,
// at the root, and that of the JSON API, under APIPrefix. Routes registered
// on them run behind the guard.
func (a *Access) Mount(e *gin.Engine) (pages, api *gin.RouterGroup) {
	e.GET("/login", a.login)
	e.GET("/callback", a.callback)
	pages = e.Group("/", a.guardPage)
	pages.POST("/logout", a.logout)
	api = e.Group(APIPrefix, a.guardAPI)
	api.GET("/user", func(c *gin.Context) {
		r, _ := ReviewerOf(c)
		c.JSON(http.StatusOK, r)
	})
	return pages, api
}

// Reviewer is the signed-in caller.
type Reviewer struct {
	Login string `json:"login"`
	// Via is how the caller authenticated: "session" (a browser) or "token"
	// (a GitHub token presented to the API).
	Via string `json:"via"`
}

// context keys of gin.Context
const (
	reviewerKey = "modelgate.access.reviewer"
	csrfKey     = "modelgate.access.csrf"
)

// ReviewerOf returns the caller of a request the guard let through.
func ReviewerOf(c *gin.Context) (Reviewer, bool) {
	r, ok := c.Get(reviewerKey)
	if !ok {
		return Reviewer{}, false
	}
	rv, ok := r.(Reviewer)
	return rv, ok
}

// CSRFToken returns the CSRF token of the request's session, for forms and
// for the CSRFHeader of scripted requests; "" for a caller without a
// session.
func CSRFToken(c *gin.Context) string { return c.GetString(csrfKey) }

// CSRFInput is the hidden form field that carries the session's CSRF token,
// for templates: {{.CSRF}} in every <form method="post">.
func CSRFInput(c *gin.Context) template.HTML {
	return template.HTML(`<input type="hidden" name="` + CSRFField + `" value="` + template.HTMLEscapeString(CSRFToken(c)) + `">`)
}

// stateChanging tells whether a request's method may change state, and so
// needs the session's CSRF token.
func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

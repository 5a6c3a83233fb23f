// Package github is modelgate's access to GitHub as a GitHub App: its
// installations, their repositories read as gitops.Repository, and the pull
// requests that modelgate judges, reports on and merges.
package github

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v4"
	gh "github.com/google/go-github/v62/github"

	"github.com/modelgate/modelgate/internal/gitops"
)

var (
	// ErrRateLimited is returned when GitHub's rate limit would take longer
	// than Config.MaxWait to lift.
	ErrRateLimited = errors.New("github: rate limited")
	// ErrMergeRefused is returned when GitHub refuses a merge because the pull
	// request is not mergeable or its head is no longer the commit judged.
	ErrMergeRefused = errors.New("github: merge refused")
)

// Config configures an App.
type Config struct {
	AppID      int64
	PrivateKey []byte // the App's private key, PEM encoded
	// BaseURL is the API's base URL: "" for https://api.github.com/, or
	// https://HOST/api/v3/ for GitHub Enterprise Server.
	BaseURL string
	// Transport makes the HTTP requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// MaxWait is the longest time one request waits for GitHub's rate limits
	// to lift before it fails with ErrRateLimited; 0 means a minute.
	MaxWait time.Duration
	// Observe, if not nil, is called after every HTTP exchange with GitHub,
	// from the goroutine that made it.
	Observe func(Call)
	// Now is the clock the App's JWTs are dated by; nil means time.Now. It
	// is the App's one clock, so that a test moving it moves GitHub
	// authentication along with everything else.
	Now func() time.Time
}

const (
	defaultBaseURL = "https://api.github.com/"
	defaultMaxWait = time.Minute

	// Bounds of the App's caches, in bytes.
	responseCacheBytes = 32 << 20
	treeCacheBytes     = 64 << 20
	blobCacheBytes     = 64 << 20
	compareCacheBytes  = 4 << 20
	stickyCacheBytes   = 4 << 20
	commitCacheBytes   = 32 << 20
	historyCacheBytes  = 8 << 20
)

// App is a GitHub App. Its methods may be called from any goroutine.
type App struct {
	id      int64
	key     *rsa.PrivateKey
	baseURL *url.URL
	tr      http.RoundTripper // under the authentication
	maxWait time.Duration
	clock   clock
	client  *gh.Client // authenticated as the App

	// Caches shared by the App and its installations; every key starts with
	// the identity that read the value.
	responses *lru[*cachedResponse]
	trees     *lru[*tree]
	blobs     *lru[[]byte]
	compares  *lru[comparison]
	stickies  *lru[sticky]
	commits   *lru[commitNode]
	histories *lru[[]gitops.Commit]

	now func() time.Time // dates the App's JWTs

	mu      sync.Mutex
	clients map[int64]*Client
	bot     string // the login of the App's bot account, once known
}

// NewApp returns the App that cfg describes.
func NewApp(cfg Config) (*App, error) {
	return newApp(cfg, systemClock{})
}

func newApp(cfg Config, clk clock) (*App, error) {
	if cfg.AppID <= 0 {
		return nil, fmt.Errorf("github app: invalid app ID %d", cfg.AppID)
	}
	if cfg.MaxWait < 0 {
		return nil, fmt.Errorf("github app: negative MaxWait %v", cfg.MaxWait)
	}
	key, err := parseKey(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("github app: private key: %w", err)
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("github app: base URL: %w", err)
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	if cfg.Observe != nil {
		tr = observer{next: tr, observe: cfg.Observe}
	}
	a := newShared(base, tr, cfg.MaxWait, clk)
	a.id, a.key, a.now = cfg.AppID, key, cfg.Now
	if a.now == nil {
		a.now = time.Now
	}
	a.client = a.newClient("app", a.appsTransport())
	return a, nil
}

// appsTransport authenticates requests as the App, with a JWT dated by the
// App's clock.
func (a *App) appsTransport() *ghinstallation.AppsTransport {
	signer := datedSigner{next: ghinstallation.NewRSASigner(jwt.SigningMethodRS256, a.key), now: a.now}
	t, err := ghinstallation.NewAppsTransportWithOptions(a.tr, a.id, ghinstallation.WithSigner(signer))
	if err != nil {
		// Only a missing signer fails, and there is one.
		panic(err)
	}
	t.BaseURL = strings.TrimSuffix(a.baseURL.String(), "/")
	return t
}

// datedSigner dates a JWT by the App's clock: ghinstallation dates it by the
// host's, and GitHub refuses one that is not valid by its own.
type datedSigner struct {
	next ghinstallation.Signer
	now  func() time.Time
}

func (s datedSigner) Sign(claims jwt.Claims) (string, error) {
	if c, ok := claims.(*jwt.RegisteredClaims); ok {
		// As ghinstallation does: 30 s back for clock drift, whole seconds
		// (GitHub refuses fractions), two minutes of validity.
		iat := s.now().Add(-30 * time.Second).Truncate(time.Second)
		c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(iat), jwt.NewNumericDate(iat.Add(2*time.Minute))
	}
	return s.next.Sign(claims)
}

// newShared returns an App without an identity yet: the transport, limits
// and caches that its clients share.
func newShared(base *url.URL, tr http.RoundTripper, maxWait time.Duration, clk clock) *App {
	if maxWait == 0 {
		maxWait = defaultMaxWait
	}
	return &App{
		baseURL: base, tr: tr, maxWait: maxWait, clock: clk,
		responses: newLRU[*cachedResponse](responseCacheBytes),
		trees:     newLRU[*tree](treeCacheBytes),
		blobs:     newLRU[[]byte](blobCacheBytes),
		compares:  newLRU[comparison](compareCacheBytes),
		stickies:  newLRU[sticky](stickyCacheBytes),
		commits:   newLRU[commitNode](commitCacheBytes),
		histories: newLRU[[]gitops.Commit](historyCacheBytes),
		clients:   map[int64]*Client{},
	}
}

// TokenConfig configures a client that authenticates with a token instead
// of as an App: a deployer's GITHUB_TOKEN in GitHub Actions, or a CI job's
// token elsewhere.
type TokenConfig struct {
	Token string
	// BaseURL is as in Config.
	BaseURL string
	// Transport makes the HTTP requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// MaxWait is as in Config.
	MaxWait time.Duration
}

// NewTokenClient returns a client that makes every request with cfg.Token,
// with the rate limits, retries and caches of an installation's client.
// What only an App may do (list its installations) GitHub refuses to it.
func NewTokenClient(cfg TokenConfig) (*Client, error) {
	if cfg.Token == "" {
		return nil, errors.New("github token client: no token")
	}
	if cfg.MaxWait < 0 {
		return nil, fmt.Errorf("github token client: negative MaxWait %v", cfg.MaxWait)
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("github token client: base URL: %w", err)
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	a := newShared(base, tr, cfg.MaxWait, systemClock{})
	a.client = a.newClient("token", tokenTransport{next: tr, token: cfg.Token})
	return &Client{app: a, gh: a.client}, nil
}

// parseKey reads an RSA private key in PKCS #1 PEM, as GitHub issues them,
// or PKCS #8. Its errors never quote the key.
func parseKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if key, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return key, nil
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("not an RSA private key in PKCS #1 or PKCS #8 form")
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return key, nil
}

func parseBaseURL(s string) (*url.URL, error) {
	if s == "" {
		s = defaultBaseURL
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL", s)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// newClient returns a go-github client whose requests auth authenticates.
func (a *App) newClient(identity string, auth http.RoundTripper) *gh.Client {
	limited := &limiter{next: auth, maxWait: a.maxWait, clock: a.clock}
	c := gh.NewClient(&http.Client{Transport: &conditional{next: limited, identity: identity, cache: a.responses}})
	base := *a.baseURL
	c.BaseURL = &base
	return c
}

// Installation is an installation of the App on an account.
type Installation struct {
	ID      int64
	Account string // the login of the organization or user
}

// Installations lists the App's installations.
func (a *App) Installations(ctx context.Context) ([]Installation, error) {
	list, err := collect(func(o gh.ListOptions) ([]*gh.Installation, *gh.Response, error) {
		return a.client.Apps.ListInstallations(ctx, &o)
	})
	if err != nil {
		return nil, fmt.Errorf("list installations: %w", err)
	}
	out := make([]Installation, 0, len(list))
	for _, inst := range list {
		out = append(out, Installation{ID: inst.GetID(), Account: inst.GetAccount().GetLogin()})
	}
	return out, nil
}

// botLogin returns the login of the App's bot account, "<slug>[bot]", which
// GitHub shows as the author of what the App writes.
func (a *App) botLogin(ctx context.Context) (string, error) {
	a.mu.Lock()
	bot := a.bot
	a.mu.Unlock()
	if bot != "" {
		return bot, nil
	}
	// Every installation names the App's slug.
	list, _, err := a.client.Apps.ListInstallations(ctx, &gh.ListOptions{PerPage: 1})
	if err != nil {
		return "", fmt.Errorf("find the app's slug: %w", err)
	}
	if len(list) == 0 || list[0].GetAppSlug() == "" {
		return "", errors.New("find the app's slug: the app has no installations")
	}
	bot = list[0].GetAppSlug() + "[bot]"
	a.mu.Lock()
	a.bot = bot
	a.mu.Unlock()
	return bot, nil
}

// Installation returns the client of an installation. Clients are kept, so
// that an installation token serves every call until it nearly expires.
func (a *App) Installation(id int64) *Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[id]; ok {
		return c
	}
	c := &Client{app: a, id: id}
	c.gh = a.newClient("installation "+strconv.FormatInt(id, 10), newInstallationTransport(func() *ghinstallation.Transport {
		// Each installation has its own AppsTransport: ghinstallation
		// writes to it when it refreshes a token.
		it := ghinstallation.NewFromAppsTransport(a.appsTransport(), id)
		it.BaseURL = strings.TrimSuffix(a.baseURL.String(), "/")
		return it
	}))
	a.clients[id] = c
	return c
}

// Client is the App acting as one of its installations.
type Client struct {
	app *App
	id  int64
	gh  *gh.Client
}

// Repository is a repository an installation can access, as GitHub lists
// them.
type Repository struct {
	ID       int64  // GitHub's, which a rename keeps
	FullName string // owner/name
}

// Repositories lists the repositories the installation can access. Its
// pages are conditional requests like any other, so that listing again a
// list that has not changed costs nothing of the rate limit.
func (c *Client) Repositories(ctx context.Context) ([]Repository, error) {
	list, err := collect(func(o gh.ListOptions) ([]*gh.Repository, *gh.Response, error) {
		repos, resp, err := c.gh.Apps.ListRepos(ctx, &o)
		if err != nil {
			return nil, resp, err
		}
		return repos.Repositories, resp, nil
	})
	if err != nil {
		return nil, fmt.Errorf("installation %d: list repositories: %w", c.id, err)
	}
	out := make([]Repository, 0, len(list))
	for _, r := range list {
		if r.GetID() <= 0 || r.GetFullName() == "" {
			return nil, fmt.Errorf("installation %d: list repositories: GitHub listed one without id or name", c.id)
		}
		out = append(out, Repository{ID: r.GetID(), FullName: r.GetFullName()})
	}
	return out, nil
}

// nameRE is what GitHub allows in the owner and the name of a repository.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Repo returns a repository of the installation, named "owner/name".
func (c *Client) Repo(fullName string) (*Repo, error) {
	owner, name, err := splitName(fullName)
	if err != nil {
		return nil, err
	}
	return &Repo{c: c, owner: owner, name: name}, nil
}

// splitName splits a repository's full name, "owner/name".
func splitName(fullName string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || !nameRE.MatchString(owner) || !nameRE.MatchString(name) || strings.Trim(owner, ".") == "" || strings.Trim(name, ".") == "" {
		return "", "", fmt.Errorf("invalid repository name %q", fullName)
	}
	return owner, name, nil
}

// collect follows the pages of a list, a hundred items a page.
func collect[T any](list func(gh.ListOptions) ([]T, *gh.Response, error)) ([]T, error) {
	opts := gh.ListOptions{PerPage: 100}
	var all []T
	for {
		items, resp, err := list(opts)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// StatusCode returns the HTTP status of GitHub's answer in err, or 0 when
// err holds none (the request never reached GitHub).
func StatusCode(err error) int {
	var e *gh.ErrorResponse
	if errors.As(err, &e) && e.Response != nil {
		return e.Response.StatusCode
	}
	return 0
}

// BotLogin returns the login of the App's bot account, "<slug>[bot]": the
// creator GitHub names of the deployments and comments the App makes.
func (a *App) BotLogin(ctx context.Context) (string, error) {
	return a.botLogin(ctx)
}

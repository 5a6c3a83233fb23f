// Package oidc verifies the OpenID Connect tokens GitHub Actions issues to a
// workflow job (the id-token: write permission), for the App's evidence
// upload: a token it accepts was signed by the configured issuer with a key
// that issuer publishes, names the App as its audience, is valid now, and
// carries every claim the App binds evidence to (repository and its id, sha,
// ref, job_workflow_ref, run_id, jti, exp, iat). What the claims are then
// trusted for (the repository, the head, the allow-list of workflows, single
// use of jti) is the caller's to decide.
//
// The issuer's discovery document is fetched with
// github.com/coreos/go-oidc/v3, which also checks that it names the issuer
// it was fetched for; signatures and claims are checked with
// github.com/go-jose/go-jose/v4. go-oidc's own key set and token verifier
// are not used: the key set fetches the issuer's JWKS again for every token
// with an unknown key id or a bad signature, so that anyone could make the
// App hammer the issuer, and the verifier neither allows leeway on exp nor
// checks iat, and its errors cannot tell a forged token from an issuer that
// is down. Here the JWKS is cached, fetched again for a key id it lacks (how
// issuers rotate keys) at most once per refetch interval, and once its
// copy is older than maxKeyAge.
package oidc

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// GitHubIssuer is the issuer of GitHub.com's Actions tokens.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// DefaultIssuer is the issuer of the Actions tokens of the GitHub whose REST
// API is at githubAPIURL: GitHub.com's for "" or api.github.com, a GHE.com
// tenant's for api.TENANT.ghe.com, and for GitHub Enterprise Server
// (https://HOST/api/v3) https://HOST/_services/token. It is "" for a URL
// that does not parse, which New refuses.
func DefaultIssuer(githubAPIURL string) string {
	if githubAPIURL == "" {
		return GitHubIssuer
	}
	u, err := url.Parse(githubAPIURL)
	if err != nil || u.Host == "" {
		return ""
	}
	host := u.Hostname()
	if host == "api.github.com" || host == "github.com" {
		return GitHubIssuer
	}
	if tenant, ok := strings.CutPrefix(host, "api."); ok && strings.HasSuffix(tenant, ".ghe.com") {
		return "https://token.actions." + tenant
	}
	return u.Scheme + "://" + u.Host + "/_services/token"
}

// Claims are the claims of a verified token, named as GitHub names them.
type Claims struct {
	Issuer            string    `json:"iss"`
	Subject           string    `json:"sub"`
	Audience          []string  `json:"aud"`
	ID                string    `json:"jti"`
	IssuedAt          time.Time `json:"iat"`
	NotBefore         time.Time `json:"nbf,omitzero"`
	Expiry            time.Time `json:"exp"`
	Repository        string    `json:"repository"`
	RepositoryID      string    `json:"repository_id"`
	RepositoryOwner   string    `json:"repository_owner"`
	RepositoryOwnerID string    `json:"repository_owner_id"`
	Ref               string    `json:"ref"`
	SHA               string    `json:"sha"`
	EventName         string    `json:"event_name"`
	Workflow          string    `json:"workflow"`
	WorkflowRef       string    `json:"workflow_ref"`
	JobWorkflowRef    string    `json:"job_workflow_ref"`
	JobWorkflowSHA    string    `json:"job_workflow_sha"`
	RunID             string    `json:"run_id"`
	RunAttempt        string    `json:"run_attempt"`
	Actor             string    `json:"actor"`
	ActorID           string    `json:"actor_id"`
	BaseRef           string    `json:"base_ref"`
	HeadRef           string    `json:"head_ref"`
}

// The reasons a token is refused, for Error.Reason.
const (
	ReasonMalformed   = "malformed_token"
	ReasonAlgorithm   = "unsupported_algorithm"
	ReasonSignature   = "bad_signature"
	ReasonUnknownKey  = "unknown_key"
	ReasonIssuer      = "wrong_issuer"
	ReasonAudience    = "wrong_audience"
	ReasonExpired     = "expired"
	ReasonNotYetValid = "not_yet_valid"
	ReasonClaims      = "missing_claim"
)

// Error is the verdict on a token that fails a check: Reason is one of the
// Reason constants, Err says what was wrong with it.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return "token refused (" + e.Reason + "): " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func refuse(reason string, format string, args ...any) *Error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Config configures a Verifier.
type Config struct {
	// Issuer is the issuer's URL, https, or http for a loopback host only.
	Issuer string
	// Audience is the audience a token must name; required.
	Audience string
	// Client fetches the discovery document and the JWKS; nil means a
	// client with a 10 s time-out.
	Client *http.Client
	// Now is the App's clock, for the validity of tokens and the age of
	// the cached keys; nil means time.Now.
	Now func() time.Time
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 means 1m.
	Leeway time.Duration
}

const (
	defaultLeeway = time.Minute
	// maxTokenBytes bounds what is parsed: GitHub's tokens are about 1.5 KiB.
	maxTokenBytes = 16 << 10
	// refetchInterval is the least time between two fetches of the JWKS
	// (or of the discovery document while it has not been had), however
	// many tokens name a key the cached copy lacks.
	refetchInterval = 30 * time.Second
	// maxKeyAge is how long a fetched JWKS is used before it is fetched
	// again, so that a key the issuer withdrew stops verifying.
	maxKeyAge = time.Hour
	// fetchTimeout bounds a fetch that Client does not.
	fetchTimeout = 10 * time.Second
)

// algorithms are the signature algorithms accepted: GitHub signs with RS256.
var algorithms = []jose.SignatureAlgorithm{jose.RS256}

// A Verifier verifies tokens of one issuer for one audience. It is safe for
// concurrent use; requests that need the issuer's keys at the same time
// share one fetch.
type Verifier struct {
	issuer   string
	audience string
	client   *http.Client
	now      func() time.Time
	leeway   time.Duration

	// fetching holds a token while a goroutine fetches from the issuer.
	fetching chan struct{}

	mu        sync.Mutex
	jwksURL   string            // from the discovery document; "" until it is had
	keys      []jose.JSONWebKey // from the last fetch that succeeded
	fetched   time.Time         // when keys were fetched
	attempted time.Time         // when the issuer was last asked
	failure   error             // why that attempt failed, or nil
}

// New returns a Verifier for cfg. It does not contact the issuer: the
// discovery document is fetched by the first Verify that needs it.
func New(cfg Config) (*Verifier, error) {
	if err := checkURL(cfg.Issuer); err != nil {
		return nil, fmt.Errorf("OIDC issuer: %w", err)
	}
	if cfg.Audience == "" {
		return nil, errors.New("OIDC audience: required")
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("OIDC leeway: %v is negative", cfg.Leeway)
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Verifier{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		client:   client,
		now:      now,
		leeway:   cmp.Or(cfg.Leeway, defaultLeeway),
		fetching: make(chan struct{}, 1),
	}, nil
}

// checkURL accepts https URLs and, since nobody can intercept traffic that
// never leaves the machine, http ones to a loopback host.
func checkURL(raw string) error {
	if raw == "" {
		return errors.New("no URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not a plain absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: http is accepted only for a loopback host", raw)
	}
	return fmt.Errorf("%q: scheme must be https", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Verify checks token and returns its claims. A token that fails a check
// gets an *Error; an issuer that cannot be reached, which is no verdict on
// the token, a plain error.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > maxTokenBytes {
		return nil, refuse(ReasonMalformed, "%d bytes, more than the %d a token may have", len(token), maxTokenBytes)
	}
	jws, err := jose.ParseSignedCompact(token, algorithms)
	if err != nil {
		if alg, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, refuse(ReasonAlgorithm, "signed with %q; only %s is accepted", alg.Got, jose.RS256)
		}
		return nil, refuse(ReasonMalformed, "%v", err)
	}
	header := jws.Signatures[0].Header
	if header.KeyID == "" {
		return nil, refuse(ReasonUnknownKey, "the token names no key (kid)")
	}
	keys, err := v.keysFor(ctx, header.KeyID)
	if err != nil {
		return nil, err
	}
	payload, err := verifySignature(jws, keys)
	if err != nil {
		return nil, err
	}
	return v.checkClaims(payload)
}

func verifySignature(jws *jose.JSONWebSignature, keys []jose.JSONWebKey) ([]byte, error) {
	for _, key := range keys {
		if payload, err := jws.Verify(&key); err == nil {
			return payload, nil
		}
	}
	return nil, refuse(ReasonSignature, "the signature does not verify with key %q", jws.Signatures[0].Header.KeyID)
}

// claimsJSON decodes a token's payload into Claims: its own fields, being
// shallower, take the claims that JSON carries as numbers or as a string or
// an array, and leave the rest to the embedded Claims.
type claimsJSON struct {
	*Claims
	Audience  jwt.Audience     `json:"aud"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	Expiry    *jwt.NumericDate `json:"exp"`
}

func (v *Verifier) checkClaims(payload []byte) (*Claims, error) {
	c := &Claims{}
	w := claimsJSON{Claims: c}
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, refuse(ReasonMalformed, "claims: %v", err)
	}
	std := jwt.Claims{Issuer: c.Issuer, Audience: w.Audience, IssuedAt: w.IssuedAt, NotBefore: w.NotBefore, Expiry: w.Expiry}
	err := std.ValidateWithLeeway(jwt.Expected{Issuer: v.issuer, AnyAudience: jwt.Audience{v.audience}, Time: v.now()}, v.leeway)
	switch {
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return nil, refuse(ReasonIssuer, "issued by %q, not %q", c.Issuer, v.issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return nil, refuse(ReasonAudience, "for audience %q, not %q", []string(w.Audience), v.audience)
	case errors.Is(err, jwt.ErrExpired):
		return nil, refuse(ReasonExpired, "expired at %s", w.Expiry.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrNotValidYet):
		return nil, refuse(ReasonNotYetValid, "not valid before %s", w.NotBefore.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, refuse(ReasonNotYetValid, "issued in the future, at %s", w.IssuedAt.Time().UTC().Format(time.RFC3339))
	case err != nil:
		return nil, refuse(ReasonMalformed, "claims: %v", err)
	}
	for _, claim := range []struct {
		name    string
		present bool
	}{
		{"repository", c.Repository != ""},
		{"repository_id", c.RepositoryID != ""},
		{"sha", c.SHA != ""},
		{"ref", c.Ref != ""},
		{"job_workflow_ref", c.JobWorkflowRef != ""},
		{"run_id", c.RunID != ""},
		{"jti", c.ID != ""},
		{"exp", w.Expiry != nil},
		{"iat", w.IssuedAt != nil},
	} {
		if !claim.present {
			return nil, refuse(ReasonClaims, "no %s claim", claim.name)
		}
	}
	c.Audience = w.Audience
	c.IssuedAt = w.IssuedAt.Time()
	c.Expiry = w.Expiry.Time()
	if w.NotBefore != nil {
		c.NotBefore = w.NotBefore.Time()
	}
	return c, nil
}

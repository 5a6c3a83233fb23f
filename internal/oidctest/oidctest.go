// Package oidctest runs an OpenID Connect issuer on loopback that issues
// tokens shaped like GitHub Actions', for tests of what verifies them: its
// discovery document and JWKS are GitHub's, its RSA keys are made by the
// test, and it signs any claims, also in the ways a forger would (another
// key, a key id it does not publish, alg none, HS256 keyed with its public
// key). TokenService serves the runner's ACTIONS_ID_TOKEN_REQUEST_URL
// protocol, for tests of what fetches tokens in a workflow job.
package oidctest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"hash/fnv"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Claims are a token's claims, as JSON values: tests set, change and delete
// any of them.
type Claims map[string]any

// Issuer is a loopback OIDC issuer. Its methods are safe for concurrent
// use, Sign from the test's goroutine only (it fails the test).
type Issuer struct {
	// URL is the issuer, the value of its tokens' iss claim.
	URL string
	// Now is the clock of the claims Claims makes; set it before the
	// first token is made.
	Now func() time.Time

	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	key         *rsa.PrivateKey
	kid         string
	editDoc     func(map[string]any)
	unavailable bool

	discoveryFetches, jwksFetches atomic.Int64
}

// NewIssuer starts an issuer with a fresh signing key, closed when the test
// ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{Now: time.Now, t: t}
	i.key = NewKey(t)
	i.kid = KeyID(&i.key.PublicKey)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET /.well-known/jwks", i.serveJWKS)
	i.srv = httptest.NewServer(mux)
	i.URL = i.srv.URL
	t.Cleanup(i.srv.Close)
	return i
}

// Close stops the issuer, so that it cannot be reached.
func (i *Issuer) Close() { i.srv.Close() }

// NewKey makes an RSA key of the size GitHub's are.
func NewKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate RSA key: %v", err)
	}
	return key
}

// KeyID is the key id the issuer gives key, hex as GitHub's are.
func KeyID(key *rsa.PublicKey) string {
	sum := sha256.Sum256(key.N.Bytes())
	return strings.ToUpper(hex.EncodeToString(sum[:20]))
}

// Key returns the signing key and its id.
func (i *Issuer) Key() (*rsa.PrivateKey, string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.key, i.kid
}

// Rotate retires the signing key for a new one: from now on the JWKS
// publishes only the new key, and tokens are signed with it.
func (i *Issuer) Rotate() {
	key := NewKey(i.t)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.key, i.kid = key, KeyID(&key.PublicKey)
}

// SetUnavailable makes the discovery document and the JWKS answer 503
// Service Unavailable (down true) or be served again (false).
func (i *Issuer) SetUnavailable(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.unavailable = down
}

// EditDiscovery has edit change the discovery document before it is served,
// say to name another issuer or another jwks_uri.
func (i *Issuer) EditDiscovery(edit func(doc map[string]any)) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.editDoc = edit
}

// DiscoveryFetches and JWKSFetches count the requests for the discovery
// document and for the JWKS.
func (i *Issuer) DiscoveryFetches() int { return int(i.discoveryFetches.Load()) }
func (i *Issuer) JWKSFetches() int      { return int(i.jwksFetches.Load()) }

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	i.discoveryFetches.Add(1)
	i.mu.Lock()
	down, edit := i.unavailable, i.editDoc
	i.mu.Unlock()
	if down {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	// GitHub's document, with its claims_supported.
	doc := map[string]any{
		"issuer":                   i.URL,
		"jwks_uri":                 i.URL + "/.well-known/jwks",
		"subject_types_supported":  []string{"public", "pairwise"},
		"response_types_supported": []string{"id_token"},
		"claims_supported": []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha",
			"repository", "repository_id", "repository_owner", "repository_owner_id", "enterprise",
			"enterprise_id", "run_id", "run_number", "run_attempt", "actor", "actor_id", "workflow",
			"workflow_ref", "workflow_sha", "head_ref", "base_ref", "event_name", "ref_type",
			"ref_protected", "environment", "environment_node_id", "job_workflow_ref",
			"job_workflow_sha", "repository_visibility", "runner_environment", "issuer_scope"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid"},
	}
	if edit != nil {
		edit(doc)
	}
	writeJSON(w, doc)
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.jwksFetches.Add(1)
	i.mu.Lock()
	down, key, kid := i.unavailable, i.key, i.kid
	i.mu.Unlock()
	if down {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	pub := &key.PublicKey
	writeJSON(w, map[string]any{"keys": []map[string]any{{
		"kty": "RSA",
		"alg": "RS256",
		"use": "sig",
		"kid": kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Claims returns the claims GitHub gives a job of a workflow run of
// repository at sha on ref whose job runs the reusable workflow
// jobWorkflowRef (the workflow's own for a job that calls none), shaped as
// GitHub's documented example token: valid now by i.Now for five minutes,
// for the audience GitHub defaults to (https://github.com/OWNER), with a
// fresh jti and run_id. A ref refs/pull/N/merge makes it a pull_request
// run. repository_id and repository_owner_id are derived from the names;
// tests that compare them with a repository's set them.
func (i *Issuer) Claims(repository, sha, ref, jobWorkflowRef string) Claims {
	owner, _, _ := strings.Cut(repository, "/")
	now := i.Now().Truncate(time.Second)
	event, sub, refType := "push", "repo:"+repository+":ref:"+ref, "branch"
	switch {
	case strings.HasPrefix(ref, "refs/pull/"):
		event, sub, refType = "pull_request", "repo:"+repository+":pull_request", ""
	case strings.HasPrefix(ref, "refs/tags/"):
		refType = "tag"
	}
	return Claims{
		"jti":                   rand.Text(),
		"sub":                   sub,
		"aud":                   "https://github.com/" + owner,
		"ref":                   ref,
		"sha":                   sha,
		"repository":            repository,
		"repository_owner":      owner,
		"actor_id":              "12",
		"repository_visibility": "private",
		"repository_id":         numericID(repository),
		"repository_owner_id":   numericID(owner),
		"run_id":                strconv.FormatInt(time.Now().UnixNano()%1e10, 10),
		"run_number":            "10",
		"run_attempt":           "1",
		"runner_environment":    "github-hosted",
		"actor":                 "octocat",
		"workflow":              "modelgate",
		"workflow_ref":          repository + "/.github/workflows/modelgate.yml@" + ref,
		"workflow_sha":          sha,
		"head_ref":              "",
		"base_ref":              "",
		"event_name":            event,
		"ref_type":              refType,
		"job_workflow_ref":      jobWorkflowRef,
		"job_workflow_sha":      fakeSHA(jobWorkflowRef),
		"iss":                   i.URL,
		"nbf":                   now.Add(-10 * time.Minute).Unix(),
		"exp":                   now.Add(5 * time.Minute).Unix(),
		"iat":                   now.Unix(),
	}
}

func numericID(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return strconv.FormatUint(uint64(h.Sum32()), 10)
}

func fakeSHA(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// SignOption makes Sign forge a token.
type SignOption func(*signing)

type signing struct {
	key  *rsa.PrivateKey
	kid  string
	alg  jose.SignatureAlgorithm
	hmac bool
}

// SignedWith signs with key instead of the issuer's, under the issuer's key
// id unless KeyIDHeader says otherwise: a bad signature.
func SignedWith(key *rsa.PrivateKey) SignOption { return func(s *signing) { s.key = key } }

// KeyIDHeader names kid in the token's header ("": no kid at all).
func KeyIDHeader(kid string) SignOption { return func(s *signing) { s.kid = kid } }

// AlgNone makes an unsigned token, alg "none".
func AlgNone() SignOption { return func(s *signing) { s.alg = "none" } }

// HS256WithPublicKey signs with HMAC-SHA256 keyed with the PEM of the
// issuer's public key, which a verifier that lets the token choose the
// algorithm would check with that key.
func HS256WithPublicKey() SignOption {
	return func(s *signing) { s.alg, s.hmac = jose.HS256, true }
}

// Sign returns claims as a token signed by the issuer's current key, or
// forged as opts say.
func (i *Issuer) Sign(claims Claims, opts ...SignOption) string {
	i.t.Helper()
	token, err := i.sign(claims, opts...)
	if err != nil {
		i.t.Fatalf("sign token: %v", err)
	}
	return token
}

func (i *Issuer) sign(claims Claims, opts ...SignOption) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	key, kid := i.Key()
	s := signing{key: key, kid: kid, alg: jose.RS256}
	for _, opt := range opts {
		opt(&s)
	}
	header := map[string]any{"typ": "JWT", "alg": s.alg}
	if s.kid != "" {
		header["kid"] = s.kid
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	signingInput := b64(h) + "." + b64(payload)
	var sig []byte
	switch {
	case s.alg == "none":
	case s.hmac:
		der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		mac.Write([]byte(signingInput))
		sig = mac.Sum(nil)
	default:
		return signRS256(s, payload)
	}
	return signingInput + "." + b64(sig), nil
}

// signRS256 signs with go-jose, as an issuer would.
func signRS256(s signing, payload []byte) (string, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if s.kid != "" {
		opts = opts.WithHeader("kid", s.kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: s.key}, opts)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TokenService serves the protocol a workflow job fetches its OIDC token
// with: GET ACTIONS_ID_TOKEN_REQUEST_URL (which has a query of its own)
// with &audience=AUD added and Authorization: Bearer
// ACTIONS_ID_TOKEN_REQUEST_TOKEN, answered {"value": "<token>"}.
type TokenService struct {
	// URL and RequestToken are the job's ACTIONS_ID_TOKEN_REQUEST_URL and
	// ACTIONS_ID_TOKEN_REQUEST_TOKEN.
	URL, RequestToken string

	requests atomic.Int64
}

// TokenService starts a token service, closed when the test ends, that
// answers each request with a token of the claims claims returns (called
// once per request, so a Claims-made set has a fresh jti each time), its
// aud set to the requested audience when one is, signed as opts say.
func (i *Issuer) TokenService(claims func() Claims, opts ...SignOption) *TokenService {
	s := &TokenService{RequestToken: rand.Text()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/idtoken" || r.URL.Query().Get("api-version") != "2.0" {
			http.Error(w, "no such endpoint", http.StatusNotFound)
			return
		}
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "bearer") || subtle.ConstantTimeCompare([]byte(token), []byte(s.RequestToken)) != 1 {
			http.Error(w, "bad request token", http.StatusUnauthorized)
			return
		}
		c := claims()
		if aud := r.URL.Query().Get("audience"); aud != "" {
			c["aud"] = aud
		}
		jwt, err := i.sign(c, opts...)
		if err != nil {
			i.t.Errorf("token service: sign: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, map[string]string{"value": jwt})
	}))
	i.t.Cleanup(srv.Close)
	s.URL = srv.URL + "/idtoken?api-version=2.0"
	return s
}

// Requests counts the requests the service got, refused ones included.
func (s *TokenService) Requests() int { return int(s.requests.Load()) }

// Environ returns the variables of a job that may fetch tokens from s.
func (s *TokenService) Environ() []string {
	return []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + s.URL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + s.RequestToken}
}

package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/oidc"
	"github.com/modelgate/modelgate/internal/oidctest"
)

const (
	audience = "https://modelgate.example.com"
	repo     = "acme/gitops"
	sha      = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	ref      = "refs/pull/12/merge"
	workflow = "acme/fraud-training/.github/workflows/evidence.yml@refs/heads/main"
)

// clock is a settable clock shared by the issuer and the verifier.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	iss   *oidctest.Issuer
	clock *clock
	v     *oidc.Verifier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	clk := &clock{now: time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)}
	iss := oidctest.NewIssuer(t)
	iss.Now = clk.Now
	v, err := oidc.New(oidc.Config{Issuer: iss.URL, Audience: audience, Now: clk.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{iss: iss, clock: clk, v: v}
}

// claims is a valid claim set for the verifier's audience.
func (f *fixture) claims() oidctest.Claims {
	c := f.iss.Claims(repo, sha, ref, workflow)
	c["aud"] = audience
	return c
}

func TestVerifyAcceptsGitHubToken(t *testing.T) {
	f := newFixture(t)
	c := f.claims()
	got, err := f.v.Verify(t.Context(), f.iss.Sign(c))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	now := f.clock.Now()
	want := oidc.Claims{
		Issuer: f.iss.URL, Subject: "repo:acme/gitops:pull_request", Audience: []string{audience},
		ID: c["jti"].(string), IssuedAt: now, NotBefore: now.Add(-10 * time.Minute), Expiry: now.Add(5 * time.Minute),
		Repository: repo, RepositoryID: c["repository_id"].(string), RepositoryOwner: "acme",
		RepositoryOwnerID: c["repository_owner_id"].(string), Ref: ref, SHA: sha, EventName: "pull_request",
		Workflow: "modelgate", WorkflowRef: "acme/gitops/.github/workflows/modelgate.yml@" + ref,
		JobWorkflowRef: workflow, JobWorkflowSHA: c["job_workflow_sha"].(string), RunID: c["run_id"].(string),
		RunAttempt: "1", Actor: "octocat", ActorID: "12",
	}
	if fmt.Sprint(*got) != fmt.Sprint(want) || !got.IssuedAt.Equal(want.IssuedAt) || !got.Expiry.Equal(want.Expiry) {
		t.Errorf("claims:\n got %+v\nwant %+v", *got, want)
	}
}

// TestVerifyRefusesForgeries covers every forged or unfit token: each gets
// an *oidc.Error with the reason that names what is wrong with it.
func TestVerifyRefusesForgeries(t *testing.T) {
	f := newFixture(t)
	other := oidctest.NewKey(t)
	anotherIssuer := oidctest.NewIssuer(t)
	anotherIssuer.Now = f.clock.Now
	now := f.clock.Now()
	with := func(edit func(oidctest.Claims)) oidctest.Claims {
		c := f.claims()
		edit(c)
		return c
	}
	tests := []struct {
		name   string
		token  func() string
		reason string
	}{
		{"expired", func() string {
			return f.iss.Sign(with(func(c oidctest.Claims) { c["exp"] = now.Add(-61 * time.Second).Unix() }))
		}, oidc.ReasonExpired},
		{"not yet valid", func() string {
			return f.iss.Sign(with(func(c oidctest.Claims) { c["nbf"] = now.Add(61 * time.Second).Unix() }))
		}, oidc.ReasonNotYetValid},
		{"issued in the future", func() string {
			return f.iss.Sign(with(func(c oidctest.Claims) { c["iat"] = now.Add(61 * time.Second).Unix() }))
		}, oidc.ReasonNotYetValid},
		{"wrong audience (GitHub's default)", func() string {
			return f.iss.Sign(f.iss.Claims(repo, sha, ref, workflow))
		}, oidc.ReasonAudience},
		{"wrong audience in a list", func() string {
			return f.iss.Sign(with(func(c oidctest.Claims) { c["aud"] = []string{"https://other.example.com", "x"} }))
		}, oidc.ReasonAudience},
		{"no audience", func() string { return f.iss.Sign(with(func(c oidctest.Claims) { delete(c, "aud") })) }, oidc.ReasonAudience},
		{"wrong issuer", func() string {
			return f.iss.Sign(with(func(c oidctest.Claims) { c["iss"] = oidc.GitHubIssuer }))
		}, oidc.ReasonIssuer},
		{"another issuer's token", func() string {
			c := anotherIssuer.Claims(repo, sha, ref, workflow)
			c["aud"] = audience
			return anotherIssuer.Sign(c)
		}, oidc.ReasonUnknownKey},
		{"bad signature: another key under the issuer's key id", func() string {
			return f.iss.Sign(f.claims(), oidctest.SignedWith(other))
		}, oidc.ReasonSignature},
		{"bad signature: payload changed after signing", func() string {
			parts := strings.Split(f.iss.Sign(f.claims()), ".")
			payload, _ := json.Marshal(with(func(c oidctest.Claims) { c["repository"] = "mallory/gitops" }))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		}, oidc.ReasonSignature},
		{"unknown key", func() string {
			return f.iss.Sign(f.claims(), oidctest.SignedWith(other), oidctest.KeyIDHeader(oidctest.KeyID(&other.PublicKey)))
		}, oidc.ReasonUnknownKey},
		{"no key id", func() string { return f.iss.Sign(f.claims(), oidctest.KeyIDHeader("")) }, oidc.ReasonUnknownKey},
		{"alg none", func() string { return f.iss.Sign(f.claims(), oidctest.AlgNone()) }, oidc.ReasonAlgorithm},
		{"HS256 keyed with the public key", func() string { return f.iss.Sign(f.claims(), oidctest.HS256WithPublicKey()) }, oidc.ReasonAlgorithm},
		{"empty", func() string { return "" }, oidc.ReasonMalformed},
		{"not a JWT", func() string { return "ghs_16C7e42F292c6912E7710c838347Ae178B4a" }, oidc.ReasonMalformed},
		{"JSON serialization", func() string {
			parts := strings.Split(f.iss.Sign(f.claims()), ".")
			return fmt.Sprintf(`{"protected":%q,"payload":%q,"signature":%q}`, parts[0], parts[1], parts[2])
		}, oidc.ReasonMalformed},
		{"too long", func() string {
			return f.iss.Sign(with(func(c oidctest.Claims) { c["padding"] = strings.Repeat("x", 20<<10) }))
		}, oidc.ReasonMalformed},
		{"repository_id a number", func() string {
			return f.iss.Sign(with(func(c oidctest.Claims) { c["repository_id"] = 74 }))
		}, oidc.ReasonMalformed},
		{"exp a string", func() string {
			return f.iss.Sign(with(func(c oidctest.Claims) { c["exp"] = "tomorrow" }))
		}, oidc.ReasonMalformed},
	}
	for _, claim := range []string{"repository", "repository_id", "sha", "ref", "job_workflow_ref", "run_id", "jti", "exp", "iat"} {
		tests = append(tests, struct {
			name   string
			token  func() string
			reason string
		}{"no " + claim, func() string { return f.iss.Sign(with(func(c oidctest.Claims) { delete(c, claim) })) }, oidc.ReasonClaims})
		if claim != "exp" && claim != "iat" {
			tests = append(tests, struct {
				name   string
				token  func() string
				reason string
			}{"empty " + claim, func() string { return f.iss.Sign(with(func(c oidctest.Claims) { c[claim] = "" })) }, oidc.ReasonClaims})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := f.v.Verify(t.Context(), tt.token())
			var oerr *oidc.Error
			if !errors.As(err, &oerr) {
				t.Fatalf("Verify = %+v, %v; want an *oidc.Error %s", claims, err, tt.reason)
			}
			if oerr.Reason != tt.reason {
				t.Errorf("reason %s (%v), want %s", oerr.Reason, err, tt.reason)
			}
			if claims != nil {
				t.Errorf("claims %+v returned with the error", claims)
			}
		})
	}
}

// TestVerifyLeeway: a clock up to the leeway behind or ahead of the
// issuer's does not refuse a token.
func TestVerifyLeeway(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	for name, edit := range map[string]func(oidctest.Claims){
		"expired within the leeway":         func(c oidctest.Claims) { c["exp"] = now.Add(-59 * time.Second).Unix() },
		"not yet valid within the leeway":   func(c oidctest.Claims) { c["nbf"] = now.Add(59 * time.Second).Unix() },
		"issued ahead within the leeway":    func(c oidctest.Claims) { c["iat"] = now.Add(59 * time.Second).Unix() },
		"no nbf":                            func(c oidctest.Claims) { delete(c, "nbf") },
		"audience in a list":                func(c oidctest.Claims) { c["aud"] = []string{"https://other.example.com", audience} },
		"claims GitHub may add are ignored": func(c oidctest.Claims) { c["enterprise"] = "acme-corp"; c["ref_protected"] = "true" },
	} {
		t.Run(name, func(t *testing.T) {
			c := f.claims()
			edit(c)
			if _, err := f.v.Verify(t.Context(), f.iss.Sign(c)); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyFetchesDiscoveryAndKeysOnce(t *testing.T) {
	f := newFixture(t)
	for range 20 {
		if _, err := f.v.Verify(t.Context(), f.iss.Sign(f.claims())); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	if d, k := f.iss.DiscoveryFetches(), f.iss.JWKSFetches(); d != 1 || k != 1 {
		t.Errorf("20 verifications fetched discovery %d and JWKS %d times, want 1 and 1", d, k)
	}
}

func TestVerifyFollowsRotation(t *testing.T) {
	f := newFixture(t)
	oldKey, oldKID := f.iss.Key()
	if _, err := f.v.Verify(t.Context(), f.iss.Sign(f.claims())); err != nil {
		t.Fatalf("Verify before rotation: %v", err)
	}
	f.iss.Rotate()
	f.clock.Advance(time.Minute)
	for range 10 {
		if _, err := f.v.Verify(t.Context(), f.iss.Sign(f.claims())); err != nil {
			t.Fatalf("Verify of a token of the new key: %v", err)
		}
	}
	if got := f.iss.JWKSFetches(); got != 2 {
		t.Errorf("JWKS fetched %d times for one rotation, want 2 (before and after)", got)
	}
	old := f.iss.Sign(f.claims(), oidctest.SignedWith(oldKey), oidctest.KeyIDHeader(oldKID))
	if _, err := f.v.Verify(t.Context(), old); reason(err) != oidc.ReasonUnknownKey {
		t.Errorf("Verify of a token of the retired key: %v, want %s", err, oidc.ReasonUnknownKey)
	}
	if d := f.iss.DiscoveryFetches(); d != 1 {
		t.Errorf("discovery fetched %d times, want 1", d)
	}
}

// TestVerifyWithdrawnKey: a key the issuer no longer publishes stops
// verifying once the cached JWKS is old, even without a token of a new key
// to make the verifier look.
func TestVerifyWithdrawnKey(t *testing.T) {
	f := newFixture(t)
	oldKey, oldKID := f.iss.Key()
	if _, err := f.v.Verify(t.Context(), f.iss.Sign(f.claims())); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	f.iss.Rotate()
	f.clock.Advance(59 * time.Minute)
	old := func() string {
		return f.iss.Sign(f.claims(), oidctest.SignedWith(oldKey), oidctest.KeyIDHeader(oldKID))
	}
	if _, err := f.v.Verify(t.Context(), old()); err != nil {
		t.Fatalf("Verify with the cached JWKS: %v", err)
	}
	f.clock.Advance(2 * time.Minute)
	if _, err := f.v.Verify(t.Context(), old()); reason(err) != oidc.ReasonUnknownKey {
		t.Errorf("Verify of the withdrawn key's token after an hour: %v, want %s", err, oidc.ReasonUnknownKey)
	}
	if got := f.iss.JWKSFetches(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2", got)
	}
}

// TestVerifyUnknownKeysCannotFloodIssuer: tokens naming keys the issuer
// does not publish make the verifier fetch the JWKS at most once per
// refetch interval, however many there are, sequential or concurrent.
func TestVerifyUnknownKeysCannotFloodIssuer(t *testing.T) {
	f := newFixture(t)
	if _, err := f.v.Verify(t.Context(), f.iss.Sign(f.claims())); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	forged := make([]string, 50)
	for i := range forged {
		// Any key will do: only the header's kid is read before refusal.
		forged[i] = f.iss.Sign(f.claims(), oidctest.KeyIDHeader(fmt.Sprintf("forged-%d", i)))
	}
	flood := func() {
		var wg sync.WaitGroup
		for _, token := range forged {
			wg.Go(func() {
				if _, err := f.v.Verify(t.Context(), token); reason(err) != oidc.ReasonUnknownKey {
					t.Errorf("Verify of an unknown key's token: %v", err)
				}
			})
			wg.Go(func() {
				if _, err := f.v.Verify(t.Context(), f.iss.Sign(f.claims())); err != nil {
					t.Errorf("Verify of a valid token amid the flood: %v", err)
				}
			})
		}
		wg.Wait()
	}
	flood()
	if got := f.iss.JWKSFetches(); got != 1 {
		t.Errorf("JWKS fetched %d times, want 1: unknown kids inside the interval must not refetch", got)
	}
	f.clock.Advance(31 * time.Second)
	flood()
	if got := f.iss.JWKSFetches(); got != 2 {
		t.Errorf("JWKS fetched %d times after the interval, want 2", got)
	}
}

func TestVerifyIssuerUnreachable(t *testing.T) {
	t.Run("closed", func(t *testing.T) {
		f := newFixture(t)
		token := f.iss.Sign(f.claims())
		f.iss.Close()
		assertPlainError(t, f, token)
	})
	t.Run("unavailable, then back", func(t *testing.T) {
		f := newFixture(t)
		f.iss.SetUnavailable(true)
		token := f.iss.Sign(f.claims())
		assertPlainError(t, f, token)
		f.iss.SetUnavailable(false)
		// Inside the interval the failure stands, without asking again.
		assertPlainError(t, f, token)
		if d := f.iss.DiscoveryFetches(); d != 1 {
			t.Errorf("discovery fetched %d times inside the interval, want 1", d)
		}
		f.clock.Advance(31 * time.Second)
		if _, err := f.v.Verify(t.Context(), f.iss.Sign(f.claims())); err != nil {
			t.Errorf("Verify once the issuer is back: %v", err)
		}
	})
	t.Run("JWKS unavailable", func(t *testing.T) {
		f := newFixture(t)
		if _, err := f.v.Verify(t.Context(), f.iss.Sign(f.claims())); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		f.iss.Rotate()
		f.iss.SetUnavailable(true)
		f.clock.Advance(time.Minute)
		assertPlainError(t, f, f.iss.Sign(f.claims()))
		f.iss.SetUnavailable(false)
		f.clock.Advance(time.Minute)
		if _, err := f.v.Verify(t.Context(), f.iss.Sign(f.claims())); err != nil {
			t.Errorf("Verify once the JWKS is back: %v", err)
		}
		if d := f.iss.DiscoveryFetches(); d != 1 {
			t.Errorf("discovery fetched %d times, want 1: the document once had is kept", d)
		}
	})
	t.Run("discovery names another issuer", func(t *testing.T) {
		f := newFixture(t)
		f.iss.EditDiscovery(func(doc map[string]any) { doc["issuer"] = oidc.GitHubIssuer })
		assertPlainError(t, f, f.iss.Sign(f.claims()))
	})
	t.Run("discovery names a JWKS over http to another host", func(t *testing.T) {
		f := newFixture(t)
		f.iss.EditDiscovery(func(doc map[string]any) { doc["jwks_uri"] = "http://keys.example.com/.well-known/jwks" })
		// keys.example.com resolves to the issuer, as it would for anyone
		// in the path of plain http: only the scheme stands in the way.
		issuerAddr := strings.TrimPrefix(f.iss.URL, "http://")
		var d net.Dialer
		client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, issuerAddr)
		}}}
		var err error
		f.v, err = oidc.New(oidc.Config{Issuer: f.iss.URL, Audience: audience, Now: f.clock.Now, Client: client})
		if err != nil {
			t.Fatal(err)
		}
		assertPlainError(t, f, f.iss.Sign(f.claims()))
		if k := f.iss.JWKSFetches(); k != 0 {
			t.Errorf("the JWKS was fetched over http from a host that is not loopback %d times", k)
		}
	})
}

func assertPlainError(t *testing.T, f *fixture, token string) {
	t.Helper()
	claims, err := f.v.Verify(t.Context(), token)
	if err == nil {
		t.Fatalf("Verify = %+v, want an error", claims)
	}
	if oerr, ok := errors.AsType[*oidc.Error](err); ok {
		t.Errorf("Verify: %v is a verdict (%s) on the token; the issuer could not be used", err, oerr.Reason)
	}
}

func reason(err error) string {
	if oerr, ok := errors.AsType[*oidc.Error](err); ok {
		return oerr.Reason
	}
	return fmt.Sprintf("not an *oidc.Error: %v", err)
}

func TestNewRefusesConfig(t *testing.T) {
	for name, cfg := range map[string]oidc.Config{
		"no issuer":                {Audience: audience},
		"http to a remote host":    {Issuer: "http://token.actions.githubusercontent.com", Audience: audience},
		"http to a private host":   {Issuer: "http://10.0.0.1", Audience: audience},
		"another scheme":           {Issuer: "ftp://127.0.0.1", Audience: audience},
		"relative":                 {Issuer: "token.actions.githubusercontent.com", Audience: audience},
		"with a query":             {Issuer: "https://issuer.example.com/?x=1", Audience: audience},
		"with credentials":         {Issuer: "https://user:pw@issuer.example.com", Audience: audience},
		"no audience":              {Issuer: oidc.GitHubIssuer},
		"negative leeway":          {Issuer: oidc.GitHubIssuer, Audience: audience, Leeway: -time.Second},
		"http to localhost.evil":   {Issuer: "http://localhost.example.com", Audience: audience},
		"http to 127.0.0.1.nip.io": {Issuer: "http://127.0.0.1.nip.io", Audience: audience},
	} {
		if _, err := oidc.New(cfg); err == nil {
			t.Errorf("%s: New(%+v) accepted", name, cfg)
		}
	}
	for _, issuer := range []string{oidc.GitHubIssuer, "https://ghe.example.com/_services/token", "http://127.0.0.1:8080", "http://127.9.9.9", "http://localhost:1234", "http://[::1]:99"} {
		if _, err := oidc.New(oidc.Config{Issuer: issuer, Audience: audience}); err != nil {
			t.Errorf("New(%s): %v", issuer, err)
		}
	}
}

func TestDefaultIssuer(t *testing.T) {
	for api, want := range map[string]string{
		"":                                    "https://token.actions.githubusercontent.com",
		"https://api.github.com":              "https://token.actions.githubusercontent.com",
		"https://api.github.com/":             "https://token.actions.githubusercontent.com",
		"https://ghe.example.com/api/v3":      "https://ghe.example.com/_services/token",
		"https://ghe.example.com/api/v3/":     "https://ghe.example.com/_services/token",
		"https://ghe.example.com:8443/api/v3": "https://ghe.example.com:8443/_services/token",
		"https://api.octocorp.ghe.com":        "https://token.actions.octocorp.ghe.com",
		"://bad":                              "",
	} {
		if got := oidc.DefaultIssuer(api); got != want {
			t.Errorf("DefaultIssuer(%q) = %q, want %q", api, got, want)
		}
	}
}

package oidctest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/oidc"
	"github.com/modelgate/modelgate/internal/oidctest"
)

// fetch does what a workflow step does with ACTIONS_ID_TOKEN_REQUEST_URL.
func fetch(t *testing.T, s *oidctest.TokenService, requestToken, audience string) (int, string) {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if audience != "" {
		q.Set("audience", audience)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "bearer "+requestToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var body struct {
		Value string `json:"value"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("decode: %v", err)
		}
	}
	return resp.StatusCode, body.Value
}

func TestTokenService(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	s := iss.TokenService(func() oidctest.Claims {
		return iss.Claims("acme/gitops", "6dcb09b5b57875f334f61aebed695e2e4193db5e", "refs/heads/main", "acme/ml/.github/workflows/e.yml@refs/heads/main")
	})
	v, err := oidc.New(oidc.Config{Issuer: iss.URL, Audience: "https://modelgate.example.com"})
	if err != nil {
		t.Fatal(err)
	}

	code, token := fetch(t, s, s.RequestToken, "https://modelgate.example.com")
	if code != http.StatusOK {
		t.Fatalf("token request answered %d", code)
	}
	claims, err := v.Verify(t.Context(), token)
	if err != nil {
		t.Fatalf("Verify of the service's token: %v", err)
	}
	if claims.Repository != "acme/gitops" || claims.EventName != "push" || time.Until(claims.Expiry) <= 0 {
		t.Errorf("claims %+v", claims)
	}
	_, again := fetch(t, s, s.RequestToken, "https://modelgate.example.com")
	if second, err := v.Verify(t.Context(), again); err != nil || second.ID == claims.ID {
		t.Errorf("second token: %+v, %v; want a fresh jti", second, err)
	}

	// Without an audience the token is for GitHub's default, the owner.
	_, token = fetch(t, s, s.RequestToken, "")
	if _, err := v.Verify(t.Context(), token); err == nil {
		t.Error("a token for the default audience verified for the App's")
	}
	if code, _ := fetch(t, s, "wrong", "https://modelgate.example.com"); code != http.StatusUnauthorized {
		t.Errorf("a wrong request token was answered %d, want 401", code)
	}
	if got := s.Requests(); got != 4 {
		t.Errorf("Requests() = %d, want 4", got)
	}
}

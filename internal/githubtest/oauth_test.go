package githubtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/githubtest"
)

// authorize runs GET /login/oauth/authorize and returns where the emulator
// sends the browser back.
func authorize(t *testing.T, gh *githubtest.Server, q url.Values) (int, *url.URL) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(gh.URL() + "/login/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, loc
}

// exchange posts to /login/oauth/access_token and returns GitHub's answer,
// form encoded as GitHub sends it by default.
func exchange(t *testing.T, gh *githubtest.Server, form url.Values) url.Values {
	t.Helper()
	resp, err := http.PostForm(gh.URL()+"/login/oauth/access_token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("access_token: %d %s %v", resp.StatusCode, data, err)
	}
	v, err := url.ParseQuery(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOAuthWebFlow(t *testing.T) {
	gh := githubtest.New(t)
	gh.AddApp(appID, "modelgate", nil)
	gh.AddInstallation(appID, org)
	gh.AddTeamMember(org, "reviewers", "rita")
	const callback = "https://modelgate.example.com/callback"
	id, secret := gh.OAuthClient(appID, callback)
	q := url.Values{"client_id": {id}, "redirect_uri": {callback}, "state": {"s1"}}

	if status, _ := authorize(t, gh, q); status != http.StatusUnauthorized {
		t.Fatalf("authorize with nobody signed in: %d, want 401", status)
	}
	gh.SignIn("rita")
	status, back := authorize(t, gh, q)
	code := back.Query().Get("code")
	if status != http.StatusFound || !strings.HasPrefix(back.String(), callback+"?") || back.Query().Get("state") != "s1" || code == "" {
		t.Fatalf("authorize: %d to %s, want the callback with a code and the state", status, back)
	}
	wrong := url.Values{"client_id": {id}, "redirect_uri": {"https://evil.example/callback"}, "state": {"s2"}}
	if _, back := authorize(t, gh, wrong); back.Query().Get("error") != "redirect_uri_mismatch" || back.Query().Get("code") != "" {
		t.Errorf("authorize with another redirect_uri sent the browser to %s", back)
	}

	form := url.Values{"client_id": {id}, "client_secret": {"wrong"}, "code": {code}, "redirect_uri": {callback}}
	if got := exchange(t, gh, form).Get("error"); got != "incorrect_client_credentials" {
		t.Errorf("a wrong client secret: error %q", got)
	}
	form.Set("client_secret", secret)
	form.Set("redirect_uri", "https://evil.example/callback")
	if got := exchange(t, gh, form).Get("error"); got != "redirect_uri_mismatch" {
		t.Errorf("another redirect_uri: error %q", got)
	}
	form.Set("redirect_uri", callback)
	answer := exchange(t, gh, form)
	token := answer.Get("access_token")
	if !strings.HasPrefix(token, "ghu_") || answer.Get("token_type") != "bearer" || answer.Get("expires_in") != "28800" {
		t.Fatalf("the exchange answered %v", answer)
	}
	if got := exchange(t, gh, form).Get("error"); got != "bad_verification_code" {
		t.Errorf("a code used twice: error %q", got)
	}

	user := newClient(t, gh, "Bearer "+token)
	u, _, err := user.Users.Get(context.Background(), "")
	if err != nil || u.GetLogin() != "rita" {
		t.Fatalf("GET /user with rita's token = %v, %v", u, err)
	}
	if m, _, err := user.Teams.GetTeamMembershipBySlug(context.Background(), org, "reviewers", "rita"); err != nil || m.GetState() != "active" {
		t.Errorf("rita's own membership with her token = %v, %v", m, err)
	}
	gh.RemoveTeamMember(org, "reviewers", "rita")
	if _, _, err := user.Teams.GetTeamMembershipBySlug(context.Background(), org, "reviewers", "rita"); statusOf(err) != http.StatusNotFound {
		t.Errorf("a removed member's membership: %v, want 404", err)
	}
	inst := newClient(t, gh, "token "+gh.InstallationToken(gh.AddInstallation(appID, "other")))
	if _, _, err := inst.Users.Get(context.Background(), ""); statusOf(err) != http.StatusForbidden {
		t.Errorf("GET /user with an installation token: %v, want 403", err)
	}
}

func TestOAuthTokenAsJSON(t *testing.T) {
	gh := githubtest.New(t)
	gh.AddApp(appID, "modelgate", nil)
	const callback = "http://127.0.0.1:1/callback"
	id, secret := gh.OAuthClient(appID, callback)
	gh.SignIn("rita")
	_, back := authorize(t, gh, url.Values{"client_id": {id}, "state": {"s"}})
	req, err := http.NewRequest(http.MethodPost, gh.URL()+"/login/oauth/access_token",
		strings.NewReader(url.Values{"code": {back.Query().Get("code")}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" || body.ExpiresIn != 28800 {
		t.Fatalf("JSON answer %+v, %v", body, err)
	}
}

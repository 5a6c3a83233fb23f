package service_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"github.com/modelgate/modelgate/app/access"
)

// reviewers is the sign-in configuration of the App at w.url for team.
func (w *world) reviewers(team string) *access.Config {
	w.t.Helper()
	t, err := access.ParseTeam(team)
	if err != nil {
		w.t.Fatal(err)
	}
	id, secret := w.gh.OAuthClient(appID, w.url+"/callback")
	key := make([]byte, access.MinKeyLength)
	rand.Read(key)
	return &access.Config{ClientID: id, ClientSecret: secret, SessionKey: key, PublicURL: w.url, Teams: []access.Team{t}}
}

func TestReviewersSignIn(t *testing.T) {
	w := newWorld(t, t.TempDir()+"/modelgate.db", options{reviewers: "acme/compliance"})
	w.gh.SignIn("bob")
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(w.url + "/login?next=/api/v1/user")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var who access.Reviewer
	if err := json.NewDecoder(resp.Body).Decode(&who); err != nil || resp.StatusCode != http.StatusOK || who.Login != "bob" {
		t.Fatalf("signed in to %s: %d %+v %v", resp.Request.URL, resp.StatusCode, who, err)
	}
	resp, err = http.Get(w.url + "/api/v1/user")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /api/v1/user without a session: %d, want 401", resp.StatusCode)
	}
}

func TestNoReviewersUIWithoutSignIn(t *testing.T) {
	w := newWorld(t, t.TempDir()+"/modelgate.db", options{})
	for _, path := range []string{"/login", "/callback", "/api/v1/user"} {
		resp, err := http.Get(w.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s without a sign-in configured: %d, want 404", path, resp.StatusCode)
		}
	}
}

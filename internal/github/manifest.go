package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	gh "github.com/google/go-github/v62/github"
)

// AppCredentials are what GitHub gives once for an App registered from a
// manifest.
type AppCredentials struct {
	ID            int64
	Slug          string
	PrivateKey    []byte // PEM
	WebhookSecret string
	ClientID      string
	ClientSecret  string
}

// CompleteAppManifest exchanges the code GitHub sent back after registering
// an App from a manifest for the App's credentials. baseURL and transport
// are as in Config. The code is the only credential: it is valid once, for
// an hour.
func CompleteAppManifest(ctx context.Context, baseURL string, transport http.RoundTripper, code string) (AppCredentials, error) {
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return AppCredentials{}, fmt.Errorf("github app manifest: base URL: %w", err)
	}
	if transport == nil {
		transport = http.DefaultTransport
	}
	c := gh.NewClient(&http.Client{Transport: transport})
	c.BaseURL = base
	cfg, _, err := c.Apps.CompleteAppManifest(ctx, code)
	if err != nil {
		return AppCredentials{}, fmt.Errorf("github app manifest: exchange the code: %w", err)
	}
	out := AppCredentials{ID: cfg.GetID(), Slug: cfg.GetSlug(), PrivateKey: []byte(cfg.GetPEM()),
		WebhookSecret: cfg.GetWebhookSecret(), ClientID: cfg.GetClientID(), ClientSecret: cfg.GetClientSecret()}
	if out.ID <= 0 || len(out.PrivateKey) == 0 || out.WebhookSecret == "" || out.ClientID == "" || out.ClientSecret == "" {
		return AppCredentials{}, errors.New("github app manifest: GitHub's answer lacks the App's id, key, webhook secret or OAuth client")
	}
	if _, err := parseKey(out.PrivateKey); err != nil {
		return AppCredentials{}, fmt.Errorf("github app manifest: the App's private key: %w", err)
	}
	return out, nil
}

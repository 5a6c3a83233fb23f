package app

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// manifestYAML is the App's GitHub App manifest, app.yml.
//
//go:embed app.yml
var manifestYAML []byte

// Manifest is a GitHub App manifest: what GitHub registers an App from.
type Manifest struct {
	Name               string            `yaml:"name" json:"name"`
	URL                string            `yaml:"url" json:"url"`
	Description        string            `yaml:"description" json:"description,omitempty"`
	HookAttributes     HookAttributes    `yaml:"hook_attributes" json:"hook_attributes"`
	RedirectURL        string            `yaml:"redirect_url" json:"redirect_url"`
	CallbackURLs       []string          `yaml:"callback_urls" json:"callback_urls"`
	Public             bool              `yaml:"public" json:"public"`
	DefaultPermissions map[string]string `yaml:"default_permissions" json:"default_permissions"`
	DefaultEvents      []string          `yaml:"default_events" json:"default_events"`
}

// HookAttributes is where GitHub delivers the App's webhooks.
type HookAttributes struct {
	URL    string `yaml:"url" json:"url"`
	Active bool   `yaml:"active" json:"active"`
}

// WebhookPath is where the App takes GitHub's deliveries, and CallbackPath
// where GitHub sends a reviewer back after signing in.
const (
	WebhookPath  = "/webhooks"
	CallbackPath = "/callback"
)

// AppManifest returns the App's manifest, app.yml.
func AppManifest() (Manifest, error) {
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(manifestYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("app.yml: %w", err)
	}
	return m, nil
}

// At returns the manifest of the App served at publicURL, whose
// registration sends the browser back to redirectURL.
func (m Manifest) At(publicURL, redirectURL string) (Manifest, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http" || u.RawQuery != "" || u.Fragment != "" {
		return Manifest{}, fmt.Errorf("public URL %q is not an http or https URL without query or fragment", publicURL)
	}
	base := strings.TrimSuffix(u.String(), "/")
	m.URL = base
	m.HookAttributes = HookAttributes{URL: base + WebhookPath, Active: true}
	m.RedirectURL = redirectURL
	m.CallbackURLs = []string{base + CallbackPath}
	return m, nil
}

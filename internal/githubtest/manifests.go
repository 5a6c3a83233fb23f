package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The App manifest flow of "Registering a GitHub App from a manifest": a
// browser POSTs a form with the manifest to /settings/apps/new (or an
// organization's /organizations/ORG/settings/apps/new), GitHub creates the
// App once its owner confirms and sends the browser to the manifest's
// redirect_url with a code and the state, and POST
// /app-manifests/{code}/conversions exchanges the code for the App's
// credentials. The new-app pages are on GitHub's web host and outside its
// OpenAPI description: the manifest is checked as GitHub's documentation
// describes it. The signed-in user (SignIn) confirms without a prompt.

// manifest is the part of an App manifest that GitHub checks.
type manifest struct {
	Name           string `json:"name"`
	URL            string `json:"url"`
	HookAttributes *struct {
		URL    string `json:"url"`
		Active *bool  `json:"active"`
	} `json:"hook_attributes"`
	RedirectURL        string            `json:"redirect_url"`
	CallbackURLs       []string          `json:"callback_urls"`
	Description        string            `json:"description"`
	Public             bool              `json:"public"`
	DefaultPermissions map[string]string `json:"default_permissions"`
	DefaultEvents      []string          `json:"default_events"`
}

// manifestApp is an App created from a manifest whose code is not yet
// exchanged.
type manifestApp struct {
	app      *app
	key      *rsa.PrivateKey
	manifest manifest
	owner    string
	expires  time.Time
}

// manifestCodeLifetime is how long GitHub accepts a manifest's code.
const manifestCodeLifetime = time.Hour

var newAppPath = regexp.MustCompile(`^(?:/settings/apps/new|/organizations/([^/]+)/settings/apps/new)$`)

// serveNewApp serves POST /settings/apps/new and
// /organizations/{org}/settings/apps/new.
func (s *Server) serveNewApp(w http.ResponseWriter, r *http.Request, org string) {
	status := s.newApp(w, r, org)
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Route: r.URL.Path, Path: r.URL.Path, Status: status})
	s.mu.Unlock()
}

func (s *Server) newApp(w http.ResponseWriter, r *http.Request, org string) int {
	if r.Method != http.MethodPost {
		s.t.Errorf("githubtest: %s %s: the emulator serves the new-app page only to a manifest's form (POST)", r.Method, r.URL.Path)
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return http.StatusMethodNotAllowed
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Problems parsing the form", http.StatusBadRequest)
		return http.StatusBadRequest
	}
	var m manifest
	if err := json.Unmarshal([]byte(r.PostForm.Get("manifest")), &m); err != nil {
		http.Error(w, "Invalid GitHub App configuration: the manifest is not JSON: "+err.Error(), http.StatusUnprocessableEntity)
		return http.StatusUnprocessableEntity
	}
	if err := m.check(); err != nil {
		http.Error(w, "Invalid GitHub App configuration: "+err.Error(), http.StatusUnprocessableEntity)
		return http.StatusUnprocessableEntity
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := s.signedIn
	if owner == "" {
		http.Error(w, "Sign in to GitHub to continue.", http.StatusUnauthorized)
		return http.StatusUnauthorized
	}
	if org != "" {
		owner = org
		s.user(org).kind = "Organization"
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		s.t.Errorf("githubtest: generate an App's key: %v", err)
		http.Error(w, "Server Error", http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	a := &app{id: s.newID(), slug: slugOf(m.Name), key: &key.PublicKey, created: s.now()}
	// Every App has OAuth client credentials; its user authorization sends
	// the browser to its first callback URL.
	a.oauth = &oauthApp{secret: rand.Text()}
	if len(m.CallbackURLs) > 0 {
		a.oauth.callback = m.CallbackURLs[0]
	}
	s.apps[a.id] = a
	s.user(a.bot()).kind = "Bot"
	code := rand.Text()
	s.manifestCodes[code] = &manifestApp{app: a, key: key, manifest: m, owner: owner, expires: s.now().Add(manifestCodeLifetime)}
	back := url.Values{"code": {code}}
	if state := r.URL.Query().Get("state"); state != "" {
		back.Set("state", state)
	}
	return redirectTo(w, r, m.RedirectURL, back)
}

// check refuses a manifest GitHub would refuse.
func (m *manifest) check() error {
	if strings.TrimSpace(m.Name) == "" {
		return fmt.Errorf("name is required")
	}
	if !absoluteURL(m.URL) {
		return fmt.Errorf("url %q must be an absolute URL", m.URL)
	}
	if m.HookAttributes == nil || !absoluteURL(m.HookAttributes.URL) {
		return fmt.Errorf("hook_attributes.url is required and must be an absolute URL")
	}
	if !absoluteURL(m.RedirectURL) {
		return fmt.Errorf("redirect_url %q must be an absolute URL", m.RedirectURL)
	}
	if len(m.CallbackURLs) > 10 {
		return fmt.Errorf("callback_urls: at most 10")
	}
	for _, u := range m.CallbackURLs {
		if !absoluteURL(u) {
			return fmt.Errorf("callback_urls: %q must be an absolute URL", u)
		}
	}
	for name, level := range m.DefaultPermissions {
		if level != "read" && level != "write" && level != "admin" {
			return fmt.Errorf("default_permissions.%s: %q is not read, write or admin", name, level)
		}
	}
	for _, e := range m.DefaultEvents {
		if strings.TrimSpace(e) == "" || e != strings.ToLower(e) {
			return fmt.Errorf("default_events: %q is not an event name", e)
		}
	}
	return nil
}

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// slugOf is GitHub's slug of an App's name.
func slugOf(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// POST /app-manifests/{code}/conversions
func (s *Server) convertManifest(req *request) *response {
	code := req.params["code"]
	ma := s.manifestCodes[code]
	if ma == nil || !s.now().Before(ma.expires) {
		return notFound()
	}
	delete(s.manifestCodes, code) // a code is used once
	out := s.appObject(ma.app)
	out["owner"] = s.userObject(ma.owner)
	out["name"] = ma.manifest.Name
	out["description"] = nilIfEmpty(ma.manifest.Description)
	out["external_url"] = ma.manifest.URL
	out["permissions"] = maps.Clone(ma.manifest.DefaultPermissions)
	out["events"] = slices.Clone(ma.manifest.DefaultEvents)
	out["pem"] = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(ma.key)}))
	// Deliveries are signed with the emulator's one secret, so the App's
	// webhook secret is that one.
	out["webhook_secret"] = s.secret
	out["client_secret"] = ma.app.oauth.secret
	return reply(http.StatusCreated, out)
}

package app_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/internal/githubtest"
)

// app.yml asks for exactly what the App uses. The emulator grants every
// installation githubtest.Permissions and refuses a call that needs more, so
// the App's tests prove those permissions suffice; each of them is the most
// that some endpoint the emulator implements needs, so none is asked for
// beyond need.
func TestManifestPermissionsAreWhatTheAppsCallsNeed(t *testing.T) {
	m, err := app.AppManifest()
	if err != nil {
		t.Fatal(err)
	}
	if granted := githubtest.Permissions(); !maps.Equal(m.DefaultPermissions, granted) {
		t.Errorf("app.yml default_permissions = %v; the App is tested with %v", m.DefaultPermissions, granted)
	}
	if needed := githubtest.RoutePermissions(); !maps.Equal(m.DefaultPermissions, needed) {
		t.Errorf("app.yml default_permissions = %v; the App's calls of GitHub's API need %v", m.DefaultPermissions, needed)
	}
}

func TestManifestEventsAreWhatTheAppActsOn(t *testing.T) {
	m, err := app.AppManifest()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(slices.Values(m.DefaultEvents)), slices.Sorted(slices.Values(app.Events)); !slices.Equal(got, want) {
		t.Errorf("app.yml default_events = %v; the App acts on %v", got, want)
	}
}

func TestManifestAt(t *testing.T) {
	m, err := app.AppManifest()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(m.HookAttributes.URL, app.WebhookPath) || !m.HookAttributes.Active {
		t.Errorf("app.yml hook_attributes = %+v; want an active hook on %s", m.HookAttributes, app.WebhookPath)
	}
	at, err := m.At("https://gate.acme.example/", "http://127.0.0.1:4000/redirect")
	if err != nil {
		t.Fatal(err)
	}
	if at.URL != "https://gate.acme.example" || at.HookAttributes.URL != "https://gate.acme.example/webhooks" ||
		!slices.Equal(at.CallbackURLs, []string{"https://gate.acme.example/callback"}) || at.RedirectURL != "http://127.0.0.1:4000/redirect" {
		t.Errorf("manifest at the App's URL: %+v", at)
	}
	if !maps.Equal(at.DefaultPermissions, m.DefaultPermissions) || !slices.Equal(at.DefaultEvents, m.DefaultEvents) {
		t.Error("At changed the permissions or events")
	}
	for _, bad := range []string{"", "gate.acme.example", "ftp://gate.acme.example", "https://gate.acme.example/?x=1"} {
		if _, err := m.At(bad, "http://127.0.0.1:4000/redirect"); err == nil {
			t.Errorf("At(%q) accepted", bad)
		}
	}
}

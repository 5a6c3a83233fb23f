package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/githubtest"
)

// setupRun runs setup-app until it prints the page's URL, and returns that
// URL and a function that waits for the command's end.
func setupRun(t *testing.T, ctx context.Context, args ...string) (page string, wait func() (int, string, string)) {
	t.Helper()
	errR, errW := io.Pipe()
	var stdout, stderr bytes.Buffer
	result := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"setup-app", "--listen", "127.0.0.1:0"}, args...), &stdout, io.MultiWriter(&stderr, errW), func(string) string { return "" })
		errW.Close()
		result <- code
	}()
	line, err := bufio.NewReader(errR).ReadString('\n')
	if err != nil {
		t.Fatalf("setup-app printed no page: %v", err)
	}
	page = regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(line)
	go io.Copy(io.Discard, errR)
	if page == "" {
		t.Fatalf("setup-app said %q; want the page's URL", line)
	}
	return page, func() (int, string, string) { code := <-result; return code, stdout.String(), stderr.String() }
}

var (
	formAction   = regexp.MustCompile(`<form id="register" action="([^"]+)" method="post">`)
	formManifest = regexp.MustCompile(`name="manifest" value="([^"]+)"`)
)

// submit plays the browser: it opens the page and submits its form to GitHub,
// following GitHub's redirect back to the page.
func submit(t *testing.T, page string, wait func() (int, string, string)) *http.Response {
	t.Helper()
	resp, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action, manifest := formAction.FindSubmatch(body), formManifest.FindSubmatch(body)
	if action == nil || manifest == nil {
		t.Fatalf("the page has no registration form:\n%s", body)
	}
	resp, err = http.PostForm(html.UnescapeString(string(action[1])), url.Values{"manifest": {html.UnescapeString(string(manifest[1]))}})
	if err != nil {
		code, _, stderr := wait()
		t.Fatalf("%v; setup-app exited %d: %s", err, code, stderr)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestSetupAppRegistersTheAppFromItsManifest(t *testing.T) {
	gh := githubtest.New(t)
	gh.SignIn("alice")
	dir := t.TempDir()
	page, wait := setupRun(t, t.Context(), "--public-url", "https://gate.acme.example", "--org", "acme",
		"--name", "modelgate acme", "--github-url", gh.URL()+"/api/v3/", "--dir", dir)
	resp := submit(t, page, wait)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("registration answered %s: %s", resp.Status, b)
	}
	code, stdout, stderr := wait()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	env := map[string]string{}
	for line := range strings.Lines(stdout) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		env[k] = v
	}
	for _, f := range []string{privateKeyFile, webhookSecretFile, oauthClientSecretFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode())
		}
	}
	if env["MODELGATE_PRIVATE_KEY_FILE"] != filepath.Join(dir, privateKeyFile) || env["MODELGATE_WEBHOOK_SECRET_FILE"] != filepath.Join(dir, webhookSecretFile) ||
		env["MODELGATE_OAUTH_CLIENT_SECRET_FILE"] != filepath.Join(dir, oauthClientSecretFile) || env["MODELGATE_OAUTH_CLIENT_ID"] == "" {
		t.Errorf("environment printed: %v", env)
	}
	secret, _ := os.ReadFile(filepath.Join(dir, webhookSecretFile))
	if strings.TrimSpace(string(secret)) != gh.WebhookSecret() {
		t.Errorf("webhook secret %q; GitHub signs deliveries with %q", secret, gh.WebhookSecret())
	}
	// The App exists on GitHub and its key is the one saved: it
	// authenticates as the App.
	id, err := strconv.ParseInt(env["MODELGATE_APP_ID"], 10, 64)
	if err != nil {
		t.Fatalf("MODELGATE_APP_ID: %v", err)
	}
	gh.AddInstallation(id, "acme")
	key, _ := os.ReadFile(filepath.Join(dir, privateKeyFile))
	a, err := github.NewApp(github.Config{AppID: id, PrivateKey: key, BaseURL: gh.URL() + "/api/v3/"})
	if err != nil {
		t.Fatal(err)
	}
	insts, err := a.Installations(t.Context())
	if err != nil || len(insts) != 1 || insts[0].Account != "acme" {
		t.Fatalf("installations as the registered App: %v, %v", insts, err)
	}
	if bot, err := a.BotLogin(t.Context()); err != nil || bot != "modelgate-acme[bot]" {
		t.Errorf("bot %q, %v; want modelgate-acme[bot]", bot, err)
	}
	if block, _ := pem.Decode(key); block == nil {
		t.Error("private key is not PEM")
	} else if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		t.Errorf("private key: %v", err)
	}
	var converted bool
	for _, c := range gh.Calls() {
		converted = converted || c.Route == "/app-manifests/{code}/conversions" && c.Status == http.StatusCreated
	}
	if !converted {
		t.Errorf("no conversion of the manifest's code in %v", gh.Calls())
	}
}

// A redirect that does not carry the state of the page's form is refused:
// another page cannot make setup-app save credentials of its choosing.
func TestSetupAppRefusesARedirectWithoutItsState(t *testing.T) {
	gh := githubtest.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	page, wait := setupRun(t, ctx, "--public-url", "https://gate.acme.example", "--github-url", gh.URL()+"/api/v3/", "--dir", t.TempDir())
	for _, q := range []string{"code=abc", "code=abc&state=forged", "state="} {
		resp, err := http.Get(page + "redirect?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("redirect?%s answered %s; want 400", q, resp.Status)
		}
	}
	cancel()
	if code, _, _ := wait(); code != exitCantRun {
		t.Errorf("exit %d after cancel; want %d", code, exitCantRun)
	}
	for _, c := range gh.Calls() {
		t.Errorf("a forged redirect reached GitHub: %v", c)
	}
}

func TestSetupAppRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, privateKeyFile), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--dir", t.TempDir()}, "--public-url"},
		{[]string{"--public-url", "https://gate.acme.example", "--dir", dir}, "private-key.pem exists"},
		{[]string{"--public-url", "https://gate.acme.example", "--dir", t.TempDir(), "--listen", "0.0.0.0:0"}, "loopback"},
		{[]string{"--public-url", "gate.acme.example", "--dir", t.TempDir(), "--listen", "127.0.0.1:0"}, "not an http or https URL"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		code := run(t.Context(), append([]string{"setup-app"}, tt.args...), io.Discard, &stderr, func(string) string { return "" })
		if code != exitCantRun || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("setup-app %v: exit %d, %q; want %d naming %q", tt.args, code, stderr.String(), exitCantRun, tt.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, privateKeyFile)); string(b) != "old" {
		t.Error("an existing key was overwritten")
	}
}

// A file made between setup-app's start and GitHub's answer is not
// overwritten either.
func TestWriteAppCredentialsKeepsWhatExists(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, webhookSecretFile), []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := writeAppCredentials(dir, github.AppCredentials{ID: 1, PrivateKey: []byte("key"), WebhookSecret: "new", ClientID: "Iv1.x", ClientSecret: "s"})
	if err == nil {
		t.Fatal("writeAppCredentials overwrote a webhook secret")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, webhookSecretFile)); string(b) != "old\n" {
		t.Errorf("webhook secret now %q", b)
	}
}

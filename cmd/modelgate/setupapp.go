package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/app/access"
	"github.com/modelgate/modelgate/internal/github"
)

// The files setup-app writes in --dir, where serve reads them.
const (
	appEnvFile            = "modelgate.env"
	privateKeyFile        = "private-key.pem"
	webhookSecretFile     = "webhook-secret"
	oauthClientSecretFile = "oauth-client-secret"
)

// setupPage posts the manifest to GitHub: the manifest flow starts with a
// form the user's browser submits, signed in to GitHub.
var setupPage = template.Must(template.New("setup").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Register the modelgate GitHub App</title></head>
<body>
<h1>Register the modelgate GitHub App</h1>
<p>GitHub asks you to confirm the App's name, then sends you back here.</p>
<form id="register" action="{{.Action}}" method="post">
<input type="hidden" name="manifest" value="{{.Manifest}}">
<button type="submit">Register on GitHub</button>
</form>
</body></html>
`))

func (c *cli) setupAppCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "setup-app --public-url URL [flags]",
		Short: "register the GitHub App from app.yml with GitHub's manifest flow and save its credentials where serve reads them",
	}
	fl := cmd.Flags()
	publicURL := fl.String("public-url", c.getenv("MODELGATE_PUBLIC_URL"), "the App's base URL as GitHub and browsers reach it: webhooks go to its /webhooks, sign-ins come back to its /callback (env MODELGATE_PUBLIC_URL)")
	org := fl.String("org", "", "register the App on this organization rather than your own account")
	name := fl.String("name", "", "the App's name on GitHub, unique there (default app.yml's)")
	githubURL := fl.String("github-url", c.getenv("MODELGATE_GITHUB_URL"), "GitHub API base URL, for GitHub Enterprise Server (env MODELGATE_GITHUB_URL)")
	dir := fl.String("dir", ".", "where to write the App's id, private key, webhook secret and OAuth client")
	listen := fl.String("listen", "127.0.0.1:3000", "loopback address of the page that starts the registration")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) > 0 {
			return c.fail(fmt.Errorf("setup-app: unexpected argument %q", args[0]))
		}
		if err := setupApp(ctx, c, setupOptions{publicURL: *publicURL, org: *org, name: *name, githubURL: *githubURL, dir: *dir, listen: *listen}); err != nil {
			return c.fail(fmt.Errorf("setup-app: %w", err))
		}
		return exitOK
	})
	return cmd
}

type setupOptions struct {
	publicURL, org, name, githubURL, dir, listen string
}

func setupApp(ctx context.Context, c *cli, o setupOptions) error {
	if o.publicURL == "" {
		return errors.New("--public-url (or MODELGATE_PUBLIC_URL) is required: GitHub delivers the App's webhooks there")
	}
	// Nothing is overwritten: a second registration must not lose the
	// credentials of the first, which GitHub never shows again.
	for _, f := range []string{appEnvFile, privateKeyFile, webhookSecretFile, oauthClientSecretFile} {
		if _, err := os.Lstat(filepath.Join(o.dir, f)); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s exists (or cannot be checked: %v): move it away first", filepath.Join(o.dir, f), err)
		}
	}
	host, _, err := net.SplitHostPort(o.listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %q must be a loopback address: the page receives the code that creates the App's credentials", o.listen)
	}
	web, err := access.WebURL(o.githubURL)
	if err != nil {
		return err
	}
	m, err := app.AppManifest()
	if err != nil {
		return err
	}
	m.Name = cmp.Or(o.name, m.Name)
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	local := "http://" + ln.Addr().String()
	if m, err = m.At(o.publicURL, local+"/redirect"); err != nil {
		return err
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return err
	}
	state := rand.Text()
	action := web.JoinPath("settings", "apps", "new")
	if o.org != "" {
		action = web.JoinPath("organizations", o.org, "settings", "apps", "new")
	}
	action.RawQuery = url.Values{"state": {state}}.Encode()

	done := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		setupPage.Execute(w, struct{ Action, Manifest string }{action.String(), string(manifest)})
	})
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		// The state proves the code comes back from the registration this
		// run started, not from a page that forged the redirect.
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 || q.Get("code") == "" {
			http.Error(w, "This is not the answer to the registration this page started.", http.StatusBadRequest)
			return
		}
		creds, err := github.CompleteAppManifest(r.Context(), o.githubURL, nil, q.Get("code"))
		if err == nil {
			err = writeAppCredentials(o.dir, creds)
		}
		if err != nil {
			http.Error(w, "The App was registered but its credentials were not saved: "+err.Error(), http.StatusBadGateway)
		} else {
			fmt.Fprintf(w, "The App %s is registered and its credentials are saved. Install it on your repositories, then close this page.\n", creds.Slug)
		}
		select {
		case done <- err:
		default:
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	// Shutdown lets the redirect's handler finish its answer to the browser.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintf(c.stderr, "Open %s/ in a browser signed in to GitHub to register the App.\n", local)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-done:
		if err != nil {
			return err
		}
	}
	env, err := os.ReadFile(filepath.Join(o.dir, appEnvFile))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s", env)
	return nil
}

// writeAppCredentials writes the App's credentials where serve reads them:
// the secrets in files only their owner reads, and the environment of serve
// that names them in modelgate.env.
func writeAppCredentials(dir string, creds github.AppCredentials) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	path := func(name string) string { return filepath.Join(abs, name) }
	env := "MODELGATE_APP_ID=" + strconv.FormatInt(creds.ID, 10) + "\n" +
		"MODELGATE_PRIVATE_KEY_FILE=" + path(privateKeyFile) + "\n" +
		"MODELGATE_WEBHOOK_SECRET_FILE=" + path(webhookSecretFile) + "\n" +
		"MODELGATE_OAUTH_CLIENT_ID=" + creds.ClientID + "\n" +
		"MODELGATE_OAUTH_CLIENT_SECRET_FILE=" + path(oauthClientSecretFile) + "\n"
	for _, f := range []struct {
		name string
		data []byte
	}{
		{privateKeyFile, creds.PrivateKey},
		{webhookSecretFile, []byte(creds.WebhookSecret + "\n")},
		{oauthClientSecretFile, []byte(creds.ClientSecret + "\n")},
		{appEnvFile, []byte(env)},
	} {
		if err := writeNewFile(path(f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// writeNewFile writes a file that must not exist yet, readable by its owner
// only.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

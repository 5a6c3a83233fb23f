package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/app/service"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/oidctest"
)

const (
	uploadAudience = "https://modelgate.acme.test"
	uploadWorkflow = "acme/fraud-training/.github/workflows/evidence.yml@refs/heads/main"
)

// uploadScenario is the App serving on loopback, trusting the training
// repository's workflow, with a promotion pull request open in the emulated
// GitHub, and a job of a push run on its head that may fetch OIDC tokens.
type uploadScenario struct {
	url      string
	gh       *githubtest.Server // its clock is the App's and the issuer's
	issuer   *oidctest.Issuer
	tokens   *oidctest.TokenService
	env      map[string]string
	n        int
	evidence string // the evidence modelgate check wrote
}

func newUploadScenario(t *testing.T) *uploadScenario {
	t.Helper()
	gh := githubtest.New(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	gh.AddApp(77, "modelgate", &key.PublicKey)
	inst := gh.AddInstallation(77, "acme")
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	cfg, _, _ := strings.Cut(readExample(t, ".modelgate/config.yaml"), "\nevidence:\n")
	r.Write(".modelgate/config.yaml", cfg+"\nevidence:\n  trustedWorkflows: ["+uploadWorkflow+"]\n")
	r.Commit("example repository", time.Now().Add(-96*time.Hour))
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	head := r.Commit("promote", time.Now().Add(-time.Hour))
	r.Checkout("main")
	gh.AddRepo(inst, deployRepo, r.Dir)
	n := gh.OpenPullRequest(deployRepo, githubtest.PullRequestOptions{Head: "promote", Author: "alice"})

	iss := oidctest.NewIssuer(t)
	iss.Now = gh.Now
	repoID := strconv.FormatInt(gh.RepoID(deployRepo), 10)
	tokens := iss.TokenService(func() oidctest.Claims {
		c := iss.Claims(deployRepo, head, "refs/heads/promote", uploadWorkflow)
		c["repository_id"] = repoID
		return c
	})

	signer, _, err := audit.GenerateKey("modelgate.test/audit")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- service.Serve(ctx, ln, service.Config{AppID: 77, WebhookSecret: []byte(gh.WebhookSecret()), AuditKey: signer,
			PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
			Database:   filepath.Join(t.TempDir(), "modelgate.db"), GitHubURL: gh.URL(), ReconcileInterval: -1,
			OIDCIssuer: iss.URL, OIDCAudience: uploadAudience, Now: gh.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	evidence := filepath.Join(t.TempDir(), "evidence.json")
	manifest := filepath.Join(r.Dir, "models/fraud-detector/2.3.0/model.yaml")
	if code, _, stderr := runCLI(t, "check", manifest, "--out", evidence); code != exitOK {
		t.Fatalf("check: exit %d: %s", code, stderr)
	}
	// The evidence names the manifest by its path in the repository, as a
	// job that checks out the repository gives it.
	doc, err := os.ReadFile(evidence)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(evidence, []byte(strings.Replace(string(doc), manifest, "models/fraud-detector/2.3.0/model.yaml", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range tokens.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return &uploadScenario{url: "http://" + ln.Addr().String(), gh: gh, issuer: iss, tokens: tokens, env: env, n: n, evidence: evidence}
}

func (s *uploadScenario) upload(t *testing.T, url string, extra ...string) (int, string, string) {
	t.Helper()
	args := append([]string{"evidence", "upload", "--url", url, "--audience", uploadAudience,
		"--manifest", "models/fraud-detector/2.3.0/model.yaml", "--evidence", s.evidence}, extra...)
	return runCLIEnv(t, s.env, args...)
}

// quickRetries makes the upload's retries follow one another at once.
func quickRetries(t *testing.T) {
	saved := uploadBackoff
	uploadBackoff = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	t.Cleanup(func() { uploadBackoff = saved })
}

func TestEvidenceUpload(t *testing.T) {
	quickRetries(t)
	s := newUploadScenario(t)

	// An App that cannot check tokens now is asked again, each time with a
	// fresh token, and then the upload could not run.
	s.issuer.SetUnavailable(true)
	code, _, stderr := s.upload(t, s.url, "--pull-request", strconv.Itoa(s.n))
	if code != exitCantRun || !strings.Contains(stderr, "unavailable") || s.tokens.Requests() != 1+len(uploadBackoff) {
		t.Errorf("the issuer down: exit %d after %d token requests: %s", code, s.tokens.Requests(), stderr)
	}
	s.issuer.SetUnavailable(false)
	s.gh.Advance(time.Minute) // past the time the App waits before it asks a failed issuer again

	before := s.tokens.Requests()
	code, stdout, stderr := s.upload(t, s.url, "--pull-request", strconv.Itoa(s.n))
	if code != exitOK || !strings.HasPrefix(stdout, "accepted: fraud-detector 2.3.0 for acme/models#"+strconv.Itoa(s.n)) || s.tokens.Requests() != before+1 {
		t.Fatalf("exit %d after %d token requests\n%s%s", code, s.tokens.Requests()-before, stdout, stderr)
	}

	// A refusal is final: no retry, the reason on stderr.
	code, _, stderr = s.upload(t, s.url, "--pull-request", "999")
	if code != exitFailed || !strings.Contains(stderr, "refused (404 unknown_pull_request)") || s.tokens.Requests() != before+2 {
		t.Errorf("an upload for an unknown pull request: exit %d after %d token requests: %s", code, s.tokens.Requests()-before-1, stderr)
	}

	// So is an App that cannot be reached.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close()
	before = s.tokens.Requests()
	code, _, stderr = s.upload(t, gone, "--pull-request", strconv.Itoa(s.n))
	if code != exitCantRun || !strings.Contains(stderr, "post to the App") || s.tokens.Requests() != before+1+len(uploadBackoff) {
		t.Errorf("the App unreachable: exit %d after %d token requests: %s", code, s.tokens.Requests()-before, stderr)
	}
}

func TestEvidenceUploadNeedsAJobsToken(t *testing.T) {
	code, _, stderr := runCLI(t, "evidence", "upload", "--url", "https://modelgate.acme.test", "--manifest", "m.yaml")
	if code != exitCantRun || !strings.Contains(stderr, "id-token: write") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "evidence", "upload", "--url", "modelgate.acme.test", "--manifest", "m.yaml")
	if code != exitCantRun || !strings.Contains(stderr, "want the App's http(s) URL") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

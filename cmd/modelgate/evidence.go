package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/upload"
)

// uploadBackoff is how long an upload waits before each retry of an App or
// token service that did not answer.
var uploadBackoff = []time.Duration{2 * time.Second, 5 * time.Second, 10 * time.Second}

func (c *cli) evidenceCommand() *cobra.Command {
	return c.group(&cobra.Command{
		Use:   "evidence",
		Short: "upload evidence from a GitHub Actions job to the App, authenticated by the job's OIDC token",
	}, c.evidenceUploadCommand())
}

func (c *cli) evidenceUploadCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upload --url APP_URL --manifest PATH [flags]",
		Short: "upload the evidence modelgate check wrote to the App, authenticated by the job's OIDC token: exit 0 accepted, 1 refused",
	}
	fl := cmd.Flags()
	appURL := fl.String("url", "", "the App's URL")
	manifestPath := fl.String("manifest", "", "the manifest's path in the repository, as modelgate check was given it")
	evidencePath := fl.String("evidence", "-", "the evidence modelgate check wrote (- for standard input)")
	number := fl.Int("pull-request", 0, "the pull request the evidence is for; needed when the workflow does not run on it (a push)")
	audience := fl.String("audience", "", "the audience of the OIDC token, as the App expects it (default: --url)")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) != 0 {
			return c.fail(fmt.Errorf("evidence upload: unexpected argument %q", args[0]))
		}
		endpoint, err := uploadEndpoint(*appURL)
		if err != nil {
			return c.fail(fmt.Errorf("evidence upload: %w", err))
		}
		if *manifestPath == "" {
			return c.fail(errors.New("evidence upload: --manifest is required"))
		}
		if *number < 0 {
			return c.fail(errors.New("evidence upload: --pull-request must be a pull request's number"))
		}
		requestURL, requestToken := c.getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), c.getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
		if requestURL == "" || requestToken == "" {
			return c.fail(errors.New("evidence upload: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: run it in a GitHub Actions job with permissions: id-token: write"))
		}
		var doc []byte
		if *evidencePath == "-" {
			doc, err = io.ReadAll(io.LimitReader(os.Stdin, upload.MaxBody+1))
		} else {
			doc, err = os.ReadFile(*evidencePath)
		}
		if err != nil {
			return c.fail(fmt.Errorf("evidence upload: read the evidence: %w", err))
		}
		if !json.Valid(doc) {
			return c.fail(fmt.Errorf("evidence upload: %s is not JSON: give the evidence modelgate check wrote", *evidencePath))
		}
		body, err := json.Marshal(upload.Request{Manifest: filepath.ToSlash(*manifestPath), PullRequest: *number, Evidence: doc})
		if err != nil {
			return c.fail(fmt.Errorf("evidence upload: %w", err))
		}
		aud := *audience
		if aud == "" {
			aud = *appURL
		}
		client := &http.Client{Timeout: time.Minute}
		accepted, err := uploadWithRetries(ctx, client, endpoint, body, func() (string, error) {
			return fetchIDToken(ctx, client, requestURL, requestToken, aud)
		})
		var refusal *upload.Error
		if errors.As(err, &refusal) && refusal.Refused() {
			fmt.Fprintf(c.stderr, "modelgate: evidence upload refused (%d %s): %s\n", refusal.Status, refusal.Code, refusal.Message)
			return exitFailed
		}
		if err != nil {
			return c.fail(fmt.Errorf("evidence upload: %w", err))
		}
		fmt.Fprintf(c.stdout, "accepted: %s %s for %s#%d at %s (audit record %d)\n", accepted.Model, accepted.Version,
			accepted.Repository, accepted.PullRequest, accepted.HeadSHA, accepted.ID)
		return exitOK
	})
	return cmd
}

func uploadEndpoint(appURL string) (string, error) {
	u, err := url.Parse(appURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("--url %q: want the App's http(s) URL", appURL)
	}
	return strings.TrimSuffix(u.String(), "/") + upload.Path, nil
}

// uploadWithRetries posts the upload, with a fresh token for each attempt
// (the App takes each token once), and tries again after the backoff when
// the App or the token service could not be reached or answered with a 5xx.
// A refusal, or any other 4xx, is never retried: the same upload would get
// the same answer.
func uploadWithRetries(ctx context.Context, client *http.Client, endpoint string, body []byte, token func() (string, error)) (*upload.Accepted, error) {
	for attempt := 0; ; attempt++ {
		accepted, retry, err := uploadOnce(ctx, client, endpoint, body, token)
		if !retry || attempt == len(uploadBackoff) || ctx.Err() != nil {
			return accepted, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(uploadBackoff[attempt]):
		}
	}
}

// uploadOnce makes one attempt; retry says whether another may fare better.
func uploadOnce(ctx context.Context, client *http.Client, endpoint string, body []byte, token func() (string, error)) (accepted *upload.Accepted, retry bool, err error) {
	tok, err := token()
	if err != nil {
		return nil, true, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, true, fmt.Errorf("post to the App: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, true, fmt.Errorf("read the App's answer: %w", err)
	}
	if resp.StatusCode == http.StatusCreated {
		accepted = &upload.Accepted{}
		if err := json.Unmarshal(answer, accepted); err != nil {
			return nil, false, fmt.Errorf("the App accepted the upload but its answer is not JSON: %w", err)
		}
		return accepted, false, nil
	}
	retry = resp.StatusCode >= 500
	var e upload.ErrorBody
	if err := json.Unmarshal(answer, &e); err != nil || e.Error.Code == "" {
		// Not the App's answer: a proxy's, or not the App at all.
		return nil, retry, fmt.Errorf("%s answered %s, not as the App answers", endpoint, resp.Status)
	}
	e.Error.Status = resp.StatusCode
	return nil, retry, &e.Error
}

// fetchIDToken gets the job's OIDC token for the audience from the runner,
// as @actions/core getIDToken does.
func fetchIDToken(ctx context.Context, client *http.Client, requestURL, requestToken, audience string) (string, error) {
	u, err := url.Parse(requestURL)
	if err != nil {
		return "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL: %w", err)
	}
	q := u.Query()
	q.Set("audience", audience)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL: %w", err)
	}
	req.Header.Set("Authorization", "bearer "+requestToken)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch the OIDC token: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetch the OIDC token: the runner answered %s (does the job have permissions: id-token: write?)", resp.Status)
	}
	var answer struct {
		Value string `json:"value"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer); err != nil || answer.Value == "" {
		return "", errors.New("fetch the OIDC token: the runner's answer holds no token")
	}
	return answer.Value, nil
}

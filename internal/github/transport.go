package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
)

// The layers under go-github, outermost first: conditional (ETags), limiter
// (rate limits and retries), authentication (ghinstallation), observer
// (Config.Observe), then Config.Transport. The limiter is above the
// authentication so that every attempt carries a fresh credential, and the
// observer under it so that it sees every exchange, token requests included.

// Call is one HTTP exchange with GitHub, as Config.Observe sees it.
type Call struct {
	Method string
	// Route is the request's path with its names and numbers replaced by
	// placeholders, such as /repos/{owner}/{repo}/pulls/{id}, so that it can
	// label metrics.
	Route string
	// Status is the response's status code; 0 when no response came.
	Status int
	// RateRemaining is GitHub's X-RateLimit-Remaining, or -1 when the response
	// has none.
	RateRemaining int
	// Duration is the time until the response's headers came.
	Duration time.Duration
}

// clock is the time the limiter waits by, which tests replace.
type clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx ends and then returns its error.
	Sleep(ctx context.Context, d time.Duration) error
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// observer reports every exchange to Config.Observe.
type observer struct {
	next    http.RoundTripper
	observe func(Call)
}

func (o observer) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := o.next.RoundTrip(req)
	c := Call{Method: req.Method, Route: route(req.URL.Path), RateRemaining: -1, Duration: time.Since(start)}
	if resp != nil {
		c.Status = resp.StatusCode
		if n, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining")); err == nil {
			c.RateRemaining = n
		}
	}
	o.observe(c)
	return resp, err
}

// routeNames are the path segments followed by names, and how many.
var routeNames = map[string][]string{
	"repos":       {"{owner}", "{repo}"},
	"orgs":        {"{org}"},
	"users":       {"{username}"},
	"teams":       {"{team_slug}"},
	"memberships": {"{username}"},
}

// routeRest are the path segments followed by a value that may hold slashes.
var routeRest = map[string]string{"compare": "{basehead}", "contents": "{path}"}

// route replaces the names, numbers and SHAs of an API path with
// placeholders, which keeps the number of distinct routes small.
func route(p string) string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	// GitHub Enterprise Server serves the API under /api/v3.
	if len(segs) >= 2 && segs[0] == "api" && segs[1] == "v3" {
		segs = segs[2:]
	}
	var out []string
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		switch {
		case isDigits(s):
			s = "{id}"
		case isSHA(s):
			s = "{sha}"
		}
		out = append(out, s)
		if rest, ok := routeRest[segs[i]]; ok && i+1 < len(segs) {
			return "/" + strings.Join(append(out, rest), "/")
		}
		for _, name := range routeNames[segs[i]] {
			if i+1 < len(segs) {
				i++
				out = append(out, name)
			}
		}
	}
	return "/" + strings.Join(out, "/")
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// limiter waits out GitHub's rate limits and retries transient failures of
// reads.
type limiter struct {
	next    http.RoundTripper
	maxWait time.Duration
	clock   clock
}

const (
	// serverRetries is how many times a read that failed with 502, 503 or 504
	// is retried, the first after firstBackoff and each next after twice as long.
	serverRetries = 3
	firstBackoff  = time.Second
	// secondaryWait is how long GitHub asks to wait after a secondary rate
	// limit that names no time.
	secondaryWait = time.Minute
	// maxPeek is how much of a 403's body is read to tell a secondary rate
	// limit from a refusal.
	maxPeek = 64 << 10
)

func (l *limiter) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	read := req.Method == http.MethodGet || req.Method == http.MethodHead
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	var waited time.Duration
	for try, failures := 0, 0; ; try++ {
		attempt := req.Clone(ctx)
		if try > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("%s %s: resend the request body: %w", req.Method, route(req.URL.Path), err)
			}
			attempt.Body = body
		}
		resp, err := l.next.RoundTrip(attempt)
		if err != nil {
			return nil, err
		}
		wait, limited, err := l.rateLimited(resp)
		if err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("%s %s: read the response: %w", req.Method, route(req.URL.Path), err)
		}
		switch {
		case limited && replayable:
			// GitHub refused the request without acting on it, so even a write
			// is safe to send again.
			if waited+wait > l.maxWait {
				discard(resp)
				return nil, fmt.Errorf("%s %s: GitHub asks to wait %v, more than the %v allowed: %w",
					req.Method, route(req.URL.Path), wait.Round(time.Second), l.maxWait, ErrRateLimited)
			}
			waited += wait
		case read && failures < serverRetries && (resp.StatusCode == http.StatusBadGateway ||
			resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout):
			wait = firstBackoff << failures
			failures++
		default:
			hideRateLimit(resp.Header)
			return resp, nil
		}
		discard(resp)
		if err := l.clock.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s %s: waiting %v to retry: %w", req.Method, route(req.URL.Path), wait.Round(time.Second), err)
		}
	}
}

// hideRateLimit removes the primary rate limit's remaining count and reset
// time from a response before go-github sees them. After a response with
// none remaining, go-github would refuse the next requests itself, at once;
// without them, those requests go to GitHub, whose refusal the limiter waits
// out for up to MaxWait.
func hideRateLimit(h http.Header) {
	h.Del("X-RateLimit-Remaining")
	h.Del("X-RateLimit-Reset")
}

// rateLimited tells whether a response is one of GitHub's rate limits and how
// long it asks to wait.
func (l *limiter) rateLimited(resp *http.Response) (time.Duration, bool, error) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false, nil
	}
	h := resp.Header
	// GitHub's times are by its clock, which its Date tells: ours may be off.
	now := l.clock.Now()
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date
	}
	// At least a second, GitHub's resolution: an answer that asks for no wait
	// must not make the limiter send request after request.
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return max(time.Duration(s)*time.Second, time.Second), true, nil
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), time.Second), true, nil
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(reset, 0).Sub(now), time.Second), true, nil
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return secondaryWait, true, nil
	}
	body, err := peek(resp, maxPeek)
	if err != nil {
		return 0, false, err
	}
	msg := bytes.ToLower(body)
	if bytes.Contains(msg, []byte("secondary rate limit")) || bytes.Contains(msg, []byte("abuse detection")) {
		return secondaryWait, true, nil
	}
	return 0, false, nil
}

// peek returns up to n bytes of a response's body and leaves the body whole.
func peek(resp *http.Response, n int64) ([]byte, error) {
	head, err := io.ReadAll(io.LimitReader(resp.Body, n))
	if err != nil {
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return head, nil
}

// discard reads what is left of a small body and closes it, so that the
// connection can serve the next request.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPeek))
	resp.Body.Close()
}

// installationTransport authenticates requests as an installation. When
// GitHub refuses the installation token that ghinstallation still takes for
// valid — revoked when the installation's permissions changed, or expired by
// GitHub's clock before the host's says so — it takes a new token once and
// sends the request again, rather than failing every call until the old
// token's time is up by the host's clock.
type installationTransport struct {
	renew   func() *ghinstallation.Transport
	mu      sync.Mutex
	current *ghinstallation.Transport
}

func newInstallationTransport(renew func() *ghinstallation.Transport) *installationTransport {
	return &installationTransport{renew: renew, current: renew()}
}

func (t *installationTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	it := t.current
	t.mu.Unlock()
	resp, err := t.send(it, req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || (req.Body != nil && req.GetBody == nil) {
		return resp, err
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	discard(resp)
	t.mu.Lock()
	// Concurrent refusals of one token renew it once.
	if t.current == it {
		t.current = t.renew()
	}
	it = t.current
	t.mu.Unlock()
	return t.send(it, retry)
}

func (t *installationTransport) send(it *ghinstallation.Transport, req *http.Request) (*http.Response, error) {
	resp, err := it.RoundTrip(req)
	var refused *ghinstallation.HTTPError
	if errors.As(err, &refused) && refused.Response != nil {
		// ghinstallation leaves the body of a refused token request open, which
		// would hold its connection forever.
		refused.Response.Body.Close()
	}
	return resp, err
}

// tokenTransport authenticates requests with a token.
type tokenTransport struct {
	next  http.RoundTripper
	token string
}

func (t tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+t.token)
	return t.next.RoundTrip(req)
}

// conditional makes GET requests conditional on the ETag of the last
// response to the same request by the same identity, and answers a 304 with
// that response: GitHub does not count a 304 against the rate limit.
type conditional struct {
	next     http.RoundTripper
	identity string // the credential's owner: "app" or "installation <id>"
	cache    *lru[*cachedResponse]
}

type cachedResponse struct {
	etag   string
	header http.Header
	body   []byte
}

// immutableKey marks the context of a request for a git object named by its
// SHA: its answer never changes and is cached by SHA, so keeping it for a
// conditional request would only hold the same data twice.
type immutableKey struct{}

func immutable(ctx context.Context) context.Context {
	return context.WithValue(ctx, immutableKey{}, true)
}

func (c *conditional) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.Header.Get("If-None-Match") != "" || req.Context().Value(immutableKey{}) != nil {
		return c.next.RoundTrip(req)
	}
	key := c.identity + "\n" + req.Header.Get("Accept") + "\n" + req.URL.String()
	cached, ok := c.cache.get(key)
	out := req
	if ok {
		out = req.Clone(req.Context())
		out.Header.Set("If-None-Match", cached.etag)
	}
	resp, err := c.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	switch {
	case ok && resp.StatusCode == http.StatusNotModified:
		discard(resp)
		return &http.Response{
			Status: "200 OK", StatusCode: http.StatusOK,
			Proto: resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
			Header: cached.header.Clone(), Body: io.NopCloser(bytes.NewReader(cached.body)),
			ContentLength: int64(len(cached.body)), Request: req,
		}, nil
	case resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "":
		return c.store(key, resp)
	}
	return resp, nil
}

// store keeps a response that is small enough and returns it with its body
// still to read.
func (c *conditional) store(key string, resp *http.Response) (*http.Response, error) {
	limit := int64(c.cache.max / 8)
	if resp.ContentLength > limit {
		return resp, nil
	}
	body, err := peek(resp, limit+1)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if int64(len(body)) > limit {
		return resp, nil
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	c.cache.add(key, &cachedResponse{etag: resp.Header.Get("ETag"), header: resp.Header.Clone(), body: body}, len(key)+len(body)+512)
	return resp, nil
}

package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeClock sleeps by moving its time, and records how long it slept.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// blockingClock never wakes up before the context ends.
type blockingClock struct{}

func (blockingClock) Now() time.Time { return time.Now() }

func (blockingClock) Sleep(ctx context.Context, d time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}

// script is a server that answers each request with the next of its
// answers and records the requests' bodies.
type script struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	bodies  []string
	headers []http.Header
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies = append(s.bodies, string(body))
	s.headers = append(s.headers, r.Header.Clone())
	i := min(len(s.bodies), len(s.answers)) - 1
	s.answers[i](w)
}

func (s *script) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

func answer(status int, headers map[string]string, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func newLimiter(t *testing.T, s *script, clk clock) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, &http.Client{Transport: &limiter{next: http.DefaultTransport, maxWait: time.Minute, clock: clk}}
}

func do(t *testing.T, ctx context.Context, c *http.Client, method, url, body string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(data), nil
}

func TestLimiterWaitsForRateLimits(t *testing.T) {
	clk := newFakeClock()
	reset := strconv.FormatInt(clk.Now().Add(30*time.Second).Unix(), 10)
	tests := []struct {
		name   string
		limit  func(w http.ResponseWriter)
		method string
		want   time.Duration // with a second's tolerance for the reset's rounding
	}{
		{"429 with Retry-After", answer(429, map[string]string{"Retry-After": "7"}, `{}`), "GET", 7 * time.Second},
		{"403 with Retry-After", answer(403, map[string]string{"Retry-After": "5"}, `{"message":"You have exceeded a secondary rate limit."}`), "GET", 5 * time.Second},
		{"primary limit", answer(403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, `{"message":"API rate limit exceeded"}`), "GET", 30 * time.Second},
		{"secondary limit message", answer(403, nil, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`), "GET", time.Minute},
		{"429 without headers", answer(429, nil, `{}`), "GET", time.Minute},
		{"a write refused by the rate limit", answer(429, map[string]string{"Retry-After": "3"}, `{}`), "POST", 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{now: clk.Now()}
			s := &script{answers: []func(http.ResponseWriter){tt.limit, answer(200, nil, `{"ok":true}`)}}
			srv, c := newLimiter(t, s, clk)
			resp, body, err := do(t, context.Background(), c, tt.method, srv.URL+"/repos/acme/models/check-runs", `{"name":"x"}`)
			if err != nil || resp.StatusCode != 200 || body != `{"ok":true}` {
				t.Fatalf("response = %v, %q, %v", resp, body, err)
			}
			slept := clk.sleeps()
			if len(slept) != 1 || slept[0] > tt.want || slept[0] < tt.want-time.Second {
				t.Errorf("slept %v, want %v", slept, tt.want)
			}
			if s.requests() != 2 || s.bodies[1] != `{"name":"x"}` {
				t.Errorf("requests %d, resent body %q", s.requests(), s.bodies)
			}
		})
	}
}

func TestLimiterGivesUpBeyondMaxWait(t *testing.T) {
	clk := newFakeClock()
	reset := strconv.FormatInt(clk.Now().Add(2*time.Hour).Unix(), 10)
	s := &script{answers: []func(http.ResponseWriter){
		answer(403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, `{"message":"API rate limit exceeded"}`),
	}}
	srv, c := newLimiter(t, s, clk)
	_, _, err := do(t, context.Background(), c, "GET", srv.URL+"/repos/acme/models", "")
	if !errors.Is(err, ErrRateLimited) {
		t.Errorf("err = %v, want ErrRateLimited", err)
	}
	if len(clk.sleeps()) != 0 || s.requests() != 1 {
		t.Errorf("slept %v over %d requests; want no wait", clk.sleeps(), s.requests())
	}

	// Waits add up: three secondary limits of 30 seconds exceed a minute.
	clk = newFakeClock()
	s = &script{answers: []func(http.ResponseWriter){answer(429, map[string]string{"Retry-After": "30"}, `{}`)}}
	srv, c = newLimiter(t, s, clk)
	if _, _, err := do(t, context.Background(), c, "GET", srv.URL+"/x", ""); !errors.Is(err, ErrRateLimited) {
		t.Errorf("err = %v, want ErrRateLimited", err)
	}
	if got := clk.sleeps(); len(got) != 2 || s.requests() != 3 {
		t.Errorf("slept %v over %d requests; want 2 waits and 3 requests", got, s.requests())
	}

	// An answer that asks for no wait still costs a second.
	clk = newFakeClock()
	s = &script{answers: []func(http.ResponseWriter){answer(429, map[string]string{"Retry-After": "0"}, `{}`)}}
	srv, c = newLimiter(t, s, clk)
	if _, _, err := do(t, context.Background(), c, "GET", srv.URL+"/x", ""); !errors.Is(err, ErrRateLimited) || s.requests() != 61 {
		t.Errorf("err = %v after %d requests; want ErrRateLimited after 61", err, s.requests())
	}
}

func TestLimiterHonoursContext(t *testing.T) {
	s := &script{answers: []func(http.ResponseWriter){answer(429, map[string]string{"Retry-After": "30"}, `{}`)}}
	srv, c := newLimiter(t, s, systemClock{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := do(t, ctx, c, "GET", srv.URL+"/x", "")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Errorf("err = %v after %v, want the context's deadline at once", err, time.Since(start))
	}
}

func TestLimiterRetriesServerErrorsOfReadsOnly(t *testing.T) {
	clk := newFakeClock()
	s := &script{answers: []func(http.ResponseWriter){answer(502, nil, ``), answer(503, nil, ``), answer(200, nil, `ok`)}}
	srv, c := newLimiter(t, s, clk)
	if resp, body, err := do(t, context.Background(), c, "GET", srv.URL+"/x", ""); err != nil || resp.StatusCode != 200 || body != "ok" {
		t.Errorf("GET = %v, %q, %v", resp, body, err)
	}
	if got := fmt.Sprint(clk.sleeps()); got != "[1s 2s]" {
		t.Errorf("backoff = %s, want [1s 2s]", got)
	}

	s = &script{answers: []func(http.ResponseWriter){answer(504, nil, `gateway`)}}
	srv, c = newLimiter(t, s, newFakeClock())
	if resp, _, err := do(t, context.Background(), c, "GET", srv.URL+"/x", ""); err != nil || resp.StatusCode != 504 || s.requests() != 1+serverRetries {
		t.Errorf("GET after %d requests = %v, %v; want the last 504 after %d", s.requests(), resp, err, 1+serverRetries)
	}

	// GitHub may have acted on a write that failed with 502.
	s = &script{answers: []func(http.ResponseWriter){answer(502, nil, `bad gateway`), answer(201, nil, `created`)}}
	srv, c = newLimiter(t, s, newFakeClock())
	if resp, body, err := do(t, context.Background(), c, "POST", srv.URL+"/x", "{}"); err != nil || resp.StatusCode != 502 || body != "bad gateway" || s.requests() != 1 {
		t.Errorf("POST = %v, %q, %v after %d requests; want the 502 after 1", resp, body, err, s.requests())
	}
}

func TestLimiterPassesOtherRefusals(t *testing.T) {
	s := &script{answers: []func(http.ResponseWriter){
		answer(403, map[string]string{"X-RateLimit-Remaining": "4000"}, `{"message":"Resource not accessible by integration"}`),
	}}
	srv, c := newLimiter(t, s, newFakeClock())
	resp, body, err := do(t, context.Background(), c, "GET", srv.URL+"/x", "")
	if err != nil || resp.StatusCode != 403 || !strings.Contains(body, "not accessible") || s.requests() != 1 {
		t.Errorf("403 = %v, %q, %v after %d requests", resp, body, err, s.requests())
	}
}

func TestLimiterHidesTheLastRequestFromGoGitHub(t *testing.T) {
	reset := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	s := &script{answers: []func(http.ResponseWriter){answer(200, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset, "X-RateLimit-Limit": "5000"}, `{}`)}}
	srv, c := newLimiter(t, s, newFakeClock())
	resp, _, err := do(t, context.Background(), c, "GET", srv.URL+"/x", "")
	if err != nil || resp.Header.Get("X-RateLimit-Remaining") != "" || resp.Header.Get("X-RateLimit-Reset") != "" || resp.Header.Get("X-RateLimit-Limit") != "5000" {
		t.Errorf("headers = %v, %v", resp.Header, err)
	}
}

func TestConditionalRequests(t *testing.T) {
	var mu sync.Mutex
	version, notModified := 1, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		etag := fmt.Sprintf(`"v%d"`, version)
		w.Header().Set("ETag", etag)
		w.Header().Set("Link", `<next>; rel="next"`)
		if r.Header.Get("If-None-Match") == etag {
			notModified++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprintf(w, `{"version":%d}`, version)
	}))
	defer srv.Close()
	cache := newLRU[*cachedResponse](1 << 20)
	client := func(identity string) *http.Client {
		return &http.Client{Transport: &conditional{next: http.DefaultTransport, identity: identity, cache: cache}}
	}
	get := func(c *http.Client, ctx context.Context) string {
		_, body, err := do(t, ctx, c, "GET", srv.URL+"/repos/acme/models/pulls/1", "")
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	a := client("installation 1")
	if b1, b2 := get(a, context.Background()), get(a, context.Background()); b1 != `{"version":1}` || b2 != b1 || notModified != 1 {
		t.Errorf("bodies %q, %q with %d answers 304; want the same body, the second from a 304", b1, b2, notModified)
	}
	resp, _, err := do(t, context.Background(), a, "GET", srv.URL+"/repos/acme/models/pulls/1", "")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Link") == "" {
		t.Errorf("served from the cache: %v, %v; want a 200 with the original headers", resp, err)
	}
	// Another identity does not share the entry.
	if get(client("installation 2"), context.Background()); notModified != 2 {
		t.Errorf("%d answers 304; another identity must not send the first one's ETag", notModified)
	}
	mu.Lock()
	version = 2
	mu.Unlock()
	if b := get(a, context.Background()); b != `{"version":2}` {
		t.Errorf("after a change: %q", b)
	}
	// Objects named by SHA are not kept.
	imm := immutable(context.Background())
	get(a, imm)
	before := notModified
	if get(a, imm); notModified != before {
		t.Error("a request for an immutable object was made conditional")
	}
}

func TestObserver(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "41")
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	var calls []Call
	c := &http.Client{Transport: observer{next: http.DefaultTransport, observe: func(c Call) { calls = append(calls, c) }}}
	if _, _, err := do(t, context.Background(), c, "PATCH", srv.URL+"/api/v3/repos/acme/models/check-runs/77", "{}"); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Method != "PATCH" || calls[0].Route != "/repos/{owner}/{repo}/check-runs/{id}" ||
		calls[0].Status != http.StatusTeapot || calls[0].RateRemaining != 41 || calls[0].Duration <= 0 {
		t.Errorf("calls = %+v", calls)
	}
}

func TestRoute(t *testing.T) {
	sha := strings.Repeat("ab", 20)
	for path, want := range map[string]string{
		"/app/installations/12/access_tokens":                "/app/installations/{id}/access_tokens",
		"/repos/acme/models/git/trees/" + sha:                "/repos/{owner}/{repo}/git/trees/{sha}",
		"/repos/acme/models/compare/" + sha + "..." + sha:    "/repos/{owner}/{repo}/compare/{basehead}",
		"/repos/acme/models/contents/environments/prod.yaml": "/repos/{owner}/{repo}/contents/{path}",
		"/orgs/acme/teams/ml-leads/memberships/bob":          "/orgs/{org}/teams/{team_slug}/memberships/{username}",
		"/api/v3/repos/acme/models/issues/3/comments":        "/repos/{owner}/{repo}/issues/{id}/comments",
		"/repos/acme/models/commits":                         "/repos/{owner}/{repo}/commits",
		"/installation/repositories":                         "/installation/repositories",
		"/repos/acme":                                        "/repos/{owner}",
	} {
		if got := route(path); got != want {
			t.Errorf("route(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestLRU(t *testing.T) {
	c := newLRU[string](80)
	c.add("a", "A", 10)
	c.add("b", "B", 10)
	c.add("huge", "H", 11) // more than an eighth
	if _, ok := c.get("huge"); ok {
		t.Error("kept a value larger than an eighth of the cache")
	}
	c.get("a")
	for i := range 7 {
		c.add(strconv.Itoa(i), "x", 10)
	}
	if _, ok := c.get("b"); ok {
		t.Error("b, the least recently used, was not evicted")
	}
	if v, ok := c.get("a"); !ok || v != "A" {
		t.Error("a, recently used, was evicted")
	}
	if c.size > c.max {
		t.Errorf("size %d over %d", c.size, c.max)
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", 40000) // 80000 bytes
	got := clip(long, maxOutputBytes)
	if len(got) > maxOutputBytes || !strings.HasSuffix(got, "GitHub shows.") || !strings.HasPrefix(got, "éé") {
		t.Errorf("clip: %d bytes, ends %q", len(got), got[len(got)-20:])
	}
	if !utf8.ValidString(got) {
		t.Error("clip cut a character in two")
	}
	if clip("short", maxOutputBytes) != "short" {
		t.Error("clip changed a short text")
	}
}

package githubtest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// defaultLimit is GitHub's primary rate limit of an installation (requests an
// hour) on a non-Enterprise organization; unauthenticated clients get 60.
const (
	defaultLimit   = 5000
	anonymousLimit = 60
)

// bucket is a primary rate limit: limit requests per hour-long window.
type bucket struct {
	limit, remaining int
	reset            time.Time
	exceeded         string // GitHub's message once the bucket is empty
}

func (s *Server) bucket(key string, limit int, exceeded string) *bucket {
	b := s.limits[key]
	if b == nil {
		b = &bucket{limit: limit, remaining: limit, reset: s.now().Add(time.Hour), exceeded: exceeded}
		s.limits[key] = b
	}
	return b
}

// take counts a request, refilling the bucket when its window is over, and
// tells whether the request is within the limit.
func (b *bucket) take(now time.Time) bool {
	if !now.Before(b.reset) {
		b.remaining, b.reset = b.limit, now.Add(time.Hour)
	}
	if b.remaining == 0 {
		return false
	}
	b.remaining--
	return true
}

// refund gives back a request that GitHub does not count (a 304).
func (b *bucket) refund() { b.remaining = min(b.remaining+1, b.limit) }

func (s *Server) bucketFor(c *caller) *bucket {
	if c.installation != nil {
		id := c.installation.id
		return s.bucket(fmt.Sprintf("installation:%d", id), defaultLimit, fmt.Sprintf("API rate limit exceeded for installation ID %d.", id))
	}
	if c.user != "" {
		return s.bucket("user:"+strings.ToLower(c.user), defaultLimit, fmt.Sprintf("API rate limit exceeded for user ID %d.", s.user(c.user).id))
	}
	if c.app == nil {
		// A call that takes no credential counts against the client's
		// unauthenticated limit.
		return s.bucket("unauthenticated", anonymousLimit, "API rate limit exceeded.")
	}
	return s.bucket(fmt.Sprintf("app:%d", c.app.id), defaultLimit, fmt.Sprintf("API rate limit exceeded for app ID %d.", c.app.id))
}

// anonymousBucket gives the headers of answers to requests without valid
// credentials; it is not counted down.
func (s *Server) anonymousBucket() *bucket {
	return s.bucket("anonymous", anonymousLimit, "API rate limit exceeded.")
}

func (s *Server) rateHeaders(h http.Header, b *bucket) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(b.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(b.remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(b.limit-b.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(b.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// SetRateLimit gives an installation a primary rate limit of limit requests
// an hour, starting a fresh window, so that a test can exhaust it quickly.
func (s *Server) SetRateLimit(installationID int64, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketFor(&caller{installation: &installation{id: installationID}})
	b.limit, b.remaining, b.reset = limit, limit, s.now().Add(time.Hour)
}

// RateLimitRemaining returns how many requests the installation has left in
// the current window.
func (s *Server) RateLimitRemaining(installationID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketFor(&caller{installation: &installation{id: installationID}})
	if !s.now().Before(b.reset) {
		return b.limit
	}
	return b.remaining
}

package access

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/modelgate/modelgate/internal/github"
)

// errBadToken is GitHub refusing a user's token: revoked, expired or never
// issued.
var errBadToken = errors.New("GitHub refused the token")

// members asks GitHub, with a user's own token, who the user is and whether
// they belong to a reviewer team.
type members struct {
	baseURL   string
	transport http.RoundTripper
	teams     []Team
}

// maxWait bounds a wait for GitHub's rate limits while a reviewer waits.
const maxWait = 5 * time.Second

func (m *members) client(token string) (*github.Client, error) {
	return github.NewTokenClient(github.TokenConfig{Token: token, BaseURL: m.baseURL, Transport: m.transport, MaxWait: maxWait})
}

// identify returns the login of the token's user and whether they are a
// member of a reviewer team.
func (m *members) identify(ctx context.Context, token string) (string, bool, error) {
	c, err := m.client(token)
	if err != nil {
		return "", false, err
	}
	login, err := c.User(ctx)
	if err != nil {
		return "", false, githubError(err)
	}
	member, err := m.member(ctx, c, login)
	return login, member, err
}

// confirm tells whether login, whose token this is, is still a member of a
// reviewer team.
func (m *members) confirm(ctx context.Context, token, login string) (bool, error) {
	c, err := m.client(token)
	if err != nil {
		return false, err
	}
	return m.member(ctx, c, login)
}

// member asks about each team until one has login as an active member. An
// error is returned only when no team said yes: a reviewer is let in by the
// teams GitHub answered for, never by one it did not.
func (m *members) member(ctx context.Context, c *github.Client, login string) (bool, error) {
	var errs []error
	for _, t := range m.teams {
		ok, err := c.TeamMember(ctx, t.Org, t.Slug, login)
		if err != nil {
			errs = append(errs, githubError(err))
			continue
		}
		if ok {
			return true, nil
		}
	}
	return false, errors.Join(errs...)
}

func githubError(err error) error {
	if github.StatusCode(err) == http.StatusUnauthorized {
		return fmt.Errorf("%w: %w", errBadToken, err)
	}
	return err
}

// tokenCache remembers, briefly, what GitHub said of the tokens presented to
// the API, so that a script's every call is not two more calls to GitHub.
// Tokens are known by their SHA-256 only. It is safe for concurrent use.
type tokenCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[[sha256.Size]byte]tokenEntry
}

type tokenEntry struct {
	login   string
	member  bool
	expires time.Time
}

// maxTokens bounds the cache; when it is full, expired entries go, and if
// none has expired, all do.
const maxTokens = 4096

func newTokenCache(ttl time.Duration) *tokenCache {
	return &tokenCache{ttl: ttl, entries: map[[sha256.Size]byte]tokenEntry{}}
}

func (tc *tokenCache) get(key [sha256.Size]byte, now time.Time) (tokenEntry, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	e, ok := tc.entries[key]
	if !ok || !now.Before(e.expires) {
		return tokenEntry{}, false
	}
	return e, true
}

func (tc *tokenCache) put(key [sha256.Size]byte, e tokenEntry, now time.Time) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if len(tc.entries) >= maxTokens {
		for k, old := range tc.entries {
			if !now.Before(old.expires) {
				delete(tc.entries, k)
			}
		}
		if len(tc.entries) >= maxTokens {
			clear(tc.entries)
		}
	}
	e.expires = now.Add(tc.ttl)
	tc.entries[key] = e
}

package githubtest

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// object is a JSON object of GitHub's API or of a webhook payload.
type object = map[string]any

// user is a GitHub account: a person, an App's bot or an organization.
type user struct {
	login string
	id    int64
	kind  string // "User", "Bot" or "Organization"
	email string
}

// user returns the account of login, created as a person on first use, so
// that tests name reviewers and authors without declaring them.
func (s *Server) user(login string) *user {
	u := s.users[strings.ToLower(login)]
	if u == nil {
		u = &user{login: login, id: s.newID(), kind: "User"}
		s.users[strings.ToLower(login)] = u
	}
	return u
}

// AddUser gives login the commit email address email: commits authored or
// committed with it show the account as their author or committer, as on
// GitHub.
func (s *Server) AddUser(login, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user(login).email = email
}

// userByEmail returns the login whose commit address is email, or "".
func (s *Server) userByEmail(email string) string {
	for _, u := range s.users {
		if u.email != "" && strings.EqualFold(u.email, email) {
			return u.login
		}
	}
	return ""
}

func (s *Server) userObject(login string) object {
	u := s.user(login)
	api := s.api + "/users/" + url.PathEscape(u.login)
	return object{
		"login":               u.login,
		"id":                  u.id,
		"node_id":             nodeID(u.kind, u.id),
		"avatar_url":          fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", u.id),
		"gravatar_id":         "",
		"url":                 api,
		"html_url":            s.web + "/" + url.PathEscape(u.login),
		"followers_url":       api + "/followers",
		"following_url":       api + "/following{/other_user}",
		"gists_url":           api + "/gists{/gist_id}",
		"starred_url":         api + "/starred{/owner}{/repo}",
		"subscriptions_url":   api + "/subscriptions",
		"organizations_url":   api + "/orgs",
		"repos_url":           api + "/repos",
		"events_url":          api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
		"type":                u.kind,
		"user_view_type":      "public",
		"site_admin":          false,
	}
}

// nodeID makes a GraphQL node ID in GitHub's legacy form, base64 of
// "0<length of type>:<type><id>" (MDQ6VXNlcjE= is "04:User1").
func nodeID(kind string, id int64) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "0%d:%s%d", len(kind), kind, id))
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// optionalTime is a nullable timestamp: null when t is zero.
func optionalTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return timestamp(t)
}

package githubtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// team is a team of an organization.
type team struct {
	id      int64
	members map[string]bool // lower-case logins
}

// AddTeamMember makes login an active member of the organization's team
// (its slug), creating the team on first use.
func (s *Server) AddTeamMember(org, teamSlug, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(org + "/" + teamSlug)
	t := s.teams[key]
	if t == nil {
		t = &team{id: s.newID(), members: map[string]bool{}}
		s.teams[key] = t
	}
	s.user(login)
	t.members[strings.ToLower(login)] = true
}

// GET /orgs/{org}/teams/{team_slug}/memberships/{username}
func (s *Server) getTeamMembership(req *request) *response {
	org := req.params["org"]
	// An installation sees only the organization it is installed on.
	if !strings.EqualFold(org, req.caller.installation.account) {
		return notFound()
	}
	t := s.teams[strings.ToLower(org+"/"+req.params["team_slug"])]
	login := req.params["username"]
	if t == nil || !t.members[strings.ToLower(login)] {
		return notFound()
	}
	return reply(http.StatusOK, object{
		"url":   fmt.Sprintf("%s/organizations/%d/team/%d/memberships/%s", s.api, s.user(org).id, t.id, url.PathEscape(login)),
		"role":  "member",
		"state": "active",
	})
}

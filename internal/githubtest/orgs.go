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

// RemoveTeamMember ends login's membership of the organization's team.
func (s *Server) RemoveTeamMember(org, teamSlug, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.teams[strings.ToLower(org+"/"+teamSlug)]; t != nil {
		delete(t.members, strings.ToLower(login))
	}
}

// GET /orgs/{org}/teams/{team_slug}/memberships/{username}
func (s *Server) getTeamMembership(req *request) *response {
	org := req.params["org"]
	if !s.seesTeamsOf(req.caller, org) {
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

// seesTeamsOf tells whether the caller may read the organization's teams.
// An installation sees only the organization it is installed on; a user's
// token of an App sees an organization the App is installed on, when the
// user is one of its members (of any of its teams: the emulator knows no
// other membership), as GitHub limits a user's token to what both the App
// and the user can see.
func (s *Server) seesTeamsOf(c *caller, org string) bool {
	if c.installation != nil {
		return strings.EqualFold(org, c.installation.account)
	}
	installed := false
	for _, inst := range s.installations {
		installed = installed || inst.app == c.app && strings.EqualFold(inst.account, org)
	}
	if !installed {
		return false
	}
	prefix := strings.ToLower(org) + "/"
	for key, t := range s.teams {
		if strings.HasPrefix(key, prefix) && t.members[strings.ToLower(c.user)] {
			return true
		}
	}
	return false
}

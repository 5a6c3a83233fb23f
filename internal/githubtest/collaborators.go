package githubtest

import (
	"net/http"
	"strings"
)

// permissionOf is the permission GitHub reports for each repository role:
// maintain counts as write and triage as read.
var permissionOf = map[string]string{
	"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read",
}

// SetRole gives login a role on the repository: admin, maintain, write,
// triage or read. A user without one reads the repository, as anyone may
// read a public one.
func (s *Server) SetRole(fullName, login, role string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if permissionOf[role] == "" {
		s.t.Fatalf("githubtest: SetRole: %q is not a repository role", role)
	}
	r := s.mustRepo(fullName)
	s.user(login)
	if r.roles == nil {
		r.roles = map[string]string{}
	}
	r.roles[strings.ToLower(login)] = role
}

// GET /repos/{owner}/{repo}/collaborators/{username}/permission
func (s *Server) getCollaboratorPermission(req *request) *response {
	login := req.params["username"]
	u := s.users[strings.ToLower(login)]
	if u == nil {
		return notFound()
	}
	role := req.repo.roles[strings.ToLower(login)]
	if role == "" {
		role = "read"
	}
	user := s.userObject(u.login)
	user["role_name"] = role
	user["permissions"] = map[string]bool{
		"admin": role == "admin", "maintain": role == "admin" || role == "maintain",
		"push":   permissionOf[role] != "read",
		"triage": role != "read", "pull": true,
	}
	return reply(http.StatusOK, object{"permission": permissionOf[role], "role_name": role, "user": user})
}

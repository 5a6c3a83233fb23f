package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"
)

// Comment is an issue comment on a pull request.
type Comment struct {
	ID                   int64
	Issue                int // the pull request's number
	User, Body           string
	CreatedAt, UpdatedAt time.Time
	// Edits counts the PATCH requests that changed the comment.
	Edits int
}

type comment struct {
	Comment
	app *app // the App that posted it, if one did
}

// maxCommentChars is GitHub's limit on the body of a comment.
const maxCommentChars = 65536

// Comments returns the comments on a pull request, oldest first.
func (s *Server) Comments(fullName string, number int) []Comment {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []Comment
	for _, c := range s.mustRepo(fullName).comments {
		if c.Issue == number {
			list = append(list, c.Comment)
		}
	}
	return list
}

// addComment records a comment by login, or by the App a when it is not nil.
func (s *Server) addComment(r *repo, number int, login, body string, a *app) *comment {
	now := s.now()
	c := &comment{Comment: Comment{ID: s.newID(), Issue: number, User: login, Body: body, CreatedAt: now, UpdatedAt: now}, app: a}
	r.comments = append(r.comments, c)
	return c
}

// commentBody checks a comment's body as GitHub does; a message is GitHub's
// refusal.
func commentBody(req *request) (body, refusal string) {
	var b struct {
		Body string `json:"body"`
	}
	if err := req.decode(&b); err != nil {
		return "", err.Error()
	}
	switch {
	case b.Body == "":
		return "", "Validation Failed: body cannot be blank"
	case utf8.RuneCountInString(b.Body) > maxCommentChars:
		return "", fmt.Sprintf("Validation Failed: body is too long (maximum is %d characters)", maxCommentChars)
	}
	return b.Body, ""
}

// GET /repos/{owner}/{repo}/issues/{issue_number}/comments
func (s *Server) listComments(req *request) *response {
	p := req.pull()
	if p == nil {
		return notFound()
	}
	var since time.Time
	if v := req.URL.Query().Get("since"); v != "" {
		// The request was validated: since is a date-time.
		since, _ = time.Parse(time.RFC3339, v)
	}
	var list []object
	for _, c := range req.repo.comments {
		if c.Issue == p.Number && !c.UpdatedAt.Before(since) {
			list = append(list, s.commentObject(req.repo, c))
		}
	}
	resp := reply(http.StatusOK, nil)
	resp.body = nonNil(page(req, resp, list))
	return resp
}

// POST /repos/{owner}/{repo}/issues/{issue_number}/comments
func (s *Server) createComment(req *request) *response {
	p := req.pull()
	if p == nil {
		return notFound()
	}
	body, refusal := commentBody(req)
	if refusal != "" {
		return validationFailed(refusal)
	}
	c := s.addComment(req.repo, p.Number, req.caller.app.bot(), body, req.caller.app)
	resp := reply(http.StatusCreated, s.commentObject(req.repo, c))
	resp.header.Set("Location", s.commentURL(req.repo, c))
	return resp
}

// PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}
func (s *Server) updateComment(req *request) *response {
	id := req.intParam("comment_id")
	i := slices.IndexFunc(req.repo.comments, func(c *comment) bool { return c.ID == id })
	if i < 0 {
		return notFound()
	}
	body, refusal := commentBody(req)
	if refusal != "" {
		return validationFailed(refusal)
	}
	c := req.repo.comments[i]
	c.Body, c.UpdatedAt = body, s.now()
	c.Edits++
	return reply(http.StatusOK, s.commentObject(req.repo, c))
}

func (s *Server) commentURL(r *repo, c *comment) string {
	return fmt.Sprintf("%s/repos/%s/issues/comments/%d", s.api, r.fullName(), c.ID)
}

func (s *Server) commentObject(r *repo, c *comment) object {
	var via any
	if c.app != nil {
		via = s.appObject(c.app)
	}
	return object{
		"id":                       c.ID,
		"node_id":                  nodeID("IssueComment", c.ID),
		"url":                      s.commentURL(r, c),
		"html_url":                 fmt.Sprintf("%s/%s/pull/%d#issuecomment-%d", s.web, r.fullName(), c.Issue, c.ID),
		"issue_url":                fmt.Sprintf("%s/repos/%s/issues/%d", s.api, r.fullName(), c.Issue),
		"body":                     c.Body,
		"user":                     s.userObject(c.User),
		"created_at":               timestamp(c.CreatedAt),
		"updated_at":               timestamp(c.UpdatedAt),
		"author_association":       s.authorAssociation(r, c.User),
		"performed_via_github_app": via,
	}
}

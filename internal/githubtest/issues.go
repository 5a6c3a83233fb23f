package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/modelgate/modelgate/internal/jsonlist"
)

// Comment is a comment on an issue or a pull request.
type Comment struct {
	ID                   int64
	Issue                int // the issue's or pull request's number
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

// Comments returns the comments on an issue or a pull request, oldest first.
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
	n, ok := req.issueNumber()
	if !ok {
		return notFound()
	}
	var since time.Time
	if v := req.URL.Query().Get("since"); v != "" {
		// The request was validated: since is a date-time.
		since, _ = time.Parse(time.RFC3339, v)
	}
	var list []object
	for _, c := range req.repo.comments {
		if c.Issue == n && !c.UpdatedAt.Before(since) {
			list = append(list, s.commentObject(req.repo, c))
		}
	}
	resp := reply(http.StatusOK, nil)
	resp.body = jsonlist.NonNil(page(req, resp, list))
	return resp
}

// POST /repos/{owner}/{repo}/issues/{issue_number}/comments
func (s *Server) createComment(req *request) *response {
	n, ok := req.issueNumber()
	if !ok {
		return notFound()
	}
	body, refusal := commentBody(req)
	if refusal != "" {
		return validationFailed(refusal)
	}
	c := s.addComment(req.repo, n, req.caller.app.bot(), body, req.caller.app)
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
		"html_url":                 fmt.Sprintf("%s/%s/%s/%d#issuecomment-%d", s.web, r.fullName(), r.issueKind(c.Issue), c.Issue, c.ID),
		"issue_url":                fmt.Sprintf("%s/repos/%s/issues/%d", s.api, r.fullName(), c.Issue),
		"body":                     c.Body,
		"user":                     s.userObject(c.User),
		"created_at":               timestamp(c.CreatedAt),
		"updated_at":               timestamp(c.UpdatedAt),
		"author_association":       s.authorAssociation(r, c.User),
		"performed_via_github_app": via,
	}
}

// issue is an issue that is not a pull request; pull requests and issues
// share their numbers, as on GitHub.
type issue struct {
	Number           int
	Title, Author    string
	id               int64
	created, updated time.Time
}

// OpenIssue opens an issue by author and returns its number.
func (s *Server) OpenIssue(fullName, author, title string) int {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	s.user(author)
	r.lastNumber++
	now := s.now()
	r.issues = append(r.issues, &issue{Number: r.lastNumber, Title: title, Author: author, id: s.newID(), created: now, updated: now})
	return r.lastNumber
}

func (r *repo) issue(number int) *issue {
	for _, i := range r.issues {
		if i.Number == number {
			return i
		}
	}
	return nil
}

// issueKind is the path segment of a number's web page: "pull" or "issues".
func (r *repo) issueKind(number int) string {
	if r.issue(number) != nil {
		return "issues"
	}
	return "pull"
}

// issueNumber returns the {issue_number} of a route, when it names a pull
// request or an issue of the repository.
func (req *request) issueNumber() (int, bool) {
	n := int(req.intParam("issue_number"))
	return n, req.repo.pull(n) != nil || req.repo.issue(n) != nil
}

// plainIssueObject is an issue that is not a pull request, as issue events
// carry it.
func (s *Server) plainIssueObject(r *repo, i *issue) object {
	api := fmt.Sprintf("%s/repos/%s/issues/%d", s.api, r.fullName(), i.Number)
	comments := 0
	for _, c := range r.comments {
		if c.Issue == i.Number {
			comments++
		}
	}
	return object{
		"url":                      api,
		"repository_url":           s.api + "/repos/" + r.fullName(),
		"labels_url":               api + "/labels{/name}",
		"comments_url":             api + "/comments",
		"events_url":               api + "/events",
		"html_url":                 fmt.Sprintf("%s/%s/issues/%d", s.web, r.fullName(), i.Number),
		"id":                       i.id,
		"node_id":                  nodeID("Issue", i.id),
		"number":                   i.Number,
		"title":                    i.Title,
		"user":                     s.userObject(i.Author),
		"labels":                   []object{},
		"state":                    "open",
		"locked":                   false,
		"assignee":                 nil,
		"assignees":                []object{},
		"milestone":                nil,
		"comments":                 comments,
		"created_at":               timestamp(i.created),
		"updated_at":               timestamp(i.updated),
		"closed_at":                nil,
		"author_association":       s.authorAssociation(r, i.Author),
		"active_lock_reason":       nil,
		"body":                     nil,
		"reactions":                reactions(api + "/reactions"),
		"performed_via_github_app": nil,
		"state_reason":             nil,
	}
}

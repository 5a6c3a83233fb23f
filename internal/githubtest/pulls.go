package githubtest

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/jsonlist"
)

// PullRequest is the state of a pull request, as Server.PullRequest shows it.
type PullRequest struct {
	Number           int
	Title, Body      string
	Author           string
	Head, Base       string // branch names
	HeadSHA, BaseSHA string
	State            string // "open" or "closed"
	Draft            bool
	Labels           []string
	Reviews          []Review
	Merged           bool
	MergeCommitSHA   string
	MergedBy         string
}

// Review is a pull request review.
type Review struct {
	ID          int64
	User        string
	State       string // APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED
	Body        string
	CommitID    string // the head the review was given on
	SubmittedAt time.Time
}

// PullRequestOptions describes a pull request to open.
type PullRequestOptions struct {
	Head        string // the branch to merge, which must be on the server
	Base        string // the branch to merge into; the default branch if empty
	Author      string
	Title, Body string
	Labels      []string
	Draft       bool
	// Fork is the fork ("owner/name") whose branch Head the pull request
	// comes from; empty for a branch of the repository itself. The server
	// keeps the head's commits, as GitHub keeps refs/pull/<n>/head.
	Fork string
}

type pull struct {
	PullRequest
	headRepo                      *repo // the repository the head branch lives in
	id                            int64
	created, updated, closed      time.Time
	merged                        time.Time
	previousHead, pusher          string // of the last push, for synchronize events
	previousBase, previousBaseSHA string // of the last SetBase, for edited events
}

// OpenPullRequest opens a pull request from a branch already pushed to the
// server and returns its number.
func (s *Server) OpenPullRequest(fullName string, o PullRequestOptions) int {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	base := cmp.Or(o.Base, r.defaultBranch)
	headSHA, err := r.git.branch(o.Head)
	if err != nil {
		s.t.Fatalf("githubtest: OpenPullRequest: head: %v", err)
	}
	baseSHA, err := r.git.branch(base)
	if err != nil {
		s.t.Fatalf("githubtest: OpenPullRequest: base: %v", err)
	}
	s.user(o.Author)
	headRepo := r
	if o.Fork != "" {
		owner, name, ok := strings.Cut(o.Fork, "/")
		if !ok || strings.EqualFold(o.Fork, r.fullName()) {
			s.t.Fatalf("githubtest: OpenPullRequest: fork %q is not another repository's owner/name", o.Fork)
		}
		s.user(owner)
		headRepo = &repo{id: s.newID(), owner: owner, name: name, defaultBranch: r.defaultBranch,
			created: s.now(), pushed: s.now(), parent: r, suites: map[string]int64{}}
	}
	r.lastNumber++
	now := s.now()
	p := &pull{
		PullRequest: PullRequest{
			Number: r.lastNumber, Title: o.Title, Body: o.Body, Author: o.Author,
			Head: o.Head, Base: base, HeadSHA: headSHA, BaseSHA: baseSHA,
			State: "open", Draft: o.Draft, Labels: slices.Clone(o.Labels),
		},
		headRepo: headRepo, id: s.newID(), created: now, updated: now,
	}
	r.pulls = append(r.pulls, p)
	return p.Number
}

// mustPull returns a pull request for a test's call, failing the test when it
// does not exist.
func (s *Server) mustPull(fullName string, number int) *pull {
	s.t.Helper()
	p := s.mustRepo(fullName).pull(number)
	if p == nil {
		s.t.Fatalf("githubtest: %s has no pull request #%d", fullName, number)
	}
	return p
}

func (r *repo) pull(number int) *pull {
	for _, p := range r.pulls {
		if p.Number == number {
			return p
		}
	}
	return nil
}

// PullRequest returns the state of a pull request.
func (s *Server) PullRequest(fullName string, number int) PullRequest {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.mustPull(fullName, number).PullRequest
	pr.Labels, pr.Reviews = slices.Clone(pr.Labels), slices.Clone(pr.Reviews)
	return pr
}

// SubmitReview records a review by reviewer on the pull request's current
// head and returns its ID. state is APPROVED, CHANGES_REQUESTED or COMMENTED.
func (s *Server) SubmitReview(fullName string, number int, reviewer, state string) int64 {
	s.t.Helper()
	if !slices.Contains([]string{"APPROVED", "CHANGES_REQUESTED", "COMMENTED"}, state) {
		s.t.Fatalf("githubtest: SubmitReview: state %q", state)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustPull(fullName, number)
	s.user(reviewer)
	rv := Review{ID: s.newID(), User: reviewer, State: state, CommitID: p.HeadSHA, SubmittedAt: s.now()}
	p.Reviews = append(p.Reviews, rv)
	return rv.ID
}

// DismissReview dismisses a review, as a maintainer or branch protection does.
func (s *Server) DismissReview(fullName string, number int, reviewID int64) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustPull(fullName, number)
	i := slices.IndexFunc(p.Reviews, func(rv Review) bool { return rv.ID == reviewID })
	if i < 0 {
		s.t.Fatalf("githubtest: DismissReview: %s#%d has no review %d", fullName, number, reviewID)
	}
	p.Reviews[i].State = "DISMISSED"
}

// SetDraft converts a pull request to a draft or marks it ready for review.
func (s *Server) SetDraft(fullName string, number int, draft bool) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustPull(fullName, number)
	p.Draft, p.updated = draft, s.now()
}

// SetBase changes the branch a pull request merges into (an edited event).
func (s *Server) SetBase(fullName string, number int, base string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	p := s.mustPull(fullName, number)
	sha, err := r.git.branch(base)
	if err != nil {
		s.t.Fatalf("githubtest: SetBase: %v", err)
	}
	p.previousBase, p.previousBaseSHA = p.Base, p.BaseSHA
	p.Base, p.BaseSHA, p.updated = base, sha, s.now()
}

// ClosePullRequest closes a pull request without merging it.
func (s *Server) ClosePullRequest(fullName string, number int) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustPull(fullName, number)
	now := s.now()
	p.State, p.closed, p.updated = "closed", now, now
}

// pull returns the pull request of a {pull_number} or {issue_number} route.
func (req *request) pull() *pull {
	n := req.intParam("pull_number")
	if n == 0 {
		n = req.intParam("issue_number")
	}
	return req.repo.pull(int(n))
}

// labelObject is a label; its ID is derived from the name, as the emulator
// keeps no label list. The description is "" rather than null: the list of
// pull requests declares it non-nullable.
func (s *Server) labelObject(r *repo, name string) object {
	h := fnv.New32a()
	h.Write([]byte(name))
	id := int64(h.Sum32())
	return object{
		"id": id, "node_id": nodeID("Label", id), "name": name, "description": "", "color": "ededed", "default": false,
		"url": s.api + "/repos/" + r.fullName() + "/labels/" + escapePath(name),
	}
}

// authorAssociation is MEMBER for members of a team of the repository's
// organization, as GitHub computes it for organization repositories.
func (s *Server) authorAssociation(r *repo, login string) string {
	for key, t := range s.teams {
		if strings.HasPrefix(key, strings.ToLower(r.owner)+"/") && t.members[strings.ToLower(login)] {
			return "MEMBER"
		}
	}
	return "CONTRIBUTOR"
}

// pullObject is GitHub's pull request; full adds the fields of GET
// /repos/{owner}/{repo}/pulls/{pull_number} that the list leaves out, which
// GitHub computes from git: mergeability, commit and change counts.
func (s *Server) pullObject(r *repo, p *pull, full bool) (object, error) {
	api := s.api + "/repos/" + r.fullName()
	web := s.web + "/" + r.fullName()
	self := fmt.Sprintf("%s/pulls/%d", api, p.Number)
	html := fmt.Sprintf("%s/pull/%d", web, p.Number)
	issue := fmt.Sprintf("%s/issues/%d", api, p.Number)
	labels := []object{}
	for _, l := range p.Labels {
		labels = append(labels, s.labelObject(r, l))
	}
	branch := func(in *repo, ref, sha string) object {
		return object{"label": in.owner + ":" + ref, "ref": ref, "sha": sha, "user": s.userObject(in.owner), "repo": s.repoObject(in, false)}
	}
	var body any
	if p.Body != "" {
		body = p.Body
	}
	var mergeCommit any
	if p.MergeCommitSHA != "" {
		mergeCommit = p.MergeCommitSHA
	}
	o := object{
		"url":                 self,
		"id":                  p.id,
		"node_id":             nodeID("PullRequest", p.id),
		"html_url":            html,
		"diff_url":            html + ".diff",
		"patch_url":           html + ".patch",
		"issue_url":           issue,
		"commits_url":         self + "/commits",
		"review_comments_url": self + "/comments",
		"review_comment_url":  api + "/pulls/comments{/number}",
		"comments_url":        issue + "/comments",
		"statuses_url":        api + "/statuses/" + p.HeadSHA,
		"number":              p.Number,
		"state":               p.State,
		"locked":              false,
		"title":               p.Title,
		"user":                s.userObject(p.Author),
		"body":                body,
		"labels":              labels,
		"milestone":           nil,
		"active_lock_reason":  nil,
		"created_at":          timestamp(p.created),
		"updated_at":          timestamp(p.updated),
		"closed_at":           optionalTime(p.closed),
		"merged_at":           optionalTime(p.merged),
		"merge_commit_sha":    mergeCommit,
		"assignee":            nil,
		"assignees":           []object{},
		"requested_reviewers": []object{},
		"requested_teams":     []object{},
		"head":                branch(p.headRepo, p.Head, p.HeadSHA),
		"base":                branch(r, p.Base, p.BaseSHA),
		"_links": object{
			"self":            object{"href": self},
			"html":            object{"href": html},
			"issue":           object{"href": issue},
			"comments":        object{"href": issue + "/comments"},
			"review_comments": object{"href": self + "/comments"},
			"review_comment":  object{"href": api + "/pulls/comments{/number}"},
			"commits":         object{"href": self + "/commits"},
			"statuses":        object{"href": api + "/statuses/" + p.HeadSHA},
		},
		"author_association": s.authorAssociation(r, p.Author),
		"auto_merge":         nil,
		"draft":              p.Draft,
	}
	if !full {
		return o, nil
	}
	mb, err := r.git.mergeBase(p.BaseSHA, p.HeadSHA)
	if err != nil {
		return nil, err
	}
	commits, err := r.git.count(mb, p.HeadSHA)
	if err != nil {
		return nil, err
	}
	files, err := r.git.diff(mb, p.HeadSHA)
	if err != nil {
		return nil, err
	}
	additions, deletions := 0, 0
	for _, f := range files {
		additions += f.additions
		deletions += f.deletions
	}
	var mergeable any
	state := "unknown"
	if p.State == "open" {
		ok, err := r.git.mergeable(p.BaseSHA, p.HeadSHA)
		if err != nil {
			return nil, err
		}
		mergeable = ok
		switch {
		case !ok:
			state = "dirty"
		case p.Draft:
			state = "draft"
		default:
			state = "clean"
		}
	}
	var mergedBy any
	if p.MergedBy != "" {
		mergedBy = s.userObject(p.MergedBy)
	}
	comments := 0
	for _, c := range r.comments {
		if c.Issue == p.Number {
			comments++
		}
	}
	o["merged"] = p.Merged
	o["mergeable"] = mergeable
	o["rebaseable"] = mergeable
	o["mergeable_state"] = state
	o["merged_by"] = mergedBy
	o["comments"] = comments
	o["review_comments"] = 0
	o["maintainer_can_modify"] = false
	o["commits"] = commits
	o["additions"] = additions
	o["deletions"] = deletions
	o["changed_files"] = len(files)
	return o, nil
}

// GET /repos/{owner}/{repo}/pulls
func (s *Server) listPulls(req *request) *response {
	q := req.URL.Query()
	state := cmp.Or(q.Get("state"), "open")
	// head is "owner:branch" on GitHub; the owner is the repository's.
	head := q.Get("head")
	if _, branch, ok := strings.Cut(head, ":"); ok {
		head = branch
	}
	var list []object
	for _, p := range req.repo.pulls {
		if state != "all" && p.State != state || head != "" && p.Head != head || q.Has("base") && p.Base != q.Get("base") {
			continue
		}
		o, err := s.pullObject(req.repo, p, false)
		if err != nil {
			return s.notFoundOr(req, err)
		}
		list = append(list, o)
	}
	// GitHub sorts by creation, newest first unless direction=asc.
	if q.Get("direction") != "asc" {
		slices.Reverse(list)
	}
	resp := reply(http.StatusOK, nil)
	resp.body = jsonlist.NonNil(page(req, resp, list))
	return resp
}

// GET /repos/{owner}/{repo}/pulls/{pull_number}
func (s *Server) getPull(req *request) *response {
	p := req.pull()
	if p == nil {
		return notFound()
	}
	o, err := s.pullObject(req.repo, p, true)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	return reply(http.StatusOK, o)
}

// GET /repos/{owner}/{repo}/pulls/{pull_number}/files
func (s *Server) listPullFiles(req *request) *response {
	p := req.pull()
	if p == nil {
		return notFound()
	}
	mb, err := req.repo.git.mergeBase(p.BaseSHA, p.HeadSHA)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	files, err := req.repo.git.diff(mb, p.HeadSHA)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	resp := reply(http.StatusOK, nil)
	resp.body = s.diffEntries(req.repo, p.HeadSHA, page(req, resp, files))
	return resp
}

// GET /repos/{owner}/{repo}/pulls/{pull_number}/commits
func (s *Server) listPullCommits(req *request) *response {
	p := req.pull()
	if p == nil {
		return notFound()
	}
	mb, err := req.repo.git.mergeBase(p.BaseSHA, p.HeadSHA)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	commits, err := req.repo.git.log("--reverse", "--end-of-options", mb+".."+p.HeadSHA)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	resp := reply(http.StatusOK, nil)
	resp.body = s.commitObjects(req.repo, page(req, resp, commits))
	return resp
}

// GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews
func (s *Server) listReviews(req *request) *response {
	r, p := req.repo, req.pull()
	if p == nil {
		return notFound()
	}
	list := []object{}
	for _, rv := range p.Reviews {
		list = append(list, s.reviewObject(r, p, rv))
	}
	resp := reply(http.StatusOK, nil)
	resp.body = page(req, resp, list)
	return resp
}

// PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge
func (s *Server) mergePull(req *request) *response {
	r, p := req.repo, req.pull()
	if p == nil {
		return notFound()
	}
	var body struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	// GitHub's answers: 405 for a pull request that cannot be merged, 409
	// when the head is not the SHA the client judged.
	if p.State != "open" || p.Draft {
		return errorReply(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
	}
	if body.SHA != "" && body.SHA != p.HeadSHA {
		return errorReply(http.StatusConflict, "Head branch was modified. Review and try the merge again.")
	}
	ok, err := r.git.mergeable(p.BaseSHA, p.HeadSHA)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	if !ok {
		return errorReply(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
	}
	method := cmp.Or(body.MergeMethod, "merge")
	title := cmp.Or(body.CommitTitle, fmt.Sprintf("Merge pull request #%d from %s/%s", p.Number, r.owner, p.Head))
	if method == "squash" {
		title = cmp.Or(body.CommitTitle, fmt.Sprintf("%s (#%d)", p.Title, p.Number))
	}
	message := title + "\n\n" + cmp.Or(body.CommitMessage, p.Title)
	bot := s.user(req.caller.app.bot())
	author := signature{name: bot.login, email: fmt.Sprintf("%d+%s@users.noreply.github.com", bot.id, bot.login)}
	before, err := r.git.branch(p.Base)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	sha, err := r.git.merge(method, p.Base, p.HeadSHA, message, author)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	s.recordRefUpdate(r, p.Base, before, sha, "pr_merge", bot.login)
	now := s.now()
	p.State, p.Merged, p.MergeCommitSHA, p.MergedBy = "closed", true, sha, bot.login
	p.merged, p.closed, p.updated = now, now, now
	r.pushed = now
	for _, other := range r.pulls {
		if other.State == "open" && other.Base == p.Base {
			other.BaseSHA = sha
		}
	}
	return reply(http.StatusOK, object{"sha": sha, "merged": true, "message": "Pull Request successfully merged"})
}

// PullRequests returns the state of every pull request of the repository,
// oldest first.
func (s *Server) PullRequests(fullName string) []PullRequest {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []PullRequest
	for _, p := range s.mustRepo(fullName).pulls {
		pr := p.PullRequest
		pr.Labels, pr.Reviews = slices.Clone(pr.Labels), slices.Clone(pr.Reviews)
		list = append(list, pr)
	}
	return list
}

// POST /repos/{owner}/{repo}/pulls: a pull request from a branch of the
// repository itself, opened by the caller's App.
func (s *Server) createPull(req *request) *response {
	r := req.repo
	var body struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body"`
		Draft bool   `json:"draft"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	head := body.Head
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		if !strings.EqualFold(owner, r.owner) {
			return validationFailed("Validation Failed: the emulator opens pull requests from the repository's own branches only")
		}
		head = branch
	}
	if body.Title == "" || head == "" || body.Base == "" {
		return validationFailed("Validation Failed: title, head and base are required")
	}
	headSHA, err := r.git.branch(head)
	if err != nil {
		return validationFailed("Validation Failed: head " + head + " does not exist")
	}
	baseSHA, err := r.git.branch(body.Base)
	if err != nil {
		return validationFailed("Validation Failed: base " + body.Base + " does not exist")
	}
	for _, p := range r.pulls {
		if p.State == "open" && p.Head == head && p.Base == body.Base && p.headRepo == r {
			return validationFailed(fmt.Sprintf("Validation Failed: A pull request already exists for %s:%s.", r.owner, head))
		}
	}
	if n, err := r.git.count(baseSHA, headSHA); err != nil || n == 0 {
		return validationFailed("Validation Failed: No commits between " + body.Base + " and " + head)
	}
	bot := req.caller.app.bot()
	s.user(bot)
	r.lastNumber++
	now := s.now()
	p := &pull{
		PullRequest: PullRequest{
			Number: r.lastNumber, Title: body.Title, Body: body.Body, Author: bot,
			Head: head, Base: body.Base, HeadSHA: headSHA, BaseSHA: baseSHA,
			State: "open", Draft: body.Draft, Labels: []string{},
		},
		headRepo: r, id: s.newID(), created: now, updated: now,
	}
	r.pulls = append(r.pulls, p)
	o, err := s.pullObject(r, p, true)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	resp := reply(http.StatusCreated, o)
	resp.header.Set("Location", fmt.Sprintf("%s/repos/%s/pulls/%d", s.api, r.fullName(), p.Number))
	return resp
}

// PATCH /repos/{owner}/{repo}/pulls/{pull_number}: the title, the body, or
// the state (closing without merging, or reopening).
func (s *Server) updatePull(req *request) *response {
	r, p := req.repo, req.pull()
	if p == nil {
		return notFound()
	}
	var body struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State string  `json:"state"`
		Base  string  `json:"base"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	if body.Base != "" && body.Base != p.Base {
		return validationFailed("Validation Failed: the emulator does not change a base through the API; use SetBase")
	}
	if p.Merged && body.State == "open" {
		return validationFailed("Validation Failed: state cannot be changed. The pull request is merged.")
	}
	now := s.now()
	if body.Title != nil {
		p.Title = *body.Title
	}
	if body.Body != nil {
		p.Body = *body.Body
	}
	switch {
	case body.State == "closed" && p.State == "open":
		p.State, p.closed = "closed", now
	case body.State == "open" && p.State == "closed":
		p.State, p.closed = "open", time.Time{}
	}
	p.updated = now
	o, err := s.pullObject(r, p, true)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	return reply(http.StatusOK, o)
}

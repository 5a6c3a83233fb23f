package githubtest

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// loadExamples reads GitHub's webhook examples once per process: one entry
// per event, each with example payloads of several actions.
var loadExamples = sync.OnceValues(func() (map[string][]json.RawMessage, error) {
	path, err := webhookExamplesFile()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("githubtest: %w", err)
	}
	var events []struct {
		Name     string            `json:"name"`
		Examples []json.RawMessage `json:"examples"`
	}
	if err := json.Unmarshal(data, &events); err != nil {
		return nil, fmt.Errorf("githubtest: parse %s: %w", path, err)
	}
	byName := map[string][]json.RawMessage{}
	for _, e := range events {
		byName[e.Name] = e.Examples
	}
	return byName, nil
})

// example returns a fresh copy of GitHub's example payload for an event and
// action ("" for an event without actions, such as push). Among several, it prefers one delivered to an App (with an
// installation field). An action without an example of its own (such as
// pull_request edited) starts from another example of the event, which
// exact reports.
func example(event, action string) (payload object, exact bool, err error) {
	all, err := loadExamples()
	if err != nil {
		return nil, false, err
	}
	var best object
	score := -1
	for _, raw := range all[event] {
		var p object
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, false, fmt.Errorf("githubtest: %s example: %w", event, err)
		}
		s := 0
		if actionOf(p) == action {
			s += 2
		}
		if _, ok := p["installation"]; ok {
			s++
		}
		if s > score {
			best, score = p, s
		}
	}
	if best == nil {
		return nil, false, fmt.Errorf("githubtest: GitHub's webhook examples have no %q event", event)
	}
	return best, actionOf(best) == action, nil
}

// actionOf returns the action of a payload, "" for an event without actions.
func actionOf(payload object) string {
	a, _ := payload["action"].(string)
	return a
}

// Delivery is a webhook delivery: the body and headers GitHub posts.
type Delivery struct {
	Event  string
	ID     string // X-GitHub-Delivery; GitHub keeps it when redelivering
	Body   []byte
	Header http.Header
}

// deliveryClient gives up after ten seconds, as GitHub does.
var deliveryClient = &http.Client{Timeout: 10 * time.Second}

// Deliver posts the delivery to url and returns the response, whose body the
// caller closes. Delivering twice is GitHub's redelivery: same ID, same body.
func (d *Delivery) Deliver(url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.Body))
	if err != nil {
		return nil, fmt.Errorf("githubtest: deliver %s: %w", d.Event, err)
	}
	req.Header = d.Header.Clone()
	resp, err := deliveryClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("githubtest: deliver %s: %w", d.Event, err)
	}
	return resp, nil
}

// SetWebhookSecret sets the secret that deliveries are signed with.
func (s *Server) SetWebhookSecret(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secret = secret
}

// WebhookSecret returns the secret that deliveries are signed with.
func (s *Server) WebhookSecret() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secret
}

// NewDelivery signs any body as a delivery of event, for tests of what a
// receiver does with payloads GitHub would not send.
func (s *Server) NewDelivery(event string, body []byte) *Delivery {
	s.mu.Lock()
	secret, hookID := s.secret, s.hookID
	s.mu.Unlock()
	sig256 := hmac.New(sha256.New, []byte(secret))
	sig256.Write(body)
	// GitHub still sends the legacy SHA-1 signature beside the SHA-256 one.
	sig1 := hmac.New(sha1.New, []byte(secret))
	sig1.Write(body)
	id := newUUID()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/5b8b6a4")
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", id)
	h.Set("X-GitHub-Hook-ID", strconv.FormatInt(hookID, 10))
	h.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	h.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(sig1.Sum(nil)))
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(sig256.Sum(nil)))
	return &Delivery{Event: event, ID: id, Body: body, Header: h}
}

// newUUID makes a random (version 4) UUID, the form of GitHub's delivery IDs.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Webhook returns a signed delivery of event and action ("" for an event
// without actions) built from GitHub's real example payload, changed by mutate (which may be nil), and its
// headers. The payload after mutate must satisfy the event's webhook schema in
// GitHub's description, or the test fails. PullRequestEvent and the other
// helpers call it with a mutate that rewrites the example to the emulator's
// state.
func (s *Server) Webhook(event, action string, mutate func(payload map[string]any)) (body []byte, headers http.Header) {
	s.t.Helper()
	d := s.webhook(event, action, mutate)
	return d.Body, d.Header
}

func (s *Server) webhook(event, action string, mutate func(payload map[string]any)) *Delivery {
	s.t.Helper()
	payload, exact, err := example(event, action)
	if err != nil {
		s.t.Fatal(err)
	}
	if !exact {
		// A borrowed example loses the fields of its own action (the
		// assignee of assigned, the label of labeled...).
		fields, err := s.spec.payloadFields(event, action)
		if err != nil {
			s.t.Fatal(err)
		}
		maps.DeleteFunc(payload, func(k string, _ any) bool { return !fields[k] })
	}
	if action != "" {
		payload["action"] = action
	}
	if mutate != nil {
		mutate(payload)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		s.t.Fatalf("githubtest: encode the %s payload: %v", event, err)
	}
	if err := s.spec.validatePayload(event, action, body); err != nil {
		s.t.Errorf("githubtest: the %s %s payload violates GitHub's webhook schema: %v", event, action, err)
	}
	return s.NewDelivery(event, body)
}

// merge writes src into dst: objects are merged key by key, so fields of the
// example that the emulator does not model stay; anything else is replaced.
func merge(dst, src object) {
	for k, v := range src {
		d, dok := dst[k].(map[string]any)
		sv, sok := v.(map[string]any)
		if dok && sok {
			merge(d, sv)
			continue
		}
		dst[k] = v
	}
}

// rewrite returns a mutate that merges the scenario's fields into the example.
func rewrite(fields object) func(map[string]any) {
	return func(payload map[string]any) { merge(payload, fields) }
}

// repoFields are the fields of every App delivery about a repository.
func (s *Server) repoFields(r *repo, sender string) object {
	return object{
		"repository":   s.repoObject(r, false),
		"organization": s.orgObject(r.owner),
		"installation": object{"id": r.installation.id, "node_id": nodeID("IntegrationInstallation", r.installation.id)},
		"sender":       s.userObject(sender),
	}
}

// orgObject is the organization of webhook payloads.
func (s *Server) orgObject(login string) object {
	u := s.user(login)
	api := s.api + "/orgs/" + login
	return object{
		"login":              login,
		"id":                 u.id,
		"node_id":            nodeID("Organization", u.id),
		"url":                api,
		"repos_url":          api + "/repos",
		"events_url":         api + "/events",
		"hooks_url":          api + "/hooks",
		"issues_url":         api + "/issues",
		"members_url":        api + "/members{/member}",
		"public_members_url": api + "/public_members{/member}",
		"avatar_url":         fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", u.id),
		"description":        nil,
	}
}

// reactions is an empty reaction rollup.
func reactions(url string) object {
	return object{"url": url, "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0}
}

// PullRequestEvent returns the pull_request delivery of action (opened,
// synchronize, reopened, ready_for_review, edited, closed, ...) for the pull
// request's current state. Its sender is the author, or for synchronize the
// last pusher and for a merged pull request's closed the merger; synchronize
// carries the heads before and after the last Push, edited the base before
// the last SetBase.
func (s *Server) PullRequestEvent(fullName string, number int, action string) *Delivery {
	s.t.Helper()
	s.mu.Lock()
	r := s.mustRepo(fullName)
	p := s.mustPull(fullName, number)
	sender := p.Author
	switch {
	case action == "synchronize":
		sender = cmp.Or(p.pusher, p.Author)
	case action == "closed" && p.Merged:
		sender = p.MergedBy
	}
	fields := s.repoFields(r, sender)
	pr, err := s.pullObject(r, p, true)
	if err != nil {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: PullRequestEvent: %v", err)
	}
	fields["number"] = p.Number
	fields["pull_request"] = pr
	switch action {
	case "synchronize":
		fields["before"], fields["after"] = cmp.Or(p.previousHead, p.HeadSHA), p.HeadSHA
	case "edited":
		changes := object{}
		if p.previousBase != "" {
			changes["base"] = object{"ref": object{"from": p.previousBase}, "sha": object{"from": p.previousBaseSHA}}
		}
		fields["changes"] = changes
	}
	s.mu.Unlock()
	return s.webhook("pull_request", action, rewrite(fields))
}

func (s *Server) reviewObject(r *repo, p *pull, rv Review) object {
	html := fmt.Sprintf("%s/%s/pull/%d#pullrequestreview-%d", s.web, r.fullName(), p.Number, rv.ID)
	pr := fmt.Sprintf("%s/repos/%s/pulls/%d", s.api, r.fullName(), p.Number)
	return object{
		"id":                 rv.ID,
		"node_id":            nodeID("PullRequestReview", rv.ID),
		"user":               s.userObject(rv.User),
		"body":               rv.Body,
		"state":              rv.State,
		"html_url":           html,
		"pull_request_url":   pr,
		"_links":             object{"html": object{"href": html}, "pull_request": object{"href": pr}},
		"submitted_at":       timestamp(rv.SubmittedAt),
		"commit_id":          rv.CommitID,
		"author_association": s.authorAssociation(r, rv.User),
	}
}

// ReviewEvent returns the pull_request_review delivery of action (submitted,
// dismissed) for a review made with SubmitReview; its sender is the reviewer.
func (s *Server) ReviewEvent(fullName string, number int, reviewID int64, action string) *Delivery {
	s.t.Helper()
	s.mu.Lock()
	r := s.mustRepo(fullName)
	p := s.mustPull(fullName, number)
	i := slices.IndexFunc(p.Reviews, func(rv Review) bool { return rv.ID == reviewID })
	if i < 0 {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: ReviewEvent: %s#%d has no review %d", fullName, number, reviewID)
	}
	rv := p.Reviews[i]
	fields := s.repoFields(r, rv.User)
	review := s.reviewObject(r, p, rv)
	// Webhooks spell the state in lower case.
	review["state"] = map[string]string{"APPROVED": "approved", "CHANGES_REQUESTED": "changes_requested", "COMMENTED": "commented", "DISMISSED": "dismissed"}[rv.State]
	fields["review"] = review
	pr, err := s.pullObject(r, p, false)
	if err != nil {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: ReviewEvent: %v", err)
	}
	fields["pull_request"] = pr
	s.mu.Unlock()
	return s.webhook("pull_request_review", action, rewrite(fields))
}

// IssueCommentEvent posts a comment by user on the pull request or issue
// and returns its issue_comment created delivery.
func (s *Server) IssueCommentEvent(fullName string, number int, user, body string) *Delivery {
	s.t.Helper()
	s.mu.Lock()
	r := s.mustRepo(fullName)
	plain := r.issue(number)
	var p *pull
	if plain == nil {
		p = s.mustPull(fullName, number)
	}
	s.user(user)
	c := s.addComment(r, number, user, body, nil)
	fields := s.repoFields(r, user)
	comment := s.commentObject(r, c)
	comment["reactions"] = reactions(fmt.Sprintf("%s/repos/%s/issues/comments/%d/reactions", s.api, r.fullName(), c.ID))
	fields["comment"] = comment
	var issue object
	if plain != nil {
		issue = s.plainIssueObject(r, plain)
	} else {
		issue = s.issueObject(r, p)
	}
	s.mu.Unlock()
	return s.webhook("issue_comment", "created", func(payload map[string]any) {
		// The example's issue is a pull request's: an issue's has no
		// pull_request, the field that tells them apart.
		if ex, ok := payload["issue"].(map[string]any); ok && plain != nil {
			delete(ex, "pull_request")
			delete(ex, "draft")
		}
		merge(payload, object{"issue": issue})
		merge(payload, fields)
	})
}

// issueObject is a pull request seen as an issue, as issue events carry it.
func (s *Server) issueObject(r *repo, p *pull) object {
	api := fmt.Sprintf("%s/repos/%s/issues/%d", s.api, r.fullName(), p.Number)
	html := fmt.Sprintf("%s/%s/pull/%d", s.web, r.fullName(), p.Number)
	labels := []object{}
	for _, l := range p.Labels {
		labels = append(labels, s.labelObject(r, l))
	}
	comments := 0
	for _, c := range r.comments {
		if c.Issue == p.Number {
			comments++
		}
	}
	var body any
	if p.Body != "" {
		body = p.Body
	}
	return object{
		"url":                      api,
		"repository_url":           s.api + "/repos/" + r.fullName(),
		"labels_url":               api + "/labels{/name}",
		"comments_url":             api + "/comments",
		"events_url":               api + "/events",
		"timeline_url":             api + "/timeline",
		"html_url":                 html,
		"id":                       p.id,
		"node_id":                  nodeID("PullRequest", p.id),
		"number":                   p.Number,
		"title":                    p.Title,
		"user":                     s.userObject(p.Author),
		"labels":                   labels,
		"state":                    p.State,
		"locked":                   false,
		"assignee":                 nil,
		"assignees":                []object{},
		"milestone":                nil,
		"comments":                 comments,
		"created_at":               timestamp(p.created),
		"updated_at":               timestamp(p.updated),
		"closed_at":                optionalTime(p.closed),
		"author_association":       s.authorAssociation(r, p.Author),
		"active_lock_reason":       nil,
		"draft":                    p.Draft,
		"body":                     body,
		"reactions":                reactions(api + "/reactions"),
		"performed_via_github_app": nil,
		"state_reason":             nil,
		"pull_request": object{
			"url":       fmt.Sprintf("%s/repos/%s/pulls/%d", s.api, r.fullName(), p.Number),
			"html_url":  html,
			"diff_url":  html + ".diff",
			"patch_url": html + ".patch",
			"merged_at": optionalTime(p.merged),
		},
	}
}

// CheckRunRerequested returns the check_run rerequested delivery of a check
// run, as when user clicks "Re-run".
func (s *Server) CheckRunRerequested(fullName string, checkRunID int64, user string) *Delivery {
	s.t.Helper()
	s.mu.Lock()
	r := s.mustRepo(fullName)
	i := slices.IndexFunc(r.checkRuns, func(cr *checkRun) bool { return cr.ID == checkRunID })
	if i < 0 {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: CheckRunRerequested: %s has no check run %d", fullName, checkRunID)
	}
	cr := r.checkRuns[i]
	s.user(user)
	fields := s.repoFields(r, user)
	run := s.checkRunObject(r, cr)
	suite, err := s.suiteObject(r, cr.app, cr.HeadSHA)
	if err != nil {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: CheckRunRerequested: %v", err)
	}
	run["check_suite"] = suite
	fields["check_run"] = run
	s.mu.Unlock()
	return s.webhook("check_run", "rerequested", rewrite(fields))
}

// CheckSuiteRerequested returns the check_suite rerequested delivery of the
// installation's App's check suite on a commit, as when user clicks "Re-run
// all checks".
func (s *Server) CheckSuiteRerequested(fullName, headSHA, user string) *Delivery {
	s.t.Helper()
	s.mu.Lock()
	r := s.mustRepo(fullName)
	s.user(user)
	fields := s.repoFields(r, user)
	suite, err := s.suiteObject(r, r.installation.app, headSHA)
	if err != nil {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: CheckSuiteRerequested: %v", err)
	}
	fields["check_suite"] = suite
	s.mu.Unlock()
	return s.webhook("check_suite", "rerequested", rewrite(fields))
}

// suiteObject is the check suite of an App's check runs on a commit, as
// check_run and check_suite events carry it.
func (s *Server) suiteObject(r *repo, a *app, sha string) (object, error) {
	c, err := r.git.commit(sha)
	if err != nil {
		return nil, err
	}
	id := r.suite(a, sha, s.newID)
	var runs []*checkRun
	for _, cr := range r.checkRuns {
		if cr.suite == id {
			runs = append(runs, cr)
		}
	}
	// The suite is as far as its newest run.
	status, conclusion, created := "queued", any(nil), s.now()
	if len(runs) > 0 {
		newest := runs[len(runs)-1]
		status, created = newest.Status, runs[0].StartedAt
		if newest.Conclusion != "" {
			conclusion = newest.Conclusion
		}
	}
	var branch, before any
	for _, p := range r.pulls {
		if p.State == "open" && p.HeadSHA == sha {
			branch = p.Head
		}
	}
	if len(c.parents) > 0 {
		before = c.parents[0]
	}
	api := s.api + "/repos/" + r.fullName()
	person := func(sig signature) object {
		return object{"name": sig.name, "email": sig.email, "date": timestamp(sig.date)}
	}
	return object{
		"id":                      id,
		"node_id":                 nodeID("CheckSuite", id),
		"head_branch":             branch,
		"head_sha":                sha,
		"status":                  status,
		"conclusion":              conclusion,
		"url":                     fmt.Sprintf("%s/check-suites/%d", api, id),
		"check_runs_url":          fmt.Sprintf("%s/check-suites/%d/check-runs", api, id),
		"before":                  before,
		"after":                   sha,
		"pull_requests":           s.minimalPulls(r, sha),
		"app":                     s.appObject(a),
		"created_at":              timestamp(created),
		"updated_at":              timestamp(s.now()),
		"latest_check_runs_count": len(runs),
		"rerequestable":           true,
		"runs_rerequestable":      true,
		"head_commit": object{
			"id": c.sha, "tree_id": c.tree, "message": c.message, "timestamp": timestamp(c.committer.date),
			"author": person(c.author), "committer": person(c.committer),
		},
	}, nil
}

// InstallationEvent returns the installation delivery of action (created,
// deleted, suspend, ...) for an installation and its repositories, sent by
// sender.
func (s *Server) InstallationEvent(installationID int64, action, sender string) *Delivery {
	s.t.Helper()
	s.mu.Lock()
	inst := s.installations[installationID]
	if inst == nil {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: InstallationEvent: no installation %d", installationID)
	}
	repos := []object{}
	for _, r := range s.sortedRepos() {
		if r.installation == inst {
			repos = append(repos, repoRef(r))
		}
	}
	fields := object{
		"installation": s.installationObject(inst),
		"repositories": repos,
		"sender":       s.userObject(sender),
	}
	s.mu.Unlock()
	return s.webhook("installation", action, rewrite(fields))
}

// InstallationRepositoriesEvent returns the installation_repositories
// delivery of action (added, removed) for the repositories named, sent by
// sender: call it after AddRepo or AddRepos for added, after RemoveRepo
// for removed.
func (s *Server) InstallationRepositoriesEvent(installationID int64, action string, names []string, sender string) *Delivery {
	s.t.Helper()
	s.mu.Lock()
	inst := s.installations[installationID]
	if inst == nil {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: InstallationRepositoriesEvent: no installation %d", installationID)
	}
	repos := []object{}
	for _, name := range names {
		repos = append(repos, repoRef(s.mustRepo(name)))
	}
	added, removed := []object{}, []object{}
	if action == "removed" {
		removed = repos
	} else {
		added = repos
	}
	fields := object{
		"installation":         s.installationObject(inst),
		"repository_selection": "selected",
		"repositories_added":   added,
		"repositories_removed": removed,
		"requester":            nil, // who asked an owner to install the App, if anyone
		"sender":               s.userObject(sender),
	}
	s.mu.Unlock()
	return s.webhook("installation_repositories", action, func(payload map[string]any) {
		// The lists replace the example's rather than merge into them.
		merge(payload, fields)
		payload["repositories_added"], payload["repositories_removed"] = added, removed
	})
}

// repoRef is a repository as installation deliveries list them.
func repoRef(r *repo) object {
	return object{"id": r.id, "node_id": nodeID("Repository", r.id), "name": r.name, "full_name": r.fullName(), "private": true}
}

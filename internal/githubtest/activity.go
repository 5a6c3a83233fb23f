package githubtest

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// activity is a change of a ref, as GitHub's repository activity log keeps
// it: who moved which branch from what to what.
type activity struct {
	id            int64
	before, after string
	ref           string // refs/heads/<branch>
	at            time.Time
	kind          string // push, force_push, branch_creation or pr_merge
	actor         string
}

const zeroSHA = "0000000000000000000000000000000000000000"

// emptyTree is git's empty tree, which a root commit is diffed against.
const emptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// recordRefUpdate adds the activity of moving branch from before (empty for a
// new branch) to after. The caller holds s.mu.
func (s *Server) recordRefUpdate(r *repo, branch, before, after, kind, actor string) {
	if kind == "" {
		switch {
		case before == "":
			kind = "branch_creation"
		case before == after:
			return
		default:
			if base, err := r.git.mergeBase(before, after); err != nil || base != before {
				kind = "force_push"
			} else {
				kind = "push"
			}
		}
	}
	r.activities = append(r.activities, &activity{
		id: s.newID(), before: orZero(before), after: after, ref: "refs/heads/" + branch,
		at: s.now(), kind: kind, actor: actor,
	})
}

func orZero(sha string) string {
	if sha == "" {
		return zeroSHA
	}
	return sha
}

// GET /repos/{owner}/{repo}/activity, newest first, filtered by ref, paged
// by the after cursor as GitHub pages it.
func (s *Server) listActivities(req *request) *response {
	q := req.URL.Query()
	ref := q.Get("ref")
	if ref != "" && !strings.HasPrefix(ref, "refs/") {
		ref = "refs/heads/" + ref
	}
	var list []*activity
	for _, a := range slices.Backward(req.repo.activities) {
		if ref == "" || a.ref == ref {
			list = append(list, a)
		}
	}
	if after := q.Get("after"); after != "" {
		i := slices.IndexFunc(list, func(a *activity) bool { return activityCursor(a) == after })
		if i < 0 {
			return validationFailed(fmt.Sprintf("after: %q is not a cursor of this list", after))
		}
		list = list[i+1:]
	}
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	resp := reply(http.StatusOK, nil)
	if len(list) > perPage {
		list = list[:perPage]
		q.Set("after", activityCursor(list[len(list)-1]))
		u := *req.URL
		u.RawQuery = q.Encode()
		resp.header.Set("Link", fmt.Sprintf(`<http://%s%s>; rel="next"`, req.Host, u.RequestURI()))
	}
	items := []object{}
	for _, a := range list {
		var actor any
		if a.actor != "" {
			actor = s.userObject(a.actor)
		}
		items = append(items, object{
			"id": a.id, "node_id": nodeID("Activity", a.id), "before": a.before, "after": a.after,
			"ref": a.ref, "timestamp": timestamp(a.at), "activity_type": a.kind, "actor": actor,
		})
	}
	resp.body = items
	return resp
}

// activityCursor is the opaque cursor of the page after a.
func activityCursor(a *activity) string {
	return "Y3Vyc29yOnYy" + strconv.FormatInt(a.id, 36)
}

// maxPushCommits is the most commits a push delivery lists, as on GitHub.
const maxPushCommits = 20

// PushEvent returns the push delivery of the last update of branch: a Push,
// or the merge of a pull request into it. Its sender and pusher are whoever
// moved the branch.
func (s *Server) PushEvent(fullName, branch string) *Delivery {
	s.t.Helper()
	s.mu.Lock()
	r := s.mustRepo(fullName)
	ref := "refs/heads/" + branch
	var a *activity
	for _, act := range slices.Backward(r.activities) {
		if act.ref == ref {
			a = act
			break
		}
	}
	if a == nil {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: PushEvent: %s has no update of %s", fullName, branch)
	}
	fields, err := s.pushFields(r, a)
	s.mu.Unlock()
	if err != nil {
		s.t.Fatalf("githubtest: PushEvent: %v", err)
	}
	return s.webhook("push", "", rewrite(fields))
}

// pushFields are the fields of the push delivery of a ref update.
func (s *Server) pushFields(r *repo, a *activity) (object, error) {
	rev := a.after
	if a.before != zeroSHA {
		rev = a.before + ".." + a.after
	}
	// Oldest first, as GitHub lists them.
	commits, err := r.git.log("--reverse", "--end-of-options", rev)
	if err != nil {
		return nil, err
	}
	web := s.web + "/" + r.fullName()
	u := s.user(a.actor)
	fields := s.repoFields(r, a.actor)
	fields["ref"] = a.ref
	fields["before"], fields["after"] = a.before, a.after
	fields["created"], fields["deleted"] = a.before == zeroSHA, false
	fields["forced"] = a.kind == "force_push"
	fields["base_ref"] = nil
	fields["compare"] = fmt.Sprintf("%s/compare/%s...%s", web, a.before[:12], a.after[:12])
	fields["pusher"] = object{"name": u.login, "email": cmp.Or(u.email, fmt.Sprintf("%d+%s@users.noreply.github.com", u.id, u.login))}
	// A push's repository names its owner's git identity too.
	owner := s.user(r.owner)
	var ownerEmail any
	if owner.email != "" {
		ownerEmail = owner.email
	}
	merge(fields["repository"].(object), object{"owner": object{"name": owner.login, "email": ownerEmail}})
	list := []object{}
	for _, c := range commits[max(0, len(commits)-maxPushCommits):] {
		o, err := s.pushCommit(r, c)
		if err != nil {
			return nil, err
		}
		list = append(list, o)
	}
	fields["commits"] = list
	head, err := r.git.commit(a.after)
	if err != nil {
		return nil, err
	}
	if fields["head_commit"], err = s.pushCommit(r, head); err != nil {
		return nil, err
	}
	return fields, nil
}

// pushCommit is a commit as push deliveries list it, with the files it
// added, removed and modified against its first parent.
func (s *Server) pushCommit(r *repo, c commitInfo) (object, error) {
	person := func(sig signature) object {
		p := object{"name": sig.name, "email": sig.email, "date": timestamp(sig.date)}
		if login := s.userByEmail(sig.email); login != "" {
			p["username"] = login
		}
		return p
	}
	added, removed, modified := []string{}, []string{}, []string{}
	from := emptyTree
	if len(c.parents) > 0 {
		from = c.parents[0]
	}
	changes, err := r.git.diff(from, c.sha)
	if err != nil {
		return nil, err
	}
	for _, ch := range changes {
		switch ch.status {
		case "added", "copied":
			added = append(added, ch.path)
		case "removed":
			removed = append(removed, ch.path)
		case "renamed":
			removed = append(removed, ch.previousPath)
			added = append(added, ch.path)
		default:
			modified = append(modified, ch.path)
		}
	}
	return object{
		"id": c.sha, "tree_id": c.tree, "distinct": true, "message": c.message,
		"timestamp": timestamp(c.committer.date),
		"url":       s.web + "/" + r.fullName() + "/commit/" + c.sha,
		"author":    person(c.author), "committer": person(c.committer),
		"added": added, "removed": removed, "modified": modified,
	}, nil
}

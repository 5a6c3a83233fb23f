package githubtest

import (
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

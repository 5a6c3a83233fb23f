package githubtest

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/internal/jsonlist"
)

// CheckRun is the state of a check run, as Server.CheckRuns shows it.
type CheckRun struct {
	ID                     int64
	App                    string // the slug of the App that created it
	Name, HeadSHA          string
	Status, Conclusion     string
	ExternalID, DetailsURL string
	Title, Summary, Text   string
	// Annotations accumulate over the requests that create and update the
	// run, as on GitHub.
	Annotations            []Annotation
	StartedAt, CompletedAt time.Time
	// Updates counts the PATCH requests that changed the run.
	Updates int
}

// Annotation is a check run annotation.
type Annotation struct {
	Path        string `json:"path"`
	StartLine   int    `json:"start_line"`
	EndLine     int    `json:"end_line"`
	StartColumn int    `json:"start_column,omitempty"`
	EndColumn   int    `json:"end_column,omitempty"`
	Level       string `json:"annotation_level"`
	Message     string `json:"message"`
	Title       string `json:"title,omitempty"`
	RawDetails  string `json:"raw_details,omitempty"`
}

type checkRun struct {
	CheckRun
	app   *app
	suite int64
}

// maxOutputBytes is GitHub's limit on a check run's output summary and text.
// The description states it in characters, but GitHub counts bytes ("exceeds
// a maximum bytesize of 65535"), so the emulator does too.
const maxOutputBytes = 65535

// CheckRuns returns the check runs of a repository, oldest first.
func (s *Server) CheckRuns(fullName string) []CheckRun {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var runs []CheckRun
	for _, cr := range s.mustRepo(fullName).checkRuns {
		run := cr.CheckRun
		run.Annotations = slices.Clone(run.Annotations)
		runs = append(runs, run)
	}
	return runs
}

// checkRunBody is the request body of creating and of updating a check run;
// absent fields leave the run as it is.
type checkRunBody struct {
	Name        *string    `json:"name"`
	HeadSHA     string     `json:"head_sha"`
	DetailsURL  *string    `json:"details_url"`
	ExternalID  *string    `json:"external_id"`
	Status      *string    `json:"status"`
	Conclusion  *string    `json:"conclusion"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	Output      *struct {
		Title       string       `json:"title"`
		Summary     string       `json:"summary"`
		Text        *string      `json:"text"`
		Annotations []Annotation `json:"annotations"`
	} `json:"output"`
}

// apply changes a run as GitHub does; a message is GitHub's refusal.
func (b *checkRunBody) apply(cr *checkRun, now time.Time) (refusal string) {
	if o := b.Output; o != nil {
		if len(o.Summary) > maxOutputBytes {
			return fmt.Sprintf("Invalid request.\n\nOutput summary exceeds a maximum bytesize of %d", maxOutputBytes)
		}
		if o.Text != nil && len(*o.Text) > maxOutputBytes {
			return fmt.Sprintf("Invalid request.\n\nOutput text exceeds a maximum bytesize of %d", maxOutputBytes)
		}
		cr.Title, cr.Summary = o.Title, o.Summary
		if o.Text != nil {
			cr.Text = *o.Text
		}
		cr.Annotations = append(cr.Annotations, o.Annotations...)
	}
	if b.Name != nil {
		cr.Name = *b.Name
	}
	if b.DetailsURL != nil {
		cr.DetailsURL = *b.DetailsURL
	}
	if b.ExternalID != nil {
		cr.ExternalID = *b.ExternalID
	}
	if b.Status != nil {
		cr.Status = *b.Status
	}
	if b.StartedAt != nil {
		cr.StartedAt = b.StartedAt.UTC()
	}
	// A conclusion completes the run.
	if b.Conclusion != nil {
		cr.Status, cr.Conclusion = "completed", *b.Conclusion
	}
	if cr.Status == "completed" && cr.CompletedAt.IsZero() {
		cr.CompletedAt = now
	}
	if b.CompletedAt != nil {
		cr.CompletedAt = b.CompletedAt.UTC()
	}
	return ""
}

// POST /repos/{owner}/{repo}/check-runs
func (s *Server) createCheckRun(req *request) *response {
	r := req.repo
	var body checkRunBody
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	sha, err := r.git.resolve(body.HeadSHA, "commit")
	if err != nil || sha != body.HeadSHA {
		return validationFailed("No commit found for SHA: " + body.HeadSHA)
	}
	now := s.now()
	cr := &checkRun{
		CheckRun: CheckRun{ID: s.newID(), App: req.caller.app.slug, HeadSHA: sha, Status: "queued", StartedAt: now},
		app:      req.caller.app,
		suite:    r.suite(req.caller.app, sha, s.newID),
	}
	if refusal := body.apply(cr, now); refusal != "" {
		return validationFailed(refusal)
	}
	r.checkRuns = append(r.checkRuns, cr)
	return reply(http.StatusCreated, s.checkRunObject(r, cr))
}

// PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}
func (s *Server) updateCheckRun(req *request) *response {
	r := req.repo
	id := req.intParam("check_run_id")
	i := slices.IndexFunc(r.checkRuns, func(cr *checkRun) bool { return cr.ID == id })
	if i < 0 {
		return notFound()
	}
	var body checkRunBody
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	// Apply to a copy so that a refused update changes nothing.
	cr := *r.checkRuns[i]
	cr.Annotations = slices.Clone(cr.Annotations)
	if refusal := body.apply(&cr, s.now()); refusal != "" {
		return validationFailed(refusal)
	}
	cr.Updates++
	*r.checkRuns[i] = cr
	return reply(http.StatusOK, s.checkRunObject(r, &cr))
}

// GET /repos/{owner}/{repo}/commits/{ref}/check-runs
func (s *Server) listCheckRuns(req *request) *response {
	r := req.repo
	q := req.URL.Query()
	sha, err := r.git.resolve(req.params["ref"], "commit")
	if err != nil {
		return s.notFoundOr(req, err)
	}
	latest := map[string]bool{}
	var runs []object
	// Newest first: with filter=latest (the default) only the newest run of
	// each name counts.
	for _, cr := range slices.Backward(r.checkRuns) {
		if cr.HeadSHA != sha ||
			q.Has("check_name") && cr.Name != q.Get("check_name") ||
			q.Has("status") && cr.Status != q.Get("status") ||
			q.Has("app_id") && strconv.FormatInt(cr.app.id, 10) != q.Get("app_id") {
			continue
		}
		if cmp.Or(q.Get("filter"), "latest") == "latest" {
			if latest[cr.Name] {
				continue
			}
			latest[cr.Name] = true
		}
		runs = append(runs, s.checkRunObject(r, cr))
	}
	resp := reply(http.StatusOK, nil)
	resp.body = object{"total_count": len(runs), "check_runs": jsonlist.NonNil(page(req, resp, runs))}
	return resp
}

// suite returns the ID of an App's check suite on a commit, which GitHub
// creates with the first check run.
func (r *repo) suite(a *app, sha string, newID func() int64) int64 {
	key := strconv.FormatInt(a.id, 10) + "/" + sha
	if r.suites[key] == 0 {
		r.suites[key] = newID()
	}
	return r.suites[key]
}

// minimalPulls lists the open pull requests whose head is sha, as check runs
// and suites do.
func (s *Server) minimalPulls(r *repo, sha string) []object {
	api := s.api + "/repos/" + r.fullName()
	ref := func(branch, sha string) object {
		return object{"ref": branch, "sha": sha, "repo": object{"id": r.id, "url": api, "name": r.name}}
	}
	pulls := []object{}
	for _, p := range r.pulls {
		if p.State == "open" && p.HeadSHA == sha {
			pulls = append(pulls, object{
				"id": p.id, "number": p.Number, "url": fmt.Sprintf("%s/pulls/%d", api, p.Number),
				"head": ref(p.Head, p.HeadSHA), "base": ref(p.Base, p.BaseSHA),
			})
		}
	}
	return pulls
}

func (s *Server) checkRunObject(r *repo, cr *checkRun) object {
	api := s.api + "/repos/" + r.fullName()
	self := fmt.Sprintf("%s/check-runs/%d", api, cr.ID)
	orNull := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	return object{
		"id":           cr.ID,
		"node_id":      nodeID("CheckRun", cr.ID),
		"head_sha":     cr.HeadSHA,
		"external_id":  cr.ExternalID,
		"url":          self,
		"html_url":     fmt.Sprintf("%s/%s/runs/%d", s.web, r.fullName(), cr.ID),
		"details_url":  cmp.Or(cr.DetailsURL, s.web+"/apps/"+cr.app.slug),
		"status":       cr.Status,
		"conclusion":   orNull(cr.Conclusion),
		"started_at":   optionalTime(cr.StartedAt),
		"completed_at": optionalTime(cr.CompletedAt),
		"output": object{
			"title":             orNull(cr.Title),
			"summary":           orNull(cr.Summary),
			"text":              orNull(cr.Text),
			"annotations_count": len(cr.Annotations),
			"annotations_url":   self + "/annotations",
		},
		"name":          cr.Name,
		"check_suite":   object{"id": cr.suite},
		"app":           s.appObject(cr.app),
		"pull_requests": s.minimalPulls(r, cr.HeadSHA),
	}
}

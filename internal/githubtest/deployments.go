package githubtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/modelgate/modelgate/internal/jsonlist"
)

// Deployment is a deployment and its statuses, as Server.Deployments shows it.
type Deployment struct {
	ID                    int64
	Ref, SHA, Task        string
	Environment           string
	Description           string
	Payload               json.RawMessage
	Creator               string
	TransientEnvironment  bool
	ProductionEnvironment bool
	// AutoMerge and RequiredContexts are as the client asked, with GitHub's
	// defaults: true, and nil for every context of the commit.
	AutoMerge        bool
	RequiredContexts []string
	CreatedAt        time.Time
	Statuses         []DeploymentStatus // oldest first
}

// DeploymentStatus is a status of a deployment.
type DeploymentStatus struct {
	ID                                int64
	State, Description, Environment   string
	TargetURL, LogURL, EnvironmentURL string
	Creator                           string
	CreatedAt                         time.Time
}

type deployment struct {
	Deployment
	app *app
}

// Deployments returns the deployments of a repository, oldest first.
func (s *Server) Deployments(fullName string) []Deployment {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []Deployment
	for _, d := range s.mustRepo(fullName).deployments {
		dep := d.Deployment
		dep.Statuses = slices.Clone(dep.Statuses)
		dep.RequiredContexts = slices.Clone(dep.RequiredContexts)
		list = append(list, dep)
	}
	return list
}

// POST /repos/{owner}/{repo}/deployments
//
// GitHub's auto_merge (merging the default branch into an older ref) and
// required_contexts (commit status checks) are not emulated: the deployment
// is always created, as GitHub creates it with auto_merge false and no
// required contexts.
func (s *Server) createDeployment(req *request) *response {
	r := req.repo
	var body struct {
		Ref                   string          `json:"ref"`
		Task                  string          `json:"task"`
		Payload               json.RawMessage `json:"payload"`
		Environment           string          `json:"environment"`
		Description           *string         `json:"description"`
		TransientEnvironment  bool            `json:"transient_environment"`
		ProductionEnvironment *bool           `json:"production_environment"`
		AutoMerge             *bool           `json:"auto_merge"`
		RequiredContexts      *[]string       `json:"required_contexts"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	sha, err := r.git.resolve(body.Ref, "commit")
	if err != nil {
		return validationFailed("No ref found for: " + body.Ref)
	}
	env := cmp.Or(body.Environment, "production")
	d := &deployment{
		Deployment: Deployment{
			ID: s.newID(), Ref: body.Ref, SHA: sha, Task: cmp.Or(body.Task, "deploy"), Environment: env,
			Payload: body.Payload, Creator: req.caller.app.bot(),
			TransientEnvironment: body.TransientEnvironment, CreatedAt: s.now(),
			// GitHub's default: production when the environment is named so.
			ProductionEnvironment: env == "production",
		},
		app: req.caller.app,
	}
	if d.Payload == nil {
		d.Payload = json.RawMessage("{}")
	}
	if body.Description != nil {
		d.Description = *body.Description
	}
	if body.ProductionEnvironment != nil {
		d.ProductionEnvironment = *body.ProductionEnvironment
	}
	d.AutoMerge = body.AutoMerge == nil || *body.AutoMerge
	if body.RequiredContexts != nil {
		d.RequiredContexts = append([]string{}, *body.RequiredContexts...)
	}
	r.deployments = append(r.deployments, d)
	return reply(http.StatusCreated, s.deploymentObject(r, d))
}

// GET /repos/{owner}/{repo}/deployments/{deployment_id}
func (s *Server) getDeployment(req *request) *response {
	d := req.repo.deployment(req.intParam("deployment_id"))
	if d == nil {
		return notFound()
	}
	return reply(http.StatusOK, s.deploymentObject(req.repo, d))
}

// GET /repos/{owner}/{repo}/deployments
func (s *Server) listDeployments(req *request) *response {
	q := req.URL.Query()
	var list []object
	// Newest first, as GitHub lists them.
	for _, d := range slices.Backward(req.repo.deployments) {
		if q.Has("sha") && d.SHA != q.Get("sha") || q.Has("ref") && d.Ref != q.Get("ref") ||
			q.Has("task") && d.Task != q.Get("task") || q.Has("environment") && d.Environment != q.Get("environment") {
			continue
		}
		list = append(list, s.deploymentObject(req.repo, d))
	}
	resp := reply(http.StatusOK, nil)
	resp.body = jsonlist.NonNil(page(req, resp, list))
	return resp
}

func (r *repo) deployment(id int64) *deployment {
	for _, d := range r.deployments {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// maxStatusDescription is GitHub's limit on a deployment status's
// description, in characters; a longer one is refused.
const maxStatusDescription = 140

// POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses
//
// A success with auto_inactive (the default) adds an inactive status to the
// earlier deployments of the environment whose last status is success,
// unless the environment is transient or production, as GitHub does.
func (s *Server) createDeploymentStatus(req *request) *response {
	d := req.repo.deployment(req.intParam("deployment_id"))
	if d == nil {
		return notFound()
	}
	var body struct {
		State          string `json:"state"`
		TargetURL      string `json:"target_url"`
		LogURL         string `json:"log_url"`
		Description    string `json:"description"`
		Environment    string `json:"environment"`
		EnvironmentURL string `json:"environment_url"`
		AutoInactive   *bool  `json:"auto_inactive"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	if utf8.RuneCountInString(body.Description) > maxStatusDescription {
		resp := validationFailed("Validation Failed")
		resp.body.(object)["errors"] = []object{{
			"resource": "DeploymentStatus", "code": "custom", "field": "description",
			"message": fmt.Sprintf("description is too long (maximum is %d characters)", maxStatusDescription),
		}}
		return resp
	}
	// The environment defaults to the previous status's, then the deployment's.
	env := d.Environment
	if n := len(d.Statuses); n > 0 {
		env = d.Statuses[n-1].Environment
	}
	st := DeploymentStatus{
		ID: s.newID(), State: body.State, Description: body.Description,
		Environment: cmp.Or(body.Environment, env), EnvironmentURL: body.EnvironmentURL,
		// log_url replaces target_url and sets it.
		TargetURL: cmp.Or(body.LogURL, body.TargetURL), LogURL: cmp.Or(body.LogURL, body.TargetURL),
		Creator: req.caller.app.bot(), CreatedAt: s.now(),
	}
	d.Statuses = append(d.Statuses, st)
	if st.State == "success" && (body.AutoInactive == nil || *body.AutoInactive) {
		s.deactivateBefore(req.repo, d, req.caller.app.bot())
	}
	resp := reply(http.StatusCreated, s.deploymentStatusObject(req.repo, d, st))
	resp.header.Set("Location", s.deploymentStatusURL(req.repo, d, st))
	return resp
}

// deactivateBefore marks inactive the deployments of d's environment created
// before it that last succeeded, in the name of creator.
func (s *Server) deactivateBefore(r *repo, d *deployment, creator string) {
	if d.TransientEnvironment || d.ProductionEnvironment {
		return
	}
	for _, old := range r.deployments {
		if old == d {
			return
		}
		n := len(old.Statuses)
		if old.Environment != d.Environment || old.TransientEnvironment || old.ProductionEnvironment || n == 0 || old.Statuses[n-1].State != "success" {
			continue
		}
		prev := old.Statuses[n-1]
		old.Statuses = append(old.Statuses, DeploymentStatus{
			ID: s.newID(), State: "inactive", Environment: prev.Environment,
			EnvironmentURL: prev.EnvironmentURL, Creator: creator, CreatedAt: s.now(),
		})
	}
}

// GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses
func (s *Server) listDeploymentStatuses(req *request) *response {
	d := req.repo.deployment(req.intParam("deployment_id"))
	if d == nil {
		return notFound()
	}
	var list []object
	for _, st := range slices.Backward(d.Statuses) {
		list = append(list, s.deploymentStatusObject(req.repo, d, st))
	}
	resp := reply(http.StatusOK, nil)
	resp.body = jsonlist.NonNil(page(req, resp, list))
	return resp
}

func (s *Server) deploymentObject(r *repo, d *deployment) object {
	api := s.api + "/repos/" + r.fullName()
	self := fmt.Sprintf("%s/deployments/%d", api, d.ID)
	var description any
	if d.Description != "" {
		description = d.Description
	}
	return object{
		"url":                      self,
		"id":                       d.ID,
		"node_id":                  nodeID("Deployment", d.ID),
		"sha":                      d.SHA,
		"ref":                      d.Ref,
		"task":                     d.Task,
		"payload":                  d.Payload,
		"original_environment":     d.Environment,
		"environment":              d.Environment,
		"description":              description,
		"creator":                  s.userObject(d.Creator),
		"created_at":               timestamp(d.CreatedAt),
		"updated_at":               timestamp(d.CreatedAt),
		"statuses_url":             self + "/statuses",
		"repository_url":           api,
		"transient_environment":    d.TransientEnvironment,
		"production_environment":   d.ProductionEnvironment,
		"performed_via_github_app": s.viaApp(d),
	}
}

func (s *Server) deploymentStatusURL(r *repo, d *deployment, st DeploymentStatus) string {
	return fmt.Sprintf("%s/repos/%s/deployments/%d/statuses/%d", s.api, r.fullName(), d.ID, st.ID)
}

func (s *Server) deploymentStatusObject(r *repo, d *deployment, st DeploymentStatus) object {
	api := s.api + "/repos/" + r.fullName()
	deploymentURL := fmt.Sprintf("%s/deployments/%d", api, d.ID)
	return object{
		"url":                      s.deploymentStatusURL(r, d, st),
		"id":                       st.ID,
		"node_id":                  nodeID("DeploymentStatus", st.ID),
		"state":                    st.State,
		"creator":                  s.userObject(st.Creator),
		"description":              st.Description,
		"environment":              st.Environment,
		"target_url":               st.TargetURL,
		"log_url":                  st.LogURL,
		"environment_url":          st.EnvironmentURL,
		"created_at":               timestamp(st.CreatedAt),
		"updated_at":               timestamp(st.CreatedAt),
		"deployment_url":           deploymentURL,
		"repository_url":           api,
		"performed_via_github_app": s.viaApp(d),
	}
}

// findStatus returns the deployment that holds the status id and the status.
func (r *repo) findStatus(id int64) (*deployment, DeploymentStatus, bool) {
	for _, d := range r.deployments {
		for _, st := range d.Statuses {
			if st.ID == id {
				return d, st, true
			}
		}
	}
	return nil, DeploymentStatus{}, false
}

// webhookDeployment is a deployment as deployment and deployment_status
// events carry it: the REST object, updated when its newest status was.
func (s *Server) webhookDeployment(r *repo, d *deployment) object {
	o := s.deploymentObject(r, d)
	if n := len(d.Statuses); n > 0 {
		o["updated_at"] = timestamp(d.Statuses[n-1].CreatedAt)
	}
	return o
}

// DeploymentEvent returns the deployment created delivery of a deployment;
// its sender is the deployment's creator.
func (s *Server) DeploymentEvent(fullName string, deploymentID int64) *Delivery {
	s.t.Helper()
	s.mu.Lock()
	r := s.mustRepo(fullName)
	d := r.deployment(deploymentID)
	if d == nil {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: DeploymentEvent: %s has no deployment %d", fullName, deploymentID)
	}
	fields := s.repoFields(r, d.Creator)
	fields["deployment"] = s.webhookDeployment(r, d)
	s.mu.Unlock()
	return s.webhook("deployment", "created", outsideWorkflow(fields))
}

// DeploymentStatusEvent returns the deployment_status created delivery of a
// status, whether a client posted it or auto_inactive added it; its sender
// is the status's creator.
func (s *Server) DeploymentStatusEvent(fullName string, statusID int64) *Delivery {
	s.t.Helper()
	s.mu.Lock()
	r := s.mustRepo(fullName)
	d, st, ok := r.findStatus(statusID)
	if !ok {
		s.mu.Unlock()
		s.t.Fatalf("githubtest: DeploymentStatusEvent: %s has no deployment status %d", fullName, statusID)
	}
	fields := s.repoFields(r, st.Creator)
	status := s.deploymentStatusObject(r, d, st)
	// The example's deployment status has no log_url or environment_url,
	// which GitHub leaves out when they are empty.
	for _, k := range []string{"log_url", "environment_url"} {
		if status[k] == "" {
			delete(status, k)
		}
	}
	fields["deployment_status"] = status
	fields["deployment"] = s.webhookDeployment(r, d)
	s.mu.Unlock()
	return s.webhook("deployment_status", "created", outsideWorkflow(fields))
}

// outsideWorkflow rewrites an example to fields, with no workflow, workflow
// run or check run: GitHub fills them only in deliveries about a deployment
// that a GitHub Actions job made.
func outsideWorkflow(fields object) func(map[string]any) {
	return func(payload map[string]any) {
		payload["workflow"], payload["workflow_run"] = nil, nil
		delete(payload, "check_run")
		merge(payload, fields)
	}
}

// CreateDeploymentAs creates a deployment as the user creator would, with
// any task and payload: anyone with write access may, so a deployment's task
// proves nothing of who made it.
func (s *Server) CreateDeploymentAs(fullName, creator, ref, environment, task string, payload json.RawMessage) int64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	sha, err := r.git.resolve(ref, "commit")
	if err != nil {
		s.t.Fatalf("githubtest: CreateDeploymentAs: %v", err)
	}
	s.user(creator)
	d := &deployment{Deployment: Deployment{
		ID: s.newID(), Ref: ref, SHA: sha, Task: task, Environment: environment, Payload: payload,
		Creator: creator, AutoMerge: true, CreatedAt: s.now(), ProductionEnvironment: environment == "production",
	}}
	r.deployments = append(r.deployments, d)
	return d.ID
}

// viaApp is the App a deployment was made through; nil for a user's.
func (s *Server) viaApp(d *deployment) any {
	if d.app == nil {
		return nil
	}
	return s.appObject(d.app)
}

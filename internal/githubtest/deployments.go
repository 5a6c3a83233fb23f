package githubtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
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
	CreatedAt             time.Time
	Statuses              []DeploymentStatus // oldest first
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
		list = append(list, dep)
	}
	return list
}

// POST /repos/{owner}/{repo}/deployments
//
// GitHub's auto_merge (merging the default branch into an older ref) and
// required_contexts (commit status checks) are not emulated: the deployment
// is always created.
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
	r.deployments = append(r.deployments, d)
	return reply(http.StatusCreated, s.deploymentObject(r, d))
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
	resp.body = nonNil(page(req, resp, list))
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

// POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses
//
// GitHub's auto_inactive (marking older deployments of the environment
// inactive) is not emulated.
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
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
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
	resp := reply(http.StatusCreated, s.deploymentStatusObject(req.repo, d, st))
	resp.header.Set("Location", s.deploymentStatusURL(req.repo, d, st))
	return resp
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
	resp.body = nonNil(page(req, resp, list))
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
		"performed_via_github_app": s.appObject(d.app),
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
		"performed_via_github_app": s.appObject(d.app),
	}
}

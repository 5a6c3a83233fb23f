package githubtest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// refObject is GitHub's git reference of a branch.
func (s *Server) refObject(r *repo, ref, sha string) object {
	api := s.api + "/repos/" + r.fullName()
	return object{
		"ref": ref, "node_id": gitNodeID("Ref", r.fullName()+":"+ref), "url": api + "/git/" + ref,
		"object": object{"type": "commit", "sha": sha, "url": api + "/git/commits/" + sha},
	}
}

// GET /repos/{owner}/{repo}/git/ref/{ref}: ref is heads/<branch>; the
// emulator's repositories have branches only.
func (s *Server) getRef(req *request) *response {
	branch, ok := strings.CutPrefix(req.params["ref"], "heads/")
	if !ok {
		return notFound()
	}
	sha, err := req.repo.git.branch(branch)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	return reply(http.StatusOK, s.refObject(req.repo, "refs/heads/"+branch, sha))
}

// POST /repos/{owner}/{repo}/git/refs
func (s *Server) createRef(req *request) *response {
	var body struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	branch, ok := strings.CutPrefix(body.Ref, "refs/heads/")
	if !ok || branch == "" {
		return validationFailed("Reference name must start with 'refs/' and have at least two slashes")
	}
	if _, err := runGit(req.repo.git.dir, nil, "check-ref-format", body.Ref); err != nil {
		return validationFailed(body.Ref + " is not a valid ref name.")
	}
	if _, err := req.repo.git.branch(branch); err == nil {
		return validationFailed("Reference already exists")
	}
	sha, err := req.repo.git.resolve(body.SHA, "commit")
	if err != nil || sha != body.SHA {
		return validationFailed("Object does not exist")
	}
	if _, err := req.repo.git.run("update-ref", body.Ref, sha, ""); err != nil {
		return s.notFoundOr(req, err)
	}
	bot := req.caller.app.bot()
	s.user(bot)
	s.recordRefUpdate(req.repo, branch, "", sha, "", bot)
	resp := reply(http.StatusCreated, s.refObject(req.repo, body.Ref, sha))
	resp.header.Set("Location", s.api+"/repos/"+req.repo.fullName()+"/git/"+body.Ref)
	return resp
}

// PUT /repos/{owner}/{repo}/contents/{path}: one commit on the branch that
// writes the file, authored by the App's bot and committed by GitHub, as
// GitHub writes the commits of this endpoint.
func (s *Server) putContents(req *request) *response {
	r := req.repo
	var body struct {
		Message string `json:"message"`
		Content string `json:"content"`
		SHA     string `json:"sha"`
		Branch  string `json:"branch"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	if body.Message == "" {
		return validationFailed("Invalid request.\n\n\"message\" wasn't supplied.")
	}
	data, err := base64.StdEncoding.DecodeString(body.Content)
	if err != nil {
		return validationFailed("content is not valid Base64")
	}
	branch := body.Branch
	if branch == "" {
		branch = r.defaultBranch
	}
	parent, err := r.git.branch(branch)
	if err != nil {
		return notFound()
	}
	p := strings.Trim(req.params["path"], "/")
	status := http.StatusCreated
	if old, err := r.git.entry(parent, p); err == nil {
		// GitHub refuses to overwrite a file the client has not seen.
		if body.SHA == "" {
			return validationFailed("Invalid request.\n\n\"sha\" wasn't supplied.")
		}
		if body.SHA != old.sha {
			// GitHub answers 409, but the description's 409 is a oneOf of two
			// error schemas that every error body matches both of: no 409
			// body is valid, so the emulator refuses as for a missing sha.
			return validationFailed(fmt.Sprintf("%s does not match %s", p, body.SHA))
		}
		status = http.StatusOK
	}
	author, err := s.signature(req, nil)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	sha, err := r.git.commitFile(parent, p, data, body.Message, author)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	if _, err := r.git.run("update-ref", "refs/heads/"+branch, sha, parent); err != nil {
		return s.notFoundOr(req, err)
	}
	s.recordRefUpdate(r, branch, parent, sha, "", author.name)
	r.pushed = s.now()
	for _, pr := range r.pulls {
		if pr.State == "open" && pr.Head == branch {
			pr.previousHead, pr.HeadSHA, pr.pusher, pr.updated = pr.HeadSHA, sha, author.name, s.now()
		}
		if pr.State == "open" && pr.Base == branch {
			pr.BaseSHA = sha
		}
	}
	e, err := r.git.entry(sha, p)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	c, err := r.git.commit(sha)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	content := s.contentObject(r, branch, e, nil)
	commit := s.commitObject(r, c)
	inner := commit["commit"].(object)
	parents := commit["parents"]
	return reply(status, object{"content": content, "commit": object{
		"sha": c.sha, "node_id": commit["node_id"], "url": inner["url"], "html_url": commit["html_url"],
		"author": inner["author"], "committer": inner["committer"], "message": c.message,
		"tree": inner["tree"], "parents": parents, "verification": inner["verification"],
	}})
}

// commitFile writes a commit whose parent is parent and whose tree is
// parent's with data at path, through a scratch index so that no work tree
// is needed, and returns its SHA. No ref moves.
func (g gitRepo) commitFile(parent, path string, data []byte, message string, author signature) (string, error) {
	dir, err := os.MkdirTemp("", "githubtest-contents-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "content")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return "", err
	}
	date := author.date.Format("2006-01-02T15:04:05Z07:00")
	env := []string{
		"GIT_INDEX_FILE=" + filepath.Join(dir, "index"),
		"GIT_AUTHOR_NAME=" + author.name, "GIT_AUTHOR_EMAIL=" + author.email, "GIT_AUTHOR_DATE=" + date,
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.com", "GIT_COMMITTER_DATE=" + date,
	}
	blob, err := runGit(g.dir, env, "hash-object", "-w", "--no-filters", "--", file)
	if err != nil {
		return "", err
	}
	if _, err := runGit(g.dir, env, "read-tree", parent); err != nil {
		return "", err
	}
	if _, err := runGit(g.dir, env, "update-index", "--add", "--cacheinfo", "100644,"+strings.TrimSpace(blob)+","+path); err != nil {
		return "", err
	}
	tree, err := runGit(g.dir, env, "write-tree")
	if err != nil {
		return "", err
	}
	sha, err := runGit(g.dir, env, "commit-tree", strings.TrimSpace(tree), "-p", parent, "-m", message)
	return strings.TrimSpace(sha), err
}

// PATCH /repos/{owner}/{repo}/git/refs/{ref}
func (s *Server) updateRef(req *request) *response {
	branch, ok := strings.CutPrefix(req.params["ref"], "heads/")
	if !ok {
		return validationFailed("Reference does not exist")
	}
	var body struct {
		SHA   string `json:"sha"`
		Force bool   `json:"force"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	before, err := req.repo.git.branch(branch)
	if err != nil {
		return validationFailed("Reference does not exist")
	}
	sha, err := req.repo.git.resolve(body.SHA, "commit")
	if err != nil || sha != body.SHA {
		return validationFailed("Object does not exist")
	}
	if base, err := req.repo.git.mergeBase(before, sha); !body.Force && (err != nil || base != before) {
		return validationFailed("Update is not a fast forward")
	}
	if _, err := req.repo.git.run("update-ref", "refs/heads/"+branch, sha, before); err != nil {
		return s.notFoundOr(req, err)
	}
	bot := req.caller.app.bot()
	s.user(bot)
	s.recordRefUpdate(req.repo, branch, before, sha, "", bot)
	for _, p := range req.repo.pulls {
		if p.State == "open" && p.Head == branch {
			p.previousHead, p.HeadSHA, p.pusher, p.updated = p.HeadSHA, sha, bot, s.now()
		}
	}
	return reply(http.StatusOK, s.refObject(req.repo, "refs/heads/"+branch, sha))
}

package githubtest

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// repo is a repository: a bare git repository and the objects GitHub keeps
// beside it.
type repo struct {
	id            int64
	owner, name   string
	installation  *installation
	git           gitRepo
	src           string // the work tree that Push pushes from
	defaultBranch string
	created       time.Time
	pushed        time.Time
	lastNumber    int
	pulls         []*pull
	comments      []*comment
	checkRuns     []*checkRun
	suites        map[string]int64 // check suite ID by app and head SHA
	deployments   []*deployment
	activities    []*activity
	issues        []*issue          // issues that are not pull requests
	roles         map[string]string // repository role by lower-case login
	parent        *repo             // of a fork
}

func (r *repo) fullName() string { return r.owner + "/" + r.name }

// AddRepo serves the git repository at src (a work tree, as gittest makes)
// as the repository fullName ("owner/name") of the installation, whose
// account must be the owner. The server keeps a bare clone of it; Push
// publishes later commits of src.
func (s *Server) AddRepo(installationID int64, fullName, src string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, owner, name := s.newRepo(installationID, fullName)
	s.addRepo(inst, owner, name, s.bareClone(src, name), src)
}

// AddRepos serves each of names as a repository of the installation with
// the content of src, as AddRepo does, from one bare clone that they share:
// an installation of thousands of repositories at the cost of one. They are
// to be read: Push refuses them, and a write to one (a merge, a new
// branch) shows in all.
func (s *Server) AddRepos(installationID int64, src string, names ...string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var g gitRepo
	for i, fullName := range names {
		inst, owner, name := s.newRepo(installationID, fullName)
		if i == 0 {
			g = s.bareClone(src, name)
		}
		s.addRepo(inst, owner, name, g, "")
	}
}

// newRepo checks the installation and the name of a repository to add.
func (s *Server) newRepo(installationID int64, fullName string) (inst *installation, owner, name string) {
	s.t.Helper()
	inst = s.installations[installationID]
	if inst == nil {
		s.t.Fatalf("githubtest: AddRepo: no installation %d", installationID)
	}
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner != inst.account {
		s.t.Fatalf("githubtest: AddRepo: %q is not a repository of %s, the installation's account", fullName, inst.account)
	}
	if s.repos[strings.ToLower(fullName)] != nil {
		s.t.Fatalf("githubtest: AddRepo: %s exists", fullName)
	}
	return inst, owner, name
}

func (s *Server) bareClone(src, name string) gitRepo {
	s.t.Helper()
	dir := filepath.Join(s.t.TempDir(), name+".git")
	if _, err := runGit("", nil, "clone", "-q", "--bare", src, dir); err != nil {
		s.t.Fatalf("githubtest: AddRepo: %v", err)
	}
	return gitRepo{dir: dir}
}

func (s *Server) addRepo(inst *installation, owner, name string, g gitRepo, src string) {
	s.t.Helper()
	branch, err := g.defaultBranch()
	if err != nil {
		s.t.Fatalf("githubtest: AddRepo: %v", err)
	}
	now := s.now()
	s.repos[strings.ToLower(owner+"/"+name)] = &repo{
		id: s.newID(), owner: owner, name: name, installation: inst, git: g, src: src,
		defaultBranch: branch, created: now, pushed: now, suites: map[string]int64{},
	}
}

// RemoveRepo takes a repository out of its installation, as its owner
// does in the installation's settings: the App no longer sees it.
func (s *Server) RemoveRepo(fullName string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(fullName).installation = nil
}

// DeleteRepo deletes a repository.
func (s *Server) DeleteRepo(fullName string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(fullName)
	delete(s.repos, strings.ToLower(fullName))
}

// RenameRepo renames a repository within its owner; it keeps its id.
func (s *Server) RenameRepo(fullName, newName string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	if s.repos[strings.ToLower(r.owner+"/"+newName)] != nil {
		s.t.Fatalf("githubtest: RenameRepo: %s/%s exists", r.owner, newName)
	}
	delete(s.repos, strings.ToLower(fullName))
	r.name = newName
	s.repos[strings.ToLower(r.fullName())] = r
}

// RepoID returns the repository's id, which GitHub never gives to another
// repository: what GitHub Actions' OIDC tokens name as repository_id.
func (s *Server) RepoID(fullName string) int64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustRepo(fullName).id
}

// RecreateRepo gives the repository a new id, as when it is deleted and a
// repository of the same name is created and pushed the same commits: what
// was said of the old one is no word about the new.
func (s *Server) RecreateRepo(fullName string) int64 {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	r.id = s.newID()
	return r.id
}

// MergeCommit makes a commit whose parents are the commits given, with the
// tree git merges the first two into, and points ref at it (GitHub keeps a
// pull request's test merge commit at refs/pull/<n>/merge); it returns the
// commit.
func (s *Server) MergeCommit(fullName, ref string, parents ...string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	if len(parents) < 2 {
		s.t.Fatalf("githubtest: MergeCommit: %d parents; a merge has two or more", len(parents))
	}
	tree, err := r.git.run("merge-tree", "--write-tree", "--no-messages", "--end-of-options", parents[0], parents[1])
	if err != nil {
		s.t.Fatalf("githubtest: MergeCommit: %v", err)
	}
	args := []string{"commit-tree", strings.TrimSpace(tree), "-m", "Merge " + parents[1] + " into " + parents[0]}
	for _, p := range parents {
		args = append(args, "-p", p)
	}
	sha, err := runGit(r.git.dir, []string{"GIT_AUTHOR_NAME=GitHub", "GIT_AUTHOR_EMAIL=noreply@github.com",
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.com"}, args...)
	if err != nil {
		s.t.Fatalf("githubtest: MergeCommit: %v", err)
	}
	sha = strings.TrimSpace(sha)
	if _, err := r.git.run("update-ref", ref, sha); err != nil {
		s.t.Fatalf("githubtest: MergeCommit: %v", err)
	}
	return sha
}

// TestMerge makes the test merge commit of an open pull request, its base
// merged with its head, at refs/pull/<n>/merge, as GitHub does for the
// pull_request workflows it runs, and returns it.
func (s *Server) TestMerge(fullName string, number int) string {
	s.t.Helper()
	s.mu.Lock()
	p := s.mustPull(fullName, number)
	base, head := p.BaseSHA, p.HeadSHA
	s.mu.Unlock()
	return s.MergeCommit(fullName, fmt.Sprintf("refs/pull/%d/merge", number), base, head)
}

// mustRepo returns a repository for a test's call, failing the test when it
// does not exist.
func (s *Server) mustRepo(fullName string) *repo {
	s.t.Helper()
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		s.t.Fatalf("githubtest: no repository %s; call AddRepo first", fullName)
	}
	return r
}

// Push force-pushes branch from the repository's source work tree to the
// server, as pusher, and returns its new head. The repository's activity log
// records the push; open pull requests from the branch get the new head (a
// synchronize event); those into it, the new base.
func (s *Server) Push(fullName, branch, pusher string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(fullName)
	if r.src == "" {
		s.t.Fatalf("githubtest: Push: %s shares its git store (AddRepos) and is not to be pushed to", fullName)
	}
	ref := "refs/heads/" + branch
	before, _ := r.git.branch(branch) // "" for a new branch
	if _, err := runGit(r.src, nil, "push", "-q", "--force", r.git.dir, ref+":"+ref); err != nil {
		s.t.Fatalf("githubtest: Push: %v", err)
	}
	sha, err := r.git.branch(branch)
	if err != nil {
		s.t.Fatalf("githubtest: Push: %v", err)
	}
	now := s.now()
	r.pushed = now
	s.user(pusher)
	s.recordRefUpdate(r, branch, before, sha, "", pusher)
	for _, p := range r.pulls {
		if p.State != "open" {
			continue
		}
		if p.Head == branch && p.HeadSHA != sha {
			p.previousHead, p.HeadSHA, p.pusher, p.updated = p.HeadSHA, sha, pusher, now
		}
		if p.Base == branch {
			p.BaseSHA = sha
		}
	}
	return sha
}

// Branch returns the head of a branch on the server: what merges moved it to.
func (s *Server) Branch(fullName, branch string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, err := s.mustRepo(fullName).git.branch(branch)
	if err != nil {
		s.t.Fatalf("githubtest: Branch: %v", err)
	}
	return sha
}

// GitDir returns the folder of the server's bare repository, to fetch from or
// inspect with git.
func (s *Server) GitDir(fullName string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustRepo(fullName).git.dir
}

func (s *Server) sortedRepos() []*repo {
	return slices.SortedFunc(maps.Values(s.repos), func(a, b *repo) int { return cmp.Compare(a.id, b.id) })
}

// repoObject is GitHub's repository object; full adds the fields of GET
// /repos/{owner}/{repo} (full-repository).
func (s *Server) repoObject(r *repo, full bool) object {
	api := s.api + "/repos/" + r.fullName()
	web := s.web + "/" + r.fullName()
	open := 0
	for _, p := range r.pulls {
		if p.State == "open" {
			open++
		}
	}
	o := object{
		"id":                          r.id,
		"node_id":                     nodeID("Repository", r.id),
		"name":                        r.name,
		"full_name":                   r.fullName(),
		"owner":                       s.userObject(r.owner),
		"private":                     true,
		"visibility":                  "private",
		"html_url":                    web,
		"description":                 nil,
		"fork":                        r.parent != nil,
		"url":                         api,
		"archive_url":                 api + "/{archive_format}{/ref}",
		"assignees_url":               api + "/assignees{/user}",
		"blobs_url":                   api + "/git/blobs{/sha}",
		"branches_url":                api + "/branches{/branch}",
		"collaborators_url":           api + "/collaborators{/collaborator}",
		"comments_url":                api + "/comments{/number}",
		"commits_url":                 api + "/commits{/sha}",
		"compare_url":                 api + "/compare/{base}...{head}",
		"contents_url":                api + "/contents/{+path}",
		"contributors_url":            api + "/contributors",
		"deployments_url":             api + "/deployments",
		"downloads_url":               api + "/downloads",
		"events_url":                  api + "/events",
		"forks_url":                   api + "/forks",
		"git_commits_url":             api + "/git/commits{/sha}",
		"git_refs_url":                api + "/git/refs{/sha}",
		"git_tags_url":                api + "/git/tags{/sha}",
		"git_url":                     strings.Replace(web, "http", "git", 1) + ".git",
		"issue_comment_url":           api + "/issues/comments{/number}",
		"issue_events_url":            api + "/issues/events{/number}",
		"issues_url":                  api + "/issues{/number}",
		"keys_url":                    api + "/keys{/key_id}",
		"labels_url":                  api + "/labels{/name}",
		"languages_url":               api + "/languages",
		"merges_url":                  api + "/merges",
		"milestones_url":              api + "/milestones{/number}",
		"notifications_url":           api + "/notifications{?since,all,participating}",
		"pulls_url":                   api + "/pulls{/number}",
		"releases_url":                api + "/releases{/id}",
		"ssh_url":                     "git@" + strings.TrimPrefix(s.web, "http://") + ":" + r.fullName() + ".git",
		"stargazers_url":              api + "/stargazers",
		"statuses_url":                api + "/statuses/{sha}",
		"subscribers_url":             api + "/subscribers",
		"subscription_url":            api + "/subscription",
		"tags_url":                    api + "/tags",
		"teams_url":                   api + "/teams",
		"trees_url":                   api + "/git/trees{/sha}",
		"clone_url":                   web + ".git",
		"mirror_url":                  nil,
		"hooks_url":                   api + "/hooks",
		"svn_url":                     web,
		"homepage":                    nil,
		"language":                    nil,
		"license":                     nil,
		"forks":                       0,
		"forks_count":                 0,
		"stargazers_count":            0,
		"watchers":                    0,
		"watchers_count":              0,
		"size":                        0,
		"default_branch":              r.defaultBranch,
		"open_issues":                 open,
		"open_issues_count":           open,
		"is_template":                 false,
		"topics":                      []string{},
		"has_issues":                  true,
		"has_projects":                false,
		"has_wiki":                    false,
		"has_pages":                   false,
		"has_downloads":               false,
		"has_discussions":             false,
		"archived":                    false,
		"disabled":                    false,
		"allow_forking":               false,
		"allow_merge_commit":          true,
		"allow_squash_merge":          true,
		"allow_rebase_merge":          true,
		"allow_auto_merge":            false,
		"delete_branch_on_merge":      false,
		"web_commit_signoff_required": false,
		"pushed_at":                   timestamp(r.pushed),
		"created_at":                  timestamp(r.created),
		"updated_at":                  timestamp(r.pushed),
	}
	if full {
		o["organization"] = s.userObject(r.owner)
		o["network_count"] = 0
		o["subscribers_count"] = 0
	}
	return o
}

// GET /repos/{owner}/{repo}
func (s *Server) getRepo(req *request) *response {
	return reply(http.StatusOK, s.repoObject(req.repo, true))
}

// GET /installation/repositories
func (s *Server) listInstallationRepos(req *request) *response {
	var visible []*repo
	for _, r := range s.sortedRepos() {
		if req.caller.canSee(r) {
			visible = append(visible, r)
		}
	}
	resp := reply(http.StatusOK, nil)
	list := []object{}
	for _, r := range page(req, resp, visible) {
		list = append(list, s.repoObject(r, false))
	}
	selection := "all"
	if req.caller.token.repos != nil {
		selection = "selected"
	}
	resp.body = object{"total_count": len(visible), "repositories": list, "repository_selection": selection}
	return resp
}

// escapePath escapes each segment of a file path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// base64Lines encodes content as GitHub does: base64 in lines of 60 characters.
func base64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60] + "\n")
		enc = enc[60:]
	}
	b.WriteString(enc)
	return b.String() + "\n"
}

// gitNodeID is the node ID of a git object, which GitHub derives from its SHA.
func gitNodeID(kind, sha string) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "0%d:%s%s", len(kind), kind, sha))
}

// notFoundOr answers 404 for a missing git object and reports any other git
// failure, which is the emulator's fault, as a test error.
func (s *Server) notFoundOr(req *request, err error) *response {
	if errors.Is(err, errNotFound) {
		return notFound()
	}
	s.t.Errorf("githubtest: %s %s: %v", req.Method, req.URL.Path, err)
	return errorReply(http.StatusInternalServerError, err.Error())
}

// GET /repos/{owner}/{repo}/contents/{path}
func (s *Server) getContents(req *request) *response {
	r := req.repo
	ref := cmp.Or(req.URL.Query().Get("ref"), r.defaultBranch)
	commit, err := r.git.resolve(ref, "commit")
	if err != nil {
		return s.notFoundOr(req, err)
	}
	p := strings.Trim(req.params["path"], "/")
	e, err := r.git.entry(commit, p)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	switch e.kind {
	case "blob":
		data, err := r.git.blob(e.sha)
		if err != nil {
			return s.notFoundOr(req, err)
		}
		return reply(http.StatusOK, s.contentObject(r, ref, e, data))
	case "tree":
		entries, err := r.git.lsTree("--end-of-options", e.sha)
		if err != nil {
			return s.notFoundOr(req, err)
		}
		list := []object{}
		for _, child := range entries {
			child.path = path.Join(p, child.path)
			list = append(list, s.contentObject(r, ref, child, nil))
		}
		return reply(http.StatusOK, list)
	default: // a submodule, which the emulator's repositories do not have
		return notFound()
	}
}

// contentObject describes a file (with its content when data is not nil) or
// a folder of a directory listing.
func (s *Server) contentObject(r *repo, ref string, e treeEntry, data []byte) object {
	api := s.api + "/repos/" + r.fullName()
	web := s.web + "/" + r.fullName()
	self := api + "/contents/" + escapePath(e.path) + "?ref=" + url.QueryEscape(ref)
	o := object{"name": path.Base(e.path), "path": e.path, "sha": e.sha, "url": self}
	if e.kind == "tree" {
		gitURL, htmlURL := api+"/git/trees/"+e.sha, web+"/tree/"+escapePath(ref)+"/"+escapePath(e.path)
		o["type"], o["size"], o["git_url"], o["html_url"], o["download_url"] = "dir", 0, gitURL, htmlURL, nil
	} else {
		gitURL, htmlURL := api+"/git/blobs/"+e.sha, web+"/blob/"+escapePath(ref)+"/"+escapePath(e.path)
		o["type"], o["size"], o["git_url"], o["html_url"] = "file", e.size, gitURL, htmlURL
		o["download_url"] = web + "/raw/" + escapePath(ref) + "/" + escapePath(e.path)
	}
	o["_links"] = object{"self": self, "git": o["git_url"], "html": o["html_url"]}
	if data != nil {
		o["content"], o["encoding"] = base64Lines(data), "base64"
	}
	return o
}

// GET /repos/{owner}/{repo}/git/trees/{tree_sha}
func (s *Server) getTree(req *request) *response {
	r := req.repo
	tree, err := r.git.resolve(req.params["tree_sha"], "tree")
	if err != nil {
		return s.notFoundOr(req, err)
	}
	o, err := s.treeObject(r, tree, req.URL.Query().Has("recursive"))
	if err != nil {
		return s.notFoundOr(req, err)
	}
	return reply(http.StatusOK, o)
}

// treeObject is GitHub's git tree: the tree's entries, and with recursive
// (GitHub recurses when the parameter is present, whatever its value) those
// of every folder in it.
func (s *Server) treeObject(r *repo, tree string, recursive bool) (object, error) {
	args := []string{"--end-of-options", tree}
	if recursive {
		args = append([]string{"-r", "-t"}, args...)
	}
	entries, err := r.git.lsTree(args...)
	if err != nil {
		return nil, err
	}
	api := s.api + "/repos/" + r.fullName()
	items := []object{}
	for _, e := range entries {
		item := object{"path": e.path, "mode": e.mode, "type": e.kind, "sha": e.sha}
		switch e.kind {
		case "blob":
			item["size"], item["url"] = e.size, api+"/git/blobs/"+e.sha
		case "tree":
			item["url"] = api + "/git/trees/" + e.sha
		}
		items = append(items, item)
	}
	return object{"sha": tree, "url": api + "/git/trees/" + tree, "tree": items, "truncated": false}, nil
}

// GET /repos/{owner}/{repo}/git/blobs/{file_sha}
func (s *Server) getBlob(req *request) *response {
	r := req.repo
	sha, err := r.git.resolve(req.params["file_sha"], "blob")
	if err != nil {
		return s.notFoundOr(req, err)
	}
	data, err := r.git.blob(sha)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	return reply(http.StatusOK, object{
		"sha": sha, "node_id": gitNodeID("Blob", sha), "size": len(data),
		"url":     s.api + "/repos/" + r.fullName() + "/git/blobs/" + sha,
		"content": base64Lines(data), "encoding": "base64",
	})
}

// GET /repos/{owner}/{repo}/commits
func (s *Server) listCommits(req *request) *response {
	r := req.repo
	q := req.URL.Query()
	commit, err := r.git.resolve(cmp.Or(q.Get("sha"), r.defaultBranch), "commit")
	if err != nil {
		return s.notFoundOr(req, err)
	}
	args := []string{"--end-of-options", commit}
	if p := q.Get("path"); p != "" {
		args = append(args, "--", p)
	}
	commits, err := r.git.log(args...)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	resp := reply(http.StatusOK, nil)
	resp.body = s.commitObjects(r, page(req, resp, commits))
	return resp
}

// GET /repos/{owner}/{repo}/compare/{basehead}
func (s *Server) compare(req *request) *response {
	r := req.repo
	basehead := req.params["basehead"]
	baseRef, headRef, ok := strings.Cut(basehead, "...")
	if !ok {
		return notFound()
	}
	base, err := r.git.resolve(baseRef, "commit")
	if err != nil {
		return s.notFoundOr(req, err)
	}
	head, err := r.git.resolve(headRef, "commit")
	if err != nil {
		return s.notFoundOr(req, err)
	}
	mb, err := r.git.mergeBase(base, head)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	ahead, err := r.git.count(mb, head)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	behind, err := r.git.count(mb, base)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	commits, err := r.git.log("--reverse", "--end-of-options", mb+".."+head)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	files, err := r.git.diff(mb, head)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	baseCommit, err := r.git.commit(base)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	mbCommit, err := r.git.commit(mb)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	status := "diverged"
	switch {
	case ahead == 0 && behind == 0:
		status = "identical"
	case behind == 0:
		status = "ahead"
	case ahead == 0:
		status = "behind"
	}
	api := s.api + "/repos/" + r.fullName()
	web := s.web + "/" + r.fullName()
	escaped := escapePath(basehead)
	resp := reply(http.StatusOK, nil)
	resp.body = object{
		"url":               api + "/compare/" + escaped,
		"html_url":          web + "/compare/" + escaped,
		"permalink_url":     web + "/compare/" + r.owner + ":" + base + "..." + r.owner + ":" + head,
		"diff_url":          web + "/compare/" + escaped + ".diff",
		"patch_url":         web + "/compare/" + escaped + ".patch",
		"base_commit":       s.commitObject(r, baseCommit),
		"merge_base_commit": s.commitObject(r, mbCommit),
		"status":            status,
		"ahead_by":          ahead,
		"behind_by":         behind,
		"total_commits":     ahead,
		"commits":           s.commitObjects(r, page(req, resp, commits)),
		"files":             s.diffEntries(r, head, files),
	}
	return resp
}

func (s *Server) commitObjects(r *repo, commits []commitInfo) []object {
	list := []object{}
	for _, c := range commits {
		list = append(list, s.commitObject(r, c))
	}
	return list
}

func (s *Server) commitObject(r *repo, c commitInfo) object {
	api := s.api + "/repos/" + r.fullName()
	web := s.web + "/" + r.fullName()
	parents := []object{}
	for _, p := range c.parents {
		parents = append(parents, object{"sha": p, "url": api + "/commits/" + p, "html_url": web + "/commit/" + p})
	}
	person := func(sig signature) object {
		return object{"name": sig.name, "email": sig.email, "date": timestamp(sig.date)}
	}
	return object{
		"url":          api + "/commits/" + c.sha,
		"sha":          c.sha,
		"node_id":      gitNodeID("Commit", c.sha),
		"html_url":     web + "/commit/" + c.sha,
		"comments_url": api + "/commits/" + c.sha + "/comments",
		"commit": object{
			"url":           api + "/git/commits/" + c.sha,
			"author":        person(c.author),
			"committer":     person(c.committer),
			"message":       c.message,
			"comment_count": 0,
			"tree":          object{"sha": c.tree, "url": api + "/git/trees/" + c.tree},
			"verification":  object{"verified": false, "reason": "unsigned", "payload": nil, "signature": nil, "verified_at": nil},
		},
		"author":    s.account(c.author.email),
		"committer": s.account(c.committer.email),
		"parents":   parents,
	}
}

// account is the user object of the account with a commit address, or null
// for an address that belongs to no account, as on GitHub.
func (s *Server) account(email string) any {
	if login := s.userByEmail(email); login != "" {
		return s.userObject(login)
	}
	return nil
}

// diffEntries lists changed files as GitHub does, with links at the head.
func (s *Server) diffEntries(r *repo, head string, changes []fileChange) []object {
	api := s.api + "/repos/" + r.fullName()
	web := s.web + "/" + r.fullName()
	list := []object{}
	for _, c := range changes {
		sha := c.newSHA
		if c.status == "removed" {
			sha = c.oldSHA
		}
		p := escapePath(c.path)
		o := object{
			"sha":          sha,
			"filename":     c.path,
			"status":       c.status,
			"additions":    c.additions,
			"deletions":    c.deletions,
			"changes":      c.additions + c.deletions,
			"blob_url":     web + "/blob/" + head + "/" + p,
			"raw_url":      web + "/raw/" + head + "/" + p,
			"contents_url": api + "/contents/" + p + "?ref=" + head,
		}
		if c.patch != "" {
			o["patch"] = c.patch
		}
		if c.previousPath != "" {
			o["previous_filename"] = c.previousPath
		}
		list = append(list, o)
	}
	return list
}

package githubtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The git data API: blobs, trees and commits written one object at a time,
// as clients that commit several files at once use it. The objects go into
// the bare repository with git itself, so their SHAs are git's.

// writeBlob stores data as a blob and returns its SHA.
func (g gitRepo) writeBlob(data []byte) (string, error) {
	out, err := runGitInput(g.dir, nil, data, "hash-object", "-w", "--no-filters", "--stdin")
	return strings.TrimSpace(out), err
}

// POST /repos/{owner}/{repo}/git/blobs
func (s *Server) createBlob(req *request) *response {
	var body struct {
		Content  string `json:"content"`
		Encoding string `json:"encoding"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	data := []byte(body.Content)
	switch body.Encoding {
	case "", "utf-8":
	case "base64":
		var err error
		if data, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(body.Content, "\n", "")); err != nil {
			return validationFailed("content is not valid Base64")
		}
	default:
		return validationFailed(fmt.Sprintf("encoding %q is not utf-8 or base64", body.Encoding))
	}
	sha, err := req.repo.git.writeBlob(data)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	url := s.api + "/repos/" + req.repo.fullName() + "/git/blobs/" + sha
	resp := reply(http.StatusCreated, object{"url": url, "sha": sha})
	resp.header.Set("Location", url)
	return resp
}

// treeEntryRequest is an entry of POST /repos/{owner}/{repo}/git/trees. Sha
// is raw to tell null (delete the path) from absent (content gives it).
type treeEntryRequest struct {
	Path    string          `json:"path"`
	Mode    string          `json:"mode"`
	Type    string          `json:"type"`
	SHA     json.RawMessage `json:"sha"`
	Content *string         `json:"content"`
}

// POST /repos/{owner}/{repo}/git/trees: the emulator writes file entries
// (blobs and links) and deletions; an entry that is a folder or a submodule
// it refuses rather than writing it wrong.
func (s *Server) createTree(req *request) *response {
	g := req.repo.git
	var body struct {
		BaseTree string             `json:"base_tree"`
		Tree     []treeEntryRequest `json:"tree"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	dir, err := os.MkdirTemp("", "githubtest-tree-")
	if err != nil {
		return s.notFoundOr(req, err)
	}
	defer os.RemoveAll(dir)
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(dir, "index")}
	if body.BaseTree != "" {
		base, err := g.resolve(body.BaseTree, "tree")
		if err != nil || base != body.BaseTree {
			return validationFailed("Invalid request.\n\nbase_tree " + body.BaseTree + " is not a tree of the repository.")
		}
		if _, err := runGit(g.dir, env, "read-tree", base); err != nil {
			return s.notFoundOr(req, err)
		}
	} else if _, err := runGit(g.dir, env, "read-tree", "--empty"); err != nil {
		return s.notFoundOr(req, err)
	}
	for _, e := range body.Tree {
		if e.Path == "" || strings.HasPrefix(e.Path, "/") || slices.Contains(strings.Split(e.Path, "/"), "..") {
			return validationFailed(fmt.Sprintf("Invalid request.\n\ntree.path %q is not a path in the tree.", e.Path))
		}
		if e.Type != "blob" || (e.Mode != "100644" && e.Mode != "100755" && e.Mode != "120000") {
			return validationFailed(fmt.Sprintf("Validation Failed: the emulator writes file entries only, not type %q mode %q", e.Type, e.Mode))
		}
		var sha *string
		if len(e.SHA) > 0 && !bytes.Equal(e.SHA, []byte("null")) {
			var v string
			if json.Unmarshal(e.SHA, &v) != nil {
				return validationFailed("tree.sha is not a string")
			}
			sha = &v
		}
		switch {
		case sha != nil && e.Content != nil:
			return validationFailed("Invalid request.\n\nOnly one of \"sha\" or \"content\" may be given.")
		case sha == nil && e.Content == nil:
			if _, err := runGit(g.dir, env, "update-index", "--force-remove", "--", e.Path); err != nil {
				return s.notFoundOr(req, err)
			}
			continue
		case e.Content != nil:
			written, err := g.writeBlob([]byte(*e.Content))
			if err != nil {
				return s.notFoundOr(req, err)
			}
			sha = &written
		}
		if found, err := g.resolve(*sha, "blob"); err != nil || found != *sha {
			return validationFailed("Invalid request.\n\ntree.sha " + *sha + " is not a blob of the repository.")
		}
		if _, err := runGit(g.dir, env, "update-index", "--add", "--cacheinfo", e.Mode+","+*sha+","+e.Path); err != nil {
			return validationFailed(fmt.Sprintf("Invalid request.\n\ntree.path %q: %v", e.Path, err))
		}
	}
	out, err := runGit(g.dir, env, "write-tree")
	if err != nil {
		return s.notFoundOr(req, err)
	}
	o, err := s.treeObject(req.repo, strings.TrimSpace(out), false)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	resp := reply(http.StatusCreated, o)
	resp.header.Set("Location", o["url"].(string))
	return resp
}

// personRequest is the author or committer of POST .../git/commits.
type personRequest struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  string `json:"date"`
}

// signature is the person, or the caller's bot when the request names none,
// dated now when it names no date, as GitHub fills them in.
func (s *Server) signature(req *request, p *personRequest) (signature, error) {
	bot := s.user(req.caller.app.bot())
	sig := signature{name: bot.login, email: fmt.Sprintf("%d+%s@users.noreply.github.com", bot.id, bot.login), date: s.now()}
	if p == nil {
		return sig, nil
	}
	sig.name, sig.email = p.Name, p.Email
	if p.Date != "" {
		t, err := time.Parse(time.RFC3339, p.Date)
		if err != nil {
			return signature{}, fmt.Errorf("date %q is not an ISO 8601 time", p.Date)
		}
		sig.date = t
	}
	return sig, nil
}

// POST /repos/{owner}/{repo}/git/commits: an unsigned commit of a tree.
func (s *Server) createCommit(req *request) *response {
	r := req.repo
	var body struct {
		Message   string         `json:"message"`
		Tree      string         `json:"tree"`
		Parents   []string       `json:"parents"`
		Author    *personRequest `json:"author"`
		Committer *personRequest `json:"committer"`
		Signature string         `json:"signature"`
	}
	if err := req.decode(&body); err != nil {
		return validationFailed(err.Error())
	}
	if body.Signature != "" {
		return validationFailed("Validation Failed: the emulator does not write signed commits")
	}
	if tree, err := r.git.resolve(body.Tree, "tree"); err != nil || tree != body.Tree {
		return validationFailed("Invalid request.\n\ntree " + body.Tree + " is not a tree of the repository.")
	}
	args := []string{"commit-tree", body.Tree, "-m", body.Message}
	for _, p := range body.Parents {
		if sha, err := r.git.resolve(p, "commit"); err != nil || sha != p {
			return validationFailed("Invalid request.\n\nparent " + p + " is not a commit of the repository.")
		}
		args = append(args, "-p", p)
	}
	author, err := s.signature(req, body.Author)
	if err != nil {
		return validationFailed("Invalid request.\n\nauthor: " + err.Error())
	}
	committer := author
	if body.Committer != nil {
		if committer, err = s.signature(req, body.Committer); err != nil {
			return validationFailed("Invalid request.\n\ncommitter: " + err.Error())
		}
	}
	date := func(t time.Time) string { return t.Format(time.RFC3339) }
	env := []string{
		"GIT_AUTHOR_NAME=" + author.name, "GIT_AUTHOR_EMAIL=" + author.email, "GIT_AUTHOR_DATE=" + date(author.date),
		"GIT_COMMITTER_NAME=" + committer.name, "GIT_COMMITTER_EMAIL=" + committer.email, "GIT_COMMITTER_DATE=" + date(committer.date),
	}
	out, err := runGit(r.git.dir, env, args...)
	if err != nil {
		return s.notFoundOr(req, err)
	}
	c, err := r.git.commit(strings.TrimSpace(out))
	if err != nil {
		return s.notFoundOr(req, err)
	}
	full := s.commitObject(r, c)
	inner := full["commit"].(object)
	resp := reply(http.StatusCreated, object{
		"sha": c.sha, "node_id": full["node_id"], "url": inner["url"], "html_url": full["html_url"],
		"author": inner["author"], "committer": inner["committer"], "message": c.message,
		"tree": inner["tree"], "parents": full["parents"], "verification": inner["verification"],
	})
	resp.header.Set("Location", inner["url"].(string))
	return resp
}

package github

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/modelgate/modelgate/internal/gitops"
)

// TreeCommit is a commit that writes files over the tree of another commit,
// made with the git data API: one call for each blob GitHub does not hold
// yet, one for the tree and one for the commit, whatever the number of files,
// where the contents API takes a commit a file.
type TreeCommit struct {
	Message string
	// Base is the commit whose tree the files are written over.
	Base string
	// Parents are the new commit's parents.
	Parents []string
	// Files are the files to write, by path, as regular files (mode 100644).
	Files map[string][]byte
}

// regularMode is git's mode of a file that is neither executable nor a link.
const regularMode = "100644"

func (tc TreeCommit) check() error {
	if err := checkSHA(tc.Base); err != nil {
		return err
	}
	if len(tc.Parents) == 0 {
		return fmt.Errorf("a commit over %s without parents", tc.Base)
	}
	for _, p := range tc.Parents {
		if err := checkSHA(p); err != nil {
			return err
		}
	}
	if len(tc.Files) == 0 {
		return fmt.Errorf("a commit over %s without files", tc.Base)
	}
	for p := range tc.Files {
		if err := gitops.CheckPath(p); err != nil {
			return err
		}
	}
	return nil
}

// fits tells why files cannot be written over t: a path that is a folder
// there, or under a path that is a file.
func (t *tree) fits(files map[string][]byte) error {
	for p := range files {
		if e, ok := t.entries[p]; ok && e.kind != "blob" {
			return fmt.Errorf("%s is a %s in the base tree, not a file", p, e.kind)
		}
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			if e, ok := t.entries[dir]; ok && e.kind != "tree" {
				return fmt.Errorf("%s: %s is a %s in the base tree, not a folder", p, dir, e.kind)
			}
		}
	}
	return nil
}

// Holds tells whether the tree of commit is exactly tc.Base's tree with
// tc.Files written over it: what CommitTree would write, so that there is
// nothing to commit. It compares the two recursive trees, without reading
// any file.
func (r *Repo) Holds(ctx context.Context, commit string, tc TreeCommit) (bool, error) {
	if err := tc.check(); err != nil {
		return false, fmt.Errorf("compare %s with a commit over %s in %s: %w", commit, tc.Base, r, err)
	}
	base, err := r.tree(ctx, tc.Base)
	if err != nil {
		return false, err
	}
	have, err := r.tree(ctx, commit)
	if err != nil {
		return false, err
	}
	want := map[string]treeEntry{}
	for p, e := range base.entries {
		if e.kind != "tree" {
			want[p] = e
		}
	}
	for p, data := range tc.Files {
		want[p] = treeEntry{kind: "blob", mode: regularMode, sha: blobSHA(data), size: int64(len(data))}
	}
	n := 0
	for p, e := range have.entries {
		if e.kind == "tree" {
			continue
		}
		if w, ok := want[p]; !ok || w.kind != e.kind || w.mode != e.mode || w.sha != e.sha {
			return false, nil
		}
		n++
	}
	return n == len(want), nil
}

// CommitTree writes the commit tc describes and returns its SHA. No branch
// moves: CreateBranch or FastForward puts the commit on one. Each blob
// GitHub stores is checked to be the content sent, and the commit to have
// the tree and parents asked for.
func (r *Repo) CommitTree(ctx context.Context, tc TreeCommit) (string, error) {
	if err := tc.check(); err != nil {
		return "", fmt.Errorf("commit over %s in %s: %w", tc.Base, r, err)
	}
	base, err := r.tree(ctx, tc.Base)
	if err != nil {
		return "", err
	}
	if err := base.fits(tc.Files); err != nil {
		return "", fmt.Errorf("commit over %s in %s: %w", tc.Base, r, err)
	}
	// The blobs the base and the parents hold need not be sent again: a
	// second commit of a branch writes only what changed.
	held := map[string]bool{}
	for _, c := range append([]string{tc.Base}, tc.Parents...) {
		t, err := r.tree(ctx, c)
		if err != nil {
			return "", err
		}
		for _, e := range t.entries {
			if e.kind == "blob" {
				held[e.sha] = true
			}
		}
	}
	var entries []*gh.TreeEntry
	for _, p := range slices.Sorted(maps.Keys(tc.Files)) {
		data := tc.Files[p]
		sha := blobSHA(data)
		if e, ok := base.entries[p]; ok && e.sha == sha && e.mode == regularMode {
			continue // the base holds it already
		}
		if !held[sha] {
			if err := r.createBlob(ctx, sha, data); err != nil {
				return "", err
			}
			held[sha] = true
		}
		entries = append(entries, &gh.TreeEntry{Path: gh.String(p), Mode: gh.String(regularMode), Type: gh.String("blob"), SHA: gh.String(sha)})
	}
	treeSHA := base.sha
	if len(entries) > 0 {
		t, _, err := r.c.gh.Git.CreateTree(ctx, r.owner, r.name, base.sha, entries)
		if err != nil {
			return "", fmt.Errorf("create a tree over %s in %s: %w", tc.Base, r, err)
		}
		if !isSHA(t.GetSHA()) {
			return "", fmt.Errorf("create a tree over %s in %s: GitHub named no tree", tc.Base, r)
		}
		treeSHA = t.GetSHA()
	}
	parents := make([]*gh.Commit, 0, len(tc.Parents))
	for _, p := range tc.Parents {
		parents = append(parents, &gh.Commit{SHA: gh.String(p)})
	}
	c, _, err := r.c.gh.Git.CreateCommit(ctx, r.owner, r.name, &gh.Commit{Message: gh.String(tc.Message), Tree: &gh.Tree{SHA: gh.String(treeSHA)}, Parents: parents}, nil)
	if err != nil {
		return "", fmt.Errorf("create a commit over %s in %s: %w", tc.Base, r, err)
	}
	got := make([]string, 0, len(c.Parents))
	for _, p := range c.Parents {
		got = append(got, p.GetSHA())
	}
	if !isSHA(c.GetSHA()) || c.GetTree().GetSHA() != treeSHA || !slices.Equal(got, tc.Parents) {
		return "", fmt.Errorf("create a commit over %s in %s: GitHub wrote commit %q of tree %q and parents %v, not of tree %s and parents %v",
			tc.Base, r, c.GetSHA(), c.GetTree().GetSHA(), got, treeSHA, tc.Parents)
	}
	return c.GetSHA(), nil
}

// createBlob stores a file's content, which git names sha.
func (r *Repo) createBlob(ctx context.Context, sha string, data []byte) error {
	b, _, err := r.c.gh.Git.CreateBlob(ctx, r.owner, r.name, &gh.Blob{Content: gh.String(base64.StdEncoding.EncodeToString(data)), Encoding: gh.String("base64")})
	if err != nil {
		return fmt.Errorf("create blob %s in %s: %w", sha, r, err)
	}
	if b.GetSHA() != sha {
		return fmt.Errorf("create blob %s in %s: GitHub stored blob %q: not the content sent", sha, r, b.GetSHA())
	}
	return nil
}

// FolderHolds tells what commit holds under the folder dir: nothing (exists
// is false), or exactly the files of files that are under dir, with their
// content (same is true), or something else. It compares SHAs in the
// commit's tree without reading any file.
func (r *Repo) FolderHolds(ctx context.Context, commit, dir string, files map[string][]byte) (exists, same bool, err error) {
	if err := gitops.CheckPath(dir); err != nil {
		return false, false, err
	}
	t, err := r.tree(ctx, commit)
	if err != nil {
		return false, false, err
	}
	prefix := dir + "/"
	want := map[string]string{}
	for p, data := range files {
		if strings.HasPrefix(p, prefix) {
			want[p] = blobSHA(data)
		}
	}
	n := 0
	for p, e := range t.entries {
		if !strings.HasPrefix(p, prefix) || e.kind == "tree" {
			continue
		}
		exists = true
		if sha, ok := want[p]; !ok || e.kind != "blob" || e.mode != regularMode || e.sha != sha {
			return true, false, nil
		}
		n++
	}
	if _, ok := t.entries[dir]; ok {
		exists = true
	}
	return exists, exists && n == len(want), nil
}

// ErrNotInstalled is returned when the App is not installed on a
// repository, or the repository does not exist: GitHub tells neither apart.
var ErrNotInstalled = errors.New("github: the app is not installed on the repository")

// RepositoryInstallation returns the id of the App's installation on a
// repository ("owner/name"), asked as the App itself.
func (a *App) RepositoryInstallation(ctx context.Context, fullName string) (int64, error) {
	owner, name, err := splitName(fullName)
	if err != nil {
		return 0, err
	}
	inst, _, err := a.client.Apps.FindRepositoryInstallation(ctx, owner, name)
	if StatusCode(err) == http.StatusNotFound {
		return 0, fmt.Errorf("installation of %s: %w", fullName, ErrNotInstalled)
	}
	if err != nil {
		return 0, fmt.Errorf("installation of %s: %w", fullName, err)
	}
	return inst.GetID(), nil
}

// Parents returns the parents of a commit, in order. A commit never changes,
// so the answer is kept with the commit graph History reads.
func (r *Repo) Parents(ctx context.Context, sha string) ([]string, error) {
	if err := checkSHA(sha); err != nil {
		return nil, err
	}
	key := r.key("commit", sha)
	if n, ok := r.c.app.commits.get(key); ok {
		return n.parents, nil
	}
	list, _, err := r.c.gh.Repositories.ListCommits(immutable(ctx), r.owner, r.name,
		&gh.CommitsListOptions{SHA: sha, ListOptions: gh.ListOptions{PerPage: 1}})
	if err != nil {
		return nil, fmt.Errorf("commit %s of %s: %w", sha, r, err)
	}
	if len(list) == 0 || list[0].GetSHA() != sha {
		return nil, fmt.Errorf("commit %s of %s: GitHub did not list it", sha, r)
	}
	g := &graph{r: r, nodes: map[string]commitNode{}}
	return g.add(list[0]).parents, nil
}

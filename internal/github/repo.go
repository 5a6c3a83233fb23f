package github

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/modelgate/modelgate/internal/gitops"
)

// Repo is a repository of an installation. As a gitops.Repository it names
// commits by their full SHAs, and it keeps what it reads of them (trees,
// files, comparisons, the commit graph) in the App's caches: a commit's
// content never changes.
type Repo struct {
	c           *Client
	owner, name string
}

var _ gitops.Repository = (*Repo)(nil)

func (r *Repo) String() string { return r.owner + "/" + r.name }

// key is a cache key for this repository as this installation sees it.
func (r *Repo) key(parts ...string) string {
	return strconv.FormatInt(r.c.id, 10) + "/" + strings.ToLower(r.String()) + "/" + strings.Join(parts, "/")
}

func isSHA(s string) bool {
	return len(s) == 40 && strings.Trim(s, "0123456789abcdef") == ""
}

func checkSHA(sha string) error {
	if !isSHA(sha) {
		return fmt.Errorf("%q is not a full commit SHA", sha)
	}
	return nil
}

// Snapshot returns the content of the commit sha. Its first read fetches the
// commit's whole tree in one request; files are fetched by blob SHA, once
// for all the commits that share them.
func (r *Repo) Snapshot(sha string) gitops.Snapshot {
	return snapshot{r: r, sha: sha}
}

type snapshot struct {
	r   *Repo
	sha string
}

func (s snapshot) ReadFile(ctx context.Context, file string) ([]byte, error) {
	return s.ReadData(ctx, file, gitops.MaxDocumentBytes)
}

// ReadData fetches the blob only if gitops.CheckFile allows the mode and size
// its tree entry gives.
func (s snapshot) ReadData(ctx context.Context, file string, limit int64) ([]byte, error) {
	if err := gitops.CheckPath(file); err != nil {
		return nil, err
	}
	t, err := s.r.tree(ctx, s.sha)
	if err != nil {
		return nil, err
	}
	e, ok := t.entries[file]
	if !ok {
		return nil, fmt.Errorf("%s at %s: %w", file, s.sha, fs.ErrNotExist)
	}
	if err := gitops.CheckFile(file, e.fileMode(), e.size, limit); err != nil {
		return nil, err
	}
	data, err := s.r.blob(ctx, e.sha, e.size)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", file, s.sha, err)
	}
	// The caller may change what it gets; the cache keeps its own copy.
	return bytes.Clone(data), nil
}

func (s snapshot) ReadDir(ctx context.Context, dir string) ([]string, error) {
	if err := gitops.CheckPath(dir); err != nil {
		return nil, err
	}
	t, err := s.r.tree(ctx, s.sha)
	if err != nil {
		return nil, err
	}
	if names, ok := t.dirs[dir]; ok {
		return slices.Clone(names), nil
	}
	if _, ok := t.entries[dir]; ok {
		return nil, fmt.Errorf("read %s/ at %s: not a folder", dir, s.sha)
	}
	return nil, fmt.Errorf("%s/ at %s: %w", dir, s.sha, fs.ErrNotExist)
}

// tree is the recursive tree of a commit.
type tree struct {
	sha     string               // of the root tree object
	entries map[string]treeEntry // by path
	dirs    map[string][]string  // the sorted names in each folder, by path
}

type treeEntry struct {
	kind string // "blob", "tree" or "commit" (a submodule)
	mode string
	sha  string
	size int64 // of a blob
}

// fileMode is the entry's git mode as gitops.CheckFile reads it.
func (e treeEntry) fileMode() fs.FileMode {
	switch {
	case e.kind == "tree":
		return fs.ModeDir
	case e.kind != "blob":
		return fs.ModeIrregular
	case e.mode == "120000":
		return fs.ModeSymlink
	}
	return 0
}

func (r *Repo) tree(ctx context.Context, sha string) (*tree, error) {
	if err := checkSHA(sha); err != nil {
		return nil, err
	}
	key := r.key("tree", sha)
	if t, ok := r.c.app.trees.get(key); ok {
		return t, nil
	}
	res, _, err := r.c.gh.Git.GetTree(immutable(ctx), r.owner, r.name, sha, true)
	if err != nil {
		return nil, fmt.Errorf("tree of %s at %s: %w", r, sha, err)
	}
	if res.GetTruncated() {
		return nil, fmt.Errorf("tree of %s at %s: GitHub truncated it (a recursive tree holds at most 100,000 entries and 7 MB): the repository is too large to read this way", r, sha)
	}
	if !isSHA(res.GetSHA()) {
		return nil, fmt.Errorf("tree of %s at %s: GitHub named no tree", r, sha)
	}
	t := &tree{sha: res.GetSHA(), entries: make(map[string]treeEntry, len(res.Entries)), dirs: map[string][]string{}}
	size := len(key)
	for _, e := range res.Entries {
		p := e.GetPath()
		t.entries[p] = treeEntry{kind: e.GetType(), mode: e.GetMode(), sha: e.GetSHA(), size: int64(e.GetSize())}
		dir, name := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		t.dirs[dir] = append(t.dirs[dir], name)
		size += 2*len(p) + 128
	}
	for _, names := range t.dirs {
		slices.Sort(names)
	}
	r.c.app.trees.add(key, t, size)
	return t, nil
}

// blob fetches the blob sha, which its tree entry says holds size bytes.
func (r *Repo) blob(ctx context.Context, sha string, size int64) ([]byte, error) {
	key := r.key("blob", sha)
	if data, ok := r.c.app.blobs.get(key); ok {
		return data, nil
	}
	b, _, err := r.c.gh.Git.GetBlob(immutable(ctx), r.owner, r.name, sha)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", sha, err)
	}
	if int64(b.GetSize()) != size || int64(len(b.GetContent())) > 2*size+1024 {
		return nil, fmt.Errorf("blob %s: GitHub sent %d bytes where the tree says %d", sha, b.GetSize(), size)
	}
	var data []byte
	switch b.GetEncoding() {
	case "base64":
		data, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(b.GetContent(), "\n", ""))
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", sha, err)
		}
	case "utf-8":
		data = []byte(b.GetContent())
	default:
		return nil, fmt.Errorf("blob %s: unknown encoding %q", sha, b.GetEncoding())
	}
	// Blobs are cached by SHA, for every commit that has them: the content
	// must be the one the SHA names.
	if blobSHA(data) != sha {
		return nil, fmt.Errorf("blob %s: the content GitHub sent does not have this SHA", sha)
	}
	r.c.app.blobs.add(key, data, len(key)+len(data))
	return data, nil
}

// blobSHA is git's object name of a file's content.
func blobSHA(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// comparison is what GitHub's comparison base...head tells.
type comparison struct {
	mergeBase string
	// files are the paths that differ from the merge base to head, sorted;
	// complete is false when GitHub may have left some out.
	files    []string
	complete bool
	// committers are the logins of the authors and committers of the
	// commits from the merge base to head that the comparison listed, each
	// once; listed is how many commits it listed of all of them.
	committers    []string
	listed, total int
}

// compareCommitsPerPage is how many commits a page of a comparison lists:
// a pull request's commits mostly fit on the first, whose committers the
// approvals need.
const compareCommitsPerPage = 100

// maxCompareFiles is the most files GitHub lists in a comparison.
const maxCompareFiles = 300

// compare fetches the comparison base...head, once: MergeBase and
// ChangedFiles of a pull request share it.
func (r *Repo) compare(ctx context.Context, base, head string) (comparison, error) {
	if err := checkSHA(base); err != nil {
		return comparison{}, err
	}
	if err := checkSHA(head); err != nil {
		return comparison{}, err
	}
	if c, ok := r.c.app.compares.get(r.key("compare", base, head)); ok {
		return c, nil
	}
	c, _, err := r.fetchCompare(immutable(ctx), base, head)
	return c, err
}

// BaseTip returns the commit that branch points at now, for judging head
// against it. A pull request's base SHA is where the branch was when the pull
// request last changed, so rules that landed on the branch since would be
// missed; the merge lands on the branch as it is now. The comparison that
// answers it is kept, so that MergeBase and ChangedFiles of the tip and head
// cost no further call.
func (r *Repo) BaseTip(ctx context.Context, branch, head string) (string, error) {
	if err := checkSHA(head); err != nil {
		return "", err
	}
	if branch == "" || strings.Contains(branch, "...") {
		return "", fmt.Errorf("base branch %q: not a branch name", branch)
	}
	_, tip, err := r.fetchCompare(ctx, branch, head)
	return tip, err
}

// fetchCompare asks GitHub for the comparison base...head, where base may be
// a branch, caches it under the commit base named, and returns it with that
// commit.
func (r *Repo) fetchCompare(ctx context.Context, base, head string) (comparison, string, error) {
	// When paginated, GitHub lists all the changed files with the first page:
	// one commit a page keeps the rest of the answer small.
	res, _, err := r.c.gh.Repositories.CompareCommits(ctx, r.owner, r.name, base, head, &gh.ListOptions{PerPage: compareCommitsPerPage})
	if err != nil {
		return comparison{}, "", fmt.Errorf("compare %s...%s in %s: %w", base, head, r, err)
	}
	baseSHA := res.GetBaseCommit().GetSHA()
	c := comparison{mergeBase: res.GetMergeBaseCommit().GetSHA(), complete: len(res.Files) < maxCompareFiles,
		listed: len(res.Commits), total: res.GetTotalCommits()}
	c.committers = addCommitters(nil, res.Commits)
	if !isSHA(c.mergeBase) || !isSHA(baseSHA) {
		return comparison{}, "", fmt.Errorf("compare %s...%s in %s: no merge base", base, head, r)
	}
	key := r.key("compare", baseSHA, head)
	size := 2*len(key) + 64
	for _, f := range res.Files {
		c.files = append(c.files, f.GetFilename())
		// A rename changes both paths, as git diff --no-renames shows it.
		if f.GetStatus() == "renamed" && f.GetPreviousFilename() != "" {
			c.files = append(c.files, f.GetPreviousFilename())
		}
		r.keepPatchSides(f.GetPatch())
	}
	slices.Sort(c.files)
	c.files = slices.Compact(c.files)
	for _, f := range c.files {
		size += len(f) + 16
	}
	for _, l := range c.committers {
		size += len(l) + 16
	}
	r.c.app.compares.add(key, c, size)
	// The files are those from the merge base to head: this is also the
	// comparison of the merge base with head, which ChangedFiles asks for next.
	if c.mergeBase != baseSHA {
		r.c.app.compares.add(r.key("compare", c.mergeBase, head), c, size)
	}
	return c, baseSHA, nil
}

// keepPatchSides keeps both sides of a patch as blobs, each under the SHA of
// its own bytes: a side that is the whole file (a small file, such as an
// environment file or a manifest, or one the change adds) is then read from
// the comparison already fetched rather than by another request, and a side
// that is not is under a SHA that no tree names.
func (r *Repo) keepPatchSides(patch string) {
	before, after, ok := patchSides(patch)
	if !ok {
		return
	}
	for _, data := range [][]byte{before, after} {
		if data != nil {
			key := r.key("blob", blobSHA(data))
			r.c.app.blobs.add(key, data, len(key)+len(data))
		}
	}
}

// maxCommitters is the most commits whose committers Committers reads.
const maxCommitters = 250

// Committers lists the logins of the authors and committers of the commits
// that head brings onto base, each once: for a pull request judged against
// its base branch's tip, its commits, as the comparison that BaseTip fetched
// lists them. Commits whose addresses belong to no GitHub account add
// nobody.
func (r *Repo) Committers(ctx context.Context, base, head string) ([]string, error) {
	c, err := r.compare(ctx, base, head)
	if err != nil {
		return nil, err
	}
	// Someone left out could approve their own change.
	if c.total >= maxCommitters {
		return nil, fmt.Errorf("commits of %s...%s in %s: %d commits, more than the %d whose committers modelgate reads", base, head, r, c.total, maxCommitters)
	}
	logins, listed := slices.Clone(c.committers), c.listed
	for page := 2; listed < c.total; page++ {
		res, _, err := r.c.gh.Repositories.CompareCommits(immutable(ctx), r.owner, r.name, base, head, &gh.ListOptions{PerPage: compareCommitsPerPage, Page: page})
		if err != nil {
			return nil, fmt.Errorf("commits of %s...%s in %s: %w", base, head, r, err)
		}
		if len(res.Commits) == 0 {
			return nil, fmt.Errorf("commits of %s...%s in %s: GitHub listed %d of %d commits", base, head, r, listed, c.total)
		}
		listed += len(res.Commits)
		logins = addCommitters(logins, res.Commits)
	}
	return logins, nil
}

// addCommitters adds the logins of the commits' authors and committers that
// logins does not hold yet.
func addCommitters(logins []string, commits []*gh.RepositoryCommit) []string {
	for _, c := range commits {
		for _, u := range []*gh.User{c.GetAuthor(), c.GetCommitter()} {
			if login := u.GetLogin(); login != "" && !slices.Contains(logins, login) {
				logins = append(logins, login)
			}
		}
	}
	return logins
}

func (r *Repo) MergeBase(ctx context.Context, a, b string) (string, error) {
	c, err := r.compare(ctx, a, b)
	if err != nil {
		return "", err
	}
	return c.mergeBase, nil
}

func (r *Repo) ChangedFiles(ctx context.Context, from, to string) ([]string, error) {
	c, err := r.compare(ctx, from, to)
	if err != nil {
		return nil, err
	}
	if c.mergeBase == from && c.complete {
		return slices.Clone(c.files), nil
	}
	// GitHub compares with the merge base, not with from, and lists at most
	// 300 files: the trees of both commits tell the rest.
	return r.diffTrees(ctx, from, to)
}

// diffTrees lists the files that differ between two commits, sorted.
func (r *Repo) diffTrees(ctx context.Context, from, to string) ([]string, error) {
	a, err := r.tree(ctx, from)
	if err != nil {
		return nil, err
	}
	b, err := r.tree(ctx, to)
	if err != nil {
		return nil, err
	}
	var files []string
	for p, e := range a.entries {
		if f, ok := b.entries[p]; e.kind != "tree" && (!ok || f != e) {
			files = append(files, p)
		}
	}
	for p, e := range b.entries {
		if f, ok := a.entries[p]; e.kind != "tree" && (!ok || f.kind == "tree") {
			files = append(files, p)
		}
	}
	slices.Sort(files)
	return files, nil
}

// commitNode is a commit of the graph that History walks.
type commitNode struct {
	parents []string
	time    time.Time // committer time
}

// historySkew is how much older than the oldest commit that changed a file
// History looks for the commits that landed it: a merge is newer than what it
// merges, as long as the committers' clocks are right.
const historySkew = 24 * time.Hour

// History lists the commits on sha's first-parent line that changed file,
// newest first, with their committer time, as git log --first-parent does.
//
// GitHub lists the commits that changed a file on every parent, simplified as
// git log simplifies by default: a branch merged into sha's line shows as its
// own commits, not as the merge commit that landed them, and merges are how a
// branch that changes by pull requests moves. So History also reads the
// commit graph near sha, a hundred commits a request and kept for later
// calls, and replaces each listed commit with the commit of the first-parent
// line that brought it in. One difference remains: a merge that keeps the
// file as its second parent has it, dropping a change that the first-parent
// line made meanwhile, hides that change from GitHub's list and so from
// History.
func (r *Repo) History(ctx context.Context, sha, file string) ([]gitops.Commit, error) {
	if err := checkSHA(sha); err != nil {
		return nil, err
	}
	if err := gitops.CheckPath(file); err != nil {
		return nil, err
	}
	// A commit's history never changes: the change of a pull request and
	// the histories of every stage ask for the same one.
	key := r.key("history", sha, file)
	if commits, ok := r.c.app.histories.get(key); ok {
		return slices.Clone(commits), nil
	}
	commits, err := r.history(ctx, sha, file)
	if err != nil {
		return nil, err
	}
	r.c.app.histories.add(key, commits, len(key)+64*len(commits))
	return slices.Clone(commits), nil
}

func (r *Repo) history(ctx context.Context, sha, file string) ([]gitops.Commit, error) {
	listed, err := collect(func(o gh.ListOptions) ([]*gh.RepositoryCommit, *gh.Response, error) {
		return r.c.gh.Repositories.ListCommits(immutable(ctx), r.owner, r.name, &gh.CommitsListOptions{SHA: sha, Path: file, ListOptions: o})
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s at %s: %w", file, sha, err)
	}
	if len(listed) == 0 {
		return nil, nil
	}
	g := &graph{r: r, nodes: map[string]commitNode{}}
	changed := make([]string, 0, len(listed))
	var oldest time.Time
	for i, c := range listed {
		if t := g.add(c).time; i == 0 || t.Before(oldest) {
			oldest = t
		}
		changed = append(changed, c.GetSHA())
	}
	// Near sha first; the whole history only when that did not place every
	// listed commit.
	for _, cutoff := range []time.Time{oldest.Add(-historySkew), {}} {
		commits, ok, err := g.landings(ctx, sha, changed, cutoff)
		if err != nil {
			return nil, fmt.Errorf("history of %s at %s: %w", file, sha, err)
		}
		if ok {
			return commits, nil
		}
	}
	return nil, fmt.Errorf("history of %s at %s: GitHub lists commits that are not in the history of %s", file, sha, sha)
}

// graph is the part of a repository's commit graph that one History call
// has read.
type graph struct {
	r     *Repo
	nodes map[string]commitNode
}

func (g *graph) add(c *gh.RepositoryCommit) commitNode {
	n := commitNode{time: c.GetCommit().GetCommitter().GetDate().UTC()}
	for _, p := range c.Parents {
		n.parents = append(n.parents, p.GetSHA())
	}
	g.nodes[c.GetSHA()] = n
	key := g.r.key("commit", c.GetSHA())
	g.r.c.app.commits.add(key, n, len(key)+64+48*len(n.parents))
	return n
}

// node returns a commit, from the graph, the App's cache, or else GitHub with
// the hundred commits before it.
func (g *graph) node(ctx context.Context, sha string) (commitNode, error) {
	if n, ok := g.nodes[sha]; ok {
		return n, nil
	}
	if n, ok := g.r.c.app.commits.get(g.r.key("commit", sha)); ok {
		g.nodes[sha] = n
		return n, nil
	}
	list, _, err := g.r.c.gh.Repositories.ListCommits(immutable(ctx), g.r.owner, g.r.name,
		&gh.CommitsListOptions{SHA: sha, ListOptions: gh.ListOptions{PerPage: 100}})
	if err != nil {
		return commitNode{}, fmt.Errorf("commits before %s: %w", sha, err)
	}
	for _, c := range list {
		g.add(c)
	}
	n, ok := g.nodes[sha]
	if !ok {
		return commitNode{}, fmt.Errorf("commits before %s: GitHub did not list %s itself", sha, sha)
	}
	return n, nil
}

// landings maps the commits changed to the commits of sha's first-parent line
// that brought them in, and returns those, newest first. It reads the graph
// down to the commits older than cutoff; ok is false when that did not reach
// every commit of changed.
func (g *graph) landings(ctx context.Context, sha string, changed []string, cutoff time.Time) ([]gitops.Commit, bool, error) {
	var line []string
	for c := sha; ; {
		n, err := g.node(ctx, c)
		if err != nil {
			return nil, false, err
		}
		line = append(line, c)
		if len(n.parents) == 0 || n.time.Before(cutoff) {
			break
		}
		c = n.parents[0]
	}
	// Oldest first, each commit of the line lands itself and what its other
	// parents bring that older commits of the line did not land already.
	landedBy := map[string]string{}
	for i := len(line) - 1; i >= 0; i-- {
		c := line[i]
		landedBy[c] = c
		stack := slices.Clone(g.nodes[c].parents)
		if len(stack) > 0 {
			stack = stack[1:]
		}
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if _, ok := landedBy[p]; ok {
				continue
			}
			n, err := g.node(ctx, p)
			if err != nil {
				return nil, false, err
			}
			landedBy[p] = c
			if !n.time.Before(cutoff) {
				stack = append(stack, n.parents...)
			}
		}
	}
	position := make(map[string]int, len(line))
	for i, c := range line {
		position[c] = i
	}
	var out []gitops.Commit
	seen := map[string]bool{}
	for _, c := range changed {
		l, ok := landedBy[c]
		if !ok {
			return nil, false, nil
		}
		if !seen[l] {
			seen[l] = true
			out = append(out, gitops.Commit{SHA: l, Time: g.nodes[l].time})
		}
	}
	slices.SortFunc(out, func(a, b gitops.Commit) int { return cmp.Compare(position[a.SHA], position[b.SHA]) })
	return out, true, nil
}

// HoldsOnDefaultBranch tells whether the repository's default branch holds
// a file or folder at path: one request, which names no branch, and is
// conditional like any other, so that asking again about a path that has
// not changed costs nothing of the rate limit. An empty repository holds
// nothing.
func (r *Repo) HoldsOnDefaultBranch(ctx context.Context, path string) (bool, error) {
	if err := gitops.CheckPath(path); err != nil {
		return false, err
	}
	_, _, _, err := r.c.gh.Repositories.GetContents(ctx, r.owner, r.name, path, nil)
	if StatusCode(err) == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s on the default branch of %s: %w", path, r, err)
	}
	return true, nil
}

// DefaultBranch returns the name of the repository's default branch.
func (r *Repo) DefaultBranch(ctx context.Context) (string, error) {
	repo, _, err := r.c.gh.Repositories.Get(ctx, r.owner, r.name)
	if err != nil {
		return "", fmt.Errorf("repository %s: %w", r, err)
	}
	if repo.GetDefaultBranch() == "" {
		return "", fmt.Errorf("repository %s: GitHub named no default branch", r)
	}
	return repo.GetDefaultBranch(), nil
}

// BranchTip returns the commit a branch points at now.
func (r *Repo) BranchTip(ctx context.Context, branch string) (string, error) {
	if branch == "" || isSHA(branch) {
		return "", fmt.Errorf("branch %q of %s: not a branch name", branch, r)
	}
	commits, _, err := r.c.gh.Repositories.ListCommits(ctx, r.owner, r.name, &gh.CommitsListOptions{SHA: branch, ListOptions: gh.ListOptions{PerPage: 1}})
	if err != nil {
		return "", fmt.Errorf("tip of %s in %s: %w", branch, r, err)
	}
	if len(commits) == 0 || !isSHA(commits[0].GetSHA()) {
		return "", fmt.Errorf("tip of %s in %s: GitHub listed no commit", branch, r)
	}
	return commits[0].GetSHA(), nil
}

package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/git"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/gitopstest"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/schema"
)

// branchyRepo is a repository whose main has commits of its own, a merged
// branch (with a rename) and a later change, and a pull request branch
// that main moved on from.
func branchyRepo(t *testing.T) (*gittest.Repo, map[string]string) {
	t.Helper()
	w := gittest.New(t)
	sha := map[string]string{}
	env := func(stage, version string) {
		w.Write("environments/"+stage+".yaml", fmt.Sprintf("stage: %s\nmodels: {a: %q}\n", stage, version))
	}
	env("dev", "1.0.0")
	w.Write("models/a/1.0.0/model.yaml", "name: a\n")
	w.Write("docs/old.md", "guide\n")
	w.Write("README.md", "models\n")
	sha["c1"] = w.Commit("first", t0)
	w.Write("README.md", "models, pinned\n")
	sha["c2"] = w.Commit("readme", t0.Add(time.Hour))
	w.Branch("feature")
	env("dev", "2.0.0")
	w.Write("models/a/2.0.0/model.yaml", "name: a\nversion: 2\n")
	sha["f1"] = w.Commit("a 2.0.0 to dev", t0.Add(2*time.Hour))
	w.Git("mv", "docs/old.md", "docs/guide.md")
	w.Write("models/b/1.0.0/model.yaml", "name: b\n")
	sha["f2"] = w.Commit("rename the guide, add b", t0.Add(3*time.Hour))
	w.Checkout("main")
	env("production", "1.0.0")
	sha["c3"] = w.Commit("production", t0.Add(4*time.Hour))
	w.Git("merge", "-q", "--no-ff", "--no-commit", "feature")
	sha["m"] = w.Commit("Merge branch 'feature'", t0.Add(5*time.Hour))
	env("dev", "3.0.0")
	w.Write("models/a/3.0.0/model.yaml", "name: a\nversion: 3\n")
	sha["c4"] = w.Commit("a 3.0.0 to dev", t0.Add(6*time.Hour))
	// A second branch that merges main in before it is merged.
	w.Branch("feature2")
	env("production", "1.5.0")
	sha["g1"] = w.Commit("a 1.5.0 to production", t0.Add(7*time.Hour))
	w.Checkout("main")
	env("dev", "3.5.0")
	sha["c5"] = w.Commit("a 3.5.0 to dev", t0.Add(8*time.Hour))
	w.Checkout("feature2")
	w.Git("merge", "-q", "--no-ff", "--no-commit", "main")
	sha["g2"] = w.Commit("Merge branch 'main' into feature2", t0.Add(9*time.Hour))
	w.Checkout("main")
	w.Git("merge", "-q", "--no-ff", "--no-commit", "feature2")
	sha["m2"] = w.Commit("Merge branch 'feature2'", t0.Add(10*time.Hour))
	w.Branch("promote")
	env("production", "2.0.0")
	w.Remove("README.md")
	sha["p1"] = w.Commit("a 2.0.0 to production", t0.Add(11*time.Hour))
	w.Checkout("main")
	env("dev", "4.0.0")
	sha["c6"] = w.Commit("main moves on", t0.Add(12*time.Hour))
	return w, sha
}

// outcome describes a result and its error for comparison: what git and
// GitHub give must agree, errors by kind only.
func outcome(v any, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "fs.ErrNotExist"
	case err != nil:
		return "error"
	}
	data, _ := json.Marshal(v)
	return string(data)
}

func TestRepoMatchesLocalGit(t *testing.T) {
	ctx := context.Background()
	w, sha := branchyRepo(t)
	f := newFixture(t, w)
	local, err := git.Open(ctx, w.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// History reads the file's commits and, once, the commit graph near sha.
	for _, tt := range []struct {
		file  string
		calls int
	}{{"environments/production.yaml", 2}, {"environments/dev.yaml", 1}} {
		f.gh.ResetCalls()
		if _, err := f.repo.History(ctx, sha["c6"], tt.file); err != nil {
			t.Fatal(err)
		}
		if n := f.count("GET", routeCommits); n != tt.calls {
			t.Errorf("History(c6, %s) made %d calls, want %d: %v", tt.file, n, tt.calls, f.calls())
		}
	}

	same := func(what string, call func(r gitops.Repository) (any, error)) {
		t.Helper()
		want := outcome(call(local))
		if got := outcome(call(f.repo)); got != want {
			t.Errorf("%s: GitHub gives %s, git %s", what, got, want)
		}
	}
	names := slices.Sorted(maps.Keys(sha))

	files := []string{"environments/dev.yaml", "environments/production.yaml", "README.md", "docs/old.md", "docs/guide.md",
		"models/b/1.0.0/model.yaml", "environments/staging.yaml", "models", "models/a/1.0.0/model.yaml/x"}
	dirs := []string{"environments", "models", "models/a", "docs", "models/b/1.0.0", "nothing", "README.md"}
	for _, n := range names {
		for _, file := range files {
			same(fmt.Sprintf("ReadFile(%s) at %s", file, n), func(r gitops.Repository) (any, error) {
				data, err := r.Snapshot(sha[n]).ReadFile(ctx, file)
				return string(data), err
			})
		}
		for _, dir := range dirs {
			same(fmt.Sprintf("ReadDir(%s) at %s", dir, n), func(r gitops.Repository) (any, error) {
				return r.Snapshot(sha[n]).ReadDir(ctx, dir)
			})
		}
	}
	// A commit that does not exist is an error, not a missing file.
	same("ReadFile at a missing commit", func(r gitops.Repository) (any, error) {
		return r.Snapshot(strings.Repeat("0", 40)).ReadFile(ctx, "README.md")
	})

	pairs := [][2]string{{"c6", "p1"}, {"p1", "c6"}, {"c4", "f2"}, {"f2", "c3"}, {"c1", "c6"}, {"m", "f2"}, {"c2", "f2"}, {"c4", "c4"}, {"g1", "c5"}, {"m2", "g2"}}
	for _, p := range pairs {
		a, b := sha[p[0]], sha[p[1]]
		same(fmt.Sprintf("MergeBase(%s, %s)", p[0], p[1]), func(r gitops.Repository) (any, error) {
			return r.MergeBase(ctx, a, b)
		})
		// As Compute asks: from the merge base; and between any two commits.
		for _, from := range []string{"merge base", p[0]} {
			same(fmt.Sprintf("ChangedFiles(%s, %s)", from, p[1]), func(r gitops.Repository) (any, error) {
				start := a
				if from == "merge base" {
					mb, err := r.MergeBase(ctx, a, b)
					if err != nil {
						return nil, err
					}
					start = mb
				}
				files, err := r.ChangedFiles(ctx, start, b)
				sort.Strings(files) // git's order is byte order of the paths too
				return files, err
			})
		}
	}

	for _, n := range []string{"c6", "p1", "m2", "g2", "c4", "m", "f2", "c1"} {
		for _, file := range []string{"environments/dev.yaml", "environments/production.yaml", "README.md", "docs/guide.md", "docs/old.md", "models/b/1.0.0/model.yaml", "nothing"} {
			same(fmt.Sprintf("History(%s, %s)", n, file), func(r gitops.Repository) (any, error) {
				h, err := r.History(ctx, sha[n], file)
				for i := range h {
					h[i].Time = h[i].Time.UTC()
				}
				return h, err
			})
		}
	}
	// The merge commits, not the branches' commits, landed the changes on main.
	h, err := f.repo.History(ctx, sha["c6"], "environments/production.yaml")
	if err != nil || len(h) != 2 || h[0].SHA != sha["m2"] || !h[0].Time.Equal(t0.Add(10*time.Hour)) || h[1].SHA != sha["c3"] {
		t.Errorf("History of production at c6 = %+v, %v; want m2, c3", h, err)
	}
	h, err = f.repo.History(ctx, sha["c6"], "environments/dev.yaml")
	if err != nil || len(h) != 5 || h[3].SHA != sha["m"] {
		t.Errorf("History of dev at c6 = %+v, %v; want c6, c5, c4, m, c1", h, err)
	}
}

// TestPromotionReadCalls computes the example promotion as the gate does,
// from git and from GitHub, and counts what GitHub was asked.
func TestPromotionReadCalls(t *testing.T) {
	ctx := context.Background()
	w := gittest.New(t)
	w.CopyDir("../../examples/gitops")
	base := w.Commit("example repository", t0)
	w.Branch("promote")
	w.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	head := w.Commit("promote fraud-detector 2.3.0 to production", t0.Add(time.Hour))
	w.Checkout("main")
	f := newFixture(t, w)
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	local, err := git.Open(ctx, w.Dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := gitops.Compute(ctx, local, v, base, head)
	if err != nil {
		t.Fatal(err)
	}
	compute := func(head string) *gitops.Change {
		t.Helper()
		f.gh.ResetCalls()
		c, err := gitops.Compute(ctx, f.repo, v, base, head)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	got := compute(head)
	if outcome(got, nil) != outcome(want, nil) || got.Promotions[0].Manifest == nil {
		t.Errorf("change from GitHub:\n%s\nfrom git:\n%s", outcome(got, nil), outcome(want, nil))
	}
	first := f.calls()
	t.Logf("first evaluation: %d calls: %v", len(f.gh.Calls()), first)
	wantFirst := map[string]int{
		"POST " + routeToken:  1,
		"GET " + routeTree:    2, // base (= merge base) and head
		"GET " + routeCompare: 1, // merge base and changed files
		"GET " + routeBlob:    2, // config and the manifest; production.yaml at base and head is in the comparison's patch
		"GET " + routeCommits: 1, // production.yaml's history at base
	}
	if fmt.Sprint(first) != fmt.Sprint(wantFirst) {
		t.Errorf("first evaluation's calls = %v\nwant %v", first, wantFirst)
	}

	// The same evaluation again: the history of a commit is kept as its
	// trees and blobs are.
	compute(head)
	if calls := f.gh.Calls(); len(calls) != 0 {
		t.Errorf("second evaluation's calls = %v", f.calls())
	}

	// A push to the pull request: its new tree and comparison, and only the
	// files that changed.
	w.Checkout("promote")
	w.Write("README.md", "see the manifests\n")
	w.Commit("readme", t0.Add(2*time.Hour))
	pushed := f.gh.Push(testRepo, "promote", "alice")
	compute(pushed)
	push := f.calls()
	t.Logf("after a push: %d calls: %v", len(f.gh.Calls()), push)
	if fmt.Sprint(push) != fmt.Sprint(map[string]int{"GET " + routeTree: 1, "GET " + routeCompare: 1}) {
		t.Errorf("calls after a push = %v", push)
	}
}

func TestBaseTipFollowsTheBranch(t *testing.T) {
	ctx := context.Background()
	w := gittest.New(t)
	w.Write("README.md", "one\n")
	first := w.Commit("one", t0)
	w.Branch("promote")
	w.Write("environments/dev.yaml", "stage: dev\nmodels: {}\n")
	head := w.Commit("promote", t0.Add(time.Hour))
	w.Checkout("main")
	f := newFixture(t, w)

	tip, err := f.repo.BaseTip(ctx, "main", head)
	if err != nil || tip != first {
		t.Fatalf("BaseTip = %s, %v; want %s", tip, err, first)
	}

	// The base branch moves on after the pull request was opened: the tip
	// is the new commit, and judging against it needs no further comparison.
	w.Write(".modelgate/config.yaml", "# stricter\n")
	moved := w.Commit("stricter rules", t0.Add(2*time.Hour))
	f.gh.Push(testRepo, "main", "carol")
	f.gh.ResetCalls()
	if tip, err = f.repo.BaseTip(ctx, "main", head); err != nil || tip != moved {
		t.Fatalf("BaseTip after a push to main = %s, %v; want %s", tip, err, moved)
	}
	mb, err := f.repo.MergeBase(ctx, tip, head)
	if err != nil || mb != first {
		t.Fatalf("MergeBase = %s, %v; want %s", mb, err, first)
	}
	files, err := f.repo.ChangedFiles(ctx, mb, head)
	if err != nil || fmt.Sprint(files) != "[environments/dev.yaml]" {
		t.Fatalf("ChangedFiles = %v, %v", files, err)
	}
	if calls := f.calls(); fmt.Sprint(calls) != fmt.Sprint(map[string]int{"GET " + routeCompare: 1}) {
		t.Errorf("calls = %v; want the one comparison", calls)
	}

	for _, bad := range []string{"", "main...other"} {
		if _, err := f.repo.BaseTip(ctx, bad, head); err == nil {
			t.Errorf("BaseTip(%q) accepted", bad)
		}
	}
}

// TestReadRefusesWhatGitRefuses: through the API as through git, a committed
// link and a blob over the limit are refused by their tree entry, and their
// blob is never fetched.
func TestReadRefusesWhatGitRefuses(t *testing.T) {
	ctx := context.Background()
	w := gittest.New(t)
	w.Symlink("models/a/1.0.0/data/current.csv", "/etc/passwd")
	w.AddZeros("models/a/1.0.0/data/reference.csv", 2<<20)
	w.AddZeros(".modelgate/config.yaml", gitops.MaxDocumentBytes+1)
	w.Write("models/a/1.0.0/model.yaml", "name: a\n")
	sha := w.Commit("attack", t0)
	f := newFixture(t, w)
	local, err := git.Open(ctx, w.Dir)
	if err != nil {
		t.Fatal(err)
	}
	reads := []struct {
		file  string
		limit int64
		want  string
	}{
		{"models/a/1.0.0/data/current.csv", 1 << 30, "models/a/1.0.0/data/current.csv: is a symbolic link; modelgate reads regular files only"},
		{"models/a/1.0.0/data/reference.csv", 1 << 20, "models/a/1.0.0/data/reference.csv: 2097152 bytes, over the limit of 1048576"},
		{".modelgate/config.yaml", gitops.MaxDocumentBytes, fmt.Sprintf(".modelgate/config.yaml: %d bytes, over the limit of %d", gitops.MaxDocumentBytes+1, gitops.MaxDocumentBytes)},
	}
	f.gh.ResetCalls()
	for _, r := range reads {
		_, got := f.repo.Snapshot(sha).ReadData(ctx, r.file, r.limit)
		_, want := local.Snapshot(sha).ReadData(ctx, r.file, r.limit)
		if got == nil || got.Error() != r.want || want == nil || want.Error() != r.want {
			t.Errorf("ReadData(%s): GitHub %v, git %v; want %q", r.file, got, want, r.want)
		}
	}
	if _, err := f.repo.Snapshot(sha).ReadFile(ctx, ".modelgate/config.yaml"); err == nil || err.Error() != reads[2].want {
		t.Errorf("ReadFile(config): %v", err)
	}
	if n := f.count("GET", routeBlob); n != 0 {
		t.Errorf("%d blobs fetched; refused files must not be", n)
	}
	if data, err := f.repo.Snapshot(sha).ReadFile(ctx, "models/a/1.0.0/model.yaml"); err != nil || string(data) != "name: a\n" {
		t.Errorf("the manifest: %q, %v", data, err)
	}
}

// gitops.Repository is read concurrently: the checks read a model's files in
// parallel, and the App's workers share its caches. The caches start cold, so
// the concurrent reads fill them.
func TestConcurrentReads(t *testing.T) {
	w, sha := branchyRepo(t)
	f := newFixture(t, w)
	gitopstest.ReadConcurrently(t, f.repo, gitopstest.Reads{
		Commits: []string{sha["c1"], sha["c6"]},
		Files:   []string{"environments/dev.yaml", "docs/guide.md", "nothing"},
		Dirs:    []string{"models/a", "nothing"},
	})
}

// TestPathsRefusedAsByGit: through the API, a path is refused by the rule
// git's reader refuses it by (gitops.CheckPath), before GitHub is asked, even
// where the tree holds a file of that name.
func TestPathsRefusedAsByGit(t *testing.T) {
	ctx := context.Background()
	w := gittest.New(t)
	w.Write("-x.csv", "a\n")
	w.Write(`a\b.csv`, "a\n")
	sha := w.Commit("odd names", t0)
	f := newFixture(t, w)
	f.gh.ResetCalls()
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../../x", "--output=/tmp/x", "a//b", "-x.csv", `a\b.csv`, "a\x00b"} {
		_, err := f.repo.Snapshot(sha).ReadFile(ctx, p)
		_, dirErr := f.repo.Snapshot(sha).ReadDir(ctx, p)
		_, histErr := f.repo.History(ctx, sha, p)
		_, holdsErr := f.repo.HoldsOnDefaultBranch(ctx, p)
		for _, e := range []error{err, dirErr, histErr, holdsErr} {
			var pe *gitops.PathError
			if !errors.As(e, &pe) || pe.Path != p {
				t.Errorf("%q: %v, want a *gitops.PathError", p, e)
			}
		}
	}
	if calls := f.calls(); len(calls) != 0 {
		t.Errorf("GitHub was asked %v; a refused path must not be", calls)
	}
}

// History is kept by commit: after a force-push of the branch, the history
// at its new tip is read anew, and a file the rewrite removed has none.
func TestHistoryAfterForcePush(t *testing.T) {
	ctx := context.Background()
	w := gittest.New(t)
	w.Write("environments/dev.yaml", "stage: dev\nmodels: {a: \"1.0.0\"}\n")
	w.Commit("one", t0)
	w.Write("environments/dev.yaml", "stage: dev\nmodels: {a: \"2.0.0\"}\n")
	before := w.Commit("two", t0.Add(time.Hour))
	f := newFixture(t, w)
	if h, err := f.repo.History(ctx, before, "environments/dev.yaml"); err != nil || len(h) != 2 {
		t.Fatalf("History before the force-push = %+v, %v", h, err)
	}
	w.Git("reset", "-q", "--hard", "HEAD~1")
	w.Git("mv", "environments/dev.yaml", "environments/development.yaml")
	after := w.Commit("renamed", t0.Add(2*time.Hour))
	f.gh.Push(testRepo, "main", "alice")
	local, err := git.Open(ctx, w.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"environments/dev.yaml", "environments/development.yaml"} {
		got, gotErr := f.repo.History(ctx, after, file)
		want, wantErr := local.History(ctx, after, file)
		if outcome(got, gotErr) != outcome(want, wantErr) {
			t.Errorf("History(%s) after the force-push = %s; git has %s", file, outcome(got, gotErr), outcome(want, wantErr))
		}
	}
	if h, err := f.repo.History(ctx, before, "environments/dev.yaml"); err != nil || len(h) != 2 {
		t.Errorf("History at the commit before the force-push = %+v, %v; want its two commits", h, err)
	}
}

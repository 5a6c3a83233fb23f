package git_test

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/git"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/gitopstest"
	"github.com/modelgate/modelgate/internal/gittest"
)

func open(t *testing.T, r *gittest.Repo) *git.Repo {
	t.Helper()
	repo, err := git.Open(context.Background(), r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func TestSnapshot(t *testing.T) {
	ctx := context.Background()
	r := gittest.New(t)
	r.Write("environments/dev.yaml", "stage: dev\n")
	r.Write("models/a/1.0.0/model.yaml", "x")
	first := r.Commit("first", time.Now())
	r.Write("environments/dev.yaml", "stage: dev\nmodels: {}\n")
	second := r.Commit("second", time.Now())
	repo := open(t, r)

	data, err := repo.Snapshot(first).ReadFile(ctx, "environments/dev.yaml")
	if err != nil || string(data) != "stage: dev\n" {
		t.Errorf("ReadFile at first = %q, %v", data, err)
	}
	if data, _ := repo.Snapshot(second).ReadFile(ctx, "environments/dev.yaml"); !strings.Contains(string(data), "models") {
		t.Errorf("ReadFile at second = %q", data)
	}
	if _, err := repo.Snapshot(first).ReadFile(ctx, "environments/prod.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := repo.Snapshot(first).ReadDir(ctx, "models/b"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: %v, want fs.ErrNotExist", err)
	}
	if names, err := repo.Snapshot(first).ReadDir(ctx, "models/a/1.0.0"); err != nil || !slices.Equal(names, []string{"model.yaml"}) {
		t.Errorf("ReadDir = %v, %v", names, err)
	}
	if _, err := repo.Snapshot(strings.Repeat("0", 40)).ReadFile(ctx, "environments/dev.yaml"); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a commit that does not exist must be an error, not a missing file: %v", err)
	}
}

// TestPathsStayInTheTree: every read refuses by gitops.CheckPath's rule what
// git would read out of the tree or as an option, or what names another file
// on Windows, even where the tree holds a file of that name.
func TestPathsStayInTheTree(t *testing.T) {
	ctx := context.Background()
	r := gittest.New(t)
	r.Write("-x.csv", "a\n")
	r.Write(`a\b.csv`, "a\n")
	sha := r.Commit("odd names", time.Now())
	repo := open(t, r)
	snap := repo.Snapshot(sha)
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../../x", "--output=/tmp/x", "a//b", "-x.csv", `a\b.csv`, "a\x00b"} {
		_, err := snap.ReadFile(ctx, p)
		_, dirErr := snap.ReadDir(ctx, p)
		_, histErr := repo.History(ctx, sha, p)
		for _, e := range []error{err, dirErr, histErr} {
			var pe *gitops.PathError
			if !errors.As(e, &pe) || pe.Path != p {
				t.Errorf("%q: %v, want a *gitops.PathError", p, e)
			}
		}
	}
}

func TestResolveAndHistory(t *testing.T) {
	ctx := context.Background()
	r := gittest.New(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.Write("environments/dev.yaml", "1")
	c1 := r.Commit("one", t0)
	r.Write("README", "unrelated")
	r.Commit("two", t0.Add(time.Hour))
	r.Write("environments/dev.yaml", "2")
	c3 := r.Commit("three", t0.Add(2*time.Hour))
	repo := open(t, r)

	head, err := repo.Resolve(ctx, "main")
	if err != nil || head != c3 {
		t.Errorf("Resolve(main) = %s, %v; want %s", head, err, c3)
	}
	for _, bad := range []string{"no-such-branch", "--all", "main:environments/dev.yaml"} {
		if _, err := repo.Resolve(ctx, bad); err == nil {
			t.Errorf("Resolve(%q) succeeded", bad)
		}
	}
	h, err := repo.History(ctx, head, "environments/dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].SHA != c3 || h[1].SHA != c1 || !h[1].Time.Equal(t0) {
		t.Errorf("History = %+v; want %s then %s at %v", h, c3, c1, t0)
	}
	files, err := repo.ChangedFiles(ctx, c1, c3)
	if err != nil || !slices.Equal(files, []string{"README", "environments/dev.yaml"}) {
		t.Errorf("ChangedFiles = %v, %v", files, err)
	}
}

func TestOpenRejectsNonRepositories(t *testing.T) {
	if _, err := git.Open(context.Background(), t.TempDir()); err == nil {
		t.Error("Open accepted a folder that is not a repository")
	}
}

// TestReadRefusesLinksAndLargeFiles: a committed link is refused, not read as
// the name it points at, and a blob over the limit is refused by its size
// before git is asked for its content.
func TestReadRefusesLinksAndLargeFiles(t *testing.T) {
	ctx := context.Background()
	r := gittest.New(t)
	r.Symlink("models/a/1.0.0/data/current.csv", "/etc/passwd")
	r.Write("models/a/1.0.0/data/reference.csv", strings.Repeat("x", 2048))
	r.AddZeros(".modelgate/config.yaml", gitops.MaxDocumentBytes+1)
	snap := open(t, r).Snapshot(r.Commit("attack", time.Now()))

	data, err := snap.ReadData(ctx, "models/a/1.0.0/data/current.csv", 1<<20)
	if err == nil || !strings.Contains(err.Error(), "models/a/1.0.0/data/current.csv: is a symbolic link") {
		t.Errorf("a link: %q, %v; want it refused", data, err)
	}
	_, err = snap.ReadData(ctx, "models/a/1.0.0/data/reference.csv", 1024)
	var tl *gitops.TooLargeError
	if !errors.As(err, &tl) || tl.Size != 2048 || tl.Limit != 1024 {
		t.Errorf("a file over the limit: %v", err)
	}
	if data, err := snap.ReadData(ctx, "models/a/1.0.0/data/reference.csv", 2048); err != nil || len(data) != 2048 {
		t.Errorf("a file at the limit: %d bytes, %v", len(data), err)
	}
	if _, err := snap.ReadFile(ctx, ".modelgate/config.yaml"); !errors.As(err, &tl) || tl.Limit != gitops.MaxDocumentBytes {
		t.Errorf("a document over the fixed limit: %v", err)
	}
	if _, err := snap.ReadFile(ctx, "models/a/1.0.0/data"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a folder: %v", err)
	}
}

// gitops.Repository is read concurrently: the checks read a model's files in
// parallel.
func TestConcurrentReads(t *testing.T) {
	r := gittest.New(t)
	r.Write("environments/dev.yaml", "stage: dev\n")
	r.Write("models/a/1.0.0/model.yaml", "x")
	first := r.Commit("first", time.Now())
	r.Write("environments/dev.yaml", "stage: dev\nmodels: {a: 1.0.0}\n")
	r.Write("models/a/1.0.0/data.csv", "a\n1\n")
	second := r.Commit("second", time.Now())
	gitopstest.ReadConcurrently(t, open(t, r), gitopstest.Reads{
		Commits: []string{first, second},
		Files:   []string{"environments/dev.yaml", "models/a/1.0.0/data.csv", "missing.yaml"},
		Dirs:    []string{"models/a/1.0.0", "environments", "missing"},
	})
}

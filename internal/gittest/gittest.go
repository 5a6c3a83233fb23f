// Package gittest builds real git repositories in temporary folders for tests.
package gittest

import (
	"compress/zlib"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Repo is a git work tree in a temporary folder.
type Repo struct {
	t   testing.TB
	Dir string
}

// New creates an empty repository whose branch is main.
func New(t testing.TB) *Repo {
	t.Helper()
	r := &Repo{t: t, Dir: t.TempDir()}
	r.Git("init", "-q", "-b", "main")
	r.Git("config", "user.name", "Test Author")
	r.Git("config", "user.email", "author@example.com")
	r.Git("config", "commit.gpgsign", "false")
	return r
}

// Git runs git in the repository and returns its trimmed output.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	return r.gitAt(time.Time{}, args...)
}

func (r *Repo) gitAt(at time.Time, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	if !at.IsZero() {
		date := at.UTC().Format(time.RFC3339)
		cmd.Env = append(cmd.Env, "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Write creates or replaces a file of the work tree.
func (r *Repo) Write(path, content string) {
	r.t.Helper()
	full := filepath.Join(r.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// AddZeros stages a file of size zero bytes, as git add would a sparse file,
// without the file in the work tree: git hashes a large file far slower than
// this writes its object. Commit keeps it staged.
func (r *Repo) AddZeros(path string, size int64) {
	r.t.Helper()
	objects := filepath.Join(r.Git("rev-parse", "--absolute-git-dir"), "objects")
	f, err := os.CreateTemp(objects, "zeros")
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	h := sha1.New()
	z, err := zlib.NewWriterLevel(f, zlib.BestSpeed)
	if err != nil {
		r.t.Fatal(err)
	}
	w := io.MultiWriter(h, z)
	fmt.Fprintf(w, "blob %d\x00", size)
	zeros := make([]byte, 1<<20)
	for n := size; n > 0; n -= int64(len(zeros)) {
		if _, err := w.Write(zeros[:min(n, int64(len(zeros)))]); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		r.t.Fatal(err)
	}
	sha := hex.EncodeToString(h.Sum(nil))
	if err := os.MkdirAll(filepath.Join(objects, sha[:2]), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Rename(f.Name(), filepath.Join(objects, sha[:2], sha[2:])); err != nil {
		r.t.Fatal(err)
	}
	r.Git("update-index", "--add", "--cacheinfo", "100644,"+sha+","+path)
	r.Git("update-index", "--skip-worktree", path)
}

// Symlink creates a symbolic link in the work tree, which git commits as one.
func (r *Repo) Symlink(path, target string) {
	r.t.Helper()
	full := filepath.Join(r.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		r.t.Fatal(err)
	}
}

// Remove deletes a file or folder of the work tree.
func (r *Repo) Remove(path string) {
	r.t.Helper()
	if err := os.RemoveAll(filepath.Join(r.Dir, filepath.FromSlash(path))); err != nil {
		r.t.Fatal(err)
	}
}

// CopyDir copies the tree at src into the work tree.
func (r *Repo) CopyDir(src string) {
	r.t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r.Write(filepath.ToSlash(rel), string(data))
		return nil
	})
	if err != nil {
		r.t.Fatalf("copy %s: %v", src, err)
	}
}

// Commit commits every change of the work tree as landed at the given time and
// returns its SHA.
func (r *Repo) Commit(msg string, at time.Time) string {
	r.t.Helper()
	r.Git("add", "-A")
	r.gitAt(at, "commit", "-q", "--allow-empty", "-m", msg)
	return r.Git("rev-parse", "HEAD")
}

// Branch creates a branch at the current commit and checks it out.
func (r *Repo) Branch(name string) {
	r.t.Helper()
	r.Git("checkout", "-q", "-b", name)
}

// Checkout checks out an existing branch.
func (r *Repo) Checkout(name string) {
	r.t.Helper()
	r.Git("checkout", "-q", name)
}

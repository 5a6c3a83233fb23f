// Package git reads a local git repository with the git command: the
// gitops.Repository that `modelgate gate` judges a checkout with.
package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/gitops"
)

// Repo is a local git repository.
type Repo struct {
	dir string
}

var _ gitops.Repository = (*Repo)(nil)

// Open checks that dir is inside a git work tree or is a bare repository.
func Open(ctx context.Context, dir string) (*Repo, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	r := &Repo{dir: dir}
	if _, err := r.run(ctx, nil, "rev-parse", "--git-dir"); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	return r, nil
}

// Resolve returns the commit SHA that ref names.
func (r *Repo) Resolve(ctx context.Context, ref string) (string, error) {
	out, err := r.run(ctx, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("resolve %q: no such commit", ref)
	}
	return strings.TrimSpace(string(out)), nil
}

func (r *Repo) MergeBase(ctx context.Context, a, b string) (string, error) {
	out, err := r.run(ctx, nil, "merge-base", "--end-of-options", a, b)
	if err != nil {
		return "", fmt.Errorf("merge base of %s and %s: %w", a, b, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (r *Repo) ChangedFiles(ctx context.Context, from, to string) ([]string, error) {
	out, err := r.run(ctx, nil, "diff", "--name-only", "-z", "--no-renames", "--end-of-options", from, to)
	if err != nil {
		return nil, fmt.Errorf("changed files %s..%s: %w", from, to, err)
	}
	return splitNUL(out), nil
}

func (r *Repo) History(ctx context.Context, sha, file string) ([]gitops.Commit, error) {
	if err := gitops.CheckPath(file); err != nil {
		return nil, err
	}
	out, err := r.run(ctx, nil, "log", "--first-parent", "--format=%H %ct", "--end-of-options", sha, "--", file)
	if err != nil {
		return nil, fmt.Errorf("history of %s at %s: %w", file, sha, err)
	}
	var commits []gitops.Commit
	for line := range strings.Lines(string(out)) {
		sha, ts, ok := strings.Cut(strings.TrimSpace(line), " ")
		unix, err := strconv.ParseInt(ts, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("history of %s: unexpected git output %q", file, line)
		}
		commits = append(commits, gitops.Commit{SHA: sha, Time: time.Unix(unix, 0).UTC()})
	}
	return commits, nil
}

func (r *Repo) Snapshot(sha string) gitops.Snapshot {
	return snapshot{repo: r, sha: sha}
}

type snapshot struct {
	repo *Repo
	sha  string
}

func (s snapshot) ReadFile(ctx context.Context, file string) ([]byte, error) {
	return s.ReadData(ctx, file, gitops.MaxDocumentBytes)
}

// ReadData looks at the tree entry first, and reads the blob only if
// gitops.CheckFile allows its mode and size: git cat-file would buffer a blob
// of any size, and give a link's target as its content.
func (s snapshot) ReadData(ctx context.Context, file string, limit int64) ([]byte, error) {
	if err := gitops.CheckPath(file); err != nil {
		return nil, err
	}
	out, err := s.repo.run(ctx, nil, "ls-tree", "-z", "-l", "--full-tree", s.sha, "--", file)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", file, s.sha, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s at %s: %w", file, s.sha, fs.ErrNotExist)
	}
	e, err := parseEntry(out, file)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", file, s.sha, err)
	}
	if err := gitops.CheckFile(file, e.mode, e.size, limit); err != nil {
		return nil, err
	}
	var blob bytes.Buffer
	blob.Grow(int(e.size))
	if _, err := s.repo.run(ctx, &blob, "cat-file", "blob", e.object); err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", file, s.sha, err)
	}
	return blob.Bytes(), nil
}

// entry is a tree entry as git ls-tree -l shows it.
type entry struct {
	mode   fs.FileMode
	object string
	size   int64
}

// parseEntry reads "<mode> <type> <object> <size>\t<path>\x00", the entry of
// file.
func parseEntry(out []byte, file string) (entry, error) {
	meta, name, ok := bytes.Cut(out, []byte{'\t'})
	f := strings.Fields(string(meta))
	if !ok || len(f) != 4 || string(name) != file+"\x00" {
		return entry{}, fmt.Errorf("unexpected git ls-tree output %q", out)
	}
	e := entry{object: f[2]}
	switch f[0] {
	case "100644", "100755":
		size, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return entry{}, fmt.Errorf("unexpected git ls-tree output %q", out)
		}
		e.size = size
	case "120000":
		e.mode = fs.ModeSymlink
	case "040000":
		e.mode = fs.ModeDir
	default:
		e.mode = fs.ModeIrregular // a submodule
	}
	return e, nil
}

func (s snapshot) ReadDir(ctx context.Context, dir string) ([]string, error) {
	if err := gitops.CheckPath(dir); err != nil {
		return nil, err
	}
	out, err := s.repo.run(ctx, nil, "ls-tree", "-z", "--name-only", s.sha+":"+dir)
	if err != nil {
		if s.missing(ctx, dir) {
			return nil, fmt.Errorf("%s/ at %s: %w", dir, s.sha, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("read %s/ at %s: %w", dir, s.sha, err)
	}
	names := splitNUL(out)
	slices.Sort(names)
	return names, nil
}

// missing tells a path that is not in the commit from a commit that is not there
// or a git that failed: only the first is fs.ErrNotExist.
func (s snapshot) missing(ctx context.Context, p string) bool {
	if _, err := s.repo.run(ctx, nil, "cat-file", "-e", s.sha+"^{commit}"); err != nil {
		return false
	}
	_, err := s.repo.run(ctx, nil, "cat-file", "-e", s.sha+":"+p)
	return err != nil
}

// run runs git and returns its output, written to out if it is not nil.
func (r *Repo) run(ctx context.Context, out *bytes.Buffer, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = r.dir
	// The user's and system git config must not change what a revision contains
	// (textconv, replace refs) or make git ask for input; paths are paths, never
	// pathspec magic.
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_NO_REPLACE_OBJECTS=1", "GIT_TERMINAL_PROMPT=0", "GIT_LITERAL_PATHSPECS=1", "LC_ALL=C")
	if out == nil {
		out = new(bytes.Buffer)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		var exit *exec.ExitError
		if errors.As(err, &exit) && msg != "" {
			return nil, fmt.Errorf("git %s: %s", args[0], msg)
		}
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	return out.Bytes(), nil
}

func splitNUL(b []byte) []string {
	var out []string
	for f := range bytes.SplitSeq(b, []byte{0}) {
		if len(f) > 0 {
			out = append(out, string(f))
		}
	}
	return out
}

package githubtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// errNotFound marks a git object, ref or path that does not exist, which the
// handlers answer with GitHub's 404.
var errNotFound = errors.New("not found")

// gitRepo is a bare repository read and written with the git command, so that
// what the emulator serves is exactly what git holds.
type gitRepo struct{ dir string }

// runGit runs git in dir with a configuration that ignores the machine's, and
// returns its standard output.
func runGit(dir string, env []string, args ...string) (string, error) {
	return runGitInput(dir, env, nil, args...)
}

// runGitInput is runGit with input on git's standard input.
func runGitInput(dir string, env []string, input []byte, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if input != nil {
		cmd.Stdin = bytes.NewReader(input)
	}
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func (g gitRepo) run(args ...string) (string, error) {
	return runGit(g.dir, nil, args...)
}

// resolve returns the SHA of the object of the given type ("commit", "tree",
// "blob") that rev names: a branch, a tag or a SHA.
func (g gitRepo) resolve(rev, kind string) (string, error) {
	out, err := g.run("rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{"+kind+"}")
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", kind, rev, errNotFound)
	}
	return strings.TrimSpace(out), nil
}

func (g gitRepo) branch(name string) (string, error) {
	return g.resolve("refs/heads/"+name, "commit")
}

func (g gitRepo) defaultBranch() (string, error) {
	out, err := g.run("symbolic-ref", "--short", "HEAD")
	return strings.TrimSpace(out), err
}

func (g gitRepo) mergeBase(a, b string) (string, error) {
	out, err := g.run("merge-base", "--end-of-options", a, b)
	return strings.TrimSpace(out), err
}

// count returns how many commits are reachable from to and not from from.
func (g gitRepo) count(from, to string) (int, error) {
	out, err := g.run("rev-list", "--count", "--end-of-options", from+".."+to)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(out))
}

// signature is an author or committer line of a commit.
type signature struct {
	name, email string
	date        time.Time
}

type commitInfo struct {
	sha, tree         string
	parents           []string
	author, committer signature
	message           string
}

// logFormat separates fields with US (0x1f); git log -z ends each commit with NUL.
const logFormat = "%H%x1f%T%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B"

// log runs git log with args (revisions, options and paths) and parses each commit.
func (g gitRepo) log(args ...string) ([]commitInfo, error) {
	out, err := g.run(append([]string{"log", "-z", "--format=" + logFormat}, args...)...)
	if err != nil {
		return nil, err
	}
	var commits []commitInfo
	for rec := range strings.SplitSeq(out, "\x00") {
		if strings.TrimSpace(rec) == "" {
			continue
		}
		f := strings.Split(strings.TrimPrefix(rec, "\n"), "\x1f")
		if len(f) != 10 {
			return nil, fmt.Errorf("git log: unexpected record %q", rec)
		}
		author, err := newSignature(f[3], f[4], f[5])
		if err != nil {
			return nil, err
		}
		committer, err := newSignature(f[6], f[7], f[8])
		if err != nil {
			return nil, err
		}
		commits = append(commits, commitInfo{
			sha: f[0], tree: f[1], parents: strings.Fields(f[2]),
			author: author, committer: committer,
			message: strings.TrimRight(f[9], "\n"),
		})
	}
	return commits, nil
}

func newSignature(name, email, date string) (signature, error) {
	t, err := time.Parse(time.RFC3339, date)
	if err != nil {
		return signature{}, fmt.Errorf("git log date %q: %w", date, err)
	}
	return signature{name: name, email: email, date: t}, nil
}

func (g gitRepo) commit(sha string) (commitInfo, error) {
	commits, err := g.log("-1", "--end-of-options", sha)
	if err != nil || len(commits) == 0 {
		return commitInfo{}, fmt.Errorf("commit %s: %w", sha, errNotFound)
	}
	return commits[0], nil
}

// fileChange is a file of a diff as GitHub lists it.
type fileChange struct {
	status               string
	path, previousPath   string
	oldSHA, newSHA       string
	additions, deletions int
	patch                string
}

// diffStatus maps git's status letters to GitHub's names.
var diffStatus = map[byte]string{'A': "added", 'D': "removed", 'M': "modified", 'R': "renamed", 'C': "copied", 'T': "changed"}

// diff lists the files that differ between two commits, with renames detected
// as GitHub does, and the patch of each.
func (g gitRepo) diff(from, to string) ([]fileChange, error) {
	out, err := g.run("diff", "--raw", "-z", "-M", "--no-abbrev", "--end-of-options", from, to)
	if err != nil {
		return nil, err
	}
	fields := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
	var changes []fileChange
	for i := 0; i+1 < len(fields); {
		meta := strings.Fields(strings.TrimPrefix(fields[i], ":"))
		if len(meta) != 5 {
			return nil, fmt.Errorf("git diff: unexpected record %q", fields[i])
		}
		c := fileChange{status: diffStatus[meta[4][0]], oldSHA: meta[2], newSHA: meta[3], path: fields[i+1]}
		i += 2
		if meta[4][0] == 'R' || meta[4][0] == 'C' {
			if i >= len(fields) {
				return nil, fmt.Errorf("git diff: rename without a target in %q", out)
			}
			c.previousPath, c.path = c.path, fields[i]
			i++
		}
		if err := g.patch(from, to, &c); err != nil {
			return nil, err
		}
		changes = append(changes, c)
	}
	return changes, nil
}

// patch fills the hunks of one file and counts its added and deleted lines;
// GitHub's patch field starts at the first hunk, without the diff headers.
func (g gitRepo) patch(from, to string, c *fileChange) error {
	paths := []string{c.path}
	if c.previousPath != "" {
		paths = append(paths, c.previousPath)
	}
	out, err := g.run(append([]string{"diff", "-M", "--end-of-options", from, to, "--"}, paths...)...)
	if err != nil {
		return err
	}
	start := strings.Index(out, "\n@@")
	if start < 0 {
		return nil // binary, or a rename without changes
	}
	c.patch = strings.TrimSuffix(out[start+1:], "\n")
	for line := range strings.SplitSeq(c.patch, "\n") {
		switch {
		case strings.HasPrefix(line, "+"):
			c.additions++
		case strings.HasPrefix(line, "-"):
			c.deletions++
		}
	}
	return nil
}

// treeEntry is a line of git ls-tree -l.
type treeEntry struct {
	mode, kind, sha, path string
	size                  int64 // -1 for trees
}

func (g gitRepo) lsTree(args ...string) ([]treeEntry, error) {
	out, err := g.run(append([]string{"ls-tree", "-l", "-z"}, args...)...)
	if err != nil {
		return nil, err
	}
	var entries []treeEntry
	for rec := range strings.SplitSeq(strings.TrimSuffix(out, "\x00"), "\x00") {
		if rec == "" {
			continue
		}
		meta, path, ok := strings.Cut(rec, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 {
			return nil, fmt.Errorf("git ls-tree: unexpected record %q", rec)
		}
		size := int64(-1)
		if f[3] != "-" {
			if size, err = strconv.ParseInt(f[3], 10, 64); err != nil {
				return nil, fmt.Errorf("git ls-tree: size in %q: %w", rec, err)
			}
		}
		entries = append(entries, treeEntry{mode: f[0], kind: f[1], sha: f[2], size: size, path: path})
	}
	return entries, nil
}

// entry returns the tree entry at path in the commit, or errNotFound.
func (g gitRepo) entry(commit, path string) (treeEntry, error) {
	entries, err := g.lsTree("--end-of-options", commit, "--", path)
	if err != nil {
		return treeEntry{}, err
	}
	for _, e := range entries {
		if e.path == path {
			return e, nil
		}
	}
	return treeEntry{}, fmt.Errorf("%s at %s: %w", path, commit, errNotFound)
}

func (g gitRepo) blob(sha string) ([]byte, error) {
	out, err := g.run("cat-file", "blob", sha)
	return []byte(out), err
}

// mergeable tells whether head merges into base without conflicts, the way
// GitHub computes a pull request's mergeable flag, without touching any ref.
func (g gitRepo) mergeable(base, head string) (bool, error) {
	_, err := g.run("merge-tree", "--write-tree", "--no-messages", "--end-of-options", base, head)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return false, nil
	}
	return err == nil, err
}

// merge lands head on the base branch with GitHub's merge method ("merge",
// "squash" or "rebase") in a scratch clone and pushes the result to the bare
// repository; it returns the new tip of base.
func (g gitRepo) merge(method, base, head, message string, author signature) (string, error) {
	work, err := os.MkdirTemp("", "githubtest-merge-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	env := []string{
		"GIT_AUTHOR_NAME=" + author.name, "GIT_AUTHOR_EMAIL=" + author.email,
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.com",
	}
	steps := [][]string{{"clone", "-q", "--branch", base, g.dir, "."}}
	switch method {
	case "merge":
		steps = append(steps, []string{"merge", "-q", "--no-ff", "-m", message, head})
	case "squash":
		steps = append(steps, []string{"merge", "-q", "--squash", head}, []string{"commit", "-q", "-m", message})
	case "rebase":
		// Rebased commits keep their authors; only the committer is GitHub.
		env = env[2:]
		steps = append(steps, []string{"checkout", "-q", "--detach", head}, []string{"rebase", "-q", base})
	default:
		return "", fmt.Errorf("merge method %q", method)
	}
	steps = append(steps, []string{"push", "-q", "origin", "HEAD:refs/heads/" + base})
	for _, args := range steps {
		if _, err := runGit(work, env, args...); err != nil {
			return "", fmt.Errorf("%s merge: %w", method, err)
		}
	}
	return g.branch(base)
}

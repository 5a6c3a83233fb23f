// Package gitops models the repository that modelgate watches: its config and
// environment pins at a revision, and the promotions that a change between two
// revisions proposes. It reads the repository only through Repository, which a
// local git checkout and GitHub's API both implement.
package gitops

import (
	"context"
	"time"
)

// Snapshot is the repository's content at one commit. Its reads refuse a
// path that CheckPath refuses. It is used concurrently, as Repository is.
type Snapshot interface {
	// ReadFile returns the document at path, refused over MaxDocumentBytes; an
	// error wrapping fs.ErrNotExist when it is not there.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// ReadData is ReadFile for a data file: it refuses one over limit bytes with
	// a *TooLargeError, before reading it. Both refuse what CheckFile refuses.
	ReadData(ctx context.Context, path string, limit int64) ([]byte, error)
	// ReadDir returns the names in folder dir, sorted; an error wrapping
	// fs.ErrNotExist when it is not there.
	ReadDir(ctx context.Context, dir string) ([]string, error)
}

// Repository is a git repository, addressed by commit SHA.
//
// A Repository and its snapshots are used concurrently: the checks read a
// model's files in parallel through one snapshot. Implementations are safe for
// concurrent use: they guard what they keep between calls (a cache, which the
// App's repositories share; the first error seen), and the slices they return
// are the caller's to change. gitopstest.ReadConcurrently checks an
// implementation against this.
type Repository interface {
	Snapshot(sha string) Snapshot
	// MergeBase returns the best common ancestor of two commits.
	MergeBase(ctx context.Context, a, b string) (string, error)
	// ChangedFiles lists the paths that differ between two commits.
	ChangedFiles(ctx context.Context, from, to string) ([]string, error)
	// History lists the commits on sha's first-parent line whose change touches
	// path, newest first: the commits that landed on that branch.
	History(ctx context.Context, sha, path string) ([]Commit, error)
}

// Commit is a commit and the time it landed (its committer time).
type Commit struct {
	SHA  string
	Time time.Time
}

// Paths of the repository layout.
const (
	ConfigDir      = ".modelgate"
	ConfigPath     = ".modelgate/config.yaml"
	PoliciesDir    = ".modelgate/policies"
	WaiversPath    = ".modelgate/waivers.yaml"
	EnvironmentDir = "environments"
	ModelsDir      = "models"
)

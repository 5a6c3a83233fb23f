package gitops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/modelgate/modelgate/internal/schema"
)

// History is what a stage ran over time, from its environment file's commits on
// a branch, newest first.
type History []Pinning

// Pinning is the stage's pins as one commit left them. A commit that deleted
// the file or left it malformed pins nothing.
type Pinning struct {
	Commit Commit
	Models map[string]string
}

// PinHistory reads the history of a stage's environment file on sha's branch.
func PinHistory(ctx context.Context, repo Repository, v *schema.Validator, sha, stage string) (History, error) {
	p := EnvironmentPath(stage)
	commits, err := repo.History(ctx, sha, p)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", p, err)
	}
	h := make(History, 0, len(commits))
	for _, c := range commits {
		pins := map[string]string{}
		data, err := repo.Snapshot(c.SHA).ReadFile(ctx, p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read %s at %s: %w", p, c.SHA, err)
		default:
			// A malformed file tells nothing about what ran, but it does end
			// every run before it: skipping it would join the runs on either
			// side into one that looks longer than any that happened.
			if env, err := ParseEnvironment(v, p, data); err == nil {
				pins = env.Models
			}
		}
		h = append(h, Pinning{Commit: c, Models: pins})
	}
	return h, nil
}

// Ran reports whether the stage ran this version of the model, in a run that
// has ended, for at least min: from the commit that pinned it to the commit
// that changed or removed that pin, by committer time. A rebase or squash
// merge gives every commit it lands the merge's committer time, so a pin set
// and undone within one pull request ran for no time at all.
func (h History) Ran(model, version string, min time.Duration) bool {
	for i := 1; i < len(h); i++ {
		if h[i].Models[model] != version || h[i-1].Models[model] == version {
			continue
		}
		// h[i] is the newest commit of a run, h[i-1] the one that ended it.
		end, start := h[i-1].Commit.Time, h[i].Commit.Time
		for j := i + 1; j < len(h) && h[j].Models[model] == version; j++ {
			start = h[j].Commit.Time
		}
		if end.Sub(start) >= min {
			return true
		}
	}
	return false
}

// Since returns when the stage started running this version without a break up
// to the newest commit, and whether it runs it now.
func (h History) Since(model, version string) (time.Time, bool) {
	var since time.Time
	for _, p := range h {
		if p.Models[model] != version {
			break
		}
		since = p.Commit.Time
	}
	return since, !since.IsZero()
}

package gitops

import (
	"context"
	"fmt"
	"time"

	"github.com/modelgate/modelgate/internal/schema"
)

// History is what a stage ran over time, from its environment file's commits on
// a branch, newest first.
type History []Pinning

// Pinning is the stage's pins as one commit left them.
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
		env, err := LoadEnvironment(ctx, repo.Snapshot(c.SHA), v, stage)
		if err != nil {
			// A file that was malformed once tells nothing about what ran. Leaving it
			// out can only make a version look newer to the stage, never older, so
			// it can only make the gate stricter.
			continue
		}
		h = append(h, Pinning{Commit: c, Models: env.Models})
	}
	return h, nil
}

// WasPinned reports whether the stage ever ran this version of the model.
func (h History) WasPinned(model, version string) bool {
	for _, p := range h {
		if p.Models[model] == version {
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

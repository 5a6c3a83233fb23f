package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
)

// rulesCommit returns the commit whose .modelgate/ judges the pull request,
// and whether the App gates it at all. The repository's default branch holds
// the rules: a pull request into it is judged by its base as ever, and one
// into a branch that the default branch's config lists is judged by the
// default branch's tip, since anyone who can push to that branch could have
// relaxed its own .modelgate/. Pull requests into any other branch, and every
// pull request of a repository whose default branch has no .modelgate/, are
// left alone: not judged, not reported on, not merged.
func (a *App) rulesCommit(ctx context.Context, log *slog.Logger, repo *github.Repo, pr github.PullRequest) (string, bool, error) {
	if pr.DefaultBranch == "" {
		return "", false, fmt.Errorf("pull request #%d: GitHub named no default branch of the repository", pr.Number)
	}
	rules := pr.BaseSHA
	if pr.BaseRef != pr.DefaultBranch {
		tip, err := repo.BaseTip(ctx, pr.DefaultBranch, pr.HeadSHA)
		if err != nil {
			return "", false, fmt.Errorf("resolve default branch %s: %w", pr.DefaultBranch, err)
		}
		rules = tip
	}
	// A pull request cannot opt its repository in by adding a .modelgate/.
	if _, err := repo.Snapshot(rules).ReadDir(ctx, gitops.ConfigDir); errors.Is(err, fs.ErrNotExist) {
		log.Info("repository has no .modelgate/ on its default branch; ignored", "default_branch", pr.DefaultBranch)
		return "", false, nil
	} else if err != nil {
		return "", false, fmt.Errorf("read %s at %s: %w", gitops.ConfigDir, rules, err)
	}
	if pr.BaseRef == pr.DefaultBranch {
		return rules, true, nil
	}
	reads := &readRecorder{Repository: repo}
	cfg, err := gitops.LoadConfig(ctx, reads.Snapshot(rules), a.validator)
	if failed := reads.failure(); failed != nil {
		return "", false, fmt.Errorf("read config of %s: %w", pr.DefaultBranch, failed)
	}
	if err != nil {
		// Which branches it lists is unknown, so none is gated: a pull request
		// left alone is never merged.
		log.Warn("the default branch's config is invalid; pull requests into other branches are left alone",
			"default_branch", pr.DefaultBranch, "base", pr.BaseRef, "err", err)
		return "", false, nil
	}
	if !cfg.Gates(pr.BaseRef) {
		log.Info("base branch is neither the default branch nor one its config lists; left alone",
			"default_branch", pr.DefaultBranch, "base", pr.BaseRef)
		return "", false, nil
	}
	return rules, true, nil
}

// rulesRepository reads the base commit's .modelgate/ from the rules commit
// and everything else — pins, history, manifests — from the base itself, so
// that a pull request into a listed branch is judged by the default branch's
// config, policies and waivers against what that branch runs.
type rulesRepository struct {
	gitops.Repository
	base, rules string
}

func (r rulesRepository) Snapshot(sha string) gitops.Snapshot {
	if sha != r.base || r.base == r.rules {
		return r.Repository.Snapshot(sha)
	}
	return rulesSnapshot{Snapshot: r.Repository.Snapshot(sha), rules: r.Repository.Snapshot(r.rules)}
}

type rulesSnapshot struct {
	gitops.Snapshot
	rules gitops.Snapshot
}

func inConfigDir(p string) bool {
	return p == gitops.ConfigDir || strings.HasPrefix(p, gitops.ConfigDir+"/")
}

func (s rulesSnapshot) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if inConfigDir(p) {
		return s.rules.ReadFile(ctx, p)
	}
	return s.Snapshot.ReadFile(ctx, p)
}

func (s rulesSnapshot) ReadDir(ctx context.Context, dir string) ([]string, error) {
	if inConfigDir(dir) {
		return s.rules.ReadDir(ctx, dir)
	}
	return s.Snapshot.ReadDir(ctx, dir)
}

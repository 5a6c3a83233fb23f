package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/jsonlist"
	"github.com/modelgate/modelgate/internal/queue"
)

// commandMarker finds the App's answer to a comment again, so that a retried
// job edits its answer rather than answering twice.
func commandMarker(commentID int64) string {
	return "<!-- modelgate:command:" + strconv.FormatInt(commentID, 10) + " -->"
}

// command authorizes a promote or rollback command and resolves what it asks
// for; the Advance job it queues carries it out. Everything it goes by is
// read from GitHub and the store — the commenter's permission, the pull
// request's base, the pins of the branch — never from the comment beyond its
// words, which are checked against those. Every command is recorded, accepted
// or refused; a refused one is answered on the issue.
func (a *App) command(ctx context.Context, log *slog.Logger, task Task) error {
	c := task.Comment
	log = log.With("comment", c.ID, "issue", c.Issue, "author", c.Author, "command", c.Command)
	done, err := a.commandRecorded(ctx, task.Repository, c)
	if err != nil || done {
		return err
	}
	repo, err := a.github.Installation(task.Installation).Repo(task.Repository)
	if err != nil {
		return permanent(err)
	}
	req, refusal, watched, err := a.resolveCommand(ctx, repo, c)
	if err != nil || !watched {
		if err == nil {
			log.Info("repository has no .modelgate/ on its default branch; command ignored")
		}
		return err
	}
	entry := audit.Entry{Kind: audit.KindCommand, Repository: task.Repository, Model: req.Model, Version: req.Version,
		Stage: req.Stage, PullRequest: c.Issue, Actor: c.Author}
	payload := audit.CommandPayload{CommentID: c.ID, Command: c.Command, Args: jsonlist.NonNil(c.Args), Refused: refusal}
	if refusal != "" {
		log.Info("command refused", "reason", refusal)
		body := fmt.Sprintf("%s\n@%s: %s was not carried out: %s\n", commandMarker(c.ID), c.Author, commandText(c), refusal)
		if _, err := repo.StickyComment(ctx, c.Issue, commandMarker(c.ID), body); err != nil {
			return fmt.Errorf("answer command: %w", err)
		}
	} else {
		// Queued before it is recorded: a crash in between queues it again
		// under the same delivery id, which runs it once.
		if err := a.enqueueCommand(ctx, task, req); err != nil {
			return err
		}
		log.Info("command accepted", "model", req.Model, "stage", req.Stage, "branch", req.Branch, "version", req.Version)
	}
	entry.Payload = mustJSON(payload)
	_, err = a.store.Append(ctx, entry)
	return err
}

func commandText(c *CommentCommand) string {
	return code(strings.Join(append([]string{"/modelgate", c.Command}, c.Args...), " "))
}

// code quotes words of a comment in the App's answer as a code span, where
// they mention no one; a backtick in them would end the span and let the
// commenter write the rest of the App's comment.
func code(words string) string {
	return "`" + strings.ReplaceAll(words, "`", "'") + "`"
}

// commandRecorded tells whether the comment's command was handled already:
// GitHub may deliver a comment twice under two delivery ids.
func (a *App) commandRecorded(ctx context.Context, repository string, c *CommentCommand) (bool, error) {
	recs, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindCommand, Repository: repository, PullRequest: c.Issue, Actor: c.Author})
	if err != nil {
		return false, fmt.Errorf("read commands: %w", err)
	}
	for _, r := range recs {
		var p audit.CommandPayload
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			return false, permanent(fmt.Errorf("audit record %d: %w", r.Seq, err))
		}
		if p.CommentID == c.ID {
			return true, nil
		}
	}
	return false, nil
}

func (a *App) enqueueCommand(ctx context.Context, task Task, req CommandRequest) error {
	body, err := json.Marshal(DeploymentJobPayload{Installation: task.Installation, Repository: task.Repository,
		Trigger: audit.TriggerCommand, Command: &req})
	if err != nil {
		return fmt.Errorf("encode command job: %w", err)
	}
	job := queue.Job{Delivery: fmt.Sprintf("command:%s:%d", task.Repository, task.Comment.ID), Event: EventAdvance,
		Key: Task{Repository: task.Repository}.Key(), Payload: body}
	if _, err := a.store.Enqueue(ctx, job); err != nil {
		return fmt.Errorf("queue command of comment %d: %w", task.Comment.ID, err)
	}
	return nil
}

// resolveCommand returns what the command asks for, or why it may not be
// carried out; watched is false for a repository modelgate does not gate.
func (a *App) resolveCommand(ctx context.Context, repo *github.Repo, c *CommentCommand) (req CommandRequest, refusal string, watched bool, err error) {
	req = CommandRequest{Purpose: audit.ProposePromotion, Issue: c.Issue, Actor: c.Author}
	if c.Command == CommandRollback {
		req.Purpose = audit.ProposeRollback
	}
	if len(c.Args) > 0 {
		req.Stage = c.Args[0]
	}
	perm, err := repo.Permission(ctx, c.Author)
	if err != nil {
		return req, "", false, err
	}
	if !perm.CanWrite() {
		return req, fmt.Sprintf("@%s has %s permission on %s; a command needs write, maintain or admin.", c.Author, perm.Permission, repo), true, nil
	}
	maxArgs := 2
	if c.Command == CommandRollback {
		maxArgs = 3
	}
	if len(c.Args) == 0 || len(c.Args) > maxArgs {
		return req, "usage: `/modelgate promote <stage> [<model>]` or `/modelgate rollback <stage> [<model>] [<version>]`.", true, nil
	}

	var pr *github.PullRequest
	defaultBranch := ""
	if c.OnPullRequest {
		p, err := repo.PullRequest(ctx, c.Issue)
		if err != nil {
			return req, "", false, fmt.Errorf("read pull request: %w", err)
		}
		pr, defaultBranch, req.Branch = &p, p.DefaultBranch, p.BaseRef
	} else {
		if defaultBranch, err = repo.DefaultBranch(ctx); err != nil {
			return req, "", false, err
		}
		req.Branch = defaultBranch
	}
	rules, err := repo.BranchTip(ctx, defaultBranch)
	if err != nil {
		return req, "", false, err
	}
	cfg, watched, err := a.defaultRules(ctx, repo, rules)
	if errors.Is(err, errInvalidConfig) {
		return req, fmt.Sprintf("the config of %s is invalid, so no stage can be checked: %v", defaultBranch, err), true, nil
	}
	if err != nil || !watched {
		return req, "", watched, err
	}
	reads := &readRecorder{Repository: repo}
	if req.Branch != defaultBranch && !cfg.Gates(req.Branch) {
		return req, fmt.Sprintf("branch %s is neither the default branch nor one the config lists.", req.Branch), true, nil
	}
	switch i := cfg.StageIndex(req.Stage); {
	case i < 0:
		return req, fmt.Sprintf("%s is not a stage of the config of %s; its stages are %s.", code(req.Stage), defaultBranch, stageList(cfg)), true, nil
	case i == 0 && c.Command == CommandPromote:
		return req, fmt.Sprintf("%s is the first stage: no stage comes before it to promote from.", req.Stage), true, nil
	}

	tip := rules
	if req.Branch != defaultBranch {
		if tip, err = repo.BranchTip(ctx, req.Branch); err != nil {
			return req, "", false, err
		}
	}
	pinned, err := a.pinnedModels(ctx, reads, cfg, tip)
	if err != nil {
		return req, "", false, err
	}
	model, version, refusal := splitCommandArgs(c.Command, c.Args[1:], pinned)
	if refusal != "" {
		return req, refusal, true, nil
	}
	if model == "" {
		if model, err = a.commandModel(ctx, repo.String(), pr, pinned); err != nil {
			return req, "", false, err
		}
		if model == "" {
			return req, fmt.Sprintf("name the model: %s pins %s.", req.Branch, strings.Join(pinned, ", ")), true, nil
		}
	}
	if !slices.Contains(pinned, model) {
		return req, fmt.Sprintf("%s pins no model %s in any stage.", req.Branch, code(model)), true, nil
	}
	req.Model = model
	if version != "" {
		versions, err := reads.Snapshot(tip).ReadDir(ctx, path.Join(gitops.ModelsDir, model))
		if failed := reads.failure(); failed != nil {
			return req, "", false, fmt.Errorf("read versions of %s: %w", model, failed)
		}
		if err != nil || !slices.Contains(versions, version) {
			return req, fmt.Sprintf("%s has no version %s in %s/ on %s.", model, code(version), path.Join(gitops.ModelsDir, model), req.Branch), true, nil
		}
		req.Version = version
	}
	return req, "", true, nil
}

// splitCommandArgs reads the words after the stage: for promote, a model;
// for rollback, a model and a version, or one of them — a model when it
// names a pinned one, else a version.
func splitCommandArgs(command string, rest, pinned []string) (model, version, refusal string) {
	switch {
	case len(rest) == 0:
		return "", "", ""
	case command == CommandPromote:
		return rest[0], "", ""
	case len(rest) == 2:
		return rest[0], rest[1], ""
	case slices.Contains(pinned, rest[0]):
		return rest[0], "", ""
	}
	return "", rest[0], ""
}

// commandModel is the model of a command that names none: the one a merged
// promotion pull request promoted, else the only model the branch pins; ""
// when that leaves a choice.
func (a *App) commandModel(ctx context.Context, repository string, pr *github.PullRequest, pinned []string) (string, error) {
	if pr != nil && pr.Merged {
		merges, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindMerge, Repository: repository, PullRequest: pr.Number})
		if err != nil {
			return "", fmt.Errorf("read merges: %w", err)
		}
		var models []string
		for _, m := range merges {
			if m.Model != "" && !slices.Contains(models, m.Model) {
				models = append(models, m.Model)
			}
		}
		if len(models) == 1 {
			return models[0], nil
		}
		if len(models) > 1 {
			return "", nil
		}
	}
	if len(pinned) == 1 {
		return pinned[0], nil
	}
	return "", nil
}

// pinnedModels lists the models the stages of cfg pin at sha, sorted.
func (a *App) pinnedModels(ctx context.Context, reads *readRecorder, cfg *gitops.Config, sha string) ([]string, error) {
	var models []string
	for _, st := range cfg.Stages {
		env, err := gitops.LoadEnvironment(ctx, reads.Snapshot(sha), a.validator, st.Name)
		if failed := reads.failure(); failed != nil {
			return nil, fmt.Errorf("read environment %s: %w", st.Name, failed)
		}
		if err != nil {
			return nil, permanent(fmt.Errorf("environment %s at %s: %w", st.Name, sha, err))
		}
		for m := range env.Models {
			if !slices.Contains(models, m) {
				models = append(models, m)
			}
		}
	}
	slices.Sort(models)
	return models, nil
}

func stageList(cfg *gitops.Config) string {
	names := make([]string, 0, len(cfg.Stages))
	for _, s := range cfg.Stages {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

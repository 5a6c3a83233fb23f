package app

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/report"
	"github.com/modelgate/modelgate/internal/rollout"
)

// Markers of the App's comments about the pull requests it opens.
const (
	proposalMarker   = "<!-- modelgate:proposal -->"
	supersededMarker = "<!-- modelgate:superseded -->"
)

// advance carries out an advance job: the next stage's promotion of a run
// that soaked, the rollback of a run that failed, or a command. Every step
// finds what an earlier attempt did (the branch, its commit, the pull
// request, the record) before doing it, so a redelivered job or a retry
// after a crash opens nothing twice.
func (a *App) advance(ctx context.Context, log *slog.Logger, delivery string, task Task) error {
	repo, err := a.github.Installation(task.Installation).Repo(task.Repository)
	if err != nil {
		return permanent(err)
	}
	if task.Command != nil {
		return a.commanded(ctx, log, repo, delivery, task)
	}
	ledger := rollout.Ledger{Log: a.store}
	run, ok, err := ledger.Run(ctx, task.Repository, task.Deployment)
	if err != nil {
		return fmt.Errorf("read the run of deployment %d: %w", task.Deployment, err)
	}
	if !ok {
		log.Warn("advance of a deployment the App has no record of; ignored", "deployment", task.Deployment)
		return nil
	}
	log = log.With("model", run.Model, "version", run.Version, "stage", run.Stage, "deployment", run.DeploymentID, "trigger", task.Trigger)
	done, err := a.proposed(ctx, run, task.Trigger)
	if err != nil || done {
		return err
	}
	b, err := a.base(ctx, repo, task.Installation, run.Branch)
	if err != nil {
		return err
	}
	switch task.Trigger {
	case audit.TriggerSoak, triggerAnalysis:
		i := b.cfg.StageIndex(run.Stage)
		if i < 0 || i+1 == len(b.cfg.Stages) {
			log.Info("the run's stage has no next stage; nothing to promote")
			return nil
		}
		if next := b.cfg.Stages[i+1]; next.Promote != gitops.PromoteAuto {
			log.Info("the next stage takes a version on a command only", "next", next.Name, "promote", next.Promote)
			return nil
		}
		n, why, err := a.promoteRun(ctx, log, repo, b, run, task.Trigger, "")
		if err != nil || n != 0 {
			return err
		}
		// Not ready, or nothing to propose: when only time is missing, the
		// job scheduled at the soak's end, or the verdict's, comes later.
		log.Info("not promoted", "why", why)
		return nil
	case audit.TriggerDeploymentFailed, audit.TriggerAnalysisFailed:
		_, why, err := a.rollbackRun(ctx, log, repo, b, run, "", task.Trigger, "")
		if err == nil && why != "" {
			log.Warn("no rollback pull request", "why", why)
		}
		return err
	}
	return permanent(fmt.Errorf("advance job with unknown trigger %q", task.Trigger))
}

// proposed reports whether the App recorded a pull request that this run and
// trigger opened already: a redelivered job.
func (a *App) proposed(ctx context.Context, run rollout.Run, trigger string) (bool, error) {
	recs, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindProposal, Repository: run.Repository, Model: run.Model})
	if err != nil {
		return false, fmt.Errorf("read proposals: %w", err)
	}
	for _, r := range recs {
		var p audit.ProposalPayload
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			return false, permanent(fmt.Errorf("audit record %d: %w", r.Seq, err))
		}
		if p.DeploymentID == run.DeploymentID && p.BaseRef == run.Branch && (p.Trigger == trigger ||
			// The soak's end and a verdict both ask for the one promotion.
			p.Purpose == audit.ProposePromotion && (trigger == audit.TriggerSoak || trigger == triggerAnalysis)) {
			return true, nil
		}
	}
	return false, nil
}

// baseBranch is a base branch as it is now: its head and the rules there.
type baseBranch struct {
	installation int64
	name, head   string
	cfg          *gitops.Config
}

func (a *App) base(ctx context.Context, repo *github.Repo, installation int64, branch string) (baseBranch, error) {
	head, ok, err := repo.BranchHead(ctx, branch)
	if err != nil {
		return baseBranch{}, err
	}
	if !ok {
		return baseBranch{}, permanent(fmt.Errorf("base branch %s of %s does not exist", branch, repo))
	}
	cfg, err := gitops.LoadConfig(ctx, repo.Snapshot(head), a.validator)
	if err != nil {
		return baseBranch{}, permanent(fmt.Errorf("config of %s at %s: %w", branch, head, err))
	}
	return baseBranch{installation: installation, name: branch, head: head, cfg: cfg}, nil
}

// promoteRun opens the promotion of a run's version into the stage after
// its own if the run is ready; else it says why not, and when it will be
// when only time is missing.
func (a *App) promoteRun(ctx context.Context, log *slog.Logger, repo *github.Repo, b baseBranch, run rollout.Run, trigger, actor string) (int, string, error) {
	i := b.cfg.StageIndex(run.Stage)
	if i < 0 || i+1 == len(b.cfg.Stages) {
		return 0, fmt.Sprintf("%s is not a stage before another in the config of %s", run.Stage, b.name), nil
	}
	soak := time.Duration(b.cfg.Stages[i].Soak)
	if ready, _, why := run.Ready(soak, a.now()); !ready {
		return 0, why, nil
	}
	next := b.cfg.Stages[i+1].Name
	body := fmt.Sprintf("%s %s ran in %s from %s (%s, soak %s required)",
		run.Model, run.Version, run.Stage, run.Deployed.UTC().Format(time.RFC3339), deploymentOf(run), soak)
	if run.Analysis != nil {
		body += ", and its analysis passed"
	}
	p := proposal{
		purpose: audit.ProposePromotion, trigger: trigger, actor: actor,
		model: run.Model, version: run.Version, stage: next, fromStage: run.Stage,
		run: run, evidence: run, why: body + ".",
	}
	return a.propose(ctx, log, repo, b, p)
}

// rollbackRun opens the rollback of the stage of run to version, or, when
// version is empty, to the stage's previous good version.
func (a *App) rollbackRun(ctx context.Context, log *slog.Logger, repo *github.Repo, b baseBranch, run rollout.Run, version, trigger, actor string) (int, string, error) {
	if !run.Current() && trigger != audit.TriggerCommand {
		return 0, fmt.Sprintf("%s %s no longer runs in %s", run.Model, run.Version, run.Stage), nil
	}
	runs, err := rollout.Ledger{Log: a.store}.Runs(ctx, run.Repository, b.name, run.Model, run.Stage)
	if err != nil {
		return 0, "", fmt.Errorf("read the runs of %s in %s: %w", run.Model, run.Stage, err)
	}
	except := run.Version
	if version != "" {
		// The version named, if it ran good there and never failed there.
		runs = slices.DeleteFunc(runs, func(r rollout.Run) bool { return r.Version != version })
		except = ""
	}
	target, ok := rollout.PreviousGood(runs, except)
	if !ok {
		if version != "" {
			return 0, fmt.Sprintf("%s %s never ran in %s with a successful deployment and analysis, and pinning it there is a promotion", run.Model, version, run.Stage), nil
		}
		return 0, fmt.Sprintf("no earlier version of %s ran in %s with a successful deployment and analysis: no rollback could be right", run.Model, run.Stage), nil
	}
	why := fmt.Sprintf("%s %s in %s (deployment %d) %s.", run.Model, run.Version, run.Stage, run.DeploymentID, failure(run, trigger))
	why += fmt.Sprintf(" %s last ran there good: deployment %d, deployed %s.", target.Version, target.DeploymentID, target.Deployed.UTC().Format(time.RFC3339))
	p := proposal{
		purpose: audit.ProposeRollback, trigger: trigger, actor: actor,
		model: run.Model, version: target.Version, stage: run.Stage,
		run: run, evidence: target, why: why,
	}
	return a.propose(ctx, log, repo, b, p)
}

// deploymentOf names a run's deployment and the pull request it deployed.
// A run rebuilt from GitHub into a new store knows no pull request — a
// deployment does not name one — and is then named by its deployment alone,
// not as one "of #0".
func deploymentOf(run rollout.Run) string {
	if run.PullRequest == 0 {
		return fmt.Sprintf("deployment %d", run.DeploymentID)
	}
	return fmt.Sprintf("deployment %d of #%d", run.DeploymentID, run.PullRequest)
}

// failure says, for the body of a rollback, what became of the run.
func failure(run rollout.Run, trigger string) string {
	switch trigger {
	case audit.TriggerDeploymentFailed:
		return fmt.Sprintf("failed to deploy (%s at %s)", run.State, run.Failed.UTC().Format(time.RFC3339))
	case audit.TriggerAnalysisFailed:
		return "failed its analysis"
	}
	return "is to be rolled back on request"
}

// proposal is a pull request to open: one pin of one stage.
type proposal struct {
	purpose, trigger, actor string
	model, version, stage   string // the pin proposed
	fromStage               string // of a promotion
	run                     rollout.Run
	evidence                rollout.Run // the run of the version proposed, whose decision the body shows
	why                     string
}

func (p proposal) branch() string {
	kind := "promote"
	if p.purpose == audit.ProposeRollback {
		kind = "rollback"
	}
	return fmt.Sprintf("modelgate/%s/%s-%s-%s", kind, p.model, p.version, p.stage)
}

func (p proposal) title() string {
	if p.purpose == audit.ProposeRollback {
		return fmt.Sprintf("Roll back %s in %s to %s", p.model, p.stage, p.version)
	}
	return fmt.Sprintf("Promote %s %s to %s", p.model, p.version, p.stage)
}

// propose opens the pull request of p — a branch at the base's head with
// one commit that changes only the stage's environment file — closes the
// App's older ones for the same model and stage, records it and queues its
// evaluation. It returns the pull request's number, or 0 and why none is
// needed.
func (a *App) propose(ctx context.Context, log *slog.Logger, repo *github.Repo, b baseBranch, p proposal) (int, string, error) {
	path := gitops.EnvironmentPath(p.stage)
	current, err := repo.Snapshot(b.head).ReadFile(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		current = nil
	} else if err != nil {
		return 0, "", fmt.Errorf("read %s at %s: %w", path, b.head, err)
	}
	var replaces string
	if current != nil {
		env, err := gitops.ParseEnvironment(a.validator, path, current)
		if err != nil {
			return 0, "", permanent(fmt.Errorf("%s at %s: %w", path, b.head, err))
		}
		replaces = env.Models[p.model]
	}
	if replaces == p.version {
		return 0, fmt.Sprintf("%s already pins %s %s", path, p.model, p.version), nil
	}
	content, err := gitops.SetPin(a.validator, p.stage, current, p.model, p.version)
	if err != nil {
		return 0, "", permanent(err)
	}
	log = log.With("branch", p.branch(), "pin", p.model+" "+p.version, "into", p.stage)
	head, err := a.proposalCommit(ctx, repo, b, p, path, current, content)
	if err != nil {
		return 0, "", err
	}
	body, err := a.proposalBody(ctx, p, replaces)
	if err != nil {
		return 0, "", err
	}
	pr, err := a.proposalPull(ctx, repo, b, p, body)
	if err != nil {
		return 0, "", err
	}
	if pr.HeadSHA != head {
		return 0, "", fmt.Errorf("pull request #%d of %s is at %s, not at the commit %s", pr.Number, p.branch(), pr.HeadSHA, head)
	}
	superseded, err := a.supersede(ctx, log, repo, b, p, pr.Number)
	if err != nil {
		return 0, "", err
	}
	entry := audit.Entry{Kind: audit.KindProposal, Repository: p.run.Repository, Model: p.model, Version: p.version, Stage: p.stage,
		PullRequest: pr.Number, HeadSHA: head, Actor: cmp.Or(p.actor, pr.Author)}
	recorded, err := a.store.HasRecord(ctx, audit.Filter{Kind: entry.Kind, Repository: entry.Repository, Model: entry.Model,
		Version: entry.Version, Stage: entry.Stage, PullRequest: entry.PullRequest, HeadSHA: entry.HeadSHA})
	if err != nil {
		return 0, "", fmt.Errorf("read proposals: %w", err)
	}
	if !recorded {
		entry.Payload = mustJSON(audit.ProposalPayload{Purpose: p.purpose, Branch: p.branch(), BaseRef: b.name, FromStage: p.fromStage,
			Replaces: replaces, Trigger: p.trigger, DeploymentID: p.run.DeploymentID, Superseded: superseded})
		if _, err := a.store.Append(ctx, entry); err != nil {
			return 0, "", fmt.Errorf("record the proposal #%d: %w", pr.Number, err)
		}
		log.Info("pull request opened", "pr", pr.Number, "head", head, "superseded", superseded)
	}
	_, err = a.enqueueEvaluation(ctx, fmt.Sprintf("proposal:%s#%d:%s", p.run.Repository, pr.Number, head),
		EvaluatePayload{Installation: b.installation, Repository: p.run.Repository, PullRequest: pr.Number, Reason: "proposal." + p.trigger})
	return pr.Number, "", err
}

// proposalCommit returns the commit of the proposal's branch: the one an
// earlier attempt wrote when it is what p needs now, else a new one on the
// base's head. A branch that holds anything else is reset: the App owns the
// names under modelgate/, and the pull request shows only what it writes.
func (a *App) proposalCommit(ctx context.Context, repo *github.Repo, b baseBranch, p proposal, path string, current, content []byte) (string, error) {
	branch := p.branch()
	head, exists, err := repo.BranchHead(ctx, branch)
	if err != nil {
		return "", err
	}
	if exists {
		ok, err := reusable(ctx, repo, b.head, head, path, content)
		if err != nil || ok {
			return head, err
		}
		if err := repo.ResetBranch(ctx, branch, b.head); err != nil {
			return "", err
		}
	} else if err := repo.CreateBranch(ctx, branch, b.head); err != nil {
		return "", err
	}
	return repo.CommitFile(ctx, github.FileCommit{Branch: branch, Path: path, Message: p.title(), Content: content, Previous: current})
}

// reusable tells whether the branch at head changes, since it left the
// base, only path, to exactly content.
func reusable(ctx context.Context, repo *github.Repo, base, head, path string, content []byte) (bool, error) {
	if head == base {
		return false, nil
	}
	mb, err := repo.MergeBase(ctx, base, head)
	if err != nil {
		return false, err
	}
	files, err := repo.ChangedFiles(ctx, mb, head)
	if err != nil {
		return false, err
	}
	if !slices.Equal(files, []string{path}) {
		return false, nil
	}
	data, err := repo.Snapshot(head).ReadFile(ctx, path)
	if err != nil {
		return false, err
	}
	return bytes.Equal(data, content), nil
}

// proposalPull returns the App's open pull request of the branch, or opens it.
func (a *App) proposalPull(ctx context.Context, repo *github.Repo, b baseBranch, p proposal, body string) (github.PullRequest, error) {
	open, err := repo.OwnPullRequests(ctx, p.branch())
	if err != nil {
		return github.PullRequest{}, err
	}
	for _, pr := range open {
		if pr.BaseRef == b.name {
			return pr, nil
		}
	}
	return repo.OpenPullRequest(ctx, github.NewPullRequest{Title: p.title(), Body: body, Head: p.branch(), Base: b.name})
}

// supersede closes the App's other open pull requests for the model and
// stage on the base branch, with a comment naming the newer one: two would
// race to pin the stage, and the older would merge a decision overtaken.
// One list of the open pull requests answers for all the older proposals,
// however many the audit log holds.
func (a *App) supersede(ctx context.Context, log *slog.Logger, repo *github.Repo, b baseBranch, p proposal, number int) ([]int, error) {
	recs, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindProposal, Repository: p.run.Repository, Model: p.model, Stage: p.stage})
	if err != nil {
		return nil, fmt.Errorf("read proposals: %w", err)
	}
	var older []int
	for _, r := range recs {
		var op audit.ProposalPayload
		if err := json.Unmarshal(r.Payload, &op); err != nil {
			return nil, permanent(fmt.Errorf("audit record %d: %w", r.Seq, err))
		}
		if r.PullRequest != number && op.BaseRef == b.name {
			older = append(older, r.PullRequest)
		}
	}
	if len(older) == 0 {
		return nil, nil
	}
	open, err := repo.OpenPullRequests(ctx)
	if err != nil {
		return nil, err
	}
	var closed []int
	for _, pr := range open {
		if !slices.Contains(older, pr.Number) {
			continue
		}
		comment := fmt.Sprintf("%s\nSuperseded by #%d (%s): the App keeps one pull request open for %s in %s, and closes this one.",
			supersededMarker, number, p.title(), p.model, p.stage)
		if err := repo.ClosePullRequest(ctx, pr.Number, supersededMarker, comment); err != nil {
			return nil, err
		}
		log.Info("older pull request superseded", "closed", pr.Number, "by", number)
		closed = append(closed, pr.Number)
	}
	slices.Sort(closed)
	return closed, nil
}

// proposalBody is the pull request's description: why the App opened it,
// the evidence of the version's allowing decision, the soak and the
// analysis per metric. It is information for reviewers; the gate judges the
// pull request from the repository and the audit log, never from it.
func (a *App) proposalBody(ctx context.Context, p proposal, replaces string) (string, error) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\n%s\n\n", proposalMarker, p.title())
	fmt.Fprintf(&sb, "Opened by modelgate (trigger: `%s`). %s\n\n", p.trigger, p.why)
	fmt.Fprintf(&sb, "| | |\n|---|---|\n| Model | `%s` |\n| Pin | `%s` → `%s` in `%s` |\n", p.model, cmp.Or(replaces, "none"), p.version, p.stage)
	ev := p.evidence
	if !ev.Deployed.IsZero() {
		until := ev.Ended
		if until.IsZero() {
			until = a.now()
		}
		fmt.Fprintf(&sb, "| Ran in `%s` | %s, since %s (%s) |\n", ev.Stage, deploymentOf(ev),
			ev.Deployed.UTC().Format(time.RFC3339), until.Sub(ev.Deployed).Round(time.Minute))
	}
	sb.WriteString("\n")
	writeAnalysis(&sb, ev.Analysis)
	if err := a.writeEvidence(ctx, &sb, ev); err != nil {
		return "", err
	}
	sb.WriteString("The gate judges this pull request like any other; the App merges it once it is allowed and approved.\n")
	return sb.String(), nil
}

func writeAnalysis(sb *strings.Builder, st *analysis.State) {
	if st == nil {
		sb.WriteString("No live analysis in this stage.\n\n")
		return
	}
	fmt.Fprintf(sb, "### Analysis: %s\n\n| Metric | Phase | Measured | Successful | Failed | Inconclusive | Errors | Last |\n|---|---|---|---|---|---|---|---|\n", st.Phase)
	for _, m := range st.Metrics {
		last := "—"
		if m.Last != nil && m.Last.Value != nil {
			last = fmt.Sprintf("%g", *m.Last.Value)
		}
		fmt.Fprintf(sb, "| %s | %s | %d | %d | %d | %d | %d | %s |\n", m.Name, m.Phase, m.Count, m.Successful, m.Failed, m.Inconclusive, m.Errors, last)
	}
	sb.WriteString("\n")
}

// writeEvidence shows the evidence of the decision that allowed the run's
// version into its stage, as the pull request that put it there was judged.
func (a *App) writeEvidence(ctx context.Context, sb *strings.Builder, run rollout.Run) error {
	if run.PullRequest == 0 {
		return nil
	}
	recs, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindDecision, Repository: run.Repository, PullRequest: run.PullRequest,
		Model: run.Model, Version: run.Version, Stage: run.Stage})
	if err != nil {
		return fmt.Errorf("read decisions: %w", err)
	}
	for _, r := range slices.Backward(recs) {
		var rec gate.DecisionRecord
		if err := json.Unmarshal(r.Payload, &rec); err != nil {
			return permanent(fmt.Errorf("audit record %d: %w", r.Seq, err))
		}
		if !rec.Decision.Allow || rec.Promotion == nil {
			continue
		}
		fmt.Fprintf(sb, "### Evidence of the decision on #%d\n\n", run.PullRequest)
		res := &gate.Result{Judgements: []gate.Judgement{{Promotion: rec.Promotion, Evidence: rec.Evidence, Decision: rec.Decision}}}
		return report.MarkdownEvidence(sb, res)
	}
	return nil
}

// commanded carries out an authorized /modelgate promote or rollback and
// answers where it was given.
func (a *App) commanded(ctx context.Context, log *slog.Logger, repo *github.Repo, delivery string, task Task) error {
	c := task.Command
	log = log.With("command", c.Purpose, "model", c.Model, "stage", c.Stage, "version", c.Version, "actor", c.Actor)
	b, err := a.base(ctx, repo, task.Installation, c.Branch)
	if err != nil {
		return err
	}
	var n int
	var why string
	switch c.Purpose {
	case audit.ProposePromotion:
		n, why, err = a.commandPromote(ctx, log, repo, b, task)
	case audit.ProposeRollback:
		n, why, err = a.commandRollback(ctx, log, repo, b, task)
	default:
		return permanent(fmt.Errorf("command of unknown purpose %q", c.Purpose))
	}
	if err != nil {
		return err
	}
	answer := fmt.Sprintf("Opened #%d.", n)
	if n == 0 {
		answer = "Nothing opened: " + why + "."
	}
	sum := sha256.Sum256([]byte(delivery))
	marker := "<!-- modelgate:answer " + hex.EncodeToString(sum[:8]) + " -->"
	_, err = repo.StickyComment(ctx, c.Issue, marker, fmt.Sprintf("%s\n@%s `/modelgate %s %s %s`: %s", marker, c.Actor, commandWord(c.Purpose), c.Stage, c.Model, answer))
	return err
}

func commandWord(purpose string) string {
	if purpose == audit.ProposeRollback {
		return "rollback"
	}
	return "promote"
}

// commandPromote promotes into Command.Stage the version that runs in the
// stage before it (or Command.Version's run there), if it is ready.
func (a *App) commandPromote(ctx context.Context, log *slog.Logger, repo *github.Repo, b baseBranch, task Task) (int, string, error) {
	c := task.Command
	i := b.cfg.StageIndex(c.Stage)
	if i <= 0 {
		return 0, fmt.Sprintf("%s is not a stage after another in the config of %s", c.Stage, b.name), nil
	}
	from := b.cfg.Stages[i-1].Name
	runs, err := rollout.Ledger{Log: a.store}.Runs(ctx, task.Repository, b.name, c.Model, from)
	if err != nil {
		return 0, "", fmt.Errorf("read the runs of %s in %s: %w", c.Model, from, err)
	}
	for j := len(runs) - 1; j >= 0; j-- {
		if r := runs[j]; c.Version == "" && r.Current() || c.Version != "" && r.Version == c.Version {
			return a.promoteRun(ctx, log, repo, b, r, audit.TriggerCommand, c.Actor)
		}
	}
	what := "no version of " + c.Model
	if c.Version != "" {
		what = c.Model + " " + c.Version
	}
	return 0, fmt.Sprintf("%s runs in %s, the stage before %s, by the App's deployment records", what, from, c.Stage), nil
}

// commandRollback rolls Command.Stage back to Command.Version, or to the
// stage's previous good version.
func (a *App) commandRollback(ctx context.Context, log *slog.Logger, repo *github.Repo, b baseBranch, task Task) (int, string, error) {
	c := task.Command
	runs, err := rollout.Ledger{Log: a.store}.Runs(ctx, task.Repository, b.name, c.Model, c.Stage)
	if err != nil {
		return 0, "", fmt.Errorf("read the runs of %s in %s: %w", c.Model, c.Stage, err)
	}
	if len(runs) == 0 {
		return 0, fmt.Sprintf("the App has no deployment of %s in %s", c.Model, c.Stage), nil
	}
	return a.rollbackRun(ctx, log, repo, b, runs[len(runs)-1], c.Version, audit.TriggerCommand, c.Actor)
}

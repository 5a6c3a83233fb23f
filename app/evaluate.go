package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/jsonlist"
	"github.com/modelgate/modelgate/internal/policy"
)

// evaluate judges one pull request as it is now, reports, records and, when
// allowed, merges exactly the head it judged.
func (a *App) evaluate(ctx context.Context, log *slog.Logger, task Task, number int) error {
	started := a.now()
	repo, err := a.github.Installation(task.Installation).Repo(task.Repository)
	if err != nil {
		return permanent(err)
	}
	pr, err := repo.PullRequest(ctx, number)
	if err != nil {
		return fmt.Errorf("read pull request: %w", err)
	}
	if pr.State != "open" || pr.Merged {
		log.Info("pull request is not open; nothing to judge", "state", pr.State)
		return nil
	}
	log = log.With("head", pr.HeadSHA)
	if pr.BaseSHA, err = repo.BaseTip(ctx, pr.BaseRef, pr.HeadSHA); err != nil {
		return fmt.Errorf("resolve base branch %s: %w", pr.BaseRef, err)
	}

	rules, gated, err := a.rulesCommit(ctx, log, repo, pr)
	if err != nil || !gated {
		return err
	}
	if rules != pr.BaseSHA {
		log = log.With("rules", rules)
	}

	if err := a.recordPusher(ctx, task, pr); err != nil {
		return err
	}
	approvals, err := a.approvals(ctx, repo, task.Repository, pr, rules)
	if err != nil {
		return err
	}

	reads := &readRecorder{Repository: rulesRepository{Repository: repo, base: pr.BaseSHA, rules: rules}}
	req := gate.Request{
		Repo: reads, Repository: task.Repository, Base: pr.BaseSHA, Head: pr.HeadSHA,
		PullRequest: policy.PullRequest{
			Number: pr.Number, Author: pr.Author, BaseRef: pr.BaseRef, Labels: jsonlist.NonNil(pr.Labels),
			Approvals: approvals.policyInput(), Committers: jsonlist.NonNil(approvals.committers),
		},
	}
	if rules != pr.BaseSHA {
		req.Rules = rules
	}
	res, err := a.gate.Judge(ctx, req)
	if err != nil {
		return err
	}
	// The gate denies what it cannot read; a read that failed because GitHub
	// did not answer is not a verdict on the pull request, so it is retried,
	// and nothing is reported or merged on it meanwhile.
	if err := reads.failure(); err != nil {
		return fmt.Errorf("read repository: %w", err)
	}
	a.metrics.evaluated(res.Allow, a.now().Sub(started))

	decisions, err := a.record(ctx, res, approvals)
	if err != nil {
		return err
	}
	if err := a.report(ctx, repo, pr, res, approvals, decisions, task.Action == Explain); err != nil {
		return err
	}
	log.Info("judged", "allow", res.Allow, "denials", len(denials(res)))
	// Only changes of pins are the App's to merge: a pull request that
	// changes none is reported on and left to people.
	if !res.Allow || pr.Draft || task.Action == Explain || res.Change == nil || len(res.Change.Promotions)+len(res.Change.Removals) == 0 {
		return nil
	}
	return a.merge(ctx, log, task, repo, pr, res)
}

// merge merges the judged head. GitHub refuses when the head has moved since
// (409) or the pull request cannot be merged (405); either way the pull
// request is judged again as it now is, once per head, rather than retried.
func (a *App) merge(ctx context.Context, log *slog.Logger, task Task, repo *github.Repo, pr github.PullRequest, res *gate.Result) error {
	method := res.Change.Config.Merge.Method
	sha, err := repo.Merge(ctx, pr.Number, pr.HeadSHA, method, pr.Title)
	entry := audit.Entry{Repository: task.Repository, PullRequest: pr.Number, HeadSHA: pr.HeadSHA, Actor: pr.Author}
	if errors.Is(err, github.ErrMergeRefused) {
		a.metrics.merged("refused")
		entry.Kind = audit.KindMergeRefused
		entry.Payload = mustJSON(audit.MergeRefusedPayload{Method: method, Reason: err.Error()})
		if _, err := a.appendAll(ctx, promotionEntries(res, entry)); err != nil {
			return err
		}
		log.Warn("merge refused; judging again", "err", err)
		_, err := a.enqueueEvaluation(ctx, fmt.Sprintf("merge-refused:%s#%d@%s", task.Repository, pr.Number, pr.HeadSHA),
			EvaluatePayload{Installation: task.Installation, Repository: task.Repository, PullRequest: pr.Number, Reason: "merge refused"})
		return err
	}
	if err != nil {
		a.metrics.merged("error")
		return fmt.Errorf("merge: %w", err)
	}
	a.metrics.merged("merged")
	entry.Kind = audit.KindMerge
	entry.Payload = mustJSON(audit.MergePayload{Method: method, CommitSHA: sha, BaseRef: pr.BaseRef})
	log.Info("merged", "merge_commit", sha)
	_, err = a.appendAll(ctx, promotionEntries(res, entry))
	return err
}

// recordPusher remembers who pushed to the pull request, once: GitHub's
// commit list names authors and committers, which anyone can write, never who
// pushed.
func (a *App) recordPusher(ctx context.Context, task Task, pr github.PullRequest) error {
	if task.Pusher == "" {
		return nil
	}
	f := audit.Filter{Kind: audit.KindPush, Repository: task.Repository, PullRequest: pr.Number, Actor: task.Pusher}
	seen, err := a.store.HasRecord(ctx, f)
	if err != nil || seen {
		return err
	}
	_, err = a.store.Append(ctx, audit.Entry{Kind: audit.KindPush, Repository: task.Repository, PullRequest: pr.Number,
		HeadSHA: pr.HeadSHA, Actor: task.Pusher, Payload: mustJSON(audit.PushPayload{HeadRef: pr.HeadRef})})
	return err
}

// pushers lists who pushed to the pull request's head branch: everyone
// GitHub's activity log names for the branch, before the pull request was
// opened as well as after, and whoever synchronize events named. The log is
// read on every evaluation, so a lost synchronize event or a judgement the
// reconciler started reaches the same answer.
func (a *App) pushers(ctx context.Context, repo *github.Repo, repository string, pr github.PullRequest) ([]string, error) {
	logins, err := repo.Pushers(ctx, pr.HeadRef)
	if err != nil {
		return nil, fmt.Errorf("read pushers: %w", err)
	}
	recs, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindPush, Repository: repository, PullRequest: pr.Number})
	if err != nil {
		return nil, fmt.Errorf("read pushers: %w", err)
	}
	for _, r := range recs {
		if !slices.Contains(logins, r.Actor) {
			logins = append(logins, r.Actor)
		}
	}
	return logins, nil
}

// record writes the decision and the approvals it counted, and returns the
// decision's records.
func (a *App) record(ctx context.Context, res *gate.Result, ap *approvalSet) ([]audit.Record, error) {
	entries, err := res.AuditEntries()
	if err != nil {
		return nil, err
	}
	decided := len(entries)
	for _, u := range ap.counted {
		seen, err := a.store.HasRecord(ctx, audit.Filter{Kind: audit.KindApproval, Repository: res.Repository,
			PullRequest: res.PullRequest.Number, HeadSHA: res.Head, Actor: u.User})
		if err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		if seen {
			continue
		}
		entries = append(entries, audit.Entry{Kind: audit.KindApproval, Repository: res.Repository,
			PullRequest: res.PullRequest.Number, HeadSHA: res.Head, Actor: u.User,
			Payload: mustJSON(audit.ApprovalPayload{ReviewID: u.ReviewID, Teams: u.Teams, SubmittedAt: u.SubmittedAt})})
	}
	records, err := a.appendAll(ctx, entries)
	if err != nil {
		return nil, err
	}
	return records[:decided], nil
}

func (a *App) appendAll(ctx context.Context, entries []audit.Entry) ([]audit.Record, error) {
	records := make([]audit.Record, 0, len(entries))
	for _, e := range entries {
		rec, err := a.store.Append(ctx, e)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", e.Kind, err)
		}
		records = append(records, rec)
	}
	return records, nil
}

// promotionEntries is one copy of e per promoted model version, so that each
// version's history reads on its own.
func promotionEntries(res *gate.Result, e audit.Entry) []audit.Entry {
	var out []audit.Entry
	for _, j := range res.Judgements {
		if p := j.Promotion; p != nil {
			e.Model, e.Version, e.Stage = p.Model, p.Version, p.ToStage
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		out = append(out, e)
	}
	return out
}

// readRecorder remembers the first read of the repository that failed for a
// reason other than the file not being there.
type readRecorder struct {
	gitops.Repository
	mu  sync.Mutex
	err error
}

func (r *readRecorder) note(err error) error {
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return err
}

func (r *readRecorder) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *readRecorder) Snapshot(sha string) gitops.Snapshot {
	return recordedSnapshot{r.Repository.Snapshot(sha), r}
}

func (r *readRecorder) MergeBase(ctx context.Context, a, b string) (string, error) {
	sha, err := r.Repository.MergeBase(ctx, a, b)
	return sha, r.note(err)
}

func (r *readRecorder) ChangedFiles(ctx context.Context, from, to string) ([]string, error) {
	files, err := r.Repository.ChangedFiles(ctx, from, to)
	return files, r.note(err)
}

func (r *readRecorder) History(ctx context.Context, sha, path string) ([]gitops.Commit, error) {
	commits, err := r.Repository.History(ctx, sha, path)
	return commits, r.note(err)
}

type recordedSnapshot struct {
	gitops.Snapshot
	r *readRecorder
}

func (s recordedSnapshot) ReadFile(ctx context.Context, path string) ([]byte, error) {
	data, err := s.Snapshot.ReadFile(ctx, path)
	return data, s.r.note(err)
}

func (s recordedSnapshot) ReadData(ctx context.Context, path string, limit int64) ([]byte, error) {
	data, err := s.Snapshot.ReadData(ctx, path, limit)
	return data, s.r.note(err)
}

func (s recordedSnapshot) ReadDir(ctx context.Context, dir string) ([]string, error) {
	names, err := s.Snapshot.ReadDir(ctx, dir)
	return names, s.r.note(err)
}

func denials(res *gate.Result) []policy.Message {
	var ms []policy.Message
	for _, j := range res.Judgements {
		ms = append(ms, j.Decision.Deny...)
	}
	return ms
}

// mustJSON encodes the audit payload types, which hold only strings,
// numbers, times and slices of strings and so always encode.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", v, err))
	}
	return b
}

func shortSHA(sha string) string { return sha[:min(len(sha), 7)] }

func join(items []string) string {
	items = slices.Clone(items)
	slices.Sort(items)
	return strings.Join(items, ", ")
}

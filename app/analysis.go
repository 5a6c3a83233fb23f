package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/queue"
	"github.com/modelgate/modelgate/internal/rollout"
)

// triggerAnalysis is the trigger of the advance job a verdict other than
// Failed queues: the analysis may have been what the version waited for.
const triggerAnalysis = "analysis"

// queryTimeout bounds one Prometheus query, so that a Prometheus that
// accepts connections and never answers costs one Error measurement, not the
// job's lease.
const queryTimeout = 30 * time.Second

// runOf reads the run of a deployment the App created from the audit log,
// which is the whole truth of it, so that any replica, or one that
// restarted, sees the same run.
func (a *App) runOf(ctx context.Context, repository string, id int64) (rollout.Run, bool, error) {
	r, ok, err := rollout.Ledger{Log: a.store}.Run(ctx, repository, id)
	if err != nil {
		return rollout.Run{}, false, fmt.Errorf("deployment %d: %w", id, err)
	}
	r.Measurements = distinct(r.Measurements)
	return r, ok, nil
}

// distinct drops the measurements of a metric at a time already taken: a
// job run again after its lease was lost may have taken one twice, and it
// counts once.
func distinct(ms []analysis.Measurement) []analysis.Measurement {
	type key struct {
		metric string
		at     int64
	}
	seen := map[key]bool{}
	return slices.DeleteFunc(ms, func(m analysis.Measurement) bool {
		k := key{m.Metric, m.At.UnixNano()}
		if seen[k] {
			return true
		}
		seen[k] = true
		return false
	})
}

// stageConfig reads the config at ref, which names the rules of the
// stage's runs of that commit, and finds the stage in it.
func (a *App) stageConfig(ctx context.Context, repo *github.Repo, ref, stage string) (*gitops.Config, int, error) {
	// Not permanent: a config that could not be read may be on the next
	// attempt (one that does not parse is dead-lettered once they run out).
	cfg, err := gitops.LoadConfig(ctx, repo.Snapshot(ref), a.validator)
	if err != nil {
		return nil, 0, fmt.Errorf("config at %s: %w", ref, err)
	}
	i := cfg.StageIndex(stage)
	if i < 0 {
		return nil, 0, permanent(fmt.Errorf("config at %s has no stage %q", ref, stage))
	}
	return cfg, i, nil
}

// stageRules reads the rules of a run's stage from the config at the
// deployment's ref: the merge commit on the base branch, so the analysis
// and its Prometheus address are the base branch's, as they were when the
// version was merged, never a pull request's.
func (a *App) stageRules(ctx context.Context, repo *github.Repo, r rollout.Run) (gitops.Stage, *analysis.Template, error) {
	cfg, i, err := a.stageConfig(ctx, repo, r.Ref, r.Stage)
	if err != nil {
		return gitops.Stage{}, nil, err
	}
	templates, err := analysis.CompileConfig(cfg)
	if err != nil {
		return gitops.Stage{}, nil, permanent(fmt.Errorf("%s at %s: %w", gitops.ConfigPath, r.Ref, err))
	}
	return cfg.Stages[i], templates[r.Stage], nil
}

// scheduleRun queues what an accepted status of a run starts: on its first
// success, the analysis of its stage, if it has one, and the advance at the
// soak's end; on a failure, the advance that rolls it back. Every job has a
// delivery id of its own making and the analysis starts once, so a status
// handled again, after a crash or as a duplicate delivery, schedules nothing
// twice.
func (a *App) scheduleRun(ctx context.Context, log *slog.Logger, task Task, repo *github.Repo) error {
	r, ok, err := a.runOf(ctx, task.Repository, task.Deployment)
	if err != nil || !ok {
		return err
	}
	job := DeploymentJobPayload{Installation: task.Installation, Repository: task.Repository, DeploymentID: task.Deployment}
	if !r.Failed.IsZero() {
		job.Trigger = audit.TriggerDeploymentFailed
		return a.schedule(ctx, EventAdvance, advanceDelivery(job), time.Time{}, job)
	}
	if r.Deployed.IsZero() || !r.Current() {
		return nil
	}
	stage, tpl, err := a.stageRules(ctx, repo, r)
	if err != nil {
		return err
	}
	if tpl != nil {
		if err := a.startAnalysis(ctx, log, task, r, tpl); err != nil {
			return err
		}
	}
	job.Trigger = audit.TriggerSoak
	soakEnd := r.Deployed.Add(time.Duration(stage.Soak))
	if err := a.schedule(ctx, EventAdvance, advanceDelivery(job), soakEnd, job); err != nil {
		return err
	}
	log.Info("soak scheduled", "deployment", task.Deployment, "model", r.Model, "version", r.Version,
		"stage", r.Stage, "until", soakEnd)
	return nil
}

// startAnalysis records the analysis of a run as Running, unless it was,
// and schedules its next measurement.
func (a *App) startAnalysis(ctx context.Context, log *slog.Logger, task Task, r rollout.Run, tpl *analysis.Template) error {
	st := tpl.Assess(r.Deployed, r.Measurements, a.now())
	if r.Analysis == nil {
		if err := a.recordAnalysis(ctx, r, st); err != nil {
			return err
		}
		log.Info("analysis started", "deployment", task.Deployment, "first", st.Next)
	}
	if st.Phase != analysis.Running || st.Next == nil {
		// The measurements already taken reached a verdict: the analyze job
		// records it.
		return a.scheduleAnalyze(ctx, task, a.now())
	}
	return a.scheduleAnalyze(ctx, task, *st.Next)
}

func (a *App) recordAnalysis(ctx context.Context, r rollout.Run, st analysis.State) error {
	_, err := a.store.Append(ctx, audit.Entry{Kind: audit.KindAnalysis, Repository: r.Repository, Model: r.Model,
		Version: r.Version, Stage: r.Stage, PullRequest: r.PullRequest, HeadSHA: r.Ref,
		Payload: mustJSON(audit.AnalysisPayload{DeploymentID: r.DeploymentID, BaseRef: r.Branch, State: st})})
	return err
}

// analyze takes the measurements of a run that are due, each at the time it
// was due, so that a worker that was down, or a queue that ran late, reads
// what Prometheus saw then; records the verdict once there is one and
// queues the advance it may allow; otherwise schedules the next
// measurement. A run replaced, ended or failed stops measuring.
func (a *App) analyze(ctx context.Context, log *slog.Logger, task Task) error {
	r, ok, err := a.runOf(ctx, task.Repository, task.Deployment)
	if err != nil {
		return err
	}
	switch {
	case !ok || r.Analysis == nil:
		log.Warn("analysis of a deployment with no analysis record; ignored", "deployment", task.Deployment)
		return nil
	case r.Analysis.Phase != analysis.Running:
		return a.queueVerdictAdvance(ctx, task, r.Analysis.Phase)
	case !r.Failed.IsZero() || !r.Current():
		log.Info("run over: analysis stops", "deployment", task.Deployment, "failed", r.Failed, "ended", r.Ended)
		return nil
	}
	repo, err := a.github.Installation(task.Installation).Repo(task.Repository)
	if err != nil {
		return permanent(err)
	}
	_, tpl, err := a.stageRules(ctx, repo, r)
	if err != nil {
		return err
	}
	if tpl == nil {
		return permanent(fmt.Errorf("deployment %d: stage %s has an analysis record but no analysis at %s", task.Deployment, r.Stage, r.Ref))
	}
	q, err := analysis.NewQuerier(tpl.Address)
	if err != nil {
		return permanent(err)
	}
	vars := analysis.Vars{Model: r.Model, Version: r.Version, Stage: r.Stage}
	now := a.now()
	st := tpl.Assess(r.Deployed, r.Measurements, now)
	for st.Phase == analysis.Running && len(st.Due) > 0 {
		// Assess gives the metrics' states in the template's order.
		for i, m := range tpl.Metrics {
			ms := st.Metrics[i]
			if ms.Next == nil || ms.Next.After(now) {
				continue
			}
			qctx, cancel := context.WithTimeout(ctx, queryTimeout)
			x := m.Measure(qctx, q, vars, *ms.Next)
			cancel()
			// A measurement cut short by the worker's shutdown says nothing
			// of Prometheus: the next attempt takes it.
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := a.recordMeasurement(ctx, r, x); err != nil {
				return err
			}
			if x.Phase == analysis.Error {
				log.Warn("measurement not taken", "deployment", task.Deployment, "metric", x.Metric, "at", x.At, "err", x.Message)
			}
			r.Measurements = append(r.Measurements, x)
		}
		st = tpl.Assess(r.Deployed, r.Measurements, now)
	}
	if st.Phase == analysis.Running {
		if st.Next == nil {
			return permanent(fmt.Errorf("deployment %d: analysis running with no measurement due", task.Deployment))
		}
		return a.scheduleAnalyze(ctx, task, *st.Next)
	}
	if err := a.recordAnalysis(ctx, r, st); err != nil {
		return err
	}
	log.Info("analysis verdict", "deployment", task.Deployment, "model", r.Model, "version", r.Version,
		"stage", r.Stage, "phase", st.Phase)
	return a.queueVerdictAdvance(ctx, task, st.Phase)
}

func (a *App) recordMeasurement(ctx context.Context, r rollout.Run, x analysis.Measurement) error {
	_, err := a.store.Append(ctx, audit.Entry{Kind: audit.KindMeasurement, Repository: r.Repository, Model: r.Model,
		Version: r.Version, Stage: r.Stage, PullRequest: r.PullRequest, HeadSHA: r.Ref,
		Payload: mustJSON(audit.MeasurementPayload{DeploymentID: r.DeploymentID, BaseRef: r.Branch, Measurement: x})})
	return err
}

// queueVerdictAdvance queues, at once, the advance a verdict calls for: the
// rollback of a failed analysis, or the next stage of one that may end the
// wait (whether it does is the advance's to judge).
func (a *App) queueVerdictAdvance(ctx context.Context, task Task, phase analysis.Phase) error {
	job := DeploymentJobPayload{Installation: task.Installation, Repository: task.Repository, DeploymentID: task.Deployment, Trigger: triggerAnalysis}
	if phase == analysis.Failed {
		job.Trigger = audit.TriggerAnalysisFailed
	}
	return a.schedule(ctx, EventAdvance, advanceDelivery(job), time.Time{}, job)
}

func (a *App) scheduleAnalyze(ctx context.Context, task Task, at time.Time) error {
	job := DeploymentJobPayload{Installation: task.Installation, Repository: task.Repository, DeploymentID: task.Deployment}
	delivery := fmt.Sprintf("analyze:%s:%d:%d", task.Repository, task.Deployment, at.Unix())
	return a.schedule(ctx, EventAnalyze, delivery, at, job)
}

// advanceDelivery is the delivery id of a run's advance for a trigger: one
// advance per run and trigger, however often it is scheduled.
func advanceDelivery(p DeploymentJobPayload) string {
	return "advance:" + p.Repository + ":" + strconv.FormatInt(p.DeploymentID, 10) + ":" + p.Trigger
}

// schedule queues a job of a deployment to run at at (zero: at once). The
// jobs of a repository's deployments share its key with the deployment_status
// deliveries, so a run's statuses and measurements are handled one at a time.
func (a *App) schedule(ctx context.Context, event, delivery string, at time.Time, p DeploymentJobPayload) error {
	job := queue.Job{Delivery: delivery, Event: event, Key: Task{Repository: p.Repository}.Key(), Payload: mustJSON(p), RunAt: at}
	if _, err := a.store.Enqueue(ctx, job); err != nil {
		return fmt.Errorf("schedule %s of deployment %d: %w", event, p.DeploymentID, err)
	}
	return nil
}

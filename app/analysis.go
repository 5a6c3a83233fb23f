package app

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/queue"
)

// triggerAnalysis is the trigger of the advance job a verdict other than
// Failed queues: the analysis may have been what the version waited for.
const triggerAnalysis = "analysis"

// queryTimeout bounds one Prometheus query, so that a Prometheus that
// accepts connections and never answers costs one Error measurement, not the
// job's lease.
const queryTimeout = 30 * time.Second

// run is one deployment of a version to a stage as the audit log holds it:
// the App's own records are the whole truth of it, so any replica, or one
// that restarted, sees the same run.
type run struct {
	rec audit.Record // the deployment record
	dep audit.DeploymentPayload
	// deployed is when the first accepted success was posted (GitHub's
	// time); zero before one.
	deployed time.Time
	failed   bool // an accepted failure or error
	// ended: a later deployment of the model to the stage from the branch
	// was recorded, or the deployment was marked inactive.
	ended        bool
	measurements []analysis.Measurement
	// analysis is the run's last analysis record; nil when its stage had
	// no analysis.
	analysis *analysis.State
}

// loadRun reads the run of a deployment the App created; nil when it has no
// record of it.
func (a *App) loadRun(ctx context.Context, repository string, id int64) (*run, error) {
	dep, rec, err := a.deploymentRecord(ctx, repository, id)
	if err != nil || rec == nil {
		return nil, err
	}
	r := &run{rec: *rec, dep: dep}
	same := audit.Filter{Repository: rec.Repository, Model: rec.Model, Version: rec.Version, Stage: rec.Stage, HeadSHA: rec.HeadSHA}

	later, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindDeployment, Repository: rec.Repository, Model: rec.Model, Stage: rec.Stage})
	if err != nil {
		return nil, fmt.Errorf("read deployments: %w", err)
	}
	for _, l := range later {
		var p audit.DeploymentPayload
		if err := json.Unmarshal(l.Payload, &p); err != nil {
			return nil, permanent(fmt.Errorf("audit record %d: %w", l.Seq, err))
		}
		if l.Seq > rec.Seq && p.BaseRef == dep.BaseRef {
			r.ended = true
		}
	}

	err = eachPayload(ctx, a.store, withKind(same, audit.KindDeploymentStatus), func(sr audit.Record, p audit.DeploymentStatusPayload) {
		if p.DeploymentID != id || p.Refused != "" {
			return
		}
		switch st := deploy.State(p.State); {
		case st == deploy.Success && r.deployed.IsZero():
			// Records from before statuses kept GitHub's time have the
			// App's, a little later.
			r.deployed = cmp.Or(p.CreatedAt, sr.RecordedAt)
		case st.Failed():
			r.failed = true
		case st == deploy.Inactive:
			r.ended = true
		}
	})
	if err != nil {
		return nil, err
	}

	type key struct {
		metric string
		at     time.Time
	}
	seen := map[key]bool{}
	err = eachPayload(ctx, a.store, withKind(same, audit.KindMeasurement), func(sr audit.Record, p audit.MeasurementPayload) {
		// A measurement taken twice (a job run again after its lease was
		// lost) counts once.
		k := key{p.Measurement.Metric, p.Measurement.At.UTC()}
		if p.DeploymentID == id && !seen[k] {
			seen[k] = true
			r.measurements = append(r.measurements, p.Measurement)
		}
	})
	if err != nil {
		return nil, err
	}
	err = eachPayload(ctx, a.store, withKind(same, audit.KindAnalysis), func(sr audit.Record, p audit.AnalysisPayload) {
		if p.DeploymentID == id {
			r.analysis = &p.State
		}
	})
	return r, err
}

func withKind(f audit.Filter, k audit.Kind) audit.Filter {
	f.Kind = k
	return f
}

// eachPayload calls fn with the decoded payload of each record f selects, in
// log order.
func eachPayload[P any](ctx context.Context, store Store, f audit.Filter, fn func(rec audit.Record, p P)) error {
	recs, err := store.Records(ctx, f)
	if err != nil {
		return fmt.Errorf("read %s records: %w", f.Kind, err)
	}
	for _, r := range recs {
		var p P
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			return permanent(fmt.Errorf("audit record %d: %w", r.Seq, err))
		}
		fn(r, p)
	}
	return nil
}

// stageRules reads the rules of a run's stage from the config at the
// deployment's ref: the merge commit on the base branch, so the analysis
// and its Prometheus address are the base branch's, as they were when the
// version was merged, never a pull request's.
func (a *App) stageRules(ctx context.Context, repo *github.Repo, r *run) (gitops.Stage, *analysis.Template, error) {
	cfg, err := gitops.LoadConfig(ctx, repo.Snapshot(r.dep.Ref), a.validator)
	if err != nil {
		return gitops.Stage{}, nil, permanent(fmt.Errorf("config at %s: %w", r.dep.Ref, err))
	}
	i := cfg.StageIndex(r.rec.Stage)
	if i < 0 {
		return gitops.Stage{}, nil, permanent(fmt.Errorf("config at %s has no stage %q", r.dep.Ref, r.rec.Stage))
	}
	templates, err := analysis.CompileConfig(cfg)
	if err != nil {
		return gitops.Stage{}, nil, permanent(fmt.Errorf("%s at %s: %w", gitops.ConfigPath, r.dep.Ref, err))
	}
	return cfg.Stages[i], templates[r.rec.Stage], nil
}

// scheduleRun queues what an accepted status of a run starts: on its first
// success, the analysis of its stage, if it has one, and the advance at the
// soak's end; on a failure, the advance that rolls it back. Every job has a
// delivery id of its own making and the analysis starts once, so a status
// handled again, after a crash or as a duplicate delivery, schedules nothing
// twice.
func (a *App) scheduleRun(ctx context.Context, log *slog.Logger, task Task, repo *github.Repo) error {
	r, err := a.loadRun(ctx, task.Repository, task.Deployment)
	if err != nil || r == nil {
		return err
	}
	job := DeploymentJobPayload{Installation: task.Installation, Repository: task.Repository, DeploymentID: task.Deployment}
	if r.failed {
		job.Trigger = audit.TriggerDeploymentFailed
		return a.schedule(ctx, EventAdvance, advanceDelivery(job), time.Time{}, job)
	}
	if r.deployed.IsZero() || r.ended {
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
	soakEnd := r.deployed.Add(time.Duration(stage.Soak))
	if err := a.schedule(ctx, EventAdvance, advanceDelivery(job), soakEnd, job); err != nil {
		return err
	}
	log.Info("soak scheduled", "deployment", task.Deployment, "model", r.rec.Model, "version", r.rec.Version,
		"stage", r.rec.Stage, "until", soakEnd)
	return nil
}

// startAnalysis records the analysis of a run as Running, unless it was,
// and schedules its next measurement.
func (a *App) startAnalysis(ctx context.Context, log *slog.Logger, task Task, r *run, tpl *analysis.Template) error {
	st := tpl.Assess(r.deployed, r.measurements, a.now())
	if r.analysis == nil {
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

func (a *App) recordAnalysis(ctx context.Context, r *run, st analysis.State) error {
	_, err := a.store.Append(ctx, audit.Entry{Kind: audit.KindAnalysis, Repository: r.rec.Repository, Model: r.rec.Model,
		Version: r.rec.Version, Stage: r.rec.Stage, PullRequest: r.rec.PullRequest, HeadSHA: r.rec.HeadSHA,
		Payload: mustJSON(audit.AnalysisPayload{DeploymentID: r.dep.DeploymentID, BaseRef: r.dep.BaseRef, State: st})})
	return err
}

// analyze takes the measurements of a run that are due, each at the time it
// was due, so that a worker that was down, or a queue that ran late, reads
// what Prometheus saw then; records the verdict once there is one and
// queues the advance it may allow; otherwise schedules the next
// measurement. A run replaced, ended or failed stops measuring.
func (a *App) analyze(ctx context.Context, log *slog.Logger, task Task) error {
	r, err := a.loadRun(ctx, task.Repository, task.Deployment)
	if err != nil {
		return err
	}
	switch {
	case r == nil || r.analysis == nil:
		log.Warn("analysis of a deployment with no analysis record; ignored", "deployment", task.Deployment)
		return nil
	case r.analysis.Phase != analysis.Running:
		return a.queueVerdictAdvance(ctx, task, r.analysis.Phase)
	case r.failed || r.ended:
		log.Info("run over: analysis stops", "deployment", task.Deployment, "failed", r.failed, "ended", r.ended)
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
		return permanent(fmt.Errorf("deployment %d: stage %s has an analysis record but no analysis at %s", task.Deployment, r.rec.Stage, r.dep.Ref))
	}
	q, err := analysis.NewQuerier(tpl.Address)
	if err != nil {
		return permanent(err)
	}
	vars := analysis.Vars{Model: r.rec.Model, Version: r.rec.Version, Stage: r.rec.Stage}
	now := a.now()
	st := tpl.Assess(r.deployed, r.measurements, now)
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
			r.measurements = append(r.measurements, x)
		}
		st = tpl.Assess(r.deployed, r.measurements, now)
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
	log.Info("analysis verdict", "deployment", task.Deployment, "model", r.rec.Model, "version", r.rec.Version,
		"stage", r.rec.Stage, "phase", st.Phase)
	return a.queueVerdictAdvance(ctx, task, st.Phase)
}

func (a *App) recordMeasurement(ctx context.Context, r *run, x analysis.Measurement) error {
	_, err := a.store.Append(ctx, audit.Entry{Kind: audit.KindMeasurement, Repository: r.rec.Repository, Model: r.rec.Model,
		Version: r.rec.Version, Stage: r.rec.Stage, PullRequest: r.rec.PullRequest, HeadSHA: r.rec.HeadSHA,
		Payload: mustJSON(audit.MeasurementPayload{DeploymentID: r.dep.DeploymentID, BaseRef: r.dep.BaseRef, Measurement: x})})
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

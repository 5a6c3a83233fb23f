package rollout_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/rollout"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

const repo = "acme/models"

// ledger writes records through a real store whose clock the test sets.
type ledger struct {
	t   *testing.T
	db  *sqlstore.DB
	now time.Time
}

func newLedger(t *testing.T, dsn string) *ledger {
	db, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	l := &ledger{t: t, db: db, now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	db.Now = func() time.Time { return l.now }
	return l
}

func (l *ledger) append(kind audit.Kind, model, version, stage string, payload any) {
	l.t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := l.db.Append(l.t.Context(), audit.Entry{Kind: kind, Repository: repo, Model: model, Version: version,
		Stage: stage, PullRequest: 7, HeadSHA: "abc", Actor: "modelgate[bot]", Payload: raw}); err != nil {
		l.t.Fatal(err)
	}
}

func (l *ledger) deploy(id int64, branch, model, version, stage string) {
	l.append(audit.KindDeployment, model, version, stage, audit.DeploymentPayload{DeploymentID: id, Environment: stage,
		Ref: "abc", BaseRef: branch, Deployment: deploy.Payload{Model: model, Version: version}})
}

func (l *ledger) status(id int64, model, version, stage string, state deploy.State, refused string) {
	l.append(audit.KindDeploymentStatus, model, version, stage, audit.DeploymentStatusPayload{DeploymentID: id,
		StatusID: l.now.Unix(), State: string(state), BaseRef: "main", Refused: refused})
}

func (l *ledger) analysis(id int64, model, version, stage string, phase analysis.Phase) {
	l.append(audit.KindAnalysis, model, version, stage, audit.AnalysisPayload{DeploymentID: id, BaseRef: "main",
		State: analysis.State{Phase: phase}})
}

func (l *ledger) runs(model, stage string) []rollout.Run {
	l.t.Helper()
	runs, err := rollout.Ledger{Log: l.db}.Runs(l.t.Context(), repo, "main", model, stage)
	if err != nil {
		l.t.Fatal(err)
	}
	return runs
}

func TestRunsFromRecords(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		l := newLedger(t, dsn)
		start := l.now
		l.deploy(1, "main", "fraud", "1.0.0", "staging")
		l.now = start.Add(time.Minute)
		l.status(1, "fraud", "1.0.0", "staging", deploy.InProgress, "")
		l.now = start.Add(2 * time.Minute)
		// A success naming another artifact does not start the soak.
		l.status(1, "fraud", "1.0.0", "staging", deploy.Success, audit.RefusedDigestMismatch)
		l.now = start.Add(3 * time.Minute)
		l.status(1, "fraud", "1.0.0", "staging", deploy.Success, "")
		l.analysis(1, "fraud", "1.0.0", "staging", analysis.Running)
		// Another model, another stage and another branch are other runs.
		l.deploy(2, "main", "churn", "3.0.0", "staging")
		l.deploy(3, "main", "fraud", "1.0.0", "production")
		l.deploy(4, "release/1", "fraud", "0.9.0", "staging")

		runs := l.runs("fraud", "staging")
		if len(runs) != 1 {
			t.Fatalf("%d runs of fraud in staging on main; want 1: %+v", len(runs), runs)
		}
		r := runs[0]
		if r.DeploymentID != 1 || r.State != deploy.Success || !r.Deployed.Equal(start.Add(3*time.Minute)) || !r.Current() || r.Good() {
			t.Errorf("run %+v; want deployment 1 deployed at +3m, current, not good while its analysis runs", r)
		}
		if ok, _, why := r.Ready(time.Hour, start.Add(2*time.Hour)); ok || why == "" {
			t.Errorf("ready with the analysis running: %v %q", ok, why)
		}

		l.now = start.Add(30 * time.Minute)
		l.analysis(1, "fraud", "1.0.0", "staging", analysis.Successful)
		r = l.runs("fraud", "staging")[0]
		if ok, at, _ := r.Ready(time.Hour, start.Add(time.Hour)); ok || !at.Equal(start.Add(63*time.Minute)) {
			t.Errorf("Ready before the soak's end = %v, %v; want false, at +63m", ok, at)
		}
		if ok, _, why := r.Ready(time.Hour, start.Add(63*time.Minute)); !ok {
			t.Errorf("not ready at the soak's end: %s", why)
		}

		// The next version's deployment ends the run; its failure makes it
		// no version to roll back to, and leaves 1.0.0 the good one.
		l.now = start.Add(2 * time.Hour)
		l.deploy(5, "main", "fraud", "1.1.0", "staging")
		l.now = start.Add(3 * time.Hour)
		l.status(5, "fraud", "1.1.0", "staging", deploy.Success, "")
		l.now = start.Add(4 * time.Hour)
		l.status(5, "fraud", "1.1.0", "staging", deploy.Failure, "")
		runs = l.runs("fraud", "staging")
		if len(runs) != 2 || !runs[0].Ended.Equal(start.Add(2*time.Hour)) || runs[1].Good() {
			t.Fatalf("runs %+v; want 1.0.0 ended at +2h and 1.1.0 not good", runs)
		}
		if ok, _, _ := runs[0].Ready(time.Hour, start.Add(5*time.Hour)); ok {
			t.Error("a replaced run is ready to move on")
		}
		good, ok := rollout.PreviousGood(runs, "1.1.0")
		if !ok || good.Version != "1.0.0" {
			t.Errorf("PreviousGood = %+v, %v; want 1.0.0", good, ok)
		}
		if _, ok := rollout.PreviousGood(runs, "1.0.0"); ok {
			t.Error("a version that failed in the stage counts as good")
		}

		run, ok, err := rollout.Ledger{Log: l.db}.Run(t.Context(), repo, 5)
		if err != nil || !ok || run.Version != "1.1.0" || run.Failed.IsZero() {
			t.Errorf("Run(5) = %+v, %v, %v", run, ok, err)
		}
		all, err := rollout.Ledger{Log: l.db}.Repository(t.Context(), repo, "main")
		if err != nil || len(all) != 4 {
			t.Errorf("Repository = %d runs, %v; want 4 on main", len(all), err)
		}
	})
}

func TestAnalysisFailureIsNeverGood(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		l := newLedger(t, dsn)
		l.deploy(1, "main", "fraud", "1.0.0", "staging")
		l.status(1, "fraud", "1.0.0", "staging", deploy.Success, "")
		l.analysis(1, "fraud", "1.0.0", "staging", analysis.Inconclusive)
		l.now = l.now.Add(time.Hour)
		l.deploy(2, "main", "fraud", "1.1.0", "staging")
		if r, ok := rollout.PreviousGood(l.runs("fraud", "staging"), "1.1.0"); ok {
			t.Errorf("PreviousGood = %+v; an inconclusive analysis is no pass", r)
		}
	})
}

func TestProjectNamesTheBadRecord(t *testing.T) {
	rec := audit.Record{Seq: 9, Entry: audit.Entry{Kind: audit.KindDeployment, Payload: json.RawMessage(`{"deployment_id":"x"}`)}}
	if _, err := rollout.Project([]audit.Record{rec}, nil, nil, nil); err == nil {
		t.Fatal("a malformed deployment record was read")
	} else if got := err.Error(); !strings.HasPrefix(got, "audit record 9 (deployment)") {
		t.Errorf("error %q does not name the record", got)
	}
}

// Deployments rebuilt from GitHub into a new store are recorded long after
// they were created: a run starts, and ends the one before, when GitHub
// created its deployment.
func TestRebuiltRunsKeepGitHubsTimes(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		l := newLedger(t, dsn)
		start := l.now
		l.now = start.Add(48 * time.Hour) // the rebuild
		for i, version := range []string{"1.0.0", "1.1.0"} {
			created := start.Add(time.Duration(i) * time.Hour)
			l.append(audit.KindDeployment, "fraud", version, "production", audit.DeploymentPayload{DeploymentID: int64(i + 1),
				Environment: "production", Ref: "abc", BaseRef: "main", Deployment: deploy.Payload{Model: "fraud", Version: version},
				Rebuilt: true, CreatedAt: created})
			l.append(audit.KindDeploymentStatus, "fraud", version, "production", audit.DeploymentStatusPayload{DeploymentID: int64(i + 1),
				StatusID: int64(10 + i), State: string(deploy.Success), BaseRef: "main", CreatedAt: created.Add(time.Minute)})
		}
		runs := l.runs("fraud", "production")
		if len(runs) != 2 || !runs[0].Created.Equal(start) || !runs[0].Deployed.Equal(start.Add(time.Minute)) ||
			!runs[0].Ended.Equal(start.Add(time.Hour)) || !runs[1].Created.Equal(start.Add(time.Hour)) || !runs[1].Current() {
			t.Fatalf("runs %+v; want 1.0.0 from GitHub's times, ended when 1.1.0 was created", runs)
		}
	})
}

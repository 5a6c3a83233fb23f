package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

var statusNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// statusStore writes the records the App writes through a real store whose
// clock each record sets.
type statusStore struct {
	t  *testing.T
	db *sqlstore.DB
}

func newStatusStore(t *testing.T, dsn string) *statusStore {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &statusStore{t: t, db: db}
}

func (s *statusStore) append(at time.Time, kind audit.Kind, repo, model, version, stage string, payload any) {
	s.t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		s.t.Fatal(err)
	}
	s.db.Now = func() time.Time { return at }
	if _, err := s.db.Append(context.Background(), audit.Entry{Kind: kind, Repository: repo, Model: model, Version: version,
		Stage: stage, HeadSHA: "abc", Actor: "modelgate[bot]", Payload: raw}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *statusStore) deploy(at time.Time, id int64, repo, branch, model, version, stage string) {
	s.append(at, audit.KindDeployment, repo, model, version, stage, audit.DeploymentPayload{DeploymentID: id, Environment: stage,
		Ref: "abc", BaseRef: branch, Deployment: deploy.Payload{Model: model, Version: version}})
}

func (s *statusStore) status(at time.Time, id int64, repo, model, version, stage string, state deploy.State) {
	s.append(at, audit.KindDeploymentStatus, repo, model, version, stage, audit.DeploymentStatusPayload{DeploymentID: id,
		StatusID: at.Unix(), State: string(state), BaseRef: "main", CreatedAt: at})
}

func (s *statusStore) analysis(at time.Time, id int64, repo, model, version, stage string, phase analysis.Phase) {
	s.append(at, audit.KindAnalysis, repo, model, version, stage, audit.AnalysisPayload{DeploymentID: id, BaseRef: "main",
		State: analysis.State{Phase: phase, Started: at}})
}

// runStatusAt runs modelgate status with the clock at statusNow.
func runStatusAt(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &cli{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }, now: func() time.Time { return statusNow }}
	code = c.run(context.Background(), append([]string{"status"}, args...))
	return code, out.String(), errOut.String()
}

func statusJSON(t *testing.T, args ...string) statusReport {
	t.Helper()
	code, stdout, stderr := runStatusAt(t, append(args, "--format", "json")...)
	if code != exitOK {
		t.Fatalf("status %v: exit %d %s", args, code, stderr)
	}
	var r statusReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("status --format json: %v\n%s", err, stdout)
	}
	return r
}

func row(t *testing.T, r statusReport, model, stage string) statusRow {
	t.Helper()
	for _, row := range r.Rows {
		if row.Model == model && row.Stage == stage {
			return row
		}
	}
	t.Fatalf("no row for %s in %s: %+v", model, stage, r.Rows)
	return statusRow{}
}

func TestStatus(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		s := newStatusStore(t, dsn)
		const repo = "acme/models"
		day := statusNow.Add(-48 * time.Hour)
		// fraud-detector: 2.2.0 in dev, then in staging, replaced there by
		// 2.3.0, deployed 2h ago, its analysis running; production failed.
		s.deploy(day, 1, repo, "main", "fraud-detector", "2.2.0", "dev")
		s.status(day.Add(time.Minute), 1, repo, "fraud-detector", "2.2.0", "dev", deploy.Success)
		s.deploy(day.Add(time.Hour), 2, repo, "main", "fraud-detector", "2.2.0", "staging")
		s.status(day.Add(time.Hour+time.Minute), 2, repo, "fraud-detector", "2.2.0", "staging", deploy.Success)
		s.deploy(statusNow.Add(-3*time.Hour), 3, repo, "main", "fraud-detector", "2.3.0", "staging")
		s.status(statusNow.Add(-2*time.Hour), 3, repo, "fraud-detector", "2.3.0", "staging", deploy.Success)
		s.analysis(statusNow.Add(-2*time.Hour), 3, repo, "fraud-detector", "2.3.0", "staging", analysis.Running)
		s.deploy(statusNow.Add(-time.Hour), 4, repo, "main", "fraud-detector", "2.1.0", "production")
		s.status(statusNow.Add(-time.Hour), 4, repo, "fraud-detector", "2.1.0", "production", deploy.Failure)
		// churn: created in dev, no status yet.
		s.deploy(statusNow.Add(-time.Minute), 5, repo, "main", "churn", "1.0.0", "dev")

		db := dsn
		empty := t.TempDir() // no .modelgate/config.yaml: the default stages
		r := statusJSON(t, "--database", db, "--repo", empty)
		if r.Repository != repo || r.Branch != "main" || !r.Now.Equal(statusNow) || len(r.Rows) != 6 {
			t.Fatalf("report of %s on %s at %s with %d rows; want %s on main, two models × three stages:\n%+v", r.Repository, r.Branch, r.Now, len(r.Rows), repo, r.Rows)
		}
		if r.Rows[0].Model != "churn" || r.Rows[0].Stage != "dev" || r.Rows[2].Stage != "production" || r.Rows[3].Model != "fraud-detector" {
			t.Errorf("rows not by model, then stage in the config's order: %+v", r.Rows)
		}
		staging := row(t, r, "fraud-detector", "staging")
		if staging.Version != "2.3.0" || staging.Since != "2026-11-23T10:00:00Z" || staging.Deployment != "success" || !staging.Current ||
			staging.Soak != "24h0m0s" || staging.SoakLeft != "22h0m0s" || staging.Analysis != "Running" || staging.DeploymentID != 3 {
			t.Errorf("fraud-detector in staging: %+v; want 2.3.0 since its success 2h ago, 22h of soak left, analysis Running", staging)
		}
		if dev := row(t, r, "fraud-detector", "dev"); dev.Version != "2.2.0" || dev.SoakLeft != "0s" || dev.Analysis != "" {
			t.Errorf("fraud-detector in dev: %+v; want 2.2.0, no soak left, no analysis", dev)
		}
		if prod := row(t, r, "fraud-detector", "production"); prod.Deployment != "failure" || prod.SoakLeft != "" || prod.Since != "" {
			t.Errorf("fraud-detector in production: %+v; want a failure, no soak", prod)
		}
		if churn := row(t, r, "churn", "dev"); churn.Version != "1.0.0" || churn.Deployment != "" || churn.Since != "" || churn.SoakLeft != "" {
			t.Errorf("churn in dev: %+v; want 1.0.0 created, not yet deployed", churn)
		}
		if none := row(t, r, "churn", "staging"); none.Version != "" || none.Soak != "24h0m0s" {
			t.Errorf("churn in staging: %+v; want no run, the stage's soak", none)
		}

		// The soak comes from the checkout's config.
		cfgDir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(cfgDir, ".modelgate"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfgDir, ".modelgate", "config.yaml"), []byte("stages:\n  - {name: dev}\n  - {name: staging, soak: 3h}\n  - {name: production, soak: 72h}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r = statusJSON(t, "--database", db, "--repo", cfgDir, "--model", "fraud-detector")
		if len(r.Rows) != 3 || row(t, r, "fraud-detector", "staging").SoakLeft != "1h0m0s" {
			t.Errorf("--model fraud-detector with a 3h soak in staging: %+v; want three rows, 1h left in staging", r.Rows)
		}

		code, stdout, stderr := runStatusAt(t, "--database", db, "--repo", empty)
		if code != exitOK {
			t.Fatalf("status: exit %d %s", code, stderr)
		}
		for _, want := range []string{"acme/models on main", "MODEL", "SOAK LEFT", "2.3.0", "22h0m0s", "Running", "failure", "created", "done"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("the table lacks %q:\n%s", want, stdout)
			}
		}
		for _, line := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(line, "fraud-detector  staging") && !strings.Contains(line, "2026-11-23T10:00:00Z") {
				t.Errorf("the staging row does not say since when: %q", line)
			}
		}

		// A second repository must be named; its only branch is the default.
		s.deploy(statusNow, 6, "acme/other", "trunk", "fraud-detector", "9.0.0", "dev")
		if code, _, stderr := runStatusAt(t, "--database", db, "--repo", empty); code != exitCantRun || !strings.Contains(stderr, "acme/models, acme/other") || !strings.Contains(stderr, "--repository") {
			t.Errorf("two repositories without --repository: exit %d %q; want one naming both and the flag", code, stderr)
		}
		r = statusJSON(t, "--database", db, "--repo", empty, "--repository", "acme/other")
		if r.Branch != "trunk" || len(r.Rows) != 3 || row(t, r, "fraud-detector", "dev").Version != "9.0.0" {
			t.Errorf("acme/other: %+v; want its only branch trunk and 9.0.0 in dev", r)
		}
		r = statusJSON(t, "--database", db, "--repo", empty, "--repository", "acme/other", "--branch", "main")
		if len(r.Rows) != 0 {
			t.Errorf("acme/other on main: %+v; want no rows", r.Rows)
		}
		if code, stdout, _ := runStatusAt(t, "--database", db, "--repo", empty, "--repository", "acme/none"); code != exitOK || !strings.Contains(stdout, "no deployments recorded for acme/none on main") {
			t.Errorf("a repository without deployments: exit %d %q", code, stdout)
		}
	})
}

func TestStatusRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".modelgate"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".modelgate", "config.yaml"), []byte("stages: [{name: rollback}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "audit.db")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--database", db, "--repo", t.TempDir()}, "no such database"},
		{[]string{"--database", db, "--repo", dir}, "stages[0].name"},
		{[]string{"--format", "yaml"}, "expected one of text, json"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		if code, _, stderr := runStatusAt(t, tt.args...); code != exitCantRun || !strings.Contains(stderr, tt.want) {
			t.Errorf("status %v: exit %d %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

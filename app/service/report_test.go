package service_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/compliance"
	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/pdftest"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// The compliance report of what the App did: its deployments, soaks and
// rollbacks as its own records tell them.

// reports renders fraud-detector's report as of the emulator's clock in
// every format, the PDF as the text pdftotext reads of it.
func (w *world) reports() (*compliance.Report, map[string]string) {
	w.t.Helper()
	rep, err := compliance.Load(w.t.Context(), w.db, compliance.Query{Model: "fraud-detector"}, w.gh.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]string{}
	for _, format := range []string{compliance.FormatMarkdown, compliance.FormatHTML, compliance.FormatJSON, compliance.FormatPDF} {
		var buf bytes.Buffer
		if err := rep.Render(&buf, format); err != nil {
			w.t.Fatal(err)
		}
		out[format] = buf.String()
	}
	out[compliance.FormatPDF] = pdftest.Text(w.t, []byte(out[compliance.FormatPDF]))
	return rep, out
}

func stateOf(rep *compliance.Report, version, stage string) compliance.StageState {
	for _, st := range rep.Summary {
		if st.Version == version && st.Stage == stage {
			return st
		}
	}
	return compliance.StageState{}
}

// TestReportOfASoak: a version soaks from its deployment's success for the
// soak its stage's config set, and is deployed once the soak is over.
func TestReportOfASoak(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, stagedOptions(t, "24h", "command", ""))
		w.deployedToStaging(deploy.Success)
		deps := payloads[audit.DeploymentPayload](t, w.records(audit.Filter{Kind: audit.KindDeployment}))
		if len(deps) != 1 || deps[0].Soak != "24h0m0s" {
			t.Fatalf("deployment records %+v; want staging's soak of 24h recorded", deps)
		}
		rep, out := w.reports()
		st := stateOf(rep, "2.3.0", "staging")
		if st.State != compliance.StateSoaking || st.SoakEnds == nil || !st.SoakEnds.Equal(st.Since.Add(24*time.Hour)) {
			t.Fatalf("2.3.0 in staging: %+v; want soaking for 24h from its success", st)
		}
		until := "soaking until " + st.SoakEnds.Format(time.RFC3339)
		for _, format := range []string{compliance.FormatMarkdown, compliance.FormatHTML, compliance.FormatPDF} {
			if !strings.Contains(out[format], until) {
				t.Errorf("%s report lacks %q:\n%s", format, until, out[format])
			}
		}
		if !strings.Contains(out[compliance.FormatJSON], `"soak_ends": "`+st.SoakEnds.Format(time.RFC3339)) {
			t.Errorf("JSON report lacks soak_ends:\n%s", out[compliance.FormatJSON])
		}

		w.tick(23*time.Hour + 59*time.Minute)
		if rep, _ := w.reports(); stateOf(rep, "2.3.0", "staging").State != compliance.StateSoaking {
			t.Errorf("a minute before the soak's end: %+v; want soaking", stateOf(rep, "2.3.0", "staging"))
		}
		w.tick(time.Minute)
		rep, out = w.reports()
		if st := stateOf(rep, "2.3.0", "staging"); st.State != compliance.StateDeployed || st.SoakEnds != nil {
			t.Errorf("at the soak's end: %+v; want deployed", st)
		}
		if strings.Contains(out[compliance.FormatJSON], "soak_ends") {
			t.Errorf("a deployed version has a soak's end:\n%s", out[compliance.FormatJSON])
		}
	})
}

// TestReportOfARollback: the App's rollback of a failed deployment, merged
// on its approval, shows the failed version rolled back, in every format,
// and the decision as a rollback.
func TestReportOfARollback(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, stagedOptions(t, "0s", "auto", ""))
		w.seedRun("staging")
		w.deployedToStaging(deploy.Failure)
		prs := w.appPulls()
		if len(prs) != 1 {
			t.Fatalf("the App opened %d pull requests; want the rollback: %+v", len(prs), prs)
		}
		w.approve(prs[0].Number, "dave")
		w.settle()
		if !w.gh.PullRequest(repoName, prs[0].Number).Merged {
			t.Fatal("the rollback was not merged on its approval")
		}

		rep, out := w.reports()
		if st := stateOf(rep, "2.3.0", "staging"); st.State != compliance.StateRolledBack {
			t.Errorf("2.3.0 in staging: %+v; want rolled back", st)
		}
		if st := stateOf(rep, "2.2.0", "staging"); st.State != compliance.StateMerged {
			t.Errorf("2.2.0 in staging: %+v; want merged back", st)
		}
		var rollback *compliance.Proposal
		for _, v := range rep.Versions {
			for _, s := range v.Stages {
				for i, p := range s.Proposals {
					if v.Version == "2.2.0" && s.Stage == "staging" && p.PullRequest == prs[0].Number {
						rollback = &s.Proposals[i]
					}
				}
			}
		}
		if rollback == nil || !rollback.Rollback || rollback.Replaced != "2.3.0" || rollback.Status != compliance.StatusMerged {
			t.Fatalf("the rollback's proposal: %+v", rollback)
		}
		for _, format := range []string{compliance.FormatMarkdown, compliance.FormatHTML, compliance.FormatPDF} {
			for _, want := range []string{"rolled back", "Rollback: yes", "Replaces: 2.3.0"} {
				if !strings.Contains(out[format], want) {
					t.Errorf("%s report lacks %q:\n%s", format, want, out[format])
				}
			}
		}
		var doc struct {
			Summary []struct{ Version, Stage, State string }
		}
		if err := json.Unmarshal([]byte(out[compliance.FormatJSON]), &doc); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, st := range doc.Summary {
			found = found || st.Version == "2.3.0" && st.Stage == "staging" && st.State == "rolled back"
		}
		if !found || !strings.Contains(out[compliance.FormatJSON], `"rollback": true`) {
			t.Errorf("JSON report does not show the rollback:\n%s", out[compliance.FormatJSON])
		}
	})
}

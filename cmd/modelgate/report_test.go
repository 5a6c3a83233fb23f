package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/pdftest"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/internal/sqlstore"
)

const mergeCommit = "9f3c2e1d0b8a7f6e5d4c3b2a1908f7e6d5c4b3a2"

// gatedAndMerged runs the gate on the example promotion of fraud-detector
// 2.3.0 to production, then records its merge and deployment as the App
// would. It returns the database and the gate's result.
func gatedAndMerged(t *testing.T) (db string, res gateOutput) {
	t.Helper()
	r := promotionRepo(t)
	db = filepath.Join(t.TempDir(), "audit.db")
	code, stdout, stderr := runCLI(t, "gate", "--repo", r.Dir, "--base", "main", "--head", "promote",
		"--author", "alice", "--approved-by", "bob:compliance", "--approved-by", "carol", "--format", "json", "--database", db)
	if code != exitOK {
		t.Fatalf("gate exit %d\n%s%s", code, stdout, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := sqlstore.OpenExisting(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, e := range []audit.Entry{
		{Kind: audit.KindMerge, Actor: "alice", Payload: json.RawMessage(`{"method":"squash","merge_commit_sha":"` + mergeCommit + `","base_ref":"main"}`)},
		{Kind: audit.KindDeployment, Actor: "deploy-bot", Payload: json.RawMessage(`{"environment":"prod-eu","status":"success"}`)},
	} {
		e.Repository, e.Model, e.Version, e.Stage, e.HeadSHA = res.Repository, "fraud-detector", "2.3.0", "production", res.Head
		if _, err := store.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return db, res
}

type gateOutput struct {
	Repository   string `json:"repository"`
	Head         string `json:"head_sha"`
	BundleDigest string `json:"bundle_digest"`
}

func TestAuditReport(t *testing.T) {
	db, res := gatedAndMerged(t)
	wants := []string{
		"Proposed by: alice",
		"Merged (squash) into main as commit " + mergeCommit, res.BundleDigest, "Replaces: 2.2.0",
		"Fairness by sex: disparate impact ratio 0.9114", "Audit chain intact: 3 records verified.",
		"record #1", "record #2", "deployment by deploy-bot",
	}
	rows := map[string][]string{
		"md": {"| bob | compliance | " + res.Head[:12] + " | yes | record #1 |", "| carol | (none) | " + res.Head[:12] + " | yes |", "| accuracy | 0.904 |"},
		"html": {"<td>bob</td><td>compliance</td><td>" + res.Head[:12] + "</td><td>yes</td>", "<td>accuracy</td><td>0.904</td>",
			"<svg xmlns=\"http://www.w3.org/2000/svg\"", "<title>Fairness by sex</title>"},
	}
	for _, format := range []string{"md", "html"} {
		t.Run(format, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "audit", "report", "--model", "fraud-detector", "--format", format, "--database", db)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, want := range append(wants, rows[format]...) {
				if !strings.Contains(stdout, want) {
					t.Errorf("report lacks %q:\n%s", want, stdout)
				}
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "audit", "report", "--model", "fraud-detector", "--version", "2.3.0", "--format", "json", "--database", db)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var rep struct {
			Chain struct {
				Intact   bool  `json:"intact"`
				Verified int64 `json:"verified_records"`
			} `json:"chain"`
			Versions []struct {
				Stages []struct {
					Stage     string `json:"stage"`
					Proposals []struct {
						Author    string `json:"author"`
						Replaced  string `json:"replaced"`
						Status    string `json:"status"`
						Decisions []struct {
							Seq          int64 `json:"seq"`
							Allow        bool  `json:"allow"`
							BundleDigest string
							Approvals    []struct{ User string } `json:"approvals"`
						} `json:"decisions"`
						Merges []struct {
							Seq       int64  `json:"seq"`
							CommitSHA string `json:"merge_commit_sha"`
						} `json:"merges"`
					} `json:"proposals"`
					Events []struct {
						Kind string `json:"kind"`
					} `json:"events"`
				} `json:"stages"`
			} `json:"versions"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatal(err)
		}
		st := rep.Versions[0].Stages[0]
		p := st.Proposals[0]
		if !rep.Chain.Intact || rep.Chain.Verified != 3 || st.Stage != "production" || p.Author != "alice" || p.Replaced != "2.2.0" ||
			p.Status != "merged" || len(p.Decisions) != 1 || !p.Decisions[0].Allow || len(p.Decisions[0].Approvals) != 2 ||
			p.Merges[0].Seq != 2 || p.Merges[0].CommitSHA != mergeCommit || len(st.Events) != 1 || st.Events[0].Kind != "deployment" {
			t.Errorf("report:\n%s", stdout)
		}
	})

	t.Run("pdf", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "report.pdf")
		code, stdout, stderr := runCLI(t, "audit", "report", "--model", "fraud-detector", "--format", "pdf", "--out", out, "--database", db)
		if code != exitOK || stdout != "" {
			t.Fatalf("exit %d, stdout %q: %s", code, stdout, stderr)
		}
		pdf, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(pdf), "%PDF-") || !strings.HasSuffix(strings.TrimSpace(string(pdf)), "%%EOF") {
			t.Fatalf("not a PDF: %q", pdf[:min(len(pdf), 40)])
		}
		flat := strings.Join(pdftest.Pages(t, pdf), " ")
		for _, want := range append(wants, "bob compliance "+res.Head[:12]+" yes record #1", "accuracy 0.904") {
			if !strings.Contains(flat, want) {
				t.Errorf("PDF lacks %q:\n%s", want, flat)
			}
		}
	})
}

func TestAuditReportOnATamperedLog(t *testing.T) {
	db, _ := gatedAndMerged(t)
	sqlDB, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	if _, err := sqlDB.Exec(`UPDATE audit_records SET payload = replace(payload, 'squash', 'rebase') WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "audit", "report", "--model", "fraud-detector", "--format", "md", "--database", db)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"AUDIT CHAIN BROKEN at record #2: digest mismatch (record edited)", "Merged (rebase)", "(record #2, UNVERIFIED)", "(record #1)*"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runCLI(t, "audit", "report", "--model", "fraud-detector", "--format", "json", "--database", db)
	if code != exitOK || !strings.Contains(stdout, `"intact": false`) || !strings.Contains(stdout, `"first_bad_seq": 2`) {
		t.Errorf("exit %d, JSON report:\n%s", code, stdout)
	}
}

func TestAuditReportCannotRun(t *testing.T) {
	db, _ := gatedAndMerged(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing database", []string{"--model", "fraud-detector", "--database", filepath.Join(t.TempDir(), "typo.db")}, "no such database"},
		{"unknown model", []string{"--model", "nope", "--database", db}, "no audit records for model nope"},
		{"unknown version", []string{"--model", "fraud-detector", "--version", "9.9.9", "--database", db}, "no audit records for model fraud-detector version 9.9.9"},
		{"no model", []string{"--database", db}, "--model is required"},
		{"bad format", []string{"--model", "fraud-detector", "--format", "docx", "--database", db}, "expected one of html, md, json, pdf"},
		{"stray argument", []string{"--model", "fraud-detector", "--database", db, "extra"}, `unexpected argument "extra"`},
		{"unwritable output", []string{"--model", "fraud-detector", "--database", db, "--out", filepath.Join(t.TempDir(), "no", "such", "dir.html")}, "write compliance report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"audit", "report"}, tt.args...)...)
			if code != exitCantRun || stdout != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing", code, stdout, exitCantRun)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q, want %q", stderr, tt.want)
			}
		})
	}
}

func TestAuditReportHelp(t *testing.T) {
	code, stdout, _ := runCLI(t, "audit", "report", "--help")
	if code != exitOK || !strings.Contains(stdout, "modelgate audit report --model NAME") || !strings.Contains(stdout, "--format html|md|json|pdf") {
		t.Errorf("exit %d, help %q", code, stdout)
	}
	if code, stdout, _ := runCLI(t, "audit", "--help"); code != exitOK || !strings.Contains(stdout, "report") {
		t.Errorf("audit --help: exit %d, %q", code, stdout)
	}
}

// TestAuditReportNamesAndTamperingInEveryFormat gates a promotion approved
// by reviewers whose names are not ASCII, tampers with the store, and checks
// that every format shows the names as written and the broken chain, the
// PDF on every page.
func TestAuditReportNamesAndTamperingInEveryFormat(t *testing.T) {
	r := promotionRepo(t)
	db := filepath.Join(t.TempDir(), "audit.db")
	names := []string{"Łukasz Żółć", "Ελένη Παπαδοπούλου", "Иван Петров"}
	args := []string{"gate", "--repo", r.Dir, "--base", "main", "--head", "promote", "--author", "alice", "--format", "json", "--database", db}
	for _, n := range names {
		args = append(args, "--approved-by", n+":compliance")
	}
	if code, stdout, stderr := runCLI(t, args...); code != exitOK {
		t.Fatalf("gate exit %d\n%s%s", code, stdout, stderr)
	}
	report := func(format string) string { return reportFile(t, db, format) }
	pages := func() []string { return pdftest.Pages(t, []byte(report("pdf"))) }
	for _, format := range []string{"md", "html", "json"} {
		out := report(format)
		for _, n := range names {
			if !strings.Contains(out, n) {
				t.Errorf("%s report lacks %q", format, n)
			}
		}
	}
	if text := strings.Join(pages(), " "); !strings.Contains(text, names[0]+" compliance") || !strings.Contains(text, names[1]) || !strings.Contains(text, names[2]) {
		t.Errorf("PDF does not show the names as written:\n%s", text)
	}

	sqlDB, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	if _, err := sqlDB.Exec(`UPDATE audit_records SET payload = replace(payload, 'Иван', 'Ivan') WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	const broken = "AUDIT CHAIN BROKEN at record #1: digest mismatch (record edited)"
	for _, format := range []string{"md", "html"} {
		if out := report(format); strings.Count(out, broken) < 2 {
			t.Errorf("%s report does not open and close with the broken chain:\n%s", format, out)
		}
	}
	var rep struct {
		Schema string `json:"schema"`
		Chain  struct {
			Intact   bool  `json:"intact"`
			FirstBad int64 `json:"first_bad_seq"`
		} `json:"chain"`
	}
	if err := json.Unmarshal([]byte(report("json")), &rep); err != nil || rep.Schema != "modelgate.report/v1" || rep.Chain.Intact || rep.Chain.FirstBad != 1 {
		t.Errorf("JSON report: %+v, %v", rep, err)
	}
	ps := pages()
	for i, p := range ps {
		if !strings.Contains(p, broken) {
			t.Errorf("PDF page %d of %d lacks the broken chain:\n%s", i+1, len(ps), p)
		}
	}
}

// reportFile writes fraud-detector's compliance report in format from the
// database, checking a JSON one against schemas/report.cue.
func reportFile(t *testing.T, db, format string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report."+format)
	if code, _, stderr := runCLI(t, "audit", "report", "--model", "fraud-detector", "--format", format, "--out", out, "--database", db); code != exitOK {
		t.Fatalf("%s: exit %d: %s", format, code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if format == "json" {
		v, err := schema.New()
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := v.Decode(schema.Report, "report.json", b, &doc); err != nil {
			t.Errorf("the JSON report does not match #Report: %v", err)
		}
	}
	return string(b)
}

// reports writes fraud-detector's report in every format, the PDF as the
// text of its pages.
func reports(t *testing.T, db string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, format := range []string{"md", "html", "json"} {
		out[format] = reportFile(t, db, format)
	}
	out["pdf"] = strings.Join(pdftest.Pages(t, []byte(reportFile(t, db, "pdf"))), " ")
	return out
}

// gateRun runs the gate on the example promotion of fraud-detector 2.3.0 to
// production with the changes to main and to the promotion given, and
// returns the database it recorded in.
func gateRun(t *testing.T, mainEdits, promotionEdits func(*gittest.Repo), wantExit int) string {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	mainEdits(r)
	r.Commit("example repository", time.Now().Add(-96*time.Hour))
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	promotionEdits(r)
	r.Commit("promote fraud-detector 2.3.0 to production", time.Now())
	db := filepath.Join(t.TempDir(), "audit.db")
	code, stdout, stderr := runCLI(t, "gate", "--repo", r.Dir, "--base", "main", "--head", "promote",
		"--author", "alice", "--approved-by", "bob:compliance", "--approved-by", "carol", "--database", db)
	if code != wantExit {
		t.Fatalf("gate exit %d, want %d\n%s%s", code, wantExit, stdout, stderr)
	}
	return db
}

// message is a message of the JSON report.
type message struct {
	Code, Msg string
	Position  *policy.Position
}

// TestAuditReportOfABrokenManifest: a promotion whose manifest does not
// validate is denied, and the denial is in the model's report in every
// format, on the version the manifest's path names.
func TestAuditReportOfABrokenManifest(t *testing.T) {
	const manifest = "models/fraud-detector/2.3.0/model.yaml"
	db := gateRun(t, func(*gittest.Repo) {}, func(r *gittest.Repo) {
		b, err := os.ReadFile(filepath.Join(r.Dir, manifest))
		if err != nil {
			t.Fatal(err)
		}
		r.Write(manifest, strings.Replace(string(b), "riskTier: high", "riskTier: huge", 1))
	}, exitFailed)
	out := reports(t, db)
	for _, format := range []string{"md", "html", "pdf"} {
		for _, want := range []string{"Version 2.3.0", "DENIED", "change.invalid", manifest + ":7:13: metadata.riskTier: value"} {
			if !strings.Contains(out[format], want) {
				t.Errorf("%s report lacks %q:\n%s", format, want, out[format])
			}
		}
	}
	var doc struct {
		Summary  []struct{ Version, State string }
		Versions []struct {
			Version string
			Stages  []struct {
				Proposals []struct {
					Decisions []struct {
						Allow bool
						Deny  []message
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out["json"]), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Summary) != 1 || doc.Summary[0].Version != "2.3.0" || doc.Summary[0].State != "denied" ||
		len(doc.Versions) != 1 || doc.Versions[0].Version != "2.3.0" {
		t.Fatalf("JSON report:\n%s", out["json"])
	}
	d := doc.Versions[0].Stages[0].Proposals[0].Decisions[0]
	at := policy.Position{File: manifest, Line: 7, Column: 13}
	if d.Allow || len(d.Deny) == 0 || !slices.ContainsFunc(d.Deny, func(m message) bool {
		return m.Code == "change.invalid" && strings.HasPrefix(m.Msg, "metadata.riskTier") && m.Position != nil && *m.Position == at
	}) {
		t.Errorf("the decision %+v; want the manifest's denial", d)
	}
}

// TestAuditReportStatesAWaiverOnce: a waiver on the base branch turns the
// two denials of its code (one per sensitive attribute) into warnings, and
// every format states it once.
func TestAuditReportStatesAWaiverOnce(t *testing.T) {
	const reason = "interim while the 2026 sample is relabelled"
	db := gateRun(t, func(r *gittest.Repo) {
		b, err := os.ReadFile(filepath.Join(r.Dir, ".modelgate/config.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		r.Write(".modelgate/config.yaml", string(b)+"thresholds:\n  fairness: {disparateImpactMin: 0.95}\n")
		r.Write(".modelgate/waivers.yaml", "waivers:\n  - {model: fraud-detector, version: 2.3.0, code: fairness.disparate_impact, reason: "+
			reason+", approvedBy: risk-board, expires: \"2099-01-01\"}\n")
	}, func(*gittest.Repo) {}, exitOK)
	out := reports(t, db)
	for _, format := range []string{"md", "html", "pdf"} {
		if n := strings.Count(out[format], reason); n != 1 {
			t.Errorf("%s report states the waiver %d times, want once:\n%s", format, n, out[format])
		}
		code := "fairness.disparate_impact"
		if format == "md" {
			code = `fairness.disparate\_impact`
		}
		for _, want := range []string{code, "risk-board", "2099-01-01", "(waived)"} {
			if !strings.Contains(out[format], want) {
				t.Errorf("%s report lacks %q:\n%s", format, want, out[format])
			}
		}
	}
	// The JSON names the waiver in the decision's list of waivers and, as
	// structure, beside the warning it made; the message does not repeat it.
	var doc struct {
		Versions []struct {
			Stages []struct {
				Proposals []struct {
					Decisions []struct {
						Warn []struct {
							Code, Msg string
							Waiver    *struct{ Reason string }
						}
						Waivers []struct {
							Code, Reason string
						}
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out["json"]), &doc); err != nil {
		t.Fatal(err)
	}
	d := doc.Versions[0].Stages[0].Proposals[0].Decisions[0]
	if len(d.Waivers) != 1 || d.Waivers[0].Reason != reason || d.Waivers[0].Code != "fairness.disparate_impact" {
		t.Errorf("waivers %+v; want the one waiver once", d.Waivers)
	}
	waived := 0
	for _, w := range d.Warn {
		if w.Waiver != nil {
			waived++
			if strings.Contains(w.Msg, reason) || w.Waiver.Reason != reason {
				t.Errorf("waived warning %+v; want its waiver beside its message, not in it", w)
			}
		}
	}
	if waived != 2 {
		t.Errorf("%d waived warnings, want 2:\n%s", waived, out["json"])
	}
}

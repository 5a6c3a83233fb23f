package compliance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
)

// fakeStore is an audit store in memory.
type fakeStore struct {
	records []audit.Record
	broken  *audit.ChainError
}

func (s *fakeStore) Records(_ context.Context, f audit.Filter) ([]audit.Record, error) {
	var out []audit.Record
	for _, r := range s.records {
		if (f.Model == "" || r.Model == f.Model) && (f.Version == "" || r.Version == f.Version) &&
			(f.Repository == "" || r.Repository == f.Repository) && (f.PullRequest == 0 || r.PullRequest == f.PullRequest) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *fakeStore) Verify(context.Context) (int64, error) {
	if s.broken != nil {
		return s.broken.Seq - 1, s.broken
	}
	return int64(len(s.records)), nil
}

const (
	head1 = "1111111111111111111111111111111111111111"
	head2 = "2222222222222222222222222222222222222222"
	merge = "3333333333333333333333333333333333333333"
)

// decisionPayload is a decision as gate.Result.AuditEntries writes it.
func decisionPayload(allow bool, head, msg string) string {
	deny := `[]`
	if !allow {
		deny = `[{"code":"approvals.count","msg":` + quote(msg) + `,"package":"modelgate.approvals"}]`
	}
	return `{"base_sha":"abcabcabcabcabcabcabcabcabcabcabcabcabc",
	"pull_request":{"number":7,"author":"alice","head_sha":"` + head + `","base_ref":"main","labels":[],
		"approvals":[{"user":"bob","teams":["compliance"],"sha":"` + head + `"}],"committers":["alice"],"changed_files":["environments/production.yaml"]},
	"promotion":{"model":"churn","version":"1.4.0","from_version":"1.3.2","from_stage":"staging","to_stage":"production","rollback":false,"manifest_path":"models/churn/1.4.0/model.yaml"},
	"evidence":{"schema":"modelgate.evidence/v1","data":{"rows":3000,"contract":{"passed":true,"violations":[]}},
		"drift":{"columns":{"age":{"drifted":true},"income":{"drifted":false}},"share_drifted":0.5},
		"evaluation":{"metrics":{"accuracy":0.91,"roc_auc":0.87,"f1":null},"baseline":{"metrics":{"accuracy":0.9}}},
		"fairness":{"sex":{"disparate_impact_ratio":0.82,"equalized_odds_difference":0.04}}},
	"decision":{"allow":` + map[bool]string{true: "true", false: "false"}[allow] + `,"deny":` + deny + `,
		"warn":[{"code":"drift.share","msg":"drift above threshold (waived until 2099-01-01 by dana: seasonal)","package":"modelgate.drift",
			"waiver":{"model":"churn","code":"drift.share","reason":"seasonal","approvedBy":"dana","expires":"2099-01-01"}}],
		"bundle_digest":"sha256:bundle","input_digest":"sha256:input"},
	"bundle_digest":"sha256:bundle"}`
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// history is a pull request promoting churn 1.4.0 to production: denied for
// lack of approvals, approved, allowed on a new head, refused once, merged,
// deployed; with records of another model and another pull request around.
func history(t *testing.T, hostile string) *fakeStore {
	t.Helper()
	at := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	head := audit.Head{Digest: audit.GenesisDigest}
	s := &fakeStore{}
	add := func(e audit.Entry) {
		e, err := e.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		r := head.Next(at.Add(time.Duration(len(s.records))*time.Minute), e)
		s.records = append(s.records, r)
		head = r.Head()
	}
	pr := func(kind audit.Kind, actor, sha, payload string) audit.Entry {
		return audit.Entry{Kind: kind, Repository: "acme/models", Model: "churn", Version: "1.4.0", Stage: "production",
			PullRequest: 7, HeadSHA: sha, Actor: actor, Payload: json.RawMessage(payload)}
	}
	add(pr(audit.KindDecision, "alice", head1, decisionPayload(false, head1, hostile)))                                                                                   // 1
	add(audit.Entry{Kind: audit.KindPush, Repository: "acme/models", PullRequest: 7, HeadSHA: head2, Actor: "alice", Payload: json.RawMessage(`{"head_ref":"promote"}`)}) // 2
	add(audit.Entry{Kind: audit.KindApproval, Repository: "acme/models", PullRequest: 7, HeadSHA: head2, Actor: "bob",
		Payload: json.RawMessage(`{"review_id":99,"teams":["compliance"],"submitted_at":"2025-06-01T09:02:00Z"}`)}) // 3
	add(audit.Entry{Kind: audit.KindApproval, Repository: "acme/models", PullRequest: 8, HeadSHA: head2, Actor: "eve", Payload: json.RawMessage(`{}`)})          // 4: another pull request
	add(pr(audit.KindDecision, "alice", head2, decisionPayload(true, head2, "")))                                                                                // 5
	add(pr(audit.KindMergeRefused, "alice", head2, `{"method":"squash","reason":"base branch was modified"}`))                                                   // 6
	add(audit.Entry{Kind: audit.KindDecision, Repository: "acme/models", Model: "fraud", Version: "2.0.0", Stage: "production", PullRequest: 7, Actor: "alice"}) // 7
	add(pr(audit.KindMerge, "alice", head2, `{"method":"squash","merge_commit_sha":"`+merge+`","base_ref":"main"}`))                                             // 8
	add(pr(audit.KindDeployment, "deployer", merge, `{"environment":"prod-eu","status":"success"}`))                                                             // 9
	return s
}

func load(t *testing.T, s *fakeStore, version string) *Report {
	t.Helper()
	rep, err := Load(context.Background(), s, Query{Model: "churn", Version: version}, time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestLoad(t *testing.T) {
	rep := load(t, history(t, "needs 2 approvals"), "")
	if !rep.Chain.Intact || rep.Chain.Verified != 9 {
		t.Errorf("chain = %+v, want intact with 9 records", rep.Chain)
	}
	if len(rep.Versions) != 1 || len(rep.Versions[0].Stages) != 1 {
		t.Fatalf("versions = %+v, want 1.4.0 in production", rep.Versions)
	}
	st := rep.Versions[0].Stages[0]
	if st.Stage != "production" || len(st.Proposals) != 1 {
		t.Fatalf("stage = %+v, want one proposal in production", st)
	}
	p := st.Proposals[0]
	if p.Repository != "acme/models" || p.PullRequest != 7 || p.Author != "alice" || p.BaseRef != "main" ||
		p.HeadSHA != head2 || p.Replaced != "1.3.2" || p.FromStage != "staging" || p.Status != StatusMerged {
		t.Errorf("proposal = %+v", p)
	}
	if len(p.Decisions) != 2 || p.Decisions[0].Seq != 1 || p.Decisions[0].Allow || p.Decisions[1].Seq != 5 || !p.Decisions[1].Allow {
		t.Fatalf("decisions = %+v, want records 1 (deny) and 5 (allow)", p.Decisions)
	}
	d := p.Decisions[1]
	if d.BundleDigest != "sha256:bundle" || d.InputDigest != "sha256:input" || len(d.Approvals) != 1 || d.Approvals[0].User != "bob" {
		t.Errorf("decision = %+v", d)
	}
	if len(d.Warn) != 1 || d.Warn[0].Waiver == nil || d.Warn[0].Waiver.ApprovedBy != "dana" {
		t.Errorf("warnings = %+v, want the waived drift warning", d.Warn)
	}
	e := d.Evidence
	if e == nil || *e.ShareDrifted != 0.5 || len(e.DriftedColumns) != 1 || e.DriftedColumns[0] != "age" ||
		len(e.Metrics) != 3 || e.Metrics[0].Name != "accuracy" || *e.Metrics[0].Baseline != 0.9 || e.Metrics[1].Value != nil ||
		len(e.Fairness) != 1 || *e.Fairness[0].DisparateImpactRatio != 0.82 {
		t.Errorf("evidence = %+v", e)
	}
	if len(p.Approvals) != 1 || p.Approvals[0].Seq != 3 || p.Approvals[0].User != "bob" || p.Approvals[0].ReviewID != 99 {
		t.Errorf("approvals = %+v, want bob's (record 3) and not eve's on another pull request", p.Approvals)
	}
	if len(p.Pushes) != 1 || p.Pushes[0].User != "alice" {
		t.Errorf("pushes = %+v", p.Pushes)
	}
	if len(p.Refusals) != 1 || p.Refusals[0].Seq != 6 || len(p.Merges) != 1 || p.Merges[0].CommitSHA != merge || p.Merges[0].Seq != 8 {
		t.Errorf("refusals = %+v, merges = %+v", p.Refusals, p.Merges)
	}
	if len(st.Events) != 1 || st.Events[0].Kind != audit.KindDeployment || st.Events[0].Seq != 9 {
		t.Errorf("events = %+v, want the deployment", st.Events)
	}
}

func TestLoadOneVersion(t *testing.T) {
	s := history(t, "x")
	if _, err := Load(context.Background(), s, Query{Model: "churn", Version: "9.9.9"}, time.Now()); !errors.Is(err, ErrNoRecords) ||
		!strings.Contains(err.Error(), "churn version 9.9.9") {
		t.Errorf("Load of a version without records: %v, want ErrNoRecords", err)
	}
	if _, err := Load(context.Background(), s, Query{Model: "nope"}, time.Now()); !errors.Is(err, ErrNoRecords) {
		t.Errorf("Load of an unknown model: %v, want ErrNoRecords", err)
	}
	if rep := load(t, s, "1.4.0"); rep.Version != "1.4.0" || len(rep.Versions) != 1 {
		t.Errorf("report of 1.4.0 = %+v", rep)
	}
}

func TestBrokenChainIsReportedAndMarked(t *testing.T) {
	s := history(t, "x")
	s.broken = &audit.ChainError{Seq: 5, Reason: "digest mismatch (record edited)"}
	rep := load(t, s, "")
	if rep.Chain.Intact || rep.Chain.FirstBad != 5 || rep.Chain.Verified != 4 {
		t.Errorf("chain = %+v, want broken at 5", rep.Chain)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, want := range []string{"AUDIT CHAIN BROKEN at record #5: digest mismatch (record edited)", "(record #1)", "(record #5, UNVERIFIED)", "(record #8, UNVERIFIED)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "record #3, UNVERIFIED") {
		t.Error("a record before the break is marked unverified")
	}
}

func TestBrokenLogVouchesForNoRecord(t *testing.T) {
	s := history(t, "x")
	s.broken = &audit.ChainError{Reason: "the chain head row is missing (deleted)"}
	rep := load(t, s, "")
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, want := range []string{"AUDIT LOG BROKEN: the chain head row is missing (deleted). No record is verified", "(record #1, UNVERIFIED)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "record #0") {
		t.Errorf("report names a record 0:\n%s", out)
	}
}

func TestUnreadablePayloadStillReports(t *testing.T) {
	s := history(t, "x")
	s.records[4].Payload = json.RawMessage(`{"decision": tampered`)
	s.records[8].Payload = json.RawMessage(`not json`)
	rep := load(t, s, "")
	if len(rep.Unreadable) != 2 || rep.Unreadable[0].Seq != 5 || rep.Unreadable[1].Seq != 9 {
		t.Errorf("unreadable = %+v, want records 5 and 9", rep.Unreadable)
	}
	for _, format := range []string{FormatJSON, FormatMarkdown, FormatHTML, FormatPDF} {
		var buf bytes.Buffer
		if err := rep.Render(&buf, format); err != nil {
			t.Errorf("%s: %v", format, err)
		}
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil || !json.Valid(buf.Bytes()) {
		t.Errorf("JSON report is not valid JSON (%v):\n%s", err, buf.String())
	}
}

func TestJSONKeys(t *testing.T) {
	var buf bytes.Buffer
	if err := load(t, history(t, "x"), "").WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Model    string `json:"model"`
		Chain    Chain  `json:"chain"`
		Versions []struct {
			Version string `json:"version"`
			Stages  []struct {
				Stage     string `json:"stage"`
				Proposals []struct {
					Replaced  string `json:"replaced"`
					Decisions []struct {
						Seq          int64  `json:"seq"`
						BundleDigest string `json:"bundle_digest"`
					} `json:"decisions"`
					Merges []struct {
						CommitSHA string `json:"merge_commit_sha"`
					} `json:"merges"`
				} `json:"proposals"`
			} `json:"stages"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	p := doc.Versions[0].Stages[0].Proposals[0]
	if doc.Model != "churn" || !doc.Chain.Intact || p.Replaced != "1.3.2" || p.Decisions[1].Seq != 5 ||
		p.Decisions[1].BundleDigest != "sha256:bundle" || p.Merges[0].CommitSHA != merge {
		t.Errorf("JSON report:\n%s", buf.String())
	}
}

const hostile = `<script>alert("x")</script> & [link](javascript:alert(1)) *bold* | pipe`

func TestHTMLEscapesTheAuditLog(t *testing.T) {
	var buf bytes.Buffer
	if err := load(t, history(t, hostile), "").WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(strings.ToLower(out), "<script") {
		t.Errorf("HTML report carries a script:\n%s", out)
	}
	if !strings.Contains(out, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp;") {
		t.Errorf("HTML report lacks the escaped message:\n%s", out)
	}
	for _, want := range []string{"<!DOCTYPE html>", "<style>", `content="default-src 'none'; style-src 'unsafe-inline'"`, "<h1>Compliance report: churn</h1>", "record #8", "Merged (squash) into main as commit " + merge} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	for _, external := range []string{"<link", "src=", "<img"} {
		if strings.Contains(out, external) {
			t.Errorf("HTML report is not self-contained: has %q", external)
		}
	}
}

func TestMarkdownEscapesTheAuditLog(t *testing.T) {
	var buf bytes.Buffer
	if err := load(t, history(t, hostile), "").WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	want := `\<script\>alert("x")\</script\> \& \[link\](javascript:alert(1)) \*bold\* \| pipe`
	if !strings.Contains(out, want) {
		t.Errorf("Markdown report lacks %s:\n%s", want, out)
	}
}

// TestWaiverShownOnce checks that a waived denial states its waiver once
// per decision: in the decision's table of waivers, not again in its message.
func TestWaiverShownOnce(t *testing.T) {
	rep := load(t, history(t, "x"), "")
	if w := rep.Versions[0].Stages[0].Proposals[0].Decisions[1].Warn[0]; w.Msg != "drift above threshold" || w.Waiver == nil {
		t.Errorf("waived warning = %+v, want its message without the waiver's note", w)
	}
	for _, format := range []string{FormatMarkdown, FormatHTML} {
		var buf bytes.Buffer
		if err := rep.Render(&buf, format); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(buf.String(), "seasonal"); n != 2 {
			t.Errorf("%s: the waiver's reason appears %d times for 2 decisions:\n%s", format, n, buf.String())
		}
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	if err := load(t, history(t, "x"), "").Render(&bytes.Buffer{}, "docx"); err == nil {
		t.Error("Render(docx) succeeded")
	}
}

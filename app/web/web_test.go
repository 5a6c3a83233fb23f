package web_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/webtest"
)

// signIn signs rita in through the emulated OAuth web flow and returns her
// browser.
func (s *site) signIn(t *testing.T) *webtest.Browser {
	t.Helper()
	s.gh.SignIn("rita")
	c := webtest.NewBrowser(t, true)
	a := c.Open(s.url + "/models")
	if a.Status != http.StatusOK || a.URL.Path != "/models" {
		t.Fatalf("sign-in ended at %s with %d: %s", a.URL, a.Status, a.Body)
	}
	return c
}

func wantAll(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func (h history) pages() []string {
	return []string{"/models", "/models/" + model, "/models/" + model + "/versions/2.3.0",
		fmt.Sprintf("/models/%s/decisions/%d", model, h.allowed.Seq), fmt.Sprintf("/models/%s/decisions/%d", model, h.denied.Seq)}
}

func TestPages(t *testing.T) {
	h := gatedStore(t)
	s := newSite(t, h.db)
	c := s.signIn(t)
	intact := "Audit chain intact: 5 records verified."

	for _, p := range h.pages() {
		a := c.Open(s.url + p)
		if a.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", p, a.Status, a.Body)
		}
		if csp := a.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: Content-Security-Policy %q", p, csp)
		}
		wantAll(t, p, a.Body, intact, `<span id="reviewer">rita</span>`, `name="csrf_token"`)
		if strings.Contains(a.Body, "<script") || strings.Contains(a.Body, " style=") {
			t.Errorf("%s has a script or an inline style", p)
		}
	}

	a := c.Open(s.url + "/models/" + model)
	wantAll(t, "the model's page", a.Body,
		`<a href="/models/fraud-detector/versions/2.2.0">2.2.0</a>`, `<a href="/models/fraud-detector/versions/2.3.0">2.3.0</a>`,
		"<th>dev</th>", "<th>production</th>", "<strong>merged</strong>", "<strong>proposed</strong>",
		fmt.Sprintf(`<a href="/models/fraud-detector/decisions/%d">denied</a> by alice`, h.denied.Seq),
		fmt.Sprintf(`<a href="/models/fraud-detector/decisions/%d">allowed</a> by alice`, h.allowed.Seq),
		fmt.Sprintf(`<a href="/models/fraud-detector/decisions/%d">allowed</a> by dana`, h.devDecision.Seq),
		"2.3.0: merged by alice", "2.3.0: deployment by deploy-bot",
		"accuracy across versions", "<svg", `href="/models/fraud-detector/report/pdf"`)

	a = c.Open(s.url + fmt.Sprintf("/models/%s/decisions/%d", model, h.allowed.Seq))
	wantAll(t, "the allowed decision's page", a.Body, "fraud-detector 2.3.0 to production", `id="verdict">allowed`,
		"bob (compliance), carol", "bob: counted; carol: counted", "Replaces</th><td>2.2.0", "<td>accuracy</td><td class=\"num\">0.904</td>",
		"Fairness by sex</h3>", "Disparate impact ratio 0.9114", "Fairness by sex</title>", "Drift per column</title>",
		"<td>amount</td><td>wasserstein</td><td>wasserstein_normed</td>")
	a = c.Open(s.url + fmt.Sprintf("/models/%s/decisions/%d", model, h.denied.Seq))
	wantAll(t, "the denied decision's page", a.Body, `id="verdict">denied`, `<td class="bad">deny</td>`, "Approvals</th><td>none")
}

func TestDownloads(t *testing.T) {
	h := gatedStore(t)
	s := newSite(t, h.db)
	c := s.signIn(t)
	for _, tt := range []struct{ path, contentType, start string }{
		{"/models/" + model + "/report/html", "text/html; charset=utf-8", "<!DOCTYPE html>"},
		{"/models/" + model + "/report/pdf", "application/pdf", "%PDF-"},
		{"/models/" + model + "/report/md?version=2.3.0", "text/markdown; charset=utf-8", "# "},
		{"/models/" + model + "/report/json", "application/json; charset=utf-8", "{"},
		{"/api/v1/models/" + model + "/report?format=pdf", "application/pdf", "%PDF-"},
	} {
		a := c.Open(s.url + tt.path)
		if a.Status != http.StatusOK || a.Header.Get("Content-Type") != tt.contentType || !strings.HasPrefix(a.Body, tt.start) {
			t.Errorf("%s: %d %s, starts %q", tt.path, a.Status, a.Header.Get("Content-Type"), a.Body[:min(len(a.Body), 20)])
		}
		if d := a.Header.Get("Content-Disposition"); !strings.HasPrefix(d, `attachment; filename="fraud-detector`) {
			t.Errorf("%s: Content-Disposition %q", tt.path, d)
		}
	}
	a := c.Open(s.url + "/models/" + model + "/report/json")
	var rep struct {
		Model    string `json:"model"`
		Versions []struct {
			Version string `json:"version"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(a.Body), &rep); err != nil || rep.Model != model || len(rep.Versions) != 2 {
		t.Errorf("JSON report: %v %+v", err, rep)
	}
	if a := c.Open(s.url + "/models/" + model + "/report/exe"); a.Status != http.StatusNotFound {
		t.Errorf("unknown format: %d", a.Status)
	}
}

func TestAPI(t *testing.T) {
	h := gatedStore(t)
	s := newSite(t, h.db)
	c := s.signIn(t)
	get := func(path string, v any) {
		t.Helper()
		a := c.Open(s.url + "/api/v1" + path)
		if a.Status != http.StatusOK || a.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("%s: %d %s", path, a.Status, a.Body)
		}
		if err := json.Unmarshal([]byte(a.Body), v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	type chain struct {
		Intact   bool  `json:"intact"`
		Verified int64 `json:"verified_records"`
	}
	var models struct {
		Chain  chain    `json:"chain"`
		Models []string `json:"models"`
	}
	get("/models", &models)
	if !models.Chain.Intact || models.Chain.Verified != 5 || strings.Join(models.Models, ",") != model {
		t.Errorf("models: %+v", models)
	}
	var versions struct {
		Chain    chain    `json:"chain"`
		Versions []string `json:"versions"`
		Summary  []struct {
			Version, Stage, State string
			Decision              int64 `json:"decision_seq"`
		} `json:"summary"`
	}
	get("/models/"+model+"/versions", &versions)
	if strings.Join(versions.Versions, ",") != "2.2.0,2.3.0" || len(versions.Summary) != 2 || versions.Summary[1].State != "merged" ||
		versions.Summary[0].Decision != h.devDecision.Seq || versions.Summary[1].Decision != h.allowed.Seq {
		t.Errorf("versions: %+v", versions)
	}
	var version struct {
		Version struct {
			Stages []struct {
				Proposals []struct {
					Status    string            `json:"status"`
					Decisions []json.RawMessage `json:"decisions"`
				} `json:"proposals"`
			} `json:"stages"`
		} `json:"version"`
	}
	get("/models/"+model+"/versions/2.3.0", &version)
	if p := version.Version.Stages[0].Proposals[0]; p.Status != "merged" || len(p.Decisions) != 2 {
		t.Errorf("version: %+v", version)
	}
	var decision struct {
		Stage    string `json:"stage"`
		Verified bool   `json:"verified"`
		Decision struct {
			Allow bool `json:"allow"`
			Deny  []struct {
				Code string `json:"code"`
			} `json:"deny"`
		} `json:"decision"`
	}
	get(fmt.Sprintf("/models/%s/decisions/%d", model, h.denied.Seq), &decision)
	if decision.Stage != "production" || !decision.Verified || decision.Decision.Allow || len(decision.Decision.Deny) == 0 {
		t.Errorf("decision: %+v", decision)
	}
	for path, status := range map[string]int{
		"/models/absent/versions":                  http.StatusNotFound,
		"/models/" + model + "/versions/9.9.9":     http.StatusNotFound,
		"/models/" + model + "/decisions/4":        http.StatusNotFound, // the merge, not a decision
		"/models/" + model + "/decisions/x":        http.StatusNotFound,
		"/models/" + model + "/report?format=docx": http.StatusBadRequest,
	} {
		if a := c.Open(s.url + "/api/v1" + path); a.Status != status || !strings.Contains(a.Body, `"error"`) {
			t.Errorf("%s: %d %s, want %d", path, a.Status, a.Body, status)
		}
	}
}

// TestSignInRequired: every page and every API route is behind the
// reviewers' guard.
func TestSignInRequired(t *testing.T) {
	h := gatedStore(t)
	s := newSite(t, h.db)
	c := webtest.NewBrowser(t, false)
	for _, p := range append(h.pages(), "/models/"+model+"/report/pdf", "/") {
		a := c.Open(s.url + p)
		if loc := a.Header.Get("Location"); a.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("%s without a session: %d to %q", p, a.Status, loc)
		}
	}
	for _, p := range []string{"/models", "/models/" + model + "/versions", "/models/" + model + "/versions/2.3.0",
		fmt.Sprintf("/models/%s/decisions/%d", model, h.allowed.Seq), "/models/" + model + "/report"} {
		if a := c.Open(s.url + "/api/v1" + p); a.Status != http.StatusUnauthorized || strings.Contains(a.Body, model+"\"") {
			t.Errorf("API %s without a credential: %d %s", p, a.Status, a.Body)
		}
	}
}

// TestTamperedStore: a record edited in the database shows as a broken
// chain on every page and in every webtest.Page of the API.
func TestTamperedStore(t *testing.T) {
	h := gatedStore(t)
	s := newSite(t, h.db)
	c := s.signIn(t)
	tamper(t, h, `UPDATE audit_records SET actor = 'mallory' WHERE seq = ?`, h.allowed.Seq)
	broken := fmt.Sprintf("Audit chain BROKEN at record #%d", h.allowed.Seq)
	for _, p := range append(h.pages(), "/models/absent") {
		a := c.Open(s.url + p)
		wantAll(t, p, a.Body, broken, `data-intact="false"`)
		if strings.Contains(a.Body, "Audit chain intact") {
			t.Errorf("%s says the chain is intact", p)
		}
	}
	a := c.Open(s.url + fmt.Sprintf("/models/%s/decisions/%d", model, h.allowed.Seq))
	wantAll(t, "the tampered decision", a.Body, "The audit chain does not vouch for this record.")
	a = c.Open(s.url + "/models/" + model)
	wantAll(t, "the timeline", a.Body, fmt.Sprintf("record #%d, unverified", h.allowed.Seq))
	for _, p := range []string{"/models", "/models/" + model + "/versions", fmt.Sprintf("/models/%s/decisions/%d", model, h.devDecision.Seq)} {
		var got struct {
			Chain struct {
				Intact   bool  `json:"intact"`
				FirstBad int64 `json:"first_bad_seq"`
			} `json:"chain"`
		}
		a := c.Open(s.url + "/api/v1" + p)
		if err := json.Unmarshal([]byte(a.Body), &got); err != nil || got.Chain.Intact || got.Chain.FirstBad != h.allowed.Seq {
			t.Errorf("API %s: %v %s", p, err, a.Body)
		}
	}
}

// tamper edits the store's SQLite file directly, as someone bypassing
// modelgate would.
func tamper(t *testing.T, h history, query string, args ...any) {
	t.Helper()
	raw, err := sql.Open("sqlite", h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(query, args...); err != nil {
		t.Fatal(err)
	}
}

// TestAuditTextIsEscaped: what a pull request author can write (a model's
// evidence, a policy's message about it) reaches the pages, tables and
// charts as text, never as markup.
func TestAuditTextIsEscaped(t *testing.T) {
	h := gatedStore(t)
	evil := `<img src=x onerror=alert(1)>`
	payload := `{"base_sha":"` + strings.Repeat("a", 40) + `","decision":{"allow":false,"deny":[{"code":"evil","msg":"` + evil + `"}],"warn":[]},` +
		`"evidence":{"schema":"modelgate.evidence/v1","evaluation":{"metrics":{"` + evil + `":0.5}},` +
		`"drift":{"columns":{"` + evil + `":{"method":"psi","psi":0.3,"drifted":true}}},` +
		`"fairness":{"` + evil + `":{"disparate_impact_ratio":0.7,"groups":{"` + evil + `":{"count":3,"selection_rate":0.5}}}}}}`
	rec, err := h.db.Append(context.Background(), audit.Entry{Kind: audit.KindDecision, Repository: "acme/models", Actor: "alice",
		Model: model, Version: "6.6.6", Stage: "dev", HeadSHA: strings.Repeat("b", 40), Payload: json.RawMessage(payload)})
	if err != nil {
		t.Fatal(err)
	}
	s := newSite(t, h.db)
	c := s.signIn(t)
	for _, p := range []string{fmt.Sprintf("/models/%s/decisions/%d", model, rec.Seq), "/models/" + model} {
		a := c.Open(s.url + p)
		if a.Status != http.StatusOK || strings.Contains(a.Body, "<img") {
			t.Errorf("%s: %d, or markup from the audit log came through:\n%s", p, a.Status, a.Body)
		}
	}
	a := c.Open(s.url + fmt.Sprintf("/models/%s/decisions/%d", model, rec.Seq))
	wantAll(t, "the decision", a.Body, "&lt;img src=x onerror=alert(1)&gt;</td>", "&lt;img src=x onerror=alert(1)&gt;</text>")
}

package web_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/modelgate/modelgate/internal/audit"
)

// client is a browser without JavaScript: cookies, and redirects followed
// when follow is set.
type client struct {
	*http.Client
	t *testing.T
}

func newClient(t *testing.T, follow bool) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return &client{Client: c, t: t}
}

type answer struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func (c *client) get(target string) answer {
	c.t.Helper()
	resp, err := c.Get(target)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(body), resp.Request.URL}
}

// signIn signs rita in through the emulated OAuth web flow and returns her
// browser.
func (s *site) signIn(t *testing.T) *client {
	t.Helper()
	s.gh.SignIn("rita")
	c := newClient(t, true)
	a := c.get(s.url + "/models")
	if a.status != http.StatusOK || a.url.Path != "/models" {
		t.Fatalf("sign-in ended at %s with %d: %s", a.url, a.status, a.body)
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
		a := c.get(s.url + p)
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d %s", p, a.status, a.body)
		}
		if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: Content-Security-Policy %q", p, csp)
		}
		wantAll(t, p, a.body, intact, `<span id="reviewer">rita</span>`, `name="csrf_token"`)
		if strings.Contains(a.body, "<script") || strings.Contains(a.body, " style=") {
			t.Errorf("%s has a script or an inline style", p)
		}
	}

	a := c.get(s.url + "/models/" + model)
	wantAll(t, "the model's page", a.body,
		`<a href="/models/fraud-detector/versions/2.2.0">2.2.0</a>`, `<a href="/models/fraud-detector/versions/2.3.0">2.3.0</a>`,
		"<th>dev</th>", "<th>production</th>", "<strong>merged</strong>", "<strong>proposed</strong>",
		fmt.Sprintf(`<a href="/models/fraud-detector/decisions/%d">denied</a> by alice`, h.denied.Seq),
		fmt.Sprintf(`<a href="/models/fraud-detector/decisions/%d">allowed</a> by alice`, h.allowed.Seq),
		fmt.Sprintf(`<a href="/models/fraud-detector/decisions/%d">allowed</a> by dana`, h.devDecision.Seq),
		"2.3.0: merged by alice", "2.3.0: deployment by deploy-bot",
		"accuracy across versions", "<svg", `href="/models/fraud-detector/report/pdf"`)

	a = c.get(s.url + fmt.Sprintf("/models/%s/decisions/%d", model, h.allowed.Seq))
	wantAll(t, "the allowed decision's page", a.body, "fraud-detector 2.3.0 to production", `id="verdict">allowed`,
		"bob (compliance), carol", "bob: counted; carol: counted", "Replaces</th><td>2.2.0", "<td>accuracy</td><td class=\"num\">0.904</td>",
		"Fairness by sex</h3>", "Disparate impact ratio 0.9114", "Fairness by sex</title>", "Drift per column</title>",
		"<td>amount</td><td>wasserstein</td><td>wasserstein_normed</td>")
	a = c.get(s.url + fmt.Sprintf("/models/%s/decisions/%d", model, h.denied.Seq))
	wantAll(t, "the denied decision's page", a.body, `id="verdict">denied`, `<td class="bad">deny</td>`, "Approvals</th><td>none")
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
		a := c.get(s.url + tt.path)
		if a.status != http.StatusOK || a.header.Get("Content-Type") != tt.contentType || !strings.HasPrefix(a.body, tt.start) {
			t.Errorf("%s: %d %s, starts %q", tt.path, a.status, a.header.Get("Content-Type"), a.body[:min(len(a.body), 20)])
		}
		if d := a.header.Get("Content-Disposition"); !strings.HasPrefix(d, `attachment; filename="fraud-detector`) {
			t.Errorf("%s: Content-Disposition %q", tt.path, d)
		}
	}
	a := c.get(s.url + "/models/" + model + "/report/json")
	var rep struct {
		Model    string `json:"model"`
		Versions []struct {
			Version string `json:"version"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(a.body), &rep); err != nil || rep.Model != model || len(rep.Versions) != 2 {
		t.Errorf("JSON report: %v %+v", err, rep)
	}
	if a := c.get(s.url + "/models/" + model + "/report/exe"); a.status != http.StatusNotFound {
		t.Errorf("unknown format: %d", a.status)
	}
}

func TestAPI(t *testing.T) {
	h := gatedStore(t)
	s := newSite(t, h.db)
	c := s.signIn(t)
	get := func(path string, v any) {
		t.Helper()
		a := c.get(s.url + "/api/v1" + path)
		if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("%s: %d %s", path, a.status, a.body)
		}
		if err := json.Unmarshal([]byte(a.body), v); err != nil {
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
		if a := c.get(s.url + "/api/v1" + path); a.status != status || !strings.Contains(a.body, `"error"`) {
			t.Errorf("%s: %d %s, want %d", path, a.status, a.body, status)
		}
	}
}

// TestSignInRequired: every page and every API route is behind the
// reviewers' guard.
func TestSignInRequired(t *testing.T) {
	h := gatedStore(t)
	s := newSite(t, h.db)
	c := newClient(t, false)
	for _, p := range append(h.pages(), "/models/"+model+"/report/pdf", "/") {
		a := c.get(s.url + p)
		if loc := a.header.Get("Location"); a.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("%s without a session: %d to %q", p, a.status, loc)
		}
	}
	for _, p := range []string{"/models", "/models/" + model + "/versions", "/models/" + model + "/versions/2.3.0",
		fmt.Sprintf("/models/%s/decisions/%d", model, h.allowed.Seq), "/models/" + model + "/report"} {
		if a := c.get(s.url + "/api/v1" + p); a.status != http.StatusUnauthorized || strings.Contains(a.body, model+"\"") {
			t.Errorf("API %s without a credential: %d %s", p, a.status, a.body)
		}
	}
}

// TestTamperedStore: a record edited in the database shows as a broken
// chain on every page and in every answer of the API.
func TestTamperedStore(t *testing.T) {
	h := gatedStore(t)
	s := newSite(t, h.db)
	c := s.signIn(t)
	tamper(t, h, `UPDATE audit_records SET actor = 'mallory' WHERE seq = ?`, h.allowed.Seq)
	broken := fmt.Sprintf("Audit chain BROKEN at record #%d", h.allowed.Seq)
	for _, p := range append(h.pages(), "/models/absent") {
		a := c.get(s.url + p)
		wantAll(t, p, a.body, broken, `data-intact="false"`)
		if strings.Contains(a.body, "Audit chain intact") {
			t.Errorf("%s says the chain is intact", p)
		}
	}
	a := c.get(s.url + fmt.Sprintf("/models/%s/decisions/%d", model, h.allowed.Seq))
	wantAll(t, "the tampered decision", a.body, "The audit chain does not vouch for this record.")
	a = c.get(s.url + "/models/" + model)
	wantAll(t, "the timeline", a.body, fmt.Sprintf("record #%d, unverified", h.allowed.Seq))
	for _, p := range []string{"/models", "/models/" + model + "/versions", fmt.Sprintf("/models/%s/decisions/%d", model, h.devDecision.Seq)} {
		var got struct {
			Chain struct {
				Intact   bool  `json:"intact"`
				FirstBad int64 `json:"first_bad_seq"`
			} `json:"chain"`
		}
		a := c.get(s.url + "/api/v1" + p)
		if err := json.Unmarshal([]byte(a.body), &got); err != nil || got.Chain.Intact || got.Chain.FirstBad != h.allowed.Seq {
			t.Errorf("API %s: %v %s", p, err, a.body)
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
		a := c.get(s.url + p)
		if a.status != http.StatusOK || strings.Contains(a.body, "<img") {
			t.Errorf("%s: %d, or markup from the audit log came through:\n%s", p, a.status, a.body)
		}
	}
	a := c.get(s.url + fmt.Sprintf("/models/%s/decisions/%d", model, rec.Seq))
	wantAll(t, "the decision", a.body, "&lt;img src=x onerror=alert(1)&gt;</td>", "&lt;img src=x onerror=alert(1)&gt;</text>")
}

package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/modelgate/modelgate/app/access"
	"github.com/modelgate/modelgate/app/web"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/git"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/policies"
)

const (
	appID  = 4242
	org    = "acme"
	team   = "compliance-reviewers"
	model  = "fraud-detector"
	merged = "9f3c2e1d0b8a7f6e5d4c3b2a1908f7e6d5c4b3a2"
)

// history is what the gate runs of gatedStore recorded.
type history struct {
	db   *sqlstore.DB
	path string // of its SQLite file
	// devDecision is the decision of 2.2.0 into dev; denied and allowed are
	// the two decisions of 2.3.0 into production, before and after its
	// approvals.
	devDecision, denied, allowed audit.Record
}

// gatedStore fills an audit store by running the gate on the example
// repository, as modelgate gate does: fraud-detector 2.2.0 into dev, then
// 2.3.0 into production, denied without approvals, allowed with them, merged
// and deployed.
func gatedStore(t *testing.T) history {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	base := r.Commit("example repository", time.Now().Add(-96*time.Hour))
	r.Branch("dev")
	r.Write("environments/dev.yaml", "stage: dev\nmodels:\n  fraud-detector: \"2.2.0\"\n  demand-forecast: \"1.5.0\"\n")
	devHead := r.Commit("fraud-detector 2.2.0 to dev", time.Now().Add(-time.Hour))
	r.Checkout("main")
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	head := r.Commit("promote fraud-detector 2.3.0 to production", time.Now())

	repo, err := git.Open(ctx, r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(v, gate.Checks{}, policies.Modules(), gate.AuditRuns{Log: db}, gate.AuditUploads{Log: db}, time.Now)
	judge := func(head, author string, approvals ...policy.Approval) audit.Record {
		t.Helper()
		for i := range approvals {
			approvals[i].SHA = head
		}
		res, err := g.Judge(ctx, gate.Request{Repo: repo, Repository: "acme/models", Base: base, Head: head,
			PullRequest: policy.PullRequest{Author: author, BaseRef: "main", Labels: []string{}, Approvals: append([]policy.Approval{}, approvals...), Committers: []string{author}}})
		if err != nil {
			t.Fatal(err)
		}
		entries, err := res.AuditEntries()
		if err != nil {
			t.Fatal(err)
		}
		var last audit.Record
		for _, e := range entries {
			if last, err = db.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		return last
	}
	h := history{db: db, path: path}
	h.devDecision = judge(devHead, "dana")
	h.denied = judge(head, "alice")
	h.allowed = judge(head, "alice", policy.Approval{User: "bob", Teams: []string{"compliance"}}, policy.Approval{User: "carol"})
	for _, e := range []audit.Entry{
		{Kind: audit.KindMerge, Actor: "alice", Payload: json.RawMessage(`{"method":"squash","merge_commit_sha":"` + merged + `","base_ref":"main"}`)},
		{Kind: audit.KindDeployment, Actor: "deploy-bot", Payload: json.RawMessage(`{"environment":"prod-eu","status":"success"}`)},
	} {
		e.Repository, e.Model, e.Version, e.Stage, e.HeadSHA = "acme/models", model, "2.3.0", "production", head
		if _, err := db.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// site is a modelgate server's reviewers' side on loopback, signing in
// through an emulated GitHub on which rita is a reviewer.
type site struct {
	url  string
	gh   *githubtest.Server
	logs *bytes.Buffer
}

func newSite(t *testing.T, store web.Store) *site {
	t.Helper()
	return newSiteAt(t, store, "127.0.0.1")
}

// newSiteAt serves the site on loopback as host, a name of loopback.
func newSiteAt(t *testing.T, store web.Store, host string) *site {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddApp(appID, "modelgate", nil)
	gh.AddInstallation(appID, org)
	gh.AddTeamMember(org, team, "rita")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + host + ":" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	id, secret := gh.OAuthClient(appID, base+"/callback")
	key := make([]byte, access.MinKeyLength)
	rand.Read(key)
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	acc, err := access.New(access.Config{ClientID: id, ClientSecret: secret, SessionKey: key, PublicURL: base,
		GitHubURL: gh.URL() + "/api/v3/", Teams: []access.Team{{Org: org, Slug: team}}, Log: log, Now: gh.Now})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := web.New(web.Config{Store: store, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	ui.Register(acc.Mount(e))
	srv := &http.Server{Handler: e}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &site{url: base, gh: gh, logs: logs}
}

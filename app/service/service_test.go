package service_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/app/service"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/compliance"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/queue"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// The end-to-end tests run the App as `modelgate serve` runs it — real HTTP
// server on loopback, real database, real git repositories — against the
// GitHub emulator, and drive it only with GitHub's own webhook deliveries.

const (
	appID     = 4242
	repoName  = "acme/models"
	examples  = "../../examples/gitops"
	fraud     = "../../examples/promotions/fraud-detector-2.3.0-production"
	demand    = "../../examples/promotions/demand-forecast-1.5.0-production"
	settleFor = 60 * time.Second
)

// auditKeys are the signer and verifier keys of the audit log's
// checkpoints.
var auditKeys = sync.OnceValues(func() (signer, verifier string) {
	signer, verifier, err := audit.GenerateKey("modelgate.test/audit")
	if err != nil {
		panic(err)
	}
	return signer, verifier
})

var appKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// world is one scenario: an emulated GitHub holding the example repository,
// with a promotion branch, and the App serving on loopback.
type world struct {
	t    testing.TB
	gh   *githubtest.Server
	work *gittest.Repo
	dsn  string
	db   *sqlstore.DB
	inst int64
	url  string
	stop func()
}

type options struct {
	reconcile  time.Duration // negative: no sweeps
	transport  http.RoundTripper
	noApp      bool
	promotion  string
	extraEdits func(r *gittest.Repo)
	mainEdits  func(r *gittest.Repo) // of the default branch, before the promotion branches off
	noConfig   bool                  // the base branch has no .modelgate/: not a repository modelgate watches
	// oidcIssuer and oidcAudience are those of evidence uploads; none
	// without an audience.
	oidcIssuer, oidcAudience string
	reviewers                string // ORG/TEAM whose members sign in to the reviewers' UI; "": no UI
}

func newWorld(t testing.TB, dsn string, o options) *world {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddApp(appID, "modelgate", &appKey().PublicKey)
	inst := gh.AddInstallation(appID, "acme")
	gh.AddTeamMember("acme", "compliance", "bob")
	gh.AddTeamMember("acme", "risk", "carol")
	gh.AddTeamMember("acme", "risk", "dave")

	now := time.Now()
	r := gittest.New(t)
	r.CopyDir(examples)
	if o.noConfig {
		r.Remove(".modelgate")
	}
	if o.mainEdits != nil {
		o.mainEdits(r)
	}
	r.Commit("example repository", now.Add(-96*time.Hour))
	r.Branch("promote")
	r.CopyDir(cmpOr(o.promotion, fraud))
	if o.extraEdits != nil {
		o.extraEdits(r)
	}
	r.Commit("promote", now.Add(-time.Hour))
	r.Checkout("main") // the default branch of the served repository
	gh.AddRepo(inst, repoName, r.Dir)

	w := &world{t: t, gh: gh, work: r, inst: inst}
	w.useDatabase(dsn)
	if !o.noApp {
		w.start(o)
	}
	return w
}

// useDatabase opens the store at dsn as the test's view of what the App
// keeps there.
func (w *world) useDatabase(dsn string) {
	w.t.Helper()
	db, err := sqlstore.Open(w.t.Context(), dsn)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = db.Close() })
	// The test's view of the queue tells scheduled jobs by the App's clock.
	db.Now = w.gh.Now
	w.dsn, w.db = dsn, db
}

// payloads decodes the payloads of records of one kind.
func payloads[P any](t testing.TB, recs []audit.Record) []P {
	t.Helper()
	var out []P
	for _, r := range recs {
		var p P
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			t.Fatalf("audit record %d: %v", r.Seq, err)
		}
		out = append(out, p)
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// start runs the App until stop (or the end of the test).
func (w *world) start(o options) {
	w.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(appKey())})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	reconcile := o.reconcile
	if reconcile == 0 {
		reconcile = -1
	}
	signer, _ := auditKeys()
	cfg := service.Config{
		AppID: appID, PrivateKey: keyPEM, WebhookSecret: []byte(w.gh.WebhookSecret()), AuditKey: signer,
		Database: w.dsn, GitHubURL: w.gh.URL(), Transport: o.transport, OIDCIssuer: o.oidcIssuer, OIDCAudience: o.oidcAudience,
		Workers: 2, ReconcileInterval: reconcile, Lease: 5 * time.Second, Poll: 20 * time.Millisecond,
		MaxAttempts: 4, Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(testWriter{w.t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now: w.gh.Now,
	}
	w.url = "http://" + ln.Addr().String()
	if o.reviewers != "" {
		cfg.Reviewers = w.reviewers(o.reviewers)
	}
	go func() { done <- service.Serve(ctx, ln, cfg) }()
	var once sync.Once
	w.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				w.t.Errorf("Serve: %v", err)
			}
		})
	}
	w.t.Cleanup(w.stop)
}

type testWriter struct{ t testing.TB }

func (tw testWriter) Write(p []byte) (int, error) {
	tw.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// get fetches a path of the App's server.
func (w *world) get(path string) string {
	w.t.Helper()
	resp, err := http.Get(w.url + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}

// deliver posts a delivery and wants it acknowledged with status.
func (w *world) deliver(d *githubtest.Delivery, want int) {
	w.t.Helper()
	resp, err := d.Deliver(w.url + "/webhooks")
	if err != nil {
		w.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		w.t.Fatalf("%s delivery: %d %s; want %d", d.Event, resp.StatusCode, body, want)
	}
}

// settle waits until the queue has nothing pending or running.
func (w *world) settle() queue.Stats {
	w.t.Helper()
	return w.settleWithin(settleFor)
}

// settleWithin is settle for work known to take long, such as the first
// sweep of thousands of repositories, one request after another.
func (w *world) settleWithin(settleFor time.Duration) queue.Stats {
	w.t.Helper()
	deadline := time.Now().Add(settleFor)
	for {
		s, err := w.db.QueueStats(w.t.Context())
		if err != nil {
			w.t.Fatal(err)
		}
		if s.Pending == 0 && s.Running == 0 {
			return s
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("queue not settled after %s: %+v", settleFor, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *world) open(author string) int {
	return w.gh.OpenPullRequest(repoName, githubtest.PullRequestOptions{Head: "promote", Author: author, Title: "Promote"})
}

// approve submits an approving review and delivers its webhook.
func (w *world) approve(n int, reviewer string) {
	w.t.Helper()
	id := w.gh.SubmitReview(repoName, n, reviewer, "APPROVED")
	w.deliver(w.gh.ReviewEvent(repoName, n, id, "submitted"), http.StatusAccepted)
}

// runs returns the check runs of a head by name; the latest of each name.
func (w *world) runs(head string) map[string]githubtest.CheckRun {
	out := map[string]githubtest.CheckRun{}
	for _, cr := range w.gh.CheckRuns(repoName) {
		if cr.HeadSHA == head {
			out[cr.Name] = cr
		}
	}
	return out
}

func (w *world) records(f audit.Filter) []audit.Record {
	w.t.Helper()
	f.Repository = repoName
	rs, err := w.db.Records(w.t.Context(), f)
	if err != nil {
		w.t.Fatal(err)
	}
	return rs
}

func (w *world) comment(n int) githubtest.Comment {
	w.t.Helper()
	var mine []githubtest.Comment
	for _, c := range w.gh.Comments(repoName, n) {
		if c.User == "modelgate[bot]" && strings.Contains(c.Body, "modelgate:report") {
			mine = append(mine, c)
		}
	}
	if len(mine) != 1 {
		w.t.Fatalf("the App has %d report comments on #%d; want exactly one", len(mine), n)
	}
	return mine[0]
}

func TestPromotionApprovedAndMerged(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice")
		head := w.gh.PullRequest(repoName, n).HeadSHA
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.settle()

		runs := w.runs(head)
		for _, name := range []string{app.CheckValidate, app.CheckChecks, app.CheckPolicy} {
			if _, ok := runs[name]; !ok {
				t.Fatalf("no %s check run on %s; runs: %v", name, head, runs)
			}
		}
		if runs[app.CheckValidate].Conclusion != "success" || runs[app.CheckChecks].Conclusion != "success" {
			t.Errorf("validate %s, checks %s; want success for the example promotion",
				runs[app.CheckValidate].Conclusion, runs[app.CheckChecks].Conclusion)
		}
		if cr := runs[app.CheckPolicy]; cr.Conclusion != "failure" || !strings.Contains(cr.Summary, "approvals.") {
			t.Errorf("before approvals the policy check is %s:\n%s", cr.Conclusion, cr.Summary)
		}
		if !strings.Contains(runs[app.CheckChecks].Summary, "roc_auc") {
			t.Errorf("the checks summary shows no metrics:\n%s", runs[app.CheckChecks].Summary)
		}
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged without approvals")
		}

		w.approve(n, "bob")
		w.settle()
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged with one approval of the two production needs")
		}
		w.approve(n, "carol")
		w.settle()

		pr := w.gh.PullRequest(repoName, n)
		if !pr.Merged {
			t.Fatalf("not merged after two approvals, one from compliance; policy check:\n%s", w.runs(head)[app.CheckPolicy].Summary)
		}
		if got := w.gh.Branch(repoName, "main"); got != pr.MergeCommitSHA {
			t.Errorf("main is at %s, the merge commit is %s", got, pr.MergeCommitSHA)
		}
		if w.runs(head)[app.CheckPolicy].Conclusion != "success" {
			t.Errorf("policy check after approvals: %s", w.runs(head)[app.CheckPolicy].Conclusion)
		}
		c := w.comment(n)
		if c.Edits == 0 || !strings.Contains(c.Body, "@bob (compliance)") || !strings.Contains(c.Body, "@carol") {
			t.Errorf("the sticky comment was not edited in place with the approvals (%d edits):\n%s", c.Edits, c.Body)
		}
		// The merge's head is the head of an allowing decision.
		decisions := w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n, HeadSHA: pr.HeadSHA})
		if len(decisions) == 0 {
			t.Fatalf("merged head %s has no decision record", pr.HeadSHA)
		}
		var last gate.DecisionRecord
		if err := json.Unmarshal(decisions[len(decisions)-1].Payload, &last); err != nil || !last.Decision.Allow {
			t.Errorf("the last decision on the merged head %s: allow %v (%v)", pr.HeadSHA, last.Decision.Allow, err)
		}
		merges := w.records(audit.Filter{Kind: audit.KindMerge, PullRequest: n})
		if len(merges) != 1 || merges[0].HeadSHA != head || merges[0].Model != "fraud-detector" || !strings.Contains(string(merges[0].Payload), pr.MergeCommitSHA) {
			t.Errorf("merge records %+v; want one, of head %s, naming the merge commit", merges, head)
		}
		if got := len(w.records(audit.Filter{Kind: audit.KindApproval, PullRequest: n})); got != 2 {
			t.Errorf("%d approval records; want 2 (bob's recorded once though judged twice)", got)
		}
		if _, err := w.db.Verify(t.Context()); err != nil {
			t.Errorf("audit chain: %v", err)
		}
		// The compliance report reads back what the App recorded.
		rep, err := compliance.Load(t.Context(), w.db, compliance.Query{Model: "fraud-detector", Version: "2.3.0"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var md strings.Builder
		if err := rep.WriteMarkdown(&md); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"bob", "carol", pr.MergeCommitSHA, "alice", "2.2.0"} {
			if !strings.Contains(md.String(), want) {
				t.Errorf("the compliance report lacks %q:\n%s", want, md.String())
			}
		}
	})
}

func TestDeniedWithAnnotations(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{promotion: demand})
		n := w.open("alice")
		head := w.gh.PullRequest(repoName, n).HeadSHA
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "bob")
		w.approve(n, "carol")
		w.settle()

		cr := w.runs(head)[app.CheckPolicy]
		if cr.Conclusion != "failure" {
			t.Fatalf("policy check %q; want failure", cr.Conclusion)
		}
		if len(cr.Annotations) == 0 {
			t.Fatal("a denial with no annotation")
		}
		for _, a := range cr.Annotations {
			// Approvals and stage order are about the pin, the rest about the manifest.
			section, _, _ := strings.Cut(a.Title, ".")
			onPin := (section == "approvals" || section == "stage") && a.Path == "environments/production.yaml" && a.StartLine > 1
			if a.Level == "failure" && !strings.HasPrefix(a.Path, "models/demand-forecast/1.5.0/") && a.Path != ".modelgate/config.yaml" && !onPin {
				t.Errorf("%s annotation on %s:%d; want it on the manifest, or on the pin", a.Title, a.Path, a.StartLine)
			}
		}
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("a denied promotion was merged")
		}
		if strings.Count(w.comment(n).Body, "❌") == 0 {
			t.Errorf("the comment does not show the denial:\n%s", w.comment(n).Body)
		}
		metrics := w.get("/metrics")
		for _, want := range []string{
			`modelgate_decisions_total{outcome="deny"} 3`,
			`modelgate_webhook_deliveries_total{event="pull_request_review",result="queued"} 2`,
			`modelgate_queue_jobs{state="pending"} 0`,
			`modelgate_github_api_calls_total{method="POST",status="201"}`,
			`modelgate_github_rate_limit_remaining `,
			`modelgate_evaluation_seconds_count 3`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

// pushNotes is pusher pushing a change to the promotion branch that the gate
// has nothing against: whatever then stops a merge is who approved.
func (w *world) pushNotes(pusher string) string {
	w.t.Helper()
	w.work.Checkout("promote")
	w.work.Write("README.md", "Release notes by "+pusher+"\n")
	w.work.Commit("notes", time.Now())
	return w.gh.Push(repoName, "promote", pusher)
}

// mergeable says why a head is allowed: the same approvals on it, given by
// reviewers who did not push, merge it.
func (w *world) mergeable(n int) {
	w.t.Helper()
	w.approve(n, "bob")
	w.approve(n, "dave")
	w.settle()
	if !w.gh.PullRequest(repoName, n).Merged {
		w.t.Fatalf("not merged with the approvals of bob (compliance) and dave: the head is denied for another reason\n%s",
			w.runs(w.gh.PullRequest(repoName, n).HeadSHA)[app.CheckPolicy].Summary)
	}
}

func TestStaleApprovalAfterPush(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice")
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "bob")
		w.settle()

		// The author pushes after bob's approval: bob approved another head.
		newHead := w.pushNotes("alice")
		w.deliver(w.gh.PullRequestEvent(repoName, n, "synchronize"), http.StatusAccepted)
		w.approve(n, "carol")
		w.settle()

		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged on an approval given before the last push")
		}
		if cr := w.runs(newHead)[app.CheckPolicy]; cr.Conclusion != "failure" {
			t.Errorf("policy check on the new head: %s", cr.Conclusion)
		}
		body := w.comment(n).Body
		if !strings.Contains(body, "@bob: approved") || !strings.Contains(body, "need a new approval") {
			t.Errorf("the comment does not say why bob's approval no longer counts:\n%s", body)
		}
		w.mergeable(n)
	})
}

func TestAuthorApprovalDoesNotCount(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("bob") // bob is in compliance, but opened the pull request
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "bob")
		w.approve(n, "carol")
		w.settle()
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("the author's own approval counted")
		}
		if body := w.comment(n).Body; !strings.Contains(body, "@bob: opened the pull request") {
			t.Errorf("the comment does not list the author's approval as not counting:\n%s", body)
		}
	})
}

func TestPusherApprovalDoesNotCount(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice")
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		// carol pushes a commit whose address is no account's, then approves.
		w.pushNotes("carol")
		w.deliver(w.gh.PullRequestEvent(repoName, n, "synchronize"), http.StatusAccepted)
		w.approve(n, "bob")
		w.approve(n, "carol")
		w.settle()
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged on the approval of someone who pushed to the pull request")
		}
		if body := w.comment(n).Body; !strings.Contains(body, "@carol: pushed a commit to the pull request") {
			t.Errorf("the comment does not say why carol's approval does not count:\n%s", body)
		}
		if got := w.records(audit.Filter{Kind: audit.KindPush, PullRequest: n, Actor: "carol"}); len(got) != 1 {
			t.Errorf("%d push records for carol; want 1", len(got))
		}
		w.mergeable(n)
	})
}

// carol pushes the promotion branch before anyone opens a pull request from
// it, so no synchronize event ever names her.
func TestPushedBeforeOpenedApprovalDoesNotCount(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		w.pushNotes("carol")
		n := w.open("alice")
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "bob")
		w.approve(n, "carol")
		w.settle()
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged on the approval of someone who pushed the branch before the pull request was opened")
		}
		if body := w.comment(n).Body; !strings.Contains(body, "@carol: pushed a commit to the pull request") {
			t.Errorf("the comment does not say why carol's approval does not count:\n%s", body)
		}
		w.mergeable(n)
	})
}

// carol pushes to an open pull request and approves it, and none of it is
// delivered: the reconciler's judgement must exclude her as a synchronize
// event would have.
func TestSynchronizeLostPusherStillExcluded(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{noApp: true})
		n := w.open("alice")
		head := w.pushNotes("carol")
		w.gh.SubmitReview(repoName, n, "bob", "APPROVED")
		w.gh.SubmitReview(repoName, n, "carol", "APPROVED")
		w.start(options{reconcile: time.Hour})
		deadline := time.Now().Add(settleFor)
		for len(w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n, HeadSHA: head})) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the reconciler never judged the pull request")
			}
			time.Sleep(20 * time.Millisecond)
		}
		w.settle()
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged on the approval of a pusher whose synchronize event was lost")
		}
		if body := w.comment(n).Body; !strings.Contains(body, "@carol: pushed a commit to the pull request") {
			t.Errorf("the comment does not say why carol's approval does not count:\n%s", body)
		}
	})
}

// The head branch of a pull request from a fork is in the fork, whose
// activity log the installation does not see: nobody can be shown not to
// have pushed to it, so no approval counts.
func TestForkApprovalsDoNotCount(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.gh.OpenPullRequest(repoName, githubtest.PullRequestOptions{Head: "promote", Fork: "carol/models", Author: "alice", Title: "Promote"})
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "bob")
		w.approve(n, "dave")
		w.settle()
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged a pull request from a fork on approvals whose reviewers may have pushed to it")
		}
		if body := w.comment(n).Body; !strings.Contains(body, "@bob: the head branch is in carol/models, whose pushers modelgate cannot see") {
			t.Errorf("the comment does not say why bob's approval does not count:\n%s", body)
		}
	})
}

// race pushes a new head to the pull request just before the first request
// of the App that match selects reaches GitHub, once armed.
type race struct {
	match func(*http.Request) bool
	armed atomic.Bool
	once  sync.Once
	push  func()
}

func (r *race) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.armed.Load() && r.match(req) {
		r.once.Do(r.push)
	}
	return http.DefaultTransport.RoundTrip(req)
}

func isMerge(req *http.Request) bool {
	return req.Method == http.MethodPut && strings.HasSuffix(req.URL.Path, "/merge")
}

// isReport is the App writing its comment: after the decision, before the
// merge.
func isReport(req *http.Request) bool {
	return req.Method != http.MethodGet && strings.Contains(req.URL.Path, "/issues/")
}

// pushUnreviewed is mallory pushing a change nobody approved to the
// promotion branch.
func (w *world) pushUnreviewed() {
	w.work.Checkout("promote")
	w.work.Write("models/fraud-detector/2.3.0/model.yaml", readFile(w.t, examples+"/models/fraud-detector/2.3.0/model.yaml")+"\n# unreviewed\n")
	w.work.Commit("unreviewed change", time.Now())
	w.gh.Push(repoName, "promote", "mallory")
}

func TestHeadMovesBeforeMerge(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		race := &race{match: isMerge}
		race.armed.Store(true)
		w := newWorld(t, dsn, options{noApp: true})
		race.push = w.pushUnreviewed
		w.start(options{transport: race})
		n := w.open("alice")
		judged := w.gh.PullRequest(repoName, n).HeadSHA
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "bob")
		w.approve(n, "carol")
		w.settle()

		pr := w.gh.PullRequest(repoName, n)
		if pr.Merged {
			t.Fatalf("merged %s, which was pushed after the evaluation of %s", pr.HeadSHA, judged)
		}
		refused := w.records(audit.Filter{Kind: audit.KindMergeRefused, PullRequest: n})
		if len(refused) != 1 || refused[0].HeadSHA != judged {
			t.Fatalf("merge refusals %+v; want one, of the judged head %s", refused, judged)
		}
		// The refusal led to judging the new head, which nobody approved.
		if got := w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n, HeadSHA: pr.HeadSHA}); len(got) == 0 {
			t.Error("the new head was never judged after the refused merge")
		}
		if cr := w.runs(pr.HeadSHA)[app.CheckPolicy]; cr.Conclusion != "failure" {
			t.Errorf("policy check on the unreviewed head: %q", cr.Conclusion)
		}
	})
}

// A push that lands after the decision and before the merge request: merging
// what the pull request holds by then would merge a head nobody judged.
func TestHeadMovesAfterDecision(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		race := &race{match: isReport}
		w := newWorld(t, dsn, options{noApp: true})
		race.push = w.pushUnreviewed
		w.start(options{transport: race})
		n := w.open("alice")
		judged := w.gh.PullRequest(repoName, n).HeadSHA
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "bob")
		w.settle()
		race.armed.Store(true)
		w.approve(n, "carol")
		w.settle()

		pr := w.gh.PullRequest(repoName, n)
		if pr.HeadSHA == judged {
			t.Fatal("the race never pushed")
		}
		if pr.Merged {
			t.Fatalf("merged %s, pushed after the decision on %s", pr.HeadSHA, judged)
		}
		if got := w.records(audit.Filter{Kind: audit.KindMerge, PullRequest: n}); len(got) != 0 {
			t.Errorf("merge records %+v; want none", got)
		}
		refused := w.records(audit.Filter{Kind: audit.KindMergeRefused, PullRequest: n})
		if len(refused) != 1 || refused[0].HeadSHA != judged {
			t.Fatalf("merge refusals %+v; want one, of the judged head %s", refused, judged)
		}
	})
}

// GitHub refusing every merge of a head that the gate allows: the App judges
// it again once, records each refusal, and the queue settles instead of
// judging and refusing for ever.
func TestMergeRefusedRepeatedly(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice")
		head := w.gh.PullRequest(repoName, n).HeadSHA
		w.gh.FailNext("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", http.StatusMethodNotAllowed, nil, 1000)
		w.gh.SubmitReview(repoName, n, "bob", "APPROVED")
		id := w.gh.SubmitReview(repoName, n, "carol", "APPROVED")
		w.deliver(w.gh.ReviewEvent(repoName, n, id, "submitted"), http.StatusAccepted)
		if s := w.settle(); s.Dead != 0 {
			t.Errorf("queue %+v; want no dead jobs", s)
		}
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged although GitHub refused")
		}
		refused := w.records(audit.Filter{Kind: audit.KindMergeRefused, PullRequest: n, HeadSHA: head})
		if len(refused) != 2 {
			t.Errorf("%d merge refusals of head %s; want 2: the allowed evaluation's and that of judging it again", len(refused), head)
		}
	})
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPolicyEditJudgedByBase(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		// The pull request loosens the drift and regression thresholds and adds
		// a policy of its own; the base's config and policies still judge it.
		w := newWorld(t, dsn, options{promotion: demand, extraEdits: func(r *gittest.Repo) {
			r.Write(".modelgate/config.yaml", "thresholds:\n  drift:\n    shareDrifted: 1\n  evaluation:\n    maxRegression: 100\n")
			r.Write(".modelgate/policies/allow.rego", "package modelgate.allow\n\nwarn contains \"everything allowed\" if true\n")
		}})
		n := w.open("alice")
		head := w.gh.PullRequest(repoName, n).HeadSHA
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "carol")
		w.settle()

		cr := w.runs(head)[app.CheckPolicy]
		for _, code := range []string{"policy_change.", "data.drift", "evaluation.regression"} {
			if !strings.Contains(cr.Summary, code) {
				t.Errorf("no %s denial: the pull request's own config or policies were used:\n%s", code, cr.Summary)
			}
		}
		if strings.Contains(cr.Summary, "everything allowed") {
			t.Error("the pull request's own policy was evaluated")
		}
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged")
		}
	})
}

// The base branch's own policies judge, but they can neither change the
// built-in ones nor send the input anywhere.
func TestOrganisationPoliciesCannotWeakenTheGate(t *testing.T) {
	var received atomic.Int32
	leak := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
	}))
	defer leak.Close()
	tests := []struct {
		file, src, want string
	}{
		{"teams.rego", "package modelgate.lib\n\n# Any team meets the compliance rule.\nteam_matches(_, _) if true\n",
			".modelgate/policies/teams.rego:1:1: package modelgate.lib is a built-in package"},
		{"leak.rego", fmt.Sprintf("package modelgate.acme\n\nwarn contains \"sent\" if {\n\thttp.send({\"method\": \"POST\", \"url\": %q, \"body\": input})\n}\n", leak.URL),
			".modelgate/policies/leak.rego:4:2: undefined function http.send"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			sqlstoretest.Each(t, func(t *testing.T, dsn string) {
				w := newWorld(t, dsn, options{mainEdits: func(r *gittest.Repo) { r.Write(".modelgate/policies/"+tt.file, tt.src) }})
				gh := w.gh
				gh.AddTeamMember("acme", "risk", "dave")
				n := w.open("alice")
				head := gh.PullRequest(repoName, n).HeadSHA
				w.deliver(gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
				// Two approvals, neither from compliance.
				w.approve(n, "carol")
				w.approve(n, "dave")
				w.settle()

				if gh.PullRequest(repoName, n).Merged {
					t.Error("merged")
				}
				if cr := w.runs(head)[app.CheckPolicy]; cr.Conclusion != "failure" || !strings.Contains(cr.Summary, "policy.compile") || !strings.Contains(cr.Summary, tt.want) {
					t.Errorf("policy check %s; want a policy.compile failure naming %s:\n%s", cr.Conclusion, tt.want, cr.Summary)
				}
				if n := received.Load(); n != 0 {
					t.Errorf("a policy sent %d requests", n)
				}
			})
		})
	}
}

func TestDuplicateDeliveryProcessedOnce(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice")
		head := w.gh.PullRequest(repoName, n).HeadSHA
		d := w.gh.PullRequestEvent(repoName, n, "opened")
		w.deliver(d, http.StatusAccepted)
		w.deliver(d, http.StatusOK)
		w.settle()
		w.deliver(d, http.StatusOK)
		w.settle()
		if got := len(w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n, HeadSHA: head})); got != 1 {
			t.Errorf("%d decisions for one delivery delivered three times; want 1", got)
		}
		var policyRuns int
		for _, cr := range w.gh.CheckRuns(repoName) {
			if cr.Name == app.CheckPolicy {
				policyRuns++
			}
		}
		if policyRuns != 1 {
			t.Errorf("%d policy check runs; want 1", policyRuns)
		}
	})
}

func TestBadSignatureRejected(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice")
		d := w.gh.PullRequestEvent(repoName, n, "opened")
		forged := *d
		forged.Header = d.Header.Clone()
		forged.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
		w.deliver(&forged, http.StatusUnauthorized)
		w.settle()
		if len(w.gh.CheckRuns(repoName)) != 0 || len(w.records(audit.Filter{})) != 0 {
			t.Fatal("a delivery with a forged signature was acted on")
		}
	})
}

func TestRestartMidQueue(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{noApp: true})
		// Three pull requests from the same branch; six deliveries, stored
		// directly into the queue as the intake stores them, while no worker
		// runs.
		var deliveries []*githubtest.Delivery
		var numbers []int
		for range 3 {
			n := w.open("alice")
			numbers = append(numbers, n)
			deliveries = append(deliveries, w.gh.PullRequestEvent(repoName, n, "opened"), w.gh.PullRequestEvent(repoName, n, "reopened"))
		}
		for _, d := range deliveries {
			task, err := app.ParseEvent(d.Event, d.Body)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.db.Enqueue(t.Context(), queue.Job{Delivery: d.ID, Event: d.Event, Key: task.Key(), Payload: d.Body}); err != nil {
				t.Fatal(err)
			}
		}
		// A worker took one job and crashed holding it.
		if _, ok, err := w.db.Claim(t.Context(), "crashed-worker", 300*time.Millisecond); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		// The App starts, is stopped mid-queue, and starts again.
		w.start(options{})
		time.Sleep(100 * time.Millisecond)
		w.stop()
		w.start(options{})
		w.settle()

		decisions := 0
		for _, n := range numbers {
			decisions += len(w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n}))
		}
		if decisions != len(deliveries) {
			t.Errorf("%d decisions for %d accepted deliveries; want each processed exactly once", decisions, len(deliveries))
		}
		if s := w.settle(); s.Dead != 0 {
			t.Errorf("dead jobs: %+v", s)
		}
	})
}

func TestReconcilerEvaluatesMissedWebhook(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{noApp: true})
		n := w.open("alice") // GitHub never delivered its webhook
		head := w.gh.PullRequest(repoName, n).HeadSHA
		w.start(options{reconcile: time.Hour})
		deadline := time.Now().Add(settleFor)
		for len(w.runs(head)) < 3 {
			if time.Now().After(deadline) {
				t.Fatal("the reconciler never evaluated the pull request")
			}
			time.Sleep(20 * time.Millisecond)
		}
		w.settle()
		if got := len(w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n, HeadSHA: head})); got != 1 {
			t.Errorf("%d decisions; want 1", got)
		}
	})
}

func TestAPIErrorsFailClosed(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice")
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.settle()

		// GitHub errors and rate limits while approvals arrive: retried, and
		// the merge happens once GitHub answers.
		w.gh.FailNext("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", http.StatusBadGateway, nil, 2)
		w.gh.FailNext("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", http.StatusForbidden,
			map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": unixIn(time.Second)}, 1)
		w.gh.FailNext("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", http.StatusInternalServerError, nil, 1)
		w.approve(n, "bob")
		w.approve(n, "carol")
		w.settle()
		pr := w.gh.PullRequest(repoName, n)
		if !pr.Merged {
			t.Fatal("not merged once GitHub recovered")
		}
		if got := len(w.records(audit.Filter{Kind: audit.KindMerge, PullRequest: n})); got != 1 {
			t.Errorf("%d merge records; want 1", got)
		}
	})
}

func TestTeamLookupFailingNeverMerges(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice")
		id1 := w.gh.SubmitReview(repoName, n, "bob", "APPROVED")
		w.gh.SubmitReview(repoName, n, "carol", "APPROVED")
		// Team membership never answers: without it the compliance approval
		// cannot be established, so nothing may be decided or merged.
		w.gh.FailNext("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}", http.StatusInternalServerError, nil, 1000)
		w.deliver(w.gh.ReviewEvent(repoName, n, id1, "submitted"), http.StatusAccepted)
		s := w.settle()
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged although approvals could not be established")
		}
		if s.Dead != 1 {
			t.Errorf("queue %+v; want the job dead-lettered after its attempts", s)
		}
		if got := w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n}); len(got) != 0 {
			t.Errorf("a decision was recorded on incomplete approvals: %d", len(got))
		}
	})
}

func TestExplainCommand(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{promotion: demand})
		n := w.open("alice")
		w.deliver(w.gh.IssueCommentEvent(repoName, n, "dave", "Why?\n/modelgate explain\n"), http.StatusAccepted)
		w.settle()
		var found bool
		for _, c := range w.gh.Comments(repoName, n) {
			if c.User == "modelgate[bot]" && strings.Contains(c.Body, "modelgate explain") && strings.Contains(c.Body, "deny") {
				found = true
			}
		}
		if !found {
			t.Errorf("no explanation comment; comments: %+v", w.gh.Comments(repoName, n))
		}
	})
}

// listBranches makes the default branch's config gate pull requests into
// the branches patterns match.
func listBranches(t testing.TB, patterns string) func(r *gittest.Repo) {
	return func(r *gittest.Repo) {
		r.Write(".modelgate/config.yaml", readFile(t, examples+"/.modelgate/config.yaml")+"\nbranches: "+patterns+"\n")
	}
}

// relaxedBranch is mallory pushing, straight to a new branch off main, a
// .modelgate/ under which a promotion into production needs no approval.
func (w *world) relaxedBranch(branch string) {
	w.t.Helper()
	w.work.Checkout("main")
	w.work.Git("checkout", "-q", "-b", branch)
	w.work.Write(".modelgate/config.yaml", "approvals:\n  production: {count: 0, teams: []}\n")
	w.work.Commit("relax the rules", time.Now().Add(-30*time.Minute))
	w.gh.Push(repoName, branch, "mallory")
	w.work.Checkout("main")
}

// A pull request into a branch that the default branch's config does not
// list is left alone, however that branch's own .modelgate/ reads.
func TestUnlistedBranchLeftAlone(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{noApp: true})
		w.relaxedBranch("relaxed")
		w.start(options{})
		n := w.gh.OpenPullRequest(repoName, githubtest.PullRequestOptions{Head: "promote", Base: "relaxed", Author: "alice", Title: "Promote"})
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		if s := w.settle(); s.Dead != 0 {
			t.Fatalf("queue %+v", s)
		}
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged into a branch whose own .modelgate/ was relaxed by a direct push")
		}
		if len(w.gh.CheckRuns(repoName)) != 0 || len(w.gh.Comments(repoName, n)) != 0 || len(w.records(audit.Filter{})) != 0 {
			t.Fatal("the App acted on a pull request into a branch the default branch's config does not list")
		}
	})
}

// A pull request into a listed branch is judged by the default branch's
// .modelgate/, not by the branch's own, and merged into that branch.
func TestListedBranchJudgedByDefaultBranchRules(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{noApp: true, mainEdits: listBranches(t, "[release/*]")})
		w.relaxedBranch("release/1")
		w.start(options{})
		n := w.gh.OpenPullRequest(repoName, githubtest.PullRequestOptions{Head: "promote", Base: "release/1", Author: "alice", Title: "Promote"})
		head := w.gh.PullRequest(repoName, n).HeadSHA
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.settle()
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged without approvals: judged by the branch's own relaxed .modelgate/")
		}
		if cr := w.runs(head)[app.CheckPolicy]; cr.Conclusion != "failure" || !strings.Contains(cr.Summary, "approvals.") {
			t.Fatalf("policy check %s; want the default branch's approval rules to deny:\n%s", cr.Conclusion, cr.Summary)
		}
		decisions := w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n, HeadSHA: head})
		rules := `"rules_sha":"` + w.gh.Branch(repoName, "main") + `"`
		if len(decisions) == 0 || !strings.Contains(string(decisions[0].Payload), rules) {
			t.Errorf("the decision record does not name the default branch's tip as the commit whose rules judged it (%s)", rules)
		}
		w.approve(n, "bob")
		w.approve(n, "carol")
		w.settle()
		pr := w.gh.PullRequest(repoName, n)
		if !pr.Merged {
			t.Fatalf("not merged with the approvals the default branch's config asks:\n%s", w.runs(head)[app.CheckPolicy].Summary)
		}
		if got := w.gh.Branch(repoName, "release/1"); got != pr.MergeCommitSHA {
			t.Errorf("release/1 is at %s, the merge commit is %s", got, pr.MergeCommitSHA)
		}
	})
}

func TestBaseChangeJudgedAgain(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{noApp: true, mainEdits: listBranches(t, "[release]")})
		w.work.Git("branch", "release", "main")
		w.gh.Push(repoName, "release", "alice")
		w.start(options{})
		n := w.open("alice")
		head := w.gh.PullRequest(repoName, n).HeadSHA
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.settle()
		w.gh.SetBase(repoName, n, "release")
		w.deliver(w.gh.PullRequestEvent(repoName, n, "edited"), http.StatusAccepted)
		w.settle()
		decisions := w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n, HeadSHA: head})
		if len(decisions) != 2 || !strings.Contains(string(decisions[1].Payload), `"base_ref":"release"`) {
			t.Fatalf("%d decisions; want the pull request judged again against its new base release", len(decisions))
		}
	})
}

func TestInstallationEventSweeps(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice") // opened while the App was not installed: no webhook
		head := w.gh.PullRequest(repoName, n).HeadSHA
		w.deliver(w.gh.InstallationEvent(w.inst, "created", "alice"), http.StatusAccepted)
		w.settle()
		if got := w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n, HeadSHA: head}); len(got) != 1 {
			t.Fatalf("%d decisions after the installation event; want the open pull request judged once", len(got))
		}
	})
}

func TestRepositoryWithoutModelgateIgnored(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{noConfig: true})
		n := w.open("alice")
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		if s := w.settle(); s.Dead != 0 {
			t.Fatalf("queue %+v", s)
		}
		if len(w.gh.CheckRuns(repoName)) != 0 || len(w.gh.Comments(repoName, n)) != 0 || len(w.records(audit.Filter{})) != 0 {
			t.Fatal("the App acted on a repository with no .modelgate/ on its base branch")
		}
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged")
		}
	})
}

// BenchmarkWebhookToCheckRun measures, on the example repository, the time
// from a pull_request delivery to the App's policy check run on the emulator,
// and the GitHub API calls that evaluation makes: the first one (cold caches,
// a new installation token), those of later new pull requests of the same
// commits, and those of judging a pull request again.
func BenchmarkWebhookToCheckRun(b *testing.B) {
	w := newWorld(b, b.TempDir()+"/mg.db", options{})
	var lat []time.Duration
	var calls, first int
	policyRuns := func() int {
		n := 0
		for _, cr := range w.gh.CheckRuns(repoName) {
			if cr.Name == app.CheckPolicy {
				n++
			}
		}
		return n
	}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		n := w.open("alice")
		d := w.gh.PullRequestEvent(repoName, n, "opened")
		before := policyRuns()
		w.gh.ResetCalls()
		b.StartTimer()
		t0 := time.Now()
		w.deliver(d, http.StatusAccepted)
		for policyRuns() == before {
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		w.settle()
		c := len(w.gh.Calls())
		if i == 0 {
			first = c
			if testing.Verbose() {
				for _, call := range w.gh.Calls() {
					b.Logf("%s", call)
				}
			}
		} else {
			calls += c
		}
		b.StartTimer()
	}
	b.StopTimer()
	// The last pull request judged again, as after a review or a recheck.
	d := w.gh.IssueCommentEvent(repoName, len(lat), "dave", "/modelgate recheck") // numbers start at 1
	w.gh.ResetCalls()
	w.deliver(d, http.StatusAccepted)
	w.settle()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "median-ms")
	b.ReportMetric(float64(first), "first-eval-calls")
	if len(lat) > 1 {
		b.ReportMetric(float64(calls)/float64(len(lat)-1), "new-pr-calls")
	}
	b.ReportMetric(float64(len(w.gh.Calls())), "recheck-calls")
}

func unixIn(d time.Duration) string {
	return strconv.FormatInt(time.Now().Add(d).Unix(), 10)
}

// pinFraud pins fraud-detector version in production and in staging on the
// work tree's main and commits that as landed at the given time.
func (w *world) pinFraud(production, staging string, at time.Time) {
	w.t.Helper()
	w.work.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \""+production+"\", demand-forecast: \"1.4.0\"}\n")
	w.work.Write("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: \""+staging+"\", demand-forecast: \"1.4.0\"}\n")
	w.work.Commit("fraud-detector "+production+" in production, "+staging+" in staging", at)
}

// propose opens a pull request from a new branch off the work tree's main
// that pins fraud-detector version in production.
func (w *world) propose(branch, version string, at time.Time) int {
	w.t.Helper()
	w.work.Branch(branch)
	w.work.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \""+version+"\", demand-forecast: \"1.4.0\"}\n")
	w.work.Commit("fraud-detector "+version+" to production", at)
	w.gh.Push(repoName, branch, "alice")
	return w.gh.OpenPullRequest(repoName, githubtest.PullRequestOptions{Head: branch, Author: "alice", Title: "fraud-detector " + version})
}

// A pull request pinned fraud-detector 2.3.0 in production and unpinned it
// again, and was rebase-merged by hand: both commits carry the merge's
// committer time. The promotion of 2.3.0 into production that follows is no
// rollback: it needs production's approvals, not the one a rollback needs.
func TestPinnedAndUnpinnedIsNoRollback(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		w.work.Checkout("main")
		landed := time.Now().Add(-48 * time.Hour)
		w.pinFraud("2.3.0", "2.3.0", landed)
		w.pinFraud("2.2.0", "2.2.0", landed)
		w.gh.Push(repoName, "main", "alice")

		n := w.propose("again", "2.3.0", time.Now().Add(-time.Hour))
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "carol")
		w.settle()
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("merged as a rollback to a version production never ran")
		}
		head := w.gh.PullRequest(repoName, n).HeadSHA
		if cr := w.runs(head)[app.CheckPolicy]; cr.Conclusion != "failure" || !strings.Contains(cr.Summary, "approvals.count") {
			t.Errorf("policy check %s; want a failure for approvals.count:\n%s", cr.Conclusion, cr.Summary)
		}
	})
}

// A promotion that the App merged ran, however soon it was undone: returning
// to it is a rollback, which the App merges without the stage before.
func TestMergedPromotionMakesARollback(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice")
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "bob")
		w.approve(n, "carol")
		w.settle()
		if !w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("the promotion of fraud-detector 2.3.0 was not merged")
		}

		// Ten minutes later production is back on 2.2.0, and staging too.
		w.work.Git("fetch", "-q", w.gh.GitDir(repoName), "main")
		w.work.Checkout("main")
		w.work.Git("reset", "-q", "--hard", "FETCH_HEAD")
		w.pinFraud("2.2.0", "2.2.0", w.gh.Now().Add(10*time.Minute))
		w.gh.Push(repoName, "main", "alice")
		again := w.propose("again", "2.3.0", w.gh.Now().Add(20*time.Minute))
		w.deliver(w.gh.PullRequestEvent(repoName, again, "opened"), http.StatusAccepted)
		w.approve(again, "bob")
		w.approve(again, "carol")
		w.settle()
		head := w.gh.PullRequest(repoName, again).HeadSHA
		if !w.gh.PullRequest(repoName, again).Merged {
			t.Fatalf("the rollback was not merged; policy check:\n%s", w.runs(head)[app.CheckPolicy].Summary)
		}
		decisions := w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: again, HeadSHA: head})
		if len(decisions) == 0 || !strings.Contains(string(decisions[len(decisions)-1].Payload), `"rollback":true`) {
			t.Errorf("the decision records do not say rollback: %+v", decisions)
		}
	})
}

// Removing a pin is judged like a promotion into the stage: it needs the
// stage's approvals, and is merged once it has them.
func TestRemovalNeedsApprovals(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{extraEdits: func(r *gittest.Repo) {
			r.Write("environments/production.yaml", "stage: production\nmodels: {demand-forecast: \"1.4.0\"}\n")
		}})
		n := w.open("alice")
		head := w.gh.PullRequest(repoName, n).HeadSHA
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.settle()
		if cr := w.runs(head)[app.CheckPolicy]; cr.Conclusion != "failure" || !strings.Contains(cr.Summary, "approvals.count") {
			t.Fatalf("without approvals the policy check is %s:\n%s", cr.Conclusion, cr.Summary)
		}
		decisions := w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n, Model: "fraud-detector", Version: "2.2.0", Stage: "production"})
		if len(decisions) != 1 || !strings.Contains(string(decisions[0].Payload), `"kind":"removal"`) {
			t.Errorf("decision records of the removal: %+v", decisions)
		}
		w.approve(n, "bob")
		w.approve(n, "carol")
		w.settle()
		if !w.gh.PullRequest(repoName, n).Merged {
			t.Fatalf("not merged with production's approvals; policy check:\n%s", w.runs(head)[app.CheckPolicy].Summary)
		}
		if merges := w.records(audit.Filter{Kind: audit.KindMerge, PullRequest: n, Model: "fraud-detector", Version: "2.2.0", Stage: "production"}); len(merges) != 1 {
			t.Errorf("merge records of the removal: %+v", merges)
		}
		rep, err := compliance.Load(t.Context(), w.db, compliance.Query{Model: "fraud-detector", Version: "2.2.0"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var md strings.Builder
		if err := rep.WriteMarkdown(&md); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(md.String(), "Removes it from the stage") || strings.Contains(md.String(), "Replaces:") {
			t.Errorf("the compliance report does not show the removal as one:\n%s", md.String())
		}
	})
}

// TestParquetFooterClaimDenied: a pull request whose Parquet data file claims
// 10^11 rows in its footer is denied with the limit it breaks; sizing the
// column from the claim used to abort the process, and every replica that
// took the job after it.
func TestParquetFooterClaimDenied(t *testing.T) {
	attack, err := os.ReadFile("testdata/footer-claims-1e11-rows.parquet")
	if err != nil {
		t.Fatal(err)
	}
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{extraEdits: func(r *gittest.Repo) {
			from, to := "models/fraud-detector/2.3.0/", "models/fraud-detector/2.4.0/"
			for _, f := range []string{"data/reference.csv", "eval/predictions.csv", "eval/baseline_predictions.csv"} {
				data, err := os.ReadFile(examples + "/" + from + f)
				if err != nil {
					t.Fatal(err)
				}
				r.Write(to+f, string(data))
			}
			manifest, err := os.ReadFile(examples + "/" + from + "model.yaml")
			if err != nil {
				t.Fatal(err)
			}
			m := strings.Replace(string(manifest), `version: "2.3.0"`, `version: "2.4.0"`, 1)
			r.Write(to+"model.yaml", strings.Replace(m, "current: data/current.csv", "current: data/current.parquet", 1))
			r.Write(to+"data/current.parquet", string(attack))
			r.Write("environments/dev.yaml", "stage: dev\nmodels: {fraud-detector: \"2.4.0\", demand-forecast: \"1.5.0\"}\n")
		}})
		n := w.open("alice")
		head := w.gh.PullRequest(repoName, n).HeadSHA
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "bob")
		w.approve(n, "carol")
		w.settle()

		cr := w.runs(head)[app.CheckPolicy]
		want := "could not run: data/current.parquet: more than 100000000 rows, the limit; raise limits.rows in .modelgate/config.yaml"
		if cr.Conclusion != "failure" || !strings.Contains(cr.Summary+cr.Text, want) {
			t.Errorf("policy check %q:\n%s\n%s\nwant a denial that says %q", cr.Conclusion, cr.Summary, cr.Text, want)
		}
		if w.gh.PullRequest(repoName, n).Merged {
			t.Fatal("a denied promotion was merged")
		}
	})
}

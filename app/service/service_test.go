package service_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/app/service"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/compliance"
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
	noConfig   bool // the base branch has no .modelgate/: not a repository modelgate watches
}

func newWorld(t testing.TB, dsn string, o options) *world {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddApp(appID, "modelgate", &appKey().PublicKey)
	inst := gh.AddInstallation(appID, "acme")
	gh.AddTeamMember("acme", "compliance", "bob")
	gh.AddTeamMember("acme", "risk", "carol")

	now := time.Now()
	r := gittest.New(t)
	r.CopyDir(examples)
	if o.noConfig {
		r.Remove(".modelgate")
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

	db, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	w := &world{t: t, gh: gh, work: r, dsn: dsn, db: db, inst: inst}
	if !o.noApp {
		w.start(o)
	}
	return w
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
	cfg := service.Config{
		AppID: appID, PrivateKey: keyPEM, WebhookSecret: []byte(w.gh.WebhookSecret()),
		Database: w.dsn, GitHubURL: w.gh.URL(), Transport: o.transport,
		Workers: 2, ReconcileInterval: reconcile, Lease: 5 * time.Second, Poll: 20 * time.Millisecond,
		MaxAttempts: 4, Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(testWriter{w.t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	go func() { done <- service.Serve(ctx, ln, cfg) }()
	w.url = "http://" + ln.Addr().String()
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
		rep, err := compliance.Load(t.Context(), w.db, "fraud-detector", "2.3.0", time.Now())
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
			if a.Level == "failure" && !strings.HasPrefix(a.Path, "models/demand-forecast/1.5.0/") && a.Path != ".modelgate/config.yaml" {
				t.Errorf("annotation on %s:%d; want it on the manifest", a.Path, a.StartLine)
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

func TestStaleApprovalAfterPush(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice")
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.approve(n, "bob")
		w.settle()

		// The author pushes after bob's approval: bob approved another head.
		w.work.Checkout("promote")
		w.work.Write("models/fraud-detector/2.3.0/NOTES.md", "late change\n")
		w.work.Commit("late change", time.Now())
		newHead := w.gh.Push(repoName, "promote", "alice")
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
		// carol pushes a commit whose author is someone else, then approves.
		w.work.Checkout("promote")
		w.work.Write("models/fraud-detector/2.3.0/NOTES.md", "tuned\n")
		w.work.Commit("tuned", time.Now())
		w.gh.Push(repoName, "promote", "carol")
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
	})
}

// mergeRace pushes a new head to the pull request just before the App's first
// merge request reaches GitHub: the head moves between decision and merge.
type mergeRace struct {
	once sync.Once
	push func()
}

func (m *mergeRace) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && strings.HasSuffix(req.URL.Path, "/merge") {
		m.once.Do(m.push)
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestHeadMovesBeforeMerge(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		race := &mergeRace{}
		w := newWorld(t, dsn, options{noApp: true})
		race.push = func() {
			w.work.Checkout("promote")
			w.work.Write("models/fraud-detector/2.3.0/model.yaml", readFile(t, examples+"/models/fraud-detector/2.3.0/model.yaml")+"\n# unreviewed\n")
			w.work.Commit("unreviewed change", time.Now())
			w.gh.Push(repoName, "promote", "mallory")
		}
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

func readFile(t *testing.T, p string) string {
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

func TestBaseChangeJudgedAgain(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{noApp: true})
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

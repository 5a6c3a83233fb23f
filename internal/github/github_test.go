package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
)

const (
	testAppID = 4242
	testOrg   = "acme"
	testRepo  = "acme/models"
)

// newKey is the test App's key, generated once: RSA generation is slow.
var newKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

func testKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// fixture is an emulated GitHub with the App installed on acme and the
// repository acme/models served from a work tree, and the App under test.
type fixture struct {
	gh    *githubtest.Server
	work  *gittest.Repo
	inst  int64
	clock *fakeClock
	app   *App
	repo  *Repo

	mu       sync.Mutex
	observed []Call
}

func newFixture(t *testing.T, work *gittest.Repo) *fixture {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddApp(testAppID, "modelgate", &testKey(t).PublicKey)
	inst := gh.AddInstallation(testAppID, testOrg)
	gh.AddRepo(inst, testRepo, work.Dir)
	f := &fixture{gh: gh, work: work, inst: inst, clock: newFakeClock()}
	f.app = f.newApp(t, f.clock, 0)
	f.repo = f.repoOf(t, f.app)
	return f
}

func (f *fixture) newApp(t *testing.T, clk clock, maxWait time.Duration) *App {
	t.Helper()
	key := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey(t))})
	app, err := newApp(Config{
		AppID: testAppID, PrivateKey: key, BaseURL: f.gh.URL() + "/api/v3/", MaxWait: maxWait,
		Observe: func(c Call) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.observed = append(f.observed, c)
		},
	}, clk)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func (f *fixture) repoOf(t *testing.T, app *App) *Repo {
	t.Helper()
	repo, err := app.Installation(f.inst).Repo(testRepo)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// calls counts the calls the emulator received by "METHOD route", with the
// status when it is not a success.
func (f *fixture) calls() map[string]int {
	counts := map[string]int{}
	for _, c := range f.gh.Calls() {
		key := c.String()
		if c.Status >= 300 {
			key += fmt.Sprintf(" (%d)", c.Status)
		}
		counts[key]++
	}
	return counts
}

func (f *fixture) count(method, route string) int {
	n := 0
	for _, c := range f.gh.Calls() {
		if c.Method == method && c.Route == route {
			n++
		}
	}
	return n
}

const (
	routeToken   = "/app/installations/{installation_id}/access_tokens"
	routePull    = "/repos/{owner}/{repo}/pulls/{pull_number}"
	routeTree    = "/repos/{owner}/{repo}/git/trees/{tree_sha}"
	routeBlob    = "/repos/{owner}/{repo}/git/blobs/{file_sha}"
	routeCompare = "/repos/{owner}/{repo}/compare/{basehead}"
	routeCommits = "/repos/{owner}/{repo}/commits"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// pullScenario is a repository with main and the pull request #1 from
// promote, by alice, whose commit address is the work tree's.
type pullScenario struct {
	*fixture
	number     int
	base, head string
}

func newPullScenario(t *testing.T) *pullScenario {
	t.Helper()
	w := gittest.New(t)
	w.Write("README.md", "models\n")
	w.Write("environments/dev.yaml", "stage: dev\nmodels: {a: \"1.0.0\"}\n")
	base := w.Commit("initial", t0)
	w.Branch("promote")
	w.Write("environments/dev.yaml", "stage: dev\nmodels: {a: \"2.0.0\"}\n")
	head := w.Commit("promote a 2.0.0", t0.Add(time.Hour))
	w.Checkout("main")
	f := newFixture(t, w)
	f.gh.AddUser("alice", "author@example.com")
	n := f.gh.OpenPullRequest(testRepo, githubtest.PullRequestOptions{Head: "promote", Author: "alice", Title: "Promote a", Labels: []string{"promotion", "dev"}})
	return &pullScenario{fixture: f, number: n, base: base, head: head}
}

func TestInstallationsAndRepositories(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	insts, err := s.app.Installations(ctx)
	if err != nil || len(insts) != 1 || insts[0] != (Installation{ID: s.inst, Account: testOrg}) {
		t.Errorf("Installations = %+v, %v", insts, err)
	}
	repos, err := s.app.Installation(s.inst).Repositories(ctx)
	if err != nil || !slices.Equal(repos, []Repository{{ID: s.gh.RepoID(testRepo), FullName: testRepo}}) {
		t.Errorf("Repositories = %v, %v", repos, err)
	}
	if s.app.Installation(s.inst) != s.app.Installation(s.inst) {
		t.Error("Installation made a second client for the same installation")
	}
	for _, bad := range []string{"acme", "acme/models/x", "../models", "acme/..", "acme/mo dels", "/models"} {
		if _, err := s.app.Installation(s.inst).Repo(bad); err == nil {
			t.Errorf("Repo(%q) accepted", bad)
		}
	}
}

func TestNewAppRejectsBadConfig(t *testing.T) {
	key := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey(t))})
	for name, cfg := range map[string]Config{
		"no app ID":        {PrivateKey: key},
		"no key":           {AppID: 1},
		"not a key":        {AppID: 1, PrivateKey: []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")},
		"relative URL":     {AppID: 1, PrivateKey: key, BaseURL: "api/v3"},
		"negative MaxWait": {AppID: 1, PrivateKey: key, MaxWait: -time.Second},
	} {
		if _, err := NewApp(cfg); err == nil {
			t.Errorf("%s: NewApp accepted it", name)
		}
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewApp(Config{AppID: 1, PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})}); err != nil {
		t.Errorf("PKCS #8 key: %v", err)
	}
}

func TestPullRequest(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	pr, err := s.repo.PullRequest(ctx, s.number)
	want := PullRequest{
		Number: s.number, URL: s.gh.URL() + "/acme/models/pull/1", Title: "Promote a", Author: "alice", State: "open",
		HeadSHA: s.head, HeadRef: "promote", HeadRepo: testRepo, BaseRef: "main", BaseSHA: s.base, Labels: []string{"promotion", "dev"},
		DefaultBranch: "main", RepoID: s.gh.RepoID(testRepo),
	}
	if err != nil || fmt.Sprint(pr) != fmt.Sprint(want) {
		t.Errorf("PullRequest = %+v, %v\nwant %+v", pr, err, want)
	}
	open, err := s.repo.OpenPullRequests(ctx)
	if err != nil || len(open) != 1 || open[0].Number != s.number || open[0].HeadSHA != s.head {
		t.Errorf("OpenPullRequests = %+v, %v", open, err)
	}
	if _, err := s.repo.PullRequest(ctx, 99); StatusCode(err) != 404 {
		t.Errorf("missing pull request: %v", err)
	}
}

func TestReviewsCommittersAndTeams(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	approval := s.gh.SubmitReview(testRepo, s.number, "bob", "APPROVED")
	s.gh.DismissReview(testRepo, s.number, approval)
	s.gh.SubmitReview(testRepo, s.number, "carol", "CHANGES_REQUESTED")
	s.gh.SubmitReview(testRepo, s.number, "bob", "APPROVED")
	reviews, err := s.repo.Reviews(ctx, s.number)
	if err != nil || len(reviews) != 3 {
		t.Fatalf("Reviews = %+v, %v", reviews, err)
	}
	if r := reviews[0]; r.User != "bob" || r.State != "DISMISSED" || r.CommitID != s.head || r.ID != approval || r.SubmittedAt.IsZero() {
		t.Errorf("first review = %+v", r)
	}
	if r := reviews[2]; r.User != "bob" || r.State != "APPROVED" {
		t.Errorf("last review = %+v", r)
	}

	// Commits by bob, and by an address that belongs to no account.
	s.gh.AddUser("bob", "bob@example.com")
	s.work.Checkout("promote")
	s.work.Write("models/a/2.0.0/model.yaml", "name: a\n")
	s.work.Git("add", "-A")
	s.work.Git("commit", "-q", "--author", "Bob <bob@example.com>", "-m", "manifest")
	s.work.Write("README.md", "models\nmore\n")
	s.work.Git("add", "-A")
	s.work.Git("-c", "user.email=nobody@example.com", "commit", "-q", "--author", "Nobody <nobody@example.com>", "-m", "readme")
	s.gh.Push(testRepo, "promote", "alice")
	committers, err := s.repo.Committers(ctx, s.base, s.gh.PullRequest(testRepo, s.number).HeadSHA)
	if err != nil || !slices.Equal(committers, []string{"alice", "bob"}) {
		t.Errorf("Committers = %v, %v; want alice and bob", committers, err)
	}

	s.gh.AddTeamMember(testOrg, "compliance", "bob")
	for _, tt := range []struct {
		team, user string
		want       bool
	}{{"compliance", "bob", true}, {"compliance", "carol", false}, {"nobody", "bob", false}} {
		if got, err := s.repo.TeamMember(ctx, testOrg, tt.team, tt.user); err != nil || got != tt.want {
			t.Errorf("TeamMember(%s, %s) = %v, %v; want %v", tt.team, tt.user, got, err, tt.want)
		}
	}
}

func TestPushers(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	// erin pushes first; then dave force-pushes the branch back and forth a
	// hundred times, so that erin is on the activity log's second page.
	s.work.Checkout("promote")
	s.work.Write("README.md", "models\nby erin\n")
	erin := s.work.Commit("erin's change", t0.Add(2*time.Hour))
	s.gh.Push(testRepo, "promote", "erin")
	for i := range 100 {
		s.work.Git("reset", "-q", "--hard", []string{s.head, erin}[i%2])
		s.gh.Push(testRepo, "promote", "dave")
	}
	pushers, err := s.repo.Pushers(ctx, "promote")
	if err != nil || !slices.Equal(pushers, []string{"dave", "erin"}) {
		t.Errorf("Pushers(promote) = %v, %v; want dave and erin", pushers, err)
	}
	if pushers, err := s.repo.Pushers(ctx, "main"); err != nil || len(pushers) != 0 {
		t.Errorf("Pushers(main) = %v, %v; want nobody", pushers, err)
	}
}

func TestCheckRunWithManyAnnotations(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	run := CheckRun{
		Name: "modelgate/policy", HeadSHA: s.head, Conclusion: "failure", Title: "Policy: 120 denied",
		Summary: strings.Repeat("é", 40000), Text: "details",
	}
	for i := range 120 {
		run.Annotations = append(run.Annotations, Annotation{Path: "environments/dev.yaml", StartLine: i + 1, EndLine: i + 1, Level: "failure", Title: "deny", Message: fmt.Sprintf("problem %d", i)})
	}
	s.gh.ResetCalls()
	id, err := s.repo.CreateCheckRun(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if post, patch := s.count("POST", "/repos/{owner}/{repo}/check-runs"), s.count("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}"); post != 1 || patch != 2 {
		t.Errorf("%d creates and %d updates, want 1 and 2", post, patch)
	}
	runs := s.gh.CheckRuns(testRepo)
	if len(runs) != 1 || runs[0].ID != id {
		t.Fatalf("check runs = %+v", runs)
	}
	got := runs[0]
	if got.Status != "completed" || got.Conclusion != "failure" || got.Title != run.Title || got.Text != "details" || len(got.Annotations) != 120 {
		t.Errorf("check run = %s/%s %q %q, %d annotations", got.Status, got.Conclusion, got.Title, got.Text, len(got.Annotations))
	}
	for i, a := range got.Annotations {
		if a.Message != fmt.Sprintf("problem %d", i) || a.StartLine != i+1 || a.Level != "failure" || a.Title != "deny" {
			t.Errorf("annotation %d = %+v", i, a)
			break
		}
	}
	if len(got.Summary) > maxOutputBytes || !strings.HasPrefix(got.Summary, "éé") || !strings.Contains(got.Summary, "Cut short") {
		t.Errorf("summary of %d bytes ends %q", len(got.Summary), got.Summary[len(got.Summary)-40:])
	}
}

func TestStickyComment(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	const marker = "<!-- modelgate:report -->"
	// Someone quoting the marker, and another App's bot.
	s.gh.IssueCommentEvent(testRepo, s.number, "mallory", "> "+marker+" allowed!")
	s.gh.AddApp(7, "other", &testKey(t).PublicKey)
	s.gh.IssueCommentEvent(testRepo, s.number, "other[bot]", marker+" copied")

	first, err := s.repo.StickyComment(ctx, s.number, marker, marker+"\nrunning")
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.repo.StickyComment(ctx, s.number, marker, marker+"\ndenied")
	if err != nil || second != first {
		t.Fatalf("second StickyComment = %d, %v; want the comment %d", second, err, first)
	}
	var ours []githubtest.Comment
	for _, c := range s.gh.Comments(testRepo, s.number) {
		switch c.User {
		case "modelgate[bot]":
			ours = append(ours, c)
		case "mallory", "other[bot]":
			if c.Edits != 0 {
				t.Errorf("edited %s's comment: %+v", c.User, c)
			}
		}
	}
	if len(ours) != 1 || ours[0].ID != first || ours[0].Body != marker+"\ndenied" || ours[0].Edits != 1 {
		t.Errorf("the App's comments = %+v; want one, edited once", ours)
	}
	// The same body again changes nothing.
	s.gh.ResetCalls()
	if id, err := s.repo.StickyComment(ctx, s.number, marker, marker+"\ndenied"); err != nil || id != first || s.count("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}") != 0 {
		t.Errorf("unchanged StickyComment = %d, %v with %v", id, err, s.calls())
	}

	// Once found, the comment is edited without searching for it again.
	s.gh.ResetCalls()
	if id, err := s.repo.StickyComment(ctx, s.number, marker, marker+"\nallowed"); err != nil || id != first ||
		s.count("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}") != 1 || len(s.gh.Calls()) != 1 {
		t.Errorf("StickyComment of a known comment = %d, %v with %v; want one edit and no other call", id, err, s.calls())
	}

	// A comment by the App's bot that does not name the App it was made
	// through, as GitHub shows those made with an installation token: the
	// bot's login tells.
	const explain = "<!-- modelgate:explain -->"
	s.gh.IssueCommentEvent(testRepo, s.number, "modelgate[bot]", explain+" old")
	before := len(s.gh.Comments(testRepo, s.number))
	if _, err := s.repo.StickyComment(ctx, s.number, explain, explain+" new"); err != nil {
		t.Fatal(err)
	}
	if after := len(s.gh.Comments(testRepo, s.number)); after != before {
		t.Errorf("%d comments, then %d: the bot's comment was not recognised", before, after)
	}
	if _, err := s.repo.StickyComment(ctx, s.number, explain, "no marker"); err == nil {
		t.Error("StickyComment accepted a body without its marker")
	}
}

// A pull request read with no comment needs no search for the App's; one
// read with comments is searched, so that a new process, which knows none of
// its comments, edits the one it wrote before rather than add another.
func TestStickyPullRequestComment(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	const marker = "<!-- modelgate:report -->"
	const routeComments = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
	pr, err := s.repo.PullRequest(ctx, s.number)
	if err != nil || pr.Comments != 0 {
		t.Fatalf("PullRequest = %+v, %v; want no comments", pr, err)
	}
	s.gh.ResetCalls()
	first, err := s.repo.StickyPullRequestComment(ctx, pr, marker, marker+"\nrunning")
	if err != nil || s.count("GET", routeComments) != 0 || s.count("POST", routeComments) != 1 {
		t.Fatalf("StickyPullRequestComment = %d, %v with %v; want one comment made without a search", first, err, s.calls())
	}

	restarted := s.repoOf(t, s.newApp(t, s.clock, 0))
	pr, err = restarted.PullRequest(ctx, s.number)
	if err != nil || pr.Comments != 1 {
		t.Fatalf("PullRequest = %+v, %v; want one comment", pr, err)
	}
	s.gh.ResetCalls()
	if id, err := restarted.StickyPullRequestComment(ctx, pr, marker, marker+"\ndenied"); err != nil || id != first || s.count("GET", routeComments) != 1 {
		t.Errorf("StickyPullRequestComment after a restart = %d, %v with %v; want the comment %d, found by a search", id, err, s.calls(), first)
	}
	if n := len(s.gh.Comments(testRepo, s.number)); n != 1 {
		t.Errorf("%d comments; want the App's one", n)
	}
}

// The committers of more commits than a comparison lists on its first page
// are all read.
func TestCommittersOfManyCommits(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	s.gh.AddUser("carol", "carol@example.com")
	s.work.Checkout("promote")
	for i := range compareCommitsPerPage {
		s.work.Git("commit", "-q", "--allow-empty", "-m", fmt.Sprint("empty ", i))
	}
	s.work.Git("commit", "-q", "--allow-empty", "--author", "Carol <carol@example.com>", "-m", "last")
	head := s.gh.Push(testRepo, "promote", "alice")
	s.gh.ResetCalls()
	committers, err := s.repo.Committers(ctx, s.base, head)
	if err != nil || !slices.Contains(committers, "carol") {
		t.Errorf("Committers = %v, %v; want carol, who made the newest commit, among them", committers, err)
	}
	if n := s.count("GET", routeCompare); n != 2 {
		t.Errorf("%d pages of the comparison read, want 2", n)
	}
}

func TestMerge(t *testing.T) {
	ctx := context.Background()
	t.Run("evaluated head", func(t *testing.T) {
		s := newPullScenario(t)
		sha, err := s.repo.Merge(ctx, s.number, s.head, "squash", "Promote a (#1)")
		if err != nil {
			t.Fatal(err)
		}
		if pr := s.gh.PullRequest(testRepo, s.number); !pr.Merged || pr.MergeCommitSHA != sha || s.gh.Branch(testRepo, "main") != sha {
			t.Errorf("pull request = %+v, main at %s; want merged as %s", pr, s.gh.Branch(testRepo, "main"), sha)
		}
		if msg := s.work.Git("--git-dir", s.gh.GitDir(testRepo), "log", "-1", "--format=%s", sha); msg != "Promote a (#1)" {
			t.Errorf("merge commit title = %q", msg)
		}
		// Merged already: GitHub's 405.
		if _, err := s.repo.Merge(ctx, s.number, s.head, "squash", ""); !errors.Is(err, ErrMergeRefused) {
			t.Errorf("second merge: %v, want ErrMergeRefused", err)
		}
	})
	t.Run("stale head", func(t *testing.T) {
		s := newPullScenario(t)
		s.work.Checkout("promote")
		s.work.Write("environments/dev.yaml", "stage: dev\nmodels: {a: \"3.0.0\"}\n")
		s.work.Commit("sneak in 3.0.0", t0.Add(2*time.Hour))
		s.gh.Push(testRepo, "promote", "mallory")
		_, err := s.repo.Merge(ctx, s.number, s.head, "merge", "")
		if !errors.Is(err, ErrMergeRefused) || !strings.Contains(err.Error(), "Head branch was modified") {
			t.Errorf("merge of the old head: %v, want ErrMergeRefused with GitHub's message", err)
		}
		if pr := s.gh.PullRequest(testRepo, s.number); pr.Merged || s.gh.Branch(testRepo, "main") != s.base {
			t.Errorf("something was merged: %+v", pr)
		}
	})
}

func TestInstallationTokenIsReused(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	for range 3 {
		if _, err := s.repo.PullRequest(ctx, s.number); err != nil {
			t.Fatal(err)
		}
		if _, err := s.repo.Reviews(ctx, s.number); err != nil {
			t.Fatal(err)
		}
	}
	other, err := s.app.Installation(s.inst).Repo(testRepo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Snapshot(s.head).ReadFile(ctx, "README.md"); err != nil {
		t.Fatal(err)
	}
	if n := s.count("POST", routeToken); n != 1 {
		t.Errorf("%d installation tokens created, want 1 for all the calls", n)
	}
	// Every exchange is observed once, the token's too.
	s.mu.Lock()
	observed := slices.Clone(s.observed)
	s.mu.Unlock()
	if len(observed) != len(s.gh.Calls()) {
		t.Errorf("observed %d exchanges, the server saw %d", len(observed), len(s.gh.Calls()))
	}
	if c := observed[len(observed)-1]; c.Route != "/repos/{owner}/{repo}/git/blobs/{sha}" || c.Status != 200 || c.RateRemaining <= 0 {
		t.Errorf("last observed call = %+v", c)
	}
}

func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	if _, err := s.repo.PullRequest(ctx, s.number); err != nil {
		t.Fatal(err)
	}
	primary := func(in time.Duration) map[string]string {
		return map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(s.gh.Now().Add(in).Unix())}
	}

	t.Run("primary limit resets in a second", func(t *testing.T) {
		s.gh.ResetCalls()
		s.gh.FailNext("GET", routePull, 403, primary(time.Second), 1)
		before := len(s.clock.sleeps())
		if _, err := s.repo.PullRequest(ctx, s.number); err != nil {
			t.Fatalf("PullRequest: %v", err)
		}
		slept := s.clock.sleeps()[before:]
		if len(slept) != 1 || slept[0] > time.Second || s.count("GET", routePull) != 2 {
			t.Errorf("waited %v, %v calls; want one wait of at most a second and a retry", slept, s.calls())
		}
	})
	t.Run("primary limit beyond MaxWait", func(t *testing.T) {
		s.gh.ResetCalls()
		s.gh.FailNext("GET", routePull, 403, primary(10*time.Minute), 1)
		before := len(s.clock.sleeps())
		_, err := s.repo.PullRequest(ctx, s.number)
		if !errors.Is(err, ErrRateLimited) || len(s.clock.sleeps()) != before || s.count("GET", routePull) != 1 {
			t.Errorf("err = %v after %v; want ErrRateLimited at once", err, s.calls())
		}
	})
	t.Run("429 with Retry-After", func(t *testing.T) {
		s.gh.ResetCalls()
		s.gh.FailNext("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", 429, map[string]string{"Retry-After": "3"}, 1)
		before := len(s.clock.sleeps())
		if _, err := s.repo.Reviews(ctx, s.number); err != nil {
			t.Fatal(err)
		}
		if slept := s.clock.sleeps()[before:]; len(slept) != 1 || slept[0] != 3*time.Second {
			t.Errorf("waited %v, want 3s", slept)
		}
	})
	t.Run("a merge refused by the secondary limit is sent again", func(t *testing.T) {
		s.gh.FailNext("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", 403, map[string]string{"Retry-After": "2"}, 1)
		if _, err := s.repo.Merge(ctx, s.number, s.head, "merge", ""); err != nil {
			t.Fatalf("Merge: %v", err)
		}
	})
	t.Run("context ends during the wait", func(t *testing.T) {
		app := s.newApp(t, blockingClock{}, 0)
		repo := s.repoOf(t, app)
		s.gh.FailNext("GET", routeCommits, 429, map[string]string{"Retry-After": "30"}, 1)
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := repo.History(ctx, s.head, "README.md")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the context's deadline", err)
		}
	})
	t.Run("a read that fails with 502 is retried, a write is not", func(t *testing.T) {
		s.gh.ResetCalls()
		s.gh.FailNext("GET", "/repos/{owner}/{repo}/pulls", 502, nil, 2)
		if _, err := s.repo.OpenPullRequests(ctx); err != nil {
			t.Errorf("OpenPullRequests: %v", err)
		}
		s.gh.FailNext("POST", "/repos/{owner}/{repo}/check-runs", 502, nil, 1)
		if _, err := s.repo.CreateCheckRun(ctx, CheckRun{Name: "x", HeadSHA: s.head, Conclusion: "success", Title: "t", Summary: "s"}); StatusCode(err) != 502 {
			t.Errorf("CreateCheckRun: %v, want GitHub's 502", err)
		}
		if n := s.count("POST", "/repos/{owner}/{repo}/check-runs"); n != 1 {
			t.Errorf("the check run was posted %d times", n)
		}
	})
}

func TestExhaustedLimitFailsClosed(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	if _, err := s.repo.PullRequest(ctx, s.number); err != nil {
		t.Fatal(err)
	}
	s.gh.SetRateLimit(s.inst, 2)
	if _, err := s.repo.Reviews(ctx, s.number); err != nil {
		t.Fatal(err)
	}
	if _, err := s.repo.Committers(ctx, s.base, s.head); err != nil {
		t.Fatal(err)
	}
	// No request is left. go-github would refuse the next one by itself,
	// without asking GitHub; the limiter learns from GitHub that the limit
	// resets in an hour.
	s.gh.ResetCalls()
	_, err := s.repo.OpenPullRequests(ctx)
	if !errors.Is(err, ErrRateLimited) || s.count("GET", "/repos/{owner}/{repo}/pulls") != 1 {
		t.Errorf("err = %v after %v; want ErrRateLimited from GitHub's answer", err, s.calls())
	}
	if strings.Contains(err.Error(), "ghs_") {
		t.Errorf("the error shows the token: %v", err)
	}
}

func TestConditionalRequestsAgainstGitHub(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	first, err := s.repo.PullRequest(ctx, s.number)
	if err != nil {
		t.Fatal(err)
	}
	remaining := s.gh.RateLimitRemaining(s.inst)
	s.gh.ResetCalls()
	second, err := s.repo.PullRequest(ctx, s.number)
	if err != nil || fmt.Sprint(second) != fmt.Sprint(first) {
		t.Errorf("second read = %+v, %v", second, err)
	}
	if calls := s.gh.Calls(); len(calls) != 1 || calls[0].Status != 304 || s.gh.RateLimitRemaining(s.inst) != remaining {
		t.Errorf("calls %v, remaining %d → %d; want one free 304", calls, remaining, s.gh.RateLimitRemaining(s.inst))
	}
	s.gh.SetDraft(testRepo, s.number, true)
	if third, err := s.repo.PullRequest(ctx, s.number); err != nil || !third.Draft {
		t.Errorf("after a change: %+v, %v", third, err)
	}
}

func TestTruncatedTree(t *testing.T) {
	// The emulator always lists whole trees.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/access_tokens"):
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"token":"ghs_test","expires_at":"2099-01-01T00:00:00Z"}`)
		case strings.Contains(r.URL.Path, "/git/trees/"):
			io.WriteString(w, `{"sha":"`+strings.Repeat("1", 40)+`","tree":[{"path":"a","type":"blob","mode":"100644","sha":"`+strings.Repeat("2", 40)+`"}],"truncated":true}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	key := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey(t))})
	app, err := NewApp(Config{AppID: testAppID, PrivateKey: key, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := app.Installation(1).Repo(testRepo)
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.Snapshot(strings.Repeat("3", 40)).ReadFile(context.Background(), "a")
	if err == nil || errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("ReadFile in a truncated tree: %v", err)
	}
}

func TestHoldsOnDefaultBranch(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t) // main holds environments/, and the promote branch too
	for path, want := range map[string]bool{"environments": true, "environments/dev.yaml": true, ".modelgate": false} {
		if got, err := s.repo.HoldsOnDefaultBranch(ctx, path); err != nil || got != want {
			t.Errorf("HoldsOnDefaultBranch(%s) = %v, %v; want %v", path, got, err, want)
		}
	}
	// Asked again, an unchanged answer is a free 304.
	remaining := s.gh.RateLimitRemaining(s.inst)
	s.gh.ResetCalls()
	if got, err := s.repo.HoldsOnDefaultBranch(ctx, "environments"); err != nil || !got {
		t.Errorf("HoldsOnDefaultBranch again = %v, %v", got, err)
	}
	if calls := s.gh.Calls(); len(calls) != 1 || calls[0].Status != 304 || s.gh.RateLimitRemaining(s.inst) != remaining {
		t.Errorf("calls %v, remaining %d → %d; want one free 304", calls, remaining, s.gh.RateLimitRemaining(s.inst))
	}
	// Another error than 404 is no answer.
	s.gh.FailNext("GET", "/repos/{owner}/{repo}/contents/{path}", 500, nil, 1)
	if got, err := s.repo.HoldsOnDefaultBranch(ctx, "environments"); err == nil {
		t.Errorf("HoldsOnDefaultBranch after a 500 = %v, nil", got)
	}
	if _, err := s.repo.HoldsOnDefaultBranch(ctx, "../x"); err == nil {
		t.Error("HoldsOnDefaultBranch(../x) accepted")
	}
}

func TestRepositoriesListedAgainAreFree(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	inst := s.app.Installation(s.inst)
	first, err := inst.Repositories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	remaining := s.gh.RateLimitRemaining(s.inst)
	s.gh.ResetCalls()
	second, err := inst.Repositories(ctx)
	if err != nil || !slices.Equal(first, second) {
		t.Errorf("listed again: %v, %v; want %v", second, err, first)
	}
	if calls := s.gh.Calls(); len(calls) != 1 || calls[0].Status != 304 || s.gh.RateLimitRemaining(s.inst) != remaining {
		t.Errorf("calls %v, remaining %d → %d; want one free 304", calls, remaining, s.gh.RateLimitRemaining(s.inst))
	}
}

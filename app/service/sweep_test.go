package service_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
	"github.com/modelgate/modelgate/internal/watch"
)

// large is an installation of many repositories, a few of which hold
// .modelgate/: repoName, with its own git store, and watched-1...; the
// others (svc-1...) hold none. Every watched repository has prs open
// promotion pull requests, none delivered to the App.
type large struct {
	*world
	watched []string // repoName first
	plain   *gittest.Repo
	repos   int
}

func newLarge(tb testing.TB, dsn string, repos, watched, prs int) *large {
	tb.Helper()
	w := newWorld(tb, dsn, options{noApp: true})
	w.gh.SetRateLimit(w.inst, 15000) // an installation on GitHub Enterprise Cloud
	l := &large{world: w, watched: []string{repoName}, repos: repos}
	for i := 1; i < watched; i++ {
		l.watched = append(l.watched, fmt.Sprintf("acme/watched-%d", i))
	}
	// The example repository's work tree, promote branch included, is the
	// content of every watched repository.
	w.gh.AddRepos(w.inst, w.work.Dir, l.watched[1:]...)
	l.plain = gittest.New(tb)
	l.plain.Write("README.md", "a service\n")
	l.plain.Commit("a service", time.Now().Add(-96*time.Hour))
	var plain []string
	for i := 1; i <= repos-watched; i++ {
		plain = append(plain, fmt.Sprintf("acme/svc-%d", i))
	}
	w.gh.AddRepos(w.inst, l.plain.Dir, plain...)
	for _, name := range l.watched {
		for range prs {
			w.gh.OpenPullRequest(name, githubtest.PullRequestOptions{Head: "promote", Author: "alice", Title: "Promote"})
		}
	}
	return l
}

// addUngated adds a repository of its own git store without .modelgate/,
// and returns its work tree.
func (l *large) addUngated(name string) *gittest.Repo {
	l.t.Helper()
	r := gittest.New(l.t)
	r.Write("README.md", "not yet gated\n")
	r.Commit("a service", time.Now().Add(-96*time.Hour))
	l.gh.AddRepo(l.inst, name, r.Dir)
	l.repos++
	return r
}

// costedSweep sweeps the installation, as its installation delivery asks, and
// returns the API calls the sweep and the jobs it queued made, and what
// they cost of the installation's rate limit.
func (l *large) costedSweep() (calls []githubtest.Call, cost int) {
	l.t.Helper()
	before := l.gh.RateLimitRemaining(l.inst)
	l.gh.ResetCalls()
	l.deliver(l.gh.InstallationEvent(l.inst, "created", "alice"), http.StatusAccepted)
	// A sweep that checks every repository makes a request per repository.
	if s := l.settleWithin(settleFor + time.Duration(l.repos)*100*time.Millisecond); s.Dead != 0 {
		l.t.Fatalf("dead jobs: %+v", s)
	}
	return l.gh.Calls(), before - l.gh.RateLimitRemaining(l.inst)
}

// pages is how many pages the installation's repositories list takes.
func (l *large) pages() int { return (l.repos + 99) / 100 }

// unjudged lists the open pull requests of the watched repositories whose
// head has no decision.
func (l *large) unjudged(repos ...string) []string {
	l.t.Helper()
	var out []string
	for _, name := range repos {
		for _, pr := range l.gh.PullRequests(name) {
			if pr.State != "open" {
				continue
			}
			recs, err := l.db.Records(l.t.Context(), audit.Filter{Kind: audit.KindDecision, Repository: name, PullRequest: pr.Number, HeadSHA: pr.HeadSHA})
			if err != nil {
				l.t.Fatal(err)
			}
			if len(recs) == 0 {
				out = append(out, fmt.Sprintf("%s#%d", name, pr.Number))
			}
		}
	}
	return out
}

// remembered returns what the App remembers of the installation's
// repositories, by name.
func (l *large) remembered() map[string]watch.Repository {
	l.t.Helper()
	rs, err := l.db.Repositories(l.t.Context(), l.inst)
	if err != nil {
		l.t.Fatal(err)
	}
	out := map[string]watch.Repository{}
	for _, r := range rs {
		out[r.FullName] = r
	}
	return out
}

// count counts the calls to a route, and those GitHub answered other than
// with 304.
func count(calls []githubtest.Call, route string) (all, full int) {
	for _, c := range calls {
		if c.Route == route {
			all++
			if c.Status != http.StatusNotModified {
				full++
			}
		}
	}
	return all, full
}

const (
	reposRoute    = "/installation/repositories"
	pullsRoute    = "/repos/{owner}/{repo}/pulls"
	contentsRoute = "/repos/{owner}/{repo}/contents/{path}"
)

func TestSweepReadsOnlyWatchedRepositories(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		l := newLarge(t, dsn, 250, 3, 2)
		// GitHub fails to answer the check of one watched repository: it is
		// swept all the same.
		l.gh.FailNext("GET", "/repos/acme/watched-2/contents/.modelgate", http.StatusInternalServerError, nil, 1)
		l.start(options{})

		calls, _ := l.costedSweep()
		if n, _ := count(calls, contentsRoute); n != l.repos {
			t.Errorf("the first sweep checked %d repositories; want each of the %d once", n, l.repos)
		}
		if n, _ := count(calls, pullsRoute); n != len(l.watched) {
			t.Errorf("the first sweep listed the pull requests of %d repositories; want the %d watched", n, len(l.watched))
		}
		if left := l.unjudged(l.watched...); len(left) != 0 {
			t.Errorf("after the first sweep, no decision on %v", left)
		}
		known := l.remembered()
		if len(known) != l.repos-1 || !known[repoName].Watched || !known["acme/watched-1"].Watched || known["acme/svc-1"].Watched {
			t.Errorf("remembered %d repositories: %v", len(known), known)
		}
		if _, ok := known["acme/watched-2"]; ok {
			t.Error("a repository whose check failed is remembered")
		}

		// The repository whose check failed is checked again; then a sweep
		// with nothing new lists the repositories and the watched ones'
		// pull requests, and GitHub answers each with 304.
		calls, _ = l.costedSweep()
		if n, _ := count(calls, contentsRoute); n != 1 {
			t.Errorf("the second sweep checked %d repositories; want the one whose check failed", n)
		}
		calls, cost := l.costedSweep()
		pages, fullPages := count(calls, reposRoute)
		pulls, fullPulls := count(calls, pullsRoute)
		if len(calls) != l.pages()+len(l.watched) || pages != l.pages() || pulls != len(l.watched) || fullPages+fullPulls != 0 || cost != 0 {
			t.Errorf("a sweep with nothing new made %d calls (%d pages, %d of them answered; %d pull request lists, %d answered) costing %d; "+
				"want %d pages and %d lists, all 304, costing nothing: %v", len(calls), pages, fullPages, pulls, fullPulls, cost, l.pages(), len(l.watched), calls)
		}

		// Eighteen hours on, some repositories are checked again, not all:
		// the checks of a day are spread over the sweeps of its second half.
		l.gh.Advance(18 * time.Hour)
		calls, _ = l.costedSweep()
		if n, _ := count(calls, contentsRoute); n == 0 || n >= l.repos {
			t.Errorf("18 hours on, a sweep checked %d repositories of %d; want some", n, l.repos)
		}
	})
}

func TestSweepLearnsFromDeliveries(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		l := newLarge(t, dsn, 120, 2, 1)
		late := l.addUngated("acme/late")
		l.start(options{})
		l.costedSweep()
		if known := l.remembered(); len(known) != l.repos || known["acme/late"].Watched {
			t.Fatalf("remembered %v", known)
		}

		// A push to the default branch adds .modelgate/: the repository is
		// swept from then on.
		late.CopyDir(examples)
		late.Commit("gate the models", time.Now())
		l.gh.Push("acme/late", "main", "alice")
		l.deliver(l.gh.PushEvent("acme/late", "main"), http.StatusAccepted)
		l.settle()
		if !l.remembered()["acme/late"].Watched {
			t.Fatal("a push that added .modelgate/ left the repository unwatched")
		}
		late.Branch("promote")
		late.CopyDir(fraud)
		late.Commit("promote", time.Now())
		l.gh.Push("acme/late", "promote", "alice")
		l.gh.OpenPullRequest("acme/late", githubtest.PullRequestOptions{Head: "promote", Author: "alice", Title: "Promote"})
		l.costedSweep()
		if left := l.unjudged("acme/late"); len(left) != 0 {
			t.Errorf("after the sweep, no decision on %v", left)
		}

		// A push that leaves .modelgate/ alone asks GitHub nothing.
		late.Checkout("main")
		late.Write("README.md", "gated\n")
		late.Commit("readme", time.Now())
		l.gh.Push("acme/late", "main", "alice")
		l.gh.ResetCalls()
		l.deliver(l.gh.PushEvent("acme/late", "main"), http.StatusAccepted)
		l.settle()
		if n, _ := count(l.gh.Calls(), contentsRoute); n != 0 {
			t.Errorf("a push that left .modelgate/ alone made %d checks", n)
		}
		// One that removes it: the repository is no longer swept.
		late.Remove(".modelgate")
		late.Commit("ungate", time.Now())
		l.gh.Push("acme/late", "main", "alice")
		l.deliver(l.gh.PushEvent("acme/late", "main"), http.StatusAccepted)
		l.settle()
		if l.remembered()["acme/late"].Watched {
			t.Error("a push that removed .modelgate/ left the repository watched")
		}
		calls, _ := l.costedSweep()
		for _, c := range calls {
			if strings.HasPrefix(c.Path, "/repos/acme/late/") {
				t.Errorf("the sweep read %s of a repository that no longer holds .modelgate/", c.Path)
			}
		}

		// Repositories removed from the installation, deleted, or renamed.
		l.gh.RemoveRepo("acme/svc-1")
		l.deliver(l.gh.InstallationRepositoriesEvent(l.inst, "removed", []string{"acme/svc-1"}, "alice"), http.StatusAccepted)
		l.settle()
		if _, ok := l.remembered()["acme/svc-1"]; ok {
			t.Error("a repository removed from the installation is remembered")
		}
		l.gh.DeleteRepo("acme/svc-2")
		l.gh.RenameRepo("acme/watched-1", "renamed")
		id := l.gh.RepoID("acme/renamed")
		l.gh.OpenPullRequest("acme/renamed", githubtest.PullRequestOptions{Head: "promote", Author: "alice", Title: "Promote"})
		calls, _ = l.costedSweep()
		known := l.remembered()
		if _, ok := known["acme/svc-2"]; ok {
			t.Error("a deleted repository is remembered")
		}
		if r := known["acme/renamed"]; r.ID != id || !r.Watched {
			t.Errorf("the renamed repository is remembered as %+v", r)
		}
		if n, _ := count(calls, contentsRoute); n != 0 {
			t.Errorf("the sweep after a rename made %d checks; the id tells it is known", n)
		}
		if left := l.unjudged("acme/renamed"); len(left) != 0 {
			t.Errorf("after the sweep, no decision on %v", left)
		}

		// The installation deleted: everything of it is forgotten.
		l.deliver(l.gh.InstallationEvent(l.inst, "deleted", "alice"), http.StatusAccepted)
		l.settle()
		if known := l.remembered(); len(known) != 0 {
			t.Errorf("after the installation was deleted, %d repositories are remembered", len(known))
		}
	})
}

// TestSweepAfterAnOutage: the App is down for a day, during which pull
// requests are opened and pushed to, and a repository gains .modelgate/
// with no delivery reaching the App. The first sweep once it is back
// re-judges every pull request whose head has no decision.
func TestSweepAfterAnOutage(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		l := newLarge(t, dsn, 150, 3, 2)
		quiet := l.addUngated("acme/quiet")
		l.start(options{})
		l.costedSweep()
		if left := l.unjudged(l.watched...); len(left) != 0 {
			t.Fatalf("before the outage, no decision on %v", left)
		}
		l.stop()

		outage(t, l, quiet)
		l.gh.Advance(24 * time.Hour)
		watched := append(slices.Clone(l.watched), "acme/quiet")
		if left := l.unjudged(watched...); len(left) < 4 {
			t.Fatalf("the outage left only %v without a decision", left)
		}
		l.start(options{})
		calls, _ := l.costedSweep()
		if left := l.unjudged(watched...); len(left) != 0 {
			t.Errorf("after the sweep, no decision on %v", left)
		}
		if n, _ := count(calls, contentsRoute); n != l.repos {
			t.Errorf("a day on, the sweep checked %d repositories; want all %d again", n, l.repos)
		}
	})
}

// outage changes GitHub as a day without the App would: pull requests
// opened and pushed to, and a repository (quiet, a work tree) that gains
// .modelgate/ and a promotion; no delivery is sent.
func outage(tb testing.TB, l *large, quiet *gittest.Repo) {
	tb.Helper()
	for _, name := range l.watched[1:] {
		l.gh.OpenPullRequest(name, githubtest.PullRequestOptions{Head: "promote", Author: "alice", Title: "Promote"})
	}
	l.work.Checkout("promote")
	l.work.Write("models/fraud-detector/2.3.0/NOTES.md", "retrained\n")
	l.work.Commit("notes", time.Now())
	l.gh.Push(repoName, "promote", "alice") // a new head for every pull request of repoName
	l.work.Checkout("main")
	quiet.CopyDir(examples)
	quiet.Commit("gate the models", time.Now())
	l.gh.Push("acme/quiet", "main", "alice")
	quiet.Branch("promote")
	quiet.CopyDir(fraud)
	quiet.Commit("promote", time.Now())
	l.gh.Push("acme/quiet", "promote", "alice")
	quiet.Checkout("main")
	l.gh.OpenPullRequest("acme/quiet", githubtest.PullRequestOptions{Head: "promote", Author: "alice", Title: "Promote"})
}

// BenchmarkSweep measures the reconciler's sweep of an installation of
// 2,000 repositories, 10 of which hold .modelgate/, with 40 open promotion
// pull requests: the first sweep (every repository checked, every pull
// request judged), a sweep with nothing new (each iteration), and the
// first sweep after a day's outage. It reports the API calls of each and
// what they cost of the rate limit.
func BenchmarkSweep(b *testing.B) {
	l := newLarge(b, b.TempDir()+"/mg.db", 1999, 10, 4) // and acme/quiet
	quiet := l.addUngated("acme/quiet")
	l.start(options{})
	start := time.Now()
	first, firstCost := l.costedSweep()
	firstTime := time.Since(start)
	if left := l.unjudged(l.watched...); len(left) != 0 {
		b.Fatalf("after the first sweep, no decision on %v", left)
	}
	l.costedSweep() // the first conditional answers
	var calls, cost int
	sweeps := 0
	for b.Loop() {
		c, n := l.costedSweep()
		calls, cost, sweeps = calls+len(c), cost+n, sweeps+1
	}
	b.StopTimer()
	if want := l.pages() + len(l.watched); calls != sweeps*want || cost != 0 {
		b.Errorf("%d sweeps with nothing new made %d calls costing %d; want %d each, costing nothing", sweeps, calls, cost, want)
	}
	l.stop()
	outage(b, l, quiet)
	l.gh.Advance(24 * time.Hour)
	watched := append(slices.Clone(l.watched), "acme/quiet")
	unjudged := len(l.unjudged(watched...))
	l.start(options{})
	start = time.Now()
	after, afterCost := l.costedSweep()
	afterTime := time.Since(start)
	if left := l.unjudged(watched...); len(left) != 0 {
		b.Errorf("after the outage's sweep, no decision on %v", left)
	}
	b.ReportMetric(float64(calls)/float64(sweeps), "calls/sweep")
	b.ReportMetric(float64(cost)/float64(sweeps), "rate-cost/sweep")
	b.ReportMetric(float64(len(first)), "first-calls")
	b.ReportMetric(float64(firstCost), "first-rate-cost")
	b.ReportMetric(firstTime.Seconds(), "first-s")
	b.ReportMetric(float64(len(after)), "outage-calls")
	b.ReportMetric(float64(afterCost), "outage-rate-cost")
	b.ReportMetric(afterTime.Seconds(), "outage-s")
	b.ReportMetric(float64(unjudged), "outage-rejudged")
}

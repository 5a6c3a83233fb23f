package app_test

import (
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
)

// The deliveries are GitHub's example payloads, rewritten by the emulator to
// a repository and pull request of its own.
func TestParseEventOnGitHubsDeliveries(t *testing.T) {
	gh := githubtest.New(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	gh.AddApp(7, "modelgate", &key.PublicKey)
	inst := gh.AddInstallation(7, "acme")
	r := gittest.New(t)
	r.Write("README.md", "models\n")
	r.Commit("init", time.Now())
	r.Branch("promote")
	r.Write("environments/dev.yaml", "stage: dev\nmodels: {}\n")
	r.Commit("promote", time.Now())
	r.Checkout("main")
	gh.AddRepo(inst, "acme/models", r.Dir)
	n := gh.OpenPullRequest("acme/models", githubtest.PullRequestOptions{Head: "promote", Author: "alice"})
	review := gh.SubmitReview("acme/models", n, "bob", "APPROVED")
	r.Checkout("promote")
	r.Write("environments/dev.yaml", "stage: dev\nmodels: {fraud-detector: \"1.0.0\"}\n")
	r.Commit("pin", time.Now())
	pushed := gh.Push("acme/models", "promote", "alice")
	issue := gh.OpenIssue("acme/models", "alice", "Roll back staging")
	// Pushes to the default branch: one that leaves .modelgate/ alone, one
	// that adds it, and a force push, whose commits do not say what it
	// dropped.
	r.Checkout("main")
	r.Write("README.md", "models, again\n")
	r.Commit("readme", time.Now())
	gh.Push("acme/models", "main", "alice")
	mainPush := gh.PushEvent("acme/models", "main")
	r.Write(".modelgate/config.yaml", "stages: []\n")
	r.Commit("watch", time.Now())
	gh.Push("acme/models", "main", "alice")
	configPush := gh.PushEvent("acme/models", "main")
	r.Git("reset", "-q", "--hard", "HEAD~2")
	r.Write("README.md", "models, rewritten\n")
	r.Commit("rewrite", time.Now())
	gh.Push("acme/models", "main", "alice")
	forcedPush := gh.PushEvent("acme/models", "main")
	gh.AddRepos(inst, r.Dir, "acme/more", "acme/most")
	added := gh.InstallationRepositoriesEvent(inst, "added", []string{"acme/more", "acme/most"}, "alice")
	gh.RemoveRepo("acme/most")
	removed := gh.InstallationRepositoriesEvent(inst, "removed", []string{"acme/most"}, "alice")

	tests := []struct {
		name string
		d    *githubtest.Delivery
		want app.Action
	}{
		{"opened", gh.PullRequestEvent("acme/models", n, "opened"), app.Evaluate},
		{"synchronize", gh.PullRequestEvent("acme/models", n, "synchronize"), app.Evaluate},
		{"ready_for_review", gh.PullRequestEvent("acme/models", n, "ready_for_review"), app.Evaluate},
		{"edited without a new base", gh.PullRequestEvent("acme/models", n, "edited"), app.Ignore},
		{"closed", gh.PullRequestEvent("acme/models", n, "closed"), app.Ignore},
		{"review submitted", gh.ReviewEvent("acme/models", n, review, "submitted"), app.Evaluate},
		{"check suite rerequested", gh.CheckSuiteRerequested("acme/models", pushed, "carol"), app.Evaluate},
		{"recheck", gh.IssueCommentEvent("acme/models", n, "carol", "/modelgate recheck"), app.Evaluate},
		{"explain", gh.IssueCommentEvent("acme/models", n, "carol", "Why?\r\n  /modelgate explain  \r\nThanks"), app.Explain},
		{"command not on a line of its own", gh.IssueCommentEvent("acme/models", n, "carol", "please /modelgate recheck"), app.Ignore},
		{"installation created", gh.InstallationEvent(inst, "created", "alice"), app.Reconcile},
		{"installation deleted", gh.InstallationEvent(inst, "deleted", "alice"), app.Forget},
		{"installation suspended", gh.InstallationEvent(inst, "suspend", "alice"), app.Ignore},
		{"repositories added", added, app.Reconcile},
		{"repositories removed", removed, app.Forget},
		{"push", gh.PushEvent("acme/models", "promote"), app.Deploy},
		{"push to main", mainPush, app.Deploy},
		{"push adding .modelgate/", configPush, app.Deploy},
		{"force push to main", forcedPush, app.Deploy},
		{"promote on the pull request", gh.IssueCommentEvent("acme/models", n, "carol", "Next:\r\n/modelgate promote production fraud-detector\r\n"), app.Command},
		{"rollback on an issue", gh.IssueCommentEvent("acme/models", issue, "carol", "/modelgate  rollback staging 1.0.0"), app.Command},
		{"recheck on an issue", gh.IssueCommentEvent("acme/models", issue, "carol", "/modelgate recheck"), app.Ignore},
		{"promote not on a line of its own", gh.IssueCommentEvent("acme/models", issue, "carol", "run /modelgate promote staging"), app.Ignore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task, err := app.ParseEvent(tt.d.Event, tt.d.Body)
			if err != nil {
				t.Fatal(err)
			}
			if task.Action != tt.want {
				t.Fatalf("action %v; want %v", task.Action, tt.want)
			}
			// The App's registration must subscribe to what it acts on.
			if unasked := tt.d.Event == "installation" || tt.d.Event == "installation_repositories"; task.Action != app.Ignore && !unasked && !slices.Contains(app.Events, tt.d.Event) {
				t.Errorf("the App acts on %s, which app.Events (and app.yml) does not subscribe to", tt.d.Event)
			}
			switch tt.want {
			case app.Evaluate, app.Explain:
				if task.Installation != inst || task.Repository != "acme/models" || !slices.Equal(task.PullRequests, []int{n}) {
					t.Errorf("task %+v; want pull request #%d of acme/models in installation %d", task, n, inst)
				}
				if task.Key() != "acme/models#"+strconv.Itoa(n) {
					t.Errorf("key %q", task.Key())
				}
			case app.Reconcile:
				if task.Installation != inst || task.Key() != "installation:"+strconv.FormatInt(inst, 10) {
					t.Errorf("task %+v", task)
				}
			case app.Command:
				c := task.Comment
				if task.Installation != inst || task.Repository != "acme/models" || c == nil || c.ID == 0 || c.Author != "carol" || len(task.PullRequests) != 0 {
					t.Fatalf("task %+v, comment %+v", task, c)
				}
				onPR := tt.name == "promote on the pull request"
				want := &app.CommentCommand{ID: c.ID, Author: "carol", Issue: issue, Command: app.CommandRollback, Args: []string{"staging", "1.0.0"}}
				if onPR {
					want = &app.CommentCommand{ID: c.ID, Author: "carol", Issue: n, OnPullRequest: true, Command: app.CommandPromote, Args: []string{"production", "fraud-detector"}}
				}
				if c.Issue != want.Issue || c.OnPullRequest != want.OnPullRequest || c.Command != want.Command || !slices.Equal(c.Args, want.Args) {
					t.Errorf("comment %+v; want %+v", c, want)
				}
				if task.Key() != "acme/models#"+strconv.Itoa(want.Issue) {
					t.Errorf("key %q", task.Key())
				}
			case app.Forget:
				want := []int64(nil) // all of the installation's
				if tt.name == "repositories removed" {
					want = []int64{gh.RepoID("acme/most")}
				}
				if task.Installation != inst || !slices.Equal(task.Forget, want) || task.Key() != "installation:"+strconv.FormatInt(inst, 10) {
					t.Errorf("task %+v; want to forget %v", task, want)
				}
			case app.Deploy:
				if tt.name == "push" {
					if task.Installation != inst || task.Branch != "promote" || task.After != pushed || task.Key() != "acme/models" || task.DefaultBranch {
						t.Errorf("task %+v; want the push of %s to promote", task, pushed)
					}
					return
				}
				touches := tt.name != "push to main"
				if task.Branch != "main" || !task.DefaultBranch || task.RepositoryID != gh.RepoID("acme/models") || task.TouchesConfig != touches {
					t.Errorf("task %+v; want a push to the default branch of repository %d that touches .modelgate/: %v", task, gh.RepoID("acme/models"), touches)
				}
			}
		})
	}
}

func TestParseEventRejectsWhatGitHubNeverSends(t *testing.T) {
	tests := []struct{ event, body, want string }{
		{"pull_request", `not json`, "pull_request payload"},
		{"pull_request", `{"action":"opened","repository":{"full_name":"a/b"},"pull_request":{"number":1}}`, "no installation"},
		{"pull_request", `{"action":"opened","installation":{"id":1},"pull_request":{"number":1}}`, "no repository"},
		{"pull_request", `{"action":"opened","installation":{"id":"1"}}`, "pull_request payload"},
		{app.EventEvaluate, `{"installation":1,"repository":"a/b"}`, "are required"},
		{"push", `{"ref":"refs/heads/main","installation":{"id":1},"repository":{"full_name":"a/b"}}`, "no after commit"},
		{"deployment_status", `{"action":"created","installation":{"id":1},"repository":{"full_name":"a/b"},"deployment":{"id":0,"task":"deploy:model"},"deployment_status":{"id":2}}`, "are required"},
		{"issue_comment", `{"action":"created","installation":{"id":1},"repository":{"full_name":"a/b"},"issue":{"number":2},"comment":{"body":"/modelgate promote staging","user":{"login":"carol","type":"User"}}}`, "are required"},
		{app.EventRecover, `{"installation":1,"repository":"a/b","branch":"main"}`, "go together"},
	}
	for _, tt := range tests {
		if _, err := app.ParseEvent(tt.event, []byte(tt.body)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseEvent(%s, %s) = %v; want an error containing %q", tt.event, tt.body, err, tt.want)
		}
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, seed := range []struct{ event, body string }{
		{"pull_request", `{"action":"opened","installation":{"id":1},"repository":{"full_name":"a/b"},"pull_request":{"number":3}}`},
		{"issue_comment", `{"action":"created","installation":{"id":1},"repository":{"full_name":"a/b"},"issue":{"number":2,"pull_request":{}},"comment":{"body":"/modelgate explain","user":{"type":"User"}}}`},
		{"check_suite", `{"action":"rerequested","installation":{"id":1},"repository":{"full_name":"a/b"},"check_suite":{"pull_requests":[{"number":1},{"number":2}]}}`},
		{app.EventEvaluate, `{"installation":1,"repository":"a/b","pull_request":1}`},
		{"installation", `{"action":"created","installation":{"id":9}}`},
		{"push", `{"ref":"refs/heads/main","after":"abc","installation":{"id":1},"repository":{"full_name":"a/b"}}`},
		{"deployment_status", `{"action":"created","installation":{"id":1},"repository":{"full_name":"a/b"},"deployment":{"id":1,"task":"deploy:model"},"deployment_status":{"id":2}}`},
		{"issue_comment", `{"action":"created","installation":{"id":1},"repository":{"full_name":"a/b"},"issue":{"number":2},"comment":{"id":5,"body":"/modelgate rollback prod 1.0.0","user":{"login":"c","type":"User"}}}`},
		{app.EventRecover, `{"installation":1,"repository":"a/b","branch":"main","after":"abc"}`},
		{"installation_repositories", `{"action":"removed","installation":{"id":1},"repositories_removed":[{"id":5}]}`},
		{"push", `{"ref":"refs/heads/main","after":"abc","installation":{"id":1},"repository":{"id":4,"full_name":"a/b","default_branch":"main"},"commits":[{"id":"abc","added":[".modelgate/x"]}]}`},
	} {
		f.Add(seed.event, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		task, err := app.ParseEvent(event, body)
		if err != nil {
			return
		}
		switch task.Action {
		case app.Evaluate, app.Explain:
			if task.Installation == 0 || task.Repository == "" || len(task.PullRequests) == 0 {
				t.Fatalf("an evaluation with nothing to evaluate: %+v", task)
			}
		case app.Reconcile:
			if task.Installation == 0 {
				t.Fatalf("a sweep of no installation: %+v", task)
			}
		case app.Deploy:
			if task.Installation == 0 || task.Repository == "" || task.After == "" {
				t.Fatalf("a deployment of no push: %+v", task)
			}
		case app.Track:
			if task.Installation == 0 || task.Repository == "" || task.Deployment <= 0 || task.Status <= 0 {
				t.Fatalf("a status of no deployment: %+v", task)
			}
		case app.Command:
			if c := task.Comment; task.Installation == 0 || task.Repository == "" || c == nil || c.ID <= 0 || c.Author == "" || c.Issue <= 0 ||
				(c.Command != app.CommandPromote && c.Command != app.CommandRollback) {
				t.Fatalf("a command of no comment: %+v %+v", task, task.Comment)
			}
		case app.Recover:
			if task.Installation == 0 || task.Repository == "" || (task.Branch == "") != (task.After == "") {
				t.Fatalf("a recovery of nothing: %+v", task)
			}
		case app.Forget:
			if task.Installation == 0 || task.Repository != "" {
				t.Fatalf("forgetting the repositories of no installation: %+v", task)
			}
		}
	})
}

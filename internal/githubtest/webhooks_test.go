package githubtest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/modelgate/modelgate/internal/githubtest"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkSignature verifies a delivery as a receiver must: HMAC-SHA256 of the
// body with the shared secret, compared in constant time.
func checkSignature(t *testing.T, secret string, body []byte, header http.Header) {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := header.Get("X-Hub-Signature-256"); !hmac.Equal([]byte(got), []byte(want)) {
		t.Errorf("X-Hub-Signature-256 = %q, want %q", got, want)
	}
	if !uuidPattern.MatchString(header.Get("X-GitHub-Delivery")) || header.Get("X-GitHub-Hook-ID") == "" ||
		!strings.HasPrefix(header.Get("User-Agent"), "GitHub-Hookshot/") || header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", header)
	}
}

// parse checks a delivery's signature and headers and decodes its payload
// with go-github, as a receiver would.
func parse(t *testing.T, gh *githubtest.Server, d *githubtest.Delivery, event string) any {
	t.Helper()
	checkSignature(t, gh.WebhookSecret(), d.Body, d.Header)
	if got := d.Header.Get("X-GitHub-Event"); got != event {
		t.Errorf("X-GitHub-Event = %q, want %q", got, event)
	}
	// The example's own repository, users and app must all be rewritten.
	for _, leftover := range []string{"Codertocat", "Hello-World", "octocat", "octo-org", "api.github.com"} {
		if strings.Contains(string(d.Body), leftover) {
			t.Errorf("%s payload still mentions the example's %q", event, leftover)
		}
	}
	payload, err := github.ParseWebHook(event, d.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", event, err)
	}
	return payload
}

func TestPullRequestEvents(t *testing.T) {
	s := newScenario(t, t)
	s.gh.SetWebhookSecret("s3cret")

	opened := parse(t, s.gh, s.gh.PullRequestEvent(repoName, s.number, "opened"), "pull_request").(*github.PullRequestEvent)
	if opened.GetAction() != "opened" || opened.GetNumber() != s.number || opened.GetRepo().GetFullName() != repoName ||
		opened.GetInstallation().GetID() != s.inst || opened.GetSender().GetLogin() != "alice" ||
		opened.GetPullRequest().GetHead().GetSHA() != s.head || opened.GetPullRequest().GetBase().GetRef() != "main" {
		t.Errorf("opened = %s", github.Stringify(opened))
	}

	s.work.Checkout("promote")
	s.work.Write("models/a/model.yaml", "name: a\nversion: 3\n")
	s.work.Commit("version 3", time.Now())
	after := s.gh.Push(repoName, "promote", "mallory")
	sync := parse(t, s.gh, s.gh.PullRequestEvent(repoName, s.number, "synchronize"), "pull_request").(*github.PullRequestEvent)
	if sync.GetBefore() != s.head || sync.GetAfter() != after || sync.GetPullRequest().GetHead().GetSHA() != after || sync.GetSender().GetLogin() != "mallory" {
		t.Errorf("synchronize = before %s after %s head %s sender %s", sync.GetBefore(), sync.GetAfter(), sync.GetPullRequest().GetHead().GetSHA(), sync.GetSender().GetLogin())
	}

	s.work.Checkout("main")
	s.work.Branch("release")
	s.gh.Push(repoName, "release", "bob")
	s.gh.SetBase(repoName, s.number, "release")
	edited := parse(t, s.gh, s.gh.PullRequestEvent(repoName, s.number, "edited"), "pull_request").(*github.PullRequestEvent)
	if edited.GetChanges().GetBase().GetRef().GetFrom() != "main" || edited.GetPullRequest().GetBase().GetRef() != "release" {
		t.Errorf("edited = %s", github.Stringify(edited.GetChanges()))
	}
}

func TestReviewEvent(t *testing.T) {
	s := newScenario(t, t)
	id := s.gh.SubmitReview(repoName, s.number, "bob", "APPROVED")
	ev := parse(t, s.gh, s.gh.ReviewEvent(repoName, s.number, id, "submitted"), "pull_request_review").(*github.PullRequestReviewEvent)
	if ev.GetAction() != "submitted" || ev.GetReview().GetID() != id || ev.GetReview().GetState() != "approved" ||
		ev.GetReview().GetCommitID() != s.head || ev.GetSender().GetLogin() != "bob" || ev.GetPullRequest().GetNumber() != s.number ||
		ev.GetInstallation().GetID() != s.inst {
		t.Errorf("review event = %s", github.Stringify(ev))
	}
}

func TestIssueCommentEvent(t *testing.T) {
	s := newScenario(t, t)
	ev := parse(t, s.gh, s.gh.IssueCommentEvent(repoName, s.number, "bob", "/modelgate recheck"), "issue_comment").(*github.IssueCommentEvent)
	if ev.GetComment().GetBody() != "/modelgate recheck" || ev.GetIssue().GetNumber() != s.number || !ev.GetIssue().IsPullRequest() ||
		ev.GetSender().GetLogin() != "bob" || ev.GetInstallation().GetID() != s.inst {
		t.Errorf("issue comment event = %s", github.Stringify(ev))
	}
	// The comment exists on the server too.
	if c := s.gh.Comments(repoName, s.number); len(c) != 1 || c[0].ID != ev.GetComment().GetID() {
		t.Errorf("comments = %+v", c)
	}
}

func TestCheckRunRerequested(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	run, _, err := s.client.Checks.CreateCheckRun(ctx, org, "models", github.CreateCheckRunOptions{Name: "modelgate/policy", HeadSHA: s.head, Conclusion: github.String("failure")})
	if err != nil {
		t.Fatal(err)
	}
	ev := parse(t, s.gh, s.gh.CheckRunRerequested(repoName, run.GetID(), "bob"), "check_run").(*github.CheckRunEvent)
	if ev.GetAction() != "rerequested" || ev.GetCheckRun().GetID() != run.GetID() || ev.GetCheckRun().GetHeadSHA() != s.head ||
		ev.GetCheckRun().GetCheckSuite().GetHeadBranch() != "promote" || len(ev.GetCheckRun().PullRequests) != 1 ||
		ev.GetInstallation().GetID() != s.inst {
		t.Errorf("check run event = %s", github.Stringify(ev))
	}
}

func TestCheckSuiteRerequested(t *testing.T) {
	s := newScenario(t, t)
	ev := parse(t, s.gh, s.gh.CheckSuiteRerequested(repoName, s.head, "bob"), "check_suite").(*github.CheckSuiteEvent)
	if ev.GetAction() != "rerequested" || ev.GetCheckSuite().GetHeadSHA() != s.head || ev.GetCheckSuite().GetHeadBranch() != "promote" ||
		ev.GetCheckSuite().GetApp().GetID() != appID || ev.GetInstallation().GetID() != s.inst {
		t.Errorf("check suite event = %s", github.Stringify(ev))
	}
}

func TestInstallationEvent(t *testing.T) {
	s := newScenario(t, t)
	ev := parse(t, s.gh, s.gh.InstallationEvent(s.inst, "created", "admin"), "installation").(*github.InstallationEvent)
	if ev.GetAction() != "created" || ev.GetInstallation().GetID() != s.inst || ev.GetInstallation().GetAccount().GetLogin() != org ||
		ev.GetInstallation().GetAppID() != appID || len(ev.Repositories) != 1 || ev.Repositories[0].GetFullName() != repoName {
		t.Errorf("installation event = %s", github.Stringify(ev))
	}
}

func TestWebhookMutateAndDeliver(t *testing.T) {
	s := newScenario(t, t)
	body, header := s.gh.Webhook("pull_request", "reopened", func(p map[string]any) {
		p["number"] = 77
	})
	checkSignature(t, s.gh.WebhookSecret(), body, header)
	if !strings.Contains(string(body), `"number":77`) || !strings.Contains(string(body), `"action":"reopened"`) {
		t.Errorf("body = %.200s", body)
	}

	var mu sync.Mutex
	var seen []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		checkSignature(t, s.gh.WebhookSecret(), data, r.Header)
		mu.Lock()
		seen = append(seen, r.Header.Get("X-GitHub-Delivery"))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer receiver.Close()
	d := s.gh.PullRequestEvent(repoName, s.number, "opened")
	for range 2 { // a redelivery keeps the delivery ID
		resp, err := d.Deliver(receiver.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("status = %d", resp.StatusCode)
		}
	}
	if len(seen) != 2 || seen[0] != d.ID || seen[1] != d.ID {
		t.Errorf("deliveries seen = %v, want %s twice", seen, d.ID)
	}
	// Any body can be signed, for a receiver's tests of bad payloads.
	junk := s.gh.NewDelivery("pull_request", []byte("not json"))
	checkSignature(t, s.gh.WebhookSecret(), junk.Body, junk.Header)
}

func TestDeploymentEvents(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	d, _, err := s.client.Repositories.CreateDeployment(ctx, org, "models", &github.DeploymentRequest{
		Ref: github.String(s.base), Environment: github.String("staging"), Task: github.String("deploy:model"),
		Payload: map[string]any{"model": "a", "version": "2"}, AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	created := parse(t, s.gh, s.gh.DeploymentEvent(repoName, d.GetID()), "deployment").(*github.DeploymentEvent)
	if created.GetDeployment().GetID() != d.GetID() || created.GetDeployment().GetSHA() != s.base || created.GetDeployment().GetTask() != "deploy:model" ||
		created.GetDeployment().GetEnvironment() != "staging" || string(created.GetDeployment().Payload) != `{"model":"a","version":"2"}` ||
		created.GetInstallation().GetID() != s.inst || created.GetRepo().GetFullName() != repoName || created.GetSender().GetLogin() != "modelgate[bot]" {
		t.Errorf("deployment event = %s", github.Stringify(created))
	}

	st, _, err := s.client.Repositories.CreateDeploymentStatus(ctx, org, "models", d.GetID(), &github.DeploymentStatusRequest{
		State: github.String("success"), Description: github.String("deployed"), LogURL: github.String("https://ci.example.com/42"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := parse(t, s.gh, s.gh.DeploymentStatusEvent(repoName, st.GetID()), "deployment_status").(*github.DeploymentStatusEvent)
	if ev.GetDeploymentStatus().GetID() != st.GetID() || ev.GetDeploymentStatus().GetState() != "success" ||
		ev.GetDeploymentStatus().GetDescription() != "deployed" || ev.GetDeploymentStatus().GetLogURL() != "https://ci.example.com/42" ||
		ev.GetDeployment().GetID() != d.GetID() || string(ev.GetDeployment().Payload) != `{"model":"a","version":"2"}` ||
		ev.GetInstallation().GetID() != s.inst || ev.GetSender().GetLogin() != "modelgate[bot]" {
		t.Errorf("deployment status event = %s", github.Stringify(ev))
	}
	// The status GitHub adds to an older deployment has its own delivery.
	newer, _, err := s.client.Repositories.CreateDeployment(ctx, org, "models", &github.DeploymentRequest{
		Ref: github.String(s.base), Environment: github.String("staging"), AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.client.Repositories.CreateDeploymentStatus(ctx, org, "models", newer.GetID(), &github.DeploymentStatusRequest{State: github.String("success")}); err != nil {
		t.Fatal(err)
	}
	old := s.gh.Deployments(repoName)[0]
	inactive := old.Statuses[len(old.Statuses)-1]
	ev = parse(t, s.gh, s.gh.DeploymentStatusEvent(repoName, inactive.ID), "deployment_status").(*github.DeploymentStatusEvent)
	if ev.GetDeploymentStatus().GetState() != "inactive" || ev.GetDeployment().GetID() != d.GetID() {
		t.Errorf("inactive status event = %s", github.Stringify(ev.GetDeploymentStatus()))
	}
}

func TestPushEvent(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	s.gh.AddUser("bob", "bob@example.com")

	s.work.Write("environments/staging.yaml", "stage: staging\n")
	s.work.Remove("README.md")
	s.work.Commit("pin staging", time.Now())
	s.work.Write("environments/dev.yaml", "stage: dev\n")
	pushed := s.work.Commit("pin dev", time.Now())
	after := s.gh.Push(repoName, "main", "bob")
	ev := parse(t, s.gh, s.gh.PushEvent(repoName, "main"), "push").(*github.PushEvent)
	if ev.GetRef() != "refs/heads/main" || ev.GetBefore() != s.base || ev.GetAfter() != after || after != pushed ||
		ev.GetCreated() || ev.GetDeleted() || ev.GetForced() || ev.GetPusher().GetName() != "bob" || ev.GetSender().GetLogin() != "bob" ||
		ev.GetInstallation().GetID() != s.inst || ev.GetRepo().GetFullName() != repoName || ev.GetHeadCommit().GetID() != after {
		t.Errorf("push event = %s", github.Stringify(ev))
	}
	if len(ev.Commits) != 2 || ev.Commits[0].GetMessage() != "pin staging" ||
		strings.Join(ev.Commits[0].Added, ",") != "environments/staging.yaml" || strings.Join(ev.Commits[0].Removed, ",") != "README.md" ||
		strings.Join(ev.Commits[1].Added, ",") != "environments/dev.yaml" {
		t.Errorf("push commits = %s", github.Stringify(ev.Commits))
	}

	// A merge through the API is a push to the base by the App.
	merged, _, err := s.client.PullRequests.Merge(ctx, org, "models", s.number, "", &github.PullRequestOptions{SHA: s.head, MergeMethod: "squash"})
	if err != nil {
		t.Fatal(err)
	}
	ev = parse(t, s.gh, s.gh.PushEvent(repoName, "main"), "push").(*github.PushEvent)
	if ev.GetBefore() != after || ev.GetAfter() != merged.GetSHA() || ev.GetSender().GetLogin() != "modelgate[bot]" || len(ev.Commits) != 1 {
		t.Errorf("push of the merge = before %s after %s sender %s commits %d", ev.GetBefore(), ev.GetAfter(), ev.GetSender().GetLogin(), len(ev.Commits))
	}
}

func TestManyRepositoriesAndTheirEvents(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	names := make([]string, 150)
	for i := range names {
		names[i] = fmt.Sprintf("%s/r%03d", org, i)
	}
	s.gh.AddRepos(s.inst, s.work.Dir, names...)
	ev := parse(t, s.gh, s.gh.InstallationRepositoriesEvent(s.inst, "added", names[:2], "alice"), "installation_repositories").(*github.InstallationRepositoriesEvent)
	if len(ev.RepositoriesAdded) != 2 || ev.RepositoriesAdded[1].GetFullName() != names[1] || ev.RepositoriesAdded[1].GetID() != s.gh.RepoID(names[1]) ||
		len(ev.RepositoriesRemoved) != 0 || ev.GetInstallation().GetID() != s.inst {
		t.Errorf("added event = %s", github.Stringify(ev))
	}
	// Each serves the content of the source.
	if _, _, _, err := s.client.Repositories.GetContents(ctx, org, "r149", "models/a/model.yaml", nil); err != nil {
		t.Errorf("read a file of a shared repository: %v", err)
	}

	s.gh.RemoveRepo(names[0])
	s.gh.DeleteRepo(names[2])
	s.gh.RenameRepo(names[3], "renamed")
	ev = parse(t, s.gh, s.gh.InstallationRepositoriesEvent(s.inst, "removed", names[:1], "alice"), "installation_repositories").(*github.InstallationRepositoriesEvent)
	if len(ev.RepositoriesRemoved) != 1 || ev.RepositoriesRemoved[0].GetFullName() != names[0] || len(ev.RepositoriesAdded) != 0 {
		t.Errorf("removed event = %s", github.Stringify(ev))
	}
	var listed []string
	opts := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := s.client.Apps.ListRepos(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Repositories {
			listed = append(listed, r.GetFullName())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(listed) != 1+148 || slices.Contains(listed, names[0]) || slices.Contains(listed, names[2]) || !slices.Contains(listed, org+"/renamed") {
		t.Errorf("listed %d repositories: %v", len(listed), listed)
	}
	if _, _, err := s.client.Repositories.Get(ctx, org, "r000"); err == nil {
		t.Error("a repository taken out of the installation is still served")
	}
}

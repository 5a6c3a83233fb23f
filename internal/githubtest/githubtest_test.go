package githubtest_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/modelgate/modelgate/internal/githubtest"
	"github.com/modelgate/modelgate/internal/gittest"
)

const (
	appID    = 4242
	org      = "acme"
	repoName = "acme/models"
)

// newKey is the test App's private key, generated once: RSA generation is slow.
var newKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

func appKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// appJWT signs an App JWT as GitHub documents it: RS256, iss the App ID,
// issued a little in the past, expiring at exp.
func appJWT(t *testing.T, key *rsa.PrivateKey, iss int64, now, exp time.Time) string {
	t.Helper()
	enc := func(v any) string {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(data)
	}
	signed := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." +
		enc(map[string]any{"iss": fmt.Sprint(iss), "iat": now.Add(-30 * time.Second).Unix(), "exp": exp.Unix()})
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// authTransport sets an Authorization header on every request.
type authTransport string

func (a authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", string(a))
	return http.DefaultTransport.RoundTrip(r)
}

func newClient(t *testing.T, gh *githubtest.Server, authorization string) *github.Client {
	t.Helper()
	c, err := github.NewClient(&http.Client{Transport: authTransport(authorization)}).WithEnterpriseURLs(gh.URL(), gh.URL())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// scenario is an emulated GitHub with the App installed on acme, the
// repository acme/models and pull request #1 from promote into main.
type scenario struct {
	gh      *githubtest.Server
	work    *gittest.Repo
	inst    int64
	number  int
	base    string // main's head
	head    string // promote's head
	client  *github.Client
	appAuth *github.Client
}

func newScenario(t *testing.T, tb testing.TB) *scenario {
	t.Helper()
	gh := githubtest.New(tb)
	gh.AddApp(appID, "modelgate", &appKey(t).PublicKey)
	inst := gh.AddInstallation(appID, org)
	gh.AddUser("alice", "author@example.com")

	w := gittest.New(t)
	start := time.Now().Add(-time.Hour)
	w.Write("README.md", "models\n")
	w.Write("models/a/model.yaml", "name: a\nversion: 1\n")
	w.Write("models/c/model.yaml", "name: c\n")
	base := w.Commit("initial", start)
	w.Branch("promote")
	w.Write("models/a/model.yaml", "name: a\nversion: 2\n")
	w.Write("models/b/model.yaml", "name: b\n")
	w.Remove("models/c/model.yaml")
	head := w.Commit("promote a, add b", start.Add(time.Minute))
	w.Checkout("main")
	gh.AddRepo(inst, repoName, w.Dir)
	number := gh.OpenPullRequest(repoName, githubtest.PullRequestOptions{Head: "promote", Author: "alice", Title: "Promote a", Labels: []string{"promotion"}})

	now := gh.Now()
	appAuth := newClient(t, gh, "Bearer "+appJWT(t, appKey(t), appID, now, now.Add(10*time.Minute)))
	tok, _, err := appAuth.Apps.CreateInstallationToken(context.Background(), inst, nil)
	if err != nil {
		t.Fatalf("create installation token: %v", err)
	}
	return &scenario{
		gh: gh, work: w, inst: inst, number: number, base: base, head: head,
		client: newClient(t, gh, "token "+tok.GetToken()), appAuth: appAuth,
	}
}

func statusOf(err error) int {
	var e *github.ErrorResponse
	if errors.As(err, &e) {
		return e.Response.StatusCode
	}
	return 0
}

func TestInstallationTokens(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)

	insts, _, err := s.appAuth.Apps.ListInstallations(ctx, nil)
	if err != nil || len(insts) != 1 || insts[0].GetID() != s.inst || insts[0].GetAccount().GetLogin() != org {
		t.Fatalf("ListInstallations = %v, %v", insts, err)
	}
	repos, _, err := s.client.Apps.ListRepos(ctx, nil)
	if err != nil || repos.GetTotalCount() != 1 || repos.Repositories[0].GetFullName() != repoName {
		t.Fatalf("ListRepos = %v, %v", repos, err)
	}
	// The same token as a Bearer credential.
	tok, _, err := s.appAuth.Apps.CreateInstallationToken(ctx, s.inst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if exp := tok.GetExpiresAt().Sub(s.gh.Now()); exp != time.Hour {
		t.Errorf("token expires in %v, want 1h", exp)
	}
	bearer := github.NewClient(nil).WithAuthToken(tok.GetToken())
	if bearer, err = bearer.WithEnterpriseURLs(s.gh.URL(), s.gh.URL()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bearer.Repositories.Get(ctx, org, "models"); err != nil {
		t.Errorf("Bearer token: %v", err)
	}
	// The server's root serves the API too.
	root := github.NewClient(nil).WithAuthToken(tok.GetToken())
	if root.BaseURL, err = url.Parse(s.gh.URL() + "/"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := root.Repositories.Get(ctx, org, "models"); err != nil {
		t.Errorf("client at the root: %v", err)
	}

	now := s.gh.Now()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, jwt := range map[string]string{
		"wrong key":           appJWT(t, otherKey, appID, now, now.Add(5*time.Minute)),
		"unknown app":         appJWT(t, appKey(t), 7, now, now.Add(5*time.Minute)),
		"exp too far":         appJWT(t, appKey(t), appID, now, now.Add(11*time.Minute)),
		"expired":             appJWT(t, appKey(t), appID, now.Add(-20*time.Minute), now.Add(-time.Minute)),
		"installation token":  tok.GetToken(),
		"not a token at all!": "garbage",
	} {
		_, _, err := newClient(t, s.gh, "Bearer "+jwt).Apps.CreateInstallationToken(ctx, s.inst, nil)
		if statusOf(err) != http.StatusUnauthorized {
			t.Errorf("%s: err = %v, want 401", name, err)
		}
	}
	for name, auth := range map[string]string{"none": "", "wrong token": "token ghs_nope", "JWT": "Bearer " + appJWT(t, appKey(t), appID, now, now.Add(time.Minute))} {
		if _, _, err := newClient(t, s.gh, auth).Repositories.Get(ctx, org, "models"); statusOf(err) != http.StatusUnauthorized {
			t.Errorf("%s: err = %v, want 401", name, err)
		}
	}
	// A token limited to another repository does not see this one.
	if _, _, err := s.appAuth.Apps.CreateInstallationToken(ctx, s.inst, &github.InstallationTokenOptions{Repositories: []string{"elsewhere"}}); statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("token for an unknown repository: err = %v, want 422", err)
	}

	s.gh.Advance(61 * time.Minute)
	if _, _, err := s.client.Repositories.Get(ctx, org, "models"); statusOf(err) != http.StatusUnauthorized {
		t.Errorf("expired token: err = %v, want 401", err)
	}
}

func TestReadPullRequest(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)

	pr, _, err := s.client.PullRequests.Get(ctx, org, "models", s.number)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetHead().GetSHA() != s.head || pr.GetBase().GetSHA() != s.base || pr.GetHead().GetRef() != "promote" ||
		!pr.GetMergeable() || pr.GetChangedFiles() != 3 || pr.GetCommits() != 1 || pr.GetUser().GetLogin() != "alice" ||
		len(pr.Labels) != 1 || pr.Labels[0].GetName() != "promotion" {
		t.Errorf("pull request = %s", github.Stringify(pr))
	}
	open, _, err := s.client.PullRequests.List(ctx, org, "models", &github.PullRequestListOptions{State: "open"})
	if err != nil || len(open) != 1 || open[0].GetNumber() != s.number {
		t.Errorf("open pull requests = %v, %v", open, err)
	}

	files, _, err := s.client.PullRequests.ListFiles(ctx, org, "models", s.number, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.GetFilename()] = f.GetStatus()
	}
	want := map[string]string{"models/a/model.yaml": "modified", "models/b/model.yaml": "added", "models/c/model.yaml": "removed"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	for _, f := range files {
		if f.GetFilename() == "models/a/model.yaml" && (f.GetAdditions() != 1 || f.GetDeletions() != 1 || !strings.Contains(f.GetPatch(), "+version: 2")) {
			t.Errorf("modified file = %s", github.Stringify(f))
		}
	}
	commits, _, err := s.client.PullRequests.ListCommits(ctx, org, "models", s.number, nil)
	if err != nil || len(commits) != 1 || commits[0].GetSHA() != s.head || commits[0].GetAuthor().GetLogin() != "alice" {
		t.Errorf("commits = %v, %v", commits, err)
	}

	// Contents at the head SHA and at the base, a folder, a missing file.
	file, _, _, err := s.client.Repositories.GetContents(ctx, org, "models", "models/a/model.yaml", &github.RepositoryContentGetOptions{Ref: s.head})
	if err != nil {
		t.Fatal(err)
	}
	if content, err := file.GetContent(); err != nil || content != "name: a\nversion: 2\n" {
		t.Errorf("content at head = %q, %v", content, err)
	}
	file, _, _, err = s.client.Repositories.GetContents(ctx, org, "models", "models/a/model.yaml", &github.RepositoryContentGetOptions{Ref: s.base})
	if content, _ := file.GetContent(); err != nil || content != "name: a\nversion: 1\n" {
		t.Errorf("content at base = %q, %v", content, err)
	}
	_, dir, _, err := s.client.Repositories.GetContents(ctx, org, "models", "models", &github.RepositoryContentGetOptions{Ref: s.head})
	if err != nil || len(dir) != 2 || dir[0].GetType() != "dir" || dir[0].GetPath() != "models/a" {
		t.Errorf("folder = %v, %v", dir, err)
	}
	if _, _, _, err := s.client.Repositories.GetContents(ctx, org, "models", "models/c/model.yaml", &github.RepositoryContentGetOptions{Ref: s.head}); statusOf(err) != http.StatusNotFound {
		t.Errorf("removed file: err = %v, want 404", err)
	}

	tree, _, err := s.client.Git.GetTree(ctx, org, "models", s.head, true)
	if err != nil {
		t.Fatal(err)
	}
	var blobSHA string
	var paths []string
	for _, e := range tree.Entries {
		paths = append(paths, e.GetPath())
		if e.GetPath() == "models/b/model.yaml" {
			blobSHA = e.GetSHA()
		}
	}
	if len(paths) != 6 || blobSHA == "" {
		t.Errorf("recursive tree = %v", paths)
	}
	blob, _, err := s.client.Git.GetBlob(ctx, org, "models", blobSHA)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(blob.GetContent(), "\n", "")); err != nil || string(data) != "name: b\n" {
		t.Errorf("blob = %q, %v", data, err)
	}

	cmp, _, err := s.client.Repositories.CompareCommits(ctx, org, "models", "main", "promote", nil)
	if err != nil || cmp.GetStatus() != "ahead" || cmp.GetAheadBy() != 1 || len(cmp.Files) != 3 || cmp.GetMergeBaseCommit().GetSHA() != s.base {
		t.Errorf("compare = %s, %v", github.Stringify(cmp), err)
	}
	history, _, err := s.client.Repositories.ListCommits(ctx, org, "models", &github.CommitsListOptions{SHA: "promote", Path: "models/b/model.yaml"})
	if err != nil || len(history) != 1 || history[0].GetSHA() != s.head {
		t.Errorf("history of models/b = %v, %v", history, err)
	}
	all, resp, err := s.client.Repositories.ListCommits(ctx, org, "models", &github.CommitsListOptions{SHA: "promote", ListOptions: github.ListOptions{PerPage: 1}})
	if err != nil || len(all) != 1 || resp.NextPage != 2 {
		t.Errorf("first page of commits = %v, next %d, %v", all, resp.NextPage, err)
	}
}

func TestReviewsAndTeams(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	approval := s.gh.SubmitReview(repoName, s.number, "bob", "APPROVED")
	s.gh.SubmitReview(repoName, s.number, "carol", "CHANGES_REQUESTED")
	s.gh.DismissReview(repoName, s.number, approval)
	s.gh.AddTeamMember(org, "ml-leads", "bob")

	reviews, _, err := s.client.PullRequests.ListReviews(ctx, org, "models", s.number, nil)
	if err != nil || len(reviews) != 2 {
		t.Fatalf("reviews = %v, %v", reviews, err)
	}
	if r := reviews[0]; r.GetUser().GetLogin() != "bob" || r.GetState() != "DISMISSED" || r.GetCommitID() != s.head {
		t.Errorf("first review = %s", github.Stringify(r))
	}
	if r := reviews[1]; r.GetUser().GetLogin() != "carol" || r.GetState() != "CHANGES_REQUESTED" {
		t.Errorf("second review = %s", github.Stringify(r))
	}
	m, _, err := s.client.Teams.GetTeamMembershipBySlug(ctx, org, "ml-leads", "bob")
	if err != nil || m.GetState() != "active" || m.GetRole() != "member" {
		t.Errorf("bob's membership = %v, %v", m, err)
	}
	for _, who := range [][2]string{{"ml-leads", "carol"}, {"nobody", "bob"}} {
		if _, _, err := s.client.Teams.GetTeamMembershipBySlug(ctx, org, who[0], who[1]); statusOf(err) != http.StatusNotFound {
			t.Errorf("%s in %s: err = %v, want 404", who[1], who[0], err)
		}
	}
}

func annotations(n int) []*github.CheckRunAnnotation {
	var list []*github.CheckRunAnnotation
	for i := range n {
		list = append(list, &github.CheckRunAnnotation{
			Path: github.String("models/a/model.yaml"), StartLine: github.Int(i + 1), EndLine: github.Int(i + 1),
			AnnotationLevel: github.String("failure"), Message: github.String(fmt.Sprintf("problem %d", i)),
		})
	}
	return list
}

func TestCheckRuns(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)

	run, _, err := s.client.Checks.CreateCheckRun(ctx, org, "models", github.CreateCheckRunOptions{
		Name: "modelgate/policy", HeadSHA: s.head, Status: github.String("in_progress"),
		Output: &github.CheckRunOutput{Title: github.String("Policy"), Summary: github.String("running"), Annotations: annotations(50)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.PullRequests) != 1 || run.PullRequests[0].GetNumber() != s.number || run.GetApp().GetID() != appID {
		t.Errorf("check run = %s", github.Stringify(run))
	}
	run, _, err = s.client.Checks.UpdateCheckRun(ctx, org, "models", run.GetID(), github.UpdateCheckRunOptions{
		Name: "modelgate/policy", Conclusion: github.String("failure"),
		Output: &github.CheckRunOutput{Title: github.String("Policy"), Summary: github.String("2 denials"), Annotations: annotations(10)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if run.GetStatus() != "completed" || run.GetConclusion() != "failure" || run.GetOutput().GetAnnotationsCount() != 60 {
		t.Errorf("updated check run = %s", github.Stringify(run))
	}
	// GitHub counts the summary's limit in bytes.
	_, _, err = s.client.Checks.UpdateCheckRun(ctx, org, "models", run.GetID(), github.UpdateCheckRunOptions{
		Name:   "modelgate/policy",
		Output: &github.CheckRunOutput{Title: github.String("Policy"), Summary: github.String(strings.Repeat("é", 40000))},
	})
	if statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("80000-byte summary: err = %v, want 422", err)
	}

	runs, _, err := s.client.Checks.ListCheckRunsForRef(ctx, org, "models", "promote", nil)
	if err != nil || runs.GetTotal() != 1 || runs.CheckRuns[0].GetOutput().GetSummary() != "2 denials" {
		t.Errorf("check runs for promote = %v, %v", runs, err)
	}
	state := s.gh.CheckRuns(repoName)
	if len(state) != 1 || len(state[0].Annotations) != 60 || state[0].Updates != 1 || state[0].Annotations[59].Message != "problem 9" {
		t.Errorf("check run state = %+v", state)
	}
}

func TestStickyComment(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	c, _, err := s.client.Issues.CreateComment(ctx, org, "models", s.number, &github.IssueComment{Body: github.String("<!-- modelgate --> pending")})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetUser().GetLogin() != "modelgate[bot]" || c.GetUser().GetType() != "Bot" {
		t.Errorf("comment author = %s", github.Stringify(c.GetUser()))
	}
	list, _, err := s.client.Issues.ListComments(ctx, org, "models", s.number, nil)
	if err != nil || len(list) != 1 {
		t.Fatalf("comments = %v, %v", list, err)
	}
	if _, _, err := s.client.Issues.EditComment(ctx, org, "models", list[0].GetID(), &github.IssueComment{Body: github.String("<!-- modelgate --> allowed")}); err != nil {
		t.Fatal(err)
	}
	state := s.gh.Comments(repoName, s.number)
	if len(state) != 1 || state[0].Body != "<!-- modelgate --> allowed" || state[0].Edits != 1 {
		t.Errorf("comments = %+v", state)
	}
	if _, _, err := s.client.Issues.EditComment(ctx, org, "models", 999999, &github.IssueComment{Body: github.String("x")}); statusOf(err) != http.StatusNotFound {
		t.Errorf("edit of a missing comment: err = %v, want 404", err)
	}
}

func TestMerge(t *testing.T) {
	ctx := context.Background()
	for _, method := range []string{"merge", "squash", "rebase"} {
		t.Run(method, func(t *testing.T) {
			s := newScenario(t, t)
			res, _, err := s.client.PullRequests.Merge(ctx, org, "models", s.number, "", &github.PullRequestOptions{SHA: s.head, MergeMethod: method})
			if err != nil || !res.GetMerged() {
				t.Fatalf("merge = %v, %v", res, err)
			}
			if tip := s.gh.Branch(repoName, "main"); tip != res.GetSHA() || tip == s.base {
				t.Errorf("main = %s, want the merge result %s", tip, res.GetSHA())
			}
			// The base branch's tree is the head's: the change really landed.
			file, _, _, err := s.client.Repositories.GetContents(ctx, org, "models", "models/a/model.yaml", &github.RepositoryContentGetOptions{Ref: "main"})
			if content, _ := file.GetContent(); err != nil || content != "name: a\nversion: 2\n" {
				t.Errorf("main's models/a = %q, %v", content, err)
			}
			pr := s.gh.PullRequest(repoName, s.number)
			if !pr.Merged || pr.State != "closed" || pr.MergeCommitSHA != res.GetSHA() || pr.MergedBy != "modelgate[bot]" {
				t.Errorf("merged pull request = %+v", pr)
			}
			if _, _, err := s.client.PullRequests.Merge(ctx, org, "models", s.number, "", nil); statusOf(err) != http.StatusMethodNotAllowed {
				t.Errorf("second merge: err = %v, want 405", err)
			}
		})
	}

	t.Run("stale sha", func(t *testing.T) {
		s := newScenario(t, t)
		s.work.Checkout("promote")
		s.work.Write("models/a/model.yaml", "name: a\nversion: 3\n")
		s.work.Commit("sneak in version 3", time.Now())
		newHead := s.gh.Push(repoName, "promote", "mallory")
		_, _, err := s.client.PullRequests.Merge(ctx, org, "models", s.number, "", &github.PullRequestOptions{SHA: s.head})
		if statusOf(err) != http.StatusConflict {
			t.Errorf("merge of the old head: err = %v, want 409", err)
		}
		if tip := s.gh.Branch(repoName, "main"); tip != s.base {
			t.Errorf("main moved to %s", tip)
		}
		if pr := s.gh.PullRequest(repoName, s.number); pr.HeadSHA != newHead || pr.Merged {
			t.Errorf("pull request = %+v", pr)
		}
	})

	t.Run("conflict", func(t *testing.T) {
		s := newScenario(t, t)
		s.work.Write("models/a/model.yaml", "name: a\nversion: 9\n")
		s.work.Commit("conflicting change on main", time.Now())
		s.gh.Push(repoName, "main", "bob")
		pr, _, err := s.client.PullRequests.Get(ctx, org, "models", s.number)
		if err != nil || pr.GetMergeable() || pr.GetMergeableState() != "dirty" {
			t.Errorf("conflicting pull request: mergeable %v (%s), %v", pr.GetMergeable(), pr.GetMergeableState(), err)
		}
		if _, _, err := s.client.PullRequests.Merge(ctx, org, "models", s.number, "", &github.PullRequestOptions{SHA: s.head}); statusOf(err) != http.StatusMethodNotAllowed {
			t.Errorf("merge with a conflict: err = %v, want 405", err)
		}
	})
}

func TestDeployments(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	d, _, err := s.client.Repositories.CreateDeployment(ctx, org, "models", &github.DeploymentRequest{
		Ref: github.String("main"), Environment: github.String("staging"), AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
	})
	if err != nil || d.GetSHA() != s.base || d.GetEnvironment() != "staging" {
		t.Fatalf("deployment = %v, %v", d, err)
	}
	if _, _, err := s.client.Repositories.CreateDeploymentStatus(ctx, org, "models", d.GetID(), &github.DeploymentStatusRequest{State: github.String("success")}); err != nil {
		t.Fatal(err)
	}
	statuses, _, err := s.client.Repositories.ListDeploymentStatuses(ctx, org, "models", d.GetID(), nil)
	if err != nil || len(statuses) != 1 || statuses[0].GetState() != "success" || statuses[0].GetEnvironment() != "staging" {
		t.Errorf("statuses = %v, %v", statuses, err)
	}
	list, _, err := s.client.Repositories.ListDeployments(ctx, org, "models", &github.DeploymentsListOptions{Environment: "staging"})
	if err != nil || len(list) != 1 {
		t.Errorf("deployments = %v, %v", list, err)
	}
	if state := s.gh.Deployments(repoName); len(state) != 1 || len(state[0].Statuses) != 1 || state[0].Creator != "modelgate[bot]" {
		t.Errorf("deployment state = %+v", state)
	}
}

func TestFailNext(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	const route = "/repos/{owner}/{repo}/pulls/{pull_number}"

	// go-github v62 turns a 429 into a plain error response, and a 403 with
	// GitHub's secondary rate limit body into an AbuseRateLimitError.
	s.gh.FailNext("GET", route, http.StatusTooManyRequests, map[string]string{"Retry-After": "30"}, 1)
	_, resp, err := s.client.PullRequests.Get(ctx, org, "models", s.number)
	if statusOf(err) != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" {
		t.Errorf("429: err = %v, Retry-After %q", err, resp.Header.Get("Retry-After"))
	}
	s.gh.FailNext("GET", route, http.StatusForbidden, map[string]string{"Retry-After": "30"}, 1)
	_, _, err = s.client.PullRequests.Get(ctx, org, "models", s.number)
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.GetRetryAfter() != 30*time.Second {
		t.Errorf("403 with Retry-After: err = %v, want a secondary rate limit of 30s", err)
	}

	// A fresh client: go-github refuses requests locally until Retry-After.
	client := newClient(t, s.gh, "Bearer "+installationToken(t, s))
	s.gh.FailNext("GET", "/repos/acme/models/pulls/*", http.StatusBadGateway, nil, 2)
	for range 2 {
		if _, _, err := client.PullRequests.Get(ctx, org, "models", s.number); statusOf(err) != http.StatusBadGateway {
			t.Errorf("502: err = %v", err)
		}
	}
	if _, _, err := client.PullRequests.Get(ctx, org, "models", s.number); err != nil {
		t.Errorf("after the faults: %v", err)
	}

	reset := s.gh.Now().Add(time.Minute).Unix()
	s.gh.FailNext("GET", route, http.StatusForbidden, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(reset)}, 1)
	_, _, err = client.PullRequests.Get(ctx, org, "models", s.number)
	var limited *github.RateLimitError
	if !errors.As(err, &limited) || limited.Rate.Reset.Unix() != reset {
		t.Errorf("403 rate limit: err = %v, want a primary rate limit", err)
	}
}

func installationToken(t *testing.T, s *scenario) string {
	t.Helper()
	tok, _, err := s.appAuth.Apps.CreateInstallationToken(context.Background(), s.inst, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok.GetToken()
}

func TestPrimaryRateLimit(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	s.gh.SetRateLimit(s.inst, 3)
	for want := 2; want >= 0; want-- {
		_, resp, err := s.client.Repositories.Get(ctx, org, "models")
		if err != nil || resp.Rate.Remaining != want || resp.Rate.Limit != 3 {
			t.Fatalf("remaining = %d (%v), want %d", resp.Rate.Remaining, err, want)
		}
	}
	_, _, err := newClient(t, s.gh, "token "+installationToken(t, s)).Repositories.Get(ctx, org, "models")
	var limited *github.RateLimitError
	if !errors.As(err, &limited) || !strings.Contains(limited.Message, "installation") {
		t.Errorf("over the limit: err = %v", err)
	}
	s.gh.Advance(time.Hour)
	if got := s.gh.RateLimitRemaining(s.inst); got != 3 {
		t.Errorf("after the window, remaining = %d, want 3", got)
	}
}

func TestConditionalRequests(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	tok := installationToken(t, s)
	get := func(etag string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, "GET", s.gh.URL()+"/api/v3/repos/acme/models/pulls/1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "token "+tok)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	first := get("")
	etag := first.Header.Get("ETag")
	before := s.gh.RateLimitRemaining(s.inst)
	if second := get(etag); etag == "" || second.StatusCode != http.StatusNotModified {
		t.Fatalf("with If-None-Match %q: %d", etag, second.StatusCode)
	}
	if after := s.gh.RateLimitRemaining(s.inst); after != before {
		t.Errorf("a 304 counted against the limit: %d → %d", before, after)
	}
	s.gh.SubmitReview(repoName, s.number, "bob", "APPROVED")
	s.gh.SetDraft(repoName, s.number, true)
	if third := get(etag); third.StatusCode != http.StatusOK {
		t.Errorf("after a change: %d, want 200", third.StatusCode)
	}
}

func TestCalls(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	s.gh.ResetCalls()
	if _, _, err := s.client.PullRequests.Get(ctx, org, "models", s.number); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.client.PullRequests.ListFiles(ctx, org, "models", s.number, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range s.gh.Calls() {
		got = append(got, c.String())
	}
	want := []string{"GET /repos/{owner}/{repo}/pulls/{pull_number}", "GET /repos/{owner}/{repo}/pulls/{pull_number}/files"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls = %q, want %q", got, want)
	}
}

// TestCallsTellClientsApart: calls with one token share a Client, another
// token's have another, and Received orders them as they arrived.
func TestCallsTellClientsApart(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	other := newClient(t, s.gh, "token "+s.gh.InstallationToken(s.inst))
	s.gh.ResetCalls()
	before := time.Now()
	for _, c := range []*github.Client{s.client, other, s.client} {
		if _, _, err := c.PullRequests.Get(ctx, org, "models", s.number); err != nil {
			t.Fatal(err)
		}
	}
	calls := s.gh.Calls()
	if len(calls) != 3 {
		t.Fatalf("%d calls", len(calls))
	}
	if calls[0].Client == "" || calls[0].Client != calls[2].Client || calls[1].Client == calls[0].Client {
		t.Errorf("clients %q, %q, %q: want the first and last the same, the second another", calls[0].Client, calls[1].Client, calls[2].Client)
	}
	if calls[0].Received.Before(before) || !calls[0].Received.Before(calls[1].Received) || !calls[1].Received.Before(calls[2].Received) {
		t.Errorf("received %v, %v, %v after %v: not in the order they were made", calls[0].Received, calls[1].Received, calls[2].Received, before)
	}
}

// recordingTB records the test failures that the server reports, so that a
// test can check that a misbehaving client is caught.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errors, "\n")
}

func TestUnimplementedEndpointFailsTheTest(t *testing.T) {
	rec := &recordingTB{TB: t}
	s := newScenario(t, rec)
	_, _, err := s.client.Issues.Get(context.Background(), org, "models", s.number)
	if statusOf(err) != http.StatusNotFound {
		t.Errorf("err = %v, want 404", err)
	}
	if got := rec.failures(); !strings.Contains(got, "GET /api/v3/repos/acme/models/issues/1 is not an endpoint") {
		t.Errorf("recorded failures = %q", got)
	}
}

func TestInvalidRequestFailsTheTest(t *testing.T) {
	rec := &recordingTB{TB: t}
	s := newScenario(t, rec)
	// 51 annotations break GitHub's limit of 50 a request, which its
	// description states.
	_, _, err := s.client.Checks.CreateCheckRun(context.Background(), org, "models", github.CreateCheckRunOptions{
		Name: "modelgate/policy", HeadSHA: s.head,
		Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"), Annotations: annotations(51)},
	})
	if statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("err = %v, want 422", err)
	}
	if got := rec.failures(); !strings.Contains(got, "POST /api/v3/repos/acme/models/check-runs") || !strings.Contains(got, "annotations") {
		t.Errorf("recorded failures = %q", got)
	}
	if runs := s.gh.CheckRuns(repoName); len(runs) != 0 {
		t.Errorf("an invalid request created %d check runs", len(runs))
	}
}

func TestConcurrentClients(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, _, err := s.client.Issues.CreateComment(ctx, org, "models", s.number, &github.IssueComment{Body: github.String(fmt.Sprint(i))}); err != nil {
				t.Error(err)
			}
			if _, _, err := s.client.PullRequests.Get(ctx, org, "models", s.number); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(s.gh.Comments(repoName, s.number)); n != 8 {
		t.Errorf("%d comments, want 8", n)
	}
}

func TestDeploymentGetAndAutoInactive(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	create := func(env string, production *bool) int64 {
		t.Helper()
		d, _, err := s.client.Repositories.CreateDeployment(ctx, org, "models", &github.DeploymentRequest{
			Ref: github.String("main"), Environment: github.String(env), Task: github.String("deploy:model"),
			Payload: map[string]any{"model": "a"}, AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
			ProductionEnvironment: production,
		})
		if err != nil {
			t.Fatal(err)
		}
		return d.GetID()
	}
	post := func(id int64, state string, autoInactive *bool) {
		t.Helper()
		if _, _, err := s.client.Repositories.CreateDeploymentStatus(ctx, org, "models", id, &github.DeploymentStatusRequest{State: github.String(state), AutoInactive: autoInactive}); err != nil {
			t.Fatal(err)
		}
	}
	lastState := func(id int64) string {
		t.Helper()
		list, _, err := s.client.Repositories.ListDeploymentStatuses(ctx, org, "models", id, nil)
		if err != nil || len(list) == 0 {
			t.Fatalf("statuses of %d = %v, %v", id, list, err)
		}
		return list[0].GetState() // newest first
	}

	first, failed, kept := create("staging", nil), create("staging", nil), create("staging", nil)
	other, prod := create("dev", nil), create("production", nil)
	post(first, "success", nil)
	post(failed, "failure", nil)
	post(kept, "success", github.Bool(false))
	post(other, "success", nil)
	post(prod, "success", nil)
	if got := lastState(first); got != "success" {
		t.Errorf("with auto_inactive false, the earlier success became %s", got)
	}
	second := create("staging", nil)
	later := create("staging", nil)
	post(later, "success", nil)
	post(second, "success", nil)
	for id, want := range map[int64]string{first: "inactive", kept: "inactive", failed: "failure", other: "success", later: "success", second: "success"} {
		if got := lastState(id); got != want {
			t.Errorf("deployment %d: last state %s, want %s", id, got, want)
		}
	}
	// Production deployments are never made inactive for the caller.
	post(create("production", nil), "success", nil)
	if got := lastState(prod); got != "success" {
		t.Errorf("production deployment: last state %s, want success", got)
	}

	d, _, err := s.client.Repositories.GetDeployment(ctx, org, "models", second)
	if err != nil || d.GetID() != second || d.GetTask() != "deploy:model" || d.GetEnvironment() != "staging" {
		t.Errorf("GetDeployment = %v, %v", d, err)
	}
	if _, _, err := s.client.Repositories.GetDeployment(ctx, org, "models", 1); statusOf(err) != http.StatusNotFound {
		t.Errorf("GetDeployment of an unknown ID: err = %v, want 404", err)
	}
}

func TestDeploymentStatusDescriptionLimit(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	d, _, err := s.client.Repositories.CreateDeployment(ctx, org, "models", &github.DeploymentRequest{
		Ref: github.String("main"), AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.client.Repositories.CreateDeploymentStatus(ctx, org, "models", d.GetID(), &github.DeploymentStatusRequest{
		State: github.String("failure"), Description: github.String(strings.Repeat("é", 140)),
	}); err != nil {
		t.Errorf("140 characters: %v", err)
	}
	_, _, err = s.client.Repositories.CreateDeploymentStatus(ctx, org, "models", d.GetID(), &github.DeploymentStatusRequest{
		State: github.String("failure"), Description: github.String(strings.Repeat("x", 141)),
	})
	var e *github.ErrorResponse
	if !errors.As(err, &e) || e.Response.StatusCode != http.StatusUnprocessableEntity || len(e.Errors) != 1 || e.Errors[0].Field != "description" {
		t.Errorf("141 characters: err = %v, want GitHub's 422", err)
	}
}

// Issues share their numbers with pull requests, take comments and have no
// pull_request in their webhooks.
func TestIssueComments(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	n := s.gh.OpenIssue(repoName, "alice", "Roll back staging")
	if n != s.number+1 {
		t.Errorf("issue number %d after pull request #%d", n, s.number)
	}
	if _, _, err := s.client.Issues.CreateComment(ctx, org, "models", n, &github.IssueComment{Body: github.String("answer")}); err != nil {
		t.Fatal(err)
	}
	d := s.gh.IssueCommentEvent(repoName, n, "carol", "/modelgate rollback staging")
	var payload struct {
		Issue   map[string]any `json:"issue"`
		Comment struct {
			Body string                 `json:"body"`
			User struct{ Login string } `json:"user"`
		} `json:"comment"`
	}
	if err := json.Unmarshal(d.Body, &payload); err != nil {
		t.Fatal(err)
	}
	if _, ok := payload.Issue["pull_request"]; ok || payload.Issue["number"] != float64(n) || payload.Comment.User.Login != "carol" {
		t.Errorf("issue_comment payload: issue %v, comment %+v", payload.Issue, payload.Comment)
	}
	list, _, err := s.client.Issues.ListComments(ctx, org, "models", n, nil)
	if err != nil || len(list) != 2 || len(s.gh.Comments(repoName, n)) != 2 || len(s.gh.Comments(repoName, s.number)) != 0 {
		t.Errorf("comments on the issue: %v, %v", list, err)
	}
	if _, _, err := s.client.Issues.ListComments(ctx, org, "models", n+1, nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("comments of a missing issue: err = %v, want 404", err)
	}
}

// A collaborator's permission is GitHub's for the role: maintain is write,
// triage is read, and anyone else reads.
func TestCollaboratorPermission(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, t)
	s.gh.SetRole(repoName, "bob", "maintain")
	s.gh.SetRole(repoName, "carol", "triage")
	for login, want := range map[string]string{"bob": "write", "carol": "read", "alice": "read"} {
		p, _, err := s.client.Repositories.GetPermissionLevel(ctx, org, "models", login)
		if err != nil || p.GetPermission() != want || p.GetUser().GetLogin() != login {
			t.Errorf("permission of %s = %s, %v; want %s", login, github.Stringify(p), err, want)
		}
	}
	if _, _, err := s.client.Repositories.GetPermissionLevel(ctx, org, "models", "nobody"); statusOf(err) != http.StatusNotFound {
		t.Errorf("permission of an unknown user: err = %v, want 404", err)
	}
}

package app

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/policies"
)

const (
	headSHA  = "5f3c9a1e0b7d4c2a9e8f6b5d4c3a2b1f0e9d8c7b"
	staleSHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
)

// approvalCase is one reviewer's standing approval per user and who changed
// the pull request: the facts both countApprovals and the built-in policies
// judge by.
type approvalCase struct {
	name       string
	approvals  []policy.Approval // user and the head it was given on
	author     string
	committers []string
	want       []string // the users whose approvals count, lower case, sorted
}

var sharedApprovalCases = []approvalCase{
	{"an approval of the head counts", []policy.Approval{{User: "bob", SHA: headSHA}}, "alice", []string{"alice"}, []string{"bob"}},
	{"the author's does not", []policy.Approval{{User: "alice", SHA: headSHA}}, "alice", nil, nil},
	{"logins are case-insensitive", []policy.Approval{{User: "Alice", SHA: headSHA}, {User: "Carol", SHA: headSHA}}, "alice", []string{"CAROL"}, nil},
	{"a committer's does not", []policy.Approval{{User: "carol", SHA: headSHA}, {User: "dave", SHA: headSHA}}, "alice", []string{"alice", "carol"}, []string{"dave"}},
	{"an approval of an older head does not", []policy.Approval{{User: "bob", SHA: staleSHA}, {User: "dave", SHA: headSHA}}, "alice", nil, []string{"dave"}},
	{"each counts once", []policy.Approval{{User: "dave", SHA: headSHA}, {User: "bob", SHA: headSHA}}, "alice", []string{"alice"}, []string{"bob", "dave"}},
	{"none given", nil, "alice", []string{"alice"}, nil},
}

// TestApprovalRulesAgree runs the App's rules and the built-in policies'
// (policies/lib.rego) on the same approvals: the App gives the policies only
// the approvals it counts, and the policies judge the approvals of the CLI,
// which counts none itself, so the two must count the same ones.
func TestApprovalRulesAgree(t *testing.T) {
	validUsers := libQuery(t, "data.modelgate.lib.valid_users")
	for _, c := range sharedApprovalCases {
		t.Run(c.name, func(t *testing.T) {
			var reviews []github.Review
			for i, a := range c.approvals {
				reviews = append(reviews, github.Review{ID: int64(i + 1), User: a.User, State: "APPROVED", CommitID: a.SHA, SubmittedAt: time.Unix(int64(i), 0)})
			}
			counted, _ := countApprovals(reviews, approvalFacts{Author: c.author, HeadSHA: headSHA, HeadRepo: "acme/models", Committers: c.committers})
			var byGo []string
			for _, r := range counted {
				byGo = append(byGo, strings.ToLower(r.User))
			}
			slices.Sort(byGo)

			given := []policy.Approval{}
			for _, a := range c.approvals {
				given = append(given, policy.Approval{User: a.User, SHA: a.SHA, Teams: []string{}})
			}
			byRego := validUsers(t, policy.PullRequest{Author: c.author, HeadSHA: headSHA, Labels: []string{}, Approvals: given,
				Committers: append([]string{}, c.committers...), ChangedFiles: []string{}})
			if !slices.Equal(byGo, c.want) || !slices.Equal(byRego, c.want) {
				t.Errorf("counted by the App %q, by the policies %q; want %q", byGo, byRego, c.want)
			}
		})
	}
}

// TestApprovalFactsOnlyTheAppKnows checks the rules the policies cannot
// judge, for want of the facts: which review stands, the fork, and who asked
// the App for the pull request.
func TestApprovalFactsOnlyTheAppKnows(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	facts := approvalFacts{Author: "modelgate[bot]", HeadSHA: headSHA, HeadRepo: "acme/models", Committers: []string{"modelgate[bot]"}}
	tests := []struct {
		name    string
		reviews []github.Review
		facts   func(approvalFacts) approvalFacts
		counted []string
		dropped []string
	}{
		{"a later request for changes withdraws an approval", []github.Review{
			{User: "bob", State: "APPROVED", CommitID: headSHA, SubmittedAt: at(1)},
			{User: "bob", State: "CHANGES_REQUESTED", CommitID: headSHA, SubmittedAt: at(2)},
		}, nil, nil, nil},
		{"a comment withdraws nothing", []github.Review{
			{User: "bob", State: "APPROVED", CommitID: headSHA, SubmittedAt: at(1)},
			{User: "bob", State: "COMMENTED", CommitID: headSHA, SubmittedAt: at(2)},
		}, nil, []string{"bob"}, nil},
		{"a dismissal withdraws it", []github.Review{
			{User: "bob", State: "APPROVED", CommitID: headSHA, SubmittedAt: at(1)},
			{User: "bob", State: "DISMISSED", CommitID: headSHA, SubmittedAt: at(2)},
		}, nil, nil, nil},
		{"an approval after a request for changes stands", []github.Review{
			{User: "bob", State: "CHANGES_REQUESTED", CommitID: headSHA, SubmittedAt: at(1)},
			{User: "bob", State: "APPROVED", CommitID: headSHA, SubmittedAt: at(2)},
		}, nil, []string{"bob"}, nil},
		{"a deleted account's review is no one's", []github.Review{{User: "", State: "APPROVED", CommitID: headSHA, SubmittedAt: at(1)}}, nil, nil, nil},
		{"no approval of a fork's head counts", []github.Review{{User: "bob", State: "APPROVED", CommitID: headSHA, SubmittedAt: at(1)}},
			func(f approvalFacts) approvalFacts { f.Fork, f.HeadRepo = true, "mallory/models"; return f }, nil,
			[]string{"bob: the head branch is in mallory/models, whose pushers modelgate cannot see"}},
		{"nor of a deleted fork's", []github.Review{{User: "bob", State: "APPROVED", CommitID: headSHA, SubmittedAt: at(1)}},
			func(f approvalFacts) approvalFacts { f.Fork, f.HeadRepo = true, ""; return f }, nil,
			[]string{"bob: the head branch is in a deleted fork, whose pushers modelgate cannot see"}},
		{"who asked the App for the pull request does not approve it", []github.Review{
			{User: "Carol", State: "APPROVED", CommitID: headSHA, SubmittedAt: at(1)},
			{User: "dave", State: "APPROVED", CommitID: headSHA, SubmittedAt: at(2)},
		}, func(f approvalFacts) approvalFacts { f.Requesters = []string{"carol"}; return f }, []string{"dave"},
			[]string{"Carol: asked the App for the pull request with a /modelgate command"}},
		{"a stale approval says which head it was given on", []github.Review{{User: "bob", State: "APPROVED", CommitID: staleSHA, SubmittedAt: at(1)}}, nil, nil,
			[]string{"bob: approved 0a1b2c3; commits pushed since (head is now 5f3c9a1) need a new approval"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := facts
			if tt.facts != nil {
				f = tt.facts(f)
			}
			counted, dropped := countApprovals(tt.reviews, f)
			var users, reasons []string
			for _, r := range counted {
				users = append(users, r.User)
			}
			for _, d := range dropped {
				reasons = append(reasons, d.User+": "+d.Reason)
			}
			if !slices.Equal(users, tt.counted) || !slices.Equal(reasons, tt.dropped) {
				t.Errorf("counted %q, dropped %q; want %q and %q", users, reasons, tt.counted, tt.dropped)
			}
		})
	}
}

// libQuery compiles the built-in policies and returns a function that
// evaluates query on a pull request, as a sorted list of strings.
func libQuery(t *testing.T, query string) func(*testing.T, policy.PullRequest) []string {
	t.Helper()
	opts := []func(*rego.Rego){rego.Query(query), rego.SetRegoVersion(ast.RegoV1)}
	for _, m := range policies.Modules() {
		if !strings.HasSuffix(m.Path, "_test.rego") {
			opts = append(opts, rego.Module(m.Path, string(m.Source)))
		}
	}
	prepared, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, pr policy.PullRequest) []string {
		t.Helper()
		doc, err := json.Marshal(policy.Input{PullRequest: pr})
		if err != nil {
			t.Fatal(err)
		}
		var input any
		if err := json.Unmarshal(doc, &input); err != nil {
			t.Fatal(err)
		}
		rs, err := prepared.Eval(context.Background(), rego.EvalInput(input))
		if err != nil || len(rs) != 1 || len(rs[0].Expressions) != 1 {
			t.Fatalf("%s: %v, %v", query, rs, err)
		}
		var out []string
		values, _ := rs[0].Expressions[0].Value.([]any)
		for _, v := range values {
			s, ok := v.(string)
			if !ok {
				t.Fatalf("%s holds %v, not a string", query, v)
			}
			out = append(out, s)
		}
		return out
	}
}

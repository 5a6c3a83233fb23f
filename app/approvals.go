package app

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/jsonlist"
	"github.com/modelgate/modelgate/internal/policy"
)

// approval is a reviewer's standing approval of the pull request.
type approval struct {
	User        string
	ReviewID    int64
	SHA         string // the head it was given on
	SubmittedAt time.Time
	Teams       []string // of the teams the base config names, those the user is in
}

// droppedApproval is an approval that does not count, with the reason, for
// the pull request comment: a reviewer whose approval silently stopped
// counting would otherwise never learn why the merge is not happening.
type droppedApproval struct {
	User   string
	Reason string
}

type approvalSet struct {
	counted    []approval
	dropped    []droppedApproval
	committers []string
}

// policyInput is what the policies see: the approvals that count, on the
// head being judged.
func (s *approvalSet) policyInput() []policy.Approval {
	out := []policy.Approval{}
	for _, a := range s.counted {
		out = append(out, policy.Approval{User: a.User, Teams: jsonlist.NonNil(a.Teams), SHA: a.SHA})
	}
	return out
}

// approvals reads the pull request's reviews. A reviewer's latest decisive
// review (approve, request changes, dismissal) stands; an approval counts only
// when it was given on the current head and the reviewer neither opened the
// pull request, nor ever pushed to its head branch, nor authored or committed
// one of its commits. Team membership is asked of GitHub only for approvals
// that count, and only for teams the rules commit's config names.
func (a *App) approvals(ctx context.Context, repo *github.Repo, fullName string, pr github.PullRequest, rules string) (*approvalSet, error) {
	reviews, err := repo.Reviews(ctx, pr.Number)
	if err != nil {
		return nil, fmt.Errorf("read reviews: %w", err)
	}
	committers, err := repo.Committers(ctx, pr.BaseSHA, pr.HeadSHA)
	if err != nil {
		return nil, fmt.Errorf("read commits: %w", err)
	}
	// The head branch of a fork is the fork's: who pushed to it is in the
	// fork's activity log, which the installation cannot be relied on to
	// see, so no approval of such a pull request can be shown to come from
	// someone who did not push to it. A deleted fork names no repository.
	fork := !strings.EqualFold(pr.HeadRepo, fullName)
	if !fork {
		pushers, err := a.pushers(ctx, repo, fullName, pr)
		if err != nil {
			return nil, err
		}
		for _, p := range pushers {
			if !slices.Contains(committers, p) {
				committers = append(committers, p)
			}
		}
	}
	requesters, err := a.requesters(ctx, fullName, pr)
	if err != nil {
		return nil, err
	}
	counted, dropped := countApprovals(reviews, approvalFacts{
		Author: pr.Author, HeadSHA: pr.HeadSHA, Fork: fork, HeadRepo: pr.HeadRepo, Committers: committers, Requesters: requesters,
	})
	set := &approvalSet{committers: committers, dropped: dropped}
	if len(counted) == 0 {
		return set, nil
	}
	teams, err := a.approverTeams(ctx, repo, rules)
	if err != nil {
		return nil, err
	}
	org, _, _ := strings.Cut(fullName, "/")
	for _, r := range counted {
		ap := approval{User: r.User, ReviewID: r.ID, SHA: r.CommitID, SubmittedAt: r.SubmittedAt, Teams: []string{}}
		for _, team := range teams {
			in, err := repo.TeamMember(ctx, org, team, r.User)
			if err != nil {
				return nil, fmt.Errorf("read membership of %s in %s/%s: %w", r.User, org, team, err)
			}
			if in {
				ap.Teams = append(ap.Teams, team)
			}
		}
		set.counted = append(set.counted, ap)
	}
	return set, nil
}

// approvalFacts are what decides whether an approval of a pull request
// counts, as read from GitHub and the audit log.
type approvalFacts struct {
	Author  string
	HeadSHA string
	// Fork says that the head branch is not in the base repository, which
	// HeadRepo names ("" for a deleted fork).
	Fork     bool
	HeadRepo string
	// Committers are those who authored, committed or pushed the pull
	// request's commits; Requesters those whose /modelgate command made the
	// App open it.
	Committers, Requesters []string
}

// countApprovals sorts the reviewers' standing approvals into those that
// count and those that do not, with why: a reviewer's latest decisive
// review (approve, request changes, dismissal) stands, and an approval
// counts only when it was given on the head by someone who neither opened
// the pull request, nor committed or pushed to it, nor asked the App for
// it, on a head branch whose pushers can be seen. The built-in policies
// judge the approvals they are given by the same rules of author,
// committers and head (policies/lib.rego), and TestApprovalRulesAgree
// holds the two to each other.
func countApprovals(reviews []github.Review, f approvalFacts) (counted []github.Review, dropped []droppedApproval) {
	latest := map[string]github.Review{}
	var order []string
	for _, r := range reviews {
		if r.State == "COMMENTED" || r.User == "" {
			continue
		}
		if _, ok := latest[r.User]; !ok {
			order = append(order, r.User)
		}
		if prev, ok := latest[r.User]; !ok || !r.SubmittedAt.Before(prev.SubmittedAt) {
			latest[r.User] = r
		}
	}
	among := func(logins []string, user string) bool {
		return slices.ContainsFunc(logins, func(c string) bool { return strings.EqualFold(c, user) })
	}
	for _, user := range order {
		r := latest[user]
		if r.State != "APPROVED" {
			continue
		}
		switch {
		case f.Fork:
			dropped = append(dropped, droppedApproval{user,
				fmt.Sprintf("the head branch is in %s, whose pushers modelgate cannot see", cmp.Or(f.HeadRepo, "a deleted fork"))})
		case strings.EqualFold(user, f.Author):
			dropped = append(dropped, droppedApproval{user, "opened the pull request"})
		case among(f.Committers, user):
			dropped = append(dropped, droppedApproval{user, "pushed a commit to the pull request"})
		case among(f.Requesters, user):
			dropped = append(dropped, droppedApproval{user, "asked the App for the pull request with a /modelgate command"})
		case r.CommitID != f.HeadSHA:
			dropped = append(dropped, droppedApproval{user,
				fmt.Sprintf("approved %s; commits pushed since (head is now %s) need a new approval", shortSHA(r.CommitID), shortSHA(f.HeadSHA))})
		default:
			counted = append(counted, r)
		}
	}
	return counted, dropped
}

// requesters are those whose /modelgate command made the App open the pull
// request. The App is its author, but the change is theirs: counting their
// approval would let one writer promote or roll back a stage alone.
func (a *App) requesters(ctx context.Context, repository string, pr github.PullRequest) ([]string, error) {
	recs, err := a.store.Records(ctx, audit.Filter{Kind: audit.KindProposal, Repository: repository, PullRequest: pr.Number})
	if err != nil {
		return nil, fmt.Errorf("read proposals: %w", err)
	}
	var logins []string
	for _, r := range recs {
		if !strings.EqualFold(r.Actor, pr.Author) && !slices.Contains(logins, r.Actor) {
			logins = append(logins, r.Actor)
		}
	}
	return logins, nil
}

// approverTeams lists the teams that the config of the rules commit names in
// its approval rules. A config that cannot be read names none: the gate denies
// the change for it anyway.
func (a *App) approverTeams(ctx context.Context, repo *github.Repo, rules string) ([]string, error) {
	reads := &readRecorder{Repository: repo}
	cfg, err := gitops.LoadConfig(ctx, reads.Snapshot(rules), a.validator)
	if failed := reads.failure(); failed != nil {
		return nil, fmt.Errorf("read config: %w", failed)
	}
	if err != nil {
		return []string{}, nil
	}
	teams := []string{}
	for _, rule := range cfg.Approvals {
		for _, t := range rule.Teams {
			if !slices.Contains(teams, t) {
				teams = append(teams, t)
			}
		}
	}
	slices.Sort(teams)
	return teams, nil
}

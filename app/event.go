package app

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/internal/deploy"
	"github.com/modelgate/modelgate/internal/gitops"
)

// Action is what a webhook delivery asks the App to do.
type Action int

const (
	// Ignore: the delivery changes nothing the App judges.
	Ignore Action = iota
	// Evaluate the pull requests named, as they are now.
	Evaluate
	// Explain evaluates and answers with the full report in a new comment.
	Explain
	// Reconcile sweeps the installation's open pull requests.
	Reconcile
	// Deploy creates the deployments of the merges the App made that a push
	// to a branch landed.
	Deploy
	// Track records a status a deployer posted on a deployment.
	Track
	// Analyze takes the live analysis measurements of a deployment that are
	// due, and records its verdict once reached.
	Analyze
	// Advance moves a deployment's version on: into the next stage once it
	// has soaked and passed its analysis, or back to the stage's previous
	// good version once its deployment or analysis failed.
	Advance
	// Command authorizes a /modelgate promote or rollback command and, when
	// allowed, queues the Advance job that carries it out.
	Command
	// Recover records the App's deployments from GitHub when the store holds
	// none of the repository (a new store), and deploys a merge whose push
	// never arrived.
	Recover
	// Forget forgets what is remembered of repositories the installation
	// no longer has: those named, or all of them when the installation was
	// deleted.
	Forget
)

func (a Action) String() string {
	switch a {
	case Evaluate:
		return "evaluate"
	case Explain:
		return "explain"
	case Reconcile:
		return "reconcile"
	case Deploy:
		return "deploy"
	case Track:
		return "track"
	case Analyze:
		return "analyze"
	case Advance:
		return "advance"
	case Command:
		return "command"
	case Recover:
		return "recover"
	case Forget:
		return "forget"
	}
	return "ignore"
}

// Task is a delivery translated: the one place that knows GitHub's webhook
// payloads. Everything after it sees only the installation, repository and
// pull request numbers, and reads their current state from the API rather than
// trusting the payload, which may be stale by the time a worker takes it.
type Task struct {
	Action       Action
	Installation int64
	Repository   string // owner/name; empty for an installation-wide task
	PullRequests []int
	// Reason says why, for logs and the audit trail: "pull_request.synchronize".
	Reason string
	// Pusher is who pushed the commits of a synchronize event: whatever the
	// commits say of their authors, a pusher may not approve the change.
	Pusher string
	// Branch and After are a push's branch and the commit it moved it to.
	Branch, After string
	// RepositoryID is the id of a push's repository. DefaultBranch tells
	// whether the push is to the repository's default branch, and
	// TouchesConfig whether it may have added or removed .modelgate/ there.
	RepositoryID                 int64
	DefaultBranch, TouchesConfig bool
	// Forget names, by id, the repositories a Forget task forgets; none
	// means every repository of the installation.
	Forget []int64
	// Deployment and Status name a deployment_status delivery's status, or
	// the deployment of an Analyze or Advance job.
	Deployment, Status int64
	// Trigger is what an Advance job is due to; Command, the command it
	// carries out.
	Trigger string
	Command *CommandRequest
	// Comment is the command of a Command task, as its comment gave it.
	Comment *CommentCommand
}

// CommentCommand is a /modelgate promote or rollback command as a comment
// gave it: nothing of it is authorized or checked yet.
type CommentCommand struct {
	ID     int64  // the comment's
	Author string // who wrote the comment
	Issue  int    // the issue or pull request commented on
	// OnPullRequest tells whether Issue is a pull request.
	OnPullRequest bool
	Command       string   // CommandPromote or CommandRollback
	Args          []string // the words after the command
}

// Key is the task's serialisation key: tasks on one pull request run one at
// a time, so two evaluations of it never race to report or merge.
func (t Task) Key() string {
	switch {
	case t.Repository != "" && len(t.PullRequests) == 1:
		return t.Repository + "#" + strconv.Itoa(t.PullRequests[0])
	case t.Repository != "" && t.Comment != nil:
		return t.Repository + "#" + strconv.Itoa(t.Comment.Issue)
	case t.Repository != "":
		return t.Repository
	case t.Installation != 0:
		return "installation:" + strconv.FormatInt(t.Installation, 10)
	}
	return ""
}

// EventEvaluate is the event name of the jobs the App queues itself: from the
// reconciler, after a refused merge, and one per pull request of a delivery
// that names several. GitHub never sends it.
const EventEvaluate = "modelgate_evaluate"

// EvaluatePayload is the payload of an EventEvaluate job.
type EvaluatePayload struct {
	Installation int64  `json:"installation"`
	Repository   string `json:"repository"`
	PullRequest  int    `json:"pull_request"`
	Reason       string `json:"reason"`
}

// The events of the jobs the App schedules for a deployment it created:
// GitHub never sends them.
const (
	EventAnalyze = "modelgate_analyze"
	EventAdvance = "modelgate_advance"
)

// DeploymentJobPayload is the payload of an EventAnalyze or EventAdvance job.
// Trigger, for EventAdvance, is what is due: audit.TriggerSoak,
// TriggerDeploymentFailed or TriggerAnalysisFailed, or "analysis" for a
// verdict that may end the wait.
type DeploymentJobPayload struct {
	Installation int64  `json:"installation"`
	Repository   string `json:"repository"`
	DeploymentID int64  `json:"deployment_id,omitempty"`
	Trigger      string `json:"trigger,omitempty"`
	// Command is what a /modelgate promote or rollback command asks for: an
	// EventAdvance job with Trigger audit.TriggerCommand and no deployment.
	Command *CommandRequest `json:"command,omitempty"`
}

// CommandRequest is an authorized command, as an EventAdvance job carries it.
type CommandRequest struct {
	Purpose string `json:"purpose"` // audit.ProposePromotion or audit.ProposeRollback
	Branch  string `json:"branch"`
	Model   string `json:"model"`
	Stage   string `json:"stage"`   // the stage to promote into or roll back
	Version string `json:"version"` // empty: the one the rules pick
	Issue   int    `json:"issue"`   // where the command was given, for the answer
	Actor   string `json:"actor"`
}

// EventRecover is the event of the jobs the reconciler's sweep queues for a
// repository whose deployments the store lacks: GitHub never sends it.
const EventRecover = "modelgate_recover"

// RecoverPayload is the payload of an EventRecover job. Branch and After,
// when set, name a merge of the App's whose push never arrived, as the push
// would have.
type RecoverPayload struct {
	Installation int64  `json:"installation"`
	Repository   string `json:"repository"`
	Branch       string `json:"branch,omitempty"`
	After        string `json:"after,omitempty"`
}

// Commands that a comment on a pull request may hold, on a line of its own.
const (
	CommandRecheck = "/modelgate recheck"
	CommandExplain = "/modelgate explain"
)

// The commands that move a version between stages, which a comment on an
// issue or a pull request may hold: `/modelgate promote <stage> [<model>]`
// and `/modelgate rollback <stage> [<model>] [<version>]`.
const (
	CommandPromote  = "promote"
	CommandRollback = "rollback"
)

// Events are the webhook events the App acts on and its registration
// subscribes to; GitHub sends the installation and installation_repositories
// events to every App unasked.
var Events = []string{"check_run", "check_suite", "deployment_status", "issue_comment", "pull_request", "pull_request_review", "push"}

// payload holds the fields of every handled event that the App reads.
type payload struct {
	Action       string `json:"action"`
	Installation *struct {
		ID int64 `json:"id"`
	} `json:"installation"`
	Repository *struct {
		ID            int64  `json:"id"`
		FullName      string `json:"full_name"`
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
	RepositoriesRemoved []struct {
		ID int64 `json:"id"`
	} `json:"repositories_removed"`
	PullRequest *struct {
		Number int `json:"number"`
	} `json:"pull_request"`
	Sender *struct {
		Login string `json:"login"`
	} `json:"sender"`
	Changes *struct {
		Base json.RawMessage `json:"base"`
	} `json:"changes"`
	Issue *struct {
		Number      int             `json:"number"`
		PullRequest json.RawMessage `json:"pull_request"`
	} `json:"issue"`
	Comment *struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		User struct {
			Login string `json:"login"`
			Type  string `json:"type"`
		} `json:"user"`
	} `json:"comment"`
	CheckRun *struct {
		PullRequests []struct {
			Number int `json:"number"`
		} `json:"pull_requests"`
	} `json:"check_run"`
	CheckSuite *struct {
		PullRequests []struct {
			Number int `json:"number"`
		} `json:"pull_requests"`
	} `json:"check_suite"`
	Ref     string `json:"ref"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`
	Created bool   `json:"created"`
	Forced  bool   `json:"forced"`
	Commits []struct {
		ID      string   `json:"id"`
		Added   []string `json:"added"`
		Removed []string `json:"removed"`
	} `json:"commits"`
	DeploymentStatus *struct {
		ID int64 `json:"id"`
	} `json:"deployment_status"`
	Deployment *struct {
		ID   int64  `json:"id"`
		Task string `json:"task"`
	} `json:"deployment"`
}

// ParseEvent translates a delivery of event with its JSON payload. An error
// means the payload is not what GitHub sends for that event.
func ParseEvent(event string, body []byte) (Task, error) {
	if event == EventEvaluate {
		var p EvaluatePayload
		if err := json.Unmarshal(body, &p); err != nil {
			return Task{}, fmt.Errorf("%s payload: %w", event, err)
		}
		if p.Installation == 0 || p.Repository == "" || p.PullRequest <= 0 {
			return Task{}, fmt.Errorf("%s payload: installation, repository and pull_request are required", event)
		}
		return Task{Action: Evaluate, Installation: p.Installation, Repository: p.Repository,
			PullRequests: []int{p.PullRequest}, Reason: p.Reason}, nil
	}
	if event == EventRecover {
		var p RecoverPayload
		if err := json.Unmarshal(body, &p); err != nil {
			return Task{}, fmt.Errorf("%s payload: %w", event, err)
		}
		if p.Installation == 0 || p.Repository == "" || (p.Branch == "") != (p.After == "") {
			return Task{}, fmt.Errorf("%s payload: installation and repository are required, and branch and after go together", event)
		}
		return Task{Action: Recover, Installation: p.Installation, Repository: p.Repository, Branch: p.Branch, After: p.After, Reason: event}, nil
	}
	if event == EventAnalyze || event == EventAdvance {
		var p DeploymentJobPayload
		if err := json.Unmarshal(body, &p); err != nil {
			return Task{}, fmt.Errorf("%s payload: %w", event, err)
		}
		if p.Installation == 0 || p.Repository == "" {
			return Task{}, fmt.Errorf("%s payload: installation and repository are required", event)
		}
		t := Task{Action: Analyze, Installation: p.Installation, Repository: p.Repository, Deployment: p.DeploymentID, Reason: event}
		if event == EventAdvance {
			t.Action, t.Trigger, t.Command = Advance, p.Trigger, p.Command
		}
		if t.Deployment <= 0 && (t.Command == nil || t.Command.Model == "" || t.Command.Stage == "") {
			return Task{}, fmt.Errorf("%s payload: a deployment_id, or a command naming a model and a stage, is required", event)
		}
		return t, nil
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return Task{}, fmt.Errorf("%s payload: %w", event, err)
	}
	t := Task{Reason: event}
	if p.Action != "" {
		t.Reason += "." + p.Action
	}
	if p.Installation != nil {
		t.Installation = p.Installation.ID
	}
	if p.Repository != nil {
		t.Repository = p.Repository.FullName
	}
	t.Action = p.action(event)
	if t.Action == Ignore {
		return t, nil
	}
	if t.Installation == 0 {
		return Task{}, fmt.Errorf("%s payload: no installation: is the App's webhook configured on the App, not the repository?", t.Reason)
	}
	switch t.Action {
	case Reconcile:
		t.Repository = ""
		return t, nil
	case Forget:
		t.Repository = ""
		for _, r := range p.RepositoriesRemoved {
			t.Forget = append(t.Forget, r.ID)
		}
		if event == "installation_repositories" && len(t.Forget) == 0 {
			t.Action = Ignore
		}
		return t, nil
	}
	if t.Repository == "" {
		return Task{}, fmt.Errorf("%s payload: no repository", t.Reason)
	}
	switch t.Action {
	case Deploy:
		t.Branch, _ = strings.CutPrefix(p.Ref, "refs/heads/")
		t.After = p.After
		if t.After == "" {
			return Task{}, fmt.Errorf("%s payload: no after commit", t.Reason)
		}
		t.RepositoryID = p.Repository.ID
		t.DefaultBranch = t.RepositoryID > 0 && t.Branch == p.Repository.DefaultBranch
		t.TouchesConfig = p.touchesConfig()
		return t, nil
	case Track:
		t.Deployment, t.Status = p.Deployment.ID, p.DeploymentStatus.ID
		if t.Deployment <= 0 || t.Status <= 0 {
			return Task{}, fmt.Errorf("%s payload: deployment.id and deployment_status.id are required", t.Reason)
		}
		return t, nil
	case Command:
		name, args, _ := stageCommand(p.Comment.Body)
		if p.Comment.ID <= 0 || p.Comment.User.Login == "" || p.Issue.Number <= 0 {
			return Task{}, fmt.Errorf("%s payload: comment.id, comment.user.login and issue.number are required", t.Reason)
		}
		t.Comment = &CommentCommand{ID: p.Comment.ID, Author: p.Comment.User.Login, Issue: p.Issue.Number,
			OnPullRequest: len(p.Issue.PullRequest) > 0, Command: name, Args: args}
		return t, nil
	}
	t.PullRequests = p.pullRequests()
	if event == "pull_request" && p.Action == "synchronize" && p.Sender != nil {
		t.Pusher = p.Sender.Login
	}
	if len(t.PullRequests) == 0 {
		// A check suite of a commit that no open pull request has.
		t.Action = Ignore
	}
	return t, nil
}

func (p *payload) action(event string) Action {
	switch event {
	case "pull_request":
		switch p.Action {
		case "opened", "synchronize", "reopened", "ready_for_review":
			return Evaluate
		case "edited":
			// Only a new base changes what is judged, and by which rules.
			if p.Changes != nil && len(p.Changes.Base) > 0 {
				return Evaluate
			}
		}
	case "pull_request_review":
		if p.Action == "submitted" || p.Action == "dismissed" {
			return Evaluate
		}
	case "check_run", "check_suite":
		if p.Action == "rerequested" {
			return Evaluate
		}
	case "issue_comment":
		if p.Action != "created" || p.Issue == nil || p.Comment == nil || p.Comment.User.Type == "Bot" {
			return Ignore
		}
		if _, _, ok := stageCommand(p.Comment.Body); ok {
			return Command
		}
		// Recheck and explain judge a pull request; an issue has none.
		if len(p.Issue.PullRequest) == 0 {
			return Ignore
		}
		return command(p.Comment.Body)
	case "installation":
		switch p.Action {
		case "created", "unsuspend", "new_permissions_accepted":
			return Reconcile
		case "deleted":
			return Forget
		}
	case "push":
		// A merge lands on a branch, never on a tag, and a deleted branch
		// lands nothing.
		if strings.HasPrefix(p.Ref, "refs/heads/") && !p.Deleted {
			return Deploy
		}
	case "deployment_status":
		// Deployments of other tasks are other tools'.
		if p.Action == "created" && p.Deployment != nil && p.DeploymentStatus != nil && p.Deployment.Task == deploy.Task {
			return Track
		}
	case "installation_repositories":
		switch p.Action {
		case "added":
			return Reconcile
		case "removed":
			return Forget
		}
	}
	return Ignore
}

// pushCommitsListed is the most commits GitHub lists in a push delivery:
// a list this long may have been cut.
const pushCommitsListed = 20

// touchesConfig tells whether a push may have added or removed
// .modelgate/: yes when a commit it lists adds or removes a path in it,
// and also whenever its list may not hold every commit from before to
// after — a new or force-pushed branch, a list GitHub may have cut, or one
// that does not end at the new head.
func (p *payload) touchesConfig() bool {
	n := len(p.Commits)
	if p.Created || p.Forced || n == 0 || n >= pushCommitsListed || p.Commits[n-1].ID != p.After {
		return true
	}
	for _, c := range p.Commits {
		for _, f := range slices.Concat(c.Added, c.Removed) {
			if f == gitops.ConfigDir || strings.HasPrefix(f, gitops.ConfigDir+"/") {
				return true
			}
		}
	}
	return false
}

// command finds a modelgate command on a line of its own in a comment.
func command(body string) Action {
	for _, line := range strings.Split(body, "\n") {
		switch strings.TrimSpace(line) {
		case CommandRecheck:
			return Evaluate
		case CommandExplain:
			return Explain
		}
	}
	return Ignore
}

// stageCommand finds the first promote or rollback command on a line of its
// own in a comment, and the words after it.
func stageCommand(body string) (name string, args []string, ok bool) {
	for _, line := range strings.Split(body, "\n") {
		words := strings.Fields(line)
		if len(words) >= 2 && words[0] == "/modelgate" && (words[1] == CommandPromote || words[1] == CommandRollback) {
			return words[1], words[2:], true
		}
	}
	return "", nil, false
}

func (p *payload) pullRequests() []int {
	switch {
	case p.PullRequest != nil:
		return []int{p.PullRequest.Number}
	case p.Issue != nil:
		return []int{p.Issue.Number}
	case p.CheckRun != nil:
		return numbers(p.CheckRun.PullRequests)
	case p.CheckSuite != nil:
		return numbers(p.CheckSuite.PullRequests)
	}
	return nil
}

func numbers(prs []struct {
	Number int `json:"number"`
}) []int {
	var ns []int
	for _, pr := range prs {
		if pr.Number > 0 {
			ns = append(ns, pr.Number)
		}
	}
	return ns
}

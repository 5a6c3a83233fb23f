package service_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/app"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// command comments as user on issue n, delivers the comment and returns
// the delivery's body for a redelivery.
func (w *world) command(n int, user, body string) []byte {
	w.t.Helper()
	d := w.gh.IssueCommentEvent(repoName, n, user, body)
	w.deliver(d, http.StatusAccepted)
	w.settle()
	return d.Body
}

// commandJobs returns the requests of the advance jobs commands queued.
func (w *world) commandJobs() []app.CommandRequest {
	w.t.Helper()
	var out []app.CommandRequest
	for _, j := range sqlstoretest.Jobs(w.t, w.dsn, app.EventAdvance) {
		var p app.DeploymentJobPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			w.t.Fatal(err)
		}
		if p.Trigger != audit.TriggerCommand || p.Command == nil || p.Installation != w.inst || p.Repository != repoName ||
			j.Key != repoName || !strings.HasPrefix(j.Delivery, "command:"+repoName+":") {
			w.t.Fatalf("advance job %+v with payload %+v; want a command of %s", j, p, repoName)
		}
		out = append(out, *p.Command)
	}
	return out
}

// answers returns the App's answers to commands on issue n.
func (w *world) answers(n int) []string {
	var out []string
	for _, c := range w.gh.Comments(repoName, n) {
		if c.User == "modelgate[bot]" && strings.Contains(c.Body, "modelgate:command:") {
			out = append(out, c.Body)
		}
	}
	return out
}

func TestCommandsWithWriteAccessQueued(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		pr := w.merged()
		w.gh.SetRole(repoName, "dave", "write")
		w.gh.SetRole(repoName, "erin", "maintain")
		issue := w.gh.OpenIssue(repoName, "alice", "staging")

		// On the merged promotion the model is the pull request's.
		w.gh.ResetCalls()
		w.command(pr.Number, "dave", "Production errors are up.\n/modelgate rollback production\n")
		t.Logf("API calls for an accepted command: %s", w.calls())
		w.command(issue, "erin", "/modelgate promote staging demand-forecast")
		w.command(issue, "dave", "/modelgate rollback staging 2.2.0")

		want := []app.CommandRequest{
			{Purpose: audit.ProposeRollback, Branch: "main", Model: "fraud-detector", Stage: "production", Issue: pr.Number, Actor: "dave"},
			{Purpose: audit.ProposePromotion, Branch: "main", Model: "demand-forecast", Stage: "staging", Issue: issue, Actor: "erin"},
		}
		got := w.commandJobs()
		if len(got) != 2 || !slices.Equal(got, want) {
			t.Errorf("queued commands %+v; want %+v", got, want)
		}
		recs := w.records(audit.Filter{Kind: audit.KindCommand})
		cmds := payloads[audit.CommandPayload](t, recs)
		if len(recs) != 3 || cmds[0].Refused != "" || cmds[1].Refused != "" || recs[0].Actor != "dave" || recs[0].PullRequest != pr.Number ||
			recs[0].Model != "fraud-detector" || recs[0].Stage != "production" || cmds[0].Command != "rollback" ||
			!slices.Equal(cmds[0].Args, []string{"production"}) || recs[1].Model != "demand-forecast" {
			t.Fatalf("command records %+v %+v", recs, cmds)
		}
		// One word after the stage that names no pinned model is a version,
		// and the issue names no model of two.
		if !strings.Contains(cmds[2].Refused, "name the model") {
			t.Errorf("rollback of a version with two models pinned: refused %q; want the model asked for", cmds[2].Refused)
		}
		if a := w.answers(pr.Number); len(a) != 0 {
			t.Errorf("accepted commands were answered: %q", a)
		}
	})
}

func TestCommandsRefused(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		w.gh.SetRole(repoName, "dave", "write")
		w.gh.SetRole(repoName, "trent", "triage")
		issue := w.gh.OpenIssue(repoName, "alice", "promotions")

		w.gh.ResetCalls()
		w.command(issue, "mallory", "/modelgate promote production fraud-detector")
		t.Logf("API calls for a command refused for permission: %s", w.calls())
		w.command(issue, "trent", "/modelgate rollback production fraud-detector")
		w.command(issue, "dave", "/modelgate promote qa fraud-detector")
		w.command(issue, "dave", "/modelgate promote staging")
		w.command(issue, "dave", "/modelgate rollback production fraud-detector 9.9.9")
		w.command(issue, "dave", "/modelgate promote production churn")
		w.command(issue, "dave", "/modelgate promote dev fraud-detector")
		w.command(issue, "dave", "/modelgate promote")
		w.command(issue, "dave", "/modelgate promote `@everyone` x")

		wants := []string{
			"@mallory has read permission",
			"@trent has read permission",
			"`qa` is not a stage",
			"name the model: main pins demand-forecast, fraud-detector",
			"no version `9.9.9`",
			"no model `churn`",
			"dev is the first stage",
			"usage:",
			"`'@everyone'` is not a stage",
		}
		cmds := payloads[audit.CommandPayload](t, w.records(audit.Filter{Kind: audit.KindCommand}))
		answers := w.answers(issue)
		if len(cmds) != len(wants) || len(answers) != len(wants) {
			t.Fatalf("%d command records, %d answers; want %d of each: %+v %q", len(cmds), len(answers), len(wants), cmds, answers)
		}
		for i, want := range wants {
			if !strings.Contains(cmds[i].Refused, want) || !strings.Contains(answers[i], want) {
				t.Errorf("command %d refused %q, answered %q; want %q", i, cmds[i].Refused, answers[i], want)
			}
		}
		if !strings.Contains(answers[0], "@mallory: `/modelgate promote production fraud-detector` was not carried out") {
			t.Errorf("answer %q", answers[0])
		}
		if last := answers[len(answers)-1]; !strings.Contains(last, "`/modelgate promote '@everyone' x`") {
			t.Errorf("a backtick of the command ends the answer's code span: %q", last)
		}
		if jobs := w.commandJobs(); len(jobs) != 0 {
			t.Errorf("refused commands were queued: %+v", jobs)
		}
	})
}

// GitHub may deliver one comment twice, under the same delivery id or under
// two: the command runs once.
func TestCommandDeliveredTwiceRunsOnce(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		w.gh.SetRole(repoName, "dave", "admin")
		w.gh.SetRole(repoName, "trent", "read")
		issue := w.gh.OpenIssue(repoName, "alice", "promotions")
		accepted := w.command(issue, "dave", "/modelgate promote staging fraud-detector")
		refused := w.command(issue, "trent", "/modelgate promote staging fraud-detector")
		w.gh.ResetCalls()
		for _, body := range [][]byte{accepted, refused} {
			w.deliver(w.gh.NewDelivery("issue_comment", body), http.StatusAccepted)
		}
		w.settle()
		t.Logf("API calls for two commands delivered again: %s", w.calls())
		if jobs := w.commandJobs(); len(jobs) != 1 {
			t.Errorf("%d command jobs; want 1: %+v", len(jobs), jobs)
		}
		if recs := w.records(audit.Filter{Kind: audit.KindCommand}); len(recs) != 2 {
			t.Errorf("%d command records; want 2: %+v", len(recs), recs)
		}
		if a := w.answers(issue); len(a) != 1 {
			t.Errorf("%d answers; want 1: %q", len(a), a)
		}
	})
}

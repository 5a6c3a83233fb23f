package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/report"
)

// Names of the check runs the App reports on every judged head.
const (
	CheckValidate = "modelgate/validate"
	CheckChecks   = "modelgate/checks"
	CheckPolicy   = "modelgate/policy"
)

// Hidden markers that find the App's own comments again, to edit them in
// place rather than add one per evaluation.
const (
	reportMarker  = "<!-- modelgate:report -->"
	explainMarker = "<!-- modelgate:explain -->"
)

// validationCode reports whether a message is about reading the change and
// its manifests, rather than the numbers or the approvals.
func validationCode(code string) bool {
	return code == gate.CodeInvalid || strings.HasPrefix(code, "manifest.") ||
		code == policy.CodeCompile || code == policy.CodeEvaluation
}

// checksCode reports whether a message judges what the checks measured.
func checksCode(code string) bool {
	return code == gate.CodeChecks || strings.HasPrefix(code, "data.") ||
		strings.HasPrefix(code, "evaluation.") || strings.HasPrefix(code, "fairness.")
}

// report publishes the result on the pull request's head: three check runs
// and the sticky comment (and, when asked, the full explanation). Each
// carries the decision's audit records and a signed checkpoint of the log.
func (a *App) report(ctx context.Context, repo *github.Repo, pr github.PullRequest, res *gate.Result, ap *approvalSet, decisions []audit.Record, explain bool) error {
	published, err := a.checkpoint(ctx, decisions)
	if err != nil {
		return err
	}
	files := report.Files(ctx, repo.Snapshot(res.Head), res)
	all := func(string) bool { return true }
	runs := []github.CheckRun{
		checkRun(CheckValidate, "Change and manifests", res, validationCode, files, func(w io.Writer) error {
			return report.MarkdownMessages(w, res, validationCode)
		}),
		checkRun(CheckChecks, "Data, drift, evaluation and fairness checks", res, checksCode, files, func(w io.Writer) error {
			if err := report.MarkdownMessages(w, res, checksCode); err != nil {
				return err
			}
			return report.MarkdownEvidence(w, res)
		}),
		checkRun(CheckPolicy, "Policy decision", res, all, files, func(w io.Writer) error {
			return report.Markdown(w, res)
		}),
	}
	for _, run := range runs {
		run.Summary = published + run.Summary
		if _, err := repo.CreateCheckRun(ctx, run); err != nil {
			return fmt.Errorf("create check run %s: %w", run.Name, err)
		}
	}
	var body bytes.Buffer
	body.WriteString(reportMarker + "\n" + published)
	if err := report.Markdown(&body, res); err != nil {
		return err
	}
	writeApprovals(&body, ap)
	if _, err := repo.StickyPullRequestComment(ctx, pr, reportMarker, body.String()); err != nil {
		return fmt.Errorf("comment: %w", err)
	}
	if !explain {
		return nil
	}
	var text bytes.Buffer
	if err := report.Text(&text, res); err != nil {
		return err
	}
	explanation := fmt.Sprintf("%s\n### modelgate explain: head `%s`\n\n```\n%s```\n\nInput digests: %s\n",
		explainMarker, shortSHA(res.Head), strings.ReplaceAll(text.String(), "```", "'''"), inputDigests(res))
	if _, err := repo.StickyPullRequestComment(ctx, pr, explainMarker, explanation); err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	return nil
}

// checkpoint returns the Markdown that publishes, outside the database, the
// records the decision was written as and a signed checkpoint of the log
// after them: whoever keeps a copy can later hold the database to it with
// audit verify --checkpoint, whatever was rewritten there since. It comes
// first, so that a summary cut to GitHub's limit never loses it.
func (a *App) checkpoint(ctx context.Context, decisions []audit.Record) (string, error) {
	head, err := a.store.TreeHead(ctx)
	if err != nil {
		return "", fmt.Errorf("publish audit checkpoint: %w", err)
	}
	msg, err := audit.SignCheckpoint(head, a.signer)
	if err != nil {
		return "", fmt.Errorf("publish audit checkpoint: %w", err)
	}
	seqs := make([]string, len(decisions))
	for i, r := range decisions {
		seqs[i] = strconv.FormatInt(r.Seq, 10)
	}
	recorded := "record " + strings.Join(seqs, ", ")
	if len(seqs) > 1 {
		recorded = "records " + strings.Join(seqs, ", ")
	}
	return fmt.Sprintf("<details><summary>Audit log: decision recorded as %s; signed checkpoint of the log at %d records</summary>\n\n```\n%s```\n\nKeep a copy: <code>modelgate audit verify --checkpoint FILE</code> checks that the log still extends it.\n</details>\n\n",
		recorded, head.Size, msg), nil
}

func checkRun(name, title string, res *gate.Result, keep func(string) bool, files map[string][]byte, summary func(io.Writer) error) github.CheckRun {
	run := github.CheckRun{Name: name, HeadSHA: res.Head, Conclusion: "success"}
	var denied, warned int
	for _, j := range res.Judgements {
		for _, m := range j.Decision.Deny {
			if keep(m.Code) {
				denied++
				run.Annotations = append(run.Annotations, annotation(j.Promotion, m, "failure", files))
			}
		}
		for _, m := range j.Decision.Warn {
			if keep(m.Code) {
				warned++
				run.Annotations = append(run.Annotations, annotation(j.Promotion, m, "warning", files))
			}
		}
	}
	switch {
	case denied > 0:
		run.Conclusion = "failure"
		run.Title = fmt.Sprintf("%s: %d denied", title, denied)
	case warned > 0:
		run.Title = fmt.Sprintf("%s: passed with %d warnings", title, warned)
	default:
		run.Title = title + ": passed"
	}
	// Writing to a bytes.Buffer cannot fail.
	var b bytes.Buffer
	_ = summary(&b)
	run.Summary = b.String()
	return run
}

// annotation places a message where report.Locate does, as the gate's
// workflow commands do.
func annotation(p *gitops.Promotion, m policy.Message, level string, files map[string][]byte) github.Annotation {
	pos := report.Locate(p, m, files)
	return github.Annotation{Path: pos.File, StartLine: pos.Line, EndLine: pos.Line, Level: level, Title: m.Code, Message: m.WithWaiver()}
}

func writeApprovals(b *bytes.Buffer, ap *approvalSet) {
	b.WriteString("\n#### Approvals on this head\n\n")
	if len(ap.counted) == 0 {
		b.WriteString("None yet.\n")
	}
	for _, a := range ap.counted {
		teams := ""
		if len(a.Teams) > 0 {
			teams = " (" + join(a.Teams) + ")"
		}
		fmt.Fprintf(b, "- @%s%s\n", a.User, teams)
	}
	if len(ap.dropped) > 0 {
		b.WriteString("\n**Approvals that do not count**\n\n")
		for _, d := range ap.dropped {
			fmt.Fprintf(b, "- @%s: %s\n", d.User, d.Reason)
		}
	}
}

func inputDigests(res *gate.Result) string {
	var ds []string
	for _, j := range res.Judgements {
		if j.Decision.InputDigest != "" {
			ds = append(ds, "`"+j.Decision.InputDigest+"`")
		}
	}
	if len(ds) == 0 {
		return "none"
	}
	return strings.Join(ds, ", ")
}

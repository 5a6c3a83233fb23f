package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/git"
	"github.com/modelgate/modelgate/internal/jsonlist"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/report"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/policies"
)

// approvals collects --approved-by: approvals given on the head being judged.
type approvals []policy.Approval

func (a *approvals) String() string { return fmt.Sprint(*a) }

func (a *approvals) Type() string { return "USER[:TEAM,...]" }

func (a *approvals) Set(s string) error {
	user, teams, _ := strings.Cut(s, ":")
	if user == "" {
		return errors.New("expected USER or USER:TEAM,...")
	}
	ap := policy.Approval{User: user, Teams: []string{}}
	if teams != "" {
		ap.Teams = strings.Split(teams, ",")
	}
	*a = append(*a, ap)
	return nil
}

func (c *cli) gateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gate --base REF --head REF [flags]",
		Short: "judge a change of a git checkout as the App judges a pull request, and record the decision",
		Long:  "Judge a change of a git checkout exactly as the App judges a pull request, and record the decision\nin the audit store. Exit 0 allow, 1 deny.",
	}
	fl := cmd.Flags()
	repoDir := fl.String("repo", ".", "the git repository")
	base := fl.String("base", "", "the base revision: the branch the change would land on (required)")
	head := fl.String("head", "", "the head revision: the proposed change (required)")
	author := fl.String("author", "", "who proposed the change; their approval never counts")
	var approved approvals
	fl.Var(&approved, "approved-by", "an approval of the head, as USER or USER:TEAM,... (repeatable)")
	format := choiceFlag(cmd, "format", "output format; github: GitHub Actions workflow commands, an annotation on the manifest line of each denial and warning", "text", "markdown", "json", "github")
	summary := fl.String("summary", "", "also write the report as Markdown to this file (for a CI job summary such as $GITHUB_STEP_SUMMARY)")
	dsn := c.databaseFlag(fl)
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if *base == "" || *head == "" {
			return c.fail(errors.New("gate: --base and --head are required"))
		}
		repo, err := git.Open(ctx, *repoDir)
		if err != nil {
			return c.fail(err)
		}
		baseSHA, err := repo.Resolve(ctx, *base)
		if err != nil {
			return c.fail(fmt.Errorf("gate: --base: %w", err))
		}
		headSHA, err := repo.Resolve(ctx, *head)
		if err != nil {
			return c.fail(fmt.Errorf("gate: --head: %w", err))
		}
		abs, err := filepath.Abs(*repoDir)
		if err != nil {
			return c.fail(err)
		}
		v, err := schema.New()
		if err != nil {
			return c.fail(err)
		}
		for i := range approved {
			approved[i].SHA = headSHA
		}
		committers := []string{}
		if *author != "" {
			committers = append(committers, *author)
		}
		db, err := sqlstore.Open(ctx, *dsn)
		if err != nil {
			return c.fail(err)
		}
		defer db.Close()
		g := gate.New(v, gate.Checks{}, policies.Modules(), gate.AuditRuns{Log: db}, gate.AuditUploads{Log: db}, time.Now)
		res, err := g.Judge(ctx, gate.Request{
			Repo: repo, Repository: abs, Base: baseSHA, Head: headSHA,
			PullRequest: policy.PullRequest{Author: *author, BaseRef: *base, Labels: []string{}, Approvals: jsonlist.NonNil(approved), Committers: committers},
		})
		if err != nil {
			return c.fail(err)
		}
		entries, err := res.AuditEntries()
		if err != nil {
			return c.fail(err)
		}
		var seqs []int64
		for _, e := range entries {
			r, err := db.Append(ctx, e)
			if err != nil {
				return c.fail(err)
			}
			seqs = append(seqs, r.Seq)
		}
		if *summary != "" {
			var md bytes.Buffer
			if err := report.Markdown(&md, res); err != nil {
				return c.fail(err)
			}
			if err := writeFileAtomic(*summary, md.Bytes()); err != nil {
				return c.fail(err)
			}
		}
		if *format == "github" {
			err = report.GitHub(c.stdout, res, report.Files(ctx, repo.Snapshot(headSHA), res))
		} else {
			err = writeGate(c.stdout, c.stderr, *format, res, seqs)
		}
		if err != nil {
			return c.fail(err)
		}
		if !res.Allow {
			return exitFailed
		}
		return exitOK
	})
	return cmd
}

// writeGate writes the report in a format other than github's. Where the
// decision was recorded is part of the text for people and of the JSON; the
// Markdown is posted or piped as it is, so it holds the report alone and
// the records are said on stderr.
func writeGate(stdout, stderr io.Writer, format string, res *gate.Result, seqs []int64) error {
	switch format {
	case "json":
		return writeJSON(stdout, struct {
			*gate.Result
			AuditRecords []int64 `json:"audit_records"`
		}{res, seqs})
	case "markdown":
		if err := report.Markdown(stdout, res); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stderr, "audit records: %v\n", seqs)
		return err
	}
	if err := report.Text(stdout, res); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "\naudit records: %v\n", seqs)
	return err
}

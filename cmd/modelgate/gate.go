package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/git"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/internal/sqlstore"
)

const gateUsage = "gate --repo DIR --base REF --head REF [--author USER] [--approved-by USER[:TEAM,...]]... [--format text|markdown|json] [--database DSN]"

// approval is one --approved-by: a user and the teams they approve for.
type approval struct {
	User  string   `json:"user"`
	Teams []string `json:"teams"`
}

type approvals []approval

func (a *approvals) String() string { return fmt.Sprint(*a) }

func (a *approvals) Set(s string) error {
	user, teams, _ := strings.Cut(s, ":")
	if user == "" {
		return errors.New("expected USER or USER:TEAM,...")
	}
	ap := approval{User: user, Teams: []string{}}
	if teams != "" {
		ap.Teams = strings.Split(teams, ",")
	}
	*a = append(*a, ap)
	return nil
}

// gateResult is what gate found and decided, as recorded and reported.
type gateResult struct {
	Repository string         `json:"repository"`
	Base       string         `json:"base_sha"`
	Head       string         `json:"head_sha"`
	Author     string         `json:"author,omitempty"`
	Approvals  approvals      `json:"approvals"`
	Valid      bool           `json:"valid"`
	Problems   []string       `json:"problems,omitempty"`
	Change     *gitops.Change `json:"change,omitempty"`
	Records    []int64        `json:"audit_records"`
}

func runGate(ctx context.Context, c *cli, args []string) int {
	fl := c.flags("gate", gateUsage)
	repoDir := fl.String("repo", ".", "the git repository")
	base := fl.String("base", "", "the base revision: the branch the change would land on (required)")
	head := fl.String("head", "", "the head revision: the proposed change (required)")
	author := fl.String("author", "", "who proposed the change")
	var approved approvals
	fl.Var(&approved, "approved-by", "an approval, as USER or USER:TEAM,... (repeatable)")
	format := choiceFlag(fl, "format", "output format", "text", "markdown", "json")
	dsn := c.databaseFlag(fl)
	if code, ok := c.parse(fl, args); !ok {
		return code
	}
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
	v, err := schema.New()
	if err != nil {
		return c.fail(err)
	}
	abs, err := filepath.Abs(*repoDir)
	if err != nil {
		return c.fail(err)
	}
	res := gateResult{Repository: abs, Base: baseSHA, Head: headSHA, Author: *author, Approvals: approved}
	change, err := gitops.Compute(ctx, repo, v, baseSHA, headSHA)
	switch {
	case ctx.Err() != nil:
		return c.fail(ctx.Err())
	case err != nil:
		// Whatever stopped the change from being read denies it: fail closed.
		res.Problems = strings.Split(err.Error(), "\n")
	default:
		res.Valid, res.Change = true, change
	}

	db, err := sqlstore.Open(ctx, *dsn)
	if err != nil {
		return c.fail(err)
	}
	defer db.Close()
	if res.Records, err = record(ctx, db, &res); err != nil {
		return c.fail(err)
	}
	if err := writeGate(c.stdout, *format, &res); err != nil {
		return c.fail(err)
	}
	if !res.Valid {
		return exitFailed
	}
	return exitOK
}

// record appends the gate's verdict to the audit log: one record per promotion, so
// that each model version's history can be read on its own, or one for the
// change when it proposes none or could not be read.
func record(ctx context.Context, db *sqlstore.DB, res *gateResult) ([]int64, error) {
	payload, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encode audit record: %w", err)
	}
	entry := audit.Entry{Kind: audit.KindGate, Repository: res.Repository, HeadSHA: res.Head, Actor: res.Author, Payload: payload}
	var promotions []gitops.Promotion
	if res.Change != nil {
		promotions = res.Change.Promotions
	}
	if len(promotions) == 0 {
		r, err := db.Append(ctx, entry)
		if err != nil {
			return nil, err
		}
		return []int64{r.Seq}, nil
	}
	var seqs []int64
	for _, p := range promotions {
		e := entry
		e.Model, e.Version, e.Stage = p.Model, p.Version, p.ToStage
		r, err := db.Append(ctx, e)
		if err != nil {
			return nil, err
		}
		seqs = append(seqs, r.Seq)
	}
	return seqs, nil
}

func writeGate(w io.Writer, format string, res *gateResult) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case "markdown":
		return writeGateMarkdown(w, res)
	}
	return writeGateText(w, res)
}

func short(sha string) string { return sha[:min(len(sha), 12)] }

func writeGateText(w io.Writer, res *gateResult) error {
	fmt.Fprintf(w, "modelgate gate  %s\n  base %s  head %s\n\n", res.Repository, short(res.Base), short(res.Head))
	if !res.Valid {
		fmt.Fprintln(w, "INVALID: the change cannot be judged")
		for _, p := range res.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
		fmt.Fprintf(w, "\nrecorded as audit record %v\n", res.Records)
		return nil
	}
	ch := res.Change
	fmt.Fprintf(w, "changed files: %d", len(ch.ChangedFiles))
	if ch.PolicyChange {
		fmt.Fprint(w, " (touches .modelgate/: a policy change)")
	}
	fmt.Fprintln(w)
	if len(ch.Promotions) == 0 {
		fmt.Fprintln(w, "promotions: none")
	} else {
		fmt.Fprintln(w, "promotions:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, p := range ch.Promotions {
			fmt.Fprintf(tw, "  %s\t%s → %s\t%s → %s\t%s risk, %s\t%s\n", p.Model, orNone(p.FromVersion), p.Version,
				orNone(p.FromStage), p.ToStage, p.Manifest.Metadata.RiskTier, p.Manifest.Spec.Task, kindOfPromotion(p))
		}
		tw.Flush()
	}
	for _, r := range ch.Removals {
		fmt.Fprintf(w, "removal: %s %s leaves %s\n", r.Model, r.Version, r.Stage)
	}
	fmt.Fprintf(w, "\nvalid: manifests, environment files and config pass their schemas\nrecorded as audit record %v\n", res.Records)
	return nil
}

func writeGateMarkdown(w io.Writer, res *gateResult) error {
	fmt.Fprintf(w, "## modelgate\n\nBase `%s` · head `%s`\n\n", short(res.Base), short(res.Head))
	if !res.Valid {
		fmt.Fprintln(w, "**Invalid: the change cannot be judged.**")
		fmt.Fprintln(w)
		for _, p := range res.Problems {
			fmt.Fprintf(w, "- `%s`\n", p)
		}
		return nil
	}
	fmt.Fprintln(w, "| Model | Version | Stage | Risk | Task | Kind |\n|---|---|---|---|---|---|")
	for _, p := range res.Change.Promotions {
		fmt.Fprintf(w, "| %s | %s → %s | %s → %s | %s | %s | %s |\n", p.Model, orNone(p.FromVersion), p.Version,
			orNone(p.FromStage), p.ToStage, p.Manifest.Metadata.RiskTier, p.Manifest.Spec.Task, kindOfPromotion(p))
	}
	fmt.Fprintf(w, "\nAudit records: %v\n", res.Records)
	return nil
}

func kindOfPromotion(p gitops.Promotion) string {
	if p.Rollback {
		return "rollback"
	}
	return "promotion"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

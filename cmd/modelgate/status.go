package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/rollout"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/internal/sqlstore"
)

// statusReport is `modelgate status --format json`: one row per model and
// stage, models by name, stages in the config's order.
type statusReport struct {
	Repository string      `json:"repository"`
	Branch     string      `json:"branch"`
	Now        time.Time   `json:"now"`
	Rows       []statusRow `json:"rows"`
}

// statusRow is where a model stands in a stage: its newest run there.
// Empty strings and zero numbers mean no run, or not yet.
type statusRow struct {
	Model        string `json:"model"`
	Stage        string `json:"stage"`
	Version      string `json:"version"`
	DeploymentID int64  `json:"deployment_id"`
	// Since is when the deployment succeeded.
	Since string `json:"since"`
	// Deployment is the last accepted deployment state.
	Deployment string `json:"deployment"`
	// Current is false once another version replaced it.
	Current bool   `json:"current"`
	Soak    string `json:"soak"`
	// SoakLeft is the soak still to run; "" when the soak has not started
	// (no success yet) or never will (failed, replaced), "0s" once over.
	SoakLeft string `json:"soak_left"`
	// Analysis is the live analysis's phase, "" without one.
	Analysis string `json:"analysis"`
}

func (c *cli) statusCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [flags]",
		Short: "show where each model stands in each stage: version, since, deployment, soak left, analysis",
	}
	fl := cmd.Flags()
	model := fl.String("model", "", "show this model only")
	repository := fl.String("repository", "", "the repository, OWNER/NAME (needed when the store holds several)")
	branch := fl.String("branch", "", "the base branch (default: the only one recorded, else main)")
	repoDir := fl.String("repo", ".", "the checkout whose .modelgate/config.yaml orders the stages and sets their soak")
	format := choiceFlag(cmd, "format", "output format", "text", "json")
	dsn := c.databaseFlag(fl)
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) > 0 {
			return c.fail(fmt.Errorf("status: unexpected argument %q", args[0]))
		}
		cfg, err := localConfig(ctx, *repoDir)
		if err != nil {
			return c.fail(fmt.Errorf("status: %w", err))
		}
		db, err := sqlstore.OpenExisting(ctx, *dsn)
		if err != nil {
			return c.fail(fmt.Errorf("status: %w", err))
		}
		defer db.Close()
		report, err := status(ctx, db, cfg, *repository, *branch, *model, c.now())
		if err != nil {
			return c.fail(fmt.Errorf("status: %w", err))
		}
		if *format == "json" {
			if err := writeJSON(c.stdout, report); err != nil {
				return c.fail(err)
			}
			return exitOK
		}
		if err := report.write(c.stdout); err != nil {
			return c.fail(err)
		}
		return exitOK
	})
	return cmd
}

// localConfig reads DIR/.modelgate/config.yaml from the file system; a
// checkout without one has the default config.
func localConfig(ctx context.Context, dir string) (*gitops.Config, error) {
	v, err := schema.New()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(gitops.ConfigPath)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read the config: %w", err)
	}
	return gitops.ParseConfig(v, data)
}

// status builds the report of the runs the store holds of a repository's
// branch. repository and branch may be empty: the store tells them, when it
// can.
func status(ctx context.Context, log rollout.Log, cfg *gitops.Config, repository, branch, model string, now time.Time) (*statusReport, error) {
	deployments, err := log.Records(ctx, audit.Filter{Kind: audit.KindDeployment, Repository: repository})
	if err != nil {
		return nil, fmt.Errorf("read deployments: %w", err)
	}
	repos, branches := []string{}, []string{}
	for _, d := range deployments {
		var p audit.DeploymentPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			return nil, fmt.Errorf("audit record %d: %w", d.Seq, err)
		}
		if !slices.Contains(repos, d.Repository) {
			repos = append(repos, d.Repository)
		}
		if !slices.Contains(branches, p.BaseRef) {
			branches = append(branches, p.BaseRef)
		}
	}
	if repository == "" {
		switch len(repos) {
		case 0:
		case 1:
			repository = repos[0]
		default:
			slices.Sort(repos)
			return nil, fmt.Errorf("the store holds deployments of several repositories (%s): name one with --repository", strings.Join(repos, ", "))
		}
	}
	if branch == "" {
		// The store does not know the repository's default branch.
		branch = "main"
		if repository != "" && len(repos) == 1 && len(branches) == 1 {
			branch = branches[0]
		}
	}
	report := &statusReport{Repository: repository, Branch: branch, Now: now.UTC(), Rows: []statusRow{}}
	if repository == "" {
		return report, nil
	}
	runs, err := rollout.Ledger{Log: log}.Repository(ctx, repository, branch)
	if err != nil {
		return nil, err
	}
	// The newest run of each model in each stage.
	newest := map[[2]string]rollout.Run{}
	var models, extra []string
	for _, r := range runs {
		if model != "" && r.Model != model {
			continue
		}
		newest[[2]string{r.Model, r.Stage}] = r
		if !slices.Contains(models, r.Model) {
			models = append(models, r.Model)
		}
		if cfg.StageIndex(r.Stage) < 0 && !slices.Contains(extra, r.Stage) {
			extra = append(extra, r.Stage)
		}
	}
	slices.Sort(models)
	slices.Sort(extra)
	stages := []string{}
	for _, s := range cfg.Stages {
		stages = append(stages, s.Name)
	}
	stages = append(stages, extra...)
	for _, m := range models {
		for _, s := range stages {
			row := statusRow{Model: m, Stage: s}
			var soak time.Duration
			if i := cfg.StageIndex(s); i >= 0 {
				soak = time.Duration(cfg.Stages[i].Soak)
				row.Soak = soak.String()
			}
			if r, ok := newest[[2]string{m, s}]; ok {
				row.fill(r, soak, now, row.Soak != "")
			}
			report.Rows = append(report.Rows, row)
		}
	}
	return report, nil
}

// fill sets what the run says; the soak left only when the stage's soak is
// known.
func (row *statusRow) fill(r rollout.Run, soak time.Duration, now time.Time, soakKnown bool) {
	row.Version, row.DeploymentID, row.Deployment, row.Current = r.Version, r.DeploymentID, string(r.State), r.Current()
	if !r.Deployed.IsZero() {
		row.Since = r.Deployed.UTC().Format(time.RFC3339)
	}
	if r.Analysis != nil {
		row.Analysis = string(r.Analysis.Phase)
	}
	if soakKnown && r.Current() && r.Failed.IsZero() && !r.Deployed.IsZero() {
		left := max(soak-now.Sub(r.Deployed), 0)
		// Whole seconds: what is left is read by people and compared by tools.
		row.SoakLeft = left.Round(time.Second).String()
	}
}

func (s *statusReport) write(w io.Writer) error {
	if len(s.Rows) == 0 {
		if s.Repository == "" {
			_, err := fmt.Fprintln(w, "no deployments recorded")
			return err
		}
		_, err := fmt.Fprintf(w, "no deployments recorded for %s on %s\n", s.Repository, s.Branch)
		return err
	}
	if _, err := fmt.Fprintf(w, "%s on %s, at %s\n\n", s.Repository, s.Branch, s.Now.Format(time.RFC3339)); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tSTAGE\tVERSION\tSINCE\tDEPLOYMENT\tSOAK LEFT\tANALYSIS")
	for _, r := range s.Rows {
		version, deployment := r.Version, r.Deployment
		if r.Version != "" && !r.Current {
			version += " (replaced)"
		}
		if r.Version != "" && deployment == "" {
			deployment = "created"
		}
		left := r.SoakLeft
		if left == "0s" {
			left = "done"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Model, r.Stage, dash(version), dash(r.Since), dash(deployment), dash(left), dash(r.Analysis))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

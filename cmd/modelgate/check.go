package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/checks/drift"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/report"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/manifest"
)

func (c *cli) checkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check MANIFEST [flags]",
		Short: "run the data, drift, evaluation and fairness checks a manifest declares and write the evidence",
		Long:  "Run the data, drift, evaluation and fairness checks a manifest declares and write the evidence.\nExit 0 when they ran (failing numbers are the policies' business), 2 when they could not run.",
	}
	fl := cmd.Flags()
	out := fl.String("out", "", "write the evidence document (JSON) to this file")
	summary := fl.String("summary", "", "write the evidence as Markdown tables to this file (for a CI job summary such as $GITHUB_STEP_SUMMARY)")
	configPath := fl.String("config", "", "read drift thresholds from this config file (a .modelgate/config.yaml); defaults without it")
	format := choiceFlag(cmd, "format", "what to print: a summary, or the evidence document itself", "text", "json")
	dvcDir := fl.String("dvc", "", "compare the datasets and the files read with this DVC project's .dvc files and dvc.lock (its root folder)")
	mlflowURI := fl.String("mlflow", c.getenv("MLFLOW_TRACKING_URI"), "read the manifest's MLflow run from this tracking server (http(s) URL; token in MLFLOW_TRACKING_TOKEN) or file store folder (default $MLFLOW_TRACKING_URI)")
	copies := localCopies{}
	fl.Var(copies, "input", "a local copy of data the manifest names by URI, as URI=FILE (repeatable)")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) != 1 {
			return c.fail(errors.New("check: name one MANIFEST (a model.yaml)"))
		}
		manifestPath := args[0]

		v, err := schema.New()
		if err != nil {
			return c.fail(err)
		}
		data, err := os.ReadFile(manifestPath)
		if err != nil {
			return c.fail(fmt.Errorf("read manifest: %w", err))
		}
		m, err := gitops.ParseManifest(v, manifestPath, data)
		if err != nil {
			return c.fail(err)
		}
		cfg, err := loadConfig(v, *configPath)
		if err != nil {
			return c.fail(err)
		}
		if c.getenv("GOGC") == "" {
			// The checks hold their data in large arrays without pointers, which the
			// collector scans for next to nothing: collecting three times as often
			// keeps the peak memory of large files down at no cost in time. Memory a
			// collection frees is returned to the system only slowly, so the peak
			// is set by how far the heap may grow between collections.
			debug.SetGCPercent(30)
		}
		dir, err := gitops.OpenDir(filepath.Dir(manifestPath), cfg.Limits.FileBytes)
		if err != nil {
			return c.fail(fmt.Errorf("check %s: %w", manifestPath, err))
		}
		defer dir.Close()
		if err := copies.cover(m); err != nil {
			return c.fail(fmt.Errorf("check %s: %w", manifestPath, err))
		}
		ev, err := gate.RunChecks(ctx, m, copies.over(dir, cfg.Limits.FileBytes), cfg)
		if err != nil {
			return c.fail(fmt.Errorf("check %s: %w", manifestPath, err))
		}
		// The App accepts an upload of the evidence only for this manifest, as
		// it is at the pull request's head.
		sum := sha256.Sum256(data)
		ev.Manifest = &checks.ManifestDigest{Path: filepath.ToSlash(manifestPath), SHA256: hex.EncodeToString(sum[:])}
		if ev.Lineage, err = checkLineage(ctx, c, m, ev, dir, filepath.Dir(manifestPath), cfg.Limits, *dvcDir, *mlflowURI); err != nil {
			return c.fail(fmt.Errorf("check %s: lineage: %w", manifestPath, err))
		}
		doc, err := json.MarshalIndent(ev, "", "  ")
		if err != nil {
			return c.fail(fmt.Errorf("encode evidence: %w", err))
		}
		doc = append(doc, '\n')
		if *out != "" {
			if err := writeFileAtomic(*out, doc); err != nil {
				return c.fail(err)
			}
		}
		if *summary != "" {
			var md bytes.Buffer
			if err := report.MarkdownCheck(&md, manifestPath, doc); err != nil {
				return c.fail(err)
			}
			if err := writeFileAtomic(*summary, md.Bytes()); err != nil {
				return c.fail(err)
			}
		}
		if *format == "json" {
			_, err = c.stdout.Write(doc)
		} else {
			err = writeSummary(c.stdout, ev)
		}
		if err != nil {
			return c.fail(err)
		}
		return exitOK
	})
	return cmd
}

// localCopies maps the URIs of data a manifest names to local files.
type localCopies map[string]string

func (l localCopies) String() string { return "" }

func (l localCopies) Type() string { return "URI=FILE" }

func (l localCopies) Set(s string) error {
	uri, file, ok := strings.Cut(s, "=")
	if !ok || !manifest.IsURI(uri) || file == "" {
		return fmt.Errorf("%q: want URI=FILE, such as s3://bucket/current.csv=data/current.csv", s)
	}
	l[uri] = file
	return nil
}

// cover checks that every file the manifest names by URI has a local copy,
// and that every copy is of one of them.
func (l localCopies) cover(m *manifest.Manifest) error {
	uris := m.URIs()
	for _, u := range uris {
		if _, ok := l[u]; !ok {
			return fmt.Errorf("the manifest names %s by URI, which modelgate does not fetch: give a local copy with --input %s=FILE", u, u)
		}
	}
	for u := range l {
		if !slices.Contains(uris, u) {
			return fmt.Errorf("--input %s: the manifest names no data file by that URI", u)
		}
	}
	return nil
}

// over is dir with the local copies served under their URIs, each bounded
// by limit bytes as the files of the folder are. A copy is named on the
// command line, so it may be anywhere, even behind a link.
func (l localCopies) over(dir fs.FS, limit int64) fs.FS {
	return copiesFS{FS: dir, copies: l, limit: limit}
}

type copiesFS struct {
	fs.FS
	copies localCopies
	limit  int64
}

func (c copiesFS) Open(name string) (fs.File, error) {
	file, ok := c.copies[name]
	if !ok {
		return c.FS.Open(name)
	}
	info, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if err := gitops.CheckFile(file, info.Mode(), info.Size(), c.limit); err != nil {
		return nil, err
	}
	return os.Open(file)
}

// loadConfig reads the config whose thresholds judge drift; without a file, the
// defaults of an empty config.
func loadConfig(v *schema.Validator, path string) (*gitops.Config, error) {
	name, data := gitops.ConfigPath, []byte(nil)
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		name = path
	}
	var cfg gitops.Config
	if err := v.Decode(schema.Config, name, data, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it into
// place, so that a reader never sees half the evidence.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeSummary prints what a reviewer reads first: the inputs, the contract's
// violations, each drift column, the metrics and the fairness ratios.
func writeSummary(w io.Writer, ev *checks.Evidence) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s %s\n", ev.Model.Name, ev.Model.Version)
	for _, in := range ev.Inputs {
		fmt.Fprintf(tw, "  %s\t%s\t%d rows\tsha256:%s\n", in.Role, in.Path, in.Rows, in.SHA256[:12])
	}
	if d := ev.Data; d != nil {
		verdict := "passed"
		if !d.Contract.Passed {
			verdict = fmt.Sprintf("%d violations", len(d.Contract.Violations))
		}
		fmt.Fprintf(tw, "\ndata contract: %s\n", verdict)
		for _, vi := range d.Contract.Violations {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", orDash(vi.Column), vi.Rule, vi.Message)
		}
	}
	if d := ev.Drift; d != nil {
		fmt.Fprintf(tw, "\ndrift: share of drifted columns %s\n", formatNumber(d.ShareDrifted))
		names := make([]string, 0, len(d.Columns))
		for name := range d.Columns {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			col := d.Columns[name]
			verdict := "stable"
			if col.Drifted {
				verdict = "DRIFTED"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", name, col.Kind, col.Method, formatNumber(judged(col)), verdict)
		}
	}
	if e := ev.Evaluation; e != nil {
		fmt.Fprintf(tw, "\nevaluation: %s, %d rows\n", e.Task, e.Rows)
		for _, name := range slices.Sorted(maps.Keys(e.Metrics)) {
			line := fmt.Sprintf("  %s\t%s", name, formatNumber(e.Metrics[name]))
			if e.Baseline != nil {
				line += "\tbaseline " + formatNumber(e.Baseline.Metrics[name])
			}
			fmt.Fprintln(tw, line)
		}
	}
	if len(ev.Fairness) > 0 {
		fmt.Fprintln(tw, "\nfairness:")
		for _, name := range slices.Sorted(maps.Keys(ev.Fairness)) {
			a := ev.Fairness[name]
			fmt.Fprintf(tw, "  %s\t%d groups\tdisparate impact %s\tequalized odds %s\tdemographic parity %s\n", name, len(a.Groups),
				formatNumber(a.DisparateImpactRatio), formatNumber(a.EqualizedOddsDifference), formatNumber(a.DemographicParityDifference))
		}
	}
	writeLineage(tw, ev.Lineage)
	return tw.Flush()
}

// judged is the statistic that decided a column's verdict.
func judged(col *checks.DriftColumn) checks.Number {
	var n *checks.Number
	switch col.Method {
	case drift.MethodKS:
		n = col.KSPValue
	case drift.MethodWasserstein:
		n = col.WassersteinNormed
	case drift.MethodJensenShannon:
		n = col.JensenShannon
	default:
		return col.PSI
	}
	if n == nil {
		return checks.Number(0)
	}
	return *n
}

func formatNumber(n checks.Number) string {
	if n.Undefined() {
		return "undefined"
	}
	return fmt.Sprintf("%.4g", float64(n))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

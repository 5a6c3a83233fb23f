// Package lineage compares what a model's manifest and evidence say with what
// the tools that made the model recorded: DVC's .dvc and dvc.lock files, and
// the MLflow run that trained it. Each disagreement is a checks.Mismatch in the
// evidence, which the built-in policies deny on; a source that cannot be read
// is an error, never a pass.
package lineage

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/manifest"
)

// Tolerance is the relative difference below which an MLflow metric and the
// evidence's metric of the same name are equal: the evidence's numbers are
// exact to 1e-9 relative, and MLflow's are the training code's own
// computation of them.
const Tolerance = 1e-9

// Config is what Check compares and where it reads.
type Config struct {
	Manifest *manifest.Manifest
	Evidence *checks.Evidence // what checks.Run made of the manifest
	// Files is the manifest's folder as the checks read it, and Dir its path on
	// disk, to place the inputs in the DVC project.
	Files  fs.FS
	Dir    string
	Limits table.Limits
	// DVC is the training repository's DVC project; nil compares nothing
	// with DVC.
	DVC *DVC
	// Tracking is where the manifest's MLflow run is read; it is required
	// when the manifest names one.
	Tracking Tracking
}

// Check compares the manifest's datasets and the files the checks read with
// DVC, and the evidence's metrics and the data's columns with the MLflow run.
// It returns nil when there is nothing to compare with.
func Check(ctx context.Context, cfg Config) (*checks.Lineage, error) {
	var ref *manifest.MLflowRun
	if l := cfg.Manifest.Spec.Lineage; l != nil {
		ref = l.MLflow
	}
	if cfg.DVC == nil && ref == nil {
		return nil, nil
	}
	c := &checker{cfg: cfg, out: &checks.Lineage{Mismatches: []checks.Mismatch{}}, inputs: make(map[string]string)}
	if cfg.DVC != nil {
		if err := c.dvc(); err != nil {
			return nil, err
		}
	}
	if ref != nil {
		if cfg.Tracking == nil {
			return nil, fmt.Errorf("the manifest names MLflow run %s (spec.lineage.mlflow): give the tracking server or file store (--mlflow or MLFLOW_TRACKING_URI)", ref.RunID)
		}
		if err := c.mlflow(ctx, ref); err != nil {
			return nil, err
		}
	}
	return c.out, nil
}

type checker struct {
	cfg    Config
	out    *checks.Lineage
	seen   map[string]bool   // tracked entries recorded, by source
	inputs map[string]string // md5 of the inputs hashed, by path
}

func (c *checker) mismatch(source, subject, expected, actual, format string, args ...any) {
	c.out.Mismatches = append(c.out.Mismatches, checks.Mismatch{
		Source: source, Subject: subject, Expected: expected, Actual: actual, Message: fmt.Sprintf(format, args...),
	})
}

// --- DVC ---------------------------------------------------------------------

func (c *checker) dvc() error {
	d := c.cfg.DVC
	c.out.DVC = &checks.DVCLineage{Files: d.Files(), Tracked: []checks.DVCTracked{}}
	c.seen = make(map[string]bool)
	if l := c.cfg.Manifest.Spec.Lineage; l != nil {
		for i, ds := range l.Datasets {
			if err := c.dataset(i, ds); err != nil {
				return err
			}
		}
	}
	for _, in := range c.cfg.Evidence.Inputs {
		if err := c.input(in); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) record(t Tracked) error {
	if t.Entry.Legacy {
		return fmt.Errorf("%s: %s has an md5 written by DVC 2 (no \"hash: md5\"), which hashes text files with their line endings changed; rewrite it with DVC 3 (dvc cache migrate --dvc-files)", t.Entry.Source, t.Entry.Path)
	}
	if c.seen[t.Entry.Source] {
		return nil
	}
	c.seen[t.Entry.Source] = true
	c.out.DVC.Tracked = append(c.out.DVC.Tracked, checks.DVCTracked{
		Path: t.Entry.Path, MD5: t.Entry.MD5, Size: t.Entry.Size, NFiles: t.Entry.NFiles, Source: t.Entry.Source,
	})
	return nil
}

// dataset compares a dataset of spec.lineage.datasets with what DVC records
// of its path, or of its URI (the URL of an import-url stage): a dataset DVC
// tracks must have DVC's md5 as its digest.
func (c *checker) dataset(i int, ds manifest.Dataset) error {
	subject := fmt.Sprintf("spec.lineage.datasets[%d]", i)
	var found []Tracked
	if ds.Path != "" {
		t, err := c.cfg.DVC.Lookup(path.Clean(ds.Path))
		if err != nil {
			return err
		}
		found = t
		if len(found) == 0 {
			c.mismatch(checks.SourceDVC, subject+".path", "a path DVC tracks", ds.Path,
				"dataset %s: DVC tracks no %s (no .dvc file or dvc.lock stage records it)", ds.Name, ds.Path)
			return nil
		}
	}
	t, err := c.cfg.DVC.Lookup(ds.URI)
	if err != nil {
		return err
	}
	found = append(found, t...)
	for _, t := range found {
		if err := c.record(t); err != nil {
			return err
		}
		if !t.Listed {
			c.mismatch(checks.SourceDVC, subject+".path", "a file of "+t.Entry.Path, ds.Path,
				"dataset %s: %s is inside %s, which DVC tracks, but DVC's listing of it (%s) holds no such file", ds.Name, ds.Path, t.Entry.Path, t.Entry.Source)
			continue
		}
		want := "md5:" + t.MD5
		switch {
		case ds.Digest == want:
		case ds.Digest == "":
			c.mismatch(checks.SourceDVC, subject+".digest", want, "",
				"dataset %s has no digest; DVC records %s for %s (%s)", ds.Name, want, t.Entry.Path, t.Entry.Source)
		case !strings.HasPrefix(ds.Digest, "md5:"):
			c.mismatch(checks.SourceDVC, subject+".digest", want, ds.Digest,
				"dataset %s: DVC records %s for %s (%s), and the manifest's %s digest cannot be compared with it; write DVC's md5", ds.Name, want, t.Entry.Path, t.Entry.Source, strings.SplitN(ds.Digest, ":", 2)[0])
		default:
			c.mismatch(checks.SourceDVC, subject+".digest", want, ds.Digest,
				"dataset %s: the manifest's digest is %s, DVC records %s for %s (%s)", ds.Name, ds.Digest, want, t.Entry.Path, t.Entry.Source)
		}
	}
	return nil
}

// input compares a file the checks read with what DVC records of it: a file
// DVC tracks must have DVC's md5.
func (c *checker) input(in checks.Input) error {
	rel, ok, err := c.projectPath(in.Path)
	if err != nil || !ok {
		return err
	}
	found, err := c.cfg.DVC.Lookup(rel)
	if err != nil || len(found) == 0 {
		return err
	}
	subject := fmt.Sprintf("inputs[%s]", in.Path)
	for _, t := range found {
		if err := c.record(t); err != nil {
			return err
		}
		if !t.Listed {
			c.mismatch(checks.SourceDVC, subject, "a file of "+t.Entry.Path, in.Path,
				"the %s data %s is inside %s, which DVC tracks, but DVC's listing of it (%s) holds no such file", in.Role, in.Path, t.Entry.Path, t.Entry.Source)
			continue
		}
		sum, err := c.md5(in)
		if err != nil {
			return err
		}
		if sum != t.MD5 {
			c.mismatch(checks.SourceDVC, subject, "md5:"+t.MD5, "md5:"+sum,
				"the %s data %s that the checks read has md5 %s, DVC records %s (%s)", in.Role, in.Path, sum, t.MD5, t.Entry.Source)
		}
	}
	return nil
}

// projectPath places a path of the manifest's folder in the DVC project: ok
// is false when it lies outside it.
func (c *checker) projectPath(name string) (string, bool, error) {
	dir, err := realDir(c.cfg.Dir)
	if err != nil {
		return "", false, err
	}
	root, err := realDir(c.cfg.DVC.dir)
	if err != nil {
		return "", false, err
	}
	rel, err := filepath.Rel(root, filepath.Join(dir, filepath.FromSlash(path.Clean(name))))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false, nil
	}
	return filepath.ToSlash(rel), true, nil
}

func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// md5 hashes a file the checks read, once. It reads the file again, so it
// proves the md5 is of the bytes the checks read by their sha256.
func (c *checker) md5(in checks.Input) (string, error) {
	if sum, ok := c.inputs[in.Path]; ok {
		return sum, nil
	}
	f, err := c.cfg.Files.Open(path.Clean(in.Path))
	if err != nil {
		return "", fmt.Errorf("hash %s for DVC: %w", in.Path, err)
	}
	defer f.Close()
	m, s := md5.New(), sha256.New()
	if _, err := io.Copy(io.MultiWriter(m, s), f); err != nil {
		return "", fmt.Errorf("hash %s for DVC: %w", in.Path, err)
	}
	if got := hex.EncodeToString(s.Sum(nil)); got != in.SHA256 {
		return "", fmt.Errorf("%s changed while it was checked: sha256 %s, then %s", in.Path, in.SHA256, got)
	}
	sum := hex.EncodeToString(m.Sum(nil))
	c.inputs[in.Path] = sum
	return sum, nil
}

// --- MLflow ------------------------------------------------------------------

func (c *checker) mlflow(ctx context.Context, ref *manifest.MLflowRun) error {
	tr := c.cfg.Tracking
	run, err := tr.Run(ctx, ref.RunID)
	if err != nil {
		return err
	}
	ml := &checks.MLflowLineage{TrackingURI: tr.URI(), RunID: run.ID, Status: run.Status, Metrics: make(map[string]checks.Number, len(run.Metrics)), Signatures: []checks.MLflowSignature{}}
	c.out.MLflow = ml
	for k, v := range run.Metrics {
		ml.Metrics[k] = checks.Number(v)
	}
	if ref.TrackingURI != "" && strings.TrimSuffix(ref.TrackingURI, "/") != strings.TrimSuffix(tr.URI(), "/") {
		c.mismatch(checks.SourceMLflow, "spec.lineage.mlflow.trackingUri", tr.URI(), ref.TrackingURI,
			"the manifest names the tracking server %s, and the run was read from %s", ref.TrackingURI, tr.URI())
	}
	if e := c.cfg.Evidence.Evaluation; e != nil {
		for _, name := range slices.Sorted(maps.Keys(e.Metrics)) {
			logged, ok := run.Metrics[name]
			if !ok {
				continue
			}
			if got := float64(e.Metrics[name]); !Equal(logged, got) {
				c.mismatch(checks.SourceMLflow, "evaluation.metrics."+name, formatFloat(logged), formatFloat(got),
					"metric %s: MLflow run %s logged %s, the evidence has %s", name, run.ID, formatFloat(logged), formatFloat(got))
			}
		}
	}
	models := run.Models
	if mr := ref.Model; mr != nil {
		mv, err := tr.ModelVersion(ctx, mr.Name, mr.Version)
		if err != nil {
			return err
		}
		ml.Model = &checks.MLflowModel{Name: mv.Name, Version: mv.Version, RunID: mv.RunID, Source: mv.Source, Status: mv.Status}
		if mv.RunID != ref.RunID {
			c.mismatch(checks.SourceMLflow, "spec.lineage.mlflow.runId", mv.RunID, ref.RunID,
				"MLflow's model %s version %s comes from run %s, not from the manifest's run %s", mv.Name, mv.Version, orNone(mv.RunID), ref.RunID)
		}
		if p, ok := artifactPath(mv.Source, run); ok && mv.RunID == run.ID {
			models = slices.DeleteFunc(slices.Clone(models), func(m LoggedModel) bool { return m.ArtifactPath != p })
		}
	}
	for _, m := range models {
		if m.Inputs == nil {
			continue
		}
		sig := checks.MLflowSignature{ArtifactPath: m.ArtifactPath, Inputs: make([]checks.MLflowInput, len(m.Inputs))}
		for i, in := range m.Inputs {
			sig.Inputs[i] = checks.MLflowInput{Name: in.Name, Type: in.Type}
		}
		ml.Signatures = append(ml.Signatures, sig)
		if err := c.signature(ctx, run.ID, m); err != nil {
			return err
		}
	}
	return nil
}

// signature compares a logged model's inputs with the current data: each
// named input must be a column of it, of a type the data contract's type for
// the column can feed.
func (c *checker) signature(ctx context.Context, runID string, m LoggedModel) error {
	d := c.cfg.Manifest.Spec.Data
	if d == nil {
		return nil
	}
	header, err := c.header(ctx, d.Current)
	if err != nil {
		return err
	}
	types := make(map[string]string)
	if d.Contract != nil {
		for _, col := range d.Contract.Columns {
			types[col.Name] = col.Type
		}
	}
	for _, in := range m.Inputs {
		if in.Name == "" {
			continue
		}
		subject := fmt.Sprintf("signature[%s].inputs[%s]", m.ArtifactPath, in.Name)
		if !slices.Contains(header, in.Name) {
			c.mismatch(checks.SourceMLflow, subject, "column "+in.Name, "",
				"the model %s of MLflow run %s takes column %s, which the current data %s does not have", m.ArtifactPath, runID, in.Name, d.Current)
			continue
		}
		if t, ok := types[in.Name]; ok && !feeds(t, in.Type) {
			c.mismatch(checks.SourceMLflow, subject, in.Type, t,
				"the model %s of MLflow run %s takes column %s as %s, and the data contract types it %s", m.ArtifactPath, runID, in.Name, in.Type, t)
		}
	}
	return nil
}

// header reads the columns of the current data, checking that it is the file
// the checks read.
func (c *checker) header(ctx context.Context, name string) ([]string, error) {
	t, err := table.Read(ctx, c.cfg.Files, path.Clean(name), nil, c.cfg.Limits)
	if err != nil {
		return nil, err
	}
	for _, in := range c.cfg.Evidence.Inputs {
		if in.Role == checks.RoleCurrent && in.SHA256 != t.SHA256 {
			return nil, fmt.Errorf("%s changed while it was checked: sha256 %s, then %s", name, in.SHA256, t.SHA256)
		}
	}
	return t.Header, nil
}

// feeds reports whether a column of a data contract type can be given to a
// model input of an MLflow type (a column type of MLflow's schemas, or a
// tensor's numpy dtype) without losing what it holds: an int feeds a float
// input, a float never an integer one. A CSV has no datetime type, so a
// string column feeds a datetime input.
func feeds(contract, mlflow string) bool {
	t := strings.ToLower(mlflow)
	isInt := t == "integer" || t == "long" || strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint")
	isFloat := t == "float" || t == "double" || strings.HasPrefix(t, "float")
	switch contract {
	case "bool":
		return t == "boolean" || t == "bool"
	case "int":
		return isInt || isFloat
	case "float":
		return isFloat
	case "string":
		return t == "string" || t == "str" || t == "object" || t == "datetime"
	}
	return false
}

// Equal reports whether two values of a metric are the same within Tolerance;
// two undefined values (NaN) are the same, and an infinity equals only
// itself.
func Equal(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= Tolerance*math.Max(math.Abs(a), math.Abs(b))
}

func formatFloat(v float64) string {
	if math.IsNaN(v) {
		return "undefined"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

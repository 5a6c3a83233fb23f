package gitops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/manifest"
)

// Kinds of pin change.
const (
	KindPromotion = "promotion"
	KindRemoval   = "removal"
)

// Promotion is one changed pin: a model version proposed for a stage or, of
// kind KindRemoval, a pin taken out of a stage.
type Promotion struct {
	Kind    string `json:"kind"`
	Model   string `json:"model"`
	Version string `json:"version"`
	// FromVersion is what the stage runs now on the base branch; empty when the
	// model is new to the stage.
	FromVersion string `json:"from_version,omitempty"`
	// FromStage is the stage the version must have run in first; empty for the
	// first stage.
	FromStage    string             `json:"from_stage,omitempty"`
	ToStage      string             `json:"to_stage"`
	Rollback     bool               `json:"rollback"`
	ManifestPath string             `json:"manifest_path"`
	Manifest     *manifest.Manifest `json:"-"`
	// ManifestSHA256 is the hex SHA-256 of the manifest's bytes at the head:
	// what uploaded evidence must name to be about this manifest.
	ManifestSHA256 string `json:"-"`
}

// Removal is a pin deleted from a stage.
type Removal struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	Stage   string `json:"stage"`
}

// Promotion is the removal as it is judged: a change to its stage, which
// needs that stage's approvals, of a version that stops running there.
func (r Removal) Promotion() *Promotion {
	return &Promotion{Kind: KindRemoval, Model: r.Model, Version: r.Version, FromVersion: r.Version, ToStage: r.Stage}
}

// Change is what a head revision proposes to a base revision, judged as a pull
// request is: by what head changes since the merge base, against the base's
// config.
type Change struct {
	Base         string      `json:"base_sha"`
	Head         string      `json:"head_sha"`
	MergeBase    string      `json:"merge_base_sha"`
	Config       *Config     `json:"-"`
	ChangedFiles []string    `json:"changed_files"`
	PolicyChange bool        `json:"policy_change"`
	Promotions   []Promotion `json:"promotions"`
	Removals     []Removal   `json:"removals"`
}

// Compute reads the change from base to head. Config comes from base only, so a
// change can never weaken the rules it is judged by; pins and manifests come from
// head. Every problem found is returned, joined, not only the first.
func Compute(ctx context.Context, repo Repository, v *schema.Validator, base, head string) (*Change, error) {
	cfg, err := LoadConfig(ctx, repo.Snapshot(base), v)
	if err != nil {
		return nil, fmt.Errorf("base config: %w", err)
	}
	mb, err := repo.MergeBase(ctx, base, head)
	if err != nil {
		return nil, err
	}
	files, err := repo.ChangedFiles(ctx, mb, head)
	if err != nil {
		return nil, err
	}
	c := &Change{Base: base, Head: head, MergeBase: mb, Config: cfg, ChangedFiles: files}
	r := reader{repo: repo, v: v, change: c}
	for _, f := range files {
		switch {
		case strings.HasPrefix(f, ConfigDir+"/"):
			c.PolicyChange = true
		case strings.HasPrefix(f, EnvironmentDir+"/"):
			r.problem(r.environment(ctx, f))
		case strings.HasPrefix(f, ModelsDir+"/"):
			r.problem(r.modelFile(ctx, f))
		}
	}
	for i := range c.Promotions {
		r.problem(r.resolve(ctx, &c.Promotions[i]))
	}
	if err := errors.Join(r.problems...); err != nil {
		return nil, err
	}
	return c, nil
}

type reader struct {
	repo     Repository
	v        *schema.Validator
	change   *Change
	problems []error
}

func (r *reader) problem(err error) {
	if err != nil {
		r.problems = append(r.problems, err)
	}
}

// environment turns the pins an environment file changes into promotions and
// removals.
func (r *reader) environment(ctx context.Context, file string) error {
	c := r.change
	stage, ok := StageOf(file)
	if !ok {
		return fmt.Errorf("%s: not an environment file (expected %s)", file, EnvironmentPath("<stage>"))
	}
	if c.Config.StageIndex(stage) < 0 {
		return fmt.Errorf("%s: stage %q is not one of the stages of %s (%s)", file, stage, ConfigPath, strings.Join(c.Config.stageNames(), ", "))
	}
	head, err := LoadEnvironment(ctx, r.repo.Snapshot(c.Head), r.v, stage)
	if err != nil {
		return err
	}
	before, err := LoadEnvironment(ctx, r.repo.Snapshot(c.MergeBase), r.v, stage)
	if err != nil {
		return fmt.Errorf("at merge base %s: %w", c.MergeBase, err)
	}
	current, err := LoadEnvironment(ctx, r.repo.Snapshot(c.Base), r.v, stage)
	if err != nil {
		return fmt.Errorf("at base %s: %w", c.Base, err)
	}
	for _, model := range slices.Sorted(maps.Keys(head.Models)) {
		version := head.Models[model]
		if version == before.Models[model] || version == current.Models[model] {
			continue
		}
		c.Promotions = append(c.Promotions, Promotion{
			Kind:        KindPromotion,
			Model:       model,
			Version:     version,
			FromVersion: current.Models[model],
			FromStage:   c.Config.previousStage(stage),
			ToStage:     stage,
		})
	}
	// What a removal takes out is what the base branch runs now; a pin that
	// the base branch dropped meanwhile is no longer there to remove.
	for _, model := range slices.Sorted(maps.Keys(before.Models)) {
		_, kept := head.Models[model]
		if version, runs := current.Models[model]; !kept && runs {
			c.Removals = append(c.Removals, Removal{Model: model, Version: version, Stage: stage})
		}
	}
	return nil
}

// modelFile validates a changed file of a model version: versions are immutable,
// and a changed manifest must be valid whether or not it is pinned yet.
func (r *reader) modelFile(ctx context.Context, file string) error {
	parts := strings.SplitN(file, "/", 4)
	if len(parts) < 4 {
		return nil
	}
	dir := path.Join(parts[:3]...)
	if _, err := r.repo.Snapshot(r.change.MergeBase).ReadDir(ctx, dir); err == nil {
		return fmt.Errorf("%s: %s already exists on the base branch and model versions are immutable: publish a new version instead", file, dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	if !slices.Contains(manifest.FileNames, parts[3]) {
		return nil
	}
	data, err := r.repo.Snapshot(r.change.Head).ReadFile(ctx, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // deleted again before head
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	_, err = ParseManifest(r.v, file, data)
	return err
}

// resolve loads a promotion's manifest from head and finds out whether git
// history shows it to be a rollback.
func (r *reader) resolve(ctx context.Context, p *Promotion) error {
	head := r.repo.Snapshot(r.change.Head)
	file, err := FindManifest(ctx, head, p.Model, p.Version)
	if err != nil {
		return fmt.Errorf("%s pins %s %s: %w", EnvironmentPath(p.ToStage), p.Model, p.Version, err)
	}
	data, err := head.ReadFile(ctx, file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	if p.Manifest, err = ParseManifest(r.v, file, data); err != nil {
		return err
	}
	p.ManifestPath = file
	sum := sha256.Sum256(data)
	p.ManifestSHA256 = hex.EncodeToString(sum[:])
	history, err := PinHistory(ctx, r.repo, r.v, r.change.Base, p.ToStage)
	if err != nil {
		return err
	}
	p.Rollback = history.Ran(p.Model, p.Version, time.Duration(r.change.Config.Rollback.MinPinned))
	return nil
}

// FindManifest returns the path of a model version's manifest.
func FindManifest(ctx context.Context, snap Snapshot, model, version string) (string, error) {
	dir := manifest.Dir(model, version)
	names, err := snap.ReadDir(ctx, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s/ does not exist", dir)
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", dir, err)
	}
	var found []string
	for _, n := range manifest.FileNames {
		if slices.Contains(names, n) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%s/ has no manifest (%s)", dir, strings.Join(manifest.FileNames, ", "))
	case 1:
		return path.Join(dir, found[0]), nil
	default:
		return "", fmt.Errorf("%s/ has %d manifests (%s): keep one", dir, len(found), strings.Join(found, ", "))
	}
}

// ModelVersionOf returns the model and version a path inside a version's
// folder (models/<name>/<version>/...) names, and whether it names them.
func ModelVersionOf(p string) (model, version string, ok bool) {
	parts := strings.SplitN(path.Clean(p), "/", 4)
	if len(parts) < 4 || parts[0] != ModelsDir || parts[1] == ".." || parts[2] == ".." {
		return "", "", false
	}
	return parts[1], parts[2], true
}

func (c *Config) stageNames() []string {
	names := make([]string, len(c.Stages))
	for i, s := range c.Stages {
		names[i] = s.Name
	}
	return names
}

func (c *Config) previousStage(stage string) string {
	if i := c.StageIndex(stage); i > 0 {
		return c.Stages[i-1].Name
	}
	return ""
}

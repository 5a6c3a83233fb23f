package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"time"

	"github.com/modelgate/modelgate/internal/schema"
)

// Config is .modelgate/config.yaml with its defaults filled in. schemas/config.cue
// decides what is valid; this is its decoded form.
type Config struct {
	Stages     []Stage                 `json:"stages"`
	Approvals  map[string]ApprovalRule `json:"approvals"`
	Merge      Merge                   `json:"merge"`
	Branches   []string                `json:"branches"`
	Rollback   RollbackRule            `json:"rollback"`
	Thresholds Thresholds              `json:"thresholds"`
	Limits     Limits                  `json:"limits"`
	Evidence   EvidenceRule            `json:"evidence"`
	Data       map[string]any          `json:"data"`
}

// EvidenceRule says whose uploaded evidence the gate trusts, and which
// promotions need it.
type EvidenceRule struct {
	// TrustedWorkflows are the job_workflow_ref values of the GitHub Actions
	// OIDC tokens whose evidence counts: owner/repo/path@ref of a reusable
	// workflow, at a ref that authors of pull requests cannot push to.
	TrustedWorkflows []string `json:"trustedWorkflows"`
	// RequireTrustedFor lists the risk tiers whose promotions are denied
	// without evidence that a trusted workflow uploaded.
	RequireTrustedFor []string `json:"requireTrustedFor"`
}

// Trusts tells whether evidence that a workflow uploaded counts: whether its
// job_workflow_ref is one of TrustedWorkflows, exactly.
func (r EvidenceRule) Trusts(jobWorkflowRef string) bool {
	return jobWorkflowRef != "" && slices.Contains(r.TrustedWorkflows, jobWorkflowRef)
}

// PolicyChange is the approvals key for pull requests that touch .modelgate/.
const PolicyChange = "policyChange"

// RollbackApprovals is the approvals key whose rule a rollback needs instead of
// its stage's.
const RollbackApprovals = "rollback"

// Gates tells whether pull requests into branch, which is not the default
// branch, are gated and merged: whether a pattern of Branches matches it.
func (c *Config) Gates(branch string) bool {
	return slices.ContainsFunc(c.Branches, func(pattern string) bool {
		ok, err := path.Match(pattern, branch)
		return err == nil && ok
	})
}

type Stage struct {
	Name string   `json:"name"`
	Soak Duration `json:"soak"`
	// Promote is PromoteAuto or PromoteCommand: how a version that soaked in
	// the stage before enters this one.
	Promote  string    `json:"promote"`
	Analysis *Analysis `json:"analysis,omitempty"`
}

// How a version enters a stage (Stage.Promote).
const (
	// PromoteAuto: the App opens the promotion pull request itself.
	PromoteAuto = "auto"
	// PromoteCommand: only a /modelgate promote command opens it.
	PromoteCommand = "command"
)

// Analysis is a stage's live analysis; internal/analysis compiles and runs it.
type Analysis struct {
	Prometheus Prometheus       `json:"prometheus"`
	Metrics    []AnalysisMetric `json:"metrics"`
}

type Prometheus struct {
	Address string `json:"address"`
}

type AnalysisMetric struct {
	Name                  string   `json:"name"`
	Query                 string   `json:"query"`
	SuccessCondition      string   `json:"successCondition"`
	FailureCondition      string   `json:"failureCondition,omitempty"`
	InitialDelay          Duration `json:"initialDelay"`
	Interval              Duration `json:"interval"`
	Count                 int      `json:"count"`
	FailureLimit          int      `json:"failureLimit"`
	InconclusiveLimit     int      `json:"inconclusiveLimit"`
	ConsecutiveErrorLimit int      `json:"consecutiveErrorLimit"`
}

type ApprovalRule struct {
	Count int      `json:"count"`
	Teams []string `json:"teams"`
}

type Merge struct {
	Method string `json:"method"`
}

// RollbackRule says when git history alone shows that a stage ran a version.
type RollbackRule struct {
	MinPinned Duration `json:"minPinned"`
}

type Thresholds struct {
	Drift      DriftThresholds      `json:"drift"`
	Evaluation EvaluationThresholds `json:"evaluation"`
	Fairness   FairnessThresholds   `json:"fairness"`
}

type DriftThresholds struct {
	NumericMethod     string  `json:"numericMethod"`
	CategoricalMethod string  `json:"categoricalMethod"`
	KSPValue          float64 `json:"ksPValue"`
	WassersteinNormed float64 `json:"wassersteinNormed"`
	JensenShannon     float64 `json:"jensenShannon"`
	PSI               float64 `json:"psi"`
	ShareDrifted      float64 `json:"shareDrifted"`
}

type EvaluationThresholds struct {
	Minimum       map[string]map[string]float64 `json:"minimum"`
	MaxRegression float64                       `json:"maxRegression"`
}

type FairnessThresholds struct {
	DisparateImpactMin float64 `json:"disparateImpactMin"`
	EqualizedOddsMax   float64 `json:"equalizedOddsMax"`
	MinGroupSize       int     `json:"minGroupSize"`
}

// Limits bound what the checks read of one data file.
type Limits struct {
	FileBytes int64 `json:"fileBytes"`
	Rows      int   `json:"rows"`
	Columns   int   `json:"columns"`
}

// Duration is a Go duration written as a string ("24h").
type Duration time.Duration

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// StageIndex returns the position of a stage in the promotion order, or -1.
func (c *Config) StageIndex(name string) int {
	return slices.IndexFunc(c.Stages, func(s Stage) bool { return s.Name == name })
}

// LoadConfig reads .modelgate/config.yaml from a snapshot; a repository without
// one has the default config.
func LoadConfig(ctx context.Context, snap Snapshot, v *schema.Validator) (*Config, error) {
	data, err := snap.ReadFile(ctx, ConfigPath)
	if errors.Is(err, fs.ErrNotExist) {
		data = nil
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", ConfigPath, err)
	}
	return ParseConfig(v, data)
}

// ParseConfig decodes the text of .modelgate/config.yaml; empty text is the
// default config.
func ParseConfig(v *schema.Validator, data []byte) (*Config, error) {
	var c Config
	if err := v.Decode(schema.Config, ConfigPath, data, &c); err != nil {
		return nil, err
	}
	// The default of promote depends on the stage's position, which the
	// schema cannot express (schemas/defaults.cue).
	for i := range c.Stages {
		if c.Stages[i].Promote == "" {
			c.Stages[i].Promote = PromoteAuto
			if i == len(c.Stages)-1 {
				c.Stages[i].Promote = PromoteCommand
			}
		}
	}
	return &c, nil
}

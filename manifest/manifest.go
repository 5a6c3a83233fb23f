// Package manifest defines the model manifest, models/<name>/<version>/model.yaml:
// one immutable model version, what it is for, where it came from and which checks
// it declares. It holds the manifest's types only, and imports nothing but the
// standard library, so that a program outside this module can build a manifest
// for package checks; schemas/manifest.cue decides what is valid.
package manifest

import (
	"path"
	"strings"
)

// Manifest is a model manifest. Its fields mirror schemas/manifest.cue; JSON
// names are the manifest's own, so a manifest decodes with encoding/json.
type Manifest struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
}

type Metadata struct {
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Owner       string            `json:"owner"`
	RiskTier    string            `json:"riskTier"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// Tasks.
const (
	BinaryClassification     = "binary_classification"
	MulticlassClassification = "multiclass_classification"
	Regression               = "regression"
)

// Tasks are the tasks a manifest may declare.
var Tasks = []string{BinaryClassification, MulticlassClassification, Regression}

type Spec struct {
	Task        string      `json:"task"`
	IntendedUse string      `json:"intendedUse,omitempty"`
	Limitations string      `json:"limitations,omitempty"`
	Artifact    Artifact    `json:"artifact"`
	Lineage     *Lineage    `json:"lineage,omitempty"`
	Data        *Data       `json:"data,omitempty"`
	Evaluation  *Evaluation `json:"evaluation,omitempty"`
	Fairness    *Fairness   `json:"fairness,omitempty"`
}

type Artifact struct {
	URI       string `json:"uri"`
	Digest    string `json:"digest"`
	Framework string `json:"framework,omitempty"`
}

type Lineage struct {
	Code     *CodeRef   `json:"code,omitempty"`
	Datasets []Dataset  `json:"datasets,omitempty"`
	MLflow   *MLflowRun `json:"mlflow,omitempty"`
}

type CodeRef struct {
	Repository string `json:"repository"`
	Commit     string `json:"commit"`
}

// Dataset is a dataset the model was trained on. Path is where the training
// repository's DVC project tracks it; Digest is sha256:<hex> or DVC's
// md5:<hex>.
type Dataset struct {
	Name   string `json:"name"`
	URI    string `json:"uri"`
	Path   string `json:"path,omitempty"`
	Digest string `json:"digest,omitempty"`
}

// MLflowRun is the MLflow run that trained the model and, if registered, its
// model version.
type MLflowRun struct {
	TrackingURI string           `json:"trackingUri,omitempty"`
	RunID       string           `json:"runId"`
	Model       *RegisteredModel `json:"model,omitempty"`
}

type RegisteredModel struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Data declares the data validation and drift checks. Paths are relative to the
// manifest's folder, or URIs of data kept elsewhere (IsURI).
type Data struct {
	Reference string    `json:"reference,omitempty"`
	Current   string    `json:"current"`
	Contract  *Contract `json:"contract,omitempty"`
	Drift     *Drift    `json:"drift,omitempty"`
}

type Contract struct {
	RowCount *RowCount    `json:"rowCount,omitempty"`
	Columns  []ColumnRule `json:"columns,omitempty"`
}

type RowCount struct {
	Min *int64 `json:"min,omitempty"`
	Max *int64 `json:"max,omitempty"`
}

// ColumnRule is the contract of one column. Pointers tell an absent rule from a
// zero one.
type ColumnRule struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Nullable *bool    `json:"nullable,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Allowed  []any    `json:"allowed,omitempty"`
	Unique   bool     `json:"unique,omitempty"`
	Pattern  string   `json:"pattern,omitempty"`
}

type Drift struct {
	Columns []string `json:"columns"`
}

type Evaluation struct {
	Predictions string   `json:"predictions"`
	Label       string   `json:"label"`
	Score       string   `json:"score,omitempty"`
	Prediction  string   `json:"prediction,omitempty"`
	Threshold   *float64 `json:"threshold,omitempty"`
	Baseline    string   `json:"baseline,omitempty"`
}

type Fairness struct {
	SensitiveAttributes []string          `json:"sensitiveAttributes"`
	ReferenceGroups     map[string]string `json:"referenceGroups,omitempty"`
}

// File is a data file a manifest names, with the role the checks read it in
// (the roles of the evidence's inputs).
type File struct {
	Role string
	Path string // as the manifest names it: relative to its folder, or a URI
}

// Roles of the data files a manifest names.
const (
	RoleReference   = "reference"
	RoleCurrent     = "current"
	RolePredictions = "predictions"
	RoleBaseline    = "baseline"
)

// Files lists the data files the manifest names, in the order the checks
// read them.
func (m *Manifest) Files() []File {
	var files []File
	add := func(role, p string) {
		if p != "" {
			files = append(files, File{Role: role, Path: p})
		}
	}
	if d := m.Spec.Data; d != nil {
		add(RoleReference, d.Reference)
		add(RoleCurrent, d.Current)
	}
	if e := m.Spec.Evaluation; e != nil {
		add(RolePredictions, e.Predictions)
		add(RoleBaseline, e.Baseline)
	}
	return files
}

// URIs lists the data files the manifest names by URI: data kept outside the
// repository, which only a workflow that can read it can check.
func (m *Manifest) URIs() []string {
	var uris []string
	for _, f := range m.Files() {
		if IsURI(f.Path) {
			uris = append(uris, f.Path)
		}
	}
	return uris
}

// IsURI tells a data file named by URI (s3://, gs://, https://; the schemas
// accept no other) from a path in the manifest's folder.
func IsURI(p string) bool {
	return strings.Contains(p, "://")
}

// FileNames are the names a manifest may have in its version folder, in the order
// they are looked for.
var FileNames = []string{"model.yaml", "model.yml", "model.json", "model.cue"}

// Dir is the folder of a model version: models/<name>/<version>.
func Dir(name, version string) string {
	return path.Join("models", name, version)
}

package lineage

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Tracking is an MLflow tracking server or file store.
type Tracking interface {
	// Run returns the run with the given id; a run that does not exist is an
	// error.
	Run(ctx context.Context, id string) (*Run, error)
	// ModelVersion returns a registered model's version.
	ModelVersion(ctx context.Context, name, version string) (*ModelVersion, error)
	// URI names the store in the evidence and in errors, without credentials.
	URI() string
}

// Run is what the checks need of an MLflow run.
type Run struct {
	ID          string
	Status      string // RUNNING, SCHEDULED, FINISHED, FAILED or KILLED
	ArtifactURI string
	Metrics     map[string]float64 // each key's value at its latest step
	Params      map[string]string
	Models      []LoggedModel
}

// LoggedModel is a model the run logged, with its signature if it has one.
type LoggedModel struct {
	ArtifactPath string
	Inputs       []SignatureInput // nil without a signature
}

// SignatureInput is an input of an MLmodel signature: a column, or a tensor
// with its dtype as Type.
type SignatureInput struct {
	Name string
	Type string
}

// ModelVersion is a registered model's version.
type ModelVersion struct {
	Name, Version, RunID, Source, Status string
}

// ParseSignatureInputs parses the inputs of an MLmodel signature, which MLflow
// keeps as a JSON string: [{"type": "double", "name": "amount",
// "required": true}, ...], or tensors [{"type": "tensor", "tensor-spec":
// {"dtype": "float64", "shape": [-1, 4]}}].
func ParseSignatureInputs(where, inputs string) ([]SignatureInput, error) {
	var items []struct {
		Name       string `json:"name"`
		Type       string `json:"type"`
		TensorSpec struct {
			DType string `json:"dtype"`
		} `json:"tensor-spec"`
	}
	if err := json.Unmarshal([]byte(inputs), &items); err != nil {
		return nil, fmt.Errorf("%s: the signature's inputs are not MLflow's JSON schema: %w", where, err)
	}
	out := make([]SignatureInput, 0, len(items))
	for i, it := range items {
		typ := it.Type
		if typ == "tensor" {
			typ = it.TensorSpec.DType
		}
		if typ == "" {
			return nil, fmt.Errorf("%s: the signature's input %d has no type", where, i)
		}
		out = append(out, SignatureInput{Name: it.Name, Type: typ})
	}
	return out, nil
}

// logModelHistory is the tag in which MLflow records each model a run logged,
// with its signature: a JSON list of MLmodel documents.
const logModelHistory = "mlflow.log-model.history"

// parseLogModelHistory reads the models of a run's mlflow.log-model.history
// tag.
func parseLogModelHistory(where, tag string) ([]LoggedModel, error) {
	var items []struct {
		ArtifactPath string `json:"artifact_path"`
		Signature    *struct {
			Inputs *string `json:"inputs"`
		} `json:"signature"`
	}
	if err := json.Unmarshal([]byte(tag), &items); err != nil {
		return nil, fmt.Errorf("%s: tag %s is not MLflow's JSON list of logged models: %w", where, logModelHistory, err)
	}
	out := make([]LoggedModel, 0, len(items))
	for _, it := range items {
		m := LoggedModel{ArtifactPath: it.ArtifactPath}
		if it.Signature != nil && it.Signature.Inputs != nil {
			var err error
			if m.Inputs, err = ParseSignatureInputs(fmt.Sprintf("%s: tag %s: model %s", where, logModelHistory, it.ArtifactPath), *it.Signature.Inputs); err != nil {
				return nil, err
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// parseMetricValue parses a metric's value as MLflow writes it: a number, or
// for the values JSON cannot carry "NaN", "Infinity", "-Infinity" (REST) and
// "nan", "inf", "-inf" (file store).
func parseMetricValue(s string) (float64, error) {
	switch strings.ToLower(s) {
	case "nan":
		return math.NaN(), nil
	case "infinity", "inf":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}

// artifactPath is the path inside its run's artifacts of a model version's
// source: runs:/<run>/<path>, or <the run's artifact URI>/<path>, or any URI
// with .../<run id>/artifacts/<path>. ok is false when the source names no
// path in the run (a logged model of MLflow 3, models:/m-...).
func artifactPath(source string, run *Run) (string, bool) {
	if rest, ok := strings.CutPrefix(source, "runs:/"+run.ID+"/"); ok {
		return strings.Trim(rest, "/"), true
	}
	if run.ArtifactURI != "" {
		if rest, ok := strings.CutPrefix(source, strings.TrimSuffix(run.ArtifactURI, "/")+"/"); ok {
			return strings.Trim(rest, "/"), true
		}
	}
	if _, rest, ok := strings.Cut(source, "/"+run.ID+"/artifacts/"); ok {
		return strings.Trim(rest, "/"), true
	}
	return "", false
}

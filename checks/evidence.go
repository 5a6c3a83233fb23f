package checks

import (
	"bytes"
	"math"
	"strconv"

	"github.com/modelgate/modelgate/manifest"
)

// Schema identifies the version of the evidence document.
const Schema = "modelgate.evidence/v1"

// Evidence is the document that `modelgate check` writes and every policy reads;
// its JSON is defined by schemas/evidence.cue. Sections of checks the manifest
// does not declare are absent.
type Evidence struct {
	Schema     string                `json:"schema"`
	Model      Model                 `json:"model"`
	Manifest   *ManifestDigest       `json:"manifest,omitempty"`
	Inputs     []Input               `json:"inputs"`
	Data       *Data                 `json:"data,omitempty"`
	Drift      *Drift                `json:"drift,omitempty"`
	Evaluation *Evaluation           `json:"evaluation,omitempty"`
	Fairness   map[string]*Attribute `json:"fairness,omitempty"`
	Lineage    *Lineage              `json:"lineage,omitempty"`
}

// Model names the model version the evidence is about.
type Model struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ManifestDigest names the manifest file the checks ran for: an upload is
// accepted only for the manifest at the pull request's head.
type ManifestDigest struct {
	Path   string `json:"path"` // as given to modelgate check
	SHA256 string `json:"sha256"`
}

// Roles of the files a manifest names.
const (
	RoleReference   = manifest.RoleReference
	RoleCurrent     = manifest.RoleCurrent
	RolePredictions = manifest.RolePredictions
	RoleBaseline    = manifest.RoleBaseline
)

// Input is a file that was read, so that the audit can prove which data the
// numbers came from.
type Input struct {
	Role   string `json:"role"`
	Path   string `json:"path"` // as the manifest names it
	SHA256 string `json:"sha256"`
	Rows   int    `json:"rows"`
}

// Data is the result of the data contract, on the current data.
type Data struct {
	Rows     int      `json:"rows"`
	Contract Contract `json:"contract"`
}

// Contract is the verdict of the data contract.
type Contract struct {
	Passed     bool        `json:"passed"`
	Violations []Violation `json:"violations"`
}

// Violation is a contract rule that rows break.
type Violation struct {
	Column  string `json:"column"`
	Rule    string `json:"rule"`
	Count   int    `json:"count"`
	Message string `json:"message"`
	Rows    []int  `json:"rows,omitempty"`
}

// Drift is the drift of the declared columns between reference and current.
type Drift struct {
	Columns      map[string]*DriftColumn `json:"columns"`
	ShareDrifted Number                  `json:"share_drifted"`
}

// Kinds of drift columns.
const (
	KindNumeric     = "numeric"
	KindCategorical = "categorical"
)

// DriftColumn is one column's drift. Statistics that do not apply to the
// column's kind are absent; those that are undefined are null.
type DriftColumn struct {
	Kind              string  `json:"kind"`
	Method            string  `json:"method"`
	KSStatistic       *Number `json:"ks_statistic,omitempty"`
	KSPValue          *Number `json:"ks_pvalue,omitempty"`
	PSI               Number  `json:"psi"`
	Wasserstein       *Number `json:"wasserstein,omitempty"`
	WassersteinNormed *Number `json:"wasserstein_normed,omitempty"`
	JensenShannon     *Number `json:"jensen_shannon,omitempty"`
	Drifted           bool    `json:"drifted"`
}

// Evaluation is the model's quality on its evaluation predictions.
type Evaluation struct {
	Task     string            `json:"task"`
	Rows     int               `json:"rows"`
	Metrics  map[string]Number `json:"metrics"`
	Baseline *Baseline         `json:"baseline,omitempty"`
}

// Baseline is the quality of the model in production on the same rows.
type Baseline struct {
	Rows    int               `json:"rows"`
	Metrics map[string]Number `json:"metrics"`
}

// Attribute compares the groups of a sensitive attribute.
type Attribute struct {
	ReferenceGroup              string            `json:"reference_group,omitempty"`
	Groups                      map[string]*Group `json:"groups"`
	DemographicParityDifference Number            `json:"demographic_parity_difference"`
	DemographicParityRatio      Number            `json:"demographic_parity_ratio"`
	EqualizedOddsDifference     Number            `json:"equalized_odds_difference"`
	EqualOpportunityDifference  Number            `json:"equal_opportunity_difference"`
	DisparateImpactRatio        Number            `json:"disparate_impact_ratio"`
}

// Group is one group of a sensitive attribute.
type Group struct {
	Count         int    `json:"count"`
	SelectionRate Number `json:"selection_rate"`
	TPR           Number `json:"tpr"`
	FPR           Number `json:"fpr"`
	Accuracy      Number `json:"accuracy"`
}

// Lineage is what the tools that made the model recorded of it, and where that
// disagrees with the manifest or the evidence.
type Lineage struct {
	DVC        *DVCLineage    `json:"dvc,omitempty"`
	MLflow     *MLflowLineage `json:"mlflow,omitempty"`
	Mismatches []Mismatch     `json:"mismatches"`
}

// Sources of lineage.
const (
	SourceDVC    = "dvc"
	SourceMLflow = "mlflow"
)

// Mismatch is one thing the manifest or the evidence says that its lineage
// source records otherwise. Expected is what the source records, Actual what
// the manifest or the evidence says.
type Mismatch struct {
	Source   string `json:"source"`
	Subject  string `json:"subject"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	Message  string `json:"message"`
}

// DVCLineage is what was read of a DVC project.
type DVCLineage struct {
	Files   int          `json:"files"`   // .dvc files and dvc.lock files read
	Tracked []DVCTracked `json:"tracked"` // the entries compared with the manifest and the inputs
}

// DVCTracked is a file or directory that DVC records, as one .dvc file or
// dvc.lock stage records it.
type DVCTracked struct {
	Path   string `json:"path"` // relative to the DVC project's root, or a URL
	MD5    string `json:"md5"`  // 32 hex digits; a directory's without DVC's ".dir"
	Size   int64  `json:"size,omitempty"`
	NFiles int    `json:"nfiles,omitempty"` // a directory's
	Source string `json:"source"`           // the file and entry that records it
}

// MLflowLineage is what was read of an MLflow run.
type MLflowLineage struct {
	TrackingURI string            `json:"tracking_uri"`
	RunID       string            `json:"run_id"`
	Status      string            `json:"status"`
	Metrics     map[string]Number `json:"metrics"` // each key's value at its latest step
	Model       *MLflowModel      `json:"model,omitempty"`
	Signatures  []MLflowSignature `json:"signatures"`
}

// MLflowModel is a registered model version.
type MLflowModel struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	RunID   string `json:"run_id"`
	Source  string `json:"source"`
	Status  string `json:"status"`
}

// MLflowSignature is the input schema of a model the run logged.
type MLflowSignature struct {
	ArtifactPath string        `json:"artifact_path"`
	Inputs       []MLflowInput `json:"inputs"`
}

// MLflowInput is one input of a column-based signature; a tensor input has its
// dtype as type.
type MLflowInput struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Number is a statistic. It is JSON null where it is undefined (NaN), for a
// 0/0 is neither 0 nor a number JSON can carry.
type Number float64

// Undefined reports whether the number has no value.
func (n Number) Undefined() bool { return math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) }

func (n Number) MarshalJSON() ([]byte, error) {
	if n.Undefined() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(n), 'g', -1, 64), nil
}

func (n *Number) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*n = Number(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*n = Number(v)
	return nil
}

func numberPtr(v float64) *Number {
	n := Number(v)
	return &n
}

func numbers(m map[string]float64) map[string]Number {
	out := make(map[string]Number, len(m))
	for k, v := range m {
		out[k] = Number(v)
	}
	return out
}

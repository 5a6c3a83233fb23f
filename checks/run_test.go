package checks_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/checks/drift"
	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/manifest"
)

// A manifest built in Go has not been through the schema: a task the metrics do
// not know is refused, not judged as another task's.
func TestRunRefusesUnknownTask(t *testing.T) {
	m := &manifest.Manifest{Spec: manifest.Spec{
		Task:       "ranking",
		Evaluation: &manifest.Evaluation{Predictions: "p.csv", Label: "label", Prediction: "prediction"},
	}}
	files := fstest.MapFS{"p.csv": {Data: []byte("label,prediction\n1,1\n")}}
	thresholds := drift.Thresholds{NumericMethod: drift.MethodAuto, CategoricalMethod: drift.MethodPSI}
	_, err := checks.Run(t.Context(), m, files, thresholds, table.Limits{Rows: 10, Columns: 10})
	if err == nil || !strings.Contains(err.Error(), `spec.task: "ranking" is not one of binary_classification, multiclass_classification, regression`) {
		t.Fatalf("got %v, want the unknown task refused", err)
	}
}

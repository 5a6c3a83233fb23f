package checks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"testing/fstest"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/checks/drift"
	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/manifest"
)

// A program outside modelgate runs the checks of a manifest it decodes (or
// builds) itself, on files it holds in any fs.FS.
func ExampleRun() {
	var m manifest.Manifest
	err := json.Unmarshal([]byte(`{
		"apiVersion": "modelgate/v1", "kind": "Model",
		"metadata": {"name": "fraud-detector", "version": "2.3.0"},
		"spec": {
			"task": "binary_classification",
			"data": {
				"reference": "reference.csv", "current": "current.csv",
				"contract": {"columns": [{"name": "amount", "type": "float", "min": 0}]},
				"drift": {"columns": ["amount"]}
			},
			"evaluation": {"predictions": "predictions.csv", "label": "label", "score": "score"}
		}
	}`), &m)
	if err != nil {
		log.Fatal(err)
	}
	files := fstest.MapFS{
		"reference.csv":   {Data: []byte("amount\n10\n12\n11\n13\n")},
		"current.csv":     {Data: []byte("amount\n11\n-1\n12\n10\n")},
		"predictions.csv": {Data: []byte("label,score\n1,0.9\n0,0.2\n1,0.4\n0,0.6\n")},
	}
	thresholds := drift.Thresholds{
		NumericMethod: drift.MethodAuto, CategoricalMethod: drift.MethodJensenShannon,
		KSPValue: 0.05, WassersteinNormed: 0.1, JensenShannon: 0.1, PSI: 0.2, ShareDrifted: 0.5,
	}
	ev, err := checks.Run(context.Background(), &m, files, thresholds, table.Limits{Rows: 1_000_000, Columns: 100})
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range ev.Data.Contract.Violations {
		fmt.Printf("%s %s: %d row(s) %v\n", v.Column, v.Rule, v.Count, v.Rows)
	}
	fmt.Printf("amount drifted: %v by %s\n", ev.Drift.Columns["amount"].Drifted, ev.Drift.Columns["amount"].Method)
	fmt.Printf("accuracy: %v\n", ev.Evaluation.Metrics["accuracy"])
	// Output:
	// amount min: 1 row(s) [2]
	// amount drifted: false by ks
	// accuracy: 0.5
}

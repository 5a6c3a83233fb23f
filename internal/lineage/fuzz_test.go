package lineage_test

import (
	"testing"

	"github.com/modelgate/modelgate/internal/lineage"
)

// FuzzDVC feeds the parsers of what a pull request's author can write in a
// DVC project: .dvc files, dvc.lock with its dvc.yaml, directory listings.
func FuzzDVC(f *testing.F) {
	f.Add([]byte("outs:\n- md5: 22a1a2931c8370d3aeedd7183606fd7f\n  size: 14445097\n  hash: md5\n  path: data.xml\n"), []byte("stages:\n  train:\n    cmd: python train.py\n    wdir: src\n"))
	f.Add([]byte("schema: '2.0'\nstages:\n  prepare:\n    cmd: python prepare.py\n    deps:\n    - path: data/data.xml\n      hash: md5\n      md5: 22a1a2931c8370d3aeedd7183606fd7f\n      size: 14445097\n    outs:\n    - path: data/prepared\n      hash: md5\n      md5: 153aad06d376b6595932470e459ef42a.dir\n      size: 8437363\n      nfiles: 2\n"), []byte(nil))
	f.Add([]byte(`[{"md5": "22a1a2931c8370d3aeedd7183606fd7f", "relpath": "a/b.csv"}]`), []byte("stages: {x: {do: {wdir: ${item}}}}"))
	f.Add([]byte("a: &a [*a, *a]\nouts: *a\n"), []byte("{"))
	f.Fuzz(func(t *testing.T, data, stages []byte) {
		if entries, err := lineage.ParseDVCFile("d/x.dvc", data); err == nil {
			check(t, entries)
		}
		if entries, err := lineage.ParseDVCLock("d/dvc.lock", data, stages); err == nil {
			check(t, entries)
		}
		lineage.ParseDirListing("x.dir", data)
	})
}

func check(t *testing.T, entries []lineage.Entry) {
	for _, e := range entries {
		if len(e.MD5) != 32 || e.Path == "" || e.Source == "" {
			t.Fatalf("entry %+v", e)
		}
	}
}

// FuzzMLflow feeds the parsers of an MLflow file store's files and of the
// signatures a run records.
func FuzzMLflow(f *testing.F) {
	f.Add([]byte("1760000000000 0.5 0\n1760000000001 nan 2\n"))
	f.Add([]byte("artifact_path: model\nsignature:\n  inputs: '[{\"type\": \"double\", \"name\": \"amount\", \"required\": true}]'\n  outputs: '[{\"type\": \"long\"}]'\n"))
	f.Add([]byte(`[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lineage.ParseMetricFile("metrics/auc", data)
		lineage.ParseMLmodel("artifacts/model/MLmodel", data)
		if inputs, err := lineage.ParseSignatureInputs("signature", string(data)); err == nil {
			for _, in := range inputs {
				if in.Type == "" {
					t.Fatalf("input without a type: %+v", in)
				}
			}
		}
	})
}

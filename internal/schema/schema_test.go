package schema_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/schema"
)

const validModel = `apiVersion: modelgate/v1
kind: Model
metadata:
  name: fraud-detector
  version: 2.3.0
  owner: "@acme/risk-ml"
  riskTier: high
spec:
  task: binary_classification
  artifact:
    uri: s3://models/fraud-detector/2.3.0/model.onnx
    digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  evaluation: {predictions: eval/predictions.csv, label: label, score: score}
  fairness:
    sensitiveAttributes: [sex]
    referenceGroups: {sex: M}
`

// validModelJSON is validModel as JSON, which is also CUE.
const validModelJSON = `{
  "apiVersion": "modelgate/v1", "kind": "Model",
  "metadata": {"name": "fraud-detector", "version": "2.3.0", "owner": "@acme/risk-ml", "riskTier": "high"},
  "spec": {
    "task": "regression",
    "artifact": {"uri": "s3://m/x.onnx", "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
    "evaluation": {"predictions": "eval/p.csv", "label": "y", "prediction": "yhat"}
  }
}`

func newValidator(t testing.TB) *schema.Validator {
	t.Helper()
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// replace swaps one line of validModel, failing the test if the line is not there.
func replace(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(validModel, old) {
		t.Fatalf("validModel has no %q", old)
	}
	return strings.Replace(validModel, old, new, 1)
}

func TestModelErrors(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		name, file, doc, want string
	}{
		{"wrong enum", "m.yaml", replace(t, "riskTier: high", "riskTier: huge"),
			`m.yaml:7:13: metadata.riskTier: value "huge" is not one of low, medium, high`},
		{"missing required field", "m.yaml", replace(t, "  owner: \"@acme/risk-ml\"\n", ""),
			`m.yaml:3:1: metadata.owner: required field is missing`},
		{"mistyped field name", "m.yaml", replace(t, "riskTier: high", "riskTeir: high"),
			`m.yaml:7:3: metadata.riskTeir: unknown field "riskTeir" (did you mean "riskTier"?)`},
		{"bad digest", "m.yaml", replace(t, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "sha256:xyz"),
			`m.yaml:12:13: spec.artifact.digest: value "sha256:xyz" does not match pattern "^sha256:[0-9a-f]{64}$"`},
		{"yaml syntax", "m.yaml", replace(t, "  riskTier: high", " riskTier: high"),
			`m.yaml:6:3: invalid YAML: did not find expected key`},
		{"wrong type", "m.yaml", replace(t, "metadata:\n  name", "metadata: oops\nx:\n  name"),
			`m.yaml:3:11: metadata: expected a mapping, got string "oops"`},
		{"reference group not an attribute", "m.yaml", replace(t, "{sex: M}", "{gender: M}"),
			`m.yaml:16:23: spec.fairness.referenceGroups.gender: unknown field "gender"`},
		{"binary task needs score", "m.yaml", replace(t, ", score: score}", "}"),
			`m.yaml:13:3: spec.evaluation.score: required field is missing`},
		{"path escapes the model folder", "m.yaml", replace(t, "eval/predictions.csv", "../other/p.csv"),
			`m.yaml:13:29: spec.evaluation.predictions: value "../other/p.csv" must not match pattern "(^|/)\\.\\.(/|$)"`},
		{"json", "m.json", `{"apiVersion": "modelgate/v2"}`,
			`m.json:1:16: apiVersion: expected "modelgate/v1", got "modelgate/v2"`},
		{"cue syntax", "m.cue", "apiVersion: \"modelgate/v1\"\nkind: {", `m.cue:2:8:`},
		{"unsupported extension", "m.toml", "x = 1", `m.toml: unsupported file type ".toml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out map[string]any
			err := v.Decode(schema.Model, tt.file, []byte(tt.doc), &out)
			if err == nil {
				t.Fatalf("Decode accepted the document")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\ndoes not contain\n%s", err, tt.want)
			}
		})
	}
}

func TestErrorsAreOneLinePerProblem(t *testing.T) {
	v := newValidator(t)
	doc := strings.Replace(replace(t, "riskTier: high", "riskTier: huge"), "uri: s3", "uri: 3s", 1)
	err := v.Decode(schema.Model, "m.yaml", []byte(doc), new(map[string]any))
	var list schema.Errors
	if !errors.As(err, &list) {
		t.Fatalf("error %v is not schema.Errors", err)
	}
	if !errors.Is(err, schema.ErrInvalid) {
		t.Error("errors.Is(err, ErrInvalid) is false")
	}
	if len(list) != 2 || list[0].Line != 7 || list[1].Line != 11 {
		t.Errorf("want the enum error on line 7 and the URI error on line 11, got:\n%v", err)
	}
}

func TestValidModelDecodes(t *testing.T) {
	v := newValidator(t)
	var out struct {
		Metadata struct{ Name, Version string }
	}
	docs := map[string]string{"m.yaml": validModel, "m.cue": validModelJSON, "m.json": validModelJSON}
	for file, doc := range docs {
		if err := v.Decode(schema.Model, file, []byte(doc), &out); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if out.Metadata.Name != "fraud-detector" || out.Metadata.Version != "2.3.0" {
			t.Errorf("%s: decoded %+v", file, out)
		}
	}
}

func TestEmptyConfigHasSpecDefaults(t *testing.T) {
	v := newValidator(t)
	var cfg struct {
		Stages []struct {
			Name, Soak string
		}
		Approvals map[string]struct {
			Count int
			Teams []string
		}
	}
	if err := v.Decode(schema.Config, "config.yaml", []byte("# defaults only\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, s := range cfg.Stages {
		stages = append(stages, s.Name+"/"+s.Soak)
	}
	if got := strings.Join(stages, " "); got != "dev/0s staging/24h production/72h" {
		t.Errorf("stages = %s", got)
	}
	for key, want := range map[string]string{"staging": "1 []", "production": "2 [compliance]", "policyChange": "2 [compliance]"} {
		r := cfg.Approvals[key]
		if got := strings.TrimSpace(strings.Join([]string{itoa(r.Count), "[" + strings.Join(r.Teams, ",") + "]"}, " ")); got != want {
			t.Errorf("approvals.%s = %s, want %s", key, got, want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestConfigErrors(t *testing.T) {
	v := newValidator(t)
	tests := []struct{ name, doc, want string }{
		{"bad soak", "stages: [{name: dev}, {name: prod, soak: 3days}]\n",
			`c.yaml:1:42: stages[1].soak: value "3days" does not match pattern`},
		{"approval for a stage that does not exist", "approvals:\n  prodution: {count: 2}\n",
			`c.yaml:2:3: approvals.prodution: unknown field "prodution"`},
		{"duplicate stage", "stages: [{name: dev}, {name: dev}]\n",
			`c.yaml:1:1: stages: invalid value ["dev","dev"] (does not satisfy list.UniqueItems)`},
		{"merge method", "merge: {method: fast}\n",
			`c.yaml:1:17: merge.method: value "fast" is not one of squash, merge, rebase`},
		{"negative count", "approvals: {staging: {count: -1}}\n",
			`c.yaml:1:30: approvals.staging.count: value -1 is out of range: must be >=0`},
		{"threshold out of range", "thresholds: {fairness: {disparateImpactMin: 1.5}}\n",
			`c.yaml:1:45: thresholds.fairness.disparateImpactMin: value 1.5 is out of range: must be <=1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Decode(schema.Config, "c.yaml", []byte(tt.doc), new(map[string]any))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\ndoes not contain\n%s", err, tt.want)
			}
			if err != nil && strings.Count(err.Error(), "\n") != 0 {
				t.Errorf("want exactly one error, got:\n%v", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	v := newValidator(f)
	f.Add("m.yaml", validModel)
	f.Add("m.json", `{"apiVersion": "modelgate/v1", "metadata": {"name": 1}}`)
	f.Add("m.cue", "apiVersion: \"modelgate/v1\"\nmetadata: name: _|_\n")
	f.Add("m.yaml", "a: [1, 2\nb: 3\n")
	f.Add("m.yaml", "- 1\n---\n- 2\n")
	f.Add("m.yaml", "a: "+strings.Repeat("[", 120))
	f.Add("m.yaml", staircase(120))
	f.Add("m.json", strings.Repeat("{\"a\": ", 120))
	f.Add("m.cue", strings.Repeat("a: ", 120)+"1")
	f.Add("m.cue", "a: [for x in [1] {x}]\nb: c\n")
	f.Add("m.cue", "a: \"\\("+strings.Repeat("[", 120)+"\"\n")
	f.Fuzz(func(t *testing.T, name, doc string) {
		for _, def := range []schema.Definition{schema.Model, schema.Config, schema.Environment} {
			err := v.Decode(def, name, []byte(doc), new(map[string]any))
			var list schema.Errors
			if errors.As(err, &list) {
				for _, e := range list {
					if e.Line < 1 || e.Column < 1 || e.Message == "" {
						t.Fatalf("imprecise error %+v for %q", e, doc)
					}
				}
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	v := newValidator(b)
	for _, tt := range []struct{ file, doc string }{{"m.yaml", validModel}, {"m.json", validModelJSON}, {"m.cue", validModelJSON}} {
		b.Run(tt.file, func(b *testing.B) {
			for b.Loop() {
				if err := v.Decode(schema.Model, tt.file, []byte(tt.doc), new(map[string]any)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		newValidator(b)
	}
}

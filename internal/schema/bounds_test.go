package schema_test

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/schema"
)

// decodeWithin decodes doc, failing the test if the validator has not answered
// within a minute: a document that makes it run for hours must fail the test, not
// hang it.
func decodeWithin(t *testing.T, v *schema.Validator, def schema.Definition, file, doc string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- v.Decode(def, file, []byte(doc), new(map[string]any)) }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("%s: Decode still running after a minute", file)
		return nil
	}
}

// staircase nests n block mappings, each one space deeper than the last.
func staircase(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	return b.String()
}

func TestDeepDocumentsAreRefused(t *testing.T) {
	v := newValidator(t)
	tests := []struct{ name, file, doc, want string }{
		{"flow sequences, 80 KB", "m.yaml", "a: " + strings.Repeat("[", 40000) + strings.Repeat("]", 40000) + "\n",
			"m.yaml:1:103: nesting deeper than 100 levels"},
		{"flow sequences, 200 KB", "m.yaml", "a: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n",
			"m.yaml:1:103: nesting deeper than 100 levels"},
		{"unclosed flow sequences", "m.yaml", strings.Repeat("[", 80000),
			"m.yaml:1:101: nesting deeper than 100 levels"},
		{"flow mappings over lines", "m.yaml", "a:\n" + strings.Repeat("  {b:\n", 20000),
			"m.yaml:101:3: nesting deeper than 100 levels"},
		{"block sequences", "m.yaml", strings.Repeat("- ", 40000) + "1\n",
			"m.yaml:1:201: nesting deeper than 100 levels"},
		{"block mappings", "m.yaml", staircase(400),
			"m.yaml:101:101: nesting deeper than 100 levels"},
		{"brackets in strings and comments do not count", "m.yaml",
			"a: \"" + strings.Repeat("[", 200) + "\" # " + strings.Repeat("{", 200) + "\nb: '" + strings.Repeat("[", 200) + "'\nc: |\n  " + strings.Repeat("- ", 200) + "\nd: " + strings.Repeat("[", 101),
			"m.yaml:5:103: nesting deeper than 100 levels"},
		{"a quote inside a plain scalar in a flow", "m.yaml", "a: [it's, " + strings.Repeat("[", 100),
			"m.yaml:1:109: nesting deeper than 100 levels"},
		{"a block scalar ends at the next document", "m.yaml", "a: |\n  x\n---\n" + strings.Repeat("[", 101),
			"m.yaml:4:100: nesting deeper than 100 levels"},
		{"json arrays", "m.json", strings.Repeat("[", 40000) + strings.Repeat("]", 40000),
			"m.json:1:101: nesting deeper than 100 levels"},
		{"json objects", "m.json", "{\"a\": \"[[[[\", \"b\": " + strings.Repeat("{\"b\": ", 40000),
			"m.json:1:614: nesting deeper than 100 levels"},
		{"cue lists", "m.cue", "a: " + strings.Repeat("[", 40000) + strings.Repeat("]", 40000),
			"m.cue:1:103: nesting deeper than 100 levels"},
		{"cue field chains", "m.cue", strings.Repeat("a: ", 40000) + "1",
			"m.cue:1:302: nesting deeper than 100 levels"},
		{"cue interpolations", "m.cue", "a: \"\\(" + strings.Repeat("[", 100),
			"m.cue:1:105: nesting deeper than 100 levels"},
		{"cue raw strings", "m.cue", "a: #\"x\\#(" + strings.Repeat("[", 100),
			"m.cue:1:108: nesting deeper than 100 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeWithin(t, v, schema.Model, tt.file, tt.doc)
			if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%.300v\ndoes not contain\n%s", err, tt.want)
			}
		})
	}
}

func TestAliasesAreBounded(t *testing.T) {
	v := newValidator(t)
	doc := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, name := range strings.Split("bcdefghij", "") {
		prev := string(rune('a' + i))
		doc += name + ": &" + name + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+", ", 10), ", ") + "]\n"
	}
	err := decodeWithin(t, v, schema.Model, "m.yaml", doc)
	if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), "m.yaml:1:1: invalid YAML: aliases expand to more than 50000 nodes") {
		t.Errorf("error %.300v does not refuse the aliases", err)
	}
}

// bomb is a manifest of 379 bytes whose nested comprehensions CUE evaluates for
// hours.
const bomb = `apiVersion: "modelgate/v1"
kind:       "Model"
metadata: {name: "bomb", version: "1.0.0", owner: "@acme/ml", riskTier: "low"}
spec: {
	task: "regression"
	artifact: {uri: "s3://m/x", digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	limitations: [for a in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] for b in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] for c in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] for d in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] for e in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] for f in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] for g in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] for h in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] {"\(a)\(b)\(c)\(d)\(e)\(f)\(g)\(h)"}]
}
`

func TestCUEDocumentsHoldDataOnly(t *testing.T) {
	v := newValidator(t)
	tests := []struct{ name, doc, want string }{
		{"comprehension", bomb, `m.cue:7:16: a comprehension is not data`},
		{"reference", "apiVersion: kind\nkind: \"Model\"\n", `m.cue:1:13: a reference (kind) is not data`},
		{"import", "import \"list\"\napiVersion: \"modelgate/v1\"\n", `m.cue:1:1: an import is not data`},
		{"let clause", "let x = 1\napiVersion: \"modelgate/v1\"\n", `m.cue:1:1: a let clause is not data`},
		{"interpolation", "kind: \"M\\(1)\"\n", `m.cue:1:7: an interpolation is not data`},
		{"definition", "#Model: {}\n", `m.cue:1:1: a definition (#Model) is not data`},
		{"hidden field", "_x: 1\n", `m.cue:1:1: a hidden field (_x) is not data`},
		{"optional field", "kind?: \"Model\"\n", `m.cue:1:1: an optional or required field is not data`},
		{"unification", "kind: \"Model\" & string\n", `m.cue:1:15: an expression (&) is not data`},
		{"disjunction", "kind: *\"Model\" | \"X\"\n", `m.cue:1:16: an expression (|) is not data`},
		{"call", "kind: len(\"x\")\n", `m.cue:1:7: a call is not data`},
		{"bound", "metadata: {labels: {a: >=1}}\n", `m.cue:1:24: an expression (>=) is not data`},
		{"ellipsis", "spec: {...}\n", `m.cue:1:8: an ellipsis is not data`},
		{"pattern", "metadata: labels: [string]: \"x\"\n", `m.cue:1:19: a pattern or dynamic field is not data`},
		{"alias", "X=kind: \"Model\"\n", `m.cue:1:1: an alias is not data`},
		{"bottom", "metadata: name: _|_\n", `m.cue:1:17: bottom (_|_) is not data`},
		{"top", "metadata: name: _\n", `m.cue:1:17: a reference (_) is not data`},
		{"attribute", "kind: \"Model\" @go(Kind)\n", `m.cue:1:15: an attribute is not data`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeWithin(t, v, schema.Model, "m.cue", tt.doc)
			if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%.300v\ndoes not contain\n%s", err, tt.want)
			}
		})
	}
}

func TestCUEDataDecodes(t *testing.T) {
	v := newValidator(t)
	doc := `package manifest

// A model in CUE's own syntax.
apiVersion: "modelgate/v1"
kind:       "Model"
metadata: name: "fraud-detector"
metadata: {version: "2.3.0", owner: "@acme/risk-ml", riskTier: "high"}
spec: {
	task: "regression"
	artifact: {uri: "s3://m/x.onnx", digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	evaluation: {predictions: "eval/p.csv", label: "y", prediction: "yhat", threshold: +0.5}
	data: {current: "d.csv", contract: columns: [{name: "a", type: "float", min: -1e3}]}
}
`
	var out struct {
		Metadata struct{ Name, Version string }
	}
	if err := v.Decode(schema.Model, "m.cue", []byte(doc), &out); err != nil {
		t.Fatal(err)
	}
	if out.Metadata.Name != "fraud-detector" || out.Metadata.Version != "2.3.0" {
		t.Errorf("decoded %+v", out)
	}
}

// blocking is decoded into by a validation that holds on until it is released.
type blocking struct {
	entered, release chan struct{}
}

func (b *blocking) UnmarshalJSON([]byte) error {
	close(b.entered)
	<-b.release
	return nil
}

func TestDecodesProceedInParallel(t *testing.T) {
	v := newValidator(t)
	first := &blocking{entered: make(chan struct{}), release: make(chan struct{})}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(first.release)
	wg.Go(func() {
		if err := v.Decode(schema.Model, "first.yaml", []byte(validModel), first); err != nil {
			t.Error(err)
		}
	})
	<-first.entered
	if err := decodeWithin(t, v, schema.Model, "second.json", validModelJSON); err != nil {
		t.Fatal(err)
	}
}

// names lists n attribute names, and n reference groups keyed by them.
func names(n int) (attrs, groups string) {
	a, g := make([]string, n), make([]string, n)
	for i := range n {
		a[i] = "a" + strconv.Itoa(i)
		g[i] = a[i] + ": x"
	}
	return strings.Join(a, ", "), strings.Join(g, ", ")
}

// TestLongListsAreRefusedCheaply: the schema's checks on lists of names cost time
// quadratic in their length, so their length is bounded.
func TestLongListsAreRefusedCheaply(t *testing.T) {
	v := newValidator(t)
	attrs, groups := names(10000)
	fairness := strings.Replace(strings.Replace(validModel, "sensitiveAttributes: [sex]", "sensitiveAttributes: ["+attrs+"]", 1),
		"referenceGroups: {sex: M}", "referenceGroups: {"+groups+"}", 1)
	drift := strings.Replace(validModel, "  fairness:", "  data: {current: c.csv, reference: r.csv, drift: {columns: ["+attrs+"]}}\n  fairness:", 1)
	for doc, want := range map[string]string{
		fairness: "m.yaml:15:26: spec.fairness.sensitiveAttributes: the list has more items than list.MaxItems(1000) allows",
		drift:    "m.yaml:14:61: spec.data.drift.columns: the list has more items than list.MaxItems(1000) allows",
	} {
		if err := decodeWithin(t, v, schema.Model, "m.yaml", doc); err == nil || err.Error() != want {
			t.Errorf("error %.300v, want %s", err, want)
		}
	}
	attrs, groups = names(999)
	doc := strings.Replace(strings.Replace(validModel, "sensitiveAttributes: [sex]", "sensitiveAttributes: ["+attrs+", a7]", 1),
		"referenceGroups: {sex: M}", "referenceGroups: {"+groups+"}", 1)
	const want = "m.yaml:15:26: spec.fairness.sensitiveAttributes: invalid value"
	if err := decodeWithin(t, v, schema.Model, "m.yaml", doc); err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "(does not satisfy list.UniqueItems)") {
		t.Errorf("error %.300v, want a duplicate reported", err)
	}
}

// TestManyUnknownFieldsAreReportedCheaply: each unknown field is reported, and
// the likely meant name looked for among the fields the schema allows only for
// the first few.
func TestManyUnknownFieldsAreReportedCheaply(t *testing.T) {
	v := newValidator(t)
	attrs, _ := names(999)
	unknown := make([]string, 10000)
	for i := range unknown {
		unknown[i] = "b" + strconv.Itoa(i) + ": x"
	}
	doc := strings.Replace(strings.Replace(validModel, "sensitiveAttributes: [sex]", "sensitiveAttributes: ["+attrs+"]", 1),
		"referenceGroups: {sex: M}", "referenceGroups: {"+strings.Join(unknown, ", ")+"}", 1)
	err := decodeWithin(t, v, schema.Model, "m.yaml", doc)
	var list schema.Errors
	if !errors.As(err, &list) || len(list) != len(unknown) {
		t.Fatalf("want %d errors, got %.300v", len(unknown), err)
	}
	if want := `m.yaml:16:23: spec.fairness.referenceGroups.b0: unknown field "b0" (did you mean "a0"?)`; list[0].Error() != want {
		t.Errorf("first error %s, want %s", list[0], want)
	}
}

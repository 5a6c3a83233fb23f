package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/checks/drift"
	"github.com/modelgate/modelgate/checks/internal/golden"
	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/schema"
)

// defaultConfig is an empty config with its defaults.
func defaultConfig(t testing.TB, v *schema.Validator) *gitops.Config {
	t.Helper()
	var cfg gitops.Config
	if err := v.Decode(schema.Config, "config.yaml", nil, &cfg); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// check runs the checks of a manifest and returns the evidence as the JSON
// document it is written as, validated against the evidence schema.
func check(t *testing.T, v *schema.Validator, manifestPath string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := gitops.ParseManifest(v, manifestPath, data)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig(t, v)
	ev, err := Run(context.Background(), m, os.DirFS(filepath.Dir(manifestPath)), drift.Thresholds(cfg.Thresholds.Drift), table.Limits{Rows: cfg.Limits.Rows, Columns: cfg.Limits.Columns})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Decode(schema.Evidence, "evidence.json", doc, new(map[string]any)); err != nil {
		t.Fatalf("the evidence does not match its schema: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(doc, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGoldens runs the checks of every test case and compares each number with
// the reference implementations' (checks/reference/generate.py).
func TestGoldens(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := filepath.Glob("testdata/*/golden.json")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, g := range cases {
		dir := filepath.Dir(g)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			compareGolden(t, g, check(t, v, filepath.Join(dir, "model.yaml")))
		})
	}
}

// TestExamples does the same for the example repository's manifests.
func TestExamples(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	goldens, err := filepath.Glob("testdata/examples/*.json")
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no example goldens: %v", err)
	}
	for _, g := range goldens {
		name := strings.TrimSuffix(filepath.Base(g), ".json")
		i := strings.LastIndex(name, "-")
		path := filepath.Join("..", "examples", "gitops", "models", name[:i], name[i+1:], "model.yaml")
		t.Run(name, func(t *testing.T) {
			compareGolden(t, g, check(t, v, path))
		})
	}
}

func compareGolden(t *testing.T, goldenPath string, got map[string]any) {
	t.Helper()
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	got["inputs"] = byKey(got["inputs"], func(m map[string]any) string { return m["role"].(string) })
	if d, ok := got["data"].(map[string]any); ok {
		c := d["contract"].(map[string]any)
		c["violations"] = byKey(c["violations"], func(m map[string]any) string { return m["column"].(string) + "/" + m["rule"].(string) })
	}
	n := compare(t, "", want, got)
	if n < 5 {
		t.Errorf("only %d values compared", n)
	}
}

// byKey turns a list of objects into an object keyed by key.
func byKey(list any, key func(map[string]any) string) map[string]any {
	out := make(map[string]any)
	for _, e := range list.([]any) {
		m := e.(map[string]any)
		out[key(m)] = m
	}
	return out
}

// compare compares the golden value want with got at path and returns how many
// leaves it compared. Objects must have the same keys, but for the top level and
// a violation, where the golden names only what the reference computes.
func compare(t *testing.T, path string, want, got any) int {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %v, want an object", path, got)
			return 0
		}
		subset := path == "" || strings.HasPrefix(path, "data.contract.violations.") || strings.HasPrefix(path, "inputs.")
		if !subset && !sameKeys(w, g) {
			t.Errorf("%s: got keys %v, want %v", path, keys(g), keys(w))
		}
		n := 0
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s: missing", join(path, k))
				continue
			}
			n += compare(t, join(path, k), wv, gv)
		}
		return n
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %v", path, got, want)
			return 0
		}
		n := 0
		for i := range w {
			n += compare(t, fmt.Sprintf("%s[%d]", path, i), w[i], g[i])
		}
		return n
	case float64:
		g, ok := got.(float64)
		if !ok {
			t.Errorf("%s: got %v, want %v", path, got, w)
			return 1
		}
		rel := golden.Relative
		if strings.HasSuffix(path, ".ks_pvalue") {
			rel = golden.KSPValue
		}
		if !golden.Close(g, w, rel) {
			t.Errorf("%s: got %v, want %v (relative error %.2g)", path, g, w, math.Abs(g-w)/math.Abs(w))
		}
		return 1
	default:
		if got != want {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
		return 1
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sameKeys(a, b map[string]any) bool {
	return slices.Equal(keys(a), keys(b))
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

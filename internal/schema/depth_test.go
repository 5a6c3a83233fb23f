package schema

import (
	"testing"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	cuejson "cuelang.org/go/encoding/json"
	cueyaml "cuelang.org/go/encoding/yaml"
)

// nesting is how deeply structs and lists nest in a parsed document.
func nesting(n ast.Node) int {
	deepest := 0
	var walk func(n ast.Node, depth int)
	walk = func(n ast.Node, depth int) {
		switch n := n.(type) {
		case *ast.File:
			for _, d := range n.Decls {
				walk(d, depth)
			}
		case *ast.Field:
			walk(n.Value, depth)
		case *ast.EmbedDecl:
			walk(n.Expr, depth)
		case *ast.StructLit:
			deepest = max(deepest, depth+1)
			for _, d := range n.Elts {
				walk(d, depth+1)
			}
		case *ast.ListLit:
			deepest = max(deepest, depth+1)
			for _, e := range n.Elts {
				walk(e, depth+1)
			}
		}
	}
	walk(n, 0)
	return deepest
}

// FuzzDepth checks that the scans never count a document shallower than it is:
// whatever they let through at a small limit, the parser nests no deeper.
func FuzzDepth(f *testing.F) {
	for _, seed := range []string{
		"a: [[1]]\n", "- - - 1\n", "a:\n  b:\n    c: 1\n", "a: {b: [c, {d: e}]}\n", "a: |\n  [[[[\nb: 1\n",
		"a: \"[[\\\"[[\"\nb: '[['' [['\n", "a: [it's, [x]]\n", "? [a]\n: [b]\n", "--- [[1]]\n--- {a: {b: 1}}\n",
		"a: &x [[1]]\nb: *x\n", "a: !!seq [[1]]\n", "a: b # [[[\n", "{\"a\": [[\"[[\"]]}", `a: b: c: [d]`,
		`a: #"x\#([1])"#`, `a: """` + "\n  [[[\n  " + `"""`, "a: 'x\\([[1]])'", "// [[[\na: [1]",
	} {
		f.Add(seed)
	}
	const limit = 3
	f.Fuzz(func(t *testing.T, doc string) {
		data := []byte(doc)
		if checkYAMLDepth("m.yaml", data, limit) == nil {
			if file, err := cueyaml.Extract("m.yaml", data); err == nil && nesting(file) > limit {
				t.Errorf("YAML scan let through a document nested %d levels deep: %q", nesting(file), doc)
			}
		}
		if checkBracketDepth("m.json", data, false, limit) == nil {
			if expr, err := cuejson.Extract("m.json", data); err == nil && nesting(expr) > limit {
				t.Errorf("JSON scan let through a document nested %d levels deep: %q", nesting(expr), doc)
			}
		}
		if checkBracketDepth("m.cue", data, true, limit) == nil {
			if file, err := parser.ParseFile("m.cue", data); err == nil && nesting(file) > limit {
				t.Errorf("CUE scan let through a document nested %d levels deep: %q", nesting(file), doc)
			}
		}
	})
}

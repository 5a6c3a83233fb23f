package policies_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	rego "github.com/open-policy-agent/opa/v1/ast"

	"github.com/modelgate/modelgate/policies"
)

// codePattern is what a waiver may name (schemas/waivers.cue): dotted, lower
// case. The App's HTTP error codes (missing_token) are not deny codes.
var codePattern = regexp.MustCompile(`^[a-z][a-z_]*(\.[a-z][a-z_]*)+$`)

// TestREADMEListsEveryCode fails when a deny or warn code that the gate, its
// policy engine or a built-in policy emits is missing from the tables of
// policies/README.md, or when the tables list a code nothing emits: waivers
// and organisations' policies are written against that list.
func TestREADMEListsEveryCode(t *testing.T) {
	emitted := make(map[string]string) // code → where it is emitted
	goCodes(t, filepath.Join(".."), emitted)
	var fromGo int
	for _, where := range emitted {
		if strings.HasSuffix(where, ".go") {
			fromGo++
		}
	}
	regoCodes(t, emitted)
	if fromGo < 6 || len(emitted)-fromGo < 20 {
		t.Fatalf("found %d codes in Go and %d in Rego: the search is broken", fromGo, len(emitted)-fromGo)
	}

	listed := readmeCodes(t, "README.md")
	for code, where := range emitted {
		if !listed[code] {
			t.Errorf("%s emits %s, which policies/README.md does not list", where, code)
		}
	}
	for code := range listed {
		if _, ok := emitted[code]; !ok {
			t.Errorf("policies/README.md lists %s, which nothing emits", code)
		}
	}
}

// goCodes finds the module's string constants named Code… and the literal
// values of Code fields, outside tests.
func goCodes(t *testing.T, root string, codes map[string]string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		add := func(e ast.Expr) {
			lit, ok := e.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && codePattern.MatchString(s) {
				codes[s] = path
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.ValueSpec:
				for i, name := range x.Names {
					if strings.HasPrefix(name.Name, "Code") && i < len(x.Values) {
						add(x.Values[i])
					}
				}
			case *ast.KeyValueExpr:
				if id, ok := x.Key.(*ast.Ident); ok && id.Name == "Code" {
					add(x.Value)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// regoCodes finds the codes of the built-in policies: the first argument of
// lib.message or of a function of the module whose first parameter is code,
// and the code of a message object written out.
func regoCodes(t *testing.T, codes map[string]string) {
	t.Helper()
	for _, m := range policies.Modules() {
		if strings.HasSuffix(m.Path, "_test.rego") {
			continue
		}
		mod, err := rego.ParseModuleWithOpts(m.Path, string(m.Source), rego.ParserOptions{RegoVersion: rego.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		builders := []string{"lib.message"}
		for _, r := range mod.Rules {
			if len(r.Head.Args) > 0 && r.Head.Args[0].String() == "code" {
				builders = append(builders, r.Head.Ref().String())
			}
		}
		add := func(term *rego.Term) {
			if s, ok := term.Value.(rego.String); ok && codePattern.MatchString(string(s)) {
				codes[string(s)] = m.Path
			}
		}
		rego.WalkTerms(mod, func(term *rego.Term) bool {
			switch v := term.Value.(type) {
			case rego.Call:
				if len(v) > 1 && slices.Contains(builders, v[0].String()) {
					add(v[1])
				}
			case rego.Object:
				if c := v.Get(rego.StringTerm("code")); c != nil {
					add(c)
				}
			}
			return false
		})
	}
}

// readmeCodes reads the codes of the README's tables: the column headed code
// or codes.
func readmeCodes(t *testing.T, path string) map[string]bool {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tick := regexp.MustCompile("`([^`]+)`")
	codes := make(map[string]bool)
	column := -1
	for line := range strings.SplitSeq(string(text), "\n") {
		if !strings.HasPrefix(line, "|") {
			column = -1
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if column < 0 {
			column = slices.IndexFunc(cells, func(c string) bool {
				c = strings.TrimSpace(c)
				return c == "code" || c == "codes"
			})
			if column < 0 {
				column = len(cells) // a table of something else
			}
			continue
		}
		if column >= len(cells) {
			continue
		}
		for _, m := range tick.FindAllStringSubmatch(cells[column], -1) {
			if codePattern.MatchString(m[1]) {
				codes[m[1]] = true
			}
		}
	}
	return codes
}

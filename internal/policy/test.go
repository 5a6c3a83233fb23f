package policy

import (
	"context"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego test rule.
type TestResult struct {
	Package  string `json:"package"`
	Name     string `json:"name"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Pass     bool   `json:"pass"`
	Error    string `json:"error,omitempty"`
	Duration int64  `json:"duration_ns"`
}

// Test runs the test rules (test_*) of the modules for which run is true; the
// other modules are there for the tests to use.
func Test(ctx context.Context, modules []Module, run func(path string) bool) ([]TestResult, error) {
	parsed := make(map[string]*ast.Module, len(modules))
	for _, m := range modules {
		p, err := ast.ParseModuleWithOpts(m.Path, string(m.Source), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, compileError(err)
		}
		if p != nil {
			parsed[m.Path] = p
		}
	}
	caps, err := capabilities()
	if err != nil {
		return nil, err
	}
	ch, err := tester.NewRunner().
		// The runner's own compiler would offer every builtin; print stays
		// on, as it is in opa test.
		SetCompiler(ast.NewCompiler().WithCapabilities(caps).WithDefaultRegoVersion(ast.RegoV1).WithEnablePrintStatements(true)).
		SetDefaultRegoVersion(ast.RegoV1).
		RaiseBuiltinErrors(true).
		SetTimeout(Timeout).
		Run(ctx, parsed)
	if err != nil {
		return nil, compileError(err)
	}
	var results []TestResult
	for r := range ch {
		if r.Location == nil || !run(r.Location.File) {
			continue
		}
		tr := TestResult{Package: strings.TrimPrefix(r.Package, "data."), Name: r.Name, File: r.Location.File, Line: r.Location.Row,
			Pass: r.Pass(), Duration: r.Duration.Nanoseconds()}
		switch {
		case r.Error != nil:
			tr.Error = r.Error.Error()
		case r.Fail:
			tr.Error = "the test rule is false or undefined"
		}
		results = append(results, tr)
	}
	slices.SortStableFunc(results, func(a, b TestResult) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	return results, nil
}

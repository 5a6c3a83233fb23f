// Package policies holds modelgate's built-in Rego policies and their tests.
package policies

import (
	"embed"
	"io/fs"

	"github.com/modelgate/modelgate/internal/policy"
)

//go:embed *.rego
var files embed.FS

// Modules returns the built-in policies with their tests, named policies/<file>
// and marked built-in.
func Modules() []policy.Module {
	names, _ := fs.Glob(files, "*.rego") // the pattern is valid and the files are embedded
	modules := make([]policy.Module, 0, len(names))
	for _, n := range names {
		src, _ := files.ReadFile(n) // embedded files always read
		modules = append(modules, policy.Module{Path: "policies/" + n, Source: src, Builtin: true})
	}
	return modules
}

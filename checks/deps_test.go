package checks_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/modelgate/modelgate"

// TestDependencies pins the rule that lets a program outside this module run
// the checks: they depend on their inputs only, never on how modelgate reads a
// repository, its config or its documents (gitops, CUE, YAML), and the
// manifest they take is built of the standard library alone.
func TestDependencies(t *testing.T) {
	for _, dep := range deps(t, module+"/checks") {
		switch {
		case dep.standard:
		case strings.HasPrefix(dep.path, module+"/"):
			rel := strings.TrimPrefix(dep.path, module+"/")
			if rel != "manifest" && rel != "checks" && !strings.HasPrefix(rel, "checks/") {
				t.Errorf("checks depends on %s, which is not the checks' own nor the manifest", dep.path)
			}
		case strings.Contains(dep.path, "cue") || strings.Contains(dep.path, "yaml"):
			t.Errorf("checks depends on %s: documents are decoded by the caller", dep.path)
		}
	}
	for _, dep := range deps(t, module+"/manifest") {
		if !dep.standard {
			t.Errorf("manifest depends on %s, which is not in the standard library", dep.path)
		}
	}
}

type dependency struct {
	path     string
	standard bool
}

// deps lists the packages pkg imports, directly or not, as the go command
// resolves them for a build (tests excluded).
func deps(t *testing.T, pkg string) []dependency {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var list []dependency
	for line := range strings.Lines(string(out)) {
		path, standard, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			t.Fatalf("go list -deps %s: unexpected line %q", pkg, line)
		}
		if path != pkg {
			list = append(list, dependency{path: path, standard: standard == "true"})
		}
	}
	if len(list) == 0 {
		t.Fatalf("go list -deps %s listed nothing", pkg)
	}
	return list
}

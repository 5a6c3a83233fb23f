package gitops_test

import (
	"errors"
	"path"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/gitops"
)

func TestCheckPath(t *testing.T) {
	for _, p := range []string{".", "README.md", "models/a/1.0.0/model.yaml", "data/my-file.csv", "a/-b", "a..b/c", ".modelgate/config.yaml"} {
		if err := gitops.CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", p, err)
		}
	}
	for p, reason := range map[string]string{
		"":                 "empty",
		"/etc/passwd":      "not a clean, slash-separated path inside the tree",
		"..":               "not a clean, slash-separated path inside the tree",
		"../x":             "not a clean, slash-separated path inside the tree",
		"a/../../x":        "not a clean, slash-separated path inside the tree",
		"a/../b":           "not a clean, slash-separated path inside the tree",
		"./a":              "not a clean, slash-separated path inside the tree",
		"a//b":             "not a clean, slash-separated path inside the tree",
		"a/":               "not a clean, slash-separated path inside the tree",
		"--output=/tmp/x":  `starts with "-"`,
		"-":                `starts with "-"`,
		"a\x00b":           "holds a NUL byte",
		`..\..\etc\passwd`: "holds a backslash",
		`models\a`:         "holds a backslash",
	} {
		err := gitops.CheckPath(p)
		var pe *gitops.PathError
		if !errors.As(err, &pe) || pe.Path != p || pe.Reason != reason {
			t.Errorf("CheckPath(%q) = %v, want a *PathError: %s", p, err, reason)
		}
	}
}

// FuzzCheckPath: a path CheckPath takes names a file inside the tree, one
// way, and git cannot read it as an option.
func FuzzCheckPath(f *testing.F) {
	for _, p := range []string{".", "a/b", "../a", "a/./b", "-a", "a\\b", "a\x00", "/", "models/a/1.0.0/data/current.csv"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := gitops.CheckPath(p)
		if err != nil {
			var pe *gitops.PathError
			if !errors.As(err, &pe) || pe.Path != p || pe.Reason == "" {
				t.Fatalf("CheckPath(%q) = %v, want a *PathError naming it", p, err)
			}
			return
		}
		if under := path.Join("/tree", p); under != "/tree" && !strings.HasPrefix(under, "/tree/") {
			t.Fatalf("CheckPath(%q) took a path that leads to %s, out of the tree", p, under)
		}
		if path.Clean(p) != p {
			t.Fatalf("CheckPath(%q) took a path whose clean form is %q", p, path.Clean(p))
		}
		if strings.HasPrefix(p, "-") || strings.ContainsAny(p, "\x00\\") {
			t.Fatalf("CheckPath(%q) took a path git or Windows would read otherwise", p)
		}
	})
}

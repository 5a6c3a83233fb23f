package gitops_test

import (
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/schema"
)

func TestConfigBranches(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := gitops.ParseConfig(v, []byte(""))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Gates("release") || cfg.Gates("main") {
		t.Errorf("the default config gates other branches: %v", cfg.Branches)
	}
	cfg, err = gitops.ParseConfig(v, []byte("branches: [release/*, hotfix]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for branch, want := range map[string]bool{
		"release/1.2": true, "hotfix": true, "release": false, "release/1/x": false, "hotfix/1": false, "main": false,
	} {
		if got := cfg.Gates(branch); got != want {
			t.Errorf("Gates(%q) = %v; want %v", branch, got, want)
		}
	}
	for _, bad := range []string{"release/[0-9]", "release/?", "a..b", "/main", "with space", ""} {
		_, err := gitops.ParseConfig(v, []byte("branches: ["+`"`+bad+`"`+"]\n"))
		if err == nil || !strings.Contains(err.Error(), "config.yaml:1:") || !strings.Contains(err.Error(), "branches[0]") {
			t.Errorf("branches: [%q]: error %v; want one naming config.yaml:1 and branches[0]", bad, err)
		}
	}
}

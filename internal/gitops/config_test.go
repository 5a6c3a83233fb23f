package gitops_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/schema"
)

// configFile is a snapshot holding only .modelgate/config.yaml.
type configFile string

func (c configFile) ReadFile(_ context.Context, p string) ([]byte, error) {
	if p != gitops.ConfigPath {
		return nil, fs.ErrNotExist
	}
	return []byte(c), nil
}

func (c configFile) ReadData(ctx context.Context, p string, _ int64) ([]byte, error) {
	return c.ReadFile(ctx, p)
}

func (configFile) ReadDir(context.Context, string) ([]string, error) { return nil, fs.ErrNotExist }

func TestConfigBranches(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg, err := gitops.LoadConfig(ctx, configFile(""), v)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Gates("release") || cfg.Gates("main") {
		t.Errorf("the default config gates other branches: %v", cfg.Branches)
	}
	cfg, err = gitops.LoadConfig(ctx, configFile("branches: [release/*, hotfix]\n"), v)
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
		_, err := gitops.LoadConfig(ctx, configFile("branches: ["+`"`+bad+`"`+"]\n"), v)
		if err == nil || !strings.Contains(err.Error(), "config.yaml:1:") || !strings.Contains(err.Error(), "branches[0]") {
			t.Errorf("branches: [%q]: error %v; want one naming config.yaml:1 and branches[0]", bad, err)
		}
	}
}

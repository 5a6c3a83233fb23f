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

func TestConfigRollbackApprovals(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := gitops.ParseConfig(v, []byte(""))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Approvals[gitops.RollbackApprovals]; got.Count != 1 || len(got.Teams) != 0 {
		t.Errorf("approvals.rollback defaults to %+v; want one approval from any team", got)
	}
	cfg, err = gitops.ParseConfig(v, []byte("approvals:\n  rollback: {count: 2, teams: [sre]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Approvals[gitops.RollbackApprovals]; got.Count != 2 || len(got.Teams) != 1 || got.Teams[0] != "sre" {
		t.Errorf("approvals.rollback is %+v; want the config's {count: 2, teams: [sre]}", got)
	}
	for _, name := range []string{"rollback", "policyChange"} {
		_, err := gitops.ParseConfig(v, []byte("stages:\n  - name: dev\n  - name: "+name+"\n"))
		if err == nil || !strings.Contains(err.Error(), "config.yaml:3:") || !strings.Contains(err.Error(), "stages[1].name") {
			t.Errorf("a stage named %s: error %v; want one naming config.yaml:3 and stages[1].name", name, err)
		}
	}
}

func TestConfigPromote(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		config string
		want   []string
	}{
		{"", []string{"auto", "auto", "command"}},
		{"stages: [{name: a}]\n", []string{"command"}},
		{"stages: [{name: a}, {name: b, promote: command}, {name: c, promote: auto}]\n", []string{"auto", "command", "auto"}},
	} {
		cfg, err := gitops.ParseConfig(v, []byte(tc.config))
		if err != nil {
			t.Fatalf("%q: %v", tc.config, err)
		}
		var got []string
		for _, s := range cfg.Stages {
			got = append(got, s.Promote)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q: promote %v; want %v", tc.config, got, tc.want)
		}
	}
	_, err = gitops.ParseConfig(v, []byte("stages: [{name: a, promote: always}]\n"))
	if err == nil || !strings.Contains(err.Error(), "stages[0].promote") {
		t.Errorf("promote: always: error %v; want one naming stages[0].promote", err)
	}
}

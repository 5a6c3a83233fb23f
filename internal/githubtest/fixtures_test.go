package githubtest

import (
	"strings"
	"testing"
)

func TestMissingFixturesSayHowToGetThem(t *testing.T) {
	t.Setenv(fixturesEnv, t.TempDir())
	for name, find := range map[string]func() (string, error){"openapi": openAPIFile, "examples": webhookExamplesFile} {
		if _, err := find(); err == nil || !strings.Contains(err.Error(), "run `make github-fixtures`") {
			t.Errorf("%s: err = %v, want one that says to run make github-fixtures", name, err)
		}
	}
}

func TestFixturesFoundFromTheModuleRoot(t *testing.T) {
	t.Setenv(fixturesEnv, "")
	if _, err := openAPIFile(); err != nil {
		t.Fatal(err)
	}
}

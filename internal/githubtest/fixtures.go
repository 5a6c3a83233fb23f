package githubtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The fixture versions pinned by the Makefile's OCTOKIT_OPENAPI_VERSION and
// WEBHOOKS_EXAMPLES_VERSION; `make github-fixtures` fetches them.
const (
	openAPIVersion          = "23.0.2"
	webhooksExamplesVersion = "7.6.1"
)

// fixturesEnv names the folder holding the fixtures when they are not in the
// module's .cache/github.
const fixturesEnv = "MODELGATE_GITHUB_FIXTURES"

func openAPIFile() (string, error) {
	return fixture("openapi-"+openAPIVersion, "api.github.com.json")
}

func webhookExamplesFile() (string, error) {
	return fixture("webhooks-examples-"+webhooksExamplesVersion, "api.github.com", "index.json")
}

// fixture returns the path of a fixture file, or an error that says how to get
// it: a test without GitHub's descriptions must fail, not pass vacuously.
func fixture(elem ...string) (string, error) {
	dir := os.Getenv(fixturesEnv)
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", fmt.Errorf("githubtest: locate the GitHub fixtures: %w (set %s or run `make github-fixtures`)", err, fixturesEnv)
		}
		dir = filepath.Join(root, ".cache", "github")
	}
	path := filepath.Join(append([]string{dir}, elem...)...)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("githubtest: GitHub fixture missing: %w; run `make github-fixtures`", err)
	}
	return path, nil
}

// moduleRoot walks up from the working directory, which go test sets to the
// package's folder, to the folder that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/gittest"
	_ "modernc.org/sqlite"
)

// runCLI runs modelgate with args and no environment.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, func(string) string { return "" })
	return code, out.String(), errOut.String()
}

func readExample(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../examples/gitops", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestValidateReportsEachMistakeAtItsPlace(t *testing.T) {
	valid := readExample(t, "models/fraud-detector/2.3.0/model.yaml")
	edit := func(old, new string) string {
		if !strings.Contains(valid, old) {
			t.Fatalf("example manifest has no %q", old)
		}
		return strings.Replace(valid, old, new, 1)
	}
	tests := []struct{ name, doc, want string }{
		{"wrong enum", edit("riskTier: high", "riskTier: huge"),
			`models/fraud-detector/2.3.0/model.yaml:7:13: metadata.riskTier: value "huge" is not one of low, medium, high`},
		{"missing required field", edit("  task: binary_classification\n", ""),
			`models/fraud-detector/2.3.0/model.yaml:8:1: spec.task: required field is missing`},
		{"mistyped field name", edit("intendedUse:", "intendedUze:"),
			`models/fraud-detector/2.3.0/model.yaml:10:3: spec.intendedUze: unknown field "intendedUze" (did you mean "intendedUse"?)`},
		{"bad digest", edit("digest: sha256:1170c26f", "digest: sha256:XX70c26f"),
			`models/fraud-detector/2.3.0/model.yaml:14:13: spec.artifact.digest: value "sha256:XX70c26f59c31de7345adfbc0be233ac7950992df35235006855a6e59b45b07f" does not match pattern "^sha256:[0-9a-f]{64}$"`},
		{"yaml syntax error", edit("  riskTier: high", " riskTier: high"),
			`models/fraud-detector/2.3.0/model.yaml:6:3: invalid YAML: did not find expected key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			file := "models/fraud-detector/2.3.0/model.yaml"
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(tt.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCLI(t, "validate", file)
			if code != exitFailed {
				t.Errorf("exit %d, want %d; stderr %s", code, exitFailed, stderr)
			}
			if got := strings.TrimSpace(stdout); got != tt.want {
				t.Errorf("output\n%s\nwant exactly\n%s", got, tt.want)
			}
		})
	}
}

func TestValidateExamples(t *testing.T) {
	code, stdout, stderr := runCLI(t, "validate", "--format", "json", "../../examples")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var results []validation
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, r := range results {
		kinds[r.Kind]++
	}
	if kinds[kindModel] != 5 || kinds[kindEnvironment] != 5 || kinds[kindConfig] != 1 {
		t.Errorf("validated %v, want 5 models (the training repository's too), 5 environment files and 1 config", kinds)
	}
}

func TestCannotRun(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"validate", "no/such/model.yaml"}, "no such file"},
		{"no path", []string{"validate"}, "name at least one PATH"},
		{"unknown kind of file", []string{"validate", "main.go"}, "cannot tell what main.go is"},
		{"bad flag", []string{"validate", "--format", "xml", "x"}, "expected one of text, json"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"gate without refs", []string{"gate", "--repo", "."}, "--base and --head are required"},
		{"gate outside a repository", []string{"gate", "--repo", os.TempDir(), "--base", "main", "--head", "x"}, "open repository"},
		{"audit without subcommand", []string{"audit", "frob"}, `unknown subcommand "frob"`},
		{"serve without an app id", []string{"serve"}, "--app-id (or MODELGATE_APP_ID)"},
		{"serve without a key", []string{"serve", "--app-id", "7"}, "--private-key-file"},
		{"serve with a missing key", []string{"serve", "--app-id", "7", "--private-key-file", "no/such.pem"}, "read private key"},
		{"serve without a webhook secret", []string{"serve", "--app-id", "7", "--private-key-file", "main.go"}, "the webhook secret is required"},
		{"serve without an audit key", []string{"serve", "--app-id", "7", "--private-key-file", "main.go", "--webhook-secret-file", "main.go"}, "the audit key is required"},
		{"serve with part of the reviewers' sign-in", []string{"serve", "--oauth-client-id", "Iv1.1"}, "the reviewers' sign-in is partly configured: --oauth-client-secret-file"},
		{"serve with the public URL alone, the audience of uploads, not a sign-in", []string{"serve", "--public-url", "https://modelgate.example.com"}, "--app-id (or MODELGATE_APP_ID) must be"},
		{"serve with a bad reviewer team", []string{"serve", "--reviewer-team", "acme"}, "want ORG/TEAM-SLUG"},
		{"serve with a bad audit key", []string{"serve", "--app-id", "7", "--private-key-file", "main.go", "--webhook-secret-file", "main.go", "--audit-key-file", "main.go"}, "audit key main.go: malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != exitCantRun {
				t.Errorf("exit %d, want %d", code, exitCantRun)
			}
			if !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(stderr, "Usage") {
				t.Errorf("stderr %q: want one line containing %q", stderr, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	if code, stdout, _ := runCLI(t, "--version"); code != exitOK || !strings.HasPrefix(stdout, "modelgate ") {
		t.Errorf("--version: exit %d, output %q", code, stdout)
	}
}

// promotionRepo is the example repository with one promotion branch.
func promotionRepo(t *testing.T) *gittest.Repo {
	t.Helper()
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Commit("example repository", time.Now().Add(-96*time.Hour))
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Commit("promote fraud-detector 2.3.0 to production", time.Now())
	return r
}

func TestGateRecordsAndAuditVerifies(t *testing.T) {
	r := promotionRepo(t)
	db := filepath.Join(t.TempDir(), "audit.db")

	code, stdout, stderr := runCLI(t, "gate", "--repo", r.Dir, "--base", "main", "--head", "promote",
		"--author", "alice", "--approved-by", "bob:compliance", "--approved-by", "carol", "--format", "json", "--database", db)
	if code != exitOK {
		t.Fatalf("gate exit %d\n%s%s", code, stdout, stderr)
	}
	var res struct {
		Allow      bool
		Judgements []struct {
			Promotion struct{ Model, Version, ToStage string } `json:"promotion"`
			Evidence  map[string]any
			Decision  struct {
				BundleDigest string `json:"bundle_digest"`
			} `json:"decision"`
		}
		PullRequest struct{ Approvals []struct{ User, SHA string } } `json:"pull_request"`
		Records     []int64                                          `json:"audit_records"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Allow || len(res.Judgements) != 1 || res.Judgements[0].Promotion.Model != "fraud-detector" ||
		res.Judgements[0].Evidence["schema"] != "modelgate.evidence/v1" || res.Judgements[0].Decision.BundleDigest == "" ||
		len(res.PullRequest.Approvals) != 2 || len(res.PullRequest.Approvals[0].SHA) != 40 || len(res.Records) != 1 {
		t.Errorf("gate result %+v", res)
	}

	code, stdout, _ = runCLI(t, "gate", "--repo", r.Dir, "--base", "main", "--head", "promote", "--author", "alice", "--database", db)
	if code != exitFailed || !strings.Contains(stdout, "approvals.count") {
		t.Errorf("without approvals: exit %d, output\n%s", code, stdout)
	}

	r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \"9.9.9\"}\n")
	r.Commit("pin a version that does not exist", time.Now())
	code, stdout, _ = runCLI(t, "gate", "--repo", r.Dir, "--base", "main", "--head", "promote", "--database", db)
	if code != exitFailed || !strings.Contains(stdout, "models/fraud-detector/9.9.9/ does not exist") {
		t.Errorf("invalid change: exit %d, output\n%s", code, stdout)
	}

	code, stdout, _ = runCLI(t, "audit", "verify", "--database", db)
	if code != exitOK || !strings.Contains(stdout, "3 records") {
		t.Errorf("audit verify: exit %d, %s", code, stdout)
	}

	sqlDB, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	if _, err := sqlDB.Exec(`UPDATE audit_records SET actor = 'mallory' WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLI(t, "audit", "verify", "--database", db)
	if code != exitFailed || !strings.Contains(stdout, "audit record 1") {
		t.Errorf("tampered log: exit %d, %s", code, stdout)
	}
}

func TestVerifyNeedsAnExistingDatabase(t *testing.T) {
	code, _, stderr := runCLI(t, "audit", "verify", "--database", filepath.Join(t.TempDir(), "typo.db"))
	if code != exitCantRun || !strings.Contains(stderr, "no such database") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestDatabaseFromEnvironment(t *testing.T) {
	db := filepath.Join(t.TempDir(), "env.db")
	if code, _, stderr := runCLI(t, "gate", "--repo", promotionRepo(t).Dir, "--base", "main", "--head", "promote", "--database", db); code != exitFailed {
		t.Fatalf("gate: exit %d %s", code, stderr)
	}
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "MODELGATE_DATABASE" {
			return db
		}
		return ""
	}
	if code := run(context.Background(), []string{"audit", "verify"}, &out, &errOut, getenv); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "1 record,") {
		t.Errorf("MODELGATE_DATABASE was not used: %s", out.String())
	}
}

// On a plain checkout, git history alone tells a rollback: a version that a
// rebase-merged pull request pinned and unpinned never ran in production.
// Removing a pin needs production's approvals.
func TestGateFakeRollbackAndRemoval(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Commit("example repository", time.Now().Add(-96*time.Hour))
	landed := time.Now().Add(-48 * time.Hour)
	r.Write("environments/staging.yaml", "stage: staging\nmodels: {fraud-detector: \"2.2.0\", demand-forecast: \"1.4.0\"}\n")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Commit("fraud-detector 2.3.0 to production", landed)
	r.Write("environments/production.yaml", "stage: production\nmodels: {fraud-detector: \"2.2.0\", demand-forecast: \"1.4.0\"}\n")
	r.Commit("undo", landed)
	r.Branch("promote")
	r.CopyDir("../../examples/promotions/fraud-detector-2.3.0-production")
	r.Commit("fraud-detector 2.3.0 back to production", time.Now())
	r.Checkout("main")
	r.Branch("remove")
	r.Remove("environments/production.yaml")
	r.Commit("production runs nothing", time.Now())
	db := filepath.Join(t.TempDir(), "audit.db")

	// 2.3.0 soaked in staging before 2.2.0 replaced it there, so as a
	// promotion it may enter production, but with production's approvals:
	// the one a rollback needs is not enough.
	code, stdout, stderr := runCLI(t, "gate", "--repo", r.Dir, "--base", "main", "--head", "promote",
		"--author", "alice", "--approved-by", "carol", "--database", db)
	if code != exitFailed || !strings.Contains(stdout, "fraud-detector 2.3.0 → production (promotion)") || !strings.Contains(stdout, "approvals.count") {
		t.Errorf("fake rollback: exit %d, output\n%s%s", code, stdout, stderr)
	}

	code, stdout, stderr = runCLI(t, "gate", "--repo", r.Dir, "--base", "main", "--head", "remove", "--author", "alice", "--database", db)
	if code != exitFailed || !strings.Contains(stdout, "fraud-detector 2.2.0 leaves production (removal)") || !strings.Contains(stdout, "approvals.count") {
		t.Errorf("removal without approvals: exit %d, output\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "gate", "--repo", r.Dir, "--base", "main", "--head", "remove",
		"--author", "alice", "--approved-by", "bob:compliance", "--approved-by", "carol", "--database", db)
	if code != exitOK {
		t.Errorf("removal with production's approvals: exit %d, output\n%s%s", code, stdout, stderr)
	}
}

// TestGateRefusesAHugeDataFile: a 2 GiB data file (2 MB in git: zeros compress)
// is refused by its size, which git tells before its content is read, and the
// promotion denied with the file, the limit and the key that raises it. The
// gate used to buffer the whole blob, gigabytes of memory for one file.
func TestGateRefusesAHugeDataFile(t *testing.T) {
	r := gittest.New(t)
	r.CopyDir("../../examples/gitops")
	r.Commit("example repository", time.Now().Add(-96*time.Hour))
	r.Branch("promote")
	for _, f := range []string{"data/reference.csv", "eval/predictions.csv", "eval/baseline_predictions.csv"} {
		r.Write("models/fraud-detector/2.4.0/"+f, readExample(t, "models/fraud-detector/2.3.0/"+f))
	}
	manifest := strings.Replace(readExample(t, "models/fraud-detector/2.3.0/model.yaml"), `version: "2.3.0"`, `version: "2.4.0"`, 1)
	r.Write("models/fraud-detector/2.4.0/model.yaml", manifest)
	r.Write("environments/dev.yaml", "stage: dev\nmodels: {fraud-detector: \"2.4.0\", demand-forecast: \"1.5.0\"}\n")
	r.AddZeros("models/fraud-detector/2.4.0/data/current.csv", 2<<30)
	r.Commit("fraud-detector 2.4.0 to dev, with a sparse data file", time.Now())
	code, stdout, stderr := runCLI(t, "gate", "--repo", r.Dir, "--base", "main", "--head", "promote",
		"--author", "alice", "--approved-by", "bob:compliance", "--approved-by", "carol", "--database", filepath.Join(t.TempDir(), "audit.db"))
	want := "models/fraud-detector/2.4.0/data/current.csv: 2147483648 bytes, over the limit of 1073741824; raise limits.fileBytes in .modelgate/config.yaml"
	if code != exitFailed || !strings.Contains(stdout, want) {
		t.Errorf("exit %d, output\n%s%s\nwant a denial that says %q", code, stdout, stderr, want)
	}
}

// TestValidateAnalysis: a condition or query of the config's analysis that
// does not parse is a mistake at its field, and the column within it.
func TestValidateAnalysis(t *testing.T) {
	config := "stages:\n  - name: staging\n    analysis:\n      prometheus: {address: \"http://prometheus:9090\"}\n      metrics:\n        - name: error-rate\n          query: up{model=\"{{model}}\"}\n          successCondition: result <)\n"
	for _, c := range []struct{ config, want string }{
		{config, `.modelgate/config.yaml:8:29: stages[0].analysis.metrics[0].successCondition: 1:9: expected a number or result, found ")"`},
		{strings.Replace(config, `"{{model}}"`, `{{model}}`, 1), `.modelgate/config.yaml:7:18: stages[0].analysis.metrics[0].query: 1:10: {{model}} outside a string literal`},
	} {
		dir := t.TempDir()
		t.Chdir(dir)
		if err := os.MkdirAll(".modelgate", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(".modelgate/config.yaml", []byte(c.config), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, "validate", ".modelgate/config.yaml")
		if code != exitFailed || !strings.HasPrefix(strings.TrimSpace(stdout), c.want) {
			t.Errorf("exit %d, output\n%s%s\nwant %d and\n%s", code, stdout, stderr, exitFailed, c.want)
		}
	}
}

// TestGateDataFormatsPrintOnlyData: what gate prints as Markdown or as
// workflow commands is posted or piped as it is, so the audit records it
// wrote are said on stderr, and the text for people keeps them.
func TestGateDataFormatsPrintOnlyData(t *testing.T) {
	r := promotionRepo(t)
	db := filepath.Join(t.TempDir(), "audit.db")
	gate := func(format string, extra ...string) (string, string) {
		t.Helper()
		args := append([]string{"gate", "--repo", r.Dir, "--base", "main", "--head", "promote", "--author", "alice", "--database", db, "--format", format}, extra...)
		code, stdout, stderr := runCLI(t, args...)
		if code != exitFailed {
			t.Fatalf("gate --format %s: exit %d, want the denial without approvals\n%s%s", format, code, stdout, stderr)
		}
		return stdout, stderr
	}

	summary := filepath.Join(t.TempDir(), "summary.md")
	stdout, stderr := gate("markdown", "--summary", summary)
	want, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(want) {
		t.Errorf("markdown on stdout is not the report alone:\n%s\nwant\n%s", stdout, want)
	}
	if stderr != "audit records: [1]\n" {
		t.Errorf("markdown: stderr %q, want the audit records", stderr)
	}

	stdout, _ = gate("github")
	for line := range strings.Lines(stdout) {
		if !strings.HasPrefix(line, "::error ") && !strings.HasPrefix(line, "::warning ") {
			t.Errorf("github: %q is no workflow command", line)
		}
	}

	stdout, stderr = gate("text")
	if !strings.HasSuffix(stdout, "\naudit records: [3]\n") || stderr != "" {
		t.Errorf("text: stdout %q, stderr %q; want the audit records at the end of stdout", stdout, stderr)
	}
}

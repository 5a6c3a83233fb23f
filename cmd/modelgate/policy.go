package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/policies"
)

func (c *cli) policyCommand() *cobra.Command {
	return c.group(&cobra.Command{
		Use:   "policy",
		Short: "run the Rego unit tests, or evaluate the policies on an input document",
	}, c.policyTestCommand(), c.policyEvalCommand())
}

func (c *cli) policyTestCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test [flags] [DIR]",
		Short: "run the Rego unit tests of DIR (default .modelgate/policies): exit 0 pass, 1 fail",
		Long: "Run the Rego unit tests of DIR (default .modelgate/policies), with the built-in policies loaded beside\n" +
			"them: exit 0 pass, 1 fail. A repository without .modelgate/policies has nothing of its own to test: exit 0.",
		Args: cobra.MaximumNArgs(1),
	}
	format := choiceFlag(cmd, "format", "output format", "text", "json")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		dir := gitops.PoliciesDir
		if len(args) > 0 {
			dir = args[0]
		}
		own, err := readModules(dir)
		if errors.Is(err, fs.ErrNotExist) && filepath.Clean(dir) == gitops.PoliciesDir {
			// As the gate does: without policies of its own, the organisation
			// has the built-in ones, which are tested with modelgate itself.
			fmt.Fprintf(c.stderr, "modelgate: policy test: %s does not exist: the organisation has no policies of its own to test\n", gitops.PoliciesDir)
			if *format == "json" {
				if err := writeJSON(c.stdout, []policy.TestResult{}); err != nil {
					return c.fail(err)
				}
			}
			return exitOK
		}
		if err != nil {
			return c.fail(err)
		}
		modules, err := withBuiltin(own)
		if err != nil {
			return c.fail(err)
		}
		results, err := policy.Test(ctx, modules, func(path string) bool {
			return slices.ContainsFunc(own, func(m policy.Module) bool { return m.Path == path })
		})
		if err != nil {
			return c.fail(fmt.Errorf("policy test: %w", err))
		}
		passed := 0
		for _, r := range results {
			if r.Pass {
				passed++
			}
		}
		if *format == "json" {
			if err := writeJSON(c.stdout, results); err != nil {
				return c.fail(err)
			}
		} else {
			for _, r := range results {
				status := "PASS"
				if !r.Pass {
					status = "FAIL"
				}
				fmt.Fprintf(c.stdout, "%s  %s.%s  (%s:%d)\n", status, r.Package, r.Name, r.File, r.Line)
				if r.Error != "" {
					fmt.Fprintf(c.stdout, "      %s\n", r.Error)
				}
			}
			fmt.Fprintf(c.stdout, "%d passed, %d failed\n", passed, len(results)-passed)
		}
		if len(results) == 0 {
			fmt.Fprintf(c.stderr, "modelgate: no Rego tests in %s\n", dir)
			return exitFailed
		}
		if passed < len(results) {
			return exitFailed
		}
		return exitOK
	})
	return cmd
}

func (c *cli) policyEvalCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval (--input FILE | --manifest FILE --evidence FILE) [flags]",
		Short: "evaluate the policies on an input document, or on a manifest and its evidence: exit 0 allow, 1 deny",
	}
	fl := cmd.Flags()
	inputPath := fl.String("input", "", "the input document, JSON (policies/README.md describes it)")
	manifestPath := fl.String("manifest", "", "instead of --input: judge this manifest's entry into the first stage, on --evidence")
	evidencePath := fl.String("evidence", "", "with --manifest: the evidence document modelgate check wrote for it")
	configPath := fl.String("config", "", "with --manifest: the config (a .modelgate/config.yaml) whose stages and thresholds judge it; defaults without it")
	uploaded := fl.Bool("uploaded", false, "with --manifest: judge it as the App will once a workflow it trusts uploaded the evidence (evidence_source oidc); whether the App trusts the workflow is the App's to check")
	dir := fl.String("policies", gitops.PoliciesDir, "the organisation's policies, evaluated with the built-in ones (skipped when the folder does not exist)")
	format := choiceFlag(cmd, "format", "output format", "text", "json")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		var (
			in  policy.Input
			cfg *gitops.Config
			err error
		)
		switch {
		case *inputPath != "" && *manifestPath == "" && *evidencePath == "" && *configPath == "" && !*uploaded:
			in, cfg, err = readInput(*inputPath)
		case *inputPath == "" && *manifestPath != "" && *evidencePath != "":
			in, cfg, err = entryInput(*manifestPath, *evidencePath, *configPath, *uploaded, c.now())
		default:
			err = errors.New("give either --input, or --manifest and --evidence (with --config)")
		}
		if err != nil {
			return c.fail(fmt.Errorf("policy eval: %w", err))
		}
		own, err := readModules(*dir)
		if errors.Is(err, fs.ErrNotExist) && *dir == gitops.PoliciesDir {
			own, err = nil, nil
		}
		if err != nil {
			return c.fail(err)
		}
		// As the gate does: the organisation's policies beside the built-in ones,
		// never in their place.
		d := policy.Compile(ctx, append(policies.Modules(), own...), cfg).Evaluate(ctx, in)
		if *format == "json" {
			err = writeJSON(c.stdout, d)
		} else {
			err = writeDecision(c.stdout, d)
		}
		if err != nil {
			return c.fail(err)
		}
		if !d.Allow {
			return exitFailed
		}
		return exitOK
	})
	return cmd
}

// readInput reads an input document and its config.
func readInput(path string) (policy.Input, *gitops.Config, error) {
	var in policy.Input
	data, err := os.ReadFile(path)
	if err != nil {
		return in, nil, err
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return in, nil, fmt.Errorf("%s is not an input document: %w", path, err)
	}
	cfg, err := inputConfig(in.Config)
	if err != nil {
		return in, nil, fmt.Errorf("%s: %w", path, err)
	}
	return in, cfg, nil
}

// entryInput is the input of a model version's entry into the config's first
// stage, judged on its evidence: the promotion a training pipeline proposes
// once its checks ran. Nothing has run anywhere yet and no one approved it.
// Where the evidence came from is left unsaid unless uploaded: only the App,
// which verifies an upload, can say that it came from a trusted workflow, so
// uploaded judges it as the App will if it trusts the uploader.
func entryInput(manifestPath, evidencePath, configPath string, uploaded bool, now time.Time) (policy.Input, *gitops.Config, error) {
	var in policy.Input
	v, err := schema.New()
	if err != nil {
		return in, nil, err
	}
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		return in, nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := gitops.ParseManifest(v, manifestPath, data)
	if err != nil {
		return in, nil, err
	}
	doc, err := os.ReadFile(evidencePath)
	if err != nil {
		return in, nil, fmt.Errorf("read evidence: %w", err)
	}
	var ev checks.Evidence
	if err := v.Decode(schema.Evidence, evidencePath, doc, &ev); err != nil {
		return in, nil, err
	}
	if ev.Model.Name != m.Metadata.Name || ev.Model.Version != m.Metadata.Version {
		return in, nil, fmt.Errorf("%s is the evidence of %s %s, not of %s %s", evidencePath, ev.Model.Name, ev.Model.Version, m.Metadata.Name, m.Metadata.Version)
	}
	cfg, err := loadConfig(v, configPath)
	if err != nil {
		return in, nil, err
	}
	p := &gitops.Promotion{Kind: gitops.KindPromotion, Model: m.Metadata.Name, Version: m.Metadata.Version,
		ToStage: cfg.Stages[0].Name, ManifestPath: filepath.ToSlash(manifestPath), Manifest: m}
	in = policy.Input{
		Manifest: m, Evidence: json.RawMessage(doc), Promotion: p,
		PullRequest: policy.PullRequest{Labels: []string{}, Approvals: []policy.Approval{}, Committers: []string{}, ChangedFiles: []string{}},
		History:     policy.NewHistory(now, map[string]gitops.History{}, nil, m.Metadata.Name),
	}
	if uploaded {
		in.EvidenceSource = &policy.EvidenceSource{Kind: policy.EvidenceOIDC}
	}
	return in, cfg, nil
}

// inputConfig validates the input's config and fills in its defaults, as the
// gate does with .modelgate/config.yaml.
func inputConfig(raw any) (*gitops.Config, error) {
	doc := []byte("{}")
	if raw != nil {
		var err error
		if doc, err = json.Marshal(raw); err != nil {
			return nil, err
		}
	}
	v, err := schema.New()
	if err != nil {
		return nil, err
	}
	var cfg gitops.Config
	if err := v.Decode(schema.Config, "input.config.json", doc, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// readModules reads the .rego files under dir.
func readModules(dir string) ([]policy.Module, error) {
	var modules []policy.Module
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".rego" {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		modules = append(modules, policy.Module{Path: filepath.ToSlash(p), Source: src})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	return modules, nil
}

// withBuiltin adds the built-in policies to a set of modules, but for the
// packages the set defines itself: testing the built-in folder tests its files.
func withBuiltin(own []policy.Module) ([]policy.Module, error) {
	defined := map[string]bool{}
	for _, m := range own {
		pkg, err := policy.Package(m)
		if err != nil {
			return nil, err
		}
		defined[pkg] = true
	}
	modules := slices.Clone(own)
	for _, m := range policies.Modules() {
		pkg, err := policy.Package(m)
		if err != nil {
			return nil, err
		}
		if !defined[pkg] {
			modules = append(modules, m)
		}
	}
	return modules, nil
}

func writeDecision(w io.Writer, d policy.Decision) error {
	verdict := "ALLOW"
	if !d.Allow {
		verdict = "DENY"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", verdict)
	for _, m := range d.Deny {
		fmt.Fprintf(&b, "  deny  %-28s %s\n", m.Code, m.Text())
	}
	for _, m := range d.Warn {
		fmt.Fprintf(&b, "  warn  %-28s %s\n", m.Code, m.Text())
	}
	fmt.Fprintf(&b, "policy bundle %s\ninput         %s\n", d.BundleDigest, d.InputDigest)
	_, err := w.Write([]byte(b.String()))
	return err
}

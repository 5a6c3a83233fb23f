package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/internal/github"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/report"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/manifest"
)

// defaultMaxFileBytes bounds each file propose commits beside the manifest:
// data kept in git must stay small (GitHub refuses files over 100 MB and
// warns over 50 MB); larger data belongs behind a URI.
const defaultMaxFileBytes = 10 << 20

// What a run of propose did.
const (
	proposeOpened    = "opened"    // a new pull request
	proposeUpdated   = "updated"   // a new commit on the branch, or a new body
	proposeUnchanged = "unchanged" // the pull request is what this run would make
	proposeNone      = "none"      // the base branch already holds it all
)

// proposeResult is what propose did, as --format json writes it.
type proposeResult struct {
	Action     string   `json:"action"`
	Repository string   `json:"repository"`
	Number     int      `json:"pull_request_number,omitempty"`
	URL        string   `json:"pull_request_url,omitempty"`
	Branch     string   `json:"branch"`
	Base       string   `json:"base"`
	Head       string   `json:"head"`
	Model      string   `json:"model"`
	Version    string   `json:"version"`
	Stage      string   `json:"stage"`
	Files      []string `json:"files"`
}

// refusal is a proposal refused for what it holds, not for a failure to
// run: propose exits 1.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

func refuse(format string, args ...any) error { return refusal{fmt.Errorf(format, args...)} }

// proposal is what propose commits, read and checked on this machine
// before any call to GitHub.
type proposal struct {
	m        *manifest.Manifest
	dir      string            // models/<name>/<version>
	files    map[string][]byte // repository path → content, the pin not yet among them
	evidence json.RawMessage   // nil without --evidence
	manifest string            // the manifest's repository path
	digest   string            // sha256 hex of the manifest's bytes
}

func (c *cli) proposeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "propose --repo OWNER/NAME --manifest FILE [flags]",
		Short: "open or update the pull request that adds a model version to a GitOps repository and pins it in a stage",
	}
	fl := cmd.Flags()
	repoName := fl.String("repo", "", "the GitOps repository to open the pull request in, OWNER/NAME")
	manifestPath := fl.String("manifest", "", "the model version's manifest; the files it names by relative path are committed beside it")
	stage := fl.String("stage", "", "the stage to pin the version in (default: the first stage of the base branch's config)")
	base := fl.String("base", "", "the branch to propose into (default: the repository's default branch)")
	evidencePath := fl.String("evidence", "", "the evidence document modelgate check wrote, summarized in the pull request's body")
	tokenFile := fl.String("token-file", "", "a file holding the GitHub token (default: env GITHUB_TOKEN); it needs contents: write and pull requests: write on the repository")
	githubURL := fl.String("github-url", cmp.Or(c.getenv("MODELGATE_GITHUB_URL"), c.getenv("GITHUB_API_URL")), "GitHub's API URL, https://HOST/api/v3 for GitHub Enterprise Server (env MODELGATE_GITHUB_URL, GITHUB_API_URL)")
	maxFileBytes := fl.Int64("max-file-bytes", defaultMaxFileBytes, "the largest file committed beside the manifest; the base branch's limits.fileBytes lowers it")
	format := choiceFlag(cmd, "format", "output", "text", "json")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) > 0 {
			return c.fail(fmt.Errorf("propose: unexpected argument %q", args[0]))
		}
		if *repoName == "" || *manifestPath == "" {
			return c.fail(errors.New("propose: --repo and --manifest are required"))
		}
		if *maxFileBytes <= 0 {
			return c.fail(errors.New("propose: --max-file-bytes must be positive"))
		}
		v, err := schema.New()
		if err != nil {
			return c.fail(err)
		}
		p, err := readProposal(v, *manifestPath, *evidencePath, *maxFileBytes)
		if err != nil {
			return c.proposeFail(err)
		}
		token, fromEnv, err := proposeToken(c, *tokenFile)
		if err != nil {
			return c.fail(err)
		}
		client, err := github.NewTokenClient(github.TokenConfig{Token: token, BaseURL: *githubURL})
		if err != nil {
			return c.fail(fmt.Errorf("propose: %w", err))
		}
		repo, err := client.Repo(*repoName)
		if err != nil {
			return c.fail(fmt.Errorf("propose: %w", err))
		}
		res, err := publish(ctx, v, repo, p, *base, *stage, *maxFileBytes)
		if err != nil {
			return c.proposeFail(accessError(c, err, repo.String(), fromEnv))
		}
		if *format == "json" {
			if err := writeJSON(c.stdout, res); err != nil {
				return c.fail(err)
			}
			return exitOK
		}
		switch res.Action {
		case proposeNone:
			fmt.Fprintf(c.stdout, "%s already holds %s %s and pins it in %s: nothing to propose\n", res.Base, res.Model, res.Version, res.Stage)
		default:
			fmt.Fprintf(c.stdout, "%s %s#%d (%s): %s %s → %s, head %s\n", res.Action, res.Repository, res.Number, res.URL, res.Model, res.Version, res.Stage, res.Head)
		}
		return exitOK
	})
	return cmd
}

// proposeFail reports a refusal (exit 1) or a failure to run (exit 2); a
// manifest's schema errors come one a line, each at its file:line:col.
func (c *cli) proposeFail(err error) int {
	var list schema.Errors
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintf(c.stderr, "modelgate: propose: %s\n", e.Error())
		}
		return exitFailed
	}
	if errors.As(err, new(refusal)) {
		fmt.Fprintf(c.stderr, "modelgate: propose: refused, nothing written: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return exitFailed
	}
	return c.fail(err)
}

// proposeToken reads the token, and tells whether it came from GITHUB_TOKEN.
// The token appears in no message.
func proposeToken(c *cli, file string) (string, bool, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", false, fmt.Errorf("propose: read the token file: %w", err)
		}
		if token := strings.TrimSpace(string(b)); token != "" {
			return token, false, nil
		}
		return "", false, fmt.Errorf("propose: the token file %s is empty", file)
	}
	if token := strings.TrimSpace(c.getenv("GITHUB_TOKEN")); token != "" {
		return token, true, nil
	}
	return "", false, errors.New("propose: no GitHub token: set GITHUB_TOKEN or --token-file")
}

// readProposal reads and checks the manifest, the files it names and the
// evidence, so that a mistake is found before GitHub is asked anything.
func readProposal(v *schema.Validator, manifestPath, evidencePath string, maxFileBytes int64) (*proposal, error) {
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, fmt.Errorf("propose: read the manifest: %w", err)
	}
	m, err := gitops.ParseManifest(v, filepath.ToSlash(manifestPath), data)
	if err != nil {
		if errors.Is(err, schema.ErrInvalid) {
			return nil, err
		}
		return nil, refusal{err}
	}
	name := filepath.Base(manifestPath)
	if !slices.Contains(manifest.FileNames, name) {
		return nil, refuse("%s: a manifest is named %s in its version's folder", manifestPath, strings.Join(manifest.FileNames, ", "))
	}
	sum := sha256.Sum256(data)
	p := &proposal{m: m, dir: manifest.Dir(m.Metadata.Name, m.Metadata.Version), files: map[string][]byte{}, digest: hex.EncodeToString(sum[:])}
	p.manifest = path.Join(p.dir, name)
	p.files[p.manifest] = data

	root, err := gitops.OpenDir(filepath.Dir(manifestPath), maxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("propose: %w", err)
	}
	defer root.Close()
	for _, rel := range namedFiles(m) {
		if strings.Contains(rel, "://") {
			continue // data kept elsewhere stays there
		}
		clean := path.Clean(rel)
		if !fs.ValidPath(clean) || clean == "." {
			return nil, refuse("%s: %q is not a path inside the manifest's folder", manifestPath, rel)
		}
		b, err := fs.ReadFile(root, clean)
		if err != nil {
			var tl *gitops.TooLargeError
			if errors.As(err, &tl) {
				return nil, refuse("%s: %d bytes, over the %d propose commits (--max-file-bytes); keep larger data behind a URI", tl.Path, tl.Size, tl.Limit)
			}
			return nil, fmt.Errorf("propose: a file the manifest names: %w", err)
		}
		p.files[path.Join(p.dir, clean)] = b
	}

	if evidencePath == "" {
		return p, nil
	}
	raw, err := os.ReadFile(evidencePath)
	if err != nil {
		return nil, fmt.Errorf("propose: read the evidence: %w", err)
	}
	var ev checks.Evidence
	if err := v.Decode(schema.Evidence, filepath.ToSlash(evidencePath), raw, &ev); err != nil {
		return nil, err
	}
	if ev.Model.Name != m.Metadata.Name || ev.Model.Version != m.Metadata.Version {
		return nil, refuse("%s is evidence for %s %s, not for %s %s", evidencePath, ev.Model.Name, ev.Model.Version, m.Metadata.Name, m.Metadata.Version)
	}
	if ev.Manifest != nil && ev.Manifest.SHA256 != p.digest {
		return nil, refuse("%s was computed for a manifest whose SHA-256 is %s, not for %s (%s)", evidencePath, ev.Manifest.SHA256, manifestPath, p.digest)
	}
	p.evidence = raw
	return p, nil
}

// namedFiles are the data files a manifest names, by path or URI.
func namedFiles(m *manifest.Manifest) []string {
	var out []string
	if d := m.Spec.Data; d != nil {
		out = append(out, d.Reference, d.Current)
	}
	if e := m.Spec.Evaluation; e != nil {
		out = append(out, e.Predictions, e.Baseline)
	}
	return slices.Compact(slices.DeleteFunc(out, func(s string) bool { return s == "" }))
}

// publish writes the proposal to its branch in one commit and opens or
// updates its pull request.
func publish(ctx context.Context, v *schema.Validator, repo *github.Repo, p *proposal, base, stage string, maxFileBytes int64) (*proposeResult, error) {
	var err error
	if base == "" {
		if base, err = repo.DefaultBranch(ctx); err != nil {
			return nil, err
		}
	}
	baseHead, ok, err := repo.BranchHead(ctx, base)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("propose: %s has no branch %s", repo, base)
	}
	snap := repo.Snapshot(baseHead)
	cfg, err := gitops.LoadConfig(ctx, snap, v)
	if err != nil {
		return nil, fmt.Errorf("propose: the config of %s at %s: %w", base, baseHead, err)
	}
	if stage == "" {
		if len(cfg.Stages) == 0 {
			return nil, fmt.Errorf("propose: %s of %s declares no stage: name one with --stage", gitops.ConfigPath, base)
		}
		stage = cfg.Stages[0].Name
	}
	if cfg.StageIndex(stage) < 0 {
		names := make([]string, 0, len(cfg.Stages))
		for _, s := range cfg.Stages {
			names = append(names, s.Name)
		}
		return nil, refuse("stage %q is not one of %s's stages (%s)", stage, base, strings.Join(names, ", "))
	}
	// The App reads no data file over the base's limit: committing one
	// would only make the pull request fail its checks.
	for p2, data := range p.files {
		if limit := min(maxFileBytes, cfg.Limits.FileBytes); p2 != p.manifest && int64(len(data)) > limit {
			return nil, refuse("%s: %d bytes, over the limit of %d (%s of %s, or --max-file-bytes)", p2, len(data), limit, gitops.FileBytesKey, base)
		}
	}

	exists, same, err := repo.FolderHolds(ctx, baseHead, p.dir, p.files)
	if err != nil {
		return nil, err
	}
	if exists && !same {
		return nil, refuse("%s/ exists on %s with other content: a model version is immutable once it landed; give the new model a new version", p.dir, base)
	}

	envPath := gitops.EnvironmentPath(stage)
	current, err := snap.ReadFile(ctx, envPath)
	if errors.Is(err, fs.ErrNotExist) {
		current = nil
	} else if err != nil {
		return nil, err
	}
	pinned, err := gitops.SetPin(v, stage, current, p.m.Metadata.Name, p.m.Metadata.Version)
	if err != nil {
		return nil, refusal{err}
	}
	var replaces string
	if current != nil {
		env, err := gitops.ParseEnvironment(v, envPath, current)
		if err != nil {
			return nil, err
		}
		replaces = env.Models[p.m.Metadata.Name]
	}
	files := maps.Clone(p.files)
	files[envPath] = pinned

	name, version := p.m.Metadata.Name, p.m.Metadata.Version
	res := &proposeResult{
		Repository: repo.String(), Branch: fmt.Sprintf("modelgate/propose/%s-%s-%s", name, version, stage), Base: base,
		Model: name, Version: version, Stage: stage, Files: slices.Sorted(maps.Keys(files)),
	}
	title := fmt.Sprintf("Propose %s %s for %s", name, version, stage)
	tc := github.TreeCommit{Message: title, Base: baseHead, Parents: []string{baseHead}, Files: files}
	if held, err := repo.Holds(ctx, baseHead, tc); err != nil || held {
		res.Action, res.Head = proposeNone, baseHead
		return res, err
	}
	body, err := proposalBody(p, files, envPath, replaces)
	if err != nil {
		return nil, err
	}

	head, branchExists, err := repo.BranchHead(ctx, res.Branch)
	if err != nil {
		return nil, err
	}
	changed := false
	if !branchExists {
		if head, err = repo.CommitTree(ctx, tc); err != nil {
			return nil, err
		}
		if err := repo.CreateBranch(ctx, res.Branch, head); err != nil {
			return nil, err
		}
		changed = true
	} else {
		mb, err := repo.MergeBase(ctx, baseHead, head)
		if err != nil {
			return nil, err
		}
		// On top of what the branch holds; when the base moved, a merge of
		// it too, so that the pull request shows only this proposal's files.
		tc.Parents = []string{head}
		held := false
		if mb == baseHead {
			if held, err = repo.Holds(ctx, head, tc); err != nil {
				return nil, err
			}
		} else {
			tc.Parents = append(tc.Parents, baseHead)
		}
		if !held {
			next, err := repo.CommitTree(ctx, tc)
			if err != nil {
				return nil, err
			}
			if err := repo.FastForward(ctx, res.Branch, next); err != nil {
				return nil, err
			}
			head, changed = next, true
		}
	}
	res.Head = head

	var open []github.PullRequest
	if branchExists {
		if open, err = repo.PullRequestsFrom(ctx, res.Branch); err != nil {
			return nil, err
		}
	}
	if i := slices.IndexFunc(open, func(pr github.PullRequest) bool { return pr.BaseRef == base }); i >= 0 {
		pr := open[i]
		res.Action = proposeUnchanged
		if pr.Title != title || pr.Body != body {
			if pr, err = repo.EditPullRequest(ctx, pr.Number, title, body); err != nil {
				return nil, err
			}
			changed = true
		}
		if changed {
			res.Action = proposeUpdated
		}
		res.Number, res.URL = pr.Number, pr.URL
		return res, nil
	}
	pr, err := repo.OpenPullRequest(ctx, github.NewPullRequest{Title: title, Body: body, Head: res.Branch, Base: base})
	if err != nil {
		return nil, err
	}
	res.Action, res.Number, res.URL = proposeOpened, pr.Number, pr.URL
	return res, nil
}

// proposalBody is the pull request's body: what it changes, the digests of
// the files, and the evidence's numbers for reviewers. The gate does not read
// it: a body is anyone's to edit.
func proposalBody(p *proposal, files map[string][]byte, envPath, replaces string) (string, error) {
	var b bytes.Buffer
	name, version := p.m.Metadata.Name, p.m.Metadata.Version
	fmt.Fprintf(&b, "Proposes **%s %s** (risk tier %s, owner %s): adds `%s`", name, version, p.m.Metadata.RiskTier, p.m.Metadata.Owner, p.manifest)
	if len(p.files) > 1 {
		fmt.Fprintf(&b, " and the %d files it names", len(p.files)-1)
	}
	fmt.Fprintf(&b, ", and pins it in `%s`", envPath)
	if replaces != "" {
		fmt.Fprintf(&b, " in place of %s", replaces)
	}
	b.WriteString(".\n\n| File | Bytes | SHA-256 |\n|---|---|---|\n")
	for _, f := range slices.Sorted(maps.Keys(files)) {
		sum := sha256.Sum256(files[f])
		fmt.Fprintf(&b, "| `%s` | %d | `%s` |\n", f, len(files[f]), hex.EncodeToString(sum[:]))
	}
	b.WriteString("\n### Evidence from the training pipeline\n\n")
	if p.evidence == nil {
		b.WriteString("No evidence was given to `modelgate propose --evidence`.\n\n")
	} else if err := report.EvidenceSummary(&b, p.evidence); err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "<sub>Written by `modelgate propose`: running it again for %s %s and this stage updates this pull request. "+
		"The gate does not read this summary; it judges the evidence it computes, or that a trusted workflow uploads.</sub>\n", name, version)
	return b.String(), nil
}

// accessError says what to do when GitHub refuses the token: which
// permission it lacks, or that it cannot see the repository at all.
func accessError(c *cli, err error, repo string, fromEnv bool) error {
	var hint string
	switch github.StatusCode(err) {
	case http.StatusUnauthorized:
		hint = "GitHub does not accept the token: it is not valid, or it expired"
	case http.StatusForbidden:
		var sets []string
		for _, set := range github.AcceptedPermissions(err) {
			sets = append(sets, strings.Join(set, " and "))
		}
		if len(sets) == 0 {
			hint = "the token may not write to " + repo + ": it needs contents=write and pull_requests=write there"
		} else {
			hint = fmt.Sprintf("the token lacks the permission %s on %s: give the GitHub App or the fine-grained token that permission (contents=write and pull_requests=write in all)", strings.Join(sets, " or "), repo)
		}
	case http.StatusNotFound:
		hint = "the token cannot see " + repo + ": a fine-grained token must be granted the repository, and a GitHub App must be installed on it"
	default:
		return err
	}
	if own := c.getenv("GITHUB_REPOSITORY"); fromEnv && c.getenv("GITHUB_ACTIONS") == "true" && own != "" && !strings.EqualFold(own, repo) {
		hint += "; a workflow's own GITHUB_TOKEN reaches only " + own + ": pass a token of actions/create-github-app-token, or a fine-grained token, for " + repo
	}
	return fmt.Errorf("%w (%s)", err, hint)
}

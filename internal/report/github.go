package report

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/manifest"
)

// Files reads, at the head, the manifests and environment files the
// judgements are about, for Locate to place messages on their lines. One
// that cannot be read gets its messages on its first line: the decision is
// made already.
func Files(ctx context.Context, head gitops.Snapshot, res *gate.Result) map[string][]byte {
	files := map[string][]byte{}
	for _, j := range res.Judgements {
		p := j.Promotion
		if p == nil {
			continue
		}
		for _, name := range []string{p.ManifestPath, gitops.EnvironmentPath(p.ToStage)} {
			if _, ok := files[name]; ok || name == "" {
				continue
			}
			if data, err := head.ReadFile(ctx, name); err == nil {
				files[name] = data
			}
		}
	}
	return files
}

// GitHub writes the result as GitHub Actions workflow commands: an error for
// each denial and a warning for each warning, each placed on the line of the
// file it is about, so that the job's annotations point at the manifest. files
// holds the head's text of the manifests and environment files the change
// touches; a file missing from it gets its messages on its first line.
func GitHub(w io.Writer, res *gate.Result, files map[string][]byte) error {
	p := printer{w: w}
	for _, j := range res.Judgements {
		for _, m := range j.Decision.Deny {
			p.f("%s\n", workflowCommand("error", Locate(j.Promotion, m, files), m))
		}
		for _, m := range j.Decision.Warn {
			p.f("%s\n", workflowCommand("warning", Locate(j.Promotion, m, files), m))
		}
	}
	return p.err
}

func workflowCommand(level string, pos policy.Position, m policy.Message) string {
	props := fmt.Sprintf("file=%s,line=%d,col=%d", escapeProperty(pos.File), pos.Line, pos.Column)
	if m.Code != "" {
		props += ",title=" + escapeProperty(m.Code)
	}
	return "::" + level + " " + props + "::" + escapeData(m.WithWaiver())
}

// escapeData and escapeProperty escape the values of a workflow command as
// the runner unescapes them: a message cannot end its command early, start
// another one on a new line, or add properties.
var (
	dataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func escapeData(s string) string     { return dataEscaper.Replace(s) }
func escapeProperty(s string) string { return propertyEscaper.Replace(s) }

// Locate places a message of a judgement from the message's own data, never
// from its text: the position a read error or a compile error carries; for a
// promotion, the manifest field the message names (field, attribute, column,
// metric, or the section its code is about) or, for stage order, soak and
// approvals, the pin in the stage's environment file; for a removal, its
// environment file; for the change as a whole, the config.
func Locate(p *gitops.Promotion, m policy.Message, files map[string][]byte) policy.Position {
	if pos := m.Position; pos != nil && pos.File != "" {
		return policy.Position{File: pos.File, Line: max(pos.Line, 1), Column: max(pos.Column, 1)}
	}
	if p == nil {
		return policy.Position{File: gitops.ConfigPath, Line: 1, Column: 1}
	}
	env := gitops.EnvironmentPath(p.ToStage)
	if p.Kind == gitops.KindRemoval || p.ManifestPath == "" {
		return policy.Position{File: env, Line: 1, Column: 1}
	}
	section, _, _ := strings.Cut(m.Code, ".")
	if section == "stage" || section == "approvals" {
		return at(env, files[env], "models."+p.Model)
	}
	return at(p.ManifestPath, files[p.ManifestPath], manifestField(p.Manifest, m.Code, m.Fields))
}

// manifestField is the manifest path (as spec.data.drift.columns[2]) that a
// message is about.
func manifestField(m *manifest.Manifest, code string, fields map[string]any) string {
	section, _, _ := strings.Cut(code, ".")
	if f, _ := fields["field"].(string); strings.HasPrefix(f, "spec.") || strings.HasPrefix(f, "metadata.") {
		return f
	}
	if m == nil {
		return ""
	}
	if attr, ok := fields["attribute"].(string); ok && m.Spec.Fairness != nil {
		if i := slices.Index(m.Spec.Fairness.SensitiveAttributes, attr); i >= 0 {
			return fmt.Sprintf("spec.fairness.sensitiveAttributes[%d]", i)
		}
	}
	if col := firstColumn(fields); col != "" && m.Spec.Data != nil {
		if d := m.Spec.Data.Drift; d != nil && code != "data.contract" {
			if i := slices.Index(d.Columns, col); i >= 0 {
				return fmt.Sprintf("spec.data.drift.columns[%d]", i)
			}
		}
		if c := m.Spec.Data.Contract; c != nil {
			if i := slices.IndexFunc(c.Columns, func(r manifest.ColumnRule) bool { return r.Name == col }); i >= 0 {
				return fmt.Sprintf("spec.data.contract.columns[%d]", i)
			}
		}
	}
	switch section {
	case "data", "evaluation", "fairness", "lineage":
		return "spec." + section
	}
	return ""
}

// firstColumn is the column a message names: column, the first of columns,
// or the column of its first contract violation.
func firstColumn(fields map[string]any) string {
	if c, ok := fields["column"].(string); ok {
		return c
	}
	switch cs := fields["columns"].(type) {
	case []string:
		if len(cs) > 0 {
			return cs[0]
		}
	case []any:
		if len(cs) > 0 {
			c, _ := cs[0].(string)
			return c
		}
	}
	if vs, ok := fields["violations"].([]any); ok && len(vs) > 0 {
		if v, ok := vs[0].(map[string]any); ok {
			c, _ := v["column"].(string)
			return c
		}
	}
	return ""
}

// at is the position of the value at path in a file, or of the nearest
// enclosing value that is there; the file's first line without one.
func at(file string, data []byte, path string) policy.Position {
	for path != "" && data != nil {
		if line, col := schema.Locate(data, path); line != 1 || col != 1 {
			return policy.Position{File: file, Line: line, Column: col}
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return policy.Position{File: file, Line: 1, Column: 1}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/manifest"
)

// Document kinds that validate knows.
const (
	kindAuto        = "auto"
	kindModel       = "model"
	kindEnvironment = "environment"
	kindConfig      = "config"
	kindEvidence    = "evidence"
)

const validateUsage = "validate [--kind auto|model|environment|config|evidence] [--format text|json] PATH..."

// validation is the verdict on one file.
type validation struct {
	Path   string    `json:"path"`
	Kind   string    `json:"kind"`
	Valid  bool      `json:"valid"`
	Errors []problem `json:"errors,omitempty"`
}

// problem is one error, placed where it was found when that is known.
type problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	text    string
}

func runValidate(ctx context.Context, c *cli, args []string) int {
	fl := c.flags("validate", validateUsage)
	kind := choiceFlag(fl, "kind", "what the files are; auto tells by their path", kindAuto, kindModel, kindEnvironment, kindConfig, kindEvidence)
	format := choiceFlag(fl, "format", "output format", "text", "json")
	if code, ok := c.parse(fl, args); !ok {
		return code
	}
	if fl.NArg() == 0 {
		return c.fail(errors.New("validate: name at least one PATH (a file, or a folder to validate every document in it)"))
	}
	files, err := documents(fl.Args(), *kind)
	if err != nil {
		return c.fail(err)
	}
	v, err := schema.New()
	if err != nil {
		return c.fail(err)
	}
	results := make([]validation, 0, len(files))
	for _, f := range files {
		r, err := validateFile(v, f.path, f.kind)
		if err != nil {
			return c.fail(err)
		}
		results = append(results, r)
	}
	if err := writeValidations(c, *format, results); err != nil {
		return c.fail(err)
	}
	if slices.ContainsFunc(results, func(r validation) bool { return !r.Valid }) {
		return exitFailed
	}
	return exitOK
}

type document struct{ path, kind string }

// documents expands the paths into the documents to validate: a file as it is, a
// folder as every document in it.
func documents(paths []string, kind string) ([]document, error) {
	var docs []document
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		if !info.IsDir() {
			k := kind
			if k == kindAuto {
				if k = kindOf(p); k == "" {
					return nil, fmt.Errorf("validate: cannot tell what %s is from its path; say it with --kind", p)
				}
			}
			docs = append(docs, document{p, k})
			continue
		}
		err = filepath.WalkDir(p, func(file string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			if k := kindOf(file); !d.IsDir() && k != "" && (kind == kindAuto || kind == k) {
				docs = append(docs, document{file, k})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
	}
	return docs, nil
}

// kindOf tells a document's kind by where the repository layout puts it.
func kindOf(p string) string {
	base, parent := filepath.Base(p), filepath.Base(filepath.Dir(p))
	switch {
	case slices.Contains(manifest.FileNames, base):
		return kindModel
	case parent == gitops.EnvironmentDir && filepath.Ext(base) == ".yaml":
		return kindEnvironment
	case base == filepath.Base(gitops.ConfigPath) && parent == gitops.ConfigDir:
		return kindConfig
	case base == "evidence.json" || strings.HasSuffix(base, ".evidence.json"):
		return kindEvidence
	}
	return ""
}

// compileAnalysis parses the config's analysis queries and conditions, as the
// App does before it measures, and places a mistake at its field.
func compileAnalysis(name string, data []byte, cfg *gitops.Config) error {
	_, err := analysis.CompileConfig(cfg)
	var fe *analysis.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	line, col := schema.Locate(data, fe.Path)
	return schema.Errors{{File: name, Line: line, Column: col, Path: fe.Path, Message: fe.Err.Error()}}
}

// validateFile returns the verdict on one file; an error only when the file
// cannot be read.
func validateFile(v *schema.Validator, path, kind string) (validation, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return validation{}, fmt.Errorf("validate: %w", err)
	}
	name := filepath.ToSlash(path)
	switch kind {
	case kindModel:
		_, err = gitops.ParseManifest(v, name, data)
	case kindEnvironment:
		_, err = gitops.ParseEnvironment(v, name, data)
	case kindConfig:
		var cfg gitops.Config
		if err = v.Decode(schema.Config, name, data, &cfg); err == nil {
			err = compileAnalysis(name, data, &cfg)
		}
	case kindEvidence:
		err = v.Decode(schema.Evidence, name, data, new(map[string]any))
	}
	r := validation{Path: name, Kind: kind, Valid: err == nil}
	var list schema.Errors
	switch {
	case errors.As(err, &list):
		for _, e := range list {
			r.Errors = append(r.Errors, problem{File: e.File, Line: e.Line, Column: e.Column, Path: e.Path, Message: e.Message, text: e.Error()})
		}
	case err != nil:
		r.Errors = append(r.Errors, problem{File: name, Message: err.Error(), text: err.Error()})
	}
	return r, nil
}

func writeValidations(c *cli, format string, results []validation) error {
	if format == "json" {
		return writeJSON(c.stdout, results)
	}
	for _, r := range results {
		if r.Valid {
			fmt.Fprintf(c.stdout, "%s: valid %s\n", r.Path, r.Kind)
			continue
		}
		for _, p := range r.Errors {
			fmt.Fprintln(c.stdout, p.text)
		}
	}
	return nil
}

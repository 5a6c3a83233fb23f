package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

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
	kindWaivers     = "waivers"
)

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

func (c *cli) validateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate [flags] PATH...",
		Short: "validate manifests, environment files, config, waivers and evidence",
		Long: "Validate the documents named, or every document in the folders named: manifests, environment files,\n" +
			"config, waivers and evidence. A document is told by what it says it is (a manifest's apiVersion and\n" +
			"kind, an evidence document's schema), else by where the repository layout puts it.\n" +
			"Exit 0 when all are valid, 1 when one is not, 2 when they cannot be read or a folder holds none.",
	}
	kind := choiceFlag(cmd, "kind", "what the files are; auto tells by their apiVersion and kind, then by their path", kindAuto, kindModel, kindEnvironment, kindConfig, kindWaivers, kindEvidence)
	format := choiceFlag(cmd, "format", "output format", "text", "json")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) == 0 {
			return c.fail(errors.New("validate: name at least one PATH (a file, or a folder to validate every document in it)"))
		}
		v, err := schema.New()
		if err != nil {
			return c.fail(err)
		}
		files, err := documents(v, args, *kind)
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
	})
	return cmd
}

type document struct{ path, kind string }

// documents expands the paths into the documents to validate: a file as it is, a
// folder as every document in it that is one of kind's. A folder with none is
// an error: a mistyped path must not pass for a valid repository.
func documents(v *schema.Validator, paths []string, kind string) ([]document, error) {
	var docs []document
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		if !info.IsDir() {
			k := kind
			if k == kindAuto {
				if k, err = recognise(v, p); err != nil {
					return nil, err
				}
				if k == "" {
					return nil, fmt.Errorf("validate: cannot tell what %s is: it names no modelgate apiVersion and kind, nor is its path one of the repository layout's; say it with --kind", p)
				}
			}
			docs = append(docs, document{p, k})
			continue
		}
		found := len(docs)
		err = filepath.WalkDir(p, func(file string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			k, err := recognise(v, file)
			if k != "" && (kind == kindAuto || kind == k) {
				docs = append(docs, document{file, k})
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		if len(docs) == found {
			if kind != kindAuto {
				return nil, fmt.Errorf("validate: nothing to validate in %s: it holds no %s document", p, kind)
			}
			return nil, fmt.Errorf("validate: nothing to validate in %s: it holds no manifest, environment file, config, waivers or evidence", p)
		}
	}
	return docs, nil
}

// recognise tells a document's kind as kubectl and conftest do: by what it
// says it is, then by where the repository layout puts it. What it says only
// adds to its path: a manifest whose apiVersion is mistyped is still
// validated as a manifest, and told what is wrong with it. A document that
// does not parse is told by its path alone, and validating it says where
// it breaks. "" is a file that is none of modelgate's.
func recognise(v *schema.Validator, p string) (string, error) {
	byPath := kindOf(p)
	if !slices.Contains(documentExts, strings.ToLower(filepath.Ext(p))) {
		return byPath, nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("validate: %w", err)
	}
	h, err := v.Header(filepath.ToSlash(p), data)
	switch {
	case err != nil:
		return byPath, nil
	case strings.HasPrefix(h.APIVersion, manifestAPIGroup) || h.Kind == manifestKind:
		return kindModel, nil
	case strings.HasPrefix(h.Schema, evidenceSchemaPrefix):
		return kindEvidence, nil
	}
	return byPath, nil
}

// What documents say they are (schemas/manifest.cue, schemas/evidence.cue).
const (
	manifestAPIGroup     = "modelgate/"
	manifestKind         = "Model"
	evidenceSchemaPrefix = "modelgate.evidence/"
)

// documentExts are the extensions of the formats a document may be written in.
var documentExts = []string{".yaml", ".yml", ".json", ".cue"}

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
	case base == filepath.Base(gitops.WaiversPath) && parent == gitops.ConfigDir:
		return kindWaivers
	case base == "evidence.json" || strings.HasSuffix(base, ".evidence.json"):
		return kindEvidence
	}
	return ""
}

// validateWaivers validates the waivers file entry by entry, as the gate
// reads it (one malformed waiver voids no other), and places each mistake at
// its field in the file.
func validateWaivers(v *schema.Validator, name string, data []byte) error {
	var file struct{ Waivers []json.RawMessage }
	if err := v.Decode(schema.WaiverEntries, name, data, &file); err != nil {
		return err
	}
	var list schema.Errors
	for i, raw := range file.Waivers {
		err := v.Decode(schema.Waiver, "waiver.json", raw, new(map[string]any))
		var entry schema.Errors
		if !errors.As(err, &entry) {
			if err != nil {
				return err
			}
			continue
		}
		at := fmt.Sprintf("waivers[%d]", i)
		for _, e := range entry {
			path := at
			if e.Path != "" {
				path += "." + e.Path
			}
			// A missing field is placed at its entry, as the schema's
			// errors place it at its parent.
			line, col := schema.Locate(data, path)
			if line == 1 && col == 1 {
				line, col = schema.Locate(data, at)
			}
			list = append(list, &schema.Error{File: name, Line: line, Column: col, Path: path, Message: e.Message})
		}
	}
	if len(list) > 0 {
		return list
	}
	return nil
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
	case kindWaivers:
		err = validateWaivers(v, name, data)
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

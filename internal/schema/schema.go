// Package schema validates modelgate's documents (YAML, JSON or CUE) against the
// CUE definitions of package schemas and decodes them, with every error placed at
// the file, line and column at fault.
package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	cuejson "cuelang.org/go/encoding/json"
	cueyaml "cuelang.org/go/encoding/yaml"

	"github.com/modelgate/modelgate/schemas"
)

// Definition names a document kind of package schemas.
type Definition string

// The document kinds.
const (
	Model       Definition = "#Model"
	Environment Definition = "#Environment"
	Config      Definition = "#Config"
	Evidence    Definition = "#Evidence"
	Waiver      Definition = "#Waiver"
	// WaiverEntries is the waivers file with its entries unjudged, so that each
	// can be judged on its own.
	WaiverEntries Definition = "#WaiverEntries"
	// Report is the JSON of a compliance report, which modelgate writes and
	// its readers check.
	Report Definition = "#Report"
)

// schemaDir prefixes schema file names in positions, so that errors against the
// schema can be told apart from errors in the document.
const schemaDir = "schemas/"

// defaultsFile holds the default values that a user's value may replace.
const defaultsFile = schemaDir + "defaults.cue"

// Validator validates and decodes documents. It is safe for concurrent use.
type Validator struct {
	mu sync.Mutex
	// idle holds the compiled schemas no evaluation is using. A cue.Context is
	// not safe for concurrent use, so each evaluation takes one of its own: one
	// document that is slow to judge holds up no other.
	idle []*compiled
}

// compiled is the schemas compiled in a CUE context of their own.
type compiled struct {
	ctx  *cue.Context
	defs map[Definition]cue.Value
}

// New compiles the embedded schemas.
func New() (*Validator, error) {
	c, err := compile()
	if err != nil {
		return nil, err
	}
	return &Validator{idle: []*compiled{c}}, nil
}

func compile() (*compiled, error) {
	ctx := cuecontext.New()
	inst := build.NewContext().NewInstance(schemaDir, nil)
	files, err := fs.Glob(schemas.FS, "*.cue")
	if err != nil {
		return nil, fmt.Errorf("list schemas: %w", err)
	}
	for _, name := range files {
		src, err := fs.ReadFile(schemas.FS, name)
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", name, err)
		}
		if err := inst.AddFile(schemaDir+name, src); err != nil {
			return nil, fmt.Errorf("parse schema %s: %w", name, err)
		}
	}
	pkg := ctx.BuildInstance(inst)
	if err := pkg.Err(); err != nil {
		return nil, fmt.Errorf("compile schemas: %w", err)
	}
	c := &compiled{ctx: ctx, defs: make(map[Definition]cue.Value)}
	for _, def := range []Definition{Model, Environment, Config, Evidence, Waiver, WaiverEntries, Report} {
		// A reference compiled in the package's scope, rather than a lookup of the
		// definition, is what makes CUE close the definition's structs: unknown
		// fields are errors.
		ref := ctx.CompileString(string(def), cue.Scope(pkg))
		if err := ref.Err(); err != nil {
			return nil, fmt.Errorf("schema %s: %w", def, err)
		}
		c.defs[def] = ref
	}
	return c, nil
}

// acquire takes compiled schemas no other evaluation uses, compiling them afresh
// when every one is in use.
func (v *Validator) acquire() (*compiled, error) {
	v.mu.Lock()
	if n := len(v.idle); n > 0 {
		c := v.idle[n-1]
		v.idle = v.idle[:n-1]
		v.mu.Unlock()
		return c, nil
	}
	v.mu.Unlock()
	return compile()
}

func (v *Validator) release(c *compiled) {
	v.mu.Lock()
	v.idle = append(v.idle, c)
	v.mu.Unlock()
}

// Decode parses data as the format its file name's extension says (.yaml, .yml,
// .json or .cue), validates it against def, and decodes the result, defaults
// filled in, into out. A validation failure is an Errors.
func (v *Validator) Decode(def Definition, filename string, data []byte, out any) error {
	c, err := v.acquire()
	if err != nil {
		return err
	}
	defer v.release(c)
	schema, ok := c.defs[def]
	if !ok {
		return fmt.Errorf("unknown schema definition %q", def)
	}
	doc, err := c.parse(filename, data)
	if err != nil {
		return err
	}
	unified := schema.Unify(doc)
	if err := unified.Validate(cue.Concrete(true)); err != nil {
		return translate(filename, doc, unified, err)
	}
	if err := unified.Decode(out); err != nil {
		return fmt.Errorf("%s: decode: %w", filename, err)
	}
	return nil
}

// Header is what a document says it is: a manifest's apiVersion and kind, an
// evidence document's schema. What it does not say is "".
type Header struct {
	APIVersion, Kind, Schema string
}

// Header parses data as Decode does, validating nothing, and returns what the
// document says it is. An error is a document that does not parse.
func (v *Validator) Header(filename string, data []byte) (Header, error) {
	c, err := v.acquire()
	if err != nil {
		return Header{}, err
	}
	defer v.release(c)
	doc, err := c.parse(filename, data)
	if err != nil {
		return Header{}, err
	}
	field := func(name string) string {
		s, _ := doc.LookupPath(cue.MakePath(cue.Str(name))).String()
		return s
	}
	return Header{APIVersion: field("apiVersion"), Kind: field("kind"), Schema: field("schema")}, nil
}

// parse parses a document once. Before a parser sees it, its nesting is bounded,
// and a .cue document is refused unless it is data only.
func (c *compiled) parse(filename string, data []byte) (doc cue.Value, err error) {
	defer func() {
		// The parsers are third-party code fed with untrusted input: a bug in them
		// must reject the document, not bring down the App.
		if r := recover(); r != nil {
			err = Errors{{File: filename, Line: 1, Column: 1, Message: fmt.Sprintf("the parser failed on this document: %v", r)}}
		}
	}()
	switch ext := strings.ToLower(filepath.Ext(filename)); ext {
	case ".yaml", ".yml":
		if len(bytes.TrimSpace(data)) == 0 {
			// An empty file means what a file holding only comments means: a mapping
			// with no keys, so that every default applies.
			data = []byte("{}")
		}
		// YAML reads a lone CR as a line break, as LF is: the same lines, and a
		// form the decoder handles.
		data = bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
		if err := checkYAMLDepth(filename, data, maxDepth); err != nil {
			return cue.Value{}, err
		}
		var f *ast.File
		f, err = cueyaml.Extract(filename, data)
		if err != nil {
			return cue.Value{}, yamlSyntaxError(filename, data, err)
		}
		doc = c.ctx.BuildFile(f)
	case ".json":
		if err := checkBracketDepth(filename, data, false, maxDepth); err != nil {
			return cue.Value{}, err
		}
		var expr ast.Expr
		expr, err = cuejson.Extract(filename, data)
		if err != nil {
			return cue.Value{}, syntaxError(filename, err)
		}
		doc = c.ctx.BuildExpr(expr)
	case ".cue":
		if err := checkBracketDepth(filename, data, true, maxDepth); err != nil {
			return cue.Value{}, err
		}
		var f *ast.File
		f, err = parser.ParseFile(filename, data)
		if err != nil {
			return cue.Value{}, syntaxError(filename, err)
		}
		if err := checkData(filename, f); err != nil {
			return cue.Value{}, err
		}
		doc = c.ctx.BuildFile(f)
	default:
		return cue.Value{}, fmt.Errorf("%s: unsupported file type %q (expected .yaml, .yml, .json or .cue)", filename, ext)
	}
	if err := doc.Err(); err != nil {
		return cue.Value{}, syntaxError(filename, err)
	}
	return doc, nil
}

// syntaxError places a parse error at its position in the document.
func syntaxError(filename string, err error) error {
	var list Errors
	for _, e := range cueerrors.Errors(err) {
		line, col := 1, 1
		if p := e.Position(); p.IsValid() && p.Line() > 0 {
			line, col = p.Line(), max(p.Column(), 1)
		}
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if msg == "" {
			msg = e.Error()
		}
		list = append(list, &Error{File: filename, Line: line, Column: col, Message: msg})
	}
	if len(list) == 0 {
		return fmt.Errorf("%s: %w", filename, err)
	}
	return list
}

// IsDefaultsFile reports whether a schema position lies in the defaults file.
func isDefaultsFile(filename string) bool {
	return path.Clean(filename) == defaultsFile
}

// ErrInvalid is matched by every Errors, for callers that only need to know that a
// document was rejected.
var ErrInvalid = errors.New("invalid document")

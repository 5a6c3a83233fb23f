package schema

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
	cueyaml "cuelang.org/go/encoding/yaml"
	"github.com/agnivade/levenshtein"
)

// Error is one problem in a document, at the place it was found.
type Error struct {
	File    string
	Line    int
	Column  int
	Path    string // the field at fault, as metadata.riskTier or stages[1].soak; empty for syntax errors
	Message string // what was expected
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Problem())
}

// Problem says what is wrong without where: for a report that shows the
// position apart.
func (e *Error) Problem() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// Errors lists every problem found in a document, in document order.
type Errors []*Error

func (l Errors) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalid) true for every validation failure.
func (l Errors) Is(target error) bool { return target == ErrInvalid }

// yamlSyntaxError places a YAML syntax error. CUE's YAML decoder reports it as
// text, "file:line: message", with no column and at times no line: the error is
// placed at the first character of its line.
func yamlSyntaxError(filename string, data []byte, err error) error {
	msg, ok := strings.CutPrefix(err.Error(), filename+":")
	if !ok {
		return fmt.Errorf("%s: %w", filename, err)
	}
	line := 1
	if n, rest, ok := strings.Cut(msg, ":"); ok {
		if l, err := strconv.Atoi(n); err == nil && l > 0 {
			line, msg = l, rest
		}
	}
	col := 1
	lines := bytes.Split(data, []byte("\n"))
	if line <= len(lines) {
		col += len(lines[line-1]) - len(bytes.TrimLeft(lines[line-1], " \t"))
	} else {
		line = max(len(lines), 1)
	}
	return Errors{{File: filename, Line: line, Column: col, Message: "invalid YAML: " + strings.TrimSpace(msg)}}
}

// translate turns CUE's validation errors into Errors that name the document's
// position and say what was expected.
func translate(filename string, doc, unified cue.Value, err error) error {
	t := translator{file: filename, doc: doc, unified: unified, unknown: make(map[string]bool)}
	all := cueerrors.Errors(err)
	for _, e := range all {
		if format, _ := e.Msg(); format == "field not allowed" {
			t.unknown[displayPath(e.Path())] = true
		}
	}
	for i := 0; i < len(all); i++ {
		format, args := all[i].Msg()
		if format == "%d errors in empty disjunction:" {
			n, _ := args[0].(int)
			end := min(i+1+n, len(all))
			t.disjunction(all[i], all[i+1:end])
			i = end - 1
			continue
		}
		if format == "error in call to %s" && len(all) > 1 {
			// A builtin fed with an invalid value: that value is reported already.
			continue
		}
		t.add(all[i], t.message(all[i]))
	}
	if len(t.out) == 0 {
		return fmt.Errorf("%s: %w", filename, err)
	}
	slices.SortStableFunc(t.out, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return slices.CompactFunc(t.out, func(a, b *Error) bool { return *a == *b })
}

type translator struct {
	unknown     map[string]bool // display paths of fields the schema does not allow
	suggestions int             // unknown fields a likely meant name was looked for
	file        string
	doc         cue.Value // the document alone: its positions and values
	unified     cue.Value // the document unified with the schema: its fields
	out         Errors
}

// disjunction reports a value that matched none of the alternatives. Alternatives
// that fail only against a default are left out: the user replaced the default.
func (t *translator) disjunction(head cueerrors.Error, alts []cueerrors.Error) {
	var kept []cueerrors.Error
	for _, a := range alts {
		format, _ := a.Msg()
		if format == "%d errors in empty disjunction:" || againstDefault(a) {
			continue
		}
		kept = append(kept, a)
	}
	if len(kept) == 0 {
		kept = alts
	}
	if options, ok := t.enumOptions(head, kept); ok {
		// The header has no position; the alternatives have the value's.
		t.add(kept[0], fmt.Sprintf("value %s is not one of %s", t.docValue(head.Path()), strings.Join(options, ", ")))
		return
	}
	for _, a := range kept {
		t.add(a, t.message(a))
	}
}

// enumOptions returns the literals of an enumeration the value failed to match:
// every alternative is a conflict between the value and one literal.
func (t *translator) enumOptions(head cueerrors.Error, alts []cueerrors.Error) ([]string, bool) {
	got := t.docValue(head.Path())
	alts = slices.Clone(alts)
	slices.SortStableFunc(alts, func(a, b cueerrors.Error) int { return comparePos(schemaPos(a), schemaPos(b)) })
	var options []string
	for _, a := range alts {
		format, args := a.Msg()
		if format != "conflicting values %s and %s" || len(args) != 2 || !slices.Equal(a.Path(), head.Path()) {
			return nil, false
		}
		for _, arg := range args {
			if s := fmt.Sprint(arg); s != got {
				options = append(options, unquote(s))
			}
		}
	}
	return options, len(options) == len(alts) && len(options) > 1
}

// schemaPos is where in the schema an error's constraint stands.
func schemaPos(e cueerrors.Error) token.Pos {
	for _, p := range cueerrors.Positions(e) {
		if strings.HasPrefix(p.Filename(), schemaDir) {
			return p
		}
	}
	return token.NoPos
}

func comparePos(a, b token.Pos) int {
	return cmp.Or(strings.Compare(a.Filename(), b.Filename()), cmp.Compare(a.Line(), b.Line()), cmp.Compare(a.Column(), b.Column()))
}

func againstDefault(e cueerrors.Error) bool {
	for _, p := range cueerrors.Positions(e) {
		if isDefaultsFile(p.Filename()) {
			return true
		}
	}
	return false
}

// message says what was expected, in words a manifest author understands.
func (t *translator) message(e cueerrors.Error) string {
	format, args := e.Msg()
	str := func(i int) string { return fmt.Sprint(args[i]) }
	switch {
	case format == "field not allowed":
		return t.unknownField(e.Path())
	case format == "field is required but not present", format == "required field missing: %s":
		return "required field is missing"
	case format == "conflicting values %s and %s (mismatched types %s and %s)" && len(args) == 4:
		got := t.doc.LookupPath(docPath(e.Path())).IncompleteKind().String()
		want := str(2)
		if want == got {
			want = str(3)
		}
		return fmt.Sprintf("expected %s, got %s %s", article(want), got, t.docValue(e.Path()))
	case format == "conflicting values %s and %s" && len(args) == 2:
		got, want := t.docValue(e.Path()), str(0)
		if want == got {
			want = str(1)
		}
		return fmt.Sprintf("expected %s, got %s", want, got)
	case format == "invalid value %s (does not satisfy %s)" && len(args) == 2 && strings.HasPrefix(str(1), "list.MaxItems("):
		// The value is the whole list: too long to repeat.
		return fmt.Sprintf("the list has more items than %s allows", str(1))
	case format == "invalid value %v (out of bound %s)" && len(args) == 2:
		bound := str(1)
		switch {
		case strings.HasPrefix(bound, "=~"):
			return fmt.Sprintf("value %s does not match pattern %s", str(0), bound[2:])
		case strings.HasPrefix(bound, "!~"):
			return fmt.Sprintf("value %s must not match pattern %s", str(0), bound[2:])
		default:
			return fmt.Sprintf("value %s is out of range: must be %s", str(0), bound)
		}
	}
	msg := e.Error()
	if p := strings.Join(e.Path(), "."); p != "" {
		msg = strings.TrimPrefix(msg, p+": ")
	}
	return msg
}

// unknownField names the field and, for a likely typo, the field that was meant.
func (t *translator) unknownField(p []string) string {
	name := unquote(p[len(p)-1])
	msg := fmt.Sprintf("unknown field %q", name)
	if t.suggestions >= maxSuggestions {
		return msg
	}
	t.suggestions++
	if near := closest(name, t.allowedFields(p[:len(p)-1])); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return msg
}

// maxSuggestions bounds the unknown fields for which a likely meant name is
// looked for: each look lists the struct's fields and compares the name with
// each, so looking for every one of a struct's unknown fields would cost time
// quadratic in its size.
const maxSuggestions = 20

// allowedFields lists the fields the schema declares at path p of the document.
func (t *translator) allowedFields(p []string) []string {
	iter, err := t.unified.LookupPath(docPath(p)).Fields(cue.Optional(true))
	if err != nil {
		return nil
	}
	var names []string
	for iter.Next() {
		if !t.unknown[displayPath(append(slices.Clip(p), iter.Selector().String()))] {
			names = append(names, iter.Selector().Unquoted())
		}
	}
	return names
}

// closest returns the candidate a misspelt name most likely meant, or "".
func closest(name string, candidates []string) string {
	best, bestDist := "", max(2, len(name)/3)+1
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(strings.ToLower(name), strings.ToLower(c))
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func (t *translator) add(e cueerrors.Error, msg string) {
	line, col := t.position(e)
	t.out = append(t.out, &Error{File: t.file, Line: line, Column: col, Path: displayPath(fieldPath(e)), Message: msg})
}

// fieldPath is the path of the field an error is about. A required field that a
// condition refers to is reported at its struct, with the field's name as an
// argument.
func fieldPath(e cueerrors.Error) []string {
	if format, args := e.Msg(); format == "required field missing: %s" && len(args) == 1 {
		return append(slices.Clip(e.Path()), fmt.Sprint(args[0]))
	}
	return e.Path()
}

// position is where the error stands in the document: the value at fault or, for a
// missing field, the nearest enclosing value that is there.
func (t *translator) position(e cueerrors.Error) (int, int) {
	for _, p := range cueerrors.Positions(e) {
		if p.Filename() == t.file && p.Line() > 0 {
			return p.Line(), max(p.Column(), 1)
		}
	}
	path := docPath(e.Path())
	sels := path.Selectors()
	for n := len(sels); n >= 0; n-- {
		v := t.doc.LookupPath(cue.MakePath(sels[:n]...))
		if pos := v.Pos(); v.Exists() && pos.IsValid() && pos.Filename() == t.file && pos.Line() > 0 {
			return pos.Line(), max(pos.Column(), 1)
		}
	}
	return 1, 1
}

// docValue renders the document's value at path p as CUE prints it.
func (t *translator) docValue(p []string) string {
	v := t.doc.LookupPath(docPath(p))
	if !v.Exists() {
		return "(none)"
	}
	return fmt.Sprint(v)
}

// docPath maps an error path to the document. A hidden field (_stages) reports its
// errors at the visible field whose name it carries (stages).
func docPath(p []string) cue.Path {
	sels := make([]cue.Selector, len(p))
	for i, label := range p {
		if n, err := strconv.Atoi(label); err == nil {
			sels[i] = cue.Index(n)
			continue
		}
		sels[i] = cue.Str(strings.TrimPrefix(unquote(label), "_"))
	}
	return cue.MakePath(sels...)
}

func displayPath(p []string) string {
	var b strings.Builder
	for _, label := range p {
		if _, err := strconv.Atoi(label); err == nil {
			b.WriteString("[" + label + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strings.TrimPrefix(unquote(label), "_"))
	}
	return b.String()
}

func unquote(s string) string {
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}

func article(kind string) string {
	switch kind {
	case "struct":
		return "a mapping"
	case "list":
		return "a list"
	case "int", "float", "number", "string", "bool", "null", "bytes":
		if kind == "int" {
			return "an int"
		}
		return "a " + kind
	}
	return kind
}

// Locate returns where the value at path (as stages[1].soak) stands in a YAML
// or JSON document, for errors found after decoding; 1:1 when it cannot tell.
// It reads the document as Decode does, through CUE's own YAML and JSON
// readers, so both agree on where a value is.
func Locate(data []byte, path string) (line, column int) {
	f, err := cueyaml.Extract("", data)
	if err != nil || len(f.Decls) == 0 {
		return 1, 1
	}
	var node ast.Node = &ast.StructLit{Elts: f.Decls}
	for _, seg := range pathSegments(path) {
		if node = child(node, seg); node == nil {
			return 1, 1
		}
	}
	pos := node.Pos()
	return max(pos.Line(), 1), max(pos.Column(), 1)
}

// pathSegments splits stages[1].soak into "stages", "[1]", "soak".
func pathSegments(path string) []string {
	var segs []string
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			segs = append(segs, name)
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			segs = append(segs, "["+idx+"]")
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return segs
}

// child is the value of a field of a struct, or an element of a list.
func child(n ast.Node, seg string) ast.Node {
	if idx, ok := strings.CutPrefix(seg, "["); ok {
		list, isList := n.(*ast.ListLit)
		i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
		if !isList || err != nil || i < 0 || i >= len(list.Elts) {
			return nil
		}
		return list.Elts[i]
	}
	st, ok := n.(*ast.StructLit)
	if !ok {
		return nil
	}
	for _, d := range st.Elts {
		field, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		if name, _, err := ast.LabelName(field.Label); err == nil && name == seg {
			return field.Value
		}
	}
	return nil
}

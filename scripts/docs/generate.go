package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/modelgate/modelgate/schemas"
)

// Page is one generated file of docs/.
type Page struct {
	File string
	Text []byte
}

// document is a page and the definition it describes.
type document struct {
	file, title string
	definition  string
	// intro names the definition whose comment opens the page, when it is not
	// definition's own.
	intro string
	// where says where the document lives.
	where string
	// elements replaces the element type of list fields, by path: the waivers
	// file is validated with its entries unjudged, each entry then on its own.
	elements map[string]string
}

var documents = []document{
	{file: "manifest.md", title: "Model manifest", definition: "#Model",
		where: "`models/<name>/<version>/model.yaml` (or `.json`, or CUE data in `.cue`)"},
	{file: "environment.md", title: "Environment file", definition: "#Environment",
		where: "`environments/<stage>.yaml`"},
	{file: "config.md", title: "Repository config", definition: "#Config",
		where: "`.modelgate/config.yaml`, read from the base branch only"},
	{file: "waivers.md", title: "Waivers", definition: "#WaiverEntries", intro: "#Waiver",
		where:    "`.modelgate/waivers.yaml`, read from the base branch only; each entry of `waivers` is judged on its own, and a malformed entry is ignored with a warning",
		elements: map[string]string{"waivers": "#Waiver"}},
	{file: "evidence.md", title: "Evidence document", definition: "#Evidence",
		where: "what `modelgate check` writes, what workflows upload, and what every policy reads as `input.evidence`"},
}

// Generate renders every page from the embedded schemas.
func Generate() ([]Page, error) {
	s, err := load()
	if err != nil {
		return nil, err
	}
	pages := make([]Page, 0, len(documents))
	for _, d := range documents {
		text, err := s.render(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.file, err)
		}
		pages = append(pages, Page{File: d.file, Text: text})
	}
	return pages, nil
}

// schemaSet is the parsed schemas, for their structure and comments, and the
// compiled package, for the values of defaults.
type schemaSet struct {
	defs map[string]*ast.Field
	ctx  *cue.Context
	pkg  cue.Value
}

func load() (*schemaSet, error) {
	names, err := fs.Glob(schemas.FS, "*.cue")
	if err != nil {
		return nil, err
	}
	s := &schemaSet{defs: make(map[string]*ast.Field), ctx: cuecontext.New()}
	inst := build.NewContext().NewInstance("schemas/", nil)
	for _, name := range names {
		src, err := fs.ReadFile(schemas.FS, name)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile("schemas/"+name, src, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			if field, ok := decl.(*ast.Field); ok {
				if id, ok := field.Label.(*ast.Ident); ok && strings.HasPrefix(id.Name, "#") {
					s.defs[id.Name] = field
				}
			}
		}
		if err := inst.AddSyntax(f); err != nil {
			return nil, err
		}
	}
	s.pkg = s.ctx.BuildInstance(inst)
	if err := s.pkg.Err(); err != nil {
		return nil, fmt.Errorf("compile schemas: %w", err)
	}
	return s, nil
}

// row is one field of a page.
type row struct {
	path     string
	required bool
	// when lists the conditions under which an optional field is required.
	when []string
	// regular is a field with neither ! nor ?: CUE always makes it, so it is
	// required exactly when one of its own fields is.
	regular bool
	// inList is a field of a list's entries or of a map's values.
	inList bool
	// pattern is a map's values, <name>: a map may hold none.
	pattern  bool
	typ, def string
	doc      string
	parent   *row
	children []*row
}

// always reports whether every document must hold the field.
func (r *row) always() bool {
	return r.required && len(r.when) == 0 && !r.inList && (r.parent == nil || r.parent.always())
}

// frame is what a struct's fields inherit from where the struct is.
type frame struct {
	prefix string
	parent *row
	inList bool
	// cond is the condition of the if-comprehensions the struct is in.
	cond string
	lets map[string]ast.Expr
	// hidden are the hidden fields in scope that list a field of a list's
	// entries, [for s in stages {s.name}], as the path they list: stages[].name.
	hidden map[string]string
	// inherit is the comment of a field written in CUE's short form a: b: c,
	// which belongs to every field of the chain.
	inherit string
}

type walker struct {
	s      *schemaSet
	doc    document
	rows   []*row
	byPath map[string]*row
	// refs are the named constraints the types mention: the page explains them.
	refs map[string]bool
	// open are the definitions being expanded, against a schema that refers to
	// itself.
	open map[string]bool
}

func (s *schemaSet) render(d document) ([]byte, error) {
	root, ok := s.defs[d.definition]
	if !ok {
		return nil, fmt.Errorf("no definition %s", d.definition)
	}
	w := &walker{s: s, doc: d, byPath: make(map[string]*row), refs: make(map[string]bool), open: map[string]bool{d.definition: true}}
	for _, k := range w.children("", root.Value) {
		if err := w.walk(k.st, frame{prefix: k.suffix, inList: k.suffix != ""}); err != nil {
			return nil, err
		}
	}
	for i := len(w.rows) - 1; i >= 0; i-- {
		r := w.rows[i]
		if r.regular {
			r.required = slices.ContainsFunc(r.children, func(c *row) bool { return c.required && len(c.when) == 0 && !c.inList })
		}
	}
	intro := d.definition
	if d.intro != "" {
		intro = d.intro
	}
	return w.page(docOf(s.defs[intro])), nil
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	if strings.HasSuffix(prefix, "[]") && name == "" {
		return prefix
	}
	return prefix + "." + name
}

func (w *walker) walk(st *ast.StructLit, f frame) error {
	lets := make(map[string]ast.Expr, len(f.lets))
	for k, v := range f.lets {
		lets[k] = v
	}
	f.lets = lets
	hidden := make(map[string]string, len(f.hidden))
	for k, v := range f.hidden {
		hidden[k] = v
	}
	f.hidden = hidden
	for _, elt := range st.Elts {
		switch x := elt.(type) {
		case *ast.LetClause:
			lets[x.Ident.Name] = x.Expr
		case *ast.Field:
			if name, _, err := ast.LabelName(x.Label); err == nil && strings.HasPrefix(name, "_") {
				if p, ok := listed(x.Value); ok {
					hidden[name] = join(f.prefix, p)
				}
			}
		}
	}
	for _, elt := range st.Elts {
		switch x := elt.(type) {
		case *ast.Field:
			name, ok := labelOf(x.Label)
			if !ok {
				continue
			}
			inherit := ""
			if st.Lbrace == token.NoPos {
				inherit = f.inherit
			}
			if err := w.field(join(f.prefix, name), x, f, inherit); err != nil {
				return err
			}
		case *ast.Comprehension:
			var conds []string
			for _, c := range x.Clauses {
				ifc, ok := c.(*ast.IfClause)
				if !ok {
					conds = nil
					break
				}
				conds = append(conds, condition(ifc.Condition, f.prefix, f.hidden))
			}
			body, ok := x.Value.(*ast.StructLit)
			if len(conds) == 0 || !ok {
				continue
			}
			g := f
			if g.cond != "" {
				conds = append([]string{g.cond}, conds...)
			}
			g.cond = strings.Join(conds, " and ")
			if err := w.walk(body, g); err != nil {
				return err
			}
		}
	}
	return nil
}

// labelOf names a field's path segment: its name, <name> for a pattern of
// strings, <key> for a narrower pattern. Hidden fields, definitions and
// dynamic fields are not part of a document.
func labelOf(l ast.Label) (string, bool) {
	if list, ok := l.(*ast.ListLit); ok && len(list.Elts) == 1 {
		if id, ok := list.Elts[0].(*ast.Ident); ok && id.Name == "string" {
			return "<name>", true
		}
		return "<key>", true
	}
	name, _, err := ast.LabelName(l)
	if err != nil || strings.HasPrefix(name, "_") || strings.HasPrefix(name, "#") {
		return "", false
	}
	return name, true
}

func (w *walker) field(path string, f *ast.Field, fr frame, inherit string) error {
	defExpr, typeExpr := splitDefault(f.Value)
	doc := docOf(f)
	if doc == "" {
		doc = inherit
	}
	var kids []kid
	if el, ok := w.doc.elements[path]; ok {
		for _, k := range w.children(el, &ast.Ident{Name: el}) {
			kids = append(kids, kid{suffix: "[]" + k.suffix, st: k.st})
		}
	} else {
		kids = w.children("", typeExpr)
	}
	r := w.byPath[path]
	// The fields of a row made under a condition are judged only when it is
	// there: the row carries the condition.
	kidCond := fr.cond
	if r == nil {
		kidCond = ""
	}
	switch {
	case r != nil:
		// A field the schema constrains again, under a condition: only a
		// requirement is news.
		if fr.cond != "" && f.Constraint == token.NOT && !r.required {
			r.when = append(r.when, fr.cond)
		}
		if fr.cond != "" && doc != "" && !strings.Contains(r.doc, doc) {
			r.doc = strings.TrimSpace(r.doc + " If " + fr.cond + ": " + doc)
		}
	default:
		_, pattern := f.Label.(*ast.ListLit)
		r = &row{path: path, parent: fr.parent, inList: fr.inList, doc: doc, pattern: pattern,
			required: f.Constraint == token.NOT, regular: f.Constraint == token.ILLEGAL && !pattern}
		if fr.cond != "" {
			if r.required {
				r.required = false
				r.when = []string{fr.cond}
			} else {
				r.doc = strings.TrimSpace("Only if " + fr.cond + ". " + r.doc)
			}
		}
		r.typ = w.typeOf(typeExpr, kids)
		if defExpr != nil {
			v, err := w.defaultOf(defExpr, fr.lets)
			if err != nil {
				return fmt.Errorf("default of %s: %w", path, err)
			}
			r.def = v
		}
		w.rows = append(w.rows, r)
		w.byPath[path] = r
		if fr.parent != nil {
			fr.parent.children = append(fr.parent.children, r)
		}
	}
	for _, k := range kids {
		g := frame{prefix: path + k.suffix, parent: r, inList: k.suffix != "" || r.pattern, cond: kidCond, lets: fr.lets, hidden: fr.hidden}
		if k.suffix != "" {
			g.cond = ""
		}
		if doc != "" {
			g.inherit = doc
		}
		if err := w.walk(k.st, g); err != nil {
			return err
		}
	}
	return nil
}

// kid is a struct a value's fields come from; suffix is "[]" for a list's
// entries.
type kid struct {
	suffix string
	st     *ast.StructLit
}

// children finds the structs that give expr its fields. name is the
// definition expr expands, if any.
func (w *walker) children(name string, expr ast.Expr) []kid {
	switch x := expr.(type) {
	case *ast.StructLit:
		if w.structLike(x) {
			return []kid{{st: x}}
		}
	case *ast.Ident:
		def, ok := w.s.defs[x.Name]
		if !ok || (w.open[x.Name] && x.Name != name) {
			return nil
		}
		w.open[x.Name] = true
		defer delete(w.open, x.Name)
		return w.children(x.Name, def.Value)
	case *ast.ParenExpr:
		return w.children(name, x.X)
	case *ast.BinaryExpr:
		if x.Op == token.OR || x.Op == token.AND {
			var ks []kid
			for _, e := range []ast.Expr{x.X, x.Y} {
				if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.MUL {
					continue
				}
				ks = append(ks, w.children(name, e)...)
			}
			return ks
		}
	case *ast.ListLit:
		if el := listElement(x); el != nil {
			var ks []kid
			for _, k := range w.children(name, el) {
				ks = append(ks, kid{suffix: "[]" + k.suffix, st: k.st})
			}
			return ks
		}
	}
	return nil
}

// listElement is the element type of [...T].
func listElement(l *ast.ListLit) ast.Expr {
	if len(l.Elts) != 1 {
		return nil
	}
	if e, ok := l.Elts[0].(*ast.Ellipsis); ok {
		return e.Type
	}
	return nil
}

// structLike reports whether st has fields worth a row each: a named field, a
// condition, or a pattern whose values have fields. A map of scalars is a
// type, written as it is.
func (w *walker) structLike(st *ast.StructLit) bool {
	for _, elt := range st.Elts {
		switch x := elt.(type) {
		case *ast.Field:
			if _, ok := x.Label.(*ast.ListLit); ok {
				_, t := splitDefault(x.Value)
				if len(w.children("", t)) > 0 {
					return true
				}
				continue
			}
			if _, ok := labelOf(x.Label); ok {
				return true
			}
		case *ast.Comprehension:
			if _, ok := x.Clauses[0].(*ast.IfClause); ok {
				return true
			}
		}
	}
	return false
}

// splitDefault splits *d | t1 | t2 into d and t1 | t2, or into "d" and
// "d" | t1 | t2 when d is a literal.
func splitDefault(expr ast.Expr) (def, typ ast.Expr) {
	alts := disjuncts(expr)
	for i, a := range alts {
		if u, ok := a.(*ast.UnaryExpr); ok && u.Op == token.MUL {
			rest := slices.Clone(alts)
			if _, ok := u.X.(*ast.BasicLit); ok {
				// A literal default is one of the choices.
				rest[i] = u.X
			} else {
				rest = slices.Delete(rest, i, i+1)
			}
			typ := rest[0]
			for _, r := range rest[1:] {
				typ = &ast.BinaryExpr{X: typ, Op: token.OR, Y: r}
			}
			return u.X, unparen(typ)
		}
	}
	return nil, expr
}

// disjuncts lists the alternatives of a | b | c, which CUE parses as (a | b) | c.
func disjuncts(expr ast.Expr) []ast.Expr {
	if b, ok := expr.(*ast.BinaryExpr); ok && b.Op == token.OR {
		return append(disjuncts(b.X), disjuncts(b.Y)...)
	}
	return []ast.Expr{expr}
}

func unparen(expr ast.Expr) ast.Expr {
	for {
		p, ok := expr.(*ast.ParenExpr)
		if !ok {
			return expr
		}
		expr = p.X
	}
}

func (w *walker) typeOf(expr ast.Expr, kids []kid) string {
	expr = unparen(expr)
	if len(kids) > 0 {
		var extra []string
		if b, ok := expr.(*ast.BinaryExpr); ok && b.Op == token.AND {
			for _, e := range []ast.Expr{b.X, b.Y} {
				if _, ok := e.(*ast.ListLit); ok {
					expr = e
				} else {
					extra = append(extra, "`"+text(e)+"`")
				}
			}
		}
		if _, ok := expr.(*ast.ListLit); ok {
			return strings.Join(append([]string{"list of objects"}, extra...), ", ")
		}
		return "object"
	}
	w.mention(expr)
	return "`" + text(expr) + "`"
}

// mention records the named constraints expr refers to, and theirs.
func (w *walker) mention(expr ast.Node) {
	ast.Walk(expr, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok || w.refs[id.Name] {
			return true
		}
		if def, ok := w.s.defs[id.Name]; ok && !strings.HasPrefix(id.Name, "#Default") {
			w.refs[id.Name] = true
			w.mention(def.Value)
		}
		return true
	}, nil)
}

// defaultOf evaluates a default in the schemas' scope: the value itself, not
// the name of the definition that holds it.
func (w *walker) defaultOf(expr ast.Expr, lets map[string]ast.Expr) (string, error) {
	v := w.s.ctx.CompileString(resolve(expr, lets), cue.Scope(w.s.pkg))
	if err := v.Err(); err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return "`" + string(b) + "`", nil
}

// resolve writes a selector chain that starts at a let clause from the
// clause's expression, which the package's scope can evaluate.
func resolve(expr ast.Expr, lets map[string]ast.Expr) string {
	switch x := expr.(type) {
	case *ast.SelectorExpr:
		return resolve(x.X, lets) + "." + text(x.Sel)
	case *ast.Ident:
		if l, ok := lets[x.Name]; ok {
			return "(" + text(l) + ")"
		}
	}
	return text(expr)
}

// listed recognises [for s in list {s.field}] & ..., and returns list[].field.
func listed(expr ast.Expr) (string, bool) {
	if b, ok := expr.(*ast.BinaryExpr); ok && b.Op == token.AND {
		expr = b.X
	}
	l, ok := expr.(*ast.ListLit)
	if !ok || len(l.Elts) != 1 {
		return "", false
	}
	c, ok := l.Elts[0].(*ast.Comprehension)
	if !ok || len(c.Clauses) != 1 {
		return "", false
	}
	fc, ok := c.Clauses[0].(*ast.ForClause)
	if !ok || fc.Key != nil {
		return "", false
	}
	body, ok := c.Value.(*ast.StructLit)
	if !ok || len(body.Elts) != 1 {
		return "", false
	}
	e, ok := body.Elts[0].(*ast.EmbedDecl)
	if !ok {
		return "", false
	}
	sel, ok := e.Expr.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	if id, ok := sel.X.(*ast.Ident); !ok || id.Name != fc.Value.Name {
		return "", false
	}
	return text(fc.Source) + "[]." + text(sel.Sel), true
}

// condition renders an if-comprehension's condition; prefix is the struct it
// is in, hidden the hidden fields in scope.
func condition(expr ast.Expr, prefix string, hidden map[string]string) string {
	if c, ok := expr.(*ast.CallExpr); ok && text(c.Fun) == "list.Contains" && len(c.Args) == 2 {
		if id, ok := c.Args[0].(*ast.Ident); ok {
			if p, ok := hidden[id.Name]; ok {
				return "`" + p + "` includes " + text(c.Args[1])
			}
		}
	}
	if b, ok := expr.(*ast.BinaryExpr); ok {
		if _, ok := b.Y.(*ast.BottomLit); ok {
			name := join(prefix, text(b.X))
			switch b.Op {
			case token.NEQ:
				return "`" + name + "` is given"
			case token.EQL:
				return "`" + name + "` is not given"
			}
		}
	}
	if b, ok := expr.(*ast.BinaryExpr); ok {
		if id, ok := b.X.(*ast.Ident); ok {
			return "`" + join(prefix, id.Name) + " " + b.Op.String() + " " + text(b.Y) + "`"
		}
	}
	if prefix == "" {
		return "`" + text(expr) + "`"
	}
	return "`" + text(expr) + "` (in `" + prefix + "`)"
}

// text is expr in CUE's syntax, on one line.
func text(n ast.Node) string {
	b, err := format.Node(n)
	if err != nil {
		return fmt.Sprintf("%v", n)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// docOf is the comment above a field, as one paragraph.
func docOf(f *ast.Field) string {
	var parts []string
	for _, cg := range ast.Comments(f) {
		if cg.Doc {
			parts = append(parts, strings.Fields(cg.Text())...)
		}
	}
	return strings.Join(parts, " ")
}

func (w *walker) page(intro string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", w.doc.title)
	fmt.Fprintf(&b, "<!-- Generated from schemas/*.cue by `make docs`: edit the schemas, not this file. -->\n\n")
	fmt.Fprintf(&b, "Where: %s. Schema: `%s` in `schemas/`.\n\n", w.doc.where, w.doc.definition)
	if intro != "" {
		fmt.Fprintf(&b, "%s\n\n", intro)
	}
	b.WriteString("## Required fields\n\n")
	var n int
	for _, r := range w.rows {
		if !r.required && len(r.when) == 0 {
			continue
		}
		n++
		fmt.Fprintf(&b, "- `%s`%s\n", r.path, requiredNote(r))
	}
	if n == 0 {
		b.WriteString("None: every field is optional or has a default.\n")
	}
	b.WriteString("\n## Fields\n\n")
	b.WriteString("| Field | Required | Type | Default | Description |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range w.rows {
		req := "optional"
		switch {
		case r.required:
			req = "required"
		case len(r.when) > 0:
			req = "required if " + strings.Join(r.when, " or ")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", cell(r.path), cell(req), cell(r.typ), cell(r.def), cell(r.doc))
	}
	if len(w.refs) > 0 {
		b.WriteString("\n## Types\n\nThe named constraints the fields refer to.\n")
		names := make([]string, 0, len(w.refs))
		for name := range w.refs {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			def := w.s.defs[name]
			fmt.Fprintf(&b, "\n### `%s`\n\n", name)
			if d := docOf(def); d != "" {
				fmt.Fprintf(&b, "%s\n\n", d)
			}
			fmt.Fprintf(&b, "```cue\n%s\n```\n", text(def.Value))
		}
	}
	return b.Bytes()
}

func requiredNote(r *row) string {
	switch {
	case len(r.when) > 0:
		return " — if " + strings.Join(r.when, " or ")
	case r.always():
		return ""
	case r.parent != nil && r.parent.pattern:
		return " — in each `" + r.parent.path + "`"
	case r.inList && r.parent != nil:
		return " — in each entry of `" + r.parent.path + "`"
	case r.parent != nil:
		return " — when `" + r.parent.path + "` is given"
	}
	return ""
}

// cell escapes a table cell: GitHub's tables split on | even in code spans.
func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

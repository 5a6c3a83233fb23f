package schema

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// checkData refuses in a .cue document everything that is not data: fields with
// plain labels, structs, lists and literals are all a document needs. Anything
// more (comprehensions, references, imports, expressions) lets a few hundred
// bytes make CUE's evaluator run for hours.
func checkData(filename string, f *ast.File) error {
	d := dataCheck{file: filename}
	for _, decl := range f.Decls {
		switch decl.(type) {
		case *ast.Package, *ast.CommentGroup:
			continue
		}
		if d.decl(decl, 1); d.err != nil {
			return d.err
		}
	}
	return nil
}

type dataCheck struct {
	file string
	err  error
}

// refuse records the first construct that is not data.
func (d *dataCheck) refuse(p token.Pos, what string) {
	d.fail(p, what+" is not data: a .cue document may hold only fields, structs, lists and literals")
}

func (d *dataCheck) fail(p token.Pos, msg string) {
	if d.err != nil {
		return
	}
	line, col := 1, 1
	if p.IsValid() && p.Line() > 0 {
		line, col = p.Line(), max(p.Column(), 1)
	}
	d.err = Errors{{File: d.file, Line: line, Column: col, Message: msg}}
}

func (d *dataCheck) decl(decl ast.Decl, depth int) {
	switch n := decl.(type) {
	case *ast.Field:
		d.field(n, depth)
	case *ast.EmbedDecl:
		d.expr(n.Expr, depth)
	case *ast.CommentGroup:
	case *ast.ImportDecl:
		d.refuse(n.Pos(), "an import")
	case *ast.LetClause:
		d.refuse(n.Pos(), "a let clause")
	case *ast.Ellipsis:
		d.refuse(n.Pos(), "an ellipsis")
	case *ast.Comprehension:
		d.refuse(n.Pos(), "a comprehension")
	case *ast.Attribute:
		d.refuse(n.Pos(), "an attribute")
	case *ast.Alias:
		d.refuse(n.Pos(), "an alias")
	default:
		d.refuse(decl.Pos(), fmt.Sprintf("a declaration (%T)", decl))
	}
}

func (d *dataCheck) field(f *ast.Field, depth int) {
	switch l := f.Label.(type) {
	case *ast.Ident:
		switch {
		case strings.HasPrefix(l.Name, "#") || strings.HasPrefix(l.Name, "_#"):
			d.refuse(l.Pos(), "a definition ("+l.Name+")")
		case strings.HasPrefix(l.Name, "_"):
			d.refuse(l.Pos(), "a hidden field ("+l.Name+")")
		}
	case *ast.BasicLit:
		if l.Kind != token.STRING {
			d.refuse(l.Pos(), "a label that is not a name or a string")
		}
	case *ast.Alias:
		d.refuse(l.Pos(), "an alias")
	case *ast.Interpolation:
		d.refuse(l.Pos(), "an interpolation")
	default:
		d.refuse(f.Label.Pos(), "a pattern or dynamic field")
	}
	switch {
	case f.Alias != nil:
		d.refuse(f.Label.Pos(), "an alias")
	case f.Constraint != token.ILLEGAL:
		d.refuse(f.Label.Pos(), "an optional or required field")
	case len(f.Attrs) > 0:
		d.refuse(f.Attrs[0].Pos(), "an attribute")
	}
	d.expr(f.Value, depth+1)
}

func (d *dataCheck) expr(e ast.Expr, depth int) {
	if d.err != nil {
		return
	}
	if depth > maxDepth {
		d.fail(e.Pos(), fmt.Sprintf("nesting deeper than %d levels", maxDepth))
		return
	}
	switch n := e.(type) {
	case *ast.StructLit:
		for _, decl := range n.Elts {
			d.decl(decl, depth+1)
		}
	case *ast.ListLit:
		for _, elt := range n.Elts {
			switch elt := elt.(type) {
			case *ast.Comprehension:
				d.refuse(elt.Pos(), "a comprehension")
			case *ast.Ellipsis:
				d.refuse(elt.Pos(), "an ellipsis")
			default:
				d.expr(elt, depth+1)
			}
		}
	case *ast.BasicLit:
	case *ast.UnaryExpr:
		// A sign is part of a number; every other operator is a constraint.
		if lit, ok := n.X.(*ast.BasicLit); !ok || (n.Op != token.SUB && n.Op != token.ADD) || (lit.Kind != token.INT && lit.Kind != token.FLOAT) {
			d.refuse(n.Pos(), "an expression ("+n.Op.String()+")")
		}
	case *ast.Ident:
		d.refuse(n.Pos(), "a reference ("+n.Name+")")
	case *ast.BottomLit:
		d.refuse(n.Pos(), "bottom (_|_)")
	case *ast.Interpolation:
		d.refuse(n.Pos(), "an interpolation")
	case *ast.BinaryExpr:
		d.refuse(n.OpPos, "an expression ("+n.Op.String()+")")
	case *ast.CallExpr:
		d.refuse(n.Pos(), "a call")
	default:
		d.refuse(e.Pos(), fmt.Sprintf("an expression (%T)", e))
	}
}

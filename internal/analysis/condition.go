package analysis

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A condition is parsed once, into a typed tree, and evaluated on every
// measurement. The grammar, loosest binding first:
//
//	condition  = or
//	or         = and { "||" and }
//	and        = not { "&&" not }
//	not        = "!" not | comparison
//	comparison = sum [ ( "<" | "<=" | ">" | ">=" | "==" | "!=" ) sum ]
//	sum        = product { ( "+" | "-" ) product }
//	product    = unary { ( "*" | "/" ) unary }
//	unary      = "-" unary | primary
//	primary    = number | "result" [ "[" index "]" ] | "len" "(" "result" ")"
//	           | "true" | "false" | "(" or ")"
//
// number is a decimal literal (0.01, 5, 1e-3); index a non-negative integer.
// result is the query's value: a scalar, or the one element of a vector;
// result[i] is the i-th element of a vector, its series ordered by their
// labels; len(result) counts them. A condition is a truth value, the operands
// of "!", "&&" and "||" are truth values, those of comparisons and arithmetic
// numbers: anything else is an error at parse time.
//
// NaN never decides: a measurement whose condition meets a NaN anywhere (a NaN
// sample, 0/0 in the condition) or reads an element the result lacks is
// inconclusive.
type Condition struct {
	src  string
	root node
}

func (c *Condition) String() string { return c.src }

// ParseCondition parses src; errors are ConditionErrors.
func ParseCondition(src string) (*Condition, error) {
	p := &condParser{src: src}
	p.next()
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf(p.tok, "expected an operator or the end, found %s", p.tok)
	}
	if root.kind() != kindBool {
		return nil, &ConditionError{Line: 1, Column: 1, Message: "the condition is a number, not a truth value: compare it (result < 0.01)"}
	}
	return &Condition{src: src, root: root}, nil
}

// ConditionError is a condition that does not parse, at its line and column
// (in characters, from 1).
type ConditionError struct {
	Line, Column int
	Message      string
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
}

// sample is what a condition is evaluated on: the query's values in order.
type sample []float64

// errUndecided says that a condition met a NaN or an element the result lacks.
type errUndecided struct{ reason string }

func (e *errUndecided) Error() string { return e.reason }

// eval tells whether the condition holds for s; an *errUndecided when it
// cannot tell.
func (c *Condition) eval(s sample) (bool, error) {
	return c.root.(boolNode).truth(s)
}

type valueKind int

const (
	kindNumber valueKind = iota
	kindBool
)

type node interface{ kind() valueKind }

type numNode interface {
	node
	number(s sample) (float64, error)
}

type boolNode interface {
	node
	truth(s sample) (bool, error)
}

type literal float64

func (literal) kind() valueKind                  { return kindNumber }
func (l literal) number(sample) (float64, error) { return float64(l), nil }

type boolLiteral bool

func (boolLiteral) kind() valueKind              { return kindBool }
func (b boolLiteral) truth(sample) (bool, error) { return bool(b), nil }

// resultRef is result (index -1) or result[index].
type resultRef struct{ index int }

func (resultRef) kind() valueKind { return kindNumber }
func (r resultRef) number(s sample) (float64, error) {
	i := r.index
	if i < 0 {
		if len(s) != 1 {
			return 0, &errUndecided{fmt.Sprintf("result has %d elements; name one as result[i]", len(s))}
		}
		i = 0
	}
	if i >= len(s) {
		return 0, &errUndecided{fmt.Sprintf("result[%d] does not exist: the result has %d elements", i, len(s))}
	}
	if math.IsNaN(s[i]) {
		return 0, &errUndecided{"the result is NaN"}
	}
	return s[i], nil
}

type lenNode struct{}

func (lenNode) kind() valueKind                  { return kindNumber }
func (lenNode) number(s sample) (float64, error) { return float64(len(s)), nil }

type negate struct{ x numNode }

func (negate) kind() valueKind { return kindNumber }
func (n negate) number(s sample) (float64, error) {
	v, err := n.x.number(s)
	return -v, err
}

type arith struct {
	op   string
	x, y numNode
}

func (arith) kind() valueKind { return kindNumber }
func (a arith) number(s sample) (float64, error) {
	x, err := a.x.number(s)
	if err != nil {
		return 0, err
	}
	y, err := a.y.number(s)
	if err != nil {
		return 0, err
	}
	var v float64
	switch a.op {
	case "+":
		v = x + y
	case "-":
		v = x - y
	case "*":
		v = x * y
	case "/":
		v = x / y
	}
	if math.IsNaN(v) {
		return 0, &errUndecided{fmt.Sprintf("%g %s %g is NaN", x, a.op, y)}
	}
	return v, nil
}

type compare struct {
	op   string
	x, y numNode
}

func (compare) kind() valueKind { return kindBool }
func (c compare) truth(s sample) (bool, error) {
	x, err := c.x.number(s)
	if err != nil {
		return false, err
	}
	y, err := c.y.number(s)
	if err != nil {
		return false, err
	}
	switch c.op {
	case "<":
		return x < y, nil
	case "<=":
		return x <= y, nil
	case ">":
		return x > y, nil
	case ">=":
		return x >= y, nil
	case "==":
		return x == y, nil
	default:
		return x != y, nil
	}
}

type not struct{ x boolNode }

func (not) kind() valueKind { return kindBool }
func (n not) truth(s sample) (bool, error) {
	v, err := n.x.truth(s)
	return !v, err
}

// logic evaluates both sides, so that an undecidable side makes the whole
// undecidable rather than being skipped by a short circuit.
type logic struct {
	op   string
	x, y boolNode
}

func (logic) kind() valueKind { return kindBool }
func (l logic) truth(s sample) (bool, error) {
	x, err := l.x.truth(s)
	if err != nil {
		return false, err
	}
	y, err := l.y.truth(s)
	if err != nil {
		return false, err
	}
	if l.op == "&&" {
		return x && y, nil
	}
	return x || y, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokNumber
	tokIdent
	tokOp
	tokOther
)

type token struct {
	kind   tokKind
	text   string
	offset int // in bytes
}

func (t token) String() string {
	if t.kind == tokEOF {
		return "the end"
	}
	return fmt.Sprintf("%q", t.text)
}

// maxDepth bounds the nesting of a condition, so that no input can exhaust the
// parser's stack.
const maxDepth = 64

type condParser struct {
	src   string
	pos   int // byte offset of the next character
	tok   token
	depth int
}

// enter counts one level of nesting at t.
func (p *condParser) enter(t token) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf(t, "nested more than %d deep", maxDepth)
	}
	return nil
}

func (p *condParser) errorf(t token, format string, args ...any) error {
	line, col := position(p.src, t.offset)
	return &ConditionError{Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
}

// next reads the next token into p.tok.
func (p *condParser) next() {
	for p.pos < len(p.src) && strings.ContainsRune(" \t\r\n", rune(p.src[p.pos])) {
		p.pos++
	}
	start := p.pos
	if p.pos == len(p.src) {
		p.tok = token{kind: tokEOF, offset: start}
		return
	}
	c := p.src[p.pos]
	switch {
	case c >= '0' && c <= '9' || c == '.':
		p.pos++
		for p.pos < len(p.src) && isNumberByte(p.src[p.pos], p.src[p.pos-1]) {
			p.pos++
		}
		p.tok = token{kind: tokNumber, text: p.src[start:p.pos], offset: start}
	case isIdentRune(rune(c)) || c >= utf8.RuneSelf:
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		if !isIdentRune(r) {
			p.pos += size
			p.tok = token{kind: tokOther, text: string(r), offset: start}
			return
		}
		for p.pos < len(p.src) {
			r, size := utf8.DecodeRuneInString(p.src[p.pos:])
			if !isIdentRune(r) && !unicode.IsDigit(r) {
				break
			}
			p.pos += size
		}
		p.tok = token{kind: tokIdent, text: p.src[start:p.pos], offset: start}
	default:
		for _, op := range []string{"<=", ">=", "==", "!=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "(", ")", "[", "]"} {
			if strings.HasPrefix(p.src[p.pos:], op) {
				p.pos += len(op)
				p.tok = token{kind: tokOp, text: op, offset: start}
				return
			}
		}
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		p.pos += size
		p.tok = token{kind: tokOther, text: string(r), offset: start}
	}
}

func isNumberByte(c, prev byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' ||
		(c == '+' || c == '-') && (prev == 'e' || prev == 'E')
}

func isIdentRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r)
}

func (p *condParser) isOp(ops ...string) bool {
	if p.tok.kind != tokOp {
		return false
	}
	for _, op := range ops {
		if p.tok.text == op {
			return true
		}
	}
	return false
}

func (p *condParser) expect(op string) error {
	if !p.isOp(op) {
		return p.errorf(p.tok, "expected %q, found %s", op, p.tok)
	}
	p.next()
	return nil
}

func (p *condParser) or() (node, error) {
	return p.logical("||", p.and)
}

func (p *condParser) and() (node, error) {
	return p.logical("&&", p.not)
}

func (p *condParser) logical(op string, operand func() (node, error)) (node, error) {
	at := p.tok
	x, err := operand()
	if err != nil {
		return nil, err
	}
	for p.isOp(op) {
		opTok := p.tok
		p.next()
		yAt := p.tok
		y, err := operand()
		if err != nil {
			return nil, err
		}
		if x.kind() != kindBool {
			return nil, p.errorf(at, "%q needs a truth value on its left, found a number", opTok.text)
		}
		if y.kind() != kindBool {
			return nil, p.errorf(yAt, "%q needs a truth value on its right, found a number", opTok.text)
		}
		x = logic{op: op, x: x.(boolNode), y: y.(boolNode)}
	}
	return x, nil
}

func (p *condParser) not() (node, error) {
	if !p.isOp("!") {
		return p.comparison()
	}
	if err := p.enter(p.tok); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.next()
	at := p.tok
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	if x.kind() != kindBool {
		return nil, p.errorf(at, `"!" needs a truth value, found a number`)
	}
	return not{x.(boolNode)}, nil
}

func (p *condParser) comparison() (node, error) {
	at := p.tok
	x, err := p.sum()
	if err != nil {
		return nil, err
	}
	if !p.isOp("<", "<=", ">", ">=", "==", "!=") {
		return x, nil
	}
	op := p.tok
	p.next()
	yAt := p.tok
	y, err := p.sum()
	if err != nil {
		return nil, err
	}
	if x.kind() != kindNumber {
		return nil, p.errorf(at, "%q compares numbers, found a truth value on its left", op.text)
	}
	if y.kind() != kindNumber {
		return nil, p.errorf(yAt, "%q compares numbers, found a truth value on its right", op.text)
	}
	if p.isOp("<", "<=", ">", ">=", "==", "!=") {
		return nil, p.errorf(p.tok, "comparisons do not chain: join them with && (0 < result && result < 1)")
	}
	return compare{op: op.text, x: x.(numNode), y: y.(numNode)}, nil
}

func (p *condParser) sum() (node, error) {
	return p.arithmetic([]string{"+", "-"}, p.product)
}

func (p *condParser) product() (node, error) {
	return p.arithmetic([]string{"*", "/"}, p.unary)
}

func (p *condParser) arithmetic(ops []string, operand func() (node, error)) (node, error) {
	at := p.tok
	x, err := operand()
	if err != nil {
		return nil, err
	}
	for p.isOp(ops...) {
		op := p.tok
		p.next()
		yAt := p.tok
		y, err := operand()
		if err != nil {
			return nil, err
		}
		if x.kind() != kindNumber {
			return nil, p.errorf(at, "%q needs a number on its left, found a truth value", op.text)
		}
		if y.kind() != kindNumber {
			return nil, p.errorf(yAt, "%q needs a number on its right, found a truth value", op.text)
		}
		x = arith{op: op.text, x: x.(numNode), y: y.(numNode)}
	}
	return x, nil
}

func (p *condParser) unary() (node, error) {
	if !p.isOp("-") {
		return p.primary()
	}
	if err := p.enter(p.tok); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.next()
	at := p.tok
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	if x.kind() != kindNumber {
		return nil, p.errorf(at, `"-" needs a number, found a truth value`)
	}
	return negate{x.(numNode)}, nil
}

func (p *condParser) primary() (node, error) {
	t := p.tok
	switch {
	case t.kind == tokNumber:
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(v, 0) {
			return nil, p.errorf(t, "%s is not a number", t)
		}
		p.next()
		return literal(v), nil
	case t.kind == tokIdent && t.text == "result":
		p.next()
		if !p.isOp("[") {
			return resultRef{index: -1}, nil
		}
		p.next()
		idx := p.tok
		n, err := strconv.Atoi(idx.text)
		if idx.kind != tokNumber || err != nil || n < 0 {
			return nil, p.errorf(idx, "expected an index (0, 1, ...), found %s", idx)
		}
		p.next()
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		return resultRef{index: n}, nil
	case t.kind == tokIdent && t.text == "len":
		p.next()
		if err := p.expect("("); err != nil {
			return nil, err
		}
		if p.tok.kind != tokIdent || p.tok.text != "result" {
			return nil, p.errorf(p.tok, "len takes result, found %s", p.tok)
		}
		p.next()
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return lenNode{}, nil
	case t.kind == tokIdent && (t.text == "true" || t.text == "false"):
		p.next()
		return boolLiteral(t.text == "true"), nil
	case t.kind == tokIdent:
		return nil, p.errorf(t, "unknown name %s: expected result, len(result), true or false", t)
	case t.kind == tokOp && t.text == "(":
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		p.next()
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return x, nil
	}
	return nil, p.errorf(t, "expected a number or result, found %s", t)
}

package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// member is a member of a JSON object, with the value OPA makes of its JSON
// text.
type member struct {
	key   string
	json  []byte
	value *ast.Term
}

// parseValue reads a JSON document straight into the value OPA evaluates, the
// value OPA itself makes of the document decoded with json.Number: numbers keep
// their text, so that no float64 round trip can move a metric across a
// threshold. Going through Go maps instead costs more than some policies do.
//
// A member of the document's top-level object that is known, key and JSON text,
// is not read again: its value is the one known.
func parseValue(doc []byte, known member) (ast.Value, error) {
	p := jsonParser{doc: doc, text: string(doc), known: known}
	p.space()
	t, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.space(); p.pos != len(p.doc) {
		return nil, p.errorf("data after the document")
	}
	return t.Value, nil
}

type jsonParser struct {
	doc []byte
	// text is doc as one string, of which the strings and numbers read are
	// parts: one allocation for all of them.
	text string
	pos  int
	// stack holds the members of the objects and arrays being read: a
	// container's members are copied out when it ends, so that one buffer
	// serves them all.
	stack []*ast.Term
	// slab is where terms are allocated, a block at a time.
	slab []ast.Term
	// depth is how many objects and arrays the current position is in.
	depth int
	known member
}

var literals = []struct {
	text []byte
	term *ast.Term
}{{[]byte("true"), ast.InternedTerm(true)}, {[]byte("false"), ast.InternedTerm(false)}, {[]byte("null"), ast.InternedNullTerm}}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *jsonParser) term(v ast.Value) *ast.Term {
	if len(p.slab) == 0 {
		p.slab = make([]ast.Term, 64)
	}
	t := &p.slab[0]
	p.slab = p.slab[1:]
	t.Value = v
	return t
}

// scalar returns the term of the string or number that starts at start and
// ends at the current position.
func (p *jsonParser) scalar(start int, conv func(string) (ast.Value, error)) (*ast.Term, error) {
	v, err := conv(p.text[start:p.pos])
	if err != nil {
		return nil, fmt.Errorf("offset %d: %w", start, err)
	}
	return p.term(v), nil
}

func (p *jsonParser) space() {
	for p.pos < len(p.doc) {
		switch p.doc[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (*ast.Term, error) {
	if p.pos == len(p.doc) {
		return nil, p.errorf("unexpected end of the document")
	}
	switch c := p.doc[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.string()
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	for _, lit := range literals {
		if bytes.HasPrefix(p.doc[p.pos:], lit.text) {
			p.pos += len(lit.text)
			return lit.term, nil
		}
	}
	return nil, p.errorf("unexpected character %q", p.doc[p.pos])
}

func (p *jsonParser) object() (*ast.Term, error) {
	p.pos++ // {
	p.depth++
	base := len(p.stack)
	defer func() { p.stack, p.depth = p.stack[:base], p.depth-1 }()
	for p.space(); ; p.space() {
		if len(p.stack) == base && p.skip('}') {
			return p.term(ast.NewObject()), nil
		}
		if p.pos == len(p.doc) || p.doc[p.pos] != '"' {
			return nil, p.errorf("want an object key")
		}
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		if p.space(); !p.skip(':') {
			return nil, p.errorf("want ':'")
		}
		p.space()
		v, ok := p.knownValue(key)
		if !ok {
			if v, err = p.value(); err != nil {
				return nil, err
			}
		}
		p.stack = append(p.stack, key, v)
		if p.space(); p.skip(',') {
			continue
		}
		if !p.skip('}') {
			return nil, p.errorf("want ',' or '}'")
		}
		return p.term(newObject(p.stack[base:])), nil
	}
}

// newObject makes an object of keys and values in turn, the last value of a
// key counting, as with encoding/json.
func newObject(members []*ast.Term) ast.Object {
	pairs := make([][2]*ast.Term, len(members)/2)
	for i := range pairs {
		pairs[i] = [2]*ast.Term{members[2*i], members[2*i+1]}
	}
	if !repeatsKey(pairs) {
		return ast.NewObject(pairs...)
	}
	obj := ast.NewObjectWithCapacity(len(pairs))
	for _, kv := range pairs {
		obj.Insert(kv[0], kv[1])
	}
	return obj
}

// repeatsKey says whether a key repeats, which NewObject would keep twice.
func repeatsKey(pairs [][2]*ast.Term) bool {
	if len(pairs) <= 16 {
		for i := range pairs {
			for j := range i {
				if pairs[i][0].Value == pairs[j][0].Value {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[ast.Value]bool, len(pairs))
	for _, kv := range pairs {
		if seen[kv[0].Value] {
			return true
		}
		seen[kv[0].Value] = true
	}
	return false
}

// knownValue reads the value of key when it is the known member.
func (p *jsonParser) knownValue(key *ast.Term) (*ast.Term, bool) {
	if s, ok := key.Value.(ast.String); !ok || string(s) != p.known.key || p.depth != 1 || p.known.value == nil || !bytes.HasPrefix(p.doc[p.pos:], p.known.json) {
		return nil, false
	}
	// The text known must be all of the value, not the start of a longer one.
	if end := p.pos + len(p.known.json); end < len(p.doc) && !bytes.ContainsAny(p.doc[end:end+1], ",} \t\n\r") {
		return nil, false
	}
	p.pos += len(p.known.json)
	return p.known.value, true
}

func (p *jsonParser) array() (*ast.Term, error) {
	p.pos++ // [
	p.depth++
	base := len(p.stack)
	defer func() { p.stack, p.depth = p.stack[:base], p.depth-1 }()
	for p.space(); ; p.space() {
		if len(p.stack) == base && p.skip(']') {
			return p.term(ast.NewArray()), nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.stack = append(p.stack, v)
		if p.space(); p.skip(',') {
			continue
		}
		if !p.skip(']') {
			return nil, p.errorf("want ',' or ']'")
		}
		// The array keeps the slice it is given.
		return p.term(ast.NewArray(append([]*ast.Term(nil), p.stack[base:]...)...)), nil
	}
}

func (p *jsonParser) string() (*ast.Term, error) {
	start := p.pos
	p.pos++ // "
	for p.pos < len(p.doc) {
		switch p.doc[p.pos] {
		case '\\':
			p.pos += 2
			continue
		case '"':
			p.pos++
			return p.scalar(start, unquote)
		}
		p.pos++
	}
	return nil, p.errorf("unterminated string")
}

// unquote reads a JSON string. One with escapes, control characters or
// invalid UTF-8 is left to encoding/json, so that it is rejected or repaired
// exactly as encoding/json would.
func unquote(quoted string) (ast.Value, error) {
	if plain(quoted) {
		return ast.String(quoted[1 : len(quoted)-1]), nil
	}
	var s string
	if err := json.Unmarshal([]byte(quoted), &s); err != nil {
		return nil, err
	}
	return ast.String(s), nil
}

func plain(quoted string) bool {
	for i := 0; i < len(quoted); i++ {
		if c := quoted[i]; c == '\\' || c < 0x20 {
			return false
		}
	}
	return utf8.ValidString(quoted)
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?.
func (p *jsonParser) number() (*ast.Term, error) {
	start := p.pos
	p.skip('-')
	if !p.skip('0') && p.digits() == 0 {
		return nil, p.errorf("invalid number")
	}
	if p.skip('.') && p.digits() == 0 {
		return nil, p.errorf("invalid number")
	}
	if p.skip('e') || p.skip('E') {
		_ = p.skip('-') || p.skip('+')
		if p.digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	return p.scalar(start, numberValue)
}

// numberValue is the value OPA makes of a json.Number.
func numberValue(text string) (ast.Value, error) {
	if t := ast.InternedIntNumberTermFromString(text); t != nil {
		return t.Value, nil
	}
	return ast.NumberChecked(text)
}

func (p *jsonParser) skip(c byte) bool {
	if p.pos < len(p.doc) && p.doc[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *jsonParser) digits() int {
	start := p.pos
	for p.pos < len(p.doc) && '0' <= p.doc[p.pos] && p.doc[p.pos] <= '9' {
		p.pos++
	}
	return p.pos - start
}

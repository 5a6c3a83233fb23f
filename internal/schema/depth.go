package schema

import (
	"bytes"
	"fmt"
)

// maxDepth bounds how deeply a document nests. Real documents nest fewer than ten
// levels; the parsers and CUE's evaluator spend time and memory that grow faster
// than the document with its depth, so a small file nested deeply enough takes
// gigabytes.
const maxDepth = 100

// scan walks through a document byte by byte, counting lines and columns (in
// bytes, as CUE does) and the nesting depth, and fails at the first byte that
// nests deeper than maxDepth.
type scan struct {
	filename  string
	data      []byte
	cue       bool // CUE rather than JSON: labels chain, strings interpolate
	i         int
	line, col int
	depth     int
	limit     int // the deepest nesting allowed
}

func newScan(filename string, data []byte, cue bool, limit int) *scan {
	return &scan{filename: filename, data: data, cue: cue, line: 1, col: 1, limit: limit}
}

func (s *scan) done() bool { return s.i >= len(s.data) }

// peek returns the byte n positions ahead, or 0 past the end.
func (s *scan) peek(n int) byte {
	if s.i+n < len(s.data) {
		return s.data[s.i+n]
	}
	return 0
}

func (s *scan) next() {
	if s.data[s.i] == '\n' {
		s.line++
		s.col = 1
	} else {
		s.col++
	}
	s.i++
}

// nest adds n levels at the current byte.
func (s *scan) nest(n int) error {
	s.depth += n
	if s.depth > s.limit {
		return Errors{{File: s.filename, Line: s.line, Column: s.col, Message: fmt.Sprintf("nesting deeper than %d levels", s.limit)}}
	}
	return nil
}

// quoted is the kind of a CUE or JSON string: its quote, whether it is a
// multi-line string ("""), and the number of #s of a raw string.
type quoted struct {
	quote  byte
	multi  bool
	hashes int
}

// bracketLevel is one open bracket, or interpolation, of a JSON or CUE document.
type bracketLevel struct {
	chain int     // labels chained at this level, as in a: b: c: 1
	in    *quoted // for an interpolation, the string it closes back into
}

// checkBracketDepth bounds the nesting of a JSON or CUE document in one pass over
// its bytes, before a parser sees them. Strings and comments do not count; in
// CUE, each label of a chain (a: b: c: 1) and each interpolation is a level.
func checkBracketDepth(filename string, data []byte, cue bool, limit int) error {
	s := newScan(filename, data, cue, limit)
	levels := []bracketLevel{{}}
	top := func() *bracketLevel { return &levels[len(levels)-1] }
	for !s.done() {
		switch c := s.peek(0); {
		case c == '[' || c == '{' || c == '(':
			if err := s.nest(1); err != nil {
				return err
			}
			levels = append(levels, bracketLevel{})
		case c == ']' || c == '}' || c == ')':
			if len(levels) == 1 {
				break
			}
			closed := *top()
			levels = levels[:len(levels)-1]
			s.depth -= 1 + closed.chain
			if closed.in != nil {
				s.next()
				if err := s.stringBody(*closed.in, &levels); err != nil {
					return err
				}
				continue
			}
		case cue && c == ':':
			if err := s.nest(1); err != nil {
				return err
			}
			top().chain++
		case c == ',' || c == '\n':
			s.depth -= top().chain
			top().chain = 0
		case cue && c == '/' && s.peek(1) == '/':
			for !s.done() && s.peek(0) != '\n' {
				s.next()
			}
			continue
		case c == '"' || (cue && (c == '\'' || c == '#')):
			q, ok := s.stringStart()
			if !ok {
				break
			}
			if err := s.stringBody(q, &levels); err != nil {
				return err
			}
			continue
		}
		s.next()
	}
	return nil
}

// stringStart moves past the opening quote of the string at the current byte. A
// '#' that starts no raw string (#Def) is not a string: false.
func (s *scan) stringStart() (quoted, bool) {
	var q quoted
	for s.peek(q.hashes) == '#' {
		q.hashes++
	}
	q.quote = s.peek(q.hashes)
	if q.quote != '"' && q.quote != '\'' {
		return q, false
	}
	q.multi = s.cue && s.peek(q.hashes+1) == q.quote && s.peek(q.hashes+2) == q.quote
	for range q.hashes + q.width() {
		s.next()
	}
	return q, true
}

func (q quoted) width() int {
	if q.multi {
		return 3
	}
	return 1
}

// stringBody moves past a string's characters and its closing quote. An
// interpolation \( opens a level and ends the string's scan there: its closing
// parenthesis resumes it.
func (s *scan) stringBody(q quoted, levels *[]bracketLevel) error {
	for !s.done() {
		if s.peek(0) == '\\' && s.hashesAt(1, q.hashes) {
			escaped := 1 + q.hashes
			if s.cue && s.peek(escaped) == '(' {
				for range escaped + 1 {
					s.next()
				}
				*levels = append(*levels, bracketLevel{in: &q})
				return s.nest(1)
			}
			for range escaped + 1 {
				if !s.done() {
					s.next()
				}
			}
			continue
		}
		if s.closes(q) {
			for range q.width() + q.hashes {
				s.next()
			}
			return nil
		}
		s.next()
	}
	return nil
}

func (s *scan) hashesAt(from, n int) bool {
	for k := range n {
		if s.peek(from+k) != '#' {
			return false
		}
	}
	return true
}

func (s *scan) closes(q quoted) bool {
	for k := range q.width() {
		if s.peek(k) != q.quote {
			return false
		}
	}
	return s.hashesAt(q.width(), q.hashes)
}

// checkYAMLDepth bounds the nesting of a YAML document in one pass over its bytes,
// before a parser sees them. Each flow bracket is a level, and so is each step of
// block indentation and each compact indicator (- - x); quoted and block scalars
// and comments do not count. The count can exceed the document's true depth
// (a plain scalar continued on lines each more indented than the last), never
// fall short of it.
func checkYAMLDepth(filename string, data []byte, limit int) error {
	y := yamlScan{scan: newScan(filename, data, false, limit), blockScalar: -1}
	if bytes.HasPrefix(data, []byte("---")) || bytes.HasPrefix(data, []byte("...")) || bytes.Contains(data, []byte("\n---")) || bytes.Contains(data, []byte("\n...")) {
		// Several documents are read as a list of them: a level before the first.
		y.documents = 1
	}
	for !y.done() {
		for y.peek(0) == ' ' {
			y.next()
		}
		switch {
		case y.done():
			return nil
		case y.peek(0) == '\n':
			y.next()
			continue
		case y.blockScalar >= 0 && y.col > y.blockScalar && !y.documentMarker():
			y.skipLine()
			continue
		}
		y.blockScalar = -1
		for len(y.indents) > 0 && y.indents[len(y.indents)-1] >= y.col {
			y.indents = y.indents[:len(y.indents)-1]
		}
		if y.documentMarker() {
			y.indents = y.indents[:0]
			for range 3 {
				y.next()
			}
		}
		if err := y.blockLine(); err != nil {
			return err
		}
	}
	return nil
}

type yamlScan struct {
	*scan
	indents []int // the columns of the block nodes open
	// blockScalar, when not -1, is the column of the node whose block scalar
	// (| or >) is being read: lines indented beyond it are its text.
	blockScalar int
	documents   int // 1 for a stream of documents: the list that holds them
}

func (y *yamlScan) documentMarker() bool {
	if y.col != 1 || y.i+3 > len(y.data) {
		return false
	}
	if m := string(y.data[y.i : y.i+3]); m != "---" && m != "..." {
		return false
	}
	return y.blankAt(3)
}

// blankAt reports whether the byte n ahead ends a token: a space, a tab, a line
// break or the end of the document.
func (y *yamlScan) blankAt(n int) bool {
	switch y.peek(n) {
	case ' ', '\t', '\r', '\n', 0:
		return true
	}
	return false
}

func isFlowIndicator(c byte) bool {
	switch c {
	case '[', ']', '{', '}', ',':
		return true
	}
	return false
}

func (y *yamlScan) skipLine() {
	for !y.done() && y.peek(0) != '\n' {
		y.next()
	}
}

// push opens a block node at the current column.
func (y *yamlScan) push() error {
	y.indents = append(y.indents, y.col)
	y.depth = 0
	return y.nest(y.documents + len(y.indents))
}

// blockLine reads the rest of a line in block context, and whatever flow
// collections and quoted scalars start on it.
func (y *yamlScan) blockLine() error {
	nodeStart, afterQuoted, afterBlank := true, false, true
	for !y.done() && y.peek(0) != '\n' {
		c := y.peek(0)
		switch {
		case c == ' ' || c == '\t':
			afterBlank = true
			y.next()
			continue
		case c == '#' && afterBlank:
			y.skipLine()
			return nil
		case nodeStart && (c == '-' || c == '?' || c == ':') && y.blankAt(1):
			if err := y.push(); err != nil {
				return err
			}
			y.next()
		case nodeStart && (c == '&' || c == '!' || c == '*'):
			y.propertyOrAlias()
			nodeStart = c != '*'
		case nodeStart && (c == '[' || c == '{'):
			if err := y.flow(); err != nil {
				return err
			}
			nodeStart, afterQuoted = false, true
		case nodeStart && (c == '"' || c == '\''):
			y.quoted()
			nodeStart, afterQuoted = false, true
		case nodeStart && (c == '|' || c == '>'):
			y.blockScalar = 0
			if len(y.indents) > 0 {
				y.blockScalar = y.indents[len(y.indents)-1]
			}
			y.skipLine()
			return nil
		case nodeStart:
			if err := y.push(); err != nil {
				return err
			}
			nodeStart = false
			y.next()
		case c == ':' && (afterQuoted || y.blankAt(1)):
			nodeStart, afterQuoted = true, false
			y.next()
		default:
			afterQuoted = false
			y.next()
		}
		afterBlank = false
	}
	return nil
}

// propertyOrAlias moves past an anchor, a tag or an alias.
func (y *yamlScan) propertyOrAlias() {
	y.next()
	for !y.done() && !y.blankAt(0) && !isFlowIndicator(y.peek(0)) {
		y.next()
	}
}

// flow reads a flow collection, over as many lines as it takes.
func (y *yamlScan) flow() error {
	flow := 0
	nodeStart, afterQuoted, afterBlank := true, false, true
	for !y.done() {
		c := y.peek(0)
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			afterBlank = true
			y.next()
			continue
		case c == '#' && afterBlank:
			y.skipLine()
			continue
		case c == '[' || c == '{':
			flow++
			y.depth = y.documents + len(y.indents)
			if err := y.nest(flow); err != nil {
				return err
			}
			nodeStart = true
		case c == ']' || c == '}':
			flow--
			if flow == 0 {
				y.next()
				return nil
			}
			nodeStart, afterQuoted = false, true
		case c == ',':
			nodeStart, afterQuoted = true, false
		case nodeStart && (c == '"' || c == '\''):
			y.quoted()
			nodeStart, afterQuoted, afterBlank = false, true, false
			continue
		case nodeStart && (c == '&' || c == '!' || c == '*'):
			y.propertyOrAlias()
			nodeStart, afterBlank = c != '*', false
			continue
		case c == ':' && (afterQuoted || y.blankAt(1) || isFlowIndicator(y.peek(1))):
			nodeStart, afterQuoted = true, false
		default:
			nodeStart, afterQuoted = false, false
		}
		afterBlank = false
		y.next()
	}
	return nil
}

// quoted moves past a single- or double-quoted scalar, over as many lines as it
// takes.
func (y *yamlScan) quoted() {
	quote := y.peek(0)
	y.next()
	for !y.done() {
		c := y.peek(0)
		switch {
		case quote == '"' && c == '\\':
			y.next()
			if !y.done() {
				y.next()
			}
			continue
		case quote == '\'' && c == '\'' && y.peek(1) == '\'':
			y.next()
		case c == quote:
			y.next()
			return
		}
		y.next()
	}
}

package analysis

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Vars are the values a query's template variables stand for: {{model}},
// {{version}} and {{stage}}.
type Vars struct {
	Model, Version, Stage string
}

func (v Vars) lookup(name string) string {
	switch name {
	case "model":
		return v.Model
	case "version":
		return v.Version
	}
	return v.Stage
}

var varNames = []string{"model", "version", "stage"}

// Query is a PromQL query template. A variable may stand only inside a double-
// or single-quoted PromQL string literal, where its value is escaped, so that
// no value can end the literal and change what the query means; anywhere else
// (outside a literal, in a raw `string` or a # comment) it is refused when the
// template is parsed.
type Query struct {
	parts []queryPart
}

// queryPart is literal text, or a variable to be escaped for the quote it
// stands in.
type queryPart struct {
	text  string
	quote byte // for a variable: '"' or '\''; 0 for literal text
}

// QueryError is a query template that does not parse, at its line and column
// (in characters, from 1).
type QueryError struct {
	Line, Column int
	Message      string
}

func (e *QueryError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message) }

// ParseQuery parses a query template; errors are QueryErrors.
func ParseQuery(src string) (*Query, error) {
	if !utf8.ValidString(src) {
		return nil, &QueryError{Line: 1, Column: 1, Message: "the query is not valid UTF-8"}
	}
	q := &Query{}
	var (
		quote   byte // the open literal's quote, or 0 outside one
		comment bool
		start   int // start of the pending literal text
	)
	for i := 0; i < len(src); i++ {
		c := src[i]
		if strings.HasPrefix(src[i:], "{{") {
			end := strings.Index(src[i:], "}}")
			name := ""
			if end >= 0 {
				name = src[i+2 : i+end]
			}
			switch {
			case end < 0 || !isVarName(name):
				return nil, queryErrorAt(src, i, fmt.Sprintf("expected {{model}}, {{version}} or {{stage}}, found %q", truncate(src[i:], end)))
			case comment:
				return nil, queryErrorAt(src, i, fmt.Sprintf("{{%s}} in a comment", name))
			case quote == 0:
				return nil, queryErrorAt(src, i, fmt.Sprintf("{{%s}} outside a string literal: write it inside quotes, as label=\"{{%s}}\"", name, name))
			case quote == '`':
				return nil, queryErrorAt(src, i, fmt.Sprintf("{{%s}} in a raw `string`, where it cannot be escaped: use double quotes", name))
			}
			q.parts = append(q.parts, queryPart{text: src[start:i]}, queryPart{text: name, quote: quote})
			i += end + 1
			start = i + 1
			continue
		}
		switch {
		case comment:
			comment = c != '\n'
		case quote == 0 && c == '#':
			comment = true
		case quote == 0 && (c == '"' || c == '\'' || c == '`'):
			quote = c
		case quote != 0 && quote != '`' && c == '\\':
			i++ // the escaped character cannot end the literal
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0 && quote != '`' && c == '\n':
			return nil, queryErrorAt(src, i, "a line break inside a string literal")
		}
	}
	if quote != 0 {
		return nil, queryErrorAt(src, len(src), fmt.Sprintf("the string literal opened with %c is not closed", quote))
	}
	q.parts = append(q.parts, queryPart{text: src[start:]})
	return q, nil
}

func isVarName(s string) bool {
	for _, n := range varNames {
		if s == n {
			return true
		}
	}
	return false
}

func truncate(s string, end int) string {
	if end >= 0 {
		return s[:end+2]
	}
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

func queryErrorAt(src string, offset int, msg string) *QueryError {
	line, col := position(src, offset)
	return &QueryError{Line: line, Column: col, Message: msg}
}

// position is the line and column, in characters from 1, of a byte offset.
func position(src string, offset int) (line, col int) {
	before := src[:offset]
	line = strings.Count(before, "\n") + 1
	col = utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
	return line, col
}

// Render fills the variables in, each escaped for the literal it stands in.
func (q *Query) Render(v Vars) string {
	var b strings.Builder
	for _, p := range q.parts {
		if p.quote == 0 {
			b.WriteString(p.text)
			continue
		}
		escape(&b, v.lookup(p.text), p.quote)
	}
	return b.String()
}

// escape writes s as the inside of a PromQL string literal quoted with quote.
// PromQL unquotes literals as Go does, so backslash, the quote and every
// control character are escaped, and bytes that are not UTF-8 are written as
// \x escapes rather than passed through.
func escape(b *strings.Builder, s string, quote byte) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(b, `\x%02x`, s[i])
		case r == '\\' || r == rune(quote):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
}

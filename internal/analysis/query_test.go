package analysis

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestQueryRender(t *testing.T) {
	q, err := ParseQuery(`sum(rate(model_errors_total{model="{{model}}",version='{{version}}',stage="{{stage}}"}[5m])) # per "stage"` + "\n" + `/ 2`)
	if err != nil {
		t.Fatal(err)
	}
	got := q.Render(Vars{Model: "fraud-detector", Version: "2.3.0", Stage: "staging"})
	want := `sum(rate(model_errors_total{model="fraud-detector",version='2.3.0',stage="staging"}[5m])) # per "stage"` + "\n" + `/ 2`
	if got != want {
		t.Errorf("Render = %s; want %s", got, want)
	}
}

// TestQueryHostileValue: a value cannot end the string literal it stands in,
// whatever quote the literal uses: PromQL reads back exactly the value.
func TestQueryHostileValue(t *testing.T) {
	hostile := []string{
		`a"} or vector(1) #`,
		`a'} or vector(1) #`,
		`a\"} or vector(1) #`,
		"a\"}\nor vector(1)",
		"a\\",
		"\x00\x7f\u0085\u2028é\xff",
	}
	for _, quote := range []string{`"`, `'`} {
		q, err := ParseQuery(`up{version=` + quote + `{{version}}` + quote + `}`)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range hostile {
			got := q.Render(Vars{Version: v})
			lit, ok := strings.CutPrefix(got, "up{version=")
			lit, ok2 := strings.CutSuffix(lit, "}")
			if !ok || !ok2 {
				t.Fatalf("%q rendered as %s", v, got)
			}
			if strings.ContainsAny(lit, "\n\r") {
				t.Errorf("%q: a line break in the literal %s", v, lit)
			}
			back, err := unquote(lit)
			if err != nil {
				t.Errorf("%q: the literal %s does not unquote: %v", v, lit, err)
				continue
			}
			if back != v {
				t.Errorf("%q: the literal %s reads back as %q", v, lit, back)
			}
		}
	}
}

// unquote reads a PromQL string literal back as PromQL does: with Go's
// escapes, the quote it opened with escaped inside.
func unquote(lit string) (string, error) {
	if len(lit) < 2 || lit[0] != lit[len(lit)-1] {
		return "", strconv.ErrSyntax
	}
	if lit[0] == '"' {
		return strconv.Unquote(lit)
	}
	// strconv reads only double-quoted strings: the same escapes, with \' for '.
	var b strings.Builder
	b.WriteByte('"')
	body := lit[1 : len(lit)-1]
	for i := 0; i < len(body); i++ {
		switch {
		case body[i] == '\\' && i+1 < len(body) && body[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case body[i] == '\\' && i+1 < len(body):
			b.WriteString(body[i : i+2])
			i++
		case body[i] == '"':
			b.WriteString(`\"`)
		case body[i] == '\'':
			return "", strconv.ErrSyntax
		default:
			b.WriteByte(body[i])
		}
	}
	b.WriteByte('"')
	return strconv.Unquote(b.String())
}

// FuzzEscape: whatever the value, the literal it is escaped into reads back
// as exactly that value, in either quote.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{`a"} or vector(1) #`, `a'} or x`, "a\\", "\x00\n\u2028\xff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, quote := range []byte{'"', '\''} {
			var b strings.Builder
			b.WriteByte(quote)
			escape(&b, v, quote)
			b.WriteByte(quote)
			lit := b.String()
			if strings.ContainsAny(lit, "\n\r") {
				t.Fatalf("%q: a line break in %s", v, lit)
			}
			back, err := unquote(lit)
			if err != nil || back != v {
				t.Fatalf("%q escaped as %s reads back as %q, %v", v, lit, back, err)
			}
		}
	})
}

func TestQueryErrors(t *testing.T) {
	for _, c := range []struct{ query, want string }{
		{`up{model={{model}}}`, `1:10: {{model}} outside a string literal: write it inside quotes, as label="{{model}}"`},
		{`up{model="x"} * {{version}}`, `1:17: {{version}} outside a string literal`},
		{"up{model=`{{model}}`}", "1:11: {{model}} in a raw `string`, where it cannot be escaped"},
		{"up # {{model}}", "1:6: {{model}} in a comment"},
		{"up # \"\nor up{model=\"{{model}}\"}", ""},
		{"up # \"\n{{model}}", "2:1: {{model}} outside a string literal"},
		{`up{model="{{Model}}"}`, `1:11: expected {{model}}, {{version}} or {{stage}}, found "{{Model}}"`},
		{`up{model="{{ model }}"}`, `found "{{ model }}"`},
		{`up{model="{{model"}`, `1:11: expected {{model}}, {{version}} or {{stage}}, found "{{model\"}"`},
		{`up{model="\"{{model}}"}`, ""},
		{`up{model="x\\"} * {{model}}`, `1:19: {{model}} outside a string literal`},
		{`up{model="x}`, "1:13: the string literal opened with \" is not closed"},
		{"up{model=\"x\n\"}", "1:12: a line break inside a string literal"},
		{"é{m=\"\xff\"}", "1:1: the query is not valid UTF-8"},
	} {
		_, err := ParseQuery(c.query)
		if c.want == "" {
			if err != nil {
				t.Errorf("%q: %v", c.query, err)
			}
			continue
		}
		var qe *QueryError
		if !errors.As(err, &qe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v; want one containing %q", c.query, err, c.want)
		}
	}
}

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
			// PromQL unquotes single- and double-quoted literals as Go does.
			goLit := lit
			if quote == `'` {
				goLit = `"` + strings.ReplaceAll(strings.ReplaceAll(lit[1:len(lit)-1], `\'`, `'`), `"`, `\"`) + `"`
			}
			back, err := strconv.Unquote(goLit)
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

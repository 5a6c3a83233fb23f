package policy

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// opaValue is the value OPA makes of a JSON document decoded with json.Number,
// which parseValue must reproduce.
func opaValue(t *testing.T, doc []byte) ast.Value {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		t.Fatal(err)
	}
	v, err := ast.InterfaceToValue(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// identical is equality down to the text of numbers: 1.50 equals 1.5 in Rego,
// but prints differently in a message.
func identical(a, b ast.Value) bool {
	switch a := a.(type) {
	case ast.Number:
		b, ok := b.(ast.Number)
		return ok && string(a) == string(b)
	case *ast.Array:
		b, ok := b.(*ast.Array)
		if !ok || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !identical(a.Elem(i).Value, b.Elem(i).Value) {
				return false
			}
		}
		return true
	case ast.Object:
		b, ok := b.(ast.Object)
		if !ok || a.Len() != b.Len() {
			return false
		}
		return !a.Until(func(k, v *ast.Term) bool {
			w := b.Get(k)
			return w == nil || !identical(v.Value, w.Value)
		})
	}
	return ast.Compare(a, b) == 0
}

func TestParseValueIsOPAsValue(t *testing.T) {
	fixture, err := os.ReadFile("../../policies/testdata/decision-input.json")
	if err != nil {
		t.Fatal(err)
	}
	docs := []string{
		string(fixture),
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `"x"`,
		` { "a" : [ 1 , 2.50 , -3e-7 , 1E+21 , 12345678901234567890 , 0.30000000000000004 ] , "b" : { } , "c" : [ ] } `,
		`{"s":"tab\there \"quoted\" \\ \u00e9 \u003cb\u003e \ud83d\ude00 \u2028","t":"plain ünïcödé","":""}`,
		`[[[[]]],{"a":{"b":{"c":null}}},[true,false,null]]`,
		`{"dup":1,"dup":2}`, `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k3":"again"}`, `{"z":null,"a":[],"z":null}`, `{"k":true,"k":false,"k":true}`,
	}
	for _, doc := range docs {
		got, err := parseValue([]byte(doc), member{})
		if err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		if want := opaValue(t, []byte(doc)); !identical(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", doc, got, want)
		}
	}
}

func TestParseValueReusesAKnownMember(t *testing.T) {
	known, err := parseValue([]byte(`{"min":0.9}`), member{})
	if err != nil {
		t.Fatal(err)
	}
	m := member{key: "config", json: []byte(`{"min":0.9}`), value: ast.NewTerm(known)}
	for doc, reused := range map[string]bool{
		`{"a":1,"config":{"min":0.9}}`:     true,
		`{"config":{"min":0.9},"a":1}`:     true,
		`{"config":{"min":0.95}}`:          false,
		`{"other":{"min":0.9}}`:            false,
		`{"a":{"config":{"min":0.9}}}`:     false,
		`{"config":{"min":0.9} , "a":[1]}`: true,
	} {
		got, err := parseValue([]byte(doc), m)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if !identical(got, opaValue(t, []byte(doc))) {
			t.Errorf("%s: got %v", doc, got)
		}
		cfg := got.(ast.Object).Get(ast.StringTerm("config"))
		if (cfg != nil && cfg == m.value) != reused {
			t.Errorf("%s: known value reused %v, want %v", doc, cfg == m.value, reused)
		}
	}
}

func TestParseValueRejectsInvalidJSON(t *testing.T) {
	for _, doc := range []string{``, `{`, `[1,]`, `{"a" 1}`, `{"a":1,}`, `01`, `1.`, `-`, `1e`, `"abc`, `nul`, `{} {}`, `[1 2]`, `{1:2}`, `1e999999999999`} {
		if v, err := parseValue([]byte(doc), member{}); err == nil {
			t.Errorf("%q parsed as %v", doc, v)
		}
	}
}

// FuzzParseValue holds parseValue to what encoding/json and OPA make of the
// same bytes: the same value when both accept them, an error when json
// rejects them, and never a panic.
func FuzzParseValue(f *testing.F) {
	for _, seed := range []string{`{"a":[1,2.50,-3e-7],"b":{"c":null}}`, `"\ud83d\ude00"`, `{"dup":1,"dup":2}`, `[1,`, `01`, `"\u00zz"`, `1e999999`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := parseValue(doc, member{})
		if !json.Valid(doc) {
			if err == nil {
				t.Fatalf("parseValue accepted %q, which is not JSON", doc)
			}
			return
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("decode valid JSON %q: %v", doc, err)
		}
		want, convErr := ast.InterfaceToValue(x)
		if convErr != nil {
			return // a number OPA cannot hold; parseValue may refuse it too
		}
		if err != nil {
			t.Fatalf("parseValue rejected %q, which encoding/json accepts: %v", doc, err)
		}
		if !identical(got, want) {
			t.Fatalf("%q:\n got %v\nwant %v", doc, got, want)
		}
	})
}

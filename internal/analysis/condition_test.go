package analysis

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestConditionEval(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		cond string
		s    sample
		want bool
	}{
		{"result < 0.01", sample{0.001}, true},
		{"result < 0.01", sample{0.01}, false},
		{"result <= 0.01", sample{0.01}, true},
		{"result >= 0.95 && result[0] != 1", sample{0.97}, true},
		{"result[1] > result[0]", sample{1, 2}, true},
		{"len(result) == 2", sample{1, 2}, true},
		{"!(result > 1) || false", sample{2}, false},
		{"-result == 0 - 3", sample{3}, true},
		{"result * 2 + 1 == 7", sample{3}, true},
		{"1 + 2 * 3 == 7", sample{0}, true},
		{"(1 + 2) * 3 == 9", sample{0}, true},
		{"result / 4 == 0.5", sample{2}, true},
		{"10 - 2 - 3 == 5", sample{0}, true},
		{"true && !false", sample{0}, true},
		{"result < 1e-3", sample{0.0005}, true},
		{"result > 1", sample{math.Inf(1)}, true},
		{"! ! true", sample{0}, true},
		{"1 < 2 == true", nil, false}, // refused below
	} {
		cond, err := ParseCondition(c.cond)
		if c.s == nil {
			if err == nil {
				t.Errorf("%q parsed; want an error", c.cond)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.cond, err)
			continue
		}
		got, err := cond.eval(c.s)
		if err != nil || got != c.want {
			t.Errorf("%q on %v = %v, %v; want %v", c.cond, c.s, got, err, c.want)
		}
	}

	// NaN never decides, whichever way a condition is written: a condition
	// that would hold on NaN's false comparisons is undecided too.
	for _, c := range []struct {
		cond string
		s    sample
	}{
		{"result < 0.01", sample{nan}},
		{"!(result >= 0.01)", sample{nan}},
		{"result != 5", sample{nan}},
		{"result / result < 1", sample{0}},
		{"0 / 0 != 1", sample{1}},
		{"result[3] < 1", sample{0.1}},
		{"result < 1", sample{0.1, 0.2}},
		{"true || result < 1", sample{nan}},
	} {
		cond, err := ParseCondition(c.cond)
		if err != nil {
			t.Fatalf("%q: %v", c.cond, err)
		}
		got, err := cond.eval(c.s)
		var u *errUndecided
		if !errors.As(err, &u) {
			t.Errorf("%q on %v = %v, %v; want undecided", c.cond, c.s, got, err)
		}
	}
}

func TestConditionErrors(t *testing.T) {
	for _, c := range []struct{ cond, want string }{
		{"result <)", `1:9: expected a number or result, found ")"`},
		{"result < ", "1:10: expected a number or result, found the end"},
		{"", "1:1: expected a number or result, found the end"},
		{"result", "1:1: the condition is a number, not a truth value"},
		{"result < 0.01 result", `1:15: expected an operator or the end, found "result"`},
		{"results < 1", `1:1: unknown name "results"`},
		{"result[x] < 1", `1:8: expected an index (0, 1, ...), found "x"`},
		{"result[-1] < 1", `1:8: expected an index`},
		{"result[0 < 1", `1:10: expected "]", found "<"`},
		{"len(x) > 1", `1:5: len takes result, found "x"`},
		{"(result < 1", `1:12: expected ")", found the end`},
		{"result < 1 && 2", `1:15: "&&" needs a truth value on its right, found a number`},
		{"1 || true", `1:1: "||" needs a truth value on its left`},
		{"!result", `1:2: "!" needs a truth value, found a number`},
		{"-true < 1", `1:2: "-" needs a number, found a truth value`},
		{"true < 1", `1:1: "<" compares numbers, found a truth value on its left`},
		{"1 < true", `1:5: "<" compares numbers, found a truth value on its right`},
		{"0 < result < 1", "1:12: comparisons do not chain"},
		{"true + 1 > 0", `1:1: "+" needs a number on its left`},
		{"1 * false > 0", `1:5: "*" needs a number on its right`},
		{"result < 1.2.3", `1:10: "1.2.3" is not a number`},
		{"result < 1e999", `1:10: "1e999" is not a number`},
		{"résult < 1", `1:1: unknown name "résult"`},
		{"result = 1", `1:8: expected an operator or the end, found "="`},
		{"€ < 1", `1:1: expected a number or result, found "€"`},
		{"result < 0.01 &&\n  result[1] < )", `2:15: expected a number or result, found ")"`},
		{"result < 1 ∧ true", `1:12: expected an operator or the end, found "∧"`},
		{"result\x00", `1:7: expected an operator or the end, found "\x00"`},
		{strings.Repeat("(", 100) + "true" + strings.Repeat(")", 100), "nested more than 64 deep"},
		{strings.Repeat("!", 100) + "true", "nested more than 64 deep"},
	} {
		_, err := ParseCondition(c.cond)
		var ce *ConditionError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v; want one containing %q", c.cond, err, c.want)
		}
	}
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		"result < 0.01", "result[0] >= 0.95 && len(result) == 1", "!(result > 1) || false",
		"(1 + 2) * -3 / result != 0", "result <)", "1e-3 <= result[12]", "((((true))))",
	} {
		f.Add(s, 0.5, 2.0)
	}
	f.Fuzz(func(t *testing.T, src string, a, b float64) {
		cond, err := ParseCondition(src)
		if err != nil {
			var ce *ConditionError
			if !errors.As(err, &ce) || ce.Line < 1 || ce.Line > strings.Count(src, "\n")+1 || ce.Column < 1 || ce.Column > len([]rune(src))+1 {
				t.Fatalf("%q: error %v not a ConditionError within the source", src, err)
			}
			return
		}
		again, err := ParseCondition(cond.String())
		if err != nil || again.String() != src {
			t.Fatalf("%q does not parse again: %v", src, err)
		}
		// Every part of a condition is evaluated, so one that reads result
		// never decides on a NaN.
		if _, err := cond.eval(sample{math.NaN()}); err == nil && strings.Contains(src, "result") && !strings.Contains(src, "len") {
			t.Fatalf("%q decided on NaN", src)
		}
		for _, s := range []sample{{a}, {a, b}, {}} {
			got, err := cond.eval(s)
			if err != nil {
				var u *errUndecided
				if !errors.As(err, &u) {
					t.Fatalf("%q on %v: %v", src, s, err)
				}
				continue
			}
			again, err2 := again.eval(s)
			if err2 != nil || again != got {
				t.Fatalf("%q on %v: %v, then %v, %v", src, s, got, again, err2)
			}
		}
	})
}

func BenchmarkConditionEval(b *testing.B) {
	cond, err := ParseCondition("result[0] >= 0.95 && result[1] / result[0] < 0.01 || len(result) == 0")
	if err != nil {
		b.Fatal(err)
	}
	s := sample{0.97, 0.001}
	for b.Loop() {
		if _, err := cond.eval(s); err != nil {
			b.Fatal(err)
		}
	}
}

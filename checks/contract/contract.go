// Package contract checks a data file against the data contract of a manifest:
// row count bounds and, per column, presence, type, nullability, bounds, allowed
// values, a pattern and uniqueness. Each violation counts the offending rows and
// lists the first few.
package contract

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/modelgate/modelgate/checks/internal/floats"
	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/manifest"
)

// Rules that a violation names.
const (
	RuleRowCount   = "row_count"
	RuleFieldCount = "field_count"
	RulePresent    = "present"
	RuleType       = "type"
	RuleNullable   = "nullable"
	RuleMin        = "min"
	RuleMax        = "max"
	RuleAllowed    = "allowed"
	RulePattern    = "pattern"
	RuleUnique     = "unique"
)

// Violation is a rule that rows of the file break.
type Violation struct {
	Column  string // empty for rules of the whole file
	Rule    string
	Count   int
	Rows    []int // the first few offending rows, counted from 1 after the header
	Message string
}

// Contract is a compiled data contract.
type Contract struct {
	rowCount *manifest.RowCount
	columns  []*column
}

// column is the compiled rule of one column.
type column struct {
	name     string
	typ      table.Type
	nullable bool
	unique   bool
	tests    []test // in the order of the spec's tests
}

// test is a rule checked on every value as the file is read.
type test struct {
	rule     string
	describe func(t table.Tally) string
	table.Test
}

// Compile checks that a contract can be applied and compiles it. A nil contract
// checks only what every CSV file must satisfy.
func Compile(c *manifest.Contract) (*Contract, error) {
	out := &Contract{}
	if c == nil {
		return out, nil
	}
	out.rowCount = c.RowCount
	seen := make(map[string]bool)
	for _, r := range c.Columns {
		if seen[r.Name] {
			return nil, fmt.Errorf("contract: column %q has two rules", r.Name)
		}
		seen[r.Name] = true
		col, err := compileColumn(r)
		if err != nil {
			return nil, fmt.Errorf("contract: column %q: %w", r.Name, err)
		}
		out.columns = append(out.columns, col)
	}
	return out, nil
}

func compileColumn(r manifest.ColumnRule) (*column, error) {
	typ, err := table.ParseType(r.Type)
	if err != nil {
		return nil, err
	}
	col := &column{name: r.Name, typ: typ, nullable: r.Nullable == nil || *r.Nullable, unique: r.Unique}
	if (r.Min != nil || r.Max != nil) && !typ.Numeric() {
		return nil, fmt.Errorf("min and max apply to float and int columns, not %s", typ)
	}
	if r.Min != nil {
		lo := *r.Min
		col.tests = append(col.tests, test{
			rule: RuleMin,
			Test: table.Test{Number: func(v float64) bool { return v >= lo }},
			describe: func(t table.Tally) string {
				return fmt.Sprintf("%s below the minimum %s%s", values(t.Count), num(lo), first(t))
			},
		})
	}
	if r.Max != nil {
		hi := *r.Max
		col.tests = append(col.tests, test{
			rule: RuleMax,
			Test: table.Test{Number: func(v float64) bool { return v <= hi }},
			describe: func(t table.Tally) string {
				return fmt.Sprintf("%s above the maximum %s%s", values(t.Count), num(hi), first(t))
			},
		})
	}
	if len(r.Allowed) > 0 {
		t, err := allowedTest(typ, r.Allowed)
		if err != nil {
			return nil, err
		}
		col.tests = append(col.tests, t)
	}
	if r.Pattern != "" {
		if typ != table.String {
			return nil, fmt.Errorf("a pattern applies to string columns, not %s", typ)
		}
		// The pattern describes the whole value, as a type would.
		re, err := regexp.Compile(`^(?:` + r.Pattern + `)$`)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", r.Pattern, err)
		}
		col.tests = append(col.tests, test{
			rule: RulePattern,
			Test: table.Test{Text: re.Match},
			describe: func(t table.Tally) string {
				verb := "values do"
				if t.Count == 1 {
					verb = "value does"
				}
				return fmt.Sprintf("%d %s not match the pattern %s%s", t.Count, verb, strconv.Quote(r.Pattern), first(t))
			},
		})
	}
	return col, nil
}

// allowedTest compiles a column's allowed values.
func allowedTest(typ table.Type, allowed []any) (test, error) {
	var list []string
	t := test{rule: RuleAllowed}
	if typ.Numeric() {
		set := make(map[float64]bool, len(allowed))
		for _, a := range allowed {
			v, ok := number(a)
			if !ok {
				return test{}, fmt.Errorf("allowed value %v is not a number", a)
			}
			set[v] = true
			list = append(list, num(v))
		}
		t.Test = table.Test{Number: func(v float64) bool { return set[v] }}
	} else {
		set := make(map[string]bool, len(allowed))
		for _, a := range allowed {
			s, ok := text(typ, a)
			if !ok {
				return test{}, fmt.Errorf("allowed value %v is not a %s", a, typ)
			}
			set[s] = true
			list = append(list, s)
		}
		t.Test = table.Test{Text: func(b []byte) bool { return set[string(b)] }}
	}
	t.describe = func(tl table.Tally) string {
		return fmt.Sprintf("%s not among the allowed %s%s", values(tl.Count), strings.Join(list, ", "), first(tl))
	}
	return t, nil
}

// number is an allowed value of a numeric column.
func number(a any) (float64, bool) {
	switch v := a.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case string:
		return table.ParseNumber([]byte(v))
	}
	return 0, false
}

// text is an allowed value of a string or bool column, as the column's values
// are written.
func text(typ table.Type, a any) (string, bool) {
	if typ == table.Bool {
		switch v := a.(type) {
		case bool:
			return strconv.FormatBool(v), true
		case string:
			b, ok := table.ParseBool([]byte(v))
			return strconv.FormatBool(b), ok
		}
		return "", false
	}
	switch v := a.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	}
	if f, ok := number(a); ok {
		return num(f), true
	}
	return "", false
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Specs are what Check needs read of the file. Other checks may add to what a
// spec keeps, but not reorder its tests.
func (c *Contract) Specs() []table.Spec {
	specs := make([]table.Spec, 0, len(c.columns))
	for _, col := range c.columns {
		s := table.Spec{Name: col.name, Type: col.typ}
		if col.unique {
			s.Keep |= table.Hashes
		}
		for _, t := range col.tests {
			s.Tests = append(s.Tests, t.Test)
		}
		specs = append(specs, s)
	}
	return specs
}

// Reader reads the checked file again with other specs.
type Reader func(ctx context.Context, specs []table.Spec) (*table.Table, error)

// Check checks a file read with Specs. Finding which values repeat can read the
// file again, but only when values may repeat. Violations come in the order of
// the contract's columns and rules.
func (c *Contract) Check(ctx context.Context, t *table.Table, reread Reader) ([]Violation, error) {
	var out []Violation
	if rc := c.rowCount; rc != nil {
		if rc.Min != nil && int64(t.Rows) < *rc.Min {
			out = append(out, Violation{Rule: RuleRowCount, Count: int(*rc.Min - int64(t.Rows)),
				Message: fmt.Sprintf("%s rows, fewer than the minimum %s", grouped(int64(t.Rows)), grouped(*rc.Min))})
		}
		if rc.Max != nil && int64(t.Rows) > *rc.Max {
			out = append(out, Violation{Rule: RuleRowCount, Count: int(int64(t.Rows) - *rc.Max),
				Message: fmt.Sprintf("%s rows, more than the maximum %s", grouped(int64(t.Rows)), grouped(*rc.Max))})
		}
	}
	if r := t.Ragged; r.Count > 0 {
		out = append(out, Violation{Rule: RuleFieldCount, Count: r.Count, Rows: r.Rows,
			Message: fmt.Sprintf("%s a number of fields other than the header's %d (the first has %s)%s", rowsHave(r.Count), len(t.Header), r.Example, rowList(r.Rows))})
	}
	for _, col := range c.columns {
		vs, err := col.check(ctx, t, reread)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

func (col *column) check(ctx context.Context, t *table.Table, reread Reader) ([]Violation, error) {
	data := t.Column(col.name)
	if data == nil {
		return []Violation{{Column: col.name, Rule: RulePresent, Count: 1, Message: "the file has no column " + strconv.Quote(col.name)}}, nil
	}
	var out []Violation
	add := func(rule string, tl table.Tally, msg string) {
		if tl.Count > 0 {
			out = append(out, Violation{Column: col.name, Rule: rule, Count: tl.Count, Rows: tl.Rows, Message: msg})
		}
	}
	add(RuleType, data.Invalid, fmt.Sprintf("%s not of type %s%s", values(data.Invalid.Count), col.typ, first(data.Invalid)))
	if !col.nullable {
		add(RuleNullable, data.Nulls, fmt.Sprintf("%s no value, and the column is not nullable%s", rowsHave(data.Nulls.Count), rowList(data.Nulls.Rows)))
	}
	for i, tst := range col.tests {
		add(tst.rule, data.Failed[i], tst.describe(data.Failed[i]))
	}
	if col.unique {
		dups, err := col.duplicates(ctx, data, reread)
		if err != nil {
			return nil, err
		}
		add(RuleUnique, dups, fmt.Sprintf("%s a value that another row also has, and the column is unique%s", rowsHave(dups.Count), first(dups)))
	}
	return out, nil
}

// duplicates finds the rows whose value another row also has. Equal hashes are
// only a suspicion: when there are any, the file is read again, once to count
// the suspected values themselves and once more to find the rows of those that
// repeat.
func (col *column) duplicates(ctx context.Context, data *table.Column, reread Reader) (table.Tally, error) {
	// The hashes are sorted where they are: nothing else reads them.
	hashes := slices.DeleteFunc(data.Hashes, func(h uint64) bool { return h == 0 })
	floats.SortHashes(hashes)
	suspects := make(map[uint64]bool)
	for i := 1; i < len(hashes); i++ {
		if hashes[i] == hashes[i-1] {
			suspects[hashes[i]] = true
		}
	}
	if len(suspects) == 0 {
		return table.Tally{}, nil
	}
	var mu sync.Mutex
	counts := make(map[string]int)
	count := func(h uint64, key string) bool {
		if suspects[h] {
			mu.Lock()
			counts[key]++
			mu.Unlock()
		}
		return true
	}
	if _, err := col.reread(ctx, reread, table.Test{
		Number: func(v float64) bool { return count(table.HashNumber(v), num(v)) },
		Text:   func(b []byte) bool { return count(table.HashText(b), string(b)) },
	}); err != nil {
		return table.Tally{}, err
	}
	repeated := make(map[string]bool)
	for k, n := range counts {
		if n > 1 {
			repeated[k] = true
		}
	}
	if len(repeated) == 0 {
		return table.Tally{}, nil
	}
	return col.reread(ctx, reread, table.Test{
		Number: func(v float64) bool { return !repeated[num(v)] },
		Text:   func(b []byte) bool { return !repeated[string(b)] },
	})
}

// reread reads the column again with one test and returns its failures.
func (col *column) reread(ctx context.Context, reread Reader, t table.Test) (table.Tally, error) {
	tb, err := reread(ctx, []table.Spec{{Name: col.name, Type: col.typ, Tests: []table.Test{t}}})
	if err != nil {
		return table.Tally{}, err
	}
	data := tb.Column(col.name)
	if data == nil {
		return table.Tally{}, fmt.Errorf("%s: column %q is gone", tb.Path, col.name)
	}
	return data.Failed[0], nil
}

func values(n int) string {
	if n == 1 {
		return "1 value is"
	}
	return strconv.Itoa(n) + " values are"
}

// grouped writes n with its thousands grouped, as a reader counts rows: 1,000.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}

func rowsHave(n int) string {
	if n == 1 {
		return "1 row has"
	}
	return strconv.Itoa(n) + " rows have"
}

// first describes the first offending value and the rows of a tally.
func first(t table.Tally) string {
	if t.Count == 0 {
		return ""
	}
	return fmt.Sprintf(", the first %s%s", table.Describe(t.Example), rowList(t.Rows))
}

func rowList(rows []int) string {
	if len(rows) == 0 {
		return ""
	}
	s := make([]string, len(rows))
	for i, r := range rows {
		s[i] = strconv.Itoa(r)
	}
	word := "rows"
	if len(rows) == 1 {
		word = "row"
	}
	return fmt.Sprintf(" (%s %s)", word, strings.Join(s, ", "))
}

package contract

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/manifest"
)

func TestCompileRefuses(t *testing.T) {
	one := 1.0
	for _, c := range []struct {
		rule manifest.ColumnRule
		want string
	}{
		{manifest.ColumnRule{Name: "c", Type: "string", Min: &one}, "min and max apply to float and int columns"},
		{manifest.ColumnRule{Name: "c", Type: "int", Pattern: "[0-9]+"}, "a pattern applies to string columns"},
		{manifest.ColumnRule{Name: "c", Type: "string", Pattern: "("}, `pattern "("`},
		{manifest.ColumnRule{Name: "c", Type: "float", Allowed: []any{"x"}}, "allowed value x is not a number"},
		{manifest.ColumnRule{Name: "c", Type: "bool", Allowed: []any{"maybe"}}, "allowed value maybe is not a bool"},
		{manifest.ColumnRule{Name: "c", Type: "date"}, `unknown column type "date"`},
	} {
		_, err := Compile(&manifest.Contract{Columns: []manifest.ColumnRule{c.rule}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.rule, err, c.want)
		}
	}
	_, err := Compile(&manifest.Contract{Columns: []manifest.ColumnRule{{Name: "c", Type: "int"}, {Name: "c", Type: "int"}}})
	if err == nil {
		t.Error("two rules for a column are accepted")
	}
}

// TestRowCountSaysRowsAndBound: a row count violation says how many rows the
// file has and the bound it misses, never only how far off it is.
func TestRowCountSaysRowsAndBound(t *testing.T) {
	lo, hi := int64(1000), int64(10)
	c, err := Compile(&manifest.Contract{RowCount: &manifest.RowCount{Min: &lo, Max: &hi}})
	if err != nil {
		t.Fatal(err)
	}
	data := "id\n" + strings.Repeat("1\n", 20)
	tb, err := table.Read(context.Background(), fstest.MapFS{"current.csv": {Data: []byte(data)}}, "current.csv", nil, table.Limits{Rows: 100, Columns: 10})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := c.Check(context.Background(), tb, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.Message)
	}
	want := []string{"20 rows, fewer than the minimum 1,000", "20 rows, more than the maximum 10"}
	if !slices.Equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
}

package contract

import (
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/manifest"
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

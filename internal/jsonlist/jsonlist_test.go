package jsonlist_test

import (
	"encoding/json"
	"testing"

	"github.com/modelgate/modelgate/internal/jsonlist"
)

type names []string

func TestNonNil(t *testing.T) {
	for _, tt := range []struct {
		in   names
		want string
	}{{nil, "[]"}, {names{}, "[]"}, {names{"a", "b"}, `["a","b"]`}} {
		got, err := json.Marshal(jsonlist.NonNil(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("NonNil(%#v) encodes as %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	s := names{"a"}
	if got := jsonlist.NonNil(s); &got[0] != &s[0] {
		t.Error("NonNil copied a slice that is not nil")
	}
}

package schema_test

import (
	"errors"
	"testing"

	"github.com/modelgate/modelgate/internal/schema"
)

func TestHeader(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, doc string
		want            schema.Header
	}{
		{"manifest", "good.yaml", validModel, schema.Header{APIVersion: "modelgate/v1", Kind: "Model"}},
		{"manifest as JSON", "good.json", validModelJSON, schema.Header{APIVersion: "modelgate/v1", Kind: "Model"}},
		{"manifest as CUE", "good.cue", validModelJSON, schema.Header{APIVersion: "modelgate/v1", Kind: "Model"}},
		{"evidence", "run.json", `{"schema": "modelgate.evidence/v1", "data": {}}`, schema.Header{Schema: "modelgate.evidence/v1"}},
		{"a kind that is no string", "x.yaml", "kind: {a: 1}\napiVersion: 3\n", schema.Header{}},
		{"a list", "x.yaml", "- kind: Model\n", schema.Header{}},
		{"nothing", "x.yaml", "", schema.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Header(tt.file, []byte(tt.doc))
			if err != nil || got != tt.want {
				t.Errorf("Header = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	_, err = v.Header("broken.yaml", []byte("kind: [\n"))
	if list, ok := errors.AsType[schema.Errors](err); !ok || list[0].File != "broken.yaml" || list[0].Line == 0 {
		t.Errorf("a document that does not parse: %v, want its place", err)
	}
}

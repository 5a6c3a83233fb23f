package gitops_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/schema"
)

func TestSetPin(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in, model, version, want string
	}{
		{"replace keeps comments and order", "# what runs in staging\nstage: staging\nmodels:\n  zeta: 1.0.0 # pinned by hand\n  fraud-detector: 2.3.0\n  alpha: \"0.1.0\"\n",
			"fraud-detector", "2.4.0",
			"# what runs in staging\nstage: staging\nmodels:\n  zeta: 1.0.0 # pinned by hand\n  fraud-detector: 2.4.0\n  alpha: \"0.1.0\"\n"},
		{"replace a quoted pin", "stage: staging\nmodels:\n  alpha: '0.1.0'\n", "alpha", "0.2.0",
			"stage: staging\nmodels:\n  alpha: '0.2.0'\n"},
		{"flow style", "{stage: staging, models: {a: 1.0.0, b: 2.0.0}}\n", "b", "2.1.0",
			"{stage: staging, models: {a: 1.0.0, b: 2.1.0}}\n"},
		{"add a model", "stage: staging\nmodels:\n    # the first\n    a: 1.0.0\n", "b", "2.0.0",
			"stage: staging\nmodels:\n    # the first\n    a: 1.0.0\n    b: 2.0.0\n"},
		{"no models yet", "stage: staging # comment\n", "b", "2.0.0",
			"stage: staging # comment\nmodels:\n  b: 2.0.0\n"},
		{"no file", "", "b", "2.0.0-rc.1", "stage: staging\nmodels:\n  b: 2.0.0-rc.1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := gitops.SetPin(v, "staging", []byte(tc.in), tc.model, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, in, version, wantErr string }{
		{"invalid file", "stage: staging\nmodels: [a]\n", "1.0.0", "environments/staging.yaml:2"},
		{"other stage", "stage: production\n", "1.0.0", `declares stage "production"`},
		{"invalid version", "stage: staging\n", "latest", "models.m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gitops.SetPin(v, "staging", []byte(tc.in), "m", tc.version)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "environments/staging.yaml") {
				t.Errorf("error %v; want one naming environments/staging.yaml and %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzSetPin: whatever the file, SetPin fails or returns a valid file that
// pins exactly what the file pinned but the one model's version.
func FuzzSetPin(f *testing.F) {
	v, err := schema.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("stage: staging\nmodels:\n  a: 1.0.0 # c\n  b: \"2.0.0\"\n"), "a", "1.1.0")
	f.Add([]byte("{stage: staging, models: {a: 1.0.0}}"), "b", "0.0.1")
	f.Add([]byte("stage: staging\nmodels: &x {a: 1.0.0}\n"), "a", "3.0.0")
	f.Add([]byte("stage: staging\nmodels:\n  a: !!str 1.0.0\n"), "a", "1.0.1")
	f.Fuzz(func(t *testing.T, data []byte, model, version string) {
		const path = "environments/staging.yaml"
		out, err := gitops.SetPin(v, "staging", data, model, version)
		if err != nil {
			return
		}
		after, err := gitops.ParseEnvironment(v, path, out)
		if err != nil {
			t.Fatalf("SetPin returned an invalid file: %v\n%s", err, out)
		}
		want := map[string]string{}
		if strings.TrimSpace(string(data)) != "" {
			before, err := gitops.ParseEnvironment(v, path, data)
			if err != nil {
				t.Fatalf("SetPin accepted an invalid file: %v", err)
			}
			want = maps.Clone(before.Models)
		}
		want[model] = version
		if !maps.Equal(after.Models, want) {
			t.Fatalf("pins %v; want %v", after.Models, want)
		}
	})
}

package deploy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const (
	digestA = "sha256:1170c26f59c31de7345adfbc0be233ac7950992df35235006855a6e59b45b07f"
	digestB = "sha256:2270c26f59c31de7345adfbc0be233ac7950992df35235006855a6e59b45b07f"
)

func testPayload() Payload {
	return Payload{
		Model: "fraud-detector", Version: "2.3.0", PreviousVersion: "2.2.0",
		ManifestPath: "models/fraud-detector/2.3.0/model.yaml",
		Artifact:     Artifact{URI: "s3://models/fraud-detector/2.3.0/model.onnx", Digest: digestA},
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	raw, err := json.Marshal(testPayload())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"fraud-detector","version":"2.3.0","previous_version":"2.2.0","manifest_path":"models/fraud-detector/2.3.0/model.yaml","artifact":{"uri":"s3://models/fraud-detector/2.3.0/model.onnx","digest":"` + digestA + `"}}`
	if string(raw) != want {
		t.Errorf("payload JSON\n%s\nwant\n%s", raw, want)
	}
	got, err := ParsePayload(raw)
	if err != nil || got != testPayload() {
		t.Errorf("ParsePayload = %+v, %v", got, err)
	}
}

func TestParsePayloadRefuses(t *testing.T) {
	valid, err := json.Marshal(testPayload())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, raw, want string }{
		{"not JSON", `{`, "deployment payload: unexpected EOF"},
		{"unknown field", strings.Replace(string(valid), `"model"`, `"image":"x","model"`, 1), `json: unknown field "image"`},
		{"trailing data", string(valid) + `{}`, "data after the JSON object"},
		{"bad model", strings.Replace(string(valid), "fraud-detector", "Fraud_Detector", 1), `payload.model: "Fraud_Detector" is not a model name`},
		{"no version", strings.Replace(string(valid), `"version":"2.3.0"`, `"version":""`, 1), "payload.version: missing"},
		{"no manifest", strings.Replace(string(valid), `"manifest_path":"models/fraud-detector/2.3.0/model.yaml"`, `"manifest_path":""`, 1), "payload.manifest_path: missing"},
		{"no uri", strings.Replace(string(valid), `"uri":"s3://models/fraud-detector/2.3.0/model.onnx"`, `"uri":""`, 1), "payload.artifact.uri: missing"},
		{"short digest", strings.Replace(string(valid), digestA, "sha256:1170", 1), `payload.artifact.digest: "sha256:1170" is not a digest`},
		{"upper-case digest", strings.Replace(string(valid), digestA, strings.ToUpper(digestA), 1), "payload.artifact.digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePayload([]byte(tt.raw))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePayload error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseState(t *testing.T) {
	for _, s := range []string{"queued", "in_progress", "success", "failure", "error", "inactive"} {
		if st, err := ParseState(s); err != nil || string(st) != s {
			t.Errorf("ParseState(%q) = %q, %v", s, st, err)
		}
	}
	_, err := ParseState("done")
	if err == nil || err.Error() != `deployment state "done" is not one of queued, in_progress, success, failure, error, inactive` {
		t.Errorf("ParseState(done) error = %v", err)
	}
}

func TestTransition(t *testing.T) {
	allowed := []struct{ from, to State }{
		{"", Queued}, {"", InProgress}, {"", Success}, {"", Failure}, {"", Error},
		{Queued, InProgress}, {Queued, Queued}, {InProgress, InProgress}, {InProgress, Success},
		{InProgress, Failure}, {InProgress, Error}, {Success, Failure}, {Success, Error}, {Success, Inactive},
	}
	for _, tt := range allowed {
		if err := Transition(tt.from, tt.to); err != nil {
			t.Errorf("Transition(%q, %q) = %v, want allowed", tt.from, tt.to, err)
		}
	}
	refused := []struct{ from, to State }{
		{"", Inactive}, {Success, Success}, {Success, InProgress}, {Failure, Success}, {Error, Success},
		{Failure, Failure}, {Inactive, Success}, {Inactive, InProgress},
	}
	for _, tt := range refused {
		if err := Transition(tt.from, tt.to); !errors.Is(err, ErrTransition) {
			t.Errorf("Transition(%q, %q) = %v, want ErrTransition", tt.from, tt.to, err)
		}
	}
	if err := Transition(Failure, Success); err.Error() != "deployment state may not follow failure: success" {
		t.Errorf("message = %v", err)
	}
}

func TestFailed(t *testing.T) {
	for _, s := range states {
		if got, want := s.Failed(), s == Failure || s == Error; got != want {
			t.Errorf("%s.Failed() = %v", s, got)
		}
	}
}

func TestDeployed(t *testing.T) {
	p := testPayload()
	if err := p.Deployed(digestA); err != nil {
		t.Errorf("Deployed(own digest) = %v", err)
	}
	err := p.Deployed(digestB)
	if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), "deployed "+digestB+", but fraud-detector 2.3.0 is "+digestA) {
		t.Errorf("Deployed(other digest) = %v", err)
	}
	if err := p.Deployed("sha256:abc"); err == nil || errors.Is(err, ErrDigestMismatch) {
		t.Errorf("Deployed(malformed) = %v, want a form error", err)
	}
}

func TestStatusDescription(t *testing.T) {
	if d := StatusDescription(Success, digestA, ""); d != "deployed "+digestA {
		t.Errorf("description = %q", d)
	}
	long := StatusDescription(Success, digestA, strings.Repeat("é", 200))
	if n := len([]rune(long)); n != maxDescription {
		t.Errorf("description of %d characters, want %d", n, maxDescription)
	}
	for _, d := range []string{StatusDescription(Success, digestA, ""), StatusDescription(Success, digestA, "argo sync 42"), long} {
		if got, ok := DeployedDigest(d); !ok || got != digestA {
			t.Errorf("DeployedDigest(%q) = %q, %v", d, got, ok)
		}
	}
	for _, d := range []string{"", "deployed", "deployed sha256:abc", "Deployed " + digestA, "ok " + digestA, StatusDescription(Failure, digestA, "crash")} {
		if got, ok := DeployedDigest(d); ok {
			t.Errorf("DeployedDigest(%q) = %q, want none", d, got)
		}
	}
	if d := StatusDescription(Failure, "", "crash loop"); d != "crash loop" {
		t.Errorf("failure description = %q", d)
	}
	if d := StatusDescription(Error, "", strings.Repeat("x", 300)); len(d) != maxDescription {
		t.Errorf("error description of %d characters", len(d))
	}
}

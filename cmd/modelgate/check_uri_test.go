package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/checks"
)

// The evidence names the manifest it was computed for, by its path as given
// and the digest of its bytes.
func TestCheckNamesTheManifest(t *testing.T) {
	code, stdout, stderr := runCLI(t, "check", "--format", "json", fraudManifest)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ev checks.Evidence
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(fraudManifest)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if want := (checks.ManifestDigest{Path: fraudManifest, SHA256: hex.EncodeToString(sum[:])}); ev.Manifest == nil || *ev.Manifest != want {
		t.Errorf("manifest %+v, want %+v", ev.Manifest, want)
	}
}

// Data named by URI is read from the local copy --input names, and recorded
// under its URI; without a copy check cannot run and says what to give.
func TestCheckDataByURI(t *testing.T) {
	src := filepath.Dir(fraudManifest)
	dir := filepath.Join(t.TempDir(), "models", "fraud-detector", "2.3.0")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	const uri = "s3://acme-ml/fraud/current.csv"
	manifestPath := filepath.Join(dir, "model.yaml")
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifestPath, []byte(strings.Replace(string(data), "current: data/current.csv", "current: "+uri, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "current.csv")
	if err := os.Rename(filepath.Join(dir, "data", "current.csv"), local); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := runCLI(t, "check", manifestPath)
	if code != exitCantRun || !strings.Contains(stderr, "give a local copy with --input "+uri+"=FILE") {
		t.Errorf("without a copy: exit %d, %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "check", manifestPath, "--input", "s3://acme-ml/other.csv="+local, "--input", uri+"="+local)
	if code != exitCantRun || !strings.Contains(stderr, "--input s3://acme-ml/other.csv: the manifest names no data file by that URI") {
		t.Errorf("a copy of data the manifest does not name: exit %d, %s", code, stderr)
	}
	small := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(small, []byte("limits: {fileBytes: 1000}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "check", manifestPath, "--config", small, "--input", uri+"="+local)
	if code != exitCantRun || !strings.Contains(stderr, local) || !strings.Contains(stderr, "1000") {
		t.Errorf("a copy larger than limits.fileBytes: exit %d, %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "check", manifestPath, "--input", uri+"="+local, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ev checks.Evidence
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, in := range ev.Inputs {
		found = found || (in.Role == checks.RoleCurrent && in.Path == uri && in.Rows > 0)
	}
	if !found || ev.Data == nil {
		t.Errorf("the current data was not read from the copy under its URI: %+v", ev.Inputs)
	}
}

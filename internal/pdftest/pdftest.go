// Package pdftest reads the text of a PDF for tests as a reader's tools do:
// with poppler's pdftotext, which Debian's poppler-utils package installs.
package pdftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireEnv names the environment variable that makes a missing
// pdftotext fail a test rather than skip it, as CI sets it.
const RequireEnv = "MODELGATE_REQUIRE_PDFTOTEXT"

// Pages returns the text of each page of pdf, its whitespace collapsed to
// single spaces, so that a test reads the words whatever the line breaks.
// Without pdftotext the test is skipped, or fails where RequireEnv is set.
func Pages(t testing.TB, pdf []byte) []string {
	t.Helper()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatal("pdftotext (poppler-utils) is not installed")
		}
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	file := filepath.Join(t.TempDir(), "document.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-enc", "UTF-8", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	pages := strings.Split(strings.TrimSuffix(string(out), "\f"), "\f")
	for i, p := range pages {
		pages[i] = strings.Join(strings.Fields(p), " ")
	}
	return pages
}

// Text returns the text of every page of pdf as one string.
func Text(t testing.TB, pdf []byte) string {
	t.Helper()
	return strings.Join(Pages(t, pdf), " ")
}

package compliance

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/audit"
)

// pdfPages extracts the text of each page of a PDF with poppler's
// pdftotext; without it the test is skipped, or fails where
// MODELGATE_REQUIRE_PDFTOTEXT is set (CI).
func pdfPages(t *testing.T, pdf []byte) []string {
	t.Helper()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("MODELGATE_REQUIRE_PDFTOTEXT") != "" {
			t.Fatal("pdftotext (poppler-utils) is not installed")
		}
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	file := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(file, pdf, 0o644); err != nil {
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

func TestPDFReport(t *testing.T) {
	var buf bytes.Buffer
	if err := load(t, history(t, "needs 2 approvals (has 1) — Łódź Ελληνικά Кириллица"), "").WritePDF(&buf); err != nil {
		t.Fatal(err)
	}
	pages := pdfPages(t, buf.Bytes())
	text := strings.Join(pages, " ")
	for _, want := range []string{"Compliance report: churn", "Proposed by: alice", "Replaces: 1.3.2",
		"needs 2 approvals (has 1) — Łódź Ελληνικά Кириллица", "sha256:bundle", "Merged (squash) into main as commit " + merge,
		"disparate impact ratio 0.82", "record #8", "Summary", "Model card"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
	for i, p := range pages {
		if !strings.Contains(p, "Audit chain intact: 9 records verified.") {
			t.Errorf("page %d lacks the chain's verdict:\n%s", i+1, p)
		}
		if want := fmt.Sprintf("Page %d of %d", i+1, len(pages)); !strings.Contains(p, want) {
			t.Errorf("page %d lacks %q:\n%s", i+1, want, p)
		}
	}
}

func TestPDFMarksABrokenChainOnEveryPage(t *testing.T) {
	s := history(t, "x")
	s.broken = &audit.ChainError{Seq: 5, Reason: "digest mismatch (record edited)"}
	var buf bytes.Buffer
	if err := load(t, s, "").WritePDF(&buf); err != nil {
		t.Fatal(err)
	}
	pages := pdfPages(t, buf.Bytes())
	if len(pages) < 2 {
		t.Fatalf("%d pages, want a report long enough to test every page", len(pages))
	}
	for i, p := range pages {
		if !strings.Contains(p, "AUDIT CHAIN BROKEN at record #5: digest mismatch (record edited)") {
			t.Errorf("page %d lacks the broken chain:\n%s", i+1, p)
		}
	}
}

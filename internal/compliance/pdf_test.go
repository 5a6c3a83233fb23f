package compliance

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/pdftest"
)

func TestPDFReport(t *testing.T) {
	var buf bytes.Buffer
	if err := load(t, history(t, "needs 2 approvals (has 1) — Łódź Ελληνικά Кириллица"), "").WritePDF(&buf); err != nil {
		t.Fatal(err)
	}
	pages := pdftest.Pages(t, buf.Bytes())
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
	pages := pdftest.Pages(t, buf.Bytes())
	if len(pages) < 2 {
		t.Fatalf("%d pages, want a report long enough to test every page", len(pages))
	}
	for i, p := range pages {
		if !strings.Contains(p, "AUDIT CHAIN BROKEN at record #5: digest mismatch (record edited)") {
			t.Errorf("page %d lacks the broken chain:\n%s", i+1, p)
		}
	}
}

package compliance

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkPDF checks the structure of a PDF file: header, a cross-reference
// table whose every offset points at its object, stream lengths, trailer and
// end marker. It returns the number of pages.
func checkPDF(t *testing.T, pdf []byte) int {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.4\n")) {
		t.Fatalf("no PDF 1.4 header: %q", pdf[:min(len(pdf), 20)])
	}
	if !bytes.HasSuffix(pdf, []byte("%%EOF\n")) {
		t.Fatal("no end-of-file marker at the end")
	}
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(pdf)
	if m == nil {
		t.Fatal("no startxref")
	}
	xref, _ := strconv.Atoi(string(m[1]))
	if xref >= len(pdf) || !bytes.HasPrefix(pdf[xref:], []byte("xref\n0 ")) {
		t.Fatalf("startxref %d does not point at the xref table", xref)
	}
	var count int
	if _, err := fmt.Sscanf(string(pdf[xref:]), "xref\n0 %d\n", &count); err != nil {
		t.Fatal(err)
	}
	entries := pdf[xref+len(fmt.Sprintf("xref\n0 %d\n", count)):]
	if !bytes.HasPrefix(entries, []byte("0000000000 65535 f \n")) {
		t.Fatalf("xref entry 0 is %q", entries[:20])
	}
	for n := 1; n < count; n++ {
		entry := string(entries[20*n : 20*n+20])
		if !regexp.MustCompile(`^\d{10} 00000 n \n$`).MatchString(entry) {
			t.Fatalf("xref entry %d is %q", n, entry)
		}
		off, _ := strconv.Atoi(entry[:10])
		if want := fmt.Sprintf("%d 0 obj\n", n); !bytes.HasPrefix(pdf[off:], []byte(want)) {
			t.Errorf("xref entry %d points at %q, want %q", n, pdf[off:off+min(len(pdf)-off, 12)], want)
		}
	}
	trailer := pdf[xref+len(fmt.Sprintf("xref\n0 %d\n", count))+20*count:]
	if want := fmt.Sprintf("trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n", count); !bytes.HasPrefix(trailer, []byte(want)) {
		t.Errorf("trailer is %q, want %q", trailer, want)
	}
	for _, s := range regexp.MustCompile(`(?s)<< /Length (\d+) >>\nstream\n(.*?)\nendstream`).FindAllSubmatch(pdf, -1) {
		if n, _ := strconv.Atoi(string(s[1])); n != len(s[2]) {
			t.Errorf("stream /Length %d, actual length %d", n, len(s[2]))
		}
	}
	m = regexp.MustCompile(`/Type /Pages /Kids \[[^\]]*\] /Count (\d+)`).FindSubmatch(pdf)
	if m == nil {
		t.Fatal("no page tree")
	}
	pages, _ := strconv.Atoi(string(m[1]))
	if got := bytes.Count(pdf, []byte("/Type /Page ")); got != pages {
		t.Errorf("%d page objects, page tree counts %d", got, pages)
	}
	return pages
}

// extractText extracts the text of a PDF with poppler's pdftotext, or skips the
// test where it is not installed.
func extractText(t *testing.T, pdf []byte) string {
	t.Helper()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
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
	return string(out)
}

func TestPDFReport(t *testing.T) {
	var buf bytes.Buffer
	if err := load(t, history(t, "needs 2 approvals (has 1)"), "").WritePDF(&buf); err != nil {
		t.Fatal(err)
	}
	checkPDF(t, buf.Bytes())
	text := strings.Join(strings.Fields(extractText(t, buf.Bytes())), " ")
	for _, want := range []string{"Compliance report: churn", "Audit chain intact: 9 records verified.", "Proposed by: alice",
		"Replaces: 1.3.2", "needs 2 approvals (has 1)", "sha256:bundle", "Merged (squash) into main as commit " + merge,
		"disparate impact ratio 0.82", "[record #8]", "Page 1 of 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
}

func TestPDFPagesAndEncoding(t *testing.T) {
	doc := pdfDocument{Title: "Überblick €5 — 日本", Created: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
	doc.Lines = append(doc.Lines, pdfText{Text: "Größe: 5 € – naïve “quotes” (paren) back\\slash 日本", Size: 10})
	doc.Lines = append(doc.Lines, pdfText{Text: strings.Repeat("0123456789abcdef", 20), Size: 10, Bullet: "•", Indent: 10})
	for i := range 200 {
		doc.Lines = append(doc.Lines, pdfText{Text: fmt.Sprintf("line %d of a report long enough to need several pages", i), Size: 10})
	}
	var buf bytes.Buffer
	if err := doc.write(&buf); err != nil {
		t.Fatal(err)
	}
	pages := checkPDF(t, buf.Bytes())
	if pages < 3 {
		t.Errorf("%d pages, want 200 lines on at least 3", pages)
	}
	text := extractText(t, buf.Bytes())
	for _, want := range []string{"Größe: 5 € – naïve “quotes” (paren) back\\slash ??", "line 0 of", "line 199 of",
		fmt.Sprintf("Page %d of %d", pages, pages), "Überblick €5 — ??"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
}

func TestWrap(t *testing.T) {
	text := winAnsi("the quick brown fox jumps over the lazy dog " + strings.Repeat("x", 300))
	const size, width = 10, 200.0
	lines := wrap(text, false, size, width)
	if len(lines) < 3 {
		t.Fatalf("%d lines, want the text wrapped", len(lines))
	}
	for _, l := range lines {
		if w := float64(textWidth(l, false)) * size / 1000; w > width {
			t.Errorf("line %q is %.1f points wide, more than %.0f", l, w, width)
		}
	}
	if got := string(bytes.Join(lines, nil)); strings.ReplaceAll(string(text), " ", "") != strings.ReplaceAll(got, " ", "") {
		t.Errorf("wrapping lost text: %q", got)
	}
	if lines := wrap(nil, false, size, width); len(lines) != 1 || len(lines[0]) != 0 {
		t.Errorf("wrap(empty) = %q, want one empty line", lines)
	}
}

func TestWinAnsi(t *testing.T) {
	got := winAnsi("a\tb€é—日\x7f\xff")
	want := []byte{'a', ' ', 'b', 0x80, 0xe9, 0x97, '?', '?', '?'}
	if !bytes.Equal(got, want) {
		t.Errorf("winAnsi = %q, want %q", got, want)
	}
}
